//! The linear programming the fair selection needs, written for it: a dense simplex
//! for the column generation's master programme, and Wolfe's minimum-norm point.

pub mod dense;
pub mod min_norm;
