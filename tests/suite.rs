//! Suite-level tests: identity behind the gateway, called as another municipal system would, over real
//! gRPC and a real database (SQLite, or PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use sea_orm::ConnectionTrait;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use kommune_identity::{Identity, Options};
use kommune_platform::clock::SystemClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::{Addresses, Service as _, ServiceRole};
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, reason,
    service_account_key, spawn, violated_fields, with_bearer as bearer,
};
use kommune_proto::identity::v1 as pb;
use kommune_proto::klik::v1 as klik;
use pb::Role;

mod access;
mod door;
mod guides;
mod orders;
mod pages;
mod privacy;
mod site;

/// A municipality's own web application, allowed to call the suite from browsers.
const BROWSER_ORIGIN: &str = "https://selvbetjening.aarhus.dk";

const ADMIN_KEY: &str = "suite-bootstrap-admin-key-0123456789";

/// Asks `probe` every 100 ms until it answers, for up to 30 s: for what other services do in their own
/// time (notify following the feeds).
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A mandatory preparation task of a wave, due `days_before` its go-live when given.
fn preparation_task(title: &str, days_before: Option<i32>) -> klik::TaskContent {
    klik::TaskContent {
        title: title.into(),
        theme: klik::Theme::ProjectManagement as i32,
        phase: klik::Phase::Preparation as i32,
        priority: klik::Priority::Mandatory as i32,
        goal: "Klar til go-live".into(),
        description: "Gør det".into(),
        result: "Gjort".into(),
        recommended_performer: "Projektlederen".into(),
        duration_days: days_before.map(|_| 1),
        end_offset: days_before.map(|amount| klik::EndOffset {
            amount,
            unit: klik::OffsetUnit::Days as i32,
        }),
        ..Default::default()
    }
}

struct Suite {
    gateway: Channel,
    /// Where the gateway listens, for plain HTTP clients.
    gateway_addr: std::net::SocketAddr,
    /// Where each service listens.
    upstreams: Addresses,
    database_url: String,
    /// Where notify drops e-mail: no relay is configured, as in the standalone suite.
    mail_dir: std::path::PathBuf,
    admin_token: String,
    identity: Option<Running>,
    _running: Vec<Running>,
}

