//! The gRPC API of the cases service: maps requests to validated domain inputs, calls the
//! [`Registry`], and maps the results back. Field names in errors are the proto's.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::{Caller, caller};
use kommune_platform::clock::to_timestamp;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::cases::v1 as pb;

use crate::domain::{self, suppliers};
use crate::registry::{ErasedFields, HandlerChange, Move, NewCase, Registry};
use crate::store::{areas, attachments, cases, comments, systems, teams};

mod case_service;
mod incidents;
mod known_issues;
mod mailbox;
mod messages;
mod reference_service;
mod report_service;
mod surveys;

const TITLE_MAX: usize = 200;
use kommune_platform::pii::ERASURE_REASON_MAX;
const TEXT_MAX: usize = 20_000;
const SHORT_MAX: usize = 200;

/// Implements every cases service over the registry.
#[derive(Clone)]
pub struct CasesApi {
    registry: Arc<Registry>,
}

impl CasesApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }

    fn case(&self, caller: &Caller, c: cases::Model) -> Result<pb::Case, Error> {
        let personal_id = self.registry.personal_id_for(caller, &c)?;
        let eligibility_request = c.eligibility_change().map(|e| pb::EligibilityRequest {
            action: e.action.proto() as i32,
            user_id: e.user_id.unwrap_or_default(),
            registration_id: e.registration_id.unwrap_or_default(),
            date: kommune_platform::validate::format_date(e.date),
            valid_to: e
                .valid_to
                .map(kommune_platform::validate::format_date)
                .unwrap_or_default(),
            applied_registration_id: e.applied_registration_id.unwrap_or_default(),
        });
        Ok(pb::Case {
            eligibility_request,
            number: domain::case_number(c.number),
            guide_sections: c.guide_sections(),
            cited_sections: c
                .cited_sections()
                .into_iter()
                .map(|s| pb::CitedSection {
                    section_id: s.section_id,
                    guide_id: s.guide_id,
                    guide_title: s.guide_title,
                    number: s.number,
                    heading: s.heading,
                })
                .collect(),
            suggestion_id: c.suggestion_id.clone(),
            personal_id_erased: c.personal_id_erased_at.is_some(),
            related_case_ids: c.related_cases(),
            kind: c.kind.0 as i32,
            question_subject: c.question_subject.0 as i32,
            severity: c.severity.0 as i32,
            state: c.state.0 as i32,
            line: c.line.0 as i32,
            resolution: c.resolution.0 as i32,
            sla: Some(pb::Sla {
                response_due_time: Some(to_timestamp(c.response_due)),
                first_response_time: c.first_response_at.map(to_timestamp),
                resolution_due_time: Some(to_timestamp(c.resolution_due)),
                paused_working_seconds: c.paused_seconds,
            }),
            case_id: c.id,
            municipality_id: c.municipality_id,
            reporter_user_id: c.reporter_user_id,
            title: c.title,
            description: c.description,
            system_id: c.system_id,
            area_id: c.area_id,
            personal_id,
            team_id: c.team_id.unwrap_or_default(),
            change_request_id: c.change_request_id,
            change_request_wanted: c.change_request_wanted,
            merged_into_case_id: c.merged_into.unwrap_or_default(),
            incident_flag: c.incident_flag,
            incident_id: c.incident_id.unwrap_or_default(),
            handler_user_id: c.handler_user_id.unwrap_or_default(),
            version: c.version,
            create_time: Some(to_timestamp(c.created_at)),
            update_time: Some(to_timestamp(c.updated_at)),
        })
    }
}

fn comment(c: comments::Model) -> pb::Comment {
    pb::Comment {
        visibility: *c.visibility as i32,
        comment_id: c.id,
        case_id: c.case_id,
        author: c.author,
        text: c.text,
        create_time: Some(to_timestamp(c.created_at)),
    }
}

fn attachment(a: attachments::Model) -> pb::Attachment {
    pb::Attachment {
        attachment_id: a.id,
        case_id: a.case_id,
        file_name: a.file_name,
        content_type: a.content_type,
        size_bytes: a.size_bytes,
        uploaded_by: a.uploaded_by,
        create_time: Some(to_timestamp(a.created_at)),
    }
}

/// The longest outage window: a burst spread over more than a week is no outage, and every filing reads
/// the reports of its window.
const MAX_OUTAGE_WINDOW_MINUTES: i32 = 7 * 24 * 60;

