//! kommune changes: change requests ("ændringsønsker"), their themes and statuses, and releases on the
//! 42-week timeline that decides when each change request can happen.

use std::sync::Arc;

use kommune_platform::BoxError;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::outbox::Outbox;
use kommune_platform::records::AuditLog;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{Background, Context, Service, ServiceRole};
use kommune_proto::changes::v1 as pb;

pub mod api;
pub mod domain;
pub mod files;
pub mod migration;
pub mod registry;
pub mod store;

use api::ChangesApi;
use registry::Registry;

/// The service's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ChangesConfig {
    /// The prefix of new change requests' keys.
    #[arg(long, env = "KOMMUNE_CHANGES_KEY_PREFIX", default_value = domain::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
    /// How often (in seconds) releases' change requests are moved on along their timelines.
    #[arg(long, env = "KOMMUNE_CHANGES_TIMELINE_SWEEP_SECS", default_value_t = DEFAULT_TIMELINE_SWEEP_INTERVAL.as_secs())]
    pub timeline_sweep_secs: u64,
}

/// What changes needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys).
    pub identity_addr: String,
    /// The prefix of new change requests' keys, e.g. `KOMBITKY`.
    pub key_prefix: String,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
    /// How often the releases' change requests are moved on along their timelines.
    pub timeline_sweep_interval: std::time::Duration,
}

/// How often the timeline sweep runs unless configured otherwise: phases change at midnight, so
/// statuses follow within the hour.
pub const DEFAULT_TIMELINE_SWEEP_INTERVAL: std::time::Duration =
    std::time::Duration::from_secs(60 * 60);

/// A built changes service, ready to serve.
pub struct Changes {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    timeline_sweep_interval: std::time::Duration,
}

impl Changes {
    /// Connects and migrates.
    pub async fn build(options: Options) -> Result<Self, BoxError> {
        let db =
            kommune_platform::db::connect_and_migrate::<migration::Migrator>(&options.database_url)
                .await?;
        let identity = kommune_platform::client::channel(&options.identity_addr)?;
        let verifier = TokenVerifier::remote(
            options.identity_addr,
            options.clock.clone(),
            options.trusted_issuers,
        );
        let registry = Arc::new(Registry::new(
            db,
            options.clock.clone(),
            options.audit_keys,
            options.key_prefix,
            identity,
        ));
        Ok(Self {
            registry,
            verifier,
            timeline_sweep_interval: options.timeline_sweep_interval,
        })
    }
}

impl Service for Changes {
    const ROLE: ServiceRole = ServiceRole::Changes;
    const ABOUT: &'static str =
        "kommune changes: change requests, the 42-week release timeline and the published list.";
    type Config = ChangesConfig;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, config: ChangesConfig) -> Result<Self, BoxError> {
        Self::build(Options {
            identity_addr: context.peers.identity()?.to_owned(),
            database_url: context.database_url,
            key_prefix: config.key_prefix,
            trusted_issuers: context.trusted_issuers,
            audit_keys: context.audit_keys,
            clock: context.clock,
            timeline_sweep_interval: std::time::Duration::from_secs(config.timeline_sweep_secs),
        })
        .await
    }

    fn server(&self) -> GrpcServer {
        let api = ChangesApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(
                pb::change_request_service_server::ChangeRequestServiceServer::new(api.clone()),
            )
            .add_service(pb::release_service_server::ReleaseServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::publication_service_server::PublicationServiceServer::new(api.clone()))
            .add_service(pb::import_service_server::ImportServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::reference_service_server::ReferenceServiceServer::new(
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

    fn audit_log(&self) -> AuditLog {
        AuditLog::of(&*self.registry, self.outbox())
    }

    /// Moves releases on along their timelines.
    fn background(&self, background: &mut Background) {
        let registry = self.registry.clone();
        background.every(
            self.timeline_sweep_interval,
            "move releases on along their timelines",
            move || {
                let registry = registry.clone();
                async move {
                    let moved = registry.advance_releases().await?;
                    if moved > 0 {
                        tracing::info!(
                            moved,
                            "change requests moved on along their release timelines"
                        );
                    }
                    // Another replica moving the same release at the same time fails here: the
                    // next sweep settles it.
                    Ok::<_, kommune_platform::Error>(())
                }
            },
        );
    }

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }
}
