//! The gRPC API of klik: maps requests to validated domain inputs, calls the [`Registry`], and maps
//! the results back. Field names in errors are the proto's.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, format_date, required_id};
use kommune_proto::klik::v1 as pb;

use crate::domain::{self, EndOffset, Schedule, TaskContent};
use crate::registry::{
    LoadItem, NewEnrolment, NewProject, Registry, Resolution, TemplateWithVersions,
};
use crate::store::{enrolments, package_items, packages, projects, review_comments, tasks, waves};

const TITLE_MAX: usize = 300;
const TEXT_MAX: usize = 10_000;
const SHORT_MAX: usize = 200;

/// Implements every klik service over the registry.
#[derive(Clone)]
pub struct KlikApi {
    registry: Arc<Registry>,
}

impl KlikApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

// Proto -> domain.

/// An enum field that must be set to a known value; returns its proto name.
fn required_enum<E>(
    v: &mut Validator,
    field: &str,
    value: i32,
    name: fn(&E) -> &'static str,
    unspecified: E,
) -> String
where
    E: TryFrom<i32> + PartialEq,
{
    match E::try_from(value) {
        Ok(known) if known != unspecified => name(&known).to_owned(),
        _ => {
            v.violation(field, "is required");
            String::new()
        }
    }
}

fn non_negative(v: &mut Validator, field: &str, value: Option<i32>) -> Option<u32> {
    let value = value?;
    u32::try_from(value)
        .map_err(|_| v.violation(field, "must not be negative"))
        .ok()
}

/// A task description: mandatory fields enforced, every text free of personal ID numbers.
fn content(v: &mut Validator, c: Option<&pb::TaskContent>) -> TaskContent {
    let empty = pb::TaskContent::default();
    let c = c.unwrap_or(&empty);
    let end_offset = c
        .end_offset
        .as_ref()
        .and_then(|o| match pb::OffsetUnit::try_from(o.unit) {
            Ok(pb::OffsetUnit::Days) => Some(EndOffset::Days(o.amount)),
            Ok(pb::OffsetUnit::Months) => Some(EndOffset::Months(o.amount)),
            _ => {
                v.violation("content.end_offset.unit", "must be days or months");
                None
            }
        });
    TaskContent {
        title: v.text("content.title", &c.title, TITLE_MAX),
        theme: required_enum(
            v,
            "content.theme",
            c.theme,
            pb::Theme::as_str_name,
            pb::Theme::Unspecified,
        ),
        phase: required_enum(
            v,
            "content.phase",
            c.phase,
            pb::Phase::as_str_name,
            pb::Phase::Unspecified,
        ),
        priority: required_enum(
            v,
            "content.priority",
            c.priority,
            pb::Priority::as_str_name,
            pb::Priority::Unspecified,
        ),
        k98: c.k98,
        sts_infrastructure: c.sts_infrastructure,
        goal: v.text("content.goal", &c.goal, TEXT_MAX),
        description: v.text("content.description", &c.description, TEXT_MAX),
        method: v.optional_text("content.method", &c.method, TEXT_MAX),
        result: v.text("content.result", &c.result, TEXT_MAX),
        recommended_performer: v.text(
            "content.recommended_performer",
            &c.recommended_performer,
            SHORT_MAX,
        ),
        quality_criteria: v.optional_text(
            "content.quality_criteria",
            &c.quality_criteria,
            TEXT_MAX,
        ),
        involved_parties: v.optional_text(
            "content.involved_parties",
            &c.involved_parties,
            TEXT_MAX,
        ),
        schedule: Schedule {
            end_offset,
            duration_days: non_negative(v, "content.duration_days", c.duration_days)
                .unwrap_or_default(),
            frozen_zone_days: non_negative(v, "content.frozen_zone_days", c.frozen_zone_days),
        },
    }
}

// Domain -> proto.

