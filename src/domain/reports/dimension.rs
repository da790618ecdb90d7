//! The dimensions reports split people by (age band, sex, ethnic group, disability, ward,
//! deprivation decile), and how a stored value reads as a report's category label.

use crate::domain::register::demographics::{Category, Dimension};
use crate::domain::reports::age_range::{AgeAnswer, AgeRange, AgeScheme};

crate::stored_names! {
    /// A dimension reports split people by, by the name benchmarks use for it (`ALL` is
    /// report order).
    #[derive(PartialOrd, Ord)]
    pub enum ReportDimension ("report dimension") {
        /// Census five-year age band.
        AgeBand = "age_band",
        /// Female or male, as the census asks it.
        Sex = "sex",
        /// The census's 19 ethnic groups.
        EthnicGroup = "ethnic_group",
        /// Disability under the Equality Act.
        Disability = "disability",
        /// Ward (code).
        Ward = "ward",
        /// Deprivation decile of the address (1 most deprived).
        DeprivationDecile = "deprivation_decile",
    }
}

impl ReportDimension {
    /// The census dimension it is, if any (ward and decile benchmarks are matched as
    /// written).
    pub fn census(self) -> Option<Dimension> {
        match self {
            Self::AgeBand => Some(Dimension::AgeBand),
            Self::Sex => Some(Dimension::Sex),
            Self::EthnicGroup => Some(Dimension::EthnicGroup),
            Self::Disability => Some(Dimension::Disability),
            Self::Ward | Self::DeprivationDecile => None,
        }
    }

    /// A stored value as its report label: census categories in the census's wording,
    /// anything else as written, and a missing one as [`NOT_GIVEN`].
    pub fn label(self, raw: Option<&str>) -> String {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return NOT_GIVEN.to_owned();
        };
        if self == Self::AgeBand && AgeRange::parse(raw) == Some(AgeAnswer::NotGiven) {
            return NOT_GIVEN.to_owned();
        }
        self.census()
            .and_then(|d| Category::from_label(d, raw))
            .map_or_else(|| raw.to_owned(), Category::label)
    }

    /// [`Self::label`], ages counted in `scheme`'s bands when there is one (see
    /// `service::reports::age_bands`).
    pub fn label_in(self, raw: Option<&str>, scheme: Option<&AgeScheme>) -> String {
        let label = self.label(raw);
        match scheme {
            Some(scheme) if self == Self::AgeBand && label != NOT_GIVEN => {
                scheme.label_of(&label).map_or(label, str::to_owned)
            }
            _ => label,
        }
    }
}

/// The row of people whose category is not known.
pub const NOT_GIVEN: &str = "Not given";
