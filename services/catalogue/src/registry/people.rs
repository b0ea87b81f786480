//! What the catalogue does when identity anonymises a person: the comments they wrote on orders lose
//! their text. The orders, their steps and the audit chain stay (they name the person by id only).

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::{Caller, USER_SUBJECT_PREFIX};
use kommune_platform::pii::ERASED_AUTHOR_TEXT;
use kommune_platform::records::AuditTrail;

use super::Registry;
use crate::store::order_comments;

impl Registry {
    /// Acts on identity's `UserAnonymized`; running it twice changes nothing more.
    pub async fn erase_person(&self, user_id: &str) -> Result<(), Error> {
        let system = Caller::system("identity-feed");
        let author = format!("{USER_SUBJECT_PREFIX}{user_id}");
        let txn = kommune_platform::db::begin(&self.db).await?;
        let orders = order_comments::erase_author(&txn, &author, ERASED_AUTHOR_TEXT).await?;
        for order_id in &orders {
            let payload = json!({"user_id": user_id, "comments": "erased"});
            self.audit(&txn, &system, "order", order_id, "erase person", payload)
                .await?;
        }
        txn.commit().await?;
        tracing::info!(
            user_id,
            orders = orders.len(),
            "erased an anonymised person"
        );
        Ok(())
    }
}
