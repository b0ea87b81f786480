//! The gRPC API of the notify service: maps requests to validated inputs, calls the [`Registry`], and
//! maps the results back. Field names in errors are the proto's.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use kommune_platform::auth::caller;
use kommune_platform::clock::to_timestamp;
use kommune_platform::paging::Page;
use kommune_platform::validate::{Validator, required_id};
use kommune_proto::notify::v1 as pb;

use crate::domain::{self, Topic, atom};
use crate::registry::{Registry, SubscriptionInput};
use crate::store::{notifications, subscriptions};

/// Implements every notify service over the registry.
#[derive(Clone)]
pub struct NotifyApi {
    registry: Arc<Registry>,
}

impl NotifyApi {
    /// The API over `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

fn subscription(s: subscriptions::Model) -> pb::Subscription {
    pb::Subscription {
        topic: Some(pb::Topic {
            kind: s.topic_kind.0 as i32,
            target_id: s.topic_target,
        }),
        channel: s.channel.0 as i32,
        language: s.language.0 as i32,
        subscription_id: s.id,
        user_id: s.user_id,
        email_address: s.email_address,
        webhook_url: s.webhook_url,
        // Write-only.
        webhook_secret: String::new(),
        opted_out: s.opted_out,
        version: s.version,
        create_time: Some(to_timestamp(s.created_at)),
        update_time: Some(to_timestamp(s.updated_at)),
    }
}

fn notification(n: notifications::Model) -> pb::Notification {
    pb::Notification {
        message_id: n.mail_message_id(),
        channel: n.channel.0 as i32,
        topic: Some(pb::Topic {
            kind: n.topic_kind.0 as i32,
            target_id: n.topic_target,
        }),
        state: n.state.0 as i32,
        notification_id: n.id,
        user_id: n.user_id,
        kind: n.kind,
        subject: n.subject,
        text: n.text,
        attempts: n.attempts,
        last_error: n.last_error,
        source_event_id: n.source_event_id,
        create_time: Some(to_timestamp(n.created_at)),
        deliver_time: n.delivered_at.map(to_timestamp),
    }
}

fn inbox_item(n: notifications::Model) -> pb::InboxItem {
    pb::InboxItem {
        inbox_item_id: n.id,
        kind: n.kind,
        subject: n.subject,
        text: n.text,
        create_time: Some(to_timestamp(n.created_at)),
        read_time: n.read_at.map(to_timestamp),
    }
}

/// Validates a subscription's settings: a known topic (with its target when it needs one), a channel
/// with what it needs (a valid e-mail address, an http(s) webhook URL on an allowed host and a long
/// enough secret).
fn subscription_input(
    v: &mut Validator,
    s: &pb::Subscription,
    creating: bool,
    webhook_hosts: &domain::WebhookHosts,
) -> SubscriptionInput {
    // An update keeps the subscription's topic: only a new one is validated.
    let topic = s.topic.clone().unwrap_or_default();
    let kind = pb::TopicKind::try_from(topic.kind).unwrap_or_default();
    if creating && kind == pb::TopicKind::Unspecified {
        v.violation("subscription.topic.kind", "is required: a known topic");
    }
    let target_id = if !creating {
        String::new()
    } else if domain::needs_target(kind) {
        v.id("subscription.topic.target_id", &topic.target_id)
            .map(|id| id.to_string())
            .unwrap_or_default()
    } else {
        if !topic.target_id.is_empty() {
            v.violation(
                "subscription.topic.target_id",
                "is only for operational messages (a system) and projects",
            );
        }
        String::new()
    };
    let channel = pb::Channel::try_from(s.channel).unwrap_or_default();
    if channel == pb::Channel::Unspecified && !s.opted_out {
        v.violation("subscription.channel", "is required");
    }
    let email_address = match (channel, s.email_address.trim()) {
        (pb::Channel::Email, address) if !address.is_empty() => {
            v.email("subscription.email_address", address)
        }
        (_, "") => String::new(),
        _ => {
            v.violation(
                "subscription.email_address",
                "is only for the e-mail channel",
            );
            String::new()
        }
    };
    let (webhook_url, webhook_secret) = if channel == pb::Channel::Webhook {
        let url = s.webhook_url.trim().to_owned();
        v.check(
            "subscription.webhook_url",
            domain::check_webhook_url(&url, webhook_hosts),
        );
        let secret = s.webhook_secret.clone();
        if (creating || !secret.is_empty()) && secret.chars().count() < domain::MIN_WEBHOOK_SECRET {
            v.violation(
                "subscription.webhook_secret",
                format!("must be at least {} characters", domain::MIN_WEBHOOK_SECRET),
            );
        }
        (url, secret)
    } else {
        if !s.webhook_url.is_empty() || !s.webhook_secret.is_empty() {
            v.violation(
                "subscription.webhook_url",
                "is only for the webhook channel",
            );
        }
        (String::new(), String::new())
    };
    let language = match pb::Language::try_from(s.language) {
        Ok(pb::Language::Unspecified) => pb::Language::Danish,
        Ok(language) => language,
        Err(_) => {
            v.violation("subscription.language", "is not a known language");
            pb::Language::Danish
        }
    };
    SubscriptionInput {
        user_id: v
            .optional_id("subscription.user_id", &s.user_id)
            .map(|id| id.to_string()),
        topic: Topic::about(kind, target_id),
        channel,
        email_address,
        webhook_url,
        webhook_secret,
        language,
        opted_out: s.opted_out,
    }
}

#[tonic::async_trait]
impl pb::subscription_service_server::SubscriptionService for NotifyApi {
    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::CreateSubscriptionResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().subscription.unwrap_or_default();
        let mut v = Validator::new();
        let input = subscription_input(&mut v, &given, true, self.registry.webhook_hosts());
        v.finish()?;
        let created = self.registry.create_subscription(&caller, input).await?;
        Ok(Response::new(pb::CreateSubscriptionResponse {
            subscription: Some(subscription(created)),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let user_id = v
            .optional_id("user_id", &req.user_id)
            .map(|id| id.to_string());
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let (found, page) = self
            .registry
            .list_subscriptions(&caller, user_id.as_deref(), &page)
            .await?;
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions: found.into_iter().map(subscription).collect(),
            page: Some(page),
        }))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::UpdateSubscriptionResponse>, Status> {
        let caller = caller(&request)?;
        let given = request.into_inner().subscription.unwrap_or_default();
        let mut v = Validator::new();
        let id = v.id("subscription.subscription_id", &given.subscription_id);
        let input = subscription_input(&mut v, &given, false, self.registry.webhook_hosts());
        v.finish()?;
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        let updated = self
            .registry
            .update_subscription(&caller, &id, given.version, input)
            .await?;
        Ok(Response::new(pb::UpdateSubscriptionResponse {
            subscription: Some(subscription(updated)),
        }))
    }

