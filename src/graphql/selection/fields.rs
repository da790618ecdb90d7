//! The `SelectionRun` type's fields: the pool, everyone's probability, the lottery, its
//! public draw and the transparency report.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::node::{MethodValue, SelectionRunNode, SelectionValueReport};
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id::{self, download_path};
use crate::graphql::jobs::node::JobNode;
use crate::graphql::loaders;
use crate::graphql::panels::PanelNode;
use crate::service::selection::{self, Method, selection_report};

/// A selection: the pool, everyone's probability, the lottery and its public draw.
#[Object(name = "SelectionRun")]
impl SelectionRunNode {
    /// Global ID (kind `SelectionRun`), as `selectionDraw` takes it.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// The panel this run fills (or tops up).
    pub(crate) async fn panel(&self, ctx: &Context<'_>) -> async_graphql::Result<PanelNode> {
        let found = loaders::get(ctx)?.load_one(self.0.panel_id).await?;
        Ok(PanelNode(found.ok_or(
            crate::error::AppError::NotFound { what: "panel" },
        )?))
    }
    /// The job computing it: its status, progress and error.
    pub(crate) async fn job(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<JobNode>> {
        let Some(job) = self.0.job_id else {
            return Ok(None);
        };
        let found = loaders::get(ctx)?.load_one(job).await?;
        Ok(Some(JobNode(found.ok_or(
            crate::error::AppError::NotFound { what: "job" },
        )?)))
    }
    /// How the run chooses: LEXIMIN, MAXIMIN or GREEDY.
    pub(crate) async fn method(&self) -> MethodValue {
        self.0.method.into()
    }
    /// A top-up of a sitting panel.
    pub(crate) async fn top_up(&self) -> bool {
        self.0.top_up
    }
    /// The seed of the lottery's rotation (and of the greedy runs), decimal.
    pub(crate) async fn seed(&self) -> String {
        self.0.seed.to_string()
    }
    /// Seats to fill.
    pub(crate) async fn k(&self) -> u32 {
        self.0.k
    }
    /// Tickets in the lottery (M); the drawn number is from 1 to M (1 for greedy).
    pub(crate) async fn tickets(&self) -> u32 {
        if self.0.method == Method::Greedy {
            1
        } else {
            self.0.tickets
        }
    }
    /// The quotas used, as a `feature,value,min,max` CSV.
    pub(crate) async fn quotas_csv(&self) -> &str {
        &self.0.quotas_csv
    }
    /// The moment ages and eligibility are counted on.
    pub(crate) async fn as_of(&self) -> DateTime<Utc> {
        self.0.as_of
    }
    /// Registrants in the pool, once computed.
    pub(crate) async fn pool_size(&self) -> Option<u32> {
        self.0.summary.as_ref().map(|s| s.pool_size)
    }
    /// Groups of interchangeable registrants (identical on every feature).
    pub(crate) async fn types(&self) -> Option<u32> {
        self.0.summary.as_ref().map(|s| s.types)
    }
    /// Panels with positive probability in the fair distribution.
    pub(crate) async fn panels_in_distribution(&self) -> Option<u32> {
        self.0.summary.as_ref().map(|s| s.panels)
    }
    /// Lowest selection probability in the pool.
    pub(crate) async fn minimum_probability(&self) -> Option<f64> {
        self.0.summary.as_ref().map(|s| s.minimum)
    }
    /// Median selection probability.
    pub(crate) async fn median_probability(&self) -> Option<f64> {
        self.0.summary.as_ref().map(|s| s.median)
    }
    /// Highest selection probability.
    pub(crate) async fn maximum_probability(&self) -> Option<f64> {
        self.0.summary.as_ref().map(|s| s.maximum)
    }
    /// The largest change of anyone's probability from rounding to the lottery.
    pub(crate) async fn largest_probability_shift(&self) -> Option<f64> {
        self.0.summary.as_ref().map(|s| s.largest_shift)
    }
    /// Milliseconds the computation took.
    pub(crate) async fn elapsed_ms(&self) -> Option<u64> {
        self.0.summary.as_ref().map(|s| s.elapsed_ms)
    }
    /// When no panel could meet the quotas: each conflict.
    pub(crate) async fn infeasible_reasons(&self) -> Vec<String> {
        self.0
            .infeasibility
            .as_ref()
            .map(|i| i.reasons.clone())
            .unwrap_or_default()
    }
    /// When no panel could meet the quotas: the smallest relaxation that works, as a
    /// quota CSV to import.
    pub(crate) async fn suggested_quotas_csv(&self) -> Option<&str> {
        self.0
            .infeasibility
            .as_ref()
            .and_then(|i| i.suggested_quotas.as_deref())
    }
    /// SHA-256 of the lottery's text: publish it before the draw.
    pub(crate) async fn lottery_sha256(&self) -> Option<&str> {
        self.0.lottery_sha256.as_deref()
    }
    /// The lottery (`civic-panel-lottery/1`: one line per ticket, `number:resident,…`,
    /// residents by number), whose SHA-256 is `lotterySha256`.
    pub(crate) async fn lottery_text(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        let state = context::state(ctx)?;
        Ok(selection::lottery_text(state, &context::caller(ctx), &self.0).await?)
    }
    /// Where to download the lottery's text.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(crate) async fn lottery_download_url(&self) -> Option<String> {
        self.0.lottery_file.map(download_path)
    }
    /// Where to download the fair distribution over panels (before rounding to the
    /// lottery) as CSV: `panel,probability,<each feature>,count`, one row per panel and
    /// group of its members with the same values.
    #[graphql(guard = "RoleGuard::OFFICER")]
    pub(crate) async fn distribution_download_url(&self) -> Option<String> {
        self.0.distribution_file.map(download_path)
    }
    /// The drawn number, once drawn.
    pub(crate) async fn drawn_number(&self) -> Option<u32> {
        self.0.drawn_number
    }
    /// How the number was found: `entered`, or `rfc3797:` and the key string.
    pub(crate) async fn draw_source(&self) -> Option<&str> {
        self.0.draw_source.as_deref()
    }
    /// When the draw was recorded.
    pub(crate) async fn drawn_at(&self) -> Option<DateTime<Utc>> {
        self.0.drawn_at
    }
    /// Whether this computed, undrawn run no longer fits the panel: another run was drawn
    /// after it was computed, or (a top-up) the sitting members or their households have
    /// changed since. `selectionDraw` refuses a superseded run (`CONFLICT`); start a new
    /// selection or top-up instead. False once drawn and before it is computed.
    pub(crate) async fn superseded(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let state = context::state(ctx)?;
        Ok(
            selection::superseded_reason(state, &context::caller(ctx), &self.0)
                .await?
                .is_some(),
        )
    }
    /// Why the run is superseded, in the words `selectionDraw` refuses it with; null while
    /// it may be drawn.
    pub(crate) async fn superseded_reason(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        let state = context::state(ctx)?;
        Ok(selection::superseded_reason(state, &context::caller(ctx), &self.0).await?)
    }
    /// When the run was started.
    pub(crate) async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The transparency report: per category value, the quotas, the pool and selected
    /// counts and the probabilities.
    pub(crate) async fn report(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<SelectionValueReport>> {
        let state = context::state(ctx)?;
        let (_, values) = selection_report::report(state, &context::caller(ctx), self.0.id).await?;
        Ok(values.into_iter().map(Into::into).collect())
    }
    /// The transparency report as CSV.
    pub(crate) async fn report_csv(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let state = context::state(ctx)?;
        Ok(selection_report::report_csv(state, &context::caller(ctx), self.0.id).await?)
    }
    /// Everyone's selection probability as CSV
    /// (`resident_id,probability,lottery_probability`; residents by number, as
    /// `Membership.residentNumber` and the lottery's text give them).
    pub(crate) async fn probabilities_csv(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<String> {
        let state = context::state(ctx)?;
        Ok(selection_report::probabilities_csv(state, &context::caller(ctx), self.0.id).await?)
    }
}
