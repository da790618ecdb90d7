//! Callers' views of the tables residents reach: each finder is the rows of one table a
//! kind of caller may see, as a query the service narrows further (by id, by page). A
//! service asks for the view rather than reading a row and then checking whose it is, so a
//! row out of view is never read, and "not yours" and "not there" are the same answer.
//!
//! Which roles may call a use case at all stays with the service (`Caller::require`); a
//! view decides which rows a caller allowed in sees.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Select};

use crate::db::entities::{account, consultation, invitation, membership, resident};
use crate::domain::accounts::role::Role;
use crate::domain::consultations::consultation::Status;
use crate::domain::ids::AccountId;

/// Who is looking, as the views tell rows apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// An ADMIN, or the system (the command line, a job doing what was asked of it).
    Everything,
    /// An OFFICER or SCRUTINY member, signed in with this account.
    Staff(AccountId),
    /// A resident, signed in with this account.
    Resident(AccountId),
    /// No one signed in.
    Nobody,
}

/// A condition no row meets.
fn none() -> SimpleExpr {
    ExprTrait::eq(Expr::val(1), 0)
}

/// Accounts: an ADMIN sees every account; staff their own and other staff's (whose names
/// appear on what they did); a resident only their own.
pub fn accounts(viewer: Viewer) -> Select<account::Entity> {
    let find = account::Entity::find();
    match viewer {
        Viewer::Everything => find,
        Viewer::Staff(me) => find.filter(
            Condition::any()
                .add(account::Column::Id.eq(me))
                .add(account::Column::Role.is_in(Role::ALL.into_iter().filter(|r| r.is_staff()))),
        ),
        Viewer::Resident(me) => find.filter(account::Column::Id.eq(me)),
        Viewer::Nobody => find.filter(none()),
    }
}

/// The registrations linked to a resident's account.
fn residents_of(account: AccountId) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(resident::Column::Id)
        .from(resident::Entity)
        .and_where(resident::Column::AccountId.eq(account))
        .to_owned()
}

/// Registrants: staff see them all; a resident only the registrations linked to their
/// account.
pub fn residents(viewer: Viewer) -> Select<resident::Entity> {
    let find = resident::Entity::find();
    match viewer {
        Viewer::Everything | Viewer::Staff(_) => find,
        Viewer::Resident(me) => find.filter(resident::Column::AccountId.eq(me)),
        Viewer::Nobody => find.filter(none()),
    }
}

/// Panel memberships: staff see them all; a resident only their own.
pub fn memberships(viewer: Viewer) -> Select<membership::Entity> {
    let find = membership::Entity::find();
    match viewer {
        Viewer::Everything | Viewer::Staff(_) => find,
        Viewer::Resident(me) => {
            find.filter(membership::Column::ResidentId.in_subquery(residents_of(me)))
        }
        Viewer::Nobody => find.filter(none()),
    }
}

/// Invitations that have not been revoked: staff see them all; a resident only those sent
/// to them (to any registration linked to their account), of consultations past drafting.
pub fn invitations(viewer: Viewer) -> Select<invitation::Entity> {
    let find = invitation::Entity::find().filter(invitation::Column::RevokedAt.is_null());
    match viewer {
        Viewer::Everything | Viewer::Staff(_) => find,
        Viewer::Resident(me) => find
            .filter(invitation::Column::ResidentId.in_subquery(residents_of(me)))
            .filter(
                invitation::Column::ConsultationId.in_subquery(
                    Query::select()
                        .column(consultation::Column::Id)
                        .from(consultation::Entity)
                        .and_where(consultation::Column::Status.ne(Status::Draft))
                        .to_owned(),
                ),
            ),
        Viewer::Nobody => find.filter(none()),
    }
}

/// Consultations: staff see every one; residents and anyone else only those past drafting.
pub fn consultations(viewer: Viewer) -> Select<consultation::Entity> {
    let find = consultation::Entity::find();
    match viewer {
        Viewer::Everything | Viewer::Staff(_) => find,
        Viewer::Resident(_) | Viewer::Nobody => {
            find.filter(consultation::Column::Status.ne(Status::Draft))
        }
    }
}
