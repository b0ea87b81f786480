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

/// What a service needs to follow another's feed on its own behalf: the database its cursor is kept
/// in, the channel to identity (which exchanges its key) and its credentials.
#[derive(Clone)]
pub struct Follower {
    /// Where the cursor is kept.
    pub db: DatabaseConnection,
    /// Identity.
    pub identity: Channel,
    /// The service's own credentials.
    pub credentials: std::sync::Arc<ServiceCredentials>,
}

impl Follower {
    /// A follower with the service's API key `api_key`.
    pub fn new(
        db: DatabaseConnection,
        identity: Channel,
        api_key: String,
        clock: SharedClock,
    ) -> Self {
        let credentials =
            std::sync::Arc::new(ServiceCredentials::new(identity.clone(), api_key, clock));
        Self {
            db,
            identity,
            credentials,
        }
    }
}

/// The payload of `event` when it is an `M`; `None` when it is another kind of event.
pub fn payload_of<M: prost::Name + prost::Message + Default>(
    event: &EventEnvelope,
) -> Result<Option<M>, Error> {
    if event.event_type != M::full_name() {
        return Ok(None);
    }
    let payload = event
        .payload
        .as_ref()
        .map(|p| p.value.as_slice())
        .unwrap_or_default();
    M::decode(payload).map(Some).map_err(Error::internal)
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex as StdMutex};

    use kommune_proto::identity::v1 as id;
    use sea_orm_migration::{MigrationTrait, MigratorTrait};
    use tokio_stream::wrappers::TcpListenerStream;
    use tonic::{Request, Response};

    use super::*;
    use crate::clock::SystemClock;
    use crate::testing;

    struct Migrator;

    impl MigratorTrait for Migrator {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            crate::migration::migrations()
        }
    }

    /// An identity whose event feed always breaks off, as a replica going away does.
    #[derive(Clone, Default)]
    struct BreakingIdentity {
        watches: Arc<AtomicUsize>,
    }

    #[tonic::async_trait]
    impl id::token_service_server::TokenService for BreakingIdentity {
        async fn exchange_api_key(
            &self,
            _: Request<id::ExchangeApiKeyRequest>,
        ) -> Result<Response<id::ExchangeApiKeyResponse>, Status> {
            Ok(Response::new(id::ExchangeApiKeyResponse {
                access_token: "service-token".into(),
                token_type: "Bearer".into(),
                expire_time: Some(crate::clock::to_timestamp(
                    Utc::now() + chrono::Duration::hours(1),
                )),
            }))
        }

        async fn get_public_keys(
            &self,
            _: Request<id::GetPublicKeysRequest>,
        ) -> Result<Response<id::GetPublicKeysResponse>, Status> {
            Err(Status::unimplemented("not in this fake"))
        }

        async fn get_caller(
            &self,
            _: Request<id::GetCallerRequest>,
        ) -> Result<Response<id::GetCallerResponse>, Status> {
            Err(Status::unimplemented("not in this fake"))
        }

        async fn rotate_signing_key(
            &self,
            _: Request<id::RotateSigningKeyRequest>,
        ) -> Result<Response<id::RotateSigningKeyResponse>, Status> {
            Err(Status::unimplemented("not in this fake"))
        }
    }

    #[tonic::async_trait]
    impl id::event_service_server::EventService for BreakingIdentity {
        type WatchEventsStream =
            futures::stream::Iter<std::vec::IntoIter<Result<id::WatchEventsResponse, Status>>>;

        async fn watch_events(
            &self,
            _: Request<id::WatchEventsRequest>,
        ) -> Result<Response<Self::WatchEventsStream>, Status> {
            self.watches.fetch_add(1, Ordering::SeqCst);
            Ok(Response::new(futures::stream::iter(vec![Err(
                Status::unavailable("replica going away"),
            )])))
        }
    }

    /// Log lines written by the code under test.
    #[derive(Clone, Default)]
    struct CapturedLogs(Arc<StdMutex<Vec<u8>>>);

    impl std::io::Write for CapturedLogs {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl CapturedLogs {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_broken_feed_is_a_warning_with_its_reason_and_is_followed_again() {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);

        let identity = BreakingIdentity::default();
        let (listener, addr) = testing::loopback_listener().await;
        let served = identity.clone();
        let server = testing::spawn(|stop| async move {
            let _ = tonic::transport::Server::builder()
                .add_service(id::token_service_server::TokenServiceServer::new(
                    served.clone(),
                ))
                .add_service(id::event_service_server::EventServiceServer::new(served))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop)
                .await;
        });
        let url = testing::fresh_database_url("consumer").await;
        let db = crate::db::connect_and_migrate::<Migrator>(&url)
            .await
            .unwrap_or_else(|e| panic!("no database: {e}"));
        let channel = testing::channel_to(addr);
        let credentials = Arc::new(ServiceCredentials::new(
            channel.clone(),
            "service-key".into(),
            Arc::new(SystemClock),
        ));

        // The first attempt fails at once, the retry after 200 ms, the next after 400 ms more.
        follow(
            db,
            "identity",
            channel,
            credentials,
            |_| async { Ok(()) },
            tokio::time::sleep(Duration::from_millis(900)),
        )
        .await;
        server.stop().await;

        let logs = logs.text();
        assert!(
            identity.watches.load(Ordering::SeqCst) >= 2,
            "the feed was not followed again: {logs}"
        );
        let warning = logs
            .lines()
            .find(|line| line.contains("event feed interrupted"))
            .unwrap_or_else(|| panic!("no warning about the broken feed: {logs}"));
        assert!(warning.contains("WARN"), "{warning}");
        assert!(warning.contains("feed=\"identity\""), "{warning}");
        assert!(
            warning.contains("the event feed ended") && warning.contains("replica going away"),
            "the warning does not say why: {warning}"
        );
        assert!(!logs.contains("ERROR"), "logged as an error: {logs}");
    }
}
