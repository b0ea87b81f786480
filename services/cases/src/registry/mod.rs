//! The cases service's operations: each checks who may do it, then writes the change, its audit record
//! and its event in one transaction. Inputs arrive validated (see `api`); rules come from `domain`.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use kommune_platform::audit::AuditKeys;
use kommune_platform::auth::Caller;
use kommune_platform::clock::SharedClock;
use kommune_platform::db::Txn;
use kommune_platform::db::update_versioned;
use kommune_platform::idempotency::{self, IdempotencyKey};
use kommune_platform::outbox::{self, Outbox};
use kommune_platform::paging::Page;
use kommune_platform::records::{AuditTrail, EventFeed};
use kommune_platform::service::ServiceRole;
use kommune_platform::{Error, Reason};
use kommune_proto::cases::v1 as pb;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::identity::v1::Role;
use pb::{CaseState, Resolution, SupportLine, Transition};

use crate::domain::calendar::BusinessCalendar;
use crate::domain::outage::{Classification, Symptom};
use crate::domain::{self, sla_targets};
use crate::peers::Peers;
use crate::store::numbers::Numbered;
use crate::store::{
    areas, attachments, cases, comments, filings, incident_updates, numbers, systems, teams,
};
use crate::vault::Vault;

pub use erasure::ErasedFields;
mod eligibility;
mod erasure;
mod handlers;
mod incidents;
mod known_issues;
mod mailbox;
mod messages;
mod notes;
mod personal_data;
mod ratings;
mod reference;
mod relations;
mod reports;
mod suppliers;
mod surveys;

pub use handlers::HandlerChange;
pub use incidents::{IncidentChange, IncidentView, NewIncident, NewSupplierReport};
pub use known_issues::{KnownIssueContent, KnownIssueView};
pub use mailbox::{HeldBecomes, MailOutcome, MailboxDesk};
pub use messages::MessageContent;
pub use ratings::Satisfaction;
pub use reports::{QUEUE_UNPAGED, QueuedCase, QueuedPage, Standup, StandupPages};
pub use suppliers::supplier_mail;
pub use surveys::{Answer, FocusAreaContent, GroupResult, NewSurvey};

/// A case to file (validated).
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Kind (proto enum).
    pub kind: pb::CaseKind,
    /// Question subject (proto enum).
    pub question_subject: pb::QuestionSubject,
    /// Severity (proto enum).
    pub severity: pb::Severity,
    /// Affected system.
    pub system_id: String,
    /// Area.
    pub area_id: String,
    /// Guide sections read, as free text (older clients).
    pub guide_sections: Vec<String>,
    /// Guide sections read, by id (checked with guides).
    pub cited_section_ids: Vec<String>,
    /// The guides' suggestion read before filing.
    pub suggestion_id: Option<String>,
    /// Normalised personal ID number, if any.
    pub personal_id: Option<String>,
    /// For eligibility-change cases, the change asked for.
    pub eligibility: Option<crate::domain::eligibility::EligibilityChange>,
    /// Files that come with the filing (a mail's attachments), checked as any attachment.
    pub attachments: Vec<crate::domain::mail::MailAttachment>,
}

/// A lifecycle move with its arguments (validated).
#[derive(Debug, Clone)]
pub struct Move {
    /// The move.
    pub transition: Transition,
    /// Team for triage (optional) and escalation (required).
    pub team_id: Option<String>,
    /// Resolution for RESOLVE.
    pub resolution: Resolution,
    /// Change request for by-design.
    pub change_request_id: String,
    /// A change request is asked for.
    pub change_request_wanted: bool,
}

/// A filed case and, for acute filings, the phone route.
#[derive(Debug, Clone)]
pub struct Filed {
    /// The case.
    pub case: cases::Model,
    /// Set for acute filings.
    pub phone_route: Option<&'static str>,
}

/// The settings the cases rules run with.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Opening hours on Danish working days.
    pub calendar: BusinessCalendar,
    /// How long after resolution a case may be reopened.
    pub reopen_window: Duration,
    /// When the follow-up with the supplier on an incident is due after its report and each update.
    pub follow_up: Duration,
}

