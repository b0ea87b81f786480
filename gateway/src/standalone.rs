//! The embedded suite: every implemented service on its own loopback port plus the gateway in front,
//! in one process, on SQLite files under a data directory. The same code and hops as production;
//! which services run is configuration.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use kommune_platform::BoxError;
use kommune_platform::auth::AuthConfig;
use kommune_platform::clock::SharedClock;
use kommune_platform::config::{ServerConfig, TelemetryConfig, sqlite_url};

/// The services this build can run.
pub const SERVICES: &[&str] = &["identity", "cases", "changes", "klik", "notify"];
/// The file under the data directory holding the bootstrap admin key.
pub const ADMIN_KEY_FILE: &str = "admin-key";
/// The file under the data directory holding the key that seals personal ID numbers in cases.
pub const PERSONAL_ID_KEY_FILE: &str = "cases-personal-id.key";

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
    #[arg(long, env = "KOMMUNE_SERVICES", value_delimiter = ',', default_values_t = SERVICES.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())]
    pub services: Vec<String>,
    /// Token verification settings.
    #[command(flatten)]
    pub auth: AuthConfig,
    /// Server settings.
    #[command(flatten)]
    pub server: ServerConfig,
    /// Telemetry settings.
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

/// A running suite.
pub struct Running {
    /// Where the gateway listens.
    pub gateway_addr: SocketAddr,
    /// Where each service listens.
    pub service_addrs: HashMap<String, SocketAddr>,
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

/// Starts the configured services and the gateway.
pub async fn start(config: &StandaloneConfig, clock: SharedClock) -> Result<Running, BoxError> {
    let trusted_issuers = config.auth.trusted_issuers()?;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut service_addrs = HashMap::new();
    let mut admin_key_file = None;
    // Every listener first, so each service knows the others' addresses (klik asks identity).
    let mut listeners = Vec::new();
    for service in &config.services {
        if !SERVICES.contains(&service.as_str()) {
            return Err(format!(
                "unknown service {service}; this build runs {}",
                SERVICES.join(", ")
            )
            .into());
        }
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        service_addrs.insert(service.clone(), listener.local_addr()?);
        listeners.push((service.as_str(), listener));
    }
    let identity_addr = service_addrs
        .get("identity")
        .map(|addr| format!("http://{addr}"))
        .ok_or("the suite needs the identity service")?;
    for (service, listener) in listeners {
        let server = config.server.clone();
        let stop = stopped(stop_rx.clone());
        let database_url = sqlite_url(&config.data_dir, service);
        match service {
            "identity" => {
                let mut options = kommune_identity::Options::new(database_url, clock.clone());
                options.trusted_issuers = trusted_issuers.clone();
                let identity = kommune_identity::Identity::build(options).await?;
                let path = config.data_dir.join(ADMIN_KEY_FILE);
                if let Some(key) = identity.generated_admin_key() {
                    write_secret(&path, key)?;
                }
                if path.exists() {
                    admin_key_file = Some(path);
                }
                tasks.push(tokio::spawn(async move {
                    identity.serve(listener, &server, stop).await
                }));
            }
            "cases" => {
                let key = personal_id_key(&config.data_dir)?;
                let mut options = kommune_cases::Options::new(
                    database_url,
                    identity_addr.clone(),
                    key,
                    clock.clone(),
                );
                options.trusted_issuers = trusted_issuers.clone();
                options.changes_addr = service_addrs
                    .get("changes")
                    .map(|addr| format!("http://{addr}"));
                options.service_api_key =
                    service_key(&config.data_dir, &identity_addr, "cases").await?;
                let cases = kommune_cases::Cases::build(options).await?;
                tasks.push(tokio::spawn(async move {
                    cases.serve(listener, &server, stop).await
                }));
            }
            "changes" => {
                let changes = kommune_changes::Changes::build(kommune_changes::Options {
                    database_url,
                    identity_addr: identity_addr.clone(),
                    key_prefix: kommune_changes::domain::DEFAULT_KEY_PREFIX.to_owned(),
                    trusted_issuers: trusted_issuers.clone(),
                    clock: clock.clone(),
                    timeline_sweep_interval: kommune_changes::DEFAULT_TIMELINE_SWEEP_INTERVAL,
                })
                .await?;
                tasks.push(tokio::spawn(async move {
                    changes.serve(listener, &server, stop).await
                }));
            }
            "klik" => {
                let klik = kommune_klik::Klik::build(kommune_klik::Options {
                    database_url,
                    identity_addr: identity_addr.clone(),
                    trusted_issuers: trusted_issuers.clone(),
                    clock: clock.clone(),
                })
                .await?;
                tasks.push(tokio::spawn(async move {
                    klik.serve(listener, &server, stop).await
                }));
            }
            "notify" => {
                let key = service_key(&config.data_dir, &identity_addr, "notify")
                    .await?
                    .ok_or(
                        "notify needs a service account; this data directory has no admin key",
                    )?;
                let mut options = kommune_notify::Options::new(
                    database_url,
                    identity_addr.clone(),
                    key,
                    clock.clone(),
                );
                options.trusted_issuers = trusted_issuers.clone();
                let address = |service: &str| {
                    service_addrs
                        .get(service)
                        .map(|addr| format!("http://{addr}"))
                };
                options.cases_addr = address("cases");
                options.klik_addr = address("klik");
                options.changes_addr = address("changes");
                // No relay in the embedded suite: mail lands as .eml files beside the data.
                options.mail_drop_dir = config.data_dir.join("mail");
                let notify = kommune_notify::Notify::build(options).await?;
                tasks.push(tokio::spawn(async move {
                    notify.serve(listener, &server, stop).await
                }));
            }
            other => return Err(format!("unknown service {other}").into()),
        }
    }
    let upstreams = service_addrs
        .iter()
        .map(|(name, addr)| Ok((name.clone(), format!("http://{addr}").parse()?)))
        .collect::<Result<HashMap<_, _>, BoxError>>()?;
    let listener = TcpListener::bind(config.listen_addr).await?;
    let gateway_addr = listener.local_addr()?;
    let server = config.server.clone();
    let stop_gateway = stopped(stop_rx);
    tasks.push(tokio::spawn(async move {
        crate::serve(
            listener,
            upstreams,
            &identity_addr,
            trusted_issuers,
            clock,
            &server,
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

/// The key sealing personal ID numbers in the embedded cases database: made on first start and kept
/// beside the data it protects (production takes it from a secret).
fn personal_id_key(data_dir: &Path) -> Result<String, BoxError> {
    let path = data_dir.join(PERSONAL_ID_KEY_FILE);
    if let Some(key) = read_secret(&path) {
        return Ok(key);
    }
    let key = kommune_cases::vault::Vault::generate_key()?;
    write_secret(&path, &key)?;
    Ok(key)
}

/// A service's own API key for the embedded suite: made on first start with the admin key (a service
/// account with ROLE_SERVICE) and kept under the data directory. `None` when this data directory has
/// no admin key (bootstrapped elsewhere).
async fn service_key(
    data_dir: &Path,
    identity_addr: &str,
    service: &str,
) -> Result<Option<String>, BoxError> {
    use kommune_proto::identity::v1 as id;
    let path = data_dir.join(format!("{service}-service-key"));
    if let Some(key) = read_secret(&path) {
        return Ok(Some(key));
    }
    let Some(admin_key) = read_secret(&data_dir.join(ADMIN_KEY_FILE)) else {
        return Ok(None);
    };
    let channel = kommune_platform::client::channel(identity_addr)?;
    let token = id::token_service_client::TokenServiceClient::new(channel.clone())
        .exchange_api_key(id::ExchangeApiKeyRequest { api_key: admin_key })
        .await?
        .into_inner()
        .access_token;
    let admin = kommune_platform::auth::Caller {
        subject: "standalone".into(),
        municipality_id: None,
        roles: Vec::new(),
        token,
    };
    let account = id::CreateServiceAccountRequest {
        idempotency_key: format!("standalone-{service}"),
        name: service.to_owned(),
        description: format!("The {service} service of the embedded suite"),
        roles: vec![id::Role::Service as i32],
        ..Default::default()
    };
    let account =
        id::service_account_service_client::ServiceAccountServiceClient::new(channel.clone())
            .create_service_account(kommune_platform::client::on_behalf_of(&admin, account))
            .await?
            .into_inner()
            .service_account
            .ok_or("identity returned no service account")?;
    let key = id::CreateApiKeyRequest {
        subject: format!("service-account:{}", account.service_account_id),
        description: "embedded suite".into(),
        ..Default::default()
    };
    let key = id::service_account_service_client::ServiceAccountServiceClient::new(channel)
        .create_api_key(kommune_platform::client::on_behalf_of(&admin, key))
        .await?
        .into_inner()
        .secret;
    write_secret(&path, &key)?;
    Ok(Some(key))
}

/// Writes a secret readable only by its owner.
fn write_secret(path: &Path, secret: &str) -> Result<(), BoxError> {
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

/// Reads the admin key back from its file.
pub fn read_secret(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|k| k.trim().to_owned())
}

/// The newcomer's welcome: where the suite listens and the first call to make.
pub fn banner(running: &Running) -> String {
    let addr = running.gateway_addr;
    let mut services: Vec<_> = running.service_addrs.keys().cloned().collect();
    services.sort();
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
