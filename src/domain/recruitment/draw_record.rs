//! The draw record: everything needed to re-run a recruitment round's lottery, as one
//! JSON file a council can keep and publish.
//!
//! A draw is a pure function of the eligible frame, the number of letters and the seed
//! (see `sampling`). The register behind the frame changes every month, so the record
//! keeps the frame itself, as it was at the draw: each eligible address's key (the UPRN),
//! its ward and its oversampling weight, and nothing about who lives there. With the
//! algorithm's name, the seed, the parameters and the keys drawn, anyone can check the
//! draw years later with `civic-panel lottery verify --frame FILE`, or with their own
//! implementation of the published algorithm.
//!
//! ```json
//! {
//!   "format": "civic-panel-draw-record/1",
//!   "algorithm": "stratified-weighted-largest-remainder/efraimidis-spirakis/chacha20-v1",
//!   "seed": "20261201",
//!   "letters": 3,
//!   "parameters": { "letters": 3, "decile_weights": {}, ... },
//!   "eligible": 5,
//!   "frameSha256": "…",
//!   "frame": [ { "stratum": "E05004418", "weight": 1.0, "keys": ["100", "101", "102"] },
//!              { "stratum": "E05004419", "weight": 1.0, "keys": ["200", "201"] } ],
//!   "drawn": ["100", "102", "201"]
//! }
//! ```
//!
//! `frame` groups the addresses by ward and weight, in order of ward, then weight, then
//! key; `frameSha256` is `sampling::fingerprint` of the frame, so a record whose frame was
//! altered is caught before anything is re-drawn. `drawn` lists the keys drawn in the
//! order of the draw's output (ward, then key).

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::recruitment::round::LotteryParameters;
use crate::domain::recruitment::sampling::{
    self, Draw, FrameUnit, SamplingError, Seed, WardShares,
};

/// The format named in every record this version writes and reads.
pub const FORMAT: &str = "civic-panel-draw-record/1";

/// A draw record; see the module documentation. Made from a draw, it borrows the frame's
/// keys (a million of them are written without a copy); read from a file, it owns them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrawRecord<'a> {
    /// [`FORMAT`] when written; a record naming any other is refused when checked.
    pub format: String,
    /// The draw algorithm's name and version (`sampling::ALGORITHM` or
    /// `sampling::ALGORITHM_BY_ADDRESSES`).
    pub algorithm: String,
    /// The seed, in decimal.
    pub seed: String,
    /// Letters drawn.
    pub letters: u64,
    /// The round's parameters as the council set them (exclusions and weights are
    /// already applied to `frame`).
    pub parameters: LotteryParameters,
    /// Addresses in the frame.
    pub eligible: u64,
    /// `sampling::fingerprint` of the frame.
    pub frame_sha256: String,
    /// The eligible addresses, grouped by ward and weight.
    pub frame: Vec<FrameGroup<'a>>,
    /// The keys drawn, in the draw's order.
    pub drawn: Vec<Cow<'a, str>>,
}

/// The frame's addresses of one ward with one weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameGroup<'a> {
    /// The ward (the draw's stratum), as a GSS code.
    pub stratum: Cow<'a, str>,
    /// Their oversampling weight.
    pub weight: f64,
    /// Their address keys, sorted.
    pub keys: Vec<Cow<'a, str>>,
}

/// What re-running a record's draw found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordCheck {
    /// The frame matches its fingerprint and the draw gives the keys the record lists.
    Identical {
        /// Letters drawn.
        letters: usize,
        /// Addresses in the frame.
        eligible: usize,
    },
    /// The frame does not match the fingerprint it states: it was altered.
    FrameAltered {
        /// `frameSha256` as written.
        stated: String,
        /// The fingerprint of the frame as it is.
        computed: String,
    },
    /// The draw gives other keys than the record lists.
    Different {
        /// Keys the record lists.
        listed: usize,
        /// Keys the draw gives.
        redrawn: usize,
        /// Up to ten keys listed but not re-drawn, or re-drawn but not listed.
        examples: Vec<String>,
    },
}

/// Why a record cannot be checked at all.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The file is not a draw record this version reads.
    #[error("this is not a draw record (format {found:?}; expected {FORMAT})")]
    Format {
        /// The format it names.
        found: String,
    },
    /// The record names an algorithm this version does not implement.
    #[error("the draw used {0}, which this version cannot re-run")]
    Algorithm(String),
    /// The seed is not a decimal number.
    #[error("the seed {0:?} is not a whole number")]
    Seed(String),
    /// The frame cannot be drawn from (for example a key listed twice).
    #[error("the frame cannot be drawn from: {0}")]
    Frame(#[from] SamplingError),
}

