//! Per-request DataLoaders: every relation a list can reach is fetched once for all the
//! items that ask for it, never one row per item. A loader is built for each request and
//! carries its caller, so what it loads is checked by the same use cases as a direct
//! query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

use crate::domain::accounts::account::Account;
use crate::domain::consultations::consultation::QuestionItem;
use crate::domain::ids::{AccountId, ConsultationId, JobId, MembershipId, PanelId, RoundId};
use crate::domain::job::Job;
use crate::domain::panels::panel::{MembershipStatus, Panel};
use crate::domain::recruitment::round::Round;
use crate::domain::selection::Feature;
use crate::error::AppError;
use crate::service::accounts::auth::Caller;
use crate::service::consultations::answering::Invitation;
use crate::service::consultations::invitations::{self, Counts};
use crate::service::panels::{self, Membership, MembershipEvent};
use crate::service::recruitment::incentives::{self, Claim};
use crate::service::recruitment::round_status::{CompositionDimension, RoundStatus};
use crate::service::selection::{self, Run};
use crate::service::{accounts, consultations, jobs, recruitment, recruitment::round_status};
use crate::state::AppState;

/// A loader failure, shared by every item of the batch that failed.
#[derive(Clone, Debug)]
pub struct LoadError(pub Arc<AppError>);

impl From<AppError> for LoadError {
    fn from(err: AppError) -> Self {
        Self(Arc::new(err))
    }
}

/// The batch loader of one request.
pub struct Batch {
    state: AppState,
    caller: Caller,
}

/// The per-request loaders, as request data.
pub type Loaders = DataLoader<Batch>;

/// Builds the loaders for one request by `caller`.
pub fn for_request(state: AppState, caller: Caller) -> Loaders {
    DataLoader::new(Batch { state, caller }, tokio::spawn)
}

/// The request's loaders; a request built without them (a unit test) gets its own.
pub fn get<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("loaders missing from the request")).into())
}

/// The status of a round (its letters counted by ward and decile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusOf(pub RoundId);

/// A round's pool compared with an area's benchmarks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompositionOf(pub RoundId, pub String);

impl Loader<AccountId> for Batch {
    type Value = Account;
    type Error = LoadError;

    async fn load(&self, keys: &[AccountId]) -> Result<HashMap<AccountId, Account>, LoadError> {
        let found = accounts::visible_to(&self.state, &self.caller, keys).await?;
        Ok(found.into_iter().map(|a| (a.id, a)).collect())
    }
}

impl Loader<RoundId> for Batch {
    type Value = Round;
    type Error = LoadError;

