//! Panels as use cases: creating them, their quotas (by hand, from a Sortition
//! Foundation CSV, or derived from the population), residents' custom attributes,
//! guardians' consent for registrants under 13, and memberships with their lifecycle.
//!
//! Officers (and ADMIN) manage panels; a resident may withdraw from a panel they sit on.

pub mod panel_report;
pub mod sub_sample;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::db::entities::{
    address, benchmark, guardian_consent, membership, membership_event, panel, panel_quota,
    resident, resident_attribute,
};
use crate::db::pages::{self, Order};
use crate::domain::accounts::role::Role;
use crate::domain::ids::{AccountId, MembershipId, PanelId, ResidentId, SelectionRunId};
use crate::domain::panels::panel::{
    Eligibility, MembershipStatus, PROFILE_FEATURES, Panel, age_bands_between, broad_ethnic_group,
    feature_key, profile_feature, quotas_from_population,
};
use crate::domain::register::demographics::{Category, Dimension};
use crate::domain::selection::{self, Feature, SelectionError};
use crate::error::{AppError, AppResult};
use crate::service::accounts::auth::Caller;
use crate::state::AppState;

/// Who manages panels.
pub const OFFICERS: &[Role] = &[Role::Officer];

/// Largest panel.
pub const MAX_PANEL_SIZE: u32 = 10_000;

/// A panel as an officer describes it.
#[derive(Clone, Debug, Default)]
pub struct PanelRequest {
    /// Its name, unique.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Youngest age on the selection date.
    pub min_age: Option<i64>,
    /// Oldest age on the selection date.
    pub max_age: Option<i64>,
    /// Ward codes; empty for all.
    pub wards: Vec<String>,
    /// Members wanted.
    pub target_size: i64,
    /// Membership term in months.
    pub term_months: i64,
    /// One member per household.
    pub one_per_household: bool,
    /// Benchmark area for derived quotas and reports.
    pub area_code: Option<String>,
}

/// Creates a panel.
pub async fn create(state: &AppState, caller: &Caller, request: PanelRequest) -> AppResult<Panel> {
    caller.require(OFFICERS)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_input(
            "input.name",
            "Give the panel a name of 1 to 200 characters.",
        ));
    }
    let age = |value: Option<i64>, field: &str| -> AppResult<Option<i16>> {
        value
            .map(|a| {
                i16::try_from(a)
                    .ok()
                    .filter(|a| (0..=120).contains(a))
                    .ok_or_else(|| AppError::bad_input(field, "An age is from 0 to 120."))
            })
            .transpose()
    };
    let min_age = age(request.min_age, "input.minAge")?;
    let max_age = age(request.max_age, "input.maxAge")?;
    if let (Some(min), Some(max)) = (min_age, max_age)
        && min > max
    {
        return Err(AppError::bad_input(
            "input.maxAge",
            "The oldest age is below the youngest.",
        ));
    }
    let target_size = u32::try_from(request.target_size)
        .ok()
        .filter(|k| (1..=MAX_PANEL_SIZE).contains(k))
        .ok_or_else(|| {
            AppError::bad_input(
                "input.targetSize",
                format!("A panel has 1 to {MAX_PANEL_SIZE} members."),
            )
        })?;
    let term_months = u32::try_from(request.term_months)
        .ok()
        .filter(|m| (1..=120).contains(m))
        .ok_or_else(|| AppError::bad_input("input.termMonths", "A term is 1 to 120 months."))?;
    let wards: Vec<String> = request
        .wards
        .iter()
        .map(|w| w.trim().to_uppercase())
        .filter(|w| !w.is_empty())
        .collect();
    let now = state.clock.now();
    let db = state.db.writer();
    let exists = panel::Entity::find()
        .filter(panel::Column::Name.eq(name))
        .count(db)
        .await?;
    if exists > 0 {
        return Err(AppError::conflict(format!(
            "A panel named {name:?} already exists."
        )));
    }
    let row = panel::ActiveModel {
        name: Set(name.to_owned()),
        description: Set(request.description.trim().to_owned()),
        min_age: Set(min_age),
        max_age: Set(max_age),
        wards: Set((!wards.is_empty()).then(|| wards.join(","))),
        target_size: Set(i32::try_from(target_size).unwrap_or(i32::MAX)),
        term_months: Set(i32::try_from(term_months).unwrap_or(12)),
        one_per_household: Set(request.one_per_household),
        area_code: Set(request
            .area_code
            .map(|a| a.trim().to_uppercase())
            .filter(|a| !a.is_empty())),
        created_by: Set(caller.account().map(AccountId::get)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|err| match AppError::from(err) {
        AppError::Conflict { .. } => {
            AppError::conflict(format!("A panel named {name:?} already exists."))
        }
        other => other,
    })?;
    tracing::info!(panel_id = row.id, by = ?caller.account(), "panel created");
    Ok(to_domain(row))
}

