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
    QueryOrder, QuerySelect, QueryTrait, Set, TransactionTrait,
};

use crate::db::entities::{
    address, benchmark, guardian_consent, membership, membership_event, panel, panel_quota,
    resident, resident_attribute,
};
use crate::db::pages::{self, Order};
use crate::db::views::{self, Viewer};
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

mod attributes;
mod members;
mod quotas;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {attributes::*, members::*, quotas::*};

pub use attributes::{
    AttributeImport, GuardianConsent, import_attributes, record_guardian_consent,
};
pub use members::{
    Membership, MembershipEvent, change_status, first_membership_pages, membership_counts,
    membership_counts_of_many, membership_events_of_many, memberships, withdraw_self,
};
pub use quotas::{
    derive_quotas, import_quotas, panel_quotas, panel_quotas_of_many, population_shares, quotas,
    quotas_csv, selection_error, set_quotas,
};

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
        created_by: Set(caller.account()),
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
    tracing::info!(panel_id = %row.id, by = ?caller.account(), "panel created");
    Ok(to_domain(row))
}

/// One panel, for officers.
pub async fn find(state: &AppState, caller: &Caller, id: PanelId) -> AppResult<Panel> {
    caller.require(OFFICERS)?;
    find_any(state.db.reader(), id).await
}

/// Those of `ids` that exist, for officers (the loader of a list's panels).
pub async fn find_many(
    state: &AppState,
    caller: &Caller,
    ids: &[PanelId],
) -> AppResult<Vec<Panel>> {
    caller.require(OFFICERS)?;
    Ok(panel::Entity::find()
        .filter(panel::Column::Id.is_in(ids.iter().copied()))
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// One panel, whoever asks.
pub async fn find_any(db: &impl ConnectionTrait, id: PanelId) -> AppResult<Panel> {
    panel::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_domain)
        .ok_or(AppError::NotFound { what: "panel" })
}

/// Panels, newest first, a page of `limit` (and one more, to tell that another page
/// follows) before `before`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    before: Option<PanelId>,
    limit: u64,
) -> AppResult<Vec<Panel>> {
    caller.require(OFFICERS)?;
    let query = pages::page(
        panel::Entity::find(),
        panel::Column::Id,
        Order::NewestFirst,
        before.map(PanelId::get),
        limit,
    );
    Ok(query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

fn to_domain(row: panel::Model) -> Panel {
    let age = |a: Option<i16>| a.and_then(|a| u32::try_from(a).ok());
    Panel {
        id: row.id,
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
        created_by: row.created_by,
        created_at: row.created_at,
    }
}
