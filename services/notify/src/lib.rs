//! kommune notify: who hears what. It follows the other services' event feeds, turns each event into
//! notifications for the people it concerns and the subscribers of its topic, renders them from
//! templates in Danish or English, and delivers them by e-mail, webhook and the in-app inbox — at least
//! once, and exactly once in normal operation — never sending one that holds a personal ID number. The
//! operational messages are also a public Atom feed.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Duration;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tonic::transport::Channel;

use kommune_platform::BoxError;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::consumer::ServiceCredentials;
use kommune_platform::records::AuditLog;
use kommune_platform::retention::Kind;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{Addresses, Background, Context, Embedded, Service, ServiceRole};
use kommune_proto::notify::v1 as pb;

pub mod api;
pub mod channels;
pub mod domain;
pub mod migration;
pub mod peers;
pub mod registry;
pub mod store;

use api::NotifyApi;
use channels::{Mailer, Senders};
use domain::RetryPolicy;
use peers::Peers;
use registry::{DeliveryPolicy, Registry};

/// How many days ahead of a klik task's deadline its project leaders are reminded, by default.
pub const DEFAULT_TASK_REMINDER_DAYS: i64 = 7;
/// The sender of e-mail, by default.
pub const DEFAULT_MAIL_FROM: &str = "kommune <noreply@kommune.local>";

/// The service's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct NotifyConfig {
    /// The SMTP relay, e.g. `smtp://relay.example:25` or `smtps://user:pass@relay.example`; without it
    /// e-mail is written as `.eml` files to the drop directory.
    #[arg(long, env = "KOMMUNE_NOTIFY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Where e-mail goes when there is no relay.
    #[arg(
        long,
        env = "KOMMUNE_NOTIFY_MAIL_DROP_DIR",
        default_value = "data/mail"
    )]
    pub mail_drop_dir: PathBuf,
    /// The sender of e-mail.
    #[arg(long, env = "KOMMUNE_NOTIFY_MAIL_FROM", default_value = DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// Days ahead of a klik task's deadline when its project leaders are reminded.
    #[arg(long, env = "KOMMUNE_NOTIFY_TASK_REMINDER_DAYS", default_value_t = DEFAULT_TASK_REMINDER_DAYS)]
    pub task_reminder_days: i64,
    /// The hosts webhooks may go to, comma-separated (`*.webhook.office.com,hooks.kommune.dk`); any
    /// host when empty. Set it in production, so subscriptions cannot reach the internal network.
    #[arg(long, env = "KOMMUNE_NOTIFY_WEBHOOK_HOSTS", default_value = "", value_parser = domain::WebhookHosts::parse)]
    pub webhook_hosts: domain::WebhookHosts,
}

/// What the notify service needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where the other services serve: identity (token keys, users, eligibility) always; every
    /// service with an event feed is followed when its address is known.
    pub peers: Addresses,
    /// notify's own service-account API key.
    pub service_api_key: String,
    /// The SMTP relay's URL; `None` writes e-mail to `mail_drop_dir`.
    pub smtp_url: Option<String>,
    /// Where e-mail goes without a relay.
    pub mail_drop_dir: PathBuf,
    /// The sender of e-mail.
    pub mail_from: String,
    /// How deliveries are retried, claimed and batched.
    pub delivery: DeliveryPolicy,
    /// How often the delivery worker looks for retries that fell due.
    pub poll_interval: std::time::Duration,
    /// How often reminders (klik task deadlines) are looked for.
    pub reminder_interval: std::time::Duration,
    /// How many days ahead of a klik task's deadline its project leaders are reminded.
    pub task_reminder_days: i64,
    /// The hosts webhooks may go to.
    pub webhook_hosts: domain::WebhookHosts,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
}

impl Options {
    /// Options with the defaults of everything but the database, identity, the key and the clock.
    pub fn new(
        database_url: impl Into<String>,
        identity_addr: impl Into<String>,
        service_api_key: impl Into<String>,
        clock: SharedClock,
    ) -> Self {
        let mut peers = Addresses::default();
        peers.insert(ServiceRole::Identity, identity_addr);
        Self {
            database_url: database_url.into(),
            peers,
            service_api_key: service_api_key.into(),
            smtp_url: None,
            mail_drop_dir: PathBuf::from("data/mail"),
            mail_from: DEFAULT_MAIL_FROM.into(),
            delivery: DeliveryPolicy {
                retry: RetryPolicy::STANDARD,
                lease: Duration::minutes(2),
                batch: 20,
            },
            poll_interval: std::time::Duration::from_secs(1),
            reminder_interval: std::time::Duration::from_secs(3600),
            task_reminder_days: DEFAULT_TASK_REMINDER_DAYS,
            webhook_hosts: domain::WebhookHosts::default(),
            trusted_issuers: Vec::new(),
            clock,
            audit_keys: AuditKeys::random(),
        }
    }
}

/// A built notify service, ready to serve.
pub struct Notify {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    db: DatabaseConnection,
    peers: Peers,
    feeds: Vec<(ServiceRole, Channel)>,
    poll_interval: std::time::Duration,
    reminder_interval: std::time::Duration,
    task_reminder_days: i64,
}