/// One panel, for officers.
pub async fn find(state: &AppState, caller: &Caller, id: PanelId) -> AppResult<Panel> {
    caller.require(OFFICERS)?;
    find_any(state.db.reader(), id).await
}

/// One panel, whoever asks.
pub async fn find_any(db: &impl ConnectionTrait, id: PanelId) -> AppResult<Panel> {
    panel::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .map(to_domain)
        .ok_or(AppError::NotFound { what: "panel" })
}

/// Every panel, by name.
pub async fn list(state: &AppState, caller: &Caller) -> AppResult<Vec<Panel>> {
    caller.require(OFFICERS)?;
    Ok(panel::Entity::find()
        .order_by_asc(panel::Column::Name)
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

fn to_domain(row: panel::Model) -> Panel {
    let age = |a: Option<i16>| a.and_then(|a| u32::try_from(a).ok());
    Panel {
        id: PanelId(row.id),
        name: row.name,
        description: row.description,
        eligibility: Eligibility {
            min_age: age(row.min_age),
            max_age: age(row.max_age),
            wards: row
                .wards
                .map(|w| w.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        },
        target_size: u32::try_from(row.target_size).unwrap_or(0),
        term_months: u32::try_from(row.term_months).unwrap_or(0),
        one_per_household: row.one_per_household,
        area_code: row.area_code,
        created_by: row.created_by.map(AccountId),
        created_at: row.created_at,
    }
}

/// A panel's quotas, in the order they were given.
pub async fn quotas(db: &impl ConnectionTrait, panel: PanelId) -> AppResult<Vec<Feature>> {
    let rows = panel_quota::Entity::find()
        .filter(panel_quota::Column::PanelId.eq(panel.get()))
        .order_by_asc(panel_quota::Column::Position)
        .all(db)
        .await?;
    let mut features: Vec<Feature> = Vec::new();
    for row in rows {
        let bounds = (
            u32::try_from(row.min).unwrap_or(0),
            u32::try_from(row.max).unwrap_or(0),
        );
        match features.iter_mut().find(|f| f.name == row.feature) {
            Some(feature) => {
                feature.values.push(row.value);
                feature.bounds.push(bounds);
            }
            None => features.push(Feature {
                name: row.feature,
                values: vec![row.value],
                bounds: vec![bounds],
            }),
        }
    }
    Ok(features)
}

/// A panel's quotas, for officers.
pub async fn panel_quotas(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    quotas(state.db.reader(), panel).await
}

/// Replaces a panel's quotas with `features`, checked first: each minimum at most its
/// maximum, no value twice.
pub async fn set_quotas(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    features: Vec<Feature>,
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    find_any(db, panel).await?;
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for feature in &features {
        let name = feature.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::bad_input(
                "input.quotas",
                "A feature's name is 1 to 100 characters.",
            ));
        }
        for (value, &(min, max)) in feature.values.iter().zip(&feature.bounds) {
            let value = value.trim();
            if value.is_empty() || value.chars().count() > 200 {
                return Err(AppError::bad_input(
                    "input.quotas",
                    format!("{name}: a value is 1 to 200 characters."),
                ));
            }
            if min > max {
                return Err(AppError::bad_input(
                    "input.quotas",
                    format!("{name} {value:?}: the minimum {min} is above the maximum {max}."),
                ));
            }
            if !seen.insert((name.to_lowercase(), value.to_lowercase())) {
                return Err(AppError::bad_input(
                    "input.quotas",
                    format!("{name} {value:?} is given twice."),
                ));
            }
            let position = i32::try_from(rows.len()).unwrap_or(i32::MAX);
            rows.push(panel_quota::ActiveModel {
                panel_id: Set(panel.get()),
                position: Set(position),
                feature: Set(name.to_owned()),
                value: Set(value.to_owned()),
                min: Set(i32::try_from(min).unwrap_or(i32::MAX)),
                max: Set(i32::try_from(max).unwrap_or(i32::MAX)),
                ..Default::default()
            });
        }
    }
    let txn = db.begin().await?;
    panel_quota::Entity::delete_many()
        .filter(panel_quota::Column::PanelId.eq(panel.get()))
        .exec(&txn)
        .await?;
    for chunk in rows.chunks(500) {
        panel_quota::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(panel_id = %panel, values = rows.len(), by = ?caller.account(), "panel quotas set");
    quotas(db, panel).await
}

/// Replaces a panel's quotas from a CSV in the Sortition Foundation's format
/// (`feature,value,min,max`, or the paper data's `category,feature,min,max`).
pub async fn import_quotas(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    csv: &str,
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    let text = crate::domain::text_input::TextInput::new(
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        crate::domain::text_input::TextEncoding::Utf8,
    );
    let features = selection::read_quotas(text).map_err(|err| selection_error("input.csv", err))?;
    set_quotas(state, caller, panel, features).await
}

/// A panel's quotas as a `feature,value,min,max` CSV.
pub async fn quotas_csv(state: &AppState, caller: &Caller, panel: PanelId) -> AppResult<String> {
    Ok(selection::quotas_csv(
        &panel_quotas(state, caller, panel).await?,
    ))
}

/// Turns a selection error into the API's: bad files and infeasible quotas are the
/// officer's to fix (`BAD_USER_INPUT` on `field`), a time limit or a solver failure is a
/// conflict to retry with more time.
pub fn selection_error(field: &str, err: SelectionError) -> AppError {
    match err {
        SelectionError::File { .. } | SelectionError::Infeasible { .. } => {
            AppError::bad_input(field, err.to_string())
        }
        SelectionError::TimeLimit { .. } => AppError::conflict(format!(
            "{err}: give it more time (timeLimitSeconds), or choose MAXIMIN, which is much \
             faster on large pools."
        )),
        SelectionError::Solver(_) => AppError::conflict(err.to_string()),
        SelectionError::Stopped => AppError::Cancelled,
    }
}

/// Derives quotas for the panel's target size from its benchmark area's population:
/// each value's share of the panel, ± `tolerance`. Age bands cover the panel's ages (a
/// band that straddles an age limit pro-rated); census features come from the area's
/// benchmarks; wards and deprivation come from the address register (shares of
/// addresses, within the panel's wards), the nearest the census offers. Replaces the
/// panel's quotas.
pub async fn derive_quotas(
    state: &AppState,
    caller: &Caller,
    panel_id: PanelId,
    area_code: Option<String>,
    tolerance: f64,
    features: &[String],
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    let db = state.db.reader();
    let panel = find_any(db, panel_id).await?;
    if !(0.0..=1.0).contains(&tolerance) {
        return Err(AppError::bad_input(
            "input.tolerance",
            "The tolerance is from 0 to 1 (0.1 for ± 10 %).",
        ));
    }
    let area = area_code
        .or(panel.area_code.clone())
        .map(|a| a.trim().to_uppercase())
        .filter(|a| !a.is_empty());
    let benchmarks = match &area {
        Some(area) => {
            benchmark::Entity::find()
                .filter(benchmark::Column::AreaCode.eq(area.as_str()))
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let mut population: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    for name in features {
        let Some(feature) = profile_feature(name) else {
            return Err(AppError::bad_input(
                "input.features",
                format!(
                    "Quotas cannot be derived for {name:?}; derivable features: {}.",
                    PROFILE_FEATURES.map(|(f, _)| f).join(", ")
                ),
            ));
        };
        let Some(values) = population_values(db, &benchmarks, feature, &panel.eligibility).await?
        else {
            return Err(AppError::bad_input(
                "input.areaCode",
                match &area {
                    Some(area) => format!("No benchmarks are imported for {area}."),
                    None => "Name the benchmark area (or set the panel's).".to_owned(),
                },
            ));
        };
        if values.is_empty() {
            return Err(AppError::bad_input(
                "input.features",
                format!("The population has no count for {feature}."),
            ));
        }
        population.push((feature.to_owned(), values));
    }
    let derived = quotas_from_population(&population, panel.target_size, tolerance);
    set_quotas(state, caller, panel_id, derived).await
}

/// Each value's share of the population for the features that have one (census features
/// from `area`'s benchmarks, wards and deprivation from the register), for reports; a
/// feature with no population (a custom attribute, no benchmarks) is left out.
pub async fn population_shares(
    db: &impl ConnectionTrait,
    panel: &Panel,
    features: &[Feature],
) -> AppResult<HashMap<(String, String), f64>> {
    let benchmarks = match &panel.area_code {
        Some(area) => {
            benchmark::Entity::find()
                .filter(benchmark::Column::AreaCode.eq(area.as_str()))
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let mut shares = HashMap::new();
    for feature in features {
        let Some(name) = profile_feature(&feature.name) else {
            continue;
        };
        let Some(values) = population_values(db, &benchmarks, name, &panel.eligibility).await?
        else {
            continue;
        };
        let total: f64 = values.iter().map(|(_, n)| n).sum();
        if total <= 0.0 {
            continue;
        }
        for value in &feature.values {
            let count = values
                .iter()
                .filter(|(v, _)| v.trim().eq_ignore_ascii_case(value.trim()))
                .map(|(_, n)| n)
                .sum::<f64>();
            shares.insert((feature.name.clone(), value.clone()), count / total);
        }
    }
    Ok(shares)
}

/// Population counts per value of a profile feature: census features from `benchmarks`
/// (`None` when there are none), wards and deprivation from the register's addresses.
async fn population_values(
    db: &impl ConnectionTrait,
    benchmarks: &[benchmark::Model],
    feature: &str,
    eligibility: &Eligibility,
) -> AppResult<Option<Vec<(String, f64)>>> {
    match feature {
        "ward" | "deprivation_decile" | "deprivation_quintile" => {
            Ok(Some(register_values(db, feature, eligibility).await?))
        }
        _ if benchmarks.is_empty() => Ok(None),
        census => Ok(Some(census_values(benchmarks, census, eligibility))),
    }
}

/// Population counts per value of a census feature, in the benchmark's order.
fn census_values(
    benchmarks: &[benchmark::Model],
    feature: &str,
    eligibility: &Eligibility,
) -> Vec<(String, f64)> {
    let dimension = match feature {
        "age_band" => Dimension::AgeBand,
        "sex" => Dimension::Sex,
        "disability" => Dimension::Disability,
        _ => Dimension::EthnicGroup,
    };
    let mut values: Vec<(String, f64)> = Vec::new();
    for row in benchmarks
        .iter()
        .filter(|b| Dimension::from_name(&b.dimension) == Some(dimension))
    {
        let Some(category) = Category::from_label(dimension, &row.category) else {
            continue;
        };
        let label = category.label();
        let label = if feature == "ethnic_group_broad" {
            broad_ethnic_group(&label).to_owned()
        } else {
            label
        };
        match values.iter_mut().find(|(v, _)| *v == label) {
            Some((_, n)) => *n += row.count as f64,
            None => values.push((label, row.count as f64)),
        }
    }
    if dimension == Dimension::AgeBand {
        age_bands_between(&values, eligibility.min_age, eligibility.max_age)
    } else {
        values
    }
}

/// Addresses per ward or deprivation group, within the panel's wards.
async fn register_values(
    db: &impl ConnectionTrait,
    feature: &str,
    eligibility: &Eligibility,
) -> AppResult<Vec<(String, f64)>> {
    let mut query = address::Entity::find()
        .select_only()
        .column(address::Column::WardCode)
        .column(address::Column::DeprivationDecile)
        .column_as(address::Column::Id.count(), "n")
        .group_by(address::Column::WardCode)
        .group_by(address::Column::DeprivationDecile);
    if !eligibility.wards.is_empty() {
        query = query.filter(address::Column::WardCode.is_in(eligibility.wards.clone()));
    }
    let rows: Vec<(String, Option<i16>, i64)> = query.into_tuple().all(db).await?;
    let mut values: Vec<(String, f64)> = Vec::new();
    for (ward, decile, n) in rows {
        let value = match feature {
            "ward" => ward,
            "deprivation_decile" => decile.map_or_else(|| "unknown".to_owned(), |d| d.to_string()),
            _ => decile.map_or_else(|| "unknown".to_owned(), |d| ((d + 1) / 2).to_string()),
        };
        match values.iter_mut().find(|(v, _)| *v == value) {
            Some((_, count)) => *count += n as f64,
            None => values.push((value, n as f64)),
        }
    }
    values.sort_by_key(|(value, _)| natural(value));
    Ok(values)
}

/// Sorts numbers as numbers (`2` before `10`), then text.
fn natural(value: &str) -> (u64, String) {
    (value.parse().unwrap_or(u64::MAX), value.to_owned())
}

/// What an attribute import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeImport {
    /// Residents given attributes.
    pub residents: u64,
    /// Attribute values written.
    pub values: u64,
}

/// Sets residents' custom attributes (categories their profile does not hold, such as
/// housing tenure or a survey's answer) from a CSV: a `resident_id` column (the API's
/// resident ID or the number) and one column per attribute. Blank cells are left as they
/// are. The whole file is checked before anything is written.
pub async fn import_attributes(
    state: &AppState,
    caller: &Caller,
    csv: &str,
) -> AppResult<AttributeImport> {
    caller.require(OFFICERS)?;
    let field = "input.csv";
    let text = crate::domain::text_input::TextInput::new(
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        crate::domain::text_input::TextEncoding::Utf8,
    );
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::bad_input(field, e.to_string()))?
        .iter()
        .map(feature_key)
        .collect();
    let id_column = header
        .iter()
        .position(|h| h == "resident_id" || h == "id")
        .ok_or_else(|| AppError::bad_input(field, "There is no resident_id column."))?;
    let names: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != id_column && !h.is_empty())
        .map(|(i, h)| (i, h.clone()))
        .collect();
    if let Some((_, name)) = names
        .iter()
        .find(|(_, name)| profile_feature(name).is_some())
    {
        return Err(AppError::bad_input(
            field,
            format!("{name} comes from the registrant's profile and cannot be set here."),
        ));
    }
    let mut values: Vec<(i64, String, String)> = Vec::new();
    let mut residents = std::collections::BTreeSet::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| AppError::bad_input(field, e.to_string()))?;
        let given = record.get(id_column).unwrap_or("").trim();
        let id = given
            .parse::<i64>()
            .ok()
            .or_else(|| {
                crate::global_id::decode::<ResidentId>(given, field)
                    .ok()
                    .map(ResidentId::get)
            })
            .ok_or_else(|| {
                AppError::bad_input(
                    field,
                    format!("line {line}: {given:?} is not a resident ID"),
                )
            })?;
        residents.insert(id);
        for (column, name) in &names {
            let value = record.get(*column).unwrap_or("").trim();
            if value.chars().count() > 200 {
                return Err(AppError::bad_input(
                    field,
                    format!("line {line}: {name} is longer than 200 characters"),
                ));
            }
            if !value.is_empty() {
                values.push((id, name.clone(), value.to_owned()));
            }
        }
    }
    let db = state.db.writer();
    let ids: Vec<i64> = residents.iter().copied().collect();
    let mut known = 0;
    for chunk in ids.chunks(500) {
        known += resident::Entity::find()
            .filter(resident::Column::Id.is_in(chunk.to_vec()))
            .count(db)
            .await?;
    }
    if known != ids.len() as u64 {
        return Err(AppError::bad_input(
            field,
            format!(
                "{} of the file's residents do not exist.",
                ids.len() as u64 - known
            ),
        ));
    }
    let txn = db.begin().await?;
    for chunk in values.chunks(500) {
        let rows: Vec<resident_attribute::ActiveModel> = chunk
            .iter()
            .map(|(id, name, value)| resident_attribute::ActiveModel {
                resident_id: Set(*id),
                name: Set(name.clone()),
                value: Set(value.clone()),
                ..Default::default()
            })
            .collect();
        resident_attribute::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    resident_attribute::Column::ResidentId,
                    resident_attribute::Column::Name,
                ])
                .update_column(resident_attribute::Column::Value)
                .to_owned(),
            )
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(residents = ids.len(), values = values.len(), by = ?caller.account(), "resident attributes imported");
    Ok(AttributeImport {
        residents: ids.len() as u64,
        values: values.len() as u64,
    })
}

