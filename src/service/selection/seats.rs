//! Reading a panel's seats (`domain::selection::seats`) from the database, for a selection run to
//! record when it is computed and for its draw to compare against.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::db::entities::{membership, resident, selection_run};
use crate::domain::ids::{PanelId, SelectionRunId};
use crate::domain::panels::panel::MembershipStatus;
use crate::domain::selection::seats::Seats;
use crate::error::AppResult;

/// The panel's seats as `db` sees them now: pass the draw's transaction to read them as
/// the draw will write, and the run being drawn as `drawing` (claimed in that transaction,
/// it is not yet one of the runs drawn before).
pub async fn seats(
    db: &impl ConnectionTrait,
    panel: PanelId,
    drawing: Option<SelectionRunId>,
) -> AppResult<Seats> {
    let sitting: Vec<i64> = membership::Entity::find()
        .select_only()
        .column(membership::Column::ResidentId)
        .filter(membership::Column::PanelId.eq(panel))
        .filter(
            membership::Column::Status
                .is_in(MembershipStatus::SITTING.map(MembershipStatus::as_str)),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut households = Vec::with_capacity(sitting.len());
    for ids in sitting.chunks(1_000) {
        let keys: Vec<String> = resident::Entity::find()
            .select_only()
            .column(resident::Column::HouseholdKey)
            .filter(resident::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        households.extend(keys);
    }
    let drawn_runs: Vec<i64> = selection_run::Entity::find()
        .select_only()
        .column(selection_run::Column::Id)
        .filter(selection_run::Column::PanelId.eq(panel))
        .filter(selection_run::Column::DrawnNumber.is_not_null())
        .filter(selection_run::Column::Id.ne(drawing.map_or(0, SelectionRunId::get)))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Seats::new(sitting, households, drawn_runs))
}
