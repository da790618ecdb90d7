//! The statements behind invitations: who is still to be invited, which post invitations
//! are still to be printed, who is due a reminder, and invitations counted by channel and
//! stage. The SQL fragments that count stages ([`reached`], [`machine_opened_only`]) are
//! shared with the reports.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use crate::domain::consultations::consultation::Channel;
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::{ConsultationId, InvitationId, PanelId};
use crate::error::AppResult;

/// A member to invite.
#[derive(Clone, Debug, FromQueryResult)]
pub struct Member {
    /// The resident.
    pub id: i64,
    /// Their name, for the greeting.
    pub full_name: String,
    /// Where an email invitation goes, if they gave one.
    pub email: Option<String>,
    /// Where a text message goes, if they gave one.
    pub phone: Option<String>,
}

/// Sitting members of `panel` (selected or active, not withdrawn) not yet invited to
/// `consultation`, by resident number.
pub async fn uninvited(
    db: &impl ConnectionTrait,
    panel: PanelId,
    consultation: ConsultationId,
) -> AppResult<Vec<Member>> {
    let sql = "SELECT r.id, r.full_name, r.email, r.phone FROM memberships m \
               JOIN residents r ON r.id = m.resident_id \
               WHERE m.panel_id = $1 AND m.status IN ('selected', 'active') \
                 AND r.withdrawn_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM invitations i \
                   WHERE i.consultation_id = $2 AND i.resident_id = r.id) \
               ORDER BY r.id";
    Ok(Member::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [panel.get().into(), consultation.get().into()],
    ))
    .all(db)
    .await?)
}

#[derive(Clone, Debug, FromQueryResult)]
/// A post invitation to print: its resident's name and postal address.
pub struct PostMember {
    /// The invitation the letter is for.
    pub invitation_id: i64,
    /// The name on the envelope.
    pub full_name: String,
    /// First line of the address.
    pub line1: String,
    /// Second line, if any.
    pub line2: Option<String>,
    /// Third line, if any.
    pub line3: Option<String>,
    /// Post town, if the register has one.
    pub town: Option<String>,
    /// Postcode, as the register holds it.
    pub postcode: String,
}

/// Post invitations of `consultation` still to be printed (every open one with `reprint`),
/// with their residents' addresses, in invitation order.
pub async fn letters_due(
    db: &impl ConnectionTrait,
    consultation: ConsultationId,
    reprint: bool,
) -> AppResult<Vec<PostMember>> {
    let sql = format!(
        "SELECT i.id AS invitation_id, r.full_name, a.line1, a.line2, a.line3, a.town, a.postcode \
         FROM invitations i JOIN residents r ON r.id = i.resident_id \
         JOIN addresses a ON a.id = r.address_id \
         WHERE i.consultation_id = $1 AND i.channel = 'post' AND i.revoked_at IS NULL \
           AND i.completed_at IS NULL{} ORDER BY i.id",
        if reprint {
            ""
        } else {
            " AND i.code_hash IS NULL"
        }
    );
    Ok(
        PostMember::find_by_statement(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [consultation.get().into()],
        ))
        .all(db)
        .await?,
    )
}

#[derive(Clone, Debug, FromQueryResult)]
/// An invitation due a reminder, with what sending one needs.
pub struct Due {
    /// The invitation.
    pub id: InvitationId,
    /// Email or text message (post has no reminders).
    pub channel: Channel,
    /// Salt of the link's token (the token itself is not stored).
    pub token_salt: String,
    /// Hash of the link's token.
    pub token_hash: String,
    /// Reminders already queued.
    pub reminders_sent: i32,
    /// The resident's name, for the greeting.
    pub full_name: String,
    /// Their email address, if any.
    pub email: Option<String>,
    /// Their mobile number, if any.
    pub phone: Option<String>,
    /// They asked for no reminders (counted, not sent).
    pub reminders_opt_out: bool,
}

