//! Operational messages: drafted, published once the scope is known, updated, resolved; the public list.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::db::Txn;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox;
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail as _;
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use pb::{IncidentScope, OperationalMessageState};

use super::{Registry, json_list};
use crate::domain::incident::{self as rules, MessageStep};
use crate::store::operational_message_updates as updates;
use crate::store::{incidents, operational_messages as messages, systems};

/// What an operational message says (validated).
#[derive(Debug, Clone)]
pub struct MessageContent {
    /// Danish headline.
    pub title_da: String,
    /// Danish text.
    pub text_da: String,
    /// Danish workaround.
    pub workaround_da: String,
    /// English headline.
    pub title_en: String,
    /// English text.
    pub text_en: String,
    /// English workaround.
    pub workaround_en: String,
    /// Affected systems (at least one).
    pub system_ids: Vec<String>,
    /// Scope, if known.
    pub scope: IncidentScope,
    /// The incident it is about.
    pub incident_id: Option<String>,
    /// When the fault began.
    pub start_at: DateTime<Utc>,
    /// When it is expected to end.
    pub expected_end_at: Option<DateTime<Utc>>,
}

fn require_writer(caller: &Caller) -> Result<(), Error> {
    super::require_supporter(caller, "writing operational messages")
}

impl Registry {
    /// Every system's name by id, to show a message's systems by name.
    pub async fn system_names(&self) -> Result<HashMap<String, String>, Error> {
        Ok(systems::all(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect())
    }

    async fn check_content(&self, txn: &Txn, content: &MessageContent) -> Result<(), Error> {
        for id in &content.system_ids {
            systems::find(txn, id).await?.ok_or_else(|| {
                Error::not_found_field("system", id, "operational_message.system_ids")
            })?;
        }
        if let Some(id) = &content.incident_id {
            incidents::find(txn, id).await?.ok_or_else(|| {
                Error::not_found_field("incident", id, "operational_message.incident_id")
            })?;
        }
        Ok(())
    }

    /// Writes a changed message with its audit record and `OperationalMessageChanged` event, and, once
    /// it is public, what it now says as a step of its public history.
    async fn message_changed(
        &self,
        txn: &Txn,
        caller: &Caller,
        mut message: messages::Model,
        change: &str,
    ) -> Result<messages::Model, Error> {
        let now = self.clock.now();
        message.version += 1;
        message.updated_at = now;
        let message = update_versioned(txn, message).await?;
        self.message_recorded(txn, caller, &message, change).await?;
        if *message.state != OperationalMessageState::Draft {
            updates::insert(
                txn,
                updates::Model {
                    id: Uuid::now_v7().to_string(),
                    message_id: message.id.clone(),
                    state: message.state,
                    title_da: message.title_da.clone(),
                    text_da: message.text_da.clone(),
                    workaround_da: message.workaround_da.clone(),
                    title_en: message.title_en.clone(),
                    text_en: message.text_en.clone(),
                    workaround_en: message.workaround_en.clone(),
                    expected_end_at: message.expected_end_at,
                    resolution_da: message.resolution_da.clone(),
                    resolution_en: message.resolution_en.clone(),
                    created_at: now,
                },
            )
            .await?;
        }
        Ok(message)
    }

    async fn message_recorded(
        &self,
        txn: &Txn,
        caller: &Caller,
        message: &messages::Model,
        change: &str,
    ) -> Result<(), Error> {
        let payload = json!({
            "state": message.state,
            "title_da": message.title_da,
            "system_ids": message.system_ids(),
            "scope": message.scope,
            "incident_id": message.incident_id,
        });
        self.audit(
            txn,
            caller,
            "operational_message",
            &message.id,
            change,
            payload,
        )
        .await?;
        let event = pb::OperationalMessageChanged {
            operational_message_id: message.id.clone(),
            state: *message.state as i32,
            system_ids: message.system_ids(),
            change: change.to_owned(),
        };
        outbox::publish(txn, self.clock.now(), &message.id, &event).await
    }

    /// A message to change: found and at the version read.
    async fn message_at(
        &self,
        txn: &Txn,
        id: &str,
        expected_version: i64,
    ) -> Result<messages::Model, Error> {
        let message = messages::find(txn, id)
            .await?
            .ok_or_else(|| Error::not_found("operational message", id))?;
        Error::require_version("operational message", message.version, expected_version)?;
        Ok(message)
    }

    /// Writes a draft.
    pub async fn create_message(
        &self,
        caller: &Caller,
        content: MessageContent,
        key: Option<IdempotencyKey>,
    ) -> Result<messages::Model, Error> {
        require_writer(caller)?;
        let now = self.clock.now();
        let created = idempotency::run(
            &self.db,
            key,
            now,
            |m: &messages::Model| m.id.clone(),
            async |txn: &Txn| {
                self.check_content(txn, &content).await?;
                let message = messages::insert(
                    txn,
                    messages::Model {
                        id: Uuid::now_v7().to_string(),
                        state: OperationalMessageState::Draft.into(),
                        title_da: content.title_da,
                        text_da: content.text_da,
                        workaround_da: content.workaround_da,
                        title_en: content.title_en,
                        text_en: content.text_en,
                        workaround_en: content.workaround_en,
                        system_ids: json_list(&content.system_ids)?,
                        scope: content.scope.into(),
                        incident_id: content.incident_id,
                        start_at: content.start_at,
                        expected_end_at: content.expected_end_at,
                        resolution_da: String::new(),
                        resolution_en: String::new(),
                        published_at: None,
                        resolved_at: None,
                        version: 1,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                self.message_recorded(txn, caller, &message, "create")
                    .await?;
                Ok(message)
            },
        )
        .await?;
        self.outbox.notify_committed();
        created
            .or_current(async |id| {
                messages::find(&self.db, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("operational message", id))
            })
            .await
    }

    /// Replaces a message's content; a public message becomes UPDATED.
    pub async fn update_message(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        content: MessageContent,
    ) -> Result<messages::Model, Error> {
        require_writer(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut message = self.message_at(&txn, id, expected_version).await?;
        let state = rules::message_state_after(*message.state, MessageStep::Edit, content.scope)
            .map_err(Error::wrong_state)?;
        self.check_content(&txn, &content).await?;
        // A public message keeps the scope it was published with unless a new one is given.
        let scope = match content.scope {
            IncidentScope::Unspecified if state != OperationalMessageState::Draft => message.scope,
            scope => scope.into(),
        };
        message = messages::Model {
            state: state.into(),
            title_da: content.title_da,
            text_da: content.text_da,
            workaround_da: content.workaround_da,
            title_en: content.title_en,
            text_en: content.text_en,
            workaround_en: content.workaround_en,
            system_ids: json_list(&content.system_ids)?,
            scope,
            incident_id: content.incident_id,
            start_at: content.start_at,
            expected_end_at: content.expected_end_at,
            ..message
        };
        let message = self
            .message_changed(&txn, caller, message, "update")
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(message)
    }

    /// Publishes a draft once its scope (or its incident's) is known.
    pub async fn publish_message(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
    ) -> Result<messages::Model, Error> {
        require_writer(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut message = self.message_at(&txn, id, expected_version).await?;
        let mut scope = *message.scope;
        if scope == IncidentScope::Unspecified
            && let Some(incident_id) = &message.incident_id
        {
            scope = incidents::find(&txn, incident_id)
                .await?
                .map(|i| *i.scope)
                .unwrap_or_default();
        }
        let state = rules::message_state_after(*message.state, MessageStep::Publish, scope)
            .map_err(Error::wrong_state)?;
        message.state = state.into();
        message.scope = scope.into();
        message.published_at = Some(self.clock.now());
        let message = self
            .message_changed(&txn, caller, message, "publish")
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(message)
    }

    /// Resolves a public message with closing words.
    pub async fn resolve_message(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        resolution_da: String,
        resolution_en: String,
    ) -> Result<messages::Model, Error> {
        require_writer(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut message = self.message_at(&txn, id, expected_version).await?;
        let scope = *message.scope;
        let state = rules::message_state_after(*message.state, MessageStep::Resolve, scope)
            .map_err(Error::wrong_state)?;
        message.state = state.into();
        message.resolution_da = resolution_da;
        message.resolution_en = resolution_en;
        message.resolved_at = Some(self.clock.now());
        let message = self
            .message_changed(&txn, caller, message, "resolve")
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(message)
    }

    /// One message; drafts only to their writers.
    pub async fn get_message(&self, caller: &Caller, id: &str) -> Result<messages::Model, Error> {
        let message = messages::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("operational message", id))?;
        if *message.state == OperationalMessageState::Draft {
            require_writer(caller)?;
        }
        Ok(message)
    }

    /// A public message (not a draft) with its public history, oldest step first.
    pub async fn public_message(
        &self,
        id: &str,
    ) -> Result<(messages::Model, Vec<updates::Model>), Error> {
        let message = messages::find(&self.db, id)
            .await?
            .filter(|m| *m.state != OperationalMessageState::Draft)
            .ok_or_else(|| Error::not_found("operational message", id))?;
        let history = updates::of_message(&self.db, id).await?;
        Ok((message, history))
    }

    /// A page of messages in every state (writers).
    pub async fn list_messages(
        &self,
        caller: &Caller,
        state: Option<OperationalMessageState>,
        page: &Page,
    ) -> Result<(Vec<messages::Model>, PageResponse), Error> {
        require_writer(caller)?;
        messages::list(&self.db, state, page).await
    }

    /// The public list: active messages (newest start first) and those resolved within `recent`
    /// (most recently resolved first).
    pub async fn public_messages(
        &self,
        recent: Duration,
    ) -> Result<(Vec<messages::Model>, Vec<messages::Model>), Error> {
        let now = self.clock.now();
        let (mut active, mut resolved) = (Vec::new(), Vec::new());
        for message in messages::public(&self.db, now - recent).await? {
            if !rules::publicly_listed(*message.state, message.resolved_at, now, recent) {
                continue;
            }
            if *message.state == OperationalMessageState::Resolved {
                resolved.push(message);
            } else {
                active.push(message);
            }
        }
        resolved.sort_by_key(|m| std::cmp::Reverse(m.resolved_at));
        Ok((active, resolved))
    }
}
