//! Survey statistics for the reports: raking respondents to population margins, the
//! effective sample size of weights, R-indicators of representativeness with their partial
//! indicators, goodness of fit against the population, and Net Promoter Score with its
//! confidence interval and the test of a change between rounds.
//!
//! Pure functions over counts and weights; the reports aggregate in the database and call
//! these. Sources: raking is iterative proportional fitting (Deming and Stephan 1940);
//! R-indicators after Schouten, Cobben and Bethlehem, "Indicators for the
//! representativeness of survey response", *Survey Methodology* 35(1), 2009, and
//! Schouten, Shlomo and Skinner, "Indicators for monitoring and improving
//! representativeness of response", *Journal of Official Statistics* 27(2), 2011.

mod raking;
#[cfg(test)]
mod tests;

// The parts see one another's items, as they did when they were one file.
#[allow(unused_imports)]
use raking::*;

use std::ops::RangeInclusive;

pub use raking::{
    Margin, RakeError, RakeOptions, Raked, design_effect, effective_sample_size, rake,
    weighted_mean,
};

/// A cell of invited people sharing one category on each dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The category (index) on each dimension.
    pub categories: Vec<usize>,
    /// People invited.
    pub invited: u64,
    /// People who responded.
    pub responded: u64,
}

/// The R-indicator of a response and its partial indicators.
#[derive(Clone, Debug, PartialEq)]
pub struct Representativity {
    /// R = 1 − 2·S(ρ): 1 when everyone was equally likely to respond.
    pub r: f64,
    /// The standard deviation of the response propensities (divisor N − 1).
    pub s: f64,
    /// The mean propensity (the response rate).
    pub mean: f64,
    /// Per dimension, in the cells' order.
    pub partials: Vec<DimensionPartial>,
}

/// Partial R-indicators of one dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct DimensionPartial {
    /// Unconditional: the spread of propensities between the dimension's categories.
    pub unconditional: f64,
    /// Conditional: the spread the dimension adds given every other dimension.
    pub conditional: f64,
    /// Per category: unconditional (signed: negative is under-represented) and
    /// conditional (unsigned).
    pub categories: Vec<(f64, f64)>,
}

