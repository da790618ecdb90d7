//! What each kind of job does: decode its input, call the use case, encode its result.
//! The use cases hold the work; this is only the dispatch.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::job::{Job, JobKind};
use crate::error::{AppError, AppResult};
use crate::service::recruitment::{self, DrawResult, RoundInput};
use crate::service::{
    accounts::login_links, consultations::invitations, recruitment::letters, register::addresses,
    selection,
};
use crate::state::AppState;
use crate::state::progress::Progress;

/// Runs one job's work; its result as JSON.
pub async fn run(state: &AppState, job: &Job, progress: &Progress) -> AppResult<String> {
    match job.kind {
        JobKind::RecruitmentDraw => {
            let input: RoundInput = payload(job)?;
            let round_id = recruitment::draw(state, &input, job.created_by, progress).await?;
            result(&DrawResult { round_id })
        }
        JobKind::LetterExport => {
            let request: letters::ExportRequest = payload(job)?;
            let exported =
                letters::export_bundle(state, job.id, &request, job.created_by, progress).await?;
            result(&exported)
        }
        JobKind::AddressImport => {
            let request: addresses::ImportRequest = payload(job)?;
            result(&addresses::import_upload(state, job.id, &request, progress).await?)
        }
        JobKind::LoginLinkRequest => {
            let request: login_links::LinkRequest = payload(job)?;
            login_links::send_link(state, &request).await?;
            // Whether a link went out is not recorded: the job list must not become a way
            // to learn which emails have accounts.
            result(&serde_json::json!({}))
        }
        JobKind::PanelSelection => {
            let input: selection::SelectionJob = payload(job)?;
            result(&selection::run(state, &input, progress).await?)
        }
        JobKind::ConsultationInvite => {
            let input: invitations::InviteJob = payload(job)?;
            result(&invitations::run_invite(state, &input, progress).await?)
        }
        JobKind::ConsultationRemind => {
            let input: invitations::RemindJob = payload(job)?;
            result(&invitations::run_remind(state, &input, progress).await?)
        }
        JobKind::ConsultationLetters => {
            let input: invitations::LettersJob = payload(job)?;
            result(
                &invitations::run_letters(state, job.id, &input, job.created_by, progress).await?,
            )
        }
    }
}

/// A job's input. Input that does not decode will never decode, so it fails the job for
/// good rather than being retried.
fn payload<T: DeserializeOwned>(job: &Job) -> AppResult<T> {
    serde_json::from_str(&job.payload).map_err(|e| {
        AppError::conflict(format!(
            "The job's input cannot be read by this version ({e})."
        ))
    })
}

fn result<T: Serialize>(value: &T) -> AppResult<String> {
    serde_json::to_string(value).map_err(AppError::internal)
}
