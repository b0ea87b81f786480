//! Test support shared by every service's tests: a fresh database per test, on SQLite by default or on
//! PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` names a server (the test command starts one).

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

/// The environment variable naming a PostgreSQL server for tests (a URL to its `postgres` database).
pub const POSTGRES_URL_VAR: &str = "KOMMUNE_TEST_POSTGRES_URL";

/// A URL of a new, empty database: a uniquely named PostgreSQL database when the test server is
/// configured, otherwise a SQLite file in a fresh temporary directory.
pub async fn fresh_database_url(service: &str) -> String {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("test_{service}_{}", Uuid::new_v4().simple());
            let admin = Database::connect(admin_url.as_str())
                .await
                .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin_url}: {e}"));
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
            let _ = admin.close().await;
            let (base, _) = admin_url
                .rsplit_once('/')
                .unwrap_or((admin_url.as_str(), ""));
            format!("{base}/{name}")
        }
        _ => {
            let dir =
                std::env::temp_dir().join(format!("kommune-test-{}", Uuid::new_v4().simple()));
            crate::config::sqlite_url(&dir, service)
        }
    }
}

/// Whether tests run against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(POSTGRES_URL_VAR).is_ok_and(|v| !v.is_empty())
}

/// A request carrying `token` as its bearer token.
pub fn with_bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A lazily connecting channel to a server listening on `addr`.
pub fn channel_to(addr: impl std::fmt::Display) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map(|endpoint| endpoint.connect_lazy())
        .unwrap_or_else(|e| panic!("bad address {addr}: {e}"))
}

/// Exchanges an API key at identity for an access token; panics (fails the test) when refused.
pub async fn exchange(identity: &tonic::transport::Channel, api_key: &str) -> String {
    use kommune_proto::identity::v1 as id;
    id::token_service_client::TokenServiceClient::new(identity.clone())
        .exchange_api_key(id::ExchangeApiKeyRequest {
            api_key: api_key.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("cannot exchange an API key: {status}"))
        .into_inner()
        .access_token
}

/// A fresh access token for a user, through a new API key an admin makes for them.
pub async fn user_token(
    identity: &tonic::transport::Channel,
    admin: &str,
    user_id: &str,
) -> String {
    use kommune_proto::identity::v1 as id;
    let key =
        id::service_account_service_client::ServiceAccountServiceClient::new(identity.clone())
            .create_api_key(with_bearer(
                id::CreateApiKeyRequest {
                    subject: format!("user:{user_id}"),
                    ..Default::default()
                },
                admin,
            ))
            .await
            .unwrap_or_else(|status| panic!("cannot make an API key: {status}"))
            .into_inner()
            .secret;
    exchange(identity, &key).await
}

/// A service's own API key, as an operator makes it: a service account with ROLE_SERVICE named `name`
/// and a key for it.
pub async fn service_account_key(
    identity: &tonic::transport::Channel,
    admin: &str,
    name: &str,
) -> String {
    use kommune_proto::identity::v1 as id;
    let mut accounts =
        id::service_account_service_client::ServiceAccountServiceClient::new(identity.clone());
    let account = accounts
        .create_service_account(with_bearer(
            id::CreateServiceAccountRequest {
                name: name.into(),
                roles: vec![id::Role::Service as i32],
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap_or_else(|status| panic!("cannot make a service account: {status}"))
        .into_inner()
        .service_account
        .unwrap_or_default();
    accounts
        .create_api_key(with_bearer(
            id::CreateApiKeyRequest {
                subject: format!("service-account:{}", account.service_account_id),
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap_or_else(|status| panic!("cannot make an API key: {status}"))
        .into_inner()
        .secret
}

/// What a background server is given to know when to stop: it completes when the test stops the
/// server, or drops its [`Running`].
pub struct StopSignal(tokio::sync::oneshot::Receiver<()>);

impl std::future::Future for StopSignal {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A server running in the background of a test; dropping it stops the server too.
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops it gracefully and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .unwrap_or_else(|e| panic!("the server failed: {e}"));
    }
}

/// Runs `serve` on a task of its own, giving it the signal to stop on.
pub fn spawn<F>(serve: impl FnOnce(StopSignal) -> F) -> Running
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = tokio::sync::oneshot::channel();
    Running {
        stop: Some(stop),
        task: tokio::spawn(serve(StopSignal(stopped))),
    }
}

/// A listener on a free loopback port, and its address.
pub async fn loopback_listener() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("no loopback port: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    (listener, addr)
}

/// The `ErrorInfo` reason a refusal carries (empty when it carries none), after checking its domain.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    match status.get_details_error_info() {
        Some(info) => {
            assert_eq!(info.domain, crate::error::ERROR_DOMAIN, "{status:?}");
            info.reason
        }
        None => String::new(),
    }
}

/// The fields a status's `google.rpc.BadRequest` names.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
