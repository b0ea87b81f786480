//! What the catalogue keeps about a person, for a data subject's export: the orders they placed and
//! the order comments they wrote.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{Owned, PersonalData};
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;
use crate::store::{order_comments, orders};

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &["order_placed", "order_comment_written"];

    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        let page = (after, limit);
        let subject = format!("{USER_SUBJECT_PREFIX}{user_id}");
        match kind {
            "order_placed" => {
                let owned = Owned::<orders::Entity> {
                    owner: orders::Column::OrderedBy,
                    id: orders::Column::Id,
                };
                owned
                    .records(&self.db, kind, &subject, page, |o| {
                        let answers: serde_json::Value =
                            serde_json::from_str(&o.answers).unwrap_or_default();
                        let content = json!({
                            "number": o.number,
                            "item_id": o.item_id,
                            "item_name_da": o.item_name_da,
                            "municipality_id": o.municipality_id,
                            "quantity": o.quantity,
                            "answers": answers,
                            "state": o.state,
                        });
                        (o.id, o.created_at, content)
                    })
                    .await
            }
            _ => {
                let owned = Owned::<order_comments::Entity> {
                    owner: order_comments::Column::Author,
                    id: order_comments::Column::Id,
                };
                owned
                    .records(&self.db, kind, &subject, page, |c| {
                        (
                            c.id,
                            c.created_at,
                            json!({"order_id": c.order_id, "text": c.text}),
                        )
                    })
                    .await
            }
        }
    }
}