/// The cases service's state and operations.
pub struct Registry {
    db: DatabaseConnection,
    clock: SharedClock,
    audit_keys: AuditKeys,
    outbox: Outbox,
    peers: Peers,
    vault: Vault,
    policy: Policy,
    /// Each system's recent reports, kept between filings for outage detection.
    windows: incidents::Windows,
    /// Where the desk's mailbox files mailed cases, when there is a mailbox.
    mailbox_desk: Option<MailboxDesk>,
}

/// Refuses callers who are not the supplier's support or the consortium, saying what `what` is for.
fn require_supporter(caller: &Caller, what: &str) -> Result<(), Error> {
    if domain::is_supporter(caller) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(
            Reason::RoleRequired,
            format!("{what} are for the supplier's support and the consortium"),
        ))
    }
}

/// A list as the JSON text the stores keep.
fn json_list<T: serde::Serialize>(items: &T) -> Result<String, Error> {
    serde_json::to_string(items).map_err(Error::internal)
}

impl Registry {
    /// The outbox, whose feeds the server closes on shutdown.
    pub fn outbox(&self) -> Outbox {
        self.outbox.clone()
    }

    /// The service over its database, clock, the services it calls and the personal-ID vault.
    pub fn new(
        db: DatabaseConnection,
        clock: SharedClock,
        audit_keys: AuditKeys,
        peers: Peers,
        vault: Vault,
        policy: Policy,
    ) -> Self {
        Self {
            db,
            clock,
            audit_keys,
            outbox: Outbox::new(),
            peers,
            vault,
            policy,
            windows: incidents::Windows::default(),
            mailbox_desk: None,
        }
    }

    /// The registry with the desk's mailbox filing its cases under `desk`.
    pub fn with_mailbox_desk(mut self, desk: Option<MailboxDesk>) -> Self {
        self.mailbox_desk = desk;
        self
    }

    fn due(&self, from: DateTime<Utc>, amount: Duration) -> Result<DateTime<Utc>, Error> {
        self.policy
            .calendar
            .add_working_time(from, amount)
            .ok_or_else(|| Error::internal("no working time ahead"))
    }

    /// Ends a wait for the municipality: the SLA clock stood still meanwhile, so the working time
    /// waited is added to the pause.
    fn end_pause(&self, case: &mut cases::Model, now: DateTime<Utc>) {
        if let Some(since) = case.awaiting_since.take() {
            case.paused_seconds += self
                .policy
                .calendar
                .working_time_between(since, now)
                .num_seconds();
        }
    }

    /// The personal ID number as this caller may see it.
    pub fn personal_id_for(&self, caller: &Caller, case: &cases::Model) -> Result<String, Error> {
        let Some(sealed) = &case.personal_id else {
            return Ok(String::new());
        };
        let number = self.vault.open(sealed)?;
        Ok(if domain::sees_personal_id(caller) {
            number
        } else {
            domain::mask_personal_id(&number)
        })
    }

