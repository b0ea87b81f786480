//! The rules of support cases as plain types and functions: the lifecycle, the SLA targets, the personal
//! ID field, who sees what, outage detection from reports ([`outage`]), the rules of incidents and
//! operational messages ([`incident`]) and contacts per implementation wave ([`waves`]). No I/O here.

pub use kommune_platform::calendar;
pub mod eligibility;
pub mod incident;
pub mod known_issues;
pub mod mail;
pub mod outage;
pub mod suppliers;
pub mod surveys;
pub mod waves;

use chrono::{DateTime, Duration, Utc};
use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::pii;
use kommune_proto::cases::v1::{
    CaseKind, CaseState, QuestionSubject, Resolution, Severity, SlaState, Transition,
};
use kommune_proto::identity::v1::Role;

/// Why a lifecycle move is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The move does not start from the case's state.
    #[error("{} is not possible from {}", .transition.as_str_name(), .from.as_str_name())]
    NotFrom {
        /// The move asked for.
        transition: Transition,
        /// The state the case is in.
        from: CaseState,
    },
}

/// The state a lifecycle move leads to from `from`, or why it is refused (naming both states).
pub fn next_state(from: CaseState, transition: Transition) -> Result<CaseState, LifecycleError> {
    use CaseState::*;
    let to = match (transition, from) {
        (Transition::Triage, New) => Triaged,
        (Transition::Start, Triaged) => InProgress,
        (Transition::AwaitMunicipality, InProgress) => AwaitingMunicipality,
        (Transition::Resume, AwaitingMunicipality) => InProgress,
        (Transition::Resolve, InProgress) => Resolved,
        (Transition::Close, Resolved) => Closed,
        (Transition::Reopen, Resolved | Closed) => InProgress,
        (Transition::Escalate | Transition::ReturnToSecondLine, InProgress) => InProgress,
        (transition, from) => return Err(LifecycleError::NotFrom { transition, from }),
    };
    Ok(to)
}

/// Whether the case lies with the municipality (so its users may still edit the title).
pub fn lies_with_municipality(state: CaseState) -> bool {
    matches!(state, CaseState::New | CaseState::AwaitingMunicipality)
}

/// Whether a resolved case may still be reopened at `now`.
pub fn may_reopen(
    resolved_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: Duration,
) -> bool {
    resolved_at.is_some_and(|at| now <= at + window)
}

/// Response and resolution targets, in working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTargets {
    /// Time to the first response.
    pub response: Duration,
    /// Time to resolution.
    pub resolution: Duration,
}

/// The targets of a severity (working hours: a working day is eight).
pub fn sla_targets(severity: Severity) -> SlaTargets {
    match severity {
        Severity::Acute => SlaTargets {
            response: Duration::minutes(30),
            resolution: Duration::hours(4),
        },
        Severity::PaymentCritical => SlaTargets {
            response: Duration::hours(2),
            resolution: Duration::hours(16),
        },
        _ => SlaTargets {
            response: Duration::hours(8),
            resolution: Duration::hours(80),
        },
    }
}

/// The service desk's phone route, given to acute filings.
pub const PHONE_ROUTE: &str = "Acute matters (the system cannot be reached or runs very slowly) are handled by phone: call the service desk now. \
     This case is flagged for the incident process.";

/// The dedicated field holds something else than one personal ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a CPR number (DDMMYY-XXXX) or a personnummer, and nothing else")]
pub struct NotOnePersonalId;

/// Checks a personal ID number for the dedicated field: exactly one Danish CPR number or Swedish
/// personnummer, nothing else. Returns it with separators normalised away.
pub fn normalise_personal_id(value: &str) -> Result<String, NotOnePersonalId> {
    let value = value.trim();
    let found = pii::find_personal_ids(value);
    match found.as_slice() {
        [only] if only.range == (0..value.len()) => {
            Ok(value.chars().filter(|c| c.is_ascii_digit()).collect())
        }
        _ => Err(NotOnePersonalId),
    }
}

/// The masked form shown to those who do not need the number: the date part only.
pub fn mask_personal_id(digits: &str) -> String {
    let (birth, rest) = digits.split_at(digits.len().saturating_sub(4));
    format!("{birth}-{}", "*".repeat(rest.len()))
}

