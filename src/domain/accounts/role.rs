//! Roles and what each may do. See DESIGN.md, "Users and what each may do".

crate::stored_names! {
    /// Who someone is to the service (stored and sent on the wire by the same name).
    pub enum Role ("role") {
        /// Engagement lead: everything, including accounts and erasure.
        Admin = "ADMIN",
        /// Engagement officer: recruitment, panels, consultations, member data.
        Officer = "OFFICER",
        /// Scrutiny committee member: aggregate reports only, never microdata.
        Scrutiny = "SCRUTINY",
        /// Panel member: their own profile, consent and answers.
        Resident = "RESIDENT",
    }
}

impl Role {
    /// Whether a caller with this role passes a check that names `allowed`.
    /// ADMIN passes every check.
    pub fn is_any_of(self, allowed: &[Role]) -> bool {
        self == Role::Admin || allowed.contains(&self)
    }

    /// Roles an ADMIN may give a new staff account (residents register with a code).
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Officer | Role::Scrutiny)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_stored_form() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn admin_passes_every_check_and_others_only_their_own() {
        assert!(Role::Admin.is_any_of(&[Role::Officer]));
        assert!(Role::Officer.is_any_of(&[Role::Officer, Role::Scrutiny]));
        assert!(!Role::Scrutiny.is_any_of(&[Role::Officer]));
        assert!(!Role::Resident.is_any_of(&[Role::Officer, Role::Scrutiny]));
    }

    #[test]
    fn residents_are_not_staff() {
        assert!(!Role::Resident.is_staff());
        assert!(Role::Scrutiny.is_staff());
    }
}
