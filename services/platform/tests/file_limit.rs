//! A server at its process's open-file limit: connections that never speak, more than the process
//! has descriptors for, never stop it answering health checks on fresh connections, and its accept
//! loop does not spin. The server runs in a child process (this test binary again, running the ignored
//! server half) so that the low limit is its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

use kommune_platform::auth::TokenVerifier;
use kommune_platform::clock::SystemClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::server::{GrpcServer, NoFallback};
use kommune_platform::testing::channel_to;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The server half's open-file limit (soft and hard, so it cannot raise it).
const LIMIT: u64 = 128;
/// How many silent connections the client opens: more than the server has descriptors.
const FLOOD: usize = 200;

#[test]
#[ignore = "the server half of the file-limit test, which starts it in a process of its own"]
fn serve_at_a_low_open_file_limit() {
    rlimit::setrlimit(rlimit::Resource::NOFILE, LIMIT, LIMIT).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap());
        let verifier =
            TokenVerifier::remote("http://127.0.0.1:1", Arc::new(SystemClock), Vec::new());
        GrpcServer::new()
            .serve(
                listener,
                verifier,
                &ServerConfig::default(),
                None::<NoFallback>,
                std::future::pending(),
            )
            .await
            .unwrap();
    });
}

/// A process's CPU time so far (user and system), from `/proc/<pid>/stat` in clock ticks of 1/100 s.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test]
async fn at_its_open_file_limit_a_server_keeps_answering_health_checks_without_spinning() {
    let mut server = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "serve_at_a_low_open_file_limit",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = server.id().unwrap();
    let mut lines = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the server half did not start")
            .unwrap()
            .expect("the server half ended before listening");
        if let Some(addr) = line.strip_prefix("listening ") {
            break addr.to_owned();
        }
    };

    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        flood.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let (mut answered, mut tried) = (0, 0);
    while started.elapsed() < Duration::from_secs(3) {
        // A fresh connection each time, as a load balancer's probe makes.
        let mut health = HealthClient::new(channel_to(&addr));
        let mut request = tonic::Request::new(HealthCheckRequest::default());
        request.set_timeout(Duration::from_secs(1));
        tried += 1;
        if let Ok(Ok(answer)) =
            tokio::time::timeout(Duration::from_secs(1), health.check(request)).await
            && answer.into_inner().status == ServingStatus::Serving as i32
        {
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu = cpu_time(pid) - cpu_before;
    drop(flood);
    assert_eq!(answered, tried, "every health check answered at the limit");
    assert!(tried >= 10, "only {tried} health checks tried");
    // A loop spinning on EMFILE would take a whole core: three seconds of CPU.
    assert!(
        cpu < Duration::from_millis(1_500),
        "the server took {cpu:?} of CPU in {:?} at its limit",
        started.elapsed()
    );
    server.start_kill().unwrap();
}
