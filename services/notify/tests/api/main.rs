//! The notify service through its real gRPC API, beside a real identity and cases (in-process), a real
//! SMTP server on loopback (Python's aiosmtpd, writing a maildir) and a webhook receiver, on fresh
//! databases (SQLite, or PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod delivery;
mod retention;
mod rules;
mod subscriptions;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::net::TcpListener;
use tonic::transport::Channel;

use kommune_notify::{Notify, Options};
use kommune_platform::clock::{SharedClock, SystemClock};
use kommune_platform::config::ServerConfig;
use kommune_platform::service::{Service as _, ServiceRole};
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, service_account_key,
    spawn, user_token, violated_fields, with_bearer as bearer,
};
use kommune_proto::cases::v1 as cases;
use kommune_proto::identity::v1 as id;
use kommune_proto::notify::v1 as pb;

const ADMIN_KEY: &str = "notify-test-admin-key-0123456789";
const PERSONAL_ID_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn clock() -> SharedClock {
    Arc::new(SystemClock)
}

/// Waits until `check` holds, or fails the test after 30 seconds saying what was awaited.
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port (bound, then released for a server to take).
async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// identity and cases with one municipality, an eligible reporter, a supporter, a team, an area and a
/// system; and the API key of notify's service account.
struct Suite {
    identity: Channel,
    identity_addr: SocketAddr,
    cases: Channel,
    cases_addr: SocketAddr,
    admin: String,
    municipality: String,
    reporter_id: String,
    reporter: String,
    supporter_id: String,
    supporter: String,
    system: String,
    area: String,
    notify_key: String,
    _services: Vec<Running>,
}