/// A parent's or guardian's consent for a registrant under 13, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardianConsent {
    /// The registrant.
    pub resident_id: ResidentId,
    /// The guardian's name.
    pub guardian_name: String,
    /// Their relationship to the registrant.
    pub relationship: String,
    /// How consent was given (signed form, email, …).
    pub method: String,
    /// Who recorded it.
    pub recorded_by: Option<AccountId>,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// Records a parent's or guardian's consent for a registrant (needed before anyone under
/// 13 can join a panel).
pub async fn record_guardian_consent(
    state: &AppState,
    caller: &Caller,
    resident: ResidentId,
    guardian_name: &str,
    relationship: &str,
    method: &str,
) -> AppResult<GuardianConsent> {
    caller.require(OFFICERS)?;
    let text = |value: &str, field: &str, max: usize| -> AppResult<String> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > max {
            Err(AppError::bad_input(
                field,
                format!("Give 1 to {max} characters."),
            ))
        } else {
            Ok(value.to_owned())
        }
    };
    let guardian_name = text(guardian_name, "input.guardianName", 200)?;
    let relationship = text(relationship, "input.relationship", 100)?;
    let method = text(method, "input.method", 200)?;
    let db = state.db.writer();
    resident::Entity::find_by_id(resident.get())
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "resident" })?;
    let now = state.clock.now();
    guardian_consent::ActiveModel {
        resident_id: Set(resident.get()),
        guardian_name: Set(guardian_name.clone()),
        relationship: Set(relationship.clone()),
        method: Set(method.clone()),
        recorded_by: Set(caller.account().map(AccountId::get)),
        recorded_at: Set(now),
        withdrawn_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::info!(resident_id = %resident, by = ?caller.account(), "guardian consent recorded");
    Ok(GuardianConsent {
        resident_id: resident,
        guardian_name,
        relationship,
        method,
        recorded_by: caller.account(),
        recorded_at: now,
    })
}

