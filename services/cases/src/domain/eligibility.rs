//! Eligibility-change cases: a municipality asks, in a case, for a change to its support-eligible users
//! (a new user, one in place of another, a stop); the supplier approves it and identity applies it. What
//! each change needs, and how an approval ends the case, are here.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use kommune_proto::cases::v1::{CaseKind, CaseState, EligibilityAction};

/// A change asked for, as kept with its case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityChange {
    /// The change.
    pub action: Action,
    /// NEW: the user to register; REPLACE: the new user.
    pub user_id: Option<String>,
    /// REPLACE: the registration replaced; STOP: the registration stopped.
    pub registration_id: Option<String>,
    /// NEW, REPLACE: the first valid day; STOP: the last valid day.
    pub date: NaiveDate,
    /// NEW, REPLACE: the last valid day, if any.
    pub valid_to: Option<NaiveDate>,
    /// The registration identity made or stopped, once approved.
    pub applied_registration_id: Option<String>,
}

/// Which change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// A new support-eligible user.
    New,
    /// One user in place of another.
    Replace,
    /// A user no longer support-eligible.
    Stop,
}

impl Action {
    /// The proto's name for it.
    pub fn of(action: EligibilityAction) -> Option<Self> {
        match action {
            EligibilityAction::New => Some(Self::New),
            EligibilityAction::Replace => Some(Self::Replace),
            EligibilityAction::Stop => Some(Self::Stop),
            EligibilityAction::Unspecified => None,
        }
    }

    /// As the proto has it.
    pub fn proto(self) -> EligibilityAction {
        match self {
            Self::New => EligibilityAction::New,
            Self::Replace => EligibilityAction::Replace,
            Self::Stop => EligibilityAction::Stop,
        }
    }
}

/// Why a request does not fit: the field (of `EligibilityRequest`) and what is wrong.
pub type Misfit = (&'static str, &'static str);

/// Whether `change` has what its action needs, and nothing it must not have.
pub fn check_change(change: &EligibilityChange) -> Result<(), Misfit> {
    let (needs_user, needs_registration) = match change.action {
        Action::New => (true, false),
        Action::Replace => (true, true),
        Action::Stop => (false, true),
    };
    match (needs_user, change.user_id.is_some()) {
        (true, false) => return Err(("user_id", "is required for this change")),
        (false, true) => return Err(("user_id", "is not part of a stop")),
        _ => {}
    }
    match (needs_registration, change.registration_id.is_some()) {
        (true, false) => return Err(("registration_id", "is required for this change")),
        (false, true) => return Err(("registration_id", "is not part of a new registration")),
        _ => {}
    }
    match change.valid_to {
        Some(_) if change.action == Action::Stop => Err((
            "valid_to",
            "is not part of a stop: its date is the last valid day",
        )),
        Some(to) if to < change.date => Err(("valid_to", "must not be before date")),
        _ => Ok(()),
    }
}

/// Whether a case of `kind` carries a change as it must: eligibility-change cases one, others none.
pub fn check_kind(kind: CaseKind, has_change: bool) -> Result<(), &'static str> {
    match (kind == CaseKind::EligibilityChange, has_change) {
        (true, false) => Err("is required for an eligibility change"),
        (false, true) => Err("is only for eligibility changes"),
        _ => Ok(()),
    }
}

/// Why an approval is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// The case asks for no change.
    #[error("the case asks for no change to support-eligible users")]
    NotAChange,
    /// It was approved before.
    #[error("the change was approved and applied already")]
    Applied,
    /// The case is resolved or closed.
    #[error("the case is no longer open")]
    NotOpen,
}

/// Whether a case in `state` asking for `change` may be approved: an open case whose change has not
/// been applied. Approval resolves it at once, whatever open state it is in.
pub fn may_approve(
    state: CaseState,
    change: Option<&EligibilityChange>,
) -> Result<(), ApprovalError> {
    let change = change.ok_or(ApprovalError::NotAChange)?;
    if change.applied_registration_id.is_some() {
        return Err(ApprovalError::Applied);
    }
    if !super::is_open(state) {
        return Err(ApprovalError::NotOpen);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        action: Action,
        user: bool,
        registration: bool,
        valid_to: Option<&str>,
    ) -> EligibilityChange {
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        EligibilityChange {
            action,
            user_id: user.then(|| "user".to_owned()),
            registration_id: registration.then(|| "registration".to_owned()),
            date: date("2025-05-01"),
            valid_to: valid_to.map(date),
            applied_registration_id: None,
        }
    }

    #[test]
    fn each_change_has_what_it_needs_and_nothing_more() {
        use Action::*;
        assert_eq!(check_change(&change(New, true, false, None)), Ok(()));
        assert_eq!(
            check_change(&change(New, true, false, Some("2025-12-31"))),
            Ok(())
        );
        assert_eq!(
            check_change(&change(New, false, false, None))
                .unwrap_err()
                .0,
            "user_id"
        );
        assert_eq!(
            check_change(&change(New, true, true, None)).unwrap_err().0,
            "registration_id"
        );
        assert_eq!(
            check_change(&change(New, true, false, Some("2025-04-30")))
                .unwrap_err()
                .0,
            "valid_to"
        );
        assert_eq!(check_change(&change(Replace, true, true, None)), Ok(()));
        assert_eq!(
            check_change(&change(Replace, true, false, None))
                .unwrap_err()
                .0,
            "registration_id"
        );
        assert_eq!(check_change(&change(Stop, false, true, None)), Ok(()));
        assert_eq!(
            check_change(&change(Stop, true, true, None)).unwrap_err().0,
            "user_id"
        );
        assert_eq!(
            check_change(&change(Stop, false, true, Some("2025-06-01")))
                .unwrap_err()
                .0,
            "valid_to"
        );

        assert_eq!(check_kind(CaseKind::EligibilityChange, true), Ok(()));
        assert!(check_kind(CaseKind::EligibilityChange, false).is_err());
        assert!(check_kind(CaseKind::Fault, true).is_err());
        assert_eq!(check_kind(CaseKind::Fault, false), Ok(()));
    }

    #[test]
    fn an_open_unapplied_change_is_approved_once() {
        let asked = change(Action::New, true, false, None);
        assert_eq!(may_approve(CaseState::New, Some(&asked)), Ok(()));
        assert_eq!(
            may_approve(CaseState::AwaitingMunicipality, Some(&asked)),
            Ok(())
        );
        assert_eq!(
            may_approve(CaseState::Resolved, Some(&asked)),
            Err(ApprovalError::NotOpen)
        );
        assert_eq!(
            may_approve(CaseState::New, None),
            Err(ApprovalError::NotAChange)
        );
        let applied = EligibilityChange {
            applied_registration_id: Some("r".into()),
            ..asked
        };
        assert_eq!(
            may_approve(CaseState::New, Some(&applied)),
            Err(ApprovalError::Applied)
        );
    }
}
