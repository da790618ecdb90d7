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

/// A loader of objects by their own IDs: `find` reads those of every key of the batch
/// that the caller may see; `id` names each one found.
macro_rules! by_id {
    ($key:ident => $value:ty, |$batch:ident, $keys:ident| $find:expr, |$found:ident| $id:expr) => {
        impl Loader<$key> for Batch {
            type Value = $value;
            type Error = LoadError;

            async fn load(&self, $keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                let $batch = self;
                let found = $find.await?;
                Ok(found.into_iter().map(|$found| ($id, $found)).collect())
            }
        }
    };
}

/// A loader of one value per parent: `find` reads them for the parent IDs of every key of
/// the batch at once, keyed by parent ID; the loader keys them again as its keys wrap
/// the IDs.
macro_rules! per_parent {
    ($key:ident: $value:ty = |$batch:ident, $ids:ident| $find:expr) => {
        impl Loader<$key> for Batch {
            type Value = $value;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                let $batch = self;
                let $ids: Vec<_> = keys.iter().map(|k| k.0).collect();
                let found = $find.await?;
                Ok(found.into_iter().map(|(id, v)| ($key(id), v)).collect())
            }
        }
    };
}

/// A loader of nested lists' first pages: keys asking for the same page size are read in
/// one statement by `find`, which returns each parent's first rows.
macro_rules! first_pages {
    ($key:ident: $value:ty = |$batch:ident, $parents:ident, $first:ident| $find:expr) => {
        impl Loader<$key> for Batch {
            type Value = Vec<$value>;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Vec<$value>>, LoadError> {
                let $batch = self;
                let mut found = HashMap::new();
                for ($first, $parents) in grouped_by(keys, |k| (k.1, k.0)) {
                    let pages = $find.await?;
                    found.extend(pages.into_iter().map(|(p, rows)| ($key(p, $first), rows)));
                }
                Ok(found)
            }
        }
    };
}

/// The status of a round (its letters counted by ward and decile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusOf(pub RoundId);

/// A round's pool compared with an area's benchmarks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompositionOf(pub RoundId, pub String);

by_id!(AccountId => Account, |b, keys| accounts::visible_to(&b.state, &b.caller, keys), |a| a.id);

by_id!(RoundId => Round, |b, keys| recruitment::rounds_by_id(&b.state, &b.caller, keys), |r| r.id);

by_id!(JobId => Job, |b, keys| jobs::find_many(&b.state, &b.caller, keys), |j| j.id);

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

by_id!(PanelId => Panel, |b, keys| panels::find_many(&b.state, &b.caller, keys), |p| p.id);

per_parent!(QuotasOf: Vec<Feature> = |b, ids| panels::panel_quotas_of_many(&b.state, &b.caller, &ids));

per_parent!(MemberCountsOf: HashMap<MembershipStatus, u64> = |b, ids| panels::membership_counts_of_many(b.state.db.reader(), &ids));

per_parent!(EventsOf: Vec<MembershipEvent> = |b, ids| panels::membership_events_of_many(&b.state, &b.caller, &ids));

per_parent!(QuestionsOf: Vec<QuestionItem> = |b, ids| consultations::questions_of_many(b.state.db.reader(), &ids));

per_parent!(ProgressOf: Vec<Counts> = |b, ids| invitations::counts_of_many(b.state.db.reader(), &ids));

per_parent!(ResponseCountsOf: Vec<(String, i64)> = |b, ids| invitations::response_counts_of_many(b.state.db.reader(), &ids));

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

first_pages!(InvitationsPage: Invitation = |b, parents, first| invitations::first_pages(&b.state, &b.caller, &parents, first));

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

first_pages!(RunsPage: Run = |b, parents, first| selection::first_run_pages(&b.state, &b.caller, &parents, first));

first_pages!(ClaimsPage: Claim = |b, parents, first| incentives::first_claim_pages(&b.state, &b.caller, &parents, first));
