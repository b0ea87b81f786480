//! What klik keeps about a person, for a data subject's export: the enrolments naming them as project
//! leader and the review comments they wrote.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{PersonalData, record, rows_of};
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
        let db = &self.db;
        Ok(match kind {
            "enrolment_led" => rows_of::<enrolments::Entity>(
                db,
                enrolments::Column::ProjectLeaderUserId,
                user_id,
                enrolments::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|e| {
                record(
                    kind,
                    &e.id,
                    e.created_at,
                    json!({
                        "project_id": e.project_id,
                        "municipality_id": e.municipality_id,
                        "wave_id": e.wave_id,
                    }),
                )
            })
            .collect(),
            _ => rows_of::<review_comments::Entity>(
                db,
                review_comments::Column::Author,
                &format!("{USER_SUBJECT_PREFIX}{user_id}"),
                review_comments::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|c| {
                record(
                    kind,
                    &c.id,
                    c.created_at,
                    json!({
                        "template_id": c.template_id,
                        "template_version": c.version,
                        "text": c.text,
                    }),
                )
            })
            .collect(),
        })
    }
}
