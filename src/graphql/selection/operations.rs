//! Selection's operations: start a selection for a panel (its probabilities and lottery
//! computed by a job), record its public draw, and read one run.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::node::{MethodValue, SelectionRunNode};
use crate::domain::ids::{PanelId, SelectionRunId};
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::jobs::node::JobNode;
use crate::service::selection::{self, DrawnNumber, SelectionRequest};

/// What a new selection needs: the panel, the method and the lottery's settings.
#[derive(InputObject)]
pub struct SelectionStartInput {
    /// Global ID of the panel to fill (kind `Panel`).
    pub panel_id: ID,
    /// How to choose; LEXIMIN unless set.
    #[graphql(default)]
    pub method: MethodValue,
    /// Seed (decimal below 2^64) for the lottery's rotation of members and the greedy
    /// runs; random and stored when absent.
    pub seed: Option<String>,
    /// Tickets in the transparent lottery (M).
    #[graphql(default = 1000)]
    pub tickets: i32,
    /// Greedy runs for the greedy method's estimated probabilities.
    #[graphql(default = 10000)]
    pub greedy_runs: i32,
    /// Longest the solver may take, in seconds (1 to 3,600).
    #[graphql(default = 300)]
    pub time_limit_seconds: i32,
    /// Keep sitting members, count them against the quotas, and fill the seats left
    /// from registrants never on the panel.
    #[graphql(default = false)]
    pub top_up: bool,
}

/// A started selection.
#[derive(SimpleObject)]
pub struct SelectionStartPayload {
    /// The run started, COMPUTING until its job finishes.
    pub run: SelectionRunNode,
    /// The job computing it: poll it for progress.
    pub job: JobNode,
}

/// The public draw of a computed selection: a number, or public randomness.
#[derive(InputObject)]
pub struct SelectionDrawInput {
    /// Global ID of the computed run to draw (kind `SelectionRun`).
    pub run_id: ID,
    /// The number drawn in public, 1 to the lottery's tickets.
    pub number: Option<i32>,
    /// Or: sources of public randomness, one per entry (e.g. the numbers of a named
    /// national lottery draw, "3 17 22 31 40 49"), turned into the number by RFC 3797.
    pub random_sources: Option<Vec<String>>,
}

/// The selection queries of `Query`: one run (OFFICER).
#[derive(Default)]
pub struct SelectionQuery;

#[Object]
impl SelectionQuery {
    /// One selection run (OFFICER).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn selection_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's ID.")] id: ID,
    ) -> async_graphql::Result<SelectionRunNode> {
        let run = id::decode::<SelectionRunId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(SelectionRunNode(
            selection::find(state, &context::caller(ctx), run).await?,
        ))
    }
}

/// The selection mutations of `Mutation`: start a run and record its public draw (OFFICER).
#[derive(Default)]
pub struct SelectionMutation;

#[Object]
impl SelectionMutation {
    /// Starts a selection for a panel (OFFICER). The pool and quotas are checked at once
    /// (conflicting quotas, values the quotas do not list, a pool too small); the
    /// probabilities and the lottery are computed by a job. One selection per panel at a
    /// time.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn selection_start(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The panel and the method.")] input: SelectionStartInput,
    ) -> async_graphql::Result<SelectionStartPayload> {
        let panel = id::decode::<PanelId>(&input.panel_id, "input.panelId")?;
        let state = context::state(ctx)?;
        let (run, job) = selection::start(
            state,
            &context::caller(ctx),
            SelectionRequest {
                panel,
                method: input.method.into(),
                seed: input.seed,
                tickets: i64::from(input.tickets),
                greedy_runs: i64::from(input.greedy_runs),
                time_limit_seconds: i64::from(input.time_limit_seconds),
                top_up: input.top_up,
            },
        )
        .await?;
        Ok(SelectionStartPayload {
            run: SelectionRunNode(run),
            job: JobNode(job),
        })
    }

    /// Records the public draw of a computed selection (OFFICER): the ticket the number
    /// names becomes the panel, its residents SELECTED. Once per run.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn selection_draw(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run and the number, or public randomness.")]
        input: SelectionDrawInput,
    ) -> async_graphql::Result<SelectionRunNode> {
        let run = id::decode::<SelectionRunId>(&input.run_id, "input.runId")?;
        let number = match (input.number, input.random_sources) {
            (Some(n), None) => DrawnNumber::Entered(i64::from(n)),
            (None, Some(sources)) => DrawnNumber::Rfc3797(sources),
            _ => {
                return Err(crate::error::AppError::bad_input(
                    "input.number",
                    "Give either the number drawn or the sources of public randomness.",
                )
                .into());
            }
        };
        let state = context::state(ctx)?;
        Ok(SelectionRunNode(
            selection::draw(state, &context::caller(ctx), run, number).await?,
        ))
    }
}
