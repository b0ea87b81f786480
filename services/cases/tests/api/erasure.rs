//! Erasure on a data subject's request: a citizen's personal ID number destroyed by whom may, and
//! what a person wrote in a case erased under supervision, its audit payloads redacted in the chain.

use sea_orm::ConnectionTrait;

use super::*;

async fn trail(t: &TestCases, case_id: &str) -> Vec<kommune_proto::common::v1::AuditRecord> {
    pb::audit_service_client::AuditServiceClient::new(t.cases.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "case".into(),
                entity_id: case_id.into(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

async fn chain_holds(t: &TestCases, case_id: &str) -> bool {
    let verification = pb::audit_service_client::AuditServiceClient::new(t.cases.clone())
        .verify_audit_chain(bearer(
            pb::VerifyAuditChainRequest {
                entity_type: "case".into(),
                entity_id: case_id.into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert!(verification.valid, "{}", verification.reason);
    verification.valid
}

#[tokio::test]
async fn a_citizens_personal_id_is_erased_on_request_by_whom_may_and_the_case_keeps_that_it_had_one()
 {
    let t = TestCases::start().await;
    let mut request = t.new_case("Fejl i omregning", pb::Severity::Normal);
    request.personal_id = "311299-9999".into();
    let case = t.file(request).await.unwrap().case.unwrap();
    let erase = |token: &str, version: i64, reason: &str| {
        let request = bearer(
            pb::ErasePersonalIdRequest {
                case_id: case.case_id.clone(),
                expected_version: version,
                reason: reason.into(),
            },
            token,
        );
        let mut cases = t.cases();
        async move { cases.erase_personal_id(request).await }
    };
    let reason = "borgerens anmodning af 3. december";

    let refused = erase(&t.reporter, case.version, reason).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "a caseworker may not"
    );
    let odense = t.municipality("461", "Odense Kommune", "35209115").await;
    let (_, other_leader) = t
        .user(&odense, "pl@odense.dk", id::Role::MunicipalProjectLeader)
        .await;
    let refused = erase(&other_leader, case.version, reason)
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "another municipality's leader may not"
    );
    for bad in ["", "borgeren 311299-9999 bad om det"] {
        let refused = erase(&t.admin, case.version, bad).await.unwrap_err();
        assert_eq!(violated_fields(&refused), ["reason"], "{bad:?}");
    }
    let stale = erase(&t.admin, case.version + 7, reason).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let (_, leader) = t
        .user(
            &t.municipality,
            "pl@kk.dk",
            id::Role::MunicipalProjectLeader,
        )
        .await;
    let erased = erase(&leader, case.version, reason)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(erased.personal_id_erased);
    assert_eq!(erased.personal_id, "");
    let seen = t
        .cases()
        .get_case(bearer(
            pb::GetCaseRequest {
                case_id: case.case_id.clone(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (seen.personal_id.as_str(), seen.personal_id_erased),
        ("", true)
    );

    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT personal_id FROM cases WHERE id = '{}'",
                case.case_id
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<Option<String>>("", "personal_id").unwrap(),
        None
    );

    let again = erase(&t.admin, erased.version, reason).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(
        again.message().contains("already erased"),
        "{}",
        again.message()
    );
    let without = t
        .file(t.new_case("Uden borger", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let none = t
        .cases()
        .erase_personal_id(bearer(
            pb::ErasePersonalIdRequest {
                case_id: without.case_id.clone(),
                expected_version: without.version,
                reason: reason.into(),
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::FailedPrecondition);
    assert!(
        none.message().contains("holds no personal ID"),
        "{}",
        none.message()
    );

    let records = trail(&t, &case.case_id).await;
    let last = records.last().unwrap();
    assert_eq!(last.action, "erase personal id");
    assert!(last.payload_json.contains("december"));
    assert!(records.iter().all(|r| !r.payload_json.contains("311299")));
    assert!(chain_holds(&t, &case.case_id).await);
}

#[tokio::test]
async fn a_supervised_erasure_replaces_what_a_person_wrote_and_redacts_it_from_the_audit_trail() {
    let t = TestCases::start().await;
    let mut request = t.new_case("Anne Jensen kan ikke få udbetaling", pb::Severity::Normal);
    request.description = "Anne Jensen, Vestergade 4, ringede om sin sag".into();
    let case = t.file(request).await.unwrap().case.unwrap();
    let renamed = t
        .cases()
        .update_case_title(bearer(
            pb::UpdateCaseTitleRequest {
                case_id: case.case_id.clone(),
                expected_version: case.version,
                title: "Anne Jensen: udbetaling mangler".into(),
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert!(
        trail(&t, &case.case_id)
            .await
            .iter()
            .any(|r| r.payload_json.contains("Anne Jensen"))
    );
    let erase = |token: &str, title: bool, description: bool| {
        let request = bearer(
            pb::EraseCaseTextRequest {
                case_id: case.case_id.clone(),
                expected_version: renamed.version,
                title,
                description,
                reason: "den registreredes anmodning".into(),
            },
            token,
        );
        let mut cases = t.cases();
        async move { cases.erase_case_text(request).await }
    };
    let refused = erase(&t.supporter, true, true).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "supervised: admins only"
    );
    let nothing = erase(&t.admin, false, false).await.unwrap_err();
    assert_eq!(violated_fields(&nothing), ["title"]);

    let erased = erase(&t.admin, true, true)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(erased.title, "[slettet / erased]");
    assert_eq!(erased.description, "[slettet / erased]");
    let records = trail(&t, &case.case_id).await;
    assert!(
        records.iter().all(|r| !r.payload_json.contains("Anne")),
        "{records:?}"
    );
    let actions: Vec<_> = records
        .iter()
        .rev()
        .take(2)
        .map(|r| r.action.as_str())
        .collect();
    assert_eq!(actions, ["erase text", "redact"]);
    let redaction = &records[records.len() - 2];
    assert!(
        redaction
            .payload_json
            .contains("den registreredes anmodning")
    );
    assert!(records[..records.len() - 2].iter().all(|r| r.redacted));
    assert!(chain_holds(&t, &case.case_id).await);
}
