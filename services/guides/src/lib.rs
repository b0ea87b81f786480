//! kommune guides: the consortium's guides ("vejledninger") imported from their Word and PDF files and
//! split into numbered sections; searched in Danish (and Swedish and English); suggested while a case
//! is written; and the report of where they fail: sections suggested, sections that answered the
//! question, sections read before a case was filed anyway, searches that found nothing.

use std::sync::Arc;
use std::time::Duration;

use kommune_platform::BoxError;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::{SharedClock, from_timestamp};
use kommune_platform::consumer::ServiceCredentials;
use kommune_platform::outbox::Outbox;
use kommune_platform::records::AuditLog;
use kommune_platform::retention::Kind;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{Background, Context, NoSettings, Service, ServiceRole};
use kommune_proto::cases::v1 as cases;
use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::guides::v1 as pb;
use prost::{Message as _, Name as _};
use sea_orm::DatabaseConnection;
use tonic::transport::Channel;

pub mod api;
pub mod documents;
pub mod domain;
pub mod index;
pub mod migration;
pub mod registry;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use api::GuidesApi;
use registry::Registry;

/// How often a replica looks for guides changed by another.
pub const INDEX_SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// What the guides need to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys; the service account's token).
    pub identity_addr: String,
    /// Where cases serves: the systems guides are to, and its feed of filed cases. Without it, system
    /// ids are taken as given and citations are not counted.
    pub cases_addr: Option<String>,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
    /// The guides' own service-account API key: with it, the guides follow cases' feed and count the
    /// sections filed cases cite.
    pub service_api_key: Option<String>,
}

impl Options {
    /// The options of guides at `database_url` beside identity at `identity_addr`, without cases.
    pub fn new(database_url: String, identity_addr: String, clock: SharedClock) -> Self {
        Self {
            database_url,
            identity_addr,
            cases_addr: None,
            trusted_issuers: Vec::new(),
            clock,
            audit_keys: AuditKeys::random(),
            service_api_key: None,
        }
    }
}

/// A built guides service, ready to serve.
pub struct Guides {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    /// Its database, cases' channel and its credentials, when it follows cases' feed.
    cases_feed: Option<(DatabaseConnection, Channel, Arc<ServiceCredentials>)>,
}

impl Guides {
    /// Connects, migrates and builds the search index from the database.
    pub async fn build(options: Options) -> Result<Self, BoxError> {
        let db =
            kommune_platform::db::connect_and_migrate::<migration::Migrator>(&options.database_url)
                .await?;
        let identity = kommune_platform::client::channel(&options.identity_addr)?;
        let cases = options
            .cases_addr
            .as_deref()
            .map(kommune_platform::client::channel)
            .transpose()?;
        let verifier = TokenVerifier::remote(
            options.identity_addr,
            options.clock.clone(),
            options.trusted_issuers,
        );
        let cases_feed = match (&cases, options.service_api_key) {
            (Some(cases), Some(key)) => Some((
                db.clone(),
                cases.clone(),
                Arc::new(ServiceCredentials::new(
                    identity,
                    key,
                    options.clock.clone(),
                )),
            )),
            _ => None,
        };
        let registry = Arc::new(Registry::new(db, options.clock, options.audit_keys, cases)?);
        registry.sync_index().await?;
        Ok(Self {
            registry,
            verifier,
            cases_feed,
        })
    }
}

impl Service for Guides {
    const ROLE: ServiceRole = ServiceRole::Guides;
    const ABOUT: &'static str =
        "kommune guides: guides split into sections, searched, suggested while filing, improved.";
    const NEEDS_SERVICE_ACCOUNT: bool = true;
    type Config = NoSettings;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, _: NoSettings) -> Result<Self, BoxError> {
        let mut options = Options::new(
            context.database_url,
            context.peers.identity()?.to_owned(),
            context.clock,
        );
        options.audit_keys = context.audit_keys;
        options.cases_addr = context.peers.get(ServiceRole::Cases).map(str::to_owned);
        options.trusted_issuers = context.trusted_issuers;
        options.service_api_key = context.service_api_key;
        Self::build(options).await
    }

    fn server(&self) -> GrpcServer {
        let api = GuidesApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(pb::guide_service_server::GuideServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::search_service_server::SearchServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::report_service_server::ReportServiceServer::new(
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
                name: "unanswered_searches",
                default_days: 365,
                about: "searches that found nothing, with their words, from when they were made",
                purge: |txn, due, limit| {
                    Box::pin(store::unanswered_searches::purge(txn, due.cutoff, limit))
                },
            },
            Kind {
                name: "suggestions",
                default_days: 365,
                about: "suggestions made while a case was written, with its subject, from when they were made",
                purge: |txn, due, limit| {
                    Box::pin(store::suggestions::purge(txn, due.cutoff, limit))
                },
            },
        ]
    }

    fn audit_log(&self) -> AuditLog {
        AuditLog::of(&*self.registry, self.outbox())
    }

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }

    fn background(&self, background: &mut Background) {
        let registry = self.registry.clone();
        background.every(
            INDEX_SYNC_INTERVAL,
            "bring the search index up to the database",
            move || {
                let registry = registry.clone();
                async move { registry.sync_index().await }
            },
        );
        let Some((db, channel, credentials)) = &self.cases_feed else {
            return;
        };
        let registry = self.registry.clone();
        background.follow(
            db.clone(),
            ServiceRole::Cases,
            channel.clone(),
            credentials.clone(),
            move |event| {
                let registry = registry.clone();
                async move { on_cases_event(&registry, event).await }
            },
        );
    }
}

/// What the guides do with cases' events: a filed case's citations are counted.
async fn on_cases_event(
    registry: &Registry,
    event: EventEnvelope,
) -> Result<(), kommune_platform::Error> {
    if event.event_type != cases::CaseFiled::full_name() {
        return Ok(());
    }
    let at = event.occurred_at.as_ref().and_then(from_timestamp);
    let payload = event.payload.unwrap_or_default();
    let filed = cases::CaseFiled::decode(payload.value.as_slice())
        .map_err(kommune_platform::Error::internal)?;
    registry.case_filed(filed, at).await
}