/// A system's settings from a request (id and version are the caller's to set).
fn system_settings(v: &mut Validator, s: &pb::System) -> systems::Model {
    for (field, value) in [
        ("system.outage_report_threshold", s.outage_report_threshold),
        ("system.outage_window_minutes", s.outage_window_minutes),
        (
            "system.outage_distinct_reporters",
            s.outage_distinct_reporters,
        ),
    ] {
        if value < 0 {
            v.violation(field, "must not be negative");
        }
    }
    if s.outage_report_threshold > 0 && s.outage_window_minutes < 1 {
        v.violation(
            "system.outage_window_minutes",
            "must be at least 1 when a report threshold is set, or no outage would ever be detected",
        );
    }
    if s.outage_window_minutes > MAX_OUTAGE_WINDOW_MINUTES {
        v.violation(
            "system.outage_window_minutes",
            format!("must be at most {MAX_OUTAGE_WINDOW_MINUTES} (a week)"),
        );
    }
    if s.outage_report_threshold > 0 && s.outage_distinct_reporters > s.outage_report_threshold {
        v.violation(
            "system.outage_distinct_reporters",
            "cannot exceed the report threshold, or no outage would ever be detected",
        );
    }
    let where_to_turn = v.optional_text("system.where_to_turn", &s.where_to_turn, TEXT_MAX);
    if !s.chain_responsibility && where_to_turn.is_empty() {
        v.violation(
            "system.where_to_turn",
            "is required for a system outside the chain responsibility",
        );
    }
    let supplier_contacts = supplier_contacts(v, &s.supplier_contacts);
    systems::Model {
        supplier_contacts,
        id: String::new(),
        name: v.text("system.name", &s.name, SHORT_MAX),
        chain_responsibility: s.chain_responsibility,
        where_to_turn,
        outage_report_threshold: s.outage_report_threshold,
        outage_window_minutes: s.outage_window_minutes,
        outage_distinct_reporters: s.outage_distinct_reporters.max(1),
        version: 0,
    }
}

/// A system's supplier contacts from a request, as stored (a JSON list): each with an address, none
/// twice, at most [`suppliers::MAX_CONTACTS`].
fn supplier_contacts(v: &mut Validator, contacts: &[pb::SupplierContact]) -> String {
    if contacts.len() > suppliers::MAX_CONTACTS {
        v.violation(
            "system.supplier_contacts",
            format!("must be at most {}", suppliers::MAX_CONTACTS),
        );
    }
    let mut valid: Vec<suppliers::SupplierContact> = Vec::with_capacity(contacts.len());
    for (n, contact) in contacts.iter().enumerate() {
        let field = format!("system.supplier_contacts[{n}]");
        let name = v.optional_text(&format!("{field}.name"), &contact.name, SHORT_MAX);
        let email = contact.email.trim().to_owned();
        if let Some(problem) = suppliers::address_problem(&email) {
            v.violation(format!("{field}.email"), problem);
        } else if valid.iter().any(|c| c.email.eq_ignore_ascii_case(&email)) {
            v.violation(format!("{field}.email"), "is named twice");
        }
        valid.push(suppliers::SupplierContact { name, email });
    }
    serde_json::to_string(&valid).unwrap_or_else(|_| "[]".into())
}

/// The ids of a repeated field, each a UUID and none twice.
fn ids(v: &mut Validator, field: &str, values: &[String]) -> Vec<String> {
    let mut found: Vec<String> = Vec::with_capacity(values.len());
    for (n, value) in values.iter().enumerate() {
        let field = format!("{field}[{n}]");
        match v.id(&field, value).map(|id| id.to_string()) {
            Some(id) if found.contains(&id) => v.violation(field, "is named twice"),
            Some(id) => found.push(id),
            None => {}
        }
    }
    found
}

fn system(s: systems::Model) -> pb::System {
    let supplier_contacts = s
        .supplier_contacts()
        .into_iter()
        .map(|c| pb::SupplierContact {
            name: c.name,
            email: c.email,
        })
        .collect();
    pb::System {
        system_id: s.id,
        name: s.name,
        chain_responsibility: s.chain_responsibility,
        where_to_turn: s.where_to_turn,
        outage_report_threshold: s.outage_report_threshold,
        outage_window_minutes: s.outage_window_minutes,
        supplier_contacts,
        outage_distinct_reporters: s.outage_distinct_reporters,
        version: s.version,
    }
}

fn team(t: teams::Model) -> pb::Team {
    pb::Team {
        member_user_ids: t.members(),
        line: *t.line as i32,
        team_id: t.id,
        name: t.name,
        version: t.version,
    }
}

fn area(a: areas::Model) -> pb::Area {
    pb::Area {
        area_id: a.id,
        name: a.name,
        team_id: a.team_id,
        version: a.version,
    }
}

kommune_platform::audit_service!(CasesApi, pb, registry);
kommune_platform::privacy_service!(CasesApi, pb, registry);
kommune_platform::event_service!(CasesApi, pb, registry);
