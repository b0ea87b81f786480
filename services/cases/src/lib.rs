//! kommune cases: support cases filed by support-eligible municipal users and worked to the end by the
//! supplier's 2nd and 3rd line, with the SLA clock in Danish working time.

use std::sync::Arc;

use chrono::Duration;
use prost::{Message, Name};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tonic::transport::Channel;

use kommune_platform::BoxError;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::consumer::ServiceCredentials;
use kommune_platform::server::{GrpcServer, NoFallback};
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::identity::v1 as identity;

pub mod api;
pub mod domain;
pub mod migration;
pub mod registry;
pub mod store;
pub mod vault;

use api::CasesApi;
use domain::calendar::{BusinessCalendar, OpeningHours};
use registry::{Policy, Registry};
use vault::Vault;

/// The service's name (database file, telemetry).
pub const SERVICE_NAME: &str = "cases";
/// The default port of a standalone cases binary.
pub const DEFAULT_PORT: u16 = 50053;
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
    /// The service's own service-account API key (a secret), to follow identity's events.
    #[arg(long, env = "KOMMUNE_SERVICE_API_KEY", hide_env_values = true)]
    pub service_api_key: Option<String>,
    /// The changes service's address, to convert cases into change requests.
    #[arg(long, env = "KOMMUNE_CHANGES_ADDR")]
    pub changes_addr: Option<String>,
    /// Days after resolution in which a case may be reopened.
    #[arg(long, env = "KOMMUNE_CASES_REOPEN_DAYS", default_value_t = DEFAULT_REOPEN_DAYS)]
    pub reopen_days: i64,
    /// Minutes after the report to the supplier, and after each update, when an incident's follow-up
    /// is due.
    #[arg(long, env = "KOMMUNE_CASES_INCIDENT_FOLLOW_UP_MINUTES", default_value_t = DEFAULT_FOLLOW_UP_MINUTES)]
    pub incident_follow_up_minutes: i64,
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
    /// The service's own API key, to follow identity's events (anonymisations); without it they are
    /// not followed.
    pub service_api_key: Option<String>,
    /// How often SLA alerts and overdue incident follow-ups are looked for and announced as events.
    pub sla_sweep_interval: std::time::Duration,
    /// When the follow-up with the supplier on an incident is due after its report and each update.
    pub incident_follow_up: Duration,
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
            service_api_key: None,
            sla_sweep_interval: std::time::Duration::from_secs(60),
            incident_follow_up: Duration::minutes(DEFAULT_FOLLOW_UP_MINUTES),
            clock,
        }
    }
}

/// A built cases service, ready to serve.
pub struct Cases {
    registry: Arc<Registry>,
    sla_sweep_interval: std::time::Duration,
    verifier: Arc<TokenVerifier>,
    identity_feed: Option<(DatabaseConnection, Channel, ServiceCredentials)>,
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
            Some(key) => Some((
                db.clone(),
                identity.clone(),
                ServiceCredentials::new(identity.clone(), key, options.clock.clone()),
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
        let registry = Arc::new(Registry::new(
            db,
            options.clock,
            identity,
            changes,
            vault,
            policy,
        ));
        Ok(Self {
            registry,
            verifier,
            identity_feed,
            sla_sweep_interval: options.sla_sweep_interval,
        })
    }

    /// The server with every cases service.
    pub fn server(&self) -> GrpcServer {
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
            .add_service(pb::audit_service_server::AuditServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::event_service_server::EventServiceServer::new(api))
    }

    /// Serves on `listener` until `shutdown`, following identity's events meanwhile.
    pub async fn serve(
        self,
        listener: TcpListener,
        config: &ServerConfig,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError> {
        let server = self.server();
        let registry = self.registry.clone();
        let interval = self.sla_sweep_interval;
        let sweeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if let Err(err) = registry.announce_sla_alerts().await {
                    tracing::warn!(error = %err, "cannot announce SLA alerts");
                }
                if let Err(err) = registry.announce_overdue_follow_ups().await {
                    tracing::warn!(error = %err, "cannot announce overdue incident follow-ups");
                }
            }
        });
        let follower = self.identity_feed.map(|(db, channel, credentials)| {
            let registry = self.registry.clone();
            tokio::spawn(kommune_platform::consumer::follow(
                db,
                "identity",
                channel,
                credentials,
                move |event| {
                    let registry = registry.clone();
                    async move { on_identity_event(&registry, event).await }
                },
                std::future::pending(),
            ))
        });
        let result = server
            .serve(
                listener,
                self.verifier,
                config,
                None::<NoFallback>,
                self.registry.outbox().close_on(shutdown),
            )
            .await;
        sweeper.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        result
    }
}

/// What the cases service does with identity's events: erase anonymised people.
async fn on_identity_event(
    registry: &Registry,
    event: EventEnvelope,
) -> Result<(), kommune_platform::Error> {
    if event.event_type != identity::UserAnonymized::full_name() {
        return Ok(());
    }
    let payload = event.payload.unwrap_or_default();
    let anonymized = identity::UserAnonymized::decode(payload.value.as_slice())
        .map_err(kommune_platform::Error::internal)?;
    registry.erase_person(&anonymized.user_id).await
}
