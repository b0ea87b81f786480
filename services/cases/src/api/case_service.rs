//! `CaseService`: filing, reading and working support cases.

use super::*;
use crate::domain::eligibility::{self, Action, EligibilityChange};
use crate::registry::supplier_mail;
use crate::store::supplier_mails::About;

/// The change to support-eligible users a filing asks for, validated against its action; `None` (with
/// the violations recorded) when it does not fit.
fn eligibility_change(
    v: &mut Validator,
    asked: &pb::EligibilityRequest,
) -> Option<EligibilityChange> {
    let field = |name: &str| format!("eligibility_request.{name}");
    let action = Action::of(v.required_enum(&field("action"), asked.action));
    let user_id = v.optional_id(&field("user_id"), &asked.user_id);
    let registration_id = v.optional_id(&field("registration_id"), &asked.registration_id);
    let date = v.date(&field("date"), &asked.date);
    let valid_to = if asked.valid_to.is_empty() {
        None
    } else {
        v.date(&field("valid_to"), &asked.valid_to)
    };
    let change = EligibilityChange {
        action: action?,
        user_id: user_id.map(|id| id.to_string()),
        registration_id: registration_id.map(|id| id.to_string()),
        date: date?,
        valid_to,
        applied_registration_id: None,
    };
    match eligibility::check_change(&change) {
        Ok(()) => Some(change),
        Err((name, why)) => {
            v.violation(field(name), why);
            None
        }
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
        let kind = v.required_enum("kind", req.kind);
        let question_subject = v.known_enum("question_subject", req.question_subject);
        if kind != pb::CaseKind::Unspecified
            && pb::QuestionSubject::try_from(req.question_subject).is_ok()
        {
            v.check(
                "question_subject",
                domain::check_question_subject(kind, question_subject),
            );
        }
        let eligibility = req
            .eligibility_request
            .as_ref()
            .and_then(|asked| eligibility_change(&mut v, asked));
        if kind != pb::CaseKind::Unspecified {
            v.check(
                "eligibility_request",
                eligibility::check_kind(kind, req.eligibility_request.is_some()),
            );
        }
        let new = NewCase {
            eligibility,
            title: v.text("title", &req.title, TITLE_MAX),
            description: v.text("description", &req.description, TEXT_MAX),
            kind,
            question_subject,
            severity: v.required_enum("severity", req.severity),
            system_id: v
                .id("system_id", &req.system_id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            area_id: v
                .id("area_id", &req.area_id)
                .map(|id| id.to_string())
                .unwrap_or_default(),
            guide_sections: guide_sections(&mut v, &req),
            cited_section_ids: cited_section_ids(&mut v, &req.cited_section_ids),
            suggestion_id: (!req.suggestion_id.is_empty())
                .then(|| v.id("suggestion_id", &req.suggestion_id))
                .flatten()
                .map(|id| id.to_string()),
            personal_id,
            attachments: Vec::new(),
        };
        v.finish()?;
        // A retry is recognised by every field; the personal ID number by its keyed hash, so the
        // request hash kept with the key cannot be traced back to it.
        if !req.personal_id.is_empty() {
            req.personal_id = self.registry.personal_id_fingerprint(&req.personal_id);
        }
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
        let state = v.enum_filter("state", req.state);
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

    async fn erase_personal_id(
        &self,
        request: Request<pb::ErasePersonalIdRequest>,
    ) -> Result<Response<pb::ErasePersonalIdResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let reason = v.text("reason", &req.reason, ERASURE_REASON_MAX);
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let case = self
            .registry
            .erase_personal_id(&caller, &id, req.expected_version, &reason)
            .await?;
        Ok(Response::new(pb::ErasePersonalIdResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn erase_case_text(
        &self,
        request: Request<pb::EraseCaseTextRequest>,
    ) -> Result<Response<pb::EraseCaseTextResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let reason = v.text("reason", &req.reason, ERASURE_REASON_MAX);
        if !req.title && !req.description {
            v.violation("title", "name the title, the description or both");
        }
        v.finish()?;
        let id = id.map(|i| i.to_string()).unwrap_or_default();
        let fields = ErasedFields {
            title: req.title,
            description: req.description,
        };
        let case = self
            .registry
            .erase_case_text(&caller, &id, req.expected_version, fields, &reason)
            .await?;
        Ok(Response::new(pb::EraseCaseTextResponse {
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
        let visibility = v.required_enum("visibility", req.visibility);
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
        let transition = v.required_enum("transition", req.transition);
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
        v.attachment(&content_type, &req.content);
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

    async fn assign_case(
        &self,
        request: Request<pb::AssignCaseRequest>,
    ) -> Result<Response<pb::AssignCaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let handler = v.id("handler_user_id", &req.handler_user_id);
        v.finish()?;
        let (Some(id), Some(handler)) = (id, handler) else {
            return Err(Error::invalid("case_id", "is required").into());
        };
        let change = HandlerChange::Assign(handler.to_string());
        let case = self
            .registry
            .change_handler(&caller, &id.to_string(), req.expected_version, change)
            .await?;
        Ok(Response::new(pb::AssignCaseResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn take_case(
        &self,
        request: Request<pb::TakeCaseRequest>,
    ) -> Result<Response<pb::TakeCaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let id = required_id("case_id", &req.case_id)?;
        let case = self
            .registry
            .change_handler(&caller, &id, req.expected_version, HandlerChange::Take)
            .await?;
        Ok(Response::new(pb::TakeCaseResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn unassign_case(
        &self,
        request: Request<pb::UnassignCaseRequest>,
    ) -> Result<Response<pb::UnassignCaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let id = required_id("case_id", &req.case_id)?;
        let case = self
            .registry
            .change_handler(&caller, &id, req.expected_version, HandlerChange::Unassign)
            .await?;
        Ok(Response::new(pb::UnassignCaseResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn approve_eligibility_change(
        &self,
        request: Request<pb::ApproveEligibilityChangeRequest>,
    ) -> Result<Response<pb::ApproveEligibilityChangeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let id = required_id("case_id", &req.case_id)?;
        let case = self
            .registry
            .approve_eligibility_change(&caller, &id, req.expected_version)
            .await?;
        Ok(Response::new(pb::ApproveEligibilityChangeResponse {
            case: Some(self.case(&caller, case)?),
        }))
    }

    async fn rate_case(
        &self,
        request: Request<pb::RateCaseRequest>,
    ) -> Result<Response<pb::RateCaseResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        if !domain::RATINGS.contains(&req.rating) {
            v.violation("rating", "must be from 1 (poor) to 5 (excellent)");
        }
        let comment = v.optional_text("comment", &req.comment, TEXT_MAX);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let rated = self
            .registry
            .rate_case(&caller, &id, req.rating, comment)
            .await?;
        Ok(Response::new(pb::RateCaseResponse {
            case_id: rated.case_id,
            rating: rated.rating,
        }))
    }

    async fn report_case_to_supplier(
        &self,
        request: Request<pb::ReportCaseToSupplierRequest>,
    ) -> Result<Response<pb::ReportCaseToSupplierResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("case_id", &req.case_id);
        let text = v.text("text", &req.text, TEXT_MAX);
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "ReportCaseToSupplier", &key, &req)?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let mail = self
            .registry
            .report_case_to_supplier(&caller, &id, text, key)
            .await?;
        Ok(Response::new(pb::ReportCaseToSupplierResponse {
            mail: Some(supplier_mail(mail)),
        }))
    }

    async fn list_supplier_mails(
        &self,
        request: Request<pb::ListSupplierMailsRequest>,
    ) -> Result<Response<pb::ListSupplierMailsResponse>, Status> {
        use pb::list_supplier_mails_request::Subject;
        let caller = caller(&request)?;
        let id;
        let about = match &request.get_ref().subject {
            Some(Subject::CaseId(case_id)) => {
                id = required_id("case_id", case_id)?;
                About::Case(&id)
            }
            Some(Subject::IncidentId(incident_id)) => {
                id = required_id("incident_id", incident_id)?;
                About::Incident(&id)
            }
            None => {
                return Err(Error::invalid("subject", "name a case_id or an incident_id").into());
            }
        };
        let mails = self.registry.supplier_mails(&caller, about).await?;
        Ok(Response::new(pb::ListSupplierMailsResponse {
            mails: mails.into_iter().map(supplier_mail).collect(),
        }))
    }
}

/// The free-text guide sections of a v1 client that does not cite them by id yet.
#[allow(deprecated)]
fn guide_sections(v: &mut Validator, req: &pb::FileCaseRequest) -> Vec<String> {
    req.guide_sections
        .iter()
        .enumerate()
        .map(|(i, s)| v.text(&format!("guide_sections[{i}]"), s, SHORT_MAX))
        .collect()
}

/// The most guide sections a case cites.
const CITATIONS_MAX: usize = 20;

/// The guide sections cited by id: at most 20, no repeats.
fn cited_section_ids(v: &mut Validator, ids: &[String]) -> Vec<String> {
    if ids.len() > CITATIONS_MAX {
        v.violation(
            "cited_section_ids",
            format!("must name at most {CITATIONS_MAX} sections"),
        );
    }
    let mut cited: Vec<String> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("cited_section_ids[{i}]");
        if let Some(id) = v.id(&field, id).map(|id| id.to_string()) {
            if cited.contains(&id) {
                v.violation(field, "names a section already named");
            } else {
                cited.push(id);
            }
        }
    }
    cited
}
