//! changes keeps nothing of a person beyond their actions in its audit trail, which the platform's
//! export lists.

use kommune_platform::Error;
use kommune_platform::privacy::PersonalData;
use kommune_proto::common::v1::PersonalRecord;

use super::Registry;

#[tonic::async_trait]
impl PersonalData for Registry {
    const KINDS: &'static [&'static str] = &[];

    async fn personal_records(
        &self,
        _kind: &str,
        _user_id: &str,
        _after: &str,
        _limit: u64,
    ) -> Result<Vec<PersonalRecord>, Error> {
        Ok(Vec::new())
    }
}
