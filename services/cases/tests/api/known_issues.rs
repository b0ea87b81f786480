//! Known issues: recorded by the supplier's support, suggested to a draft case, linked, listed publicly
//! until fixed.

use super::*;

fn known(t: &TestCases) -> pb::known_issue_service_client::KnownIssueServiceClient<Channel> {
    pb::known_issue_service_client::KnownIssueServiceClient::new(t.cases.clone())
}

fn login_issue(t: &TestCases) -> pb::KnownIssue {
    pb::KnownIssue {
        system_id: t.system.clone(),
        title_da: "Kan ikke logge ind med MitID".into(),
        symptom_da: "Login via MitID fejler med en blank side efter godkendelse i appen".into(),
        workaround_da: "Log ind med nøglefil, til rettelsen er ude".into(),
        title_en: "Cannot sign in with MitID".into(),
        symptom_en: "Signing in with MitID ends on a blank page after approval in the app".into(),
        workaround_en: "Sign in with a key file until the fix is out".into(),
        ..Default::default()
    }
}

async fn create(
    t: &TestCases,
    token: &str,
    issue: pb::KnownIssue,
    key: &str,
) -> Result<pb::KnownIssue, Status> {
    Ok(known(t)
        .create_known_issue(bearer(
            pb::CreateKnownIssueRequest {
                idempotency_key: key.into(),
                known_issue: Some(issue),
            },
            token,
        ))
        .await?
        .into_inner()
        .known_issue
        .unwrap())
}

