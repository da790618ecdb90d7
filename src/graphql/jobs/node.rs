//! The `Job` type: what a long request hands back, polled until it is done. Declared here,
//! apart from its fields (`results.rs`), so that every feature can return a job without
//! importing what the jobs of other features produce.

use async_graphql::{Enum, SimpleObject};

use crate::domain::job::{Job, JobKind, JobStatus};

/// What a job does.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "JobKind")]
pub enum JobKindValue {
    /// Draw a recruitment round's addresses (`recruitmentRoundCreate`).
    RecruitmentDraw,
    /// Mint codes and build the printer's bundle (`letterBundleCreate`).
    LetterExport,
    /// Import an uploaded address register (`addressRegisterImport`).
    AddressImport,
    /// Send a resident a one-time login link (`loginLinkRequest`).
    LoginLinkRequest,
    /// Compute a panel selection's probabilities and lottery (`selectionStart`).
    PanelSelection,
    /// Invite a panel to a consultation (`consultationInvite`).
    ConsultationInvite,
    /// Print a consultation's post invitations (`consultationLettersExport`).
    ConsultationLetters,
    /// Remind a consultation's members who have not completed (`consultationRemind`).
    ConsultationRemind,
}

impl From<JobKind> for JobKindValue {
    fn from(kind: JobKind) -> Self {
        match kind {
            JobKind::RecruitmentDraw => Self::RecruitmentDraw,
            JobKind::LetterExport => Self::LetterExport,
            JobKind::AddressImport => Self::AddressImport,
            JobKind::LoginLinkRequest => Self::LoginLinkRequest,
            JobKind::PanelSelection => Self::PanelSelection,
            JobKind::ConsultationInvite => Self::ConsultationInvite,
            JobKind::ConsultationLetters => Self::ConsultationLetters,
            JobKind::ConsultationRemind => Self::ConsultationRemind,
        }
    }
}

impl From<JobKindValue> for JobKind {
    fn from(kind: JobKindValue) -> Self {
        match kind {
            JobKindValue::RecruitmentDraw => Self::RecruitmentDraw,
            JobKindValue::LetterExport => Self::LetterExport,
            JobKindValue::AddressImport => Self::AddressImport,
            JobKindValue::LoginLinkRequest => Self::LoginLinkRequest,
            JobKindValue::PanelSelection => Self::PanelSelection,
            JobKindValue::ConsultationInvite => Self::ConsultationInvite,
            JobKindValue::ConsultationLetters => Self::ConsultationLetters,
            JobKindValue::ConsultationRemind => Self::ConsultationRemind,
        }
    }
}

/// Where a job is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "JobStatus")]
pub enum JobStatusValue {
    /// Waiting for a worker, or for its next attempt after a failure (see `runAfter`).
    Queued,
    /// A worker is on it.
    Running,
    /// Done: see `result`.
    Succeeded,
    /// Given up: see `error`.
    Failed,
    /// Stopped at someone's request.
    Cancelled,
}

impl From<JobStatus> for JobStatusValue {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => Self::Queued,
            JobStatus::Running => Self::Running,
            JobStatus::Succeeded => Self::Succeeded,
            JobStatus::Failed => Self::Failed,
            JobStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<JobStatusValue> for JobStatus {
    fn from(status: JobStatusValue) -> Self {
        match status {
            JobStatusValue::Queued => Self::Queued,
            JobStatusValue::Running => Self::Running,
            JobStatusValue::Succeeded => Self::Succeeded,
            JobStatusValue::Failed => Self::Failed,
            JobStatusValue::Cancelled => Self::Cancelled,
        }
    }
}

/// How far a job has got.
#[derive(SimpleObject)]
pub struct JobProgress {
    /// Units of work done (letters, bytes of a file, steps), as last reported.
    pub done: u64,
    /// Units in all, once known.
    pub total: Option<u64>,
    /// `done / total` from 0 to 1, once the total is known (1 when it succeeded).
    pub fraction: Option<f64>,
}

/// Background work: a draw, an export, an import. Poll it (`node(id:)` or `job(id:)`) until
/// its status is SUCCEEDED, FAILED or CANCELLED.
pub struct JobNode(pub Job);

/// The job a long mutation queued.
#[derive(SimpleObject)]
pub struct JobPayload {
    /// Poll it until it finishes; its `result` holds what it produced.
    pub job: JobNode,
}
