//! Reading quotas and people from CSV files (the Sortition Foundation's columns and the
//! paper's), and writing quotas back.

use super::*;

pub(super) fn file_error(file: &'static str, message: impl Into<String>) -> SelectionError {
    SelectionError::File {
        file,
        message: message.into(),
    }
}

/// Lower case with spaces trimmed, so `Female ` and `female` are one value.
pub(super) fn normal(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Reads quotas as CSV: `feature,value,min,max` (the Sortition Foundation's columns) or
/// `category,feature,min,max` (the same in the paper's data).
pub fn read_quotas(reader: impl Read) -> Result<Vec<Feature>, SelectionError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| file_error("quotas", e.to_string()))?
        .iter()
        .map(normal)
        .collect();
    let named = |names: [&str; 4]| -> Option<[usize; 4]> {
        let mut found = [0; 4];
        for (slot, name) in found.iter_mut().zip(names) {
            *slot = header.iter().position(|h| h == name)?;
        }
        Some(found)
    };
    let [feature, value, min, max] = named(["feature", "value", "min", "max"])
        .or_else(|| named(["category", "feature", "min", "max"]))
        .ok_or_else(|| {
            file_error(
                "quotas",
                "the header must name feature,value,min,max (or category,feature,min,max)",
            )
        })?;
    let mut features: Vec<Feature> = Vec::new();
    for (row, record) in csv.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| file_error("quotas", e.to_string()))?;
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let bound = |i: usize| {
            cell(i).parse::<u32>().map_err(|_| {
                file_error(
                    "quotas",
                    format!(
                        "line {line}: {:?} is not a whole number of 0 or more",
                        cell(i)
                    ),
                )
            })
        };
        let (name, value_name) = (cell(feature), cell(value));
        if name.is_empty() || value_name.is_empty() {
            return Err(file_error(
                "quotas",
                format!("line {line}: the feature or value is empty"),
            ));
        }
        let (low, high) = (bound(min)?, bound(max)?);
        if low > high {
            return Err(file_error(
                "quotas",
                format!("line {line}: {name} {value_name}: min {low} is more than max {high}"),
            ));
        }
        let index = match features
            .iter()
            .position(|f| normal(&f.name) == normal(name))
        {
            Some(index) => index,
            None => {
                features.push(Feature {
                    name: name.to_owned(),
                    values: Vec::new(),
                    bounds: Vec::new(),
                });
                features.len() - 1
            }
        };
        let entry = &mut features[index];
        if entry.values.iter().any(|v| normal(v) == normal(value_name)) {
            return Err(file_error(
                "quotas",
                format!("line {line}: {name} {value_name} is listed twice"),
            ));
        }
        entry.values.push(value_name.to_owned());
        entry.bounds.push((low, high));
    }
    if features.is_empty() {
        return Err(file_error("quotas", "there are no quotas"));
    }
    Ok(features)
}

/// Quotas as CSV in the Sortition Foundation's `feature,value,min,max`.
pub fn quotas_csv(features: &[Feature]) -> String {
    let mut text = String::from("feature,value,min,max\n");
    for feature in features {
        for (value, (min, max)) in feature.values.iter().zip(&feature.bounds) {
            let quote = |s: &str| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s.to_owned()
                }
            };
            text.push_str(&format!(
                "{},{},{min},{max}\n",
                quote(&feature.name),
                quote(value)
            ));
        }
    }
    text
}

/// Reads the pool as CSV with a column per quota feature (other columns are ignored) and
/// an `id` column (without one, a person's id is their row number, from 1), and groups it
/// into types for a panel of `k`.
pub fn read_people(
    reader: impl Read,
    features: Vec<Feature>,
    k: u32,
) -> Result<Instance, SelectionError> {
    read_people_in_households(reader, features, k, None)
}

/// [`read_people`], with each person's household in the column named `household` when
/// given: people with the same household there may not both be on a panel (an empty cell
/// is a household of one).
pub fn read_people_in_households(
    reader: impl Read,
    features: Vec<Feature>,
    k: u32,
    household: Option<&str>,
) -> Result<Instance, SelectionError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| file_error("people", e.to_string()))?
        .iter()
        .map(normal)
        .collect();
    let id_column = header.iter().position(|h| h == "id");
    let household_column = household
        .map(|name| {
            header
                .iter()
                .position(|h| *h == normal(name))
                .ok_or_else(|| file_error("people", format!("there is no column {name:?}")))
        })
        .transpose()?;
    let columns = features
        .iter()
        .map(|f| {
            header
                .iter()
                .position(|h| *h == normal(&f.name))
                .ok_or_else(|| file_error("people", format!("there is no column {:?}", f.name)))
        })
        .collect::<Result<Vec<usize>, _>>()?;
    let lookup: Vec<HashMap<String, usize>> =
        features.iter().map(Feature::value_positions).collect();
    let mut people = Vec::new();
    for (row, record) in csv.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| file_error("people", e.to_string()))?;
        let mut values = Vec::with_capacity(features.len());
        for ((feature, &column), known) in features.iter().zip(&columns).zip(&lookup) {
            let given = record.get(column).unwrap_or("");
            let value = known.get(&normal(given)).ok_or_else(|| {
                file_error(
                    "people",
                    format!(
                        "line {line}: {} {given:?} is not a value the quotas list ({})",
                        feature.name,
                        feature.values.join(", ")
                    ),
                )
            })?;
            values.push(*value);
        }
        let id = match id_column {
            Some(column) => record.get(column).unwrap_or("").trim().to_owned(),
            None => (row + 1).to_string(),
        };
        if id.is_empty() {
            return Err(file_error(
                "people",
                format!("line {line}: the id is empty"),
            ));
        }
        let household = household_column
            .map(|column| record.get(column).unwrap_or("").trim())
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        people.push(Person {
            id,
            values,
            household,
        });
    }
    Ok(Instance::new(features, people, k))
}
