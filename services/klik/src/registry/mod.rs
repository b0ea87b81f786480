//! klik's operations: each checks who may do it, then writes the change, its audit record and its
//! events in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde_json::json;
use tonic::transport::Channel;
use uuid::Uuid;

use kommune_platform::audit::{self, AuditEntry};
use kommune_platform::auth::Caller;
use kommune_platform::clock::SharedClock;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, Created, IdempotencyKey};
use kommune_platform::outbox::{self, Outbox};
use kommune_platform::paging::Page;
use kommune_platform::records::EventFeed;
use kommune_platform::service::ServiceRole;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1 as identity;
use kommune_proto::identity::v1::Role;
use kommune_proto::klik::v1 as pb;

use crate::domain::{self, TaskContent};
use crate::store::{
    enrolments, projects, review_comments, tasks, template_versions, templates, waves,
};

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
    outbox: Outbox,
    identity: Channel,
}

impl Registry {
    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// klik over its database and clock, asking identity at `identity` about municipalities.
    pub fn new(db: DatabaseConnection, clock: SharedClock, identity: Channel) -> Self {
        Self {
            db,
            clock,
            outbox: Outbox::new(),
            identity,
        }
    }

    fn today(&self) -> NaiveDate {
        copenhagen_date(self.clock.now())
    }

