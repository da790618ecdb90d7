//! Panels as the rest of the service sees them: who is eligible, how a registrant's
//! profile becomes the values quotas count, quotas derived from the population, and the
//! lifecycle of a membership.
//!
//! ```text
//! selected ──▶ active ◀──▶ paused
//!    │           │           │
//!    └───────────┴─────┬─────┘
//!                      ▼
//!          withdrawn   or   term ended   (final)
//! ```

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::ids::{AccountId, PanelId};
use crate::domain::register::demographics::{AgeBand, age_on};
use crate::domain::selection::Feature;

/// Youngest age at which a registrant may join a panel on their own consent (UK GDPR,
/// Article 8, as set for the UK by the Data Protection Act 2018, s. 9): anyone younger
/// needs a recorded parent's or guardian's consent.
pub const AGE_OF_DIGITAL_CONSENT: u32 = 13;

crate::stored_names! {
    /// Where a membership is in its life.
    pub enum MembershipStatus ("membership status") {
        /// Chosen by a selection; not yet confirmed.
        Selected = "selected",
        /// Taking part.
        Active = "active",
        /// Taking a break; still a member.
        Paused = "paused",
        /// Left the panel (by their own choice or an officer's record of it).
        Withdrawn = "withdrawn",
        /// Served the membership term.
        TermEnded = "term_ended",
    }
}

impl MembershipStatus {
    /// Statuses of a sitting member: one who holds a seat on the panel.
    pub const SITTING: [MembershipStatus; 3] = [Self::Selected, Self::Active, Self::Paused];

    /// Whether the member holds a seat.
    pub fn is_sitting(self) -> bool {
        Self::SITTING.contains(&self)
    }

    /// Whether a membership may move from this status to `to`.
    pub fn can_become(self, to: MembershipStatus) -> bool {
        use MembershipStatus::*;
        matches!(
            (self, to),
            (Selected, Active)
                | (Selected, Withdrawn)
                | (Active, Paused)
                | (Paused, Active)
                | (Active | Paused, Withdrawn)
                | (Active | Paused, TermEnded)
        )
    }
}

/// A panel: the Residents Panel, a Youth Forum, …
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The row's key, also the number in its `Panel` global ID.
    pub id: PanelId,
    /// Its name, unique.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Who may join.
    pub eligibility: Eligibility,
    /// Members wanted.
    pub target_size: u32,
    /// How long a membership lasts, in months.
    pub term_months: u32,
    /// At most one member per household.
    pub one_per_household: bool,
    /// The benchmark area (GSS code) quotas and reports compare with, if set.
    pub area_code: Option<String>,
    /// Who created it.
    pub created_by: Option<AccountId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Who may join a panel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Eligibility {
    /// Youngest age on the selection date, if any.
    pub min_age: Option<u32>,
    /// Oldest age on the selection date, if any.
    pub max_age: Option<u32>,
    /// Wards (codes) whose registrants may join; empty for every ward.
    pub wards: Vec<String>,
}

/// Why a registrant cannot join a panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// Younger than the panel's youngest age.
    TooYoung,
    /// Older than the panel's oldest age.
    TooOld,
    /// Lives outside the panel's wards.
    OutsideWards,
    /// Under 13 with no recorded parent's or guardian's consent.
    NeedsGuardianConsent,
}

impl Eligibility {
    /// Whether a registrant born on `born`, living in `ward`, may join on `on`, given
    /// whether a guardian's consent is recorded for them.
    pub fn check(
        &self,
        born: NaiveDate,
        ward: &str,
        guardian_consent: bool,
        on: NaiveDate,
    ) -> Result<(), Ineligible> {
        let age = age_on(born, on).unwrap_or(0);
        if self.min_age.is_some_and(|min| age < min) {
            return Err(Ineligible::TooYoung);
        }
        if self.max_age.is_some_and(|max| age > max) {
            return Err(Ineligible::TooOld);
        }
        if !self.wards.is_empty() && !self.wards.iter().any(|w| w.eq_ignore_ascii_case(ward)) {
            return Err(Ineligible::OutsideWards);
        }
        if age < AGE_OF_DIGITAL_CONSENT && !guardian_consent {
            return Err(Ineligible::NeedsGuardianConsent);
        }
        Ok(())
    }
}

