//! What klik does when identity anonymises a person: the review comments they wrote lose their text,
//! and enrolments that named them as project leader name none until the municipality names another.
//! The projects, their history and the audit chain stay.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_platform::db::update_versioned;
use kommune_platform::records::AuditTrail;

use super::Registry;
use crate::store::{enrolments, review_comments};

impl Registry {
    /// Acts on identity's `UserAnonymized`; running it twice changes nothing more.
    pub async fn erase_person(&self, user_id: &str) -> Result<(), Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let templates = self
            .erase_words_of(&txn, user_id, review_comments::AUTHORED, "template")
            .await?;
        let system = Caller::identity_feed();
        let led = enrolments::led_by(&txn, user_id).await?;
        for mut enrolment in led.clone() {
            enrolment.project_leader_user_id = String::new();
            enrolment.version += 1;
            let enrolment = update_versioned(&txn, enrolment).await?;
            let payload = json!({"user_id": user_id, "project_leader_user_id": ""});
            self.audit(
                &txn,
                &system,
                "enrolment",
                &enrolment.id,
                "erase person",
                payload,
            )
            .await?;
        }
        txn.commit().await?;
        tracing::info!(
            user_id,
            templates = templates.len(),
            enrolments = led.len(),
            "erased an anonymised person"
        );
        Ok(())
    }
}
