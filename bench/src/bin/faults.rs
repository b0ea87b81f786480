//! `faults`: the suite under faults, seen from outside. It runs the whole suite in a child
//! process on a data directory of its own (loopback only) and, for each scenario, prints what was lost,
//! duplicated or refused and how long recovery took:
//!
//! - `kill`: sixteen writers file cases with idempotency keys, retrying until answered, while the suite
//!   is killed with SIGKILL and started again;
//! - `hung`: cases has two replicas, one of them a process stopped with SIGSTOP (its socket open, nothing
//!   answered), while eight callers read cases through the gateway with a deadline of two seconds;
//! - `flood`: the suite at an open-file limit of 1,024 gets 1,100 connections that never speak, while
//!   a health check is tried every 200 ms on a fresh connection;
//! - `burst`: 3,000 reads at once over 30 connections, three times what a server serves at once, and
//!   the memory after.
//!
//! `cargo run -p kommune-bench --release --bin faults [-- --scenarios kill,hung,flood,burst]`.
//! Results in docs/operations.md.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use tokio::process::{Child, Command};
use tonic::Code;
use tonic::transport::Channel;

use kommune_bench::desk::Desk;
use kommune_gateway::standalone::{self, StandaloneConfig};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;
use kommune_platform::service::{ADMIN_KEY_FILE, Addresses, ServiceRole};
use kommune_platform::testing::{channel_to, with_bearer};
use kommune_proto::cases::v1 as cases;
use kommune_proto::common::v1::PageRequest;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Where the suite's gateway listens.
const GATEWAY: &str = "127.0.0.1:50151";
/// Where the gateway that has a hung replica of cases beside the well one listens.
const GATEWAY_BESIDE_HUNG: &str = "127.0.0.1:50152";
/// Where the hung replica of cases listens.
const HUNG_REPLICA: &str = "127.0.0.1:50153";

#[derive(Parser)]
#[command(about = "kommune under faults: kill -9 during writes, an idle-connection flood, a burst")]
struct Args {
    /// The scenarios to run, in order.
    #[arg(long, value_delimiter = ',', default_values = ["kill", "hung", "flood", "burst"])]
    scenarios: Vec<Scenario>,
    /// What the tool starts as its child.
    #[command(subcommand)]
    child: Option<ChildCommand>,
}

/// A fault to put the suite through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// SIGKILL during writes.
    Kill,
    /// One of two replicas stopped with its socket open.
    Hung,
    /// Connections that never speak, past the open-file limit.
    Flood,
    /// Three times the calls a server serves at once.
    Burst,
}

#[derive(Subcommand)]
enum ChildCommand {
    /// Serves the whole suite until killed (what the tool starts).
    #[command(hide = true)]
    Suite {
        #[command(flatten)]
        config: Box<StandaloneConfig>,
        /// The open-file limit to serve under.
        #[arg(long)]
        open_files: Option<u64>,
        /// Also serve a gateway (at GATEWAY_BESIDE_HUNG) whose cases has this replica beside the well one.
        #[arg(long)]
        hung_cases_replica: Option<SocketAddr>,
    },
    /// Listens at HUNG_REPLICA and answers nothing, to be stopped with SIGSTOP (what the tool starts).
    #[command(hide = true)]
    HungReplica,
}

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    match args.child {
        Some(ChildCommand::Suite {
            config,
            open_files,
            hung_cases_replica,
        }) => return serve_suite(config, open_files, hung_cases_replica).await,
        Some(ChildCommand::HungReplica) => {
            let _listening = tokio::net::TcpListener::bind(HUNG_REPLICA).await?;
            std::future::pending::<()>().await;
        }
        None => {}
    }
    println!("| scenario | what happened |");
    println!("|---|---|");
    for scenario in args.scenarios {
        let data = std::env::temp_dir().join(format!("kommune-faults-{}", uuid::Uuid::new_v4()));
        let outcome = match scenario {
            Scenario::Kill => kill_during_writes(&data).await,
            Scenario::Hung => hung_replica(&data).await,
            Scenario::Flood => idle_flood(&data).await,
            Scenario::Burst => burst(&data).await,
        };
        let _ = std::fs::remove_dir_all(&data);
        match outcome {
            Ok(line) => println!("| {scenario:?} | {line} |"),
            Err(err) => println!("| {scenario:?} | failed to run: {err} |"),
        }
    }
    Ok(())
}