impl Notify {
    /// Connects and migrates.
    pub async fn build(options: Options) -> Result<Self, BoxError> {
        let db =
            kommune_platform::db::connect_and_migrate::<migration::Migrator>(&options.database_url)
                .await?;
        let identity = options
            .peers
            .channel(ServiceRole::Identity)?
            .ok_or("notify needs identity's address")?;
        let peers = Peers {
            credentials: Arc::new(ServiceCredentials::new(
                identity.clone(),
                options.service_api_key.clone(),
                options.clock.clone(),
            )),
            identity,
            cases: options.peers.channel(ServiceRole::Cases)?,
            klik: options.peers.channel(ServiceRole::Klik)?,
        };
        let mut feeds = Vec::new();
        for role in ServiceRole::ALL {
            if role.has_event_feed()
                && let Some(channel) = options.peers.channel(role)?
            {
                feeds.push((role, channel));
            }
        }
        let senders = Senders::new(
            Mailer::new(options.smtp_url.as_deref(), options.mail_drop_dir)?,
            &options.mail_from,
            options.webhook_hosts,
        )?;
        let verifier = TokenVerifier::remote(
            options.peers.identity()?,
            options.clock.clone(),
            options.trusted_issuers,
        );
        let registry = Arc::new(Registry::new(
            db.clone(),
            options.clock.clone(),
            options.audit_keys,
            peers.clone(),
            senders,
            options.delivery,
        ));
        Ok(Self {
            registry,
            verifier,
            db,
            peers,
            feeds,
            poll_interval: options.poll_interval,
            reminder_interval: options.reminder_interval,
            task_reminder_days: options.task_reminder_days,
        })
    }

    /// The registry (for tests and tools that hand events in directly).
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }
}

impl Service for Notify {
    const ROLE: ServiceRole = ServiceRole::Notify;
    const ABOUT: &'static str = "kommune notify: subscriptions, e-mail, webhooks, the inbox and the operational-message feed.";
    const NEEDS_SERVICE_ACCOUNT: bool = true;
    type Config = NotifyConfig;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, config: NotifyConfig) -> Result<Self, BoxError> {
        let key = context.service_api_key.ok_or(
            "KOMMUNE_SERVICE_API_KEY is required: notify reads the other services with it",
        )?;
        let mut options = Options::new(
            context.database_url,
            context.peers.identity()?,
            key,
            context.clock,
        );
        options.audit_keys = context.audit_keys;
        options.peers = context.peers;
        options.smtp_url = config.smtp_url;
        options.mail_drop_dir = config.mail_drop_dir;
        options.mail_from = config.mail_from;
        options.task_reminder_days = config.task_reminder_days;
        options.webhook_hosts = config.webhook_hosts;
        options.trusted_issuers = context.trusted_issuers;
        Self::build(options).await
    }

    /// No relay in the embedded suite: mail lands as `.eml` files beside the data.
    async fn embedded(suite: &Embedded) -> Result<NotifyConfig, BoxError> {
        let mut config: NotifyConfig = suite.settings()?;
        config.mail_drop_dir = suite.path("mail");
        Ok(config)
    }

    fn server(&self) -> GrpcServer {
        let api = NotifyApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(
                pb::subscription_service_server::SubscriptionServiceServer::new(api.clone()),
            )
            .add_service(pb::inbox_service_server::InboxServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::delivery_service_server::DeliveryServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::feed_service_server::FeedServiceServer::new(api.clone()))
            .add_service(pb::audit_service_server::AuditServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::privacy_service_server::PrivacyServiceServer::new(api))
    }

    fn verifier(&self) -> Arc<TokenVerifier> {
        self.verifier.clone()
    }

    fn retention_kinds(&self) -> Vec<Kind> {
        vec![Kind {
            name: "notifications",
            default_days: 180,
            about: "notifications and inbox items delivered or given up, from when they were made",
            purge: |txn, due, limit| Box::pin(store::notifications::purge(txn, due.cutoff, limit)),
        }]
    }

    fn audit_log(&self) -> AuditLog {
        AuditLog::of(&*self.registry, None)
    }

    /// Delivers (on shutdown the worker finishes the batch it is sending, so nothing is left
    /// half-sent), reminds of task deadlines and follows every feed it knows the address of.
    fn background(&self, background: &mut Background) {
        let (registry, poll) = (self.registry.clone(), self.poll_interval);
        background.spawn_worker(move |stopping| deliver(registry, stopping, poll));
        let (registry, days) = (self.registry.clone(), self.task_reminder_days);
        background.every(
            self.reminder_interval,
            "look for task deadlines",
            move || {
                let registry = registry.clone();
                async move { registry.remind_task_deadlines(days).await }
            },
        );
        for (feed, channel) in &self.feeds {
            let (registry, feed) = (self.registry.clone(), *feed);
            background.follow(
                self.db.clone(),
                feed,
                channel.clone(),
                self.peers.credentials.clone(),
                move |event| {
                    let registry = registry.clone();
                    async move { registry.on_event(feed.name(), event).await }
                },
            );
        }
    }
}

/// The delivery worker: sends due batches until told to stop, between batches.
async fn deliver(
    registry: Arc<Registry>,
    mut stopping: watch::Receiver<bool>,
    poll: std::time::Duration,
) {
    let wake = registry.wake();
    while !*stopping.borrow() {
        match registry.deliver_due(&stopping).await {
            Ok(0) => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                    _ = stopping.changed() => {}
                }
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "delivery round failed");
                tokio::time::sleep(poll).await;
            }
        }
    }
}
