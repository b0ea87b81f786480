//! The desk the harnesses file against: a municipality with a support-eligible reporter, a
//! 2nd-line team with its area, systems with and without outage detection.

use std::sync::atomic::{AtomicUsize, Ordering};

use tonic::transport::Channel;

use kommune_platform::BoxError;
use kommune_platform::testing::{exchange, user_token, with_bearer};
use kommune_proto::cases::v1 as cases;
use kommune_proto::identity::v1 as identity;

/// Systems with outage detection on that the spread filings go to in turn.
pub const SPREAD_SYSTEMS: usize = 8;

/// A reporter of one municipality, support-eligible, with a system (outage detection on) and area to
/// file against, more such systems to spread filings over, a system without detection for the backlog,
/// and a 2nd-line supporter.
pub struct Desk {
    pub reporter: String,
    pub supporter: String,
    pub team_id: String,
    pub system_id: String,
    /// Systems with detection on that filings go to in turn, as a desk's everyday filings spread.
    pub spread_system_ids: Vec<String>,
    /// The next of `spread_system_ids` to file against.
    pub spread_turn: AtomicUsize,
    pub quiet_system_id: String,
    pub area_id: String,
    pub first_case: String,
}

impl Desk {
    /// Sets the desk up through `gateway` as the consortium admin whose API key is `admin_key`.
    pub async fn set_up(gateway: &Channel, admin_key: &str) -> Result<Self, BoxError> {
        let admin = exchange(gateway, admin_key).await;
        let municipality =
            identity::municipality_service_client::MunicipalityServiceClient::new(gateway.clone())
                .create_municipality(with_bearer(
                    identity::CreateMunicipalityRequest {
                        code: "751".into(),
                        name: "Aarhus Kommune".into(),
                        cvr_number: "55133018".into(),
                        ..Default::default()
                    },
                    &admin,
                ))
                .await?
                .into_inner()
                .municipality
                .unwrap_or_default()
                .municipality_id;
        let user = identity::user_service_client::UserServiceClient::new(gateway.clone())
            .create_user(with_bearer(
                identity::CreateUserRequest {
                    municipality_id: municipality.clone(),
                    name: "Bench Reporter".into(),
                    email: "bench@aarhus.dk".into(),
                    roles: vec![identity::Role::MunicipalCaseworker as i32],
                    ..Default::default()
                },
                &admin,
            ))
            .await?
            .into_inner()
            .user
            .unwrap_or_default();
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Europe::Copenhagen)
            .date_naive();
        identity::eligibility_service_client::EligibilityServiceClient::new(gateway.clone())
            .register_eligible_user(with_bearer(
                identity::RegisterEligibleUserRequest {
                    user_id: user.user_id.clone(),
                    municipality_id: municipality,
                    valid_from: today.format("%Y-%m-%d").to_string(),
                    ..Default::default()
                },
                &admin,
            ))
            .await?;
        let reporter = user_token(gateway, &admin, &user.user_id).await;
        let supporter = identity::user_service_client::UserServiceClient::new(gateway.clone())
            .create_user(with_bearer(
                identity::CreateUserRequest {
                    name: "Bench Supporter".into(),
                    email: "2nd@supplier.dk".into(),
                    roles: vec![identity::Role::SupplierSecondLine as i32],
                    ..Default::default()
                },
                &admin,
            ))
            .await?
            .into_inner()
            .user
            .unwrap_or_default();
        let supporter = user_token(gateway, &admin, &supporter.user_id).await;

