//! Background jobs in the API: what a long request hands back, polled until it is done.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Union};
use chrono::{DateTime, Utc};

use crate::domain::ids::{FileId, JobId};
use crate::domain::job::{Job, JobKind, JobStatus};
use crate::error::AppError;
use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::guard::RoleGuard;
use crate::graphql::id;
use crate::graphql::loaders;
use crate::graphql::pagination::{Page, connection_complexity};
use crate::graphql::recruitment::RoundNode;
use crate::graphql::register::AddressRegisterImportResult;
use crate::graphql::selection::SelectionRunNode;
use crate::service::consultations::invitations::{InviteResult, LettersResult, RemindResult};
use crate::service::panels::sub_sample::SampleDrawn;
use crate::service::recruitment::DrawResult;
use crate::service::recruitment::letters::ExportResult;
use crate::service::register::addresses::ImportSummary;
use crate::service::selection::{self, SelectionDone};
use crate::service::{downloads, jobs};

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

/// A recruitment round the job drew.
#[derive(SimpleObject)]
pub struct RecruitmentRoundDrawn {
    /// The round.
    pub round: RoundNode,
}

/// A printer's bundle the job built: `letters.csv` and a QR code per letter, in a ZIP.
#[derive(SimpleObject)]
pub struct LetterBundle {
    /// Letters in the bundle (0 when every letter was already exported).
    pub letters: u64,
    /// Where to download it: `GET` with the same `Authorization: Bearer` token. The codes
    /// exist only in this file; it is deleted at `expiresAt`.
    pub download_url: String,
    /// The file's name.
    pub file_name: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Its SHA-256 in hex, to check a download.
    pub sha256: Option<String>,
    /// When it is deleted.
    pub expires_at: DateTime<Utc>,
}

/// What a job produced.
#[derive(Union)]
pub enum JobResult {
    /// From `RECRUITMENT_DRAW`.
    RecruitmentRoundDrawn(RecruitmentRoundDrawn),
    /// From `LETTER_EXPORT`.
    LetterBundle(LetterBundle),
    /// From `ADDRESS_IMPORT`.
    AddressRegisterImportResult(AddressRegisterImportResult),
    /// From `PANEL_SELECTION`.
    SelectionComputed(SelectionComputed),
    /// From `CONSULTATION_INVITE`.
    ConsultationInvited(ConsultationInvited),
    /// From `CONSULTATION_LETTERS`.
    ConsultationLetters(ConsultationLetters),
    /// From `CONSULTATION_REMIND`.
    ConsultationReminded(ConsultationReminded),
}

/// Reminders queued.
#[derive(SimpleObject)]
pub struct ConsultationReminded {
    /// The consultation's ID.
    pub consultation_id: ID,
    /// Reminders queued by email.
    pub email: u64,
    /// By text message.
    pub sms: u64,
    /// Members due a reminder who asked for none.
    pub opted_out: u64,
}

/// What inviting a panel to a consultation made.
#[derive(SimpleObject)]
pub struct ConsultationInvited {
    /// The consultation's ID.
    pub consultation_id: ID,
    /// Invitations made by email (queued in the outbox).
    pub email: u64,
    /// By text message.
    pub sms: u64,
    /// By post (print them with `consultationLettersExport`).
    pub post: u64,
    /// Members already invited before, left alone.
    pub already_invited: u64,
    /// The balanced sample drawn, when this job drew the consultation's sample.
    pub sample: Option<ConsultationSampleDrawn>,
}

/// A consultation's balanced sample as its invite job drew it: what the draw used, so
/// that it can be checked and repeated with the consultation's `sampleSeed`.
#[derive(SimpleObject)]
pub struct ConsultationSampleDrawn {
    /// The panel's current members it was drawn from.
    pub pool_size: u32,
    /// The panel's quotas scaled to the sample, as `feature,value,min,max` CSV.
    pub quotas_csv: String,
    /// The lowest chance any of those members had of being in the sample.
    pub minimum_probability: f64,
}

impl From<SampleDrawn> for ConsultationSampleDrawn {
    fn from(drawn: SampleDrawn) -> Self {
        Self {
            pool_size: drawn.pool_size,
            quotas_csv: drawn.quotas_csv,
            minimum_probability: drawn.minimum_probability,
        }
    }
}

