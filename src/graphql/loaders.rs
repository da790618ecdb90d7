//! Per-request DataLoaders: every relation a list can reach is fetched once for all the
//! items that ask for it, never one row per item. A loader is built for each request and
//! carries its caller, so what it loads is checked by the same use cases as a direct
//! query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

use crate::domain::accounts::account::Account;
use crate::domain::ids::{AccountId, JobId, RoundId};
use crate::domain::job::Job;
use crate::domain::recruitment::round::Round;
use crate::error::AppError;
use crate::service::accounts::auth::Caller;
use crate::service::recruitment::round_status::{CompositionDimension, RoundStatus};
use crate::service::{accounts, jobs, recruitment, recruitment::round_status};
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
