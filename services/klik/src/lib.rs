//! kommune klik: implementation task templates ("KLIK-opgaver") with versions and review, projects with
//! waves and enrolments, each municipality's tasks dated from its go-live, task packages, and progress.

use std::sync::Arc;

use tokio::net::TcpListener;

use kommune_platform::BoxError;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::server::{GrpcServer, NoFallback};
use kommune_proto::klik::v1 as pb;

pub mod api;
pub mod domain;
pub mod migration;
pub mod registry;
pub mod store;

use api::KlikApi;
use registry::Registry;

/// The service's name (database file, telemetry).
pub const SERVICE_NAME: &str = "klik";
/// The default port of a standalone klik binary.
pub const DEFAULT_PORT: u16 = 50056;

/// What klik needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys; the list of municipalities).
    pub identity_addr: String,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The clock.
    pub clock: SharedClock,
}

/// A built klik service, ready to serve.
pub struct Klik {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
}

impl Klik {
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
        let registry = Arc::new(Registry::new(db, options.clock, identity));
        Ok(Self { registry, verifier })
    }

    /// The server with every klik service.
    pub fn server(&self) -> GrpcServer {
        let api = KlikApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(pb::template_service_server::TemplateServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::project_service_server::ProjectServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::task_service_server::TaskServiceServer::new(api.clone()))
            .add_service(pb::audit_service_server::AuditServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::event_service_server::EventServiceServer::new(api))
    }

    /// Serves on `listener` until `shutdown`.
    pub async fn serve(
        self,
        listener: TcpListener,
        config: &ServerConfig,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError> {
        self.server()
            .serve(
                listener,
                self.verifier,
                config,
                None::<NoFallback>,
                self.registry.outbox().close_on(shutdown),
            )
            .await
    }
}
