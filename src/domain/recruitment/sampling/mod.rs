//! The reproducible stratified address lottery.
//!
//! A panel invites a random sample of addresses, spread over wards in proportion to
//! their size so the panel can represent every area. Anyone holding the published frame,
//! the number drawn and the seed must be able to re-run the draw and get the same
//! addresses, so [`draw`] is a pure function of those three and follows [`ALGORITHM`]:
//!
//! 1. Sort the frame by (stratum, key, id), so database row order does not matter.
//! 2. Give each stratum a share of N proportional to the sum of its units' weights (the
//!    count when every weight is 1) or, when the round keeps ward shares by addresses
//!    ([`WardShares::ByAddresses`], [`ALGORITHM_BY_ADDRESSES`]), to its number of units
//!    whatever their weights, rounded by the largest-remainder (Hamilton) method
//!    so the shares add up to exactly N; equal remainders go to the stratum whose name
//!    sorts first. A stratum offered more than its units with positive weight is capped
//!    at that number and the rest is shared again over the other strata, until none is
//!    over its cap.
//! 3. Seed ChaCha20 with `seed_from_u64(seed)` (rand_core expands the seed with PCG32;
//!    portable and named, unlike `StdRng`) and give every unit, in sorted order, one
//!    uniform `u` in (0, 1] from the top 53 bits of `next_u64`. Within each stratum the
//!    units with the largest Efraimidis–Spirakis keys `u^(1/w)` are selected: sampling
//!    without replacement with probability proportional to weight and, when the weights
//!    are equal, a simple random sample.
//!
//! Keys are compared as `ln(u)/w`, which has the same order as `u^(1/w)`. When a stratum's
//! weights are all equal, the order is the same as comparing `u` itself, so `u` is compared
//! directly. Then the common case uses only integer and exact IEEE arithmetic and gives
//! the same result on every platform.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// Name and version of the procedure in this module, with ward shares by weight; record
/// it with every draw.
pub const ALGORITHM: &str = "stratified-weighted-largest-remainder/efraimidis-spirakis/chacha20-v1";

/// The same procedure with ward shares by number of addresses.
pub const ALGORITHM_BY_ADDRESSES: &str =
    "stratified-count-largest-remainder/efraimidis-spirakis/chacha20-v1";

/// How the letters are split between strata (wards) before drawing within each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WardShares {
    /// In proportion to each stratum's sum of weights: oversampling a decile also moves
    /// letters to the wards where that decile lies ([`ALGORITHM`]).
    #[default]
    ByWeight,
    /// In proportion to each stratum's number of addresses; weights only choose between
    /// addresses within a stratum ([`ALGORITHM_BY_ADDRESSES`]).
    ByAddresses,
}

impl WardShares {
    /// The name of the draw algorithm with these shares.
    pub fn algorithm(self) -> &'static str {
        match self {
            Self::ByWeight => ALGORITHM,
            Self::ByAddresses => ALGORITHM_BY_ADDRESSES,
        }
    }

    /// The shares an algorithm name stands for, if this version implements it.
    pub fn of_algorithm(name: &str) -> Option<Self> {
        [Self::ByWeight, Self::ByAddresses]
            .into_iter()
            .find(|shares| shares.algorithm() == name)
    }
}

/// Oversampling weight of a unit that is neither over- nor under-sampled.
pub const DEFAULT_WEIGHT: f64 = 1.0;

/// Expected share of letters that lead to a registration (4 %), for planning.
pub const DEFAULT_RESPONSE_RATE: f64 = 0.04;

/// The lottery seed, written and read as a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Seed(pub u64);

/// One eligible address in the sampling frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameUnit {
    /// Database id; only breaks ties when sorting.
    pub id: i64,
    /// Address key such as the UPRN; unique within the frame.
    pub key: String,
    /// Stratum, such as the ward code; shared by the stratum's units (a frame of a million
    /// addresses has a few dozen strata).
    pub stratum: Arc<str>,
    /// Oversampling weight, at least 0; a unit with weight 0 is never selected.
    pub weight: f64,
}

/// How many addresses one stratum received.
#[derive(Debug, Clone, PartialEq)]
pub struct StratumAllocation {
    /// Stratum name.
    pub stratum: String,
    /// Units of this stratum in the frame, whatever their weight.
    pub population: u64,
    /// Sum of the weights of its units.
    pub weight_sum: f64,
    /// Units drawn from it.
    pub allocated: u64,
}

