//! Eligibility-change cases: approving one applies the change in identity and resolves the case.

use serde_json::json;

use kommune_platform::auth::Caller;
use kommune_platform::{Error, Reason};
use kommune_proto::cases::v1::{CaseState, Resolution};

use super::Registry;
use crate::domain::{self, eligibility};
use crate::store::cases;

impl Registry {
    /// Applies the change an open eligibility-change case asks for in identity, on the approver's
    /// behalf, and resolves the case as fixed, naming the registration. identity decides whether the
    /// approver may (the supplier's 2nd line, the consortium) and whether the change fits; its key is the
    /// case's, so a retry applies nothing twice.
    pub async fn approve_eligibility_change(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
    ) -> Result<cases::Model, Error> {
        if !domain::is_supporter(caller) {
            return Err(Error::PermissionDenied(
                Reason::RoleRequired,
                "eligibility changes are approved by the supplier's support and the consortium"
                    .into(),
            ));
        }
        let case = self.get_case(caller, id).await?;
        Error::require_version("case", case.version, expected_version)?;
        let asked = case.eligibility_change();
        eligibility::may_approve(*case.state, asked.as_ref())
            .map_err(|why| Error::FailedPrecondition(Reason::WrongState, why.to_string()))?;
        let Some(mut change) = asked else {
            return Err(Error::internal("an approvable case without its change"));
        };
        let note = domain::case_number(case.number);
        let registration = self
            .peers
            .apply_eligibility_change(caller, &case.municipality_id, &change, &case.id, &note)
            .await?;

        let now = self.clock.now();
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut case = self.case(&txn, caller, id, Some(expected_version)).await?;
        change.applied_registration_id = Some(registration.clone());
        case.eligibility_request = Some(serde_json::to_string(&change).map_err(Error::internal)?);
        let from = *case.state;
        case.state = CaseState::Resolved.into();
        case.resolution = Resolution::Fixed.into();
        case.resolved_at = Some(now);
        case.first_response_at.get_or_insert(now);
        let payload = json!({
            "from": from.as_str_name(),
            "action": change.action.proto().as_str_name(),
            "registration_id": registration,
        });
        let case = self
            .changed(&txn, caller, case, "approve_eligibility_change", payload)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        Ok(case)
    }
}
