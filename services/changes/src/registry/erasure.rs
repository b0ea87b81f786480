//! Erasure of personal data in a change request's texts, on a data subject's request: a supervised act
//! of consortium admins that reaches the change request, every publication that listed it, and the
//! payloads of its audit records.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::pii::ERASED_TEXT;
use kommune_platform::records::AuditTrail;

use super::{ADMINS, Registry};
use crate::store::{change_requests, publications};

/// Which of a change request's texts to erase.
#[derive(Debug, Clone, Copy)]
pub struct ErasedFields {
    /// The title.
    pub title: bool,
    /// The description.
    pub description: bool,
    /// The workaround.
    pub workaround: bool,
}

impl Registry {
    /// Replaces the named texts of the change request `id` (at `expected_version`) by the erasure
    /// marker, here and in every publication that listed it, and redacts its audit payloads.
    pub async fn erase_text(
        &self,
        caller: &Caller,
        id: &str,
        expected_version: i64,
        fields: ErasedFields,
        reason: &str,
    ) -> Result<change_requests::Model, Error> {
        caller.require_any_role(&ADMINS, "erasing a change request's text")?;
        let txn = kommune_platform::db::begin(&self.db).await?;
        let mut cr = self.for_update(&txn, id, expected_version).await?;
        if fields.title {
            cr.title = ERASED_TEXT.to_owned();
        }
        if fields.description {
            cr.description = ERASED_TEXT.to_owned();
        }
        if fields.workaround {
            cr.workaround = ERASED_TEXT.to_owned();
        }
        let named = (fields.title, fields.description, fields.workaround);
        publications::erase_texts(&txn, &cr.key, named, ERASED_TEXT).await?;
        self.redact(&txn, caller, "change_request", id, reason)
            .await?;
        let payload = json!({
            "title": fields.title,
            "description": fields.description,
            "workaround": fields.workaround,
        });
        let cr = self
            .changed(&txn, caller, cr, "erase text", payload)
            .await?;
        txn.commit().await?;
        self.outbox.notify_committed();
        tracing::info!(change_request_id = id, "a change request's text was erased");
        Ok(cr)
    }
}
