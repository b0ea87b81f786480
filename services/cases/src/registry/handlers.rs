//! Handlers: the member of a case's team who has it. Assigned, taken, handed over and let go, each
//! audited and announced as a `CaseChanged`.

use serde_json::json;

use kommune_platform::auth::{Caller, USER_SUBJECT_PREFIX};
use kommune_platform::db::Txn;
use kommune_platform::{Error, Reason};
use kommune_proto::identity::v1::Role;

use super::Registry;
use crate::domain;
use crate::store::{cases, teams};

/// Who a case goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerChange {
    /// To this member of its team, given by the supplier's support (a hand-over when it has a handler).
    Assign(String),
    /// To the caller, a member of its team.
    Take,
    /// To nobody: back among the team's unhandled cases.
    Unassign,
}

/// The roles a handler has: the supplier's support and its specialists, never a municipality's users.
const HANDLER_ROLES: [Role; 2] = [Role::SupplierSecondLine, Role::ThirdLineSpecialist];

impl Registry {
    /// Gives the case a handler, or none.
    pub async fn change_handler(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        change: HandlerChange,
    ) -> Result<cases::Model, Error> {
        if !domain::is_supporter(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "handlers are for the supplier's support and specialists".into(),
            ));
        }
        // Who the handler would be is checked with identity before the transaction begins.
        if let HandlerChange::Assign(user_id) = &change {
            let user = self.peers.user(caller, user_id, "handler_user_id").await?;
            if !user
                .roles
                .iter()
                .any(|r| HANDLER_ROLES.iter().any(|h| *h as i32 == *r))
            {
                return Err(Error::invalid(
                    "handler_user_id",
                    "is not the supplier's support or a specialist; a municipality's users do not \
                     handle cases",
                ));
            }
        }
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut case = self.case(&txn, caller, id, Some(expected_version)).await?;
        let state = *case.state;
        if !domain::is_open(state) {
            return Err(Error::FailedPrecondition(
                Reason::WrongState,
                format!(
                    "the case is {}: only open cases are handled",
                    state.as_str_name()
                ),
            ));
        }
        let members = match &case.team_id {
            Some(team_id) => teams::find(&txn, team_id)
                .await?
                .map(|team| team.members())
                .unwrap_or_default(),
            None => {
                return Err(Error::FailedPrecondition(
                    Reason::WrongState,
                    "the case has no team yet: triage it first".into(),
                ));
            }
        };
        let (handler, what) = match change {
            HandlerChange::Assign(user_id) => {
                if !members.contains(&user_id) {
                    return Err(Error::invalid(
                        "handler_user_id",
                        "is not a member of the case's team",
                    ));
                }
                let what = match &case.handler_user_id {
                    Some(current) if *current != user_id => "hand_over",
                    _ => "assign",
                };
                (Some(user_id), what)
            }
            HandlerChange::Take => {
                let me = caller
                    .subject
                    .strip_prefix(USER_SUBJECT_PREFIX)
                    .filter(|me| members.iter().any(|m| m == me))
                    .ok_or_else(|| {
                        Error::PermissionDenied(
                            Reason::RoleRequired,
                            "only a member of the case's team takes it".into(),
                        )
                    })?;
                (Some(me.to_owned()), "take")
            }
            HandlerChange::Unassign => (None, "unassign"),
        };
        if case.handler_user_id == handler {
            // Already so: nothing to write, nothing to announce.
            return Ok(case);
        }
        let from = std::mem::replace(&mut case.handler_user_id, handler);
        let payload = json!({"from": from, "to": case.handler_user_id});
        let case = self.changed(&txn, caller, case, what, payload).await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(case)
    }

    /// After a case moved to another team, its handler keeps it only if they are a member there.
    pub(super) async fn keep_handler_in_team(
        &self,
        txn: &Txn,
        case: &mut cases::Model,
    ) -> Result<(), Error> {
        let (Some(handler), Some(team_id)) = (&case.handler_user_id, &case.team_id) else {
            return Ok(());
        };
        let member = teams::find(txn, team_id)
            .await?
            .is_some_and(|team| team.members().contains(handler));
        if !member {
            case.handler_user_id = None;
        }
        Ok(())
    }
}
