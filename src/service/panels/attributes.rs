//! What selection needs to know of residents beyond their registration: attributes imported
//! from a file, and a parent's or guardian's consent for an under-13.

use super::*;

/// What an attribute import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeImport {
    /// Residents given attributes.
    pub residents: u64,
    /// Attribute values written.
    pub values: u64,
}

/// Sets residents' custom attributes (categories their profile does not hold, such as
/// housing tenure or a survey's answer) from a CSV: a `resident_id` column (the API's
/// resident ID or the number) and one column per attribute. Blank cells are left as they
/// are. The whole file is checked before anything is written.
pub async fn import_attributes(
    state: &AppState,
    caller: &Caller,
    csv: &str,
) -> AppResult<AttributeImport> {
    caller.require(OFFICERS)?;
    let field = "input.csv";
    let text = crate::domain::text_input::TextInput::new(
        std::io::Cursor::new(csv.as_bytes().to_vec()),
        crate::domain::text_input::TextEncoding::Utf8,
    );
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::bad_input(field, e.to_string()))?
        .iter()
        .map(feature_key)
        .collect();
    let id_column = header
        .iter()
        .position(|h| h == "resident_id" || h == "id")
        .ok_or_else(|| AppError::bad_input(field, "There is no resident_id column."))?;
    let names: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != id_column && !h.is_empty())
        .map(|(i, h)| (i, h.clone()))
        .collect();
    if let Some((_, name)) = names
        .iter()
        .find(|(_, name)| profile_feature(name).is_some())
    {
        return Err(AppError::bad_input(
            field,
            format!("{name} comes from the registrant's profile and cannot be set here."),
        ));
    }
    let mut values: Vec<(i64, String, String)> = Vec::new();
    let mut residents = std::collections::BTreeSet::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| AppError::bad_input(field, e.to_string()))?;
        let given = record.get(id_column).unwrap_or("").trim();
        let id = given
            .parse::<i64>()
            .ok()
            .or_else(|| {
                crate::global_id::decode::<ResidentId>(given, field)
                    .ok()
                    .map(ResidentId::get)
            })
            .ok_or_else(|| {
                AppError::bad_input(
                    field,
                    format!("line {line}: {given:?} is not a resident ID"),
                )
            })?;
        residents.insert(id);
        for (column, name) in &names {
            let value = record.get(*column).unwrap_or("").trim();
            if value.chars().count() > 200 {
                return Err(AppError::bad_input(
                    field,
                    format!("line {line}: {name} is longer than 200 characters"),
                ));
            }
            if !value.is_empty() {
                values.push((id, name.clone(), value.to_owned()));
            }
        }
    }
    let db = state.db.writer();
    let ids: Vec<i64> = residents.iter().copied().collect();
    let mut known = 0;
    for chunk in ids.chunks(500) {
        known += resident::Entity::find()
            .filter(resident::Column::Id.is_in(chunk.to_vec()))
            .count(db)
            .await?;
    }
    if known != ids.len() as u64 {
        return Err(AppError::bad_input(
            field,
            format!(
                "{} of the file's residents do not exist.",
                ids.len() as u64 - known
            ),
        ));
    }
    let txn = db.begin().await?;
    for chunk in values.chunks(500) {
        let rows: Vec<resident_attribute::ActiveModel> = chunk
            .iter()
            .map(|(id, name, value)| resident_attribute::ActiveModel {
                resident_id: Set(ResidentId(*id)),
                name: Set(name.clone()),
                value: Set(value.clone()),
                ..Default::default()
            })
            .collect();
        resident_attribute::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    resident_attribute::Column::ResidentId,
                    resident_attribute::Column::Name,
                ])
                .update_column(resident_attribute::Column::Value)
                .to_owned(),
            )
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(residents = ids.len(), values = values.len(), by = ?caller.account(), "resident attributes imported");
    Ok(AttributeImport {
        residents: ids.len() as u64,
        values: values.len() as u64,
    })
}

/// A parent's or guardian's consent for a registrant under 13, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardianConsent {
    /// The registrant.
    pub resident_id: ResidentId,
    /// As the officer recorded it: trimmed, 1 to 200 characters.
    pub guardian_name: String,
    /// Their relationship to the registrant.
    pub relationship: String,
    /// How consent was given (signed form, email, …).
    pub method: String,
    /// Who recorded it.
    pub recorded_by: Option<AccountId>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// Records a parent's or guardian's consent for a registrant (needed before anyone under
/// 13 can join a panel).
pub async fn record_guardian_consent(
    state: &AppState,
    caller: &Caller,
    resident: ResidentId,
    guardian_name: &str,
    relationship: &str,
    method: &str,
) -> AppResult<GuardianConsent> {
    caller.require(OFFICERS)?;
    let text = |value: &str, field: &str, max: usize| -> AppResult<String> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > max {
            Err(AppError::bad_input(
                field,
                format!("Give 1 to {max} characters."),
            ))
        } else {
            Ok(value.to_owned())
        }
    };
    let guardian_name = text(guardian_name, "input.guardianName", 200)?;
    let relationship = text(relationship, "input.relationship", 100)?;
    let method = text(method, "input.method", 200)?;
    let db = state.db.writer();
    resident::Entity::find_by_id(resident)
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "resident" })?;
    let now = state.clock.now();
    guardian_consent::ActiveModel {
        resident_id: Set(resident),
        guardian_name: Set(guardian_name.clone()),
        relationship: Set(relationship.clone()),
        method: Set(method.clone()),
        recorded_by: Set(caller.account()),
        recorded_at: Set(now),
        withdrawn_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::info!(resident_id = %resident, by = ?caller.account(), "guardian consent recorded");
    Ok(GuardianConsent {
        resident_id: resident,
        guardian_name,
        relationship,
        method,
        recorded_by: caller.account(),
        recorded_at: now,
    })
}