impl<'a> DrawRecord<'a> {
    /// The record of `draw`, made from `frame` with `seed` and `parameters`. The draw has
    /// already put the frame in (ward, key) order; each ward is split by weight keeping it.
    pub fn new(
        frame: &'a [FrameUnit],
        draw: &'a Draw,
        seed: Seed,
        parameters: &LotteryParameters,
    ) -> Self {
        let mut groups: Vec<FrameGroup<'a>> = Vec::new();
        let mut rest = draw.frame_order.as_slice();
        while let Some(&first) = rest.first() {
            let stratum = &frame[first].stratum;
            let end = rest
                .iter()
                .position(|&i| frame[i].stratum != *stratum)
                .unwrap_or(rest.len());
            let mut by_weight: Vec<FrameGroup<'a>> = Vec::new();
            for &i in &rest[..end] {
                let unit = &frame[i];
                let key = Cow::Borrowed(unit.key.as_str());
                match by_weight
                    .iter_mut()
                    .find(|g| g.weight.to_bits() == unit.weight.to_bits())
                {
                    Some(group) => group.keys.push(key),
                    None => by_weight.push(FrameGroup {
                        stratum: Cow::Borrowed(stratum),
                        weight: unit.weight,
                        keys: vec![key],
                    }),
                }
            }
            by_weight.sort_by(|a, b| a.weight.total_cmp(&b.weight));
            groups.append(&mut by_weight);
            rest = &rest[end..];
        }
        Self {
            format: FORMAT.to_owned(),
            algorithm: parameters.ward_shares.algorithm().to_owned(),
            seed: seed.to_string(),
            letters: parameters.letters,
            parameters: parameters.clone(),
            eligible: frame.len() as u64,
            frame_sha256: draw.frame_fingerprint.clone(),
            frame: groups,
            drawn: draw
                .selected
                .iter()
                .map(|u| Cow::Borrowed(u.key.as_str()))
                .collect(),
        }
    }

    /// The frame as units to draw from; ids number them in the record's order.
    pub fn units(&self) -> Vec<FrameUnit> {
        // Sized from the keys themselves: `eligible` is whatever the file says.
        let mut units = Vec::with_capacity(self.frame.iter().map(|g| g.keys.len()).sum());
        for group in &self.frame {
            let stratum: Arc<str> = Arc::from(&*group.stratum);
            for key in &group.keys {
                units.push(FrameUnit {
                    id: units.len() as i64,
                    key: key.to_string(),
                    stratum: Arc::clone(&stratum),
                    weight: group.weight,
                });
            }
        }
        units
    }

    /// Checks the frame against its fingerprint, re-runs the draw from it and compares
    /// the keys drawn with those the record lists.
    pub fn check(&self) -> Result<RecordCheck, RecordError> {
        if self.format != FORMAT {
            return Err(RecordError::Format {
                found: self.format.clone(),
            });
        }
        let shares = WardShares::of_algorithm(&self.algorithm)
            .ok_or_else(|| RecordError::Algorithm(self.algorithm.clone()))?;
        let seed = self
            .seed
            .parse::<Seed>()
            .map_err(|_| RecordError::Seed(self.seed.clone()))?;
        let units = self.units();
        let computed = sampling::fingerprint(&units);
        if computed != self.frame_sha256 || units.len() as u64 != self.eligible {
            return Ok(RecordCheck::FrameAltered {
                stated: self.frame_sha256.clone(),
                computed,
            });
        }
        let draw = sampling::draw_with_shares(&units, self.letters, seed, shares)?;
        let redrawn: Vec<String> = draw.selected.into_iter().map(|u| u.key).collect();
        Ok(compare_keys(&self.drawn, redrawn, units.len()))
    }
}

