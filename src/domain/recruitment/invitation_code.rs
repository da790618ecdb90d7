//! One-time invitation codes printed on the lottery letters.
//!
//! A resident registers by typing the code from their letter, so the code is a bearer
//! secret until it is used: only a keyed hash of it is stored (HMAC-SHA-256 under a server
//! secret that lives outside the database, see [`crate::domain::recruitment::code_key`]), and `Debug` never
//! shows it. 45 bits are few enough that an unkeyed hash could be reversed by trying
//! every code, so a stolen database alone must not be enough.
//!
//! **Alphabet.** Crockford's Base32: digits `0`-`9` and letters `A`-`Z` without `I`, `L`,
//! `O` and `U` (32 symbols). `I`, `L` and `O` are left out because they look like `1` and
//! `0`; `U` because it makes rude words likely. Since the confusable letters never appear,
//! [`InvitationCode::parse`] reads a typed `O` as `0` and `I`/`L` as `1`, as Crockford's
//! decoding rules do. With 32 symbols each one is exactly five random bits, so generation
//! has no modulo bias.
//!
//! **Layout.** 9 random payload symbols ([`ENTROPY_BITS`] = 45 bits, about 3.5 × 10¹³
//! codes) and 1 check symbol, shown as two groups of five (`7K3M9-QXW25`) because short
//! groups are easier to copy. At 100,000 live codes a guesser still needs about 3.5 × 10⁸
//! tries per hit, which the API's rate limit must keep out of reach.
//!
//! **Check symbol.** 32 is not prime, so a weighted sum modulo 32 would miss errors.
//! Instead each symbol is taken as an element of the field GF(32) and the check symbol
//! makes `Σ wᵢ·vᵢ = 0`, with distinct non-zero weights (1 for the check position). A
//! field has no zero divisors, so changing one symbol (`Δ ≠ 0`) changes the sum by
//! `wᵢ·Δ ≠ 0`, and swapping two different symbols `a`, `b` changes it by
//! `(wᵢ + wⱼ)·(a + b) ≠ 0`. Every single substitution and every transposition (adjacent
//! or not) is therefore caught before any database lookup.

use std::fmt;
use std::str::FromStr;

use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// The 32 symbols of a code, in value order (Crockford's Base32).
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Number of random symbols in a code.
pub const PAYLOAD_LEN: usize = 9;

/// Number of symbols in a code: the payload and one check symbol.
pub const CODE_LEN: usize = PAYLOAD_LEN + 1;

/// Random bits carried by each payload symbol (log₂ 32).
pub const BITS_PER_SYMBOL: u32 = 5;

/// Random bits in a code: 9 symbols × 5 bits = 45.
pub const ENTROPY_BITS: u32 = PAYLOAD_LEN as u32 * BITS_PER_SYMBOL;

// Fewer than 40 random bits would make guessing a live code too cheap; fail the build.
const _: () = assert!(ENTROPY_BITS >= 40);

/// Symbols per group in the display form.
const GROUP_LEN: usize = 5;

/// Weights of the payload positions in GF(32); the check position has weight 1.
const WEIGHTS: [u8; PAYLOAD_LEN] = [2, 3, 4, 5, 6, 7, 8, 9, 10];

/// x⁵ + x² + 1, an irreducible polynomial that defines GF(32).
const FIELD_POLYNOMIAL: u8 = 0b10_0101;

/// A well-formed invitation code whose check symbol matches its payload.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InvitationCode([u8; CODE_LEN]);

/// Why typed text is not an invitation code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationCodeError {
    /// The text has the wrong number of symbols once spaces and hyphens are removed.
    #[error("an invitation code has {expected} characters, but {got} were given")]
    WrongLength {
        /// Symbols in a code.
        expected: usize,
        /// Symbols given.
        got: usize,
    },
    /// The text contains a character that is not in the alphabet.
    #[error("{ch:?} is not used in invitation codes")]
    BadCharacter {
        /// The first character that is not allowed.
        ch: char,
    },
    /// The check symbol does not match: the code was mistyped.
    #[error("this invitation code contains a typing mistake; please check it against the letter")]
    CheckFailed,
}

impl InvitationCode {
    /// Generates a fresh random code.
    ///
    /// Pass a cryptographically secure generator seeded from the operating system, such
    /// as `rand::rng()`. Never pass the lottery's seeded ChaCha generator: its seed is
    /// published for audit, so anyone could recompute the codes.
    pub fn generate<R: CryptoRng + RngCore + ?Sized>(rng: &mut R) -> Self {
        let bits = rng.next_u64();
        let mut symbols = [0u8; CODE_LEN];
        for (position, symbol) in symbols.iter_mut().take(PAYLOAD_LEN).enumerate() {
            // 45 of the 64 bits are used, five per symbol; the mask makes the cast lossless.
            *symbol = ((bits >> (position * BITS_PER_SYMBOL as usize)) & 0b1_1111) as u8;
        }
        symbols[PAYLOAD_LEN] = check_symbol(&symbols[..PAYLOAD_LEN]);
        Self(symbols)
    }

