//! What guides keeps about a person, for a data subject's export: the suggestions made to them
//! (searches that found nothing keep no one's name).

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{Owned, PersonalData};
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;
use crate::store::suggestions;

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &["suggestion"];

    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        let owned = Owned::<suggestions::Entity> {
            owner: suggestions::Column::Subject,
            id: suggestions::Column::Id,
        };
        let subject = format!("{USER_SUBJECT_PREFIX}{user_id}");
        owned
            .records(&self.db, kind, &subject, (after, limit), |s| {
                let content = json!({
                    "system_id": s.system_id,
                    "hit_count": s.hit_count,
                    "answered_section_id": s.answered_section_id,
                    "filed_case_id": s.filed_case_id,
                });
                (s.id, s.created_at, content)
            })
            .await
    }
}
