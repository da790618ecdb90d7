//! Age bands as councils write them, and how they sit on the census's five-year bands.
//!
//! An "about you" age question's options are read as ranges of whole years:
//! - closed: `16-24`, `16 – 24`, `16 to 24`, `Aged 16 to 24 years`, `18–24` (any dash);
//! - open at the top: `65+`, `65 plus`, `65 and over`, `75 or over`, `65 and above`,
//!   `65 or older`, `Aged 85 years and over`;
//! - open at the bottom: `Under 16`, `15 and under`, `15 or younger`;
//! - not an age: `Prefer not to say`, `Rather not say`, `Prefer not to answer`,
//!   `Not given`, `Don't know`, recorded as not given.
//!
//! A scheme of such ranges can be reported against the census when every range is a
//! union of whole census bands ([`AgeBand`]): it starts on a band's first year (a
//! multiple of five) or at or below the youngest age reported (the bands below it are
//! left out, and the band it cuts is counted from it, as population shares already are),
//! and ends on a band's last year (or is open from a multiple of five up to 85). Ranges
//! may not overlap, and every age from the youngest up has one. `18-24` cuts the band
//! 15-19 at 18 (unless 18 is the youngest age) and is refused; `over 75` is ambiguous.

use crate::domain::register::demographics::{AgeBand, normalise};

/// A range of whole years, `high` included; open at the top when `high` is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgeRange {
    /// The youngest age in it.
    pub low: u32,
    /// The oldest, if any.
    pub high: Option<u32>,
}

/// What an age option says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgeAnswer {
    /// A range of ages.
    Range(AgeRange),
    /// No age (prefer not to say, don't know).
    NotGiven,
}

const NOT_GIVEN: [&str; 7] = [
    "prefer not to say",
    "rather not say",
    "prefer not to answer",
    "not given",
    "don't know",
    "do not know",
    "not stated",
];

impl AgeRange {
    /// Whether `age` is in the range.
    pub fn contains(self, age: u32) -> bool {
        age >= self.low && self.high.is_none_or(|h| age <= h)
    }

    /// Reads a label; `None` when it is not a range this module knows.
    pub fn parse(label: &str) -> Option<AgeAnswer> {
        let text = normalise(label).replace(['–', '—', '‐', '‑', '−'], "-");
        let text = text.trim_end_matches('.').trim();
        if NOT_GIVEN.contains(&text) || NOT_GIVEN.contains(&text.replace('’', "'").as_str()) {
            return Some(AgeAnswer::NotGiven);
        }
        let text = text
            .strip_prefix("aged ")
            .or_else(|| text.strip_prefix("age "))
            .unwrap_or(text);
        let text = text
            .replace(" years old", "")
            .replace(" years", "")
            .replace(" yrs", "");
        let text = text.trim();
        let number = |s: &str| s.trim().parse::<u32>().ok().filter(|&n| n <= 120);
        if let Some(high) = text.strip_prefix("under ") {
            let high = number(high)?.checked_sub(1)?;
            return Some(AgeAnswer::Range(Self {
                low: 0,
                high: Some(high),
            }));
        }
        for suffix in [" and under", " or under", " or younger", " and younger"] {
            if let Some(high) = text.strip_suffix(suffix) {
                return Some(AgeAnswer::Range(Self {
                    low: 0,
                    high: Some(number(high)?),
                }));
            }
        }
        for suffix in [
            "+",
            " plus",
            " and over",
            " or over",
            " and above",
            " and older",
            " or older",
        ] {
            if let Some(low) = text.strip_suffix(suffix) {
                return Some(AgeAnswer::Range(Self {
                    low: number(low)?,
                    high: None,
                }));
            }
        }
        let (low, high) = text.split_once('-').or_else(|| text.split_once(" to "))?;
        let (low, high) = (number(low)?, number(high)?);
        (low <= high).then_some(AgeAnswer::Range(Self {
            low,
            high: Some(high),
        }))
    }

    /// The label of a census band's range (`15-19`, `85+`).
    fn of_band(band: AgeBand) -> Self {
        Self {
            low: band.low,
            high: (band.low < AgeBand::OPEN_FROM).then_some(band.low + 4),
        }
    }
}

/// An age question's ranges, when they are not the census bands themselves: reports
/// count people in these rows, each the sum of the census bands in it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgeScheme {
    /// Each range with its label as the question wrote it, youngest first.
    pub ranges: Vec<(String, AgeRange)>,
    /// The youngest age reported.
    pub min_age: u32,
}

