//! identity for other services' tests: started in-process beside them, as they meet it in production.

use std::net::SocketAddr;

use kommune_platform::clock::SharedClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{Running, fresh_database_url, loopback_listener, spawn};

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
