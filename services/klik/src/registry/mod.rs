//! klik's operations: each checks who may do it, then writes the change, its audit record and its
//! events in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::DatabaseConnection;
use serde_json::json;
use tonic::transport::Channel;
use uuid::Uuid;

use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::Caller;
use kommune_platform::clock::SharedClock;
use kommune_platform::db::Txn;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, Created, IdempotencyKey};
use kommune_platform::outbox::{self, Outbox};
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_platform::records::EventFeed;
use kommune_platform::service::ServiceRole;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;
use kommune_proto::klik::v1 as pb;
use pb::TaskStatus;

use crate::domain::{self, TaskContent};
use crate::peers::Peers;
use crate::store::{
    enrolments, projects, review_comments, tasks, template_versions, templates, waves,
};

mod authoring;
mod people;
mod personal_data;
mod scheduling;
mod tasks_and_packages;

pub use tasks_and_packages::{AUDITED, LoadItem, Resolution};

use kommune_platform::clock::copenhagen_date;

/// A project to create (validated).
#[derive(Debug, Clone)]
pub struct NewProject {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Frozen zone before each wave's go-live, in days.
    pub frozen_zone_days: u32,
}

/// An enrolment to make (validated).
#[derive(Debug, Clone)]
pub struct NewEnrolment {
    /// The project.
    pub project_id: String,
    /// The municipality.
    pub municipality_id: Uuid,
    /// The chosen wave.
    pub wave_id: String,
    /// The municipality's project leader.
    pub project_leader_user_id: Uuid,
    /// Its debtor system.
    pub debtor_system: String,
}

/// A template with its versions.
#[derive(Debug, Clone)]
pub struct TemplateWithVersions {
    /// The template.
    pub template: templates::Model,
    /// Its versions, oldest first.
    pub versions: Vec<template_versions::Model>,
}

/// Who may write templates, projects and waves.
const EDITORS: [Role; 1] = [Role::ConsortiumAdmin];

/// klik's state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    outbox: Outbox,
    peers: Peers,
}

