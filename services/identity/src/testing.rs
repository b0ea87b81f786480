//! identity for other services' tests: started in-process beside them, as they meet it in production.

use std::net::SocketAddr;

use kommune_platform::clock::SharedClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, fresh_database_url, loopback_listener, spawn, user_token, with_bearer,
};
use kommune_proto::identity::v1 as id;
use tonic::transport::Channel;

use crate::{Identity, Options};

/// Starts identity on a fresh database with a consortium-admin API key `admin_key`, on a free loopback
/// port: its address, and the running server (dropping it stops identity).
pub async fn start(clock: SharedClock, admin_key: &str) -> (SocketAddr, Running) {
    let mut options = Options::new(fresh_database_url("identity").await, clock);
    options.bootstrap_admin_key = Some(admin_key.to_owned());
    let identity = Identity::build(options)
        .await
        .unwrap_or_else(|e| panic!("identity does not start: {e}"));
    let (listener, addr) = loopback_listener().await;
    let running = spawn(|stop| async move {
        identity
            .serve(listener, &ServerConfig::default(), stop)
            .await
            .unwrap_or_else(|e| panic!("identity failed: {e}"));
    });
    (addr, running)
}

/// A new municipality, made by the admin token `admin`: its id.
pub async fn municipality(identity: &Channel, admin: &str, code: &str, cvr: &str) -> String {
    let request = id::CreateMunicipalityRequest {
        code: code.into(),
        name: format!("Kommune {code}"),
        cvr_number: cvr.into(),
        ..Default::default()
    };
    id::municipality_service_client::MunicipalityServiceClient::new(identity.clone())
        .create_municipality(with_bearer(request, admin))
        .await
        .unwrap_or_else(|status| panic!("cannot create a municipality: {status}"))
        .into_inner()
        .municipality
        .unwrap_or_else(|| panic!("identity answered without a municipality"))
        .municipality_id
}

/// A new user of `municipality` (empty for suite-wide roles) with `role`, made by the admin token
/// `admin`: their id and a token for them.
pub async fn user(
    identity: &Channel,
    admin: &str,
    municipality: &str,
    email: &str,
    role: id::Role,
) -> (String, String) {
    let request = id::CreateUserRequest {
        municipality_id: municipality.into(),
        name: "Test Person".into(),
        email: email.into(),
        roles: vec![role as i32],
        ..Default::default()
    };
    let user = id::user_service_client::UserServiceClient::new(identity.clone())
        .create_user(with_bearer(request, admin))
        .await
        .unwrap_or_else(|status| panic!("cannot create a user: {status}"))
        .into_inner()
        .user
        .unwrap_or_else(|| panic!("identity answered without a user"));
    let token = user_token(identity, admin, &user.user_id).await;
    (user.user_id, token)
}
