//! What notify reads from the other services, with its own service account: users and their
//! eligibility (identity), cases, incidents, teams, systems and operational messages (cases), and
//! projects and tasks (klik). Every feed is followed (see `Notify::background`).

use std::sync::Arc;

use chrono::NaiveDate;
use tonic::transport::Channel;

use kommune_platform::consumer::ServiceCredentials;
use kommune_platform::{Error, Reason};
use kommune_proto::cases::v1 as cases;
use kommune_proto::common::v1::PageRequest;
use kommune_proto::identity::v1 as identity;
use kommune_proto::klik::v1 as klik;

use crate::domain;

/// The other services notify reads from.
#[derive(Clone)]
pub struct Peers {
    /// identity.
    pub identity: Channel,
    /// cases, when configured.
    pub cases: Option<Channel>,
    /// klik, when configured.
    pub klik: Option<Channel>,
    /// notify's own service account.
    pub credentials: Arc<ServiceCredentials>,
}

/// A page size for reading whole lists.
const PAGE: i32 = 500;

/// A peer's refusal as notify's error: what it does not know stays NOT_FOUND (an event about it has
/// nothing to tell), anything else is the peer being unavailable (retried).
fn unavailable(service: &str) -> impl Fn(tonic::Status) -> Error + '_ {
    move |status| {
        if status.code() == tonic::Code::NotFound {
            Error::not_found("subject", status.message())
        } else {
            Error::Unavailable(format!("cannot read from {service}: {}", status.message()))
        }
    }
}

impl Peers {
    async fn authorized<T>(&self, message: T) -> Result<tonic::Request<T>, Error> {
        self.credentials.authorize(message).await
    }

    fn cases(&self) -> Result<Channel, Error> {
        self.cases.clone().ok_or_else(|| {
            Error::FailedPrecondition(
                Reason::NotConfigured,
                "the cases service is not configured".into(),
            )
        })
    }

    fn klik(&self) -> Result<Channel, Error> {
        self.klik.clone().ok_or_else(|| {
            Error::FailedPrecondition(
                Reason::NotConfigured,
                "the klik service is not configured".into(),
            )
        })
    }

