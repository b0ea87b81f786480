//! One way to run a service. The suite's services are one list ([`ServiceRole`]); each service tells the
//! platform what it is ([`Service`]); the platform runs it alone as its own binary ([`run`]) or beside
//! the others in the embedded suite ([`Embedded`]), with the same configuration, background work,
//! serving and graceful shutdown either way.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use crate::BoxError;
use crate::audit::{AuditKey, AuditKeys};
use crate::auth::{TokenVerifier, TrustedIssuer};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{ServerConfig, ServiceConfig};
use crate::consumer::ServiceCredentials;
use crate::outbox::Outbox;
use crate::records::AuditLog;
use crate::retention::{Kind, Policy, Sweeper};
use crate::server::{GrpcServer, NoFallback};

/// The services of the suite: the one list that the embedded suite, the gateway's routes, its health
/// names and the `KOMMUNE_<SERVICE>_ADDR` settings are derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceRole {
    /// Municipalities, users, support eligibility, service accounts, tokens.
    Identity,
    /// Support cases, outages, incidents and operational messages.
    Cases,
    /// Change requests, releases and the published list.
    Changes,
    /// Implementation task templates, projects, waves and task packages.
    Klik,
    /// The service catalogue: paid additions, orders and invoicing.
    Catalogue,
    /// Guides (vejledninger): sections, search, suggestions while filing, where they fail.
    Guides,
    /// Subscriptions, mail, webhooks, the inbox and feeds.
    Notify,
}

impl ServiceRole {
    /// Every service, in the order the embedded suite starts them: identity first, as every other
    /// service verifies tokens with its keys.
    pub const ALL: [ServiceRole; 7] = [
        ServiceRole::Identity,
        ServiceRole::Cases,
        ServiceRole::Changes,
        ServiceRole::Klik,
        ServiceRole::Catalogue,
        ServiceRole::Guides,
        ServiceRole::Notify,
    ];

    /// The short name: `cases` (database file, proto package, configuration).
    pub const fn name(self) -> &'static str {
        match self {
            ServiceRole::Identity => "identity",
            ServiceRole::Cases => "cases",
            ServiceRole::Changes => "changes",
            ServiceRole::Klik => "klik",
            ServiceRole::Catalogue => "catalogue",
            ServiceRole::Guides => "guides",
            ServiceRole::Notify => "notify",
        }
    }

    /// The loopback port its own binary serves on unless `KOMMUNE_LISTEN_ADDR` says otherwise.
    pub const fn default_port(self) -> u16 {
        match self {
            ServiceRole::Identity => 50052,
            ServiceRole::Cases => 50053,
            ServiceRole::Changes => 50054,
            ServiceRole::Notify => 50055,
            ServiceRole::Klik => 50056,
            ServiceRole::Catalogue => 50057,
            ServiceRole::Guides => 50058,
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<ServiceRole> {
        ServiceRole::ALL
            .into_iter()
            .find(|role| role.name() == name)
    }

    /// Its proto package, also its health name at the gateway: `kommune.cases.v1`.
    pub fn package(self) -> String {
        format!("kommune.{}.v1", self.name())
    }

    /// The binary's (and telemetry's) name: `kommune-cases`.
    pub const fn binary(self) -> &'static str {
        match self {
            ServiceRole::Identity => "kommune-identity",
            ServiceRole::Cases => "kommune-cases",
            ServiceRole::Changes => "kommune-changes",
            ServiceRole::Klik => "kommune-klik",
            ServiceRole::Catalogue => "kommune-catalogue",
            ServiceRole::Guides => "kommune-guides",
            ServiceRole::Notify => "kommune-notify",
        }
    }

    /// The environment variable with its address: `KOMMUNE_CASES_ADDR`.
    pub fn addr_var(self) -> String {
        format!("KOMMUNE_{}_ADDR", self.name().to_uppercase())
    }

    /// The full names of its gRPC services, read from the contracts (`kommune.cases.v1.CaseService`).
    pub fn grpc_services(self) -> impl Iterator<Item = &'static str> {
        let prefix = format!("{}.", self.package());
        kommune_proto::SERVICES
            .iter()
            .copied()
            .filter(move |name| name.starts_with(&prefix))
    }

    /// Whether it publishes an event feed (`WatchEvents`) that others follow.
    pub fn has_event_feed(self) -> bool {
        self.grpc_services()
            .any(|name| name.ends_with(".EventService"))
    }
}