fn content_to_proto(c: TaskContent) -> pb::TaskContent {
    let end_offset = c.schedule.end_offset.map(|o| match o {
        EndOffset::Days(amount) => pb::EndOffset {
            amount,
            unit: pb::OffsetUnit::Days as i32,
        },
        EndOffset::Months(amount) => pb::EndOffset {
            amount,
            unit: pb::OffsetUnit::Months as i32,
        },
    });
    pb::TaskContent {
        title: c.title,
        theme: pb::Theme::from_str_name(&c.theme).unwrap_or_default() as i32,
        phase: pb::Phase::from_str_name(&c.phase).unwrap_or_default() as i32,
        priority: pb::Priority::from_str_name(&c.priority).unwrap_or_default() as i32,
        k98: c.k98,
        sts_infrastructure: c.sts_infrastructure,
        goal: c.goal,
        description: c.description,
        method: c.method,
        result: c.result,
        recommended_performer: c.recommended_performer,
        quality_criteria: c.quality_criteria,
        involved_parties: c.involved_parties,
        duration_days: Some(c.schedule.duration_days as i32),
        end_offset,
        frozen_zone_days: c.schedule.frozen_zone_days.map(|d| d as i32),
    }
}

fn template(t: TemplateWithVersions) -> Result<pb::Template, Error> {
    let versions = t
        .versions
        .into_iter()
        .map(|v| {
            Ok(pb::TemplateVersion {
                version: v.version,
                state: if v.published {
                    pb::VersionState::Published
                } else {
                    pb::VersionState::Draft
                } as i32,
                content: Some(content_to_proto(v.content()?)),
                note: v.note,
                initials: v.initials,
                publish_time: v.published_at.map(to_timestamp),
                revision: v.revision,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(pb::Template {
        template_id: t.template.id,
        project_id: t.template.project_id,
        versions,
        create_time: Some(to_timestamp(t.template.created_at)),
    })
}

fn project(p: projects::Model) -> pb::Project {
    pb::Project {
        project_id: p.id,
        name: p.name,
        description: p.description,
        frozen_zone_days: p.frozen_zone_days,
        create_time: Some(to_timestamp(p.created_at)),
    }
}

fn wave(w: waves::Model) -> pb::Wave {
    pb::Wave {
        wave_id: w.id,
        project_id: w.project_id,
        name: w.name,
        go_live: format_date(w.go_live),
        published: w.published,
        version: w.version,
    }
}

fn enrolment(e: enrolments::Model) -> pb::Enrolment {
    pb::Enrolment {
        enrolment_id: e.id,
        project_id: e.project_id,
        municipality_id: e.municipality_id,
        wave_id: e.wave_id,
        project_leader_user_id: e.project_leader_user_id,
        debtor_system: e.debtor_system,
        version: e.version,
        create_time: Some(to_timestamp(e.created_at)),
    }
}

fn comment(c: review_comments::Model) -> pb::ReviewComment {
    pb::ReviewComment {
        comment_id: c.id,
        template_id: c.template_id,
        version: c.version,
        author: c.author,
        text: c.text,
        create_time: Some(to_timestamp(c.created_at)),
    }
}

fn package(p: packages::Model, items: u64, open: u64) -> pb::TaskPackage {
    pb::TaskPackage {
        package_id: p.id,
        task_id: p.task_id,
        municipality_id: p.municipality_id,
        description: p.description,
        item_count: items as i64,
        open_item_count: open as i64,
    }
}

fn item(i: package_items::Model) -> pb::PackageItem {
    pb::PackageItem {
        attributes: i.attributes().into_iter().collect(),
        item_id: i.id,
        package_id: i.package_id,
        reference: i.reference,
        state: pb::ItemState::from_str_name(&i.state).unwrap_or_default() as i32,
        case_reference: i.case_reference,
        reason: i.reason,
        resolved_by: i.resolved_by,
        resolve_time: i.resolved_at.map(to_timestamp),
    }
}

fn progress(p: domain::Progress) -> pb::Progress {
    pb::Progress {
        tasks: p.tasks as i64,
        done: p.done as i64,
        open: p.open as i64,
        overdue: p.overdue as i64,
        open_items: p.open_items as i64,
    }
}

impl KlikApi {
    fn task(&self, t: tasks::Model, package_id: Option<String>) -> pb::Task {
        let overdue = self.registry.is_overdue(&t);
        pb::Task {
            task_id: t.id,
            project_id: t.project_id,
            template_id: t.template_id,
            template_version: t.template_version,
            municipality_id: t.municipality_id,
            title: t.title,
            theme: pb::Theme::from_str_name(&t.theme).unwrap_or_default() as i32,
            phase: pb::Phase::from_str_name(&t.phase).unwrap_or_default() as i32,
            priority: pb::Priority::from_str_name(&t.priority).unwrap_or_default() as i32,
            status: pb::TaskStatus::from_str_name(&t.status).unwrap_or_default() as i32,
            start_date: t.start_date.map(format_date).unwrap_or_default(),
            end_date: t.end_date.map(format_date).unwrap_or_default(),
            overdue,
            package_id: package_id.unwrap_or_default(),
            version: t.version,
        }
    }
}

#[tonic::async_trait]
impl pb::template_service_server::TemplateService for KlikApi {
    async fn create_template(
        &self,
        request: Request<pb::CreateTemplateRequest>,
    ) -> Result<Response<pb::CreateTemplateResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let content = content(&mut v, req.content.as_ref());
        v.finish()?;
        let project_id = project_id.map(|p| p.to_string()).unwrap_or_default();
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateTemplate", &key, &req)?;
        let created = self
            .registry
            .create_template(&caller, &project_id, content, key)
            .await?;
        Ok(Response::new(pb::CreateTemplateResponse {
            template: Some(template(created)?),
        }))
    }

    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::GetTemplateResponse>, Status> {
        caller(&request)?;
        let id = required_id("template_id", &request.get_ref().template_id)?;
        Ok(Response::new(pb::GetTemplateResponse {
            template: Some(template(self.registry.get_template(&id).await?)?),
        }))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let project_id = required_id("project_id", &req.project_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_templates(&project_id, &page).await?;
        let templates = rows
            .into_iter()
            .map(template)
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListTemplatesResponse {
            templates,
            page: Some(page),
        }))
    }

    async fn update_draft(
        &self,
        request: Request<pb::UpdateDraftRequest>,
    ) -> Result<Response<pb::UpdateDraftResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("template_id", &req.template_id);
        let content = content(&mut v, req.content.as_ref());
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_draft(&caller, &id, req.expected_revision, content)
            .await?;
        Ok(Response::new(pb::UpdateDraftResponse {
            template: Some(template(updated)?),
        }))
    }

    async fn add_review_comment(
        &self,
        request: Request<pb::AddReviewCommentRequest>,
    ) -> Result<Response<pb::AddReviewCommentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("template_id", &req.template_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let added = self.registry.add_review_comment(&caller, &id, text).await?;
        Ok(Response::new(pb::AddReviewCommentResponse {
            comment: Some(comment(added)),
        }))
    }

    async fn list_review_comments(
        &self,
        request: Request<pb::ListReviewCommentsRequest>,
    ) -> Result<Response<pb::ListReviewCommentsResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let id = required_id("template_id", &req.template_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_review_comments(&id, &page).await?;
        Ok(Response::new(pb::ListReviewCommentsResponse {
            comments: rows.into_iter().map(comment).collect(),
            page: Some(page),
        }))
    }

    async fn publish_template(
        &self,
        request: Request<pb::PublishTemplateRequest>,
    ) -> Result<Response<pb::PublishTemplateResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("template_id", &req.template_id);
        let note = v.text("note", &req.note, TEXT_MAX);
        let initials = v.text("initials", &req.initials, 10);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let (published, created) = self
            .registry
            .publish_template(&caller, &id, req.expected_revision, note, initials)
            .await?;
        Ok(Response::new(pb::PublishTemplateResponse {
            template: Some(template(published)?),
            tasks_created: created as i64,
        }))
    }
}

