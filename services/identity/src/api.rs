//! The gRPC API of identity: maps requests to validated domain inputs, calls the [`Registry`], and maps
//! the results back. Field names in errors are the proto's.

use std::sync::Arc;

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

use chrono::NaiveDate;

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
        debtor_system: pb::DebtorSystem::from_str_name(&m.debtor_system).unwrap_or_default() as i32,
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

#[tonic::async_trait]
impl pb::token_service_server::TokenService for IdentityApi {
    async fn exchange_api_key(
        &self,
        request: Request<pb::ExchangeApiKeyRequest>,
    ) -> Result<Response<pb::ExchangeApiKeyResponse>, Status> {
        let issued = self
            .registry
            .exchange_api_key(&request.into_inner().api_key)
            .await?;
        Ok(Response::new(pb::ExchangeApiKeyResponse {
            access_token: issued.token,
            token_type: "Bearer".into(),
            expire_time: Some(to_timestamp(issued.expires_at)),
        }))
    }

    async fn get_public_keys(
        &self,
        _request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        Ok(Response::new(pb::GetPublicKeysResponse {
            keys: self.registry.public_keys().to_vec(),
        }))
    }

    async fn get_caller(
        &self,
        request: Request<pb::GetCallerRequest>,
    ) -> Result<Response<pb::GetCallerResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(pb::GetCallerResponse {
            subject: caller.subject,
            municipality_id: caller
                .municipality_id
                .map(|m| m.to_string())
                .unwrap_or_default(),
            roles: caller.roles.into_iter().map(|r| r as i32).collect(),
        }))
    }

    async fn rotate_signing_key(
        &self,
        request: Request<pb::RotateSigningKeyRequest>,
    ) -> Result<Response<pb::RotateSigningKeyResponse>, Status> {
        let caller = caller(&request)?;
        let key = self.registry.rotate_signing_key(&caller).await?;
        Ok(Response::new(pb::RotateSigningKeyResponse {
            key: Some(key),
        }))
    }
}

#[tonic::async_trait]
impl pb::municipality_service_server::MunicipalityService for IdentityApi {
    async fn create_municipality(
        &self,
        request: Request<pb::CreateMunicipalityRequest>,
    ) -> Result<Response<pb::CreateMunicipalityResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let new = NewMunicipality {
            code: v.digits("code", &req.code, 3),
            name: v.text("name", &req.name, NAME_MAX),
            cvr_number: cvr_number(&mut v, "cvr_number", &req.cvr_number),
            debtor_system: debtor_system(&mut v, "debtor_system", req.debtor_system),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateMunicipality", &key, &req)?;
        let m = self.registry.create_municipality(&caller, new, key).await?;
        Ok(Response::new(pb::CreateMunicipalityResponse {
            municipality: Some(municipality(m)),
        }))
    }

    async fn get_municipality(
        &self,
        request: Request<pb::GetMunicipalityRequest>,
    ) -> Result<Response<pb::GetMunicipalityResponse>, Status> {
        caller(&request)?;
        let id = required_id("municipality_id", &request.get_ref().municipality_id)?;
        let m = self.registry.get_municipality(&id).await?;
        Ok(Response::new(pb::GetMunicipalityResponse {
            municipality: Some(municipality(m)),
        }))
    }

    async fn list_municipalities(
        &self,
        request: Request<pb::ListMunicipalitiesRequest>,
    ) -> Result<Response<pb::ListMunicipalitiesResponse>, Status> {
        caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.list_municipalities(&page).await?;
        Ok(Response::new(pb::ListMunicipalitiesResponse {
            municipalities: rows.into_iter().map(municipality).collect(),
            page: Some(page),
        }))
    }