impl Registry {
    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// klik over its database and clock, asking identity at `identity` about municipalities.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        identity: Channel,
    ) -> Self {
        Self {
            db,
            clock,
            audit_keys,
            outbox: Outbox::new(),
            peers: Peers::new(identity),
        }
    }

    fn today(&self) -> NaiveDate {
        copenhagen_date(self.clock.now())
    }

    async fn project(&self, id: &str, field: &'static str) -> Result<projects::Model, Error> {
        projects::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found_field("project", id, field))
    }

    // Projects, waves and enrolments.

    /// Creates a project (consortium admins).
    pub async fn create_project(
        &self,
        caller: &Caller,
        new: NewProject,
        key: Option<IdempotencyKey>,
    ) -> Result<projects::Model, Error> {
        caller.require_any_role(&EDITORS, "creating a project")?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |p: &projects::Model| p.id.clone(),
            async |txn: &Txn| {
                let project = projects::insert(
                    txn,
                    projects::Model {
                        id: Uuid::now_v7().to_string(),
                        name: new.name,
                        description: new.description,
                        frozen_zone_days: new.frozen_zone_days as i32,
                        created_at: now,
                    },
                )
                .await?;
                let payload =
                    json!({"name": project.name, "frozen_zone_days": project.frozen_zone_days});
                self.audit_created(txn, caller, "project", &project.id, "create", payload)
                    .await?;
                Ok(project)
            },
        )
        .await?;
        created
            .or_current(async |id| self.get_project(&id).await)
            .await
    }

    /// One project.
    pub async fn get_project(&self, id: &str) -> Result<projects::Model, Error> {
        projects::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("project", id))
    }

    /// A page of projects.
    pub async fn list_projects(
        &self,
        page: &Page,
    ) -> Result<(Vec<projects::Model>, PageResponse), Error> {
        projects::list(&self.db, page).await
    }

    /// Adds a wave (consortium admins).
    pub async fn add_wave(
        &self,
        caller: &Caller,
        project_id: &str,
        name: String,
        go_live: NaiveDate,
    ) -> Result<waves::Model, Error> {
        caller.require_any_role(&EDITORS, "adding a wave")?;
        self.project(project_id, "project_id").await?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let wave = waves::insert(
            &txn,
            waves::Model {
                id: Uuid::now_v7().to_string(),
                project_id: project_id.to_owned(),
                name,
                go_live,
                published: false,
                version: 1,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "wave",
            &wave.id,
            "create",
            json!({"name": wave.name, "go_live": wave.go_live}),
        )
        .await?;
        txn.commit().await?;
        Ok(wave)
    }

    /// A project's waves by go-live.
    pub async fn list_waves(&self, project_id: &str) -> Result<Vec<waves::Model>, Error> {
        self.project(project_id, "project_id").await?;
        waves::of_project(&self.db, project_id).await
    }

    async fn wave(
        &self,
        txn: &Txn,
        id: &str,
        field: &'static str,
    ) -> Result<(waves::Model, projects::Model), Error> {
        let wave = waves::find(txn, id)
            .await?
            .ok_or_else(|| Error::not_found_field("wave", id, field))?;
        let project = projects::find(txn, &wave.project_id)
            .await?
            .ok_or_else(|| Error::internal("wave without project"))?;
        Ok((wave, project))
    }

    fn require_outside_frozen_zone(
        &self,
        wave: &waves::Model,
        project: &projects::Model,
    ) -> Result<(), Error> {
        if domain::in_frozen_zone(wave.go_live, project.frozen_zone_days as u32, self.today()) {
            return Err(Error::FailedPrecondition(
                Reason::OutsideWindow,
                format!(
                    "wave {} goes live on {} and is inside the project's frozen zone of {} days",
                    wave.name, wave.go_live, project.frozen_zone_days
                ),
            ));
        }
        Ok(())
    }

    /// Moves a wave's go-live (consortium admins); its municipalities' tasks follow unless done or frozen.
    pub async fn move_wave(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        go_live: NaiveDate,
    ) -> Result<(waves::Model, u64), Error> {
        caller.require_any_role(&EDITORS, "moving a wave")?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let (mut wave, project) = self.wave(&txn, id, "wave_id").await?;
        Error::require_version("wave", wave.version, expected_version)?;
        self.require_outside_frozen_zone(&wave, &project)?;
        let moved_to = waves::Model {
            go_live,
            ..wave.clone()
        };
        self.require_outside_frozen_zone(&moved_to, &project)?;
        let from = wave.go_live;
        wave.go_live = go_live;
        wave.version += 1;
        let wave = update_versioned(&txn, wave).await?;
        let municipalities: Vec<String> = enrolments::of_wave(&txn, &wave.id)
            .await?
            .into_iter()
            .map(|e| e.municipality_id)
            .collect();
        let rescheduled = self
            .reschedule(&txn, &project.id, &municipalities, go_live)
            .await?;
        let payload =
            json!({"go_live": {"from": from, "to": go_live}, "tasks_rescheduled": rescheduled});
        self.audit(&txn, caller, "wave", &wave.id, "move", payload)
            .await?;
        outbox::publish(
            &txn,
            now,
            &wave.id,
            &pb::WaveMoved {
                wave_id: wave.id.clone(),
                go_live: go_live.to_string(),
                project_id: project.id.clone(),
                wave_name: wave.name.clone(),
                previous_go_live: from.to_string(),
                municipality_ids: municipalities,
                tasks_rescheduled: rescheduled as i64,
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((wave, rescheduled))
    }

    /// Publishes a wave (consortium admins): its municipalities receive the wave-by-wave tasks.
    pub async fn publish_wave(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(waves::Model, u64), Error> {
        caller.require_any_role(&EDITORS, "publishing a wave")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let (mut wave, project) = self.wave(&txn, id, "wave_id").await?;
        if !wave.published {
            wave.published = true;
            wave.version += 1;
            wave = update_versioned(&txn, wave).await?;
            self.audit(&txn, caller, "wave", &wave.id, "publish", json!({}))
                .await?;
        }
        let municipalities: Vec<String> = enrolments::of_wave(&txn, &wave.id)
            .await?
            .into_iter()
            .map(|e| e.municipality_id)
            .collect();
        let created = self
            .ensure_tasks(&txn, &project.id, &municipalities)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((wave, created))
    }

    /// Enrols a municipality (consortium admins; the municipality's project leader): it receives the
    /// tasks due to it, and its undated tasks get dates from its wave.
    pub async fn enrol(
        &self,
        caller: &Caller,
        new: NewEnrolment,
    ) -> Result<(enrolments::Model, u64), Error> {
        Self::require_enrols(caller, new.municipality_id)?;
        self.require_known(caller, new.municipality_id, new.project_leader_user_id)
            .await?;
        let now = self.clock.now();
        let municipality_id = new.municipality_id.to_string();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let (wave, project) = self.wave(&txn, &new.wave_id, "wave_id").await?;
        if project.id != new.project_id {
            return Err(Error::invalid(
                "wave_id",
                "the wave belongs to another project",
            ));
        }
        self.require_outside_frozen_zone(&wave, &project)?;
        let enrolment = enrolments::insert(
            &txn,
            enrolments::Model {
                id: Uuid::now_v7().to_string(),
                project_id: project.id.clone(),
                municipality_id: municipality_id.clone(),
                wave_id: wave.id.clone(),
                project_leader_user_id: new.project_leader_user_id.to_string(),
                debtor_system: new.debtor_system,
                version: 1,
                created_at: now,
            },
        )
        .await?;
        let payload = json!({
            "municipality_id": municipality_id,
            "wave_id": wave.id,
            "project_leader_user_id": enrolment.project_leader_user_id,
            "debtor_system": enrolment.debtor_system,
        });
        self.audit_created(&txn, caller, "enrolment", &enrolment.id, "create", payload)
            .await?;
        let municipalities = [municipality_id];
        let created = self
            .ensure_tasks(&txn, &project.id, &municipalities)
            .await?;
        let scheduled = self
            .reschedule(&txn, &project.id, &municipalities, wave.go_live)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((enrolment, created.max(scheduled)))
    }

    /// Moves an enrolment to another wave of its project (consortium admins; the municipality's
    /// project leader). Both waves must be outside their frozen zones.
    pub async fn change_enrolment_wave(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        wave_id: &str,
    ) -> Result<(enrolments::Model, u64), Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut enrolment = enrolments::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("enrolment", id))?;
        let municipality = Uuid::parse_str(&enrolment.municipality_id).map_err(Error::internal)?;
        Self::require_enrols(caller, municipality)?;
        Error::require_version("enrolment", enrolment.version, expected_version)?;
        let (from, project) = self.wave(&txn, &enrolment.wave_id, "wave_id").await?;
        let (to, _) = self.wave(&txn, wave_id, "wave_id").await?;
        if to.project_id != project.id {
            return Err(Error::invalid(
                "wave_id",
                "the wave belongs to another project",
            ));
        }
        self.require_outside_frozen_zone(&from, &project)?;
        self.require_outside_frozen_zone(&to, &project)?;
        enrolment.wave_id = to.id.clone();
        enrolment.version += 1;
        let enrolment = update_versioned(&txn, enrolment).await?;
        self.audit(
            &txn,
            caller,
            "enrolment",
            id,
            "change wave",
            json!({"from": from.id, "to": to.id}),
        )
        .await?;
        let municipalities = [enrolment.municipality_id.clone()];
        let created = self
            .ensure_tasks(&txn, &project.id, &municipalities)
            .await?;
        let scheduled = self
            .reschedule(&txn, &project.id, &municipalities, to.go_live)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((enrolment, created.max(scheduled)))
    }

    /// Consortium admins enrol any municipality, a project leader only their own (the access table
    /// admits no one else).
    fn require_enrols(caller: &Caller, municipality: Uuid) -> Result<(), Error> {
        let own_leader = caller.has_role(Role::MunicipalProjectLeader)
            && caller.municipality_id == Some(municipality);
        if caller.has_role(Role::ConsortiumAdmin) || own_leader {
            return Ok(());
        }
        // A project leader of another municipality reaches past their own; without one, the role
        // is what is missing.
        let reason = if caller.municipality_id.is_some() {
            Reason::OtherMunicipality
        } else {
            Reason::RoleRequired
        };
        Err(Error::PermissionDenied(
            reason,
            "a municipality is enrolled by its own project leader or a consortium admin".into(),
        ))
    }

    /// Checks with identity, on the caller's behalf, that the municipality exists and the project
    /// leader is one of its users.
    async fn require_known(
        &self,
        caller: &Caller,
        municipality: Uuid,
        leader: Uuid,
    ) -> Result<(), Error> {
        if !self.peers.municipality_exists(caller, municipality).await? {
            return Err(Error::not_found_field(
                "municipality",
                municipality.to_string(),
                "municipality_id",
            ));
        }
        let user = self.peers.user(caller, leader).await?;
        if user.is_some_and(|u| u.municipality_id == municipality.to_string()) {
            Ok(())
        } else {
            Err(Error::invalid(
                "project_leader_user_id",
                "must be a user of the municipality",
            ))
        }
    }

    /// A page of a project's enrolments: a municipality's users see their own municipality's only (an
    /// enrolment names its project leader), the supplier and the consortium all.
    pub async fn list_enrolments(
        &self,
        caller: &Caller,
        project_id: &str,
        page: &Page,
    ) -> Result<(Vec<enrolments::Model>, PageResponse), Error> {
        self.project(project_id, "project_id").await?;
        let own = caller.own_municipality()?.map(|m| m.to_string());
        enrolments::list(&self.db, project_id, own.as_deref(), page).await
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Klik;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}