#[tonic::async_trait]
impl pb::project_service_server::ProjectService for KlikApi {
    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::CreateProjectResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let new = NewProject {
            name: v.text("name", &req.name, SHORT_MAX),
            description: v.optional_text("description", &req.description, TEXT_MAX),
            frozen_zone_days: non_negative(&mut v, "frozen_zone_days", Some(req.frozen_zone_days))
                .unwrap_or_default(),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateProject", &key, &req)?;
        let created = self.registry.create_project(&caller, new, key).await?;
        Ok(Response::new(pb::CreateProjectResponse {
            project: Some(project(created)),
        }))
    }

    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::GetProjectResponse>, Status> {
        caller(&request)?;
        let id = required_id("project_id", &request.get_ref().project_id)?;
        Ok(Response::new(pb::GetProjectResponse {
            project: Some(project(self.registry.get_project(&id).await?)),
        }))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        caller(&request)?;
        let page = Page::from_request(request.get_ref().page.as_ref())?;
        let (rows, page) = self.registry.list_projects(&page).await?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: rows.into_iter().map(project).collect(),
            page: Some(page),
        }))
    }

    async fn add_wave(
        &self,
        request: Request<pb::AddWaveRequest>,
    ) -> Result<Response<pb::AddWaveResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let name = v.text("name", &req.name, SHORT_MAX);
        let go_live = v.date("go_live", &req.go_live);
        v.finish()?;
        let (Some(project_id), Some(go_live)) = (project_id, go_live) else {
            return Err(Error::invalid("go_live", "is required").into());
        };
        let added = self
            .registry
            .add_wave(&caller, &project_id.to_string(), name, go_live)
            .await?;
        Ok(Response::new(pb::AddWaveResponse {
            wave: Some(wave(added)),
        }))
    }

    async fn list_waves(
        &self,
        request: Request<pb::ListWavesRequest>,
    ) -> Result<Response<pb::ListWavesResponse>, Status> {
        caller(&request)?;
        let id = required_id("project_id", &request.get_ref().project_id)?;
        let rows = self.registry.list_waves(&id).await?;
        Ok(Response::new(pb::ListWavesResponse {
            waves: rows.into_iter().map(wave).collect(),
        }))
    }

    async fn move_wave(
        &self,
        request: Request<pb::MoveWaveRequest>,
    ) -> Result<Response<pb::MoveWaveResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("wave_id", &req.wave_id);
        let go_live = v.date("go_live", &req.go_live);
        v.finish()?;
        let (Some(id), Some(go_live)) = (id, go_live) else {
            return Err(Error::invalid("go_live", "is required").into());
        };
        let (moved, rescheduled) = self
            .registry
            .move_wave(&caller, &id.to_string(), req.expected_version, go_live)
            .await?;
        Ok(Response::new(pb::MoveWaveResponse {
            wave: Some(wave(moved)),
            tasks_rescheduled: rescheduled as i64,
        }))
    }

    async fn publish_wave(
        &self,
        request: Request<pb::PublishWaveRequest>,
    ) -> Result<Response<pb::PublishWaveResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("wave_id", &request.get_ref().wave_id)?;
        let (published, created) = self.registry.publish_wave(&caller, &id).await?;
        Ok(Response::new(pb::PublishWaveResponse {
            wave: Some(wave(published)),
            tasks_created: created as i64,
        }))
    }

    async fn enrol(
        &self,
        request: Request<pb::EnrolRequest>,
    ) -> Result<Response<pb::EnrolResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let municipality_id = v.id("municipality_id", &req.municipality_id);
        let wave_id = v.id("wave_id", &req.wave_id);
        let leader = v.id("project_leader_user_id", &req.project_leader_user_id);
        let debtor_system = req.debtor_system.trim().to_owned();
        if !DEBTOR_SYSTEMS.contains(&debtor_system.as_str()) {
            v.violation(
                "debtor_system",
                format!("must be one of {}", DEBTOR_SYSTEMS.join(", ")),
            );
        }
        v.finish()?;
        let (Some(project_id), Some(municipality_id), Some(wave_id), Some(project_leader_user_id)) =
            (project_id, municipality_id, wave_id, leader)
        else {
            return Err(Error::invalid("project_id", "is required").into());
        };
        let new = NewEnrolment {
            project_id: project_id.to_string(),
            municipality_id,
            wave_id: wave_id.to_string(),
            project_leader_user_id,
            debtor_system,
        };
        let (enrolled, scheduled) = self.registry.enrol(&caller, new).await?;
        Ok(Response::new(pb::EnrolResponse {
            enrolment: Some(enrolment(enrolled)),
            tasks_scheduled: scheduled as i64,
        }))
    }

    async fn change_enrolment_wave(
        &self,
        request: Request<pb::ChangeEnrolmentWaveRequest>,
    ) -> Result<Response<pb::ChangeEnrolmentWaveResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("enrolment_id", &req.enrolment_id);
        let wave_id = v.id("wave_id", &req.wave_id);
        v.finish()?;
        let (Some(id), Some(wave_id)) = (id, wave_id) else {
            return Err(Error::invalid("wave_id", "is required").into());
        };
        let (changed, scheduled) = self
            .registry
            .change_enrolment_wave(
                &caller,
                &id.to_string(),
                req.expected_version,
                &wave_id.to_string(),
            )
            .await?;
        Ok(Response::new(pb::ChangeEnrolmentWaveResponse {
            enrolment: Some(enrolment(changed)),
            tasks_scheduled: scheduled as i64,
        }))
    }

    async fn list_enrolments(
        &self,
        request: Request<pb::ListEnrolmentsRequest>,
    ) -> Result<Response<pb::ListEnrolmentsResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let id = required_id("project_id", &req.project_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_enrolments(&id, &page).await?;
        Ok(Response::new(pb::ListEnrolmentsResponse {
            enrolments: rows.into_iter().map(enrolment).collect(),
            page: Some(page),
        }))
    }
}

