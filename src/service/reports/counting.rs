//! The people a report counts: invitations by their members' profiles and stages and open-
//! link responses by their answers, counted by every split at once, set against the
//! population, and published as splits.

use super::*;
use crate::db::reports;

/// Counts of one split, before publishing: rows by label, each per part.
pub(crate) struct Counted {
    pub(crate) name: String,
    pub(crate) rows: Vec<(String, Vec<u64>)>,
}

impl Counted {
    pub(super) fn add(&mut self, label: String, part: usize, count: u64) {
        self.add_in(label, part, count, OPEN_PART + 1);
    }

    /// Adds `count` people of `label` to `part`, rows having `width` parts.
    pub(crate) fn add_in(&mut self, label: String, part: usize, count: u64, width: usize) {
        match self.rows.iter_mut().find(|(l, _)| *l == label) {
            Some((_, parts)) => parts[part] += count,
            None => {
                let mut parts = vec![0; width];
                parts[part] = count;
                self.rows.push((label, parts));
            }
        }
    }
}

pub(super) fn stage_part(stored: &str) -> usize {
    Stage::ALL
        .iter()
        .position(|s| s.as_str() == stored)
        .unwrap_or(0)
}

/// A consultation's people counted for every split of its report.
pub(super) struct People {
    /// By each of [`ReportDimension::ALL`], in that order.
    pub(super) splits: Vec<Counted>,
    /// By whether they are in the young age range (and its three labels).
    pub(super) young: Counted,
    pub(super) young_labels: [String; 3],
    /// Invitations by channel, and the open link.
    pub(super) channel: Counted,
}

/// Counts a consultation's people for every split at once: its invitations by each
/// dimension, by whether the member was young on `day` and by channel, each with the
/// furthest stage reached; its open-link responses by each dimension (the young people
/// and the open-link total follow from their age bands). One grouped query for each side
/// on PostgreSQL, a query per split side by side on SQLite (see `db::counts`).
pub(super) async fn count_people(
    db: &impl ConnectionTrait,
    id: ConsultationId,
    day: NaiveDate,
    (low, high): (u32, Option<u32>),
) -> AppResult<People> {
    let young_labels = [
        match high {
            Some(high) => format!("Aged {low} to {high}"),
            None => format!("Aged {low} and over"),
        },
        "Other ages".to_owned(),
        "Age band partly in the range".to_owned(),
    ];
    let invited = reports::invitations_by_each(db, id, day, (low, high));
    let open = reports::open_responses_by_each(db, id);
    let (invited, open) = futures_util::future::try_join(invited, open).await?;
    let mut splits: Vec<Counted> = ReportDimension::ALL
        .iter()
        .map(|d| Counted {
            name: d.as_str().to_owned(),
            rows: Vec::new(),
        })
        .collect();
    let mut young = Counted {
        name: "young_people".to_owned(),
        rows: young_labels
            .iter()
            .take(2)
            .map(|l| (l.clone(), vec![0; OPEN_PART + 1]))
            .collect(),
    };
    let mut channel = Counted {
        name: "channel".to_owned(),
        rows: ["email", "sms", "post"]
            .iter()
            .map(|c| ((*c).to_owned(), vec![0; OPEN_PART + 1]))
            .collect(),
    };
    let dimensions = ReportDimension::ALL.len();
    for group in &invited {
        let part = stage_part(&group.stage);
        let count = group.count;
        let category = group.category.as_deref();
        match group.key {
            k if k < dimensions => {
                splits[k].add(ReportDimension::ALL[k].label(category), part, count);
            }
            k if k == dimensions => {
                let label = &young_labels[usize::from(category != Some("1"))];
                young.add(label.clone(), part, count);
            }
            _ => channel.add(category.unwrap_or_default().to_owned(), part, count),
        }
    }
    let mut open_total = 0;
    for group in &open {
        let count = group.count;
        let category = group.category.as_deref();
        splits[group.key].add(
            ReportDimension::ALL[group.key].label(category),
            OPEN_PART,
            count,
        );
        if ReportDimension::ALL[group.key] == ReportDimension::AgeBand {
            let label = young_label_of_band(category, (low, high), &young_labels);
            young.add(label, OPEN_PART, count);
            open_total += count;
        }
    }
    channel.add("open_link".to_owned(), OPEN_PART, open_total);
    Ok(People {
        splits,
        young,
        young_labels,
        channel,
    })
}

/// The population of one area: per dimension, category label → people (aged `min_age`
/// and over for age bands), and the labels that named no category.
/// One dimension's population: category label → people, and the benchmark labels that
/// named no category.
pub(crate) type Benchmarked = (Vec<(String, f64)>, Vec<String>);

