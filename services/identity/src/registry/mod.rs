//! Identity's operations: each checks who may do it, then writes the change, its audit record and its
//! event in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::Caller;
use kommune_platform::clock::SharedClock;
use kommune_platform::db::Txn;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, Created, IdempotencyKey};
use kommune_platform::outbox::{self, Outbox};
use kommune_platform::paging::Page;
use kommune_platform::records::{AuditTrail, EventFeed};
use kommune_platform::service::ServiceRole;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1 as pb;
use pb::Role;

use crate::domain::{
    self, AuditedEntity, MunicipalityChanges, NewApiKey, NewMunicipality, NewServiceAccount,
    NewUser, Subject, UserChanges,
};
use crate::store::{self, api_keys, municipalities, service_accounts, signing_keys, users};
use crate::tokens::{KeyRing, random_key_bytes};

mod accounts;
mod eligibility;
mod personal_data;

/// A signed access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// An API key as created: its metadata, and its secret unless this was a replayed request.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// The stored key.
    pub key: api_keys::Model,
    /// The secret, shown only to the request that created it.
    pub secret: Option<String>,
}

/// The settings identity's rules run with.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Lifetime of access tokens.
    pub token_ttl: Duration,
    /// The day each municipality's eligibility baseline is counted on.
    pub baseline_date: NaiveDate,
}

/// Identity's state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    outbox: Outbox,
    keys: KeyRing,
    policy: Policy,
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str_name()).collect()
}

fn parse_uuid(value: Option<&str>) -> Option<Uuid> {
    value.and_then(|v| Uuid::parse_str(v).ok())
}

