//! The load harness: `cargo run -p kommune-bench --release -- [--cases N] [--open N] [--window N]
//! [--concurrency 1,16]`.
//!
//! Starts identity, cases and the gateway, and beside them a bare tonic server answering the health
//! check (the "echo": tonic with nothing behind it), all on one server thread, so every figure is a
//! ratio to what tonic itself costs on this machine. It seeds a backlog of open cases and the reports
//! of a detection window through the gateway, then at each of the chosen numbers of calls in flight
//! measures reads (GetCase) directly, through the gateway, and as JSON (Connect over HTTP/1.1) through
//! the gateway, creates (FileCase, every filing classified against the window), and the desk's reports
//! and list pages, printing p50, p99 and calls per second with the ratio to the echo.
//! Databases are SQLite files in a temporary directory, or PostgreSQL databases when
//! `KOMMUNE_TEST_POSTGRES_URL` names a server (as the tests use). Figures go in docs/benchmarks.md.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::oneshot;
use tonic::transport::Channel;

use kommune_bench::desk::{Desk, SPREAD_SYSTEMS};
use kommune_bench::pgbench;
use kommune_bench::{Load, Row, UNLIMITED, measure, print_row};
use kommune_platform::BoxError;
use kommune_platform::clock::SystemClock;
use kommune_platform::config::{ServerConfig, sqlite_url};
use kommune_platform::service::{Addresses, Service as _, ServiceRole};
use kommune_platform::testing::{
    channel_to, fresh_database_url, loopback_listener, on_postgres, with_bearer,
};
use kommune_proto::cases::v1 as cases;

/// The admin key identity is started with.
const ADMIN_KEY: &str = "kommune-bench-admin-key";

#[derive(Parser)]
#[command(about = "kommune's load harness: reads and creates beside a bare tonic echo")]
struct Args {
    /// Cases filed in the measurement of creates, shared among the numbers of calls in flight.
    #[arg(long, default_value_t = 2_000)]
    cases: usize,
    /// Open cases to seed first, on a system without outage detection: the backlog the desk's
    /// reports and lists run over.
    #[arg(long, default_value_t = 0)]
    open: usize,
    /// Reports to seed first in the detection window of the system the measured filings go to.
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// Calls in flight, one measurement each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16])]
    concurrency: Vec<usize>,
    /// Seconds each read measurement runs.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Runs cases in a process of its own (identity, the gateway and the echo stay on this process's
    /// server thread) and reports that process's memory.
    #[arg(long)]
    cases_process: bool,
    /// What `--cases-process` starts: cases alone, against the identity at this URL, with its
    /// database at `--cases-database`; it prints its address and serves until killed.
    #[arg(long, hide = true, requires = "cases_database")]
    serve_cases_for: Option<String>,
    /// The database of the cases started by `--cases-process`.
    #[arg(long, hide = true)]
    cases_database: Option<String>,
    /// Only the rows whose name holds one of these (e.g. `echo`, `GetCase, direct`; comma-separated):
    /// for counting one call's instructions under callgrind, or measuring the reports alone.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// Where the servers listen.
struct Servers {
    echo: SocketAddr,
    cases: SocketAddr,
    gateway: SocketAddr,
    /// The cases process, with `--cases-process` (killed when dropped).
    cases_process: Option<Child>,
    /// The cases database's URL.
    cases_database: String,
}

#[global_allocator]
static ALLOCATOR: kommune_platform::Allocator = kommune_platform::Allocator;

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if let (Some(identity_url), Some(database)) = (&args.serve_cases_for, &args.cases_database) {
        return serve_cases_alone(identity_url, database);
    }
    let data = std::env::temp_dir().join(format!("kommune-bench-{}", uuid::Uuid::new_v4()));
    let servers = start_servers(data.clone(), args.cases_process)?;
    // The client on its own runtime, so the server thread has its core to itself.
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let ran = client.block_on(run(args, servers));
    let _ = std::fs::remove_dir_all(&data);
    ran
}

/// Where a service's database lives: a fresh PostgreSQL database when `KOMMUNE_TEST_POSTGRES_URL` is
/// set, else a SQLite file under `data` (removed when the run ends).
async fn database_url(data: &Path, service: &str) -> String {
    if on_postgres() {
        fresh_database_url(service).await
    } else {
        sqlite_url(data, service)
    }
}

/// Starts every server on one thread with a runtime of its own: one core for the server.
fn start_servers(data: PathBuf, cases_process: bool) -> Result<Servers, BoxError> {
    let (started, addresses) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("servers".into())
        .spawn(move || {
            runtime.block_on(async move {
                let _ = started.send(serve_all(&data, cases_process).await);
                std::future::pending::<()>().await;
            });
        })?;
    addresses.blocking_recv()?
}

