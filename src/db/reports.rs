//! A consultation report's hand-written statements: the delivery flags, the stages reached
//! day by day, invitations by propensity cell, responses by stored profile, answers by
//! weighting cell and the previous round's scale answers; with the SQL of each report
//! dimension over members and responses, the age bands' birth-date cut-offs, and the
//! funnel's definition of a stage reached (which invitations' own counts share).

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DatabaseBackend, Value};

use crate::db::counts::{Key, count_by_each};
use crate::db::invitations::{machine_opened_only, reached};
use crate::db::sql::{count_of, query};
use crate::domain::consultations::tracking::Stage;
use crate::domain::ids::ConsultationId;
use crate::domain::register::demographics::AgeBand;
use crate::domain::reports::dimension::ReportDimension;
use crate::error::AppResult;

/// The oldest band the age cut-offs name; older people are in `85+`.
const BANDS: u32 = AgeBand::OPEN_FROM / 5;

/// A member's census age band in SQL over `residents r`, from the birth-date cut-offs
/// bound from `$2` (see [`age_cutoffs`]).
fn age_band_sql() -> String {
    // $2 is the cut-off for 85+, $3 for 80-84, ... : born on or before the day the band's
    // youngest age was reached.
    let mut sql = String::from("CASE");
    for (i, low) in (0..=BANDS).rev().enumerate() {
        let band = AgeBand { low: low * 5 };
        sql.push_str(&format!(
            " WHEN r.date_of_birth <= ${} THEN '{}'",
            i + 2,
            band.label()
        ));
    }
    sql.push_str(" END");
    sql
}

/// The birth-date cut-offs of the age bands for ages on `day`, bound after a statement's
/// first parameter.
pub(crate) fn age_cutoffs(day: NaiveDate) -> Vec<Value> {
    (0..=BANDS)
        .rev()
        .map(|low| born_by(day, low * 5).into())
        .collect()
}

/// The latest birth date of someone aged `age` or more on `day`.
pub(crate) fn born_by(day: NaiveDate, age: u32) -> NaiveDate {
    day.checked_sub_months(chrono::Months::new(age * 12))
        .unwrap_or(NaiveDate::MIN)
}

/// The member's category in SQL over `residents r` (age bands come from the reference
/// day's cut-off dates, bound from `$2`).
pub(crate) fn member_sql(dimension: ReportDimension) -> String {
    match dimension {
        ReportDimension::AgeBand => age_band_sql(),
        ReportDimension::Sex => "r.sex".to_owned(),
        ReportDimension::EthnicGroup => "r.ethnic_group".to_owned(),
        ReportDimension::Disability => "r.disability".to_owned(),
        ReportDimension::Ward => "r.ward_code".to_owned(),
        ReportDimension::DeprivationDecile => "CAST(r.deprivation_decile AS TEXT)".to_owned(),
    }
}

/// The member's category as a grouping key over `residents r` (see [`member_sql`]).
pub(crate) fn member_key(dimension: ReportDimension) -> Key {
    match dimension {
        ReportDimension::DeprivationDecile => Key {
            select: member_sql(dimension),
            group: "r.deprivation_decile".to_owned(),
        },
        _ => Key::text(member_sql(dimension)),
    }
}

/// The response's stored category as a grouping key over `responses s`.
pub(crate) fn response_key(dimension: ReportDimension) -> Key {
    match dimension {
        ReportDimension::DeprivationDecile => Key {
            select: response_sql(dimension).to_owned(),
            group: "s.deprivation_decile".to_owned(),
        },
        _ => Key::text(response_sql(dimension)),
    }
}

/// The response's stored category in SQL over `responses s`.
fn response_sql(dimension: ReportDimension) -> &'static str {
    match dimension {
        ReportDimension::AgeBand => "s.age_band",
        ReportDimension::Sex => "s.sex",
        ReportDimension::EthnicGroup => "s.ethnic_group",
        ReportDimension::Disability => "s.disability",
        ReportDimension::Ward => "s.ward_code",
        ReportDimension::DeprivationDecile => "CAST(s.deprivation_decile AS TEXT)",
    }
}