#[tokio::test]
async fn a_known_issue_is_suggested_to_a_draft_linked_and_public_until_fixed() {
    let t = TestCases::start().await;
    let login = create(&t, &t.supporter, login_issue(&t), "login-1")
        .await
        .unwrap();
    assert_eq!(login.status, pb::KnownIssueStatus::Investigating as i32);
    let again = create(&t, &t.supporter, login_issue(&t), "login-1")
        .await
        .unwrap();
    assert_eq!(
        again.known_issue_id, login.known_issue_id,
        "a retry records nothing new"
    );
    let print = create(
        &t,
        &t.supporter,
        pb::KnownIssue {
            title_da: "Udskrevne afgørelser mangler sidetal".into(),
            symptom_da: "Afgørelser udskrevet som PDF mangler sidetal og kommunens logo".into(),
            workaround_da: String::new(),
            title_en: String::new(),
            symptom_en: String::new(),
            workaround_en: String::new(),
            status: pb::KnownIssueStatus::Workaround as i32,
            ..login_issue(&t)
        },
        "",
    )
    .await
    .unwrap();

    // Bad input: precise statuses, nothing recorded.
    let mut with_cpr = login_issue(&t);
    with_cpr.symptom_da = "Borgeren 010190-1234 kan ikke logge ind".into();
    let mut half_english = login_issue(&t);
    half_english.symptom_en = String::new();
    let mut unknown_system = login_issue(&t);
    unknown_system.system_id = "01a2067f-0000-7000-8000-000000000001".into();
    for (issue, token, code, field) in [
        (
            with_cpr,
            &t.supporter,
            Code::InvalidArgument,
            Some("known_issue.symptom_da"),
        ),
        (
            half_english,
            &t.supporter,
            Code::InvalidArgument,
            Some("known_issue.symptom_en"),
        ),
        (
            unknown_system,
            &t.supporter,
            Code::NotFound,
            Some("known_issue.system_id"),
        ),
        (login_issue(&t), &t.reporter, Code::PermissionDenied, None),
    ] {
        let refused = create(&t, token, issue, "").await.unwrap_err();
        assert_eq!(refused.code(), code, "{refused:?}");
        if let Some(field) = field {
            assert_eq!(violated_fields(&refused), [field], "{refused:?}");
        }
    }

    // A reporter writing a case about logging in is shown the login issue first.
    let suggested = known(&t)
        .suggest_known_issues(bearer(
            pb::SuggestKnownIssuesRequest {
                system_id: t.system.clone(),
                title: "Login fejler".into(),
                description: "Når jeg logger ind med MitID, får jeg en blank side".into(),
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert_eq!(
        suggested
            .iter()
            .map(|s| s.known_issue.as_ref().unwrap().known_issue_id.as_str())
            .collect::<Vec<_>>(),
        [login.known_issue_id.as_str()]
    );
    assert!((0.5..=1.0).contains(&suggested[0].similarity));

    // The reporter files anyway; the supplier links the case (twice: once counts).
    let case = t
        .file(t.new_case("Login fejler med blank side", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let link = |case_id: &str, incident_id: &str| pb::LinkToKnownIssueRequest {
        known_issue_id: login.known_issue_id.clone(),
        case_id: case_id.into(),
        incident_id: incident_id.into(),
    };
    for _ in 0..2 {
        let linked = known(&t)
            .link_to_known_issue(bearer(link(&case.case_id, ""), &t.supporter))
            .await
            .unwrap()
            .into_inner()
            .known_issue
            .unwrap();
        assert_eq!(
            (linked.case_ids.clone(), linked.case_count),
            (vec![case.case_id.clone()], 1)
        );
    }
    let outside = t
        .file(pb::FileCaseRequest {
            system_id: t.outside.clone(),
            ..t.new_case("Indkomst mangler", pb::Severity::Normal)
        })
        .await
        .unwrap()
        .case
        .unwrap();
    for (request, field) in [
        (link(&outside.case_id, ""), "case_id"),
        (
            link(&case.case_id, "01a2067f-0000-7000-8000-000000000001"),
            "case_id",
        ),
        (link("", ""), "case_id"),
    ] {
        let refused = known(&t)
            .link_to_known_issue(bearer(request, &t.supporter))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec![field.to_owned()]),
            "{refused:?}"
        );
    }
    let as_reporter = known(&t)
        .get_known_issue(bearer(
            pb::GetKnownIssueRequest {
                known_issue_id: login.known_issue_id.clone(),
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .known_issue
        .unwrap();
    assert_eq!(
        (as_reporter.case_ids.len(), as_reporter.case_count),
        (0, 1),
        "a municipality sees how many, never other cases' ids"
    );

    // Fixed: no longer public, no longer suggested.
    let current = known(&t)
        .get_known_issue(bearer(
            pb::GetKnownIssueRequest {
                known_issue_id: login.known_issue_id.clone(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .known_issue
        .unwrap();
    let fixed = pb::KnownIssue {
        status: pb::KnownIssueStatus::Fixed as i32,
        ..current.clone()
    };
    let stale = known(&t)
        .update_known_issue(bearer(
            pb::UpdateKnownIssueRequest {
                known_issue: Some(pb::KnownIssue {
                    version: current.version - 1,
                    ..fixed.clone()
                }),
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let fixed = known(&t)
        .update_known_issue(bearer(
            pb::UpdateKnownIssueRequest {
                known_issue: Some(fixed),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .known_issue
        .unwrap();
    assert_eq!(
        (fixed.status, fixed.version),
        (pb::KnownIssueStatus::Fixed as i32, current.version + 1)
    );
    let public = known(&t)
        .list_public_known_issues(tonic::Request::new(
            pb::ListPublicKnownIssuesRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner()
        .known_issues;
    assert_eq!(
        public
            .iter()
            .map(|k| k.known_issue_id.as_str())
            .collect::<Vec<_>>(),
        [print.known_issue_id.as_str()]
    );
    assert!(
        public
            .iter()
            .all(|k| k.case_ids.is_empty() && k.incident_ids.is_empty())
    );
    let after_fix = known(&t)
        .suggest_known_issues(bearer(
            pb::SuggestKnownIssuesRequest {
                system_id: t.system.clone(),
                title: "Login fejler".into(),
                description: "Når jeg logger ind med MitID, får jeg en blank side".into(),
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert!(after_fix.is_empty(), "{after_fix:?}");

    let changes: Vec<String> = t
        .events::<pb::KnownIssueChanged>("KnownIssueChanged")
        .await
        .into_iter()
        .filter(|e| e.known_issue_id == login.known_issue_id)
        .map(|e| e.change)
        .collect();
    assert_eq!(changes, ["create", "link", "update"]);
    let audit = pb::audit_service_client::AuditServiceClient::new(t.cases.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "known_issue".into(),
                entity_id: login.known_issue_id.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(
        audit.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["create", "link", "update"]
    );
}
