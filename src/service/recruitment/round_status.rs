//! How a recruitment round is going: letters drawn, exported and redeemed, registrations,
//! by ward and by deprivation decile; and the pool's make-up against the population.
//! Aggregates only, so officers and scrutiny members may read them; scrutiny members
//! with small counts hidden (see [`protect`]).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::{benchmark, resident};
use crate::db::round_status::{self as counts, GroupCounts, Grouping};
use crate::domain::accounts::role::Role;
use crate::domain::ids::RoundId;
use crate::domain::recruitment::composition::{CompositionRow, age_bands_from, compare};
use crate::domain::recruitment::round::Round;
use crate::domain::register::demographics::{
    AgeBand, Category, Dimension, Disability, EthnicGroup, Sex, age_on,
};
use crate::domain::reports::disclosure::tables::{CountTable, Hidden, Population, Tables};
use crate::domain::uk_time::uk_date;
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::service::recruitment;
use crate::service::reports::publications::{self, Kind};
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
    /// Which of drawn, exported, redeemed and registrations are hidden from the reader
    /// (SCRUTINY; see [`protect`]).
    pub hidden: [bool; 4],
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
            hidden: [false; 4],
        }
    }

    /// Each letter in one part by how far it got: drawn only, exported, redeemed without
    /// a registrant in the pool, registered. `None` if the counts do not nest.
    fn parts(&self) -> Option<Vec<u64>> {
        Some(vec![
            self.drawn.checked_sub(self.exported)?,
            self.exported.checked_sub(self.redeemed)?,
            self.redeemed.checked_sub(self.registrations)?,
            self.registrations,
        ])
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

/// The status of each of `rounds` (two queries whatever their number), in the same order;
/// for SCRUTINY, protected with the pool's make-up (see [`protect`]).
pub async fn statuses(
    state: &AppState,
    caller: &Caller,
    rounds: &[RoundId],
) -> AppResult<Vec<RoundStatus>> {
    caller.require(recruitment::READERS)?;
    let statuses = counted_statuses(state, rounds).await?;
    if caller.role() != Some(Role::Scrutiny) {
        return Ok(statuses);
    }
    let mut profiles = profiles_of(state, rounds).await?;
    let mut protected = Vec::with_capacity(statuses.len());
    for (mut status, round) in statuses.into_iter().zip(rounds) {
        let profiles = profiles.remove(round).unwrap_or_default();
        protect(state, *round, &mut status, &profiles).await?;
        protected.push(status);
    }
    Ok(protected)
}

/// The status of each of `rounds`, every count shown.
async fn counted_statuses(state: &AppState, rounds: &[RoundId]) -> AppResult<Vec<RoundStatus>> {
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
    /// Per row, whether its count (and so its share and ratio) is hidden from the
    /// reader (SCRUTINY).
    pub hidden: Vec<bool>,
}

/// A registrant's profile as stored, read back into categories.
#[derive(Clone, Debug)]
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
/// over (see `domain::recruitment::composition::age_bands_from`).
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
    let mut profiles = profiles_of(state, &round_ids).await?;
    let protected = caller.role() == Some(Role::Scrutiny);
    let mut hidden: HashMap<RoundId, HashMap<(Dimension, String), bool>> = HashMap::new();
    if protected {
        for (round, mut status) in round_ids
            .iter()
            .zip(counted_statuses(state, &round_ids).await?)
        {
            let profiles = profiles.get(round).map_or(&[][..], Vec::as_slice);
            hidden.insert(*round, protect(state, *round, &mut status, profiles).await?);
        }
    }
    let profiles = std::mem::take(&mut profiles);
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
            let mut dimensions = compose(&population, profiles, u32::from(round.min_age));
            if let Some(hidden) = hidden.get(round_id) {
                for dimension in &mut dimensions {
                    let d = dimension.dimension;
                    dimension.hidden = dimension
                        .rows
                        .iter()
                        .map(|r| {
                            hidden
                                .get(&(d, r.category.clone()))
                                .copied()
                                .unwrap_or(false)
                        })
                        .collect();
                }
            }
            Some(dimensions)
        })
        .collect())
}

/// The registrants (not withdrawn) of each of `rounds`, read back into categories, with
/// ages today (one query).
async fn profiles_of(
    state: &AppState,
    round_ids: &[RoundId],
) -> AppResult<HashMap<RoundId, Vec<Profile>>> {
    let rows: Vec<(i64, String, String, String, chrono::NaiveDate)> = resident::Entity::find()
        .select_only()
        .column(resident::Column::RoundId)
        .columns([
            resident::Column::Sex,
            resident::Column::EthnicGroup,
            resident::Column::Disability,
        ])
        .column(resident::Column::DateOfBirth)
        .filter(resident::Column::RoundId.is_in(round_ids.iter().copied()))
        .filter(resident::Column::WithdrawnAt.is_null())
        .into_tuple()
        .all(state.db.reader())
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
    Ok(profiles)
}

/// A profile's category label in `dimension` (`unknown` when it names none).
fn label_of(profile: &Profile, dimension: Dimension) -> String {
    profile
        .category(dimension)
        .map_or_else(|| "unknown".to_owned(), Category::label)
}

/// The round's letters, parted by how far each got (see [`Funnel::parts`]).
fn letters() -> Population {
    Population {
        name: "letters",
        parts: 4,
        columns: vec![
            ("drawn", vec![0, 1, 2, 3]),
            ("exported", vec![1, 2, 3]),
            ("redeemed", vec![2, 3]),
            ("registrations", vec![3]),
        ],
    }
}

