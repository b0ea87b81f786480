//! What identity keeps about a person, for a data subject's export: the user, their API keys (never
//! a key's hash) and their support-eligibility registrations.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{PersonalData, record, rows_of};
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;
use crate::store::{api_keys, eligibility_registrations, users};

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &["user", "api_key", "eligibility_registration"];

    async fn personal_records(
        &self,
        kind: &str,
        user_id: &str,
        after: &str,
        limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        let db = &self.db;
        Ok(match kind {
            "user" => rows_of::<users::Entity>(
                db,
                users::Column::Id,
                user_id,
                users::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|u| {
                record(
                    kind,
                    &u.id,
                    u.created_at,
                    json!({
                        "municipality_id": u.municipality_id,
                        "name": u.name,
                        "email": u.email,
                        "roles": u.roles,
                        "active": u.active,
                        "anonymized_at": u.anonymized_at,
                    }),
                )
            })
            .collect(),
            "api_key" => rows_of::<api_keys::Entity>(
                db,
                api_keys::Column::Subject,
                &format!("{USER_SUBJECT_PREFIX}{user_id}"),
                api_keys::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|k| {
                record(
                    kind,
                    &k.id,
                    k.created_at,
                    json!({
                        "prefix": k.prefix,
                        "description": k.description,
                        "expires_at": k.expires_at,
                        "revoked_at": k.revoked_at,
                    }),
                )
            })
            .collect(),
            _ => rows_of::<eligibility_registrations::Entity>(
                db,
                eligibility_registrations::Column::UserId,
                user_id,
                eligibility_registrations::Column::Id,
                after,
                limit,
            )
            .await?
            .into_iter()
            .map(|r| {
                record(
                    kind,
                    &r.id,
                    r.created_at,
                    json!({
                        "municipality_id": r.municipality_id,
                        "valid_from": r.valid_from,
                        "valid_to": r.valid_to,
                    }),
                )
            })
            .collect(),
        })
    }
}