/// A consultation's live (not revoked) invitations that delivery flagged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryFlags {
    /// Reported undeliverable.
    pub bounced: u64,
    /// Opened only by machines, never by a person.
    pub machine_opened_only: u64,
}

/// How many of a consultation's live invitations bounced, and how many were opened only by
/// machines.
pub async fn delivery_flags(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<DeliveryFlags> {
    let rows = query(
        db,
        format!(
            "SELECT COUNT(bounced_at), COALESCE(SUM({}), 0) \
             FROM invitations WHERE consultation_id = $1 AND revoked_at IS NULL",
            machine_opened_only()
        ),
        vec![id.get().into()],
    )
    .await?;
    match rows.first() {
        Some(row) => Ok(DeliveryFlags {
            bounced: count_of(row, 0)?,
            machine_opened_only: count_of(row, 1)?,
        }),
        None => Ok(DeliveryFlags::default()),
    }
}

/// The stages a day's tracking counts, each with the column of the time it was reached.
const TRACKED: [(Stage, &str); 5] = [
    (Stage::Sent, "sent_at"),
    (Stage::Opened, "opened_at"),
    (Stage::Clicked, "clicked_at"),
    (Stage::Started, "started_at"),
    (Stage::Completed, "completed_at"),
];

/// Invitations that first got at least as far as one stage on one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageDay {
    /// Which stage: 0 sent, 1 opened (by a person), 2 clicked, 3 started, 4 completed.
    pub stage: usize,
    /// The day (UTC) the earliest of the invitation's times at that stage or beyond fell on.
    pub day: NaiveDate,
    /// How many invitations got that far first on that day.
    pub invitations: u64,
}

