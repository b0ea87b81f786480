//! What cases asks the other services, always on the caller's behalf: identity whether a reporter
//! is support-eligible now and who a user is, changes to create a change request from a case, and
//! klik a project's waves and enrolments.

use tonic::transport::Channel;

use kommune_platform::auth::Caller;
use kommune_platform::client::on_behalf_of;
use kommune_platform::error::field_violations;
use kommune_platform::{Error, Reason};
use kommune_proto::changes::v1 as changes;
use kommune_proto::guides::v1 as guides;
use kommune_proto::identity::v1 as identity;
use kommune_proto::klik::v1 as klik;

use crate::domain::CitedSection;
use crate::domain::eligibility::{Action, EligibilityChange};

use changes::change_request_service_client::ChangeRequestServiceClient;
use identity::eligibility_service_client::EligibilityServiceClient;
use identity::user_service_client::UserServiceClient;
use klik::project_service_client::ProjectServiceClient;

/// identity's refusal of a change the approver asked for on the case's behalf, as the approver should
/// hear it: not allowed is not allowed; a change identity cannot apply as asked (an unknown or inactive
/// user, a registration already ended, a date that does not fit) leaves the case unapprovable as it
/// stands, saying why.
fn refused_by_identity(status: tonic::Status) -> Error {
    let why = format!("identity refused the change: {}", status.message());
    match status.code() {
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => {
            Error::PermissionDenied(Reason::RoleRequired, why)
        }
        tonic::Code::InvalidArgument
        | tonic::Code::NotFound
        | tonic::Code::AlreadyExists
        | tonic::Code::FailedPrecondition
        | tonic::Code::OutOfRange => Error::FailedPrecondition(Reason::WrongState, why),
        _ => Error::from(status),
    }
}

/// guides' refusal of a case's citations, on the filing's fields (read from the refusal's field
/// violations): `section_ids[2]` becomes `cited_section_ids[2]`; a suggestion guides does not find for
/// the reporter is `suggestion_id`.
fn refused_citation(status: tonic::Status) -> Error {
    match status.code() {
        tonic::Code::InvalidArgument => {
            let violations = field_violations(&status);
            if violations.is_empty() {
                return Error::invalid("cited_section_ids", status.message());
            }
            Error::InvalidArgument(
                violations
                    .into_iter()
                    .map(|mut v| {
                        v.field = cited_field(&v.field);
                        v
                    })
                    .collect(),
            )
        }
        tonic::Code::NotFound => Error::invalid("suggestion_id", "names no suggestion of yours"),
        tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => Error::PermissionDenied(
            Reason::RoleRequired,
            format!(
                "guides refused to check the cited sections: {}",
                status.message()
            ),
        ),
        _ => Error::from(status),
    }
}

/// The filing's field for a field of guides' `ResolveCitations`.
fn cited_field(field: &str) -> String {
    if field.starts_with("section_ids") {
        format!("cited_{field}")
    } else if field == "suggestion_id" {
        field.to_owned()
    } else {
        "cited_section_ids".to_owned()
    }
}

/// The services cases calls.
#[derive(Clone)]
pub struct Peers {
    identity: Channel,
    changes: Option<Channel>,
    klik: Option<Channel>,
    guides: Option<Channel>,
}

impl Peers {
    /// identity, and changes, klik and guides where configured.
    pub fn new(
        identity: Channel,
        changes: Option<Channel>,
        klik: Option<Channel>,
        guides: Option<Channel>,
    ) -> Self {
        Self {
            identity,
            changes,
            klik,
            guides,
        }
    }

    /// The guide sections a case about `system_id` cites, as guides names them; guides refuses a
    /// section that does not exist or belongs to another system's guide, and a suggestion that is not
    /// the caller's (reported on the filing's own fields).
    pub async fn resolve_citations(
        &self,
        caller: &Caller,
        system_id: &str,
        section_ids: &[String],
        suggestion_id: Option<&str>,
    ) -> Result<Vec<CitedSection>, Error> {
        let channel = self.guides.clone().ok_or_else(|| {
            Error::FailedPrecondition(
                Reason::NotConfigured,
                "the guides service is not configured; cited sections cannot be checked".into(),
            )
        })?;
        let request = guides::ResolveCitationsRequest {
            system_id: system_id.to_owned(),
            section_ids: section_ids.to_vec(),
            suggestion_id: suggestion_id.unwrap_or_default().to_owned(),
        };
        let sections = guides::search_service_client::SearchServiceClient::new(channel)
            .resolve_citations(on_behalf_of(caller, request))
            .await
            .map_err(refused_citation)?
            .into_inner()
            .sections;
        Ok(sections
            .into_iter()
            .map(|s| CitedSection {
                section_id: s.section_id,
                guide_id: s.guide_id,
                guide_title: s.guide_title,
                number: s.number,
                heading: s.heading,
            })
            .collect())
    }

