//! The audit trail and the event feed every service serves, implemented once. A service says which
//! entities it audits and who may read whose trail ([`AuditTrail`]) and where its events are
//! ([`EventFeed`]); [`audit_service!`](crate::audit_service) and
//! [`event_service!`](crate::event_service) implement its package's `AuditService` and `EventService`
//! with the handlers here.

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use tokio_stream::wrappers::ReceiverStream;

use kommune_proto::common::v1::{
    AuditChainVerification, AuditCheckpoint, AuditLogEntry, AuditLogVerification, AuditRecord,
    EventEnvelope,
};
use kommune_proto::common::v1::{PageRequest, PageResponse};

use kommune_proto::identity::v1::Role;

use crate::audit::log;
use crate::audit::{AuditEntry, AuditKeys};
use crate::auth::{Caller, USER_SUBJECT_PREFIX};
use crate::clock::SharedClock;
use crate::db::AuthoredText;
use crate::error::Error;
use crate::outbox::{Cursor, Outbox};
use crate::paging::Page;
use crate::service::ServiceRole;
use crate::validate::entity_ref;

/// A service's audit trail, as the shared `AuditService` reads it.
#[tonic::async_trait]
pub trait AuditTrail: Send + Sync + 'static {
    /// The service whose trail it is (named in its checkpoints).
    const ROLE: ServiceRole;

    /// The entity kinds its trail holds (`case`, `system`, …).
    const ENTITIES: &'static [&'static str];

    /// Its database.
    fn audit_db(&self) -> &DatabaseConnection;

    /// The clock its records are stamped by.
    fn audit_clock(&self) -> &SharedClock;

    /// The keys that seal its records and sign its checkpoints.
    fn audit_keys(&self) -> &AuditKeys;

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
        crate::audit::record(txn, self.audit_keys(), entry).await
    }

    /// Records `actor`'s creation (`action`) of the entity `entity_type` `id`, new in `txn`: the first
    /// record of its chain (see [`crate::audit::record_first`]).
    async fn audit_created(
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
        crate::audit::record_first(txn, self.audit_keys(), entry).await
    }

    /// Erasure in the mutation's transaction `txn`: removes the payloads of the entity's records so
    /// far, recording `actor`'s redaction and its `reason` (no personal data in it) in the chain
    /// (see [`crate::audit::redact`]).
    async fn redact(
        &self,
        txn: &impl ConnectionTrait,
        actor: &Caller,
        entity_type: impl Into<&'static str> + Send,
        id: &str,
        reason: &str,
    ) -> Result<u64, Error> {
        let now = self.audit_clock().now();
        let keys = self.audit_keys();
        crate::audit::redact(txn, keys, actor, entity_type.into(), id, now, reason).await
    }

    /// Acts on an anonymised person's words: every text the user `user_id` wrote in the table of
    /// `columns` becomes [`ERASED_AUTHOR_TEXT`](crate::pii::ERASED_AUTHOR_TEXT), and each
    /// `entity_type` the words were on is audited `erase person` (by the identity feed), in the
    /// mutation's transaction `txn`. The ids of those entities.
    async fn erase_words_of<E: EntityTrait>(
        &self,
        txn: &impl ConnectionTrait,
        user_id: &str,
        columns: AuthoredText<E>,
        entity_type: &'static str,
    ) -> Result<Vec<String>, Error> {
        let author = format!("{USER_SUBJECT_PREFIX}{user_id}");
        let erased = crate::pii::ERASED_AUTHOR_TEXT;
        let owners = crate::db::erase_author(txn, &columns, &author, erased).await?;
        self.audit_erased(txn, user_id, entity_type, &owners, columns.what)
            .await?;
        Ok(owners)
    }

    /// Audits `erase person` by the identity feed on each `entity_type` of `owners`, saying what of the
    /// anonymised user `user_id`'s was erased there (`what`, never the words), in `txn`.
    async fn audit_erased(
        &self,
        txn: &impl ConnectionTrait,
        user_id: &str,
        entity_type: &'static str,
        owners: &[String],
        what: &str,
    ) -> Result<(), Error> {
        let feed = Caller::identity_feed();
        for owner in owners {
            let payload = serde_json::json!({"user_id": user_id, "erased": what});
            self.audit(txn, &feed, entity_type, owner, "erase person", payload)
                .await?;
        }
        Ok(())
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

/// The entity named, when `caller` may read its trail: one of the service's own kinds, or a kind of
/// data its retention removes (`retention`, for consortium admins).
async fn readable_ref<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
    entity_type: &str,
    entity_id: &str,
) -> Result<(String, String), Error> {
    if entity_type == crate::retention::AUDITED {
        caller.require_any_role(&[Role::ConsortiumAdmin], "reading the retention trail")?;
        if entity_id.trim().is_empty() {
            return Err(Error::invalid("entity_id", "is required"));
        }
        return Ok((entity_type.to_owned(), entity_id.trim().to_owned()));
    }
    let (entity_type, entity_id) = entity_ref(entity_type, entity_id, T::ENTITIES)?;
    trail
        .may_read_trail(caller, &entity_type, &entity_id)
        .await?;
    Ok((entity_type, entity_id))
}