/// The R-indicator of a response from cells of invited people (propensities estimated per
/// cell, the share of each cell that responded), with partial indicators for each
/// dimension: `sizes` gives each dimension's number of categories. `None` when nobody was
/// invited.
pub fn r_indicator(cells: &[Cell], sizes: &[usize]) -> Option<Representativity> {
    let n: f64 = cells.iter().map(|c| c.invited as f64).sum();
    if n <= 0.0 {
        return None;
    }
    let propensity = |c: &Cell| {
        if c.invited > 0 {
            c.responded as f64 / c.invited as f64
        } else {
            0.0
        }
    };
    let mean = cells.iter().map(|c| c.responded as f64).sum::<f64>() / n;
    let squares: f64 = cells
        .iter()
        .map(|c| c.invited as f64 * (propensity(c) - mean).powi(2))
        .sum();
    let s = if n > 1.0 {
        (squares / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let partials = sizes
        .iter()
        .enumerate()
        .map(|(d, &size)| {
            // Unconditional: category means against the overall mean.
            let mut invited = vec![0.0; size];
            let mut responded = vec![0.0; size];
            for c in cells {
                if let Some(k) = c.categories.get(d).copied().filter(|&k| k < size) {
                    invited[k] += c.invited as f64;
                    responded[k] += c.responded as f64;
                }
            }
            let unconditional_of = |k: usize| {
                if invited[k] > 0.0 {
                    (invited[k] / n).sqrt() * (responded[k] / invited[k] - mean)
                } else {
                    0.0
                }
            };
            // Conditional: propensities against the mean of their cell on every other
            // dimension.
            let others = |c: &Cell| -> Vec<usize> {
                c.categories
                    .iter()
                    .enumerate()
                    .filter(|(e, _)| *e != d)
                    .map(|(_, &k)| k)
                    .collect()
            };
            let mut groups: std::collections::HashMap<Vec<usize>, (f64, f64)> =
                std::collections::HashMap::new();
            for c in cells {
                let entry = groups.entry(others(c)).or_default();
                entry.0 += c.invited as f64;
                entry.1 += c.responded as f64;
            }
            let mut within = vec![0.0; size];
            for c in cells {
                let (gi, gr) = groups[&others(c)];
                let group_mean = if gi > 0.0 { gr / gi } else { 0.0 };
                if let Some(k) = c.categories.get(d).copied().filter(|&k| k < size) {
                    within[k] += c.invited as f64 * (propensity(c) - group_mean).powi(2);
                }
            }
            let categories: Vec<(f64, f64)> = (0..size)
                .map(|k| (unconditional_of(k), (within[k] / n).sqrt()))
                .collect();
            DimensionPartial {
                unconditional: categories.iter().map(|(u, _)| u * u).sum::<f64>().sqrt(),
                conditional: (within.iter().sum::<f64>() / n).sqrt(),
                categories,
            }
        })
        .collect();
    Some(Representativity {
        r: 1.0 - 2.0 * s,
        s,
        mean,
        partials,
    })
}

/// Duncan's index of dissimilarity between two distributions over the same categories
/// (each given as counts or shares): half the sum of the differences of their shares, the
/// share of one group that would have to move category to match the other.
pub fn dissimilarity(a: &[f64], b: &[f64]) -> f64 {
    let (ta, tb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if ta <= 0.0 || tb <= 0.0 {
        return 0.0;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x / ta - y / tb).abs())
        .sum::<f64>()
        / 2.0
}

/// A chi-square goodness-of-fit test of observed counts against population shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChiSquare {
    /// The sum over the categories of (observed − expected)² / expected.
    pub statistic: f64,
    /// Degrees of freedom (categories with a population share, less one).
    pub degrees_of_freedom: u32,
    /// The chance of a statistic at least this large if the counts were drawn from the
    /// population.
    pub p_value: f64,
}

/// Tests `observed` counts against `expected_shares` (any scale); categories with no
/// expected share are left out. `None` with fewer than two categories or no counts.
pub fn chi_square(observed: &[f64], expected_shares: &[f64]) -> Option<ChiSquare> {
    let total: f64 = observed.iter().sum();
    let share_total: f64 = expected_shares.iter().filter(|s| **s > 0.0).sum();
    let used: Vec<(f64, f64)> = observed
        .iter()
        .zip(expected_shares)
        .filter(|(_, s)| **s > 0.0)
        .map(|(o, s)| (*o, total * s / share_total))
        .collect();
    if used.len() < 2 || total <= 0.0 {
        return None;
    }
    let statistic: f64 = used.iter().map(|(o, e)| (o - e).powi(2) / e).sum();
    let degrees_of_freedom = u32::try_from(used.len() - 1).ok()?;
    Some(ChiSquare {
        statistic,
        degrees_of_freedom,
        p_value: upper_gamma_regularised(f64::from(degrees_of_freedom) / 2.0, statistic / 2.0),
    })
}

/// Net Promoter Score of 0–10 answers with weights: the percentage of promoters (9–10)
/// less that of detractors (0–6), with a 95 % interval from the effective sample size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetPromoter {
    /// From −100 to 100.
    pub score: f64,
    /// Its standard error, in points.
    pub standard_error: f64,
    /// The 95 % interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// The effective number of answers.
    pub effective_n: f64,
}

