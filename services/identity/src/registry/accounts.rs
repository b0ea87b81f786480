//! Service accounts and their API keys, and the bootstrap of an empty identity.

use super::*;
use kommune_platform::db::Txn;

impl Registry {
    /// Registers a service account (consortium admins).
    pub async fn create_service_account(
        &self,
        caller: &Caller,
        new: NewServiceAccount,
        key: Option<IdempotencyKey>,
    ) -> Result<service_accounts::Model, Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "creating a service account")?;
        if let Some(m) = new.municipality_id {
            self.require_municipality(m).await?;
        }
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |a: &service_accounts::Model| a.id.clone(),
            async |txn: &Txn| self.insert_service_account(txn, caller, new, now).await,
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| {
                service_accounts::find(&self.db, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("service account", id))
            })
            .await
    }

    async fn insert_service_account(
        &self,
        txn: &Txn,
        caller: &Caller,
        new: NewServiceAccount,
        now: DateTime<Utc>,
    ) -> Result<service_accounts::Model, Error> {
        let account = service_accounts::insert(
            txn,
            service_accounts::Model {
                id: Uuid::now_v7().to_string(),
                name: new.name,
                description: new.description,
                municipality_id: new.municipality_id.map(|m| m.to_string()),
                roles: store::encode_roles(&new.roles),
                active: true,
                version: 1,
                created_at: now,
            },
        )
        .await?;
        let payload = json!({
            "name": account.name,
            "description": account.description,
            "municipality_id": account.municipality_id,
            "roles": role_names(&new.roles),
        });
        self.audit(
            txn,
            caller,
            AuditedEntity::ServiceAccount,
            &account.id,
            "create",
            payload,
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

    /// A page of service accounts (consortium admins).
    pub async fn list_service_accounts(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> Result<(Vec<service_accounts::Model>, PageResponse), Error> {
        caller.require_any_role(&[Role::ConsortiumAdmin], "listing service accounts")?;
        service_accounts::list(&self.db, page).await
    }

    fn require_admin_or_self(caller: &Caller, subject: &str, action: &str) -> Result<(), Error> {
        if caller.has_role(Role::ConsortiumAdmin) || caller.subject == subject {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::NotOwner,
                format!("only consortium admins {action} others' keys"),
            ))
        }
    }

    /// Creates an API key (consortium admins for anyone; a user for themselves). A replayed request gets
    /// the key's metadata but not its secret, which is never stored.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        new: NewApiKey,
        key: Option<IdempotencyKey>,
    ) -> Result<CreatedApiKey, Error> {
        Self::require_admin_or_self(caller, &new.subject.to_string(), "create")?;
        let exists = match new.subject {
            Subject::User(id) => users::find(&self.db, &id.to_string()).await?.is_some(),
            Subject::ServiceAccount(id) => service_accounts::find(&self.db, &id.to_string())
                .await?
                .is_some(),
        };
        if !exists {
            return Err(Error::not_found_field(
                "subject",
                new.subject.to_string(),
                "subject",
            ));
        }
        let now = self.clock.now();
        let secret = domain::api_key_from_random(&random_key_bytes()?);
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |k: &api_keys::Model| k.id.clone(),
            async |txn: &Txn| self.insert_api_key(txn, caller, new, &secret, now).await,
        )
        .await?;
        self.outbox.notify_committed();
        match created {
            Created::New(key) => Ok(CreatedApiKey {
                key,
                secret: Some(secret),
            }),
            Created::Replayed(id) => {
                let key = api_keys::find(&self.db, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("api key", id))?;
                Ok(CreatedApiKey { key, secret: None })
            }
        }
    }

    async fn insert_api_key(
        &self,
        txn: &Txn,
        caller: &Caller,
        new: NewApiKey,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<api_keys::Model, Error> {
        let key = api_keys::insert(
            txn,
            api_keys::Model {
                id: Uuid::now_v7().to_string(),
                subject: new.subject.to_string(),
                key_hash: domain::api_key_hash(secret),
                prefix: domain::api_key_display_prefix(secret),
                description: new.description,
                created_at: now,
                expires_at: new.expires_at,
                revoked_at: None,
            },
        )
        .await?;
        let payload = json!({
            "subject": key.subject,
            "prefix": key.prefix,
            "description": key.description,
            "expires_at": key.expires_at,
        });
        self.audit(
            txn,
            caller,
            AuditedEntity::ApiKey,
            &key.id,
            "create",
            payload,
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

    /// A page of a subject's keys (consortium admins; anyone for their own).
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        subject: Subject,
        page: &Page,
    ) -> Result<(Vec<api_keys::Model>, PageResponse), Error> {
        Self::require_admin_or_self(caller, &subject.to_string(), "list")?;
        api_keys::list(&self.db, &subject.to_string(), page).await
    }

    /// Revokes a key (consortium admins; anyone their own). Revoking twice changes nothing.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<api_keys::Model, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let key = api_keys::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("api key", id))?;
        Self::require_admin_or_self(caller, &key.subject, "revoke")?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        let key = api_keys::revoke(&txn, key, now).await?;
        self.audit(
            &txn,
            caller,
            AuditedEntity::ApiKey,
            &key.id,
            "revoke",
            json!({"subject": key.subject}),
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
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(key)
    }

    /// On an empty database, creates the consortium-admin service account and its API key (the
    /// configured one, or a new one that is returned to be shown once).
    pub async fn bootstrap(&self, configured_key: Option<&str>) -> Result<Option<String>, Error> {
        if users::count(&self.db).await? + service_accounts::count(&self.db).await? > 0 {
            return Ok(None);
        }
        let (secret, generated) = match configured_key {
            Some(key) if key.len() >= domain::MIN_API_KEY_LEN => (key.to_owned(), false),
            Some(_) => {
                return Err(Error::internal(format!(
                    "KOMMUNE_BOOTSTRAP_ADMIN_KEY must be at least {} characters",
                    domain::MIN_API_KEY_LEN
                )));
            }
            None => (domain::api_key_from_random(&random_key_bytes()?), true),
        };
        let system = Caller::system("bootstrap");
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let account = NewServiceAccount {
            name: crate::BOOTSTRAP_ACCOUNT.into(),
            description: "Created on first start; holds the bootstrap admin key".into(),
            municipality_id: None,
            roles: vec![Role::ConsortiumAdmin],
        };
        let account = match self
            .insert_service_account(&txn, &system, account, now)
            .await
        {
            Ok(account) => account,
            // Another replica bootstrapped at the same moment.
            Err(Error::AlreadyExists { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let subject =
            Subject::ServiceAccount(Uuid::parse_str(&account.id).map_err(Error::internal)?);
        let new_key = NewApiKey {
            subject,
            description: "Bootstrap admin key".into(),
            expires_at: None,
        };
        self.insert_api_key(&txn, &system, new_key, &secret, now)
            .await?;
        txn.commit().await?;
        tracing::info!(
            service_account = %account.id,
            "bootstrapped identity with a consortium-admin key",
        );
        Ok(generated.then_some(secret))
    }

    /// Creates each configured service account (`ROLE_SERVICE`) with its API key unless an account of
    /// that name exists: a deployment's services get their keys without anyone making them by hand,
    /// and a later start changes nothing (a key revoked since stays revoked).
    pub async fn ensure_service_accounts(
        &self,
        keys: &domain::BootstrapServiceKeys,
    ) -> Result<(), Error> {
        let system = Caller::system("bootstrap");
        for (name, secret) in &keys.0 {
            if service_accounts::find_by_name(&self.db, name)
                .await?
                .is_some()
            {
                continue;
            }
            let now = self.clock.now();
            let txn = kommune_platform::db::begin(&self.db).await?;
            let account = NewServiceAccount {
                name: name.clone(),
                description: "Created at start from KOMMUNE_BOOTSTRAP_SERVICE_KEYS".into(),
                municipality_id: None,
                roles: vec![Role::Service],
            };
            let account = match self
                .insert_service_account(&txn, &system, account, now)
                .await
            {
                Ok(account) => account,
                // Another replica made it at the same moment.
                Err(Error::AlreadyExists { .. }) => continue,
                Err(err) => return Err(err),
            };
            let subject =
                Subject::ServiceAccount(Uuid::parse_str(&account.id).map_err(Error::internal)?);
            let new_key = NewApiKey {
                subject,
                description: "Bootstrap service key".into(),
                expires_at: None,
            };
            self.insert_api_key(&txn, &system, new_key, secret, now)
                .await?;
            txn.commit().await?;
            tracing::info!(
                service_account = %account.id,
                name = %name,
                "created a configured service account",
            );
        }
        Ok(())
    }
}