/// Whether the caller's role needs the full personal ID number (the supplier's support lines, who look
/// the citizen up in the benefits system).
pub fn sees_personal_id(caller: &Caller) -> bool {
    caller.has_any_role(&[Role::SupplierSecondLine, Role::ThirdLineSpecialist])
}

/// Whether the caller sees a system's supplier contacts: those who mail the supplier, the supporters
/// and services.
pub fn sees_supplier_contacts(caller: &Caller) -> bool {
    is_supporter(caller) || caller.has_role(Role::Service)
}

/// Whether the caller works cases (moves them along, writes internal comments).
pub fn is_supporter(caller: &Caller) -> bool {
    caller.has_any_role(&[
        Role::SupplierSecondLine,
        Role::ThirdLineSpecialist,
        Role::ConsortiumAdmin,
    ])
}

/// Why a resolution is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResolutionError {
    /// None was given.
    #[error("is required to resolve")]
    Missing,
    /// Duplicates are merged, not resolved.
    #[error("a duplicate is resolved by merging it")]
    Duplicate,
    /// A change request was named for a resolution other than by design.
    #[error("only a by-design resolution names a change request")]
    ChangeRequestNotByDesign,
}

/// The resolutions that need nothing more than their name.
pub fn check_resolution(
    resolution: Resolution,
    change_request_id: &str,
) -> Result<(), ResolutionError> {
    match resolution {
        Resolution::Unspecified => Err(ResolutionError::Missing),
        Resolution::Duplicate => Err(ResolutionError::Duplicate),
        r if r != Resolution::ByDesign && !change_request_id.is_empty() => {
            Err(ResolutionError::ChangeRequestNotByDesign)
        }
        _ => Ok(()),
    }
}

/// Why a question subject does not fit the case's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// A question without its subject.
    #[error("is required for a question (QUESTION_SUBJECT_OTHER when none fits)")]
    Missing,
    /// A subject on something that is not a question.
    #[error("is only for questions; leave it unspecified for this kind")]
    NotAQuestion,
}

/// A question says what it is about (the desk routes recalculation and old payouts by it); nothing
/// else has a subject.
pub fn check_question_subject(
    kind: CaseKind,
    subject: QuestionSubject,
) -> Result<(), SubjectError> {
    match (
        kind == CaseKind::Question,
        subject == QuestionSubject::Unspecified,
    ) {
        (true, true) => Err(SubjectError::Missing),
        (false, false) => Err(SubjectError::NotAQuestion),
        _ => Ok(()),
    }
}

/// Whether a case's reporter is now invited to rate it: the first time it is resolved, unless as a
/// duplicate (its reporter rates the case it went into).
pub fn invites_rating(
    state: CaseState,
    resolution: Resolution,
    invited: Option<DateTime<Utc>>,
) -> bool {
    state == CaseState::Resolved && resolution != Resolution::Duplicate && invited.is_none()
}

/// The ratings a reporter gives: 1 (poor) to 5 (excellent).
pub const RATINGS: std::ops::RangeInclusive<i32> = 1..=5;

/// What an anonymised person's comments say afterwards.
pub use kommune_platform::pii::ERASED_AUTHOR_TEXT as ERASED_TEXT;

/// What an erased title or description says afterwards.
pub use kommune_platform::pii::ERASED_TEXT as ERASED_CASE_TEXT;

/// Who may erase a citizen's personal ID number from a case of `municipality_id`: consortium
/// admins, and the municipality's own project leaders (it is the data controller).
pub fn may_erase_personal_id(caller: &Caller, municipality_id: &str) -> Result<(), Error> {
    if caller.has_role(Role::ConsortiumAdmin) {
        return Ok(());
    }
    caller.require_any_role(
        &[Role::MunicipalProjectLeader],
        "erasing a personal ID number",
    )?;
    caller.require_sees(municipality_id, "case")
}

/// Who may erase what a person wrote in a case: a supervised act, the consortium's admins only.
pub fn may_erase_case_text(caller: &Caller) -> Result<(), Error> {
    caller.require_any_role(&[Role::ConsortiumAdmin], "erasing a case's text")
}