    async fn update_municipality(
        &self,
        request: Request<pb::UpdateMunicipalityRequest>,
    ) -> Result<Response<pb::UpdateMunicipalityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("municipality_id", &req.municipality_id);
        let changes = MunicipalityChanges {
            name: req.name.as_deref().map(|n| v.text("name", n, NAME_MAX)),
            cvr_number: req
                .cvr_number
                .as_deref()
                .map(|c| cvr_number(&mut v, "cvr_number", c)),
            debtor_system: req
                .debtor_system
                .map(|d| debtor_system(&mut v, "debtor_system", d)),
            active: req.active,
        };
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let m = self
            .registry
            .update_municipality(&caller, &id, req.expected_version, changes)
            .await?;
        Ok(Response::new(pb::UpdateMunicipalityResponse {
            municipality: Some(municipality(m)),
        }))
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for IdentityApi {
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let new = NewUser {
            municipality_id,
            name: v.text("name", &req.name, NAME_MAX),
            email: v.email("email", &req.email),
            roles: checked_roles(&mut v, "roles", &req.roles, municipality_id, false),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateUser", &key, &req)?;
        let u = self.registry.create_user(&caller, new, key).await?;
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(user(u)),
        }))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("user_id", &request.get_ref().user_id)?;
        let u = self.registry.get_user(&caller, &id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user(u)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_users(&caller, municipality_id, &page)
            .await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: rows.into_iter().map(user).collect(),
            page: Some(page),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("user_id", &req.user_id);
        let changes = UserChanges {
            name: req.name.as_deref().map(|n| v.text("name", n, NAME_MAX)),
            email: req.email.as_deref().map(|e| v.email("email", e)),
            roles: req
                .roles
                .as_ref()
                .map(|r| roles(&mut v, "roles.roles", &r.roles)),
            active: req.active,
        };
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let u = self
            .registry
            .update_user(&caller, &id, req.expected_version, changes)
            .await?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user(u)),
        }))
    }

    async fn anonymize_user(
        &self,
        request: Request<pb::AnonymizeUserRequest>,
    ) -> Result<Response<pb::AnonymizeUserResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("user_id", &request.get_ref().user_id)?;
        let u = self.registry.anonymize_user(&caller, &id).await?;
        Ok(Response::new(pb::AnonymizeUserResponse {
            user: Some(user(u)),
        }))
    }
}

#[tonic::async_trait]
impl pb::service_account_service_server::ServiceAccountService for IdentityApi {
    async fn create_service_account(
        &self,
        request: Request<pb::CreateServiceAccountRequest>,
    ) -> Result<Response<pb::CreateServiceAccountResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let name = req.name.trim().to_owned();
        v.check("name", domain::check_service_account_name(&name));
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let new = NewServiceAccount {
            name,
            description: v.optional_text("description", &req.description, DESCRIPTION_MAX),
            municipality_id,
            roles: checked_roles(&mut v, "roles", &req.roles, municipality_id, true),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateServiceAccount", &key, &req)?;
        let account = self
            .registry
            .create_service_account(&caller, new, key)
            .await?;
        Ok(Response::new(pb::CreateServiceAccountResponse {
            service_account: Some(service_account(account)),
        }))
    }

