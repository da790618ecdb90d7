//! The pool a selection chooses from: the panel's registrants with their attributes and
//! households, read once, and the values the quotas name.

use super::*;

/// The pool of a selection: the instance (ids are resident row ids), the sitting members'
/// counts per value, and the quotas before they were reduced by them.
pub(super) struct Pool {
    pub(super) instance: Instance,
    pub(super) sitting: Vec<Vec<u32>>,
}

/// Builds the pool of `panel` on `as_of`: registrants not withdrawn, eligible (age on the
/// UK date of `as_of`, wards, a guardian's consent under 13), not sitting on the panel
/// (nor ever on it, for a top-up), with one value per quota feature. A top-up counts the
/// sitting members against the quotas and fills the seats left.
pub(super) async fn build_pool(
    db: &impl ConnectionTrait,
    panel: &Panel,
    features: Vec<Feature>,
    as_of: DateTime<Utc>,
    top_up: bool,
) -> AppResult<Pool> {
    let on = uk_date(as_of);
    let rows = resident::Entity::find()
        .filter(resident::Column::WithdrawnAt.is_null())
        .order_by_asc(resident::Column::Id)
        .all(db)
        .await?;
    let memberships: Vec<(i64, String)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::ResidentId)
        .column(membership::Column::Status)
        .filter(membership::Column::PanelId.eq(panel.id))
        .into_tuple()
        .all(db)
        .await?;
    let sitting_ids: HashSet<i64> = memberships
        .iter()
        .filter(|(_, s)| {
            s.parse::<MembershipStatus>()
                .is_ok_and(MembershipStatus::is_sitting)
        })
        .map(|(id, _)| *id)
        .collect();
    let ever: HashSet<i64> = memberships.iter().map(|(id, _)| *id).collect();
    if !top_up && !sitting_ids.is_empty() {
        return Err(AppError::conflict(format!(
            "The panel has {} sitting members: top it up instead, or end their memberships first.",
            sitting_ids.len()
        )));
    }
    let consented: HashSet<i64> = guardian_consent::Entity::find()
        .select_only()
        .column(guardian_consent::Column::ResidentId)
        .filter(guardian_consent::Column::WithdrawnAt.is_null())
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let candidates: Vec<resident::Model> = rows
        .into_iter()
        .filter(|row| {
            sitting_ids.contains(&row.id.get())
                || (!(top_up && ever.contains(&row.id.get()))
                    && panel
                        .eligibility
                        .check(
                            row.date_of_birth,
                            &row.ward_code,
                            consented.contains(&row.id.get()),
                            on,
                        )
                        .is_ok())
        })
        .collect();
    let mut people = Vec::new();
    let mut sitting: Vec<Vec<u32>> = features.iter().map(|f| vec![0; f.values.len()]).collect();
    let mut sitting_households: HashSet<String> = HashSet::new();
    for (row, values) in quota_values(db, candidates, &features, on, "input.panelId").await? {
        if sitting_ids.contains(&row.id.get()) {
            for (counts, &value) in sitting.iter_mut().zip(&values) {
                counts[value] += 1;
            }
            sitting_households.insert(row.household_key);
        } else {
            people.push(Person {
                id: row.id.to_string(),
                values,
                household: panel.one_per_household.then_some(row.household_key),
            });
        }
    }
    if panel.one_per_household {
        // Households already on the panel stay out; within the pool, the selection takes at
        // most one person from each (`Person::household`).
        people.retain(|person| {
            person
                .household
                .as_ref()
                .is_none_or(|h| !sitting_households.contains(h))
        });
    }
    let seated: u32 = sitting.first().map_or(0, |counts| counts.iter().sum());
    let k = panel.target_size.saturating_sub(seated);
    if top_up && k == 0 {
        return Err(AppError::conflict(format!(
            "The panel has {seated} sitting members of {}: no seat to fill.",
            panel.target_size
        )));
    }
    let mut reduced = features.clone();
    for (feature, counts) in reduced.iter_mut().zip(&sitting) {
        for (bounds, &n) in feature.bounds.iter_mut().zip(counts) {
            *bounds = (bounds.0.saturating_sub(n), bounds.1.saturating_sub(n));
        }
    }
    let mut over = Vec::new();
    for (feature, counts) in features.iter().zip(&sitting) {
        for ((value, &(_, max)), &n) in feature.values.iter().zip(&feature.bounds).zip(counts) {
            if n > max {
                over.push(format!(
                    "{} {value:?} already has {n} sitting members, above its maximum {max}",
                    feature.name
                ));
            }
        }
    }
    if !over.is_empty() {
        return Err(selection_error(
            "input.panelId",
            SelectionError::Infeasible { reasons: over },
        ));
    }
    let instance = Instance::new(reduced, people, k);
    Ok(Pool { instance, sitting })
}

