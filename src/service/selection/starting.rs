//! Starting a selection: the request checked against the panel, its quotas and its seats,
//! and the job queued.

use super::*;

/// Longest time limit a run may ask for.
pub const MAX_TIME_LIMIT_SECONDS: i64 = 3_600;

/// Checks a selection request, builds its pool to check the quotas against it at once,
/// records the run and queues its job. Only one selection per panel runs at a time.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    request: SelectionRequest,
) -> AppResult<(Run, Job)> {
    caller.require(OFFICERS)?;
    let tickets = u32::try_from(request.tickets)
        .ok()
        .filter(|t| (1..=100_000).contains(t))
        .ok_or_else(|| {
            AppError::bad_input("input.tickets", "A lottery has 1 to 100,000 tickets.")
        })?;
    let greedy_runs = u32::try_from(request.greedy_runs)
        .ok()
        .filter(|r| (1..=100_000).contains(r))
        .ok_or_else(|| {
            AppError::bad_input(
                "input.greedyRuns",
                "Repeat the greedy method 1 to 100,000 times.",
            )
        })?;
    let time_limit = u32::try_from(request.time_limit_seconds)
        .ok()
        .filter(|t| (1..=MAX_TIME_LIMIT_SECONDS as u32).contains(t))
        .ok_or_else(|| {
            AppError::bad_input(
                "input.timeLimitSeconds",
                format!("The time limit is 1 to {MAX_TIME_LIMIT_SECONDS} seconds."),
            )
        })?;
    let seed = match request.seed.as_deref().map(str::trim) {
        Some(text) => text.parse::<u64>().map_err(|_| {
            AppError::bad_input("input.seed", "The seed is a whole number below 2^64.")
        })?,
        None => rand::random(),
    };
    let db = state.db.reader();
    let panel = panels::find_any(db, request.panel).await?;
    let features = panels::quotas(db, panel.id).await?;
    if features.is_empty() {
        return Err(AppError::bad_input(
            "input.panelId",
            "The panel has no quotas: set, import or derive them first.",
        ));
    }
    let now = state.clock.now();
    let pool = build_pool(db, &panel, features.clone(), now, request.top_up).await?;
    pool.instance
        .check()
        .map_err(|err| selection_error("input.panelId", err))?;
    let k = pool.instance.k;
    let quotas_csv = selection::quotas_csv(&features);
    let txn = state.db.writer().begin().await?;
    let row = selection_run::ActiveModel {
        panel_id: Set(panel.id),
        job_id: Set(None),
        top_up: Set(request.top_up),
        method: Set(request.method),
        seed: Set(seed.to_string()),
        k: Set(i32::try_from(k).unwrap_or(i32::MAX)),
        tickets: Set(i32::try_from(tickets).unwrap_or(1)),
        greedy_runs: Set(i32::try_from(greedy_runs).unwrap_or(1)),
        time_limit_seconds: Set(i32::try_from(time_limit).unwrap_or(60)),
        quotas: Set(quotas_csv),
        as_of: Set(now),
        pool_size: Set(None),
        summary: Set(None),
        lottery_file_id: Set(None),
        lottery_sha256: Set(None),
        distribution_file_id: Set(None),
        drawn_number: Set(None),
        draw_source: Set(None),
        drawn_by: Set(None),
        drawn_at: Set(None),
        created_by: Set(caller.account()),
        created_at: Set(now),
        seats_fingerprint: Set(None),
        seats_sitting: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let job = jobs::enqueue_in(
        &txn,
        state,
        jobs::Request {
            kind: JobKind::PanelSelection,
            payload: &SelectionJob { run_id: row.id },
            created_by: caller.account(),
            singleton_key: Some(format!("selection:panel:{}", panel.id)),
        },
    )
    .await
    .map_err(|err| match err {
        AppError::Conflict { .. } => AppError::conflict(
            "A selection for this panel is already queued or running; wait for it or cancel it.",
        ),
        other => other,
    })?;
    selection_run::Entity::update_many()
        .col_expr(
            selection_run::Column::JobId,
            sea_orm::sea_query::Expr::value(job.id.get()),
        )
        .filter(selection_run::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.work_queued.notify_one();
    tracing::info!(run_id = %row.id, panel_id = %panel.id, method = request.method.as_str(), k, pool = pool.instance.pool_size(), "selection queued");
    let run = find_any(state.db.reader(), row.id).await?;
    Ok((run, job))
}
