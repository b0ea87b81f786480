//! The rules of incidents and operational messages: which status and state moves are allowed, when a
//! follow-up with the supplier is due, and what the public list shows. No I/O here.

use chrono::{DateTime, Duration, Utc};
use kommune_proto::cases::v1::{IncidentScope, IncidentStatus, OperationalMessageState};

/// Why an incident's status or an operational message's state may not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The incident is over.
    #[error("the incident is resolved")]
    IncidentResolved,
    /// Resolving has its own call, which also tells the linked cases.
    #[error("an incident is resolved with ResolveIncident")]
    ResolveSeparately,
    /// A confirmed incident stays confirmed or better.
    #[error("an incident cannot go back to INCIDENT_STATUS_SUSPECTED")]
    BackToSuspected,
    /// A message goes public only once its scope is known.
    #[error("the scope is not known yet: set it to general or sporadic before publishing")]
    ScopeUnknown,
    /// A message is published once.
    #[error("the message is published")]
    AlreadyPublished,
    /// Only a public message can be resolved.
    #[error("a draft is not public; publish it before resolving")]
    DraftNotPublic,
    /// The message is over.
    #[error("the message is resolved")]
    MessageResolved,
    /// The stored message has no state (never written so).
    #[error("the message has no state")]
    NoState,
}

/// The status an update moves an incident to (`Unspecified` keeps it), or why not.
pub fn next_status(from: IncidentStatus, to: IncidentStatus) -> Result<IncidentStatus, StateError> {
    use IncidentStatus::*;
    match (from, to) {
        (Resolved, _) => Err(StateError::IncidentResolved),
        (_, Resolved) => Err(StateError::ResolveSeparately),
        (from, Unspecified) => Ok(from),
        (Suspected, Suspected) => Ok(Suspected),
        (_, Suspected) => Err(StateError::BackToSuspected),
        (_, to) => Ok(to),
    }
}

/// Whether an incident is still being worked.
pub fn is_open(status: IncidentStatus) -> bool {
    status != IncidentStatus::Resolved
}

/// Whether the follow-up of an incident is overdue at `now`.
pub fn follow_up_overdue(
    status: IncidentStatus,
    due: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    is_open(status) && due.is_some_and(|due| due < now)
}

/// What is done to an operational message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStep {
    /// Its content is replaced.
    Edit,
    /// It goes public.
    Publish,
    /// It is over.
    Resolve,
}

/// The state a step leads an operational message to, or why it is refused. `scope` is the scope known
/// for it (its own, else its incident's): a message is published only once that is known.
pub fn message_state_after(
    from: OperationalMessageState,
    step: MessageStep,
    scope: IncidentScope,
) -> Result<OperationalMessageState, StateError> {
    use OperationalMessageState::*;
    match (step, from) {
        (MessageStep::Edit, Draft) => Ok(Draft),
        (MessageStep::Edit, Published | Updated) => Ok(Updated),
        (MessageStep::Publish, Draft) if scope == IncidentScope::Unspecified => {
            Err(StateError::ScopeUnknown)
        }
        (MessageStep::Publish, Draft) => Ok(Published),
        (MessageStep::Publish, Published | Updated) => Err(StateError::AlreadyPublished),
        (MessageStep::Resolve, Published | Updated) => Ok(Resolved),
        (MessageStep::Resolve, Draft) => Err(StateError::DraftNotPublic),
        (_, Resolved) => Err(StateError::MessageResolved),
        (_, Unspecified) => Err(StateError::NoState),
    }
}

/// How many days back resolved messages are listed publicly, by default and at most.
pub const RECENT_DAYS: (i64, i64) = (14, 90);

/// Whether a message belongs on the public list at `now`: active, or resolved within `recent`.
pub fn publicly_listed(
    state: OperationalMessageState,
    resolved_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    recent: Duration,
) -> bool {
    match state {
        OperationalMessageState::Published | OperationalMessageState::Updated => true,
        OperationalMessageState::Resolved => resolved_at.is_some_and(|at| now - at <= recent),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use IncidentStatus::*;
    use OperationalMessageState as State;

    #[test]
    fn incidents_move_forward_and_stop_at_resolved() {
        assert_eq!(next_status(Suspected, Confirmed), Ok(Confirmed));
        assert_eq!(next_status(Confirmed, Mitigated), Ok(Mitigated));
        assert_eq!(next_status(Mitigated, Confirmed), Ok(Confirmed));
        assert_eq!(next_status(Mitigated, Unspecified), Ok(Mitigated));
        assert!(next_status(Confirmed, Suspected).is_err());
        assert!(next_status(Confirmed, Resolved).is_err());
        assert!(next_status(Resolved, Confirmed).is_err());
        assert!(next_status(Resolved, Unspecified).is_err());
    }

    #[test]
    fn a_follow_up_is_overdue_only_after_its_time_on_an_open_incident() {
        let due = DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        let later = due + Duration::seconds(1);
        assert!(follow_up_overdue(Confirmed, Some(due), later));
        assert!(!follow_up_overdue(Confirmed, Some(due), due));
        assert!(!follow_up_overdue(Resolved, Some(due), later));
        assert!(!follow_up_overdue(Suspected, None, later));
    }

    #[test]
    fn messages_are_published_once_the_scope_is_known() {
        let general = IncidentScope::General;
        assert!(
            message_state_after(
                State::Draft,
                MessageStep::Publish,
                IncidentScope::Unspecified
            )
            .is_err()
        );
        assert_eq!(
            message_state_after(State::Draft, MessageStep::Publish, general),
            Ok(State::Published)
        );
        assert_eq!(
            message_state_after(State::Draft, MessageStep::Edit, general),
            Ok(State::Draft)
        );
        assert_eq!(
            message_state_after(State::Published, MessageStep::Edit, general),
            Ok(State::Updated)
        );
        assert_eq!(
            message_state_after(State::Updated, MessageStep::Resolve, general),
            Ok(State::Resolved)
        );
        assert!(message_state_after(State::Resolved, MessageStep::Resolve, general).is_err());
        assert!(message_state_after(State::Resolved, MessageStep::Edit, general).is_err());
        assert!(message_state_after(State::Draft, MessageStep::Resolve, general).is_err());
        assert!(message_state_after(State::Published, MessageStep::Publish, general).is_err());
    }

    #[test]
    fn the_public_list_holds_active_and_recently_resolved_messages() {
        let now = DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
        let recent = Duration::days(14);
        assert!(publicly_listed(State::Published, None, now, recent));
        assert!(publicly_listed(State::Updated, None, now, recent));
        assert!(!publicly_listed(State::Draft, None, now, recent));
        assert!(publicly_listed(
            State::Resolved,
            Some(now - Duration::days(14)),
            now,
            recent
        ));
        assert!(!publicly_listed(
            State::Resolved,
            Some(now - Duration::days(15)),
            now,
            recent
        ));
    }
}
