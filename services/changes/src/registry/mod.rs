//! The changes service's operations: each checks who may do it, then writes the change, its audit
//! record and its event in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::Caller;
use kommune_platform::clock::SharedClock;
use kommune_platform::db::Txn;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox::{self, Outbox};
use kommune_platform::paging::Page;
use kommune_platform::records::{AuditTrail, EventFeed};
use kommune_platform::service::ServiceRole;
use kommune_platform::{Error, Reason};
use kommune_proto::changes::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;

use crate::domain::timeline::{Phase, Timeline};
use crate::domain::{self, codes};
use crate::store::change_requests::{self, Filter};
use crate::store::reference::{self, statuses, subthemes, themes};
use crate::store::releases;

mod erasure;
mod imports;
mod personal_data;
mod publications;
mod timeline;

pub use erasure::ErasedFields;

pub use imports::{CreatedTheme, ImportOptions, ImportReport, ImportSlot};

/// A change request to create (validated).
#[derive(Debug, Clone)]
pub struct NewChangeRequest {
    /// An imported key, or `None` to number it next.
    pub key: Option<(String, i64)>,
    /// Theme.
    pub theme_id: String,
    /// Subtheme.
    pub subtheme_id: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Workaround.
    pub workaround: String,
    /// The asking municipality.
    pub asking_municipality_id: Uuid,
    /// Related cases.
    pub related: Vec<String>,
    /// The support case it comes from.
    pub source_case_id: Option<String>,
}

/// The changes service's state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    outbox: Outbox,
    key_prefix: String,
    identity: tonic::transport::Channel,
    import_slots: std::sync::Arc<tokio::sync::Semaphore>,
}

const ADMINS: [Role; 1] = [Role::ConsortiumAdmin];

/// The entity types whose audit trail can be read by id. (Statuses are audited too, under their code.)
pub const AUDITED: [&str; 6] = [
    "change_request",
    "release",
    "theme",
    "subtheme",
    "publication",
    "import",
];

