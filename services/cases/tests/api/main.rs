//! The cases service through its real gRPC API, in-process beside a real identity, on fresh databases
//! (SQLite, or PostgreSQL when `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod eligibility;
mod erasure;
mod filing;
mod handlers;
mod incidents;
mod known_issues;
mod lifecycle;
mod mailbox;
mod messages;
mod ratings;
mod reports;
mod retention;
mod suppliers;
mod surveys;

use std::sync::Arc;

use chrono::DateTime;
use tonic::transport::Channel;
use tonic::{Code, Status};

use kommune_cases::{Cases, Options};
use kommune_platform::clock::ManualClock;
use kommune_platform::config::ServerConfig;
use kommune_platform::service::Service as _;
use kommune_platform::testing::{
    Running, channel_to, exchange, fresh_database_url, loopback_listener, reason,
    service_account_key, spawn, user_token, violated_fields, with_bearer as bearer,
};
use kommune_proto::cases::v1 as pb;
use kommune_proto::identity::v1 as id;

const ADMIN_KEY: &str = "cases-test-admin-key-0123456789";
const PERSONAL_ID_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// identity and cases side by side, their clock at 09:00 Copenhagen on Wednesday 2 April 2025, with one
/// municipality, an eligible reporter, a 2nd- and a 3rd-line team, a system in and one outside the chain.
struct TestCases {
    cases: Channel,
    database_url: String,
    /// How a cases replica is started (another one may join on the same database).
    options: Options,
    identity: Channel,
    clock: ManualClock,
    admin: String,
    municipality: String,
    reporter_id: String,
    reporter: String,
    supporter_id: String,
    supporter: String,
    second_line: String,
    third_line: String,
    system: String,
    outside: String,
    area: String,
    _running: Vec<Running>,
}

