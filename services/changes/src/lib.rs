//! kommune changes: change requests ("ændringsønsker"), their themes and statuses, and releases on the
//! 42-week timeline that decides when each change request can happen.

use std::sync::Arc;

use tokio::net::TcpListener;

use kommune_platform::BoxError;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::server::{GrpcServer, NoFallback};
use kommune_proto::changes::v1 as pb;

pub mod api;
pub mod domain;
pub mod files;
pub mod migration;
pub mod registry;
pub mod store;

use api::ChangesApi;
use registry::Registry;

/// The service's name (database file, telemetry).
pub const SERVICE_NAME: &str = "changes";
/// The default port of a standalone changes binary.
pub const DEFAULT_PORT: u16 = 50054;

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
            options.key_prefix,
            identity,
        ));
        Ok(Self {
            registry,
            verifier,
            timeline_sweep_interval: options.timeline_sweep_interval,
        })
    }

    /// The server with every changes service.
    pub fn server(&self) -> GrpcServer {
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
            .add_service(pb::event_service_server::EventServiceServer::new(api))
    }

    /// Serves on `listener` until `shutdown`, moving releases on along their timelines meanwhile.
    pub async fn serve(
        self,
        listener: TcpListener,
        config: &ServerConfig,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError> {
        let registry = self.registry.clone();
        let interval = self.timeline_sweep_interval;
        let sweeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                match registry.advance_releases().await {
                    Ok(0) => {}
                    Ok(moved) => tracing::info!(
                        moved,
                        "change requests moved on along their release timelines"
                    ),
                    // Another replica moving the same release at the same time: the next sweep settles it.
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot move releases on along their timelines")
                    }
                }
            }
        });
        let result = self
            .server()
            .serve(
                listener,
                self.verifier,
                config,
                None::<NoFallback>,
                self.registry.outbox().close_on(shutdown),
            )
            .await;
        sweeper.abort();
        result
    }
}