/// A consultation's live invitations counted by the day each first got at least as far as
/// each tracked stage (the earliest of its times at that stage or beyond), in no order.
pub async fn stages_reached_by_day(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<Vec<StageDay>> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    let sql = (0..TRACKED.len())
        .map(|i| {
            let columns: Vec<&str> = TRACKED[i..].iter().map(|(_, c)| *c).collect();
            // The earliest of the times set: PostgreSQL's LEAST skips nulls; SQLite's min
            // does not (and with one argument is the aggregate), so a null stands for a
            // day after every other (timestamps are stored as ISO text there).
            let first = match (postgres, columns.as_slice()) {
                (_, [one]) => (*one).to_owned(),
                (true, many) => format!("LEAST({})", many.join(", ")),
                (false, many) => {
                    let padded: Vec<String> = many
                        .iter()
                        .map(|c| format!("COALESCE({c}, '9999')"))
                        .collect();
                    format!("NULLIF(min({}), '9999')", padded.join(", "))
                }
            };
            let day = if postgres {
                format!("CAST(({first} AT TIME ZONE 'UTC') AS DATE)")
            } else {
                format!("substr({first}, 1, 10)")
            };
            format!(
                "SELECT {i} AS k, CAST({day} AS TEXT) AS d, COUNT(*) AS n FROM invitations \
                 WHERE consultation_id = $1 AND revoked_at IS NULL AND {} = 1 \
                 AND {first} IS NOT NULL GROUP BY 2",
                reached(TRACKED[i].0)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = query(db, sql, vec![id.get().into()]).await?;
    let mut days = Vec::with_capacity(rows.len());
    for row in &rows {
        let k: i32 = row.try_get_by_index(0)?;
        let d: String = row.try_get_by_index(1)?;
        let Ok(day) = NaiveDate::parse_from_str(d.get(..10).unwrap_or(&d), "%Y-%m-%d") else {
            continue;
        };
        days.push(StageDay {
            stage: k as usize,
            day,
            invitations: count_of(row, 2)?,
        });
    }
    Ok(days)
}

/// One propensity cell: the live invitations whose members share a category on every
/// dimension asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationCell {
    /// The members' category on each dimension, in the order asked for (`None` unknown).
    pub categories: Vec<Option<String>>,
    /// How many invitations the cell holds.
    pub invited: u64,
    /// How many of them were completed.
    pub completed: u64,
}

/// A consultation's live invitations counted by their members' cells of `dimensions`
/// (ages on `day`), invited and completed: one grouped statement.
pub async fn invitations_by_cell(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    day: NaiveDate,
    dimensions: &[ReportDimension],
) -> AppResult<Vec<InvitationCell>> {
    let mut values: Vec<Value> = vec![id.get().into()];
    if dimensions.contains(&ReportDimension::AgeBand) {
        values.extend(age_cutoffs(day));
    }
    let select: Vec<String> = dimensions.iter().map(|d| member_sql(*d)).collect();
    let groups: Vec<String> = (1..=dimensions.len()).map(|i| i.to_string()).collect();
    let rows = query(
        db,
        format!(
            "SELECT {}, COUNT(*), COUNT(i.completed_at) FROM invitations i \
             JOIN residents r ON r.id = i.resident_id \
             WHERE i.consultation_id = $1 AND i.revoked_at IS NULL GROUP BY {}",
            select.join(", "),
            groups.join(", ")
        ),
        values,
    )
    .await?;
    let mut cells = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut categories = Vec::with_capacity(dimensions.len());
        for k in 0..dimensions.len() {
            categories.push(row.try_get_by_index(k)?);
        }
        cells.push(InvitationCell {
            categories,
            invited: count_of(row, dimensions.len())?,
            completed: count_of(row, dimensions.len() + 1)?,
        });
    }
    Ok(cells)
}

/// A stored profile, its six values in [`ReportDimension::ALL`] order (`None` where not
/// given), and how many responses have it.
pub type ProfileCount = ([Option<String>; 6], u64);

/// Every response of a consultation counted by its stored profile (one grouped statement,
/// read from the responses' profile index).
pub async fn responses_by_profile(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<Vec<ProfileCount>> {
    let columns: Vec<&str> = ReportDimension::ALL
        .iter()
        .map(|d| response_sql(*d))
        .collect();
    let rows = query(
        db,
        format!(
            "SELECT {}, COUNT(*) FROM responses s WHERE s.consultation_id = $1 \
             GROUP BY 1, 2, 3, 4, 5, 6",
            columns.join(", ")
        ),
        vec![id.get().into()],
    )
    .await?;
    let mut profiles = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values: [Option<String>; 6] = Default::default();
        for (k, value) in values.iter_mut().enumerate() {
            *value = row.try_get_by_index(k)?;
        }
        profiles.push((values, count_of(row, 6)?));
    }
    Ok(profiles)
}

/// The SQL of a weighting cell over `responses s` (a leading comma before each column,
/// nothing for no dimension) and its `GROUP BY` positions from `first`.
fn cell_sql(dims: &[ReportDimension], first: usize) -> (String, String) {
    let select: String = dims
        .iter()
        .map(|d| format!(", {}", response_sql(*d)))
        .collect();
    let group: String = (first..first + dims.len())
        .map(|i| format!(", {i}"))
        .collect();
    (select, group)
}

/// A weighting cell's stored values: `dims` columns of `row` from `from`.
fn cell_of(
    row: &sea_orm::QueryResult,
    from: usize,
    dims: &[ReportDimension],
) -> AppResult<Vec<Option<String>>> {
    (0..dims.len())
        .map(|k| Ok(row.try_get_by_index(from + k)?))
        .collect()
}

/// Answers that chose one option (or scale value) at one rank, from one part of the
/// consultation's respondents in one weighting cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerCell {
    /// The key of the question answered.
    pub question: String,
    /// The option key, or the scale value as text.
    pub option: String,
    /// The place a ranking gave it (only first places are counted); `None` unranked.
    pub rank: Option<i32>,
    /// Whether the responses came through the open link rather than an invitation.
    pub open: bool,
    /// The responses' stored values on the weighting dimensions, in their order.
    pub cell: Vec<Option<String>>,
    /// How many such answers there are.
    pub answers: u64,
}

