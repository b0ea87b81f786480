//! kommune identity: municipalities, users, support eligibility, service accounts, API keys and the
//! tokens every other service trusts.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::{KeySource, TokenVerifier, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::outbox::Outbox;
use kommune_platform::records::AuditLog;
use kommune_platform::server::GrpcServer;
use kommune_platform::service::{
    ADMIN_KEY_FILE, Background, Context, Embedded, Service, ServiceRole,
};
use kommune_platform::{BoxError, Error};
use kommune_proto::identity::v1 as pb;

pub mod api;
pub mod domain;
pub mod migration;
pub mod registry;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;

use api::IdentityApi;
use registry::{Policy, Registry};

/// Default lifetime of access tokens: short, so a revoked key stops working soon.
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 900;
/// The service account created on first start, holding the bootstrap admin key.
pub const BOOTSTRAP_ACCOUNT: &str = "consortium-admin";

/// Identity's own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityConfig {
    /// The consortium-admin API key registered on first start (from a secret in production);
    /// generated when unset.
    #[arg(long, env = "KOMMUNE_BOOTSTRAP_ADMIN_KEY", hide_env_values = true)]
    pub bootstrap_admin_key: Option<String>,
    /// Where a generated bootstrap admin key is written (readable by its owner only); printed once
    /// to the standard error when unset.
    #[arg(long, env = "KOMMUNE_BOOTSTRAP_ADMIN_KEY_FILE")]
    pub bootstrap_admin_key_file: Option<std::path::PathBuf>,
    /// Service accounts (`ROLE_SERVICE`) to create at start with their API keys unless they exist,
    /// e.g. `notify=<key>,cases=<key>` (from a secret): the services that read the others then need no
    /// key made by hand.
    #[arg(long, env = "KOMMUNE_BOOTSTRAP_SERVICE_KEYS", hide_env_values = true, default_value = "", value_parser = domain::BootstrapServiceKeys::parse)]
    pub bootstrap_service_keys: domain::BootstrapServiceKeys,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, env = "KOMMUNE_TOKEN_TTL_SECS", default_value_t = DEFAULT_TOKEN_TTL_SECS)]
    pub token_ttl_secs: i64,
    /// The day each municipality's support-eligibility baseline is counted on (`YYYY-MM-DD`).
    #[arg(long, env = "KOMMUNE_ELIGIBILITY_BASELINE_DATE", default_value_t = domain::eligibility::DEFAULT_BASELINE_DATE)]
    pub eligibility_baseline_date: NaiveDate,
}

/// What identity needs to start.
#[derive(Clone)]
pub struct Options {
    /// Database URL.
    pub database_url: String,
    /// A configured bootstrap admin key, if any.
    pub bootstrap_admin_key: Option<String>,
    /// Service accounts to create at start with their keys, unless they exist.
    pub bootstrap_service_keys: domain::BootstrapServiceKeys,
    /// Token lifetime and eligibility baseline.
    pub policy: Policy,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
}

impl Options {
    /// Options with the defaults of everything but the database and the clock.
    pub fn new(database_url: impl Into<String>, clock: SharedClock) -> Self {
        Self {
            database_url: database_url.into(),
            bootstrap_admin_key: None,
            bootstrap_service_keys: domain::BootstrapServiceKeys::default(),
            policy: Policy {
                token_ttl: Duration::seconds(DEFAULT_TOKEN_TTL_SECS),
                baseline_date: domain::eligibility::DEFAULT_BASELINE_DATE,
            },
            trusted_issuers: Vec::new(),
            clock,
            audit_keys: AuditKeys::random(),
        }
    }
}

/// Identity verifies its own tokens with the keys in its database, reloaded when a token names a key
/// this replica has not loaded (another replica rotated).
struct RegistryKeys(Arc<Registry>);

impl KeySource for RegistryKeys {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<pb::PublicKey>, Error>> + Send + '_>> {
        Box::pin(self.0.reload_keys())
    }
}

/// A built identity service, ready to serve.
pub struct Identity {
    registry: Arc<Registry>,
    verifier: Arc<TokenVerifier>,
    generated_admin_key: Option<String>,
}

