//! Municipalities' tasks, task packages, progress and the audit trail.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;
use uuid::Uuid;

use kommune_platform::auth::Caller;
use kommune_platform::db::update_versioned;
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;
use kommune_proto::klik::v1 as pb;
use pb::{ItemState, TaskStatus};
use sea_orm::DatabaseConnection;

use super::Registry;
use crate::domain::{self, Progress};
use crate::store::{enrolments, package_items, packages, tasks};

/// Who loads task packages.
const LOADERS: [Role; 2] = [Role::SupplierSecondLine, Role::ConsortiumAdmin];

/// One item to load (validated).
#[derive(Debug, Clone)]
pub struct LoadItem {
    /// Key in the source system.
    pub reference: String,
    /// Reference data.
    pub attributes: BTreeMap<String, String>,
}

/// How an item was resolved (validated).
#[derive(Debug, Clone)]
pub enum Resolution {
    /// A new case was created in the benefits system.
    CaseCreated(String),
    /// The item was attached to an existing case there.
    CaseAttached(String),
    /// The item needs no handling.
    NotApplicable(String),
}

/// The entity kinds of klik's audit trail.
pub const AUDITED: [&str; 7] = [
    "project",
    "wave",
    "enrolment",
    "template",
    "task",
    "package",
    "package_item",
];

impl Registry {
    /// A page of a project's tasks: municipal callers get their own municipality's only.
    pub async fn list_tasks(
        &self,
        caller: &Caller,
        project_id: &str,
        municipality_id: Option<Uuid>,
        overdue_only: bool,
        page: &Page,
    ) -> Result<(Vec<tasks::Model>, PageResponse), Error> {
        let municipality = self.scope(caller, municipality_id)?;
        let overdue_on = overdue_only.then(|| self.today());
        tasks::list(
            &self.db,
            project_id,
            municipality.as_deref(),
            overdue_on,
            page,
        )
        .await
    }

