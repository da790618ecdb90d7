//! The young people called out in every report: officers count members by exact age and
//! open-link respondents by the band they gave; SCRUTINY gets whole census bands added
//! up from the age-band table as published.

use super::*;

/// The range of ages an age label names (a census band's, or any band a council
/// writes: see `domain::reports::age_range`), if any.
fn range_of(label: &str) -> Option<AgeRange> {
    match AgeRange::parse(label)? {
        AgeAnswer::Range(range) => Some(range),
        AgeAnswer::NotGiven => None,
    }
}

/// Where an open-link response of age band `band` (a census band or one an "about you"
/// question wrote) falls against the young age range: inside it, outside it, cut by it,
/// or not given.
pub(super) fn young_label_of_band(
    band: Option<&str>,
    (low, high): (u32, Option<u32>),
    labels: &[String; 3],
) -> String {
    let Some(band) = band.and_then(range_of) else {
        return NOT_GIVEN.to_owned();
    };
    let band_high = band.high;
    let starts_in = band.low >= low;
    let ends_in = match (high, band_high) {
        (None, _) => true,
        (Some(h), Some(bh)) => bh <= h,
        (Some(_), None) => false,
    };
    let touches = band_high.is_none_or(|bh| bh >= low) && high.is_none_or(|h| band.low <= h);
    if starts_in && ends_in {
        labels[0].clone()
    } else if touches {
        labels[2].clone()
    } else {
        labels[1].clone()
    }
}

/// SCRUTINY's young people: whole census age bands added up from the age-band table as
/// published (a sum is hidden when any band in it is), so they tell nothing the age
/// bands do not. Bands the range touches count as in it.
pub(super) fn young_by_bands(
    gathered: &Gathered,
    options: &ReportOptions,
    protection: &Protection,
    people: &Population,
) -> Split {
    let (low, high) = options.young;
    let labels = &gathered.young_labels;
    let class_of = |label: &str| -> usize {
        match range_of(label) {
            Some(band) => {
                let touches =
                    band.high.is_none_or(|bh| bh >= low) && high.is_none_or(|h| band.low <= h);
                usize::from(!touches)
            }
            None if label == NOT_GIVEN => 2,
            None => 1,
        }
    };
    let ages = &gathered.splits[0];
    let names = [labels[0].clone(), labels[1].clone(), NOT_GIVEN.to_owned()];
    let mut counted = Counted {
        name: "young_people".to_owned(),
        rows: names
            .iter()
            .map(|n| (n.clone(), vec![0; OPEN_PART + 1]))
            .collect(),
    };
    let columns = people.columns.len();
    let value =
        |parts: &[u64], c: usize| -> u64 { people.columns[c].1.iter().map(|&p| parts[p]).sum() };
    let all: Vec<u64> = (0..people.parts)
        .map(|p| ages.rows.iter().map(|(_, parts)| parts[p]).sum())
        .collect();
    let mut hidden = disclosure::Hidden {
        cells: vec![vec![false; columns]; 3],
        groups: Vec::new(),
        totals: (0..columns)
            .map(|c| protection.hides(&ages.name, None, c, value(&all, c)))
            .collect(),
    };
    let mut bands: [Vec<&str>; 3] = Default::default();
    for (label, parts) in &ages.rows {
        let class = class_of(label);
        bands[class].push(label);
        for (sum, n) in counted.rows[class].1.iter_mut().zip(parts) {
            *sum += n;
        }
        for (c, h) in hidden.cells[class].iter_mut().enumerate() {
            *h |= protection.hides(&ages.name, Some(label), c, value(parts, c));
        }
    }
    if counted.rows[2].1.iter().all(|&n| n == 0) {
        counted.rows.pop();
        hidden.cells.pop();
    }
    let population = gathered
        .population
        .by_dimension
        .get(&ReportDimension::AgeBand)
        .map(|(shares, _)| {
            let mut classes = vec![(names[0].clone(), 0.0), (names[1].clone(), 0.0)];
            for (label, n) in shares {
                classes[class_of(label).min(1)].1 += n;
            }
            (classes, Vec::new())
        });
    let labels: Vec<String> = counted.rows.iter().map(|(l, _)| l.clone()).collect();
    let derived = Protection::derived(&counted.name, &labels, hidden);
    let mut split = publish_split(
        &counted,
        &derived,
        people,
        population.as_ref(),
        options.flag_beyond,
    );
    split.notes.push(format!(
        "Counted by whole census age bands ({}), added up from the age-band table, so that \
         these figures reveal nothing it does not.",
        bands[0].join(", ")
    ));
    split
}

/// The population shares of the young-people split, from the census age bands.
pub(super) fn young_shares(
    population: &PopulationShares,
    options: &ReportOptions,
    labels: &[String; 3],
) -> Option<Benchmarked> {
    let (low, high) = options.young;
    let share = share_aged(&population.age_bands, options.min_age, low, high)?;
    Some((
        vec![(labels[0].clone(), share), (labels[1].clone(), 1.0 - share)],
        Vec::new(),
    ))
}

/// Says how the census bands are cut for the young-people split.
pub(super) fn young_notes(
    population: &PopulationShares,
    options: &ReportOptions,
    labels: &[String; 3],
) -> Vec<String> {
    let (low, high) = options.young;
    let mut notes = vec![format!(
        "Members are counted by their exact age on the reference day; open-link respondents \
         by the age band they gave, a band the range cuts through counted as \"{}\".",
        labels[2]
    )];
    if population.age_bands.is_empty() {
        notes.push("No census age bands: the population share is not known.".to_owned());
        return notes;
    }
    let cut = |age: u32| !age.is_multiple_of(5) && age < AgeBand::OPEN_FROM;
    let mut cuts = Vec::new();
    for edge in [Some(low.max(options.min_age)), high.map(|h| h + 1)]
        .into_iter()
        .flatten()
    {
        if cut(edge) {
            let band = AgeBand::of(edge);
            let kept = if Some(edge) == high.map(|h| h + 1) {
                edge - band.low
            } else {
                band.low + 5 - edge
            };
            cuts.push(format!(
                "the census band {} is cut at {edge}: {kept}/5 of its people are counted in \
                 the range, assuming ages are spread evenly within the band",
                band.label()
            ));
        }
    }
    if cuts.is_empty() {
        notes.push("The range follows census band edges: no band is cut.".to_owned());
    } else {
        let mut text = cuts.join("; ");
        text[..1].make_ascii_uppercase();
        notes.push(format!("{text}."));
    }
    notes
}
