//! Secondary suppression that loses least: which shown items to hide beside the small
//! ones so that the attack leaves every hidden item a range at least the threshold wide.
//!
//! For a hidden item the attack still narrows, a pair of *moves* is sought: changes of
//! the base cells that keep every count at least zero and every link true, one raising
//! the weak item and one lowering it, the threshold apart between them, changing as
//! little of what is shown as they can, each shown item changed costing what hiding it
//! loses ([`Costs`]). That is one linear programme (the least-cost search of Kelly,
//! Golden and Assad 1992, and of τ-ARGUS), first over the cells of the weak item's own
//! tables with every part total kept (so no total is touched while a cell or group beside
//! it can move instead), and only when no such moves exist over the whole report. The
//! items the moves change are hidden: both moves are then points the attacker cannot
//! rule out, so the weak item's range is at least the threshold wide by construction.
//! Every point found, by a move or by the attack's own programmes, also proves wide any
//! hidden item it moves by the threshold or more, so most hidden items need no programme
//! of their own. Where most of the items attacked in one component come out weak (tables
//! whose columns pin little, such as a panel's), the rest go straight to the search for
//! moves, which answers the same question (moves that change nothing shown prove an item
//! wide). Hiding more only widens ranges, so an item once proven wide is never attacked
//! again. Nothing depends on time: the same report always gets the same
//! protection.

use std::collections::HashMap;

use microlp::{ComparisonOp, OptimizationDirection, Problem};

use super::presolve::{Model, Point};
use super::{DisclosureError, Report};

/// What hiding each item costs, and where a partner is looked for first.
#[derive(Clone, Debug, PartialEq)]
pub struct Costs {
    /// Per item: the information lost by hiding it, per unit it moves (see
    /// [`Costs::tiered`]).
    pub item: Vec<f64>,
    /// Per base cell: the block it belongs to (a table, or the tables of one question).
    /// A weak item's partners are looked for among the cells of its own blocks, with
    /// every cell outside them (the part totals a population's tables share) kept, and
    /// only when no move exists there, over the whole report.
    pub block: Vec<Option<usize>>,
}

/// How much an item says, for its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// A cell of a table.
    Cell,
    /// A sum of rows (who answered, promoters, …).
    Group,
    /// A column total: the report's headline figures.
    Total,
}

impl Costs {
    /// Costs by tier, a cell costing from 1 (a zero) to 2 (the largest count), a group
    /// eight times as much, a total a thousand times: a group is hidden only when no
    /// handful of cells will do, a total only when nothing else can move. A figure shown
    /// in several tables is an item in each, so it costs that much more.
    pub fn tiered(report: &Report, tiers: &[Tier], block: Vec<Option<usize>>) -> Self {
        let values: Vec<u64> = (0..report.items.len()).map(|i| report.value(i)).collect();
        let largest = values.iter().copied().max().unwrap_or(0) as f64 + 1.0;
        let item = tiers
            .iter()
            .zip(&values)
            .map(|(tier, &v)| {
                let factor = match tier {
                    Tier::Cell => 1.0,
                    Tier::Group => 8.0,
                    Tier::Total => 1_000.0,
                };
                factor * (1.0 + v as f64 / largest)
            })
            .collect();
        Self { item, block }
    }
}

/// Per item, how far below and above its true value the points found so far take it.
struct Spread {
    below: Vec<f64>,
    above: Vec<f64>,
    /// Cell → the items holding it.
    items_of: Vec<Vec<usize>>,
}

impl Spread {
    fn new(report: &Report) -> Self {
        let mut items_of = vec![Vec::new(); report.cells.len()];
        for (i, cells) in report.items.iter().enumerate() {
            for &c in cells {
                items_of[c].push(i);
            }
        }
        let n = report.items.len();
        Self {
            below: vec![0.0; n],
            above: vec![0.0; n],
            items_of,
        }
    }

    fn record(&mut self, point: &Point) {
        let mut moved: HashMap<usize, f64> = HashMap::new();
        for &(c, d) in point {
            for &i in &self.items_of[c] {
                *moved.entry(i).or_default() += d;
            }
        }
        for (i, d) in moved {
            self.below[i] = self.below[i].min(d);
            self.above[i] = self.above[i].max(d);
        }
    }

    fn unbounded(&mut self, item: usize) {
        self.above[item] = f64::INFINITY;
    }