    /// Parses what a resident typed: case-insensitive, spaces and hyphens ignored,
    /// `O` read as `0` and `I`/`L` as `1`; the length and check symbol are verified.
    pub fn parse(input: &str) -> Result<Self, InvitationCodeError> {
        let mut symbols = [0u8; CODE_LEN];
        let mut count = 0;
        for ch in input.chars().filter(|&ch| !is_separator(ch)) {
            let value = symbol_value(ch).ok_or(InvitationCodeError::BadCharacter { ch })?;
            if let Some(slot) = symbols.get_mut(count) {
                *slot = value;
            }
            count += 1;
        }
        if count != CODE_LEN {
            return Err(InvitationCodeError::WrongLength {
                expected: CODE_LEN,
                got: count,
            });
        }
        if check_symbol(&symbols[..PAYLOAD_LEN]) != symbols[PAYLOAD_LEN] {
            return Err(InvitationCodeError::CheckFailed);
        }
        Ok(Self(symbols))
    }

    /// The code as printed on the letter, e.g. `7K3M9-QXW25`.
    pub fn display(&self) -> String {
        let canonical = self.canonical();
        format!("{}-{}", &canonical[..GROUP_LEN], &canonical[GROUP_LEN..])
    }

    /// The ten upper-case symbols without grouping, e.g. `7K3M9QXW25`.
    pub fn canonical(&self) -> String {
        self.0
            .iter()
            .map(|&value| char::from(ALPHABET[usize::from(value)]))
            .collect()
    }

    /// Unkeyed SHA-256 of the canonical form, as 64 lower-case hexadecimal digits: how
    /// codes printed before keyed hashes were stored. Still looked up, so those letters
    /// keep working; new codes are never stored this way.
    pub fn legacy_hash_hex(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }
}

impl fmt::Debug for InvitationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The code is a credential until used, so it must not reach logs.
        f.write_str("InvitationCode(<redacted>)")
    }
}

