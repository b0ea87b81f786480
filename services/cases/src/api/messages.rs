//! The operational message API: maps requests to validated content and messages back to the proto.

use std::collections::HashMap;

use chrono::Duration;
use tonic::{Request, Response, Status};

use kommune_platform::Error;
use kommune_platform::auth::caller;
use kommune_platform::clock::{from_timestamp, to_timestamp};
use kommune_platform::idempotency::IdempotencyKey;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::cases::v1 as pb;

use super::{CasesApi, TEXT_MAX, TITLE_MAX, ids};
use crate::domain::incident::RECENT_DAYS;
use crate::registry::MessageContent;
use crate::store::operational_message_updates as updates;
use crate::store::operational_messages as messages;

/// The proto form of a message, its systems named.
fn message(m: messages::Model, names: &HashMap<String, String>) -> pb::OperationalMessage {
    let system_ids = m.system_ids();
    pb::OperationalMessage {
        state: *m.state as i32,
        system_names: system_ids
            .iter()
            .map(|id| names.get(id).cloned().unwrap_or_default())
            .collect(),
        system_ids,
        scope: *m.scope as i32,
        operational_message_id: m.id,
        title_da: m.title_da,
        text_da: m.text_da,
        workaround_da: m.workaround_da,
        title_en: m.title_en,
        text_en: m.text_en,
        workaround_en: m.workaround_en,
        incident_id: m.incident_id.unwrap_or_default(),
        start_time: Some(to_timestamp(m.start_at)),
        expected_end_time: m.expected_end_at.map(to_timestamp),
        resolution_da: m.resolution_da,
        resolution_en: m.resolution_en,
        publish_time: m.published_at.map(to_timestamp),
        resolve_time: m.resolved_at.map(to_timestamp),
        version: m.version,
        create_time: Some(to_timestamp(m.created_at)),
        update_time: Some(to_timestamp(m.updated_at)),
    }
}

/// Validates a message's content: Danish headline and text, English ones together, at least one
/// system, a start, and an expected end after it.
fn content(v: &mut Validator, m: &pb::OperationalMessage) -> MessageContent {
    let field = |name: &str| format!("operational_message.{name}");
    let title_en = v.optional_text(&field("title_en"), &m.title_en, TITLE_MAX);
    let text_en = v.optional_text(&field("text_en"), &m.text_en, TEXT_MAX);
    if title_en.is_empty() != text_en.is_empty() {
        v.violation(
            field(if title_en.is_empty() {
                "title_en"
            } else {
                "text_en"
            }),
            "an English headline and text go together",
        );
    }
    let system_ids = ids(v, &field("system_ids"), &m.system_ids);
    if m.system_ids.is_empty() {
        v.violation(field("system_ids"), "names at least one affected system");
    }
    let start_at = m.start_time.as_ref().and_then(from_timestamp);
    if start_at.is_none() {
        v.violation(field("start_time"), "is required: when the fault began");
    }
    let expected_end_at = m.expected_end_time.as_ref().and_then(from_timestamp);
    if let (Some(start), Some(end)) = (start_at, expected_end_at)
        && end <= start
    {
        v.violation(field("expected_end_time"), "must be after the start");
    }
    MessageContent {
        title_da: v.text(&field("title_da"), &m.title_da, TITLE_MAX),
        text_da: v.text(&field("text_da"), &m.text_da, TEXT_MAX),
        workaround_da: v.optional_text(&field("workaround_da"), &m.workaround_da, TEXT_MAX),
        title_en,
        text_en,
        workaround_en: v.optional_text(&field("workaround_en"), &m.workaround_en, TEXT_MAX),
        system_ids,
        scope: v.known_enum(&field("scope"), m.scope),
        incident_id: v
            .optional_id(&field("incident_id"), &m.incident_id)
            .map(|id| id.to_string()),
        start_at: start_at.unwrap_or_default(),
        expected_end_at,
    }
}

fn id_and_version(id: &str, version: i64) -> Result<(String, i64), Error> {
    Ok((required_id("operational_message_id", id)?, version))
}

impl CasesApi {
    async fn message(&self, m: messages::Model) -> Result<pb::OperationalMessage, Error> {
        Ok(message(m, &self.registry.system_names().await?))
    }
}

