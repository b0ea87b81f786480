//! Retention of notifications: those delivered or given up are removed after their days — exactly
//! those, once, however many replicas sweep — and the removal is audited without what was removed.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use kommune_notify::store::notifications;
use kommune_platform::retention::{Policy, Sweeper};

use super::*;

/// A sweeper as a replica of notify on `options` runs it, by the default policy.
async fn sweeper(options: &Options) -> Sweeper {
    let replica = Notify::build(options.clone()).await.unwrap();
    let kinds = replica.all_retention_kinds();
    let policy = Policy::parse("notify", &kinds, "").unwrap();
    Sweeper::new(replica.audit_log(), kinds, policy)
}

#[tokio::test]
async fn delivered_notifications_go_after_their_days_once_with_two_replicas() {
    let s = Suite::start().await;
    let port = free_port().await;
    let _smtp = SmtpServer::start(port).await;
    let database_url = fresh_database_url("notify").await;
    let options = s.notify_options(&database_url, port);
    let (notify, _running, _) = s.notify(options.clone()).await;
    s.file("Gammel sag").await;
    s.file("Ny sag").await;
    // Each filing reaches the reporter by mail and in the inbox.
    eventually("all four are delivered", async || {
        s.notifications(&notify, pb::DeliveryState::Delivered)
            .await
            .len()
            == 4
    })
    .await;

    // The old case's were made 200 days ago: past the 180 days of `notifications`.
    let db = kommune_platform::db::connect(&database_url).await.unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::days(200);
    notifications::Entity::update_many()
        .col_expr(notifications::Column::CreatedAt, Expr::value(long_ago))
        .filter(notifications::Column::Subject.contains("Gammel sag"))
        .exec(&db)
        .await
        .unwrap();

    let (first, second) = (sweeper(&options).await, sweeper(&options).await);
    let (a, b) = tokio::join!(first.sweep(), second.sweep());
    let removed: u64 = a
        .unwrap()
        .iter()
        .chain(&b.unwrap())
        .filter(|(kind, _)| *kind == "notifications")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(removed, 2, "the old case's mail and inbox item, once");
    let left: Vec<String> = notifications::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.subject)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(
        left.iter().all(|subject| subject.contains("Ny sag")),
        "{left:?}"
    );

    // Audited under `retention`, for consortium admins, without what was removed.
    let records = pb::audit_service_client::AuditServiceClient::new(notify.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "retention".into(),
                entity_id: "notifications".into(),
                page: None,
            },
            &s.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(records.len(), 1);
    assert!(
        !records[0].payload_json.contains("Gammel"),
        "{}",
        records[0].payload_json
    );
}