impl Display for ServiceRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the services of the suite serve, by role: `KOMMUNE_<SERVICE>_ADDR` for every role, read the
/// same way by the gateway and by every service. Identity is at its own loopback port unless set.
#[derive(Debug, Clone, Default)]
pub struct Addresses(BTreeMap<ServiceRole, String>);

impl Addresses {
    /// The addresses set in the environment, and identity's default.
    pub fn from_env() -> Self {
        let mut addresses = Self::default();
        for role in ServiceRole::ALL {
            if let Ok(addr) = std::env::var(role.addr_var())
                && !addr.trim().is_empty()
            {
                addresses.insert(role, addr.trim());
            }
        }
        if addresses.get(ServiceRole::Identity).is_none() {
            let port = ServiceRole::Identity.default_port();
            addresses.insert(ServiceRole::Identity, format!("http://127.0.0.1:{port}"));
        }
        addresses
    }

    /// Sets where `role` serves (`http://host:port`).
    pub fn insert(&mut self, role: ServiceRole, addr: impl Into<String>) {
        self.0.insert(role, addr.into());
    }

    /// Where `role` serves, when known.
    pub fn get(&self, role: ServiceRole) -> Option<&str> {
        self.0.get(&role).map(String::as_str)
    }

    /// Where identity serves (every service needs it: token keys).
    pub fn identity(&self) -> Result<&str, BoxError> {
        self.get(ServiceRole::Identity)
            .ok_or_else(|| format!("{} is not set", ServiceRole::Identity.addr_var()).into())
    }

    /// A lazily connecting channel to `role`, when its address is known.
    pub fn channel(&self, role: ServiceRole) -> Result<Option<Channel>, BoxError> {
        self.get(role).map(crate::client::channel).transpose()
    }

    /// Every known role and its address.
    pub fn iter(&self) -> impl Iterator<Item = (ServiceRole, &str)> {
        self.0.iter().map(|(role, addr)| (*role, addr.as_str()))
    }
}

/// What every service is given to start, however it is run.
#[derive(Clone)]
pub struct Context {
    /// Its database.
    pub database_url: String,
    /// Where the other services serve.
    pub peers: Addresses,
    /// Outside identity providers whose tokens are trusted.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Its own service-account API key, for calls and feeds that are nobody's on whose behalf.
    pub service_api_key: Option<String>,
    /// The keys that seal its audit records and sign its audit checkpoints.
    pub audit_keys: AuditKeys,
    /// The clock.
    pub clock: SharedClock,
}

impl Context {
    /// A verifier of tokens with identity's published keys.
    pub fn remote_verifier(&self) -> Result<Arc<TokenVerifier>, BoxError> {
        Ok(TokenVerifier::remote(
            self.peers.identity()?,
            self.clock.clone(),
            self.trusted_issuers.clone(),
        ))
    }

    /// A channel to identity.
    pub fn identity(&self) -> Result<Channel, BoxError> {
        crate::client::channel(self.peers.identity()?)
    }
}

/// The settings of a service that has none of its own.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct NoSettings {}