    async fn load(&self, keys: &[RoundId]) -> Result<HashMap<RoundId, Round>, LoadError> {
        let found = recruitment::rounds_by_id(&self.state, &self.caller, keys).await?;
        Ok(found.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<JobId> for Batch {
    type Value = Job;
    type Error = LoadError;

    async fn load(&self, keys: &[JobId]) -> Result<HashMap<JobId, Job>, LoadError> {
        let found = jobs::find_many(&self.state, &self.caller, keys).await?;
        Ok(found.into_iter().map(|j| (j.id, j)).collect())
    }
}

impl Loader<StatusOf> for Batch {
    type Value = RoundStatus;
    type Error = LoadError;

    async fn load(&self, keys: &[StatusOf]) -> Result<HashMap<StatusOf, RoundStatus>, LoadError> {
        let rounds: Vec<RoundId> = keys.iter().map(|k| k.0).collect();
        let statuses = round_status::statuses(&self.state, &self.caller, &rounds).await?;
        Ok(keys.iter().copied().zip(statuses).collect())
    }
}

impl Loader<CompositionOf> for Batch {
    type Value = Vec<CompositionDimension>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[CompositionOf],
    ) -> Result<HashMap<CompositionOf, Vec<CompositionDimension>>, LoadError> {
        let wanted: Vec<(RoundId, String)> = keys.iter().map(|k| (k.0, k.1.clone())).collect();
        let found = round_status::pool_compositions(&self.state, &self.caller, &wanted).await?;
        Ok(keys
            .iter()
            .cloned()
            .zip(found)
            .filter_map(|(key, found)| found.map(|f| (key, f)))
            .collect())
    }
}

/// A panel's quotas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuotasOf(pub PanelId);

/// A panel's members counted by status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemberCountsOf(pub PanelId);

/// A membership's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventsOf(pub MembershipId);

/// A consultation's questions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuestionsOf(pub ConsultationId);

/// A consultation's invitations counted by channel and stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgressOf(pub ConsultationId);

/// A consultation's responses counted by how they came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResponseCountsOf(pub ConsultationId);

impl Loader<PanelId> for Batch {
    type Value = Panel;
    type Error = LoadError;

    async fn load(&self, keys: &[PanelId]) -> Result<HashMap<PanelId, Panel>, LoadError> {
        let found = panels::find_many(&self.state, &self.caller, keys).await?;
        Ok(found.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Results found by ID, keyed again as the loader's keys wrap the IDs.
fn rekeyed<I, K: Eq + std::hash::Hash, V>(
    found: HashMap<I, V>,
    key: impl Fn(I) -> K,
) -> HashMap<K, V> {
    found.into_iter().map(|(i, v)| (key(i), v)).collect()
}

impl Loader<QuotasOf> for Batch {
    type Value = Vec<Feature>;
    type Error = LoadError;

    async fn load(&self, keys: &[QuotasOf]) -> Result<HashMap<QuotasOf, Vec<Feature>>, LoadError> {
        let ids: Vec<PanelId> = keys.iter().map(|k| k.0).collect();
        let found = panels::panel_quotas_of_many(&self.state, &self.caller, &ids).await?;
        Ok(rekeyed(found, QuotasOf))
    }
}

impl Loader<MemberCountsOf> for Batch {
    type Value = HashMap<MembershipStatus, u64>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MemberCountsOf],
    ) -> Result<HashMap<MemberCountsOf, Self::Value>, LoadError> {
        let ids: Vec<PanelId> = keys.iter().map(|k| k.0).collect();
        let found = panels::membership_counts_of_many(self.state.db.reader(), &ids).await?;
        Ok(rekeyed(found, MemberCountsOf))
    }
}

impl Loader<EventsOf> for Batch {
    type Value = Vec<MembershipEvent>;
    type Error = LoadError;

    async fn load(&self, keys: &[EventsOf]) -> Result<HashMap<EventsOf, Self::Value>, LoadError> {
        let ids: Vec<MembershipId> = keys.iter().map(|k| k.0).collect();
        if self.caller.require(panels::OFFICERS).is_ok() {
            let found = panels::membership_events_of_many(&self.state, &self.caller, &ids).await?;
            return Ok(rekeyed(found, EventsOf));
        }
        // A resident reads only their own memberships' histories, each checked alone.
        let mut found = HashMap::new();
        for id in ids {
            let events = panels::membership_events(&self.state, &self.caller, id).await?;
            found.insert(EventsOf(id), events);
        }
        Ok(found)
    }
}

impl Loader<QuestionsOf> for Batch {
    type Value = Vec<QuestionItem>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[QuestionsOf],
    ) -> Result<HashMap<QuestionsOf, Self::Value>, LoadError> {
        let ids: Vec<ConsultationId> = keys.iter().map(|k| k.0).collect();
        let found = consultations::questions_of_many(self.state.db.reader(), &ids).await?;
        Ok(rekeyed(found, QuestionsOf))
    }
}

impl Loader<ProgressOf> for Batch {
    type Value = Vec<Counts>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ProgressOf],
    ) -> Result<HashMap<ProgressOf, Self::Value>, LoadError> {
        let ids: Vec<ConsultationId> = keys.iter().map(|k| k.0).collect();
        let found = invitations::counts_of_many(self.state.db.reader(), &ids).await?;
        Ok(rekeyed(found, ProgressOf))
    }
}