    fn audit<'a>(
        &self,
        actor: &'a Caller,
        entity_type: &'a str,
        id: &str,
        action: &'a str,
        payload: serde_json::Value,
    ) -> AuditEntry<'a> {
        AuditEntry::new(actor, entity_type, id, action, self.clock.now(), payload)
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
            async |txn: &DatabaseTransaction| {
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
                audit::record(
                    txn,
                    self.audit(caller, "project", &project.id, "create", payload),
                )
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
        audit::record(
            &txn,
            self.audit(
                caller,
                "wave",
                &wave.id,
                "create",
                json!({"name": wave.name, "go_live": wave.go_live}),
            ),
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
        txn: &DatabaseTransaction,
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
        if wave.version != expected_version {
            return Err(Error::Aborted(
                Reason::StaleVersion,
                format!(
                    "the wave is at version {}, not {expected_version}",
                    wave.version
                ),
            ));
        }
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
        audit::record(&txn, self.audit(caller, "wave", &wave.id, "move", payload)).await?;
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
            audit::record(
                &txn,
                self.audit(caller, "wave", &wave.id, "publish", json!({})),
            )
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
        let payload = json!({"municipality_id": municipality_id, "wave_id": wave.id, "project_leader_user_id": enrolment.project_leader_user_id, "debtor_system": enrolment.debtor_system});
        audit::record(
            &txn,
            self.audit(caller, "enrolment", &enrolment.id, "create", payload),
        )
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
        if enrolment.version != expected_version {
            return Err(Error::Aborted(
                Reason::StaleVersion,
                format!(
                    "the enrolment is at version {}, not {expected_version}",
                    enrolment.version
                ),
            ));
        }
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
        audit::record(
            &txn,
            self.audit(
                caller,
                "enrolment",
                id,
                "change wave",
                json!({"from": from.id, "to": to.id}),
            ),
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

    fn require_enrols(caller: &Caller, municipality: Uuid) -> Result<(), Error> {
        let own_leader = caller.has_role(Role::MunicipalProjectLeader)
            && caller.municipality_id == Some(municipality);
        if caller.has_role(Role::ConsortiumAdmin) || own_leader {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "a municipality is enrolled by its own project leader or a consortium admin".into(),
            ))
        }
    }

    /// Checks with identity, on the caller's behalf, that the municipality exists and the project
    /// leader is one of its users.
    async fn require_known(
        &self,
        caller: &Caller,
        municipality: Uuid,
        leader: Uuid,
    ) -> Result<(), Error> {
        let unavailable = |status: tonic::Status| {
            tracing::warn!(error = %status, "cannot ask identity");
            Error::Unavailable("identity cannot answer now; retry".into())
        };
        let request = identity::GetMunicipalityRequest {
            municipality_id: municipality.to_string(),
        };
        let found = identity::municipality_service_client::MunicipalityServiceClient::new(
            self.identity.clone(),
        )
        .get_municipality(kommune_platform::client::on_behalf_of(caller, request))
        .await;
        match found {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::NotFound => {
                return Err(Error::not_found_field(
                    "municipality",
                    municipality.to_string(),
                    "municipality_id",
                ));
            }
            Err(status) => return Err(unavailable(status)),
        }
        let not_a_user = || {
            Error::invalid(
                "project_leader_user_id",
                "must be a user of the municipality",
            )
        };
        let request = identity::GetUserRequest {
            user_id: leader.to_string(),
        };
        let user = identity::user_service_client::UserServiceClient::new(self.identity.clone())
            .get_user(kommune_platform::client::on_behalf_of(caller, request))
            .await;
        match user {
            Ok(found)
                if found
                    .get_ref()
                    .user
                    .as_ref()
                    .is_some_and(|u| u.municipality_id == municipality.to_string()) =>
            {
                Ok(())
            }
            Ok(_) => Err(not_a_user()),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::NotFound | tonic::Code::PermissionDenied
                ) =>
            {
                Err(not_a_user())
            }
            Err(status) => Err(unavailable(status)),
        }
    }

    /// A page of a project's enrolments.
    pub async fn list_enrolments(
        &self,
        project_id: &str,
        page: &Page,
    ) -> Result<(Vec<enrolments::Model>, PageResponse), Error> {
        self.project(project_id, "project_id").await?;
        enrolments::list(&self.db, project_id, page).await
    }

    // Templates.

    async fn template(&self, id: &str) -> Result<TemplateWithVersions, Error> {
        let template = templates::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))?;
        let versions = template_versions::of_template(&self.db, id).await?;
        Ok(TemplateWithVersions { template, versions })
    }

    /// Creates a template with its first draft (consortium admins).
    pub async fn create_template(
        &self,
        caller: &Caller,
        project_id: &str,
        content: TaskContent,
        key: Option<IdempotencyKey>,
    ) -> Result<TemplateWithVersions, Error> {
        caller.require_any_role(&EDITORS, "creating a template")?;
        self.project(project_id, "project_id").await?;
        let now = self.clock.now();
        let encoded = template_versions::encode(&content)?;
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |t: &templates::Model| t.id.clone(),
            async |txn: &DatabaseTransaction| {
                let template = templates::insert(
                    txn,
                    templates::Model {
                        id: Uuid::now_v7().to_string(),
                        project_id: project_id.to_owned(),
                        created_at: now,
                    },
                )
                .await?;
                template_versions::insert(txn, draft(&template.id, 1, encoded)).await?;
                audit::record(
                    txn,
                    self.audit(
                        caller,
                        "template",
                        &template.id,
                        "create",
                        json!({"title": content.title}),
                    ),
                )
                .await?;
                Ok(template)
            },
        )
        .await?;
        let id = match created {
            Created::New(template) => template.id,
            Created::Replayed(id) => id,
        };
        self.template(&id).await
    }

    /// A template with its versions.
    pub async fn get_template(&self, id: &str) -> Result<TemplateWithVersions, Error> {
        self.template(id).await
    }

    /// A page of a project's templates with their versions.
    pub async fn list_templates(
        &self,
        project_id: &str,
        page: &Page,
    ) -> Result<(Vec<TemplateWithVersions>, PageResponse), Error> {
        let (rows, page) = templates::list(&self.db, project_id, page).await?;
        let mut listed = Vec::with_capacity(rows.len());
        for template in rows {
            let versions = template_versions::of_template(&self.db, &template.id).await?;
            listed.push(TemplateWithVersions { template, versions });
        }
        Ok((listed, page))
    }

    /// Replaces the open draft's content, or opens a new draft when none is (consortium admins).
    pub async fn update_draft(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        content: TaskContent,
    ) -> Result<TemplateWithVersions, Error> {
        caller.require_any_role(&EDITORS, "editing a template")?;
        let encoded = template_versions::encode(&content)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        templates::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))?;
        let versions = template_versions::of_template(&txn, id).await?;
        let latest = versions
            .last()
            .ok_or_else(|| Error::internal("template without versions"))?;
        let (version, action) = if latest.published {
            if expected_revision != 0 {
                return Err(Error::Aborted(
                    Reason::StaleVersion,
                    "the draft was published; read the template again".into(),
                ));
            }
            (
                template_versions::insert(&txn, draft(id, latest.version + 1, encoded)).await?,
                "open draft",
            )
        } else {
            if latest.revision != expected_revision {
                return Err(Error::Aborted(
                    Reason::StaleVersion,
                    format!(
                        "the draft is at revision {}, not {expected_revision}",
                        latest.revision
                    ),
                ));
            }
            let changed = template_versions::Model {
                content: encoded,
                revision: latest.revision + 1,
                ..latest.clone()
            };
            (update_versioned(&txn, changed).await?, "edit draft")
        };
        let payload = json!({"version": version.version, "revision": version.revision, "title": content.title});
        audit::record(&txn, self.audit(caller, "template", id, action, payload)).await?;
        txn.commit().await?;
        self.template(id).await
    }

    /// Adds a review comment to the open draft (anyone signed in).
    pub async fn add_review_comment(
        &self,
        caller: &Caller,
        id: &str,
        text: String,
    ) -> Result<review_comments::Model, Error> {
        let template = self.template(id).await?;
        let draft = template
            .versions
            .last()
            .filter(|v| !v.published)
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    Reason::WrongState,
                    "the template has no draft to review".into(),
                )
            })?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let comment = review_comments::insert(
            &txn,
            review_comments::Model {
                id: Uuid::now_v7().to_string(),
                template_id: id.to_owned(),
                version: draft.version,
                author: caller.subject.clone(),
                text,
                created_at: self.clock.now(),
            },
        )
        .await?;
        audit::record(
            &txn,
            self.audit(
                caller,
                "template",
                id,
                "review comment",
                json!({"comment_id": comment.id, "version": comment.version}),
            ),
        )
        .await?;
        txn.commit().await?;
        Ok(comment)
    }

    /// A page of a template's review comments.
    pub async fn list_review_comments(
        &self,
        id: &str,
        page: &Page,
    ) -> Result<(Vec<review_comments::Model>, PageResponse), Error> {
        templates::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("template", id))?;
        review_comments::list(&self.db, id, page).await
    }

    /// Publishes the open draft (consortium admins) and creates the tasks it makes due: for every
    /// active municipality when K98, else for the municipalities of published waves.
    pub async fn publish_template(
        &self,
        caller: &Caller,
        id: &str,
        expected_revision: i64,
        note: String,
        initials: String,
    ) -> Result<(TemplateWithVersions, u64), Error> {
        caller.require_any_role(&EDITORS, "publishing a template")?;
        let template = self.template(id).await?;
        let draft = template
            .versions
            .last()
            .filter(|v| !v.published)
            .ok_or_else(|| {
                Error::FailedPrecondition(
                    Reason::WrongState,
                    "the template has no draft to publish".into(),
                )
            })?
            .clone();
        if draft.revision != expected_revision {
            return Err(Error::Aborted(
                Reason::StaleVersion,
                format!(
                    "the draft is at revision {}, not {expected_revision}",
                    draft.revision
                ),
            ));
        }
        let content = draft.content()?;
        // K98 tasks go to every active municipality, asked of identity before the transaction opens.
        let everyone = if content.k98 {
            self.active_municipalities(caller).await?
        } else {
            Vec::new()
        };
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let published = template_versions::Model {
            published: true,
            note,
            initials,
            published_at: Some(now),
            revision: draft.revision + 1,
            ..draft
        };
        let published = update_versioned(&txn, published).await?;
        let project_id = template.template.project_id.clone();
        let mut municipalities: HashSet<String> = everyone.into_iter().collect();
        let published_waves: HashSet<String> = waves::of_project(&txn, &project_id)
            .await?
            .into_iter()
            .filter(|w| w.published)
            .map(|w| w.id)
            .collect();
        for enrolment in enrolments::of_project(&txn, &project_id).await? {
            if content.k98 || published_waves.contains(&enrolment.wave_id) {
                municipalities.insert(enrolment.municipality_id);
            }
        }
        let municipalities: Vec<String> = municipalities.into_iter().collect();
        let created = self
            .ensure_tasks(&txn, &project_id, &municipalities)
            .await?;
        let payload = json!({"version": published.version, "note": published.note, "initials": published.initials, "tasks_created": created});
        audit::record(&txn, self.audit(caller, "template", id, "publish", payload)).await?;
        outbox::publish(
            &txn,
            now,
            id,
            &pb::TemplatePublished {
                template_id: id.to_owned(),
                version: published.version,
            },
        )
        .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok((self.template(id).await?, created))
    }

    /// Every active municipality, from identity, asked on the caller's behalf.
    async fn active_municipalities(&self, caller: &Caller) -> Result<Vec<String>, Error> {
        let mut client = identity::municipality_service_client::MunicipalityServiceClient::new(
            self.identity.clone(),
        );
        let mut active = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = identity::ListMunicipalitiesRequest {
                page: Some(kommune_proto::common::v1::PageRequest {
                    page_size: 500,
                    page_token,
                }),
            };
            let response = client
                .list_municipalities(kommune_platform::client::on_behalf_of(caller, request))
                .await
                .map_err(|status| {
                    tracing::warn!(error = %status, "cannot list municipalities");
                    Error::Unavailable("identity cannot list the municipalities now; retry".into())
                })?
                .into_inner();
            active.extend(
                response
                    .municipalities
                    .into_iter()
                    .filter(|m| m.active)
                    .map(|m| m.municipality_id),
            );
            page_token = response.page.map(|p| p.next_page_token).unwrap_or_default();
            if page_token.is_empty() {
                return Ok(active);
            }
        }
    }

    /// Creates the missing tasks due to `municipalities`: one per published template, dated from the
    /// municipality's wave when it has one. Returns how many were created.
    async fn ensure_tasks(
        &self,
        txn: &DatabaseTransaction,
        project_id: &str,
        municipalities: &[String],
    ) -> Result<u64, Error> {
        let template_ids: Vec<String> = templates::of_project(txn, project_id)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect();
        let published = template_versions::latest_published(txn, &template_ids).await?;
        let waves: HashMap<String, waves::Model> = waves::of_project(txn, project_id)
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect();
        let wave_of: HashMap<String, waves::Model> = enrolments::of_project(txn, project_id)
            .await?
            .into_iter()
            .filter_map(|e| {
                waves
                    .get(&e.wave_id)
                    .cloned()
                    .map(|w| (e.municipality_id, w))
            })
            .collect();
        let existing: HashSet<(String, String)> =
            tasks::of_project(txn, project_id, Some(municipalities))
                .await?
                .into_iter()
                .map(|t| (t.template_id, t.municipality_id))
                .collect();
        let now = self.clock.now();
        let mut created: HashMap<&str, i64> = HashMap::new();
        for version in &published {
            let content = version.content()?;
            for municipality in municipalities {
                let wave = wave_of.get(municipality);
                let due = domain::is_due(content.k98, wave.is_some_and(|w| w.published));
                if !due || existing.contains(&(version.template_id.clone(), municipality.clone())) {
                    continue;
                }
                let dates = wave.and_then(|w| content.schedule.dates(w.go_live));
                tasks::insert(
                    txn,
                    tasks::Model {
                        id: Uuid::now_v7().to_string(),
                        project_id: project_id.to_owned(),
                        template_id: version.template_id.clone(),
                        template_version: version.version,
                        municipality_id: municipality.clone(),
                        title: content.title.clone(),
                        theme: content.theme.clone(),
                        phase: content.phase.clone(),
                        priority: content.priority.clone(),
                        schedule: serde_json::to_string(&content.schedule)
                            .map_err(Error::internal)?,
                        status: pb::TaskStatus::Open.as_str_name().to_owned(),
                        start_date: dates.map(|d| d.start),
                        end_date: dates.map(|d| d.end),
                        version: 1,
                        created_at: now,
                    },
                )
                .await?;
                *created.entry(municipality.as_str()).or_default() += 1;
            }
        }
        for (municipality, count) in &created {
            let event = pb::TasksPublished {
                project_id: project_id.to_owned(),
                municipality_id: (*municipality).to_owned(),
                count: *count,
            };
            outbox::publish(txn, now, *municipality, &event).await?;
        }
        Ok(created.values().sum::<i64>() as u64)
    }

    /// Gives the municipalities' tasks the dates of a go-live, except tasks done or inside their own
    /// frozen zone. Returns how many tasks got new dates.
    async fn reschedule(
        &self,
        txn: &DatabaseTransaction,
        project_id: &str,
        municipalities: &[String],
        go_live: NaiveDate,
    ) -> Result<u64, Error> {
        let today = self.today();
        let mut moved = 0;
        for mut task in tasks::of_project(txn, project_id, Some(municipalities)).await? {
            let current = task.dates();
            let done = task.status == tasks::DONE;
            let dates = task.schedule()?.rescheduled(current, go_live, today, done);
            if dates != current {
                task.start_date = dates.map(|d| d.start);
                task.end_date = dates.map(|d| d.end);
                task.version += 1;
                update_versioned(txn, task).await?;
                moved += 1;
            }
        }
        Ok(moved)
    }
}

fn draft(template_id: &str, version: i32, content: String) -> template_versions::Model {
    template_versions::Model {
        template_id: template_id.to_owned(),
        version,
        published: false,
        content,
        note: String::new(),
        initials: String::new(),
        published_at: None,
        revision: 1,
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Klik;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}
