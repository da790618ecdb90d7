//! A panel's quotas: set, imported and exported as CSV, or derived from the census and the
//! register's values.

use super::*;

/// A panel's quotas, in the order they were given.
pub async fn quotas(db: &impl ConnectionTrait, panel: PanelId) -> AppResult<Vec<Feature>> {
    Ok(quotas_of_many(db, &[panel])
        .await?
        .remove(&panel)
        .unwrap_or_default())
}

/// The quotas of each of `panels`, with one statement (a panel without quotas has none).
pub async fn quotas_of_many(
    db: &impl ConnectionTrait,
    panels: &[PanelId],
) -> AppResult<HashMap<PanelId, Vec<Feature>>> {
    let rows = panel_quota::Entity::find()
        .filter(panel_quota::Column::PanelId.is_in(panels.iter().copied()))
        .order_by_asc(panel_quota::Column::PanelId)
        .order_by_asc(panel_quota::Column::Position)
        .all(db)
        .await?;
    let mut found: HashMap<PanelId, Vec<Feature>> = HashMap::new();
    for row in rows {
        let features = found.entry(row.panel_id).or_default();
        let bounds = (
            u32::try_from(row.min).unwrap_or(0),
            u32::try_from(row.max).unwrap_or(0),
        );
        match features.iter_mut().find(|f| f.name == row.feature) {
            Some(feature) => {
                feature.values.push(row.value);
                feature.bounds.push(bounds);
            }
            None => features.push(Feature {
                name: row.feature,
                values: vec![row.value],
                bounds: vec![bounds],
            }),
        }
    }
    Ok(found)
}

/// The quotas of each of `panels`, for officers.
pub async fn panel_quotas_of_many(
    state: &AppState,
    caller: &Caller,
    panels: &[PanelId],
) -> AppResult<HashMap<PanelId, Vec<Feature>>> {
    caller.require(OFFICERS)?;
    quotas_of_many(state.db.reader(), panels).await
}

/// A panel's quotas, for officers.
pub async fn panel_quotas(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    quotas(state.db.reader(), panel).await
}

/// Replaces a panel's quotas with `features`, checked first: each minimum at most its
/// maximum, no value twice.
pub async fn set_quotas(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    features: Vec<Feature>,
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    let db = state.db.writer();
    find_any(db, panel).await?;
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for feature in &features {
        let name = feature.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::bad_input(
                "input.quotas",
                "A feature's name is 1 to 100 characters.",
            ));
        }
        for (value, &(min, max)) in feature.values.iter().zip(&feature.bounds) {
            let value = value.trim();
            if value.is_empty() || value.chars().count() > 200 {
                return Err(AppError::bad_input(
                    "input.quotas",
                    format!("{name}: a value is 1 to 200 characters."),
                ));
            }
            if min > max {
                return Err(AppError::bad_input(
                    "input.quotas",
                    format!("{name} {value:?}: the minimum {min} is above the maximum {max}."),
                ));
            }
            if !seen.insert((name.to_lowercase(), value.to_lowercase())) {
                return Err(AppError::bad_input(
                    "input.quotas",
                    format!("{name} {value:?} is given twice."),
                ));
            }
            let position = i32::try_from(rows.len()).unwrap_or(i32::MAX);
            rows.push(panel_quota::ActiveModel {
                panel_id: Set(panel),
                position: Set(position),
                feature: Set(name.to_owned()),
                value: Set(value.to_owned()),
                min: Set(i32::try_from(min).unwrap_or(i32::MAX)),
                max: Set(i32::try_from(max).unwrap_or(i32::MAX)),
                ..Default::default()
            });
        }
    }
    let txn = db.begin().await?;
    panel_quota::Entity::delete_many()
        .filter(panel_quota::Column::PanelId.eq(panel))
        .exec(&txn)
        .await?;
    for chunk in rows.chunks(500) {
        panel_quota::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(panel_id = %panel, values = rows.len(), by = ?caller.account(), "panel quotas set");
    quotas(db, panel).await
}