/// A page of an entity's audit records, for a caller who may read them.
pub async fn list_trail<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
    entity_type: &str,
    entity_id: &str,
    page: Option<&PageRequest>,
) -> Result<(Vec<AuditRecord>, PageResponse), Error> {
    let (entity_type, entity_id) = readable_ref::<T>(trail, caller, entity_type, entity_id).await?;
    let page = Page::from_request(page)?;
    crate::audit::list(trail.audit_db(), &entity_type, &entity_id, &page).await
}

/// Verifies an entity's audit chain, for a caller who may read it.
pub async fn verify_trail<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
    entity_type: &str,
    entity_id: &str,
) -> Result<AuditChainVerification, Error> {
    let (entity_type, entity_id) = readable_ref::<T>(trail, caller, entity_type, entity_id).await?;
    crate::audit::verify(
        trail.audit_db(),
        trail.audit_keys(),
        T::ROLE.name(),
        &entity_type,
        &entity_id,
    )
    .await
}

/// The latest checkpoint, or the one at `tree_size` (public).
pub async fn checkpoint<T: AuditTrail>(
    trail: &T,
    tree_size: u64,
) -> Result<AuditCheckpoint, Error> {
    let db = trail.audit_db();
    let found = if tree_size == 0 {
        log::latest(db).await?
    } else {
        log::at(db, tree_size).await?
    };
    let found = found.ok_or_else(|| match tree_size {
        0 => Error::wrong_state("no audit checkpoint has been signed yet"),
        size => Error::not_found_field("audit checkpoint", size.to_string(), "tree_size"),
    })?;
    Ok(log::to_proto(T::ROLE.name(), &found))
}

/// A consistency proof between two log sizes (public).
pub async fn consistency_proof<T: AuditTrail>(
    trail: &T,
    first: u64,
    second: u64,
) -> Result<Vec<Vec<u8>>, Error> {
    let proof = log::consistency_proof(trail.audit_db(), first, second).await?;
    Ok(proof.iter().map(|hash| hash.to_vec()).collect())
}

/// An inclusion proof of the record at `index` in the log of `tree_size` records (public).
pub async fn inclusion_proof<T: AuditTrail>(
    trail: &T,
    index: u64,
    tree_size: u64,
) -> Result<(AuditLogEntry, Vec<Vec<u8>>), Error> {
    let (entry, proof) = log::inclusion_proof(trail.audit_db(), index, tree_size).await?;
    Ok((entry, proof.iter().map(|hash| hash.to_vec()).collect()))
}

/// A page of the log's entries, for consortium admins.
pub async fn log_entries<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
    first_index: u64,
    page: Option<&PageRequest>,
) -> Result<(Vec<AuditLogEntry>, PageResponse), Error> {
    let page = Page::from_request(page)?;
    caller.require_any_role(&[Role::ConsortiumAdmin], "reading the audit log")?;
    log::entries(trail.audit_db(), first_index, &page).await
}

/// Verifies the whole log, for consortium admins.
pub async fn verify_log<T: AuditTrail>(
    trail: &T,
    caller: &Caller,
) -> Result<AuditLogVerification, Error> {
    caller.require_any_role(&[Role::ConsortiumAdmin], "verifying the audit log")?;
    log::verify(trail.audit_db(), trail.audit_keys(), T::ROLE.name()).await
}

/// Anchors what is pending and signs a checkpoint now, for consortium admins; the latest checkpoint.
pub async fn sign_checkpoint(log: &AuditLog, caller: &Caller) -> Result<AuditCheckpoint, Error> {
    caller.require_any_role(&[Role::ConsortiumAdmin], "signing an audit checkpoint")?;
    log.anchor_pending().await?;
    let latest = log::latest(&log.db)
        .await?
        .ok_or_else(|| Error::wrong_state("the audit log is empty: nothing to sign"))?;
    Ok(log::to_proto(log.role.name(), &latest))
}

/// A service's audit log as its sequencer sees it: what it anchors and signs with, and the feed it
/// announces checkpoints on.
#[derive(Clone)]
pub struct AuditLog {
    pub(crate) db: DatabaseConnection,
    pub(crate) keys: AuditKeys,
    role: ServiceRole,
    pub(crate) clock: SharedClock,
    outbox: Option<Outbox>,
}

