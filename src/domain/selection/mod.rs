//! Choosing a panel from a pool of registrants against quotas, with every person's chance
//! of selection known.
//!
//! A pool of people, each with one value per feature (age band, sex, ward, …), quotas
//! giving each value a minimum and maximum number of panel members, and a panel size `k`
//! make an [`Instance`]. Two methods choose panels:
//!
//! - [`greedy`]: the "legacy" method citizens' assembly tools used, filling the most urgent
//!   quota one random person at a time. Its selection probabilities are not known in
//!   advance; [`estimate_greedy`] measures them by repeating it, which shows how unfairly it
//!   can treat some people.
//! - [`maximin`]: a probability distribution over quota-satisfying panels that makes the
//!   smallest selection probability of anyone in the pool as large as possible, after
//!   Flanigan, Gölz, Gupta, Hennig and Procaccia, "Fair algorithms for selecting citizens'
//!   assemblies", *Nature* 596 (2021) 548–552 (implemented from the paper); [`leximin`]
//!   then raises the second smallest as far as it can, and so on.
//!
//! People whose values are all the same are interchangeable: any fair distribution gives
//! them the same probability, so both methods work on *types* (groups of identical people)
//! and panels are *compositions* (how many of each type). An instance of 2,000 people with
//! two binary features has at most four types.
//!
//! Maximin is solved by column generation on the dual linear programme: with weights `y`
//! on types (summing to 1), the best response is the composition maximising
//! `Σ y_t c_t / n_t` (an integer programme over the quotas); while a composition beats the
//! current bound it is added and the weights solved again. The primal is then solved over
//! the compositions found, giving the distribution. Both programmes are solved with the
//! pure-Rust `microlp`, each with a time limit.
//!
//! Leximin starts from the leximin of the linear relaxation (compositions of fractional
//! people, a programme with a column per type), which no distribution can beat, and looks
//! for a distribution that reaches it: the nearest point to those probabilities in the
//! convex hull of the panels' probabilities, by Wolfe's minimum-norm-point algorithm
//! ([`lp::min_norm`]), which needs no master programme, only small affine ones, and
//! whose pricing panels come from a swap search and a branch and bound stopped early.
//! Wolfe's method creeps at the end, so once every type is close to its target, column
//! generation on the primal finishes from the panels it found, with the dense simplex of
//! [`lp::dense`] (a new panel is a column added to the current basis). If the
//! target cannot be reached, a maximin stage per probability level gives the leximin.
//!
//! People may be grouped in households, at most one of each on a panel: someone who shares
//! a household with another person in the pool is a type alone, and every panel counts at
//! most one of each household's types.

pub mod lp;
pub mod seats;
pub mod synthetic_pool;

mod fair;
mod files;
mod greedy;
mod instance;
mod lottery;
mod pricing;
mod relaxation;
mod solver;
#[cfg(test)]
mod tests;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use {fair::*, files::*, greedy::*, instance::*, lottery::*, pricing::*, relaxation::*, solver::*};

pub use fair::{leximin, leximin_stoppable, maximin, maximin_stoppable};
pub use files::{quotas_csv, read_people, read_people_in_households, read_quotas};
pub use greedy::{estimate_greedy, greedy};
pub use lottery::{Distribution, Lottery};

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use microlp::{ComparisonOp, OptimizationDirection, Problem};

crate::stored_names! {
    /// How a selection chooses its panel.
    #[derive(serde::Serialize, serde::Deserialize)]
    pub enum Method ("selection method") {
        /// Leximin: the lowest probability as high as it can be, then the next, and so on.
        Leximin = "leximin",
        /// Maximin: the lowest probability as high as it can be.
        Maximin = "maximin",
        /// The legacy greedy method, kept for comparison; its probabilities are estimated.
        Greedy = "greedy",
    }
}

use lp::dense::{DenseLp, LpError};
use lp::min_norm::MinNorm;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// One feature the quotas name, with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// Its name as the quota file writes it, e.g. `gender`.
    pub name: String,
    /// Its values, in the order the quota file lists them.
    pub values: Vec<String>,
    /// The bounds on each value's number of panel members, in `values` order.
    pub bounds: Vec<(u32, u32)>,
}

impl Feature {
    /// Each value's position in `values`, keyed as people's values are matched against
    /// it: trimmed and in lower case, so `Female`, ` female` and `FEMALE` are one value.
    pub fn value_positions(&self) -> HashMap<String, usize> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (files::normal(v), i))
            .collect()
    }
}

/// People with identical values for every feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    /// The value (index into the feature's `values`) of each feature.
    pub values: Vec<usize>,
    /// The people of this type, as positions in [`Instance::ids`].
    pub members: Vec<usize>,
}

/// A selection problem: the pool grouped into types, the quotas and the panel size.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// The features and their quotas.
    pub features: Vec<Feature>,
    /// Everyone's id, in the order of the people file.
    pub ids: Vec<String>,
    /// The pool grouped by values.
    pub types: Vec<Type>,
    /// Panel size.
    pub k: u32,
    /// Types (each of one person) whose people share a household, at most one of whom may
    /// be on a panel: one group per household of two or more in the pool.
    pub households: Vec<Vec<usize>>,
}

/// A panel as counts per type, in [`Instance::types`] order.
pub type Composition = Vec<u32>;

/// Why an instance cannot be built or solved.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SelectionError {
    /// A file is malformed.
    #[error("{file}: {message}")]
    File {
        /// `people` or `quotas`.
        file: &'static str,
        /// What is wrong, with the line.
        message: String,
    },
    /// The quotas cannot be met by any panel; each reason names the quotas at fault.
    #[error("no panel meets the quotas: {}", .reasons.join("; "))]
    Infeasible {
        /// Every conflict found.
        reasons: Vec<String>,
    },
    /// The solver ran out of time.
    #[error("the solver reached its time limit of {seconds} s")]
    TimeLimit {
        /// The limit.
        seconds: u64,
    },
    /// The solver failed.
    #[error("the solver failed: {0}")]
    Solver(String),
    /// Asked to stop before it finished.
    #[error("the selection was stopped")]
    Stopped,
}

/// One person in the pool: an id and the value (index into the feature's `values`) of each
/// feature, in the features' order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// How the person is known outside the selection (a registrant's id, a file's id).
    pub id: String,
    /// The index of the person's value for each feature.
    pub values: Vec<usize>,
    /// The person's household, if it matters: two people with the same one may not both
    /// be on a panel.
    pub household: Option<String>,
}
