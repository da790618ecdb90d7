//! How a recruitment round is going: letters drawn, exported and redeemed, registrations,
//! by ward and by deprivation decile; and the pool's make-up against the population.
//! Aggregates only, so officers and scrutiny members may read them.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::{benchmark, resident};
use crate::db::round_status::{self as counts, GroupCounts, Grouping};
use crate::domain::composition::{CompositionRow, age_bands_from, compare};
use crate::domain::demographics::{
    AgeBand, Category, Dimension, Disability, EthnicGroup, Sex, age_on,
};
use crate::domain::ids::RoundId;
use crate::domain::round::Round;
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::auth::Caller;
use crate::service::recruitment;
use crate::state::AppState;

/// Counts for one group of letters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Funnel {
    /// The group: a ward code, a decile (`"1"` … `"10"`, `"unknown"`), or `"all"`.
    pub group: String,
    /// Letters drawn.
    pub drawn: u64,
    /// Letters exported for printing.
    pub exported: u64,
    /// Codes redeemed.
    pub redeemed: u64,
    /// Registrants still in the pool (not withdrawn).
    pub registrations: u64,
}

impl Funnel {
    /// Registrations per letter drawn.
    pub fn registration_rate(&self) -> f64 {
        if self.drawn == 0 {
            0.0
        } else {
            self.registrations as f64 / self.drawn as f64
        }
    }

    fn from_counts(counts: GroupCounts) -> Self {
        Self {
            group: counts.group.unwrap_or_else(|| "unknown".to_owned()),
            drawn: counts.drawn,
            exported: counts.exported,
            redeemed: counts.redeemed,
            registrations: counts.registrations,
        }
    }
}

/// A round's progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundStatus {
    /// The whole round.
    pub total: Funnel,
    /// Per ward.
    pub by_ward: Vec<Funnel>,
    /// Per deprivation decile.
    pub by_decile: Vec<Funnel>,
}

/// The status of each of `rounds` (two queries whatever their number), in the same order.
pub async fn statuses(
    state: &AppState,
    caller: &Caller,
    rounds: &[RoundId],
) -> AppResult<Vec<RoundStatus>> {
    caller.require(recruitment::READERS)?;
    let db = state.db.reader();
    let mut statuses: HashMap<RoundId, RoundStatus> = HashMap::new();
    for (round, group) in counts::counts(db, rounds, Grouping::Ward).await? {
        statuses
            .entry(round)
            .or_default()
            .by_ward
            .push(Funnel::from_counts(group));
    }
    for (round, group) in counts::counts(db, rounds, Grouping::Decile).await? {
        statuses
            .entry(round)
            .or_default()
            .by_decile
            .push(Funnel::from_counts(group));
    }
    Ok(rounds
        .iter()
        .map(|round| {
            let mut status = statuses.remove(round).unwrap_or_default();
            // Deciles sort numerically, unknown last.
            status
                .by_decile
                .sort_by_key(|f| f.group.parse::<u32>().unwrap_or(u32::MAX));
            status.total = status.by_ward.iter().fold(
                Funnel {
                    group: "all".to_owned(),
                    ..Funnel::default()
                },
                |mut acc, f| {
                    acc.drawn += f.drawn;
                    acc.exported += f.exported;
                    acc.redeemed += f.redeemed;
                    acc.registrations += f.registrations;
                    acc
                },
            );
            status
        })
        .collect())
}

/// One dimension of the pool's make-up.
#[derive(Clone, Debug, PartialEq)]
pub struct CompositionDimension {
    /// Which dimension.
    pub dimension: Dimension,
    /// Categories with counts, shares and representation ratios.
    pub rows: Vec<CompositionRow>,
    /// Benchmark categories that name none of the dimension's values, as written: left
    /// out of the population shares, so the comparison says what it could not use.
    pub unmatched: Vec<String>,
}

/// A registrant's profile as stored, read back into categories.
struct Profile {
    sex: Option<Sex>,
    ethnic_group: Option<EthnicGroup>,
    disability: Option<Disability>,
    band: AgeBand,
}

impl Profile {
    fn category(&self, dimension: Dimension) -> Option<Category> {
        match dimension {
            Dimension::AgeBand => Some(Category::AgeBand(self.band)),
            Dimension::Sex => self.sex.map(Category::Sex),
            Dimension::EthnicGroup => self.ethnic_group.map(Category::EthnicGroup),
            Dimension::Disability => self.disability.map(Category::Disability),
        }
    }
}

