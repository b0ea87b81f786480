//! kommune cases: support cases filed by support-eligible municipal users and worked to the end by the
//! supplier's 2nd and 3rd line, with the SLA clock in Danish working time.

use std::sync::Arc;

use chrono::Duration;

use kommune_platform::BoxError;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::consumer::{Follower, payload_of};
use kommune_platform::outbox::Outbox;
use kommune_platform::records::AuditLog;
use kommune_platform::retention::Kind;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{Background, Context, Embedded, Service, ServiceRole};
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::identity::v1 as identity;

pub mod api;
pub mod domain;
pub mod mailbox;
pub mod migration;
pub mod peers;
pub mod registry;
pub mod store;
pub mod vault;

use api::CasesApi;
use domain::calendar::{BusinessCalendar, OpeningHours};
use registry::{MailboxDesk, Policy, Registry};
use vault::Vault;

/// The file under the embedded suite's data directory holding the key that seals personal ID numbers.
pub const PERSONAL_ID_KEY_FILE: &str = "cases-personal-id.key";
/// How long after resolution a case may be reopened, by default.
pub const DEFAULT_REOPEN_DAYS: i64 = 14;
/// Minutes after the supplier report and each update when an incident's follow-up is due, by default.
pub const DEFAULT_FOLLOW_UP_MINUTES: i64 = 60;

/// The service's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct CasesConfig {
    /// Base64 of the 32-byte key sealing personal ID numbers at rest (a secret in production).
    #[arg(long, env = "KOMMUNE_CASES_PERSONAL_ID_KEY", hide_env_values = true)]
    pub personal_id_key: Option<String>,
    /// Days after resolution in which a case may be reopened.
    #[arg(long, env = "KOMMUNE_CASES_REOPEN_DAYS", default_value_t = DEFAULT_REOPEN_DAYS)]
    pub reopen_days: i64,
    /// Minutes after the report to the supplier, and after each update, when an incident's follow-up
    /// is due.
    #[arg(long, env = "KOMMUNE_CASES_INCIDENT_FOLLOW_UP_MINUTES", default_value_t = DEFAULT_FOLLOW_UP_MINUTES)]
    pub incident_follow_up_minutes: i64,
    /// The desk's mailbox: `imap://host:port/folder` or `imaps://…` (unset: no mail comes in).
    #[arg(long, env = "KOMMUNE_CASES_MAILBOX_URL")]
    pub mailbox_url: Option<String>,
    /// The mailbox's IMAP login.
    #[arg(long, env = "KOMMUNE_CASES_MAILBOX_USER", default_value = "")]
    pub mailbox_user: String,
    /// The mailbox's IMAP password (a secret in production).
    #[arg(
        long,
        env = "KOMMUNE_CASES_MAILBOX_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    pub mailbox_password: String,
    /// The system mailed cases are about (required with a mailbox).
    #[arg(long, env = "KOMMUNE_CASES_MAILBOX_SYSTEM_ID")]
    pub mailbox_system_id: Option<String>,
    /// The area mailed cases are sorted into (required with a mailbox).
    #[arg(long, env = "KOMMUNE_CASES_MAILBOX_AREA_ID")]
    pub mailbox_area_id: Option<String>,
    /// Seconds between reads of the mailbox.
    #[arg(long, env = "KOMMUNE_CASES_MAILBOX_POLL_SECONDS", default_value_t = 30)]
    pub mailbox_poll_seconds: u64,
    /// The largest mail the mailbox takes, in MB; a larger one is refused back to its sender.
    #[arg(long, env = "KOMMUNE_CASES_MAILBOX_MAX_MAIL_MB", default_value_t = 25)]
    pub mailbox_max_mail_mb: u64,
}