pub use kommune_platform::attachments::{ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES, check_attachment};

/// Whether a case is still open (not resolved or closed).
pub fn is_open(state: CaseState) -> bool {
    !matches!(state, CaseState::Resolved | CaseState::Closed)
}

/// One SLA target of a case that needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaAlert {
    /// `response` or `resolution`.
    pub target: &'static str,
    /// When it is due.
    pub due: DateTime<Utc>,
    /// Already missed.
    pub breached: bool,
}

/// The SLA targets of an open case that are missed by `now` or due by `soon`: the response until the
/// first response is given; the resolution unless the clock stands still awaiting the municipality.
pub fn sla_alerts(
    state: CaseState,
    response_due: DateTime<Utc>,
    first_response: Option<DateTime<Utc>>,
    resolution_due: DateTime<Utc>,
    now: DateTime<Utc>,
    soon: DateTime<Utc>,
) -> Vec<SlaAlert> {
    if !is_open(state) {
        return Vec::new();
    }
    let mut alerts = Vec::new();
    if first_response.is_none() && response_due <= soon {
        alerts.push(SlaAlert {
            target: "response",
            due: response_due,
            breached: response_due < now,
        });
    }
    if state != CaseState::AwaitingMunicipality && resolution_due <= soon {
        alerts.push(SlaAlert {
            target: "resolution",
            due: resolution_due,
            breached: resolution_due < now,
        });
    }
    alerts
}

/// How far ahead a queue looks: a target due within a working day of the standard opening hours
/// (before the next stand-up) is due soon.
pub fn due_soon_within() -> Duration {
    Duration::hours(8)
}

/// How an open case stands against its SLA at `now`, with targets due by `soon` due soon: a missed
/// target first, then a clock standing still, then one due soon.
pub fn sla_state(
    state: CaseState,
    response_due: DateTime<Utc>,
    first_response: Option<DateTime<Utc>>,
    resolution_due: DateTime<Utc>,
    now: DateTime<Utc>,
    soon: DateTime<Utc>,
) -> SlaState {
    if !is_open(state) {
        return SlaState::Unspecified;
    }
    let alerts = sla_alerts(
        state,
        response_due,
        first_response,
        resolution_due,
        now,
        soon,
    );
    if alerts.iter().any(|alert| alert.breached) {
        SlaState::Breached
    } else if state == CaseState::AwaitingMunicipality {
        SlaState::Paused
    } else if alerts.is_empty() {
        SlaState::OnTrack
    } else {
        SlaState::DueSoon
    }
}

/// Whole days between the Copenhagen dates of filing and `now`.
pub fn age_days(created: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let (filed, today) = (
        kommune_platform::clock::copenhagen_date(created),
        kommune_platform::clock::copenhagen_date(now),
    );
    (today - filed).num_days().max(0)
}

pub use kommune_platform::calendar::{month_of, parse_month};

/// A guide section a case cites, as the guides service named it when the case was filed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CitedSection {
    /// The section's id (it survives new versions of its guide).
    pub section_id: String,
    /// Its guide.
    pub guide_id: String,
    /// The guide's title.
    pub guide_title: String,
    /// The section's number, e.g. `4.2`.
    pub number: String,
    /// Its heading.
    pub heading: String,
}

/// A case's number as people read it.
pub fn case_number(number: i64) -> String {
    format!("SAG-{number:06}")
}

/// An incident's number as people read it.
pub fn incident_number(number: i64) -> String {
    format!("DRIFT-{number:06}")
}