/// A registrant's profile, as the quotas read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Read as the age band on the day the quotas are checked (`age_band`).
    pub date_of_birth: NaiveDate,
    /// Sex, as stored (the census category).
    pub sex: String,
    /// Ethnic group, as stored (one of the census's 19).
    pub ethnic_group: String,
    /// Disability, as stored.
    pub disability: String,
    /// Ward code of the registrant's address.
    pub ward_code: String,
    /// Index of Multiple Deprivation decile of the address, if known.
    pub deprivation_decile: Option<i16>,
    /// Custom attributes by name (lower case), e.g. `tenure`.
    pub attributes: HashMap<String, String>,
}

/// The features the profile answers, and what each means.
pub const PROFILE_FEATURES: [(&str, &str); 8] = [
    (
        "age_band",
        "census five-year band of the age on the selection date, e.g. 15-19",
    ),
    ("sex", "female or male (`gender` means the same)"),
    (
        "ethnic_group",
        "one of the census's 19 groups, e.g. White: English, Welsh, Scottish, Northern Irish or British",
    ),
    (
        "ethnic_group_broad",
        "one of the census's 5 broad groups: the part of the group before the colon",
    ),
    (
        "disability",
        "Disabled / Not disabled under the Equality Act",
    ),
    ("ward", "ward code of the registrant's address"),
    (
        "deprivation_decile",
        "IMD decile of the address, 1 (most deprived) to 10, or unknown",
    ),
    (
        "deprivation_quintile",
        "IMD quintile of the address, 1 (most deprived) to 5, or unknown",
    ),
];

/// A feature's name as attributes are stored and compared: trimmed, lower case, spaces
/// and hyphens as `_` (`Age band` → `age_band`).
pub fn feature_key(name: &str) -> String {
    name.trim().to_lowercase().replace([' ', '-'], "_")
}

/// The profile feature (one of [`PROFILE_FEATURES`]) a quota's feature name means, with
/// the usual other names (`gender`, `ethnicity`, `ward_code`, `imd_decile`,
/// `imd_quintile`); `None` for a custom attribute.
pub fn profile_feature(name: &str) -> Option<&'static str> {
    let key = feature_key(name);
    let canonical = match key.as_str() {
        "gender" => "sex",
        "ethnicity" => "ethnic_group",
        "ward_code" => "ward",
        "imd_decile" => "deprivation_decile",
        "imd_quintile" => "deprivation_quintile",
        other => other,
    };
    PROFILE_FEATURES
        .iter()
        .map(|(feature, _)| *feature)
        .find(|feature| *feature == canonical)
}

impl Profile {
    /// The registrant's value for a quota feature on `on`, or `None` when the profile
    /// holds nothing under that name. Features not in [`PROFILE_FEATURES`] are custom
    /// attributes.
    pub fn value(&self, feature: &str, on: NaiveDate) -> Option<String> {
        let decile = || {
            self.deprivation_decile
                .map_or_else(|| "unknown".to_owned(), |d| d.to_string())
        };
        Some(match profile_feature(feature) {
            Some("age_band") => AgeBand::of(age_on(self.date_of_birth, on).unwrap_or(0)).label(),
            Some("sex") => self.sex.clone(),
            Some("ethnic_group") => self.ethnic_group.clone(),
            Some("ethnic_group_broad") => broad_ethnic_group(&self.ethnic_group).to_owned(),
            Some("disability") => self.disability.clone(),
            Some("ward") => self.ward_code.clone(),
            Some("deprivation_decile") => decile(),
            Some("deprivation_quintile") => self
                .deprivation_decile
                .map_or_else(|| "unknown".to_owned(), |d| ((d + 1) / 2).to_string()),
            _ => return self.attributes.get(&feature_key(feature)).cloned(),
        })
    }
}