    /// Whether the whole numbers between the lowest and highest values seen are at least
    /// `threshold` apart (true values are whole numbers).
    fn wide(&self, item: usize, threshold: u64) -> bool {
        (self.above[item] + 1e-6).floor() - (self.below[item] - 1e-6).ceil() >= threshold as f64
    }
}

/// Items with the same cells are one figure (a total every table of a population
/// shows): hidden together.
fn figures(report: &Report) -> Vec<Vec<usize>> {
    let mut by_cells: HashMap<Vec<usize>, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (i, cells) in report.items.iter().enumerate() {
        let mut key = cells.clone();
        key.sort_unstable();
        let entry = by_cells.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(i);
    }
    let mut same = vec![Vec::new(); report.items.len()];
    for key in order {
        let items = &by_cells[&key];
        for &i in items {
            same[i] = items.clone();
        }
    }
    same
}

/// Which items to hide so that no count from 1 to `threshold − 1` is shown and no
/// hidden item can be narrowed to a range less than `threshold` wide, hiding what loses
/// least by `costs`. Zeros are shown unless needed beside a small count.
pub fn protect(
    report: &Report,
    costs: &Costs,
    threshold: u64,
) -> Result<Vec<bool>, DisclosureError> {
    let n = report.items.len();
    let same = figures(report);
    let mut suppressed = vec![false; n];
    for (i, figure) in same.iter().enumerate() {
        let v = report.value(i);
        if v > 0 && v < threshold {
            for &j in figure {
                suppressed[j] = true;
            }
        }
    }
    let mut spread = Spread::new(report);
    loop {
        let model = Model::new(report, &suppressed);
        let mut weak = Vec::new();
        // Per component: items attacked, and how many of them came out weak.
        let mut tries: HashMap<Vec<usize>, (usize, usize)> = HashMap::new();
        for (i, &hidden) in suppressed.iter().enumerate() {
            if !hidden || spread.wide(i, threshold) {
                continue;
            }
            // Where most hidden items the attack has tried in a component came out weak,
            // its two programmes per item are wasted: the search for moves answers the
            // same question (moves that change nothing shown prove the item wide) and
            // finds partners when the item is weak.
            let key = model.components(i);
            let (tried, found_weak) = tries.get(&key).copied().unwrap_or((0, 0));
            if tried >= 4 && 2 * found_weak > tried {
                weak.push(i);
                continue;
            }
            for direction in [
                OptimizationDirection::Maximize,
                OptimizationDirection::Minimize,
            ] {
                match model.bound(i, direction)? {
                    (_, Some(point)) => spread.record(&point),
                    (_, None) => spread.unbounded(i),
                }
                if spread.wide(i, threshold) {
                    break;
                }
            }
            let stats = tries.entry(key).or_insert((0, 0));
            stats.0 += 1;
            if !spread.wide(i, threshold) {
                stats.1 += 1;
                weak.push(i);
            }
        }
        if weak.is_empty() {
            return Ok(suppressed);
        }
        for w in weak {
            if spread.wide(w, threshold) {
                continue;
            }
            match cheapest_move(report, costs, &suppressed, &spread.items_of, w, threshold)? {
                Some(points) => {
                    let mut changed: Vec<usize> = Vec::new();
                    for point in &points {
                        let mut moved: HashMap<usize, f64> = HashMap::new();
                        for &(c, d) in point {
                            for &i in &spread.items_of[c] {
                                *moved.entry(i).or_default() += d;
                            }
                        }
                        changed.extend(
                            moved
                                .into_iter()
                                .filter(|&(_, d)| d.abs() > 1e-7)
                                .map(|(i, _)| i),
                        );
                    }
                    changed.sort_unstable();
                    for i in changed {
                        for &j in &same[i] {
                            suppressed[j] = true;
                        }
                    }
                    for point in &points {
                        spread.record(point);
                    }
                }
                None => {
                    // No move at all, even with everything else hidden: hiding more cannot
                    // help. Not reached by the reports' tables (scaling every count up is
                    // always a move), but never loop.
                    tracing::warn!(item = w, "a hidden count cannot be widened");
                    spread.unbounded(w);
                }
            }
        }
    }
}