    /// Asks identity, on the reporter's behalf, whether they may open a case for their municipality now.
    async fn require_eligible(
        &self,
        caller: &Caller,
        user_id: &str,
        municipality_id: Uuid,
    ) -> Result<(), Error> {
        let answer = self
            .peers
            .check_eligibility(caller, user_id, &municipality_id.to_string())
            .await?;
        if answer.eligible {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                Reason::NotSupportEligible,
                format!(
                    "the reporter is not support-eligible for the municipality on {}",
                    answer.date
                ),
            ))
        }
    }

    fn require_sees(caller: &Caller, case: &cases::Model) -> Result<(), Error> {
        match Uuid::parse_str(&case.municipality_id) {
            Ok(m) if caller.can_see_municipality(m) => Ok(()),
            _ => Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "the case belongs to another municipality".into(),
            )),
        }
    }

    async fn case(
        &self,
        txn: &Txn,
        caller: &Caller,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<cases::Model, Error> {
        let case = cases::find(txn, id)
            .await?
            .ok_or_else(|| Error::not_found("case", id))?;
        Self::require_sees(caller, &case)?;
        if let Some(expected) = expected_version {
            Error::require_version("case", case.version, expected)?;
        }
        Ok(case)
    }

    /// Writes a changed case with its audit record, without an event (for changes that announce
    /// themselves once for many cases, like an incident's).
    async fn saved(
        &self,
        txn: &Txn,
        caller: &Caller,
        mut case: cases::Model,
        change: &str,
        payload: serde_json::Value,
    ) -> Result<cases::Model, Error> {
        case.version += 1;
        case.updated_at = self.clock.now();
        self.invite_rating_if_due(txn, &mut case).await?;
        self.mail_case_resolution(txn, caller, &case).await?;
        let case = update_versioned(txn, case).await?;
        self.audit(txn, caller, "case", &case.id, change, payload)
            .await?;
        Ok(case)
    }

    /// Writes a changed case with its audit record and its `CaseChanged` event.
    async fn changed(
        &self,
        txn: &Txn,
        caller: &Caller,
        case: cases::Model,
        change: &str,
        payload: serde_json::Value,
    ) -> Result<cases::Model, Error> {
        let case = self.saved(txn, caller, case, change, payload).await?;
        let state = *case.state;
        let event = pb::CaseChanged {
            case_id: case.id.clone(),
            municipality_id: case.municipality_id.clone(),
            state: state as i32,
            change: change.to_owned(),
            handler_user_id: case.handler_user_id.clone().unwrap_or_default(),
        };
        outbox::publish(txn, self.clock.now(), &case.id, &event).await?;
        Ok(case)
    }

    /// What stands for a personal ID number where a request must be recognised again (an
    /// idempotency key's request hash): a keyed hash, never the number.
    pub fn personal_id_fingerprint(&self, personal_id: &str) -> String {
        self.vault.fingerprint(personal_id)
    }

    /// Files a case for the caller's municipality, if the caller is support-eligible for it now.
    pub async fn file_case(
        &self,
        caller: &Caller,
        new: NewCase,
        key: Option<IdempotencyKey>,
    ) -> Result<Filed, Error> {
        let municipality = caller.municipality_id.ok_or_else(|| {
            Error::PermissionDenied(
                Reason::RoleRequired,
                "cases are filed by support-eligible users of a municipality".into(),
            )
        })?;
        let reporter = caller
            .subject
            .strip_prefix(kommune_platform::auth::USER_SUBJECT_PREFIX)
            .ok_or_else(|| {
                Error::PermissionDenied(
                    Reason::RoleRequired,
                    "cases are filed by support-eligible users, not by systems".into(),
                )
            })?
            .to_owned();
        // Asked together (the eligibility is a call to identity), judged in this order.
        let (system, area, eligible) = tokio::join!(
            systems::find(&self.db, &new.system_id),
            areas::find(&self.db, &new.area_id),
            self.require_eligible(caller, &reporter, municipality),
        );
        let system =
            system?.ok_or_else(|| Error::not_found_field("system", &new.system_id, "system_id"))?;
        area?.ok_or_else(|| Error::not_found_field("area", &new.area_id, "area_id"))?;
        eligible?;
        let cited = if new.cited_section_ids.is_empty() && new.suggestion_id.is_none() {
            Vec::new()
        } else {
            self.peers
                .resolve_citations(
                    caller,
                    &system.id,
                    &new.cited_section_ids,
                    new.suggestion_id.as_deref(),
                )
                .await?
        };
        let sealed = new
            .personal_id
            .as_deref()
            .map(|id| self.vault.seal(id))
            .transpose()?;
        let targets = sla_targets(new.severity);
        let acute = new.severity == pb::Severity::Acute;
        let created = idempotency::run(
            &self.db,
            key,
            self.clock.now(),
            |c: &cases::Model| c.id.clone(),
            async |txn: &Txn| {
                // Filings of one system take turns from here to the commit, and the number and filing
                // time are taken after the turn begins: every report of the system that classification
                // sees below was filed, and numbered, before this one.
                systems::lock_for_filing(txn, &system.id).await?;
                let number = numbers::next(txn, Numbered::Case).await?;
                let now = self.clock.now();
                let (response_due, resolution_due) = (
                    self.due(now, targets.response)?,
                    self.due(now, targets.resolution)?,
                );
                // A system outside the chain responsibility is not the supplier's to fix: closed at once.
                let (state, resolution, resolved_at) = if system.chain_responsibility {
                    (CaseState::New, Resolution::Unspecified, None)
                } else {
                    (CaseState::Closed, Resolution::OutsideChain, Some(now))
                };
                let symptom = Symptom::of(&system.name, &new.title, &new.description);
                let mut case = cases::Model {
                    id: Uuid::now_v7().to_string(),
                    number,
                    municipality_id: municipality.to_string(),
                    reporter_user_id: reporter.clone(),
                    title: new.title,
                    description: new.description,
                    kind: new.kind.into(),
                    question_subject: new.question_subject.into(),
                    severity: new.severity.into(),
                    system_id: new.system_id,
                    area_id: new.area_id,
                    guide_sections: json_list(&new.guide_sections)?,
                    personal_id: sealed,
                    state: state.into(),
                    team_id: None,
                    line: SupportLine::Unspecified.into(),
                    resolution: resolution.into(),
                    change_request_id: String::new(),
                    change_request_wanted: false,
                    merged_into: None,
                    incident_flag: acute,
                    response_due,
                    first_response_at: None,
                    resolution_due,
                    paused_seconds: 0,
                    awaiting_since: None,
                    resolved_at,
                    related: "[]".into(),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                    incident_id: None,
                    symptom: Some(symptom.to_bytes()),
                    handler_user_id: None,
                    eligibility_request: new
                        .eligibility
                        .as_ref()
                        .map(serde_json::to_string)
                        .transpose()
                        .map_err(Error::internal)?,
                    rating_invited_at: None,
                    cited_sections: serde_json::to_string(&cited).map_err(Error::internal)?,
                    suggestion_id: new.suggestion_id.clone().unwrap_or_default(),
                    personal_id_erased_at: None,
                };
                let classification = if system.chain_responsibility {
                    self.classify(txn, &system, &case, acute).await?
                } else {
                    Classification::Alone
                };
                case.incident_id = match &classification {
                    Classification::Join(incident) => Some(incident.clone()),
                    Classification::Propose(_) | Classification::OpenForAcute => {
                        Some(Uuid::now_v7().to_string())
                    }
                    Classification::Alone => None,
                };
                let case = cases::insert(txn, case).await?;
                filings::count(txn, &case).await?;
                for file in &new.attachments {
                    attachments::insert(
                        txn,
                        attachments::Model {
                            id: Uuid::now_v7().to_string(),
                            case_id: case.id.clone(),
                            file_name: file.file_name.clone(),
                            content_type: file.content_type.clone(),
                            size_bytes: file.content.len() as i64,
                            content: file.content.clone(),
                            uploaded_by: caller.subject.clone(),
                            created_at: now,
                        },
                    )
                    .await?;
                }
                // The audit payload names what was filed, never the personal ID number itself.
                let payload = json!({
                    "number": case.number,
                    "title": case.title,
                    "severity": case.severity,
                    "system_id": case.system_id,
                    "area_id": case.area_id,
                    "personal_id": case.personal_id.is_some(),
                    "incident_id": case.incident_id,
                    "attachments": new.attachments.len(),
                });
                self.audit_created(txn, caller, "case", &case.id, "file", payload)
                    .await?;
                let event = pb::CaseFiled {
                    case_id: case.id.clone(),
                    municipality_id: case.municipality_id.clone(),
                    severity: new.severity as i32,
                    incident_flag: acute,
                    incident_id: case.incident_id.clone().unwrap_or_default(),
                    system_id: case.system_id.clone(),
                    cited_section_ids: cited.iter().map(|c| c.section_id.clone()).collect(),
                    suggestion_id: case.suggestion_id.clone(),
                };
                outbox::publish(txn, now, &case.id, &event).await?;
                self.link_filed(txn, &system, &case, classification).await?;
                Ok(case)
            },
        )
        .await?;
        self.outbox.notify_committed();
        let case = created
            .or_current(async |id| {
                cases::find(&self.db, &id)
                    .await?
                    .ok_or_else(|| Error::not_found("case", id))
            })
            .await?;
        Ok(Filed {
            case,
            phone_route: acute.then_some(domain::PHONE_ROUTE),
        })
    }

    /// One case.
    pub async fn get_case(&self, caller: &Caller, id: &str) -> Result<cases::Model, Error> {
        let case = cases::find(&self.db, id)
            .await?
            .ok_or_else(|| Error::not_found("case", id))?;
        Self::require_sees(caller, &case)?;
        Ok(case)
    }

    /// A page of cases; municipal callers get their own municipality's only.
    pub async fn list_cases(
        &self,
        caller: &Caller,
        mut filter: cases::Filter,
        page: &Page,
    ) -> Result<(Vec<cases::Model>, PageResponse), Error> {
        if !caller.is_suite_wide() {
            let own = caller
                .municipality_id
                .ok_or_else(|| {
                    Error::PermissionDenied(
                        Reason::RoleRequired,
                        "the caller belongs to no municipality".into(),
                    )
                })?
                .to_string();
            if filter.municipality_id.as_ref().is_some_and(|m| *m != own) {
                return Err(Error::PermissionDenied(
                    Reason::OtherMunicipality,
                    "municipal users see only their own municipality's cases".into(),
                ));
            }
            filter.municipality_id = Some(own);
        }
        cases::list(&self.db, filter, page).await
    }

    /// Changes the title: the municipality while the case lies with it, supporters always.
    pub async fn update_title(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        title: String,
    ) -> Result<cases::Model, Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut case = self.case(&txn, caller, id, Some(expected_version)).await?;
        let state = *case.state;
        if !domain::is_supporter(caller) && !domain::lies_with_municipality(state) {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!(
                    "the title can no longer be changed: the case is {}",
                    state.as_str_name()
                ),
            ));
        }
        let from = std::mem::replace(&mut case.title, title);
        let payload = json!({"from": from, "to": case.title});
        let case = self.changed(&txn, caller, case, "title", payload).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(case)
    }

    /// Moves a case along its lifecycle.
    pub async fn transition(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        step: Move,
    ) -> Result<cases::Model, Error> {
        // The municipality answers and reopens; everything else is the supplier's work.
        let municipal_move = matches!(step.transition, Transition::Resume | Transition::Reopen);
        if !municipal_move && !domain::is_supporter(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                format!(
                    "{} is done by the supplier's support",
                    step.transition.as_str_name()
                ),
            ));
        }
        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut case = self.case(&txn, caller, id, Some(expected_version)).await?;
        let from = *case.state;
        let to = domain::next_state(from, step.transition).map_err(Error::wrong_state)?;
        let severity = *case.severity;
        match step.transition {
            Transition::Triage => {
                let team_id = match step.team_id.clone() {
                    Some(team) => team,
                    None => areas::find(&txn, &case.area_id)
                        .await?
                        .map(|a| a.team_id)
                        .ok_or_else(|| Error::internal("case without area"))?,
                };
                self.require_team(&txn, &team_id, SupportLine::Second)
                    .await?;
                case.team_id = Some(team_id);
                case.line = SupportLine::Second.into();
                case.first_response_at.get_or_insert(now);
            }
            Transition::AwaitMunicipality => case.awaiting_since = Some(now),
            Transition::Resume => {
                self.end_pause(&mut case, now);
                let target =
                    sla_targets(severity).resolution + Duration::seconds(case.paused_seconds);
                case.resolution_due = self.due(case.created_at, target)?;
            }
            Transition::Resolve => {
                domain::check_resolution(step.resolution, &step.change_request_id)
                    .map_err(|d| Error::invalid("resolution", d.to_string()))?;
                case.resolution = step.resolution.into();
                case.change_request_id = step.change_request_id.clone();
                case.change_request_wanted =
                    step.resolution == Resolution::ByDesign && step.change_request_wanted;
                case.resolved_at = Some(now);
            }
            Transition::Reopen => {
                if !domain::may_reopen(case.resolved_at, now, self.policy.reopen_window) {
                    return Err(Error::FailedPrecondition(
                        Reason::OutsideWindow,
                        "the reopen window has passed; file a new case".into(),
                    ));
                }
                case.resolution = Resolution::Unspecified.into();
                case.resolved_at = None;
            }
            Transition::Escalate => {
                let team_id = step.team_id.clone().ok_or_else(|| {
                    Error::invalid("team_id", "names the 3rd-line team to escalate to")
                })?;
                self.require_team(&txn, &team_id, SupportLine::Third)
                    .await?;
                case.team_id = Some(team_id);
                case.line = SupportLine::Third.into();
            }
            Transition::ReturnToSecondLine => {
                if case.line != SupportLine::Third.into() {
                    return Err(Error::FailedPrecondition(
                        Reason::WrongState,
                        "the case is not with the 3rd line".into(),
                    ));
                }
                case.team_id = areas::find(&txn, &case.area_id).await?.map(|a| a.team_id);
                case.line = SupportLine::Second.into();
            }
            Transition::Start | Transition::Close | Transition::Unspecified => {}
        }
        case.state = to.into();
        self.keep_handler_in_team(&txn, &mut case).await?;
        let payload = json!({
            "from": from.as_str_name(),
            "to": to.as_str_name(),
            "team_id": case.team_id,
            "handler_user_id": case.handler_user_id,
            "line": case.line,
            "resolution": case.resolution,
            "change_request_id": case.change_request_id,
        });
        let change = step
            .transition
            .as_str_name()
            .trim_start_matches("TRANSITION_")
            .to_lowercase();
        let case = self.changed(&txn, caller, case, &change, payload).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(case)
    }

    async fn require_team(&self, txn: &Txn, team_id: &str, line: SupportLine) -> Result<(), Error> {
        let team = teams::find(txn, team_id)
            .await?
            .ok_or_else(|| Error::not_found_field("team", team_id, "team_id"))?;
        if team.line != line.into() {
            return Err(Error::invalid(
                "team_id",
                format!("must be a {} team", line.as_str_name()),
            ));
        }
        Ok(())
    }

    /// Acts on identity's `UserAnonymized`: the person's comments, incident updates and the comments of
    /// their ratings lose their text; the cases, their history and the audit chain stay. Running it twice
    /// changes nothing more.
    pub async fn erase_person(&self, user_id: &str) -> Result<(), Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let commented = self
            .erase_words_of(&txn, user_id, comments::AUTHORED, "case")
            .await?;
        let incidents = self
            .erase_words_of(&txn, user_id, incident_updates::AUTHORED, "incident")
            .await?;
        let rated =
            crate::store::ratings::erase_comments_of(&txn, user_id, domain::ERASED_TEXT).await?;
        self.audit_erased(&txn, user_id, "case", &rated, "rating comment")
            .await?;
        txn.commit().await?;
        tracing::info!(
            user_id,
            cases = commented.len() + rated.len(),
            incidents = incidents.len(),
            "erased an anonymised person's words"
        );
        Ok(())
    }
}

