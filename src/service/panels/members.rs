//! A panel's members: memberships, their counts and events, status changes by officers, and
//! a member leaving of their own accord.

use super::*;

/// A resident's membership of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    /// The row's key, also the number in its `Membership` global ID.
    pub id: MembershipId,
    /// The panel the resident sits on (or sat on, once withdrawn or the term ended).
    pub panel_id: PanelId,
    /// The member.
    pub resident_id: ResidentId,
    /// The selection that chose them, if any.
    pub run_id: Option<SelectionRunId>,
    /// Selected, active, paused, withdrawn or term ended.
    pub status: MembershipStatus,
    /// When they were selected.
    pub selected_at: DateTime<Utc>,
    /// When the term ends.
    pub term_ends_at: Option<DateTime<Utc>>,
    /// When the status last changed.
    pub updated_at: DateTime<Utc>,
}

/// One change of a membership's status.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipEvent {
    /// From (none for the selection that created it).
    pub from: Option<MembershipStatus>,
    /// The status it moved to.
    pub to: MembershipStatus,
    /// Why, as given.
    pub reason: Option<String>,
    /// Who made the change: an officer, or the resident withdrawing (none for the system).
    pub by: Option<AccountId>,
    /// When the change was made.
    pub at: DateTime<Utc>,
}

pub(super) fn membership_to_domain(row: membership::Model) -> AppResult<Membership> {
    Ok(Membership {
        id: row.id,
        panel_id: row.panel_id,
        resident_id: row.resident_id,
        run_id: row.run_id,
        status: row.status,
        selected_at: row.selected_at,
        term_ends_at: row.term_ends_at,
        updated_at: row.updated_at,
    })
}

/// A page of a panel's memberships in the order they were made, after `after`; up to
/// `limit + 1` so the caller can tell whether another page follows.
pub async fn memberships(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    status: Option<MembershipStatus>,
    after: Option<MembershipId>,
    limit: u64,
) -> AppResult<Vec<Membership>> {
    caller.require(OFFICERS)?;
    let mut query = pages::page(
        membership::Entity::find().filter(membership::Column::PanelId.eq(panel)),
        membership::Column::Id,
        Order::OldestFirst,
        after.map(MembershipId::get),
        limit,
    );
    if let Some(status) = status {
        query = query.filter(membership::Column::Status.eq(status));
    }
    query
        .all(state.db.reader())
        .await?
        .into_iter()
        .map(membership_to_domain)
        .collect()
}

/// The first page of each of `panels`' memberships (in `status`, if given), oldest first,
/// `limit` (and one more) each, with one statement (the loader of a list's memberships).
pub async fn first_membership_pages(
    state: &AppState,
    caller: &Caller,
    panels: &[PanelId],
    status: Option<MembershipStatus>,
    limit: u64,
) -> AppResult<HashMap<PanelId, Vec<Membership>>> {
    caller.require(OFFICERS)?;
    let mut query = membership::Entity::find();
    if let Some(status) = status {
        query = query.filter(membership::Column::Status.eq(status));
    }
    let parents: Vec<i64> = panels.iter().map(|p| p.get()).collect();
    let rows = pages::first_of_each(
        state.db.reader(),
        query,
        membership::Column::PanelId,
        membership::Column::Id,
        Order::OldestFirst,
        &parents,
        limit,
    )
    .await?;
    let mut found: HashMap<PanelId, Vec<Membership>> = HashMap::new();
    for row in rows {
        let panel = row.panel_id;
        found
            .entry(panel)
            .or_default()
            .push(membership_to_domain(row)?);
    }
    Ok(found)
}

/// Members per status of a panel.
pub async fn membership_counts(
    db: &impl ConnectionTrait,
    panel: PanelId,
) -> AppResult<HashMap<MembershipStatus, u64>> {
    Ok(membership_counts_of_many(db, &[panel])
        .await?
        .remove(&panel)
        .unwrap_or_default())
}

