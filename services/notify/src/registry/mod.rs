//! The notify service's operations: subscriptions, the inbox, the operators' view of deliveries and the
//! public feed; events become notifications in [`intake`] and leave by their channels in [`delivery`].

use std::sync::Arc;

use chrono::Duration;
use sea_orm::DatabaseConnection;
use serde_json::json;
use tokio::sync::Notify as Wake;
use uuid::Uuid;

use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{Caller, USER_SUBJECT_PREFIX};
use kommune_platform::clock::SharedClock;
use kommune_platform::db::{Named, update_versioned};
use kommune_platform::paging::Page;
use kommune_platform::records::AuditTrail;
use kommune_platform::{Error, Reason};
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;
use kommune_proto::notify::v1::{Channel, DeliveryState, Language, TopicKind};

use crate::channels::Senders;
use crate::domain::{self, RetryPolicy, Topic, atom, templates::MessageTexts};
use crate::peers::Peers;
use crate::store::{feed_entries, notifications, subscriptions};

mod delivery;
mod intake;
mod personal_data;
mod reminders;

/// A subscription's settings (validated).
#[derive(Debug, Clone)]
pub struct SubscriptionInput {
    /// The user; `None` for the caller.
    pub user_id: Option<String>,
    /// The topic.
    pub topic: Topic,
    /// The channel.
    pub channel: Channel,
    /// E-mail address override.
    pub email_address: String,
    /// Webhook URL.
    pub webhook_url: String,
    /// Webhook secret (empty on update: keep the stored one).
    pub webhook_secret: String,
    /// Language.
    pub language: Language,
    /// Opted out.
    pub opted_out: bool,
}

/// The settings deliveries run with.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// When failed attempts are tried again, and when to give up.
    pub retry: RetryPolicy,
    /// How long a worker's claim on a notification holds (longer than an attempt may take).
    pub lease: Duration,
    /// How many notifications a worker claims at once.
    pub batch: u64,
}

/// The notify service's state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    peers: Peers,
    senders: Senders,
    policy: DeliveryPolicy,
    /// Woken when notifications are waiting to be sent.
    wake: Arc<Wake>,
}

fn user_of(caller: &Caller) -> Option<&str> {
    caller.subject.strip_prefix(USER_SUBJECT_PREFIX)
}

fn is_operator(caller: &Caller) -> bool {
    caller.has_any_role(&[
        Role::ConsortiumAdmin,
        Role::SupplierSecondLine,
        Role::ThirdLineSpecialist,
    ])
}

/// The audit record of an anonymised person's erasure (`person`, `erase`): it also tells the intake
/// whom never to notify again.
pub(crate) const PERSON: &str = "person";
pub(crate) const ERASE: &str = "erase";

/// The advisory lock that orders a person's erasure and the storing of notifications for them.
pub(crate) fn person_turn(user_id: &str) -> String {
    format!("notify person {user_id}")
}