/// The cheapest pair of moves, one raising item `w` and one lowering it, by at least
/// `threshold` between them: within its blocks first, then over the whole report; `None`
/// when there is none.
fn cheapest_move(
    report: &Report,
    costs: &Costs,
    suppressed: &[bool],
    items_of: &[Vec<usize>],
    w: usize,
    threshold: u64,
) -> Result<Option<Vec<Point>>, DisclosureError> {
    let blocks: Vec<usize> = report.items[w]
        .iter()
        .filter_map(|&c| costs.block[c])
        .collect();
    let in_blocks: Vec<bool> = costs
        .block
        .iter()
        .map(|b| b.is_some_and(|b| blocks.contains(&b)))
        .collect();
    let everywhere = vec![true; report.cells.len()];
    for scope in [&in_blocks, &everywhere] {
        if !report.items[w].iter().any(|&c| scope[c]) {
            continue;
        }
        let found = moves_within(report, costs, suppressed, items_of, w, threshold, scope)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The least-cost pair of moves of the cells in `scope` (the rest kept), one raising
/// item `w` and the other lowering it, `threshold` apart, each keeping every count at
/// least zero and every link true; each shown item either changes costs its cost per
/// unit of the larger change.
fn moves_within(
    report: &Report,
    costs: &Costs,
    suppressed: &[bool],
    items_of: &[Vec<usize>],
    w: usize,
    threshold: u64,
    scope: &[bool],
) -> Result<Option<Vec<Point>>, DisclosureError> {
    use microlp::Variable;
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    let mut vars: HashMap<usize, [Variable; 2]> = HashMap::new();
    let mut cells = Vec::new();
    for (c, &inside) in scope.iter().enumerate() {
        if inside {
            let x = report.cells[c] as f64;
            let up = problem.add_var(0.0, (-x, f64::INFINITY));
            let down = problem.add_var(0.0, (-x, f64::INFINITY));
            vars.insert(c, [up, down]);
            cells.push(c);
        }
    }
    let terms_of = |cells: &[usize], side: usize, sign: f64| -> Vec<(Variable, f64)> {
        cells
            .iter()
            .filter_map(|c| vars.get(c).map(|v| (v[side], sign)))
            .collect()
    };
    // Every shown item with a cell in scope: its change either way costs.
    let mut touched: Vec<usize> = cells.iter().flat_map(|&c| items_of[c].clone()).collect();
    touched.sort_unstable();
    touched.dedup();
    for i in touched {
        if suppressed[i] || i == w {
            continue;
        }
        let u = problem.add_var(costs.item[i], (0.0, f64::INFINITY));
        for side in 0..2 {
            for sign in [1.0, -1.0] {
                let mut terms = vec![(u, 1.0)];
                terms.extend(terms_of(&report.items[i], side, sign));
                problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, 0.0);
            }
        }
    }
    for link in &report.links {
        let merged = link.merged();
        // Σ w·(x + d) ≥ 0: a move may use what the true values leave over.
        let slack: f64 = merged
            .iter()
            .map(|&(c, w)| w * report.cells[c] as f64)
            .sum();
        for side in 0..2 {
            let terms: Vec<(Variable, f64)> = merged
                .iter()
                .filter_map(|(c, w)| vars.get(c).map(|v| (v[side], *w)))
                .collect();
            if terms.is_empty() {
                continue;
            }
            if link.at_least {
                problem.add_constraint(terms.as_slice(), ComparisonOp::Ge, -slack);
            } else {
                problem.add_constraint(terms.as_slice(), ComparisonOp::Eq, 0.0);
            }
        }
    }
    let target = &report.items[w];
    problem.add_constraint(terms_of(target, 0, 1.0).as_slice(), ComparisonOp::Ge, 0.0);
    problem.add_constraint(terms_of(target, 1, -1.0).as_slice(), ComparisonOp::Ge, 0.0);
    let mut apart = terms_of(target, 0, 1.0);
    apart.extend(terms_of(target, 1, -1.0));
    problem.add_constraint(apart.as_slice(), ComparisonOp::Ge, threshold as f64);
    match problem.solve() {
        Ok(outcome) => {
            let solution = outcome
                .into_solution()
                .map_err(|_| DisclosureError("the solver stopped early".to_owned()))?;
            Ok(Some(
                (0..2)
                    .map(|side| {
                        cells
                            .iter()
                            .map(|&c| (c, solution.var_value(vars[&c][side])))
                            .filter(|(_, d)| d.abs() > 1e-9)
                            .collect()
                    })
                    .collect(),
            ))
        }
        Err(microlp::Error::Infeasible) => Ok(None),
        Err(other) => Err(DisclosureError(format!("{other:?}"))),
    }
}