/// A resident's membership of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    /// Identity.
    pub id: MembershipId,
    /// The panel.
    pub panel_id: PanelId,
    /// The member.
    pub resident_id: ResidentId,
    /// The selection that chose them, if any.
    pub run_id: Option<SelectionRunId>,
    /// Where the membership is.
    pub status: MembershipStatus,
    /// When they were selected.
    pub selected_at: DateTime<Utc>,
    /// When the term ends.
    pub term_ends_at: Option<DateTime<Utc>>,
    /// When the status last changed.
    pub updated_at: DateTime<Utc>,
}

/// One change of a membership's status.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipEvent {
    /// From (none for the selection that created it).
    pub from: Option<MembershipStatus>,
    /// To.
    pub to: MembershipStatus,
    /// Why, as given.
    pub reason: Option<String>,
    /// Who made the change: an officer, or the resident withdrawing (none for the system).
    pub by: Option<AccountId>,
    /// When.
    pub at: DateTime<Utc>,
}

fn membership_to_domain(row: membership::Model) -> AppResult<Membership> {
    Ok(Membership {
        id: MembershipId(row.id),
        panel_id: PanelId(row.panel_id),
        resident_id: ResidentId(row.resident_id),
        run_id: row.run_id.map(SelectionRunId),
        status: row
            .status
            .parse()
            .map_err(|e| AppError::internal(anyhow::anyhow!("membership {}: {e}", row.id)))?,
        selected_at: row.selected_at,
        term_ends_at: row.term_ends_at,
        updated_at: row.updated_at,
    })
}