/// The name of a make-up dimension's table.
fn makeup_table(dimension: Dimension) -> String {
    format!("makeup:{}", dimension.as_str())
}

/// The round's status and pool make-up as disclosure tables of its letters, canonical:
/// the ward and decile tables (rows named by group, in the status's order), then one per
/// dimension of the make-up, counting registrants by category (in label order; the rest of
/// the letters as an unpublished remainder). `None` when the counts do not nest (more
/// redeemed than exported).
fn tables_of(status: &RoundStatus, profiles: &[Profile]) -> Option<Tables> {
    let population = letters();
    let parts = |funnels: &[Funnel]| -> Option<Vec<Vec<u64>>> {
        funnels.iter().map(Funnel::parts).collect()
    };
    let labels = |funnels: &[Funnel]| funnels.iter().map(|f| f.group.clone()).collect();
    let wards = parts(&status.by_ward)?;
    let deciles = parts(&status.by_decile)?;
    let totals: Vec<u64> = (0..4).map(|p| wards.iter().map(|w| w[p]).sum()).collect();
    let mut tables = Tables {
        populations: vec![population.clone()],
        ..Tables::default()
    };
    tables.push(
        "ward",
        labels(&status.by_ward),
        CountTable::full(&population, 0, wards),
    );
    tables.push(
        "decile",
        labels(&status.by_decile),
        CountTable::full(&population, 0, deciles),
    );
    for dimension in Dimension::ALL {
        let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
        for profile in profiles {
            *counts.entry(label_of(profile, dimension)).or_default() += 1;
        }
        let mut rows: Vec<Vec<u64>> = counts.values().map(|&n| vec![0, 0, 0, n]).collect();
        rows.push(vec![totals[0], totals[1], totals[2], 0]);
        tables.push(
            makeup_table(dimension),
            counts.into_keys().collect(),
            CountTable {
                population: 0,
                counts: rows,
                residual: true,
                columns: vec![3],
                groups: Vec::new(),
                linked: Vec::new(),
                ticks: None,
            },
        );
    }
    Some(tables)
}

/// Hides from SCRUTINY what a round's status and pool make-up would give away about a
/// few people, protecting them together (`domain::reports::disclosure::tables`, over [`tables_of`], the
/// protection stored as the round's publication). Marks `status` and returns the hidden
/// make-up counts by (dimension, category). Counts that do not nest hide everything.
async fn protect(
    state: &AppState,
    round: RoundId,
    status: &mut RoundStatus,
    profiles: &[Profile],
) -> AppResult<HashMap<(Dimension, String), bool>> {
    let Some(tables) = tables_of(status, profiles) else {
        for f in status
            .by_ward
            .iter_mut()
            .chain(&mut status.by_decile)
            .chain([&mut status.total])
        {
            f.hidden = [true; 4];
        }
        return Ok(Dimension::ALL
            .iter()
            .flat_map(|&d| profiles.iter().map(move |p| ((d, label_of(p, d)), true)))
            .collect());
    };
    let makeup: Vec<(Dimension, Vec<String>)> = Dimension::ALL
        .iter()
        .map(|&d| {
            let name = makeup_table(d);
            let labels = tables
                .names
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, l)| l.clone())
                .unwrap_or_default();
            (d, labels)
        })
        .collect();
    let protection =
        publications::protection(state, Kind::RoundStatus, round.get(), tables).await?;
    let mark = |table: &str, funnels: &mut [Funnel]| {
        for f in funnels.iter_mut() {
            let values = [f.drawn, f.exported, f.redeemed, f.registrations];
            f.hidden =
                std::array::from_fn(|c| protection.hides(table, Some(&f.group), c, values[c]));
        }
    };
    mark("ward", &mut status.by_ward);
    mark("decile", &mut status.by_decile);
    let t = &status.total;
    let totals = [t.drawn, t.exported, t.redeemed, t.registrations];
    status.total.hidden = std::array::from_fn(|c| protection.hides("ward", None, c, totals[c]));
    // Shares are of all registrants: with their number hidden, so are the shares.
    let total_hidden = status.total.hidden[3];
    let mut marks = HashMap::new();
    for (dimension, labels) in makeup {
        let name = makeup_table(dimension);
        for label in labels {
            let hidden = protection.hides(&name, Some(&label), 0, 1);
            marks.insert((dimension, label), hidden || total_hidden);
        }
    }
    Ok(marks)
}

/// The disclosure tables of a round (status and pool make-up) and what SCRUTINY's copy
/// hides (as stored and served), for the attack that checks it.
pub async fn protection_of(
    state: &AppState,
    round: RoundId,
) -> AppResult<(Vec<Population>, Vec<CountTable>, Vec<Hidden>)> {
    let status = counted_statuses(state, &[round])
        .await?
        .pop()
        .unwrap_or_default();
    let profiles = profiles_of(state, &[round])
        .await?
        .remove(&round)
        .unwrap_or_default();
    let tables = tables_of(&status, &profiles)
        .ok_or_else(|| AppError::conflict("the round's counts do not nest"))?;
    let protection =
        publications::protection(state, Kind::RoundStatus, round.get(), tables.clone()).await?;
    let hidden = protection.hidden(&tables);
    Ok((tables.populations, tables.tables, hidden))
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
            let label = label_of(profile, dimension);
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        let rows = compare(&counts, &population);
        dimensions.push(CompositionDimension {
            dimension,
            hidden: vec![false; rows.len()],
            rows,
            unmatched,
        });
    }
    dimensions
}
