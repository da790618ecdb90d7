//! Panels in the API: panels and their quotas, residents' attributes and guardians'
//! consent, and memberships. Selection, which fills a panel, is `graphql::selection`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::ids::{MembershipId, PanelId, ResidentId, SelectionRunId};
use crate::domain::panels::panel::{MembershipStatus, Panel};
use crate::domain::selection::Feature;
use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::loaders;
use crate::graphql::pagination::{Page, connection_complexity};
use crate::graphql::selection::node::SelectionRunNode;
use crate::service::panels::{self, Membership, MembershipEvent, PanelRequest};
use crate::service::selection;

/// Where a member is in the membership lifecycle.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "MembershipStatus",
    remote = "crate::domain::panels::panel::MembershipStatus"
)]
pub enum MembershipStatusValue {
    /// Chosen by a selection's draw; not yet confirmed.
    Selected,
    /// Taking part.
    Active,
    /// Taking a break; still a member.
    Paused,
    /// Left the panel.
    Withdrawn,
    /// Served the membership term.
    TermEnded,
}

/// One value's quota.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "QuotaInput")]
pub struct Quota {
    /// The feature, e.g. `age_band`, `sex`, `ethnic_group_broad`, `ward`, or a custom
    /// attribute's name.
    pub feature: String,
    /// The value, as the registrant's profile gives it (`female`, `15-19`, a ward code).
    pub value: String,
    /// Fewest panel members with it.
    pub min: i32,
    /// Most panel members with it.
    pub max: i32,
}

fn quotas_out(features: Vec<Feature>) -> Vec<Quota> {
    features
        .into_iter()
        .flat_map(|f| {
            let name = f.name;
            f.values
                .into_iter()
                .zip(f.bounds)
                .map(move |(value, (min, max))| Quota {
                    feature: name.clone(),
                    value,
                    min: i32::try_from(min).unwrap_or(i32::MAX),
                    max: i32::try_from(max).unwrap_or(i32::MAX),
                })
        })
        .collect()
}

fn quotas_in(quotas: Vec<Quota>) -> async_graphql::Result<Vec<Feature>> {
    let mut features: Vec<Feature> = Vec::new();
    for q in quotas {
        let bound = |n: i32| {
            u32::try_from(n).map_err(|_| {
                crate::error::AppError::bad_input("input.quotas", "A quota is 0 or more.")
            })
        };
        let bounds = (bound(q.min)?, bound(q.max)?);
        let name = q.feature.trim().to_owned();
        match features.iter_mut().find(|f| f.name == name) {
            Some(f) => {
                f.values.push(q.value);
                f.bounds.push(bounds);
            }
            None => features.push(Feature {
                name,
                values: vec![q.value],
                bounds: vec![bounds],
            }),
        }
    }
    Ok(features)
}

/// Members of a panel in one status.
#[derive(SimpleObject)]
pub struct MemberCount {
    /// The status these members are in.
    pub status: MembershipStatusValue,
    /// Members in it.
    pub count: u64,
}

/// A panel: the Residents Panel, a Youth Forum, …
pub struct PanelNode(pub Panel);

