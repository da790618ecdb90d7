//! A panel's seats as a selection sees them, and when a computed selection no longer fits
//! the panel it was computed for.
//!
//! A selection run is computed against the panel as it then was: nobody sitting (a full
//! selection), or certain members sitting in certain households (a top-up, whose pool
//! leaves out those households and whose quotas count those members). Drawing it later is
//! only right if the panel is still as it was: another run drawn since, or a member who
//! has left since, would overfill the panel or break its quotas. The run therefore keeps
//! a fingerprint of the seats it was computed for, and the draw compares it with the seats
//! as they are, in the draw's own transaction.

use sha2::{Digest, Sha256};

/// The seats of a panel at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seats {
    /// Residents holding a seat (selected, active or paused), sorted.
    pub sitting: Vec<i64>,
    /// Their households, sorted, each once.
    pub households: Vec<String>,
    /// Every run of the panel drawn so far, sorted.
    pub drawn_runs: Vec<i64>,
}

impl Seats {
    /// The seats, put in order.
    pub fn new(
        mut sitting: Vec<i64>,
        mut households: Vec<String>,
        mut drawn_runs: Vec<i64>,
    ) -> Self {
        sitting.sort_unstable();
        sitting.dedup();
        households.sort_unstable();
        households.dedup();
        drawn_runs.sort_unstable();
        drawn_runs.dedup();
        Self {
            sitting,
            households,
            drawn_runs,
        }
    }

    /// How many sit.
    pub fn count(&self) -> u32 {
        u32::try_from(self.sitting.len()).unwrap_or(u32::MAX)
    }

    /// SHA-256 (hex) of the seats written one fact per line under a versioned heading, so
    /// equal seats always give the same fingerprint.
    pub fn fingerprint(&self) -> String {
        let mut text = String::from("civic-panel-seats/1\n");
        for id in &self.sitting {
            text.push_str(&format!("sitting {id}\n"));
        }
        for household in &self.households {
            text.push_str(&format!("household {household}\n"));
        }
        for run in &self.drawn_runs {
            text.push_str(&format!("drawn {run}\n"));
        }
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// What a run recorded of the seats when it was computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComputedFor {
    /// [`Seats::fingerprint`] then.
    pub fingerprint: String,
    /// How many sat then.
    pub sitting: u32,
}

/// Why a run computed for `then` may no longer be drawn on the panel as it is `now`, or
/// `None` when it still fits. A full selection fits only a panel nobody sits on and on
/// which nothing has been drawn since; a top-up only the very seats and households it was
/// computed for. A run that recorded nothing (computed before seats were recorded) fits
/// only as a full selection of an empty panel.
pub fn superseded(top_up: bool, then: Option<&ComputedFor>, now: &Seats) -> Option<String> {
    let Some(then) = then else {
        return match (top_up, now.count()) {
            (false, 0) => None,
            (false, n) => Some(format!(
                "{n} members now sit on the panel; start a top-up instead."
            )),
            (true, _) => Some(
                "This top-up was computed before the panel's seats were recorded with it; start a new top-up."
                    .to_owned(),
            ),
        };
    };
    if then.fingerprint == now.fingerprint() {
        return None;
    }
    Some(if !top_up && now.count() > 0 {
        format!(
            "{} members now sit on the panel (another selection was drawn after this one was computed); start a top-up instead.",
            now.count()
        )
    } else if !top_up {
        "Another selection of this panel was drawn after this one was computed; start a new selection."
            .to_owned()
    } else {
        format!(
            "The panel's seats have changed since this top-up was computed ({} sitting then, {} now, or other members or households); start a new top-up.",
            then.sitting,
            now.count()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(sitting: &[i64], households: &[&str], drawn: &[i64]) -> Seats {
        Seats::new(
            sitting.to_vec(),
            households.iter().map(|h| (*h).to_owned()).collect(),
            drawn.to_vec(),
        )
    }

    fn computed_for(seats: &Seats) -> ComputedFor {
        ComputedFor {
            fingerprint: seats.fingerprint(),
            sitting: seats.count(),
        }
    }

    #[test]
    fn the_fingerprint_does_not_depend_on_the_order_the_seats_were_read_in() {
        assert_eq!(
            seats(&[3, 1, 2], &["b", "a", "a"], &[9, 4]).fingerprint(),
            seats(&[1, 2, 3], &["a", "b"], &[4, 9]).fingerprint()
        );
        assert_ne!(
            seats(&[1, 2], &["a"], &[]).fingerprint(),
            seats(&[1, 2], &["b"], &[]).fingerprint()
        );
    }

    #[test]
    fn a_full_selection_fits_only_the_empty_panel_it_was_computed_for() {
        let empty = seats(&[], &[], &[]);
        let then = computed_for(&empty);
        assert_eq!(superseded(false, Some(&then), &empty), None);
        let drawn = seats(&[1, 2], &["a", "b"], &[7]);
        let why = superseded(false, Some(&then), &drawn).expect("superseded");
        assert!(why.contains("2 members now sit"), "{why}");
        // Everyone drawn since has left again: still not the panel it was computed for.
        let left = seats(&[], &[], &[7]);
        let why = superseded(false, Some(&then), &left).expect("superseded");
        assert!(why.contains("Another selection"), "{why}");
    }

    #[test]
    fn a_top_up_fits_only_the_seats_and_households_it_was_computed_for() {
        let sitting = seats(&[1, 2, 3], &["a", "b", "c"], &[7]);
        let then = computed_for(&sitting);
        assert_eq!(superseded(true, Some(&then), &sitting), None);
        let topped_up = seats(&[1, 2, 3, 4], &["a", "b", "c", "d"], &[7, 8]);
        let why = superseded(true, Some(&then), &topped_up).expect("superseded");
        assert!(why.contains("3 sitting then, 4 now"), "{why}");
        let one_left = seats(&[1, 2], &["a", "b"], &[7]);
        assert!(superseded(true, Some(&then), &one_left).is_some());
    }

    #[test]
    fn a_run_that_recorded_no_seats_is_drawn_only_as_a_full_selection_of_an_empty_panel() {
        assert_eq!(superseded(false, None, &seats(&[], &[], &[3])), None);
        assert!(superseded(false, None, &seats(&[1], &["a"], &[3])).is_some());
        assert!(superseded(true, None, &seats(&[1], &["a"], &[3])).is_some());
    }
}