impl TestCases {
    /// Creates an area handled by `team_id`, as the admin; its id.
    async fn create_area(&self, name: &str, team_id: &str) -> String {
        pb::reference_service_client::ReferenceServiceClient::new(self.cases.clone())
            .create_area(bearer(
                pb::CreateAreaRequest {
                    area: Some(pb::Area {
                        name: name.into(),
                        team_id: team_id.into(),
                        ..Default::default()
                    }),
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .area
            .unwrap()
            .area_id
    }

    /// Builds and serves a cases replica.
    async fn serve(options: Options) -> (std::net::SocketAddr, Running) {
        let cases = Cases::build(options).await.unwrap();
        let (listener, addr) = loopback_listener().await;
        let running = spawn(|stop| async move {
            cases
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        (addr, running)
    }

    /// Another cases replica on the same database, running as long as this does.
    async fn replica(&mut self) -> Channel {
        let (addr, running) = Self::serve(self.options.clone()).await;
        self._running.push(running);
        channel_to(addr)
    }

    async fn start() -> Self {
        let clock = ManualClock::new(
            DateTime::parse_from_rfc3339("2025-04-02T07:00:00Z")
                .unwrap()
                .to_utc(),
        );
        let (identity_addr, identity_running) =
            kommune_identity::testing::start(Arc::new(clock.clone()), ADMIN_KEY).await;
        let identity = channel_to(identity_addr);
        let admin = exchange(&identity, ADMIN_KEY).await;
        let service_key = service_account_key(&identity, &admin, "cases").await;
        let database_url = fresh_database_url("cases").await;
        let mut options = Options::new(
            database_url.clone(),
            format!("http://{identity_addr}"),
            PERSONAL_ID_KEY,
            Arc::new(clock.clone()),
        );
        options.service_api_key = Some(service_key);
        options.sla_sweep_interval = std::time::Duration::from_millis(100);
        let (cases_addr, cases_running) = Self::serve(options.clone()).await;
        let request = id::CreateMunicipalityRequest {
            code: "751".into(),
            name: "Aarhus Kommune".into(),
            cvr_number: "55133018".into(),
            ..Default::default()
        };
        let municipality =
            id::municipality_service_client::MunicipalityServiceClient::new(identity.clone())
                .create_municipality(bearer(request, &admin))
                .await
                .unwrap()
                .into_inner()
                .municipality
                .unwrap()
                .municipality_id;
        let mut this = Self {
            cases: channel_to(cases_addr),
            database_url,
            options,
            identity,
            clock,
            admin,
            municipality,
            reporter_id: String::new(),
            reporter: String::new(),
            supporter_id: String::new(),
            supporter: String::new(),
            second_line: String::new(),
            third_line: String::new(),
            system: String::new(),
            outside: String::new(),
            area: String::new(),
            _running: vec![identity_running, cases_running],
        };
        let (reporter_id, reporter) = this
            .user(
                &this.municipality.clone(),
                "reporter@aarhus.dk",
                id::Role::MunicipalCaseworker,
            )
            .await;
        this.register_eligible(&reporter_id).await;
        this.reporter = reporter;
        this.reporter_id = reporter_id;
        (this.supporter_id, this.supporter) = this
            .user("", "2nd@supplier.dk", id::Role::SupplierSecondLine)
            .await;
        let reference =
            |c: &Self| pb::reference_service_client::ReferenceServiceClient::new(c.cases.clone());
        let team = |name: &str, line: pb::SupportLine| pb::Team {
            name: name.into(),
            line: line as i32,
            ..Default::default()
        };
        this.second_line = reference(&this)
            .create_team(bearer(
                pb::CreateTeamRequest {
                    team: Some(team("Ydelser", pb::SupportLine::Second)),
                },
                &this.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .team
            .unwrap()
            .team_id;
        this.third_line = reference(&this)
            .create_team(bearer(
                pb::CreateTeamRequest {
                    team: Some(team("Udvikling", pb::SupportLine::Third)),
                },
                &this.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .team
            .unwrap()
            .team_id;
        this.area = this.create_area("Udbetaling", &this.second_line).await;
        let ky = pb::System {
            name: "KY".into(),
            chain_responsibility: true,
            ..Default::default()
        };
        this.system = reference(&this)
            .create_system(bearer(
                pb::CreateSystemRequest { system: Some(ky) },
                &this.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .system
            .unwrap()
            .system_id;
        let skat = pb::System {
            name: "SKAT eIndkomst".into(),
            chain_responsibility: false,
            where_to_turn: "SKAT's service desk".into(),
            ..Default::default()
        };
        this.outside = reference(&this)
            .create_system(bearer(
                pb::CreateSystemRequest { system: Some(skat) },
                &this.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .system
            .unwrap()
            .system_id;
        this
    }

    /// Sets the clock (both services share it) and renews every token, since the old ones may expire.
    async fn at(&mut self, rfc3339: &str) {
        self.clock
            .set(DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc());
        self.admin = exchange(&self.identity, ADMIN_KEY).await;
        self.reporter = self.token_for(&self.reporter_id).await;
        self.supporter = self.token_for(&self.supporter_id).await;
    }

    fn cases(&self) -> pb::case_service_client::CaseServiceClient<Channel> {
        pb::case_service_client::CaseServiceClient::new(self.cases.clone())
    }

    /// A user with a role and a token for them.
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
        let token = self.token_for(&user.user_id).await;
        (user.user_id, token)
    }

    /// A fresh token for a user, through a new API key (an admin token of now creates it).
    async fn token_for(&self, user_id: &str) -> String {
        let admin = exchange(&self.identity, ADMIN_KEY).await;
        user_token(&self.identity, &admin, user_id).await
    }

    async fn register_eligible(&self, user_id: &str) {
        self.register_eligible_in(&self.municipality, user_id).await;
    }

    async fn register_eligible_in(&self, municipality: &str, user_id: &str) {
        let request = id::RegisterEligibleUserRequest {
            user_id: user_id.into(),
            municipality_id: municipality.into(),
            valid_from: "2025-01-01".into(),
            ..Default::default()
        };
        id::eligibility_service_client::EligibilityServiceClient::new(self.identity.clone())
            .register_eligible_user(bearer(request, &self.admin))
            .await
            .unwrap();
    }

    /// Another municipality.
    async fn municipality(&self, code: &str, name: &str, cvr: &str) -> String {
        let request = id::CreateMunicipalityRequest {
            code: code.into(),
            name: name.into(),
            cvr_number: cvr.into(),
            ..Default::default()
        };
        id::municipality_service_client::MunicipalityServiceClient::new(self.identity.clone())
            .create_municipality(bearer(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .municipality
            .unwrap()
            .municipality_id
    }

    /// A support-eligible caseworker of `municipality` and their token.
    async fn eligible_reporter(&self, municipality: &str, email: &str) -> (String, String) {
        let (user_id, token) = self
            .user(municipality, email, id::Role::MunicipalCaseworker)
            .await;
        self.register_eligible_in(municipality, &user_id).await;
        (user_id, token)
    }

    /// The events of the cases feed so far of one type (e.g. `IncidentResolved`), decoded.
    async fn events<M: prost::Message + Default>(&self, type_name: &str) -> Vec<M> {
        let request = bearer(
            pb::WatchEventsRequest {
                after_cursor: String::new(),
                follow: false,
            },
            &exchange(&self.identity, ADMIN_KEY).await,
        );
        let mut feed = pb::event_service_client::EventServiceClient::new(self.cases.clone())
            .watch_events(request)
            .await
            .unwrap()
            .into_inner();
        let mut found = Vec::new();
        while let Some(message) = feed.message().await.unwrap() {
            let event = message.event.unwrap();
            if event.event_type == format!("kommune.cases.v1.{type_name}") {
                found.push(M::decode(event.payload.unwrap().value.as_slice()).unwrap());
            }
        }
        found
    }

    // The free-text guide sections of a v1 client are still accepted.
    #[allow(deprecated)]
    fn new_case(&self, title: &str, severity: pb::Severity) -> pb::FileCaseRequest {
        pb::FileCaseRequest {
            title: title.into(),
            description: "Udbetalingen beregnes forkert efter omregning; se rapport YDE-114".into(),
            kind: pb::CaseKind::Fault as i32,
            severity: severity as i32,
            system_id: self.system.clone(),
            area_id: self.area.clone(),
            guide_sections: vec!["Vejledning 4.2 Omregning".into()],
            ..Default::default()
        }
    }

    async fn file(&self, request: pb::FileCaseRequest) -> Result<pb::FileCaseResponse, Status> {
        Ok(self
            .cases()
            .file_case(bearer(request, &self.reporter))
            .await?
            .into_inner())
    }

    async fn transition(
        &self,
        token: &str,
        case: &pb::Case,
        transition: pb::Transition,
    ) -> Result<pb::Case, Status> {
        let request = pb::TransitionCaseRequest {
            case_id: case.case_id.clone(),
            expected_version: case.version,
            transition: transition as i32,
            ..Default::default()
        };
        Ok(self
            .cases()
            .transition_case(bearer(request, token))
            .await?
            .into_inner()
            .case
            .unwrap())
    }
    /// Triages, starts and resolves a case (as fixed) as the supporter.
    async fn resolve(&self, case: &pb::Case) -> pb::Case {
        let case = self
            .transition(&self.supporter, case, pb::Transition::Triage)
            .await
            .unwrap();
        let case = self
            .transition(&self.supporter, &case, pb::Transition::Start)
            .await
            .unwrap();
        self.cases()
            .transition_case(bearer(
                pb::TransitionCaseRequest {
                    case_id: case.case_id.clone(),
                    expected_version: case.version,
                    transition: pb::Transition::Resolve as i32,
                    resolution: pb::Resolution::Fixed as i32,
                    ..Default::default()
                },
                &self.supporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// Sets the supplier contacts (name, address) of the test's system, as the admin.
    async fn set_contacts(&self, contacts: &[(&str, &str)]) -> Result<pb::System, Status> {
        let mut reference =
            pb::reference_service_client::ReferenceServiceClient::new(self.cases.clone());
        let mut system = reference
            .list_systems(bearer(pb::ListSystemsRequest {}, &self.admin))
            .await?
            .into_inner()
            .systems
            .into_iter()
            .find(|s| s.system_id == self.system)
            .unwrap();
        system.supplier_contacts = contacts
            .iter()
            .map(|(name, email)| pb::SupplierContact {
                name: (*name).into(),
                email: (*email).into(),
            })
            .collect();
        Ok(reference
            .update_system(bearer(
                pb::UpdateSystemRequest {
                    system: Some(system),
                },
                &self.admin,
            ))
            .await?
            .into_inner()
            .system
            .unwrap())
    }
}

fn time(rfc3339: &str) -> Option<prost_types::Timestamp> {
    Some(kommune_platform::clock::to_timestamp(
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc(),
    ))
}
