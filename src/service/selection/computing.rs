//! The selection job: the fair distribution computed off the async threads, stored with its
//! files (the distribution, the lottery) and its report by value.

use super::*;

/// The computation's outcome.
pub(super) enum Outcome {
    Done {
        probabilities: Vec<f64>,
        lottery_probabilities: Vec<f64>,
        lottery_text: String,
        distribution_csv: String,
        sha256: String,
        summary: Summary,
    },
    Infeasible(Infeasibility),
}

/// The selection job's work: builds the pool as it was asked for, computes the
/// probabilities and the lottery on a blocking thread (cancellation answered within a
/// fraction of a second; the solver's own time limit ends the thread), then stores the
/// probabilities, the lottery and the summary in one short transaction.
pub async fn run(
    state: &AppState,
    input: &SelectionJob,
    progress: &Progress,
) -> AppResult<SelectionDone> {
    let db = state.db.reader();
    let run = find_any(db, input.run_id).await?;
    if run.summary.is_some() {
        return Ok(SelectionDone { run_id: run.id });
    }
    let panel = panels::find_any(db, run.panel_id).await?;
    let features = selection::read_quotas(run.quotas_csv.as_bytes())
        .map_err(|err| selection_error("quotas", err))?;
    progress.set_total(3);
    // The seats are read before the pool: a draw landing in between then makes the run
    // look superseded (refused, safe) rather than current (an overfilled panel).
    let computed_for = seats::seats(db, panel.id, None).await?;
    let pool = build_pool(db, &panel, features, run.as_of, run.top_up).await?;
    progress.set_done(1);
    progress.check()?;
    let (method, seed, tickets, greedy_runs) = (run.method, run.seed, run.tickets, run.greedy_runs);
    let limit = Duration::from_secs(u64::from(run.time_limit_seconds));
    let started = std::time::Instant::now();
    let instance = pool.instance.clone();
    let outcome = progress
        .run_blocking(move |stop| {
            compute(&instance, method, seed, tickets, greedy_runs, limit, stop)
        })
        .await?;
    progress.set_done(2);
    progress.check()?;
    let outcome = outcome.map_err(|err| selection_error("quotas", err))?;
    let now = state.clock.now();
    let db = state.db.writer();
    match outcome {
        Outcome::Infeasible(infeasibility) => {
            let stored = serde_json::to_string(&Stored::Infeasible(infeasibility.clone()))
                .map_err(AppError::internal)?;
            selection_run::Entity::update_many()
                .col_expr(
                    selection_run::Column::Summary,
                    sea_orm::sea_query::Expr::value(stored),
                )
                .col_expr(
                    selection_run::Column::PoolSize,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(pool.instance.pool_size()).unwrap_or(i32::MAX),
                    ),
                )
                .filter(selection_run::Column::Id.eq(run.id))
                .exec(db)
                .await?;
            Err(AppError::bad_input(
                "quotas",
                format!(
                    "No panel meets the quotas: {}. The run's suggestedQuotasCsv holds the smallest relaxation that works.",
                    infeasibility.reasons.join("; ")
                ),
            ))
        }
        Outcome::Done {
            probabilities,
            lottery_probabilities,
            lottery_text,
            distribution_csv,
            sha256,
            mut summary,
        } => {
            summary.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            summary.values = value_reports(&pool, &probabilities);
            let file = store_text(
                db,
                format!("selection-{}-lottery.txt", run.id),
                "text/plain; charset=utf-8",
                &lottery_text,
                run.created_by,
                now,
            )
            .await?;
            let distribution = store_text(
                db,
                format!("selection-{}-distribution.csv", run.id),
                "text/csv; charset=utf-8",
                &distribution_csv,
                run.created_by,
                now,
            )
            .await?;
            let stored = serde_json::to_string(&Stored::Computed(summary.clone()))
                .map_err(AppError::internal)?;
            let txn = db.begin().await?;
            selection_probability::Entity::delete_many()
                .filter(selection_probability::Column::RunId.eq(run.id))
                .exec(&txn)
                .await?;
            let rows: Vec<selection_probability::ActiveModel> = pool
                .instance
                .ids
                .iter()
                .zip(probabilities.iter().zip(&lottery_probabilities))
                .map(|(id, (&p, &l))| selection_probability::ActiveModel {
                    run_id: Set(run.id),
                    resident_id: Set(crate::domain::ids::ResidentId(id.parse().unwrap_or(0))),
                    probability: Set(p),
                    lottery_probability: Set(Some(l)),
                    ..Default::default()
                })
                .collect();
            for chunk in rows.chunks(1_000) {
                selection_probability::Entity::insert_many(chunk.to_vec())
                    .exec(&txn)
                    .await?;
            }
            selection_run::Entity::update_many()
                .col_expr(
                    selection_run::Column::Summary,
                    sea_orm::sea_query::Expr::value(stored),
                )
                .col_expr(
                    selection_run::Column::PoolSize,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(summary.pool_size).unwrap_or(i32::MAX),
                    ),
                )
                .col_expr(
                    selection_run::Column::LotteryFileId,
                    sea_orm::sea_query::Expr::value(file),
                )
                .col_expr(
                    selection_run::Column::LotterySha256,
                    sea_orm::sea_query::Expr::value(sha256),
                )
                .col_expr(
                    selection_run::Column::DistributionFileId,
                    sea_orm::sea_query::Expr::value(distribution),
                )
                .col_expr(
                    selection_run::Column::K,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(pool.instance.k).unwrap_or(i32::MAX),
                    ),
                )
                .col_expr(
                    selection_run::Column::SeatsFingerprint,
                    sea_orm::sea_query::Expr::value(computed_for.fingerprint()),
                )
                .col_expr(
                    selection_run::Column::SeatsSitting,
                    sea_orm::sea_query::Expr::value(
                        i32::try_from(computed_for.count()).unwrap_or(i32::MAX),
                    ),
                )
                .filter(selection_run::Column::Id.eq(run.id))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            progress.set_done(3);
            tracing::info!(run_id = %run.id, pool = summary.pool_size, minimum = summary.minimum, elapsed_ms = summary.elapsed_ms, "selection computed");
            Ok(SelectionDone { run_id: run.id })
        }
    }
}

