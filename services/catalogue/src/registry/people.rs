//! What the catalogue does when identity anonymises a person: the comments they wrote on orders, the
//! reasons they gave for steps and the text answers of the orders they placed lose their words. The
//! orders, their steps and the audit chain stay (they name the person by id only).

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::db::update_versioned;
use kommune_platform::pii::ERASED_AUTHOR_TEXT;
use kommune_platform::records::AuditTrail;

use super::Registry;
use crate::domain;
use crate::store::{order_comments, order_steps, orders};

/// Orders read at a time.
const PAGE: u64 = 500;

impl Registry {
    /// Acts on identity's `UserAnonymized`; running it twice changes nothing more.
    pub async fn erase_person(&self, user_id: &str) -> Result<(), Error> {
        let txn = kommune_platform::db::begin(&self.db).await?;
        let commented = self
            .erase_words_of(&txn, user_id, order_comments::AUTHORED, "order")
            .await?;
        let stepped = self
            .erase_words_of(&txn, user_id, order_steps::AUTHORED, "order")
            .await?;
        let mut answered = Vec::new();
        let orderer = format!("{USER_SUBJECT_PREFIX}{user_id}");
        // In pages: a service account may have placed orders for many.
        let mut after: Option<String> = None;
        loop {
            let page = orders::placed_by(&txn, &orderer, after.as_deref(), PAGE).await?;
            let last_page = (page.len() as u64) < PAGE;
            after = page.last().map(|o| o.id.clone());
            for mut order in page {
                let Some(answers) =
                    domain::erase_text_answers(&order.answers()?, ERASED_AUTHOR_TEXT)
                else {
                    continue;
                };
                order.answers = serde_json::to_string(&answers).map_err(Error::internal)?;
                order.version += 1;
                answered.push(update_versioned(&txn, order).await?.id);
            }
            if last_page {
                break;
            }
        }
        self.audit_erased(&txn, user_id, "order", &answered, "text answers")
            .await?;
        txn.commit().await?;
        tracing::info!(
            user_id,
            orders = commented.len() + stepped.len() + answered.len(),
            "erased an anonymised person's words"
        );
        Ok(())
    }
}
