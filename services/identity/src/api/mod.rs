//! The gRPC API of identity: maps requests to validated domain inputs, calls the [`Registry`], and maps
//! the results back. Field names in errors are the proto's.

use std::sync::Arc;

use chrono::NaiveDate;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::{from_timestamp, to_timestamp};
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, format_date, required_id};
use kommune_proto::identity::v1 as pb;
use pb::Role;

use crate::domain::eligibility;
use crate::domain::{
    self, MunicipalityChanges, NewApiKey, NewEligibility, NewMunicipality, NewServiceAccount,
    NewUser, Replacement, Stop, Subject, UserChanges,
};
use crate::registry::Registry;
use crate::store::{
    self, api_keys, eligibility_changes, eligibility_registrations, municipalities,
    service_accounts, users,
};

mod eligibility_service;
mod principals;

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 1000;

/// Implements every identity service over the registry.
#[derive(Clone)]
pub struct IdentityApi {
    registry: Arc<Registry>,
}

impl IdentityApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

// Proto -> domain.

fn debtor_system(v: &mut Validator, field: &str, value: i32) -> pb::DebtorSystem {
    pb::DebtorSystem::try_from(value).unwrap_or_else(|_| {
        v.violation(field, "is not a known debtor system");
        pb::DebtorSystem::Unspecified
    })
}

/// Reads a repeated role field, naming a bad entry by its index.
fn roles(v: &mut Validator, field: &str, values: &[i32]) -> Vec<Role> {
    let mut roles = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match Role::try_from(*value) {
            Ok(role) => roles.push(role),
            Err(_) => v.violation(format!("{field}[{i}]"), "is not a known role"),
        }
    }
    roles
}

/// Roles checked against the principal's municipality.
fn checked_roles(
    v: &mut Validator,
    field: &str,
    values: &[i32],
    municipality_id: Option<Uuid>,
    service_account: bool,
) -> Vec<Role> {
    let roles = roles(v, field, values);
    domain::check_roles(&roles, municipality_id, service_account).unwrap_or_else(|description| {
        v.violation(field, description);
        Vec::new()
    })
}

fn cvr_number(v: &mut Validator, field: &str, value: &str) -> String {
    let value = value.trim().to_owned();
    v.check(field, domain::check_cvr(&value));
    value
}

fn subject(v: &mut Validator, field: &str, value: &str) -> Option<Subject> {
    let subject = Subject::parse(value);
    if subject.is_none() {
        v.violation(field, "must be user:<id> or service-account:<id>");
    }
    subject
}

// Domain -> proto.

fn municipality(m: municipalities::Model) -> pb::Municipality {
    pb::Municipality {
        municipality_id: m.id,
        code: m.code,
        name: m.name,
        cvr_number: m.cvr_number,
        debtor_system: *m.debtor_system as i32,
        active: m.active,
        version: m.version,
        create_time: Some(to_timestamp(m.created_at)),
        update_time: Some(to_timestamp(m.updated_at)),
    }
}

fn role_values(roles: &str) -> Vec<i32> {
    store::decode_roles(roles)
        .into_iter()
        .map(|r| r as i32)
        .collect()
}

fn user(u: users::Model) -> pb::User {
    pb::User {
        anonymized: u.anonymized_at.is_some(),
        anonymize_time: u.anonymized_at.map(to_timestamp),
        roles: role_values(&u.roles),
        user_id: u.id,
        municipality_id: u.municipality_id.unwrap_or_default(),
        name: u.name,
        email: u.email,
        active: u.active,
        version: u.version,
        create_time: Some(to_timestamp(u.created_at)),
        update_time: Some(to_timestamp(u.updated_at)),
    }
}

fn service_account(a: service_accounts::Model) -> pb::ServiceAccount {
    pb::ServiceAccount {
        roles: role_values(&a.roles),
        service_account_id: a.id,
        name: a.name,
        description: a.description,
        municipality_id: a.municipality_id.unwrap_or_default(),
        active: a.active,
        version: a.version,
        create_time: Some(to_timestamp(a.created_at)),
    }
}

fn api_key(k: api_keys::Model) -> pb::ApiKey {
    pb::ApiKey {
        api_key_id: k.id,
        subject: k.subject,
        description: k.description,
        prefix: k.prefix,
        create_time: Some(to_timestamp(k.created_at)),
        expire_time: k.expires_at.map(to_timestamp),
        revoke_time: k.revoked_at.map(to_timestamp),
    }
}

kommune_platform::audit_service!(IdentityApi, pb, registry);
kommune_platform::privacy_service!(IdentityApi, pb, registry);
kommune_platform::event_service!(IdentityApi, pb, registry);
