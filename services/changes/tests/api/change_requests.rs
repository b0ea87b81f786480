//! Change requests: asking, keys, validation, idempotency, support, the status lifecycle and audit.

use tonic::Code;

use kommune_platform::testing::with_bearer as bearer;
use kommune_proto::changes::v1 as pb;

use crate::{TestChanges, invalid_fields};

#[tokio::test]
async fn a_municipality_asks_and_others_support() {
    let t = TestChanges::start().await;
    let (m0, m1) = (t.municipalities[0].clone(), t.municipalities[1].clone());
    let asker = t.caseworker(&m0, "asker@kommune.dk").await;
    let supporter = t.caseworker(&m1, "supporter@kommune.dk").await;

    let asked = t
        .change_requests()
        .create_change_request(bearer(t.new_request(&m0, "Filter på forfaldsdato"), &asker))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(asked.key, "KOMBITKY-1");
    assert_eq!(asked.status_code, 10);
    assert_eq!(asked.status, "10 - New");
    assert_eq!(asked.asking_municipality_id, m0);
    assert_eq!(asked.version, 1);

    // Nobody asks on another municipality's behalf.
    let refused = t
        .change_requests()
        .create_change_request(bearer(t.new_request(&m1, "Som en anden"), &asker))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Another municipality supports it, for itself only.
    let support = |municipality_id: &str| pb::SupportChangeRequestRequest {
        change_request_id: asked.change_request_id.clone(),
        municipality_id: municipality_id.into(),
    };
    let refused = t
        .change_requests()
        .support_change_request(bearer(support(&m0), &supporter))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let supported = t
        .change_requests()
        .support_change_request(bearer(support(&m1), &supporter))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(
        supported.supporting_municipality_ids,
        std::slice::from_ref(&m1)
    );

    // Supporters find it among their municipality's change requests; everyone can read it.
    let listed = t
        .change_requests()
        .list_change_requests(bearer(
            pb::ListChangeRequestsRequest {
                municipality_id: m1.clone(),
                ..Default::default()
            },
            &supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_requests;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].change_request_id, asked.change_request_id);

    // The trail says who did what.
    let records = pb::audit_service_client::AuditServiceClient::new(t.changes.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "change_request".into(),
                entity_id: asked.change_request_id.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(
        actions[0] == "create" && actions[1] != "create",
        "{actions:?}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_precisely_and_nothing_is_written() {
    let t = TestChanges::start().await;
    let m0 = t.municipalities[0].clone();
    let mut request = t.new_request(&m0, "");
    request.theme_id = "not-a-uuid".into();
    request.key = "kombit-12".into();
    request.workaround = "Ring til borger 010190-1234".into();
    let refused = t
        .change_requests()
        .create_change_request(bearer(request, &t.admin))
        .await
        .unwrap_err();
    let mut fields = invalid_fields(&refused);
    fields.sort();
    assert_eq!(fields, ["key", "theme_id", "title", "workaround"]);

    let mut request = t.new_request(&m0, "Ukendt tema");
    request.theme_id = "0190b3c4-0000-7000-8000-000000000000".into();
    let refused = t
        .change_requests()
        .create_change_request(bearer(request, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);

    let listed = t
        .change_requests()
        .list_change_requests(bearer(pb::ListChangeRequestsRequest::default(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .change_requests;
    assert!(listed.is_empty());
}

#[tokio::test]
async fn retries_do_not_duplicate_and_imported_keys_are_kept() {
    let t = TestChanges::start().await;
    let m0 = t.municipalities[0].clone();
    let mut request = t.new_request(&m0, "Importeret");
    request.key = "KOMBITKY-55200".into();
    request.idempotency_key = "import-55200".into();
    let first = t
        .change_requests()
        .create_change_request(bearer(request.clone(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let retried = t
        .change_requests()
        .create_change_request(bearer(request.clone(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(first.key, "KOMBITKY-55200");
    assert_eq!(retried.change_request_id, first.change_request_id);

    // The same key without the idempotency key is a second change request: refused.
    request.idempotency_key.clear();
    let refused = t
        .change_requests()
        .create_change_request(bearer(request, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");

    // New change requests are numbered after the imported ones.
    assert_eq!(t.create("Ny").await.key, "KOMBITKY-55201");
}

#[tokio::test]
async fn statuses_follow_the_lifecycle() {
    let t = TestChanges::start().await;
    let statuses = t
        .reference()
        .list_statuses(bearer(pb::ListStatusesRequest {}, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .statuses;
    assert_eq!(statuses.len(), 10);

    let cr = t.create("Livscyklus").await;
    let move_to = |status_code: i32, expected_version: i64| pb::ChangeStatusRequest {
        change_request_id: cr.change_request_id.clone(),
        expected_version,
        status_code,
    };
    // New may not jump to "selected".
    let refused = t
        .change_requests()
        .change_status(bearer(move_to(30, 1), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    // Only consortium admins move statuses.
    let caseworker = t
        .caseworker(&t.municipalities[0], "caseworker@kommune.dk")
        .await;
    let refused = t
        .change_requests()
        .change_status(bearer(move_to(20, 1), &caseworker))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let assessed = t.set_status(&cr, 20).await;
    assert_eq!((assessed.status_code, assessed.version), (20, 2));
    // A stale version loses.
    let refused = t
        .change_requests()
        .change_status(bearer(move_to(90, 1), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);

    // A consortium adds its own status to the lifecycle.
    let put = t
        .reference()
        .put_status(bearer(
            pb::PutStatusRequest {
                status: Some(pb::Status {
                    code: 25,
                    name: "Awaiting funding".into(),
                    next_codes: vec![30, 90],
                }),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .status
        .unwrap();
    assert_eq!(put.next_codes, [30, 90]);
    let refused = t
        .reference()
        .put_status(bearer(
            pb::PutStatusRequest {
                status: Some(pb::Status {
                    code: 26,
                    name: "Dangling".into(),
                    next_codes: vec![777],
                }),
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["status.next_codes"]);
}
