//! The known issue API: maps requests to validated content and known issues back to the proto.

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::{Caller, caller};
use kommune_platform::clock::to_timestamp;
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::cases::v1 as pb;

use super::{CasesApi, TEXT_MAX, TITLE_MAX};
use crate::domain;
use crate::registry::{KnownIssueContent, KnownIssueView};
use crate::store::known_issues::{Filter, Linked};

/// The proto form of a known issue; the linked cases and incidents only when `with_links` (the
/// supplier's support and the consortium: case ids are municipalities' business).
fn known_issue(view: KnownIssueView, with_links: bool) -> pb::KnownIssue {
    let k = view.issue;
    let (case_ids, incident_ids) = if with_links {
        (view.case_ids, view.incident_ids)
    } else {
        (Vec::new(), Vec::new())
    };
    pb::KnownIssue {
        known_issue_id: k.id,
        system_id: k.system_id,
        title_da: k.title_da,
        symptom_da: k.symptom_da,
        workaround_da: k.workaround_da,
        title_en: k.title_en,
        symptom_en: k.symptom_en,
        workaround_en: k.workaround_en,
        status: *k.status as i32,
        case_ids,
        incident_ids,
        case_count: view.case_count as i64,
        version: k.version,
        create_time: Some(to_timestamp(k.created_at)),
        update_time: Some(to_timestamp(k.updated_at)),
    }
}

/// Validates a known issue's texts and status: a Danish title and symptom; English title and symptom
/// together when given; no personal ID numbers anywhere.
fn content(v: &mut Validator, k: &pb::KnownIssue) -> KnownIssueContent {
    let field = |name: &str| format!("known_issue.{name}");
    let title_en = v.optional_text(&field("title_en"), &k.title_en, TITLE_MAX);
    let symptom_en = v.optional_text(&field("symptom_en"), &k.symptom_en, TEXT_MAX);
    if title_en.is_empty() != symptom_en.is_empty() {
        v.violation(
            field(if title_en.is_empty() {
                "title_en"
            } else {
                "symptom_en"
            }),
            "an English title and symptom go together",
        );
    }
    KnownIssueContent {
        title_da: v.text(&field("title_da"), &k.title_da, TITLE_MAX),
        symptom_da: v.text(&field("symptom_da"), &k.symptom_da, TEXT_MAX),
        workaround_da: v.optional_text(&field("workaround_da"), &k.workaround_da, TEXT_MAX),
        title_en,
        symptom_en,
        workaround_en: v.optional_text(&field("workaround_en"), &k.workaround_en, TEXT_MAX),
        status: v.known_enum(&field("status"), k.status),
    }
}

impl CasesApi {
    fn shows_links(caller: &Caller) -> bool {
        domain::is_supporter(caller)
    }
}