impl Registry {
    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// The service over its database and clock, numbering keys with `key_prefix`, naming
    /// municipalities through `identity`.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        key_prefix: String,
        identity: tonic::transport::Channel,
    ) -> Self {
        Self {
            db,
            clock,
            audit_keys,
            outbox: Outbox::new(),
            key_prefix,
            identity,
            import_slots: imports::import_slots(),
        }
    }

    /// Today in Copenhagen.
    pub fn today(&self) -> NaiveDate {
        kommune_platform::clock::copenhagen_date(self.clock.now())
    }

    async fn changed(
        &self,
        txn: &Txn,
        caller: &Caller,
        mut cr: change_requests::Model,
        change: &str,
        payload: serde_json::Value,
    ) -> Result<change_requests::Model, Error> {
        cr.version += 1;
        cr.updated_at = self.clock.now();
        let cr = update_versioned(txn, cr).await?;
        self.audit(txn, caller, "change_request", &cr.id, change, payload)
            .await?;
        let event = pb::ChangeRequestChanged {
            change_request_id: cr.id.clone(),
            status_code: cr.status_code,
            change: change.to_owned(),
        };
        outbox::publish(txn, self.clock.now(), &cr.id, &event).await?;
        Ok(cr)
    }

    // Reference data.

    /// Creates a theme (consortium admins).
    pub async fn create_theme(
        &self,
        caller: &Caller,
        name: String,
    ) -> Result<themes::Model, Error> {
        caller.require_any_role(&ADMINS, "creating a theme")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let theme = reference::insert_theme(
            &txn,
            themes::Model {
                id: Uuid::now_v7().to_string(),
                name,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "theme",
            &theme.id,
            "create",
            json!({"name": theme.name}),
        )
        .await?;
        txn.commit().await?;
        Ok(theme)
    }

    /// Every theme.
    pub async fn themes(&self) -> Result<Vec<themes::Model>, Error> {
        reference::all_themes(&self.db).await
    }

    /// Creates a subtheme (consortium admins).
    pub async fn create_subtheme(
        &self,
        caller: &Caller,
        theme_id: String,
        name: String,
    ) -> Result<subthemes::Model, Error> {
        caller.require_any_role(&ADMINS, "creating a subtheme")?;
        reference::theme(&self.db, &theme_id)
            .await?
            .ok_or_else(|| Error::not_found_field("theme", &theme_id, "theme_id"))?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let subtheme = reference::insert_subtheme(
            &txn,
            subthemes::Model {
                id: Uuid::now_v7().to_string(),
                theme_id,
                name,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "subtheme",
            &subtheme.id,
            "create",
            json!({"theme_id": subtheme.theme_id, "name": subtheme.name}),
        )
        .await?;
        txn.commit().await?;
        Ok(subtheme)
    }

    /// Renames a theme (consortium admins).
    pub async fn rename_theme(
        &self,
        caller: &Caller,
        id: &str,
        name: String,
    ) -> Result<themes::Model, Error> {
        caller.require_any_role(&ADMINS, "renaming a theme")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let theme = reference::theme(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found_field("theme", id, "theme_id"))?;
        let from = theme.name.clone();
        let theme = reference::rename_theme(&txn, theme, name).await?;
        let payload = json!({"from": from, "to": theme.name});
        self.audit(&txn, caller, "theme", &theme.id, "rename", payload)
            .await?;
        txn.commit().await?;
        Ok(theme)
    }

    /// Renames a subtheme (consortium admins).
    pub async fn rename_subtheme(
        &self,
        caller: &Caller,
        id: &str,
        name: String,
    ) -> Result<subthemes::Model, Error> {
        caller.require_any_role(&ADMINS, "renaming a subtheme")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let subtheme = reference::subtheme(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found_field("subtheme", id, "subtheme_id"))?;
        let from = subtheme.name.clone();
        let subtheme = reference::rename_subtheme(&txn, subtheme, name).await?;
        let payload = json!({"from": from, "to": subtheme.name});
        self.audit(&txn, caller, "subtheme", &subtheme.id, "rename", payload)
            .await?;
        txn.commit().await?;
        Ok(subtheme)
    }

    /// Every subtheme.
    pub async fn subthemes(&self) -> Result<Vec<subthemes::Model>, Error> {
        reference::all_subthemes(&self.db).await
    }

    /// Every status.
    pub async fn statuses(&self) -> Result<Vec<statuses::Model>, Error> {
        reference::all_statuses(&self.db).await
    }

    /// Creates or replaces a status (consortium admins); its next codes must exist.
    pub async fn put_status(
        &self,
        caller: &Caller,
        code: i32,
        name: String,
        next: Vec<i32>,
    ) -> Result<statuses::Model, Error> {
        caller.require_any_role(&ADMINS, "changing the statuses")?;
        let known: Vec<i32> = self.statuses().await?.into_iter().map(|s| s.code).collect();
        if let Some(unknown) = next.iter().find(|c| **c != code && !known.contains(c)) {
            return Err(Error::invalid(
                "status.next_codes",
                format!("{unknown} is not a status"),
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let model = statuses::Model {
            code,
            name,
            next_codes: serde_json::to_string(&next).map_err(Error::internal)?,
        };
        let status = reference::put_status(&txn, model).await?;
        self.audit(
            &txn,
            caller,
            "status",
            &code.to_string(),
            "put",
            json!({"name": status.name, "next_codes": next}),
        )
        .await?;
        txn.commit().await?;
        Ok(status)
    }

    /// The published label of every status code (`10 - New`).
    pub async fn status_labels(&self) -> Result<HashMap<i32, String>, Error> {
        Ok(self
            .statuses()
            .await?
            .into_iter()
            .map(|s| (s.code, s.label()))
            .collect())
    }

    // Change requests.

    /// Creates a change request; municipal callers ask on their own municipality's behalf.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewChangeRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<change_requests::Model, Error> {
        if !caller.can_see_municipality(new.asking_municipality_id) {
            return Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users ask on their own municipality's behalf".into(),
            ));
        }
        reference::theme(&self.db, &new.theme_id)
            .await?
            .ok_or_else(|| Error::not_found_field("theme", &new.theme_id, "theme_id"))?;
        if let Some(subtheme_id) = &new.subtheme_id {
            let subtheme = reference::subtheme(&self.db, subtheme_id)
                .await?
                .ok_or_else(|| Error::not_found_field("subtheme", subtheme_id, "subtheme_id"))?;
            if subtheme.theme_id != new.theme_id {
                return Err(Error::invalid("subtheme_id", "belongs to another theme"));
            }
        }
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |c: &change_requests::Model| c.id.clone(),
            async |txn: &Txn| {
                if let Some(case_id) = &new.source_case_id
                    && let Some(existing) = change_requests::of_case(txn, case_id).await?
                {
                    return Err(Error::AlreadyExists {
                        field: "source_case_id",
                        description: format!(
                            "case {case_id} became change request {}",
                            existing.key
                        ),
                    });
                }
                let key = match &new.key {
                    Some((prefix, number)) => {
                        if *prefix == self.key_prefix {
                            change_requests::reserve_number(txn, *number).await?;
                        }
                        domain::format_key(prefix, *number)
                    }
                    None => domain::format_key(
                        &self.key_prefix,
                        change_requests::next_number(txn).await?,
                    ),
                };
                let cr = change_requests::insert(
                    txn,
                    change_requests::Model {
                        id: Uuid::now_v7().to_string(),
                        key,
                        theme_id: new.theme_id,
                        subtheme_id: new.subtheme_id,
                        title: new.title,
                        description: new.description,
                        workaround: new.workaround,
                        status_code: codes::NEW,
                        asking_municipality_id: new.asking_municipality_id.to_string(),
                        supporters: "[]".into(),
                        related: serde_json::to_string(&new.related).map_err(Error::internal)?,
                        source_case_id: new.source_case_id,
                        release_id: None,
                        drop_reason: String::new(),
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                let payload = json!({
                    "key": cr.key,
                    "title": cr.title,
                    "theme_id": cr.theme_id,
                    "asking_municipality_id": cr.asking_municipality_id,
                    "source_case_id": cr.source_case_id,
                });
                self.audit_created(txn, caller, "change_request", &cr.id, "create", payload)
                    .await?;
                let event = pb::ChangeRequestCreated {
                    change_request_id: cr.id.clone(),
                    key: cr.key.clone(),
                    source_case_id: cr.source_case_id.clone().unwrap_or_default(),
                };
                outbox::publish(txn, now, &cr.id, &event).await?;
                Ok(cr)
            },
        )
        .await?;
        self.outbox.notify_committed();
        created.or_current(async |id| self.get(&id).await).await
    }

    /// One change request (they are shared by all municipalities).
    pub async fn get(&self, id: &str) -> Result<change_requests::Model, Error> {
        change_requests::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("change request", id))
    }

    /// A page of change requests.
    pub async fn list(
        &self,
        filter: Filter,
        page: &Page,
    ) -> Result<(Vec<change_requests::Model>, PageResponse), Error> {
        change_requests::list(&self.db, filter, page).await
    }

    async fn for_update(
        &self,
        txn: &Txn,
        id: &str,
        expected_version: i64,
    ) -> Result<change_requests::Model, Error> {
        let cr = change_requests::find(txn, id)
            .await?
            .ok_or_else(|| Error::not_found("change request", id))?;
        Error::require_version("change request", cr.version, expected_version)?;
        Ok(cr)
    }

    async fn require_move(&self, txn: &Txn, from: i32, to: i32) -> Result<(), Error> {
        let status = reference::status(txn, from)
            .await?
            .ok_or_else(|| Error::internal("a change request has an unknown status"))?;
        domain::may_move(from, &status.next(), to).map_err(Error::wrong_state)
    }

    /// Moves a change request to another status the lifecycle allows (consortium admins).
    pub async fn change_status(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        to: i32,
    ) -> Result<change_requests::Model, Error> {
        caller.require_any_role(&ADMINS, "changing a change request's status")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        if reference::status(&txn, to).await?.is_none() {
            return Err(Error::invalid(
                "status_code",
                format!("{to} is not a status"),
            ));
        }
        let mut cr = self.for_update(&txn, id, expected_version).await?;
        self.require_move(&txn, cr.status_code, to).await?;
        let from = std::mem::replace(&mut cr.status_code, to);
        let cr = self
            .changed(&txn, caller, cr, "status", json!({"from": from, "to": to}))
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(cr)
    }

    /// Adds a supporting municipality (municipal callers: their own).
    pub async fn support(
        &self,
        caller: &Caller,
        id: &str,
        municipality: Uuid,
    ) -> Result<change_requests::Model, Error> {
        if !caller.can_see_municipality(municipality) {
            return Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users support on their own municipality's behalf".into(),
            ));
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut cr = change_requests::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("change request", id))?;
        let mut supporters = cr.supporters();
        let municipality = municipality.to_string();
        if supporters.contains(&municipality) || cr.asking_municipality_id == municipality {
            return Ok(cr);
        }
        supporters.push(municipality.clone());
        cr.supporters = serde_json::to_string(&supporters).map_err(Error::internal)?;
        let cr = self
            .changed(
                &txn,
                caller,
                cr,
                "support",
                json!({"municipality_id": municipality}),
            )
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(cr)
    }
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Changes;
    const ENTITIES: &'static [&'static str] = &AUDITED;

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Anyone signed in: change requests and their reference data are shared by all municipalities.
    /// An import's trail (what a consortium admin loaded, and what it refused) is the consortium
    /// admins'.
    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        _: &str,
    ) -> Result<(), Error> {
        if entity_type == "import" {
            caller.require_any_role(&ADMINS, "reading an import's trail")
        } else {
            Ok(())
        }
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Changes;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}