/// What the cases service needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys; the eligibility check).
    pub identity_addr: String,
    /// Base64 of the key sealing personal ID numbers.
    pub personal_id_key: String,
    /// Opening hours.
    pub opening_hours: OpeningHours,
    /// Reopen window.
    pub reopen_window: Duration,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Where changes serves (conversion of cases into change requests); without it, conversion is
    /// refused.
    pub changes_addr: Option<String>,
    /// Where klik serves (contacts per implementation wave); without it, that report is refused.
    pub klik_addr: Option<String>,
    /// Where guides serves (the sections a case cites are checked there).
    pub guides_addr: Option<String>,
    /// The service's own API key, to follow identity's events (anonymisations); without it they are
    /// not followed.
    pub service_api_key: Option<String>,
    /// How often SLA alerts and overdue incident follow-ups are looked for and announced as events.
    pub sla_sweep_interval: std::time::Duration,
    /// The desk's mailbox, read over IMAP (it needs the service API key to ask identity who wrote);
    /// without it, no mail comes in.
    pub mailbox: Option<mailbox::MailboxOptions>,
    /// When the follow-up with the supplier on an incident is due after its report and each update.
    pub incident_follow_up: Duration,
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
        personal_id_key: impl Into<String>,
        clock: SharedClock,
    ) -> Self {
        Self {
            database_url: database_url.into(),
            identity_addr: identity_addr.into(),
            personal_id_key: personal_id_key.into(),
            opening_hours: OpeningHours::standard(),
            reopen_window: Duration::days(DEFAULT_REOPEN_DAYS),
            trusted_issuers: Vec::new(),
            changes_addr: None,
            klik_addr: None,
            guides_addr: None,
            service_api_key: None,
            sla_sweep_interval: std::time::Duration::from_secs(60),
            mailbox: None,
            incident_follow_up: Duration::minutes(DEFAULT_FOLLOW_UP_MINUTES),
            clock,
            audit_keys: AuditKeys::random(),
        }
    }
}

/// A built cases service, ready to serve.
pub struct Cases {
    registry: Arc<Registry>,
    sla_sweep_interval: std::time::Duration,
    verifier: Arc<TokenVerifier>,
    identity_feed: Option<Follower>,
    mailbox: Option<Arc<mailbox::Mailbox>>,
}

impl Cases {
    /// Connects and migrates.
    pub async fn build(options: Options) -> Result<Self, BoxError> {
        let vault = Vault::from_base64(&options.personal_id_key)?;
        let db =
            kommune_platform::db::connect_and_migrate::<migration::Migrator>(&options.database_url)
                .await?;
        let identity = kommune_platform::client::channel(&options.identity_addr)?;
        let verifier = TokenVerifier::remote(
            options.identity_addr,
            options.clock.clone(),
            options.trusted_issuers,
        );
        let policy = Policy {
            calendar: BusinessCalendar::new(options.opening_hours),
            reopen_window: options.reopen_window,
            follow_up: options.incident_follow_up,
        };
        let identity_feed = match options.service_api_key {
            Some(key) => Some(Follower::new(
                db.clone(),
                identity.clone(),
                key,
                options.clock.clone(),
            )),
            None => {
                tracing::warn!("no service API key: anonymisations in identity are not followed");
                None
            }
        };
        let changes = options
            .changes_addr
            .as_deref()
            .map(kommune_platform::client::channel)
            .transpose()?;
        let klik = options
            .klik_addr
            .as_deref()
            .map(kommune_platform::client::channel)
            .transpose()?;
        let guides = options
            .guides_addr
            .as_deref()
            .map(kommune_platform::client::channel)
            .transpose()?;
        let registry = Arc::new(
            Registry::new(
                db,
                options.clock,
                options.audit_keys,
                peers::Peers::new(identity, changes, klik, guides),
                vault,
                policy,
            )
            .with_mailbox_desk(options.mailbox.as_ref().map(|m| m.desk.clone())),
        );
        let mailbox = match (options.mailbox, &identity_feed) {
            (Some(settings), Some(follower)) => Some(Arc::new(mailbox::Mailbox::new(
                settings,
                registry.clone(),
                follower.credentials.clone(),
            )?)),
            (Some(_), None) => {
                return Err(
                    "the desk's mailbox needs the service API key, to ask identity who wrote"
                        .into(),
                );
            }
            (None, _) => None,
        };
        Ok(Self {
            registry,
            verifier,
            identity_feed,
            mailbox,
            sla_sweep_interval: options.sla_sweep_interval,
        })
    }
}

