//! What cases keeps about a person, for a data subject's export: the cases they reported (with their
//! rating), the comments they wrote and the surveys they answered (answers are kept apart from who
//! gave them, so they are not theirs to export).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{Owned, PersonalData, record, rows_of};
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;
use crate::store::{cases, comments, ratings, surveys};

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &["case_reported", "comment_written", "survey_answered"];

    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        let db = &self.db;
        Ok(match kind {
            "case_reported" => {
                let reported = rows_of::<cases::Entity>(
                    db,
                    cases::Column::ReporterUserId,
                    user_id,
                    cases::Column::Id,
                    after,
                    limit,
                )
                .await?;
                let ids: Vec<&str> = reported.iter().map(|c| c.id.as_str()).collect();
                let ratings = ratings::Entity::find()
                    .filter(ratings::Column::CaseId.is_in(ids))
                    .all(db)
                    .await?;
                reported
                    .into_iter()
                    .map(|c| {
                        let rating = ratings.iter().find(|r| r.case_id == c.id).map(|r| {
                            json!({"rating": r.rating, "comment": r.comment, "time": r.created_at})
                        });
                        record(
                            kind,
                            &c.id,
                            c.created_at,
                            json!({
                                "number": c.number,
                                "municipality_id": c.municipality_id,
                                "title": c.title,
                                "description": c.description,
                                "kind": c.kind,
                                "severity": c.severity,
                                "system_id": c.system_id,
                                "state": c.state,
                                "had_personal_id": c.personal_id.is_some() || c.personal_id_erased_at.is_some(),
                                "rating": rating,
                            }),
                        )
                    })
                    .collect()
            }
            "comment_written" => {
                let owned = Owned::<comments::Entity> {
                    owner: comments::Column::Author,
                    id: comments::Column::Id,
                };
                let author = format!("{USER_SUBJECT_PREFIX}{user_id}");
                owned
                    .records(db, kind, &author, (after, limit), |c| {
                        let content =
                            json!({"case_id": c.case_id, "text": c.text, "visibility": c.visibility});
                        (c.id, c.created_at, content)
                    })
                    .await?
            }
            _ => rows_of::<surveys::respondents::Entity>(
                db,
                surveys::respondents::Column::UserId,
                user_id,
                surveys::respondents::Column::SurveyId,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|r| PersonalRecord {
                kind: kind.to_owned(),
                content_json: json!({"survey_id": r.survey_id}).to_string(),
                id: r.survey_id,
                create_time: None,
            })
            .collect(),
        })
    }
}
