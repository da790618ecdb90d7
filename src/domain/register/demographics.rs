//! A registrant's demographic profile, in the categories of the 2021 Census so that pools
//! and respondents can be compared with the population benchmarks, and age arithmetic.

use chrono::{Datelike, NaiveDate};

/// Sex, as asked in the 2021 Census (TS008).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    /// Every value.
    pub const ALL: [Sex; 2] = [Sex::Female, Sex::Male];

    /// The benchmark category (`sex` dimension).
    pub fn category(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }
}

/// Disability under the Equality Act, as in the 2021 Census (TS038).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disability {
    /// Disabled under the Equality Act.
    Disabled,
    /// Not disabled under the Equality Act.
    NotDisabled,
}

impl Disability {
    /// Every value.
    pub const ALL: [Disability; 2] = [Disability::Disabled, Disability::NotDisabled];

    /// The benchmark category (`disability` dimension).
    pub fn category(self) -> &'static str {
        match self {
            Disability::Disabled => "Disabled under the Equality Act",
            Disability::NotDisabled => "Not disabled under the Equality Act",
        }
    }
}

/// The 19 ethnic groups of the 2021 Census in England and Wales (TS021).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EthnicGroup {
    AsianBangladeshi,
    AsianChinese,
    AsianIndian,
    AsianPakistani,
    AsianOther,
    BlackAfrican,
    BlackCaribbean,
    BlackOther,
    MixedWhiteAndAsian,
    MixedWhiteAndBlackAfrican,
    MixedWhiteAndBlackCaribbean,
    MixedOther,
    WhiteBritish,
    WhiteIrish,
    WhiteGypsyOrIrishTraveller,
    WhiteRoma,
    WhiteOther,
    OtherArab,
    OtherAny,
}

impl EthnicGroup {
    /// Every value, in census order.
    pub const ALL: [EthnicGroup; 19] = [
        Self::AsianBangladeshi,
        Self::AsianChinese,
        Self::AsianIndian,
        Self::AsianPakistani,
        Self::AsianOther,
        Self::BlackAfrican,
        Self::BlackCaribbean,
        Self::BlackOther,
        Self::MixedWhiteAndAsian,
        Self::MixedWhiteAndBlackAfrican,
        Self::MixedWhiteAndBlackCaribbean,
        Self::MixedOther,
        Self::WhiteBritish,
        Self::WhiteIrish,
        Self::WhiteGypsyOrIrishTraveller,
        Self::WhiteRoma,
        Self::WhiteOther,
        Self::OtherArab,
        Self::OtherAny,
    ];

    /// The census label, `Broad group: detail`, exactly as in the benchmark files.
    pub fn category(self) -> &'static str {
        match self {
            Self::AsianBangladeshi => "Asian, Asian British or Asian Welsh: Bangladeshi",
            Self::AsianChinese => "Asian, Asian British or Asian Welsh: Chinese",
            Self::AsianIndian => "Asian, Asian British or Asian Welsh: Indian",
            Self::AsianPakistani => "Asian, Asian British or Asian Welsh: Pakistani",
            Self::AsianOther => "Asian, Asian British or Asian Welsh: Other Asian",
            Self::BlackAfrican => {
                "Black, Black British, Black Welsh, Caribbean or African: African"
            }
            Self::BlackCaribbean => {
                "Black, Black British, Black Welsh, Caribbean or African: Caribbean"
            }
            Self::BlackOther => {
                "Black, Black British, Black Welsh, Caribbean or African: Other Black"
            }
            Self::MixedWhiteAndAsian => "Mixed or Multiple ethnic groups: White and Asian",
            Self::MixedWhiteAndBlackAfrican => {
                "Mixed or Multiple ethnic groups: White and Black African"
            }
            Self::MixedWhiteAndBlackCaribbean => {
                "Mixed or Multiple ethnic groups: White and Black Caribbean"
            }
            Self::MixedOther => {
                "Mixed or Multiple ethnic groups: Other Mixed or Multiple ethnic groups"
            }
            Self::WhiteBritish => "White: English, Welsh, Scottish, Northern Irish or British",
            Self::WhiteIrish => "White: Irish",
            Self::WhiteGypsyOrIrishTraveller => "White: Gypsy or Irish Traveller",
            Self::WhiteRoma => "White: Roma",
            Self::WhiteOther => "White: Other White",
            Self::OtherArab => "Other ethnic group: Arab",
            Self::OtherAny => "Other ethnic group: Any other ethnic group",
        }
    }

    /// The value whose census label is `category`.
    pub fn from_category(category: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|group| group.category() == category)
    }
}