/// The registrants of `round` compared with the population benchmarks of `area_code`.
/// Categories are matched as values, whatever the case or spacing of the benchmark's
/// labels (see `Category::from_label`). Age bands are compared with the population aged the round's minimum age and
/// over (see `domain::composition::age_bands_from`).
pub async fn pool_composition(
    state: &AppState,
    caller: &Caller,
    round: RoundId,
    area_code: &str,
) -> AppResult<Vec<CompositionDimension>> {
    pool_compositions(state, caller, &[(round, area_code.to_owned())])
        .await?
        .pop()
        .flatten()
        .ok_or(AppError::NotFound {
            what: "benchmark area",
        })
}

/// [`pool_composition`] for several (round, area) pairs in three queries, in the same
/// order; `None` where the area has no benchmarks (or the round does not exist).
pub async fn pool_compositions(
    state: &AppState,
    caller: &Caller,
    wanted: &[(RoundId, String)],
) -> AppResult<Vec<Option<Vec<CompositionDimension>>>> {
    caller.require(recruitment::READERS)?;
    let db = state.db.reader();
    let mut round_ids: Vec<RoundId> = wanted.iter().map(|(r, _)| *r).collect();
    round_ids.sort_unstable();
    round_ids.dedup();
    let mut areas: Vec<&str> = wanted.iter().map(|(_, a)| a.trim()).collect();
    areas.sort_unstable();
    areas.dedup();
    let rounds: HashMap<RoundId, Round> =
        crate::service::recruitment::rounds_by_id(state, caller, &round_ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    let benchmarks = benchmark::Entity::find()
        .filter(benchmark::Column::AreaCode.is_in(areas.iter().copied()))
        .all(db)
        .await?;
    let rows: Vec<(i64, String, String, String, chrono::NaiveDate)> = resident::Entity::find()
        .select_only()
        .column(resident::Column::RoundId)
        .columns([
            resident::Column::Sex,
            resident::Column::EthnicGroup,
            resident::Column::Disability,
        ])
        .column(resident::Column::DateOfBirth)
        .filter(resident::Column::RoundId.is_in(round_ids.iter().map(|r| r.get())))
        .filter(resident::Column::WithdrawnAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let today = uk_date(state.clock.now());
    let mut profiles: HashMap<RoundId, Vec<Profile>> = HashMap::new();
    for (round, sex, ethnic_group, disability, born) in rows {
        profiles.entry(RoundId(round)).or_default().push(Profile {
            sex: Sex::from_label(&sex),
            ethnic_group: EthnicGroup::from_label(&ethnic_group),
            disability: Disability::from_label(&disability),
            band: AgeBand::of(age_on(born, today).unwrap_or(0)),
        });
    }
    Ok(wanted
        .iter()
        .map(|(round_id, area)| {
            let round = rounds.get(round_id)?;
            let population: Vec<&benchmark::Model> = benchmarks
                .iter()
                .filter(|b| b.area_code == area.trim())
                .collect();
            if population.is_empty() {
                return None;
            }
            let profiles = profiles.get(round_id).map_or(&[][..], Vec::as_slice);
            Some(compose(&population, profiles, u32::from(round.min_age)))
        })
        .collect())
}

/// Compares registrants' profiles with one area's benchmarks, dimension by dimension.
/// Benchmark rows are read as categories (rows naming the same category are summed) and
/// shown with the census label; rows that name no category are left out of the shares
/// and listed as unmatched.
fn compose(
    benchmarks: &[&benchmark::Model],
    profiles: &[Profile],
    min_age: u32,
) -> Vec<CompositionDimension> {
    let mut dimensions = Vec::new();
    for dimension in Dimension::ALL {
        let mut population: Vec<(Category, i64)> = Vec::new();
        let mut unmatched = Vec::new();
        let rows = benchmarks
            .iter()
            .filter(|b| Dimension::from_name(&b.dimension) == Some(dimension));
        for row in rows {
            match Category::from_label(dimension, &row.category) {
                Some(category) => match population.iter_mut().find(|(c, _)| *c == category) {
                    Some((_, count)) => *count += row.count,
                    None => population.push((category, row.count)),
                },
                None => unmatched.push(row.category.clone()),
            }
        }
        let population: Vec<(String, i64)> = population
            .into_iter()
            .map(|(category, count)| (category.label(), count))
            .collect();
        let population: Vec<(String, f64)> = if dimension == Dimension::AgeBand {
            age_bands_from(&population, min_age)
        } else {
            population.into_iter().map(|(c, n)| (c, n as f64)).collect()
        };
        let mut counts: Vec<(String, u64)> = Vec::new();
        for profile in profiles {
            let label = profile
                .category(dimension)
                .map_or_else(|| "unknown".to_owned(), Category::label);
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        dimensions.push(CompositionDimension {
            dimension,
            rows: compare(&counts, &population),
            unmatched,
        });
    }
    dimensions
}
