//! The transactional outbox and its `WatchEvents` feed. A service writes its change and the event in one
//! transaction; the feed delivers events at least once, in an order no late commit can skip.

use std::sync::Arc;
use std::time::Duration;

use prost::Name;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, QueryOrder, QuerySelect, Set};
use tokio::sync::{Notify, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use kommune_proto::common::v1::EventEnvelope;

use crate::clock::to_timestamp;
use crate::error::Error;

/// Rows of the outbox.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event waiting in (and kept by) the outbox.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_events")]
    pub struct Model {
        /// Insertion order (from a sequence; commits may land out of this order on PostgreSQL).
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The writing transaction's id on PostgreSQL (0 on SQLite).
        pub tx_id: i64,
        /// Unique event id (UUID).
        pub event_id: String,
        /// Full protobuf name of the payload.
        pub event_type: String,
        /// Id of the entity the event is about.
        pub subject: String,
        /// Encoded payload message.
        pub payload: Vec<u8>,
        /// Commit time.
        pub occurred_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

/// Adds an event to the outbox inside the caller's transaction.
pub async fn publish<M: Name>(
    txn: &impl ConnectionTrait,
    occurred_at: DateTimeUtc,
    subject: impl Into<String>,
    payload: &M,
) -> Result<(), Error> {
    ActiveModel {
        event_id: Set(Uuid::now_v7().to_string()),
        event_type: Set(M::full_name()),
        subject: Set(subject.into()),
        payload: Set(payload.encode_to_vec()),
        occurred_at: Set(occurred_at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// A position in the feed: after the event with this transaction id and row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    tx_id: i64,
    id: i64,
}

impl Cursor {
    /// Parses a cursor from an envelope; empty means the beginning.
    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        if value.is_empty() {
            return Ok(Self::default());
        }
        let invalid = || Error::invalid(field, "is not a cursor from this feed");
        let (tx_id, id) = value.split_once('.').ok_or_else(invalid)?;
        Ok(Self {
            tx_id: tx_id.parse().map_err(|_| invalid())?,
            id: id.parse().map_err(|_| invalid())?,
        })
    }

    fn of(row: &Model) -> Self {
        Self {
            tx_id: row.tx_id,
            id: row.id,
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.tx_id, self.id)
    }
}

/// Wakes feeds in this process when a transaction with events commits; feeds also poll, for events
/// written by other replicas.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    committed: Arc<Notify>,
    /// Set when the server shuts down: following feeds end, so the drain of in-flight calls is not
    /// held up by streams that never finish (their clients reconnect to another replica).
    closing: Arc<watch::Sender<bool>>,
}

const BATCH: u64 = 200;
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How soon to look again for events held back behind a running transaction.
const HELD_BACK_RETRY: Duration = Duration::from_millis(20);

impl Outbox {
    /// A new outbox handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends every following feed of this outbox.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Waits for `shutdown`, then ends the following feeds: pass it to the server as its shutdown
    /// signal.
    pub async fn close_on(self, shutdown: impl Future<Output = ()>) {
        shutdown.await;
        self.close();
    }

    /// Call after committing a transaction that published events.
    pub fn notify_committed(&self) {
        self.committed.notify_waiters();
    }

    /// Streams events after `after`, in delivery order; when `follow`, keeps waiting for new ones.
    pub fn watch(
        &self,
        db: DatabaseConnection,
        after: Cursor,
        follow: bool,
    ) -> ReceiverStream<Result<EventEnvelope, tonic::Status>> {
        let (tx, rx) = mpsc::channel(BATCH as usize);
        let committed = self.committed.clone();
        let mut closing = self.closing.subscribe();
        tokio::spawn(async move {
            if let Err(err) = feed(&db, &committed, &mut closing, &tx, after, follow).await {
                let _ = tx.send(Err(err.into())).await;
            }
        });
        ReceiverStream::new(rx)
    }
}

type Sender = mpsc::Sender<Result<EventEnvelope, tonic::Status>>;

/// Sends events after `cursor` until the client goes away or the outbox closes, or, unless following,
/// until every event committed before the call was sent.
async fn feed(
    db: &DatabaseConnection,
    committed: &Notify,
    closing: &mut watch::Receiver<bool>,
    tx: &Sender,
    mut cursor: Cursor,
    follow: bool,
) -> Result<(), Error> {
    let committed_before_call = if follow { None } else { last_id(db).await? };
    loop {
        // Registered before reading, so a commit between the read and the wait is not missed.
        let woken = committed.notified();
        let rows = next_batch(db, cursor, BATCH).await?;
        let caught_up = (rows.len() as u64) < BATCH;
        for row in rows {
            cursor = Cursor::of(&row);
            if tx.send(Ok(envelope(row))).await.is_err() {
                return Ok(()); // the client went away
            }
        }
        if !caught_up {
            continue;
        }
        if follow {
            tokio::select! {
                () = woken => {},
                () = tokio::time::sleep(POLL_INTERVAL) => {},
                () = tx.closed() => return Ok(()),
                _ = closing.wait_for(|closed| *closed) => return Ok(()),
            }
        } else {
            match committed_before_call {
                // Committed before the call, but held back behind a transaction still running.
                Some(last) if undelivered_up_to(db, cursor, last).await? => {
                    tokio::time::sleep(HELD_BACK_RETRY).await;
                }
                _ => return Ok(()),
            }
        }
    }
}

/// A `WatchEvents` response stream, each envelope wrapped in the package's response message.
pub type EventStream<R> =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<R, tonic::Status>> + Send>>;

/// Wraps a feed's envelopes in a package's `WatchEventsResponse`.
pub fn responses<R: Send + 'static>(
    events: ReceiverStream<Result<EventEnvelope, tonic::Status>>,
    wrap: fn(EventEnvelope) -> R,
) -> EventStream<R> {
    Box::pin(tokio_stream::StreamExt::map(events, move |event| {
        event.map(wrap)
    }))
}

/// The next events after `cursor` that can no longer be preceded by a late commit.
pub async fn next_batch(
    db: &DatabaseConnection,
    cursor: Cursor,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find()
        .filter(after(cursor))
        .order_by_asc(Column::TxId)
        .order_by_asc(Column::Id)
        .limit(limit);
    if db.get_database_backend() == DbBackend::Postgres {
        // Only rows of transactions older than every transaction still running: their set is final.
        // (The horizon is the whole server's: a long transaction anywhere delays, never loses, events.)
        query = query.filter(Expr::cust(
            "tx_id < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint",
        ));
    }
    Ok(query.all(db).await?)
}

/// Rows after `cursor` in delivery order.
fn after(cursor: Cursor) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(Column::TxId.gt(cursor.tx_id))
        .add(Column::TxId.eq(cursor.tx_id).and(Column::Id.gt(cursor.id)))
}

