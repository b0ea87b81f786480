//! kommune catalogue: the service catalogue ("servicekatalog") of paid additions the supplier offers
//! municipalities beyond the operations contract, with versioned items and typed questions; orders
//! through quote, approval and delivery; and the basis of their invoicing.

use std::sync::Arc;

use kommune_platform::BoxError;
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::consumer::{Follower, payload_of};
use kommune_platform::outbox::Outbox;
use kommune_platform::records::AuditLog;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{Background, Context, NoSettings, Service, ServiceRole};
use kommune_proto::catalogue::v1 as pb;
use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::identity::v1 as identity;

pub mod api;
pub mod domain;
pub mod migration;
pub mod registry;
pub mod store;

use api::CatalogueApi;
use registry::{Billing, Registry};

/// What the catalogue needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys; users named in answers).
    pub identity_addr: String,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
    /// The catalogue's own service-account API key: with it, the catalogue follows identity's
    /// eligibility changes and orders extra support-eligible users by itself.
    pub service_api_key: Option<String>,
    /// How often ended months of extra users are settled.
    pub settle_interval: std::time::Duration,
}

/// How often ended months of extra users are settled, unless configured otherwise.
pub const DEFAULT_SETTLE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

impl Options {
    /// The options of a catalogue at `database_url` beside identity at `identity_addr`, with no
    /// service account (extra users are then not ordered by themselves) and the default settings.
    pub fn new(database_url: String, identity_addr: String, clock: SharedClock) -> Self {
        Self {
            database_url,
            identity_addr,
            trusted_issuers: Vec::new(),
            clock,
            audit_keys: AuditKeys::random(),
            service_api_key: None,
            settle_interval: DEFAULT_SETTLE_INTERVAL,
        }
    }
}

/// A built catalogue service, ready to serve.
pub struct Catalogue {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    /// Its database, identity's channel and its credentials, when it follows identity's feed.
    identity_feed: Option<Follower>,
    settle_interval: std::time::Duration,
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
        let identity_feed = options
            .service_api_key
            .map(|key| Follower::new(db.clone(), identity.clone(), key, options.clock.clone()));
        let billing = identity_feed
            .as_ref()
            .map(|f| Billing::new(f.identity.clone(), f.credentials.clone()));
        let registry = Arc::new(Registry::new(
            db,
            options.clock,
            options.audit_keys,
            identity,
            billing,
        ));
        Ok(Self {
            registry,
            verifier,
            identity_feed,
            settle_interval: options.settle_interval,
        })
    }
}

impl Service for Catalogue {
    const ROLE: ServiceRole = ServiceRole::Catalogue;
    const ABOUT: &'static str =
        "kommune catalogue: the service catalogue of paid additions, orders and their invoicing.";
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
        options.trusted_issuers = context.trusted_issuers;
        options.service_api_key = context.service_api_key;
        Self::build(options).await
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

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }

    fn background(&self, background: &mut Background) {
        let Some(follower) = &self.identity_feed else {
            return;
        };
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
        let registry = self.registry.clone();
        background.every(
            self.settle_interval,
            "settle the months of extra support-eligible users",
            move || {
                let registry = registry.clone();
                async move { registry.settle_ended_months().await }
            },
        );
    }
}

/// What the catalogue does with identity's events: an eligibility change may change what extra
/// support-eligible users cost; an anonymised person's order comments are erased.
async fn on_identity_event(
    registry: &Registry,
    event: EventEnvelope,
) -> Result<(), kommune_platform::Error> {
    if let Some(changed) = payload_of::<identity::EligibilityChanged>(&event)? {
        return registry.eligibility_changed(changed).await;
    }
    match payload_of::<identity::UserAnonymized>(&event)? {
        Some(anonymized) => registry.erase_person(&anonymized.user_id).await,
        None => Ok(()),
    }
}
