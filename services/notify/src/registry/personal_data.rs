//! What notify keeps about a person, for a data subject's export: their subscriptions (never a
//! webhook's secret) and the notifications made for them.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::privacy::{PersonalData, record, rows_of};
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;
use crate::store::{notifications, subscriptions};

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &["subscription", "notification"];

    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        let db = &self.db;
        Ok(match kind {
            "subscription" => rows_of::<subscriptions::Entity>(
                db,
                subscriptions::Column::UserId,
                user_id,
                subscriptions::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|s| {
                record(
                    kind,
                    &s.id,
                    s.created_at,
                    json!({
                        "topic_kind": s.topic_kind,
                        "topic_target": s.topic_target,
                        "channel": s.channel,
                        "email_address": s.email_address,
                        "webhook_url": s.webhook_url,
                        "language": s.language,
                        "opted_out": s.opted_out,
                    }),
                )
            })
            .collect(),
            _ => rows_of::<notifications::Entity>(
                db,
                notifications::Column::UserId,
                user_id,
                notifications::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|n| {
                record(
                    kind,
                    &n.id,
                    n.created_at,
                    json!({
                        "channel": n.channel,
                        "kind": n.kind,
                        "address": n.address,
                        "subject": n.subject,
                        "text": n.text,
                        "state": n.state,
                        "delivered_at": n.delivered_at,
                        "read_at": n.read_at,
                    }),
                )
            })
            .collect(),
        })
    }
}
