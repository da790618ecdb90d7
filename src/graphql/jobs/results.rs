//! The `Job` type's fields, and what each kind of job produced (`JobResult`): a drawn
//! round, a letter bundle, an import's summary, a computed selection, a consultation's
//! invitations, letters or reminders.

use async_graphql::{Context, ID, Object, SimpleObject, Union};
use chrono::{DateTime, Utc};

use super::node::{JobKindValue, JobNode, JobProgress, JobStatusValue};
use crate::domain::job::{Job, JobKind};
use crate::error::AppError;
use crate::graphql::accounts::AccountNode;
use crate::graphql::context;
use crate::graphql::id::{self, download_path};
use crate::graphql::loaders;
use crate::graphql::recruitment::RoundNode;
use crate::graphql::register::AddressRegisterImportResult;
use crate::graphql::selection::node::SelectionRunNode;
use crate::service::consultations::invitations::{InviteResult, LettersResult, RemindResult};
use crate::service::panels::sub_sample::SampleDrawn;
use crate::service::recruitment::DrawResult;
use crate::service::recruitment::letters::ExportResult;
use crate::service::register::addresses::ImportSummary;
use crate::service::selection::{self, SelectionDone};
use crate::service::{downloads, jobs};

/// A recruitment round the job drew.
#[derive(SimpleObject)]
pub struct RecruitmentRoundDrawn {
    /// The round as drawn, with its letters waiting to be exported.
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
    /// The name the download is saved under (`round-<number>-letters-<count>.zip`).
    pub file_name: String,
    /// Bytes to download, to show before a large download starts.
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
    /// Global ID of the consultation reminded (kind `Consultation`).
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
    /// Global ID of the consultation invited (kind `Consultation`).
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
#[Object(name = "Job")]
impl JobNode {
    /// Global ID (kind `Job`): pass it to `node(id:)` or `job(id:)` to poll.
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
