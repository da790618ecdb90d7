//! "About you" age questions and the census: their bands are read as age ranges
//! (`domain::reports::age_range`), refused with `BAD_USER_INPUT` naming the option when they cut a
//! census band (when the questions are set and when the consultation opens), and
//! otherwise turned into the scheme reports count ages by.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::db::entities::panel;
use crate::domain::consultations::consultation::QuestionItem;
use crate::domain::ids::PanelId;
use crate::domain::reports::age_range::AgeScheme;
use crate::error::{AppError, AppResult};

/// The dimension an age question records.
const AGE_BAND: &str = "age_band";

/// The youngest age a consultation's people can be: its panel's minimum age, or 16 (the
/// reports' default) without a panel or a minimum.
pub(crate) async fn youngest_age(
    db: &impl ConnectionTrait,
    panel: Option<PanelId>,
) -> AppResult<u32> {
    let Some(panel) = panel else {
        return Ok(16);
    };
    let min = panel::Entity::find_by_id(panel)
        .one(db)
        .await?
        .and_then(|p| p.min_age);
    Ok(min.and_then(|m| u32::try_from(m).ok()).unwrap_or(16))
}

/// Refuses an age question whose bands cannot be reported against the census;
/// `field(question index, option index)` names the option in the error.
pub(crate) fn check(
    items: &[QuestionItem],
    min_age: u32,
    field: impl Fn(usize, usize) -> String,
) -> AppResult<()> {
    for (i, item) in items.iter().enumerate() {
        if item.about_you.as_deref() != Some(AGE_BAND) {
            continue;
        }
        if let Err(err) = AgeScheme::of(&item.labels, min_age) {
            return Err(AppError::bad_input(field(i, err.option), err.message));
        }
    }
    Ok(())
}

/// The scheme reports count ages by: the first age question's bands, when they are not
/// the census bands themselves.
pub(crate) fn scheme_of(items: &[QuestionItem], min_age: u32) -> Option<AgeScheme> {
    items
        .iter()
        .filter(|item| item.about_you.as_deref() == Some(AGE_BAND))
        .find_map(|item| AgeScheme::of(&item.labels, min_age).ok().flatten())
}
