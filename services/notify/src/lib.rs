//! kommune notify: who hears what. It follows the other services' event feeds, turns each event into
//! notifications for the people it concerns and the subscribers of its topic, renders them from
//! templates in Danish or English, and delivers them by e-mail, webhook and the in-app inbox — at least
//! once, and exactly once in normal operation — never sending one that holds a personal ID number. The
//! operational messages are also a public Atom feed.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Duration;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;

use kommune_platform::BoxError;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::consumer::ServiceCredentials;
use kommune_platform::server::{GrpcServer, NoFallback};
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

/// The service's name (database file, telemetry).
pub const SERVICE_NAME: &str = "notify";
/// The default port of a standalone notify binary.
pub const DEFAULT_PORT: u16 = 50055;
/// How many days ahead of a klik task's deadline its project leaders are reminded, by default.
pub const DEFAULT_TASK_REMINDER_DAYS: i64 = 7;
/// The sender of e-mail, by default.
pub const DEFAULT_MAIL_FROM: &str = "kommune <noreply@kommune.local>";

/// The service's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct NotifyConfig {
    /// The service's own service-account API key (a secret): it reads the other services' feeds and
    /// data with it.
    #[arg(long, env = "KOMMUNE_SERVICE_API_KEY", hide_env_values = true)]
    pub service_api_key: Option<String>,
    /// The cases service's address (its events and data).
    #[arg(long, env = "KOMMUNE_CASES_ADDR")]
    pub cases_addr: Option<String>,
    /// The klik service's address (its events and projects).
    #[arg(long, env = "KOMMUNE_KLIK_ADDR")]
    pub klik_addr: Option<String>,
    /// The changes service's address (its events: the change-request list's publications).
    #[arg(long, env = "KOMMUNE_CHANGES_ADDR")]
    pub changes_addr: Option<String>,
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
    /// Where identity serves (token keys, users, eligibility).
    pub identity_addr: String,
    /// Where cases serves; its feed is followed when set.
    pub cases_addr: Option<String>,
    /// Where klik serves; its feed is followed when set.
    pub klik_addr: Option<String>,
    /// Where changes serves; its feed is followed when set.
    pub changes_addr: Option<String>,
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
        Self {
            database_url: database_url.into(),
            identity_addr: identity_addr.into(),
            cases_addr: None,
            klik_addr: None,
            changes_addr: None,
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
        }
    }
}

/// A built notify service, ready to serve.
pub struct Notify {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    db: DatabaseConnection,
    peers: Peers,
    api_key: String,
    clock: SharedClock,
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
        let identity = kommune_platform::client::channel(&options.identity_addr)?;
        let peers = Peers {
            credentials: Arc::new(ServiceCredentials::new(
                identity.clone(),
                options.service_api_key.clone(),
                options.clock.clone(),
            )),
            identity,
            cases: options
                .cases_addr
                .as_deref()
                .map(kommune_platform::client::channel)
                .transpose()?,
            klik: options
                .klik_addr
                .as_deref()
                .map(kommune_platform::client::channel)
                .transpose()?,
            changes: options
                .changes_addr
                .as_deref()
                .map(kommune_platform::client::channel)
                .transpose()?,
        };
        let senders = Senders::new(
            Mailer::new(options.smtp_url.as_deref(), options.mail_drop_dir)?,
            &options.mail_from,
            options.webhook_hosts,
        )?;
        let verifier = TokenVerifier::remote(
            options.identity_addr,
            options.clock.clone(),
            options.trusted_issuers,
        );
        let registry = Arc::new(Registry::new(
            db.clone(),
            options.clock.clone(),
            peers.clone(),
            senders,
            options.delivery,
        ));
        Ok(Self {
            registry,
            verifier,
            db,
            peers,
            api_key: options.service_api_key,
            clock: options.clock,
            poll_interval: options.poll_interval,
            reminder_interval: options.reminder_interval,
            task_reminder_days: options.task_reminder_days,
        })
    }

    /// The registry (for tests and tools that hand events in directly).
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// The server with every notify service.
    pub fn server(&self) -> GrpcServer {
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
            .add_service(pb::audit_service_server::AuditServiceServer::new(api))
    }

    /// Serves on `listener` until `shutdown`, following the feeds and delivering meanwhile. On
    /// shutdown the delivery worker finishes the batch it is sending, so nothing is left half-sent.
    pub async fn serve(
        self,
        listener: TcpListener,
        config: &ServerConfig,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError> {
        let server = self.server();
        let (stop, stopping) = watch::channel(false);
        let worker = tokio::spawn(deliver(self.registry.clone(), stopping, self.poll_interval));
        let registry = self.registry.clone();
        let (interval, days) = (self.reminder_interval, self.task_reminder_days);
        let reminders = tokio::spawn(async move {
            loop {
                if let Err(err) = registry.remind_task_deadlines(days).await {
                    tracing::warn!(error = %err, "cannot look for task deadlines");
                }
                tokio::time::sleep(interval).await;
            }
        });
        let followers: Vec<_> = [
            ("identity", Some(self.peers.identity.clone())),
            ("cases", self.peers.cases.clone()),
            ("klik", self.peers.klik.clone()),
            ("changes", self.peers.changes.clone()),
        ]
        .into_iter()
        .filter_map(|(feed, channel)| channel.map(|c| (feed, c)))
        .map(|(feed, channel)| {
            let registry = self.registry.clone();
            let credentials = ServiceCredentials::new(
                self.peers.identity.clone(),
                self.api_key.clone(),
                self.clock.clone(),
            );
            tokio::spawn(kommune_platform::consumer::follow(
                self.db.clone(),
                feed,
                channel,
                credentials,
                move |event| {
                    let registry = registry.clone();
                    async move { registry.on_event(feed, event).await }
                },
                std::future::pending(),
            ))
        })
        .collect();
        let result = server
            .serve(
                listener,
                self.verifier,
                config,
                None::<NoFallback>,
                async move {
                    shutdown.await;
                    let _ = stop.send(true);
                },
            )
            .await;
        reminders.abort();
        for follower in followers {
            follower.abort();
        }
        worker.await?;
        result
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
