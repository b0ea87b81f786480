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

use crate::domain;
use crate::registry::{Move, NewCase, Registry};
use crate::store::{areas, attachments, cases, comments, systems, teams};

mod incidents;
mod messages;

const TITLE_MAX: usize = 200;
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
        let enum_of = |name: &str, parse: fn(&str) -> Option<i32>| parse(name).unwrap_or_default();
        Ok(pb::Case {
            number: format!("SAG-{:06}", c.number),
            guide_sections: c.guide_sections(),
            related_case_ids: c.related_cases(),
            kind: enum_of(&c.kind, |n| {
                pb::CaseKind::from_str_name(n).map(|e| e as i32)
            }),
            question_subject: enum_of(&c.question_subject, |n| {
                pb::QuestionSubject::from_str_name(n).map(|e| e as i32)
            }),
            severity: enum_of(&c.severity, |n| {
                pb::Severity::from_str_name(n).map(|e| e as i32)
            }),
            state: enum_of(&c.state, |n| {
                pb::CaseState::from_str_name(n).map(|e| e as i32)
            }),
            line: enum_of(&c.line, |n| {
                pb::SupportLine::from_str_name(n).map(|e| e as i32)
            }),
            resolution: enum_of(&c.resolution, |n| {
                pb::Resolution::from_str_name(n).map(|e| e as i32)
            }),
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
            version: c.version,
            create_time: Some(to_timestamp(c.created_at)),
            update_time: Some(to_timestamp(c.updated_at)),
        })
    }
}

/// An optional enum field: `None` when unspecified; a violation when unknown.
fn optional_enum<E: TryFrom<i32> + PartialEq + Default>(
    v: &mut Validator,
    field: &str,
    value: i32,
) -> E {
    E::try_from(value).unwrap_or_else(|_| {
        v.violation(field, "is not a known value");
        E::default()
    })
}

/// An enum field that must be set to a known value.
fn required_enum<E: TryFrom<i32> + PartialEq + Default>(
    v: &mut Validator,
    field: &str,
    value: i32,
) -> E {
    match E::try_from(value) {
        Ok(known) if known != E::default() => known,
        _ => {
            v.violation(field, "is required");
            E::default()
        }
    }
}