impl Registry {
    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// Identity over its database, clock and signing keys.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        keys: KeyRing,
        policy: Policy,
    ) -> Self {
        Self {
            db,
            clock,
            audit_keys,
            outbox: Outbox::new(),
            keys,
            policy,
        }
    }

    async fn require_municipality(&self, id: Uuid) -> Result<(), Error> {
        match municipalities::find(&self.db, &id.to_string()).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found_field(
                "municipality",
                id.to_string(),
                "municipality_id",
            )),
        }
    }

    // Tokens.

    /// Exchanges an API key for an access token. Every failure looks the same to the caller.
    pub async fn exchange_api_key(&self, key: &str) -> Result<IssuedToken, Error> {
        let rejected = || Error::Unauthenticated("invalid, expired or revoked API key".into());
        if key.len() < domain::MIN_API_KEY_LEN {
            return Err(rejected());
        }
        let now = self.clock.now();
        let stored = api_keys::find_by_hash(&self.db, &domain::api_key_hash(key)).await?;
        let Some(stored) = stored.filter(|k| k.is_usable(now)) else {
            return Err(rejected());
        };
        let (municipality_id, roles) = match Subject::parse(&stored.subject) {
            Some(Subject::User(id)) => match users::find(&self.db, &id.to_string()).await? {
                Some(u) if u.active => (u.municipality_id, store::decode_roles(&u.roles)),
                _ => return Err(rejected()),
            },
            Some(Subject::ServiceAccount(id)) => {
                match service_accounts::find(&self.db, &id.to_string()).await? {
                    Some(a) if a.active => (a.municipality_id, store::decode_roles(&a.roles)),
                    _ => return Err(rejected()),
                }
            }
            None => return Err(rejected()),
        };
        let expires_at = now + self.policy.token_ttl;
        let token = self.keys.issue(
            stored.subject.clone(),
            municipality_id,
            &roles,
            now,
            expires_at,
        )?;
        tracing::info!(subject = %stored.subject, api_key_id = %stored.id, "token issued");
        Ok(IssuedToken { token, expires_at })
    }

    /// The keys that verify tokens.
    pub fn public_keys(&self) -> Vec<pb::PublicKey> {
        self.keys.public_keys(self.clock.now())
    }

    /// Reloads the signing keys from the database (another replica may have rotated them).
    pub async fn reload_keys(&self) -> Result<Vec<pb::PublicKey>, Error> {
        self.keys.reload(&self.db, self.clock.now()).await
    }

    /// Starts signing with a new key (consortium admins); older keys retire once their tokens expired.
    pub async fn rotate_signing_key(&self, caller: &Caller) -> Result<pb::PublicKey, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "rotating the signing key")?;
        let now = self.clock.now();
        let key = crate::tokens::generate(now)?;
        let retire_after = now + self.policy.token_ttl + crate::tokens::RETIRE_MARGIN;
        let txn = kommune_platform::db::begin(&self.db).await?;
        signing_keys::insert(&txn, key.clone()).await?;
        signing_keys::retire_all_but(&txn, &key.key_id, retire_after).await?;
        let payload = json!({"retire_older_keys_after": retire_after});
        self.audit(
            &txn,
            caller,
            AuditedEntity::SigningKey,
            &key.key_id,
            "rotate",
            payload,
        )
        .await?;
        outbox::publish(
            &txn,
            now,
            &key.key_id,
            &pb::SigningKeyRotated {
                key_id: key.key_id.clone(),
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        self.keys.reload(&self.db, now).await?;
        tracing::info!(key_id = %key.key_id, "signing key rotated");
        Ok(crate::tokens::public_key(&key))
    }

    // Municipalities.

    /// Registers a municipality (consortium admins).
    pub async fn create_municipality(
        &self,
        caller: &Caller,
        new: NewMunicipality,
        key: Option<IdempotencyKey>,
    ) -> Result<municipalities::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "registering a municipality")?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |m: &municipalities::Model| m.id.clone(),
            async |txn: &Txn| {
                let m = municipalities::insert(
                    txn,
                    municipalities::Model {
                        id: Uuid::now_v7().to_string(),
                        code: new.code,
                        name: new.name,
                        cvr_number: new.cvr_number,
                        debtor_system: new.debtor_system.into(),
                        active: true,
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                let payload = json!({
                    "code": m.code,
                    "name": m.name,
                    "cvr_number": m.cvr_number,
                    "debtor_system": m.debtor_system,
                });
                self.audit(
                    txn,
                    caller,
                    AuditedEntity::Municipality,
                    &m.id,
                    "create",
                    payload,
                )
                .await?;
                outbox::publish(
                    txn,
                    now,
                    &m.id,
                    &pb::MunicipalityCreated {
                        municipality_id: m.id.clone(),
                    },
                )
                .await?;
                Ok(m)
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| self.get_municipality(&id).await)
            .await
    }

    /// One municipality (anyone signed in).
    pub async fn get_municipality(&self, id: &str) -> Result<municipalities::Model, Error> {
        municipalities::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("municipality", id))
    }

    /// A page of municipalities by code (anyone signed in).
    pub async fn list_municipalities(
        &self,
        page: &Page,
    ) -> Result<(Vec<municipalities::Model>, PageResponse), Error> {
        municipalities::list(&self.db, page).await
    }

    /// Changes a municipality (consortium admins).
    pub async fn update_municipality(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        changes: MunicipalityChanges,
    ) -> Result<municipalities::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "changing a municipality")?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut m = municipalities::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("municipality", id))?;
        Error::require_version("municipality", m.version, expected_version)?;
        let payload = json!({
            "name": changes.name,
            "cvr_number": changes.cvr_number,
            "debtor_system": changes.debtor_system.map(|d| d.as_str_name()),
            "active": changes.active,
        });
        if let Some(name) = changes.name {
            m.name = name;
        }
        if let Some(cvr_number) = changes.cvr_number {
            m.cvr_number = cvr_number;
        }
        if let Some(debtor_system) = changes.debtor_system {
            m.debtor_system = debtor_system.into();
        }
        if let Some(active) = changes.active {
            m.active = active;
        }
        m.version += 1;
        m.updated_at = now;
        let m = update_versioned(&txn, m).await?;
        self.audit(
            &txn,
            caller,
            AuditedEntity::Municipality,
            &m.id,
            "update",
            payload,
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
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(m)
    }

    // Users.

    /// Registers a user (consortium admins; a municipality's project leaders for their own users).
    pub async fn create_user(
        &self,
        caller: &Caller,
        new: NewUser,
        key: Option<IdempotencyKey>,
    ) -> Result<users::Model, Error> {
        domain::may_manage_user(caller, new.municipality_id, &new.roles)?;
        if let Some(m) = new.municipality_id {
            self.require_municipality(m).await?;
        }
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |u: &users::Model| u.id.clone(),
            async |txn: &Txn| {
                let u = users::insert(
                    txn,
                    users::Model {
                        id: Uuid::now_v7().to_string(),
                        municipality_id: new.municipality_id.map(|m| m.to_string()),
                        name: new.name,
                        email: new.email,
                        roles: store::encode_roles(&new.roles),
                        active: true,
                        version: 1,
                        created_at: now,
                        updated_at: now,
                        anonymized_at: None,
                    },
                )
                .await?;
                let payload = json!({
                    "municipality_id": u.municipality_id,
                    "name": u.name,
                    "email": u.email,
                    "roles": role_names(&new.roles),
                });
                self.audit_created(txn, caller, AuditedEntity::User, &u.id, "create", payload)
                    .await?;
                let event = pb::UserCreated {
                    user_id: u.id.clone(),
                    municipality_id: u.municipality_id.clone().unwrap_or_default(),
                };
                outbox::publish(txn, now, &u.id, &event).await?;
                Ok(u)
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| self.get_user(caller, &id).await)
            .await
    }

    /// One user, if the caller may see its municipality.
    pub async fn get_user(&self, caller: &Caller, id: &str) -> Result<users::Model, Error> {
        Ok(Self::user_seen_by(&self.db, caller, id).await?.0)
    }

    /// A user `caller` may see, and the user's municipality.
    async fn user_seen_by(
        db: &impl ConnectionTrait,
        caller: &Caller,
        id: &str,
    ) -> Result<(users::Model, Option<Uuid>), Error> {
        let user = users::find(db, id)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
        let municipality = parse_uuid(user.municipality_id.as_deref());
        if !domain::may_see(caller, municipality) {
            return Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "the user belongs to another municipality".into(),
            ));
        }
        Ok((user, municipality))
    }

    /// A page of users: suite-wide callers see any municipality's (or all); municipal callers only their own.
    pub async fn list_users(
        &self,
        caller: &Caller,
        municipality_id: Option<Uuid>,
        email: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<users::Model>, PageResponse), Error> {
        let municipality = if caller.is_suite_wide() {
            municipality_id
        } else {
            let own = caller.municipality_id.ok_or_else(|| {
                Error::PermissionDenied(
                    Reason::RoleRequired,
                    "the caller belongs to no municipality".into(),
                )
            })?;
            if municipality_id.is_some_and(|m| m != own) {
                return Err(Error::PermissionDenied(
                    Reason::OtherMunicipality,
                    "municipal users see only their own municipality's users".into(),
                ));
            }
            Some(own)
        };
        users::list(
            &self.db,
            municipality.map(|m| m.to_string()).as_deref(),
            email,
            page,
        )
        .await
    }

    /// Changes a user (consortium admins; project leaders for their own municipality's users).
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        changes: UserChanges,
    ) -> Result<users::Model, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let (mut u, municipality) = Self::user_seen_by(&txn, caller, id).await?;
        domain::may_manage_user(caller, municipality, &store::decode_roles(&u.roles))?;
        Error::require_version("user", u.version, expected_version)?;
        if let Some(roles) = &changes.roles {
            let roles = domain::check_roles(roles, municipality, false)
                .map_err(|d| Error::invalid("roles.roles", d))?;
            domain::may_manage_user(caller, municipality, &roles)?;
            u.roles = store::encode_roles(&roles);
        }
        let payload = json!({
            "name": changes.name,
            "email": changes.email,
            "roles": changes.roles.as_deref().map(role_names),
            "active": changes.active,
        });
        if let Some(name) = changes.name {
            u.name = name;
        }
        if let Some(email) = changes.email {
            u.email = email;
        }
        if let Some(active) = changes.active {
            u.active = active;
        }
        u.version += 1;
        u.updated_at = now;
        let u = update_versioned(&txn, u).await?;
        self.audit(&txn, caller, AuditedEntity::User, &u.id, "update", payload)
            .await?;
        let event = pb::UserUpdated {
            user_id: u.id.clone(),
            municipality_id: u.municipality_id.clone().unwrap_or_default(),
            version: u.version,
        };
        outbox::publish(&txn, now, &u.id, &event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(u)
    }

    /// Anonymises a person (right to erasure): name and e-mail replaced, user deactivated, keys revoked,
    /// audit payloads redacted; the history stays. Doing it twice changes nothing.
    pub async fn anonymize_user(&self, caller: &Caller, id: &str) -> Result<users::Model, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let (mut u, municipality) = Self::user_seen_by(&txn, caller, id).await?;
        domain::may_manage_user(caller, municipality, &store::decode_roles(&u.roles))?;
        if u.anonymized_at.is_some() {
            return Ok(u);
        }
        u.name = domain::ANONYMIZED_NAME.to_owned();
        u.email = domain::anonymized_email(&u.id);
        u.active = false;
        u.anonymized_at = Some(now);
        u.version += 1;
        u.updated_at = now;
        let u = update_versioned(&txn, u).await?;
        let subject = Subject::User(Uuid::parse_str(&u.id).map_err(Error::internal)?).to_string();
        let revoked = api_keys::revoke_all_of(&txn, &subject, now).await?;
        // The person's name and e-mail live in the payloads of their audit records; the chain keeps
        // only hashes of payloads, and records the redaction itself, so it still verifies.
        self.redact(
            &txn,
            caller,
            AuditedEntity::User,
            &u.id,
            "the person was anonymised (right to erasure)",
        )
        .await?;
        let payload = json!({"api_keys_revoked": revoked});
        self.audit(
            &txn,
            caller,
            AuditedEntity::User,
            &u.id,
            "anonymize",
            payload,
        )
        .await?;
        let event = pb::UserAnonymized {
            user_id: u.id.clone(),
            municipality_id: u.municipality_id.clone().unwrap_or_default(),
        };
        outbox::publish(&txn, now, &u.id, &event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        tracing::info!(user_id = %u.id, "user anonymised");
        Ok(u)
    }
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Identity;
    const ENTITIES: &'static [&'static str] = &AuditedEntity::NAMES;

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        id: &str,
    ) -> Result<(), Error> {
        if caller.is_suite_wide() {
            return Ok(());
        }
        // Both are checked against ENTITIES and as an id before a trail is read.
        let (Some(entity), Ok(id)) = (AuditedEntity::parse(entity_type), Uuid::parse_str(id))
        else {
            return Err(Error::invalid("entity_id", "is not an audited entity"));
        };
        let own = match entity {
            AuditedEntity::Municipality => caller.municipality_id == Some(id),
            AuditedEntity::User => users::find(&self.db, &id.to_string())
                .await?
                .is_some_and(|u| {
                    parse_uuid(u.municipality_id.as_deref())
                        .is_some_and(|m| caller.municipality_id == Some(m))
                }),
            AuditedEntity::EligibilityRegistration => {
                crate::store::eligibility_registrations::find(&self.db, &id.to_string())
                    .await?
                    .is_some_and(|r| parse_uuid(Some(&r.municipality_id)) == caller.municipality_id)
            }
            AuditedEntity::ServiceAccount | AuditedEntity::ApiKey | AuditedEntity::SigningKey => {
                false
            }
        };
        if own {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users read only their own municipality's audit trail".into(),
            ))
        }
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Identity;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}