    /// Applies an approved change to a municipality's support-eligible users in identity, keyed by the
    /// case so that a retry applies it once; the registration made or stopped.
    pub async fn apply_eligibility_change(
        &self,
        caller: &Caller,
        municipality_id: &str,
        change: &EligibilityChange,
        case_id: &str,
        note: &str,
    ) -> Result<String, Error> {
        let mut client = EligibilityServiceClient::new(self.identity.clone());
        let key = format!("case-{case_id}");
        let date = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
        let valid_to = change.valid_to.map(date).unwrap_or_default();
        let registration = match change.action {
            Action::New => client
                .register_eligible_user(on_behalf_of(
                    caller,
                    identity::RegisterEligibleUserRequest {
                        idempotency_key: key,
                        user_id: change.user_id.clone().unwrap_or_default(),
                        municipality_id: municipality_id.to_owned(),
                        valid_from: date(change.date),
                        valid_to,
                        note: note.to_owned(),
                    },
                ))
                .await
                .map(|answer| answer.into_inner().registration),
            Action::Replace => client
                .replace_eligible_user(on_behalf_of(
                    caller,
                    identity::ReplaceEligibleUserRequest {
                        idempotency_key: key,
                        replaced_registration_id: change
                            .registration_id
                            .clone()
                            .unwrap_or_default(),
                        new_user_id: change.user_id.clone().unwrap_or_default(),
                        effective_date: date(change.date),
                        valid_to,
                        note: note.to_owned(),
                    },
                ))
                .await
                .map(|answer| answer.into_inner().registration),
            Action::Stop => client
                .stop_eligibility(on_behalf_of(
                    caller,
                    identity::StopEligibilityRequest {
                        registration_id: change.registration_id.clone().unwrap_or_default(),
                        valid_to: date(change.date),
                        note: note.to_owned(),
                    },
                ))
                .await
                .map(|answer| answer.into_inner().registration),
        }
        .map_err(refused_by_identity)?;
        registration
            .map(|r| r.registration_id)
            .ok_or_else(|| Error::internal("identity answered without a registration"))
    }

    /// A klik project's waves and every enrolment in it, read page by page.
    pub async fn waves_and_enrolments(
        &self,
        caller: &Caller,
        project_id: &str,
    ) -> Result<(Vec<klik::Wave>, Vec<klik::Enrolment>), Error> {
        let channel = self.klik.clone().ok_or_else(|| {
            Error::FailedPrecondition(
                Reason::NotConfigured,
                "the klik service is not configured; waves cannot be compared".into(),
            )
        })?;
        let refused = |status: tonic::Status| match status.code() {
            tonic::Code::NotFound => Error::not_found_field("project", project_id, "project_id"),
            _ => Error::from(status),
        };
        let mut client = ProjectServiceClient::new(channel);
        let waves = client
            .list_waves(on_behalf_of(
                caller,
                klik::ListWavesRequest {
                    project_id: project_id.to_owned(),
                },
            ))
            .await
            .map_err(refused)?
            .into_inner()
            .waves;
        let mut enrolments = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = klik::ListEnrolmentsRequest {
                project_id: project_id.to_owned(),
                page: Some(kommune_proto::common::v1::PageRequest {
                    page_size: 500,
                    page_token,
                }),
            };
            let page = client
                .list_enrolments(on_behalf_of(caller, request))
                .await
                .map_err(refused)?
                .into_inner();
            enrolments.extend(page.enrolments);
            page_token = page.page.map(|p| p.next_page_token).unwrap_or_default();
            if page_token.is_empty() {
                return Ok((waves, enrolments));
            }
        }
    }

    /// Identity's answer whether `user_id` may open a case for `municipality_id` now.
    pub async fn check_eligibility(
        &self,
        caller: &Caller,
        user_id: &str,
        municipality_id: &str,
    ) -> Result<identity::CheckEligibilityResponse, Error> {
        let request = identity::CheckEligibilityRequest {
            user_id: user_id.to_owned(),
            municipality_id: municipality_id.to_owned(),
            time: None,
        };
        let answer = EligibilityServiceClient::new(self.identity.clone())
            .check_eligibility(on_behalf_of(caller, request))
            .await
            .map_err(|status| {
                tracing::warn!(error = %status, "cannot check eligibility");
                Error::Unavailable("identity cannot check support eligibility now; retry".into())
            })?;
        Ok(answer.into_inner())
    }

    /// The active user with the e-mail address `email`, if identity knows one.
    pub async fn user_by_email(
        &self,
        caller: &Caller,
        email: &str,
    ) -> Result<Option<identity::User>, Error> {
        let request = identity::ListUsersRequest {
            email: email.to_owned(),
            ..Default::default()
        };
        let found = UserServiceClient::new(self.identity.clone())
            .list_users(on_behalf_of(caller, request))
            .await
            .map_err(|status| {
                tracing::warn!(error = %status, "cannot look up a mail's sender");
                Error::Unavailable("identity cannot look up the sender now; retry".into())
            })?
            .into_inner()
            .users;
        Ok(found.into_iter().find(|u| u.active && !u.anonymized))
    }

    /// The user `user_id` as identity knows them; NOT_FOUND naming `field` when it knows nobody by it.
    pub async fn user(
        &self,
        caller: &Caller,
        user_id: &str,
        field: &'static str,
    ) -> Result<identity::User, Error> {
        let request = identity::GetUserRequest {
            user_id: user_id.to_owned(),
        };
        UserServiceClient::new(self.identity.clone())
            .get_user(on_behalf_of(caller, request))
            .await
            .map_err(|status| match status.code() {
                tonic::Code::NotFound => Error::not_found_field("user", user_id, field),
                _ => Error::from(status),
            })?
            .into_inner()
            .user
            .ok_or_else(|| Error::internal("identity answered without a user"))
    }

    /// Creates a change request at changes (idempotent on the request's key); refused when changes
    /// is not configured.
    pub async fn create_change_request(
        &self,
        caller: &Caller,
        request: changes::CreateChangeRequestRequest,
    ) -> Result<changes::ChangeRequest, Error> {
        let channel = self.changes.clone().ok_or_else(|| {
            Error::FailedPrecondition(
                Reason::NotConfigured,
                "the changes service is not configured; a case cannot be converted".into(),
            )
        })?;
        ChangeRequestServiceClient::new(channel)
            .create_change_request(on_behalf_of(caller, request))
            .await
            .map_err(Error::from)?
            .into_inner()
            .change_request
            .ok_or_else(|| Error::internal("changes answered without a change request"))
    }
}
