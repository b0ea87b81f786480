//! Identity's storage: sea-orm entities and plain async queries. Every write runs inside the caller's
//! transaction, beside its audit record and outbox event.

pub mod api_keys;
pub mod eligibility_changes;
pub mod eligibility_registrations;
pub mod municipalities;
pub mod service_accounts;
pub mod signing_keys;
pub mod users;

use kommune_proto::identity::v1::Role;

/// Roles as stored: proto names joined by commas.
pub fn encode_roles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str_name())
        .collect::<Vec<_>>()
        .join(",")
}

/// Roles as read back; unknown names (from a newer version) are skipped.
pub fn decode_roles(roles: &str) -> Vec<Role> {
    roles.split(',').filter_map(Role::from_str_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        let roles = vec![Role::MunicipalCaseworker, Role::MunicipalProjectLeader];
        assert_eq!(decode_roles(&encode_roles(&roles)), roles);
        assert_eq!(decode_roles(""), Vec::<Role>::new());
    }
}