/// The child: the whole suite until killed, under `open_files`, and beside it a gateway whose cases
/// has `hung_cases_replica` as a second replica.
async fn serve_suite(
    config: Box<StandaloneConfig>,
    open_files: Option<u64>,
    hung_cases_replica: Option<SocketAddr>,
) -> Result<(), BoxError> {
    if let Some(limit) = open_files {
        rlimit::setrlimit(rlimit::Resource::NOFILE, limit, limit)?;
    }
    let running = standalone::start(&config, Arc::new(SystemClock)).await?;
    if let Some(hung) = hung_cases_replica {
        let mut upstreams = Addresses::default();
        for (role, addr) in &running.service_addrs {
            upstreams.insert(*role, format!("http://{addr}"));
        }
        let well = running.service_addrs[&ServiceRole::Cases];
        upstreams.insert(ServiceRole::Cases, format!("http://{hung},http://{well}"));
        let listener = tokio::net::TcpListener::bind(GATEWAY_BESIDE_HUNG).await?;
        tokio::spawn(async move {
            kommune_gateway::serve(
                listener,
                &upstreams,
                config.auth.trusted_issuers().unwrap_or_default(),
                Arc::new(SystemClock),
                &config.server,
                &config.door,
                std::future::pending(),
            )
            .await
        });
    }
    std::future::pending::<()>().await;
    running.stop().await
}

/// The suite in a child process on `data`, killed when dropped.
async fn start_suite(data: &Path, open_files: Option<u64>) -> Result<Child, BoxError> {
    start_suite_with(data, open_files, None).await
}

/// The suite in a child process on `data`, with a second gateway whose cases has the hung replica at
/// `hung_cases_replica` beside the well one when given; killed when dropped.
async fn start_suite_with(
    data: &Path,
    open_files: Option<u64>,
    hung_cases_replica: Option<&str>,
) -> Result<Child, BoxError> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["suite", "--listen-addr", GATEWAY, "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "error")
        // The writers are one person filing fast; the door's rates would refuse them.
        .env("KOMMUNE_RATE_PEOPLE", "1000000/1000000")
        .env("KOMMUNE_RATE_SERVICES", "1000000/1000000")
        .env("KOMMUNE_RATE_PUBLIC", "1000000/1000000")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    if let Some(limit) = open_files {
        command.args(["--open-files", &limit.to_string()]);
    }
    if let Some(hung) = hung_cases_replica {
        command.args(["--hung-cases-replica", hung]);
    }
    Ok(command.spawn()?)
}

/// Waits until the gateway reports cases serving; how long that took.
async fn ready(gateway: &Channel) -> Result<Duration, BoxError> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if serving(gateway, "kommune.cases.v1").await {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("the suite did not start within two minutes".into())
}

/// Whether the gateway answers a health check for `service` with SERVING within a second.
async fn serving(gateway: &Channel, service: &str) -> bool {
    let mut client = HealthClient::new(gateway.clone());
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: service.into(),
    });
    request.set_timeout(Duration::from_secs(1));
    let answer = tokio::time::timeout(Duration::from_secs(1), client.check(request)).await;
    matches!(answer, Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32)
}

/// A desk set up through the suite on `data` with its bootstrapped admin key.
async fn desk(gateway: &Channel, data: &Path) -> Result<Desk, BoxError> {
    let admin_key = std::fs::read_to_string(data.join(ADMIN_KEY_FILE))?;
    Desk::set_up(gateway, admin_key.trim()).await
}

