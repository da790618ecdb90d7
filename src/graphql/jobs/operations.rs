//! Jobs' queries and mutations: one job, the list, and cancelling.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::node::{JobKindValue, JobNode, JobStatusValue};
use crate::domain::ids::JobId;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::pagination::{Page, connection_complexity};
use crate::service::jobs;

/// The job queries of `Query`: one job, or the list (staff only).
#[derive(Default)]
pub struct JobQuery;

#[Object]
impl JobQuery {
    /// One job (staff).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job's ID.")] id: ID,
    ) -> async_graphql::Result<JobNode> {
        let job_id = id::decode::<JobId>(&id, "id")?;
        let state = context::state(ctx)?;
        Ok(JobNode(
            jobs::find(state, &context::caller(ctx), job_id).await?,
        ))
    }

    /// Jobs, newest first (staff).
    #[graphql(
        guard = "RoleGuard::OFFICER",
        complexity = "connection_complexity(first, child_complexity)"
    )]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Cursor of the last job of the previous page.")] after: Option<String>,
        #[graphql(desc = "Only jobs in this state.")] status: Option<JobStatusValue>,
        #[graphql(desc = "Only jobs of this kind.")] kind: Option<JobKindValue>,
    ) -> async_graphql::Result<Connection<String, JobNode>> {
        let page = Page::<JobId>::parse(first, after.as_deref())?;
        let state = context::state(ctx)?;
        let filter = jobs::Filter {
            status: status.map(Into::into),
            kind: kind.map(Into::into),
        };
        let rows = jobs::list(
            state,
            &context::caller(ctx),
            &filter,
            page.after,
            page.first,
        )
        .await?;
        Ok(page.connection(rows, |job| job.id, JobNode))
    }
}

/// A job to stop.
#[derive(InputObject)]
pub struct JobCancelInput {
    /// The job's ID.
    pub id: ID,
}

/// The job, as it is now.
#[derive(SimpleObject)]
pub struct JobCancelPayload {
    /// CANCELLED if it had not started; still RUNNING with `cancelRequested` if it had
    /// (it stops at its next check).
    pub job: JobNode,
}

/// The job mutations of `Mutation`: cancelling (staff only).
#[derive(Default)]
pub struct JobMutation;

#[Object]
impl JobMutation {
    /// Asks a job to stop (staff). A finished job is `CONFLICT`.
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn job_cancel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which job.")] input: JobCancelInput,
    ) -> async_graphql::Result<JobCancelPayload> {
        let job_id = id::decode::<JobId>(&input.id, "input.id")?;
        let state = context::state(ctx)?;
        let job = jobs::cancel(state, &context::caller(ctx), job_id).await?;
        Ok(JobCancelPayload { job: JobNode(job) })
    }
}
