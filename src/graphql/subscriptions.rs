//! Live updates over WebSocket (`/graphql/ws`, the `graphql-transport-ws` protocol, and
//! the older `graphql-ws`): a consultation's progress as its invitations are sent, opened,
//! clicked, started and completed.

use async_graphql::{Context, ID, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::domain::ids::ConsultationId;
use crate::graphql::consultations::{ChannelProgress, progress_of};
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::service::{accounts::sessions, consultations, consultations::invitations};
use crate::state::AppState;

/// A consultation's invitations counted by channel, at a moment.
#[derive(SimpleObject)]
pub struct ConsultationProgressUpdate {
    /// The ID of the consultation subscribed to.
    pub consultation_id: ID,
    /// Counts per channel, as `Consultation.progress` gives them.
    pub channels: Vec<ChannelProgress>,
    /// When they were counted.
    pub at: DateTime<Utc>,
}

async fn update(state: &AppState, id: ConsultationId) -> Option<ConsultationProgressUpdate> {
    let counts = invitations::counts(state.db.reader(), id).await.ok()?;
    Some(ConsultationProgressUpdate {
        consultation_id: id::encode(id),
        channels: progress_of(counts).ok()?,
        at: state.clock.now(),
    })
}

/// The `Subscription` root: live updates over WebSocket.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Live updates, over WebSocket at `/graphql/ws` (`graphql-transport-ws`).
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// A consultation's progress (OFFICER): the counts now, then again whenever an
    /// invitation of it moves (events arriving close together are counted once). The
    /// subscription ends when the session that opened it ends (logged out, expired).
    #[graphql(guard = "RoleGuard::OFFICER")]
    async fn consultation_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The consultation.")] consultation_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = ConsultationProgressUpdate> + use<>> {
        let id = id::decode::<ConsultationId>(&consultation_id, "consultationId")?;
        let state = context::state(ctx)?.clone();
        let caller = context::caller(ctx);
        consultations::find(&state, &caller, id).await?;
        let session = caller.session().ok().cloned();
        let receiver = state.tracker.subscribe();
        Ok(futures_util::stream::unfold(
            (state, receiver, true),
            move |(state, mut receiver, first)| {
                let session = session.clone();
                async move {
                    if !first {
                        loop {
                            match receiver.recv().await {
                                Ok(changed) if changed == id => break,
                                Ok(_) => {}
                                // Missed some news: count again to be sure.
                                Err(RecvError::Lagged(_)) => break,
                                Err(RecvError::Closed) => return None,
                            }
                        }
                        // Whatever else has already arrived is in the same count.
                        while receiver.try_recv().is_ok() {}
                    }
                    if let Some(session) = &session
                        && !sessions::still_valid(&state, session)
                            .await
                            .unwrap_or(false)
                    {
                        return None;
                    }
                    let next = update(&state, id).await?;
                    Some((next, (state, receiver, false)))
                }
            },
        ))
    }
}