/// A kommune service: what the platform needs to know to run it.
pub trait Service: Sized + Send + 'static {
    /// Which service it is.
    const ROLE: ServiceRole;
    /// What it says of itself in `--help`.
    const ABOUT: &'static str;
    /// Whether it needs a service account of its own (to follow feeds, to read on nobody's behalf);
    /// the embedded suite makes one for it.
    const NEEDS_SERVICE_ACCOUNT: bool = false;
    /// Its own settings, read from flags and the environment beside [`ServiceConfig`].
    type Config: Args + FromArgMatches + Send + 'static;
    /// Its database migrations.
    type Migrator: MigratorTrait;

    /// Connects, migrates and builds the service.
    fn build_with(
        context: Context,
        config: Self::Config,
    ) -> impl Future<Output = Result<Self, BoxError>> + Send;

    /// Its settings in the embedded suite: as configured in the environment, with secrets it needs made
    /// on first start under the data directory.
    fn embedded(suite: &Embedded) -> impl Future<Output = Result<Self::Config, BoxError>> + Send {
        let settings = suite.settings::<Self::Config>();
        async move { settings }
    }

    /// Its gRPC services.
    fn server(&self) -> GrpcServer;

    /// The verifier of its callers' tokens.
    fn verifier(&self) -> Arc<TokenVerifier>;

    /// Its background work while it serves: sweeps, feeds followed, workers.
    fn background(&self, _background: &mut Background) {}

    /// Its event feed's outbox, whose following streams end when it shuts down.
    fn outbox(&self) -> Option<Outbox> {
        None
    }

    /// Its audit log, anchored and signed in the background while it serves.
    fn audit_log(&self) -> AuditLog;

    /// The kinds of data it keeps only so long, beyond the platform's own (idempotency keys, events).
    fn retention_kinds(&self) -> Vec<Kind> {
        Vec::new()
    }

    /// Every kind of data it keeps only so long: the platform's and its own.
    fn all_retention_kinds(&self) -> Vec<Kind> {
        let mut kinds = crate::retention::platform_kinds();
        kinds.extend(self.retention_kinds());
        kinds
    }

    /// Serves on `listener` until `shutdown`, with its background work, then drains in-flight calls,
    /// stops the background work and waits for the workers that finish what they do.
    fn serve(
        self,
        listener: TcpListener,
        config: &ServerConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let config = config.clone();
        async move {
            let kinds = self.all_retention_kinds();
            let policy = Policy::parse(Self::ROLE.name(), &kinds, &config.retention)?;
            let mut background = Background::new();
            self.background(&mut background);
            background.spawn(self.audit_log().run(config.audit_checkpoint_interval()));
            let sweeper = Sweeper::new(self.audit_log(), kinds, policy);
            background.spawn(sweeper.run(config.retention_sweep_interval()));
            let stopping = background.stop.clone();
            let shutdown = async move {
                shutdown.await;
                let _ = stopping.send(true);
            };
            let shutdown: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = match self.outbox() {
                Some(outbox) => Box::pin(outbox.close_on(shutdown)),
                None => Box::pin(shutdown),
            };
            let result = self
                .server()
                .serve(
                    listener,
                    self.verifier(),
                    &config,
                    None::<NoFallback>,
                    shutdown,
                )
                .await;
            background.stop().await;
            result
        }
    }
}

/// A service's background work: aborted when it stops, except workers that are told and awaited.
pub struct Background {
    stop: watch::Sender<bool>,
    aborted: Vec<JoinHandle<()>>,
    awaited: Vec<JoinHandle<()>>,
}