#[tonic::async_trait]
impl pb::known_issue_service_server::KnownIssueService for CasesApi {
    async fn create_known_issue(
        &self,
        request: Request<pb::CreateKnownIssueRequest>,
    ) -> Result<Response<pb::CreateKnownIssueResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let given = req.known_issue.clone().unwrap_or_default();
        let mut v = Validator::new();
        let system = v.id("known_issue.system_id", &given.system_id);
        let content = content(&mut v, &given);
        v.finish()?;
        let system = system.map(|id| id.to_string()).unwrap_or_default();
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateKnownIssue", &key, &req)?;
        let view = self
            .registry
            .create_known_issue(&caller, &system, content, key)
            .await?;
        Ok(Response::new(pb::CreateKnownIssueResponse {
            known_issue: Some(known_issue(view, true)),
        }))
    }

    async fn get_known_issue(
        &self,
        request: Request<pb::GetKnownIssueRequest>,
    ) -> Result<Response<pb::GetKnownIssueResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("known_issue_id", &request.get_ref().known_issue_id)?;
        let view = self.registry.get_known_issue(&id).await?;
        Ok(Response::new(pb::GetKnownIssueResponse {
            known_issue: Some(known_issue(view, Self::shows_links(&caller))),
        }))
    }

    async fn list_known_issues(
        &self,
        request: Request<pb::ListKnownIssuesRequest>,
    ) -> Result<Response<pb::ListKnownIssuesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let mut v = Validator::new();
        let filter = Filter {
            system_id: v
                .optional_id("system_id", &req.system_id)
                .map(|id| id.to_string()),
            status: v.enum_filter("status", req.status),
            not_fixed: false,
        };
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (views, page) = self.registry.list_known_issues(filter, &page).await?;
        let with_links = Self::shows_links(&caller);
        Ok(Response::new(pb::ListKnownIssuesResponse {
            known_issues: views
                .into_iter()
                .map(|view| known_issue(view, with_links))
                .collect(),
            page: Some(page),
        }))
    }

    async fn update_known_issue(
        &self,
        request: Request<pb::UpdateKnownIssueRequest>,
    ) -> Result<Response<pb::UpdateKnownIssueResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().known_issue.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("known_issue.known_issue_id", &given.known_issue_id);
        let content = content(&mut v, &given);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let view = self
            .registry
            .update_known_issue(&caller, &id, given.version, content)
            .await?;
        Ok(Response::new(pb::UpdateKnownIssueResponse {
            known_issue: Some(known_issue(view, true)),
        }))
    }

    async fn link_to_known_issue(
        &self,
        request: Request<pb::LinkToKnownIssueRequest>,
    ) -> Result<Response<pb::LinkToKnownIssueResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let mut v = Validator::new();
        let id = v.id("known_issue_id", &req.known_issue_id);
        let case = v.optional_id("case_id", &req.case_id);
        let incident = v.optional_id("incident_id", &req.incident_id);
        let target = match (case, incident) {
            (Some(case), None) => Some((Linked::Case, case.to_string())),
            (None, Some(incident)) => Some((Linked::Incident, incident.to_string())),
            _ => {
                v.violation(
                    "case_id",
                    "names a case, or incident_id an incident: one of them",
                );
                None
            }
        };
        v.finish()?;
        let (Some(id), Some((kind, target))) = (id, target) else {
            return Err(Error::invalid("known_issue_id", "is required").into());
        };
        let view = self
            .registry
            .link_to_known_issue(&caller, &id.to_string(), kind, &target)
            .await?;
        Ok(Response::new(pb::LinkToKnownIssueResponse {
            known_issue: Some(known_issue(view, true)),
        }))
    }

    async fn suggest_known_issues(
        &self,
        request: Request<pb::SuggestKnownIssuesRequest>,
    ) -> Result<Response<pb::SuggestKnownIssuesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let mut v = Validator::new();
        let system = v.id("system_id", &req.system_id);
        let title = v.optional_text("title", &req.title, TITLE_MAX);
        let description = v.optional_text("description", &req.description, TEXT_MAX);
        v.finish()?;
        let system = system.map(|id| id.to_string()).unwrap_or_default();
        let suggestions = self
            .registry
            .suggest_known_issues(&system, &title, &description)
            .await?;
        let with_links = Self::shows_links(&caller);
        Ok(Response::new(pb::SuggestKnownIssuesResponse {
            suggestions: suggestions
                .into_iter()
                .map(|(view, similarity)| pb::KnownIssueSuggestion {
                    known_issue: Some(known_issue(view, with_links)),
                    similarity,
                })
                .collect(),
        }))
    }

    async fn list_public_known_issues(
        &self,
        request: Request<pb::ListPublicKnownIssuesRequest>,
    ) -> Result<Response<pb::ListPublicKnownIssuesResponse>, Status> {
        let req = request.get_ref();
        let mut v = Validator::new();
        let filter = Filter {
            system_id: v
                .optional_id("system_id", &req.system_id)
                .map(|id| id.to_string()),
            status: None,
            not_fixed: true,
        };
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (views, page) = self.registry.list_known_issues(filter, &page).await?;
        Ok(Response::new(pb::ListPublicKnownIssuesResponse {
            known_issues: views
                .into_iter()
                .map(|view| known_issue(view, false))
                .collect(),
            page: Some(page),
        }))
    }
}