/// A panel: the Residents Panel, a Youth Forum, …
#[Object(name = "Panel")]
impl PanelNode {
    /// Global ID (kind `Panel`), as `node(id:)` takes it.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The panel's name as officers and letters show it (unique).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What it is for.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Youngest age on the selection date.
    async fn min_age(&self) -> Option<u32> {
        self.0.eligibility.min_age
    }
    /// Oldest age on the selection date.
    async fn max_age(&self) -> Option<u32> {
        self.0.eligibility.max_age
    }
    /// Wards whose registrants may join (empty: all).
    async fn wards(&self) -> &[String] {
        &self.0.eligibility.wards
    }
    /// Members wanted.
    async fn target_size(&self) -> u32 {
        self.0.target_size
    }
    /// Membership term in months.
    async fn term_months(&self) -> u32 {
        self.0.term_months
    }
    /// At most one member per household.
    async fn one_per_household(&self) -> bool {
        self.0.one_per_household
    }
    /// The benchmark area quotas are derived from.
    async fn area_code(&self) -> Option<&str> {
        self.0.area_code.as_deref()
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who created it.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
        let Some(account) = self.0.created_by else {
            return Ok(None);
        };
        Ok(loaders::get(ctx)?.load_one(account).await?.map(AccountNode))
    }
    /// Its quotas, in order.
    async fn quotas(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Quota>> {
        let quotas = loaders::get(ctx)?
            .load_one(loaders::QuotasOf(self.0.id))
            .await?;
        Ok(quotas_out(quotas.unwrap_or_default()))
    }
    /// Its quotas as a Sortition Foundation CSV (`feature,value,min,max`).
    async fn quotas_csv(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let state = context::state(ctx)?;
        Ok(panels::quotas_csv(state, &context::caller(ctx), self.0.id).await?)
    }
    /// Members per status.
    async fn member_counts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MemberCount>> {
        let counts = loaders::get(ctx)?
            .load_one(loaders::MemberCountsOf(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(MembershipStatus::ALL
            .into_iter()
            .map(|status| MemberCount {
                status: status.into(),
                count: counts.get(&status).copied().unwrap_or(0),
            })
            .collect())
    }
    /// Its memberships, oldest first.
    #[graphql(complexity = "connection_complexity(first, child_complexity)")]
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only memberships in this status.")] status: Option<MembershipStatusValue>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last membership of the previous page.")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<Connection<String, MembershipNode>> {
        let page = Page::<MembershipId>::parse(first, after.as_deref())?;
        let status: Option<MembershipStatus> = status.map(Into::into);
        // A list's first pages come in one batch; a later page is read alone.
        let rows = match page.after {
            None => loaders::get(ctx)?
                .load_one(loaders::MembershipsPage(self.0.id, status, page.first))
                .await?
                .unwrap_or_default(),
            Some(after) => {
                let state = context::state(ctx)?;
                let caller = context::caller(ctx);
                panels::memberships(state, &caller, self.0.id, status, Some(after), page.first)
                    .await?
            }
        };
        Ok(page.connection(rows, |m| m.id, MembershipNode))
    }
    /// Its selection runs, newest first, a page at a time.
    #[graphql(complexity = "connection_complexity(first, child_complexity)")]
    async fn selection_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last run of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, SelectionRunNode>> {
        let page = Page::<SelectionRunId>::parse(first, after.as_deref())?;
        // A list's first pages come in one batch; a later page is read alone.
        let rows = match page.after {
            None => loaders::get(ctx)?
                .load_one(loaders::RunsPage(self.0.id, page.first))
                .await?
                .unwrap_or_default(),
            Some(after) => {
                let state = context::state(ctx)?;
                let caller = context::caller(ctx);
                selection::runs_of(state, &caller, self.0.id, Some(after), page.first).await?
            }
        };
        Ok(page.connection(rows, |run| run.id, SelectionRunNode))
    }
}

/// A change of a membership's status.
#[derive(SimpleObject)]
pub struct MembershipEventView {
    /// From (null when the selection created the membership).
    pub from: Option<MembershipStatusValue>,
    /// To.
    pub to: MembershipStatusValue,
    /// Why, as given.
    pub reason: Option<String>,
    /// Who made the change (an officer, or the resident withdrawing); for the member
    /// reading their own history, only their own account (an officer's is null).
    pub by_account_id: Option<ID>,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<MembershipEvent> for MembershipEventView {
    fn from(e: MembershipEvent) -> Self {
        Self {
            from: e.from.map(Into::into),
            to: e.to.into(),
            reason: e.reason,
            by_account_id: e.by.map(id::encode),
            at: e.at,
        }
    }
}

/// A resident's membership of a panel.
pub struct MembershipNode(pub Membership);

/// A resident's membership of a panel.
#[Object(name = "Membership")]
impl MembershipNode {
    /// Global ID of the membership, as `membershipStatusChange` takes it.
    async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// Global ID of the membership's panel (kind `Panel`).
    async fn panel_id(&self) -> ID {
        id::encode(self.0.panel_id)
    }
    /// The member.
    async fn resident_id(&self) -> ID {
        id::encode(self.0.resident_id)
    }
    /// The member's resident number, as selection CSVs and lottery texts name them.
    async fn resident_number(&self) -> i64 {
        self.0.resident_id.get()
    }
    /// The selection run that chose them.
    async fn selection_run_id(&self) -> Option<ID> {
        self.0.run_id.map(id::encode)
    }
    /// Where the membership is.
    async fn status(&self) -> MembershipStatusValue {
        self.0.status.into()
    }
    /// When they were selected.
    async fn selected_at(&self) -> DateTime<Utc> {
        self.0.selected_at
    }
    /// When the term ends.
    async fn term_ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.term_ends_at
    }
    /// When the status last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Every change, oldest first: who, when and why.
    async fn events(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MembershipEventView>> {
        let events = loaders::get(ctx)?
            .load_one(loaders::EventsOf(self.0.id))
            .await?;
        Ok(events
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// Panel queries.
#[derive(Default)]
pub struct PanelQuery;

#[Object]
impl PanelQuery {
    /// Panels, newest first, a page at a time (OFFICER).
    #[graphql(
        guard = "RoleGuard::OFFICER",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn panels(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last panel of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, PanelNode>> {
        let page = Page::<PanelId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let rows = panels::list(state, &context::caller(ctx), page.after, page.first).await?;
        Ok(page.connection(rows, |panel| panel.id, PanelNode))
    }

    /// One panel (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn panel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel's ID.")] id: ID,
    ) -> async_graphql::Result<PanelNode> {
        let panel = id::decode::<PanelId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(PanelNode(
            panels::find(state, &context::caller(ctx), panel).await?,
        ))
    }
}

/// A new panel.
#[derive(InputObject)]
pub struct PanelCreateInput {
    /// Its name, unique, e.g. "Residents Panel" or "Youth Forum".
    pub name: String,
    /// What it is for.
    #[graphql(default)]
    pub description: String,
    /// Youngest age on the selection date (e.g. 11 for a Youth Forum).
    pub min_age: Option<i32>,
    /// Oldest age on the selection date (e.g. 18).
    pub max_age: Option<i32>,
    /// Ward codes whose registrants may join; empty for all.
    #[graphql(default)]
    pub wards: Vec<String>,
    /// Members wanted (the selection's k).
    pub target_size: i32,
    /// Membership term in months.
    #[graphql(default = 24)]
    pub term_months: i32,
    /// At most one member per household.
    #[graphql(default = false)]
    pub one_per_household: bool,
    /// Benchmark area (GSS code) for derived quotas.
    pub area_code: Option<String>,
}

/// A panel's quotas, given one by one.
#[derive(InputObject)]
pub struct PanelQuotasSetInput {
    /// Global ID of the panel whose quotas are set (kind `Panel`).
    pub panel_id: ID,
    /// Every quota (replacing the panel's).
    pub quotas: Vec<Quota>,
}

/// A panel's quotas from a Sortition Foundation CSV.
#[derive(InputObject)]
pub struct PanelQuotasImportInput {
    /// Global ID of the panel whose quotas are imported (kind `Panel`).
    pub panel_id: ID,
    /// `feature,value,min,max` (or the paper data's `category,feature,min,max`) CSV text.
    pub csv: String,
}

/// A panel's quotas derived from the population.
#[derive(InputObject)]
pub struct PanelQuotasDeriveInput {
    /// Global ID of the panel whose quotas are derived (kind `Panel`).
    pub panel_id: ID,
    /// Benchmark area (GSS code); the panel's when absent.
    pub area_code: Option<String>,
    /// Room either side of each value's population share of the panel (0.1 for ± 10 %).
    #[graphql(default = 0.1)]
    pub tolerance: f64,
    /// Features to derive: `age_band`, `sex`, `ethnic_group`, `ethnic_group_broad`,
    /// `disability` (from the census benchmarks), `ward`, `deprivation_decile`,
    /// `deprivation_quintile` (from the address register's shares of addresses).
    pub features: Vec<String>,
}

/// Residents' custom attributes.
#[derive(InputObject)]
pub struct ResidentAttributesImportInput {
    /// CSV text: a `resident_id` column (resident IDs as the API gives them, or their
    /// numbers) and one column per attribute (e.g. `tenure`).
    pub csv: String,
}

/// What an attribute import wrote.
#[derive(SimpleObject)]
pub struct ResidentAttributesImportPayload {
    /// Residents in the file.
    pub residents: u64,
    /// Values written.
    pub values: u64,
}

/// A parent's or guardian's consent for a registrant under 13.
#[derive(InputObject)]
pub struct GuardianConsentRecordInput {
    /// The registrant.
    pub resident_id: ID,
    /// The parent's or guardian's name.
    pub guardian_name: String,
    /// Their relationship, e.g. "mother".
    pub relationship: String,
    /// How consent was given, e.g. "signed paper form, ref 2027-014".
    pub method: String,
}

/// A recorded guardian's consent.
#[derive(SimpleObject)]
pub struct GuardianConsentRecordPayload {
    /// The registrant.
    pub resident_id: ID,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// A move of one membership to a new status, with the reason recorded.
#[derive(InputObject)]
pub struct MembershipStatusChangeInput {
    /// Global ID of the membership to move.
    pub membership_id: ID,
    /// The new status.
    pub status: MembershipStatusValue,
    /// Why. The member reads it too, in their membership's history.
    pub reason: Option<String>,
}

/// A resident leaving a panel.
#[derive(InputObject)]
pub struct PanelWithdrawInput {
    /// Global ID of the panel to leave (kind `Panel`).
    pub panel_id: ID,
    /// Why, if they wish to say.
    pub reason: Option<String>,
}

/// The panel mutations of `Mutation`: panels, quotas, attributes, consents, memberships.
#[derive(Default)]
pub struct PanelMutation;

#[Object]
impl PanelMutation {
    /// Creates a panel (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn panel_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel.")] input: PanelCreateInput,
    ) -> async_graphql::Result<PanelNode> {
        let state = context::state(ctx)?;
        let request = PanelRequest {
            name: input.name,
            description: input.description,
            min_age: input.min_age.map(i64::from),
            max_age: input.max_age.map(i64::from),
            wards: input.wards,
            target_size: i64::from(input.target_size),
            term_months: i64::from(input.term_months),
            one_per_household: input.one_per_household,
            area_code: input.area_code,
        };
        Ok(PanelNode(
            panels::create(state, &context::caller(ctx), request).await?,
        ))
    }

    /// Replaces a panel's quotas (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn panel_quotas_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel and its quotas.")] input: PanelQuotasSetInput,
    ) -> async_graphql::Result<Vec<Quota>> {
        let panel = id::decode::<PanelId>(&input.panel_id, "input.panelId")?;
        let features = quotas_in(input.quotas)?;
        let state = context::state(ctx)?;
        Ok(quotas_out(
            panels::set_quotas(state, &context::caller(ctx), panel, features).await?,
        ))
    }

    /// Replaces a panel's quotas from a Sortition Foundation CSV (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn panel_quotas_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel and the CSV.")] input: PanelQuotasImportInput,
    ) -> async_graphql::Result<Vec<Quota>> {
        let panel = id::decode::<PanelId>(&input.panel_id, "input.panelId")?;
        let state = context::state(ctx)?;
        Ok(quotas_out(
            panels::import_quotas(state, &context::caller(ctx), panel, &input.csv).await?,
        ))
    }

    /// Replaces a panel's quotas with ones derived from the population for its target
    /// size (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn panel_quotas_derive(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel, area, tolerance and features.")] input: PanelQuotasDeriveInput,
    ) -> async_graphql::Result<Vec<Quota>> {
        let panel = id::decode::<PanelId>(&input.panel_id, "input.panelId")?;
        let state = context::state(ctx)?;
        Ok(quotas_out(
            panels::derive_quotas(
                state,
                &context::caller(ctx),
                panel,
                input.area_code,
                input.tolerance,
                &input.features,
            )
            .await?,
        ))
    }

    /// Sets residents' custom attributes from a CSV, for quotas on categories the profile
    /// does not hold (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn resident_attributes_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The CSV.")] input: ResidentAttributesImportInput,
    ) -> async_graphql::Result<ResidentAttributesImportPayload> {
        let state = context::state(ctx)?;
        let done = panels::import_attributes(state, &context::caller(ctx), &input.csv).await?;
        Ok(ResidentAttributesImportPayload {
            residents: done.residents,
            values: done.values,
        })
    }

    /// Records a parent's or guardian's consent, needed before a registrant under 13 can
    /// join any panel (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn guardian_consent_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The registrant and the consent.")] input: GuardianConsentRecordInput,
    ) -> async_graphql::Result<GuardianConsentRecordPayload> {
        let resident = id::decode::<ResidentId>(&input.resident_id, "input.residentId")?;
        let state = context::state(ctx)?;
        let consent = panels::record_guardian_consent(
            state,
            &context::caller(ctx),
            resident,
            &input.guardian_name,
            &input.relationship,
            &input.method,
        )
        .await?;
        Ok(GuardianConsentRecordPayload {
            resident_id: id::encode(consent.resident_id),
            recorded_at: consent.recorded_at,
        })
    }

    /// Moves a membership along its lifecycle (OFFICER): SELECTED → ACTIVE, ACTIVE ⇄
    /// PAUSED, to WITHDRAWN or TERM_ENDED; recorded with who, when and why.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn membership_status_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The membership and its new status.")] input: MembershipStatusChangeInput,
    ) -> async_graphql::Result<MembershipNode> {
        let membership = id::decode::<MembershipId>(&input.membership_id, "input.membershipId")?;
        let state = context::state(ctx)?;
        Ok(MembershipNode(
            panels::change_status(
                state,
                &context::caller(ctx),
                membership,
                input.status.into(),
                input.reason,
            )
            .await?,
        ))
    }

    /// A signed-in resident withdraws from a panel they sit on.
    async fn panel_withdraw(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel.")] input: PanelWithdrawInput,
    ) -> async_graphql::Result<MembershipNode> {
        let panel = id::decode::<PanelId>(&input.panel_id, "input.panelId")?;
        let state = context::state(ctx)?;
        Ok(MembershipNode(
            panels::withdraw_self(state, &context::caller(ctx), panel, input.reason).await?,
        ))
    }
}