/// Each of `rows` with its value (an index into the feature's values) for every quota
/// feature on `on`, from the profile or the custom attributes. Anyone with a value the
/// quotas do not list is refused with `BAD_USER_INPUT` on `field`, naming the values.
pub(crate) async fn quota_values(
    db: &impl ConnectionTrait,
    rows: Vec<resident::Model>,
    features: &[Feature],
    on: NaiveDate,
    field: &str,
) -> AppResult<Vec<(resident::Model, Vec<usize>)>> {
    let custom: Vec<String> = features
        .iter()
        .filter(|f| profile_feature(&f.name).is_none())
        .map(|f| feature_key(&f.name))
        .collect();
    let mut attributes: HashMap<i64, HashMap<String, String>> = HashMap::new();
    if !custom.is_empty() {
        let values: Vec<(i64, String, String)> = resident_attribute::Entity::find()
            .select_only()
            .column(resident_attribute::Column::ResidentId)
            .column(resident_attribute::Column::Name)
            .column(resident_attribute::Column::Value)
            .filter(resident_attribute::Column::Name.is_in(custom))
            .into_tuple()
            .all(db)
            .await?;
        for (id, name, value) in values {
            attributes.entry(id).or_default().insert(name, value);
        }
    }
    let lookup: Vec<HashMap<String, usize>> =
        features.iter().map(Feature::value_positions).collect();
    let mut valued = Vec::with_capacity(rows.len());
    // (feature, value) → registrants with a value the quotas do not list.
    let mut unlisted: Vec<(String, String, u32)> = Vec::new();
    for row in rows {
        let profile = Profile {
            date_of_birth: row.date_of_birth,
            sex: row.sex.clone(),
            ethnic_group: row.ethnic_group.clone(),
            disability: row.disability.clone(),
            ward_code: row.ward_code.clone(),
            deprivation_decile: row.deprivation_decile,
            attributes: attributes.remove(&row.id.get()).unwrap_or_default(),
        };
        let mut values = Vec::with_capacity(features.len());
        for (feature, known) in features.iter().zip(&lookup) {
            let value = profile
                .value(&feature.name, on)
                .unwrap_or_else(|| "(missing)".to_owned());
            match known.get(&value.trim().to_lowercase()) {
                Some(&index) => values.push(index),
                None => {
                    match unlisted
                        .iter_mut()
                        .find(|(f, v, _)| *f == feature.name && *v == value)
                    {
                        Some((_, _, n)) => *n += 1,
                        None => unlisted.push((feature.name.clone(), value, 1)),
                    }
                }
            }
        }
        if values.len() == features.len() {
            valued.push((row, values));
        }
    }
    if !unlisted.is_empty() {
        let described: Vec<String> = unlisted
            .iter()
            .take(10)
            .map(|(f, v, n)| format!("{n} with {f} {v:?}"))
            .collect();
        return Err(AppError::bad_input(
            field,
            format!(
                "Some eligible registrants have a value the quotas do not list ({}{}): add a quota for each (minimum 0 if need be), import the missing attributes, or narrow the panel's eligibility.",
                described.join("; "),
                if unlisted.len() > 10 { "; …" } else { "" }
            ),
        ));
    }
    Ok(valued)
}