/// The instants a Copenhagen calendar month starts and the next one starts.
pub fn month_bounds(year: i32, month: u32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::TimeZone;
    let start = |year: i32, month: u32| {
        chrono_tz::Europe::Copenhagen
            .with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let (next_year, next_month) = next_month((year, month));
    Some((start(year, month)?, start(next_year, next_month)?))
}

/// The month after (year, month).
fn next_month((year, month): (i32, u32)) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// The months `first..=last`, each as (year, month).
pub fn months(first: (i32, u32), last: (i32, u32)) -> impl Iterator<Item = (i32, u32)> {
    std::iter::successors(Some(first), |&month| Some(next_month(month)))
        .take_while(move |&month| month <= last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_across_the_new_year_and_stop_at_the_last() {
        let listed: Vec<_> = months((2025, 11), (2026, 2)).collect();
        assert_eq!(listed, [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]);
        assert_eq!(months((2026, 3), (2026, 3)).count(), 1);
        assert_eq!(months((2026, 4), (2026, 3)).count(), 0);
    }

    #[test]
    fn the_lifecycle_allows_only_its_moves() {
        use CaseState::*;
        assert_eq!(next_state(New, Transition::Triage), Ok(Triaged));
        assert_eq!(
            next_state(InProgress, Transition::AwaitMunicipality),
            Ok(AwaitingMunicipality)
        );
        assert_eq!(
            next_state(AwaitingMunicipality, Transition::Resume),
            Ok(InProgress)
        );
        assert_eq!(next_state(Closed, Transition::Reopen), Ok(InProgress));
        let refused = next_state(New, Transition::Resolve)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("TRANSITION_RESOLVE") && refused.contains("CASE_STATE_NEW"),
            "{refused}"
        );
        assert!(next_state(Resolved, Transition::Triage).is_err());
        assert!(next_state(Triaged, Transition::Escalate).is_err());
    }

    #[test]
    fn the_title_is_the_municipalitys_only_while_the_case_lies_with_it() {
        assert!(lies_with_municipality(CaseState::New));
        assert!(lies_with_municipality(CaseState::AwaitingMunicipality));
        assert!(!lies_with_municipality(CaseState::InProgress));
    }

    #[test]
    fn reopening_closes_with_its_window() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(may_reopen(
            Some(at),
            at + Duration::days(14),
            Duration::days(14)
        ));
        assert!(!may_reopen(
            Some(at),
            at + Duration::days(14) + Duration::seconds(1),
            Duration::days(14)
        ));
        assert!(!may_reopen(None, at, Duration::days(14)));
    }

    #[test]
    fn the_personal_id_field_takes_one_number_and_masks_it() {
        assert_eq!(
            normalise_personal_id(" 010190-1234 "),
            Ok("0101901234".to_owned())
        );
        assert!(normalise_personal_id("010190-1234 and 020290-1234").is_err());
        assert!(normalise_personal_id("Anne").is_err());
        assert!(normalise_personal_id("").is_err());
        assert_eq!(mask_personal_id("0101901234"), "010190-****");
        assert_eq!(mask_personal_id("198112189876"), "19811218-****");
    }

    #[test]
    fn months_start_at_copenhagen_midnight() {
        let (start, end) = month_bounds(2024, 3).unwrap();
        assert_eq!(start.to_rfc3339(), "2024-02-29T23:00:00+00:00");
        // Summer time begins on the last Sunday of March.
        assert_eq!(end.to_rfc3339(), "2024-03-31T22:00:00+00:00");
        let (_, new_year) = month_bounds(2024, 12).unwrap();
        assert_eq!(new_year.to_rfc3339(), "2024-12-31T23:00:00+00:00");
    }

    #[test]
    fn sla_alerts_name_the_missed_and_coming_targets() {
        let at = |h: i64| DateTime::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap();
        let (now, soon) = (at(10), at(12));
        let alerts = sla_alerts(CaseState::New, at(9), None, at(11), now, soon);
        assert_eq!(
            alerts,
            [
                SlaAlert {
                    target: "response",
                    due: at(9),
                    breached: true
                },
                SlaAlert {
                    target: "resolution",
                    due: at(11),
                    breached: false
                }
            ]
        );
        assert!(
            sla_alerts(CaseState::InProgress, at(9), Some(at(8)), at(13), now, soon).is_empty()
        );
        assert!(
            sla_alerts(
                CaseState::AwaitingMunicipality,
                at(9),
                Some(at(8)),
                at(9),
                now,
                soon
            )
            .is_empty(),
            "paused"
        );
        assert!(sla_alerts(CaseState::Resolved, at(1), None, at(1), now, soon).is_empty());
    }

    #[test]
    fn months_are_copenhagens() {
        let new_year = DateTime::parse_from_rfc3339("2024-12-31T23:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(month_of(new_year), "2025-01");
        assert_eq!(parse_month("2024-09"), Ok((2024, 9)));
        assert!(parse_month("2024-13").is_err());
        assert!(parse_month("24-09").is_err());
    }

    #[test]
    fn only_questions_have_a_subject_and_every_question_has_one() {
        use QuestionSubject as S;
        assert_eq!(
            check_question_subject(CaseKind::Question, S::Unspecified),
            Err(SubjectError::Missing)
        );
        for subject in [S::Recalculation, S::PayoutBefore2022, S::Other] {
            assert_eq!(check_question_subject(CaseKind::Question, subject), Ok(()));
            for kind in [
                CaseKind::Fault,
                CaseKind::EligibilityChange,
                CaseKind::Other,
            ] {
                assert_eq!(
                    check_question_subject(kind, subject),
                    Err(SubjectError::NotAQuestion)
                );
                assert_eq!(check_question_subject(kind, S::Unspecified), Ok(()));
            }
        }
    }

    #[test]
    fn a_queue_shows_the_sla_state_and_the_age_of_a_case() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let now = at("2025-04-02T07:00:00Z");
        let soon = at("2025-04-03T07:00:00Z");
        let (past, later, far) = (
            at("2025-04-01T12:00:00Z"),
            at("2025-04-02T12:00:00Z"),
            at("2025-04-10T12:00:00Z"),
        );
        use CaseState::*;
        let state = |state, response_due, responded: Option<_>, resolution_due| {
            sla_state(state, response_due, responded, resolution_due, now, soon)
        };
        assert_eq!(state(New, past, None, far), SlaState::Breached);
        assert_eq!(state(InProgress, past, Some(past), far), SlaState::OnTrack);
        assert_eq!(
            state(InProgress, past, Some(past), later),
            SlaState::DueSoon
        );
        assert_eq!(
            state(InProgress, past, Some(past), past),
            SlaState::Breached
        );
        assert_eq!(
            state(AwaitingMunicipality, past, Some(past), past),
            SlaState::Paused
        );
        assert_eq!(
            state(AwaitingMunicipality, past, None, far),
            SlaState::Breached
        );
        assert_eq!(state(Resolved, past, None, past), SlaState::Unspecified);

        // Filed 23:30 Copenhagen on 1 April (21:30 UTC), seen at 09:00 on 2 April: a day old.
        assert_eq!(age_days(at("2025-04-01T21:30:00Z"), now), 1);
        assert_eq!(age_days(at("2025-04-01T22:30:00Z"), now), 0);
        assert_eq!(age_days(at("2025-03-02T08:00:00Z"), now), 31);
    }

    #[test]
    fn a_reporter_is_invited_to_rate_once_at_the_first_resolution() {
        let now = Utc::now();
        assert!(invites_rating(CaseState::Resolved, Resolution::Fixed, None));
        assert!(!invites_rating(
            CaseState::Resolved,
            Resolution::Fixed,
            Some(now)
        ));
        assert!(!invites_rating(
            CaseState::Resolved,
            Resolution::Duplicate,
            None
        ));
        assert!(!invites_rating(
            CaseState::InProgress,
            Resolution::Unspecified,
            None
        ));
        assert!(!invites_rating(
            CaseState::Closed,
            Resolution::OutsideChain,
            None
        ));
    }

    #[test]
    fn acute_cases_have_the_tightest_targets() {
        assert!(
            sla_targets(Severity::Acute).response < sla_targets(Severity::PaymentCritical).response
        );
        assert!(
            sla_targets(Severity::PaymentCritical).resolution
                < sla_targets(Severity::Normal).resolution
        );
        assert!(check_resolution(Resolution::Fixed, "").is_ok());
        assert!(check_resolution(Resolution::Fixed, "KOMBITKY-1").is_err());
        assert!(check_resolution(Resolution::ByDesign, "KOMBITKY-1").is_ok());
        assert!(check_resolution(Resolution::Duplicate, "").is_err());
    }
}
