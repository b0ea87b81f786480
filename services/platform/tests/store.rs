//! The platform's storage pieces on a real database (SQLite, or PostgreSQL when
//! `KOMMUNE_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};
use sea_orm_migration::prelude::*;

use futures::StreamExt;
use kommune_platform::outbox::{self, Cursor, Outbox};
use kommune_platform::testing::{fresh_database_url, on_postgres};
use kommune_proto::common::v1::{EventEnvelope, PageResponse};

struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        kommune_platform::migration::migrations()
    }
}

async fn database() -> DatabaseConnection {
    let url = fresh_database_url("platform").await;
    kommune_platform::db::connect_and_migrate::<Migrator>(&url)
        .await
        .unwrap()
}

/// Any message with a type name serves as a payload here.
fn payload(marker: &str) -> PageResponse {
    PageResponse {
        next_page_token: marker.into(),
    }
}

/// Subjects of the events deliverable now (held-back ones are not).
async fn deliverable_now(db: &DatabaseConnection) -> Vec<String> {
    let batch = outbox::next_batch(db, Cursor::default(), 100)
        .await
        .unwrap();
    batch.into_iter().map(|e| e.subject).collect()
}

/// The feed after `cursor`, up to every event committed before this call.
async fn feed(db: &DatabaseConnection, cursor: Cursor) -> Vec<EventEnvelope> {
    let stream = Outbox::new().watch(db.clone(), cursor, false);
    stream.map(|event| event.unwrap()).collect().await
}

fn subjects(events: &[EventEnvelope]) -> Vec<&str> {
    events.iter().map(|e| e.subject.as_str()).collect()
}

#[tokio::test]
async fn events_are_delivered_in_commit_order_and_resume_after_a_cursor() {
    let db = database().await;
    for subject in ["first", "second", "third"] {
        let txn = db.begin().await.unwrap();
        outbox::publish(&txn, Utc::now(), subject, &payload(subject))
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    let rolled_back = db.begin().await.unwrap();
    outbox::publish(&rolled_back, Utc::now(), "never", &payload("never"))
        .await
        .unwrap();
    rolled_back.rollback().await.unwrap();

    let all = feed(&db, Cursor::default()).await;
    assert_eq!(subjects(&all), ["first", "second", "third"]);
    assert_eq!(all[0].event_type, "kommune.common.v1.PageResponse");
    let decoded: PageResponse =
        prost::Message::decode(all[0].payload.as_ref().unwrap().value.as_slice()).unwrap();
    assert_eq!(decoded, payload("first"));
    let after_first = Cursor::parse("after_cursor", &all[0].cursor).unwrap();
    assert_eq!(subjects(&feed(&db, after_first).await), ["second", "third"]);
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_never_skipped() {
    if !on_postgres() {
        // SQLite runs one writing transaction at a time: nothing can commit out of order there.
        return;
    }
    let db = database().await;
    let early = db.begin().await.unwrap();
    outbox::publish(&early, Utc::now(), "early", &payload("early"))
        .await
        .unwrap();

    let late = db.begin().await.unwrap();
    outbox::publish(&late, Utc::now(), "late", &payload("late"))
        .await
        .unwrap();
    late.commit().await.unwrap();

    // "late" has committed, but "early" took a lower sequence value and may still commit: a reader
    // that moved past "late" now would skip "early" for ever. So nothing is delivered yet.
    assert_eq!(deliverable_now(&db).await, Vec::<String>::new());

    early.commit().await.unwrap();
    assert_eq!(
        subjects(&feed(&db, Cursor::default()).await),
        ["early", "late"]
    );
}

#[tokio::test]
async fn replicas_starting_together_migrate_one_at_a_time() {
    if !on_postgres() {
        // The embedded SQLite setup runs one process per database.
        return;
    }
    let url = fresh_database_url("platform").await;
    let replicas = (0..4).map(|_| kommune_platform::db::connect_and_migrate::<Migrator>(&url));
    for replica in futures::future::join_all(replicas).await {
        replica.unwrap();
    }
}

#[tokio::test]
async fn a_chain_started_without_reading_its_head_verifies_and_cannot_be_started_twice() {
    use kommune_platform::audit::{self, AuditEntry, AuditKeys};
    use kommune_platform::auth::Caller;
    use kommune_platform::error::{Error, Reason};

    let db = database().await;
    let keys = AuditKeys::random();
    let admin = Caller::system("test");
    let entry = |action| {
        AuditEntry::new(
            &admin,
            "case",
            "c1",
            action,
            Utc::now(),
            serde_json::json!({}),
        )
    };

    let txn = kommune_platform::db::begin(&db).await.unwrap();
    audit::record_first(&txn, &keys, entry("file"))
        .await
        .unwrap();
    audit::record(&txn, &keys, entry("comment")).await.unwrap();
    txn.commit().await.unwrap();
    let verified = audit::verify(&db, &keys, "cases", "case", "c1")
        .await
        .unwrap();
    assert!(verified.valid, "{verified:?}");
    assert_eq!(verified.records_checked, 2);

    // A second "first" record collides with the chain's first position: nothing is written.
    let txn = kommune_platform::db::begin(&db).await.unwrap();
    let twice = audit::record_first(&txn, &keys, entry("file")).await;
    assert!(
        matches!(twice, Err(Error::Aborted(Reason::ConcurrentChange, _))),
        "{twice:?}"
    );
    txn.rollback().await.unwrap();
    let verified = audit::verify(&db, &keys, "cases", "case", "c1")
        .await
        .unwrap();
    assert_eq!(verified.records_checked, 2);
}
