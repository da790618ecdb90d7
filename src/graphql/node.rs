//! The Relay `Node` interface: any object with an ID can be fetched again by that ID alone
//! (`node(id:)`), so a client can refresh a job it is polling or a round it has open.

use async_graphql::{Context, ID, Interface, Object};

use crate::domain::ids::{AccountId, ConsultationId, JobId, PanelId, RoundId, SelectionRunId};
use crate::error::AppError;
use crate::graphql::accounts::AccountNode;
use crate::graphql::consultations::ConsultationNode;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id::{self, GlobalId};
use crate::graphql::jobs::node::JobNode;
use crate::graphql::panels::PanelNode;
use crate::graphql::recruitment::RoundNode;
use crate::graphql::selection::SelectionRunNode;
use crate::service::{accounts, consultations, jobs, panels, recruitment, selection};

/// An object with a global ID.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Global ID: opaque, stable, and accepted by `node(id:)` and by every field that takes this kind of object."
))]
pub enum Node {
    /// A login.
    Account(AccountNode),
    /// A recruitment round: its letters, registrations and status.
    RecruitmentRound(RoundNode),
    /// A background job.
    Job(JobNode),
    /// A panel: its quotas, members and selection runs (OFFICER).
    Panel(PanelNode),
    /// A selection run: probabilities, lottery and public draw (OFFICER).
    SelectionRun(SelectionRunNode),
    /// A consultation: its questions, invitations and report.
    Consultation(ConsultationNode),
}

/// The `node(id:)` query: any object by its global ID, if the caller may see it.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its ID. The caller must be allowed to see it (the same rules as the
    /// object's own query); an ID that names nothing is `NOT_FOUND`.
    #[graphql(guard = "RoleGuard::ANY_ACCOUNT")]
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The object's ID.")] id: ID,
    ) -> async_graphql::Result<Node> {
        let state = context::state(ctx)?;
        let caller = context::caller(ctx);
        let (kind, row) = id::decode_any(&id, "id")?;
        Ok(match kind.as_str() {
            AccountId::KIND => Node::Account(AccountNode(
                accounts::account(state, &caller, AccountId(row)).await?,
            )),
            RoundId::KIND => Node::RecruitmentRound(RoundNode(
                recruitment::round(state, &caller, RoundId(row)).await?,
            )),
            JobId::KIND => Node::Job(JobNode(jobs::find(state, &caller, JobId(row)).await?)),
            PanelId::KIND => {
                Node::Panel(PanelNode(panels::find(state, &caller, PanelId(row)).await?))
            }
            SelectionRunId::KIND => Node::SelectionRun(SelectionRunNode(
                selection::find(state, &caller, SelectionRunId(row)).await?,
            )),
            ConsultationId::KIND => Node::Consultation(ConsultationNode(
                consultations::find(state, &caller, ConsultationId(row)).await?,
            )),
            _ => return Err(AppError::bad_input("id", "Not a valid ID.").into()),
        })
    }
}
