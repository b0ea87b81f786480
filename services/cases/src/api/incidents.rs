//! The incident API: maps requests to validated inputs and incidents back to the proto.

use tonic::{Request, Response, Status};

use kommune_platform::auth::caller;
use kommune_platform::clock::{from_timestamp, to_timestamp};
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::cases::v1 as pb;

use super::{CasesApi, TEXT_MAX, TITLE_MAX, ids};
use crate::domain;
use crate::registry::{
    IncidentChange, IncidentView, NewIncident, NewSupplierReport, supplier_mail,
};
use crate::store::{incident_updates, incidents};

fn update(u: incident_updates::Model) -> pb::IncidentUpdate {
    pb::IncidentUpdate {
        kind: u.kind.0 as i32,
        status: u.status.0 as i32,
        case_ids: u.case_ids(),
        update_id: u.id,
        text: u.text,
        author: u.author,
        create_time: Some(to_timestamp(u.created_at)),
    }
}

/// The proto form of an incident with its cases and timeline.
fn incident(view: IncidentView) -> pb::Incident {
    let i = view.incident;
    pb::Incident {
        status: i.status.0 as i32,
        scope: i.scope.0 as i32,
        origin: i.origin.0 as i32,
        system_ids: i.system_ids(),
        municipality_ids: i.municipality_ids(),
        supplier_report: i.supplier_report().map(|r| pb::SupplierReport {
            problem: r.problem,
            occurred_time: Some(to_timestamp(r.occurred_at)),
            screenshot_attachment_id: r.screenshot_attachment_id,
            tag: r.tag,
            report_time: Some(to_timestamp(r.reported_at)),
        }),
        case_ids: view.case_ids,
        timeline: view.timeline.into_iter().map(update).collect(),
        follow_up_due_time: i.follow_up_due.map(to_timestamp),
        resolve_time: i.resolved_at.map(to_timestamp),
        incident_id: i.id,
        title: i.title,
        description: i.description,
        version: i.version,
        create_time: Some(to_timestamp(i.created_at)),
        update_time: Some(to_timestamp(i.updated_at)),
        number: domain::incident_number(i.number),
    }
}