#[tonic::async_trait]
impl pb::operational_message_service_server::OperationalMessageService for CasesApi {
    async fn create_operational_message(
        &self,
        request: Request<pb::CreateOperationalMessageRequest>,
    ) -> Result<Response<pb::CreateOperationalMessageResponse>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let mut v = Validator::new();
        let content = content(&mut v, &req.operational_message.clone().unwrap_or_default());
        v.finish()?;
        let key = std::mem::take(&mut req.idempotency_key);
        let key = IdempotencyKey::of(&caller, "CreateOperationalMessage", &key, &req)?;
        let created = self.registry.create_message(&caller, content, key).await?;
        Ok(Response::new(pb::CreateOperationalMessageResponse {
            operational_message: Some(self.message(created).await?),
        }))
    }

    async fn get_operational_message(
        &self,
        request: Request<pb::GetOperationalMessageRequest>,
    ) -> Result<Response<pb::GetOperationalMessageResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id(
            "operational_message_id",
            &request.get_ref().operational_message_id,
        )?;
        let found = self.registry.get_message(&caller, &id).await?;
        Ok(Response::new(pb::GetOperationalMessageResponse {
            operational_message: Some(self.message(found).await?),
        }))
    }

    async fn list_operational_messages(
        &self,
        request: Request<pb::ListOperationalMessagesRequest>,
    ) -> Result<Response<pb::ListOperationalMessagesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let state: pb::OperationalMessageState = v.known_enum("state", req.state);
        v.finish()?;
        let state = (state != pb::OperationalMessageState::Unspecified).then_some(state);
        let page = Page::from_request(req.page.as_ref())?;
        let (found, page) = self.registry.list_messages(&caller, state, &page).await?;
        let names = self.registry.system_names().await?;
        Ok(Response::new(pb::ListOperationalMessagesResponse {
            operational_messages: found.into_iter().map(|m| message(m, &names)).collect(),
            page: Some(page),
        }))
    }

    async fn update_operational_message(
        &self,
        request: Request<pb::UpdateOperationalMessageRequest>,
    ) -> Result<Response<pb::UpdateOperationalMessageResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().operational_message.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id(
            "operational_message.operational_message_id",
            &given.operational_message_id,
        );
        let content = content(&mut v, &given);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_message(&caller, &id, given.version, content)
            .await?;
        Ok(Response::new(pb::UpdateOperationalMessageResponse {
            operational_message: Some(self.message(updated).await?),
        }))
    }

    async fn publish_operational_message(
        &self,
        request: Request<pb::PublishOperationalMessageRequest>,
    ) -> Result<Response<pb::PublishOperationalMessageResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let (id, version) = id_and_version(&req.operational_message_id, req.expected_version)?;
        let published = self.registry.publish_message(&caller, &id, version).await?;
        Ok(Response::new(pb::PublishOperationalMessageResponse {
            operational_message: Some(self.message(published).await?),
        }))
    }

    async fn resolve_operational_message(
        &self,
        request: Request<pb::ResolveOperationalMessageRequest>,
    ) -> Result<Response<pb::ResolveOperationalMessageResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let id = v.id("operational_message_id", &req.operational_message_id);
        let resolution_da = v.text("resolution_da", &req.resolution_da, TEXT_MAX);
        let resolution_en = v.optional_text("resolution_en", &req.resolution_en, TEXT_MAX);
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let resolved = self
            .registry
            .resolve_message(
                &caller,
                &id,
                req.expected_version,
                resolution_da,
                resolution_en,
            )
            .await?;
        Ok(Response::new(pb::ResolveOperationalMessageResponse {
            operational_message: Some(self.message(resolved).await?),
        }))
    }

    async fn list_public_operational_messages(
        &self,
        request: Request<pb::ListPublicOperationalMessagesRequest>,
    ) -> Result<Response<pb::ListPublicOperationalMessagesResponse>, Status> {
        let days = match request.get_ref().recent_days {
            0 => RECENT_DAYS.0,
            days if (1..=RECENT_DAYS.1).contains(&days.into()) => days.into(),
            _ => {
                let range = format!("must be 0 (for {}) to {}", RECENT_DAYS.0, RECENT_DAYS.1);
                return Err(Error::invalid("recent_days", range).into());
            }
        };
        let (active, recent) = self.registry.public_messages(Duration::days(days)).await?;
        let names = self.registry.system_names().await?;
        Ok(Response::new(pb::ListPublicOperationalMessagesResponse {
            active: active.into_iter().map(|m| public(m, &names)).collect(),
            recent: recent.into_iter().map(|m| public(m, &names)).collect(),
        }))
    }

    async fn get_public_operational_message(
        &self,
        request: Request<pb::GetPublicOperationalMessageRequest>,
    ) -> Result<Response<pb::GetPublicOperationalMessageResponse>, Status> {
        let id = required_id(
            "operational_message_id",
            &request.get_ref().operational_message_id,
        )?;
        let (found, history) = self.registry.public_message(&id).await?;
        let names = self.registry.system_names().await?;
        Ok(Response::new(pb::GetPublicOperationalMessageResponse {
            operational_message: Some(public(found, &names)),
            updates: history.into_iter().map(update).collect(),
        }))
    }

    async fn list_public_systems(
        &self,
        _request: Request<pb::ListPublicSystemsRequest>,
    ) -> Result<Response<pb::ListPublicSystemsResponse>, Status> {
        let systems = self.registry.list_systems().await?;
        Ok(Response::new(pb::ListPublicSystemsResponse {
            systems: systems
                .into_iter()
                .map(|s| pb::PublicSystem {
                    system_id: s.id,
                    name: s.name,
                    chain_responsibility: s.chain_responsibility,
                })
                .collect(),
        }))
    }
}

/// A message as the public sees it: not the supplier's incident behind it.
fn public(m: messages::Model, names: &HashMap<String, String>) -> pb::OperationalMessage {
    pb::OperationalMessage {
        incident_id: String::new(),
        ..message(m, names)
    }
}

/// The proto form of a step of a message's public history.
fn update(u: updates::Model) -> pb::OperationalMessageUpdate {
    pb::OperationalMessageUpdate {
        state: *u.state as i32,
        update_time: Some(to_timestamp(u.created_at)),
        title_da: u.title_da,
        text_da: u.text_da,
        workaround_da: u.workaround_da,
        title_en: u.title_en,
        text_en: u.text_en,
        workaround_en: u.workaround_en,
        expected_end_time: u.expected_end_at.map(to_timestamp),
        resolution_da: u.resolution_da,
        resolution_en: u.resolution_en,
    }
}