/// A page of a panel's memberships in the order they were made, after `after`; up to
/// `limit + 1` so the caller can tell whether another page follows.
pub async fn memberships(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    status: Option<MembershipStatus>,
    after: Option<MembershipId>,
    limit: u64,
) -> AppResult<Vec<Membership>> {
    caller.require(OFFICERS)?;
    let mut query = pages::page(
        membership::Entity::find().filter(membership::Column::PanelId.eq(panel.get())),
        membership::Column::Id,
        Order::OldestFirst,
        after.map(MembershipId::get),
        limit,
    );
    if let Some(status) = status {
        query = query.filter(membership::Column::Status.eq(status.as_str()));
    }
    query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(membership_to_domain)
        .collect()
}

/// Members per status of a panel.
pub async fn membership_counts(
    db: &impl ConnectionTrait,
    panel: PanelId,
) -> AppResult<HashMap<MembershipStatus, u64>> {
    let rows: Vec<(String, i64)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::Status)
        .column_as(membership::Column::Id.count(), "n")
        .filter(membership::Column::PanelId.eq(panel.get()))
        .group_by(membership::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(status, n)| Some((status.parse().ok()?, u64::try_from(n).unwrap_or(0))))
        .collect())
}

/// A membership's history, oldest first: for officers, and for the member themself (who
/// reads it in `panelWithdraw`'s answer), without the accounts of the officers who made
/// the changes.
pub async fn membership_events(
    state: &AppState,
    caller: &Caller,
    id: MembershipId,
) -> AppResult<Vec<MembershipEvent>> {
    let db = state.db.reader();
    let own_account = if caller.require(OFFICERS).is_ok() {
        None
    } else {
        let session = caller.session()?;
        let resident_id: Option<i64> = membership::Entity::find_by_id(id.get())
            .select_only()
            .column(membership::Column::ResidentId)
            .into_tuple()
            .one(db)
            .await?;
        let account: Option<Option<i64>> = match resident_id {
            Some(resident_id) => {
                resident::Entity::find_by_id(resident_id)
                    .select_only()
                    .column(resident::Column::AccountId)
                    .into_tuple()
                    .one(db)
                    .await?
            }
            None => None,
        };
        if account.flatten() != Some(session.account_id.get()) {
            return Err(AppError::Forbidden);
        }
        Some(session.account_id.get())
    };
    let rows = membership_event::Entity::find()
        .filter(membership_event::Column::MembershipId.eq(id.get()))
        .order_by_asc(membership_event::Column::Id)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let parse = |s: &str| {
                s.parse::<MembershipStatus>()
                    .map_err(|e| AppError::internal(anyhow::anyhow!("membership event: {e}")))
            };
            Ok(MembershipEvent {
                from: row.from_status.as_deref().map(parse).transpose()?,
                to: parse(&row.to_status)?,
                reason: row.reason,
                by: row
                    .by_account
                    .filter(|by| own_account.is_none_or(|own| own == *by))
                    .map(AccountId),
                at: row.at,
            })
        })
        .collect()
}