/// A consultation's answers that chose an option or a scale value (a ranking's first
/// place only) counted by question, option, rank, open link or not and weighting cell of
/// `dims`: one grouped statement.
pub async fn answers_by_cell(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    dims: &[ReportDimension],
) -> AppResult<Vec<AnswerCell>> {
    let (cell, group) = cell_sql(dims, 5);
    let rows = query(
        db,
        format!(
            "SELECT a.question_key, COALESCE(a.option_key, CAST(a.scale AS TEXT)), a.rank, \
               CASE WHEN s.channel = 'qr' THEN 1 ELSE 0 END{cell}, COUNT(*) \
             FROM answers a JOIN responses s ON s.id = a.response_id \
             WHERE s.consultation_id = $1 AND (a.option_key IS NOT NULL OR a.scale IS NOT NULL) \
               AND (a.rank IS NULL OR a.rank = 1) \
             GROUP BY 1, 2, 3, 4{group}"
        ),
        vec![id.get().into()],
    )
    .await?;
    let mut cells = Vec::with_capacity(rows.len());
    for row in &rows {
        let open: i32 = row.try_get_by_index(3)?;
        cells.push(AnswerCell {
            question: row.try_get_by_index(0)?,
            option: row
                .try_get_by_index::<Option<String>>(1)?
                .unwrap_or_default(),
            rank: row.try_get_by_index(2)?,
            open: open == 1,
            cell: cell_of(row, 4, dims)?,
            answers: count_of(row, 4 + dims.len())?,
        });
    }
    Ok(cells)
}

/// The respondents who answered one question, from one part of the consultation's
/// respondents in one weighting cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnsweredCell {
    /// The key of the question answered.
    pub question: String,
    /// Whether the responses came through the open link rather than an invitation.
    pub open: bool,
    /// The responses' stored values on the weighting dimensions, in their order.
    pub cell: Vec<Option<String>>,
    /// How many responses answered it (each counted once, whatever it ticked).
    pub respondents: u64,
}

/// The responses of a consultation that answered each of `questions` (keys), counted by
/// question, open link or not and weighting cell of `dims`: one grouped statement (none
/// for no question).
pub async fn respondents_answering_by_cell(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    dims: &[ReportDimension],
    questions: &[&str],
) -> AppResult<Vec<AnsweredCell>> {
    if questions.is_empty() {
        return Ok(Vec::new());
    }
    let (cell, group) = cell_sql(dims, 3);
    let keys: Vec<String> = (0..questions.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let mut values: Vec<Value> = vec![id.get().into()];
    values.extend(questions.iter().map(|key| (*key).to_owned().into()));
    let rows = query(
        db,
        format!(
            "SELECT a.question_key, CASE WHEN s.channel = 'qr' THEN 1 ELSE 0 END{cell}, \
               COUNT(DISTINCT a.response_id) \
             FROM answers a JOIN responses s ON s.id = a.response_id \
             WHERE s.consultation_id = $1 AND a.question_key IN ({}) GROUP BY 1, 2{group}",
            keys.join(", ")
        ),
        values,
    )
    .await?;
    let mut cells = Vec::with_capacity(rows.len());
    for row in &rows {
        let open: i32 = row.try_get_by_index(1)?;
        cells.push(AnsweredCell {
            question: row.try_get_by_index(0)?,
            open: open == 1,
            cell: cell_of(row, 2, dims)?,
            respondents: count_of(row, 2 + dims.len())?,
        });
    }
    Ok(cells)
}

/// The scale answers to one question in the latest earlier round of a series that has
/// responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousRound {
    /// The earlier round (a consultation of the same series).
    pub consultation: ConsultationId,
    /// Its title, as it is now.
    pub title: String,
    /// Each scale value answered, with how many answered it.
    pub scale: Vec<(i16, u64)>,
}

/// The answers to question `question` in the latest consultation of `series` before
/// `before` that has any response, by scale value; `None` when that round has no scale
/// answer to it (or there is no such round).
pub async fn previous_round_scale(
    db: &impl ConnectionTrait,
    series: ConsultationId,
    before: ConsultationId,
    question: &str,
) -> AppResult<Option<PreviousRound>> {
    let rows = query(
        db,
        "SELECT c.id, c.title, a.scale, COUNT(*) FROM consultations c \
         JOIN responses s ON s.consultation_id = c.id \
         JOIN answers a ON a.response_id = s.id \
         WHERE c.series_id = $1 AND c.id < $2 AND a.question_key = $3 AND a.scale IS NOT NULL \
           AND c.id = (SELECT MAX(p.id) FROM consultations p JOIN responses ps \
                         ON ps.consultation_id = p.id \
                       WHERE p.series_id = $1 AND p.id < $2) \
         GROUP BY 1, 2, 3"
            .to_owned(),
        vec![
            series.get().into(),
            before.get().into(),
            question.to_owned().into(),
        ],
    )
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let previous: i64 = first.try_get_by_index(0)?;
    let title: String = first.try_get_by_index(1)?;
    let mut scale = Vec::with_capacity(rows.len());
    for row in &rows {
        let v: i16 = row.try_get_by_index(2)?;
        scale.push((v, count_of(row, 3)?));
    }
    Ok(Some(PreviousRound {
        consultation: ConsultationId(previous),
        title,
        scale,
    }))
}