/// Replaces a panel's quotas from a CSV in the Sortition Foundation's format
/// (`feature,value,min,max`, or the paper data's `category,feature,min,max`).
pub async fn import_quotas(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    csv: &str,
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    let text = crate::domain::text_input::TextInput::new(
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        crate::domain::text_input::TextEncoding::Utf8,
    );
    let features = selection::read_quotas(text).map_err(|err| selection_error("input.csv", err))?;
    set_quotas(state, caller, panel, features).await
}

/// A panel's quotas as a `feature,value,min,max` CSV.
pub async fn quotas_csv(state: &AppState, caller: &Caller, panel: PanelId) -> AppResult<String> {
    Ok(selection::quotas_csv(
        &panel_quotas(state, caller, panel).await?,
    ))
}

/// Turns a selection error into the API's: bad files and infeasible quotas are the
/// officer's to fix (`BAD_USER_INPUT` on `field`), a time limit or a solver failure is a
/// conflict to retry with more time.
pub fn selection_error(field: &str, err: SelectionError) -> AppError {
    match err {
        SelectionError::File { .. } | SelectionError::Infeasible { .. } => {
            AppError::bad_input(field, err.to_string())
        }
        SelectionError::TimeLimit { .. } => AppError::conflict(format!(
            "{err}: give it more time (timeLimitSeconds), or choose MAXIMIN, which is much \
             faster on large pools."
        )),
        SelectionError::Solver(_) => AppError::conflict(err.to_string()),
        SelectionError::Stopped => AppError::Cancelled,
    }
}

