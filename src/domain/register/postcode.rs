//! UK postcodes as a validated, normalised value.
//!
//! Residents type postcodes in every shape (`gl193bb`, ` GL19  3BB `) and address
//! files such as Code-Point pad them to a fixed width (`B1  1AA`). Matching addresses
//! and spotting duplicate registrations needs one spelling, so [`Postcode::parse`]
//! checks the shape of the code and keeps it in the Royal Mail form: upper case, with
//! exactly one space before the three-character inward code.
//!
//! The check is on shape only. The outward code must be one of `A9`, `A99`, `A9A`,
//! `AA9`, `AA99` or `AA9A` (`A` a letter, `9` a digit), the inward code a digit and two
//! letters other than C, I, K, M, O and V; `GIR 0AA` is accepted as the one historic
//! exception. Whether a postcode exists is for the address file to say, not this type.

use std::fmt;
use std::str::FromStr;

/// Shapes an outward code may take, with `A` for a letter and `9` for a digit.
const OUTWARD_SHAPES: [&str; 6] = ["A9", "A99", "A9A", "AA9", "AA99", "AA9A"];

/// Letters Royal Mail never uses in an inward code.
const INWARD_EXCLUDED_LETTERS: &str = "CIKMOV";

/// Number of characters in the inward code (`9AA`).
const INWARD_LEN: usize = 3;

/// Fewest letters and digits a postcode has (`A9 9AA`).
const MIN_LEN: usize = 5;

/// Most letters and digits a postcode has (`AA9A 9AA`).
const MAX_LEN: usize = 7;

/// The one postcode that does not follow the usual shape, without its space.
const GIRO_POSTCODE: &str = "GIR0AA";

/// A valid UK postcode, stored upper case with one space before the inward code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Postcode(String);

/// Why a string is not a UK postcode; each variant carries the text that was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    /// Nothing but whitespace was given.
    #[error("postcode is empty")]
    Empty,
    /// A character other than a letter, a digit or whitespace was given.
    #[error("postcode {input:?} contains {ch:?}; only letters, digits and spaces are allowed")]
    InvalidCharacter {
        /// The text as it was given.
        input: String,
        /// The first character that is not allowed.
        ch: char,
    },
    /// Too few or too many letters and digits once whitespace is removed.
    #[error("postcode {input:?} has {length} letters and digits; a UK postcode has 5 to 7")]
    WrongLength {
        /// The text as it was given.
        input: String,
        /// How many letters and digits it has.
        length: usize,
    },
    /// The part before the last three characters has no valid shape.
    #[error(
        "postcode {input:?} starts with {outward:?}, which is not an outward code \
         (A9, A99, A9A, AA9, AA99 or AA9A)"
    )]
    InvalidOutward {
        /// The text as it was given.
        input: String,
        /// The outward code found, upper case.
        outward: String,
    },
    /// The last three characters are not a digit and two allowed letters.
    #[error(
        "postcode {input:?} ends with {inward:?}; the inward code is a digit and two letters \
         other than C, I, K, M, O and V"
    )]
    InvalidInward {
        /// The text as it was given.
        input: String,
        /// The inward code found, upper case.
        inward: String,
    },
}

impl Postcode {
    /// Parses a postcode, ignoring case and all whitespace, into its normal form.
    pub fn parse(input: &str) -> Result<Self, PostcodeError> {
        let mut compact = String::with_capacity(MAX_LEN);
        for ch in input.chars().filter(|ch| !ch.is_whitespace()) {
            if !ch.is_ascii_alphanumeric() {
                return Err(PostcodeError::InvalidCharacter {
                    input: input.to_owned(),
                    ch,
                });
            }
            compact.push(ch.to_ascii_uppercase());
        }
        if compact.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if !(MIN_LEN..=MAX_LEN).contains(&compact.len()) {
            return Err(PostcodeError::WrongLength {
                input: input.to_owned(),
                length: compact.len(),
            });
        }
        // Every character is ASCII by now, so splitting at a byte index is safe.
        let (outward, inward) = compact.split_at(compact.len() - INWARD_LEN);
        if compact != GIRO_POSTCODE {
            if !OUTWARD_SHAPES.contains(&shape(outward).as_str()) {
                return Err(PostcodeError::InvalidOutward {
                    input: input.to_owned(),
                    outward: outward.to_owned(),
                });
            }
            let excluded = inward
                .chars()
                .any(|ch| INWARD_EXCLUDED_LETTERS.contains(ch));
            if shape(inward) != "9AA" || excluded {
                return Err(PostcodeError::InvalidInward {
                    input: input.to_owned(),
                    inward: inward.to_owned(),
                });
            }
        }
        Ok(Self(format!("{outward} {inward}")))
    }

    /// The normal form, e.g. `GL19 3BB`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outward code (area and district), e.g. `GL19`.
    pub fn outward(&self) -> &str {
        // The normal form always ends with a space and the inward code.
        &self.0[..self.0.len() - INWARD_LEN - 1]
    }

    /// The inward code (sector and unit), e.g. `3BB`.
    pub fn inward(&self) -> &str {
        &self.0[self.0.len() - INWARD_LEN..]
    }
}