/// One group of a consultation's invitations: which key counted it ([`invitations_by_each`]
/// lists them), its category under that key, the stage reached and how many.
pub struct InvitedGroup {
    /// The key: a dimension of `ReportDimension::ALL` by position, then young (`1`) or not
    /// (`0`), then the invitation's channel.
    pub key: usize,
    /// The category as stored (none for unknown).
    pub category: Option<String>,
    /// The furthest stage reached, as stored.
    pub stage: String,
    /// Invitations in the group.
    pub count: u64,
}

/// A consultation's live invitations counted by each key at once, with the stage reached:
/// each dimension of `ReportDimension::ALL` (the member's profile on `day`), whether the
/// member was aged `low` to `high` on `day` (no `high`: `low` and over), and the channel.
pub async fn invitations_by_each(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    day: NaiveDate,
    (low, high): (u32, Option<u32>),
) -> AppResult<Vec<InvitedGroup>> {
    let mut values: Vec<Value> = vec![id.get().into()];
    values.extend(age_cutoffs(day));
    // Young: born on or before the day they turned `low`, and after the day they would
    // have turned `high + 1` (parameters after the age cut-offs).
    let first = values.len() + 1;
    let young_sql = match high {
        Some(high) => {
            values.push(born_by(day, low).into());
            values.push(born_by(day, high + 1).into());
            format!(
                "r.date_of_birth <= ${first} AND r.date_of_birth > ${}",
                first + 1
            )
        }
        None => {
            values.push(born_by(day, low).into());
            format!("r.date_of_birth <= ${first}")
        }
    };
    let mut member_keys: Vec<Key> = ReportDimension::ALL
        .iter()
        .map(|d| member_key(*d))
        .collect();
    member_keys.push(Key::text(format!(
        "CASE WHEN {young_sql} THEN '1' ELSE '0' END"
    )));
    member_keys.push(Key::text("i.channel"));
    let groups = count_by_each(
        db,
        &member_keys,
        &["i.stage"],
        "FROM invitations i JOIN residents r ON r.id = i.resident_id \
         WHERE i.consultation_id = $1 AND i.revoked_at IS NULL",
        values,
    )
    .await?;
    groups
        .iter()
        .map(|group| {
            Ok(InvitedGroup {
                key: group.key,
                category: group.category.clone(),
                stage: group.by(0)?,
                count: group.count(1)?,
            })
        })
        .collect()
}

/// One group of a consultation's open-link responses: the dimension of
/// `ReportDimension::ALL` that counted it (by position), its category and how many.
pub struct OpenGroup {
    /// The dimension, by its position in `ReportDimension::ALL`.
    pub key: usize,
    /// The category the respondent gave (none for unknown or not given).
    pub category: Option<String>,
    /// Responses in the group.
    pub count: u64,
}

/// A consultation's open-link responses counted by each dimension at once.
pub async fn open_responses_by_each(
    db: &impl ConnectionTrait,
    id: ConsultationId,
) -> AppResult<Vec<OpenGroup>> {
    let response_keys: Vec<Key> = ReportDimension::ALL
        .iter()
        .map(|d| response_key(*d))
        .collect();
    let groups = count_by_each(
        db,
        &response_keys,
        &[],
        "FROM responses s WHERE s.consultation_id = $1 AND s.channel = 'qr'",
        vec![id.get().into()],
    )
    .await?;
    groups
        .iter()
        .map(|group| {
            Ok(OpenGroup {
                key: group.key,
                category: group.category.clone(),
                count: group.count(0)?,
            })
        })
        .collect()
}