/// The outcome of a draw. Two draws are equal when they allocate and select the same and
/// drew from the same frame, whatever order the frame was given in.
#[derive(Debug, Clone)]
pub struct Draw {
    /// One entry per stratum, sorted by stratum name.
    pub allocations: Vec<StratumAllocation>,
    /// The selected units, sorted by (stratum, key, id).
    pub selected: Vec<FrameUnit>,
    /// [`fingerprint`] of the frame drawn from (computed from the draw's own sort).
    pub frame_fingerprint: String,
    /// Positions in the frame of its units in (stratum, key) order, the order the draw
    /// walked them in (so they depend on the order the frame was given in).
    pub frame_order: Vec<usize>,
}

impl PartialEq for Draw {
    fn eq(&self, other: &Self) -> bool {
        self.allocations == other.allocations
            && self.selected == other.selected
            && self.frame_fingerprint == other.frame_fingerprint
    }
}

/// Lower-case hex SHA-256 of a frame, independent of the order it was given in: one line
/// `key TAB stratum TAB weight` per unit, in (stratum, key) order. A verifier compares it
/// before re-running a draw, to know the register snapshot is the same.
pub fn fingerprint(frame: &[FrameUnit]) -> String {
    fingerprint_ordered(frame, &Canonical::of(frame).order)
}

/// [`fingerprint`] of `frame` taken in the order of `order`, hashed as a stream.
fn fingerprint_ordered(frame: &[FrameUnit], order: &[usize]) -> String {
    use sha2::{Digest, Sha256};

    // Lines are gathered into a buffer that is hashed whenever it fills; the few distinct
    // weights are formatted once each.
    let mut hasher = Sha256::new();
    let mut buffer: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut weights: Vec<(u64, String)> = Vec::new();
    for &i in order {
        let unit = &frame[i];
        let bits = unit.weight.to_bits();
        let weight = match weights.iter().position(|(b, _)| *b == bits) {
            Some(found) => found,
            None => {
                if weights.len() == 64 {
                    weights.clear();
                }
                weights.push((bits, unit.weight.to_string()));
                weights.len() - 1
            }
        };
        for part in [unit.key.as_bytes(), b"\t", unit.stratum.as_bytes(), b"\t"] {
            buffer.extend_from_slice(part);
        }
        buffer.extend_from_slice(weights[weight].1.as_bytes());
        buffer.push(b'\n');
        if buffer.len() >= 1 << 15 {
            hasher.update(&buffer);
            buffer.clear();
        }
    }
    hasher.update(&buffer);
    hex::encode(hasher.finalize())
}

/// Why a draw or a plan cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplingError {
    /// The frame has no units at all.
    #[error("the sampling frame is empty: there are no eligible addresses")]
    EmptyFrame,
    /// Zero addresses or registrations were asked for.
    #[error("the number to draw must be at least 1")]
    ZeroRequested,
    /// More units were asked for than can be selected.
    #[error("{requested} addresses are needed but only {eligible} are eligible")]
    NotEnoughEligible {
        /// Units asked for.
        requested: u64,
        /// Units that can be selected (positive weight).
        eligible: u64,
    },
    /// A weight is negative, infinite or not a number.
    #[error("address {key:?} has weight {weight}; a weight must be a finite number of at least 0")]
    InvalidWeight {
        /// Key of the unit.
        key: String,
        /// The weight given.
        weight: f64,
    },
    /// Two units share one address key.
    #[error("address {key:?} appears more than once in the sampling frame")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A response rate outside (0, 1].
    #[error("response rate {rate} must be more than 0 and at most 1")]
    InvalidRate {
        /// The rate given.
        rate: f64,
    },
    /// A seed that is not a decimal `u64`.
    #[error("seed {input:?} is not a whole number from 0 to 18446744073709551615")]
    InvalidSeed {
        /// The text given.
        input: String,
    },
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Seed {
    type Err = SamplingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse()
            .map(Seed)
            .map_err(|_| SamplingError::InvalidSeed {
                input: s.to_owned(),
            })
    }
}

