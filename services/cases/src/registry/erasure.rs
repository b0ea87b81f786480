//! Erasure on a data subject's request: a citizen's personal ID number destroyed, and what a person
//! wrote in a case's title or description replaced, its audit payloads redacted in the chain. Each
//! erasure is audited with who and why, never with what was erased.

use serde_json::json;

use kommune_platform::auth::Caller;
use kommune_platform::records::AuditTrail;
use kommune_platform::{Error, Reason};

use super::Registry;
use crate::domain;
use crate::store::cases;

impl Registry {
    /// Destroys the sealed personal ID number of a case; the case keeps that it had one.
    pub async fn erase_personal_id(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        reason: &str,
    ) -> Result<cases::Model, Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let case = self.case(&txn, caller, id, None).await?;
        domain::may_erase_personal_id(caller, &case.municipality_id)?;
        let mut case = self.case(&txn, caller, id, Some(expected_version)).await?;
        if case.personal_id.is_none() {
            let why = match case.personal_id_erased_at {
                Some(at) => format!("case {id}'s personal ID number was already erased on {at}"),
                None => format!("case {id} holds no personal ID number"),
            };
            return Err(Error::FailedPrecondition(Reason::WrongState, why));
        }
        case.personal_id = None;
        case.personal_id_erased_at = Some(self.clock.now());
        let payload = json!({"reason": reason});
        let case = self
            .changed(&txn, caller, case, "erase personal id", payload)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        tracing::info!(case_id = id, "a personal ID number was erased");
        Ok(case)
    }

    /// Replaces a case's title and/or description with the erased marker, drops what was derived
    /// from them (the outage symptom), and redacts the payloads of the case's audit records so far,
    /// which held them.
    pub async fn erase_case_text(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        fields: ErasedFields,
        reason: &str,
    ) -> Result<cases::Model, Error> {
        domain::may_erase_case_text(caller)?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut case = self.case(&txn, caller, id, Some(expected_version)).await?;
        if fields.title {
            case.title = domain::ERASED_CASE_TEXT.to_owned();
        }
        if fields.description {
            case.description = domain::ERASED_CASE_TEXT.to_owned();
        }
        case.symptom = None;
        self.redact(&txn, caller, "case", id, reason).await?;
        let payload = json!({"title": fields.title, "description": fields.description});
        let case = self
            .changed(&txn, caller, case, "erase text", payload)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        tracing::info!(case_id = id, "a case's text was erased");
        Ok(case)
    }
}

/// Which of a case's texts to erase.
#[derive(Debug, Clone, Copy)]
pub struct ErasedFields {
    /// The title.
    pub title: bool,
    /// The description.
    pub description: bool,
}
