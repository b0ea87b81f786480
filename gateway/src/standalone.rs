//! The embedded suite: every service on its own loopback port plus the gateway in front, in one
//! process, on SQLite files under a data directory. The same code and hops as production; which
//! services run is configuration. The services are [`ServiceRole::ALL`]; [`launch`] names each one's crate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use kommune_platform::BoxError;
use kommune_platform::auth::{AuthConfig, TrustedIssuer};
use kommune_platform::clock::SharedClock;
use kommune_platform::config::{ServerConfig, TelemetryConfig, sqlite_url};
use kommune_platform::service::{
    ADMIN_KEY_FILE, Addresses, Context, Embedded, Service, ServiceRole, read_secret,
};

/// Configuration of the embedded suite.
#[derive(Debug, Clone, clap::Args)]
pub struct StandaloneConfig {
    /// The gateway's address.
    #[arg(long, env = "KOMMUNE_LISTEN_ADDR", default_value = "127.0.0.1:50051")]
    pub listen_addr: SocketAddr,
    /// Directory for the SQLite files and the admin key.
    #[arg(long, env = "KOMMUNE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The services to run (comma-separated).
    #[arg(long, env = "KOMMUNE_SERVICES", value_delimiter = ',', value_parser = parse_role, default_values_t = ServiceRole::ALL.to_vec())]
    pub services: Vec<ServiceRole>,
    /// Token verification settings.
    #[command(flatten)]
    pub auth: AuthConfig,
    /// Server settings.
    #[command(flatten)]
    pub server: ServerConfig,
    /// What the gateway accepts besides gRPC.
    #[command(flatten)]
    pub door: crate::DoorConfig,
    /// Telemetry settings.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

fn parse_role(name: &str) -> Result<ServiceRole, String> {
    ServiceRole::parse(name).ok_or_else(|| {
        let known: Vec<_> = ServiceRole::ALL.iter().map(|role| role.name()).collect();
        format!(
            "unknown service {name}; this build runs {}",
            known.join(", ")
        )
    })
}

/// A running suite.
pub struct Running {
    /// Where the gateway listens.
    pub gateway_addr: SocketAddr,
    /// Where each service listens.
    pub service_addrs: HashMap<ServiceRole, SocketAddr>,
    /// The file holding the admin key, when the suite bootstrapped one.
    pub admin_key_file: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), BoxError>>>,
}

impl Running {
    /// Stops every server gracefully and waits for them.
    pub async fn stop(self) -> Result<(), BoxError> {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// What every service of the suite starts with.
struct Start<'a> {
    suite: &'a Embedded,
    context: Context,
    server: ServerConfig,
    stop: watch::Receiver<bool>,
}

/// Builds the service `role` and serves it on `listener`: the one place that names each service's
/// crate.
async fn launch(
    role: ServiceRole,
    start: Start<'_>,
    listener: TcpListener,
) -> Result<JoinHandle<Result<(), BoxError>>, BoxError> {
    match role {
        ServiceRole::Identity => serve::<kommune_identity::Identity>(start, listener).await,
        ServiceRole::Cases => serve::<kommune_cases::Cases>(start, listener).await,
        ServiceRole::Changes => serve::<kommune_changes::Changes>(start, listener).await,
        ServiceRole::Klik => serve::<kommune_klik::Klik>(start, listener).await,
        ServiceRole::Catalogue => serve::<kommune_catalogue::Catalogue>(start, listener).await,
        ServiceRole::Guides => serve::<kommune_guides::Guides>(start, listener).await,
        ServiceRole::Notify => serve::<kommune_notify::Notify>(start, listener).await,
    }
}

async fn serve<S: Service>(
    mut start: Start<'_>,
    listener: TcpListener,
) -> Result<JoinHandle<Result<(), BoxError>>, BoxError> {
    if S::NEEDS_SERVICE_ACCOUNT {
        start.context.service_api_key = start.suite.service_key(S::ROLE).await?;
    }
    let config = S::embedded(start.suite).await?;
    let service = S::build_with(start.context, config).await?;
    let server = start.server;
    Ok(tokio::spawn(async move {
        service.serve(listener, &server, stopped(start.stop)).await
    }))
}

/// Starts the configured services, in the order of [`ServiceRole::ALL`], and the gateway.
pub async fn start(config: &StandaloneConfig, clock: SharedClock) -> Result<Running, BoxError> {
    let trusted_issuers: Vec<TrustedIssuer> = config.auth.trusted_issuers()?;
    let (stop, stop_rx) = watch::channel(false);
    let roles: Vec<ServiceRole> = ServiceRole::ALL
        .into_iter()
        .filter(|role| config.services.contains(role))
        .collect();
    if !roles.contains(&ServiceRole::Identity) {
        return Err("the suite needs the identity service".into());
    }
    // Every listener first, so each service knows the others' addresses (klik asks identity).
    let mut service_addrs = HashMap::new();
    let mut addresses = Addresses::default();
    let mut listeners = Vec::new();
    for role in roles {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        service_addrs.insert(role, addr);
        addresses.insert(role, format!("http://{addr}"));
        listeners.push((role, listener));
    }
    let suite = Embedded {
        data_dir: config.data_dir.clone(),
        identity_addr: addresses.identity()?.to_owned(),
    };
    let mut tasks = Vec::new();
    for (role, listener) in listeners {
        let start = Start {
            suite: &suite,
            context: Context {
                database_url: sqlite_url(&config.data_dir, role.name()),
                peers: addresses.clone(),
                trusted_issuers: trusted_issuers.clone(),
                service_api_key: None,
                audit_keys: suite.audit_keys(role)?,
                clock: clock.clone(),
            },
            server: config.server.clone(),
            stop: stop_rx.clone(),
        };
        tasks.push(launch(role, start, listener).await?);
    }
    let admin_key_file = Some(suite.path(ADMIN_KEY_FILE)).filter(|path| path.exists());
    let listener = TcpListener::bind(config.listen_addr).await?;
    let gateway_addr = listener.local_addr()?;
    let (server, door) = (config.server.clone(), config.door.clone());
    let stop_gateway = stopped(stop_rx);
    tasks.push(tokio::spawn(async move {
        crate::serve(
            listener,
            &addresses,
            trusted_issuers,
            clock,
            &server,
            &door,
            stop_gateway,
        )
        .await
    }));
    Ok(Running {
        gateway_addr,
        service_addrs,
        admin_key_file,
        stop,
        tasks,
    })
}

/// The newcomer's welcome: where the suite listens and the first call to make.
pub fn banner(running: &Running) -> String {
    let addr = running.gateway_addr;
    let mut services: Vec<_> = running.service_addrs.keys().copied().collect();
    services.sort();
    let services: Vec<_> = services.iter().map(|role| role.name()).collect();
    let mut text = format!(
        "kommune gateway listening on http://{addr} (services: {})\n",
        services.join(", ")
    );
    match running.admin_key_file.as_deref() {
        Some(path) => {
            let key = read_secret(path).unwrap_or_default();
            text.push_str(&format!(
                "consortium-admin API key: {key}\n  (kept in {path}; anyone holding it administers this suite)\n\n\
                 first call (grpcurl; the gateway serves reflection):\n  \
                 grpcurl -plaintext -d \"{{\\\"api_key\\\": \\\"$(cat {path})\\\"}}\" {addr} kommune.identity.v1.TokenService/ExchangeApiKey\n",
                path = path.display()
            ));
        }
        None => {
            text.push_str("no admin key file: this data directory was bootstrapped elsewhere\n")
        }
    }
    text
}