/// The census's broad ethnic group: the part of a 19-group label before its colon
/// (`Asian, Asian British or Asian Welsh: Indian` → `Asian, Asian British or Asian Welsh`).
pub fn broad_ethnic_group(group: &str) -> &str {
    group
        .split_once(':')
        .map_or(group, |(broad, _)| broad)
        .trim()
}

/// Census five-year age bands restricted to ages `min_age` to `max_age` (either open):
/// a band that straddles a boundary keeps the share of its years inside, assuming ages
/// are spread evenly within a band (with 11–18, `10-14` keeps 4/5 and `15-19` keeps 4/5).
/// `85+` is treated as ten years (85–94) when a maximum cuts it.
pub fn age_bands_between(
    bands: &[(String, f64)],
    min_age: Option<u32>,
    max_age: Option<u32>,
) -> Vec<(String, f64)> {
    bands
        .iter()
        .filter_map(|(label, count)| {
            let band = AgeBand::from_label(label)?;
            let low = band.low;
            let high = if low >= AgeBand::OPEN_FROM {
                low + 9
            } else {
                low + 4
            };
            let from = min_age.map_or(low, |m| m.max(low));
            let to = max_age.map_or(high, |m| m.min(high));
            if from > to {
                return None;
            }
            let kept = if from == low && to == high {
                1.0
            } else {
                f64::from(to - from + 1) / f64::from(high - low + 1)
            };
            Some((label.clone(), count * kept))
        })
        .collect()
}

/// Quotas for a panel of `k` from population counts per feature: each value's share of
/// `k`, ± `tolerance` (0.1 for ± 10 %), the minimum rounded down and the maximum up.
/// Values with no population get 0 to 0.
pub fn quotas_from_population(
    population: &[(String, Vec<(String, f64)>)],
    k: u32,
    tolerance: f64,
) -> Vec<Feature> {
    let tolerance = if tolerance.is_finite() {
        tolerance.clamp(0.0, 1.0)
    } else {
        0.0
    };
    population
        .iter()
        .map(|(name, values)| {
            let total: f64 = values.iter().map(|(_, n)| n.max(0.0)).sum();
            let bounds = values
                .iter()
                .map(|(_, n)| {
                    let target = if total > 0.0 {
                        n.max(0.0) / total * f64::from(k)
                    } else {
                        0.0
                    };
                    let min = (target * (1.0 - tolerance)).floor();
                    let max = (target * (1.0 + tolerance)).ceil().min(f64::from(k));
                    (min as u32, max as u32)
                })
                .collect();
            Feature {
                name: name.clone(),
                values: values.iter().map(|(v, _)| v.clone()).collect(),
                bounds,
            }
        })
        .collect()
}

/// The number a public draw gives under RFC 3797 ("Publicly Verifiable Nominations
/// Committee (NomCom) Random Selection", D. Eastlake, 2004), for a lottery of `tickets`:
/// the sources of public randomness (the numbers drawn in a national lottery, a stock
/// index's close, …) are written in canonical form ([`rfc3797_key`]); the MD5 digest of
/// the key between two zero bytes on each side, read as a 128-bit number, modulo the
/// number of tickets, plus one. Anyone can repeat it from the published sources.
pub fn rfc3797_ticket(sources: &[String], tickets: u32) -> Option<(String, u32)> {
    if tickets == 0 {
        return None;
    }
    let key = rfc3797_key(sources)?;
    let pick = rfc3797_pick(&key, 0, tickets);
    Some((key, pick + 1))
}

/// RFC 3797's key string: each source in turn, its numbers sorted ascending, each written
/// in decimal followed by `.`, then `/`; a source that is not a list of whole numbers is
/// written in upper case with everything but letters and digits dropped, then `/`.
/// `None` when there is no source or a source gives nothing.
pub fn rfc3797_key(sources: &[String]) -> Option<String> {
    if sources.is_empty() {
        return None;
    }
    let mut key = String::new();
    for source in sources {
        let parts: Vec<&str> = source
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .collect();
        let numbers: Option<Vec<u128>> = parts.iter().map(|p| p.parse().ok()).collect();
        match numbers {
            Some(mut numbers) if !numbers.is_empty() => {
                numbers.sort_unstable();
                for n in numbers {
                    key.push_str(&n.to_string());
                    key.push('.');
                }
            }
            _ => {
                let text: String = source
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                if text.is_empty() {
                    return None;
                }
                key.push_str(&text);
            }
        }
        key.push('/');
    }
    Some(key)
}

