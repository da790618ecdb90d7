//! Postal invitations: the mail-merge file of letters with each member's code, made as a
//! job.

use super::*;
use crate::db::invitations;

/// A post letters' export job's input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LettersJob {
    /// The consultation whose post invitations are to be printed.
    pub consultation_id: ConsultationId,
    /// Print again letters already printed (their old codes stop working).
    pub reprint: bool,
}

/// What a letters export made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LettersResult {
    /// The consultation the letters invite to.
    pub consultation_id: ConsultationId,
    /// Letters in the file.
    pub letters: u64,
    /// The mail-merge CSV.
    pub file_id: Option<FileId>,
}

/// Queues the printing of the consultation's post invitations: a mail-merge CSV.
pub async fn start_letters(
    state: &AppState,
    caller: &Caller,
    id: ConsultationId,
    reprint: bool,
) -> AppResult<Job> {
    caller.require(OFFICERS)?;
    consultations::find_any(state.db.reader(), id).await?;
    jobs::enqueue(
        state,
        jobs::Request {
            kind: JobKind::ConsultationLetters,
            payload: &LettersJob {
                consultation_id: id,
                reprint,
            },
            created_by: caller.account(),
            singleton_key: Some(format!("letters:consultation:{id}")),
        },
    )
    .await
}

/// The mail-merge CSV's header.
pub const LETTERS_HEADER: &str =
    "invitation,name,address_line_1,address_line_2,address_line_3,town,postcode,code,url";

/// Runs a letters export: mints a short code for each post invitation not yet printed
/// (every one with `reprint`), writes the mail-merge CSV, and records them sent, all in
/// one transaction, so a code is stored only with the file that prints it.
pub async fn run_letters(
    state: &AppState,
    job: JobId,
    input: &LettersJob,
    created_by: Option<crate::domain::ids::AccountId>,
    progress: &Progress,
) -> AppResult<LettersResult> {
    let db = state.db.writer();
    let consultation = consultations::find_any(db, input.consultation_id).await?;
    let members = invitations::letters_due(db, consultation.id, input.reprint).await?;
    progress.set_total(members.len() as u64);
    if members.is_empty() {
        return Ok(LettersResult {
            consultation_id: consultation.id,
            letters: 0,
            file_id: None,
        });
    }
    // The CPU work (codes, hashes, the CSV) before the transaction.
    let base = state.config.public_url.trim_end_matches('/');
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut codes: Vec<(i64, String)> = Vec::with_capacity(members.len());
    csv.write_record(LETTERS_HEADER.split(','))
        .map_err(AppError::internal)?;
    for m in &members {
        let code = InvitationCode::generate(&mut rand::rng());
        codes.push((m.invitation_id, state.codes.stored_hash(&code)));
        let url = format!("{base}/c?code={}", code.canonical());
        csv.write_record([
            m.invitation_id.to_string().as_str(),
            &m.full_name,
            &m.line1,
            m.line2.as_deref().unwrap_or(""),
            m.line3.as_deref().unwrap_or(""),
            m.town.as_deref().unwrap_or(""),
            &m.postcode,
            &code.display(),
            &url,
        ])
        .map_err(AppError::internal)?;
    }
    let bytes = csv.into_inner().map_err(AppError::internal)?;
    let now = state.clock.now();
    let txn = db.begin().await?;
    let file = files::create(
        &txn,
        NewFile {
            purpose: files::EXPORT,
            name: format!("consultation-{}-letters.csv", consultation.id),
            content_type: "text/csv; charset=utf-8",
            job_id: Some(job),
            created_by,
            expires_at: now + state.config.worker.export_retention(),
        },
        now,
    )
    .await?;
    files::write_all(&txn, file, &bytes).await?;
    let mut events = Vec::with_capacity(codes.len());
    for (invitation_id, hash) in &codes {
        invitation::Entity::update_many()
            .col_expr(invitation::Column::CodeHash, Expr::value(hash.clone()))
            .filter(invitation::Column::Id.eq(*invitation_id))
            .exec(&txn)
            .await?;
        events.push(Event {
            invitation: InvitationId(*invitation_id),
            kind: EventKind::Sent,
            at: now,
            machine: false,
            detail: Some("printed".to_owned()),
        });
    }
    record_in(&txn, &events).await?;
    txn.commit().await?;
    progress.set_done(members.len() as u64);
    state.tracker.changed(consultation.id);
    Ok(LettersResult {
        consultation_id: consultation.id,
        letters: members.len() as u64,
        file_id: Some(file),
    })
}
