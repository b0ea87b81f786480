//! Filing: the eligibility check, the personal-ID field, acute and outside-the-chain filings, refusals.

use sea_orm::ConnectionTrait;

use super::*;

#[tokio::test]
async fn an_eligible_user_files_a_case_with_its_sla_and_a_sealed_personal_id() {
    let t = TestCases::start().await;
    let mut request = t.new_case("Forkert beløb efter omregning", pb::Severity::Normal);
    request.personal_id = "010190-1234".into();
    let filed = t.file(request).await.unwrap();
    assert!(filed.phone_route.is_empty());
    let case = filed.case.unwrap();
    assert_eq!(
        (case.number.as_str(), case.state),
        ("SAG-000001", pb::CaseState::New as i32)
    );
    assert_eq!(
        case.personal_id, "010190-****",
        "masked for the municipality"
    );
    assert_eq!(case.guide_sections, ["Vejledning 4.2 Omregning"]);
    let sla = case.sla.unwrap();
    // Normal: a response within a working day, resolution within ten (no holidays in between).
    assert_eq!(sla.response_due_time, time("2025-04-03T07:00:00Z"));
    assert_eq!(sla.resolution_due_time, time("2025-04-16T07:00:00Z"));

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
        seen.personal_id, "0101901234",
        "the supplier's support needs the number"
    );
    assert_eq!(
        t.file(t.new_case("Endnu en", pb::Severity::Normal))
            .await
            .unwrap()
            .case
            .unwrap()
            .number,
        "SAG-000002"
    );
}

