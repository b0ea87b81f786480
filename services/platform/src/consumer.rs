//! Following another service's event feed: a background task that reads `WatchEvents` with the
//! service's own service-account token, hands each event to a handler, and stores its cursor in the
//! follower's database, so a restart resumes where it stopped. Delivery is at least once: handlers must
//! be idempotent.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, Set};
use tokio::sync::Mutex;
use tonic::Status;
use tonic::transport::Channel;

use kommune_proto::common::v1::EventEnvelope;
use kommune_proto::identity::v1::ExchangeApiKeyRequest;
use kommune_proto::identity::v1::token_service_client::TokenServiceClient;

use crate::clock::SharedClock;
use crate::error::Error;

/// Rows of stored feed cursors.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// Where a follower stands in one feed.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_cursors")]
    pub struct Model {
        /// The feed, e.g. `identity`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub feed: String,
        /// The cursor of the last event handled.
        pub cursor: String,
        /// When it moved.
        pub updated_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The request every service's `WatchEvents` takes (each package declares its own, all with this shape).
#[derive(Clone, PartialEq, prost::Message)]
struct WatchRequest {
    #[prost(string, tag = "1")]
    after_cursor: String,
    #[prost(bool, tag = "2")]
    follow: bool,
}

/// One message of every service's `WatchEvents` stream.
#[derive(Clone, PartialEq, prost::Message)]
struct WatchResponse {
    #[prost(message, optional, tag = "1")]
    event: Option<EventEnvelope>,
}

/// A service's own credentials: its service-account API key, exchanged at identity for short-lived
/// tokens that are renewed before they expire.
pub struct ServiceCredentials {
    identity: Channel,
    api_key: String,
    token: Mutex<Option<(String, DateTime<Utc>)>>,
    clock: SharedClock,
}

impl std::fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredentials").finish_non_exhaustive()
    }
}

impl ServiceCredentials {
    /// Credentials exchanging `api_key` at identity.
    pub fn new(identity: Channel, api_key: String, clock: SharedClock) -> Self {
        Self {
            identity,
            api_key,
            token: Mutex::new(None),
            clock,
        }
    }

    /// `message` as a request carrying a valid token of the service (`authorization: Bearer …`).
    pub async fn authorize<T>(&self, message: T) -> Result<tonic::Request<T>, Error> {
        let token = self.token().await?;
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().map_err(Error::internal)?,
        );
        Ok(request)
    }

    /// A token valid for at least another minute.
    pub async fn token(&self) -> Result<String, Error> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now();
        if let Some((token, expires)) = cached.as_ref()
            && *expires - chrono::Duration::minutes(1) > now
        {
            return Ok(token.clone());
        }
        let response = TokenServiceClient::new(self.identity.clone())
            .exchange_api_key(ExchangeApiKeyRequest {
                api_key: self.api_key.clone(),
            })
            .await
            .map_err(|status| {
                Error::Unavailable(format!("cannot get a service token: {}", status.message()))
            })?
            .into_inner();
        let expires = response
            .expire_time
            .as_ref()
            .and_then(crate::clock::from_timestamp)
            .unwrap_or(now);
        *cached = Some((response.access_token.clone(), expires));
        Ok(response.access_token)
    }
}

/// Follows the feed of `service` (e.g. `identity`) at `channel` until `stop`, calling `handle` for each
/// event after the stored cursor and storing the cursor after each. Errors are logged and retried with
/// backoff; the task never gives up.
pub async fn follow<H, F>(
    db: DatabaseConnection,
    service: &'static str,
    channel: Channel,
    credentials: std::sync::Arc<ServiceCredentials>,
    mut handle: H,
    stop: impl Future<Output = ()>,
) where
    H: FnMut(EventEnvelope) -> F,
    F: Future<Output = Result<(), Error>>,
{
    let path = format!("/kommune.{service}.v1.EventService/WatchEvents");
    let run = async {
        let mut backoff = Duration::from_millis(200);
        loop {
            match follow_once(&db, service, &path, &channel, &credentials, &mut handle).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(err) => {
                    tracing::warn!(
                        feed = service,
                        error = %err,
                        "event feed interrupted; retrying",
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    };
    tokio::select! {
        () = run => {},
        () = stop => {},
    }
}

async fn follow_once<H, F>(
    db: &DatabaseConnection,
    service: &str,
    path: &str,
    channel: &Channel,
    credentials: &ServiceCredentials,
    handle: &mut H,
) -> Result<(), Error>
where
    H: FnMut(EventEnvelope) -> F,
    F: Future<Output = Result<(), Error>>,
{
    let after_cursor = entity::Entity::find_by_id(service)
        .one(db)
        .await?
        .map(|c| c.cursor)
        .unwrap_or_default();
    let request = credentials
        .authorize(WatchRequest {
            after_cursor,
            follow: true,
        })
        .await?;
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<WatchRequest, WatchResponse>::default();
    let path = http::uri::PathAndQuery::try_from(path).map_err(Error::internal)?;
    // A feed that breaks (its service restarting, a replica going away) is followed again from the
    // stored cursor: a warning with the reason (in `follow`), not an internal error.
    let interrupted =
        |status: Status| Error::Unavailable(format!("the event feed ended: {status}"));
    let mut stream = grpc
        .server_streaming(request, path, codec)
        .await
        .map_err(interrupted)?
        .into_inner();
    while let Some(message) = stream.message().await.map_err(interrupted)? {
        let Some(event) = message.event else { continue };
        let cursor = event.cursor.clone();
        handle(event).await?;
        entity::Entity::insert(entity::ActiveModel {
            feed: Set(service.to_owned()),
            cursor: Set(cursor),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(entity::Column::Feed)
                .update_columns([entity::Column::Cursor, entity::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    }
    Ok(())
}