fn comment(c: comments::Model) -> pb::Comment {
    pb::Comment {
        visibility: pb::CommentVisibility::from_str_name(&c.visibility).unwrap_or_default() as i32,
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
    systems::Model {
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
    pb::System {
        system_id: s.id,
        name: s.name,
        chain_responsibility: s.chain_responsibility,
        where_to_turn: s.where_to_turn,
        outage_report_threshold: s.outage_report_threshold,
        outage_window_minutes: s.outage_window_minutes,
        outage_distinct_reporters: s.outage_distinct_reporters,
        version: s.version,
    }
}

fn team(t: teams::Model) -> pb::Team {
    pb::Team {
        member_user_ids: t.members(),
        line: pb::SupportLine::from_str_name(&t.line).unwrap_or_default() as i32,
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

#[tonic::async_trait]
impl pb::case_service_server::CaseService for CasesApi {
    async fn file_case(
        &self,
        request: Request<pb::FileCaseRequest>,
    ) -> Result<Response<pb::FileCaseResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let personal_id = if req.personal_id.trim().is_empty() {
            None
        } else {
            domain::normalise_personal_id(&req.personal_id)
                .map_err(|d| v.violation("personal_id", d))
                .ok()
        };
        let new = NewCase {
            title: v.text("title", &req.title, TITLE_MAX),
            description: v.text("description", &req.description, TEXT_MAX),
            kind: required_enum(&mut v, "kind", req.kind),
            question_subject: pb::QuestionSubject::try_from(req.question_subject)
                .unwrap_or_default(),
            severity: required_enum(&mut v, "severity", req.severity),
            system_id: v
                .id("system_id", &req.system_id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            area_id: v
                .id("area_id", &req.area_id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            guide_sections: req
                .guide_sections
                .iter()
                .enumerate()
                .map(|(i, s)| v.text(&format!("guide_sections[{i}]"), s, SHORT_MAX))
                .collect(),
            personal_id,
        };
        v.finish()?;
        // The personal ID number takes no part in recognising a retry (it is not stored in clear).
        req.personal_id = String::new();
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "FileCase", &key, &req)?;
        let filed = self.registry.file_case(&caller, new, key).await?;
        Ok(Response::new(pb::FileCaseResponse {
            case: Some(self.case(&caller, filed.case)?),
            phone_route: filed.phone_route.unwrap_or_default().to_owned(),
        }))
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("case_id", &request.get_ref().case_id)?;
        let case = self.registry.get_case(&caller, &id).await?;
        Ok(Response::new(pb::GetCaseResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let municipality_id = v.optional_id("municipality_id", &req.municipality_id);
        let team_id = v.optional_id("team_id", &req.team_id);
        let state = match pb::CaseState::try_from(req.state) {
            Ok(pb::CaseState::Unspecified) => None,
            Ok(state) => Some(state.as_str_name().to_owned()),
            Err(_) => {
                v.violation("state", "is not a known state");
                None
            }
        };
        v.finish()?;
        let filter = cases::Filter {
            municipality_id: municipality_id.map(|m| m.to_string()),
            state,
            team_id: team_id.map(|t| t.to_string()),
        };
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_cases(&caller, filter, &page).await?;
        let cases = rows
            .into_iter()
            .map(|c| self.case(&caller, c))
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListCasesResponse {
            cases,
            page: Some(page),
        }))
    }

    async fn update_case_title(
        &self,
        request: Request<pb::UpdateCaseTitleRequest>,
    ) -> Result<Response<pb::UpdateCaseTitleResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let title = v.text("title", &req.title, TITLE_MAX);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let case = self
            .registry
            .update_title(&caller, &id, req.expected_version, title)
            .await?;
        Ok(Response::new(pb::UpdateCaseTitleResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn add_comment(
        &self,
        request: Request<pb::AddCommentRequest>,
    ) -> Result<Response<pb::AddCommentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        let visibility = required_enum(&mut v, "visibility", req.visibility);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let added = self
            .registry
            .add_comment(&caller, &id, text, visibility)
            .await?;
        Ok(Response::new(pb::AddCommentResponse {
            comment: Some(comment(added)),
        }))
    }

    async fn list_comments(
        &self,
        request: Request<pb::ListCommentsRequest>,
    ) -> Result<Response<pb::ListCommentsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("case_id", &req.case_id)?;
        let page = Page::from_request(req.page.as_ref())?;
        let (rows, page) = self.registry.list_comments(&caller, &id, &page).await?;
        Ok(Response::new(pb::ListCommentsResponse {
            comments: rows.into_iter().map(comment).collect(),
            page: Some(page),
        }))
    }

    async fn transition_case(
        &self,
        request: Request<pb::TransitionCaseRequest>,
    ) -> Result<Response<pb::TransitionCaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let transition = required_enum(&mut v, "transition", req.transition);
        let team_id = v
            .optional_id("team_id", &req.team_id)
            .map(|t| t.to_string());
        let resolution = pb::Resolution::try_from(req.resolution).unwrap_or_default();
        let change_request_id =
            v.optional_text("change_request_id", &req.change_request_id, SHORT_MAX);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let step = Move {
            transition,
            team_id,
            resolution,
            change_request_id,
            change_request_wanted: req.change_request_wanted,
        };
        let case = self
            .registry
            .transition(&caller, &id, req.expected_version, step)
            .await?;
        Ok(Response::new(pb::TransitionCaseResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn add_attachment(
        &self,
        request: Request<pb::AddAttachmentRequest>,
    ) -> Result<Response<pb::AddAttachmentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let file_name = v.text("file_name", &req.file_name, SHORT_MAX);
        let content_type = req.content_type.trim().to_lowercase();
        if let Err((field, description)) =
            domain::check_attachment(&content_type, req.content.len())
        {
            v.violation(field, description);
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let added = self
            .registry
            .add_attachment(&caller, &id, file_name, content_type, req.content)
            .await?;
        Ok(Response::new(pb::AddAttachmentResponse {
            attachment: Some(attachment(added)),
        }))
    }

    async fn list_attachments(
        &self,
        request: Request<pb::ListAttachmentsRequest>,
    ) -> Result<Response<pb::ListAttachmentsResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("case_id", &request.get_ref().case_id)?;
        let rows = self.registry.list_attachments(&caller, &id).await?;
        Ok(Response::new(pb::ListAttachmentsResponse {
            attachments: rows.into_iter().map(attachment).collect(),
        }))
    }

    async fn get_attachment(
        &self,
        request: Request<pb::GetAttachmentRequest>,
    ) -> Result<Response<pb::GetAttachmentResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("attachment_id", &request.get_ref().attachment_id)?;
        let mut found = self.registry.get_attachment(&caller, &id).await?;
        let content = std::mem::take(&mut found.content);
        Ok(Response::new(pb::GetAttachmentResponse {
            attachment: Some(attachment(found)),
            content,
        }))
    }

    async fn relate_cases(
        &self,
        request: Request<pb::RelateCasesRequest>,
    ) -> Result<Response<pb::RelateCasesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let other = v.id("related_case_id", &req.related_case_id);
        v.finish()?;
        let (id, other) = (
            id.map(|i| i.to_string()).unwrap_or_default(),
            other.map(|i| i.to_string()).unwrap_or_default(),
        );
        let related = self.registry.relate(&caller, &id, &other).await?;
        Ok(Response::new(pb::RelateCasesResponse {
            case: Some(self.case(&caller, related)?),
        }))
    }

    async fn merge_case(
        &self,
        request: Request<pb::MergeCaseRequest>,
    ) -> Result<Response<pb::MergeCaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let into = v.id("into_case_id", &req.into_case_id);
        v.finish()?;
        let (id, into) = (
            id.map(|i| i.to_string()).unwrap_or_default(),
            into.map(|i| i.to_string()).unwrap_or_default(),
        );
        let merged = self
            .registry
            .merge(&caller, &id, req.expected_version, &into)
            .await?;
        Ok(Response::new(pb::MergeCaseResponse {
            case: Some(self.case(&caller, merged)?),
        }))
    }

    async fn convert_to_change_request(
        &self,
        request: Request<pb::ConvertToChangeRequestRequest>,
    ) -> Result<Response<pb::ConvertToChangeRequestResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let theme_id = v.id("theme_id", &req.theme_id);
        v.finish()?;
        let case = self
            .registry
            .convert_to_change_request(
                &caller,
                &id.map(|i| i.to_string()).unwrap_or_default(),
                theme_id.map(|i| i.to_string()).unwrap_or_default(),
            )
            .await?;
        Ok(Response::new(pb::ConvertToChangeRequestResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }
}

#[tonic::async_trait]
impl pb::reference_service_server::ReferenceService for CasesApi {
    async fn create_system(
        &self,
        request: Request<pb::CreateSystemRequest>,
    ) -> Result<Response<pb::CreateSystemResponse>, Status> {
        let caller = caller(&request)?;
        let mut v = Validator::new();
        let model = system_settings(&mut v, &request.into_inner().system.unwrap_or_default());
        v.finish()?;
        let created = self.registry.create_system(&caller, model).await?;
        Ok(Response::new(pb::CreateSystemResponse {
            system: Some(system(created)),
        }))
    }

    async fn update_system(
        &self,
        request: Request<pb::UpdateSystemRequest>,
    ) -> Result<Response<pb::UpdateSystemResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().system.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("system.system_id", &given.system_id);
        let mut model = system_settings(&mut v, &given);
        v.finish()?;
        model.id = id.map(|i| i.to_string()).unwrap_or_default();
        model.version = given.version;
        let updated = self.registry.update_system(&caller, model).await?;
        Ok(Response::new(pb::UpdateSystemResponse {
            system: Some(system(updated)),
        }))
    }

    async fn update_team(
        &self,
        request: Request<pb::UpdateTeamRequest>,
    ) -> Result<Response<pb::UpdateTeamResponse>, Status> {
        let caller = caller(&request)?;
        let t = request.into_inner().team.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("team.team_id", &t.team_id);
        let name = v.text("team.name", &t.name, SHORT_MAX);
        let members = ids(&mut v, "team.member_user_ids", &t.member_user_ids);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_team(&caller, &id, t.version, name, members)
            .await?;
        Ok(Response::new(pb::UpdateTeamResponse {
            team: Some(team(updated)),
        }))
    }

    async fn update_area(
        &self,
        request: Request<pb::UpdateAreaRequest>,
    ) -> Result<Response<pb::UpdateAreaResponse>, Status> {
        let caller = caller(&request)?;
        let a = request.into_inner().area.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("area.area_id", &a.area_id);
        let name = v.text("area.name", &a.name, SHORT_MAX);
        let team_id = v
            .id("area.team_id", &a.team_id)
            .map(|t| t.to_string())
            .unwrap_or_default();
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_area(&caller, &id, a.version, name, team_id)
            .await?;
        Ok(Response::new(pb::UpdateAreaResponse {
            area: Some(area(updated)),
        }))
    }

    async fn list_systems(
        &self,
        request: Request<pb::ListSystemsRequest>,
    ) -> Result<Response<pb::ListSystemsResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(pb::ListSystemsResponse {
            systems: self
                .registry
                .list_systems()
                .await?
                .into_iter()
                .map(system)
                .collect(),
        }))
    }

    async fn create_team(
        &self,
        request: Request<pb::CreateTeamRequest>,
    ) -> Result<Response<pb::CreateTeamResponse>, Status> {
        let caller = caller(&request)?;
        let t = request.into_inner().team.unwrap_or_default();
        let mut v = Validator::new();
        let name = v.text("team.name", &t.name, SHORT_MAX);
        let line = required_enum(&mut v, "team.line", t.line);
        let members = ids(&mut v, "team.member_user_ids", &t.member_user_ids);
        v.finish()?;
        let created = self
            .registry
            .create_team(&caller, name, line, members)
            .await?;
        Ok(Response::new(pb::CreateTeamResponse {
            team: Some(team(created)),
        }))
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Result<Response<pb::ListTeamsResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(pb::ListTeamsResponse {
            teams: self
                .registry
                .list_teams()
                .await?
                .into_iter()
                .map(team)
                .collect(),
        }))
    }

    async fn create_area(
        &self,
        request: Request<pb::CreateAreaRequest>,
    ) -> Result<Response<pb::CreateAreaResponse>, Status> {
        let caller = caller(&request)?;
        let a = request.into_inner().area.unwrap_or_default();
        let mut v = Validator::new();
        let name = v.text("area.name", &a.name, SHORT_MAX);
        let team_id = v
            .id("area.team_id", &a.team_id)
            .map(|t| t.to_string())
            .unwrap_or_default();
        v.finish()?;
        let created = self.registry.create_area(&caller, name, team_id).await?;
        Ok(Response::new(pb::CreateAreaResponse {
            area: Some(area(created)),
        }))
    }

    async fn list_areas(
        &self,
        request: Request<pb::ListAreasRequest>,
    ) -> Result<Response<pb::ListAreasResponse>, Status> {
        caller(&request)?;
        Ok(Response::new(pb::ListAreasResponse {
            areas: self
                .registry
                .list_areas()
                .await?
                .into_iter()
                .map(area)
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::report_service_server::ReportService for CasesApi {
    async fn list_queue(
        &self,
        request: Request<pb::ListQueueRequest>,
    ) -> Result<Response<pb::ListQueueResponse>, Status> {
        let caller = caller(&request)?;
        let team_id = required_id("team_id", &request.get_ref().team_id)?;
        let (unassigned, assigned) = self.registry.queue(&caller, &team_id).await?;
        let map = |rows: Vec<cases::Model>| {
            rows.into_iter()
                .map(|c| self.case(&caller, c))
                .collect::<Result<Vec<_>, Error>>()
        };
        Ok(Response::new(pb::ListQueueResponse {
            unassigned: map(unassigned)?,
            assigned: map(assigned)?,
        }))
    }

    async fn get_backlog(
        &self,
        request: Request<pb::GetBacklogRequest>,
    ) -> Result<Response<pb::GetBacklogResponse>, Status> {
        let caller = caller(&request)?;
        let counts = self.registry.backlog(&caller).await?;
        Ok(Response::new(pb::GetBacklogResponse {
            counts: counts
                .into_iter()
                .map(|((area_id, state), count)| pb::BacklogCount {
                    area_id,
                    state,
                    count: count as i64,
                })
                .collect(),
        }))
    }

    async fn list_old_cases(
        &self,
        request: Request<pb::ListOldCasesRequest>,
    ) -> Result<Response<pb::ListOldCasesResponse>, Status> {
        let caller = caller(&request)?;
        let before = request
            .get_ref()
            .created_before
            .as_ref()
            .and_then(kommune_platform::clock::from_timestamp)
            .ok_or_else(|| Error::invalid("created_before", "is required"))?;
        let rows = self.registry.old_cases(&caller, before).await?;
        let cases = rows
            .into_iter()
            .map(|c| self.case(&caller, c))
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListOldCasesResponse { cases }))
    }

    async fn get_monthly_counts(
        &self,
        request: Request<pb::GetMonthlyCountsRequest>,
    ) -> Result<Response<pb::GetMonthlyCountsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let first = domain::parse_month(&req.first_month)
            .map_err(|d| v.violation("first_month", d))
            .ok();
        let last = domain::parse_month(&req.last_month)
            .map_err(|d| v.violation("last_month", d))
            .ok();
        if let (Some((fy, fm)), Some((ly, lm))) = (first, last) {
            let span = (ly * 12 + lm as i32) - (fy * 12 + fm as i32);
            if !(0..=36).contains(&span) {
                v.violation("last_month", "must be 0 to 36 months after first_month");
            }
        }
        v.finish()?;
        let counts = self
            .registry
            .monthly_counts(&caller, req.first_month.trim(), req.last_month.trim())
            .await?;
        Ok(Response::new(pb::GetMonthlyCountsResponse {
            counts: counts
                .into_iter()
                .map(
                    |((month, municipality_id, area_id), count)| pb::MonthlyCount {
                        month,
                        municipality_id,
                        area_id,
                        count: count as i64,
                    },
                )
                .collect(),
        }))
    }

    async fn list_sla_alerts(
        &self,
        request: Request<pb::ListSlaAlertsRequest>,
    ) -> Result<Response<pb::ListSlaAlertsResponse>, Status> {
        let caller = caller(&request)?;
        let minutes = request.get_ref().due_within_minutes;
        if minutes < 0 {
            return Err(Error::invalid("due_within_minutes", "must not be negative").into());
        }
        let alerts = self
            .registry
            .sla_alerts(&caller, chrono::Duration::minutes(i64::from(minutes)))
            .await?;
        let alerts = alerts
            .into_iter()
            .map(|(case, alert)| {
                Ok(pb::SlaAlert {
                    case: Some(self.case(&caller, case)?),
                    breached: alert.breached,
                    target: alert.target.to_owned(),
                    due_time: Some(to_timestamp(alert.due)),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Response::new(pb::ListSlaAlertsResponse { alerts }))
    }
}

kommune_platform::audit_service!(CasesApi, pb, registry);
kommune_platform::event_service!(CasesApi, pb, registry);