async fn serve_all(data: &Path, cases_process: bool) -> Result<Servers, BoxError> {
    let config = ServerConfig::default();
    let never = std::future::pending::<()>;

    let (listener, echo) = loopback_listener().await;
    let (_, health) = tonic_health::server::health_reporter();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    background(async move {
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming)
            .await
    });

    let mut options =
        kommune_identity::Options::new(database_url(data, "identity").await, Arc::new(SystemClock));
    options.bootstrap_admin_key = Some(ADMIN_KEY.into());
    let identity = kommune_identity::Identity::build(options).await?;
    let (listener, identity_addr) = loopback_listener().await;
    let identity_url = format!("http://{identity_addr}");
    let identity_config = config.clone();
    background(async move { identity.serve(listener, &identity_config, never()).await });

    let cases_database = database_url(data, "cases").await;
    let (cases_addr, cases_process) = if cases_process {
        let (addr, child) = cases_in_a_process(&cases_database, &identity_url).await?;
        (addr, Some(child))
    } else {
        let cases = build_cases(&cases_database, &identity_url).await?;
        let (listener, addr) = loopback_listener().await;
        let cases_config = config.clone();
        background(async move { cases.serve(listener, &cases_config, never()).await });
        (addr, None)
    };

    let mut upstreams = Addresses::default();
    upstreams.insert(ServiceRole::Identity, identity_url);
    upstreams.insert(ServiceRole::Cases, format!("http://{cases_addr}"));
    let (listener, gateway) = loopback_listener().await;
    background(async move {
        kommune_gateway::serve(
            listener,
            &upstreams,
            Vec::new(),
            Arc::new(SystemClock),
            &config,
            // No rate limits: the harness is one caller at full speed.
            &kommune_gateway::DoorConfig {
                rate_services: UNLIMITED,
                rate_people: UNLIMITED,
                rate_public: UNLIMITED,
                ..Default::default()
            },
            never(),
        )
        .await
    });
    Ok(Servers {
        echo,
        cases: cases_addr,
        gateway,
        cases_process,
        cases_database,
    })
}

async fn build_cases(
    database_url: &str,
    identity_url: &str,
) -> Result<kommune_cases::Cases, BoxError> {
    kommune_cases::Cases::build(kommune_cases::Options::new(
        database_url.to_owned(),
        identity_url.to_owned(),
        kommune_cases::vault::Vault::generate_key()?,
        Arc::new(SystemClock),
    ))
    .await
}

/// Starts this program again as the cases server alone and waits for the address it listens on.
async fn cases_in_a_process(
    database_url: &str,
    identity_url: &str,
) -> Result<(SocketAddr, Child), BoxError> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--serve-cases-for")
        .arg(identity_url)
        .arg("--cases-database")
        .arg(database_url)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or("the cases process has no output")?;
    let mut address = String::new();
    BufReader::new(stdout).read_line(&mut address).await?;
    Ok((address.trim().parse()?, child))
}

/// The cases server alone on one thread (what `--cases-process` starts): prints its address, then
/// serves until the process is killed.
fn serve_cases_alone(identity_url: &str, database_url: &str) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let cases = build_cases(database_url, identity_url).await?;
        let (listener, address) = loopback_listener().await;
        println!("{address}");
        cases
            .serve(
                listener,
                &ServerConfig::default(),
                std::future::pending::<()>(),
            )
            .await?;
        Ok(())
    })
}

/// Serves until the process ends; a server that stops early ends the run.
fn background<E: std::fmt::Display>(server: impl Future<Output = Result<(), E>> + Send + 'static) {
    tokio::spawn(async move {
        if let Err(err) = server.await {
            eprintln!("a server stopped: {err}");
            std::process::exit(1);
        }
    });
}