/// Moves a membership to `to` (see [`MembershipStatus::can_become`]), recording who,
/// when and why.
pub async fn change_status(
    state: &AppState,
    caller: &Caller,
    id: MembershipId,
    to: MembershipStatus,
    reason: Option<String>,
) -> AppResult<Membership> {
    caller.require(OFFICERS)?;
    transition(state, caller, id, to, reason).await
}

/// A resident withdraws from a panel they sit on.
pub async fn withdraw_self(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    reason: Option<String>,
) -> AppResult<Membership> {
    let session = caller.session()?;
    let db = state.db.reader();
    let residents: Vec<i64> = resident::Entity::find()
        .select_only()
        .column(resident::Column::Id)
        .filter(resident::Column::AccountId.eq(session.account_id.get()))
        .into_tuple()
        .all(db)
        .await?;
    let row = membership::Entity::find()
        .filter(membership::Column::PanelId.eq(panel.get()))
        .filter(membership::Column::ResidentId.is_in(residents))
        .filter(
            membership::Column::Status.is_in(MembershipStatus::SITTING.iter().map(|s| s.as_str())),
        )
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "membership" })?;
    transition(
        state,
        caller,
        MembershipId(row.id),
        MembershipStatus::Withdrawn,
        reason,
    )
    .await
}

