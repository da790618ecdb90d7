//! A panel report's hand-written statement: the panel's memberships counted by a member's
//! category, whether they have left, and how they answer the panel's consultations (worked
//! out in SQL from their invitations).

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Value};

use crate::db::reports::{age_cutoffs, member_sql};
use crate::db::sql::{count_of, query};
use crate::domain::ids::PanelId;
use crate::domain::reports::dimension::ReportDimension;
use crate::error::AppResult;

/// The SQL classifying each member of panel `$1`: `e` is 1 (never responded), 2
/// (responding) or 3 (lapsed); a member with no invitation has no row (0, not invited).
const ENGAGEMENT_SQL: &str = "\
WITH ranked AS ( \
  SELECT i.resident_id, CASE WHEN i.completed_at IS NOT NULL THEN 1 ELSE 0 END AS done, \
    ROW_NUMBER() OVER (PARTITION BY i.resident_id ORDER BY i.consultation_id DESC) AS recent \
  FROM invitations i JOIN consultations c ON c.id = i.consultation_id \
  WHERE c.panel_id = $1 AND i.revoked_at IS NULL), \
engaged AS ( \
  SELECT resident_id, CASE \
    WHEN MAX(done) = 0 THEN 1 \
    WHEN MAX(CASE WHEN recent <= 2 THEN done ELSE 0 END) = 1 THEN 2 \
    ELSE 3 END AS e \
  FROM ranked GROUP BY resident_id) ";

/// The memberships of a panel that share a category, whether they have left, and how their
/// members answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipGroup {
    /// The member's category on the dimension counted by (`None` when not known).
    pub category: Option<String>,
    /// Whether the membership has ended (withdrawn, term ended) rather than still sitting.
    pub left: bool,
    /// How the member answers: 0 not yet invited, 1 never responded, 2 responding (completed
    /// one of their two latest invitations), 3 lapsed.
    pub engagement: usize,
    /// How many memberships are in the group.
    pub memberships: u64,
}

/// A panel's memberships counted by their members' category on `dimension` (ages on
/// `day`), whether they have left and how the members answer the panel's consultations:
/// one grouped statement, in no order.
pub async fn memberships_by_engagement(
    db: &impl ConnectionTrait,
    panel: PanelId,
    day: NaiveDate,
    dimension: ReportDimension,
) -> AppResult<Vec<MembershipGroup>> {
    let mut values: Vec<Value> = vec![panel.get().into()];
    if dimension == ReportDimension::AgeBand {
        values.extend(age_cutoffs(day));
    }
    let rows = query(
        db,
        format!(
            "{ENGAGEMENT_SQL} SELECT {} AS category, \
               CASE WHEN m.status IN ('withdrawn', 'term_ended') THEN 1 ELSE 0 END, \
               COALESCE(g.e, 0), COUNT(*) \
             FROM memberships m JOIN residents r ON r.id = m.resident_id \
             LEFT JOIN engaged g ON g.resident_id = m.resident_id \
             WHERE m.panel_id = $1 GROUP BY 1, 2, 3",
            member_sql(dimension)
        ),
        values,
    )
    .await?;
    let mut groups = Vec::with_capacity(rows.len());
    for row in &rows {
        let category: Option<String> = row.try_get_by_index(0)?;
        let left: i32 = row.try_get_by_index(1)?;
        let engagement: i32 = row.try_get_by_index(2)?;
        groups.push(MembershipGroup {
            category,
            left: left == 1,
            engagement: usize::try_from(engagement).unwrap_or(0),
            memberships: count_of(row, 3)?,
        });
    }
    Ok(groups)
}