/// A net score of weighted answers on a scale: the percentage of answers in `positive`
/// less that in `negative`, among the answers on `scale` (others are left out), with its
/// standard error in points and the effective number of answers; `None` with no answer.
///
/// The variance is that of the difference of two shares of one multinomial sample,
/// `(p + n − (p − n)²) / n_eff`, with Kish's effective sample size for the weights.
fn net_score(
    answers: &[(u8, f64)],
    scale: RangeInclusive<u8>,
    positive: RangeInclusive<u8>,
    negative: RangeInclusive<u8>,
) -> Option<(f64, f64, f64)> {
    let valid: Vec<(u8, f64)> = answers
        .iter()
        .copied()
        .filter(|(a, w)| scale.contains(a) && *w > 0.0 && w.is_finite())
        .collect();
    let total: f64 = valid.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return None;
    }
    let share = |range: &RangeInclusive<u8>| {
        valid
            .iter()
            .filter(|(a, _)| range.contains(a))
            .map(|(_, w)| w)
            .sum::<f64>()
            / total
    };
    let (p, n) = (share(&positive), share(&negative));
    let weights: Vec<f64> = valid.iter().map(|(_, w)| *w).collect();
    let effective_n = effective_sample_size(&weights);
    let variance = (p + n - (p - n).powi(2)) / effective_n;
    Some((
        100.0 * (p - n),
        100.0 * variance.max(0.0).sqrt(),
        effective_n,
    ))
}

/// NPS of `(answer, weight)` pairs (answers outside 0–10 are left out); `None` with no
/// answer.
pub fn net_promoter(answers: &[(u8, f64)]) -> Option<NetPromoter> {
    let (score, standard_error, effective_n) = net_score(answers, 0..=10, 9..=10, 0..=6)?;
    Some(NetPromoter {
        score,
        standard_error,
        low: score - Z95 * standard_error,
        high: score + Z95 * standard_error,
        effective_n,
    })
}

/// Net agreement of 1–5 agreement-scale answers with weights: the percentage agreeing
/// (4–5) less that disagreeing (1–2), with its standard error from the effective sample
/// size; `None` with no answer.
pub fn net_agreement(answers: &[(u8, f64)]) -> Option<(f64, f64)> {
    net_score(answers, 1..=5, 4..=5, 1..=2).map(|(score, se, _)| (score, se))
}

/// A group's representation ratio (its share of respondents ÷ its share of the
/// population) with a 95 % interval from the Wilson interval of the respondent share:
/// `count` of `n` respondents are in the group. `None` without a population share.
pub fn representation_ratio(count: f64, n: f64, population_share: f64) -> Option<(f64, f64, f64)> {
    if population_share <= 0.0 || n <= 0.0 {
        return None;
    }
    let (low, high) = wilson_interval(count, n);
    Some((
        count / n / population_share,
        low / population_share,
        high / population_share,
    ))
}

/// The two-sided p-value of the difference between two independent estimates with their
/// standard errors (a z test): small when the change is more than noise.
pub fn change_p_value(a: f64, se_a: f64, b: f64, se_b: f64) -> f64 {
    let se = (se_a * se_a + se_b * se_b).sqrt();
    if se <= 0.0 {
        return if a == b { 1.0 } else { 0.0 };
    }
    let z = (a - b) / se;
    // P(|Z| ≥ z) = erfc(z / √2) = Q(1/2, z² / 2).
    upper_gamma_regularised(0.5, z * z / 2.0)
}

/// The normal quantile of a 95 % two-sided interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A share's 95 % Wilson score interval, from `successes` of `n`.
pub fn wilson_interval(successes: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let p = successes / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Q(a, x) = Γ(a, x) / Γ(a), the regularised upper incomplete gamma function: by its
/// series below x = a + 1 and by its continued fraction above (Lentz's method).
pub fn upper_gamma_regularised(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if a <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let log_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^{-x} x^a / Γ(a) · Σ x^n / (a (a+1) … (a+n)).
        let (mut term, mut sum, mut denominator) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1_000 {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * log_prefix.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let step = d * c;
            h *= step;
            if (step - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (log_prefix.exp() * h).clamp(0.0, 1.0)
    }
}

/// ln Γ(x) for x > 0, by the Lanczos approximation (g = 7, nine terms).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}
