//! Retention: what is past its days is removed — exactly that, once, however many replicas sweep —
//! and each removal is audited without what was removed.

use sea_orm::ConnectionTrait;

use kommune_platform::retention::{Policy, Sweeper};

use super::*;

async fn count(t: &TestCases, sql: &str) -> i64 {
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {sql}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn filed_with_attachment(t: &TestCases, title: &str, key: &str) -> pb::Case {
    let mut request = t.new_case(title, pb::Severity::Normal);
    request.personal_id = "311299-9999".into();
    request.idempotency_key = key.into();
    let case = t.file(request).await.unwrap().case.unwrap();
    t.cases()
        .add_attachment(bearer(
            pb::AddAttachmentRequest {
                case_id: case.case_id.clone(),
                file_name: "fejl.png".into(),
                content_type: "image/png".into(),
                content: [&[0x89, b'P', b'N', b'G'][..], &[7u8; 512]].concat(),
            },
            &t.reporter,
        ))
        .await
        .unwrap();
    t.cases()
        .get_case(bearer(
            pb::GetCaseRequest {
                case_id: case.case_id,
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
}

/// A sweeper as a replica of the service runs it, by the default policy.
async fn sweeper(t: &TestCases) -> Sweeper {
    let replica = Cases::build(t.options.clone()).await.unwrap();
    let kinds = replica.all_retention_kinds();
    let policy = Policy::parse("cases", &kinds, "").unwrap();
    Sweeper::new(replica.audit_log(), kinds, policy)
}

#[tokio::test]
async fn retention_removes_exactly_what_is_due_once_with_two_replicas() {
    let mut t = TestCases::start().await;
    let early = filed_with_attachment(&t, "Tidligt løst", "early").await;
    let open = filed_with_attachment(&t, "Stadig åben", "open").await;
    let later = filed_with_attachment(&t, "Senere løst", "later").await;
    t.resolve(&early).await;
    t.at("2025-10-20T07:00:00Z").await;
    t.resolve(&later).await;
    // 400 days after the first resolution, 200 after the second.
    t.at("2026-05-07T07:00:00Z").await;
    assert_eq!(count(&t, "attachments").await, 3);
    assert_eq!(count(&t, "idempotency_keys").await, 3);
    let events_before = count(&t, "outbox_events").await;

    let (first, second) = (sweeper(&t).await, sweeper(&t).await);
    let (a, b) = tokio::join!(first.sweep(), second.sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    let removed = |kind: &str| -> u64 {
        a.iter()
            .chain(&b)
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(
        removed("case_attachments"),
        1,
        "only the early case's, 400 days after"
    );
    assert_eq!(
        removed("case_personal_ids"),
        2,
        "both resolved cases', past 90 days"
    );
    assert_eq!(removed("idempotency_keys"), 3, "all past 30 days");
    let events_after = count(&t, "outbox_events").await;
    assert!(
        removed("events") > 0,
        "those of the first days, past a year"
    );
    assert_eq!(removed("events") as i64, events_before - events_after);
    assert!(events_after > 0, "those of the later resolution stay");
    assert_eq!(count(&t, "idempotency_keys").await, 0);

    let attachments_left: Vec<_> = {
        let db = kommune_platform::db::connect(&t.database_url)
            .await
            .unwrap();
        db.query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT case_id FROM attachments ORDER BY case_id",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "case_id").unwrap())
        .collect()
    };
    let mut expected = vec![open.case_id.clone(), later.case_id.clone()];
    expected.sort();
    assert_eq!(attachments_left, expected);
    let get = |id: &str| {
        let request = bearer(pb::GetCaseRequest { case_id: id.into() }, &t.supporter);
        let mut cases = t.cases();
        async move {
            cases
                .get_case(request)
                .await
                .unwrap()
                .into_inner()
                .case
                .unwrap()
        }
    };
    assert!(get(&early.case_id).await.personal_id_erased);
    assert!(get(&later.case_id).await.personal_id_erased);
    let still = get(&open.case_id).await;
    assert!(!still.personal_id_erased && !still.personal_id.is_empty());

    // Nothing twice.
    let again = sweeper(&t).await.sweep().await.unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");

    // Each removal audited with how many, readable by consortium admins only.
    let mut audit = pb::audit_service_client::AuditServiceClient::new(t.cases.clone());
    let trail = audit
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "retention".into(),
                entity_id: "case_attachments".into(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "purge");
    assert!(
        trail[0].payload_json.contains("\"removed\":1"),
        "{}",
        trail[0].payload_json
    );
    let refused = audit
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "retention".into(),
                entity_id: "case_attachments".into(),
                page: None,
            },
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_retention_of_zero_or_negative_days_or_an_unknown_kind_stops_the_start() {
    let t = TestCases::start().await;
    for (setting, named) in [
        ("cases.case_attachments=0", "case_attachments"),
        ("cases.case_personal_ids=-5", "case_personal_ids"),
        ("cases.citizens=30", "citizens"),
        ("case_attachments=30", "case_attachments"),
        ("kases.events=30", "kases"),
    ] {
        let cases = Cases::build(t.options.clone()).await.unwrap();
        let (listener, _) = loopback_listener().await;
        let config = ServerConfig {
            retention: setting.into(),
            ..ServerConfig::default()
        };
        let refused = cases
            .serve(listener, &config, std::future::ready(()))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains(named), "{refused}");
    }
}