    async fn delete_subscription(
        &self,
        request: Request<pb::DeleteSubscriptionRequest>,
    ) -> Result<Response<pb::DeleteSubscriptionResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("subscription_id", &request.get_ref().subscription_id)?;
        self.registry.delete_subscription(&caller, &id).await?;
        Ok(Response::new(pb::DeleteSubscriptionResponse {}))
    }
}

#[tonic::async_trait]
impl pb::inbox_service_server::InboxService for NotifyApi {
    async fn list_inbox(
        &self,
        request: Request<pb::ListInboxRequest>,
    ) -> Result<Response<pb::ListInboxResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let page = Page::from_request(req.page.as_ref())?;
        let (found, page) = self.registry.inbox(&caller, req.unread_only, &page).await?;
        Ok(Response::new(pb::ListInboxResponse {
            items: found.into_iter().map(inbox_item).collect(),
            page: Some(page),
        }))
    }

    async fn mark_inbox_item_read(
        &self,
        request: Request<pb::MarkInboxItemReadRequest>,
    ) -> Result<Response<pb::MarkInboxItemReadResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("inbox_item_id", &request.get_ref().inbox_item_id)?;
        let item = self.registry.mark_read(&caller, &id).await?;
        Ok(Response::new(pb::MarkInboxItemReadResponse {
            item: Some(inbox_item(item)),
        }))
    }
}

#[tonic::async_trait]
impl pb::delivery_service_server::DeliveryService for NotifyApi {
    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Validator::new();
        let user_id = v
            .optional_id("user_id", &req.user_id)
            .map(|id| id.to_string());
        let state = v.enum_filter("state", req.state);
        v.finish()?;
        let page = Page::from_request(req.page.as_ref())?;
        let filter = notifications::Filter {
            state,
            user_id,
            ..Default::default()
        };
        let (found, page) = self
            .registry
            .list_notifications(&caller, filter, &page)
            .await?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: found.into_iter().map(notification).collect(),
            page: Some(page),
        }))
    }

    async fn retry_notification(
        &self,
        request: Request<pb::RetryNotificationRequest>,
    ) -> Result<Response<pb::RetryNotificationResponse>, Status> {
        let caller = caller(&request)?;
        let id = required_id("notification_id", &request.get_ref().notification_id)?;
        let retried = self.registry.retry_notification(&caller, &id).await?;
        Ok(Response::new(pb::RetryNotificationResponse {
            notification: Some(notification(retried)),
        }))
    }
}

#[tonic::async_trait]
impl pb::feed_service_server::FeedService for NotifyApi {
    async fn get_operational_messages_feed(
        &self,
        request: Request<pb::GetOperationalMessagesFeedRequest>,
    ) -> Result<Response<pb::GetOperationalMessagesFeedResponse>, Status> {
        let req = request.into_inner();
        let language = match req.language() {
            pb::Language::English => pb::Language::English,
            _ => pb::Language::Danish,
        };
        let mut v = Validator::new();
        let system_id = v.optional_id("system_id", &req.system_id);
        for (field, url) in [
            ("entry_url_prefix", &req.entry_url_prefix),
            ("self_url", &req.self_url),
        ] {
            if !url.is_empty() && !atom::is_link(url) {
                v.violation(field, "must be an absolute http or https URL");
            }
        }
        v.finish()?;
        let links = atom::Links {
            entry_prefix: req.entry_url_prefix,
            feed: req.self_url,
        };
        let system_id = system_id.map(|id| id.to_string());
        let document = self
            .registry
            .operational_messages_feed(language, system_id.as_deref(), &links)
            .await?;
        Ok(Response::new(pb::GetOperationalMessagesFeedResponse {
            document,
            content_type: "application/atom+xml".into(),
        }))
    }
}

kommune_platform::audit_service!(NotifyApi, pb, registry);
kommune_platform::privacy_service!(NotifyApi, pb, registry);
