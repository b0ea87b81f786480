//! The gRPC API of identity: each handler reads the caller, validates and maps the request, checks the
//! domain's rules, and writes the change with its audit record and event in one transaction.

use std::sync::Arc;

use chrono::Duration;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use serde_json::json;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::audit::{self, AuditEntry};
use kommune_platform::auth::{Caller, caller};
use kommune_platform::clock::{SharedClock, from_timestamp, to_timestamp};
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox::{self, Cursor, Outbox};
use kommune_platform::paging::Page;
use kommune_platform::validate::Validator;
use kommune_proto::identity::v1 as pb;
use pb::Role;

use crate::domain::{self, Subject};
use crate::store::{self, api_keys, municipalities, service_accounts, users};
use crate::tokens::{KeyRing, random_key_bytes};

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 1000;

/// Entity types in identity's audit trail.
const MUNICIPALITY: &str = "municipality";
const USER: &str = "user";
const SERVICE_ACCOUNT: &str = "service_account";
const API_KEY: &str = "api_key";

/// What every handler needs.
pub struct State {
    /// The identity database.
    pub db: DatabaseConnection,
    /// The clock.
    pub clock: SharedClock,
    /// Wakes the event feed after commits.
    pub outbox: Outbox,
    /// Token signing keys.
    pub keys: KeyRing,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
}

/// Implements every identity service over one shared state.
#[derive(Clone)]
pub struct IdentityApi {
    state: Arc<State>,
}

impl IdentityApi {
    /// The API over `state`.
    pub fn new(state: Arc<State>) -> Self {
        Self { state }
    }

    fn audit<'a>(
        &self,
        caller: &'a Caller,
        entity_type: &'a str,
        entity_id: &str,
        action: &'a str,
        payload: serde_json::Value,
    ) -> AuditEntry<'a> {
        AuditEntry {
            entity_type,
            entity_id: entity_id.to_owned(),
            actor: &caller.subject,
            action,
            occurred_at: self.state.clock.now(),
            payload,
        }
    }

    async fn municipality_exists(&self, id: Uuid, field: &'static str) -> Result<(), Error> {
        match municipalities::find(&self.state.db, &id.to_string()).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found_field(
                "municipality",
                id.to_string(),
                field,
            )),
        }
    }
}

fn debtor_system_name(value: i32) -> Result<String, Error> {
    pb::DebtorSystem::try_from(value)
        .map(|d| d.as_str_name().to_owned())
        .map_err(|_| Error::invalid("debtor_system", "is not a known debtor system"))
}