/// The debtor systems a municipality may run.
const DEBTOR_SYSTEMS: [&str; 4] = ["KMD_OPUS", "PRISME_2015", "PRISME_2009", "EG_OS_INDSIGT"];

#[tonic::async_trait]
impl pb::task_service_server::TaskService for KlikApi {
    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let project_id = project_id.map(|p| p.to_string()).unwrap_or_default();
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_tasks(
                &caller,
                &project_id,
                municipality_id,
                req.overdue_only,
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks: rows.into_iter().map(|t| self.task(t, None)).collect(),
            page: Some(page),
        }))
    }

    async fn get_task(
        &self,
        request: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::GetTaskResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("task_id", &request.get_ref().task_id)?;
        let (task, package) = self.registry.get_task(&caller, &id).await?;
        Ok(Response::new(pb::GetTaskResponse {
            task: Some(self.task(task, package)),
        }))
    }

    async fn set_task_status(
        &self,
        request: Request<pb::SetTaskStatusRequest>,
    ) -> Result<Response<pb::SetTaskStatusResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("task_id", &req.task_id);
        let status = match pb::TaskStatus::try_from(req.status) {
            Ok(status) if status != pb::TaskStatus::Unspecified => Some(status),
            _ => {
                v.violation("status", "is required");
                None
            }
        };
        v.finish()?;
        let (Some(id), Some(status)) = (id, status) else {
            return Err(Error::invalid("status", "is required").into());
        };
        let id = id.to_string();
        let task = self
            .registry
            .set_task_status(&caller, &id, req.expected_version, status)
            .await?;
        Ok(Response::new(pb::SetTaskStatusResponse {
            task: Some(self.task(task, None)),
        }))
    }

    async fn create_package(
        &self,
        request: Request<pb::CreatePackageRequest>,
    ) -> Result<Response<pb::CreatePackageResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let task_id = v.id("task_id", &req.task_id);
        let description = v.text("description", &req.description, TEXT_MAX);
        v.finish()?;
        let task_id = task_id.map(|t| t.to_string()).unwrap_or_default();
        let created = self
            .registry
            .create_package(&caller, &task_id, description)
            .await?;
        Ok(Response::new(pb::CreatePackageResponse {
            package: Some(package(created, 0, 0)),
        }))
    }

    async fn add_package_items(
        &self,
        request: Request<pb::AddPackageItemsRequest>,
    ) -> Result<Response<pb::AddPackageItemsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("package_id", &req.package_id);
        if req.items.is_empty() || req.items.len() > domain::MAX_ITEMS_PER_LOAD {
            v.violation(
                "items",
                format!("must hold 1 to {} items", domain::MAX_ITEMS_PER_LOAD),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(req.items.len());
        for (i, item) in req.items.iter().enumerate() {
            let reference = v.text(&format!("items[{i}].reference"), &item.reference, SHORT_MAX);
            if !seen.insert(reference.clone()) {
                v.violation(format!("items[{i}].reference"), "appears twice in the load");
            }
            let attributes: BTreeMap<String, String> = item
                .attributes
                .iter()
                .map(|(key, value)| {
                    let key = v.text(&format!("items[{i}].attributes"), key, SHORT_MAX);
                    let value =
                        v.optional_text(&format!("items[{i}].attributes[{key}]"), value, TEXT_MAX);
                    (key, value)
                })
                .collect();
            items.push(LoadItem {
                reference,
                attributes,
            });
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let (loaded, count, open) = self.registry.add_package_items(&caller, &id, items).await?;
        Ok(Response::new(pb::AddPackageItemsResponse {
            package: Some(package(loaded, count, open)),
        }))
    }

    async fn list_package_items(
        &self,
        request: Request<pb::ListPackageItemsRequest>,
    ) -> Result<Response<pb::ListPackageItemsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("package_id", &req.package_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self
            .registry
            .list_package_items(&caller, &id, req.open_only, &page)
            .await?;
        Ok(Response::new(pb::ListPackageItemsResponse {
            items: rows.into_iter().map(item).collect(),
            page: Some(page),
        }))
    }

    async fn resolve_package_item(
        &self,
        request: Request<pb::ResolvePackageItemRequest>,
    ) -> Result<Response<pb::ResolvePackageItemResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("item_id", &req.item_id);
        let resolution = match pb::ItemState::try_from(req.state) {
            Ok(pb::ItemState::CaseCreated) => Some(Resolution::CaseCreated(v.text(
                "case_reference",
                &req.case_reference,
                SHORT_MAX,
            ))),
            Ok(pb::ItemState::CaseAttached) => Some(Resolution::CaseAttached(v.text(
                "case_reference",
                &req.case_reference,
                SHORT_MAX,
            ))),
            Ok(pb::ItemState::NotApplicable) => Some(Resolution::NotApplicable(v.text(
                "reason",
                &req.reason,
                TEXT_MAX,
            ))),
            _ => {
                v.violation(
                    "state",
                    "must be CASE_CREATED, CASE_ATTACHED or NOT_APPLICABLE",
                );
                None
            }
        };
        v.finish()?;
        let (Some(id), Some(resolution)) = (id, resolution) else {
            return Err(Error::invalid("state", "is required").into());
        };
        let resolved = self
            .registry
            .resolve_package_item(&caller, &id.to_string(), resolution)
            .await?;
        Ok(Response::new(pb::ResolvePackageItemResponse {
            item: Some(item(resolved)),
        }))
    }

    async fn get_progress(
        &self,
        request: Request<pb::GetProgressRequest>,
    ) -> Result<Response<pb::GetProgressResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let project_id = v.id("project_id", &req.project_id);
        let wave_id = v.optional_id("wave_id", &req.wave_id);
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        v.finish()?;
        let project_id = project_id.map(|p| p.to_string()).unwrap_or_default();
        let counts = self
            .registry
            .progress(
                &caller,
                &project_id,
                wave_id.map(|w| w.to_string()),
                municipality_id,
            )
            .await?;
        Ok(Response::new(pb::GetProgressResponse {
            progress: Some(progress(counts)),
        }))
    }

    async fn list_stuck_municipalities(
        &self,
        request: Request<pb::ListStuckMunicipalitiesRequest>,
    ) -> Result<Response<pb::ListStuckMunicipalitiesResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("project_id", &request.get_ref().project_id)?;
        let stuck = self.registry.stuck_municipalities(&caller, &id).await?;
        Ok(Response::new(pb::ListStuckMunicipalitiesResponse {
            municipalities: stuck
                .into_iter()
                .map(|(municipality_id, p)| pb::StuckMunicipality {
                    municipality_id,
                    progress: Some(progress(p)),
                })
                .collect(),
        }))
    }
}

kommune_platform::audit_service!(KlikApi, pb, registry);
kommune_platform::event_service!(KlikApi, pb, registry);
