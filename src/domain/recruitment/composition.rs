//! Comparing a group's make-up (a recruitment pool, respondents) with the population:
//! shares per category and representation ratios (group share ÷ population share; 1 is
//! proportional, below 1 under-represented).

use crate::domain::register::demographics::AgeBand;

/// One category of one dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct CompositionRow {
    /// Category label (census wording).
    pub category: String,
    /// People in the group in this category.
    pub count: u64,
    /// Their share of the group (0 when the group is empty).
    pub share: f64,
    /// The category's share of the population, when a benchmark exists.
    pub population_share: Option<f64>,
    /// `share / population_share`, when the population share is positive.
    pub ratio: Option<f64>,
}

/// Compares group counts with population counts. Categories come in population order,
/// then any the population lacks.
pub fn compare(group: &[(String, u64)], population: &[(String, f64)]) -> Vec<CompositionRow> {
    let group_total: u64 = group.iter().map(|(_, n)| n).sum();
    let population_total: f64 = population.iter().map(|(_, n)| n).sum();
    let count_of = |category: &str| {
        group
            .iter()
            .filter(|(c, _)| c == category)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let share = |n: u64| {
        if group_total == 0 {
            0.0
        } else {
            n as f64 / group_total as f64
        }
    };
    let mut rows: Vec<CompositionRow> = population
        .iter()
        .map(|(category, people)| {
            let count = count_of(category);
            let population_share = (population_total > 0.0).then(|| people / population_total);
            let share = share(count);
            CompositionRow {
                category: category.clone(),
                count,
                share,
                population_share,
                ratio: population_share.filter(|p| *p > 0.0).map(|p| share / p),
            }
        })
        .collect();
    for (category, count) in group {
        if !population.iter().any(|(c, _)| c == category)
            && !rows.iter().any(|r| &r.category == category)
        {
            rows.push(CompositionRow {
                category: category.clone(),
                count: count_of(category),
                share: share(*count),
                population_share: None,
                ratio: None,
            });
        }
    }
    rows
}

/// The census five-year age bands restricted to people aged `min_age` and over.
///
/// The band containing `min_age` is pro-rated by the years it keeps, assuming ages are
/// spread evenly within a band: with `min_age` 16, `15-19` keeps 4/5 of its count (ages
/// 16–19). Bands below are dropped; `85+` is kept whole.
pub fn age_bands_from(bands: &[(String, i64)], min_age: u32) -> Vec<(String, f64)> {
    bands
        .iter()
        .filter_map(|(band, count)| {
            let (low, high) = parse_band(band)?;
            let count = *count as f64;
            if high.is_some_and(|h| h < min_age) {
                None
            } else if low >= min_age {
                Some((band.clone(), count))
            } else {
                let high = high.unwrap_or(low);
                let kept = f64::from(high - min_age + 1) / f64::from(high - low + 1);
                Some((band.clone(), count * kept))
            }
        })
        .collect()
}

/// The share of people aged `min_age` and over who are aged `low` to `high` (`None` for
/// no upper end), from census five-year bands; a band the range or the minimum age cuts
/// through is pro-rated by the years it keeps, assuming ages are spread evenly within a
/// band (with 16–24 and a minimum of 16, `15-19` gives 4/5 of its count and `20-24` all
/// of it). `None` when the bands hold nobody of `min_age` and over.
pub fn share_aged(
    bands: &[(String, i64)],
    min_age: u32,
    low: u32,
    high: Option<u32>,
) -> Option<f64> {
    let kept = |band_low: u32, band_high: Option<u32>, from: u32, to: Option<u32>| -> f64 {
        let Some(band_high) = band_high else {
            // The open top band: all of it once the range reaches it.
            return if to.is_none_or(|t| t >= band_low) && from <= band_low {
                1.0
            } else {
                0.0
            };
        };
        let start = band_low.max(from);
        let end = to.map_or(band_high, |t| band_high.min(t));
        if end < start {
            0.0
        } else {
            f64::from(end - start + 1) / f64::from(band_high - band_low + 1)
        }
    };
    let mut adults = 0.0;
    let mut in_range = 0.0;
    for (band, count) in bands {
        let Some((band_low, band_high)) = parse_band(band) else {
            continue;
        };
        let count = *count as f64;
        adults += count * kept(band_low, band_high, min_age, None);
        in_range += count * kept(band_low, band_high, low.max(min_age), high);
    }
    (adults > 0.0).then(|| in_range / adults)
}

/// `"15-19"` → (15, Some(19)); `"85+"` → (85, None); see [`AgeBand::from_label`].
fn parse_band(band: &str) -> Option<(u32, Option<u32>)> {
    let band = AgeBand::from_label(band)?;
    Some((
        band.low,
        (band.low < AgeBand::OPEN_FROM).then_some(band.low + 4),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn ratios_compare_group_shares_with_population_shares() {
        let rows = compare(
            &[(s("female"), 30), (s("male"), 10)],
            &[(s("female"), 49.0), (s("male"), 51.0)],
        );
        assert_eq!(rows[0].count, 30);
        assert!((rows[0].share - 0.75).abs() < 1e-12);
        assert!((rows[0].ratio.unwrap() - 0.75 / 0.49).abs() < 1e-12);
        assert!((rows[1].ratio.unwrap() - 0.25 / 0.51).abs() < 1e-12);
    }

    #[test]
    fn an_empty_group_has_zero_shares_and_missing_population_categories_are_listed() {
        let rows = compare(&[], &[(s("a"), 1.0)]);
        assert_eq!(
            (rows[0].count, rows[0].share, rows[0].ratio),
            (0, 0.0, Some(0.0))
        );
        let rows = compare(&[(s("b"), 2)], &[(s("a"), 1.0)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].population_share, None);
    }

    #[test]
    fn the_band_straddling_the_minimum_age_is_pro_rated() {
        let bands = [
            (s("10-14"), 500),
            (s("15-19"), 500),
            (s("20-24"), 400),
            (s("85+"), 100),
        ];
        let adults = age_bands_from(&bands, 16);
        assert_eq!(
            adults,
            vec![(s("15-19"), 400.0), (s("20-24"), 400.0), (s("85+"), 100.0)]
        );
        assert_eq!(age_bands_from(&bands, 15)[0], (s("15-19"), 500.0));
    }

    #[test]
    fn the_share_of_young_people_pro_rates_the_band_the_range_cuts() {
        let bands = [
            (s("10-14"), 500),
            (s("15-19"), 500),
            (s("20-24"), 400),
            (s("25-29"), 600),
            (s("85+"), 100),
        ];
        // Aged 16 and over: 400 (16-19) + 400 + 600 + 100 = 1,500; aged 16-24: 800.
        let share = share_aged(&bands, 16, 16, Some(24)).unwrap();
        assert!((share - 800.0 / 1_500.0).abs() < 1e-12);
        // 18-21: 2/5 of 15-19 and 2/5 of 20-24.
        let share = share_aged(&bands, 16, 18, Some(21)).unwrap();
        assert!((share - 360.0 / 1_500.0).abs() < 1e-12);
        // The open band counts whole once reached.
        let share = share_aged(&bands, 16, 80, None).unwrap();
        assert!((share - 100.0 / 1_500.0).abs() < 1e-12);
        assert_eq!(share_aged(&[], 16, 16, Some(24)), None);
    }
}