impl Identity {
    /// Connects, migrates, loads the signing keys and bootstraps an empty database.
    pub async fn build(options: Options) -> Result<Self, BoxError> {
        let db =
            kommune_platform::db::connect_and_migrate::<migration::Migrator>(&options.database_url)
                .await?;
        let keys = tokens::KeyRing::load_or_create(&db, options.clock.now()).await?;
        let registry = Arc::new(Registry::new(
            db,
            options.clock.clone(),
            options.audit_keys,
            keys,
            options.policy,
        ));
        let verifier = TokenVerifier::new(
            RegistryKeys(registry.clone()),
            options.clock,
            options.trusted_issuers,
        );
        verifier.set_keys(&registry.public_keys()).await;
        let generated_admin_key = registry
            .bootstrap(options.bootstrap_admin_key.as_deref())
            .await?;
        registry
            .ensure_service_accounts(&options.bootstrap_service_keys)
            .await?;
        Ok(Self {
            registry,
            verifier,
            generated_admin_key,
        })
    }

    /// The admin key generated by this start's bootstrap, to show once; `None` when the database was
    /// already bootstrapped or the key came from configuration.
    pub fn generated_admin_key(&self) -> Option<&str> {
        self.generated_admin_key.as_deref()
    }
}

impl Service for Identity {
    const ROLE: ServiceRole = ServiceRole::Identity;
    const ABOUT: &'static str = "kommune identity: municipalities, users, support eligibility, service accounts, API keys and tokens.";
    type Config = IdentityConfig;
    type Migrator = migration::Migrator;

    async fn build_with(context: Context, config: IdentityConfig) -> Result<Self, BoxError> {
        let identity = Self::build(Options {
            database_url: context.database_url,
            bootstrap_admin_key: config.bootstrap_admin_key,
            bootstrap_service_keys: config.bootstrap_service_keys,
            policy: Policy {
                token_ttl: Duration::seconds(config.token_ttl_secs),
                baseline_date: config.eligibility_baseline_date,
            },
            trusted_issuers: context.trusted_issuers,
            audit_keys: context.audit_keys,
            clock: context.clock,
        })
        .await?;
        if let Some(key) = identity.generated_admin_key() {
            match &config.bootstrap_admin_key_file {
                Some(path) => kommune_platform::service::write_secret(path, key)?,
                // Shown once: the operator must store it (or configure KOMMUNE_BOOTSTRAP_ADMIN_KEY).
                None => eprintln!("bootstrap consortium-admin API key (shown once): {key}"),
            }
        }
        Ok(identity)
    }

    async fn embedded(suite: &Embedded) -> Result<IdentityConfig, BoxError> {
        let mut config: IdentityConfig = suite.settings()?;
        config.bootstrap_admin_key_file = Some(suite.path(ADMIN_KEY_FILE));
        Ok(config)
    }

    fn server(&self) -> GrpcServer {
        let api = IdentityApi::new(self.registry.clone());
        GrpcServer::new()
            .add_service(pb::token_service_server::TokenServiceServer::new(
                api.clone(),
            ))
            .add_service(
                pb::municipality_service_server::MunicipalityServiceServer::new(api.clone()),
            )
            .add_service(pb::user_service_server::UserServiceServer::new(api.clone()))
            .add_service(pb::eligibility_service_server::EligibilityServiceServer::new(api.clone()))
            .add_service(
                pb::service_account_service_server::ServiceAccountServiceServer::new(api.clone()),
            )
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

    /// Reloads the signing keys now and then, so every replica signs with the newest key soon after a
    /// rotation.
    fn background(&self, background: &mut Background) {
        let (registry, verifier) = (self.registry.clone(), self.verifier.clone());
        background.every(tokens::RELOAD_INTERVAL, "reload signing keys", move || {
            let (registry, verifier) = (registry.clone(), verifier.clone());
            async move {
                let keys = registry.reload_keys().await?;
                verifier.set_keys(&keys).await;
                Ok::<_, Error>(())
            }
        });
    }

    fn outbox(&self) -> Option<Outbox> {
        Some(self.registry.outbox())
    }
}