impl Suite {
    async fn start() -> Self {
        let database_url = fresh_database_url("identity").await;
        let mut options = Options::new(database_url.clone(), Arc::new(SystemClock));
        options.bootstrap_admin_key = Some(ADMIN_KEY.into());
        let identity = Identity::build(options).await.unwrap();
        let (identity_listener, identity_addr) = loopback_listener().await;
        let identity_addr = format!("http://{identity_addr}");
        let identity = spawn(|stop| async move {
            identity
                .serve(identity_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });

        // Every service follows identity's feed (an anonymised person) as its own service account.
        let identity_channel = channel_to(identity_addr.trim_start_matches("http://"));
        let admin = exchange(&identity_channel, ADMIN_KEY).await;
        let klik = kommune_klik::Klik::build(kommune_klik::Options {
            audit_keys: kommune_platform::audit::AuditKeys::random(),
            service_api_key: Some(service_account_key(&identity_channel, &admin, "klik").await),
            database_url: fresh_database_url("klik").await,
            identity_addr: identity_addr.clone(),
            trusted_issuers: Vec::new(),
            clock: Arc::new(SystemClock),
        })
        .await
        .unwrap();
        let (klik_listener, klik_addr) = loopback_listener().await;
        let klik_addr = format!("http://{klik_addr}");
        let klik_running = spawn(|stop| async move {
            klik.serve(klik_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });

        let changes = kommune_changes::Changes::build(kommune_changes::Options {
            audit_keys: kommune_platform::audit::AuditKeys::random(),
            database_url: fresh_database_url("changes").await,
            identity_addr: identity_addr.clone(),
            key_prefix: kommune_changes::domain::DEFAULT_KEY_PREFIX.to_owned(),
            trusted_issuers: Vec::new(),
            clock: Arc::new(SystemClock),
            timeline_sweep_interval: kommune_changes::DEFAULT_TIMELINE_SWEEP_INTERVAL,
        })
        .await
        .unwrap();
        let (changes_listener, changes_addr) = loopback_listener().await;
        let changes_addr = format!("http://{changes_addr}");
        let changes_running = spawn(|stop| async move {
            changes
                .serve(changes_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });

        let mut cases_options = kommune_cases::Options::new(
            fresh_database_url("cases").await,
            identity_addr.clone(),
            kommune_cases::vault::Vault::generate_key().unwrap(),
            Arc::new(SystemClock),
        );
        cases_options.changes_addr = Some(changes_addr.clone());
        cases_options.service_api_key =
            Some(service_account_key(&identity_channel, &admin, "cases").await);
        // guides and cases call each other: guides' address is taken before either is built.
        let (guides_listener, guides_addr) = loopback_listener().await;
        let guides_addr = format!("http://{guides_addr}");
        cases_options.guides_addr = Some(guides_addr.clone());
        let cases = kommune_cases::Cases::build(cases_options).await.unwrap();
        let (cases_listener, cases_addr) = loopback_listener().await;
        let cases_addr = format!("http://{cases_addr}");
        let cases_running = spawn(|stop| async move {
            cases
                .serve(cases_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });

        let mut catalogue_options = kommune_catalogue::Options::new(
            fresh_database_url("catalogue").await,
            identity_addr.clone(),
            Arc::new(SystemClock),
        );
        catalogue_options.service_api_key =
            Some(service_account_key(&identity_channel, &admin, "catalogue").await);
        let catalogue = kommune_catalogue::Catalogue::build(catalogue_options)
            .await
            .unwrap();
        let (catalogue_listener, catalogue_addr) = loopback_listener().await;
        let catalogue_addr = format!("http://{catalogue_addr}");
        let catalogue_running = spawn(|stop| async move {
            catalogue
                .serve(catalogue_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });

        let mut guides_options = kommune_guides::Options::new(
            fresh_database_url("guides").await,
            identity_addr.clone(),
            Arc::new(SystemClock),
        );
        guides_options.cases_addr = Some(cases_addr.clone());
        guides_options.service_api_key =
            Some(service_account_key(&identity_channel, &admin, "guides").await);
        let guides = kommune_guides::Guides::build(guides_options).await.unwrap();
        let guides_running = spawn(|stop| async move {
            guides
                .serve(guides_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        let mut notify_options = kommune_notify::Options::new(
            fresh_database_url("notify").await,
            identity_addr.clone(),
            service_account_key(&identity_channel, &admin, "notify").await,
            Arc::new(SystemClock),
        );
        notify_options
            .peers
            .insert(ServiceRole::Cases, cases_addr.clone());
        notify_options
            .peers
            .insert(ServiceRole::Klik, klik_addr.clone());
        notify_options
            .peers
            .insert(ServiceRole::Changes, changes_addr.clone());
        notify_options
            .peers
            .insert(ServiceRole::Catalogue, catalogue_addr.clone());
        notify_options
            .peers
            .insert(ServiceRole::Guides, guides_addr.clone());
        notify_options.reminder_interval = std::time::Duration::from_millis(200);
        let mail_dir =
            std::env::temp_dir().join(format!("kommune-suite-mail-{}", uuid::Uuid::new_v4()));
        notify_options.mail_drop_dir = mail_dir.clone();
        let notify = kommune_notify::Notify::build(notify_options).await.unwrap();
        let (notify_listener, notify_addr) = loopback_listener().await;
        let notify_addr = format!("http://{notify_addr}");
        let notify_running = spawn(|stop| async move {
            notify
                .serve(notify_listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });

        let (gateway_listener, gateway_addr) = loopback_listener().await;
        let mut upstreams = Addresses::default();
        upstreams.insert(ServiceRole::Identity, identity_addr);
        upstreams.insert(ServiceRole::Klik, klik_addr);
        upstreams.insert(ServiceRole::Cases, cases_addr);
        upstreams.insert(ServiceRole::Changes, changes_addr);
        upstreams.insert(ServiceRole::Notify, notify_addr);
        upstreams.insert(ServiceRole::Catalogue, catalogue_addr);
        upstreams.insert(ServiceRole::Guides, guides_addr);
        let routed = upstreams.clone();
        let gateway_running = spawn(|stop| async move {
            let config = ServerConfig::default();
            kommune_gateway::serve(
                gateway_listener,
                &routed,
                Vec::new(),
                Arc::new(SystemClock),
                &config,
                &kommune_gateway::DoorConfig {
                    cors_origins: vec![BROWSER_ORIGIN.to_owned()],
                    ..Default::default()
                },
                stop,
            )
            .await
            .unwrap();
        });
        let gateway = channel_to(gateway_addr);
        let mut suite = Self {
            gateway,
            gateway_addr,
            upstreams,
            database_url,
            mail_dir,
            admin_token: String::new(),
            identity: Some(identity),
            _running: vec![
                klik_running,
                changes_running,
                cases_running,
                catalogue_running,
                guides_running,
                notify_running,
                gateway_running,
            ],
        };
        suite.admin_token = suite.exchange(ADMIN_KEY).await.unwrap();
        suite
    }

    async fn exchange(&self, api_key: &str) -> Result<String, Status> {
        let response = pb::token_service_client::TokenServiceClient::new(self.gateway.clone())
            .exchange_api_key(pb::ExchangeApiKeyRequest {
                api_key: api_key.into(),
            })
            .await?;
        Ok(response.into_inner().access_token)
    }

    fn tokens(&self) -> pb::token_service_client::TokenServiceClient<Channel> {
        pb::token_service_client::TokenServiceClient::new(self.gateway.clone())
    }
    fn municipalities(
        &self,
    ) -> pb::municipality_service_client::MunicipalityServiceClient<Channel> {
        pb::municipality_service_client::MunicipalityServiceClient::new(self.gateway.clone())
    }
    fn users(&self) -> pb::user_service_client::UserServiceClient<Channel> {
        pb::user_service_client::UserServiceClient::new(self.gateway.clone())
    }

    async fn municipality(&self, code: &str, cvr: &str) -> String {
        let request = pb::CreateMunicipalityRequest {
            code: code.into(),
            name: format!("Kommune {code}"),
            cvr_number: cvr.into(),
            ..Default::default()
        };
        self.municipalities()
            .create_municipality(bearer(request, &self.admin_token))
            .await
            .unwrap()
            .into_inner()
            .municipality
            .unwrap()
            .municipality_id
    }

    async fn user(&self, municipality_id: &str, email: &str, role: Role) -> pb::User {
        let request = pb::CreateUserRequest {
            municipality_id: municipality_id.into(),
            name: "Test Person".into(),
            email: email.into(),
            roles: vec![role as i32],
            ..Default::default()
        };
        self.users()
            .create_user(bearer(request, &self.admin_token))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap()
    }

    async fn token_for(&self, user: &pb::User) -> String {
        let key = pb::service_account_service_client::ServiceAccountServiceClient::new(
            self.gateway.clone(),
        )
        .create_api_key(bearer(
            pb::CreateApiKeyRequest {
                subject: format!("user:{}", user.user_id),
                ..Default::default()
            },
            &self.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
        self.exchange(&key.secret).await.unwrap()
    }

    /// The subjects in a user's inbox.
    async fn inbox(&self, token: &str) -> Vec<String> {
        use kommune_proto::notify::v1 as notify;
        notify::inbox_service_client::InboxServiceClient::new(self.gateway.clone())
            .list_inbox(bearer(notify::ListInboxRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .items
            .into_iter()
            .map(|i| i.subject)
            .collect()
    }

    /// Waits until the subjects in `token`'s inbox satisfy `done`, and returns them.
    async fn inbox_until(&self, token: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        eventually(
            "the inbox never came to hold what was awaited",
            async || Some(self.inbox(token).await).filter(|subjects| done(subjects)),
        )
        .await
    }

    fn projects(&self) -> klik::project_service_client::ProjectServiceClient<Channel> {
        klik::project_service_client::ProjectServiceClient::new(self.gateway.clone())
    }

    /// A klik project.
    async fn klik_project(&self, name: &str) -> klik::Project {
        self.projects()
            .create_project(bearer(
                klik::CreateProjectRequest {
                    name: name.into(),
                    ..Default::default()
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .project
            .unwrap()
    }

    /// A wave of the project going live on `go_live`, with the municipality enrolled under `leader`.
    async fn klik_wave(
        &self,
        project_id: &str,
        go_live: chrono::NaiveDate,
        municipality_id: &str,
        leader: &pb::User,
    ) -> klik::Wave {
        let wave = self
            .projects()
            .add_wave(bearer(
                klik::AddWaveRequest {
                    project_id: project_id.into(),
                    name: "Bølge 1".into(),
                    go_live: go_live.format("%Y-%m-%d").to_string(),
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .wave
            .unwrap();
        self.projects()
            .enrol(bearer(
                klik::EnrolRequest {
                    project_id: project_id.into(),
                    municipality_id: municipality_id.into(),
                    wave_id: wave.wave_id.clone(),
                    project_leader_user_id: leader.user_id.clone(),
                    debtor_system: "KMD_OPUS".into(),
                },
                &self.admin_token,
            ))
            .await
            .unwrap();
        wave
    }

    /// Creates and publishes a task template of the project.
    async fn klik_template(
        &self,
        project_id: &str,
        content: klik::TaskContent,
    ) -> klik::PublishTemplateResponse {
        let mut templates =
            klik::template_service_client::TemplateServiceClient::new(self.gateway.clone());
        let template = templates
            .create_template(bearer(
                klik::CreateTemplateRequest {
                    project_id: project_id.into(),
                    content: Some(content),
                    ..Default::default()
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .template
            .unwrap();
        templates
            .publish_template(bearer(
                klik::PublishTemplateRequest {
                    template_id: template.template_id,
                    expected_revision: 1,
                    note: "v1".into(),
                    initials: "AB".into(),
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// Publishes the wave; returns it as it is now.
    async fn publish_wave(&self, wave: &klik::Wave) -> klik::Wave {
        self.projects()
            .publish_wave(bearer(
                klik::PublishWaveRequest {
                    wave_id: wave.wave_id.clone(),
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .wave
            .unwrap()
    }

    async fn stop_identity(&mut self) {
        if let Some(identity) = self.identity.take() {
            identity.stop().await;
        }
    }

    /// Another gateway replica in front of the same services, with its own door settings.
    async fn another_gateway(&mut self, door: kommune_gateway::DoorConfig) -> std::net::SocketAddr {
        let upstreams = self.upstreams.clone();
        self.gateway_in_front_of(upstreams, ServerConfig::default(), door)
            .await
    }

    /// A gateway in front of `upstreams`, serving as `config` says.
    async fn gateway_in_front_of(
        &mut self,
        upstreams: Addresses,
        config: ServerConfig,
        door: kommune_gateway::DoorConfig,
    ) -> std::net::SocketAddr {
        let (listener, addr) = loopback_listener().await;
        self._running.push(spawn(|stop| async move {
            kommune_gateway::serve(
                listener,
                &upstreams,
                Vec::new(),
                Arc::new(SystemClock),
                &config,
                &door,
                stop,
            )
            .await
            .unwrap();
        }));
        addr
    }
}

#[tokio::test]
async fn tokens_are_exchanged_and_checked_at_the_door() {
    let suite = Suite::start().await;
    let caller = suite
        .tokens()
        .get_caller(bearer(pb::GetCallerRequest {}, &suite.admin_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caller.roles, vec![Role::ConsortiumAdmin as i32]);

    // Public RPCs need no token; every other one does.
    let keys = suite
        .tokens()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(!keys.keys.is_empty());
    let missing = suite
        .users()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), missing.message()),
        (Code::Unauthenticated, "missing bearer token")
    );
    let garbage = suite
        .users()
        .list_users(bearer(pb::ListUsersRequest::default(), "garbage"))
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::Unauthenticated);
    let wrong_key = suite
        .exchange("kmn_not-a-key-anyone-was-given-000")
        .await
        .unwrap_err();
    assert_eq!(wrong_key.code(), Code::Unauthenticated);
}

/// Every refusal carries a reason from the catalogue: a sample across every service, through the door.
#[tokio::test]
async fn refusals_of_every_service_carry_a_reason_from_the_catalogue() {
    use kommune_platform::Reason;
    use kommune_proto::{cases::v1 as cases, changes::v1 as changes, notify::v1 as notify};
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let odense = suite.municipality("461", "35209115").await;
    let caseworker = suite
        .user(&aarhus, "cw@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let stranger = suite
        .user(&odense, "cw@odense.dk", Role::MunicipalCaseworker)
        .await;
    let token = suite.token_for(&caseworker).await;
    let admin = suite.admin_token.clone();
    let unknown = uuid::Uuid::now_v7().to_string();
    let gateway = suite.gateway.clone();

    let mut refusals: Vec<(&str, Status)> = Vec::new();
    let mut municipalities = suite.municipalities();
    refusals.push((
        "INVALID_FIELD",
        municipalities
            .create_municipality(bearer(pb::CreateMunicipalityRequest::default(), &admin))
            .await
            .unwrap_err(),
    ));
    let duplicate = pb::CreateMunicipalityRequest {
        code: "751".into(),
        name: "Aarhus igen".into(),
        cvr_number: "55133018".into(),
        ..Default::default()
    };
    refusals.push((
        "ALREADY_EXISTS",
        municipalities
            .create_municipality(bearer(duplicate, &admin))
            .await
            .unwrap_err(),
    ));
    let stale = pb::UpdateMunicipalityRequest {
        municipality_id: aarhus.clone(),
        expected_version: 99,
        name: Some("Aarhus".into()),
        ..Default::default()
    };
    refusals.push((
        "STALE_VERSION",
        municipalities
            .update_municipality(bearer(stale, &admin))
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "UNAUTHENTICATED",
        suite
            .tokens()
            .get_caller(pb::GetCallerRequest {})
            .await
            .unwrap_err(),
    ));
    let other = pb::GetUserRequest {
        user_id: stranger.user_id,
    };
    refusals.push((
        "OTHER_MUNICIPALITY",
        suite
            .users()
            .get_user(bearer(other, &token))
            .await
            .unwrap_err(),
    ));
    let filing = cases::FileCaseRequest {
        title: "Borger 010190-1234 kan ikke se sin ydelse".into(),
        ..Default::default()
    };
    let mut case_service = cases::case_service_client::CaseServiceClient::new(gateway.clone());
    refusals.push((
        "PERSONAL_ID_IN_TEXT",
        case_service
            .file_case(bearer(filing, &token))
            .await
            .unwrap_err(),
    ));
    let case = cases::GetCaseRequest {
        case_id: unknown.clone(),
    };
    refusals.push((
        "NOT_FOUND",
        case_service
            .get_case(bearer(case, &admin))
            .await
            .unwrap_err(),
    ));
    let change_request = changes::GetChangeRequestRequest {
        change_request_id: unknown.clone(),
    };
    refusals.push((
        "NOT_FOUND",
        changes::change_request_service_client::ChangeRequestServiceClient::new(gateway.clone())
            .get_change_request(bearer(change_request, &admin))
            .await
            .unwrap_err(),
    ));
    let project = klik::CreateProjectRequest {
        name: "Ydelse 2027".into(),
        ..Default::default()
    };
    refusals.push((
        "ROLE_REQUIRED",
        suite
            .projects()
            .create_project(bearer(project, &token))
            .await
            .unwrap_err(),
    ));
    refusals.push((
        "ROLE_REQUIRED",
        notify::delivery_service_client::DeliveryServiceClient::new(gateway.clone())
            .list_notifications(bearer(notify::ListNotificationsRequest::default(), &token))
            .await
            .unwrap_err(),
    ));

    let catalogue: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    for (expected, status) in &refusals {
        let got = reason(status);
        assert!(
            catalogue.contains(&got.as_str()),
            "{status:?} carries no reason"
        );
        assert_eq!(got, *expected, "{status:?}");
    }
}

#[tokio::test]
async fn a_municipal_user_is_denied_another_municipalitys_data() {
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let odense = suite.municipality("461", "35209115").await;
    let caseworker = suite
        .user(&aarhus, "cw@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let stranger = suite
        .user(&odense, "cw@odense.dk", Role::MunicipalCaseworker)
        .await;
    let token = suite.token_for(&caseworker).await;

    let denied = suite
        .users()
        .get_user(bearer(
            pb::GetUserRequest {
                user_id: stranger.user_id,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let own = suite
        .users()
        .get_user(bearer(
            pb::GetUserRequest {
                user_id: caseworker.user_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(own.into_inner().user.unwrap().municipality_id, aarhus);
    let listed = suite
        .users()
        .list_users(bearer(pb::ListUsersRequest::default(), &token))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(
        listed
            .iter()
            .map(|u| u.user_id.as_str())
            .collect::<Vec<_>>(),
        [caseworker.user_id.as_str()]
    );
}

#[tokio::test]
async fn events_of_concurrent_writers_are_read_back_through_the_gateway() {
    let suite = Suite::start().await;
    let municipality = suite.municipality("101", "64942212").await;
    let emails: Vec<_> = (0..12).map(|i| format!("u{i}@kk.dk")).collect();
    let writers = emails
        .iter()
        .map(|email| suite.user(&municipality, email, Role::MunicipalCaseworker));
    let created = futures::future::join_all(writers).await;

    let stream = pb::event_service_client::EventServiceClient::new(suite.gateway.clone())
        .watch_events(bearer(
            pb::WatchEventsRequest {
                after_cursor: String::new(),
                follow: false,
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let events: Vec<_> = stream.map(|r| r.unwrap().event.unwrap()).collect().await;
    let mut users: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "kommune.identity.v1.UserCreated")
        .map(|e| e.subject.clone())
        .collect();
    users.sort();
    let mut expected: Vec<_> = created.into_iter().map(|u| u.user_id).collect();
    expected.sort();
    assert_eq!(users, expected);
    assert!(events.windows(2).all(|w| w[0].cursor != w[1].cursor));
}

#[tokio::test]
async fn an_edited_audit_record_is_detected() {
    let suite = Suite::start().await;
    let municipality = suite.municipality("101", "64942212").await;
    let update = pb::UpdateMunicipalityRequest {
        municipality_id: municipality.clone(),
        expected_version: 1,
        name: Some("Københavns Kommune".into()),
        ..Default::default()
    };
    suite
        .municipalities()
        .update_municipality(bearer(update, &suite.admin_token))
        .await
        .unwrap();
    let verify = || {
        let request = pb::VerifyAuditChainRequest {
            entity_type: "municipality".into(),
            entity_id: municipality.clone(),
        };
        let mut audit = pb::audit_service_client::AuditServiceClient::new(suite.gateway.clone());
        let request = bearer(request, &suite.admin_token);
        async move {
            audit
                .verify_audit_chain(request)
                .await
                .unwrap()
                .into_inner()
                .verification
                .unwrap()
        }
    };
    assert!(verify().await.valid);

    let db = kommune_platform::db::connect(&suite.database_url)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE audit_records SET actor = 'user:somebody-else' WHERE entity_id = '{municipality}' AND sequence = 1"
    ))
    .await
    .unwrap();
    let tampered = verify().await;
    assert!(!tampered.valid);
    assert_eq!(tampered.first_invalid_sequence, 1);
}

#[tokio::test]
async fn a_service_that_is_down_is_answered_unavailable_at_once() {
    let mut suite = Suite::start().await;
    let gateway = suite.gateway.clone();
    let health = |service: &str| {
        let mut client = HealthClient::new(gateway.clone());
        let request = HealthCheckRequest {
            service: service.into(),
        };
        async move { client.check(request).await.unwrap().into_inner().status }
    };
    assert_eq!(health("").await, ServingStatus::Serving as i32);

    suite.stop_identity().await;
    let mut request = bearer(pb::GetCallerRequest {}, &suite.admin_token);
    request.set_timeout(Duration::from_secs(20));
    let started = Instant::now();
    let status = suite.tokens().get_caller(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // The gateway stays up and reports the upstream as not serving.
    assert_eq!(health("").await, ServingStatus::Serving as i32);
    let deadline = Instant::now() + Duration::from_secs(15);
    while health("kommune.identity.v1").await != ServingStatus::NotServing as i32 {
        assert!(
            Instant::now() < deadline,
            "the gateway never reported identity down"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server that hangs: it accepts connections and never says a word (until the task is aborted).
async fn hung_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hung.local_addr().unwrap();
    let holding = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    (addr, holding)
}

/// A gateway in front of the suite with cases at `cases` (one address or several), whose calls have
/// a second at most.
async fn gateway_with_cases_at(suite: &mut Suite, cases: String) -> Channel {
    let mut upstreams = suite.upstreams.clone();
    upstreams.insert(ServiceRole::Cases, cases);
    let config = ServerConfig {
        request_timeout_secs: 1,
        ..ServerConfig::default()
    };
    let gateway = suite
        .gateway_in_front_of(upstreams, config, kommune_gateway::DoorConfig::default())
        .await;
    channel_to(gateway)
}

/// Asks `gateway` for a case nobody filed, within `timeout` when given: how it was refused (a served
/// call answers NOT_FOUND), and how long that took.
async fn get_unknown_case(
    gateway: &Channel,
    token: &str,
    timeout: Option<Duration>,
) -> (Status, Duration) {
    let mut cases =
        kommune_proto::cases::v1::case_service_client::CaseServiceClient::new(gateway.clone());
    let mut request = bearer(
        kommune_proto::cases::v1::GetCaseRequest {
            case_id: uuid::Uuid::now_v7().to_string(),
        },
        token,
    );
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    let started = Instant::now();
    let status = cases.get_case(request).await.unwrap_err();
    (status, started.elapsed())
}

/// With one replica of a service hung and another well, callers are served: the hung one leaves the
/// rotation (its health checks fail, and calls to it that end unanswered eject it).
#[tokio::test]
async fn one_hung_replica_never_stalls_callers() {
    let mut suite = Suite::start().await;
    let (hung_addr, holding) = hung_server().await;
    let well = suite.upstreams.get(ServiceRole::Cases).unwrap().to_owned();
    let gateway = gateway_with_cases_at(&mut suite, format!("http://{hung_addr},{well}")).await;
    let admin = suite.admin_token.clone();
    // Every call answered by the well replica (an unknown case: NOT_FOUND), ten in a row.
    eventually("calls go only to the well replica", async || {
        for _ in 0..10 {
            let (answer, _) = get_unknown_case(&gateway, &admin, None).await;
            if answer.code() != Code::NotFound {
                return None;
            }
        }
        Some(())
    })
    .await;
    let mut health = HealthClient::new(gateway);
    let status = health
        .check(HealthCheckRequest {
            service: "kommune.cases.v1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32, "one replica serves");
    holding.abort();
}

/// A service that hangs (its socket open, nothing answered) holds a call only until its deadline, and
/// once its health checks fail the gateway answers for it at once, with a time to retry.
#[tokio::test]
async fn a_hung_service_costs_a_call_its_deadline_then_nothing() {
    use tonic_types::StatusExt;
    let mut suite = Suite::start().await;
    let (hung_addr, holding) = hung_server().await;
    let gateway = gateway_with_cases_at(&mut suite, format!("http://{hung_addr}")).await;
    let admin = suite.admin_token.clone();
    let get_case = |timeout| get_unknown_case(&gateway, &admin, timeout);

    let (late, took) = get_case(None).await;
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    let mut health = HealthClient::new(gateway.clone());
    eventually("the gateway reports cases down", async || {
        let status = health
            .check(HealthCheckRequest {
                service: "kommune.cases.v1".into(),
            })
            .await
            .ok()?
            .into_inner()
            .status;
        (status == ServingStatus::NotServing as i32).then_some(())
    })
    .await;
    let mut took = Vec::new();
    for _ in 0..5 {
        let (refused, elapsed) = get_case(Some(Duration::from_secs(20))).await;
        assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
        assert!(refused.get_details_retry_info().is_some());
        took.push(elapsed);
    }
    took.sort();
    assert!(
        took[2] < Duration::from_millis(100),
        "answered in {took:?}, not at once"
    );
    holding.abort();
}

#[tokio::test]
async fn one_trace_id_follows_a_call_from_the_gateway_into_the_service() {
    let _telemetry = kommune_platform::telemetry::init("suite-test", &Default::default()).unwrap();
    let suite = Suite::start().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = bearer(pb::GetCallerRequest {}, &suite.admin_token);
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    let response = suite.tokens().get_caller(request).await.unwrap();
    let seen = response
        .metadata()
        .get(kommune_platform::server::TRACE_ID_HEADER)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(seen, trace_id);
}

#[tokio::test]
async fn change_requests_are_asked_and_read_through_the_gateway() {
    use kommune_proto::changes::v1 as changes;
    let suite = Suite::start().await;
    let municipality = suite.municipality("101", "64942212").await;
    let theme =
        changes::reference_service_client::ReferenceServiceClient::new(suite.gateway.clone())
            .create_theme(bearer(
                changes::CreateThemeRequest {
                    name: "Økonomi".into(),
                },
                &suite.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .theme
            .unwrap();
    let mut client = changes::change_request_service_client::ChangeRequestServiceClient::new(
        suite.gateway.clone(),
    );
    let asked = client
        .create_change_request(bearer(
            changes::CreateChangeRequestRequest {
                theme_id: theme.theme_id,
                title: "Filter på forfaldsdato".into(),
                description: "Debitorlisten skal kunne filtreres.".into(),
                asking_municipality_id: municipality.clone(),
                ..Default::default()
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let read = client
        .get_change_request(bearer(
            changes::GetChangeRequestRequest {
                change_request_id: asked.change_request_id.clone(),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(read.key, "KOMBITKY-1");
    // Without a token the gateway refuses before the service sees the call.
    let refused = client
        .get_change_request(changes::GetChangeRequestRequest {
            change_request_id: asked.change_request_id,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // A subscriber hears of the monthly publication; the published list needs no token.
    let subscriber = suite
        .user(&municipality, "follower@kk.dk", Role::MunicipalCaseworker)
        .await;
    let subscriber_token = suite.token_for(&subscriber).await;
    use kommune_proto::notify::v1 as notify;
    notify::subscription_service_client::SubscriptionServiceClient::new(suite.gateway.clone())
        .create_subscription(bearer(
            notify::CreateSubscriptionRequest {
                subscription: Some(notify::Subscription {
                    topic: Some(notify::Topic {
                        kind: notify::TopicKind::ChangeRequestPublication as i32,
                        target_id: String::new(),
                    }),
                    channel: notify::Channel::Inbox as i32,
                    ..Default::default()
                }),
            },
            &subscriber_token,
        ))
        .await
        .unwrap();
    let mut publications =
        changes::publication_service_client::PublicationServiceClient::new(suite.gateway.clone());
    publications
        .publish_change_requests(bearer(
            changes::PublishChangeRequestsRequest {
                note: "November 2026".into(),
                ..Default::default()
            },
            &suite.admin_token,
        ))
        .await
        .unwrap();
    let published = publications
        .list_published_change_requests(changes::ListPublishedChangeRequestsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .change_requests;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].case_id, "KOMBITKY-1");
    assert_eq!(published[0].municipality_name, "Kommune 101");
    let told = suite
        .inbox_until(&subscriber_token, |subjects| !subjects.is_empty())
        .await;
    assert_eq!(told, ["Ændringsønskelisten er publiceret: November 2026"]);
}

#[tokio::test]
async fn klik_publishes_k98_tasks_to_every_municipality_identity_knows() {
    let suite = Suite::start().await;
    let municipalities = [
        suite.municipality("101", "64942212").await,
        suite.municipality("751", "55133018").await,
    ];
    let project = suite.klik_project("FBS").await;
    let content = klik::TaskContent {
        title: "PL 1 Appoint a project leader".into(),
        theme: klik::Theme::ProjectManagement as i32,
        phase: klik::Phase::StartUp as i32,
        priority: klik::Priority::Mandatory as i32,
        k98: true,
        goal: "A named project leader".into(),
        description: "Appoint one".into(),
        result: "The leader is registered".into(),
        recommended_performer: "Management".into(),
        ..Default::default()
    };
    let leader = suite
        .user(
            &municipalities[1],
            "pl@aarhus.dk",
            Role::MunicipalProjectLeader,
        )
        .await;
    // klik asks identity for the active municipalities on the admin's behalf.
    let published = suite.klik_template(&project.project_id, content).await;
    assert_eq!(published.tasks_created, 2);

    let caseworker = suite
        .user(
            &municipalities[1],
            "cw@aarhus.dk",
            Role::MunicipalCaseworker,
        )
        .await;
    let token = suite.token_for(&caseworker).await;
    let tasks = klik::task_service_client::TaskServiceClient::new(suite.gateway.clone())
        .list_tasks(bearer(
            klik::ListTasksRequest {
                project_id: project.project_id,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert_eq!(
        tasks
            .iter()
            .map(|t| t.municipality_id.as_str())
            .collect::<Vec<_>>(),
        [municipalities[1].as_str()]
    );

    // notify tells the municipality's project leader, in the in-app inbox.
    let leader_token = suite.token_for(&leader).await;
    let told = suite
        .inbox_until(&leader_token, |subjects| !subjects.is_empty())
        .await;
    assert_eq!(told, ["1 nye opgaver i FBS"]);
}

#[tokio::test]
async fn a_support_eligible_user_files_a_case_that_becomes_a_change_request() {
    use kommune_proto::cases::v1 as cases;
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let reporter = suite
        .user(&aarhus, "reporter@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let token = suite.token_for(&reporter).await;

    let mut reference =
        cases::reference_service_client::ReferenceServiceClient::new(suite.gateway.clone());
    let team = cases::Team {
        name: "Ydelser".into(),
        line: cases::SupportLine::Second as i32,
        ..Default::default()
    };
    let team = reference
        .create_team(bearer(
            cases::CreateTeamRequest { team: Some(team) },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    let area = cases::Area {
        name: "Udbetaling".into(),
        team_id: team.team_id,
        ..Default::default()
    };
    let area = reference
        .create_area(bearer(
            cases::CreateAreaRequest { area: Some(area) },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .area
        .unwrap();
    let ky = cases::System {
        name: "KY".into(),
        chain_responsibility: true,
        ..Default::default()
    };
    let system = reference
        .create_system(bearer(
            cases::CreateSystemRequest { system: Some(ky) },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .system
        .unwrap();
    let file = cases::FileCaseRequest {
        title: "Forkert beløb efter omregning".into(),
        description: "Se rapport YDE-114".into(),
        kind: cases::CaseKind::Fault as i32,
        severity: cases::Severity::Normal as i32,
        system_id: system.system_id,
        area_id: area.area_id,
        ..Default::default()
    };
    let mut client = cases::case_service_client::CaseServiceClient::new(suite.gateway.clone());

    // Not yet support-eligible: refused, saying so.
    let refused = client
        .file_case(bearer(file.clone(), &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("not support-eligible"),
        "{}",
        refused.message()
    );

    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    let register = pb::RegisterEligibleUserRequest {
        user_id: reporter.user_id.clone(),
        municipality_id: aarhus.clone(),
        valid_from: today.format("%Y-%m-%d").to_string(),
        ..Default::default()
    };
    pb::eligibility_service_client::EligibilityServiceClient::new(suite.gateway.clone())
        .register_eligible_user(bearer(register, &suite.admin_token))
        .await
        .unwrap();
    let filed = client
        .file_case(bearer(file, &token))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (
            filed.municipality_id.as_str(),
            filed.reporter_user_id.as_str()
        ),
        (aarhus.as_str(), reporter.user_id.as_str())
    );
    assert_eq!(filed.state, cases::CaseState::New as i32);

    // Without a relay, notify's mail to the reporter lands in the drop directory as an .eml file,
    // with the stable Message-ID of its notification.
    let mail = eventually("no mail was dropped", async || {
        std::fs::read_dir(&suite.mail_dir)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .find_map(|path| std::fs::read_to_string(path).ok())
    })
    .await;
    let message_id = mail
        .lines()
        .find_map(|line| line.strip_prefix("Message-ID: "))
        .map(str::trim)
        .unwrap_or_default();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@notify.kommune>"),
        "{mail}"
    );
    assert!(mail.contains("reporter@aarhus.dk"));

    // The consortium converts the case: cases asks changes, keyed by the case, and keeps the id.
    use kommune_proto::changes::v1 as changes;
    let theme =
        changes::reference_service_client::ReferenceServiceClient::new(suite.gateway.clone())
            .create_theme(bearer(
                changes::CreateThemeRequest {
                    name: "Ydelser".into(),
                },
                &suite.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .theme
            .unwrap();
    let convert = cases::ConvertToChangeRequestRequest {
        case_id: filed.case_id.clone(),
        theme_id: theme.theme_id,
    };
    let refused = client
        .convert_to_change_request(bearer(convert.clone(), &token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let converted = client
        .convert_to_change_request(bearer(convert.clone(), &suite.admin_token))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(!converted.change_request_id.is_empty());
    let again = client
        .convert_to_change_request(bearer(convert, &suite.admin_token))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(again.change_request_id, converted.change_request_id);
    let mut change_requests =
        changes::change_request_service_client::ChangeRequestServiceClient::new(
            suite.gateway.clone(),
        );
    let change_request = change_requests
        .get_change_request(bearer(
            changes::GetChangeRequestRequest {
                change_request_id: converted.change_request_id,
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(change_request.source_case_id, filed.case_id);
    assert_eq!(change_request.title, "Forkert beløb efter omregning");
    assert_eq!(change_request.asking_municipality_id, aarhus);
    // One change request per case, whoever asks.
    let duplicate = change_requests
        .create_change_request(bearer(
            changes::CreateChangeRequestRequest {
                theme_id: change_request.theme_id.clone(),
                title: "Igen".into(),
                description: "Samme sag".into(),
                asking_municipality_id: aarhus.clone(),
                source_case_id: filed.case_id.clone(),
                ..Default::default()
            },
            &suite.admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn the_operational_messages_are_public_through_the_gateway_and_nothing_else_is() {
    use kommune_proto::cases::v1 as cases;
    let suite = Suite::start().await;
    let ky = cases::System {
        name: "KY".into(),
        chain_responsibility: true,
        ..Default::default()
    };
    let system =
        cases::reference_service_client::ReferenceServiceClient::new(suite.gateway.clone())
            .create_system(bearer(
                cases::CreateSystemRequest { system: Some(ky) },
                &suite.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .system
            .unwrap();
    let mut messages =
        cases::operational_message_service_client::OperationalMessageServiceClient::new(
            suite.gateway.clone(),
        );
    let draft = cases::OperationalMessage {
        title_da: "Driftsforstyrrelse i KY".into(),
        text_da: "Det er ikke muligt at logge ind i KY.".into(),
        workaround_da: "Brug den direkte adresse til login.".into(),
        system_ids: vec![system.system_id.clone()],
        scope: cases::IncidentScope::General as i32,
        start_time: Some(kommune_platform::clock::to_timestamp(chrono::Utc::now())),
        ..Default::default()
    };
    let draft = messages
        .create_operational_message(bearer(
            cases::CreateOperationalMessageRequest {
                idempotency_key: "suite-msg".into(),
                operational_message: Some(draft),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    messages
        .publish_operational_message(bearer(
            cases::PublishOperationalMessageRequest {
                operational_message_id: draft.operational_message_id.clone(),
                expected_version: draft.version,
            },
            &suite.admin_token,
        ))
        .await
        .unwrap();

    // No token: the public list answers; the writers' list does not.
    let public = messages
        .list_public_operational_messages(cases::ListPublicOperationalMessagesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(public.active.len(), 1);
    let shown = &public.active[0];
    assert_eq!(shown.title_da, "Driftsforstyrrelse i KY");
    assert_eq!(shown.system_names, ["KY"]);
    assert!(!kommune_platform::pii::contains_personal_id(&format!(
        "{shown:?}"
    )));
    let closed = messages
        .list_operational_messages(cases::ListOperationalMessagesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::Unauthenticated);

    // notify follows cases and publishes the message in its public Atom feed, also without a token.
    let mut feed = kommune_proto::notify::v1::feed_service_client::FeedServiceClient::new(
        suite.gateway.clone(),
    );
    eventually("the message never reached the feed", async || {
        let document = feed
            .get_operational_messages_feed(
                kommune_proto::notify::v1::GetOperationalMessagesFeedRequest::default(),
            )
            .await
            .unwrap()
            .into_inner()
            .document;
        document
            .contains("<title>Driftsforstyrrelse i KY</title>")
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_klik_task_due_within_a_week_reminds_the_project_leader_once() {
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let leader = suite
        .user(&aarhus, "pl@aarhus.dk", Role::MunicipalProjectLeader)
        .await;
    // A project leader too, but not the one the enrolment names.
    let deputy = suite
        .user(&aarhus, "pl2@aarhus.dk", Role::MunicipalProjectLeader)
        .await;
    let project = suite.klik_project("FBS").await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    let go_live = today + chrono::Duration::days(10);
    let wave = suite
        .klik_wave(&project.project_id, go_live, &aarhus, &leader)
        .await;
    // Due 6 days before go-live: in 4 days, inside the week; another one far later is not reminded.
    for (title, days_before) in [
        ("Knyt debitorkonti til sager", -6),
        ("Afslut gamle sager", 0),
    ] {
        suite
            .klik_template(
                &project.project_id,
                preparation_task(title, Some(days_before)),
            )
            .await;
    }
    suite.publish_wave(&wave).await;

    let token = suite.token_for(&leader).await;
    let due = (go_live - chrono::Duration::days(6))
        .format("%Y-%m-%d")
        .to_string();
    let reminder = format!("Frist {due}: Knyt debitorkonti til sager (FBS)");
    suite
        .inbox_until(&token, |subjects| subjects.contains(&reminder))
        .await;
    // Later rounds do not remind again, and the task due on go-live day is not reminded yet.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let reminders: Vec<String> = suite
        .inbox(&token)
        .await
        .into_iter()
        .filter(|s| s.starts_with("Frist"))
        .collect();
    assert_eq!(reminders, [reminder]);
    // The tasks and their deadline went to the enrolment's named leader only.
    let deputy_token = suite.token_for(&deputy).await;
    assert_eq!(suite.inbox(&deputy_token).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_published_wave_tells_its_named_project_leader_and_the_projects_subscribers() {
    use kommune_proto::notify::v1 as notify;
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let odense = suite.municipality("461", "35209115").await;
    let leader = suite
        .user(&aarhus, "pl@aarhus.dk", Role::MunicipalProjectLeader)
        .await;
    let deputy = suite
        .user(&aarhus, "pl2@aarhus.dk", Role::MunicipalProjectLeader)
        .await;
    // Follows the project from another municipality, by subscription.
    let follower = suite
        .user(&odense, "cw@odense.dk", Role::MunicipalCaseworker)
        .await;
    let project = suite.klik_project("FBS").await;

    let follower_token = suite.token_for(&follower).await;
    let mut subscriptions =
        notify::subscription_service_client::SubscriptionServiceClient::new(suite.gateway.clone());
    let to_project = |project_id: &str| notify::CreateSubscriptionRequest {
        subscription: Some(notify::Subscription {
            topic: Some(notify::Topic {
                kind: notify::TopicKind::Project as i32,
                target_id: project_id.into(),
            }),
            channel: notify::Channel::Inbox as i32,
            ..Default::default()
        }),
    };
    // A project klik does not know: NOT_FOUND, and nothing written.
    let unknown = subscriptions
        .create_subscription(bearer(
            to_project(&uuid::Uuid::now_v7().to_string()),
            &follower_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let listed = async |token: &str| {
        notify::subscription_service_client::SubscriptionServiceClient::new(suite.gateway.clone())
            .list_subscriptions(bearer(notify::ListSubscriptionsRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .subscriptions
    };
    assert!(listed(&follower_token).await.is_empty());
    subscriptions
        .create_subscription(bearer(to_project(&project.project_id), &follower_token))
        .await
        .unwrap();
    assert_eq!(listed(&follower_token).await.len(), 1);

    let go_live = chrono::Utc::now().date_naive() + chrono::Duration::days(90);
    let wave = suite
        .klik_wave(&project.project_id, go_live, &aarhus, &leader)
        .await;
    // A wave-by-wave task: due to the municipality only once its wave is published.
    suite
        .klik_template(
            &project.project_id,
            preparation_task("Afslut gamle sager", None),
        )
        .await;
    let wave = suite.publish_wave(&wave).await;

    let published = "1 nye opgaver i FBS".to_owned();
    let leader_token = suite.token_for(&leader).await;
    suite
        .inbox_until(&leader_token, |subjects| subjects == [published.as_str()])
        .await;
    // Written with the leader's in one go: the subscriber heard it too, the unnamed role holder not.
    assert_eq!(suite.inbox(&follower_token).await, [published.as_str()]);
    let deputy_token = suite.token_for(&deputy).await;
    assert_eq!(suite.inbox(&deputy_token).await, Vec::<String>::new());

    // The go-live moves a month: the same people hear that the deadlines moved with it.
    let later = go_live + chrono::Duration::days(30);
    let wave = suite
        .projects()
        .move_wave(bearer(
            klik::MoveWaveRequest {
                wave_id: wave.wave_id.clone(),
                expected_version: wave.version,
                go_live: later.format("%Y-%m-%d").to_string(),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .wave
        .unwrap();
    let moved_subject = format!(
        "Go-live flyttet til {}: Bølge 1 (FBS)",
        later.format("%Y-%m-%d")
    );
    let told = suite
        .inbox_until(&leader_token, |subjects| subjects.len() == 2)
        .await;
    assert!(told.contains(&moved_subject), "{told:?}");
    assert_eq!(suite.inbox(&follower_token).await.len(), 2);
    assert_eq!(suite.inbox(&deputy_token).await, Vec::<String>::new());

    // The named leader leaves: the municipality's other project leaders hear of the next move.
    suite
        .users()
        .update_user(bearer(
            pb::UpdateUserRequest {
                user_id: leader.user_id.clone(),
                expected_version: leader.version,
                active: Some(false),
                ..Default::default()
            },
            &suite.admin_token,
        ))
        .await
        .unwrap();
    let latest = later + chrono::Duration::days(7);
    suite
        .projects()
        .move_wave(bearer(
            klik::MoveWaveRequest {
                wave_id: wave.wave_id.clone(),
                expected_version: wave.version,
                go_live: latest.format("%Y-%m-%d").to_string(),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap();
    let handed_over = suite
        .inbox_until(&deputy_token, |subjects| !subjects.is_empty())
        .await;
    assert_eq!(
        handed_over,
        [format!(
            "Go-live flyttet til {}: Bølge 1 (FBS)",
            latest.format("%Y-%m-%d")
        )]
    );
}