impl Sex {
    /// The value a benchmark label names (`female`, `Female`, `F`), if any.
    pub fn from_label(label: &str) -> Option<Self> {
        match normalise(label).as_str() {
            "female" | "f" | "females" => Some(Self::Female),
            "male" | "m" | "males" => Some(Self::Male),
            _ => None,
        }
    }
}

impl Disability {
    /// The value a benchmark label names, if any (case and spacing do not matter): the
    /// census's two values, their short forms (`Disabled`, `Not disabled`), and the four
    /// detailed values of TS038 (`Disabled under the Equality Act: Day-to-day activities
    /// limited a lot`, …), each of which belongs to one of the two.
    pub fn from_label(label: &str) -> Option<Self> {
        let label = normalise(label);
        let broad = label
            .split_once(':')
            .map_or(label.as_str(), |(broad, _)| broad);
        match broad.trim() {
            "disabled under the equality act" | "disabled" => Some(Self::Disabled),
            "not disabled under the equality act" | "not disabled" => Some(Self::NotDisabled),
            _ => None,
        }
    }
}

impl EthnicGroup {
    /// The value a benchmark label names, if any (case and spacing do not matter).
    pub fn from_label(label: &str) -> Option<Self> {
        let label = normalise(label);
        Self::ALL
            .into_iter()
            .find(|value| normalise(value.category()) == label)
    }
}