/// RFC 3797's `index`-th pick from a pool of `size` (0-based within what is left): MD5 of
/// `index` as two bytes, the key, and `index` again, as a 128-bit number modulo `size`.
pub fn rfc3797_pick(key: &str, index: u16, size: u32) -> u32 {
    use md5::Digest;
    let mut hasher = md5::Md5::new();
    hasher.update(index.to_be_bytes());
    hasher.update(key.as_bytes());
    hasher.update(index.to_be_bytes());
    let digest: [u8; 16] = hasher.finalize().into();
    let number = u128::from_be_bytes(digest);
    u32::try_from(number % u128::from(size.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn memberships_move_only_along_the_lifecycle() {
        use MembershipStatus::*;
        assert!(Selected.can_become(Active));
        assert!(Active.can_become(Paused));
        assert!(Paused.can_become(Active));
        assert!(Paused.can_become(Withdrawn));
        assert!(Active.can_become(TermEnded));
        assert!(!Selected.can_become(Paused));
        assert!(!Withdrawn.can_become(Active));
        assert!(!TermEnded.can_become(Active));
        assert!(!Active.can_become(Active));
        for status in MembershipStatus::ALL {
            assert_eq!(status.as_str().parse::<MembershipStatus>().unwrap(), status);
        }
        assert!("gone".parse::<MembershipStatus>().is_err());
        assert!(Paused.is_sitting() && !Withdrawn.is_sitting());
    }

    #[test]
    fn eligibility_counts_age_on_the_selection_date_and_needs_a_guardian_under_13() {
        let youth = Eligibility {
            min_age: Some(11),
            max_age: Some(18),
            wards: vec!["E05000001".to_owned()],
        };
        let on = date(2027, 3, 1);
        // 11 on the day: eligible with a guardian's consent, not without.
        assert_eq!(
            youth.check(date(2016, 3, 1), "E05000001", false, on),
            Err(Ineligible::NeedsGuardianConsent)
        );
        assert_eq!(youth.check(date(2016, 3, 1), "E05000001", true, on), Ok(()));
        // 11 tomorrow: too young.
        assert_eq!(
            youth.check(date(2016, 3, 2), "E05000001", true, on),
            Err(Ineligible::TooYoung)
        );
        // 18 until the day before the 19th birthday.
        assert_eq!(
            youth.check(date(2008, 3, 2), "e05000001", false, on),
            Ok(())
        );
        assert_eq!(
            youth.check(date(2008, 3, 1), "E05000001", false, on),
            Err(Ineligible::TooOld)
        );
        assert_eq!(
            youth.check(date(2012, 1, 1), "E05000002", false, on),
            Err(Ineligible::OutsideWards)
        );
        // An adult panel with no rules still asks for a guardian under 13.
        let open = Eligibility::default();
        assert_eq!(
            open.check(date(2015, 1, 1), "X", false, on),
            Err(Ineligible::NeedsGuardianConsent)
        );
        assert_eq!(open.check(date(1950, 1, 1), "X", false, on), Ok(()));
    }

    #[test]
    fn a_profile_gives_each_feature_its_value_and_custom_ones_from_attributes() {
        let profile = Profile {
            date_of_birth: date(2009, 6, 1),
            sex: "female".to_owned(),
            ethnic_group: "Asian, Asian British or Asian Welsh: Indian".to_owned(),
            disability: "Not disabled under the Equality Act".to_owned(),
            ward_code: "E05000001".to_owned(),
            deprivation_decile: Some(3),
            attributes: HashMap::from([("tenure".to_owned(), "Social rented".to_owned())]),
        };
        let on = date(2027, 3, 1);
        assert_eq!(profile.value("age_band", on).unwrap(), "15-19");
        assert_eq!(profile.value("Age band", on).unwrap(), "15-19");
        assert_eq!(profile.value("gender", on).unwrap(), "female");
        assert_eq!(
            profile.value("ethnic_group_broad", on).unwrap(),
            "Asian, Asian British or Asian Welsh"
        );
        assert_eq!(profile.value("deprivation_decile", on).unwrap(), "3");
        assert_eq!(profile.value("deprivation_quintile", on).unwrap(), "2");
        assert_eq!(profile.value("Tenure", on).unwrap(), "Social rented");
        assert_eq!(profile.value("leaning", on), None);
        assert_eq!(profile_feature("IMD decile"), Some("deprivation_decile"));
        assert_eq!(
            profile_feature("Ethnic-group broad"),
            Some("ethnic_group_broad")
        );
        assert_eq!(profile_feature("tenure"), None);
    }

    #[test]
    fn straddling_age_bands_are_pro_rated_at_both_ends() {
        let bands: Vec<(String, f64)> = ["5-9", "10-14", "15-19", "20-24", "85+"]
            .iter()
            .map(|b| (b.to_string(), 100.0))
            .collect();
        let youth = age_bands_between(&bands, Some(11), Some(18));
        assert_eq!(
            youth,
            vec![("10-14".to_owned(), 80.0), ("15-19".to_owned(), 80.0)]
        );
        let adults = age_bands_between(&bands, Some(16), None);
        assert_eq!(adults[0], ("15-19".to_owned(), 80.0));
        assert_eq!(adults[1], ("20-24".to_owned(), 100.0));
        assert_eq!(adults[2], ("85+".to_owned(), 100.0));
        assert!(age_bands_between(&bands, Some(30), Some(40)).is_empty());
    }

    #[test]
    fn derived_quotas_are_the_population_share_of_k_widened_by_the_tolerance() {
        let population = vec![(
            "sex".to_owned(),
            vec![("female".to_owned(), 51.0), ("male".to_owned(), 49.0)],
        )];
        let quotas = quotas_from_population(&population, 60, 0.1);
        // 30.6 ± 10 % → 27.54 to 33.66 → 27 to 34; 29.4 → 26.46 to 32.34 → 26 to 33.
        assert_eq!(quotas[0].bounds, vec![(27, 34), (26, 33)]);
        let exact = quotas_from_population(&population, 100, 0.0);
        assert_eq!(exact[0].bounds, vec![(51, 51), (49, 49)]);
    }

    #[test]
    fn rfc3797_matches_the_worked_example_of_the_rfc() {
        // RFC 3797 section 6: three sources give this key, and its first digest is
        // 990DD0A5692A029A98B5E01AA28F3459, which picks 17th of 25 (remainder 16).
        let sources = vec![
            "9319".to_owned(),
            "2 5 12 8 10".to_owned(),
            "9, 18, 26, 34, 41, 45".to_owned(),
        ];
        let key = rfc3797_key(&sources).unwrap();
        assert_eq!(key, "9319./2.5.8.10.12./9.18.26.34.41.45./");
        assert_eq!(rfc3797_ticket(&sources, 25), Some((key.clone(), 17)));
        // Picking 11 of 25 without replacement, as the RFC's example does: each pick is
        // a position among those left.
        let mut left: Vec<u32> = (1..=25).collect();
        let mut picked = Vec::new();
        for index in 0..11u16 {
            let size = u32::try_from(left.len()).unwrap();
            picked.push(left.remove(rfc3797_pick(&key, index, size) as usize));
        }
        assert_eq!(picked, vec![17, 7, 2, 16, 25, 23, 8, 24, 19, 13, 22]);
        assert_eq!(rfc3797_key(&[]), None);
        assert_eq!(rfc3797_key(&["  ".to_owned()]), None);
        assert_eq!(
            rfc3797_key(&["Spurs 2-1".to_owned()]).unwrap(),
            "SPURS21/".to_owned()
        );
    }
}
