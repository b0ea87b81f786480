//! kommune klik: implementation task templates ("KLIK-opgaver") with versions and review, projects with
//! waves and enrolments, each municipality's tasks dated from its go-live, task packages, and progress.

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
use kommune_proto::identity::v1 as identity;
use kommune_proto::klik::v1 as pb;

pub mod api;
pub mod domain;
pub mod migration;
pub mod peers;
pub mod registry;
pub mod store;

use api::KlikApi;
use registry::Registry;

/// What klik needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// Where identity serves (token keys; the list of municipalities).
    pub identity_addr: String,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The service's own API key, to follow identity's events (anonymisations); without it they are
    /// not followed.
    pub service_api_key: Option<String>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
}

/// A built klik service, ready to serve.
pub struct Klik {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    identity_feed: Option<Follower>,
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
        let registry = Arc::new(Registry::new(
            db,
            options.clock,
            options.audit_keys,
            identity,
        ));
        Ok(Self {
            registry,
            verifier,
            identity_feed,
        })
    }
}

impl Service for Klik {
    const ROLE: ServiceRole = ServiceRole::Klik;
    const ABOUT: &'static str =
        "kommune klik: implementation task templates, projects and waves, tasks and task packages.";
    const NEEDS_SERVICE_ACCOUNT: bool = true;
    type Config = NoSettings;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, _: NoSettings) -> Result<Self, BoxError> {
        Self::build(Options {
            identity_addr: context.peers.identity()?.to_owned(),
            database_url: context.database_url,
            trusted_issuers: context.trusted_issuers,
            service_api_key: context.service_api_key,
            audit_keys: context.audit_keys,
            clock: context.clock,
        })
        .await
    }

    fn server(&self) -> GrpcServer {
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

    /// Follows identity's events: an anonymised person is erased here too.
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
                async move {
                    match payload_of::<identity::UserAnonymized>(&event)? {
                        Some(anonymized) => registry.erase_person(&anonymized.user_id).await,
                        None => Ok(()),
                    }
                }
            },
        );
    }

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }
}