/// Writers file cases with idempotency keys, each retrying its case until answered, while the suite
/// is killed and started again; then every case is read back by its title, which holds its key.
async fn kill_during_writes(data: &Path) -> Result<String, BoxError> {
    const WRITERS: usize = 16;
    let gateway = channel_to(GATEWAY);
    let child = start_suite(data, None).await?;
    ready(&gateway).await?;
    let desk = Arc::new(desk(&gateway, data).await?);
    let acknowledged: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let retries = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (desk, acknowledged, retries, stop, gateway) = (
            desk.clone(),
            acknowledged.clone(),
            retries.clone(),
            stop.clone(),
            gateway.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut client = cases::case_service_client::CaseServiceClient::new(gateway);
            while !stop.load(Ordering::Relaxed) {
                let key = uuid::Uuid::new_v4().to_string();
                let request = cases::FileCaseRequest {
                    title: format!("storm {key}"),
                    idempotency_key: key.clone(),
                    ..desk.distinct_case()
                };
                loop {
                    match client
                        .file_case(with_bearer(request.clone(), &desk.reporter))
                        .await
                    {
                        Ok(filed) => {
                            let id = filed.into_inner().case.unwrap_or_default().case_id;
                            acknowledged
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .insert(key, id);
                            break;
                        }
                        Err(_) => {
                            retries.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut child = child;
    child.start_kill()?;
    child.wait().await?;
    let killed = Instant::now();
    let before_kill = acknowledged
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    let child = start_suite(data, None).await?;
    ready(&gateway).await?;
    // Back when the first writer is answered again.
    let mut recovered = None;
    while killed.elapsed() < Duration::from_secs(120) {
        if acknowledged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            > before_kill
        {
            recovered = Some(killed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await?;
    }

    let stored = storm_cases(&gateway, &desk).await?;
    let acknowledged = acknowledged.lock().unwrap_or_else(PoisonError::into_inner);
    let lost = acknowledged
        .iter()
        .filter(|(key, id)| stored.get(*key).is_none_or(|ids| !ids.contains(id)))
        .count();
    let duplicated: usize = stored.values().map(|ids| ids.len() - 1).sum();
    let unacknowledged = stored
        .keys()
        .filter(|key| !acknowledged.contains_key(*key))
        .count();
    drop(child);
    Ok(format!(
        "{} cases acknowledged ({before_kill} before the SIGKILL), {} retries; lost {lost}, \
         duplicated {duplicated}, stored but never acknowledged {unacknowledged}; writers answered \
         again {} after the kill",
        acknowledged.len(),
        retries.load(Ordering::Relaxed),
        recovered.map_or("never".to_owned(), |took| format!(
            "{:.1} s",
            took.as_secs_f64()
        )),
    ))
}

/// The storm's cases by the key in their titles.
async fn storm_cases(
    gateway: &Channel,
    desk: &Desk,
) -> Result<HashMap<String, Vec<String>>, BoxError> {
    let mut client = cases::case_service_client::CaseServiceClient::new(gateway.clone());
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_cases(with_bearer(
                cases::ListCasesRequest {
                    page: Some(PageRequest {
                        page_size: 500,
                        page_token: token,
                    }),
                    ..Default::default()
                },
                &desk.reporter,
            ))
            .await?
            .into_inner();
        for case in page.cases {
            if let Some(key) = case.title.strip_prefix("storm ") {
                stored.entry(key.to_owned()).or_default().push(case.case_id);
            }
        }
        token = page.page.unwrap_or_default().next_page_token;
        if token.is_empty() {
            return Ok(stored);
        }
    }
}

/// Eight callers read cases for twenty seconds through a gateway whose cases has two replicas, one
/// of them a stopped process (its socket open, nothing answered), each call with a deadline of two
/// seconds: how many calls the hung replica cost, and when the last of them was.
async fn hung_replica(data: &Path) -> Result<String, BoxError> {
    const CALLERS: usize = 8;
    const DEADLINE: Duration = Duration::from_secs(2);
    let mut replica = Command::new(std::env::current_exe()?)
        .arg("hung-replica")
        .kill_on_drop(true)
        .spawn()?;
    let replica_pid = replica.id().ok_or("the hung replica has no process id")?;
    let listening = Instant::now();
    while tokio::net::TcpStream::connect(HUNG_REPLICA).await.is_err() {
        if listening.elapsed() > Duration::from_secs(10) {
            return Err("the hung replica did not listen".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = Command::new("kill")
        .args(["-STOP", &replica_pid.to_string()])
        .status()
        .await?;
    if !stopped.success() {
        return Err("cannot stop the hung replica".into());
    }
    let gateway = channel_to(GATEWAY);
    let child = start_suite_with(data, None, Some(HUNG_REPLICA)).await?;
    ready(&gateway).await?;
    let desk = Arc::new(desk(&gateway, data).await?);
    let beside_hung = channel_to(GATEWAY_BESIDE_HUNG);
    // Every call: when it started (since the callers began), how long it took, and whether it was served.
    let calls: Arc<Mutex<Vec<(Duration, Duration, bool)>>> = Arc::default();
    let started = Instant::now();
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (desk, calls, gateway) = (desk.clone(), calls.clone(), beside_hung.clone());
        callers.push(tokio::spawn(async move {
            let mut client = cases::case_service_client::CaseServiceClient::new(gateway);
            while started.elapsed() < Duration::from_secs(20) {
                let mut request = with_bearer(
                    cases::GetCaseRequest {
                        case_id: desk.first_case.clone(),
                    },
                    &desk.reporter,
                );
                request.set_timeout(DEADLINE);
                let at = started.elapsed();
                let served = client.get_case(request).await.is_ok();
                let took = started.elapsed() - at;
                calls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((at, took, served));
                if !served {
                    // As a caller's retry policy would.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for caller in callers {
        caller.await?;
    }
    drop(child);
    let _ = Command::new("kill")
        .args(["-CONT", &replica_pid.to_string()])
        .status()
        .await;
    replica.start_kill()?;
    let calls = calls.lock().unwrap_or_else(PoisonError::into_inner);
    let late = |&&(_, took, served): &&(Duration, Duration, bool)| {
        !served || took > Duration::from_millis(100)
    };
    let failed = calls.iter().filter(|(_, _, served)| !served).count();
    let late_calls = calls.iter().filter(late).count();
    let last_late = calls.iter().filter(late).map(|(at, _, _)| *at).max();
    let slowest = calls
        .iter()
        .map(|(_, took, _)| *took)
        .max()
        .unwrap_or_default();
    let slowest = format!("{:.2} s", slowest.as_secs_f64());
    let mut after: Vec<Duration> = calls
        .iter()
        .filter(|(at, _, _)| last_late.is_none_or(|last| *at > last))
        .map(|(_, took, _)| *took)
        .collect();
    after.sort();
    let percentile = |p: usize| {
        after
            .get((after.len() * p / 100).min(after.len().saturating_sub(1)))
            .map_or("-".to_owned(), |took| {
                format!("{:.2} ms", took.as_secs_f64() * 1000.0)
            })
    };
    Ok(format!(
        "{} reads by {CALLERS} callers with a {} s deadline: {failed} failed, {late_calls} late \
         (over 100 ms or failed; the slowest took {}), the last of them {}; after it {} reads, p50 \
         {} and p99 {}",
        calls.len(),
        DEADLINE.as_secs(),
        slowest,
        last_late.map_or("never".to_owned(), |at| format!(
            "{:.1} s into the run",
            at.as_secs_f64()
        )),
        after.len(),
        percentile(50),
        percentile(99),
    ))
}

/// 1,100 connections that never speak, against a suite whose open-file limit is 1,024, while a
/// health check is tried every 200 ms on a fresh connection.
async fn idle_flood(data: &Path) -> Result<String, BoxError> {
    const FLOOD: usize = 1_100;
    let gateway = channel_to(GATEWAY);
    let child = start_suite(data, Some(1_024)).await?;
    ready(&gateway).await?;
    let pid = child.id().ok_or("the suite has no process id")?;
    let cpu_before = cpu_time(pid);
    let flooded = Instant::now();
    let address: SocketAddr = GATEWAY.parse()?;
    let mut flood = Vec::new();
    for _ in 0..FLOOD {
        if let Ok(socket) = tokio::net::TcpStream::connect(address).await {
            flood.push(socket);
        }
    }
    let mut answered = 0;
    let mut unanswered = 0;
    let mut last_unanswered = None;
    while flooded.elapsed() < Duration::from_secs(20) {
        // A fresh connection each time, as a load balancer's probe makes.
        if serving(&channel_to(GATEWAY), "").await {
            answered += 1;
        } else {
            unanswered += 1;
            last_unanswered = Some(flooded.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu = (cpu_time(pid) - cpu_before) / flooded.elapsed().as_secs_f64();
    drop(flood);
    drop(child);
    Ok(format!(
        "{FLOOD} silent connections: health answered {answered} times, unanswered {unanswered} \
         (the last {}), the suite's CPU {:.0}% of a core meanwhile",
        last_unanswered.map_or("never".to_owned(), |at| format!(
            "{:.1} s into the flood",
            at.as_secs_f64()
        )),
        cpu * 100.0
    ))
}

/// 3,000 reads at once, three times what a server serves at once, for five seconds; the suite's
/// memory before, at its peak, and ten seconds and a minute after.
async fn burst(data: &Path) -> Result<String, BoxError> {
    const IN_FLIGHT: usize = 3_000;
    let gateway = channel_to(GATEWAY);
    let child = start_suite(data, None).await?;
    ready(&gateway).await?;
    let desk = Arc::new(desk(&gateway, data).await?);
    let pid = child.id().ok_or("the suite has no process id")?;
    let before = memory(pid, "VmRSS:");
    let (served, shed, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    // As many clients' connections (one connection carries only so many calls at once).
    let connections: Vec<Channel> = (0..IN_FLIGHT / 100).map(|_| channel_to(GATEWAY)).collect();
    let started = Instant::now();
    let mut callers = Vec::new();
    for caller in 0..IN_FLIGHT {
        let (desk, served, shed, other, gateway) = (
            desk.clone(),
            served.clone(),
            shed.clone(),
            other.clone(),
            connections[caller % connections.len()].clone(),
        );
        callers.push(tokio::spawn(async move {
            let mut client = cases::case_service_client::CaseServiceClient::new(gateway);
            while started.elapsed() < Duration::from_secs(5) {
                let request = with_bearer(
                    cases::GetCaseRequest {
                        case_id: desk.first_case.clone(),
                    },
                    &desk.reporter,
                );
                match client.get_case(request).await {
                    Ok(_) => served.fetch_add(1, Ordering::Relaxed),
                    Err(status) if status.code() == Code::Unavailable => {
                        shed.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(_) => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for caller in callers {
        caller.await?;
    }
    let peak = memory(pid, "VmHWM:");
    let after_load = memory(pid, "VmRSS:");
    drop(connections);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after_idle = memory(pid, "VmRSS:");
    tokio::time::sleep(Duration::from_secs(50)).await;
    let after_minute = memory(pid, "VmRSS:");
    let healthy = serving(&gateway, "").await;
    drop(child);
    Ok(format!(
        "{IN_FLIGHT} in flight for 5 s: {} served, {} shed UNAVAILABLE, {} other failures; resident \
         memory {before} before, {peak} at the peak, {after_load} after the burst, {after_idle} \
         after 10 s idle, {after_minute} after a minute; health {}",
        served.load(Ordering::Relaxed),
        shed.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        if healthy {
            "answering"
        } else {
            "NOT answering"
        },
    ))
}

/// A process's CPU time so far in seconds (user and system), from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command (which may hold spaces) in parentheses; utime and stime are the
    // 14th and 15th of the whole line.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Linux counts in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

/// A line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`), e.g. `52344 kB`.
fn memory(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .map_or("?".to_owned(), |value| value.trim().to_owned())
}