/// A label in the form categories are compared in: lower case, single spaces, trimmed.
pub fn normalise(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A census five-year age band: `low` to `low + 4`, or `85+` (open at the top).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgeBand {
    /// The youngest age in the band (a multiple of 5).
    pub low: u32,
}

impl AgeBand {
    /// The oldest band starts here and has no upper end.
    pub const OPEN_FROM: u32 = 85;

    /// The band of an age.
    pub fn of(age: u32) -> Self {
        Self {
            low: (age / 5 * 5).min(Self::OPEN_FROM),
        }
    }

    /// The benchmark label: `15-19`, `85+`.
    pub fn label(self) -> String {
        if self.low >= Self::OPEN_FROM {
            format!("{}+", Self::OPEN_FROM)
        } else {
            format!("{}-{}", self.low, self.low + 4)
        }
    }

    /// The band a label names: `15-19`, `15 to 19`, `Aged 15 to 19 years`, `85+`,
    /// `85 and over`, and ONS's `Aged 4 years and under` for the youngest; `None` for
    /// anything else (and for bands that are not census bands).
    pub fn from_label(label: &str) -> Option<Self> {
        let label = normalise(label);
        let label = label.trim_start_matches("aged ");
        let youngest = [" years and under", " and under", " or under"]
            .iter()
            .find_map(|suffix| label.strip_suffix(suffix));
        if let Some(high) = youngest {
            let high: u32 = high.trim().parse().ok()?;
            return (high == 4).then_some(Self { low: 0 });
        }
        let label = label.trim_end_matches(" years");
        let open = [" years and over", " and over", " or over", "+"]
            .iter()
            .find_map(|suffix| label.strip_suffix(suffix));
        if let Some(low) = open {
            let low: u32 = low.trim().parse().ok()?;
            return (low == Self::OPEN_FROM).then_some(Self { low });
        }
        let (low, high) = label.split_once('-').or_else(|| label.split_once(" to "))?;
        let (low, high): (u32, u32) = (low.trim().parse().ok()?, high.trim().parse().ok()?);
        (low % 5 == 0 && high == low + 4 && low < Self::OPEN_FROM).then_some(Self { low })
    }
}

crate::stored_names! {
    /// A dimension residents are compared with the population on, by the name benchmark
    /// files give it (`ALL` is report order).
    pub enum Dimension ("census dimension") {
        /// Five-year age band.
        AgeBand = "age_band",
        /// Female or male, as the 2021 Census asks it (TS008).
        Sex = "sex",
        /// Ethnic group (19 groups).
        EthnicGroup = "ethnic_group",
        /// Disability under the Equality Act.
        Disability = "disability",
    }
}

impl Dimension {
    /// The dimension a benchmark file names, if it is one of these.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = normalise(name).replace([' ', '-'], "_");
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// One category of one dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    AgeBand(AgeBand),
    Sex(Sex),
    EthnicGroup(EthnicGroup),
    Disability(Disability),
}

impl Category {
    /// The category a benchmark label names in `dimension`, if any.
    pub fn from_label(dimension: Dimension, label: &str) -> Option<Self> {
        match dimension {
            Dimension::AgeBand => AgeBand::from_label(label).map(Self::AgeBand),
            Dimension::Sex => Sex::from_label(label).map(Self::Sex),
            Dimension::EthnicGroup => EthnicGroup::from_label(label).map(Self::EthnicGroup),
            Dimension::Disability => Disability::from_label(label).map(Self::Disability),
        }
    }

    /// The label it is shown with (the census's own wording).
    pub fn label(self) -> String {
        match self {
            Self::AgeBand(band) => band.label(),
            Self::Sex(sex) => sex.category().to_owned(),
            Self::EthnicGroup(group) => group.category().to_owned(),
            Self::Disability(disability) => disability.category().to_owned(),
        }
    }
}

/// Oldest age accepted for a date of birth (guards against typos such as 1066).
pub const MAX_AGE: u32 = 120;

/// Why a date of birth was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthDateError {
    /// After today.
    #[error("The date of birth is in the future.")]
    InFuture,
    /// Younger than the panel allows.
    #[error("Registrants must be at least {min_age} years old.")]
    TooYoung { min_age: u32 },
    /// Implausibly old.
    #[error("The date of birth is more than {MAX_AGE} years ago.")]
    TooOld,
}

/// Whole years between `birth` and `on` (negative dates give `None`).
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    if birth > on {
        return None;
    }
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Checks a date of birth against today and a minimum age.
pub fn check_birth_date(
    birth: NaiveDate,
    today: NaiveDate,
    min_age: u32,
) -> Result<u32, BirthDateError> {
    let age = age_on(birth, today).ok_or(BirthDateError::InFuture)?;
    if age < min_age {
        Err(BirthDateError::TooYoung { min_age })
    } else if age > MAX_AGE {
        Err(BirthDateError::TooOld)
    } else {
        Ok(age)
    }
}