impl Service for Cases {
    const ROLE: ServiceRole = ServiceRole::Cases;
    const ABOUT: &'static str =
        "kommune cases: support cases, outages, incidents and operational messages.";
    const NEEDS_SERVICE_ACCOUNT: bool = true;
    type Config = CasesConfig;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, config: CasesConfig) -> Result<Self, BoxError> {
        let key = config
            .personal_id_key
            .ok_or("KOMMUNE_CASES_PERSONAL_ID_KEY is required: base64 of 32 random bytes")?;
        let mut options = Options::new(
            context.database_url,
            context.peers.identity()?,
            key,
            context.clock,
        );
        options.audit_keys = context.audit_keys;
        options.reopen_window = Duration::days(config.reopen_days);
        options.incident_follow_up = Duration::minutes(config.incident_follow_up_minutes);
        options.trusted_issuers = context.trusted_issuers;
        options.service_api_key = context.service_api_key;
        options.changes_addr = context.peers.get(ServiceRole::Changes).map(str::to_owned);
        options.klik_addr = context.peers.get(ServiceRole::Klik).map(str::to_owned);
        options.guides_addr = context.peers.get(ServiceRole::Guides).map(str::to_owned);
        if let Some(url) = config.mailbox_url {
            let (Some(system_id), Some(area_id)) =
                (config.mailbox_system_id, config.mailbox_area_id)
            else {
                return Err("a mailbox needs KOMMUNE_CASES_MAILBOX_SYSTEM_ID and KOMMUNE_CASES_MAILBOX_AREA_ID: where mailed cases go".into());
            };
            options.mailbox = Some(mailbox::MailboxOptions {
                url,
                user: config.mailbox_user,
                password: config.mailbox_password,
                desk: MailboxDesk { system_id, area_id },
                poll: std::time::Duration::from_secs(config.mailbox_poll_seconds.max(1)),
                max_mail_bytes: config.mailbox_max_mail_mb.max(1) * 1024 * 1024,
            });
        }
        Self::build(options).await
    }

    /// The key sealing personal ID numbers is made on first start and kept beside the data it
    /// protects (production takes it from a secret).
    async fn embedded(suite: &Embedded) -> Result<CasesConfig, BoxError> {
        let mut config: CasesConfig = suite.settings()?;
        if config.personal_id_key.is_none() {
            config.personal_id_key =
                Some(suite.secret(PERSONAL_ID_KEY_FILE, || Ok(Vault::generate_key()?))?);
        }
        Ok(config)
    }

    fn server(&self) -> GrpcServer {
        let api = CasesApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(pb::case_service_server::CaseServiceServer::new(api.clone()))
            .add_service(pb::reference_service_server::ReferenceServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::report_service_server::ReportServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::incident_service_server::IncidentServiceServer::new(
                api.clone(),
            ))
            .add_service(
                pb::operational_message_service_server::OperationalMessageServiceServer::new(
                    api.clone(),
                ),
            )
            .add_service(pb::known_issue_service_server::KnownIssueServiceServer::new(api.clone()))
            .add_service(pb::survey_service_server::SurveyServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::mailbox_service_server::MailboxServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::audit_service_server::AuditServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::privacy_service_server::PrivacyServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::event_service_server::EventServiceServer::new(api))
    }

    fn verifier(&self) -> Arc<TokenVerifier> {
        self.verifier.clone()
    }

    fn retention_kinds(&self) -> Vec<Kind> {
        vec![
            Kind {
                name: "case_attachments",
                default_days: 365,
                about: "files attached to cases, from when the case was resolved",
                purge: |txn, due, limit| {
                    Box::pin(store::attachments::purge_of_resolved(
                        txn, due.cutoff, limit,
                    ))
                },
            },
            Kind {
                name: "case_personal_ids",
                default_days: 90,
                about: "citizens' personal ID numbers on cases, from when the case was resolved",
                purge: |txn, due, limit| {
                    Box::pin(store::cases::purge_personal_ids(
                        txn, due.cutoff, due.now, limit,
                    ))
                },
            },
        ]
    }

    fn audit_log(&self) -> AuditLog {
        AuditLog::of(&*self.registry, self.outbox())
    }

    /// Announces SLA alerts and overdue incident follow-ups, and follows identity's events.
    fn background(&self, background: &mut Background) {
        let registry = self.registry.clone();
        background.every(self.sla_sweep_interval, "announce SLA alerts", move || {
            let registry = registry.clone();
            async move { registry.announce_sla_alerts().await }
        });
        let registry = self.registry.clone();
        background.every(
            self.sla_sweep_interval,
            "announce overdue incident follow-ups",
            move || {
                let registry = registry.clone();
                async move { registry.announce_overdue_follow_ups().await }
            },
        );
        if let Some(mailbox) = &self.mailbox {
            let mailbox = mailbox.clone();
            background.every(
                mailbox.poll_interval(),
                "read the desk's mailbox",
                move || {
                    let mailbox = mailbox.clone();
                    async move { mailbox.poll().await }
                },
            );
        }
        if let Some(follower) = &self.identity_feed {
            let registry = self.registry.clone();
            background.follow(
                follower.db.clone(),
                ServiceRole::Identity,
                follower.identity.clone(),
                follower.credentials.clone(),
                move |event| {
                    let registry = registry.clone();
                    async move { on_identity_event(&registry, event).await }
                },
            );
        }
    }

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }
}

/// What the cases service does with identity's events: erase anonymised people.
async fn on_identity_event(
    registry: &Registry,
    event: EventEnvelope,
) -> Result<(), kommune_platform::Error> {
    match payload_of::<identity::UserAnonymized>(&event)? {
        Some(anonymized) => registry.erase_person(&anonymized.user_id).await,
        None => Ok(()),
    }
}
