//! The gRPC API of klik: maps requests to validated domain inputs, calls the [`Registry`], and maps
//! the results back. Field names in errors are the proto's.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::db::Named;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, format_date, required_id};
use kommune_proto::klik::v1 as pb;

use crate::domain::{self, EndOffset, Schedule, TaskContent};
use crate::registry::{
    LoadItem, NewEnrolment, NewProject, Registry, Resolution, TemplateWithVersions,
};
use crate::store::{enrolments, package_items, packages, projects, review_comments, tasks, waves};

mod project_service;
mod task_service;
mod template_service;

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
        theme: Named(v.required_enum("content.theme", c.theme)),
        phase: Named(v.required_enum("content.phase", c.phase)),
        priority: Named(v.required_enum("content.priority", c.priority)),
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
        theme: *c.theme as i32,
        phase: *c.phase as i32,
        priority: *c.priority as i32,
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
        state: *i.state as i32,
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
            theme: *t.theme as i32,
            phase: *t.phase as i32,
            priority: *t.priority as i32,
            status: *t.status as i32,
            start_date: t.start_date.map(format_date).unwrap_or_default(),
            end_date: t.end_date.map(format_date).unwrap_or_default(),
            overdue,
            package_id: package_id.unwrap_or_default(),
            version: t.version,
        }
    }
}

kommune_platform::audit_service!(KlikApi, pb, registry);
kommune_platform::privacy_service!(KlikApi, pb, registry);
kommune_platform::event_service!(KlikApi, pb, registry);