/// Describes a run of ASCII letters and digits as `A` (letter) and `9` (digit).
fn shape(part: &str) -> String {
    part.chars()
        .map(|ch| if ch.is_ascii_digit() { '9' } else { 'A' })
        .collect()
}

impl fmt::Display for Postcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Postcode {
    type Err = PostcodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for Postcode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(input: &str) -> String {
        Postcode::parse(input).unwrap().as_str().to_owned()
    }

    #[test]
    fn a_postcode_without_a_space_is_normalised() {
        assert_eq!(normal("gl193bb"), "GL19 3BB");
    }

    #[test]
    fn every_spacing_and_case_of_a_postcode_gives_the_same_value() {
        for input in [
            "GL19 3BB",
            "GL193BB",
            " gl19  3bb ",
            "gL19\t3bB",
            "G L 1 9 3 B B",
        ] {
            assert_eq!(normal(input), "GL19 3BB", "input {input:?}");
        }
    }

    #[test]
    fn a_postcode_already_in_normal_form_is_unchanged() {
        assert_eq!(normal("TF1 1AA"), "TF1 1AA");
    }

    #[test]
    fn code_point_padding_spaces_are_removed() {
        assert_eq!(normal("B1  1AA"), "B1 1AA");
        assert_eq!(normal("GL1 1AA"), "GL1 1AA");
    }

    #[test]
    fn every_outward_shape_is_accepted() {
        for input in [
            "M1 1AE", "B33 8TH", "W1A 0AX", "CR2 6XH", "DN55 1PT", "EC1A 1BB",
        ] {
            assert_eq!(normal(input), input);
        }
    }

    #[test]
    fn the_girobank_postcode_is_accepted() {
        assert_eq!(normal("gir0aa"), "GIR 0AA");
    }

    #[test]
    fn outward_and_inward_codes_are_split_at_the_space() {
        let postcode = Postcode::parse("sw1a2aa").unwrap();
        assert_eq!(postcode.outward(), "SW1A");
        assert_eq!(postcode.inward(), "2AA");
        let short = Postcode::parse("M11AE").unwrap();
        assert_eq!(short.outward(), "M1");
        assert_eq!(short.inward(), "1AE");
    }

    #[test]
    fn display_from_str_and_as_ref_agree_on_the_normal_form() {
        let postcode: Postcode = "gl19 3bb".parse().unwrap();
        assert_eq!(postcode.to_string(), "GL19 3BB");
        assert_eq!(postcode.as_ref(), "GL19 3BB");
    }

    #[test]
    fn an_empty_or_blank_postcode_is_rejected() {
        assert_eq!(Postcode::parse(""), Err(PostcodeError::Empty));
        assert_eq!(Postcode::parse(" \t "), Err(PostcodeError::Empty));
    }

    #[test]
    fn a_postcode_that_is_too_short_or_too_long_is_rejected() {
        assert_eq!(
            Postcode::parse("M1 1A"),
            Err(PostcodeError::WrongLength {
                input: "M1 1A".into(),
                length: 4
            })
        );
        assert_eq!(
            Postcode::parse("EC1AB 1BB"),
            Err(PostcodeError::WrongLength {
                input: "EC1AB 1BB".into(),
                length: 8
            })
        );
    }

    #[test]
    fn digits_in_the_wrong_place_in_the_outward_code_are_rejected() {
        assert_eq!(
            Postcode::parse("1M 1AA"),
            Err(PostcodeError::InvalidOutward {
                input: "1M 1AA".into(),
                outward: "1M".into()
            })
        );
        assert!(matches!(
            Postcode::parse("GLA 3BB"),
            Err(PostcodeError::InvalidOutward { .. })
        ));
        assert!(matches!(
            Postcode::parse("G1AA 3BB"),
            Err(PostcodeError::InvalidOutward { .. })
        ));
    }

    #[test]
    fn an_inward_code_in_the_wrong_shape_is_rejected() {
        assert_eq!(
            Postcode::parse("GL19 BB3"),
            Err(PostcodeError::InvalidInward {
                input: "GL19 BB3".into(),
                inward: "BB3".into()
            })
        );
    }

    #[test]
    fn an_inward_code_with_a_letter_royal_mail_never_uses_is_rejected() {
        for letter in ['C', 'I', 'K', 'M', 'O', 'V'] {
            let input = format!("GL19 3{letter}B");
            assert_eq!(
                Postcode::parse(&input),
                Err(PostcodeError::InvalidInward {
                    input: input.clone(),
                    inward: format!("3{letter}B")
                })
            );
        }
    }

    #[test]
    fn punctuation_is_rejected_and_named() {
        let error = Postcode::parse("GL19-3BB").unwrap_err();
        assert_eq!(
            error,
            PostcodeError::InvalidCharacter {
                input: "GL19-3BB".into(),
                ch: '-'
            }
        );
        assert_eq!(
            error.to_string(),
            "postcode \"GL19-3BB\" contains '-'; only letters, digits and spaces are allowed"
        );
    }

    #[test]
    fn a_non_ascii_letter_is_rejected() {
        assert!(matches!(
            Postcode::parse("GL19 3BÉ"),
            Err(PostcodeError::InvalidCharacter { ch: 'É', .. })
        ));
    }
}