async fn run(args: Args, servers: Servers) -> Result<(), BoxError> {
    let gateway = channel_to(servers.gateway);
    let desk = Desk::set_up(&gateway, ADMIN_KEY).await?;
    let echo = tonic_health::pb::health_client::HealthClient::new(channel_to(servers.echo));
    let direct = cases::case_service_client::CaseServiceClient::new(channel_to(servers.cases));
    let through_gateway = cases::case_service_client::CaseServiceClient::new(gateway);
    let get_case = |client: &cases::case_service_client::CaseServiceClient<Channel>| {
        let (client, desk) = (client.clone(), &desk);
        move || {
            let mut client = client.clone();
            let request = with_bearer(
                cases::GetCaseRequest {
                    case_id: desk.first_case.clone(),
                },
                &desk.reporter,
            );
            async move { client.get_case(request).await.map(drop) }
        }
    };
    // The same read as JSON over HTTP/1.1 (Connect), as curl or a Connect client sends it.
    let http1: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let get_case_json = || {
        let request = http::Request::post(format!(
            "http://{}/kommune.cases.v1.CaseService/GetCase",
            servers.gateway
        ))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", desk.reporter))
        .body(Full::new(Bytes::from(format!(
            "{{\"caseId\":\"{}\"}}",
            desk.first_case
        ))));
        let http1 = http1.clone();
        async move {
            let response = http1
                .request(request.map_err(|_| ())?)
                .await
                .map_err(|_| ())?;
            let ok = response.status().is_success();
            response.into_body().collect().await.map_err(|_| ())?;
            if ok { Ok(()) } else { Err(()) }
        }
    };
    let file_case = || {
        let mut client = through_gateway.clone();
        let request = with_bearer(desk.new_case(), &desk.reporter);
        async move { client.file_case(request).await.map(drop) }
    };
    let file_distinct_case = || {
        let mut client = through_gateway.clone();
        let request = with_bearer(desk.distinct_case(), &desk.reporter);
        async move { client.file_case(request).await.map(drop) }
    };
    let file_spread_case = || {
        let mut client = through_gateway.clone();
        let request = with_bearer(desk.spread_case(), &desk.reporter);
        async move { client.file_case(request).await.map(drop) }
    };
    let file_open_case = || {
        let mut client = through_gateway.clone();
        let request = with_bearer(desk.open_case(), &desk.reporter);
        async move { client.file_case(request).await.map(drop) }
    };
    println!(
        "| in flight | call | calls | failed | calls/s | p50 | p99 | calls/s ÷ echo | p50 ÷ echo |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let seeding = 16;
    let seed_echo = measure(seeding, Load::For(Duration::from_secs(1)), || {
        let mut echo = echo.clone();
        async move {
            echo.check(tonic_health::pb::HealthCheckRequest::default())
                .await
                .map(drop)
        }
    })
    .await;
    if args.open > 0 {
        let row = measure(seeding, Load::Calls(args.open), file_open_case).await;
        print_row(
            seeding,
            "FileCase, seeding the open backlog (no detection)",
            &row,
            &seed_echo,
        );
    }
    if args.window > 0 {
        let row = measure(seeding, Load::Calls(args.window), file_case).await;
        print_row(
            seeding,
            "FileCase, seeding the detection window",
            &row,
            &seed_echo,
        );
    }
    let reports = cases::report_service_client::ReportServiceClient::new(channel_to(servers.cases));
    let report = |call: Report| {
        let (reports, desk) = (reports.clone(), &desk);
        move || {
            let mut reports = reports.clone();
            let supporter = desk.supporter.clone();
            let team_id = desk.team_id.clone();
            async move {
                let page = || {
                    Some(kommune_proto::common::v1::PageRequest {
                        page_size: 50,
                        ..Default::default()
                    })
                };
                match call {
                    Report::Backlog => reports
                        .get_backlog(with_bearer(cases::GetBacklogRequest::default(), &supporter))
                        .await
                        .map(drop),
                    Report::MonthlyCounts => reports
                        .get_monthly_counts(with_bearer(
                            cases::GetMonthlyCountsRequest {
                                first_month: "2026-01".into(),
                                last_month: "2027-12".into(),
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                    Report::Queue => reports
                        .list_queue(with_bearer(
                            cases::ListQueueRequest {
                                team_id,
                                unassigned_page: page(),
                                assigned_page: page(),
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                    Report::OldCases => reports
                        .list_old_cases(with_bearer(
                            cases::ListOldCasesRequest {
                                created_before: Some(prost_types::Timestamp {
                                    seconds: chrono::Utc::now().timestamp(),
                                    nanos: 0,
                                }),
                                page: page(),
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                    Report::BacklogByPlaceBefore => reports
                        .get_backlog(with_bearer(
                            cases::GetBacklogRequest {
                                created_before: Some(prost_types::Timestamp {
                                    seconds: chrono::Utc::now().timestamp(),
                                    nanos: 0,
                                }),
                                group_by: cases::BacklogGrouping::MunicipalityAndArea as i32,
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                    Report::Standup => reports
                        .get_standup(with_bearer(
                            cases::GetStandupRequest {
                                team_id,
                                unhandled_page: page(),
                                handled_page: page(),
                                awaiting_page: page(),
                                breached_page: page(),
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                    Report::HandlerCases => reports
                        .list_handler_cases(with_bearer(
                            cases::ListHandlerCasesRequest {
                                handler_user_id: String::new(),
                                page: page(),
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                    Report::SlaAlerts => reports
                        .list_sla_alerts(with_bearer(
                            cases::ListSlaAlertsRequest {
                                due_within_minutes: 7 * 24 * 60,
                                page: page(),
                            },
                            &supporter,
                        ))
                        .await
                        .map(drop),
                }
            }
        }
    };
    let duration = Load::For(Duration::from_secs(args.seconds));
    let spread_row =
        format!("FileCase, worded apart, over {SPREAD_SYSTEMS} systems, through the gateway");
    let wanted =
        |what: &str| args.only.is_empty() || args.only.iter().any(|only| what.contains(only));
    for &in_flight in &args.concurrency {
        let echo_row = "echo (bare tonic, health check)";
        let echo = if wanted(echo_row) {
            measure(in_flight, duration, || {
                let mut echo = echo.clone();
                async move {
                    echo.check(tonic_health::pb::HealthCheckRequest::default())
                        .await
                        .map(drop)
                }
            })
            .await
        } else {
            Row::default()
        };
        let creates = Load::Calls(args.cases / args.concurrency.len().max(1));
        // Futures, so that a row left out is never measured.
        let rows: Vec<(&str, Measurement<'_>)> = vec![
            (
                "GetCase, direct to cases",
                Box::pin(measure(in_flight, duration, get_case(&direct))),
            ),
            (
                "GetCase, through the gateway",
                Box::pin(measure(in_flight, duration, get_case(&through_gateway))),
            ),
            (
                "GetCase, JSON through the gateway",
                Box::pin(measure(in_flight, duration, get_case_json)),
            ),
            (
                "FileCase, through the gateway",
                Box::pin(measure(in_flight, creates, file_case)),
            ),
            (
                "FileCase, worded apart (no shared cause), through the gateway",
                Box::pin(measure(in_flight, creates, file_distinct_case)),
            ),
            (
                &spread_row,
                Box::pin(measure(in_flight, creates, file_spread_case)),
            ),
            (
                "GetBacklog, direct",
                Box::pin(measure(in_flight, duration, report(Report::Backlog))),
            ),
            (
                "GetBacklog by municipality and area, created before now, direct",
                Box::pin(measure(
                    in_flight,
                    duration,
                    report(Report::BacklogByPlaceBefore),
                )),
            ),
            (
                "GetStandup (a page of 50 of each list), direct",
                Box::pin(measure(in_flight, duration, report(Report::Standup))),
            ),
            (
                "ListHandlerCases (a page of 50), direct",
                Box::pin(measure(in_flight, duration, report(Report::HandlerCases))),
            ),
            (
                "GetMonthlyCounts (24 months), direct",
                Box::pin(measure(in_flight, duration, report(Report::MonthlyCounts))),
            ),
            (
                "ListQueue (a page of 50 of each list), direct",
                Box::pin(measure(in_flight, duration, report(Report::Queue))),
            ),
            (
                "ListOldCases (a page of 50), direct",
                Box::pin(measure(in_flight, duration, report(Report::OldCases))),
            ),
            (
                "ListSlaAlerts (a page of 50), direct",
                Box::pin(measure(in_flight, duration, report(Report::SlaAlerts))),
            ),
        ];
        if wanted(echo_row) {
            print_row(in_flight, echo_row, &echo, &echo);
        }
        for (what, row) in rows {
            if wanted(what) {
                print_row(in_flight, what, &row.await, &echo);
            }
        }
    }
    // Last, as its filings would join the windows of the rows above.
    if on_postgres() && wanted(pgbench::ROW) {
        let yardstick = pgbench::Yardstick::prepare(&servers.cases_database, &desk).await?;
        println!();
        pgbench::print_header();
        for &in_flight in &args.concurrency {
            yardstick.run(in_flight, args.seconds).await?;
        }
    }
    let cases_status = servers
        .cases_process
        .as_ref()
        .and_then(Child::id)
        .map(|pid| PathBuf::from(format!("/proc/{pid}/status")));
    let report = |when: &str| {
        println!(
            "{when}: this process: {}",
            memory(Path::new("/proc/self/status"))
        );
        if let Some(status) = &cases_status {
            println!("{when}: the cases process: {}", memory(status));
        }
    };
    println!();
    report("memory after the load");
    // Idle after the load: what the allocator has given back.
    tokio::time::sleep(Duration::from_secs(10)).await;
    report("after 10 s idle");
    Ok(())
}

/// A process's resident memory now and at its peak, as Linux reports it in `status`.
fn memory(status: &Path) -> String {
    let status = std::fs::read_to_string(status).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or("?".to_owned(), |value| value.trim().to_owned())
    };
    format!(
        "{} resident, {} at the peak",
        field("VmRSS:"),
        field("VmHWM:")
    )
}

/// A measurement not yet run.
type Measurement<'a> = Pin<Box<dyn Future<Output = Row> + 'a>>;

/// A report or list of the desk's, as the harness calls it.
#[derive(Clone, Copy)]
enum Report {
    Backlog,
    BacklogByPlaceBefore,
    Standup,
    HandlerCases,
    MonthlyCounts,
    Queue,
    OldCases,
    SlaAlerts,
}