/// Derives quotas for the panel's target size from its benchmark area's population:
/// each value's share of the panel, ± `tolerance`. Age bands cover the panel's ages (a
/// band that straddles an age limit pro-rated); census features come from the area's
/// benchmarks; wards and deprivation come from the address register (shares of
/// addresses, within the panel's wards), the nearest the census offers. Replaces the
/// panel's quotas.
pub async fn derive_quotas(
    state: &AppState,
    caller: &Caller,
    panel_id: PanelId,
    area_code: Option<String>,
    tolerance: f64,
    features: &[String],
) -> AppResult<Vec<Feature>> {
    caller.require(OFFICERS)?;
    let db = state.db.reader();
    let panel = find_any(db, panel_id).await?;
    if !(0.0..=1.0).contains(&tolerance) {
        return Err(AppError::bad_input(
            "input.tolerance",
            "The tolerance is from 0 to 1 (0.1 for ± 10 %).",
        ));
    }
    let area = area_code
        .or(panel.area_code.clone())
        .map(|a| a.trim().to_uppercase())
        .filter(|a| !a.is_empty());
    let benchmarks = match &area {
        Some(area) => {
            benchmark::Entity::find()
                .filter(benchmark::Column::AreaCode.eq(area.as_str()))
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let mut population: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    for name in features {
        let Some(feature) = profile_feature(name) else {
            return Err(AppError::bad_input(
                "input.features",
                format!(
                    "Quotas cannot be derived for {name:?}; derivable features: {}.",
                    PROFILE_FEATURES.map(|(f, _)| f).join(", ")
                ),
            ));
        };
        let Some(values) = population_values(db, &benchmarks, feature, &panel.eligibility).await?
        else {
            return Err(AppError::bad_input(
                "input.areaCode",
                match &area {
                    Some(area) => format!("No benchmarks are imported for {area}."),
                    None => "Name the benchmark area (or set the panel's).".to_owned(),
                },
            ));
        };
        if values.is_empty() {
            return Err(AppError::bad_input(
                "input.features",
                format!("The population has no count for {feature}."),
            ));
        }
        population.push((feature.to_owned(), values));
    }
    let derived = quotas_from_population(&population, panel.target_size, tolerance);
    set_quotas(state, caller, panel_id, derived).await
}

/// Each value's share of the population for the features that have one (census features
/// from `area`'s benchmarks, wards and deprivation from the register), for reports; a
/// feature with no population (a custom attribute, no benchmarks) is left out.
pub async fn population_shares(
    db: &impl ConnectionTrait,
    panel: &Panel,
    features: &[Feature],
) -> AppResult<HashMap<(String, String), f64>> {
    let benchmarks = match &panel.area_code {
        Some(area) => {
            benchmark::Entity::find()
                .filter(benchmark::Column::AreaCode.eq(area.as_str()))
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let mut shares = HashMap::new();
    for feature in features {
        let Some(name) = profile_feature(&feature.name) else {
            continue;
        };
        let Some(values) = population_values(db, &benchmarks, name, &panel.eligibility).await?
        else {
            continue;
        };
        let total: f64 = values.iter().map(|(_, n)| n).sum();
        if total <= 0.0 {
            continue;
        }
        for value in &feature.values {
            let count = values
                .iter()
                .filter(|(v, _)| v.trim().eq_ignore_ascii_case(value.trim()))
                .map(|(_, n)| n)
                .sum::<f64>();
            shares.insert((feature.name.clone(), value.clone()), count / total);
        }
    }
    Ok(shares)
}

/// Population counts per value of a profile feature: census features from `benchmarks`
/// (`None` when there are none), wards and deprivation from the register's addresses.
pub(super) async fn population_values(
    db: &impl ConnectionTrait,
    benchmarks: &[benchmark::Model],
    feature: &str,
    eligibility: &Eligibility,
) -> AppResult<Option<Vec<(String, f64)>>> {
    match feature {
        "ward" | "deprivation_decile" | "deprivation_quintile" => {
            Ok(Some(register_values(db, feature, eligibility).await?))
        }
        _ if benchmarks.is_empty() => Ok(None),
        census => Ok(Some(census_values(benchmarks, census, eligibility))),
    }
}

/// Population counts per value of a census feature, in the benchmark's order.
pub(super) fn census_values(
    benchmarks: &[benchmark::Model],
    feature: &str,
    eligibility: &Eligibility,
) -> Vec<(String, f64)> {
    let dimension = match feature {
        "age_band" => Dimension::AgeBand,
        "sex" => Dimension::Sex,
        "disability" => Dimension::Disability,
        _ => Dimension::EthnicGroup,
    };
    let mut values: Vec<(String, f64)> = Vec::new();
    for row in benchmarks
        .iter()
        .filter(|b| Dimension::from_name(&b.dimension) == Some(dimension))
    {
        let Some(category) = Category::from_label(dimension, &row.category) else {
            continue;
        };
        let label = category.label();
        let label = if feature == "ethnic_group_broad" {
            broad_ethnic_group(&label).to_owned()
        } else {
            label
        };
        match values.iter_mut().find(|(v, _)| *v == label) {
            Some((_, n)) => *n += row.count as f64,
            None => values.push((label, row.count as f64)),
        }
    }
    if dimension == Dimension::AgeBand {
        age_bands_between(&values, eligibility.min_age, eligibility.max_age)
    } else {
        values
    }
}

/// Addresses per ward or deprivation group, within the panel's wards.
pub(super) async fn register_values(
    db: &impl ConnectionTrait,
    feature: &str,
    eligibility: &Eligibility,
) -> AppResult<Vec<(String, f64)>> {
    let mut query = address::Entity::find()
        .select_only()
        .column(address::Column::WardCode)
        .column(address::Column::DeprivationDecile)
        .column_as(address::Column::Id.count(), "n")
        .group_by(address::Column::WardCode)
        .group_by(address::Column::DeprivationDecile);
    if !eligibility.wards.is_empty() {
        query = query.filter(address::Column::WardCode.is_in(eligibility.wards.clone()));
    }
    let rows: Vec<(String, Option<i16>, i64)> = query.into_tuple().all(db).await?;
    let mut values: Vec<(String, f64)> = Vec::new();
    for (ward, decile, n) in rows {
        let value = match feature {
            "ward" => ward,
            "deprivation_decile" => decile.map_or_else(|| "unknown".to_owned(), |d| d.to_string()),
            _ => decile.map_or_else(|| "unknown".to_owned(), |d| ((d + 1) / 2).to_string()),
        };
        match values.iter_mut().find(|(v, _)| *v == value) {
            Some((_, count)) => *count += n as f64,
            None => values.push((value, n as f64)),
        }
    }
    values.sort_by_key(|(value, _)| natural(value));
    Ok(values)
}

/// Sorts numbers as numbers (`2` before `10`), then text.
pub(super) fn natural(value: &str) -> (u64, String) {
    (value.parse().unwrap_or(u64::MAX), value.to_owned())
}