/// The id of the newest committed event, if any.
async fn last_id(db: &DatabaseConnection) -> Result<Option<i64>, Error> {
    let last: Option<Option<i64>> = Entity::find()
        .select_only()
        .column_as(Column::Id.max(), "last")
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.flatten())
}

/// Whether an event with an id up to `last` is still to be delivered after `cursor`.
async fn undelivered_up_to(
    db: &DatabaseConnection,
    cursor: Cursor,
    last: i64,
) -> Result<bool, Error> {
    let found = Entity::find()
        .filter(after(cursor))
        .filter(Column::Id.lte(last))
        .one(db)
        .await?;
    Ok(found.is_some())
}

fn envelope(row: Model) -> EventEnvelope {
    let cursor = Cursor::of(&row).to_string();
    let type_url = format!("type.googleapis.com/{}", row.event_type);
    EventEnvelope {
        event_id: row.event_id,
        sequence: row.id as u64,
        cursor,
        event_type: row.event_type,
        occurred_at: Some(to_timestamp(row.occurred_at)),
        subject: row.subject,
        payload: Some(prost_types::Any {
            type_url,
            value: row.payload,
        }),
    }
}

/// Retention: removes up to `limit` events committed before `cutoff`; how many.
pub async fn purge(
    txn: &impl ConnectionTrait,
    cutoff: DateTimeUtc,
    limit: u64,
) -> Result<u64, Error> {
    let ids: Vec<i64> = crate::retention::due_ids::<Entity, i64>(
        txn,
        Column::Id,
        Column::Id,
        sea_orm::Condition::all().add(Column::OccurredAt.lt(cutoff)),
        limit,
    )
    .await?;
    crate::retention::delete_ids::<Entity, _>(txn, Column::Id, ids).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor { tx_id: 812, id: 17 };
        assert_eq!(
            Cursor::parse("after_cursor", &cursor.to_string()).ok(),
            Some(cursor)
        );
        assert_eq!(
            Cursor::parse("after_cursor", "").ok(),
            Some(Cursor::default())
        );
        assert!(Cursor::parse("after_cursor", "17").is_err());
        assert!(Cursor::parse("after_cursor", "a.b").is_err());
    }
}
