//! What identity keeps about a person, for a data subject's export: the user, their API keys (never
//! a key's hash) and their support-eligibility registrations.

use serde_json::json;

use kommune_platform::Error;
use kommune_platform::auth::USER_SUBJECT_PREFIX;
use kommune_platform::privacy::{Owned, PersonalData};
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
        let page = (after, limit);
        match kind {
            "user" => {
                let owned = Owned::<users::Entity> {
                    owner: users::Column::Id,
                    id: users::Column::Id,
                };
                owned
                    .records(&self.db, kind, user_id, page, |u| {
                        let content = json!({
                            "municipality_id": u.municipality_id,
                            "name": u.name,
                            "email": u.email,
                            "roles": u.roles,
                            "active": u.active,
                            "anonymized_at": u.anonymized_at,
                        });
                        (u.id, u.created_at, content)
                    })
                    .await
            }
            "api_key" => {
                let owned = Owned::<api_keys::Entity> {
                    owner: api_keys::Column::Subject,
                    id: api_keys::Column::Id,
                };
                let subject = format!("{USER_SUBJECT_PREFIX}{user_id}");
                owned
                    .records(&self.db, kind, &subject, page, |k| {
                        let content = json!({
                            "prefix": k.prefix,
                            "description": k.description,
                            "expires_at": k.expires_at,
                            "revoked_at": k.revoked_at,
                        });
                        (k.id, k.created_at, content)
                    })
                    .await
            }
            _ => {
                let owned = Owned::<eligibility_registrations::Entity> {
                    owner: eligibility_registrations::Column::UserId,
                    id: eligibility_registrations::Column::Id,
                };
                owned
                    .records(&self.db, kind, user_id, page, |r| {
                        let content = json!({
                            "municipality_id": r.municipality_id,
                            "valid_from": r.valid_from,
                            "valid_to": r.valid_to,
                        });
                        (r.id, r.created_at, content)
                    })
                    .await
            }
        }
    }
}
