//! What notify keeps about a person, for a data subject's export: their subscriptions (never a
//! webhook's secret) and the notifications made for them.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::privacy::{Owned, PersonalData};
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
        let page = (after, limit);
        match kind {
            "subscription" => {
                let owned = Owned::<subscriptions::Entity> {
                    owner: subscriptions::Column::UserId,
                    id: subscriptions::Column::Id,
                };
                owned
                    .records(&self.db, kind, user_id, page, |s| {
                        let content = json!({
                            "topic_kind": s.topic_kind,
                            "topic_target": s.topic_target,
                            "channel": s.channel,
                            "email_address": s.email_address,
                            "webhook_url": s.webhook_url,
                            "language": s.language,
                            "opted_out": s.opted_out,
                        });
                        (s.id, s.created_at, content)
                    })
                    .await
            }
            _ => {
                let owned = Owned::<notifications::Entity> {
                    owner: notifications::Column::UserId,
                    id: notifications::Column::Id,
                };
                owned
                    .records(&self.db, kind, user_id, page, |n| {
                        let content = json!({
                            "channel": n.channel,
                            "kind": n.kind,
                            "address": n.address,
                            "subject": n.subject,
                            "text": n.text,
                            "state": n.state,
                            "delivered_at": n.delivered_at,
                            "read_at": n.read_at,
                        });
                        (n.id, n.created_at, content)
                    })
                    .await
            }
        }
    }
}
