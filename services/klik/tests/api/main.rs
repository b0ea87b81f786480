//! klik through its real gRPC API, in-process beside a real identity, on fresh databases (SQLite, or
//! PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod packages;
mod publication;

use std::sync::Arc;

use chrono::DateTime;
use tonic::transport::Channel;
use tonic::{Code, Status};

use kommune_klik::{Klik, Options};
use kommune_platform::clock::ManualClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, service_account_key,
    spawn, violated_fields, with_bearer as bearer,
};
use kommune_proto::identity::v1 as id;
use kommune_proto::klik::v1 as pb;

const ADMIN_KEY: &str = "klik-test-admin-key-0123456789";

/// identity and klik side by side, their clock at 10:00 UTC on 1 March 2025, with three municipalities.
struct TestKlik {
    klik: Channel,
    identity: Channel,
    clock: ManualClock,
    admin: String,
    municipalities: Vec<String>,
    _running: Vec<Running>,
}

impl TestKlik {
    async fn start() -> Self {
        let clock = ManualClock::new(
            DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let (identity_addr, identity_running) =
            kommune_identity::testing::start(Arc::new(clock.clone()), ADMIN_KEY).await;
        let identity = channel_to(identity_addr);
        let admin = exchange(&identity, ADMIN_KEY).await;
        let service_key = service_account_key(&identity, &admin, "klik").await;
        let klik = Klik::build(Options {
            audit_keys: kommune_platform::audit::AuditKeys::random(),
            database_url: fresh_database_url("klik").await,
            identity_addr: format!("http://{identity_addr}"),
            trusted_issuers: Vec::new(),
            service_api_key: Some(service_key),
            clock: Arc::new(clock.clone()),
        })
        .await
        .unwrap();
        let (listener, klik_addr) = loopback_listener().await;
        let klik_running = spawn(|stop| async move {
            klik.serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        let mut municipalities = Vec::new();
        for (code, cvr) in [
            ("101", "64942212"),
            ("751", "55133018"),
            ("461", "35209115"),
        ] {
            let request = id::CreateMunicipalityRequest {
                code: code.into(),
                name: format!("Kommune {code}"),
                cvr_number: cvr.into(),
                ..Default::default()
            };
            let m =
                id::municipality_service_client::MunicipalityServiceClient::new(identity.clone())
                    .create_municipality(bearer(request, &admin))
                    .await
                    .unwrap()
                    .into_inner()
                    .municipality
                    .unwrap();
            municipalities.push(m.municipality_id);
        }
        Self {
            klik: channel_to(klik_addr),
            identity,
            clock,
            admin,
            municipalities,
            _running: vec![identity_running, klik_running],
        }
    }

    /// Moves the clock on, with a fresh admin token (the old one expires).
    async fn advance_days(&mut self, days: i64) {
        self.clock.advance(chrono::Duration::days(days));
        self.admin = id::token_service_client::TokenServiceClient::new(self.identity.clone())
            .exchange_api_key(id::ExchangeApiKeyRequest {
                api_key: ADMIN_KEY.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
    }

    fn templates(&self) -> pb::template_service_client::TemplateServiceClient<Channel> {
        pb::template_service_client::TemplateServiceClient::new(self.klik.clone())
    }
    fn projects(&self) -> pb::project_service_client::ProjectServiceClient<Channel> {
        pb::project_service_client::ProjectServiceClient::new(self.klik.clone())
    }
    fn tasks(&self) -> pb::task_service_client::TaskServiceClient<Channel> {
        pb::task_service_client::TaskServiceClient::new(self.klik.clone())
    }

    /// A user of `municipality` with `role` and a token for them.
    async fn user(&self, municipality: &str, email: &str, role: id::Role) -> (String, String) {
        let request = id::CreateUserRequest {
            municipality_id: municipality.into(),
            name: "Test Person".into(),
            email: email.into(),
            roles: vec![role as i32],
            ..Default::default()
        };
        let user = id::user_service_client::UserServiceClient::new(self.identity.clone())
            .create_user(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        let key = id::service_account_service_client::ServiceAccountServiceClient::new(
            self.identity.clone(),
        )
        .create_api_key(bearer(
            id::CreateApiKeyRequest {
                subject: format!("user:{}", user.user_id),
                ..Default::default()
            },
            &self.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
        let token = id::token_service_client::TokenServiceClient::new(self.identity.clone())
            .exchange_api_key(id::ExchangeApiKeyRequest { api_key: key })
            .await
            .unwrap()
            .into_inner()
            .access_token;
        (user.user_id, token)
    }

    /// A project leader of `municipality` (created on first use).
    async fn leader_of(&self, municipality: &str) -> String {
        let request = id::ListUsersRequest {
            municipality_id: municipality.into(),
            ..Default::default()
        };
        let users = id::user_service_client::UserServiceClient::new(self.identity.clone())
            .list_users(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .users;
        match users
            .into_iter()
            .find(|u| u.roles.contains(&(id::Role::MunicipalProjectLeader as i32)))
        {
            Some(leader) => leader.user_id,
            None => {
                self.user(
                    municipality,
                    &format!("leader-{municipality}@kommune.dk"),
                    id::Role::MunicipalProjectLeader,
                )
                .await
                .0
            }
        }
    }

    async fn project(&self, frozen_zone_days: i32) -> String {
        let request = pb::CreateProjectRequest {
            name: "Debtor integration to FBS".into(),
            description: "Debitorintegration".into(),
            frozen_zone_days,
            ..Default::default()
        };
        self.projects()
            .create_project(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .project
            .unwrap()
            .project_id
    }

    async fn wave(&self, project: &str, name: &str, go_live: &str) -> pb::Wave {
        let request = pb::AddWaveRequest {
            project_id: project.into(),
            name: name.into(),
            go_live: go_live.into(),
        };
        self.projects()
            .add_wave(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .wave
            .unwrap()
    }

    /// Creates and publishes a template; returns it and how many tasks its publication created.
    async fn publish(&self, project: &str, content: pb::TaskContent) -> (pb::Template, i64) {
        let request = pb::CreateTemplateRequest {
            project_id: project.into(),
            content: Some(content),
            ..Default::default()
        };
        let template = self
            .templates()
            .create_template(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .template
            .unwrap();
        let draft = template.versions.last().unwrap();
        let request = pb::PublishTemplateRequest {
            template_id: template.template_id.clone(),
            expected_revision: draft.revision,
            note: "Første version".into(),
            initials: "ABC".into(),
        };
        let published = self
            .templates()
            .publish_template(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner();
        (published.template.unwrap(), published.tasks_created)
    }

    async fn enrol(
        &self,
        token: &str,
        project: &str,
        municipality: &str,
        wave: &str,
    ) -> Result<pb::EnrolResponse, Status> {
        let leader = self.leader_of(municipality).await;
        let request = pb::EnrolRequest {
            project_id: project.into(),
            municipality_id: municipality.into(),
            wave_id: wave.into(),
            project_leader_user_id: leader,
            debtor_system: "KMD_OPUS".into(),
        };
        Ok(self
            .projects()
            .enrol(bearer(request, token))
            .await?
            .into_inner())
    }

    async fn tasks_of(&self, project: &str, municipality: &str) -> Vec<pb::Task> {
        let request = pb::ListTasksRequest {
            project_id: project.into(),
            municipality_id: municipality.into(),
            ..Default::default()
        };
        self.tasks()
            .list_tasks(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .tasks
    }
}

/// A complete task description: every mandatory field set.
fn content(
    title: &str,
    k98: bool,
    end_offset: Option<(i32, pb::OffsetUnit)>,
    duration_days: i32,
    frozen_zone_days: Option<i32>,
) -> pb::TaskContent {
    pb::TaskContent {
        title: title.into(),
        theme: pb::Theme::ItEnvironmentAndInfrastructure as i32,
        phase: pb::Phase::Preparation as i32,
        priority: pb::Priority::CriticalPath as i32,
        k98,
        sts_infrastructure: false,
        goal: "Alle debitorkonti er knyttet til en sag".into(),
        description: "Knyt debitorkonti fra KMD Aktiv til en bevilling".into(),
        method: String::new(),
        result: "Ingen konti uden sag".into(),
        recommended_performer: "Debitorsystemets administrator".into(),
        quality_criteria: String::new(),
        involved_parties: String::new(),
        duration_days: Some(duration_days),
        end_offset: end_offset.map(|(amount, unit)| pb::EndOffset {
            amount,
            unit: unit as i32,
        }),
        frozen_zone_days,
    }
}
