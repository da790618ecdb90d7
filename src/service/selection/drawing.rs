//! The public draw: a run's lottery drawn with the numbers given, in the draw's own
//! transaction, refused when another run has seated the panel since; the lottery's text.

use super::*;

/// Where the drawn number comes from.
#[derive(Clone, Debug)]
pub enum DrawnNumber {
    /// A number drawn in public (dice, numbered balls), entered by the officer.
    Entered(i64),
    /// Public randomness (a national lottery's numbers, …), one source per entry, turned
    /// into a number by RFC 3797.
    Rfc3797(Vec<String>),
}

/// Records the public draw of a computed run: the ticket the number names becomes the
/// panel (members `selected`, each with a first event). Once per run.
pub async fn draw(
    state: &AppState,
    caller: &Caller,
    id: SelectionRunId,
    number: DrawnNumber,
) -> AppResult<Run> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    let run = find_any(db, id).await?;
    let Some(file) = run.lottery_file else {
        return Err(AppError::conflict(
            "The selection has not finished computing; wait for its job to succeed.",
        ));
    };
    if run.drawn_number.is_some() {
        return Err(AppError::conflict("This selection has already been drawn."));
    }
    let tickets = if run.method == Method::Greedy {
        1
    } else {
        run.tickets
    };
    let (ticket, source) = match number {
        DrawnNumber::Entered(n) => {
            let n = u32::try_from(n)
                .ok()
                .filter(|n| (1..=tickets).contains(n))
                .ok_or_else(|| {
                    AppError::bad_input(
                        "input.number",
                        format!("The number is from 1 to {tickets}."),
                    )
                })?;
            (n, "entered".to_owned())
        }
        DrawnNumber::Rfc3797(sources) => {
            let (key, n) = rfc3797_ticket(&sources, tickets).ok_or_else(|| {
                AppError::bad_input(
                    "input.randomSources",
                    "Give at least one source of public randomness, each with a number or letters.",
                )
            })?;
            (n, format!("rfc3797:{key}"))
        }
    };
    let text = String::from_utf8(files::read_all(db, file).await?).map_err(AppError::internal)?;
    let prefix = format!("{ticket}:");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("run {id}: ticket {ticket} missing")))?;
    let members: Vec<i64> = line[prefix.len()..]
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().map_err(AppError::internal))
        .collect::<AppResult<_>>()?;
    let panel = panels::find_any(db, run.panel_id).await?;
    let now = state.clock.now();
    let term_ends = now.checked_add_months(Months::new(panel.term_months));
    let txn = db.begin().await?;
    // Draws of one panel one at a time, so each sees the seats the one before it filled
    // (PostgreSQL; SQLite's one writer already runs them one at a time).
    locks::hold_until_commit(&txn, &format!("selection-draw:panel:{}", panel.id)).await?;
    // The guard on `drawn_number` makes the draw once only, even when two officers record
    // it at the same moment.
    let claimed = selection_run::Entity::update_many()
        .col_expr(
            selection_run::Column::DrawnNumber,
            sea_orm::sea_query::Expr::value(i32::try_from(ticket).unwrap_or(0)),
        )
        .col_expr(
            selection_run::Column::DrawSource,
            sea_orm::sea_query::Expr::value(source),
        )
        .col_expr(
            selection_run::Column::DrawnBy,
            sea_orm::sea_query::Expr::value(caller.account().map(AccountId::get)),
        )
        .col_expr(
            selection_run::Column::DrawnAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(selection_run::Column::Id.eq(id))
        .filter(selection_run::Column::DrawnNumber.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::conflict("This selection has already been drawn."));
    }
    // Read inside the transaction, after the claim: the seats the members are added to.
    let now_seats = seats::seats(&txn, panel.id, Some(id)).await?;
    if let Some(why) = superseded(run.top_up, run.computed_for.as_ref(), &now_seats) {
        return Err(AppError::conflict(format!(
            "This selection is superseded and cannot be drawn: {why}"
        )));
    }
    let reason = format!("Selected by selection run {id}, ticket {ticket} of {tickets}.");
    for resident in &members {
        let row = membership::ActiveModel {
            panel_id: Set(panel.id),
            resident_id: Set(crate::domain::ids::ResidentId(*resident)),
            run_id: Set(Some(id)),
            status: Set(MembershipStatus::Selected),
            selected_at: Set(now),
            term_ends_at: Set(term_ends),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|err| match AppError::from(err) {
            AppError::Conflict { .. } => AppError::conflict(
                "A resident on the drawn ticket already sits on the panel; start a new selection.",
            ),
            other => other,
        })?;
        membership_event::ActiveModel {
            membership_id: Set(row.id),
            from_status: Set(None),
            to_status: Set(MembershipStatus::Selected),
            reason: Set(Some(reason.clone())),
            by_account: Set(caller.account()),
            at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    tracing::info!(run_id = %id, ticket, members = members.len(), by = ?caller.account(), "selection drawn");
    find_any(state.db.reader(), id).await
}

/// Why a computed run may no longer be drawn (another run drawn since, or the seats it
/// was computed for changed), or `None` while it may; `None` too for a run drawn or not
/// yet computed. The draw refuses a superseded run with the same words.
pub async fn superseded_reason(
    state: &AppState,
    caller: &Caller,
    run: &Run,
) -> AppResult<Option<String>> {
    caller.require(OFFICERS)?;
    if run.drawn_number.is_some() || run.lottery_file.is_none() {
        return Ok(None);
    }
    let now = seats::seats(state.db.reader(), run.panel_id, None).await?;
    Ok(superseded(run.top_up, run.computed_for.as_ref(), &now))
}

/// The lottery's text (`civic-panel-lottery/1`), whose SHA-256 is the commitment.
pub async fn lottery_text(
    state: &AppState,
    caller: &Caller,
    run: &Run,
) -> AppResult<Option<String>> {
    caller.require(OFFICERS)?;
    let Some(file) = run.lottery_file else {
        return Ok(None);
    };
    let bytes = files::read_all(state.db.reader(), file).await?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(AppError::internal)
}
