//! kommune catalogue: the service catalogue ("servicekatalog") of paid additions the supplier offers
//! municipalities beyond the operations contract, with versioned items and typed questions; orders
//! through quote, approval and delivery; and the basis of their invoicing.

use std::sync::Arc;

use kommune_platform::BoxError;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::outbox::Outbox;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{Context, NoSettings, Service, ServiceRole};
use kommune_proto::catalogue::v1 as pb;

pub mod api;
pub mod domain;
pub mod migration;
pub mod registry;
pub mod store;

use api::CatalogueApi;
use registry::Registry;

/// What the catalogue needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys; users named in answers).
    pub identity_addr: String,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The clock.
    pub clock: SharedClock,
}

/// A built catalogue service, ready to serve.
pub struct Catalogue {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
}

impl Catalogue {
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
}

impl Service for Catalogue {
    const ROLE: ServiceRole = ServiceRole::Catalogue;
    const ABOUT: &'static str =
        "kommune catalogue: the service catalogue of paid additions, orders and their invoicing.";
    type Config = NoSettings;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, _: NoSettings) -> Result<Self, BoxError> {
        Self::build(Options {
            identity_addr: context.peers.identity()?.to_owned(),
            database_url: context.database_url,
            trusted_issuers: context.trusted_issuers,
            clock: context.clock,
        })
        .await
    }

    fn server(&self) -> GrpcServer {
        let api = CatalogueApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(pb::item_service_server::ItemServiceServer::new(api.clone()))
            .add_service(pb::order_service_server::OrderServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::invoicing_service_server::InvoicingServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::audit_service_server::AuditServiceServer::new(
                api.clone(),
            ))
            .add_service(pb::event_service_server::EventServiceServer::new(api))
    }

    fn verifier(&self) -> Arc<TokenVerifier> {
        self.verifier.clone()
    }

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }
}