// A seed travels as a decimal string: JSON readers that hold numbers as doubles (browsers)
// would round a 64-bit seed, and a rounded seed re-runs a different draw.
impl serde::Serialize for Seed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Seed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FrameUnit {
    /// A unit with the default weight of 1.
    pub fn new(id: i64, key: impl Into<String>, stratum: impl Into<Arc<str>>) -> Self {
        Self {
            id,
            key: key.into(),
            stratum: stratum.into(),
            weight: DEFAULT_WEIGHT,
        }
    }
}

/// A frame's units in (stratum, key, id) order, the order the draw and the fingerprint
/// walk them in.
struct Canonical<'a> {
    /// Positions in the frame, in (stratum, key, id) order.
    order: Vec<usize>,
    /// Each stratum's name and its range in `order`, by name.
    strata: Vec<(&'a str, std::ops::Range<usize>)>,
    /// A key that appears more than once, if any.
    duplicate: Option<&'a str>,
}

impl<'a> Canonical<'a> {
    /// Sorts by key once (comparing an 8-byte prefix first), which also finds repeated
    /// keys, then splits the result by stratum keeping that order: strings are compared
    /// far fewer times than in a sort by (stratum, key).
    fn of(frame: &'a [FrameUnit]) -> Self {
        let mut by_key: Vec<(u64, usize)> = frame
            .iter()
            .enumerate()
            .map(|(i, unit)| (key_prefix(&unit.key), i))
            .collect();
        by_key.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                let (x, y) = (&frame[a.1], &frame[b.1]);
                (&x.key, x.id, &x.stratum).cmp(&(&y.key, y.id, &y.stratum))
            })
        });
        let duplicate = by_key
            .windows(2)
            .find(|pair| frame[pair[0].1].key == frame[pair[1].1].key)
            .map(|pair| frame[pair[0].1].key.as_str());

        // Number the strata by first appearance, then rank them by name.
        let mut numbers: std::collections::HashMap<&str, usize> = Default::default();
        let mut stratum_of = Vec::with_capacity(frame.len());
        let mut previous: Option<(&str, usize)> = None;
        for unit in frame {
            let number = match previous {
                Some((name, number)) if name == &*unit.stratum => number,
                _ => {
                    let next = numbers.len();
                    *numbers.entry(&*unit.stratum).or_insert(next)
                }
            };
            previous = Some((&*unit.stratum, number));
            stratum_of.push(number);
        }
        let mut names: Vec<(&str, usize)> = numbers.into_iter().collect();
        names.sort_unstable();
        let mut rank = vec![0; names.len()];
        for (position, (_, number)) in names.iter().enumerate() {
            rank[*number] = position;
        }

        // A stable counting sort by stratum rank keeps the key order within each stratum.
        let mut starts = vec![0usize; names.len() + 1];
        for &number in &stratum_of {
            starts[rank[number] + 1] += 1;
        }
        for r in 1..starts.len() {
            starts[r] += starts[r - 1];
        }
        let strata = names
            .iter()
            .enumerate()
            .map(|(r, (name, _))| (*name, starts[r]..starts[r + 1]))
            .collect();
        let mut next = starts;
        let mut order = vec![0; frame.len()];
        for &(_, i) in &by_key {
            let r = rank[stratum_of[i]];
            order[next[r]] = i;
            next[r] += 1;
        }
        Self {
            order,
            strata,
            duplicate,
        }
    }
}