/// [`membership_counts`] of each of `panels`, with one grouped statement.
pub async fn membership_counts_of_many(
    db: &impl ConnectionTrait,
    panels: &[PanelId],
) -> AppResult<HashMap<PanelId, HashMap<MembershipStatus, u64>>> {
    let rows: Vec<(i64, String, i64)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::PanelId)
        .column(membership::Column::Status)
        .column_as(membership::Column::Id.count(), "n")
        .filter(membership::Column::PanelId.is_in(panels.iter().copied()))
        .group_by(membership::Column::PanelId)
        .group_by(membership::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut found: HashMap<PanelId, HashMap<MembershipStatus, u64>> = HashMap::new();
    for (panel, status, n) in rows {
        if let Ok(status) = status.parse() {
            found
                .entry(PanelId(panel))
                .or_default()
                .insert(status, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok(found)
}

/// The histories of the `memberships` the caller sees ([`views::memberships`]: officers
/// every one, a resident their own), oldest first, in one statement; a resident is not
/// shown which other accounts made changes.
pub async fn membership_events_of_many(
    state: &AppState,
    caller: &Caller,
    memberships: &[MembershipId],
) -> AppResult<HashMap<MembershipId, Vec<MembershipEvent>>> {
    caller.require(&[Role::Officer, Role::Resident])?;
    let viewer = caller.viewer();
    let visible = views::memberships(viewer)
        .filter(membership::Column::Id.is_in(memberships.iter().copied()))
        .select_only()
        .column(membership::Column::Id)
        .into_query();
    let rows = membership_event::Entity::find()
        .filter(membership_event::Column::MembershipId.in_subquery(visible))
        .order_by_asc(membership_event::Column::Id)
        .all(state.db.reader())
        .await?;
    let own_account = match viewer {
        Viewer::Resident(me) => Some(me),
        _ => None,
    };
    let mut found: HashMap<MembershipId, Vec<MembershipEvent>> = HashMap::new();
    for row in rows {
        found
            .entry(row.membership_id)
            .or_default()
            .push(MembershipEvent {
                from: row.from_status,
                to: row.to_status,
                reason: row.reason,
                by: row
                    .by_account
                    .filter(|by| own_account.is_none_or(|own| own == *by)),
                at: row.at,
            });
    }
    Ok(found)
}

/// Moves a membership to `to` (see [`MembershipStatus::can_become`]), recording who,
/// when and why.
pub async fn change_status(
    state: &AppState,
    caller: &Caller,
    id: MembershipId,
    to: MembershipStatus,
    reason: Option<String>,
) -> AppResult<Membership> {
    caller.require(OFFICERS)?;
    transition(state, caller, id, to, reason).await
}

/// A resident withdraws from a panel they sit on.
pub async fn withdraw_self(
    state: &AppState,
    caller: &Caller,
    panel: PanelId,
    reason: Option<String>,
) -> AppResult<Membership> {
    let db = state.db.reader();
    let row = views::memberships(caller.own_view()?)
        .filter(membership::Column::PanelId.eq(panel))
        .filter(membership::Column::Status.is_in(MembershipStatus::SITTING))
        .one(db)
        .await?
        .ok_or(AppError::NotFound { what: "membership" })?;
    transition(state, caller, row.id, MembershipStatus::Withdrawn, reason).await
}

pub(super) async fn transition(
    state: &AppState,
    caller: &Caller,
    id: MembershipId,
    to: MembershipStatus,
    reason: Option<String>,
) -> AppResult<Membership> {
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 2_000) {
        return Err(AppError::bad_input(
            "input.reason",
            "A reason is at most 2,000 characters.",
        ));
    }
    let now = state.clock.now();
    let txn = state.db.writer().begin().await?;
    let row = membership::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound { what: "membership" })?;
    let current = membership_to_domain(row.clone())?;
    if !current.status.can_become(to) {
        return Err(AppError::conflict(format!(
            "A membership that is {} cannot become {}.",
            current.status, to
        )));
    }
    // The update names the status it read, so two changes at once cannot both apply.
    let updated = membership::Entity::update_many()
        .col_expr(
            membership::Column::Status,
            sea_orm::sea_query::Expr::value(to),
        )
        .col_expr(
            membership::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(membership::Column::Id.eq(id))
        .filter(membership::Column::Status.eq(current.status))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::conflict(
            "The membership changed meanwhile; read it again.",
        ));
    }
    membership_event::ActiveModel {
        membership_id: Set(id),
        from_status: Set(Some(current.status)),
        to_status: Set(to),
        reason: Set(reason),
        by_account: Set(caller.account()),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    tracing::info!(membership_id = %id, from = %current.status, to = %to, by = ?caller.account(), "membership changed");
    Ok(Membership {
        status: to,
        updated_at: now,
        ..current
    })
}
