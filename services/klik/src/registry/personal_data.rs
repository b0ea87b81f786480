//! What klik keeps about a person, for a data subject's export: the enrolments naming them as project
//! leader and the review comments they wrote.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{Owned, PersonalData};
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;
use crate::store::{enrolments, review_comments};

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &["enrolment_led", "review_comment_written"];

    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        let page = (after, limit);
        match kind {
            "enrolment_led" => {
                let owned = Owned::<enrolments::Entity> {
                    owner: enrolments::Column::ProjectLeaderUserId,
                    id: enrolments::Column::Id,
                };
                owned
                    .records(&self.db, kind, user_id, page, |e| {
                        let content = json!({
                            "project_id": e.project_id,
                            "municipality_id": e.municipality_id,
                            "wave_id": e.wave_id,
                        });
                        (e.id, e.created_at, content)
                    })
                    .await
            }
            _ => {
                let owned = Owned::<review_comments::Entity> {
                    owner: review_comments::Column::Author,
                    id: review_comments::Column::Id,
                };
                let author = format!("{USER_SUBJECT_PREFIX}{user_id}");
                owned
                    .records(&self.db, kind, &author, page, |c| {
                        let content = json!({
                            "template_id": c.template_id,
                            "template_version": c.version,
                            "text": c.text,
                        });
                        (c.id, c.created_at, content)
                    })
                    .await
            }
        }
    }
}
