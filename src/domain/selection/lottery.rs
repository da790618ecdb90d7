//! Distributions over panels and the lottery that turns one into a panel drawn by tickets.

use super::*;

/// A probability distribution over panels, as compositions with their probabilities.
#[derive(Clone, Debug, PartialEq)]
pub struct Distribution {
    /// Compositions and their probabilities (positive, adding up to 1).
    pub panels: Vec<(Composition, f64)>,
    /// Each type's selection probability (the same for all its members).
    pub type_probabilities: Vec<f64>,
}

impl Distribution {
    /// Each person's selection probability, in [`Instance::ids`] order.
    pub fn person_probabilities(&self, instance: &Instance) -> Vec<f64> {
        let mut probabilities = vec![0.0; instance.pool_size()];
        for (t, p) in instance.types.iter().zip(&self.type_probabilities) {
            for &m in &t.members {
                probabilities[m] = *p;
            }
        }
        probabilities
    }

    /// The lowest selection probability of anyone in the pool.
    pub fn minimum(&self) -> f64 {
        self.type_probabilities
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }

    /// Draws a panel from the distribution with `seed`: a composition by its probability,
    /// then its members uniformly within each type. Returns positions in
    /// [`Instance::ids`], sorted.
    pub fn draw(&self, instance: &Instance, seed: u64) -> Vec<usize> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut point: f64 = rng.random();
        let mut chosen = &self.panels[self.panels.len() - 1].0;
        for (composition, p) in &self.panels {
            if point < *p {
                chosen = composition;
                break;
            }
            point -= p;
        }
        let mut panel = Vec::new();
        for (t, &count) in instance.types.iter().zip(chosen) {
            let picked = rand::seq::index::sample(&mut rng, t.members.len(), count as usize);
            panel.extend(picked.into_iter().map(|i| t.members[i]));
        }
        panel.sort_unstable();
        panel
    }
}

/// A distribution rounded to a uniform lottery over numbered tickets, each a panel, after
/// Flanigan, Kehne and Procaccia, "Fair Sortition Made Transparent" (NeurIPS 2021): the
/// final draw is a number from 1 to the number of tickets, which can be drawn in public.
#[derive(Clone, Debug, PartialEq)]
pub struct Lottery {
    /// Each ticket's panel, as positions in [`Instance::ids`], sorted; ticket `i` is
    /// `tickets[i - 1]`.
    pub tickets: Vec<Vec<usize>>,
    /// SHA-256 of [`Lottery::text`]: publish it before the draw, and nobody can change the
    /// tickets once the number is known.
    pub sha256: String,
    /// The largest change of anyone's selection probability from the distribution's.
    pub largest_shift: f64,
}

impl Lottery {
    /// The lottery as text: a first line naming the format, then one line per ticket,
    /// `number:id,id,…` with the ids in the order of the people file. Its SHA-256 is the
    /// commitment.
    pub fn text(&self, instance: &Instance) -> String {
        let mut text = String::from("civic-panel-lottery/1\n");
        for (number, ticket) in self.tickets.iter().enumerate() {
            text.push_str(&(number + 1).to_string());
            text.push(':');
            let ids: Vec<&str> = ticket.iter().map(|&p| instance.ids[p].as_str()).collect();
            text.push_str(&ids.join(","));
            text.push('\n');
        }
        text
    }

    /// Each person's probability of selection under the lottery, in [`Instance::ids`]
    /// order.
    pub fn person_probabilities(&self, instance: &Instance) -> Vec<f64> {
        let mut counts = vec![0u32; instance.pool_size()];
        for ticket in &self.tickets {
            for &person in ticket {
                counts[person] += 1;
            }
        }
        let tickets = self.tickets.len() as f64;
        counts.iter().map(|&c| f64::from(c) / tickets).collect()
    }
}

impl Distribution {
    /// Rounds the distribution to `tickets` equally likely panels: each composition gets
    /// its probability's share of the tickets, rounded by largest remainder, and each
    /// type's places on those tickets go round its members in a random order fixed by
    /// `seed`, so that every member holds as nearly the same number of tickets as the
    /// others.
    pub fn lottery(&self, instance: &Instance, tickets: u32, seed: u64) -> Lottery {
        let shares: Vec<(String, f64)> = self
            .panels
            .iter()
            .enumerate()
            .map(|(i, (_, p))| (format!("{i:08}"), *p))
            .collect();
        let counts =
            crate::domain::recruitment::sampling::largest_remainder(&shares, u64::from(tickets));
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut rounds: Vec<(Vec<usize>, usize)> = instance
            .types
            .iter()
            .map(|t| {
                let mut order = t.members.clone();
                rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
                (order, 0)
            })
            .collect();
        let mut drawn = Vec::with_capacity(tickets as usize);
        for ((composition, _), &count) in self.panels.iter().zip(&counts) {
            for _ in 0..count {
                let mut panel = Vec::new();
                for ((order, next), &c) in rounds.iter_mut().zip(composition) {
                    for _ in 0..c {
                        panel.push(order[*next % order.len()]);
                        *next += 1;
                    }
                }
                panel.sort_unstable();
                drawn.push(panel);
            }
        }
        let mut lottery = Lottery {
            tickets: drawn,
            sha256: String::new(),
            largest_shift: 0.0,
        };
        lottery.sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(lottery.text(instance).as_bytes()))
        };
        lottery.largest_shift = lottery
            .person_probabilities(instance)
            .iter()
            .zip(self.person_probabilities(instance))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        lottery
    }
}
