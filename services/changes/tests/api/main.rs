//! changes through its real gRPC API, in-process beside a real identity, on fresh databases (SQLite, or
//! PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod admin_tool;
mod change_requests;
mod imports;
mod publications;
mod releases;

use std::sync::Arc;

use chrono::DateTime;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use kommune_changes::{Changes, Options};
use kommune_platform::clock::ManualClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, spawn, user_token,
    violated_fields, with_bearer as bearer,
};
use kommune_proto::changes::v1 as pb;
use kommune_proto::identity::v1 as id;

const ADMIN_KEY: &str = "changes-test-admin-key-0123456789";

/// identity and changes side by side, their clock at 10:00 UTC on 1 March 2025, with two
/// municipalities and a theme.
struct TestChanges {
    changes: Channel,
    changes_addr: std::net::SocketAddr,
    identity: Channel,
    clock: ManualClock,
    admin: String,
    municipalities: Vec<String>,
    theme_id: String,
    _running: Vec<Running>,
}

impl TestChanges {
    /// The services, with a timeline sweep too rare to act during a test.
    async fn start() -> Self {
        Self::start_sweeping(kommune_changes::DEFAULT_TIMELINE_SWEEP_INTERVAL).await
    }

    /// The services, moving releases on along their timelines every `timeline_sweep_interval`.
    async fn start_sweeping(timeline_sweep_interval: std::time::Duration) -> Self {
        let clock = ManualClock::new(
            DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let (identity_addr, identity) =
            kommune_identity::testing::start(Arc::new(clock.clone()), ADMIN_KEY).await;
        let changes = Changes::build(Options {
            audit_keys: kommune_platform::audit::AuditKeys::random(),
            database_url: fresh_database_url("changes").await,
            identity_addr: format!("http://{identity_addr}"),
            key_prefix: "KOMBITKY".into(),
            trusted_issuers: Vec::new(),
            clock: Arc::new(clock.clone()),
            timeline_sweep_interval,
        })
        .await
        .unwrap();
        let (listener, changes_addr) = loopback_listener().await;
        let changes_running = spawn(|stop| async move {
            changes
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        let mut test = Self {
            changes: channel_to(changes_addr),
            changes_addr,
            identity: channel_to(identity_addr),
            clock,
            admin: String::new(),
            municipalities: Vec::new(),
            theme_id: String::new(),
            _running: vec![identity, changes_running],
        };
        test.admin = test.admin_token().await;
        for (code, cvr) in [("101", "64942212"), ("751", "55133018")] {
            let request = id::CreateMunicipalityRequest {
                code: code.into(),
                name: format!("Kommune {code}"),
                cvr_number: cvr.into(),
                ..Default::default()
            };
            let m = id::municipality_service_client::MunicipalityServiceClient::new(
                test.identity.clone(),
            )
            .create_municipality(bearer(request, &test.admin))
            .await
            .unwrap()
            .into_inner()
            .municipality
            .unwrap();
            test.municipalities.push(m.municipality_id);
        }
        test.theme_id = test
            .reference()
            .create_theme(bearer(
                pb::CreateThemeRequest {
                    name: "Økonomi".into(),
                },
                &test.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .theme
            .unwrap()
            .theme_id;
        test
    }

    async fn admin_token(&self) -> String {
        exchange(&self.identity, ADMIN_KEY).await
    }

    /// Moves the clock on, with a fresh admin token (the old one expires).
    async fn advance_days(&mut self, days: i64) {
        self.clock.advance(chrono::Duration::days(days));
        self.admin = self.admin_token().await;
    }

    fn change_requests(
        &self,
    ) -> pb::change_request_service_client::ChangeRequestServiceClient<Channel> {
        pb::change_request_service_client::ChangeRequestServiceClient::new(self.changes.clone())
    }
    fn releases(&self) -> pb::release_service_client::ReleaseServiceClient<Channel> {
        pb::release_service_client::ReleaseServiceClient::new(self.changes.clone())
    }
    fn reference(&self) -> pb::reference_service_client::ReferenceServiceClient<Channel> {
        pb::reference_service_client::ReferenceServiceClient::new(self.changes.clone())
    }

    /// A caseworker of `municipality` and a token for them.
    async fn caseworker(&self, municipality: &str, email: &str) -> String {
        let request = id::CreateUserRequest {
            municipality_id: municipality.into(),
            name: "Test Person".into(),
            email: email.into(),
            roles: vec![id::Role::MunicipalCaseworker as i32],
            ..Default::default()
        };
        let user = id::user_service_client::UserServiceClient::new(self.identity.clone())
            .create_user(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        user_token(&self.identity, &self.admin, &user.user_id).await
    }

    /// A valid request to create a change request asked by `municipality`.
    fn new_request(&self, municipality: &str, title: &str) -> pb::CreateChangeRequestRequest {
        pb::CreateChangeRequestRequest {
            theme_id: self.theme_id.clone(),
            title: title.into(),
            description: "Debitorlisten skal kunne filtreres på forfaldsdato.".into(),
            asking_municipality_id: municipality.into(),
            ..Default::default()
        }
    }

    /// Creates a change request as the admin.
    async fn create(&self, title: &str) -> pb::ChangeRequest {
        self.change_requests()
            .create_change_request(bearer(
                self.new_request(&self.municipalities[0], title),
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap()
    }

    /// Moves a change request to `status_code` as the admin.
    async fn set_status(&self, cr: &pb::ChangeRequest, status_code: i32) -> pb::ChangeRequest {
        self.change_requests()
            .change_status(bearer(
                pb::ChangeStatusRequest {
                    change_request_id: cr.change_request_id.clone(),
                    expected_version: cr.version,
                    status_code,
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap()
    }
}

/// The fields an `INVALID_ARGUMENT` names.
fn invalid_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
