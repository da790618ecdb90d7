//! Weighting: respondents raked to the population on the weighting dimensions, from one
//! grouped count of the responses by their stored profile; and each split's categories'
//! weighted shares, so that a raked margin can be read back.

use super::*;
use crate::db::reports::ProfileCount;

/// Responses counted by stored profile: the six dimensions' stored values (in
/// [`ReportDimension::ALL`] order) and how many responses have them (see
/// `db::reports::responses_by_profile`).
pub(super) type Profiles = Vec<ProfileCount>;

/// A profile's labels on `dims` (a weighting cell's key).
fn key_of(
    profile: &[Option<String>; 6],
    dims: &[ReportDimension],
    scheme: Option<&AgeScheme>,
) -> Vec<String> {
    dims.iter()
        .map(|d| {
            let k = ReportDimension::ALL
                .iter()
                .position(|x| x == d)
                .unwrap_or(0);
            d.label_in(profile[k].as_deref(), scheme)
        })
        .collect()
}

/// Per dimension, each category's weighted share of the weighted respondents whose
/// category is known: the weights of its respondents (by the profile stored with each
/// response, as weighting uses) over all of theirs. Respondents without a weight (left
/// out of the weighting) do not count. On a weighting dimension it is the raked margin.
pub(super) fn weighted_shares(
    profiles: &Profiles,
    dims: &[ReportDimension],
    weights: &CellWeights,
    scheme: Option<&AgeScheme>,
) -> HashMap<ReportDimension, HashMap<String, f64>> {
    let mut shares: HashMap<ReportDimension, HashMap<String, f64>> = HashMap::new();
    if weights.is_empty() {
        return shares;
    }
    for (profile, n) in profiles {
        let Some(w) = weights.get(&key_of(profile, dims, scheme)) else {
            continue;
        };
        for (k, d) in ReportDimension::ALL.iter().enumerate() {
            let label = d.label_in(profile[k].as_deref(), scheme);
            if label != NOT_GIVEN {
                *shares.entry(*d).or_default().entry(label).or_default() += w * *n as f64;
            }
        }
    }
    for by_label in shares.values_mut() {
        let total: f64 = by_label.values().sum();
        if total > 0.0 {
            for share in by_label.values_mut() {
                *share /= total;
            }
        }
    }
    shares
}

/// Weights per weighting cell (the key is the labels of the weighting dimensions).
pub(super) type CellWeights = HashMap<Vec<String>, f64>;

/// Rakes the respondents (`profiles`) to the population margins of the weighting
/// dimensions.
pub(super) fn weigh(
    profiles: &Profiles,
    options: &ReportOptions,
    population: &PopulationShares,
    scheme: Option<&AgeScheme>,
) -> (Weighting, CellWeights) {
    let dims = options.weighting.clone();
    let mut weighting = Weighting {
        respondents: Some(0),
        left_out: Some(0),
        note: None,
        ..Weighting::not_asked(options)
    };
    if dims.is_empty() {
        weighting.note = Some("No weighting dimensions were chosen.".to_owned());
        return (weighting, HashMap::new());
    }
    for d in &dims {
        if !population.by_dimension.contains_key(d) {
            weighting.note = Some(format!(
                "Not weighted: the population has no benchmark for {}.",
                d.as_str()
            ));
            return (weighting, HashMap::new());
        }
    }
    let mut cells: Vec<(Vec<String>, u64)> = Vec::new();
    for (profile, n) in profiles {
        let key = key_of(profile, &dims, scheme);
        match cells.iter_mut().find(|(k, _)| *k == key) {
            Some((_, total)) => *total += n,
            None => cells.push((key, *n)),
        }
    }
    // Categories of each weighting dimension with a population and a respondent.
    let mut margins_labels: Vec<Vec<(String, f64)>> = Vec::new();
    for (position, &d) in dims.iter().enumerate() {
        let (shares, _) = &population.by_dimension[&d];
        let mut kept = Vec::new();
        for (label, people) in shares {
            if *people <= 0.0 {
                continue;
            }
            if cells.iter().any(|(key, _)| key[position] == *label) {
                kept.push((label.clone(), *people));
            } else {
                weighting.dropped.push(format!("{}: {label}", d.as_str()));
            }
        }
        margins_labels.push(kept);
    }
    let usable = |key: &Vec<String>| {
        dims.iter()
            .zip(&margins_labels)
            .enumerate()
            .all(|(k, (_, kept))| kept.iter().any(|(l, _)| *l == key[k]))
    };
    let (kept_cells, left): (Vec<_>, Vec<_>) = cells.into_iter().partition(|(k, _)| usable(k));
    let n: u64 = kept_cells.iter().map(|(_, c)| c).sum();
    weighting.respondents = Some(n);
    weighting.left_out = Some(left.iter().map(|(_, c)| c).sum());
    if n == 0 {
        weighting.note = Some("Not weighted: no respondent to weight.".to_owned());
        return (weighting, HashMap::new());
    }
    // One unit per respondent, so trimming works on people's weights.
    let mut category_of: Vec<Vec<usize>> = vec![Vec::with_capacity(n as usize); dims.len()];
    let mut first_unit = Vec::new();
    for (key, count) in &kept_cells {
        first_unit.push(category_of[0].len());
        for k in 0..dims.len() {
            let c = margins_labels[k]
                .iter()
                .position(|(l, _)| *l == key[k])
                .unwrap_or(0);
            category_of[k].extend(std::iter::repeat_n(c, *count as usize));
        }
    }
    let margins: Vec<Margin> = dims
        .iter()
        .zip(&margins_labels)
        .zip(category_of)
        .map(|((d, kept), category_of)| {
            let total: f64 = kept.iter().map(|(_, p)| p).sum();
            Margin {
                name: d.as_str().to_owned(),
                category_of,
                totals: kept.iter().map(|(_, p)| p / total * n as f64).collect(),
            }
        })
        .collect();
    let start = vec![1.0; n as usize];
    let raked = match statistics::rake(
        &start,
        &margins,
        RakeOptions {
            trim: options.trim,
            ..RakeOptions::default()
        },
    ) {
        Ok(raked) => raked,
        Err(error) => {
            weighting.note = Some(format!("Not weighted: {error}."));
            return (weighting, HashMap::new());
        }
    };
    weighting.weighted = true;
    weighting.iterations = Some(raked.iterations);
    weighting.converged = Some(raked.converged);
    weighting.max_error = Some(raked.max_error);
    weighting.effective_n = Some(statistics::effective_sample_size(&raked.weights));
    weighting.design_effect = Some(statistics::design_effect(&raked.weights));
    if !raked.converged {
        weighting.note = Some(format!(
            "Raking stopped after {} sweeps without meeting every margin (largest error {:.2e}).",
            raked.iterations, raked.max_error
        ));
    }
    let weights = kept_cells
        .iter()
        .zip(first_unit)
        .map(|((key, _), unit)| (key.clone(), raked.weights[unit]))
        .collect();
    (weighting, weights)
}