/// Invitations of `consultation` on `channels` due a reminder at `cutoff`: sent, not
/// bounced, completed or revoked, fewer than `max_reminders` reminded, and the last
/// message (the invitation or a reminder) no later than `cutoff`; in invitation order.
pub async fn reminders_due(
    db: &impl ConnectionTrait,
    consultation: ConsultationId,
    max_reminders: u32,
    cutoff: DateTime<Utc>,
    channels: &[Channel],
) -> AppResult<Vec<Due>> {
    let sql = format!(
        "SELECT i.id, i.channel, i.token_salt, i.token_hash, i.reminders_sent, r.full_name, \
           r.email, r.phone, r.reminders_opt_out \
         FROM invitations i JOIN residents r ON r.id = i.resident_id \
         WHERE i.consultation_id = $1 AND i.completed_at IS NULL AND i.revoked_at IS NULL \
           AND i.bounced_at IS NULL AND i.sent_at IS NOT NULL AND i.reminders_sent < $2 \
           AND COALESCE(i.last_reminded_at, i.sent_at) <= $3 AND i.channel IN ({}) \
         ORDER BY i.id",
        channels
            .iter()
            .map(|c| format!("'{}'", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Due::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [
            consultation.get().into(),
            i32::try_from(max_reminders).unwrap_or(0).into(),
            cutoff.into(),
        ],
    ))
    .all(db)
    .await?)
}

/// Counts of invitations by channel: how many reached each stage, at least (the same
/// definition as the report's funnel), with bounces and machine-only opens apart.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct Counts {
    /// `email`, `sms` or `post`.
    pub channel: String,
    /// Invitations made.
    pub invited: i64,
    /// Sent (or printed), or further.
    pub sent: i64,
    /// Reported undeliverable.
    pub bounced: i64,
    /// Opened by a person, or further (a click with images blocked counts).
    pub opened: i64,
    /// Opened only by a machine (a mail-privacy proxy or scanner), never by a person.
    pub machine_opened_only: i64,
    /// Followed the link, or further.
    pub clicked: i64,
    /// Saved a first answer, or submitted.
    pub started: i64,
    /// Submitted.
    pub completed: i64,
}

/// `1` for an invitation that reached `stage` or beyond, else `0`, as SQL.
pub fn reached(stage: Stage) -> String {
    let names: Vec<String> = stage
        .and_beyond()
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!(
        "CASE WHEN stage IN ({}) THEN 1 ELSE 0 END",
        names.join(", ")
    )
}

/// `1` for an invitation opened only by machines (a proxy, a scanner, a mail server on
/// arrival) that no person has got to opened or beyond, else `0`, as SQL.
pub fn machine_opened_only() -> String {
    format!(
        "CASE WHEN machine_opened_at IS NOT NULL AND {} = 0 THEN 1 ELSE 0 END",
        reached(Stage::Opened)
    )
}

/// A consultation's invitations counted by channel, with one grouped query.
pub async fn counts(db: &impl ConnectionTrait, id: ConsultationId) -> AppResult<Vec<Counts>> {
    Ok(counts_of_many(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

/// [`Counts`] of one consultation and channel, as the grouped query reads them.
#[derive(FromQueryResult)]
struct CountsOf {
    consultation_id: i64,
    channel: String,
    invited: i64,
    sent: i64,
    bounced: i64,
    opened: i64,
    machine_opened_only: i64,
    clicked: i64,
    started: i64,
    completed: i64,
}

/// Each of `consultations`' invitations counted by channel (in channel order), with one
/// grouped query.
pub async fn counts_of_many(
    db: &impl ConnectionTrait,
    consultations: &[ConsultationId],
) -> AppResult<HashMap<ConsultationId, Vec<Counts>>> {
    let mut found: HashMap<ConsultationId, Vec<Counts>> = HashMap::new();
    if consultations.is_empty() {
        return Ok(found);
    }
    let params: Vec<String> = (1..=consultations.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT consultation_id, channel, COUNT(*) AS invited, SUM({}) AS sent, \
           COUNT(bounced_at) AS bounced, SUM({}) AS opened, \
           SUM({}) AS machine_opened_only, \
           SUM({}) AS clicked, SUM({}) AS started, SUM({}) AS completed \
         FROM invitations WHERE consultation_id IN ({}) AND revoked_at IS NULL \
         GROUP BY consultation_id, channel ORDER BY consultation_id, channel",
        reached(Stage::Sent),
        reached(Stage::Opened),
        machine_opened_only(),
        reached(Stage::Clicked),
        reached(Stage::Started),
        reached(Stage::Completed),
        params.join(", "),
    );
    let rows = CountsOf::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        consultations.iter().map(|c| c.get().into()),
    ))
    .all(db)
    .await?;
    for row in rows {
        found
            .entry(ConsultationId(row.consultation_id))
            .or_default()
            .push(Counts {
                channel: row.channel,
                invited: row.invited,
                sent: row.sent,
                bounced: row.bounced,
                opened: row.opened,
                machine_opened_only: row.machine_opened_only,
                clicked: row.clicked,
                started: row.started,
                completed: row.completed,
            });
    }
    Ok(found)
}