    /// The municipality a caller's query is limited to: their own for municipal callers.
    fn scope(&self, caller: &Caller, requested: Option<Uuid>) -> Result<Option<String>, Error> {
        if caller.is_suite_wide() {
            return Ok(requested.map(|m| m.to_string()));
        }
        let own = caller.municipality_id.ok_or_else(|| {
            Error::PermissionDenied(
                Reason::RoleRequired,
                "the caller belongs to no municipality".into(),
            )
        })?;
        if requested.is_some_and(|m| m != own) {
            return Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users see only their own municipality's tasks".into(),
            ));
        }
        Ok(Some(own.to_string()))
    }

    /// One task, with its package's id.
    pub async fn get_task(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(tasks::Model, Option<String>), Error> {
        let task = tasks::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("task", id))?;
        caller.require_sees(&task.municipality_id, "tasks")?;
        let package = packages::of_task(&self.db, id).await?.map(|p| p.id);
        Ok((task, package))
    }

    /// Whether a task is overdue today.
    pub fn is_overdue(&self, task: &tasks::Model) -> bool {
        domain::is_overdue(
            task.end_date,
            *task.status == TaskStatus::Done,
            self.today(),
        )
    }

    /// Sets a task's status (its municipality, or suite-wide roles); DONE needs an empty package.
    pub async fn set_task_status(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        status: pb::TaskStatus,
    ) -> Result<tasks::Model, Error> {
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut task = tasks::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("task", id))?;
        caller.require_sees(&task.municipality_id, "tasks")?;
        Error::require_version("task", task.version, expected_version)?;
        if status == pb::TaskStatus::Done
            && let Some(package) = packages::of_task(&txn, id).await?
        {
            let (_, open) = package_items::counts(&txn, &package.id).await?;
            domain::may_complete(open).map_err(Error::wrong_state)?;
        }
        let from = std::mem::replace(&mut task.status, status.into());
        task.version += 1;
        let task = update_versioned(&txn, task).await?;
        self.audit(
            &txn,
            caller,
            "task",
            id,
            "set status",
            json!({"from": from, "to": task.status}),
        )
        .await?;
        let event = pb::TaskStatusChanged {
            task_id: id.to_owned(),
            municipality_id: task.municipality_id.clone(),
            status: status as i32,
        };
        outbox::publish(&txn, now, id, &event).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(task)
    }

    /// Creates a task's package (the supplier, consortium admins).
    pub async fn create_package(
        &self,
        caller: &Caller,
        task_id: &str,
        description: String,
    ) -> Result<packages::Model, Error> {
        caller.require_any_role(&LOADERS, "creating a task package")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let task = tasks::find(&txn, task_id)
            .await?
            .ok_or_else(|| Error::not_found_field("task", task_id, "task_id"))?;
        let package = packages::insert(
            &txn,
            packages::Model {
                id: Uuid::now_v7().to_string(),
                task_id: task.id.clone(),
                municipality_id: task.municipality_id.clone(),
                description,
                created_at: self.clock.now(),
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "package",
            &package.id,
            "create",
            json!({"task_id": task.id, "description": package.description}),
        )
        .await?;
        txn.commit().await?;
        Ok(package)
    }

    /// A package with its (items, open items), for a caller who may see it.
    pub async fn package(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(packages::Model, u64, u64), Error> {
        let package = packages::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("package", id))?;
        caller.require_sees(&package.municipality_id, "tasks")?;
        let (items, open) = package_items::counts(&self.db, id).await?;
        Ok((package, items, open))
    }

    /// Loads items into a package, all or none (the supplier, consortium admins).
    pub async fn add_package_items(
        &self,
        caller: &Caller,
        id: &str,
        items: Vec<LoadItem>,
    ) -> Result<(packages::Model, u64, u64), Error> {
        caller.require_any_role(&LOADERS, "loading a task package")?;
        let package = packages::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found_field("package", id, "package_id"))?;
        let count = items.len();
        let rows = items
            .into_iter()
            .map(|item| {
                Ok(package_items::Model {
                    id: Uuid::now_v7().to_string(),
                    package_id: package.id.clone(),
                    reference: item.reference,
                    attributes: serde_json::to_string(&item.attributes).map_err(Error::internal)?,
                    state: ItemState::Open.into(),
                    case_reference: String::new(),
                    reason: String::new(),
                    resolved_by: String::new(),
                    resolved_at: None,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        package_items::insert_all(&txn, rows).await?;
        self.audit(
            &txn,
            caller,
            "package",
            &package.id,
            "load items",
            json!({"items": count}),
        )
        .await?;
        txn.commit().await?;
        self.package(caller, id).await
    }

    /// A page of a package's items.
    pub async fn list_package_items(
        &self,
        caller: &Caller,
        id: &str,
        open_only: bool,
        page: &Page,
    ) -> Result<(Vec<package_items::Model>, PageResponse), Error> {
        self.package(caller, id).await?;
        package_items::list(&self.db, id, open_only, page).await
    }

    /// Resolves an open item (its municipality, or suite-wide roles).
    pub async fn resolve_package_item(
        &self,
        caller: &Caller,
        id: &str,
        resolution: Resolution,
    ) -> Result<package_items::Model, Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let item = package_items::find(&txn, id)
            .await?
            .ok_or_else(|| Error::not_found("package item", id))?;
        let package = packages::find(&txn, &item.package_id)
            .await?
            .ok_or_else(|| Error::internal("item without package"))?;
        caller.require_sees(&package.municipality_id, "tasks")?;
        let (state, case_reference, reason) = match resolution {
            Resolution::CaseCreated(case) => (pb::ItemState::CaseCreated, case, String::new()),
            Resolution::CaseAttached(case) => (pb::ItemState::CaseAttached, case, String::new()),
            Resolution::NotApplicable(reason) => {
                (pb::ItemState::NotApplicable, String::new(), reason)
            }
        };
        let resolved = package_items::Model {
            state: state.into(),
            case_reference,
            reason,
            resolved_by: caller.subject.clone(),
            resolved_at: Some(self.clock.now()),
            ..item
        };
        let resolved = package_items::resolve(&txn, resolved).await?;
        let payload = json!({
            "state": resolved.state,
            "case_reference": resolved.case_reference,
            "reason": resolved.reason,
        });
        self.audit(&txn, caller, "package_item", id, "resolve", payload)
            .await?;
        txn.commit().await?;
        Ok(resolved)
    }

    /// Progress of a project, per municipality in scope.
    async fn progress_by_municipality(
        &self,
        project_id: &str,
        municipalities: Option<&[String]>,
    ) -> Result<BTreeMap<String, Progress>, Error> {
        let all = tasks::of_project(&self.db, project_id, municipalities).await?;
        let ids: Vec<String> = all.iter().map(|t| t.id.clone()).collect();
        let packages = packages::of_tasks(&self.db, &ids).await?;
        let package_ids: Vec<String> = packages.iter().map(|p| p.id.clone()).collect();
        let open = package_items::open_per_package(&self.db, &package_ids).await?;
        let open_of_task: HashMap<String, u64> = packages
            .into_iter()
            .map(|p| (p.task_id, open.get(&p.id).copied().unwrap_or_default()))
            .collect();
        let today = self.today();
        let mut by_municipality: BTreeMap<String, Progress> = BTreeMap::new();
        for task in all {
            let open_items = open_of_task.get(&task.id).copied().unwrap_or_default();
            let done = *task.status == TaskStatus::Done;
            by_municipality
                .entry(task.municipality_id)
                .or_default()
                .count(done, task.end_date, open_items, today);
        }
        Ok(by_municipality)
    }

    /// Progress of a project, optionally of one wave's or one municipality's tasks.
    pub async fn progress(
        &self,
        caller: &Caller,
        project_id: &str,
        wave_id: Option<String>,
        municipality_id: Option<Uuid>,
    ) -> Result<Progress, Error> {
        let municipality = self.scope(caller, municipality_id)?;
        let mut scope: Option<Vec<String>> = municipality.map(|m| vec![m]);
        if let Some(wave_id) = wave_id {
            let in_wave: Vec<String> = enrolments::of_wave(&self.db, &wave_id)
                .await?
                .into_iter()
                .map(|e| e.municipality_id)
                .collect();
            scope = Some(match scope {
                Some(own) => own.into_iter().filter(|m| in_wave.contains(m)).collect(),
                None => in_wave,
            });
        }
        let by_municipality = self
            .progress_by_municipality(project_id, scope.as_deref())
            .await?;
        let mut total = Progress::default();
        for p in by_municipality.values() {
            total.tasks += p.tasks;
            total.done += p.done;
            total.open += p.open;
            total.overdue += p.overdue;
            total.open_items += p.open_items;
        }
        Ok(total)
    }

    /// The municipalities with overdue tasks, most overdue first (suite-wide roles).
    pub async fn stuck_municipalities(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<Vec<(String, Progress)>, Error> {
        if !caller.is_suite_wide() {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "who is stuck is for the consortium and the supplier".into(),
            ));
        }
        let mut stuck: Vec<(String, Progress)> = self
            .progress_by_municipality(project_id, None)
            .await?
            .into_iter()
            .filter(|(_, p)| p.overdue > 0)
            .collect();
        stuck.sort_by(|a, b| {
            b.1.overdue
                .cmp(&a.1.overdue)
                .then_with(|| b.1.open_items.cmp(&a.1.open_items))
                .then_with(|| a.0.cmp(&b.0))
        });
        Ok(stuck)
    }
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Klik;
    const ENTITIES: &'static [&'static str] = &AUDITED;

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &kommune_platform::clock::SharedClock {
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
        let municipality = match entity_type {
            "task" => tasks::find(&self.db, id).await?.map(|t| t.municipality_id),
            "package" => packages::find(&self.db, id)
                .await?
                .map(|p| p.municipality_id),
            "package_item" => match package_items::find(&self.db, id).await? {
                Some(item) => packages::find(&self.db, &item.package_id)
                    .await?
                    .map(|p| p.municipality_id),
                None => None,
            },
            _ => None,
        };
        match municipality {
            Some(m) => caller.require_sees(&m, "tasks"),
            None => Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users read only their own municipality's audit trails".into(),
            )),
        }
    }
}
