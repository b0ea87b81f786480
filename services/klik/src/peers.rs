//! What klik asks identity, always on the caller's behalf: whether a municipality and a project
//! leader exist, and which municipalities are active.

use tonic::transport::Channel;
use uuid::Uuid;

use kommune_platform::Error;
use kommune_platform::auth::Caller;
use kommune_proto::identity::v1 as identity;

/// The services klik calls.
#[derive(Clone)]
pub struct Peers {
    identity: Channel,
}

impl Peers {
    /// identity at `identity`.
    pub fn new(identity: Channel) -> Self {
        Self { identity }
    }

    /// Whether identity knows the municipality.
    pub async fn municipality_exists(&self, caller: &Caller, id: Uuid) -> Result<bool, Error> {
        kommune_platform::client::municipality(&self.identity, caller, &id.to_string())
            .await
            .map(|found| found.is_some())
    }

    /// The user, when identity knows them and the caller may see them.
    pub async fn user(&self, caller: &Caller, id: Uuid) -> Result<Option<identity::User>, Error> {
        kommune_platform::client::user(&self.identity, caller, &id.to_string()).await
    }

    /// The ids of every active municipality.
    pub async fn active_municipalities(&self, caller: &Caller) -> Result<Vec<String>, Error> {
        let all = kommune_platform::client::municipalities(&self.identity, caller).await?;
        Ok(all
            .into_iter()
            .filter(|m| m.active)
            .map(|m| m.municipality_id)
            .collect())
    }
}