pub(crate) struct PopulationShares {
    pub(crate) by_dimension: HashMap<ReportDimension, Benchmarked>,
    pub(super) age_bands: Vec<(String, i64)>,
}

pub(crate) async fn population(
    db: &impl ConnectionTrait,
    area: Option<&str>,
    min_age: u32,
) -> AppResult<(Option<String>, PopulationShares)> {
    let area = match area.map(str::trim).filter(|a| !a.is_empty()) {
        Some(area) => Some(area.to_owned()),
        None => {
            let mut areas: Vec<String> = benchmark::Entity::find()
                .select_only()
                .column(benchmark::Column::AreaCode)
                .distinct()
                .order_by_asc(benchmark::Column::AreaCode)
                .into_tuple()
                .all(db)
                .await?;
            match areas.len() {
                0 => None,
                1 => areas.pop(),
                _ => {
                    return Err(AppError::bad_input(
                        "input.areaCode",
                        format!(
                            "benchmarks for {} areas are imported ({}); say which to compare with",
                            areas.len(),
                            areas.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let rows = match &area {
        Some(area) => {
            benchmark::Entity::find()
                .filter(benchmark::Column::AreaCode.eq(area.as_str()))
                .order_by_asc(benchmark::Column::Id)
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    if area.is_some() && rows.is_empty() {
        return Err(AppError::bad_input(
            "input.areaCode",
            "no benchmarks are imported for this area",
        ));
    }
    let mut by_dimension = HashMap::new();
    let mut age_bands = Vec::new();
    for dimension in ReportDimension::ALL {
        let mut shares: Vec<(String, f64)> = Vec::new();
        let mut unmatched = Vec::new();
        for row in rows.iter().filter(|b| {
            crate::domain::register::demographics::normalise(&b.dimension).replace([' ', '-'], "_")
                == dimension.as_str()
        }) {
            let label = match dimension.census() {
                Some(census) => match Category::from_label(census, &row.category) {
                    Some(category) => category.label(),
                    None => {
                        unmatched.push(row.category.clone());
                        continue;
                    }
                },
                None => row.category.trim().to_owned(),
            };
            match shares.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += row.count as f64,
                None => shares.push((label, row.count as f64)),
            }
        }
        if dimension == ReportDimension::AgeBand {
            age_bands = shares.iter().map(|(l, n)| (l.clone(), *n as i64)).collect();
            shares = age_bands_from(&age_bands, min_age);
        }
        if !shares.is_empty() || !unmatched.is_empty() {
            by_dimension.insert(dimension, (shares, unmatched));
        }
    }
    Ok((
        area,
        PopulationShares {
            by_dimension,
            age_bands,
        },
    ))
}

/// Orders a split's rows: the population's categories first, then others, then
/// [`NOT_GIVEN`], adding empty rows for population categories nobody is in.
pub(crate) fn order_rows(counted: &mut Counted, population: &[(String, f64)], width: usize) {
    for (label, _) in population {
        if !counted.rows.iter().any(|(l, _)| l == label) {
            counted.rows.push((label.clone(), vec![0; width]));
        }
    }
    let rank = |label: &str| {
        population
            .iter()
            .position(|(l, _)| l == label)
            .map_or(if label == NOT_GIVEN { 2 } else { 1 }, |_| 0)
    };
    counted.rows.sort_by(|a, b| {
        let position = |l: &str| population.iter().position(|(p, _)| p == l);
        rank(&a.0)
            .cmp(&rank(&b.0))
            .then(position(&a.0).cmp(&position(&b.0)))
            .then(a.0.cmp(&b.0))
    });
}

pub(crate) fn shown(value: u64, hidden: bool) -> Shown {
    (!hidden).then_some(value)
}

pub(crate) fn ratio_of(part: Shown, whole: Shown) -> Option<f64> {
    match (part, whole) {
        (Some(p), Some(w)) if w > 0 => Some(p as f64 / w as f64),
        _ => None,
    }
}

/// A split as published: counts (hidden where `protection` says, the split's name being
/// its table's), shares, ratios, flags and goodness of fit.
pub(super) fn publish_split(
    counted: &Counted,
    protection: &Protection,
    people: &Population,
    population: Option<&Benchmarked>,
    flag_beyond: f64,
) -> Split {
    let table = counted.name.as_str();
    let value =
        |parts: &[u64], c: usize| -> u64 { people.columns[c].1.iter().map(|&p| parts[p]).sum() };
    let all: Vec<u64> = (0..people.parts)
        .map(|p| counted.rows.iter().map(|(_, parts)| parts[p]).sum())
        .collect();
    let counts_of = |row: Option<usize>| -> [Shown; 8] {
        std::array::from_fn(|c| match row {
            Some(r) => {
                let (label, parts) = &counted.rows[r];
                protection.count(table, Some(label), c, value(parts, c))
            }
            None => protection.count(table, None, c, value(&all, c)),
        })
    };
    let totals = counts_of(None);
    let (shares, unmatched) = population.cloned().unwrap_or_default();
    let population_total: f64 = shares.iter().map(|(_, n)| n).sum();
    // Everyone in the column whose category is known: the total less those not giving
    // it (hidden if either is, since it would give the other away).
    let not_given = counted
        .rows
        .iter()
        .position(|(label, _)| label == NOT_GIVEN);
    let known = |column: usize| -> Shown {
        let given = not_given.map_or(Some(0), |r| counts_of(Some(r))[column])?;
        totals[column].map(|total| total - given)
    };
    let known_invited = known(INVITED);
    let known_respondents = known(RESPONDENTS);
    let mut rows = Vec::new();
    for (r, (label, _)) in counted.rows.iter().enumerate() {
        let counts = counts_of(Some(r));
        let population_share = shares
            .iter()
            .find(|(l, _)| l == label)
            .filter(|_| population_total > 0.0)
            .map(|(_, n)| n / population_total);
        let given = label != NOT_GIVEN;
        let respondent_share = ratio_of(counts[RESPONDENTS], known_respondents).filter(|_| given);
        let ratio = match (counts[RESPONDENTS], known_respondents, population_share) {
            (Some(c), Some(n), Some(p)) if given => {
                statistics::representation_ratio(c as f64, n as f64, p)
            }
            _ => None,
        };
        let flag = match ratio {
            Some((r, _, _)) if r < 1.0 - flag_beyond => Flag::Under,
            Some((r, _, _)) if r > 1.0 + flag_beyond => Flag::Over,
            _ => Flag::None,
        };
        rows.push(GroupRow {
            label: label.clone(),
            counts,
            population_share,
            invited_share: ratio_of(counts[INVITED], known_invited).filter(|_| given),
            respondent_share,
            ratio,
            flag,
            response_rate: ratio_of(counts[COMPLETED], counts[INVITED]),
            partial: None,
            weighted_share: None,
        });
    }
    // Goodness of fit over the categories with a population share, when every count it
    // uses is shown.
    let fitted: Vec<&GroupRow> = rows
        .iter()
        .filter(|r| r.population_share.is_some())
        .collect();
    let observed: Option<Vec<f64>> = fitted
        .iter()
        .map(|r| r.counts[RESPONDENTS].map(|c| c as f64))
        .collect();
    let expected: Vec<f64> = fitted.iter().filter_map(|r| r.population_share).collect();
    let respondents_without_benchmark = if shares.is_empty() {
        None
    } else {
        rows.iter()
            .filter(|r| r.population_share.is_none() && r.label != NOT_GIVEN)
            .try_fold(0, |sum, r| r.counts[RESPONDENTS].map(|c| sum + c))
    };
    let (dissimilarity, chi_square) = match &observed {
        Some(observed) if observed.iter().sum::<f64>() > 0.0 && !expected.is_empty() => (
            Some(statistics::dissimilarity(observed, &expected)),
            statistics::chi_square(observed, &expected),
        ),
        _ => (None, None),
    };
    let mut notes = Vec::new();
    if shares.is_empty() {
        notes.push(format!(
            "No population benchmark for {}: shares are shown without a comparison.",
            counted.name
        ));
    }
    if observed.is_none() {
        notes.push(
            "Some counts are hidden: the index of dissimilarity and the chi-square test, \
             which would reveal them, are not shown."
                .to_owned(),
        );
    }
    Split {
        name: counted.name.clone(),
        rows,
        totals,
        benchmarked: !shares.is_empty(),
        unmatched,
        respondents_without_benchmark,
        dissimilarity,
        chi_square,
        partial: None,
        notes,
    }
}

/// A split as a canonical table of `people`: the rows with anyone in them (a row of zeros
/// tells an attacker nothing), in label order with [`NOT_GIVEN`] last, whatever order or
/// empty rows the report shows; with their labels.
pub(crate) fn canonical(
    counted: &Counted,
    people: &Population,
    population: usize,
) -> (Vec<String>, CountTable) {
    let mut rows: Vec<&(String, Vec<u64>)> = counted
        .rows
        .iter()
        .filter(|(_, parts)| parts.iter().any(|&n| n > 0))
        .collect();
    rows.sort_by(|a, b| (a.0 == NOT_GIVEN, &a.0).cmp(&(b.0 == NOT_GIVEN, &b.0)));
    (
        rows.iter().map(|(label, _)| label.clone()).collect(),
        CountTable::full(
            people,
            population,
            rows.iter().map(|(_, parts)| parts.clone()).collect(),
        ),
    )
}
