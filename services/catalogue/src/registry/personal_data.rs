//! What the catalogue keeps about a person, for a data subject's export: the orders they placed and
//! the order comments they wrote.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{PersonalData, record, rows_of};
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
        let db = &self.db;
        let subject = format!("{USER_SUBJECT_PREFIX}{user_id}");
        Ok(match kind {
            "order_placed" => rows_of::<orders::Entity>(
                db,
                orders::Column::OrderedBy,
                &subject,
                orders::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|o| {
                record(kind, &o.id, o.created_at, json!({
                    "number": o.number,
                    "item_id": o.item_id,
                    "item_name_da": o.item_name_da,
                    "municipality_id": o.municipality_id,
                    "quantity": o.quantity,
                    "answers": serde_json::from_str::<serde_json::Value>(&o.answers).unwrap_or_default(),
                    "state": o.state,
                }))
            })
            .collect(),
            _ => rows_of::<order_comments::Entity>(
                db,
                order_comments::Column::Author,
                &subject,
                order_comments::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|c| record(kind, &c.id, c.created_at, json!({"order_id": c.order_id, "text": c.text})))
            .collect(),
        })
    }
}