#[tonic::async_trait]
impl AuditTrail for Registry {
    const ROLE: kommune_platform::service::ServiceRole =
        kommune_platform::service::ServiceRole::Cases;
    const ENTITIES: &'static [&'static str] = &[
        "case",
        "incident",
        "system",
        "team",
        "area",
        "known_issue",
        "survey",
        "focus_area",
    ];

    fn audit_db(&self) -> &DatabaseConnection {
        &self.db
    }

    fn audit_keys(&self) -> &kommune_platform::audit::AuditKeys {
        &self.audit_keys
    }

    fn audit_clock(&self) -> &SharedClock {
        &self.clock
    }

    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        id: &str,
    ) -> Result<(), Error> {
        if caller.is_suite_wide() {
            return Ok(());
        }
        match (entity_type, cases::find(&self.db, id).await?) {
            ("case", Some(case)) => Self::require_sees(caller, &case),
            _ => Err(Error::PermissionDenied(
                Reason::OtherMunicipality,
                "municipal users read only their own municipality's cases' trails".into(),
            )),
        }
    }
}

impl EventFeed for Registry {
    const ROLE: ServiceRole = ServiceRole::Cases;

    fn feed(&self) -> (&DatabaseConnection, &Outbox) {
        (&self.db, &self.outbox)
    }
}