/// Why an age question's options cannot be reported against the census: the option
/// (its index) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeSchemeError {
    /// The option at fault (the first of two that overlap).
    pub option: usize,
    /// What is wrong, for the officer.
    pub message: String,
}

const HINT: &str = "use bands that start at a multiple of 5 (or at the youngest age) and end \
    one year before one, e.g. 16-24, 25-34, …, 75 and over";

impl AgeScheme {
    /// The scheme of an age question's option labels for ages from `min_age`: `Ok(None)`
    /// when they are the census bands (or say no age), an error naming the first option
    /// that cannot be reported.
    pub fn of(labels: &[String], min_age: u32) -> Result<Option<Self>, AgeSchemeError> {
        let mut ranges: Vec<(usize, String, AgeRange)> = Vec::new();
        for (option, label) in labels.iter().enumerate() {
            let fail = |message: String| AgeSchemeError { option, message };
            let range = match AgeRange::parse(label) {
                Some(AgeAnswer::NotGiven) => continue,
                Some(AgeAnswer::Range(range)) => range,
                None if normalise(label).starts_with("over ") => {
                    return Err(fail(format!(
                        "{label:?} is ambiguous: write \"{} and over\" (or \"{}+\")",
                        normalise(label).trim_start_matches("over "),
                        normalise(label).trim_start_matches("over ")
                    )));
                }
                None => {
                    return Err(fail(format!(
                        "{label:?} is not an age band this report can read: write it as \
                         16-24, 16 to 24, 65+ or 65 and over (or \"Prefer not to say\")"
                    )));
                }
            };
            let starts = range.low.is_multiple_of(5) || range.low <= min_age;
            let ends = match range.high {
                Some(h) => (h + 1).is_multiple_of(5) && h < AgeBand::OPEN_FROM || h < min_age,
                None => range.low <= AgeBand::OPEN_FROM,
            };
            if !starts {
                let band = AgeBand::of(range.low);
                return Err(fail(format!(
                    "{label:?} cuts the census age band {} at {}: {HINT}",
                    band.label(),
                    range.low
                )));
            }
            if !ends {
                let cut = range.high.map_or(range.low, |h| h + 1);
                let band = AgeBand::of(cut.min(AgeBand::OPEN_FROM));
                return Err(fail(format!(
                    "{label:?} cuts the census age band {} at {cut}: {HINT}",
                    band.label()
                )));
            }
            ranges.push((option, label.clone(), range));
        }
        ranges.sort_by_key(|(_, _, r)| *r);
        for pair in ranges.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.2.high.is_none_or(|h| h >= b.2.low) {
                return Err(AgeSchemeError {
                    option: a.0.max(b.0),
                    message: format!("{:?} overlaps {:?}: each age needs one band", b.1, a.1),
                });
            }
        }
        // From the youngest age up, every age in a band.
        let mut next = min_age;
        for (option, label, range) in &ranges {
            if range.high.is_some_and(|h| h < min_age) {
                continue;
            }
            if range.low > next {
                return Err(AgeSchemeError {
                    option: *option,
                    message: format!(
                        "no option holds ages {next} to {}: add one before {label:?}",
                        range.low - 1
                    ),
                });
            }
            next = match range.high {
                Some(h) => h + 1,
                None => u32::MAX,
            };
        }
        if !ranges.is_empty() && next != u32::MAX {
            let (option, label, _) = &ranges[ranges.len() - 1];
            return Err(AgeSchemeError {
                option: *option,
                message: format!(
                    "no option holds ages {next} and over: end with \"{next} and over\" after {label:?}"
                ),
            });
        }
        let census = ranges
            .iter()
            .all(|(_, _, r)| AgeRange::of_band(AgeBand::of(r.low)) == *r);
        if ranges.is_empty() || census {
            return Ok(None);
        }
        Ok(Some(Self {
            ranges: ranges.into_iter().map(|(_, l, r)| (l, r)).collect(),
            min_age,
        }))
    }

    /// The scheme's label for census band `band`: the range holding its first year
    /// reported (the band lies wholly in it, the scheme being aligned), if any.
    pub fn of_band(&self, band: AgeBand) -> Option<&str> {
        let last = if band.low < AgeBand::OPEN_FROM {
            band.low + 4
        } else {
            u32::MAX
        };
        let first = if last < self.min_age {
            band.low
        } else {
            band.low.max(self.min_age)
        };
        self.ranges
            .iter()
            .find(|(_, r)| r.contains(first))
            .map(|(label, _)| label.as_str())
    }

    /// The scheme's label for a stored age label: one of the scheme's own (however it is
    /// written), or a census band's; `None` for anything else.
    pub fn label_of(&self, stored: &str) -> Option<&str> {
        if let Some(band) = AgeBand::from_label(stored) {
            return self.of_band(band);
        }
        match AgeRange::parse(stored)? {
            AgeAnswer::Range(range) => self
                .ranges
                .iter()
                .find(|(_, r)| *r == range)
                .map(|(label, _)| label.as_str()),
            AgeAnswer::NotGiven => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(list: &[&str]) -> Vec<String> {
        list.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn the_bands_a_council_writes_are_read() {
        let range = |low, high| Some(AgeAnswer::Range(AgeRange { low, high }));
        assert_eq!(AgeRange::parse("16-24"), range(16, Some(24)));
        assert_eq!(AgeRange::parse("16 to 24"), range(16, Some(24)));
        assert_eq!(AgeRange::parse("Aged 16 to 24 years"), range(16, Some(24)));
        assert_eq!(AgeRange::parse("18–24"), range(18, Some(24)));
        assert_eq!(AgeRange::parse("65+"), range(65, None));
        assert_eq!(AgeRange::parse("65 and over"), range(65, None));
        assert_eq!(AgeRange::parse("75 or over"), range(75, None));
        assert_eq!(AgeRange::parse("Aged 85 years and over"), range(85, None));
        assert_eq!(AgeRange::parse("Under 16"), range(0, Some(15)));
        assert_eq!(
            AgeRange::parse("Prefer not to say"),
            Some(AgeAnswer::NotGiven)
        );
        assert_eq!(AgeRange::parse("Don’t know"), Some(AgeAnswer::NotGiven));
        assert_eq!(AgeRange::parse("young"), None);
        assert_eq!(AgeRange::parse("over 75"), None);
    }

    #[test]
    fn bands_on_census_edges_make_a_scheme_and_bands_that_cut_one_are_refused() {
        let council = labels(&[
            "16-24",
            "25-34",
            "35-44",
            "45-54",
            "55-64",
            "65-74",
            "75 or over",
            "Prefer not to say",
        ]);
        let scheme = AgeScheme::of(&council, 16).unwrap().unwrap();
        assert_eq!(scheme.ranges.len(), 7);
        assert_eq!(scheme.of_band(AgeBand { low: 15 }), Some("16-24"));
        assert_eq!(scheme.of_band(AgeBand { low: 20 }), Some("16-24"));
        assert_eq!(scheme.of_band(AgeBand { low: 30 }), Some("25-34"));
        assert_eq!(scheme.of_band(AgeBand { low: 85 }), Some("75 or over"));
        assert_eq!(scheme.label_of("16 to 24"), Some("16-24"));
        assert_eq!(scheme.label_of("20-24"), Some("16-24"));
        assert_eq!(scheme.label_of("Prefer not to say"), None);
        // The census bands themselves need no scheme.
        let census: Vec<String> = (3..17)
            .map(|b| AgeBand { low: b * 5 }.label())
            .chain(["85+".to_owned()])
            .collect();
        assert_eq!(AgeScheme::of(&census, 15).unwrap(), None);
        // 18-24 cuts 15-19 at 18 unless 18 is the youngest age.
        let err = AgeScheme::of(&labels(&["Prefer not to say", "18-24", "25+"]), 16).unwrap_err();
        assert_eq!(err.option, 1, "{err:?}");
        assert!(err.message.contains("15-19 at 18"), "{err:?}");
        assert!(
            AgeScheme::of(&labels(&["18–24", "25-64", "65+"]), 18)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            AgeScheme::of(&labels(&["16-25", "26+"]), 16)
                .unwrap_err()
                .option,
            0
        );
        assert_eq!(
            AgeScheme::of(&labels(&["16-24", "over 25"]), 16)
                .unwrap_err()
                .option,
            1
        );
        assert_eq!(
            AgeScheme::of(&labels(&["16-44", "40+"]), 16)
                .unwrap_err()
                .option,
            1
        );
        let gap = AgeScheme::of(&labels(&["16-24", "35+"]), 16).unwrap_err();
        assert!(gap.message.contains("25 to 34"), "{gap:?}");
        assert!(
            AgeScheme::of(&labels(&["16-24", "25-64"]), 16).is_err(),
            "no top"
        );
    }
}