async fn transition(
    state: &AppState,
    caller: &Caller,
    id: MembershipId,
    to: MembershipStatus,
    reason: Option<String>,
) -> AppResult<Membership> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2_000) {
        return Err(AppError::bad_input(
            "input.reason",
            "A reason is at most 2,000 characters.",
        ));
    }
    let now = state.clock.now();
    let txn = state.db.writer().begin().await?;
    let row = membership::Entity::find_by_id(id.get())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound { what: "membership" })?;
    let current = membership_to_domain(row.clone())?;
    if !current.status.can_become(to) {
        return Err(AppError::conflict(format!(
            "A membership that is {} cannot become {}.",
            current.status, to
        )));
    }
    // The update names the status it read, so two changes at once cannot both apply.
    let updated = membership::Entity::update_many()
        .col_expr(
            membership::Column::Status,
            sea_orm::sea_query::Expr::value(to.as_str()),
        )
        .col_expr(
            membership::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(membership::Column::Id.eq(id.get()))
        .filter(membership::Column::Status.eq(current.status.as_str()))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::conflict(
            "The membership changed meanwhile; read it again.",
        ));
    }
    membership_event::ActiveModel {
        membership_id: Set(id.get()),
        from_status: Set(Some(current.status.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        reason: Set(reason),
        by_account: Set(caller.account().map(AccountId::get)),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(membership_id = %id, from = %current.status, to = %to, by = ?caller.account(), "membership changed");
    Ok(Membership {
        status: to,
        updated_at: now,
        ..current
    })
}