/// A consultation's post invitations, printed: a mail-merge CSV
/// (`invitation,name,address_line_1,address_line_2,address_line_3,town,postcode,code,url`).
#[derive(SimpleObject)]
pub struct ConsultationLetters {
    /// Letters in the file (0 when every post invitation was already printed).
    pub letters: u64,
    /// Where to download it (`GET` with the same `Authorization: Bearer` token); null
    /// when there was nothing to print. The codes exist only in this file.
    pub download_url: Option<String>,
    /// When the file is deleted.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A selection whose probabilities and lottery are computed.
#[derive(SimpleObject)]
pub struct SelectionComputed {
    /// The run, ready for its public draw.
    pub run: SelectionRunNode,
}

/// Background work: a draw, an export, an import. Poll it (`node(id:)` or `job(id:)`) until
/// its status is SUCCEEDED, FAILED or CANCELLED.
pub struct JobNode(pub Job);

/// Background work: a draw, an export, an import. Poll it (`node(id:)` or `job(id:)`) until
/// its status is SUCCEEDED, FAILED or CANCELLED.
#[Object(name = "Job")]
impl JobNode {
    /// Opaque identifier.
    pub async fn id(&self) -> ID {
        id::encode(self.0.id)
    }
    /// What it does.
    async fn kind(&self) -> JobKindValue {
        self.0.kind.into()
    }
    /// Where it is.
    async fn status(&self) -> JobStatusValue {
        self.0.status.into()
    }
    /// How far it has got.
    async fn progress(&self) -> JobProgress {
        JobProgress {
            done: self.0.progress_done,
            total: self.0.progress_total,
            fraction: self.0.fraction_done(),
        }
    }
    /// Times a worker has taken it up (a job whose worker stopped is taken up again).
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }
    /// Attempts allowed before it fails for good.
    async fn max_attempts(&self) -> u32 {
        self.0.max_attempts
    }
    /// Why the last attempt failed (while QUEUED for a retry, or FAILED).
    async fn error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// Whether someone asked it to stop (it stops at its next check).
    async fn cancel_requested(&self) -> bool {
        self.0.cancel_requested
    }
    /// When it was asked for.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Not started before this moment (later after a failed attempt).
    async fn run_after(&self) -> DateTime<Utc> {
        self.0.run_after
    }
    /// When a worker first took it up.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When it finished.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Who asked for it.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
        let Some(account) = self.0.created_by else {
            return Ok(None);
        };
        Ok(loaders::get(ctx)?.load_one(account).await?.map(AccountNode))
    }
    /// What it produced, once SUCCEEDED (none for login links).
    async fn result(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<JobResult>> {
        result(ctx, &self.0).await
    }
}

/// The path a stored file is downloaded from, relative to the server's address.
pub fn download_path(file: FileId) -> String {
    format!("/exports/files/{}", id::encode(file).0)
}

async fn result(ctx: &Context<'_>, job: &Job) -> async_graphql::Result<Option<JobResult>> {
    Ok(match job.kind {
        JobKind::RecruitmentDraw => match jobs::result_of::<DrawResult>(job)? {
            Some(drawn) => {
                let round = loaders::get(ctx)?.load_one(drawn.round_id).await?.ok_or(
                    AppError::NotFound {
                        what: "recruitment round",
                    },
                )?;
                Some(JobResult::RecruitmentRoundDrawn(RecruitmentRoundDrawn {
                    round: RoundNode(round),
                }))
            }
            None => None,
        },
        JobKind::LetterExport => match jobs::result_of::<ExportResult>(job)? {
            Some(exported) => {
                let state = context::state(ctx)?;
                let file = downloads::file(state, &context::caller(ctx), exported.file_id).await?;
                Some(JobResult::LetterBundle(LetterBundle {
                    letters: exported.letters,
                    download_url: download_path(exported.file_id),
                    file_name: file.name,
                    size_bytes: file.size,
                    sha256: file.sha256,
                    expires_at: file.expires_at,
                }))
            }
            None => None,
        },
        JobKind::AddressImport => jobs::result_of::<ImportSummary>(job)?
            .map(|summary| JobResult::AddressRegisterImportResult(summary.into())),
        JobKind::LoginLinkRequest => None,
        JobKind::ConsultationInvite => jobs::result_of::<InviteResult>(job)?.map(|r| {
            JobResult::ConsultationInvited(ConsultationInvited {
                consultation_id: id::encode(r.consultation_id),
                email: r.email,
                sms: r.sms,
                post: r.post,
                already_invited: r.already_invited,
                sample: r.sample.map(Into::into),
            })
        }),
        JobKind::ConsultationRemind => jobs::result_of::<RemindResult>(job)?.map(|r| {
            JobResult::ConsultationReminded(ConsultationReminded {
                consultation_id: id::encode(r.consultation_id),
                email: r.email,
                sms: r.sms,
                opted_out: r.opted_out,
            })
        }),
        JobKind::ConsultationLetters => match jobs::result_of::<LettersResult>(job)? {
            Some(done) => {
                let expires_at = match done.file_id {
                    Some(file) => {
                        let state = context::state(ctx)?;
                        Some(
                            downloads::file(state, &context::caller(ctx), file)
                                .await?
                                .expires_at,
                        )
                    }
                    None => None,
                };
                Some(JobResult::ConsultationLetters(ConsultationLetters {
                    letters: done.letters,
                    download_url: done.file_id.map(download_path),
                    expires_at,
                }))
            }
            None => None,
        },
        JobKind::PanelSelection => match jobs::result_of::<SelectionDone>(job)? {
            Some(done) => {
                let state = context::state(ctx)?;
                let run = selection::find(state, &context::caller(ctx), done.run_id).await?;
                Some(JobResult::SelectionComputed(SelectionComputed {
                    run: SelectionRunNode(run),
                }))
            }
            None => None,
        },
    })
}

/// Job queries.
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

/// Job mutations.
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

/// The job a long mutation queued.
#[derive(SimpleObject)]
pub struct JobPayload {
    /// Poll it until it finishes; its `result` holds what it produced.
    pub job: JobNode,
}