fn municipality_to_proto(m: municipalities::Model) -> pb::Municipality {
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

fn roles_to_proto(roles: &str) -> Vec<i32> {
    store::decode_roles(roles)
        .into_iter()
        .map(|r| r as i32)
        .collect()
}

fn user_to_proto(u: users::Model) -> pb::User {
    pb::User {
        roles: roles_to_proto(&u.roles),
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

fn service_account_to_proto(a: service_accounts::Model) -> pb::ServiceAccount {
    pb::ServiceAccount {
        roles: roles_to_proto(&a.roles),
        service_account_id: a.id,
        name: a.name,
        description: a.description,
        municipality_id: a.municipality_id.unwrap_or_default(),
        active: a.active,
        version: a.version,
        create_time: Some(to_timestamp(a.created_at)),
    }
}

fn api_key_to_proto(k: api_keys::Model) -> pb::ApiKey {
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

/// Reads a repeated role field, naming a bad entry by its index.
fn roles_from_proto(v: &mut Validator, field: &str, values: &[i32]) -> Vec<Role> {
    let mut roles = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match Role::try_from(*value) {
            Ok(role) => roles.push(role),
            Err(_) => v.violation(format!("{field}[{i}]"), "is not a known role"),
        }
    }
    roles
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str_name()).collect()
}

#[tonic::async_trait]
impl pb::token_service_server::TokenService for IdentityApi {
    #[tracing::instrument(skip_all)]
    async fn exchange_api_key(
        &self,
        request: Request<pb::ExchangeApiKeyRequest>,
    ) -> Result<Response<pb::ExchangeApiKeyResponse>, Status> {
        let key = request.into_inner().api_key;
        let rejected = || {
            Status::from(Error::Unauthenticated(
                "invalid, expired or revoked API key".into(),
            ))
        };
        if key.len() < domain::MIN_API_KEY_LEN {
            return Err(rejected());
        }
        let db = &self.state.db;
        let now = self.state.clock.now();
        let stored = api_keys::find_by_hash(db, &domain::api_key_hash(&key)).await?;
        let Some(stored) = stored.filter(|k| k.is_usable(now)) else {
            return Err(rejected());
        };
        let (municipality_id, roles) = match Subject::parse(&stored.subject) {
            Some(Subject::User(id)) => match users::find(db, &id.to_string()).await? {
                Some(u) if u.active => (u.municipality_id, store::decode_roles(&u.roles)),
                _ => return Err(rejected()),
            },
            Some(Subject::ServiceAccount(id)) => {
                match service_accounts::find(db, &id.to_string()).await? {
                    Some(a) if a.active => (a.municipality_id, store::decode_roles(&a.roles)),
                    _ => return Err(rejected()),
                }
            }
            None => return Err(rejected()),
        };
        let expires_at = now + self.state.token_ttl;
        let token = self.state.keys.issue(
            stored.subject.clone(),
            municipality_id,
            &roles,
            now,
            expires_at,
        )?;
        tracing::info!(subject = %stored.subject, api_key_id = %stored.id, "token issued");
        Ok(Response::new(pb::ExchangeApiKeyResponse {
            access_token: token,
            token_type: "Bearer".into(),
            expire_time: Some(to_timestamp(expires_at)),
        }))
    }

    async fn get_public_keys(
        &self,
        _request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        Ok(Response::new(pb::GetPublicKeysResponse {
            keys: self.state.keys.public_keys().to_vec(),
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
}

#[tonic::async_trait]
impl pb::municipality_service_server::MunicipalityService for IdentityApi {
    #[tracing::instrument(skip_all)]
    async fn create_municipality(
        &self,
        request: Request<pb::CreateMunicipalityRequest>,
    ) -> Result<Response<pb::CreateMunicipalityResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        caller.require_any_role(&[Role::ConsortiumAdmin], "registering a municipality")?;
        let mut v = Validator::new();
        let code = v.digits("code", &req.code, 3);
        let name = v.text("name", &req.name, NAME_MAX);
        let cvr_number = req.cvr_number.trim().to_owned();
        v.check("cvr_number", domain::check_cvr(&cvr_number));
        let debtor_system = debtor_system_name(req.debtor_system).map_err(Status::from)?;
        v.finish()?;

        let key = IdempotencyKey::of(
            &caller,
            "CreateMunicipality",
            &std::mem::take(&mut req.idempotency_key),
            &req,
        )?;
        let now = self.state.clock.now();
        let response = idempotency::run(&self.state.db, key, now, async |txn: &DatabaseTransaction| {
            let m = municipalities::insert(txn, municipalities::Model {
                id: Uuid::now_v7().to_string(),
                code,
                name,
                cvr_number,
                debtor_system,
                active: true,
                version: 1,
                created_at: now,
                updated_at: now,
            })
            .await?;
            let payload = json!({"code": m.code, "name": m.name, "cvr_number": m.cvr_number, "debtor_system": m.debtor_system});
            audit::record(txn, self.audit(&caller, MUNICIPALITY, &m.id, "create", payload)).await?;
            outbox::publish(txn, now, &m.id, &pb::MunicipalityCreated { municipality_id: m.id.clone() }).await?;
            Ok(pb::CreateMunicipalityResponse { municipality: Some(municipality_to_proto(m)) })
        })
        .await?;
        self.state.outbox.notify_committed();
        Ok(Response::new(response))
    }

    async fn get_municipality(
        &self,
        request: Request<pb::GetMunicipalityRequest>,
    ) -> Result<Response<pb::GetMunicipalityResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("municipality_id", &req.municipality_id);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let m = municipalities::find(&self.state.db, &id)
            .await?
            .ok_or_else(|| Error::not_found("municipality", &id))?;
        Ok(Response::new(pb::GetMunicipalityResponse {
            municipality: Some(municipality_to_proto(m)),
        }))
    }

    async fn list_municipalities(
        &self,
        request: Request<pb::ListMunicipalitiesRequest>,
    ) -> Result<Response<pb::ListMunicipalitiesResponse>, Status> {
        caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = municipalities::list(&self.state.db, &page).await?;
        Ok(Response::new(pb::ListMunicipalitiesResponse {
            municipalities: rows.into_iter().map(municipality_to_proto).collect(),
            page: Some(page),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_municipality(
        &self,
        request: Request<pb::UpdateMunicipalityRequest>,
    ) -> Result<Response<pb::UpdateMunicipalityResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        caller.require_any_role(&[Role::ConsortiumAdmin], "changing a municipality")?;
        let mut v = Validator::new();
        let id = v.id("municipality_id", &req.municipality_id);
        let name = req.name.as_deref().map(|n| v.text("name", n, NAME_MAX));
        let cvr_number = req.cvr_number.as_deref().map(|c| {
            let c = c.trim().to_owned();
            v.check("cvr_number", domain::check_cvr(&c));
            c
        });
        let debtor_system = req
            .debtor_system
            .map(debtor_system_name)
            .transpose()
            .map_err(Status::from)?;
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();

        let now = self.state.clock.now();
        let txn = self.state.db.begin().await.map_err(Error::from)?;
        let mut m = municipalities::find(&txn, &id)
            .await?
            .ok_or_else(|| Error::not_found("municipality", &id))?;
        if m.version != req.expected_version {
            return Err(Error::Aborted(format!(
                "municipality is at version {}, not {}",
                m.version, req.expected_version
            ))
            .into());
        }
        let mut changes = serde_json::Map::new();
        if let Some(name) = name {
            changes.insert("name".into(), json!(name));
            m.name = name;
        }
        if let Some(cvr_number) = cvr_number {
            changes.insert("cvr_number".into(), json!(cvr_number));
            m.cvr_number = cvr_number;
        }
        if let Some(debtor_system) = debtor_system {
            changes.insert("debtor_system".into(), json!(debtor_system));
            m.debtor_system = debtor_system;
        }
        if let Some(active) = req.active {
            changes.insert("active".into(), json!(active));
            m.active = active;
        }
        m.version += 1;
        m.updated_at = now;
        let m = municipalities::update(&txn, m).await?;
        audit::record(
            &txn,
            self.audit(&caller, MUNICIPALITY, &m.id, "update", changes.into()),
        )
        .await?;
        outbox::publish(
            &txn,
            now,
            &m.id,
            &pb::MunicipalityUpdated {
                municipality_id: m.id.clone(),
                version: m.version,
            },
        )
        .await?;
        txn.commit().await.map_err(Error::from)?;
        self.state.outbox.notify_committed();
        Ok(Response::new(pb::UpdateMunicipalityResponse {
            municipality: Some(municipality_to_proto(m)),
        }))
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for IdentityApi {
    #[tracing::instrument(skip_all)]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let name = v.text("name", &req.name, NAME_MAX);
        let email = v.email("email", &req.email);
        let roles = roles_from_proto(&mut v, "roles", &req.roles);
        let roles = match domain::check_roles(&roles, municipality_id, false) {
            Ok(roles) => roles,
            Err(description) => {
                v.violation("roles", description);
                Vec::new()
            }
        };
        v.finish()?;
        domain::may_manage_user(&caller, municipality_id, &roles)?;
        if let Some(m) = municipality_id {
            self.municipality_exists(m, "municipality_id").await?;
        }

        let key = IdempotencyKey::of(
            &caller,
            "CreateUser",
            &std::mem::take(&mut req.idempotency_key),
            &req,
        )?;
        let now = self.state.clock.now();
        let response = idempotency::run(&self.state.db, key, now, async |txn: &DatabaseTransaction| {
            let u = users::insert(txn, users::Model {
                id: Uuid::now_v7().to_string(),
                municipality_id: municipality_id.map(|m| m.to_string()),
                name,
                email,
                roles: store::encode_roles(&roles),
                active: true,
                version: 1,
                created_at: now,
                updated_at: now,
            })
            .await?;
            let payload = json!({"municipality_id": u.municipality_id, "name": u.name, "email": u.email, "roles": role_names(&roles)});
            audit::record(txn, self.audit(&caller, USER, &u.id, "create", payload)).await?;
            let event = pb::UserCreated { user_id: u.id.clone(), municipality_id: u.municipality_id.clone().unwrap_or_default() };
            outbox::publish(txn, now, &u.id, &event).await?;
            Ok(pb::CreateUserResponse { user: Some(user_to_proto(u)) })
        })
        .await?;
        self.state.outbox.notify_committed();
        Ok(Response::new(response))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("user_id", &req.user_id);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let u = users::find(&self.state.db, &id)
            .await?
            .ok_or_else(|| Error::not_found("user", &id))?;
        let municipality = u
            .municipality_id
            .as_deref()
            .and_then(|m| Uuid::parse_str(m).ok());
        if !domain::may_see(&caller, municipality) {
            return Err(
                Error::PermissionDenied("the user belongs to another municipality".into()).into(),
            );
        }
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user_to_proto(u)),
        }))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let requested = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let municipality = if caller.is_suite_wide() {
            requested
        } else {
            match (requested, caller.municipality_id) {
                (Some(r), Some(own)) if r != own => {
                    return Err(Error::PermissionDenied(
                        "municipal users see only their own municipality's users".into(),
                    )
                    .into());
                }
                (_, Some(own)) => Some(own),
                (_, None) => {
                    return Err(Error::PermissionDenied(
                        "the caller belongs to no municipality".into(),
                    )
                    .into());
                }
            }
        };
        let municipality = municipality.map(|m| m.to_string());
        let (rows, page) = users::list(&self.state.db, municipality.as_deref(), &page).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: rows.into_iter().map(user_to_proto).collect(),
            page: Some(page),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("user_id", &req.user_id);
        let name = req.name.as_deref().map(|n| v.text("name", n, NAME_MAX));
        let email = req.email.as_deref().map(|e| v.email("email", e));
        let roles = req
            .roles
            .as_ref()
            .map(|r| roles_from_proto(&mut v, "roles.roles", &r.roles));
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();

        let now = self.state.clock.now();
        let txn = self.state.db.begin().await.map_err(Error::from)?;
        let mut u = users::find(&txn, &id)
            .await?
            .ok_or_else(|| Error::not_found("user", &id))?;
        let municipality = u
            .municipality_id
            .as_deref()
            .and_then(|m| Uuid::parse_str(m).ok());
        if !domain::may_see(&caller, municipality) {
            return Err(
                Error::PermissionDenied("the user belongs to another municipality".into()).into(),
            );
        }
        domain::may_manage_user(&caller, municipality, &store::decode_roles(&u.roles))?;
        if u.version != req.expected_version {
            return Err(Error::Aborted(format!(
                "user is at version {}, not {}",
                u.version, req.expected_version
            ))
            .into());
        }
        let mut changes = serde_json::Map::new();
        if let Some(roles) = roles {
            let roles = domain::check_roles(&roles, municipality, false)
                .map_err(|d| Error::invalid("roles.roles", d))?;
            domain::may_manage_user(&caller, municipality, &roles)?;
            changes.insert("roles".into(), json!(role_names(&roles)));
            u.roles = store::encode_roles(&roles);
        }
        if let Some(name) = name {
            changes.insert("name".into(), json!(name));
            u.name = name;
        }
        if let Some(email) = email {
            changes.insert("email".into(), json!(email));
            u.email = email;
        }
        if let Some(active) = req.active {
            changes.insert("active".into(), json!(active));
            u.active = active;
        }
        u.version += 1;
        u.updated_at = now;
        let u = users::update(&txn, u).await?;
        audit::record(
            &txn,
            self.audit(&caller, USER, &u.id, "update", changes.into()),
        )
        .await?;
        let event = pb::UserUpdated {
            user_id: u.id.clone(),
            municipality_id: u.municipality_id.clone().unwrap_or_default(),
            version: u.version,
        };
        outbox::publish(&txn, now, &u.id, &event).await?;
        txn.commit().await.map_err(Error::from)?;
        self.state.outbox.notify_committed();
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(user_to_proto(u)),
        }))
    }
}

#[tonic::async_trait]
impl pb::service_account_service_server::ServiceAccountService for IdentityApi {
    #[tracing::instrument(skip_all)]
    async fn create_service_account(
        &self,
        request: Request<pb::CreateServiceAccountRequest>,
    ) -> Result<Response<pb::CreateServiceAccountResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        caller.require_any_role(&[Role::ConsortiumAdmin], "creating a service account")?;
        let mut v = Validator::new();
        let name = req.name.trim().to_owned();
        v.check("name", domain::check_service_account_name(&name));
        let description = v.optional_text("description", &req.description, DESCRIPTION_MAX);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let roles = roles_from_proto(&mut v, "roles", &req.roles);
        let roles = match domain::check_roles(&roles, municipality_id, true) {
            Ok(roles) => roles,
            Err(description) => {
                v.violation("roles", description);
                Vec::new()
            }
        };
        v.finish()?;
        if let Some(m) = municipality_id {
            self.municipality_exists(m, "municipality_id").await?;
        }
        let key = IdempotencyKey::of(
            &caller,
            "CreateServiceAccount",
            &std::mem::take(&mut req.idempotency_key),
            &req,
        )?;
        let now = self.state.clock.now();
        let response = idempotency::run(
            &self.state.db,
            key,
            now,
            async |txn: &DatabaseTransaction| {
                let account = create_service_account(
                    txn,
                    &caller,
                    name,
                    description,
                    municipality_id,
                    &roles,
                    now,
                )
                .await?;
                Ok(pb::CreateServiceAccountResponse {
                    service_account: Some(service_account_to_proto(account)),
                })
            },
        )
        .await?;
        self.state.outbox.notify_committed();
        Ok(Response::new(response))
    }

    async fn list_service_accounts(
        &self,
        request: Request<pb::ListServiceAccountsRequest>,
    ) -> Result<Response<pb::ListServiceAccountsResponse>, Status> {
        let caller = caller(&request)?;
        caller.require_any_role(&[Role::ConsortiumAdmin], "listing service accounts")?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = service_accounts::list(&self.state.db, &page).await?;
        Ok(Response::new(pb::ListServiceAccountsResponse {
            service_accounts: rows.into_iter().map(service_account_to_proto).collect(),
            page: Some(page),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let subject = Subject::parse(&req.subject);
        if subject.is_none() {
            v.violation("subject", "must be user:<id> or service-account:<id>");
        }
        let description = v.optional_text("description", &req.description, DESCRIPTION_MAX);
        let now = self.state.clock.now();
        let expires_at = match &req.expire_time {
            Some(t) => match from_timestamp(t) {
                Some(t) if t > now => Some(t),
                _ => {
                    v.violation("expire_time", "must be a valid time in the future");
                    None
                }
            },
            None => None,
        };
        v.finish()?;
        let Some(subject) = subject else {
            return Err(Error::invalid("subject", "is required").into());
        };
        if !caller.has_role(Role::ConsortiumAdmin) && caller.subject != subject.to_string() {
            return Err(Error::PermissionDenied(
                "only consortium admins create keys for others".into(),
            )
            .into());
        }
        let exists = match subject {
            Subject::User(id) => users::find(&self.state.db, &id.to_string())
                .await?
                .is_some(),
            Subject::ServiceAccount(id) => service_accounts::find(&self.state.db, &id.to_string())
                .await?
                .is_some(),
        };
        if !exists {
            return Err(Error::not_found_field("subject", subject.to_string(), "subject").into());
        }
        let key = IdempotencyKey::of(
            &caller,
            "CreateApiKey",
            &std::mem::take(&mut req.idempotency_key),
            &req,
        )?;
        let response = idempotency::run(
            &self.state.db,
            key,
            now,
            async |txn: &DatabaseTransaction| {
                let secret = domain::api_key_from_random(&random_key_bytes()?);
                let key =
                    create_api_key(txn, &caller, subject, &secret, description, expires_at, now)
                        .await?;
                Ok(pb::CreateApiKeyResponse {
                    api_key: Some(api_key_to_proto(key)),
                    secret,
                })
            },
        )
        .await?;
        self.state.outbox.notify_committed();
        Ok(Response::new(response))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let Some(subject) = Subject::parse(&req.subject) else {
            return Err(
                Error::invalid("subject", "must be user:<id> or service-account:<id>").into(),
            );
        };
        if !caller.has_role(Role::ConsortiumAdmin) && caller.subject != subject.to_string() {
            return Err(
                Error::PermissionDenied("only consortium admins list others' keys".into()).into(),
            );
        }
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = api_keys::list(&self.state.db, &subject.to_string(), &page).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            api_keys: rows.into_iter().map(api_key_to_proto).collect(),
            page: Some(page),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("api_key_id", &req.api_key_id);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let now = self.state.clock.now();
        let txn = self.state.db.begin().await.map_err(Error::from)?;
        let key = api_keys::find(&txn, &id)
            .await?
            .ok_or_else(|| Error::not_found("api key", &id))?;
        if !caller.has_role(Role::ConsortiumAdmin) && caller.subject != key.subject {
            return Err(Error::PermissionDenied(
                "only consortium admins revoke others' keys".into(),
            )
            .into());
        }
        let already_revoked = key.revoked_at.is_some();
        let key = api_keys::revoke(&txn, key, now).await?;
        if !already_revoked {
            audit::record(
                &txn,
                self.audit(
                    &caller,
                    API_KEY,
                    &key.id,
                    "revoke",
                    json!({"subject": key.subject}),
                ),
            )
            .await?;
            outbox::publish(
                &txn,
                now,
                &key.id,
                &pb::ApiKeyRevoked {
                    api_key_id: key.id.clone(),
                    subject: key.subject.clone(),
                },
            )
            .await?;
        }
        txn.commit().await.map_err(Error::from)?;
        self.state.outbox.notify_committed();
        Ok(Response::new(pb::RevokeApiKeyResponse {
            api_key: Some(api_key_to_proto(key)),
        }))
    }
}

/// Registers a service account with its audit record and event (also used at bootstrap).
pub(crate) async fn create_service_account(
    txn: &DatabaseTransaction,
    caller: &Caller,
    name: String,
    description: String,
    municipality_id: Option<Uuid>,
    roles: &[Role],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<service_accounts::Model, Error> {
    let account = service_accounts::insert(
        txn,
        service_accounts::Model {
            id: Uuid::now_v7().to_string(),
            name,
            description,
            municipality_id: municipality_id.map(|m| m.to_string()),
            roles: store::encode_roles(roles),
            active: true,
            version: 1,
            created_at: now,
        },
    )
    .await?;
    let payload = json!({"name": account.name, "description": account.description, "municipality_id": account.municipality_id, "roles": role_names(roles)});
    audit::record(
        txn,
        AuditEntry {
            entity_type: SERVICE_ACCOUNT,
            entity_id: account.id.clone(),
            actor: &caller.subject,
            action: "create",
            occurred_at: now,
            payload,
        },
    )
    .await?;
    outbox::publish(
        txn,
        now,
        &account.id,
        &pb::ServiceAccountCreated {
            service_account_id: account.id.clone(),
        },
    )
    .await?;
    Ok(account)
}

/// Stores a new API key (its hash) with its audit record and event (also used at bootstrap).
pub(crate) async fn create_api_key(
    txn: &DatabaseTransaction,
    caller: &Caller,
    subject: Subject,
    secret: &str,
    description: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<api_keys::Model, Error> {
    let key = api_keys::insert(
        txn,
        api_keys::Model {
            id: Uuid::now_v7().to_string(),
            subject: subject.to_string(),
            key_hash: domain::api_key_hash(secret),
            prefix: domain::api_key_display_prefix(secret),
            description,
            created_at: now,
            expires_at,
            revoked_at: None,
        },
    )
    .await?;
    let payload = json!({"subject": key.subject, "prefix": key.prefix, "description": key.description, "expires_at": key.expires_at});
    audit::record(
        txn,
        AuditEntry {
            entity_type: API_KEY,
            entity_id: key.id.clone(),
            actor: &caller.subject,
            action: "create",
            occurred_at: now,
            payload,
        },
    )
    .await?;
    outbox::publish(
        txn,
        now,
        &key.id,
        &pb::ApiKeyCreated {
            api_key_id: key.id.clone(),
            subject: key.subject.clone(),
        },
    )
    .await?;
    Ok(key)
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for IdentityApi {
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        self.may_read_audit(&caller, &req.entity_type, &req.entity_id)
            .await?;
        let page = Page::from_request(req.page.as_ref())?;
        let (records, page) =
            audit::list(&self.state.db, &req.entity_type, &req.entity_id, &page).await?;
        Ok(Response::new(pb::ListAuditRecordsResponse {
            records,
            page: Some(page),
        }))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        self.may_read_audit(&caller, &req.entity_type, &req.entity_id)
            .await?;
        let verification = audit::verify(&self.state.db, &req.entity_type, &req.entity_id).await?;
        Ok(Response::new(pb::VerifyAuditChainResponse {
            verification: Some(verification),
        }))
    }
}

impl IdentityApi {
    /// Suite-wide callers read every trail; municipal callers read their own municipality's and its users'.
    async fn may_read_audit(
        &self,
        caller: &Caller,
        entity_type: &str,
        entity_id: &str,
    ) -> Result<(), Error> {
        let mut v = Validator::new();
        if ![MUNICIPALITY, USER, SERVICE_ACCOUNT, API_KEY].contains(&entity_type) {
            v.violation(
                "entity_type",
                "must be municipality, user, service_account or api_key",
            );
        }
        let id = v.id("entity_id", entity_id);
        v.finish()?;
        if caller.is_suite_wide() {
            return Ok(());
        }
        let own = match (entity_type, id) {
            (MUNICIPALITY, Some(id)) => caller.municipality_id == Some(id),
            (USER, Some(id)) => users::find(&self.state.db, &id.to_string())
                .await?
                .and_then(|u| u.municipality_id)
                .is_some_and(|m| caller.municipality_id.map(|c| c.to_string()) == Some(m)),
            _ => false,
        };
        if own {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                "municipal users read only their own municipality's audit trail".into(),
            ))
        }
    }
}

#[tonic::async_trait]
impl pb::event_service_server::EventService for IdentityApi {
    type WatchEventsStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<pb::WatchEventsResponse, Status>> + Send>,
    >;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let caller = caller(&request)?;
        caller.require_any_role(
            &[Role::Service, Role::ConsortiumAdmin],
            "watching identity's events",
        )?;
        let req = request.into_inner();
        let after = Cursor::parse("after_cursor", &req.after_cursor)?;
        let events = self
            .state
            .outbox
            .watch(self.state.db.clone(), after, req.follow);
        Ok(Response::new(Box::pin(tokio_stream::StreamExt::map(
            events,
            |item| item.map(|event| pb::WatchEventsResponse { event: Some(event) }),
        ))))
    }
}