impl Registry {
    /// The service over its database, clock, peers and senders.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        peers: Peers,
        senders: Senders,
        policy: DeliveryPolicy,
    ) -> Self {
        Self {
            db,
            clock,
            audit_keys,
            peers,
            senders,
            policy,
            wake: Arc::new(Wake::new()),
        }
    }

    /// The hosts webhooks may go to.
    pub fn webhook_hosts(&self) -> &crate::domain::WebhookHosts {
        self.senders.webhook_hosts()
    }

    /// What wakes the delivery worker.
    pub fn wake(&self) -> Arc<Wake> {
        self.wake.clone()
    }

    /// The user a request is about: the caller's own, or anyone's for a consortium admin.
    fn subject_user(&self, caller: &Caller, user_id: Option<&str>) -> Result<String, Error> {
        let own = user_of(caller);
        match (user_id, own) {
            (Some(id), Some(own)) if id == own => Ok(id.to_owned()),
            (Some(id), _) if caller.has_role(Role::ConsortiumAdmin) => Ok(id.to_owned()),
            (Some(_), _) => Err(Error::PermissionDenied(
                Reason::NotOwner,
                "users manage their own subscriptions; consortium admins anyone's".into(),
            )),
            (None, Some(own)) => Ok(own.to_owned()),
            (None, None) => Err(Error::PermissionDenied(
                Reason::NotOwner,
                "subscriptions and the inbox are users'; a consortium admin names the user".into(),
            )),
        }
    }

    async fn check_topic(&self, topic: &Topic) -> Result<(), Error> {
        let exists = match topic.kind {
            TopicKind::OperationalMessages => self.peers.system_exists(&topic.target_id).await?,
            TopicKind::Project => self.peers.project(&topic.target_id).await?.is_some(),
            _ => true,
        };
        if exists {
            Ok(())
        } else {
            Err(Error::not_found_field(
                "topic",
                &topic.target_id,
                "subscription.topic.target_id",
            ))
        }
    }

    fn subscription_payload(s: &subscriptions::Model) -> serde_json::Value {
        // A webhook's URL and secret are credentials: they never reach the audit trail.
        json!({
            "user_id": s.user_id,
            "topic_kind": s.topic_kind,
            "topic_target": s.topic_target,
            "channel": s.channel,
            "email_address": s.email_address,
            "webhook": !s.webhook_url.is_empty(),
            "language": s.language,
            "opted_out": s.opted_out,
        })
    }

    /// Subscribes a user to a topic (or opts them out of it).
    pub async fn create_subscription(
        &self,
        caller: &Caller,
        input: SubscriptionInput,
    ) -> Result<subscriptions::Model, Error> {
        let user_id = self.subject_user(caller, input.user_id.as_deref())?;
        if self.peers.user(&user_id).await?.is_none() {
            return Err(Error::not_found_field(
                "user",
                &user_id,
                "subscription.user_id",
            ));
        }
        self.check_topic(&input.topic).await?;
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let created = subscriptions::insert(
            &txn,
            subscriptions::Model {
                id: Uuid::now_v7().to_string(),
                user_id,
                topic_kind: Named(input.topic.kind),
                topic_target: input.topic.target_id,
                channel: Named(input.channel),
                email_address: input.email_address,
                webhook_url: input.webhook_url,
                webhook_secret: input.webhook_secret,
                language: Named(input.language),
                opted_out: input.opted_out,
                version: 1,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        self.audit(
            &txn,
            caller,
            "subscription",
            &created.id,
            "create",
            Self::subscription_payload(&created),
        )
        .await?;
        txn.commit().await?;
        Ok(created)
    }

    async fn own_subscription(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<subscriptions::Model, Error> {
        let found = subscriptions::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("subscription", id))?;
        self.subject_user(caller, Some(&found.user_id))?;
        Ok(found)
    }

    /// A page of a user's subscriptions.
    pub async fn list_subscriptions(
        &self,
        caller: &Caller,
        user_id: Option<&str>,
        page: &Page,
    ) -> Result<(Vec<subscriptions::Model>, PageResponse), Error> {
        let user_id = self.subject_user(caller, user_id)?;
        subscriptions::of_user(&self.db, &user_id, page).await
    }

    /// Replaces a subscription's channel, addresses, language and opt-out.
    pub async fn update_subscription(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        input: SubscriptionInput,
    ) -> Result<subscriptions::Model, Error> {
        let found = self.own_subscription(caller, id).await?;
        Error::require_version("subscription", found.version, expected_version)?;
        let webhook_secret = if input.webhook_secret.is_empty() {
            found.webhook_secret.clone()
        } else {
            input.webhook_secret
        };
        if input.channel == Channel::Webhook && webhook_secret.is_empty() {
            return Err(Error::invalid(
                "subscription.webhook_secret",
                "is required for a webhook",
            ));
        }
        let changed = subscriptions::Model {
            channel: Named(input.channel),
            email_address: input.email_address,
            webhook_url: input.webhook_url,
            webhook_secret,
            language: Named(input.language),
            opted_out: input.opted_out,
            version: found.version + 1,
            updated_at: self.clock.now(),
            ..found
        };
        let txn = kommune_platform::db::begin(&self.db).await?;
        let changed = update_versioned(&txn, changed).await?;
        self.audit(
            &txn,
            caller,
            "subscription",
            id,
            "update",
            Self::subscription_payload(&changed),
        )
        .await?;
        txn.commit().await?;
        Ok(changed)
    }

    /// Deletes a subscription.
    pub async fn delete_subscription(&self, caller: &Caller, id: &str) -> Result<(), Error> {
        let found = self.own_subscription(caller, id).await?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        subscriptions::delete(&txn, id).await?;
        self.audit(
            &txn,
            caller,
            "subscription",
            id,
            "delete",
            Self::subscription_payload(&found),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A page of the caller's inbox.
    pub async fn inbox(
        &self,
        caller: &Caller,
        unread_only: bool,
        page: &Page,
    ) -> Result<(Vec<notifications::Model>, PageResponse), Error> {
        let user_id = self.subject_user(caller, None)?;
        // A message stopped by the guard never reaches the inbox.
        let filter = notifications::Filter {
            user_id: Some(user_id),
            channel: Some(Channel::Inbox),
            state: Some(DeliveryState::Delivered),
            unread_only,
        };
        notifications::list(&self.db, filter, page).await
    }

    /// Marks one of the caller's inbox items read.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<notifications::Model, Error> {
        let user_id = self.subject_user(caller, None)?;
        let mut item = notifications::find(&self.db, id)
            .await?
            .filter(|n| {
                n.user_id == user_id
                    && *n.channel == Channel::Inbox
                    && *n.state == DeliveryState::Delivered
            })
            .ok_or_else(|| Error::not_found("inbox item", id))?;
        if item.read_at.is_none() {
            item.read_at = Some(self.clock.now());
            item = notifications::update(&self.db, item).await?;
        }
        Ok(item)
    }

    /// A page of notifications (operators).
    pub async fn list_notifications(
        &self,
        caller: &Caller,
        filter: notifications::Filter,
        page: &Page,
    ) -> Result<(Vec<notifications::Model>, PageResponse), Error> {
        if !is_operator(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "deliveries are for the supplier's support and consortium admins".into(),
            ));
        }
        notifications::list(&self.db, filter, page).await
    }

    /// Makes a dead notification pending again (operators), unless it was stopped for holding a
    /// personal ID number.
    pub async fn retry_notification(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<notifications::Model, Error> {
        if !is_operator(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "deliveries are for the supplier's support and consortium admins".into(),
            ));
        }
        let mut found = notifications::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("notification", id))?;
        if *found.state != DeliveryState::Dead {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                "only a dead notification is retried".into(),
            ));
        }
        if found.last_error == intake::HOLDS_PERSONAL_ID {
            return Err(Error::FailedPrecondition(
                Reason::PersonalIdInText,
                "a notification holding a personal ID number is never sent".into(),
            ));
        }
        found.state = DeliveryState::Pending.into();
        found.attempts = 0;
        found.next_attempt_at = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let found = notifications::update(&txn, found).await?;
        self.audit(&txn, caller, "notification", id, "retry", json!({}))
            .await?;
        txn.commit().await?;
        self.wake.notify_one();
        Ok(found)
    }

    /// Acts on identity's `UserAnonymized`: the person's subscriptions (with any address they gave)
    /// go, their notifications keep no address and no text, and what still waited is never sent.
    /// Running it twice changes nothing more.
    pub async fn erase_person(&self, user_id: &str) -> Result<(), Error> {
        let actor = Caller::identity_feed();
        let txn = kommune_platform::db::begin(&self.db).await?;
        // The person's turn: an event's intake planned meanwhile stores nothing for them after this.
        kommune_platform::db::advisory_lock(&txn, &person_turn(user_id)).await?;
        let removed = subscriptions::delete_of_user(&txn, user_id).await?;
        let erased = notifications::erase_recipient(&txn, user_id).await?;
        self.audit(
            &txn,
            &actor,
            PERSON,
            user_id,
            ERASE,
            json!({"subscriptions": removed, "notifications": erased}),
        )
        .await?;
        txn.commit().await?;
        tracing::info!(user_id, removed, erased, "erased an anonymised person");
        Ok(())
    }

    /// The Atom feed of operational messages.
    pub async fn operational_messages_feed(
        &self,
        language: Language,
        system_id: Option<&str>,
        links: &atom::Links,
    ) -> Result<String, Error> {
        let entries: Vec<atom::Entry> = feed_entries::latest(&self.db, 100, system_id)
            .await?
            .into_iter()
            .map(|e| atom::Entry {
                texts: serde_json::from_str::<MessageTexts>(&e.texts).unwrap_or_default(),
                systems: serde_json::from_str(&e.systems).unwrap_or_default(),
                id: e.message_id,
                resolved: e.resolved,
                published: e.published_at,
                updated: e.updated_at,
            })
            .collect();
        Ok(domain::atom::feed(
            &entries,
            language,
            self.clock.now(),
            links,
        ))
    }
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Notify;
    const ENTITIES: &'static [&'static str] = &["subscription", "notification", "person"];

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        id: &str,
    ) -> Result<(), Error> {
        if is_operator(caller) {
            return Ok(());
        }
        let own = match entity_type {
            "subscription" => subscriptions::find(&self.db, id)
                .await?
                .is_some_and(|s| Some(s.user_id.as_str()) == user_of(caller)),
            _ => false,
        };
        if own {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::NotOwner,
                "users read the trails of their own subscriptions".into(),
            ))
        }
    }
}