    async fn list_service_accounts(
        &self,
        request: Request<pb::ListServiceAccountsRequest>,
    ) -> Result<Response<pb::ListServiceAccountsResponse>, Status> {
        let caller = caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.list_service_accounts(&caller, &page).await?;
        Ok(Response::new(pb::ListServiceAccountsResponse {
            service_accounts: rows.into_iter().map(service_account).collect(),
            page: Some(page),
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let subject = subject(&mut v, "subject", &req.subject);
        let description = v.optional_text("description", &req.description, DESCRIPTION_MAX);
        let expires_at = req.expire_time.as_ref().and_then(|t| {
            let time = from_timestamp(t).filter(|t| *t > chrono::Utc::now());
            if time.is_none() {
                v.violation("expire_time", "must be a valid time in the future");
            }
            time
        });
        v.finish()?;
        let Some(subject) = subject else {
            return Err(Error::invalid("subject", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateApiKey", &key, &req)?;
        let created = self
            .registry
            .create_api_key(
                &caller,
                NewApiKey {
                    subject,
                    description,
                    expires_at,
                },
                key,
            )
            .await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(api_key(created.key)),
            secret: created.secret.unwrap_or_default(),
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let subject = subject(&mut v, "subject", &req.subject);
        v.finish()?;
        let Some(subject) = subject else {
            return Err(Error::invalid("subject", "is required").into());
        };
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_api_keys(&caller, subject, &page).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: rows.into_iter().map(api_key).collect(),
            page: Some(page),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("api_key_id", &request.get_ref().api_key_id)?;
        let key = self.registry.revoke_api_key(&caller, &id).await?;
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(api_key(key)),
        }))
    }
}

// Eligibility.

const NOTE_MAX: usize = 2000;

fn date(v: &mut Validator, field: &str, value: &str) -> Option<NaiveDate> {
    if value.trim().is_empty() {
        v.violation(field, "is required");
        return None;
    }
    optional_date(v, field, value)
}

fn optional_date(v: &mut Validator, field: &str, value: &str) -> Option<NaiveDate> {
    if value.trim().is_empty() {
        return None;
    }
    eligibility::parse_date(value)
        .map_err(|description| v.violation(field, description))
        .ok()
}

fn registration(r: eligibility_registrations::Model) -> pb::EligibilityRegistration {
    pb::EligibilityRegistration {
        registration_id: r.id,
        user_id: r.user_id,
        municipality_id: r.municipality_id,
        valid_from: format_date(r.valid_from),
        valid_to: r.valid_to.map(format_date).unwrap_or_default(),
        version: r.version,
        create_time: Some(to_timestamp(r.created_at)),
    }
}

fn change(c: eligibility_changes::Model) -> pb::EligibilityChange {
    pb::EligibilityChange {
        change_id: c.id,
        kind: pb::EligibilityChangeKind::from_str_name(&c.kind).unwrap_or_default() as i32,
        municipality_id: c.municipality_id,
        requested_by: c.requested_by,
        request_time: Some(to_timestamp(c.requested_at)),
        registration_id: c.registration_id,
        replaced_registration_id: c.replaced_registration_id.unwrap_or_default(),
        effective_date: format_date(c.effective_date),
        note: c.note,
    }
}

fn quota(
    municipality_id: Uuid,
    date: NaiveDate,
    baseline_date: NaiveDate,
    q: eligibility::Quota,
) -> pb::Quota {
    pb::Quota {
        municipality_id: municipality_id.to_string(),
        date: format_date(date),
        eligible_count: q.eligible as i64,
        baseline_date: format_date(baseline_date),
        baseline: q.baseline as i64,
        billable_extra: q.billable_extra as i64,
    }
}

#[tonic::async_trait]
impl pb::eligibility_service_server::EligibilityService for IdentityApi {
    async fn register_eligible_user(
        &self,
        request: Request<pb::RegisterEligibleUserRequest>,
    ) -> Result<Response<pb::RegisterEligibleUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let user_id = v.id("user_id", &req.user_id);
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let first = date(&mut v, "valid_from", &req.valid_from);
        let last = optional_date(&mut v, "valid_to", &req.valid_to);
        let note = v.optional_text("note", &req.note, NOTE_MAX);
        let period = first.and_then(|first| {
            eligibility::Period::new(first, last)
                .map_err(|e| v.violation("valid_to", e.to_string()))
                .ok()
        });
        v.finish()?;
        let (Some(user_id), Some(municipality_id), Some(period)) =
            (user_id, municipality_id, period)
        else {
            return Err(Error::invalid("valid_from", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "RegisterEligibleUser", &key, &req)?;
        let new = NewEligibility {
            user_id,
            municipality_id,
            period,
            note,
        };
        let applied = self
            .registry
            .register_eligible_user(&caller, new, key)
            .await?;
        Ok(Response::new(pb::RegisterEligibleUserResponse {
            registration: Some(registration(applied.registration)),
            change: Some(change(applied.change)),
        }))
    }

    async fn replace_eligible_user(
        &self,
        request: Request<pb::ReplaceEligibleUserRequest>,
    ) -> Result<Response<pb::ReplaceEligibleUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let replaced = v.id("replaced_registration_id", &req.replaced_registration_id);
        let new_user = v.id("new_user_id", &req.new_user_id);
        let effective = date(&mut v, "effective_date", &req.effective_date);
        let last = optional_date(&mut v, "valid_to", &req.valid_to);
        let note = v.optional_text("note", &req.note, NOTE_MAX);
        v.finish()?;
        let (Some(replaced_registration_id), Some(new_user_id), Some(effective)) =
            (replaced, new_user, effective)
        else {
            return Err(Error::invalid("effective_date", "is required").into());
        };
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "ReplaceEligibleUser", &key, &req)?;
        let replacement = Replacement {
            replaced_registration_id,
            new_user_id,
            effective,
            last,
            note,
        };
        let applied = self
            .registry
            .replace_eligible_user(&caller, replacement, key)
            .await?;
        Ok(Response::new(pb::ReplaceEligibleUserResponse {
            registration: Some(registration(applied.registration)),
            replaced_registration: applied.replaced.map(registration),
            change: Some(change(applied.change)),
        }))
    }

    async fn stop_eligibility(
        &self,
        request: Request<pb::StopEligibilityRequest>,
    ) -> Result<Response<pb::StopEligibilityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let registration_id = v.id("registration_id", &req.registration_id);
        let last = date(&mut v, "valid_to", &req.valid_to);
        let note = v.optional_text("note", &req.note, NOTE_MAX);
        v.finish()?;
        let (Some(registration_id), Some(last)) = (registration_id, last) else {
            return Err(Error::invalid("valid_to", "is required").into());
        };
        let applied = self
            .registry
            .stop_eligibility(
                &caller,
                Stop {
                    registration_id,
                    last,
                    note,
                },
            )
            .await?;
        Ok(Response::new(pb::StopEligibilityResponse {
            registration: Some(registration(applied.registration)),
            change: Some(change(applied.change)),
        }))
    }

    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let user_id = v.id("user_id", &req.user_id);
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let at = req.time.as_ref().and_then(|t| {
            let time = from_timestamp(t);
            if time.is_none() {
                v.violation("time", "is not a valid time");
            }
            time
        });
        v.finish()?;
        let (Some(user_id), Some(municipality_id)) = (user_id, municipality_id) else {
            return Err(Error::invalid("user_id", "is required").into());
        };
        let answer = self
            .registry
            .check_eligibility(&caller, user_id, municipality_id, at)
            .await?;
        Ok(Response::new(pb::CheckEligibilityResponse {
            eligible: answer.registration.is_some(),
            registration: answer.registration.map(registration),
            date: format_date(answer.date),
        }))
    }