/// Stores a selection's text (its lottery or its distribution) as a file kept for good.
pub(super) async fn store_text(
    db: &impl ConnectionTrait,
    name: String,
    content_type: &'static str,
    text: &str,
    created_by: Option<AccountId>,
    now: DateTime<Utc>,
) -> AppResult<FileId> {
    let file = files::create(
        db,
        NewFile {
            purpose: files::SELECTION_LOTTERY,
            name,
            content_type,
            job_id: None,
            created_by,
            expires_at: now + Months::new(12 * 100),
        },
        now,
    )
    .await?;
    if let Err(err) = files::write_all(db, file, text.as_bytes()).await {
        files::delete(db, file).await?;
        return Err(err);
    }
    Ok(file)
}

/// The fair distribution as CSV: one row per panel and type of person on it,
/// `panel,probability,<each feature>,count` (how many of the panel's members have those
/// values). Panels are numbered from 1 in the distribution's order.
pub(super) fn distribution_csv(instance: &Instance, distribution: &Distribution) -> String {
    let mut out = String::from("panel,probability");
    for feature in &instance.features {
        out.push(',');
        out.push_str(&csv_cell(&feature.name));
    }
    out.push_str(",count\n");
    for (number, (composition, p)) in distribution.panels.iter().enumerate() {
        for (t, &count) in composition.iter().enumerate().filter(|(_, c)| **c > 0) {
            out.push_str(&format!("{},{p:.9}", number + 1));
            for (f, &value) in instance.types[t].values.iter().enumerate() {
                out.push(',');
                out.push_str(&csv_cell(&instance.features[f].values[value]));
            }
            out.push_str(&format!(",{count}\n"));
        }
    }
    out
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
pub(super) fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The probabilities, the lottery and the summary of one run (CPU work, no database).
pub(super) fn compute(
    instance: &Instance,
    method: Method,
    seed: u64,
    tickets: u32,
    greedy_runs: u32,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Outcome, SelectionError> {
    let solved = match method {
        Method::Leximin => selection::leximin_stoppable(instance, limit, stop),
        Method::Maximin => selection::maximin_stoppable(instance, limit, stop),
        Method::Greedy => greedy_distribution(instance, seed, greedy_runs),
    };
    let distribution = match solved {
        Ok(distribution) => distribution,
        Err(SelectionError::Infeasible { reasons }) => {
            let suggested = instance
                .relaxed_quotas(limit)
                .ok()
                .map(|features| selection::quotas_csv(&features));
            return Ok(Outcome::Infeasible(Infeasibility {
                reasons,
                suggested_quotas: suggested,
            }));
        }
        Err(other) => return Err(other),
    };
    let probabilities = distribution.person_probabilities(instance);
    let (lottery, greedy_tickets) = match method {
        Method::Greedy => (None, Some(distribution.draw(instance, seed))),
        _ => (Some(distribution.lottery(instance, tickets, seed)), None),
    };
    let (lottery_probabilities, text, sha256, shift) = match (&lottery, greedy_tickets) {
        (Some(lottery), _) => (
            lottery.person_probabilities(instance),
            lottery.text(instance),
            lottery.sha256.clone(),
            lottery.largest_shift,
        ),
        (None, Some(panel)) => {
            let single = selection::Lottery {
                tickets: vec![panel],
                sha256: String::new(),
                largest_shift: 0.0,
            };
            let text = single.text(instance);
            let sha256 = {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(text.as_bytes()))
            };
            (
                single.person_probabilities(instance),
                text,
                sha256,
                f64::NAN,
            )
        }
        (None, None) => return Err(SelectionError::Solver("no lottery was made".to_owned())),
    };
    let mut sorted = probabilities.clone();
    sorted.sort_by(f64::total_cmp);
    let summary = Summary {
        pool_size: u32::try_from(instance.pool_size()).unwrap_or(u32::MAX),
        types: u32::try_from(instance.types.len()).unwrap_or(u32::MAX),
        panels: u32::try_from(distribution.panels.len()).unwrap_or(u32::MAX),
        minimum: sorted.first().copied().unwrap_or(0.0),
        median: median(&sorted),
        maximum: sorted.last().copied().unwrap_or(0.0),
        largest_shift: if shift.is_finite() { shift } else { 0.0 },
        elapsed_ms: 0,
        values: Vec::new(),
    };
    Ok(Outcome::Done {
        distribution_csv: distribution_csv(instance, &distribution),
        probabilities,
        lottery_probabilities,
        lottery_text: text,
        sha256,
        summary,
    })
}

/// The greedy method as a distribution: probabilities estimated from `runs` repetitions,
/// and one panel, the run drawn with `seed`, to draw from.
pub(super) fn greedy_distribution(
    instance: &Instance,
    seed: u64,
    runs: u32,
) -> Result<Distribution, SelectionError> {
    let type_probabilities = estimate_greedy(instance, runs, seed)?;
    let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(seed);
    let composition = (0..runs.max(1))
        .find_map(|_| selection::greedy(instance, &mut rng))
        .ok_or_else(|| SelectionError::Infeasible {
            reasons: vec!["the greedy method got stuck on every run".to_owned()],
        })?;
    Ok(Distribution {
        panels: vec![(composition, 1.0)],
        type_probabilities,
    })
}

pub(super) fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Per category value: quotas, sitting members, pool count and probabilities.
pub(super) fn value_reports(pool: &Pool, probabilities: &[f64]) -> Vec<ValueReport> {
    let instance = &pool.instance;
    let mut reports = Vec::new();
    for (f, feature) in instance.features.iter().enumerate() {
        for (v, value) in feature.values.iter().enumerate() {
            let mut ps: Vec<f64> = instance
                .types
                .iter()
                .filter(|t| t.values[f] == v)
                .flat_map(|t| t.members.iter().map(|&m| probabilities[m]))
                .collect();
            ps.sort_by(f64::total_cmp);
            reports.push(ValueReport {
                feature: feature.name.clone(),
                value: value.clone(),
                min: feature.bounds[v].0,
                max: feature.bounds[v].1,
                sitting: pool.sitting[f][v],
                pool: u32::try_from(ps.len()).unwrap_or(u32::MAX),
                selected: None,
                population_share: None,
                probability_min: ps.first().copied().unwrap_or(0.0),
                probability_median: median(&ps),
                probability_max: ps.last().copied().unwrap_or(0.0),
            });
        }
    }
    reports
}