#[tokio::test]
async fn only_a_user_eligible_now_files_a_case() {
    let t = TestCases::start().await;
    let (_, not_eligible) = t
        .user(
            &t.municipality,
            "new@aarhus.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    let refused = t
        .cases()
        .file_case(bearer(
            t.new_case("Fejl", pb::Severity::Normal),
            &not_eligible,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "NOT_SUPPORT_ELIGIBLE");
    assert!(
        refused.message().contains("not support-eligible"),
        "{}",
        refused.message()
    );
    let supplier = t
        .cases()
        .file_case(bearer(
            t.new_case("Fejl", pb::Severity::Normal),
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(supplier.code(), Code::PermissionDenied);
    assert_eq!(reason(&supplier), "ROLE_REQUIRED");
}

#[tokio::test]
async fn bad_filings_get_precise_statuses_and_nothing_is_written() {
    let t = TestCases::start().await;
    let mut pii = t.new_case("", pb::Severity::Normal);
    pii.description = "Borgeren 010190-1234 har fået for lidt".into();
    pii.personal_id = "Anne".into();
    let refused = t.file(pii).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        ["personal_id", "title", "description"]
    );
    let mut unknown = t.new_case("Fejl", pb::Severity::Normal);
    unknown.area_id = "01a2067f-0000-7000-8000-000000000001".into();
    let refused = t.file(unknown).await.unwrap_err();
    assert_eq!(
        (refused.code(), violated_fields(&refused)),
        (Code::NotFound, vec!["area_id".to_owned()])
    );
    // A question says what it is about; nothing else has a subject; an unknown subject is refused.
    let draft = t.new_case("Udbetaling", pb::Severity::Normal);
    for (kind, subject, description) in [
        (pb::CaseKind::Question, 0, "required"),
        (
            pb::CaseKind::Fault,
            pb::QuestionSubject::Recalculation as i32,
            "only for questions",
        ),
        (pb::CaseKind::Question, 99, "not a known value"),
        (pb::CaseKind::Fault, 99, "not a known value"),
    ] {
        let refused = t
            .file(pb::FileCaseRequest {
                kind: kind.into(),
                question_subject: subject,
                ..draft.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec!["question_subject".to_owned()]),
            "{kind:?} about {subject}"
        );
        assert!(refused.message().contains(description), "{refused:?}");
    }
    // A personal ID number pasted from Word or Outlook, with a non-breaking or zero-width space
    // between its parts or in full-width digits, is refused like one typed.
    for written in [
        "010190\u{a0}1234",
        "010190\u{200b}-1234",
        "０１０１９０-１２３４",
        "010190.1234",
    ] {
        let refused = t
            .file(pb::FileCaseRequest {
                description: format!("Borgeren {written} mangler sin udbetaling"),
                ..draft.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec!["description".to_owned()]),
            "{written:?}"
        );
    }
    let listed = t
        .cases()
        .list_cases(bearer(pb::ListCasesRequest::default(), &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(listed.is_empty());
}

#[tokio::test]
async fn acute_filings_get_the_phone_route_and_outside_the_chain_closes_at_once() {
    let t = TestCases::start().await;
    let acute = t
        .file(t.new_case("KY svarer ikke", pb::Severity::Acute))
        .await
        .unwrap();
    assert!(acute.phone_route.contains("phone"), "{}", acute.phone_route);
    assert!(acute.case.unwrap().incident_flag);

    let mut outside = t.new_case("eIndkomst mangler", pb::Severity::Normal);
    outside.system_id = t.outside.clone();
    let closed = t.file(outside).await.unwrap().case.unwrap();
    assert_eq!(
        (closed.state, closed.resolution),
        (
            pb::CaseState::Closed as i32,
            pb::Resolution::OutsideChain as i32
        )
    );
}

#[tokio::test]
async fn a_repeated_filing_with_one_key_files_once_and_the_number_stays_sealed_at_rest() {
    let t = TestCases::start().await;
    let mut request = t.new_case("Fejl i omregning", pb::Severity::PaymentCritical);
    request.idempotency_key = "mail-4711".into();
    request.personal_id = "311299-9999".into();
    let first = t.file(request.clone()).await.unwrap().case.unwrap();
    let again = t.file(request.clone()).await.unwrap().case.unwrap();
    assert_eq!(first.case_id, again.case_id);
    // The key again with another citizen's number is another request, refused.
    let other_citizen = t
        .file(pb::FileCaseRequest {
            personal_id: "010190-1234".into(),
            ..request.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (other_citizen.code(), violated_fields(&other_citizen)),
        (Code::InvalidArgument, vec!["idempotency_key".to_owned()])
    );
    let listed = t
        .cases()
        .list_cases(bearer(pb::ListCasesRequest::default(), &t.reporter))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(listed.len(), 1);

    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT personal_id FROM cases",
        ))
        .await
        .unwrap()
        .unwrap();
    let sealed: String = row.try_get("", "personal_id").unwrap();
    assert!(!sealed.is_empty() && !sealed.contains("3112999999") && !sealed.contains("311299"));
}

#[tokio::test]
async fn screenshots_are_attached_within_their_limits() {
    let t = TestCases::start().await;
    let case = t
        .file(t.new_case("Skærmbillede af fejlen", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let png = [&[0x89, b'P', b'N', b'G'][..], &[7u8; 2048]].concat();
    let add = |file_name: &str, content_type: &str, content: Vec<u8>| pb::AddAttachmentRequest {
        case_id: case.case_id.clone(),
        file_name: file_name.into(),
        content_type: content_type.into(),
        content,
    };
    let added = t
        .cases()
        .add_attachment(bearer(
            add("fejl.png", "image/png", png.clone()),
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .attachment
        .unwrap();
    assert_eq!(
        (added.size_bytes, added.content_type.as_str()),
        (png.len() as i64, "image/png")
    );

    let too_big = t
        .cases()
        .add_attachment(bearer(
            add("stor.png", "image/png", vec![0; 3 * 1024 * 1024 + 1]),
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (too_big.code(), violated_fields(&too_big)),
        (Code::InvalidArgument, vec!["content".to_owned()])
    );
    let wrong_type = t
        .cases()
        .add_attachment(bearer(
            add("virus.exe", "application/x-msdownload", vec![1; 10]),
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&wrong_type), ["content_type"]);
    let pii_name = t
        .cases()
        .add_attachment(bearer(
            add("borger 010190-1234.png", "image/png", png.clone()),
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&pii_name), ["file_name"]);

    let listed = t
        .cases()
        .list_attachments(bearer(
            pb::ListAttachmentsRequest {
                case_id: case.case_id.clone(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .attachments;
    assert_eq!(
        listed
            .iter()
            .map(|a| a.file_name.as_str())
            .collect::<Vec<_>>(),
        ["fejl.png"]
    );
    let fetched = t
        .cases()
        .get_attachment(bearer(
            pb::GetAttachmentRequest {
                attachment_id: added.attachment_id,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.content, png);
}

#[tokio::test]
async fn an_anonymised_reporter_disappears_from_the_cases_and_the_history_stays() {
    let t = TestCases::start().await;
    let case = t
        .file(t.new_case("Fejl", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let comment = pb::AddCommentRequest {
        case_id: case.case_id.clone(),
        text: "Ring til mig på 20 30 40 50, hilsen Anne".into(),
        visibility: pb::CommentVisibility::Public as i32,
    };
    t.cases()
        .add_comment(bearer(comment, &t.reporter))
        .await
        .unwrap();
    let commented = t
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
    let resolved = t.resolve(&commented).await;
    t.cases()
        .rate_case(bearer(
            pb::RateCaseRequest {
                case_id: resolved.case_id.clone(),
                rating: 5,
                comment: "Tak, Anne fra lønkontoret".into(),
            },
            &t.reporter,
        ))
        .await
        .unwrap();

    id::user_service_client::UserServiceClient::new(t.identity.clone())
        .anonymize_user(bearer(
            id::AnonymizeUserRequest {
                user_id: t.reporter_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    // The cases service follows identity's feed; the erasure arrives shortly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let comments = t
            .cases()
            .list_comments(bearer(
                pb::ListCommentsRequest {
                    case_id: case.case_id.clone(),
                    page: None,
                },
                &t.supporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .comments;
        if comments[0].text == "[removed: the author was anonymised]" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the anonymisation never reached the cases service"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let kept = t
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
        kept.reporter_user_id, t.reporter_id,
        "the history stays, by id"
    );
    let audit = pb::audit_service_client::AuditServiceClient::new(t.cases.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "case".into(),
                entity_id: case.case_id,
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(audit.last().unwrap().action, "erase person");

    // The comment of their rating went too: it is theirs, as their export shows.
    let export = pb::privacy_service_client::PrivacyServiceClient::new(t.cases.clone())
        .export_personal_data(bearer(
            pb::ExportPersonalDataRequest {
                user_id: t.reporter_id.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let reported: serde_json::Value = serde_json::from_str(
        &export
            .iter()
            .find(|r| r.kind == "case_reported")
            .unwrap()
            .content_json,
    )
    .unwrap();
    assert_eq!(
        reported["rating"]["comment"],
        "[removed: the author was anonymised]"
    );
}

#[tokio::test]
async fn reference_data_is_edited_with_the_version_read() {
    let t = TestCases::start().await;
    let mut reference = pb::reference_service_client::ReferenceServiceClient::new(t.cases.clone());
    let teams = reference
        .list_teams(bearer(pb::ListTeamsRequest {}, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .teams;
    let mut team = teams
        .into_iter()
        .find(|team| team.team_id == t.second_line)
        .unwrap();
    team.member_user_ids = vec![t.supporter_id.clone()];
    let updated = reference
        .update_team(bearer(
            pb::UpdateTeamRequest {
                team: Some(team.clone()),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap();
    assert_eq!(
        (updated.member_user_ids.clone(), updated.version),
        (vec![t.supporter_id.clone()], team.version + 1)
    );
    let stale = reference
        .update_team(bearer(pb::UpdateTeamRequest { team: Some(team) }, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let denied = reference
        .update_team(bearer(
            pb::UpdateTeamRequest {
                team: Some(updated),
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let areas = reference
        .list_areas(bearer(pb::ListAreasRequest {}, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .areas;
    let mut area = areas.into_iter().next().unwrap();
    area.team_id = t.third_line.clone();
    let wrong_line = reference
        .update_area(bearer(pb::UpdateAreaRequest { area: Some(area) }, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&wrong_line), ["area.team_id"]);

    let systems = reference
        .list_systems(bearer(pb::ListSystemsRequest {}, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .systems;
    let mut ky = systems
        .into_iter()
        .find(|s| s.system_id == t.system)
        .unwrap();
    ky.outage_report_threshold = 5;
    ky.outage_window_minutes = 15;
    let updated = reference
        .update_system(bearer(
            pb::UpdateSystemRequest { system: Some(ky) },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .system
        .unwrap();
    assert_eq!(
        (
            updated.outage_report_threshold,
            updated.outage_window_minutes,
            updated.version
        ),
        (5, 15, 2)
    );

    for (window, threshold) in [(0, 5), (7 * 24 * 60 + 1, 5)] {
        let mut bad = updated.clone();
        bad.outage_window_minutes = window;
        bad.outage_report_threshold = threshold;
        let refused = reference
            .update_system(bearer(
                pb::UpdateSystemRequest { system: Some(bad) },
                &t.admin,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            violated_fields(&refused),
            ["system.outage_window_minutes"],
            "window {window}"
        );
    }
    let unchanged = reference
        .list_systems(bearer(pb::ListSystemsRequest {}, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .systems
        .into_iter()
        .find(|s| s.system_id == t.system)
        .unwrap();
    assert_eq!(unchanged, updated);
}