impl Suite {
    async fn start() -> Self {
        let (identity_addr, identity_running) =
            kommune_identity::testing::start(clock(), ADMIN_KEY).await;
        let identity_channel = channel_to(identity_addr);
        let admin = exchange(&identity_channel, ADMIN_KEY).await;
        let cases_key = service_account_key(&identity_channel, &admin, "cases").await;
        let notify_key = service_account_key(&identity_channel, &admin, "notify").await;
        let mut options = kommune_cases::Options::new(
            fresh_database_url("cases").await,
            format!("http://{identity_addr}"),
            PERSONAL_ID_KEY,
            clock(),
        );
        options.service_api_key = Some(cases_key);
        let cases_service = kommune_cases::Cases::build(options).await.unwrap();
        let (listener, cases_addr) = loopback_listener().await;
        let cases_running = spawn(|stop| async move {
            cases_service
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        let cases_channel = channel_to(cases_addr);

        let municipality = create_municipality(
            &identity_channel,
            &admin,
            "751",
            "Aarhus Kommune",
            "55133018",
        )
        .await;
        let reporter_id = eligible_user(
            &identity_channel,
            &admin,
            &municipality,
            "reporter@aarhus.dk",
        )
        .await;
        let supporter_id = create_user(
            &identity_channel,
            &admin,
            "",
            "2nd@supplier.dk",
            id::Role::SupplierSecondLine,
        )
        .await;
        let mut reference =
            cases::reference_service_client::ReferenceServiceClient::new(cases_channel.clone());
        let team = reference
            .create_team(bearer(
                cases::CreateTeamRequest {
                    team: Some(cases::Team {
                        name: "Ydelser".into(),
                        line: cases::SupportLine::Second as i32,
                        member_user_ids: vec![supporter_id.clone()],
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .team
            .unwrap();
        let area = reference
            .create_area(bearer(
                cases::CreateAreaRequest {
                    area: Some(cases::Area {
                        name: "Udbetaling".into(),
                        team_id: team.team_id,
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .area
            .unwrap()
            .area_id;
        let system = reference
            .create_system(bearer(
                cases::CreateSystemRequest {
                    system: Some(cases::System {
                        name: "KY".into(),
                        chain_responsibility: true,
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .system
            .unwrap()
            .system_id;
        let reporter = user_token(&identity_channel, &admin, &reporter_id).await;
        let supporter = user_token(&identity_channel, &admin, &supporter_id).await;
        Self {
            identity: identity_channel,
            identity_addr,
            cases: cases_channel,
            cases_addr,
            admin,
            municipality,
            reporter_id,
            reporter,
            supporter_id,
            supporter,
            system,
            area,
            notify_key,
            _services: vec![identity_running, cases_running],
        }
    }

    /// notify's options on `database_url`, following cases, mailing through the relay at `smtp_port`,
    /// retrying fast.
    fn notify_options(&self, database_url: &str, smtp_port: u16) -> Options {
        let mut options = Options::new(
            database_url,
            format!("http://{}", self.identity_addr),
            self.notify_key.clone(),
            clock(),
        );
        options
            .peers
            .insert(ServiceRole::Cases, format!("http://{}", self.cases_addr));
        options.smtp_url = Some(format!("smtp://127.0.0.1:{smtp_port}"));
        options.delivery.retry = kommune_notify::domain::RetryPolicy {
            base: chrono::Duration::milliseconds(100),
            max: chrono::Duration::milliseconds(400),
            attempts: 1_000,
        };
        options.delivery.batch = 5;
        options.poll_interval = Duration::from_millis(50);
        options
    }

    /// Starts a notify replica with `options`.
    async fn notify(
        &self,
        options: Options,
    ) -> (Channel, Running, Arc<kommune_notify::registry::Registry>) {
        let notify = Notify::build(options).await.unwrap();
        let registry = notify.registry();
        let (listener, addr) = loopback_listener().await;
        let running = spawn(|stop| async move {
            notify
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        (channel_to(addr), running, registry)
    }

    /// A relay on a free port and a notify on a fresh database sending to it.
    async fn notify_with_relay(
        &self,
    ) -> (
        SmtpServer,
        Channel,
        Running,
        Arc<kommune_notify::registry::Registry>,
    ) {
        let port = free_port().await;
        let smtp = SmtpServer::start(port).await;
        let (notify, running, registry) = self
            .notify(self.notify_options(&fresh_database_url("notify").await, port))
            .await;
        (smtp, notify, running, registry)
    }

    /// Files a case as the reporter.
    async fn file(&self, title: &str) -> cases::Case {
        self.file_as(&self.reporter, title).await
    }

    /// Files a case as the user of `token`.
    async fn file_as(&self, token: &str, title: &str) -> cases::Case {
        cases::case_service_client::CaseServiceClient::new(self.cases.clone())
            .file_case(bearer(
                cases::FileCaseRequest {
                    title: title.into(),
                    description: format!("{title}: beløbet er forkert efter omregning"),
                    kind: cases::CaseKind::Fault as i32,
                    severity: cases::Severity::Normal as i32,
                    system_id: self.system.clone(),
                    area_id: self.area.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// Subscribes the reporter.
    async fn subscribe(
        &self,
        notify: &Channel,
        subscription: pb::Subscription,
    ) -> Result<pb::Subscription, tonic::Status> {
        Ok(
            pb::subscription_service_client::SubscriptionServiceClient::new(notify.clone())
                .create_subscription(bearer(
                    pb::CreateSubscriptionRequest {
                        subscription: Some(subscription),
                    },
                    &self.reporter,
                ))
                .await?
                .into_inner()
                .subscription
                .unwrap(),
        )
    }

    /// The reporter's inbox.
    async fn reporter_inbox(&self, notify: &Channel) -> Vec<pb::InboxItem> {
        pb::inbox_service_client::InboxServiceClient::new(notify.clone())
            .list_inbox(bearer(pb::ListInboxRequest::default(), &self.reporter))
            .await
            .unwrap()
            .into_inner()
            .items
    }

    /// A municipality besides the suite's Aarhus.
    async fn municipality(&self, code: &str, name: &str, cvr: &str) -> String {
        create_municipality(&self.identity, &self.admin, code, name, cvr).await
    }

    /// The notifications notify holds, as the supplier's support sees them.
    async fn notifications(
        &self,
        notify: &Channel,
        state: pb::DeliveryState,
    ) -> Vec<pb::Notification> {
        pb::delivery_service_client::DeliveryServiceClient::new(notify.clone())
            .list_notifications(bearer(
                pb::ListNotificationsRequest {
                    state: state as i32,
                    page: Some(kommune_proto::common::v1::PageRequest {
                        page_size: 500,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &self.supporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .notifications
    }
}

async fn create_municipality(
    identity: &Channel,
    admin: &str,
    code: &str,
    name: &str,
    cvr: &str,
) -> String {
    id::municipality_service_client::MunicipalityServiceClient::new(identity.clone())
        .create_municipality(bearer(
            id::CreateMunicipalityRequest {
                code: code.into(),
                name: name.into(),
                cvr_number: cvr.into(),
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .municipality
        .unwrap()
        .municipality_id
}

/// A caseworker support-eligible for `municipality` since 2025.
async fn eligible_user(identity: &Channel, admin: &str, municipality: &str, email: &str) -> String {
    let user_id = create_user(
        identity,
        admin,
        municipality,
        email,
        id::Role::MunicipalCaseworker,
    )
    .await;
    id::eligibility_service_client::EligibilityServiceClient::new(identity.clone())
        .register_eligible_user(bearer(
            id::RegisterEligibleUserRequest {
                user_id: user_id.clone(),
                municipality_id: municipality.into(),
                valid_from: "2025-01-01".into(),
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap();
    user_id
}

async fn create_user(
    identity: &Channel,
    admin: &str,
    municipality: &str,
    email: &str,
    role: id::Role,
) -> String {
    id::user_service_client::UserServiceClient::new(identity.clone())
        .create_user(bearer(
            id::CreateUserRequest {
                municipality_id: municipality.into(),
                name: "Test Person".into(),
                email: email.into(),
                roles: vec![role as i32],
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap()
        .user_id
}

/// A real SMTP server on loopback: aiosmtpd writing each accepted message into a maildir.
struct SmtpServer {
    child: tokio::process::Child,
    maildir: PathBuf,
}

/// The Python with aiosmtpd: `KOMMUNE_TEST_PYTHON` (set by `.ci/test`), else the tools venv of
/// `.ci/test`, else a venv made here once (built aside and renamed into place, so parallel tests
/// never see half of one).
fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("KOMMUNE_TEST_PYTHON") {
        return PathBuf::from(python);
    }
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools");
    let has_aiosmtpd = |python: &Path| {
        std::process::Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for venv in ["venv", "smtp-venv"] {
        let python = tools.join(venv).join("bin/python");
        if has_aiosmtpd(&python) {
            return python;
        }
    }
    let building = tools.join(format!("smtp-venv-{}", uuid::Uuid::new_v4()));
    let status = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&building)
        .status()
        .unwrap();
    assert!(status.success(), "cannot make a Python venv");
    let status = std::process::Command::new(building.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "aiosmtpd",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "cannot install aiosmtpd");
    let _ = std::fs::rename(&building, tools.join("smtp-venv"));
    let _ = std::fs::remove_dir_all(&building);
    tools.join("smtp-venv/bin/python")
}

impl SmtpServer {
    /// Starts the server on `port` and waits until it accepts connections.
    async fn start(port: u16) -> Self {
        let maildir = std::env::temp_dir().join(format!("kommune-mail-{}", uuid::Uuid::new_v4()));
        let child = tokio::process::Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        eventually("the SMTP server listens", async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        Self { child, maildir }
    }

    /// Every message received so far, raw.
    fn messages(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.join("new"))
            .map(|dir| {
                dir.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `Message-ID`s received so far.
    fn message_ids(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter_map(|m| header(m, "Message-ID"))
            .collect()
    }

    /// Stops the server (this test's own child process).
    async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// A header's value in a raw message.
fn header(message: &str, name: &str) -> Option<String> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// A request a webhook receiver got.
#[derive(Debug, Clone)]
struct Hooked {
    timestamp: String,
    signature: String,
    notification_id: String,
    body: Vec<u8>,
}

/// A webhook receiver on loopback, answering each request after `delay` with its current status
/// (200 unless told otherwise).
struct WebhookReceiver {
    url: String,
    received: Arc<Mutex<Vec<Hooked>>>,
    status: Arc<AtomicU16>,
    _server: Running,
}

impl WebhookReceiver {
    async fn start(delay: Duration) -> Self {
        let (listener, addr) = loopback_listener().await;
        let url = format!("http://{addr}/hook");
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let store = received.clone();
        let answer = status.clone();
        let server = spawn(|stop| async move {
            let accept = async {
                loop {
                    let (stream, _) = listener.accept().await.unwrap();
                    let store = store.clone();
                    let answer = answer.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(
                            move |request: hyper::Request<hyper::body::Incoming>| {
                                let store = store.clone();
                                let answer = answer.clone();
                                async move {
                                    let header = |name: &str| {
                                        request
                                            .headers()
                                            .get(name)
                                            .and_then(|v| v.to_str().ok())
                                            .unwrap_or_default()
                                            .to_owned()
                                    };
                                    let hooked = Hooked {
                                        timestamp: header("x-kommune-timestamp"),
                                        signature: header("x-kommune-signature"),
                                        notification_id: header("x-kommune-notification-id"),
                                        body: Vec::new(),
                                    };
                                    let body =
                                        request.into_body().collect().await?.to_bytes().to_vec();
                                    tokio::time::sleep(delay).await;
                                    store.lock().unwrap().push(Hooked { body, ..hooked });
                                    let mut response =
                                        hyper::Response::new(Full::new(Bytes::from_static(b"1")));
                                    *response.status_mut() =
                                        hyper::StatusCode::from_u16(answer.load(Ordering::SeqCst))
                                            .unwrap();
                                    Ok::<_, hyper::Error>(response)
                                }
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            };
            tokio::select! {
                () = accept => {}
                () = stop => {}
            }
        });
        Self {
            url,
            received,
            status,
            _server: server,
        }
    }

    fn received(&self) -> Vec<Hooked> {
        self.received.lock().unwrap().clone()
    }

    /// Answers the next requests with `status`.
    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

/// Whether no item occurs twice.
fn all_distinct(items: &[String]) -> bool {
    let mut sorted = items.to_vec();
    sorted.sort();
    sorted.windows(2).all(|w| w[0] != w[1])
}