impl AuditLog {
    /// The log of `trail`, announcing checkpoints through `outbox` when the service has a feed.
    pub fn of<T: AuditTrail>(trail: &T, outbox: Option<Outbox>) -> Self {
        Self {
            db: trail.audit_db().clone(),
            keys: trail.audit_keys().clone(),
            role: T::ROLE,
            clock: trail.audit_clock().clone(),
            outbox,
        }
    }

    /// Anchors every pending record, a checkpoint per [`log::ANCHOR_BATCH`]; how many checkpoints
    /// were signed.
    pub async fn anchor_pending(&self) -> Result<u64, Error> {
        let mut signed = 0;
        while let Some(checkpoint) =
            log::checkpoint(&self.db, &self.keys, self.role.name(), self.clock.now()).await?
        {
            signed += 1;
            if let Some(outbox) = &self.outbox {
                outbox.notify_committed();
            }
            tracing::debug!(tree_size = checkpoint.tree_size, "audit checkpoint signed");
        }
        Ok(signed)
    }

    /// Anchors and signs every `interval` until the service stops (first after one interval, so a
    /// checkpoint never races a start).
    pub async fn run(self, interval: std::time::Duration) {
        loop {
            tokio::time::sleep(interval).await;
            if let Err(err) = self.anchor_pending().await {
                tracing::warn!(error = %err, "cannot sign an audit checkpoint");
            }
        }
    }
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

            async fn get_audit_checkpoint(
                &self,
                request: tonic::Request<$pb::GetAuditCheckpointRequest>,
            ) -> Result<tonic::Response<$pb::GetAuditCheckpointResponse>, tonic::Status> {
                let req = request.into_inner();
                let checkpoint = $crate::records::checkpoint(&*self.$trail, req.tree_size).await?;
                Ok(tonic::Response::new($pb::GetAuditCheckpointResponse {
                    checkpoint: Some(checkpoint),
                }))
            }

            async fn get_audit_consistency_proof(
                &self,
                request: tonic::Request<$pb::GetAuditConsistencyProofRequest>,
            ) -> Result<tonic::Response<$pb::GetAuditConsistencyProofResponse>, tonic::Status> {
                let req = request.into_inner();
                let hashes = $crate::records::consistency_proof(
                    &*self.$trail,
                    req.first_tree_size,
                    req.second_tree_size,
                )
                .await?;
                Ok(tonic::Response::new(
                    $pb::GetAuditConsistencyProofResponse { hashes },
                ))
            }

            async fn get_audit_inclusion_proof(
                &self,
                request: tonic::Request<$pb::GetAuditInclusionProofRequest>,
            ) -> Result<tonic::Response<$pb::GetAuditInclusionProofResponse>, tonic::Status> {
                let req = request.into_inner();
                let (entry, hashes) =
                    $crate::records::inclusion_proof(&*self.$trail, req.log_index, req.tree_size)
                        .await?;
                Ok(tonic::Response::new($pb::GetAuditInclusionProofResponse {
                    entry: Some(entry),
                    hashes,
                }))
            }

            async fn list_audit_log_entries(
                &self,
                request: tonic::Request<$pb::ListAuditLogEntriesRequest>,
            ) -> Result<tonic::Response<$pb::ListAuditLogEntriesResponse>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let req = request.into_inner();
                let (entries, page) = $crate::records::log_entries(
                    &*self.$trail,
                    &caller,
                    req.first_index,
                    req.page.as_ref(),
                )
                .await?;
                Ok(tonic::Response::new($pb::ListAuditLogEntriesResponse {
                    entries,
                    page: Some(page),
                }))
            }

            async fn verify_audit_log(
                &self,
                request: tonic::Request<$pb::VerifyAuditLogRequest>,
            ) -> Result<tonic::Response<$pb::VerifyAuditLogResponse>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let verification = $crate::records::verify_log(&*self.$trail, &caller).await?;
                Ok(tonic::Response::new($pb::VerifyAuditLogResponse {
                    verification: Some(verification),
                }))
            }

            async fn sign_audit_checkpoint(
                &self,
                request: tonic::Request<$pb::SignAuditCheckpointRequest>,
            ) -> Result<tonic::Response<$pb::SignAuditCheckpointResponse>, tonic::Status> {
                let caller = $crate::auth::caller(&request)?;
                let log = $crate::records::AuditLog::of(&*self.$trail, None);
                let checkpoint = $crate::records::sign_checkpoint(&log, &caller).await?;
                Ok(tonic::Response::new($pb::SignAuditCheckpointResponse {
                    checkpoint: Some(checkpoint),
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
