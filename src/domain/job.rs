//! Background jobs as the rest of the service sees them: what kinds exist, the states a
//! job moves through, and how long to wait before trying a failed job again.
//!
//! ```text
//! queued ──claim──▶ running ──▶ succeeded
//!   ▲                 │  │
//!   └──retry (backoff)┘  ├──▶ failed      (a permanent error, or attempts used up)
//!                        └──▶ cancelled   (asked to stop; a queued job stops at once)
//! ```
//!
//! A running job holds a lease that its worker renews while it works. A worker that dies
//! stops renewing, the lease runs out, and another worker claims the job again (counting
//! another attempt).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::ids::{AccountId, JobId};

crate::stored_names! {
    /// What a job does.
    pub enum JobKind ("job kind") {
        /// Draw a recruitment round's addresses and write its letters.
        RecruitmentDraw = "recruitment.draw",
        /// Mint codes for a round's letters and build the printer's bundle.
        LetterExport = "letters.export",
        /// Import an uploaded address register.
        AddressImport = "addresses.import",
        /// Send a one-time login link, if the email belongs to a resident.
        LoginLinkRequest = "login_link.request",
        /// Compute a panel selection's probabilities and lottery.
        PanelSelection = "panel.selection",
        /// Invite a panel to a consultation and queue its messages.
        ConsultationInvite = "consultation.invite",
        /// Mint short codes for a consultation's post invitations and build the mail merge.
        ConsultationLetters = "consultation.letters",
        /// Queue reminders to a consultation's members who have not completed.
        ConsultationRemind = "consultation.remind",
    }
}

impl JobKind {
    /// Claims allowed before the job fails for good.
    pub fn max_attempts(self) -> u32 {
        match self {
            // A draw or an export that failed twice will fail again; an officer should look.
            Self::RecruitmentDraw
            | Self::LetterExport
            | Self::AddressImport
            | Self::ConsultationInvite
            | Self::ConsultationLetters
            | Self::ConsultationRemind => 3,
            // A selection that stopped twice (its worker died) is likely to stop again.
            Self::PanelSelection => 2,
            Self::LoginLinkRequest => 5,
        }
    }
}

crate::stored_names! {
    /// Where a job is in its life.
    pub enum JobStatus ("job status") {
        /// Waiting for a worker (or for its next attempt).
        Queued = "queued",
        /// A worker holds it.
        Running = "running",
        /// Done; its result is stored.
        Succeeded = "succeeded",
        /// Given up: a permanent error, or every attempt failed.
        Failed = "failed",
        /// Stopped at someone's request.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Whether the job will not change any more.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A job as the API and the worker see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The row's key, also the number in its `Job` global ID.
    pub id: JobId,
    /// What it does, which also fixes the shape of `payload` and `result`.
    pub kind: JobKind,
    /// Queued, running, or finished one of three ways.
    pub status: JobStatus,
    /// Claims so far.
    pub attempts: u32,
    /// Claims allowed.
    pub max_attempts: u32,
    /// Not claimed before this moment.
    pub run_after: DateTime<Utc>,
    /// Units of work done (rows, letters), as last reported.
    pub progress_done: u64,
    /// Units of work in all, once known.
    pub progress_total: Option<u64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The kind's input (JSON).
    pub payload: String,
    /// The kind's output (JSON), once it succeeded.
    pub result: Option<String>,
    /// Who asked for it.
    pub created_by: Option<AccountId>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When a worker first took it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether someone asked it to stop.
    pub cancel_requested: bool,
}

impl Job {
    /// Progress from 0 to 1, once the total is known.
    pub fn fraction_done(&self) -> Option<f64> {
        match (self.status, self.progress_total) {
            (JobStatus::Succeeded, _) => Some(1.0),
            (_, Some(total)) if total > 0 => {
                Some((self.progress_done as f64 / total as f64).min(1.0))
            }
            _ => None,
        }
    }
}

/// First wait before a failed job is tried again.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);
/// Longest wait between attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(3_600);

/// How long to wait after failed attempt number `attempt` (1 for the first): doubling from
/// [`FIRST_RETRY`] up to [`MAX_RETRY`], then spread by `jitter` (0 to 1) over ±20 % so
/// jobs that failed together (a mail server that was down) do not all return together.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let base = FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY);
    let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    base.mul_f64(spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_read_back_from_their_stored_names() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
        }
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("something.else".parse::<JobKind>().is_err());
    }

    #[test]
    fn the_wait_doubles_from_ten_seconds_up_to_an_hour() {
        assert_eq!(retry_delay(1, 0.5), Duration::from_secs(10));
        assert_eq!(retry_delay(2, 0.5), Duration::from_secs(20));
        assert_eq!(retry_delay(3, 0.5), Duration::from_secs(40));
        assert_eq!(retry_delay(12, 0.5), MAX_RETRY);
        assert_eq!(retry_delay(u32::MAX, 0.5), MAX_RETRY);
    }

    #[test]
    fn jitter_spreads_the_wait_by_a_fifth_either_way() {
        assert_eq!(retry_delay(1, 0.0), Duration::from_secs(8));
        assert_eq!(retry_delay(1, 1.0), Duration::from_secs(12));
        assert_eq!(retry_delay(1, 7.0), Duration::from_secs(12));
    }

    #[test]
    fn only_finished_jobs_are_finished() {
        assert!(!JobStatus::Queued.is_finished());
        assert!(!JobStatus::Running.is_finished());
        assert!(JobStatus::Succeeded.is_finished());
        assert!(JobStatus::Failed.is_finished());
        assert!(JobStatus::Cancelled.is_finished());
    }
}