#[tonic::async_trait]
impl pb::incident_service_server::IncidentService for CasesApi {
    async fn open_incident(
        &self,
        request: Request<pb::OpenIncidentRequest>,
    ) -> Result<Response<pb::OpenIncidentResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let system_ids = ids(&mut v, "system_ids", &req.system_ids);
        if req.system_ids.is_empty() {
            v.violation("system_ids", "names at least one affected system");
        }
        let new = NewIncident {
            title: v.text("title", &req.title, TITLE_MAX),
            description: v.optional_text("description", &req.description, TEXT_MAX),
            system_ids,
            scope: v.known_enum("scope", req.scope),
            case_ids: ids(&mut v, "case_ids", &req.case_ids),
        };
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "OpenIncident", &key, &req)?;
        let view = self
            .registry
            .open_incident_by_hand(&caller, new, key)
            .await?;
        Ok(Response::new(pb::OpenIncidentResponse {
            incident: Some(incident(view)),
        }))
    }

    async fn get_incident(
        &self,
        request: Request<pb::GetIncidentRequest>,
    ) -> Result<Response<pb::GetIncidentResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("incident_id", &request.get_ref().incident_id)?;
        let view = self.registry.get_incident(&caller, &id).await?;
        Ok(Response::new(pb::GetIncidentResponse {
            incident: Some(incident(view)),
        }))
    }

    async fn list_incidents(
        &self,
        request: Request<pb::ListIncidentsRequest>,
    ) -> Result<Response<pb::ListIncidentsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let system_id = v.optional_id("system_id", &req.system_id);
        let status: pb::IncidentStatus = v.known_enum("status", req.status);
        v.finish()?;
        let filter = incidents::Filter {
            status: (status != pb::IncidentStatus::Unspecified).then_some(status),
            system_id: system_id.map(|id| id.to_string()),
            open_only: req.open_only,
        };
        let page = Page::from_request(req.page.as_ref())?;
        let (views, page) = self.registry.list_incidents(&caller, filter, &page).await?;
        Ok(Response::new(pb::ListIncidentsResponse {
            incidents: views.into_iter().map(incident).collect(),
            page: Some(page),
        }))
    }

    async fn update_incident(
        &self,
        request: Request<pb::UpdateIncidentRequest>,
    ) -> Result<Response<pb::UpdateIncidentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("incident_id", &req.incident_id);
        let change = IncidentChange {
            text: v.text("text", &req.text, TEXT_MAX),
            status: v.known_enum("status", req.status),
            scope: v.known_enum("scope", req.scope),
            add_system_ids: ids(&mut v, "add_system_ids", &req.add_system_ids),
        };
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let view = self
            .registry
            .update_incident(&caller, &id, req.expected_version, change)
            .await?;
        Ok(Response::new(pb::UpdateIncidentResponse {
            incident: Some(incident(view)),
        }))
    }

    async fn report_to_supplier(
        &self,
        request: Request<pb::ReportToSupplierRequest>,
    ) -> Result<Response<pb::ReportToSupplierResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("incident_id", &req.incident_id);
        let occurred_at = req.occurred_time.as_ref().and_then(from_timestamp);
        if occurred_at.is_none() {
            v.violation(
                "occurred_time",
                "is required: when the problem began or was seen",
            );
        }
        let report = NewSupplierReport {
            problem: v.text("problem", &req.problem, TEXT_MAX),
            occurred_at: occurred_at.unwrap_or_default(),
            screenshot_attachment_id: v
                .optional_id("screenshot_attachment_id", &req.screenshot_attachment_id)
                .map(|id| id.to_string()),
            tag: v.text("tag", &req.tag, TITLE_MAX),
        };
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let (view, mail) = self
            .registry
            .report_to_supplier(&caller, &id, req.expected_version, report)
            .await?;
        Ok(Response::new(pb::ReportToSupplierResponse {
            incident: Some(incident(view)),
            mail: mail.map(supplier_mail),
        }))
    }

    async fn link_case(
        &self,
        request: Request<pb::LinkCaseRequest>,
    ) -> Result<Response<pb::LinkCaseResponse>, Status> {
        let caller = caller(&request)?;
        let (id, case_id) =
            incident_and_case(&request.get_ref().incident_id, &request.get_ref().case_id)?;
        let view = self.registry.link_case(&caller, &id, &case_id).await?;
        Ok(Response::new(pb::LinkCaseResponse {
            incident: Some(incident(view)),
        }))
    }

    async fn unlink_case(
        &self,
        request: Request<pb::UnlinkCaseRequest>,
    ) -> Result<Response<pb::UnlinkCaseResponse>, Status> {
        let caller = caller(&request)?;
        let (id, case_id) =
            incident_and_case(&request.get_ref().incident_id, &request.get_ref().case_id)?;
        let view = self.registry.unlink_case(&caller, &id, &case_id).await?;
        Ok(Response::new(pb::UnlinkCaseResponse {
            incident: Some(incident(view)),
        }))
    }

    async fn reply_to_linked_cases(
        &self,
        request: Request<pb::ReplyToLinkedCasesRequest>,
    ) -> Result<Response<pb::ReplyToLinkedCasesResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("incident_id", &req.incident_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "ReplyToLinkedCases", &key, &req)?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let (view, replied) = self
            .registry
            .reply_to_linked_cases(&caller, &id, text, key)
            .await?;
        Ok(Response::new(pb::ReplyToLinkedCasesResponse {
            incident: Some(incident(view)),
            replied_case_ids: replied,
        }))
    }

    async fn resolve_incident(
        &self,
        request: Request<pb::ResolveIncidentRequest>,
    ) -> Result<Response<pb::ResolveIncidentResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("incident_id", &req.incident_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let (view, resolved) = self
            .registry
            .resolve_incident(
                &caller,
                &id,
                req.expected_version,
                text,
                req.leave_cases_open,
            )
            .await?;
        Ok(Response::new(pb::ResolveIncidentResponse {
            incident: Some(incident(view)),
            resolved_case_ids: resolved,
        }))
    }

    async fn list_overdue_follow_ups(
        &self,
        request: Request<pb::ListOverdueFollowUpsRequest>,
    ) -> Result<Response<pb::ListOverdueFollowUpsResponse>, Status> {
        let caller = caller(&request)?;
        let views = self.registry.overdue_follow_ups(&caller).await?;
        Ok(Response::new(pb::ListOverdueFollowUpsResponse {
            incidents: views.into_iter().map(incident).collect(),
        }))
    }
}

fn incident_and_case(incident_id: &str, case_id: &str) -> Result<(String, String), Status> {
    let mut v = Validator::new();
    let incident = v.id("incident_id", incident_id);
    let case = v.id("case_id", case_id);
    v.finish()?;
    Ok((
        incident.map(|id| id.to_string()).unwrap_or_default(),
        case.map(|id| id.to_string()).unwrap_or_default(),
    ))
}