        let mut reference =
            cases::reference_service_client::ReferenceServiceClient::new(gateway.clone());
        let team = reference
            .create_team(with_bearer(
                cases::CreateTeamRequest {
                    team: Some(cases::Team {
                        name: "Ydelser".into(),
                        line: cases::SupportLine::Second as i32,
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await?
            .into_inner()
            .team
            .unwrap_or_default();
        let area_id = reference
            .create_area(with_bearer(
                cases::CreateAreaRequest {
                    area: Some(cases::Area {
                        name: "Udbetaling".into(),
                        team_id: team.team_id.clone(),
                        ..Default::default()
                    }),
                },
                &admin,
            ))
            .await?
            .into_inner()
            .area
            .unwrap_or_default()
            .area_id;
        let system = |name: &str, outage_report_threshold| {
            let mut reference = reference.clone();
            let request = with_bearer(
                cases::CreateSystemRequest {
                    system: Some(cases::System {
                        name: name.into(),
                        chain_responsibility: true,
                        outage_report_threshold,
                        outage_distinct_reporters: 3,
                        outage_window_minutes: 60,
                        ..Default::default()
                    }),
                },
                &admin,
            );
            async move {
                Ok::<_, tonic::Status>(
                    reference
                        .create_system(request)
                        .await?
                        .into_inner()
                        .system
                        .unwrap_or_default()
                        .system_id,
                )
            }
        };
        // Outage detection on, over an hour's reports: every filing reads its window.
        let system_id = system("KY", 5).await?;
        let mut spread_system_ids = vec![system_id.clone()];
        for n in 1..SPREAD_SYSTEMS {
            spread_system_ids.push(system(&format!("System {n}"), 5).await?);
        }
        let quiet_system_id = system("Portal", 0).await?;
        let mut desk = Self {
            reporter,
            supporter,
            team_id: team.team_id,
            system_id,
            spread_system_ids,
            spread_turn: AtomicUsize::new(0),
            quiet_system_id,
            area_id,
            first_case: String::new(),
        };
        desk.first_case = cases::case_service_client::CaseServiceClient::new(gateway.clone())
            .file_case(with_bearer(desk.new_case(), &desk.reporter))
            .await?
            .into_inner()
            .case
            .unwrap_or_default()
            .case_id;
        Ok(desk)
    }

    /// A case of the backlog, on the system without detection.
    pub fn open_case(&self) -> cases::FileCaseRequest {
        cases::FileCaseRequest {
            system_id: self.quiet_system_id.clone(),
            ..self.new_case()
        }
    }

    /// A case worded unlike any other (its words are random): to detection it shares no cause, so a
    /// filing weighs only its window's symptoms, the everyday filing's cost.
    pub fn distinct_case(&self) -> cases::FileCaseRequest {
        let word = || -> String {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            bytes.iter().map(|b| char::from(b'a' + b % 26)).collect()
        };
        cases::FileCaseRequest {
            title: word(),
            description: format!("{} {}", word(), word()),
            ..self.new_case()
        }
    }

    /// A case worded unlike any other, on the next of the systems filings are spread over.
    pub fn spread_case(&self) -> cases::FileCaseRequest {
        let turn = self.spread_turn.fetch_add(1, Ordering::Relaxed);
        cases::FileCaseRequest {
            system_id: self.spread_system_ids[turn % self.spread_system_ids.len()].clone(),
            ..self.distinct_case()
        }
    }

    /// A case worded like every other (only a number differs): to detection they share one cause, so
    /// every filing weighs the newest same-cause reports of its window, as in an outage's flood; all
    /// from one reporter, so no incident forms (three are needed) and every filing stands alone.
    pub fn new_case(&self) -> cases::FileCaseRequest {
        let n = uuid::Uuid::now_v7().simple().to_string();
        cases::FileCaseRequest {
            // The number glued to a letter: twelve hex digits that happen to be all digits would otherwise
            // now and then read as a personnummer, and the filing be refused.
            title: format!("Beregning nr{} afviger", &n[20..]),
            description: format!("Sagsakt {n} viser et andet beløb end forventet"),
            kind: cases::CaseKind::Fault as i32,
            severity: cases::Severity::Normal as i32,
            system_id: self.system_id.clone(),
            area_id: self.area_id.clone(),
            ..Default::default()
        }
    }
}