impl Background {
    fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            aborted: Vec::new(),
            awaited: Vec::new(),
        }
    }

    /// Runs `sweep` at start and then every `interval` after the last round ended (so a restarted
    /// replica catches up at once, and a slow round never overlaps the next); a failure is logged as a
    /// warning saying what could not be done, and the next round tries again.
    pub fn every<F, Fut, T, E>(&mut self, interval: Duration, what: &'static str, sweep: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send,
        E: Display,
    {
        self.spawn(async move {
            loop {
                if let Err(err) = sweep().await {
                    tracing::warn!(error = %err, "cannot {what}");
                }
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// Runs `task` until the service stops.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.aborted.push(tokio::spawn(task));
    }

    /// Runs a worker that is told when the service stops (the receiver turns `true`) and is waited
    /// for, so it can finish what it is doing.
    pub fn spawn_worker<F>(&mut self, worker: impl FnOnce(watch::Receiver<bool>) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.awaited
            .push(tokio::spawn(worker(self.stop.subscribe())));
    }

    /// Follows `feed`'s events at `channel` with the service's own credentials, from the cursor
    /// stored in `db`, handing each to `handle`.
    pub fn follow<H, F>(
        &mut self,
        db: DatabaseConnection,
        feed: ServiceRole,
        channel: Channel,
        credentials: Arc<ServiceCredentials>,
        handle: H,
    ) where
        H: FnMut(kommune_proto::common::v1::EventEnvelope) -> F + Send + 'static,
        F: Future<Output = Result<(), crate::Error>> + Send + 'static,
    {
        self.spawn(crate::consumer::follow(
            db,
            feed.name(),
            channel,
            credentials,
            handle,
            std::future::pending(),
        ));
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.aborted {
            task.abort();
        }
        for worker in self.awaited {
            if let Err(err) = worker.await {
                tracing::error!(error = %err, "a background worker failed");
            }
        }
    }
}

/// The command line of a service's binary: `serve` (the default) or `migrate`.
#[derive(Parser)]
struct Cli<C: Args> {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    service: ServiceConfig,
    #[command(flatten)]
    own: C,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

/// The whole `main` of a service's own binary: configuration from flags and environment, telemetry,
/// migrations (or only them, with `migrate`), the service built, served on its address with its
/// background work until SIGTERM or ctrl-c, then a graceful shutdown.
pub async fn run<S: Service>() -> Result<(), BoxError> {
    let role = S::ROLE;
    let matches = Cli::<S::Config>::command()
        .name(role.binary())
        .about(S::ABOUT)
        .get_matches();
    let cli = Cli::<S::Config>::from_arg_matches(&matches)?;
    let config = cli.service;
    let _telemetry = crate::telemetry::init(role.binary(), &config.telemetry)?;
    let database_url = config.database_url_or_default(role.name());
    if let Some(Command::Migrate) = cli.command {
        crate::db::connect_and_migrate::<S::Migrator>(&database_url).await?;
        tracing::info!("migrations applied");
        return Ok(());
    }
    let context = Context {
        database_url,
        peers: Addresses::from_env(),
        trusted_issuers: config.auth.trusted_issuers()?,
        service_api_key: config.service_api_key.clone(),
        audit_keys: audit_keys(&config)?,
        clock: Arc::new(SystemClock),
    };
    let service = S::build_with(context, cli.own).await?;
    let addr = config.listen_addr_or(role.default_port());
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "{role} listening");
    service
        .serve(listener, &config.server, crate::server::shutdown_signal())
        .await
}

/// The audit keys a service binary is configured with.
fn audit_keys(config: &ServiceConfig) -> Result<AuditKeys, BoxError> {
    let current = config
        .audit_key
        .as_deref()
        .ok_or("KOMMUNE_AUDIT_KEY is required: base64 of 32 random bytes, a secret of its own")?;
    Ok(AuditKeys::from_config(
        current,
        &config.audit_previous_keys,
    )?)
}

/// The file under the embedded suite's data directory holding the bootstrap admin key.
pub const ADMIN_KEY_FILE: &str = "admin-key";

/// The embedded suite as a service sees it while it is configured: its data directory, for files and
/// secrets made on first start, and identity, for the service account it may need.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// Where the suite keeps its SQLite files and secrets.
    pub data_dir: PathBuf,
    /// Where identity serves.
    pub identity_addr: String,
}

impl Embedded {
    /// `C` as the environment configures it (defaults where it does not).
    pub fn settings<C: Args + FromArgMatches>(&self) -> Result<C, BoxError> {
        let command = C::augment_args(clap::Command::new("kommune"));
        let matches = command.try_get_matches_from(["kommune"])?;
        Ok(C::from_arg_matches(&matches)?)
    }

    /// The path of `file` under the data directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.data_dir.join(file)
    }

    /// The audit keys of `role`: a key of its own, made on first start and kept under the data
    /// directory beside (not in) its database.
    pub fn audit_keys(&self, role: ServiceRole) -> Result<AuditKeys, BoxError> {
        let secret = self.secret(&format!("{role}-audit.key"), || Ok(AuditKey::generate()?))?;
        Ok(AuditKeys::new(AuditKey::from_base64(&secret)?, Vec::new()))
    }

    /// The secret kept in `file` under the data directory, made by `make` on first start.
    pub fn secret(
        &self,
        file: &str,
        make: impl FnOnce() -> Result<String, BoxError>,
    ) -> Result<String, BoxError> {
        let path = self.path(file);
        if let Some(secret) = read_secret(&path) {
            return Ok(secret);
        }
        let secret = make()?;
        write_secret(&path, &secret)?;
        Ok(secret)
    }

    /// The API key of `role`'s own service account: made on first start with the admin key (a service
    /// account with ROLE_SERVICE) and kept under the data directory. `None` when this data directory
    /// has no admin key (bootstrapped elsewhere).
    pub async fn service_key(&self, role: ServiceRole) -> Result<Option<String>, BoxError> {
        use id::service_account_service_client::ServiceAccountServiceClient;
        use kommune_proto::identity::v1 as id;
        let path = self.path(&format!("{role}-service-key"));
        if let Some(key) = read_secret(&path) {
            return Ok(Some(key));
        }
        let Some(admin_key) = read_secret(&self.path(ADMIN_KEY_FILE)) else {
            return Ok(None);
        };
        let channel = crate::client::channel(&self.identity_addr)?;
        let token = id::token_service_client::TokenServiceClient::new(channel.clone())
            .exchange_api_key(id::ExchangeApiKeyRequest { api_key: admin_key })
            .await?
            .into_inner()
            .access_token;
        let admin = crate::auth::Caller {
            subject: "standalone".into(),
            municipality_id: None,
            roles: Vec::new(),
            token,
        };
        let account = id::CreateServiceAccountRequest {
            idempotency_key: format!("standalone-{role}"),
            name: role.name().to_owned(),
            description: format!("The {role} service of the embedded suite"),
            roles: vec![id::Role::Service as i32],
            ..Default::default()
        };
        let account = ServiceAccountServiceClient::new(channel.clone())
            .create_service_account(crate::client::on_behalf_of(&admin, account))
            .await?
            .into_inner()
            .service_account
            .ok_or("identity returned no service account")?;
        let key = id::CreateApiKeyRequest {
            subject: format!("service-account:{}", account.service_account_id),
            description: "embedded suite".into(),
            ..Default::default()
        };
        let key = ServiceAccountServiceClient::new(channel)
            .create_api_key(crate::client::on_behalf_of(&admin, key))
            .await?
            .into_inner()
            .secret;
        write_secret(&path, &key)?;
        Ok(Some(key))
    }
}

/// Writes a secret readable only by its owner.
pub fn write_secret(path: &Path, secret: &str) -> Result<(), BoxError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{secret}\n"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Reads a secret back from its file.
pub fn read_secret(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|k| k.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_its_services_in_the_contracts() {
        for role in ServiceRole::ALL {
            assert!(
                role.grpc_services()
                    .any(|name| name.ends_with(".AuditService")),
                "{role} has no audit service among {:?}",
                role.grpc_services().collect::<Vec<_>>()
            );
            assert_eq!(ServiceRole::parse(role.name()), Some(role));
        }
        assert!(ServiceRole::Cases.has_event_feed());
        assert!(!ServiceRole::Notify.has_event_feed());
        assert_eq!(ServiceRole::Klik.addr_var(), "KOMMUNE_KLIK_ADDR");
        assert_eq!(ServiceRole::Cases.package(), "kommune.cases.v1");
        for role in ServiceRole::ALL {
            assert_eq!(role.binary(), format!("kommune-{role}"));
        }
    }

    #[test]
    fn every_kommune_service_belongs_to_a_role() {
        for name in kommune_proto::SERVICES {
            assert!(
                ServiceRole::ALL
                    .iter()
                    .any(|role| role.grpc_services().any(|s| s == *name)),
                "{name} belongs to no role: add its service to ServiceRole"
            );
        }
    }
}