    /// A user, or `None` when identity does not know them.
    pub async fn user(&self, user_id: &str) -> Result<Option<identity::User>, Error> {
        let request = self
            .authorized(identity::GetUserRequest {
                user_id: user_id.to_owned(),
            })
            .await?;
        match identity::user_service_client::UserServiceClient::new(self.identity.clone())
            .get_user(request)
            .await
        {
            Ok(response) => Ok(response.into_inner().user),
            // An id identity cannot read names nobody: retrying would not change that.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::NotFound | tonic::Code::InvalidArgument
                ) =>
            {
                Ok(None)
            }
            Err(status) => Err(unavailable("identity")(status)),
        }
    }

    /// A municipality, or `None` when identity does not know it.
    pub async fn municipality(
        &self,
        municipality_id: &str,
    ) -> Result<Option<identity::Municipality>, Error> {
        let request = self
            .authorized(identity::GetMunicipalityRequest {
                municipality_id: municipality_id.to_owned(),
            })
            .await?;
        match identity::municipality_service_client::MunicipalityServiceClient::new(
            self.identity.clone(),
        )
        .get_municipality(request)
        .await
        {
            Ok(response) => Ok(response.into_inner().municipality),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(unavailable("identity")(status)),
        }
    }

    /// Every user (of one municipality, when given).
    pub async fn users(&self, municipality_id: Option<&str>) -> Result<Vec<identity::User>, Error> {
        let mut client =
            identity::user_service_client::UserServiceClient::new(self.identity.clone());
        let (mut users, mut token) = (Vec::new(), String::new());
        loop {
            let request = self
                .authorized(identity::ListUsersRequest {
                    municipality_id: municipality_id.unwrap_or_default().to_owned(),
                    page: Some(PageRequest {
                        page_size: PAGE,
                        page_token: token,
                    }),
                    ..Default::default()
                })
                .await?;
            let page = client
                .list_users(request)
                .await
                .map_err(unavailable("identity"))?
                .into_inner();
            users.extend(page.users);
            token = page.page.unwrap_or_default().next_page_token;
            if token.is_empty() {
                return Ok(users);
            }
        }
    }

    /// The users holding `role` (of one municipality, when given), active and not anonymised.
    pub async fn users_with_role(
        &self,
        municipality_id: Option<&str>,
        role: identity::Role,
    ) -> Result<Vec<String>, Error> {
        Ok(self
            .users(municipality_id)
            .await?
            .into_iter()
            .filter(|u| u.active && !u.anonymized && u.roles.contains(&(role as i32)))
            .map(|u| u.user_id)
            .collect())
    }

    /// The users support-eligible for a municipality on `day`.
    pub async fn eligible_users(
        &self,
        municipality_id: &str,
        day: NaiveDate,
    ) -> Result<Vec<String>, Error> {
        let mut client = identity::eligibility_service_client::EligibilityServiceClient::new(
            self.identity.clone(),
        );
        let (mut users, mut token) = (Vec::new(), String::new());
        loop {
            let request = self
                .authorized(identity::ListEligibilityRegistrationsRequest {
                    municipality_id: municipality_id.to_owned(),
                    user_id: String::new(),
                    page: Some(PageRequest {
                        page_size: PAGE,
                        page_token: token,
                    }),
                })
                .await?;
            let page = client
                .list_eligibility_registrations(request)
                .await
                .map_err(unavailable("identity"))?
                .into_inner();
            users.extend(
                page.registrations
                    .into_iter()
                    .filter(|r| domain::covers(&r.valid_from, &r.valid_to, day))
                    .map(|r| r.user_id),
            );
            token = page.page.unwrap_or_default().next_page_token;
            if token.is_empty() {
                users.sort();
                users.dedup();
                return Ok(users);
            }
        }
    }

    /// A case.
    pub async fn case(&self, case_id: &str) -> Result<cases::Case, Error> {
        let request = self
            .authorized(cases::GetCaseRequest {
                case_id: case_id.to_owned(),
            })
            .await?;
        cases::case_service_client::CaseServiceClient::new(self.cases()?)
            .get_case(request)
            .await
            .map_err(unavailable("cases"))?
            .into_inner()
            .case
            .ok_or_else(|| Error::internal("cases answered without the case"))
    }

    /// An incident.
    pub async fn incident(&self, incident_id: &str) -> Result<cases::Incident, Error> {
        let request = self
            .authorized(cases::GetIncidentRequest {
                incident_id: incident_id.to_owned(),
            })
            .await?;
        cases::incident_service_client::IncidentServiceClient::new(self.cases()?)
            .get_incident(request)
            .await
            .map_err(unavailable("cases"))?
            .into_inner()
            .incident
            .ok_or_else(|| Error::internal("cases answered without the incident"))
    }

    /// An operational message.
    pub async fn operational_message(
        &self,
        message_id: &str,
    ) -> Result<cases::OperationalMessage, Error> {
        let request = self
            .authorized(cases::GetOperationalMessageRequest {
                operational_message_id: message_id.to_owned(),
            })
            .await?;
        cases::operational_message_service_client::OperationalMessageServiceClient::new(
            self.cases()?,
        )
        .get_operational_message(request)
        .await
        .map_err(unavailable("cases"))?
        .into_inner()
        .operational_message
        .ok_or_else(|| Error::internal("cases answered without the message"))
    }

    /// The support teams.
    pub async fn teams(&self) -> Result<Vec<cases::Team>, Error> {
        let request = self.authorized(cases::ListTeamsRequest {}).await?;
        Ok(
            cases::reference_service_client::ReferenceServiceClient::new(self.cases()?)
                .list_teams(request)
                .await
                .map_err(unavailable("cases"))?
                .into_inner()
                .teams,
        )
    }

    /// Whether cases knows the system.
    pub async fn system_exists(&self, system_id: &str) -> Result<bool, Error> {
        let request = self.authorized(cases::ListSystemsRequest {}).await?;
        Ok(
            cases::reference_service_client::ReferenceServiceClient::new(self.cases()?)
                .list_systems(request)
                .await
                .map_err(unavailable("cases"))?
                .into_inner()
                .systems
                .iter()
                .any(|s| s.system_id == system_id),
        )
    }

    /// Every klik project.
    pub async fn projects(&self) -> Result<Vec<klik::Project>, Error> {
        let mut client = klik::project_service_client::ProjectServiceClient::new(self.klik()?);
        let (mut projects, mut token) = (Vec::new(), String::new());
        loop {
            let request = self
                .authorized(klik::ListProjectsRequest {
                    page: Some(PageRequest {
                        page_size: PAGE,
                        page_token: token,
                    }),
                })
                .await?;
            let page = client
                .list_projects(request)
                .await
                .map_err(unavailable("klik"))?
                .into_inner();
            projects.extend(page.projects);
            token = page.page.unwrap_or_default().next_page_token;
            if token.is_empty() {
                return Ok(projects);
            }
        }
    }

    /// Every task of a klik project, in every municipality.
    pub async fn tasks(&self, project_id: &str) -> Result<Vec<klik::Task>, Error> {
        let mut client = klik::task_service_client::TaskServiceClient::new(self.klik()?);
        let (mut tasks, mut token) = (Vec::new(), String::new());
        loop {
            let request = self
                .authorized(klik::ListTasksRequest {
                    project_id: project_id.to_owned(),
                    municipality_id: String::new(),
                    overdue_only: false,
                    page: Some(PageRequest {
                        page_size: PAGE,
                        page_token: token,
                    }),
                })
                .await?;
            let page = client
                .list_tasks(request)
                .await
                .map_err(unavailable("klik"))?
                .into_inner();
            tasks.extend(page.tasks);
            token = page.page.unwrap_or_default().next_page_token;
            if token.is_empty() {
                return Ok(tasks);
            }
        }
    }

    /// Every enrolment of a klik project: which municipality takes part in which wave, under which
    /// named project leader.
    pub async fn enrolments(&self, project_id: &str) -> Result<Vec<klik::Enrolment>, Error> {
        let mut client = klik::project_service_client::ProjectServiceClient::new(self.klik()?);
        let (mut enrolments, mut token) = (Vec::new(), String::new());
        loop {
            let request = self
                .authorized(klik::ListEnrolmentsRequest {
                    project_id: project_id.to_owned(),
                    page: Some(PageRequest {
                        page_size: PAGE,
                        page_token: token,
                    }),
                })
                .await?;
            let page = client
                .list_enrolments(request)
                .await
                .map_err(unavailable("klik"))?
                .into_inner();
            enrolments.extend(page.enrolments);
            token = page.page.unwrap_or_default().next_page_token;
            if token.is_empty() {
                return Ok(enrolments);
            }
        }
    }

    /// A klik project, or `None` when klik does not know it.
    pub async fn project(&self, project_id: &str) -> Result<Option<klik::Project>, Error> {
        let request = self
            .authorized(klik::GetProjectRequest {
                project_id: project_id.to_owned(),
            })
            .await?;
        match klik::project_service_client::ProjectServiceClient::new(self.klik()?)
            .get_project(request)
            .await
        {
            Ok(response) => Ok(response.into_inner().project),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(unavailable("klik")(status)),
        }
    }
}