/// The census five-year age band (`age_band` dimension) for an age: `0-4` … `80-84`, `85+`.
pub fn age_band(age: u32) -> String {
    AgeBand::of(age).label()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn age_turns_over_on_the_birthday_not_before() {
        assert_eq!(age_on(date(2010, 11, 23), date(2026, 11, 22)), Some(15));
        assert_eq!(age_on(date(2010, 11, 23), date(2026, 11, 23)), Some(16));
        assert_eq!(age_on(date(2008, 2, 29), date(2026, 2, 28)), Some(17));
    }

    #[test]
    fn a_future_or_too_young_or_implausible_birth_date_is_refused() {
        let today = date(2026, 11, 23);
        assert_eq!(
            check_birth_date(date(2027, 1, 1), today, 16),
            Err(BirthDateError::InFuture)
        );
        assert_eq!(
            check_birth_date(date(2011, 1, 1), today, 16),
            Err(BirthDateError::TooYoung { min_age: 16 })
        );
        assert_eq!(
            check_birth_date(date(1900, 1, 1), today, 16),
            Err(BirthDateError::TooOld)
        );
        assert_eq!(check_birth_date(date(1990, 6, 1), today, 16), Ok(36));
    }

    #[test]
    fn age_bands_match_the_census_labels() {
        assert_eq!(age_band(16), "15-19");
        assert_eq!(age_band(20), "20-24");
        assert_eq!(age_band(84), "80-84");
        assert_eq!(age_band(85), "85+");
        assert_eq!(age_band(101), "85+");
    }

    #[test]
    fn benchmark_labels_match_categories_whatever_their_case_and_spacing() {
        assert_eq!(Sex::from_label("Female"), Some(Sex::Female));
        assert_eq!(Sex::from_label(" MALE "), Some(Sex::Male));
        assert_eq!(Sex::from_label("Other"), None);
        assert_eq!(
            Disability::from_label("disabled  under the equality act"),
            Some(Disability::Disabled)
        );
        assert_eq!(
            EthnicGroup::from_label("white: irish"),
            Some(EthnicGroup::WhiteIrish)
        );
        assert_eq!(
            Dimension::from_name("Ethnic group"),
            Some(Dimension::EthnicGroup)
        );
        assert_eq!(Dimension::from_name("tenure"), None);
    }

    #[test]
    fn age_bands_read_the_census_and_ons_forms() {
        for label in ["15-19", "15 to 19", "Aged 15 to 19 years"] {
            assert_eq!(
                AgeBand::from_label(label),
                Some(AgeBand { low: 15 }),
                "{label}"
            );
        }
        for label in ["85+", "85 and over", "Aged 85 years and over"] {
            assert_eq!(
                AgeBand::from_label(label),
                Some(AgeBand { low: 85 }),
                "{label}"
            );
        }
        assert_eq!(AgeBand::from_label("16-24"), None);
        assert_eq!(AgeBand::from_label("90+"), None);
        assert_eq!(AgeBand::of(101).label(), "85+");
        assert_eq!(
            Category::from_label(Dimension::AgeBand, "20-24").map(Category::label),
            Some("20-24".to_owned())
        );
    }

    #[test]
    fn the_ons_published_labels_of_each_dimension_are_understood() {
        // TS007A's youngest band, TS008's sexes, TS038's four detailed values.
        assert_eq!(
            AgeBand::from_label("Aged 4 years and under"),
            Some(AgeBand { low: 0 })
        );
        assert_eq!(AgeBand::from_label("Aged 5 years and under"), None);
        assert_eq!(Sex::from_label("Female"), Some(Sex::Female));
        for (label, value) in [
            (
                "Disabled under the Equality Act: Day-to-day activities limited a lot",
                Disability::Disabled,
            ),
            (
                "Disabled under the Equality Act: Day-to-day activities limited a little",
                Disability::Disabled,
            ),
            (
                "Not disabled under the Equality Act: Has long term physical or mental health \
                 condition but day-to-day activities are not limited",
                Disability::NotDisabled,
            ),
            (
                "Not disabled under the Equality Act: No long term physical or mental health \
                 conditions",
                Disability::NotDisabled,
            ),
            ("Not disabled", Disability::NotDisabled),
        ] {
            assert_eq!(Disability::from_label(label), Some(value), "{label}");
        }
        // Totals and broad groups name no single category.
        assert_eq!(Disability::from_label("Total: All usual residents"), None);
        assert_eq!(
            EthnicGroup::from_label("Asian, Asian British or Asian Welsh"),
            None
        );
    }

    #[test]
    fn every_ethnic_group_round_trips_through_its_census_label() {
        for group in EthnicGroup::ALL {
            assert_eq!(EthnicGroup::from_category(group.category()), Some(group));
        }
        assert_eq!(EthnicGroup::from_category("White"), None);
    }
}