    async fn list_eligibility_registrations(
        &self,
        request: Request<pb::ListEligibilityRegistrationsRequest>,
    ) -> Result<Response<pb::ListEligibilityRegistrationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let user_id = v.optional_id("user_id", &req.user_id);
        v.finish()?;
        let municipality_id =
            municipality_id.ok_or_else(|| Error::invalid("municipality_id", "is required"))?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_eligibility_registrations(&caller, municipality_id, user_id, &page)
            .await?;
        Ok(Response::new(pb::ListEligibilityRegistrationsResponse {
            registrations: rows.into_iter().map(registration).collect(),
            page: Some(page),
        }))
    }

    async fn list_eligibility_changes(
        &self,
        request: Request<pb::ListEligibilityChangesRequest>,
    ) -> Result<Response<pb::ListEligibilityChangesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let municipality_id = required_id("municipality_id", &req.municipality_id)?;
        let municipality_id = Uuid::parse_str(&municipality_id).map_err(Error::internal)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_eligibility_changes(&caller, municipality_id, &page)
            .await?;
        Ok(Response::new(pb::ListEligibilityChangesResponse {
            changes: rows.into_iter().map(change).collect(),
            page: Some(page),
        }))
    }

    async fn get_quota(
        &self,
        request: Request<pb::GetQuotaRequest>,
    ) -> Result<Response<pb::GetQuotaResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let date = optional_date(&mut v, "date", &req.date);
        v.finish()?;
        let municipality_id =
            municipality_id.ok_or_else(|| Error::invalid("municipality_id", "is required"))?;
        let (date, q) = self.registry.quota(&caller, municipality_id, date).await?;
        Ok(Response::new(pb::GetQuotaResponse {
            quota: Some(quota(
                municipality_id,
                date,
                self.registry.baseline_date(),
                q,
            )),
        }))
    }

    async fn get_billing_report(
        &self,
        request: Request<pb::GetBillingReportRequest>,
    ) -> Result<Response<pb::GetBillingReportResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let first = date(&mut v, "first_day", &req.first_day);
        let last = date(&mut v, "last_day", &req.last_day);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        if let (Some(first), Some(last)) = (first, last) {
            v.check("last_day", eligibility::check_billing_period(first, last));
        }
        v.finish()?;
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Error::invalid("first_day", "is required").into());
        };
        let lines = self
            .registry
            .billing_report(&caller, first, last, municipality_id)
            .await?;
        Ok(Response::new(pb::GetBillingReportResponse {
            first_day: format_date(first),
            last_day: format_date(last),
            baseline_date: format_date(self.registry.baseline_date()),
            lines: lines
                .into_iter()
                .map(|line| pb::BillingLine {
                    municipality_id: line.municipality_id,
                    baseline: line.billing.baseline as i64,
                    extra_user_days: line.billing.extra_user_days as i64,
                    peak_eligible: line.billing.peak_eligible as i64,
                    peak_billable_extra: line.billing.peak_billable_extra as i64,
                })
                .collect(),
        }))
    }
}

kommune_platform::audit_service!(IdentityApi, pb, registry);
kommune_platform::event_service!(IdentityApi, pb, registry);
