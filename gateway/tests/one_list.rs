//! The embedded suite and the gateway derive their services from the one list, `ServiceRole::ALL`:
//! every service listed runs, answers health under its package and each of its services' full names
//! through the gateway, and is routed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use kommune_gateway::standalone::{self, StandaloneConfig};
use kommune_platform::clock::SystemClock;
use kommune_platform::service::{ServiceRole, read_secret};
use kommune_platform::testing::{channel_to, exchange, with_bearer};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: StandaloneConfig,
}

/// Whether the gateway reports `name` SERVING within a few health rounds.
async fn serving(gateway: &tonic::transport::Channel, name: &str) -> bool {
    for _ in 0..50 {
        let status = HealthClient::new(gateway.clone())
            .check(HealthCheckRequest {
                service: name.to_owned(),
            })
            .await
            .map(|answer| answer.into_inner().status);
        if status.is_ok_and(|s| s == ServingStatus::Serving as i32) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test]
async fn every_service_of_the_list_is_started_reported_and_routed() {
    let dir = std::env::temp_dir().join(format!("kommune-one-list-{}", uuid_like()));
    let data_dir = dir.to_string_lossy().into_owned();
    let config = Cli::parse_from([
        "kommune",
        "--listen-addr",
        "127.0.0.1:0",
        "--data-dir",
        &data_dir,
    ])
    .config;
    let running = standalone::start(&config, Arc::new(SystemClock))
        .await
        .unwrap();
    let gateway = channel_to(running.gateway_addr);
    let mut started: Vec<_> = running.service_addrs.keys().copied().collect();
    started.sort();
    assert_eq!(started, ServiceRole::ALL.to_vec());

    let admin_key = read_secret(running.admin_key_file.as_deref().unwrap()).unwrap();
    let token = exchange(&gateway, &admin_key).await;
    for role in ServiceRole::ALL {
        assert!(
            serving(&gateway, &role.package()).await,
            "{role} is not reported"
        );
        let services: Vec<_> = role.grpc_services().collect();
        assert!(
            services.len() >= 2,
            "{role} has too few services: {services:?}"
        );
        for name in services {
            assert!(serving(&gateway, name).await, "{name} is not reported");
        }
        // Routed: the service itself refuses an audit query naming no entity (the gateway would
        // answer UNIMPLEMENTED for a service it does not route).
        let path = format!("/{}.AuditService/ListAuditRecords", role.package());
        let mut grpc = tonic::client::Grpc::new(gateway.clone());
        grpc.ready().await.unwrap();
        let refused = grpc
            .unary::<_, (), _>(
                with_bearer((), &token),
                path.parse().unwrap(),
                tonic_prost::ProstCodec::<(), ()>::default(),
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::InvalidArgument,
            "{role}: {refused:?}"
        );
    }
    running.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}
