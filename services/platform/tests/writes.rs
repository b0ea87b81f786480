//! Write transactions (`db::begin`) on a real database: on SQLite, writers that arrive together commit
//! together, each told only once the group is durable, a failing writer rolled back alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, ExecResult};

use kommune_platform::db;
use kommune_platform::testing::{fresh_database_url, on_postgres};

async fn notes() -> DatabaseConnection {
    let db = db::connect(&fresh_database_url("platform").await)
        .await
        .unwrap();
    db.execute_unprepared("CREATE TABLE notes (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    db
}

async fn write(db: &impl ConnectionTrait, id: i64) -> Result<ExecResult, DbErr> {
    db.execute_unprepared(&format!("INSERT INTO notes (id) VALUES ({id})"))
        .await
}

async fn count(db: &impl ConnectionTrait) -> i64 {
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM notes",
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

#[tokio::test]
async fn writers_arriving_together_share_one_commit_and_are_told_once_it_is_durable() {
    if on_postgres() {
        // PostgreSQL commits each transaction of the pool on its own (and groups syncs itself).
        return;
    }
    let db = notes().await;
    let first = db::begin(&db).await.unwrap();
    write(&first, 1).await.unwrap();
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let second = db::begin(&db).await.unwrap();
            let seen = (count(&second).await, count(&db).await);
            write(&second, 2).await.unwrap();
            second.commit().await.unwrap();
            seen
        }
    });
    // The second writer now waits for its turn, so the first does not commit alone.
    tokio::task::yield_now().await;
    first.commit().await.unwrap();
    assert_eq!(count(&db).await, 2, "told once both are committed");
    assert_eq!(
        second.await.unwrap(),
        (1, 0),
        "the second wrote in the first's group: it saw the first's row, which others did not yet"
    );
}

#[tokio::test]
async fn a_writer_that_fails_or_gives_up_is_rolled_back_alone() {
    let db = notes().await;
    let first = db::begin(&db).await.unwrap();
    write(&first, 1).await.unwrap();
    let failing = tokio::spawn({
        let db = db.clone();
        async move {
            let txn = db::begin(&db).await.unwrap();
            write(&txn, 10).await.unwrap();
            let duplicate = write(&txn, 1).await;
            txn.rollback().await.unwrap();
            duplicate.is_err()
        }
    });
    let abandoned = tokio::spawn({
        let db = db.clone();
        async move {
            let txn = db::begin(&db).await.unwrap();
            write(&txn, 20).await.unwrap();
            // Dropped uncommitted, as when its request is cancelled.
        }
    });
    tokio::task::yield_now().await;
    first.commit().await.unwrap();
    abandoned.await.unwrap();
    if !on_postgres() {
        assert!(
            failing.await.unwrap(),
            "the duplicate of the group's row is refused"
        );
    } else {
        failing.await.unwrap();
    }
    let ids: Vec<i64> = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM notes ORDER BY id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<i64>("", "id").unwrap())
        .collect();
    assert_eq!(ids, [1]);
}

#[tokio::test]
async fn many_concurrent_writers_each_commit_once() {
    let db = notes().await;
    let writers = (0..200).map(|id| {
        let db = db.clone();
        async move {
            let txn = db::begin(&db).await?;
            write(&txn, id).await?;
            if id % 10 == 0 {
                // Every tenth fails after writing.
                write(&txn, id).await?;
            }
            txn.commit().await
        }
    });
    let outcomes = futures::future::join_all(writers).await;
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    assert_eq!(failed, 20);
    assert_eq!(count(&db).await, 180);
}
