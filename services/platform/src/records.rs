//! The audit trail and the event feed every service serves, implemented once. A service says which
//! entities it audits and who may read whose trail ([`AuditTrail`]) and where its events are
//! ([`EventFeed`]); [`audit_service!`](crate::audit_service) and
//! [`event_service!`](crate::event_service) implement its package's `AuditService` and `EventService`
//! with the handlers here.

use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio_stream::wrappers::ReceiverStream;

use kommune_proto::common::v1::{AuditChainVerification, AuditRecord, EventEnvelope};
use kommune_proto::common::v1::{PageRequest, PageResponse};

use kommune_proto::identity::v1::Role;

use crate::audit::AuditEntry;
use crate::auth::Caller;
use crate::clock::SharedClock;
use crate::error::Error;
use crate::outbox::{Cursor, Outbox};
use crate::paging::Page;
use crate::service::ServiceRole;
use crate::validate::entity_ref;

/// A service's audit trail, as the shared `AuditService` reads it.
#[tonic::async_trait]
pub trait AuditTrail: Send + Sync + 'static {
    /// The entity kinds its trail holds (`case`, `system`, …).
    const ENTITIES: &'static [&'static str];

    /// Its database.
    fn audit_db(&self) -> &DatabaseConnection;

    /// The clock its records are stamped by.
    fn audit_clock(&self) -> &SharedClock;

    /// Records `actor`'s `action` on the entity `entity_type` `id`, stamped now, with the fields
    /// written, in the mutation's own transaction `txn` (see [`crate::audit::record`]).
    async fn audit(
        &self,
        txn: &impl ConnectionTrait,
        actor: &Caller,
        entity_type: impl Into<&'static str> + Send,
        id: &str,
        action: &str,
        payload: serde_json::Value,
    ) -> Result<(), Error> {
        let now = self.audit_clock().now();
        let entry = AuditEntry::new(actor, entity_type.into(), id, action, now, payload);
        crate::audit::record(txn, entry).await
    }

    /// Whether `caller` may read the trail of the entity `entity_type` `entity_id` (a valid id of a
    /// kind in [`Self::ENTITIES`]); `PERMISSION_DENIED` otherwise.
    async fn may_read_trail(
        &self,
        caller: &Caller,
        entity_type: &str,
        entity_id: &str,
    ) -> Result<(), Error>;
}

/// A service's event feed, as the shared `EventService` serves it.
pub trait EventFeed: Send + Sync + 'static {
    /// Whose feed it is.
    const ROLE: ServiceRole;

    /// Its database and outbox.
    fn feed(&self) -> (&DatabaseConnection, &Outbox);
}

/// A page of an entity's audit records, for a caller who may read them.
pub async fn list_trail<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
    entity_type: &str,
    entity_id: &str,
    page: Option<&PageRequest>,
) -> Result<(Vec<AuditRecord>, PageResponse), Error> {
    let (entity_type, entity_id) = entity_ref(entity_type, entity_id, T::ENTITIES)?;
    let page = Page::from_request(page)?;
    trail
        .may_read_trail(caller, &entity_type, &entity_id)
        .await?;
    crate::audit::list(trail.audit_db(), &entity_type, &entity_id, &page).await
}

/// Verifies an entity's audit chain, for a caller who may read it.
pub async fn verify_trail<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
    entity_type: &str,
    entity_id: &str,
) -> Result<AuditChainVerification, Error> {
    let (entity_type, entity_id) = entity_ref(entity_type, entity_id, T::ENTITIES)?;
    trail
        .may_read_trail(caller, &entity_type, &entity_id)
        .await?;
    crate::audit::verify(trail.audit_db(), &entity_type, &entity_id).await
}

/// The feed's events after the cursor `after_cursor` (empty: from the start), for service accounts
/// and consortium admins; when `follow`, it keeps waiting for new ones.
pub fn watch_feed<F: EventFeed>(
    feed: &F,
    caller: &Caller,
    after_cursor: &str,
    follow: bool,
) -> Result<ReceiverStream<Result<EventEnvelope, tonic::Status>>, Error> {
    let after = Cursor::parse("after_cursor", after_cursor)?;
    caller.require_any_role(
        &[Role::Service, Role::ConsortiumAdmin],
        &format!("watching the {} events", F::ROLE),
    )?;
    let (db, outbox) = feed.feed();
    Ok(outbox.watch(db.clone(), after, follow))
}

/// Implements the package `$pb`'s `AuditService` for `$api` with the shared handlers, reading the
/// trail from its field `$trail` (an [`AuditTrail`] behind a smart pointer or not).
#[macro_export]
macro_rules! audit_service {
    ($api:ty, $pb:ident, $trail:ident) => {
        #[tonic::async_trait]
        impl $pb::audit_service_server::AuditService for $api {
            async fn list_audit_records(
                &self,
                request: tonic::Request<$pb::ListAuditRecordsRequest>,
            ) -> Result<tonic::Response<$pb::ListAuditRecordsResponse>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let req = request.into_inner();
                let (records, page) = $crate::records::list_trail(
                    &*self.$trail,
                    &caller,
                    &req.entity_type,
                    &req.entity_id,
                    req.page.as_ref(),
                )
                .await?;
                Ok(tonic::Response::new($pb::ListAuditRecordsResponse {
                    records,
                    page: Some(page),
                }))
            }

            async fn verify_audit_chain(
                &self,
                request: tonic::Request<$pb::VerifyAuditChainRequest>,
            ) -> Result<tonic::Response<$pb::VerifyAuditChainResponse>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let req = request.into_inner();
                let verification = $crate::records::verify_trail(
                    &*self.$trail,
                    &caller,
                    &req.entity_type,
                    &req.entity_id,
                )
                .await?;
                Ok(tonic::Response::new($pb::VerifyAuditChainResponse {
                    verification: Some(verification),
                }))
            }
        }
    };
}

/// Implements the package `$pb`'s `EventService` for `$api` with the shared handler, reading the feed
/// from its field `$feed` (an [`EventFeed`] behind a smart pointer or not).
#[macro_export]
macro_rules! event_service {
    ($api:ty, $pb:ident, $feed:ident) => {
        #[tonic::async_trait]
        impl $pb::event_service_server::EventService for $api {
            type WatchEventsStream = $crate::outbox::EventStream<$pb::WatchEventsResponse>;

            async fn watch_events(
                &self,
                request: tonic::Request<$pb::WatchEventsRequest>,
            ) -> Result<tonic::Response<Self::WatchEventsStream>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let req = request.into_inner();
                let events = $crate::records::watch_feed(
                    &*self.$feed,
                    &caller,
                    &req.after_cursor,
                    req.follow,
                )?;
                Ok(tonic::Response::new($crate::outbox::responses(
                    events,
                    |event| $pb::WatchEventsResponse { event: Some(event) },
                )))
            }
        }
    };
}