/// The first 8 bytes of a key as a big-endian number (zero-padded): comparing prefixes
/// orders keys as comparing the strings does, except that equal prefixes need a look at
/// the whole strings.
fn key_prefix(key: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let head = &key.as_bytes()[..key.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// Draws `requested` units from `frame` as described in the module documentation, with
/// ward shares by weight ([`ALGORITHM`]).
///
/// Fails if the frame is empty, `requested` is 0 or more than the units with positive
/// weight, a weight is negative or not finite, or an address key appears twice.
pub fn draw(frame: &[FrameUnit], requested: u64, seed: Seed) -> Result<Draw, SamplingError> {
    draw_with_shares(frame, requested, seed, WardShares::ByWeight)
}

/// [`draw`], with the letters split between strata as `shares` says.
pub fn draw_with_shares(
    frame: &[FrameUnit],
    requested: u64,
    seed: Seed,
    shares: WardShares,
) -> Result<Draw, SamplingError> {
    if frame.is_empty() {
        return Err(SamplingError::EmptyFrame);
    }
    if requested == 0 {
        return Err(SamplingError::ZeroRequested);
    }
    if let Some(unit) = frame
        .iter()
        .find(|unit| !unit.weight.is_finite() || unit.weight < 0.0)
    {
        let (key, weight) = (unit.key.clone(), unit.weight);
        return Err(SamplingError::InvalidWeight { key, weight });
    }
    let canonical = Canonical::of(frame);
    if let Some(key) = canonical.duplicate {
        let key = key.to_owned();
        return Err(SamplingError::DuplicateKey { key });
    }
    let eligible = frame.iter().filter(|unit| unit.weight > 0.0).count() as u64;
    if requested > eligible {
        return Err(SamplingError::NotEnoughEligible {
            requested,
            eligible,
        });
    }

    let members_of = |range: &std::ops::Range<usize>| {
        canonical.order[range.clone()]
            .iter()
            .map(|&i| &frame[i])
            .collect::<Vec<&FrameUnit>>()
    };
    let strata: Vec<Vec<&FrameUnit>> = canonical
        .strata
        .iter()
        .map(|(_, range)| members_of(range))
        .collect();
    let plan: Vec<(String, f64, u64)> = strata
        .iter()
        .zip(&canonical.strata)
        .map(|(members, (name, _))| {
            let positive = members.iter().filter(|unit| unit.weight > 0.0).count();
            let weight_sum = members.iter().map(|unit| unit.weight).sum();
            ((*name).to_owned(), weight_sum, positive as u64)
        })
        .collect();
    let allocated = match shares {
        WardShares::ByWeight => allocate_capped(&plan, requested),
        WardShares::ByAddresses => {
            let by_count: Vec<(String, f64, u64)> = plan
                .iter()
                .zip(&strata)
                .map(|((name, _, positive), members)| {
                    (name.clone(), members.len() as f64, *positive)
                })
                .collect();
            allocate_capped(&by_count, requested)
        }
    };

    let mut rng = ChaCha20Rng::seed_from_u64(seed.0);
    let mut draw = Draw {
        allocations: Vec::new(),
        selected: Vec::with_capacity(usize::try_from(requested).unwrap_or(0)),
        frame_fingerprint: fingerprint_ordered(frame, &canonical.order),
        frame_order: Vec::new(),
    };
    for ((members, (stratum, weight_sum, _)), take) in strata.iter().zip(plan).zip(allocated) {
        let equal_weights = members.windows(2).all(|w| w[0].weight == w[1].weight);
        let mut keyed: Vec<(f64, usize)> = Vec::with_capacity(members.len());
        for (position, unit) in members.iter().enumerate() {
            let u = unit_interval(&mut rng);
            let key = match unit.weight {
                0.0 => f64::NEG_INFINITY,
                _ if equal_weights => u,
                weight => u.ln() / weight,
            };
            keyed.push((key, position));
        }
        // The largest keys win; an exact tie goes to the unit that sorts first, keeping
        // the draw a pure function. Only the winners need sorting out from the rest.
        let take = usize::try_from(take).unwrap_or(usize::MAX).min(keyed.len());
        let order = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if take > 0 && take < keyed.len() {
            keyed.select_nth_unstable_by(take - 1, order);
        }
        let mut chosen: Vec<usize> = keyed[..take].iter().map(|k| k.1).collect();
        chosen.sort_unstable();
        draw.selected
            .extend(chosen.into_iter().map(|i| members[i].clone()));
        let population = members.len() as u64;
        draw.allocations.push(StratumAllocation {
            stratum,
            population,
            weight_sum,
            allocated: take as u64,
        });
    }
    draw.frame_order = canonical.order;
    Ok(draw)
}

/// Splits `total` over `shares` in proportion by the largest-remainder (Hamilton)
/// method; the result, in input order, adds up to `total` unless every share is 0.
///
/// Equal remainders go to the name that sorts first. Negative, infinite or NaN shares
/// count as 0, and a share of 0 receives nothing.
pub fn largest_remainder(shares: &[(String, f64)], total: u64) -> Vec<u64> {
    let clean = |s: f64| if s.is_finite() { s.max(0.0) } else { 0.0 };
    let sum: f64 = shares.iter().map(|(_, share)| clean(*share)).sum();
    if sum <= 0.0 || !sum.is_finite() {
        return vec![0; shares.len()];
    }
    let quotas: Vec<f64> = shares
        .iter()
        .map(|(_, s)| total as f64 * clean(*s) / sum)
        .collect();
    let mut seats: Vec<u64> = quotas.iter().map(|quota| quota.floor() as u64).collect();
    let remainder = |i: usize| quotas[i] - quotas[i].floor();
    let mut order: Vec<usize> = (0..shares.len()).filter(|&i| quotas[i] > 0.0).collect();
    order.sort_by(|&a, &b| {
        (remainder(b).total_cmp(&remainder(a)))
            .then_with(|| shares[a].0.cmp(&shares[b].0))
            .then(a.cmp(&b))
    });
    // Floors of quotas that add up to `total` add up to at most `total`; the seats left
    // (fewer than there are strata) go out in remainder order.
    let left = total.saturating_sub(seats.iter().sum()) as usize;
    for &i in order.iter().cycle().take(left) {
        seats[i] += 1;
    }
    seats
}

/// Letters to send to expect `target_registrations` at `expected_rate` (in (0, 1]):
/// `ceil(target / rate)`, e.g. 100 registrations at 4 % need 2,500 letters.
pub fn letters_needed(target_registrations: u64, expected_rate: f64) -> Result<u64, SamplingError> {
    if target_registrations == 0 {
        return Err(SamplingError::ZeroRequested);
    }
    if expected_rate.is_nan() || expected_rate <= 0.0 || expected_rate > 1.0 {
        let rate = expected_rate;
        return Err(SamplingError::InvalidRate { rate });
    }
    let exact = target_registrations as f64 / expected_rate;
    // Decimal rates are inexact in binary (21 / 0.35 gives 60.000000000000007), so a
    // quotient within rounding error of a whole number is that number, not one more.
    let (nearest, ceiling) = (exact.round(), exact.ceil());
    let whole = (exact - nearest).abs() <= nearest * 1e-12;
    Ok(if whole { nearest } else { ceiling } as u64)
}

/// Letters per stratum, in input order, to expect `target_registrations` at
/// `expected_rate`, shared over `(stratum, population)` as [`draw`] would share them.
pub fn plan_by_stratum(
    strata: &[(String, u64)],
    target_registrations: u64,
    expected_rate: f64,
) -> Result<Vec<(String, u64)>, SamplingError> {
    let letters = letters_needed(target_registrations, expected_rate)?;
    let population: u64 = strata.iter().map(|(_, size)| size).sum();
    if letters > population {
        return Err(SamplingError::NotEnoughEligible {
            requested: letters,
            eligible: population,
        });
    }
    let plan: Vec<_> = strata
        .iter()
        .map(|(n, size)| (n.clone(), *size as f64, *size))
        .collect();
    let allocated = allocate_capped(&plan, letters);
    Ok(plan
        .into_iter()
        .zip(allocated)
        .map(|((name, ..), letters)| (name, letters))
        .collect())
}

/// Largest-remainder allocation of `total` over `(name, share, cap)`, never above a cap.
/// The caller ensures `total` is at most the sum of the caps of strata with a share.
fn allocate_capped(strata: &[(String, f64, u64)], total: u64) -> Vec<u64> {
    let mut result = vec![0; strata.len()];
    let mut fixed = vec![false; strata.len()];
    let mut remaining = total;
    loop {
        let open: Vec<usize> = (0..strata.len())
            .filter(|&i| !fixed[i] && strata[i].1 > 0.0 && strata[i].2 > 0)
            .collect();
        let shares: Vec<(String, f64)> = open
            .iter()
            .map(|&i| (strata[i].0.clone(), strata[i].1))
            .collect();
        let seats = largest_remainder(&shares, remaining);
        let mut capped = false;
        for (&i, &seat) in open.iter().zip(&seats) {
            if seat > strata[i].2 {
                result[i] = strata[i].2;
                fixed[i] = true;
                remaining = remaining.saturating_sub(strata[i].2);
                capped = true;
            }
        }
        // Each pass fixes at least one stratum or ends, so this loop is bounded.
        if !capped {
            for (&i, &seat) in open.iter().zip(&seats) {
                result[i] = seat;
            }
            return result;
        }
    }
}

/// A uniform number in (0, 1] from the top 53 bits of the next output.
fn unit_interval(rng: &mut ChaCha20Rng) -> f64 {
    // Shifting out 11 bits leaves exactly the 53 that an f64 mantissa holds; adding one
    // keeps 0 out of the range so that ln(u) is finite.
    ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests;