impl FromStr for InvitationCode {
    type Err = InvitationCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Characters people put between groups, which carry no meaning.
fn is_separator(ch: char) -> bool {
    ch.is_whitespace() || matches!(ch, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// The value of a typed character, reading look-alike letters as the digits they resemble.
fn symbol_value(ch: char) -> Option<u8> {
    let upper = match ch.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    let position = ALPHABET
        .iter()
        .position(|&symbol| char::from(symbol) == upper)?;
    u8::try_from(position).ok()
}

/// The check symbol for a payload: `Σ wᵢ·vᵢ` in GF(32), so the whole code sums to zero.
fn check_symbol(payload: &[u8]) -> u8 {
    payload
        .iter()
        .zip(WEIGHTS)
        .fold(0, |sum, (&value, weight)| {
            sum ^ field_multiply(value, weight)
        })
}

/// Multiplication in GF(32): carry-less multiplication reduced by [`FIELD_POLYNOMIAL`].
fn field_multiply(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0;
    while b != 0 {
        if b & 1 == 1 {
            product ^= a;
        }
        b >>= 1;
        a <<= 1;
        if a & 0b10_0000 != 0 {
            a ^= FIELD_POLYNOMIAL;
        }
    }
    product
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::collections::HashSet;

    /// A code from a payload written with alphabet symbols.
    fn code_with_payload(payload: &str) -> String {
        let values: Vec<u8> = payload.chars().filter_map(symbol_value).collect();
        let check = ALPHABET[usize::from(check_symbol(&values))];
        format!("{payload}{}", char::from(check))
    }

    fn swap(code: &str, i: usize, j: usize) -> String {
        let mut chars: Vec<char> = code.chars().collect();
        chars.swap(i, j);
        chars.into_iter().collect()
    }

    #[test]
    fn a_generated_code_parses_back_from_both_forms() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let code = InvitationCode::generate(&mut rng);
            assert_eq!(InvitationCode::parse(&code.display()), Ok(code.clone()));
            assert_eq!(InvitationCode::parse(&code.canonical()), Ok(code));
        }
    }

    #[test]
    fn ten_thousand_generated_codes_are_all_distinct() {
        // A seeded generator keeps this test reproducible; production uses rand::rng().
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let codes: HashSet<String> = (0..10_000)
            .map(|_| InvitationCode::generate(&mut rng).canonical())
            .collect();
        assert_eq!(codes.len(), 10_000);
    }

    #[test]
    fn the_display_form_is_two_groups_of_five_joined_by_a_hyphen() {
        let code = InvitationCode::parse(&code_with_payload("7K3M9QXW2")).unwrap();
        assert_eq!(code.canonical(), "7K3M9QXW25");
        assert_eq!(code.display(), "7K3M9-QXW25");
    }

    #[test]
    fn lowercase_spaces_and_hyphens_are_tolerated() {
        let expected = InvitationCode::parse("7K3M9QXW25");
        assert!(expected.is_ok());
        for typed in "7k3m9-qxw25| 7K3M9 QXW25 |7k-3m-9q-xw-25|7K3M9–QXW25".split('|') {
            let parsed = InvitationCode::parse(typed);
            assert_eq!(parsed, expected, "{typed}");
        }
    }

    #[test]
    fn look_alike_letters_are_read_as_the_digits_they_resemble() {
        let code = code_with_payload("01AB01CD0");
        let expected = InvitationCode::parse(&code).unwrap();
        let typed = code.replacen('0', "O", 1).replacen('1', "I", 1);
        let typed = typed.replacen('1', "l", 1);
        assert_eq!(InvitationCode::parse(&typed), Ok(expected));
    }

    #[test]
    fn every_single_substitution_is_caught() {
        for payload in ["7K3M9QXW2", "000000000", "ZZZZZZZZZ", "012345678"] {
            let code = code_with_payload(payload);
            let mut tried = 0;
            for position in 0..CODE_LEN {
                for &symbol in ALPHABET.iter() {
                    let mut typo: Vec<u8> = code.bytes().collect();
                    if typo[position] == symbol {
                        continue;
                    }
                    typo[position] = symbol;
                    let typo = String::from_utf8(typo).unwrap();
                    assert_eq!(
                        InvitationCode::parse(&typo),
                        Err(InvitationCodeError::CheckFailed),
                        "{code} -> {typo}"
                    );
                    tried += 1;
                }
            }
            assert_eq!(tried, CODE_LEN * 31);
        }
    }

    #[test]
    fn every_transposition_of_two_different_symbols_is_caught() {
        let code = code_with_payload("7K3M9QXW2");
        let mut adjacent = 0;
        for i in 0..CODE_LEN {
            for j in i + 1..CODE_LEN {
                let typo = swap(&code, i, j);
                if typo == code {
                    continue;
                }
                assert_eq!(
                    InvitationCode::parse(&typo),
                    Err(InvitationCodeError::CheckFailed),
                    "{code} -> {typo}"
                );
                adjacent += usize::from(j == i + 1);
            }
        }
        assert_eq!(adjacent, CODE_LEN - 1);
    }

    #[test]
    fn the_field_has_no_zero_divisors_so_the_check_proof_holds() {
        for a in 1..32 {
            for b in 1..32 {
                assert_ne!(field_multiply(a, b), 0, "{a} * {b}");
            }
        }
        assert_eq!(field_multiply(0b1_0000, 0b10), 0b0_0101);
    }

    #[test]
    fn a_code_of_the_wrong_length_is_rejected() {
        for (typed, got) in [("7K3M9-QXW2", 9), ("7K3M9-QXW25C", 11), ("", 0)] {
            let error = InvitationCodeError::WrongLength { expected: 10, got };
            assert_eq!(InvitationCode::parse(typed), Err(error));
        }
        let error = InvitationCode::parse("7K3M9").unwrap_err();
        let expected = "an invitation code has 10 characters, but 5 were given";
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn a_character_outside_the_alphabet_is_named() {
        assert_eq!(
            InvitationCode::parse("7K3M9-QXWU5"),
            Err(InvitationCodeError::BadCharacter { ch: 'U' })
        );
        let error = InvitationCode::parse("7K3M9_QXW25").unwrap_err();
        assert_eq!(error.to_string(), "'_' is not used in invitation codes");
    }

    #[test]
    fn the_legacy_hash_is_the_sha256_of_the_canonical_form() {
        let code = InvitationCode::parse("7k3m9-qxw25").unwrap();
        // Computed independently with `printf 7K3M9QXW25 | sha256sum`.
        let expected = "c11300d334f4e1d4d0eca11e2d5820c8b0152a5b29706c78453724ca75dfcce2";
        assert_eq!(code.legacy_hash_hex(), expected);
    }

    #[test]
    fn the_payload_carries_at_least_forty_bits_of_entropy() {
        assert_eq!(ENTROPY_BITS, 45);
        let bits_from_alphabet = (ALPHABET.len() as f64).log2() * PAYLOAD_LEN as f64;
        assert!(bits_from_alphabet >= 40.0, "{bits_from_alphabet}");
        let possible_codes = (ALPHABET.len() as u64).pow(PAYLOAD_LEN as u32);
        assert_eq!(possible_codes, 1 << ENTROPY_BITS);
    }

    #[test]
    fn the_alphabet_has_no_look_alike_letters_or_repeats() {
        let symbols: HashSet<u8> = ALPHABET.iter().copied().collect();
        assert_eq!(symbols.len(), 32);
        for letter in [b'I', b'L', b'O', b'U'] {
            assert!(!symbols.contains(&letter));
        }
    }

    #[test]
    fn debug_output_does_not_reveal_the_code() {
        let code = InvitationCode::parse("7K3M9QXW25").unwrap();
        assert_eq!(format!("{code:?}"), "InvitationCode(<redacted>)");
    }
}