/// Compares the keys a record lists with those re-drawn, in any order.
pub fn compare_keys(
    listed: &[impl AsRef<str>],
    mut redrawn: Vec<String>,
    eligible: usize,
) -> RecordCheck {
    let mut listed: Vec<String> = listed.iter().map(|k| k.as_ref().to_owned()).collect();
    listed.sort_unstable();
    redrawn.sort_unstable();
    if listed == redrawn {
        return RecordCheck::Identical {
            letters: listed.len(),
            eligible,
        };
    }
    let examples = listed
        .iter()
        .filter(|key| redrawn.binary_search(key).is_err())
        .chain(
            redrawn
                .iter()
                .filter(|key| listed.binary_search(key).is_err()),
        )
        .take(10)
        .cloned()
        .collect();
    RecordCheck::Different {
        listed: listed.len(),
        redrawn: redrawn.len(),
        examples,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn parameters(letters: u64) -> LotteryParameters {
        LotteryParameters {
            letters,
            decile_weights: BTreeMap::from([(1, 2.0)]),
            exclude_invited_within_months: Some(12),
            exclude_member_households: true,
            as_of: chrono::DateTime::from_timestamp(1_764_547_200, 0).unwrap(),
            ward_shares: WardShares::ByWeight,
        }
    }

    /// 60 addresses over three wards, a third of them weighted 2.
    fn frame() -> Vec<FrameUnit> {
        (0..60)
            .rev()
            .map(|n| FrameUnit {
                id: 1_000 + n,
                key: format!("{}", 100_000 + n * 7),
                stratum: Arc::from(format!("E0500441{}", n % 3)),
                weight: if n % 5 == 0 { 2.0 } else { 1.0 },
            })
            .collect()
    }

    /// A record of a draw from [`frame`], read back from its JSON as a verifier would.
    fn record(letters: u64, seed: u64) -> DrawRecord<'static> {
        let frame = frame();
        let draw = sampling::draw(&frame, letters, Seed(seed)).unwrap();
        let json = serde_json::to_vec(&DrawRecord::new(
            &frame,
            &draw,
            Seed(seed),
            &parameters(letters),
        ))
        .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    #[test]
    fn a_record_re_draws_the_same_keys_after_a_round_trip_through_json() {
        let written = record(12, 20_261_201);
        assert_eq!(written.eligible, 60);
        assert_eq!(written.drawn.len(), 12);
        // Three wards, two weights each, each group sorted by key.
        assert_eq!(written.frame.len(), 6);
        assert!(written.frame.iter().all(|g| g.keys.is_sorted()));
        let json = serde_json::to_vec(&written).unwrap();
        let read: DrawRecord = serde_json::from_slice(&json).unwrap();
        assert_eq!(read, written);
        assert_eq!(
            read.check(),
            Ok(RecordCheck::Identical {
                letters: 12,
                eligible: 60
            })
        );
    }

    #[test]
    fn a_record_of_a_draw_with_ward_shares_by_addresses_re_draws_with_them() {
        let frame = frame();
        let mut by_addresses = parameters(12);
        by_addresses.ward_shares = WardShares::ByAddresses;
        let draw =
            sampling::draw_with_shares(&frame, 12, Seed(4), WardShares::ByAddresses).unwrap();
        let record = DrawRecord::new(&frame, &draw, Seed(4), &by_addresses);
        assert_eq!(record.algorithm, sampling::ALGORITHM_BY_ADDRESSES);
        assert!(matches!(record.check(), Ok(RecordCheck::Identical { .. })));
    }

    #[test]
    fn the_same_frame_in_any_order_makes_the_same_record() {
        let frame = frame();
        let mut shuffled = frame.clone();
        shuffled.reverse();
        shuffled.swap(3, 40);
        let draw = sampling::draw(&frame, 9, Seed(5)).unwrap();
        let again = sampling::draw(&shuffled, 9, Seed(5)).unwrap();
        assert_eq!(
            serde_json::to_string(&DrawRecord::new(&frame, &draw, Seed(5), &parameters(9)))
                .unwrap(),
            serde_json::to_string(&DrawRecord::new(&shuffled, &again, Seed(5), &parameters(9)))
                .unwrap()
        );
    }

    #[test]
    fn an_altered_frame_or_drawn_list_is_caught() {
        let mut moved = record(12, 7);
        let key = moved.frame[0].keys.pop().unwrap();
        moved.frame[1].keys.push(key);
        assert!(matches!(
            moved.check(),
            Ok(RecordCheck::FrameAltered { .. })
        ));

        // The count of eligible addresses is not in the fingerprint, but is checked too.
        let mut miscounted = record(12, 7);
        miscounted.eligible = u64::MAX;
        assert!(matches!(
            miscounted.check(),
            Ok(RecordCheck::FrameAltered { .. })
        ));

        let mut reweighted = record(12, 7);
        reweighted.frame[0].weight = 3.0;
        assert!(matches!(
            reweighted.check(),
            Ok(RecordCheck::FrameAltered { .. })
        ));

        let mut swapped = record(12, 7);
        let listed = swapped.drawn[0].to_string();
        let outsider = swapped
            .units()
            .into_iter()
            .map(|u| u.key)
            .find(|k| !swapped.drawn.iter().any(|d| d == k))
            .unwrap();
        swapped.drawn[0] = Cow::Owned(outsider.clone());
        let Ok(RecordCheck::Different {
            listed: 12,
            redrawn: 12,
            examples,
        }) = swapped.check()
        else {
            panic!("a swapped key must be found");
        };
        assert_eq!(examples.len(), 2);
        assert!(examples.contains(&outsider) && examples.contains(&listed));

        let mut reseeded = record(12, 7);
        reseeded.seed = "8".into();
        assert!(matches!(
            reseeded.check(),
            Ok(RecordCheck::Different { .. })
        ));
    }

    #[test]
    fn a_record_of_another_format_or_algorithm_is_refused() {
        let mut other = record(3, 1);
        other.format = "something-else/2".into();
        assert!(matches!(other.check(), Err(RecordError::Format { .. })));
        let mut newer = record(3, 1);
        newer.algorithm = "stratified/v9".into();
        assert!(matches!(newer.check(), Err(RecordError::Algorithm(_))));
        let mut seedless = record(3, 1);
        seedless.seed = "twelve".into();
        assert!(matches!(seedless.check(), Err(RecordError::Seed(_))));
    }
}
