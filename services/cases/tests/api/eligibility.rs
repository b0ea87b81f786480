//! Eligibility changes asked for in a case and applied in identity when the supplier approves them.

use super::*;

fn change(t: &TestCases, request: pb::EligibilityRequest) -> pb::FileCaseRequest {
    pb::FileCaseRequest {
        kind: pb::CaseKind::EligibilityChange as i32,
        eligibility_request: Some(request),
        ..t.new_case("Ændring af supportberettiget bruger", pb::Severity::Normal)
    }
}

async fn approve(t: &TestCases, token: &str, case: &pb::Case) -> Result<pb::Case, Status> {
    Ok(t.cases()
        .approve_eligibility_change(bearer(
            pb::ApproveEligibilityChangeRequest {
                case_id: case.case_id.clone(),
                expected_version: case.version,
            },
            token,
        ))
        .await?
        .into_inner()
        .case
        .unwrap())
}

async fn eligible(t: &TestCases, user_id: &str, at: &str) -> bool {
    id::eligibility_service_client::EligibilityServiceClient::new(t.identity.clone())
        .check_eligibility(bearer(
            id::CheckEligibilityRequest {
                user_id: user_id.into(),
                municipality_id: t.municipality.clone(),
                time: time(at),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .eligible
}

#[tokio::test]
async fn an_approved_change_is_applied_in_identity_and_resolves_its_case() {
    let t = TestCases::start().await;
    let (newcomer, _) = t
        .user(
            &t.municipality,
            "ny@aarhus.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    let asked = t
        .file(change(
            &t,
            pb::EligibilityRequest {
                action: pb::EligibilityAction::New as i32,
                user_id: newcomer.clone(),
                date: "2025-04-07".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .case
        .unwrap();
    let request = asked.eligibility_request.clone().unwrap();
    assert_eq!(
        (
            request.user_id.as_str(),
            request.date.as_str(),
            request.applied_registration_id.as_str()
        ),
        (newcomer.as_str(), "2025-04-07", "")
    );
    assert!(!eligible(&t, &newcomer, "2025-04-08T10:00:00Z").await);

    let denied = approve(&t, &t.reporter, &asked).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let stale = approve(
        &t,
        &t.supporter,
        &pb::Case {
            version: asked.version + 1,
            ..asked.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let approved = approve(&t, &t.supporter, &asked).await.unwrap();
    assert_eq!(
        (approved.state, approved.resolution),
        (pb::CaseState::Resolved as i32, pb::Resolution::Fixed as i32)
    );
    let registration = approved
        .eligibility_request
        .unwrap()
        .applied_registration_id;
    assert!(!registration.is_empty());
    assert!(
        eligible(&t, &newcomer, "2025-04-08T10:00:00Z").await,
        "one step, not two"
    );
    let twice = approve(&t, &t.supporter, &approved_again(&t, &asked).await)
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition, "{twice:?}");

    // The same person stops at the end of April.
    let stop = t
        .file(change(
            &t,
            pb::EligibilityRequest {
                action: pb::EligibilityAction::Stop as i32,
                registration_id: registration.clone(),
                date: "2025-04-30".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .case
        .unwrap();
    let stopped = approve(&t, &t.supporter, &stop).await.unwrap();
    assert_eq!(
        stopped.eligibility_request.unwrap().applied_registration_id,
        registration
    );
    assert!(eligible(&t, &newcomer, "2025-04-30T10:00:00Z").await);
    assert!(!eligible(&t, &newcomer, "2025-05-02T10:00:00Z").await);

    let changes: Vec<String> = t
        .events::<pb::CaseChanged>("CaseChanged")
        .await
        .into_iter()
        .map(|e| e.change)
        .collect();
    assert_eq!(
        changes,
        ["approve_eligibility_change", "approve_eligibility_change"]
    );
}

/// The case as it is now.
async fn approved_again(t: &TestCases, case: &pb::Case) -> pb::Case {
    t.cases()
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
        .unwrap()
}

#[tokio::test]
async fn a_change_must_fit_its_kind_and_action() {
    let t = TestCases::start().await;
    let new_user = |user_id: &str| pb::EligibilityRequest {
        action: pb::EligibilityAction::New as i32,
        user_id: user_id.into(),
        date: "2025-04-07".into(),
        ..Default::default()
    };
    let mut without = change(&t, new_user(&t.reporter_id));
    without.eligibility_request = None;
    let mut on_a_fault = change(&t, new_user(&t.reporter_id));
    on_a_fault.kind = pb::CaseKind::Fault as i32;
    let no_user = change(&t, new_user(""));
    let mut bad_date = change(&t, new_user(&t.reporter_id));
    bad_date.eligibility_request.as_mut().unwrap().date = "7/4/2025".into();
    let mut stop_with_user = change(&t, new_user(&t.reporter_id));
    stop_with_user.eligibility_request.as_mut().unwrap().action =
        pb::EligibilityAction::Stop as i32;
    for (request, field) in [
        (without, "eligibility_request"),
        (on_a_fault, "eligibility_request"),
        (no_user, "eligibility_request.user_id"),
        (bad_date, "eligibility_request.date"),
        (stop_with_user, "eligibility_request.user_id"),
    ] {
        let refused = t.file(request).await.unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec![field.to_owned()]),
            "{refused:?}"
        );
    }
    let fault = t
        .file(t.new_case("Fejl", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let not_a_change = approve(&t, &t.supporter, &fault).await.unwrap_err();
    assert_eq!(not_a_change.code(), Code::FailedPrecondition);
    // identity refuses what it cannot apply (the reporter is registered already): the case cannot be
    // approved as it stands, and says why.
    let again = t
        .file(change(&t, new_user(&t.reporter_id)))
        .await
        .unwrap()
        .case
        .unwrap();
    let refused = approve(&t, &t.supporter, &again).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("identity refused"),
        "{refused:?}"
    );
}
