//! The mailbox API: held mails listed, accepted and rejected.

use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::cases::v1 as pb;

use super::{CasesApi, TEXT_MAX};
use crate::registry::HeldBecomes;
use crate::store::held_mails;

fn held_mail(h: held_mails::Model, attachment_names: Vec<String>) -> pb::HeldMail {
    pb::HeldMail {
        reason: h.reason.0 as i32,
        state: h.state.0 as i32,
        held_mail_id: h.id,
        from_address: h.from_address,
        subject: h.subject,
        text: h.text,
        attachment_names,
        reply_to_case_id: h.reply_to_case_id.unwrap_or_default(),
        reply_to_incident_id: h.reply_to_incident_id.unwrap_or_default(),
        case_id: h.case_id.unwrap_or_default(),
        decided_by: h.decided_by,
        rejection_reason: h.rejection_reason,
        receive_time: Some(to_timestamp(h.created_at)),
        decide_time: h.decided_at.map(to_timestamp),
    }
}

#[tonic::async_trait]
impl pb::mailbox_service_server::MailboxService for CasesApi {
    async fn list_held_mails(
        &self,
        request: Request<pb::ListHeldMailsRequest>,
    ) -> Result<Response<pb::ListHeldMailsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let state = v.enum_filter("state", req.state);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let state = state.unwrap_or_default();
        let (held, page) = self.registry.held_mails(&caller, state, &page).await?;
        Ok(Response::new(pb::ListHeldMailsResponse {
            held_mails: held
                .into_iter()
                .map(|(h, names)| held_mail(h, names))
                .collect(),
            page: Some(page),
        }))
    }

    async fn accept_held_mail(
        &self,
        request: Request<pb::AcceptHeldMailRequest>,
    ) -> Result<Response<pb::AcceptHeldMailResponse>, Status> {
        use pb::accept_held_mail_request::Becomes;
        let caller = caller(&request)?;
        let req = request.into_inner();
        let id = required_id("held_mail_id", &req.held_mail_id)?;
        let becomes = match req.becomes {
            Some(Becomes::ReporterUserId(user)) => HeldBecomes::Case {
                reporter_user_id: required_id("reporter_user_id", &user)?,
            },
            Some(Becomes::CaseId(case)) => HeldBecomes::Comment {
                case_id: required_id("case_id", &case)?,
            },
            None => {
                return Err(Error::invalid(
                    "becomes",
                    "name a reporter_user_id (a new case) or a case_id (a comment)",
                )
                .into());
            }
        };
        let held = self
            .registry
            .accept_held_mail(&caller, &id, becomes)
            .await?;
        Ok(Response::new(pb::AcceptHeldMailResponse {
            held_mail: Some(held_mail(held, Vec::new())),
        }))
    }

    async fn reject_held_mail(
        &self,
        request: Request<pb::RejectHeldMailRequest>,
    ) -> Result<Response<pb::RejectHeldMailResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("held_mail_id", &req.held_mail_id);
        let reason = v.text("reason", &req.reason, TEXT_MAX);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let held = self.registry.reject_held_mail(&caller, &id, reason).await?;
        Ok(Response::new(pb::RejectHeldMailResponse {
            held_mail: Some(held_mail(held, Vec::new())),
        }))
    }
}
