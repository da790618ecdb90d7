//! The two fair methods, maximin and leximin, as the rest of the code calls them.

use super::*;

/// The maximin distribution (see the module documentation), within `limit`.
pub fn maximin(instance: &Instance, limit: Duration) -> Result<Distribution, SelectionError> {
    maximin_stoppable(instance, limit, &AtomicBool::new(false))
}

/// [`maximin`], stopping with [`SelectionError::Stopped`] soon after `stop` is set (the
/// server sets it when a selection job is cancelled).
pub fn maximin_stoppable(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    maximin_within(instance, limit, stop).map_err(|error| overall(error, limit))
}

/// [`maximin`], with a time limit reported as the part's that reached it.
pub(super) fn maximin_within(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    let mut solver = Solver::new(instance, limit, stop)?;
    let goals = vec![Goal::Raise(0.0); instance.types.len()];
    let (lowest, _) = solver.stage(&goals, None)?;
    solver.distribution(&vec![lowest - FLOOR_SLACK; instance.types.len()])
}

/// The leximin distribution, within `limit`: the lowest selection probability as high as
/// possible, then the second lowest, and so on (Flanigan et al., 2021).
///
/// First the leximin of the panels' linear relaxation ([`Instance::relaxed_leximin`]),
/// which no distribution can beat; then panels whose hull comes near it, by the nearest
/// point of the hull to it ([`Solver::nearest_to`]), and from them a distribution giving
/// every type at least that relaxed probability less a margin, the margin as small as
/// column generation can make it. On pools like councils' it reaches the relaxation, and
/// is then the leximin. If it cannot, the leximin is found a level at a time: each stage
/// solves a maximin over the types not yet fixed, keeping the fixed ones at their values,
/// and fixes the types whose dual weight is positive: no distribution can give them more
/// without giving someone fixed less.
pub fn leximin(instance: &Instance, limit: Duration) -> Result<Distribution, SelectionError> {
    leximin_stoppable(instance, limit, &AtomicBool::new(false))
}

/// [`leximin`], stopping with [`SelectionError::Stopped`] soon after `stop` is set.
pub fn leximin_stoppable(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    leximin_within(instance, limit, stop).map_err(|error| overall(error, limit))
}

/// [`leximin`], with a time limit reported as the part's that reached it.
pub(super) fn leximin_within(
    instance: &Instance,
    limit: Duration,
    stop: &AtomicBool,
) -> Result<Distribution, SelectionError> {
    let mut solver = Solver::new(instance, limit, stop)?;
    let relaxed = instance.relaxed_leximin(solver.remaining()?)?;
    let types = instance.types.len() as f64;
    if let Some(weights) = solver.nearest_to(&relaxed, CLOSE_SCALE / (types * types))? {
        return solver.spread(weights);
    }
    // No distribution gives everyone more than the relaxation: the margin is at most 0.
    let (margin, _, weights) = solver.raised_stage(&relaxed, Some(0.0))?;
    if margin >= -REACHED {
        return solver.spread(weights);
    }
    let mut floors: Vec<Option<f64>> = vec![None; instance.types.len()];
    while floors.iter().any(Option::is_none) {
        let goals: Vec<Goal> = floors
            .iter()
            .map(|f| f.map_or(Goal::Raise(0.0), Goal::Keep))
            .collect();
        let (lowest, weights) = solver.stage(&goals, None)?;
        let mut fixed_any = false;
        for (floor, weight) in floors.iter_mut().zip(&weights) {
            if floor.is_none() && *weight > 1e-7 {
                *floor = Some(lowest - FLOOR_SLACK);
                fixed_any = true;
            }
        }
        if !fixed_any {
            // Degenerate duals: fix everyone left at the level reached.
            for floor in floors.iter_mut().filter(|f| f.is_none()) {
                *floor = Some(lowest - FLOOR_SLACK);
            }
        }
    }
    let floors: Vec<f64> = floors.into_iter().map(|f| f.unwrap_or(0.0)).collect();
    solver.distribution(&floors)
}

/// `error`, with a time limit reached by any part of a solve (each given what was left of
/// the whole) reported as `limit`, the limit that was set.
pub(super) fn overall(error: SelectionError, limit: Duration) -> SelectionError {
    match error {
        SelectionError::TimeLimit { .. } => SelectionError::TimeLimit {
            seconds: limit.as_secs(),
        },
        other => other,
    }
}