impl Loader<ResponseCountsOf> for Batch {
    type Value = Vec<(String, i64)>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ResponseCountsOf],
    ) -> Result<HashMap<ResponseCountsOf, Self::Value>, LoadError> {
        let ids: Vec<ConsultationId> = keys.iter().map(|k| k.0).collect();
        let found = invitations::response_counts_of_many(self.state.db.reader(), &ids).await?;
        Ok(rekeyed(found, ResponseCountsOf))
    }
}

/// The first page of a consultation's invitations, of `first` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InvitationsPage(pub ConsultationId, pub u64);

/// The first page of a panel's memberships (in one status, if given), of `first` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MembershipsPage(pub PanelId, pub Option<MembershipStatus>, pub u64);

/// The first page of a panel's selection runs, of `first` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunsPage(pub PanelId, pub u64);

/// The first page of a round's incentive claims, of `first` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimsPage(pub RoundId, pub u64);

/// Keys grouped by what their statement shares (the page size, a filter): one statement
/// per group, each item of a list asking alike.
fn grouped_by<K: Copy, G: Eq + std::hash::Hash + Copy, P>(
    keys: &[K],
    group: impl Fn(K) -> (G, P),
) -> HashMap<G, Vec<P>> {
    let mut groups: HashMap<G, Vec<P>> = HashMap::new();
    for key in keys {
        let (g, parent) = group(*key);
        groups.entry(g).or_default().push(parent);
    }
    groups
}

impl Loader<InvitationsPage> for Batch {
    type Value = Vec<Invitation>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[InvitationsPage],
    ) -> Result<HashMap<InvitationsPage, Self::Value>, LoadError> {
        let mut found = HashMap::new();
        for (first, parents) in grouped_by(keys, |k| (k.1, k.0)) {
            let pages =
                invitations::first_pages(&self.state, &self.caller, &parents, first).await?;
            found.extend(
                pages
                    .into_iter()
                    .map(|(c, rows)| (InvitationsPage(c, first), rows)),
            );
        }
        Ok(found)
    }
}

impl Loader<MembershipsPage> for Batch {
    type Value = Vec<Membership>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MembershipsPage],
    ) -> Result<HashMap<MembershipsPage, Self::Value>, LoadError> {
        let mut found = HashMap::new();
        for ((status, first), parents) in grouped_by(keys, |k| ((k.1, k.2), k.0)) {
            let pages =
                panels::first_membership_pages(&self.state, &self.caller, &parents, status, first)
                    .await?;
            found.extend(
                pages
                    .into_iter()
                    .map(|(p, rows)| (MembershipsPage(p, status, first), rows)),
            );
        }
        Ok(found)
    }
}

impl Loader<RunsPage> for Batch {
    type Value = Vec<Run>;
    type Error = LoadError;

    async fn load(&self, keys: &[RunsPage]) -> Result<HashMap<RunsPage, Self::Value>, LoadError> {
        let mut found = HashMap::new();
        for (first, parents) in grouped_by(keys, |k| (k.1, k.0)) {
            let pages =
                selection::first_run_pages(&self.state, &self.caller, &parents, first).await?;
            found.extend(
                pages
                    .into_iter()
                    .map(|(p, rows)| (RunsPage(p, first), rows)),
            );
        }
        Ok(found)
    }
}

impl Loader<ClaimsPage> for Batch {
    type Value = Vec<Claim>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ClaimsPage],
    ) -> Result<HashMap<ClaimsPage, Self::Value>, LoadError> {
        let mut found = HashMap::new();
        for (first, parents) in grouped_by(keys, |k| (k.1, k.0)) {
            let pages =
                incentives::first_claim_pages(&self.state, &self.caller, &parents, first).await?;
            found.extend(
                pages
                    .into_iter()
                    .map(|(r, rows)| (ClaimsPage(r, first), rows)),
            );
        }
        Ok(found)
    }
}
