//! The lifecycle, the SLA clock in Danish working time, the title rule, merging and conversion.

use super::*;

#[tokio::test]
async fn a_case_moves_through_its_lifecycle_and_illegal_moves_name_both_states() {
    let mut t = TestCases::start().await;
    let case = t
        .file(t.new_case("Omregning fejler", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let refused = t
        .transition(&t.supporter, &case, pb::Transition::Resolve)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("TRANSITION_RESOLVE")
            && refused.message().contains("CASE_STATE_NEW"),
        "{}",
        refused.message()
    );
    assert_eq!(
        t.transition(&t.reporter, &case, pb::Transition::Triage)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    let case = t
        .transition(&t.supporter, &case, pb::Transition::Triage)
        .await
        .unwrap();
    assert_eq!(
        (case.state, case.team_id.as_str(), case.line),
        (
            pb::CaseState::Triaged as i32,
            t.second_line.as_str(),
            pb::SupportLine::Second as i32
        )
    );
    assert!(case.sla.as_ref().unwrap().first_response_time.is_some());
    let case = t
        .transition(&t.supporter, &case, pb::Transition::Start)
        .await
        .unwrap();
    let escalate = pb::TransitionCaseRequest {
        case_id: case.case_id.clone(),
        expected_version: case.version,
        transition: pb::Transition::Escalate as i32,
        team_id: t.third_line.clone(),
        ..Default::default()
    };
    let case = t
        .cases()
        .transition_case(bearer(escalate, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (case.team_id.as_str(), case.line),
        (t.third_line.as_str(), pb::SupportLine::Third as i32)
    );
    let case = t
        .transition(&t.supporter, &case, pb::Transition::ReturnToSecondLine)
        .await
        .unwrap();
    assert_eq!(case.team_id, t.second_line);
    let case = t
        .transition(&t.supporter, &case, pb::Transition::AwaitMunicipality)
        .await
        .unwrap();
    let case = t
        .transition(&t.reporter, &case, pb::Transition::Resume)
        .await
        .unwrap();
    let resolve = pb::TransitionCaseRequest {
        case_id: case.case_id.clone(),
        expected_version: case.version,
        transition: pb::Transition::Resolve as i32,
        resolution: pb::Resolution::ByDesign as i32,
        change_request_wanted: true,
        ..Default::default()
    };
    let case = t
        .cases()
        .transition_case(bearer(resolve, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (case.state, case.resolution, case.change_request_wanted),
        (
            pb::CaseState::Resolved as i32,
            pb::Resolution::ByDesign as i32,
            true
        )
    );
    let case = t
        .transition(&t.supporter, &case, pb::Transition::Close)
        .await
        .unwrap();
    // The municipality reopens within the window, not after it.
    let reopened = t
        .transition(&t.reporter, &case, pb::Transition::Reopen)
        .await
        .unwrap();
    assert_eq!(reopened.state, pb::CaseState::InProgress as i32);
    let resolve = pb::TransitionCaseRequest {
        case_id: case.case_id.clone(),
        expected_version: reopened.version,
        transition: pb::Transition::Resolve as i32,
        resolution: pb::Resolution::Fixed as i32,
        ..Default::default()
    };
    let resolved = t
        .cases()
        .transition_case(bearer(resolve, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    t.at("2025-04-17T07:00:00Z").await; // fifteen days after the resolution
    let late = t
        .transition(&t.reporter, &resolved, pb::Transition::Reopen)
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);

    let convert = t
        .cases()
        .convert_to_change_request(bearer(
            pb::ConvertToChangeRequestRequest {
                case_id: case.case_id,
                theme_id: "0190b3c4-0000-7000-8000-000000000000".into(),
            },
            &t.admin,
        ))
        .await;
    let convert = convert.unwrap_err();
    assert_eq!(convert.code(), Code::FailedPrecondition);
    assert!(
        convert
            .message()
            .contains("changes service is not configured")
    );
}

#[tokio::test]
async fn the_sla_clock_skips_easter_and_stands_still_while_awaiting_the_municipality() {
    let mut t = TestCases::start().await;
    // Wednesday 16 April 2025, 15:00 in Copenhagen: Maundy Thursday, Good Friday and Easter Monday follow.
    t.at("2025-04-16T13:00:00Z").await;
    let case = t
        .file(t.new_case("Udbetaling stopper", pb::Severity::PaymentCritical))
        .await
        .unwrap()
        .case
        .unwrap();
    let sla = case.sla.unwrap();
    assert_eq!(
        sla.response_due_time,
        time("2025-04-22T07:00:00Z"),
        "1h on Wednesday, 1h on Tuesday after Easter"
    );
    assert_eq!(
        sla.resolution_due_time,
        time("2025-04-23T13:00:00Z"),
        "16 working hours"
    );

    let case = t
        .transition(&t.supporter, &case, pb::Transition::Triage)
        .await
        .unwrap();
    let case = t
        .transition(&t.supporter, &case, pb::Transition::Start)
        .await
        .unwrap();
    t.at("2025-04-22T08:00:00Z").await; // Tuesday 10:00
    let case = t
        .transition(&t.supporter, &case, pb::Transition::AwaitMunicipality)
        .await
        .unwrap();
    t.at("2025-04-23T08:00:00Z").await; // Wednesday 10:00
    let case = t
        .transition(&t.reporter, &case, pb::Transition::Resume)
        .await
        .unwrap();
    let sla = case.sla.unwrap();
    assert_eq!(sla.paused_working_seconds, 8 * 3600);
    assert_eq!(
        sla.resolution_due_time,
        time("2025-04-24T13:00:00Z"),
        "moved on by the eight working hours paused"
    );
}

#[tokio::test]
async fn the_title_is_the_municipalitys_while_the_case_lies_with_it_and_stale_writes_abort() {
    let t = TestCases::start().await;
    let case = t
        .file(t.new_case("Fejl", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let retitle = |version: i64, title: &str, token: &str| {
        let request = pb::UpdateCaseTitleRequest {
            case_id: case.case_id.clone(),
            expected_version: version,
            title: title.into(),
        };
        let mut client = t.cases();
        let request = bearer(request, token);
        async move { client.update_case_title(request).await }
    };
    let renamed = retitle(
        case.version,
        "Forkert beløb ved omregning af ydelse",
        &t.reporter,
    )
    .await
    .unwrap()
    .into_inner()
    .case
    .unwrap();
    let stale = retitle(case.version, "En anden titel", &t.reporter)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let pii = retitle(renamed.version, "Borger 0101901234", &t.reporter)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&pii), ["title"]);

    let triaged = t
        .transition(&t.supporter, &renamed, pb::Transition::Triage)
        .await
        .unwrap();
    let late = retitle(triaged.version, "For sent", &t.reporter)
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(
        retitle(
            triaged.version,
            "Omregning: forkert beløb (YDE-114)",
            &t.supporter
        )
        .await
        .is_ok()
    );

    // Comments: the municipality writes public ones and never sees internal ones.
    let internal = pb::AddCommentRequest {
        case_id: case.case_id.clone(),
        text: "Kendt fejl i release 24.2".into(),
        visibility: pb::CommentVisibility::Internal as i32,
    };
    assert_eq!(
        t.cases()
            .add_comment(bearer(internal.clone(), &t.reporter))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    t.cases()
        .add_comment(bearer(internal, &t.supporter))
        .await
        .unwrap();
    let public = pb::AddCommentRequest {
        case_id: case.case_id.clone(),
        text: "Vi undersøger sagen".into(),
        visibility: pb::CommentVisibility::Public as i32,
    };
    t.cases()
        .add_comment(bearer(public, &t.supporter))
        .await
        .unwrap();
    let seen = |token: &str| {
        let request = bearer(
            pb::ListCommentsRequest {
                case_id: case.case_id.clone(),
                page: None,
            },
            token,
        );
        let mut client = t.cases();
        async move {
            client
                .list_comments(request)
                .await
                .unwrap()
                .into_inner()
                .comments
                .len()
        }
    };
    assert_eq!((seen(&t.reporter).await, seen(&t.supporter).await), (1, 2));
    // Only the public comment is announced: the municipality hears nothing of internal notes.
    let comment_events = t
        .events::<pb::CaseChanged>("CaseChanged")
        .await
        .into_iter()
        .filter(|e| e.case_id == case.case_id && e.change == "comment")
        .count();
    assert_eq!(comment_events, 1);
}

#[tokio::test]
async fn a_duplicate_is_merged_with_the_reference_visible_to_its_reporter() {
    let t = TestCases::start().await;
    let first = t
        .file(t.new_case("Omregning fejler", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let second = t
        .file(t.new_case("Omregning fejler igen", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let merge = pb::MergeCaseRequest {
        case_id: second.case_id.clone(),
        expected_version: second.version,
        into_case_id: first.case_id.clone(),
    };
    assert_eq!(
        t.cases()
            .merge_case(bearer(merge.clone(), &t.reporter))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let merged = t
        .cases()
        .merge_case(bearer(merge, &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        (merged.state, merged.resolution),
        (
            pb::CaseState::Resolved as i32,
            pb::Resolution::Duplicate as i32
        )
    );
    let seen = t
        .cases()
        .get_case(bearer(
            pb::GetCaseRequest {
                case_id: second.case_id.clone(),
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(seen.merged_into_case_id, first.case_id);
    let target = t
        .cases()
        .get_case(bearer(
            pb::GetCaseRequest {
                case_id: first.case_id.clone(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(target.related_case_ids, [second.case_id]);
    let itself = pb::MergeCaseRequest {
        case_id: first.case_id.clone(),
        expected_version: target.version,
        into_case_id: first.case_id,
    };
    assert_eq!(
        violated_fields(
            &t.cases()
                .merge_case(bearer(itself, &t.supporter))
                .await
                .unwrap_err()
        ),
        ["into_case_id"]
    );
}

#[tokio::test]
async fn queues_and_reports_show_the_backlog_and_what_is_late() {
    let mut t = TestCases::start().await;
    let first = t
        .file(t.new_case("Gammel sag", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let triaged = t
        .transition(&t.supporter, &first, pb::Transition::Triage)
        .await
        .unwrap();
    t.at("2025-04-03T08:00:00Z").await; // Thursday 10:00
    let urgent = t
        .file(t.new_case("Udbetaling stopper", pb::Severity::PaymentCritical))
        .await
        .unwrap()
        .case
        .unwrap();
    let channel = t.cases.clone();
    let reports = || pb::report_service_client::ReportServiceClient::new(channel.clone());

    let queue = reports()
        .list_queue(bearer(
            pb::ListQueueRequest {
                team_id: t.second_line.clone(),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        queue
            .unassigned
            .iter()
            .map(|c| c.case_id.as_str())
            .collect::<Vec<_>>(),
        [urgent.case_id.as_str()]
    );
    assert_eq!(
        queue
            .assigned
            .iter()
            .map(|c| c.case_id.as_str())
            .collect::<Vec<_>>(),
        [triaged.case_id.as_str()]
    );
    assert_eq!((queue.unassigned_count, queue.assigned_count), (1, 1));
    let denied = reports()
        .list_queue(bearer(
            pb::ListQueueRequest {
                team_id: t.second_line.clone(),
                ..Default::default()
            },
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let backlog = reports()
        .get_backlog(bearer(pb::GetBacklogRequest::default(), &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .counts;
    let mut counts: Vec<(i32, i64)> = backlog.iter().map(|c| (c.state, c.count)).collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            (pb::CaseState::New as i32, 1),
            (pb::CaseState::Triaged as i32, 1)
        ]
    );

    let old = reports()
        .list_old_cases(bearer(
            pb::ListOldCasesRequest {
                created_before: time("2025-04-03T00:00:00Z"),
                page: None,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(
        old.iter().map(|c| c.case_id.as_str()).collect::<Vec<_>>(),
        [first.case_id.as_str()]
    );

    let monthly = reports()
        .get_monthly_counts(bearer(
            pb::GetMonthlyCountsRequest {
                first_month: "2025-01".into(),
                last_month: "2025-06".into(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .counts;
    assert_eq!(
        monthly
            .iter()
            .map(|c| (c.month.as_str(), c.count))
            .collect::<Vec<_>>(),
        [("2025-04", 2)]
    );
    let bad = reports()
        .get_monthly_counts(bearer(
            pb::GetMonthlyCountsRequest {
                first_month: "2025-06".into(),
                last_month: "2025-01".into(),
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad), ["last_month"]);

    // Friday 14:00: the payment-critical response (due Thursday 12:00) is missed; the old case's
    // resolution is not due for days.
    t.at("2025-04-04T12:00:00Z").await;
    let alerts = reports()
        .list_sla_alerts(bearer(
            pb::ListSlaAlertsRequest {
                due_within_minutes: 60,
                page: None,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    let seen: Vec<(&str, &str, bool)> = alerts
        .iter()
        .map(|a| {
            (
                a.case.as_ref().unwrap().case_id.as_str(),
                a.target.as_str(),
                a.breached,
            )
        })
        .collect();
    assert_eq!(seen, [(urgent.case_id.as_str(), "response", true)]);
}

#[tokio::test]
async fn a_missed_response_is_announced_once_as_an_event() {
    let mut t = TestCases::start().await;
    let case = t
        .file(t.new_case("Ingen svar", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    t.at("2025-04-03T08:00:00Z").await; // Thursday 10:00: the response was due at 09:00
    let alerts = |follow: bool| {
        let request = bearer(
            pb::WatchEventsRequest {
                after_cursor: String::new(),
                follow,
            },
            &t.admin,
        );
        let mut events = pb::event_service_client::EventServiceClient::new(t.cases.clone());
        async move { events.watch_events(request).await.unwrap().into_inner() }
    };
    let mut feed = alerts(true).await;
    let alert = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let event = feed.message().await.unwrap().unwrap().event.unwrap();
            if event.event_type == "kommune.cases.v1.CaseSlaAlert" {
                break prost::Message::decode(event.payload.unwrap().value.as_slice()).unwrap();
            }
        }
    })
    .await
    .expect("no SLA alert was announced");
    let alert: pb::CaseSlaAlert = alert;
    assert_eq!(
        (
            alert.case_id.as_str(),
            alert.target.as_str(),
            alert.breached
        ),
        (case.case_id.as_str(), "response", true)
    );
    assert_eq!(alert.due_time, time("2025-04-03T07:00:00Z"));

    // Later sweeps do not announce it again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut all = alerts(false).await;
    let mut count = 0;
    while let Some(message) = all.message().await.unwrap() {
        count += usize::from(message.event.unwrap().event_type == "kommune.cases.v1.CaseSlaAlert");
    }
    assert_eq!(count, 1);
}

#[tokio::test]
async fn another_municipalitys_case_stays_hidden() {
    let t = TestCases::start().await;
    let case = t
        .file(t.new_case("Fejl", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let request = id::CreateMunicipalityRequest {
        code: "461".into(),
        name: "Odense Kommune".into(),
        cvr_number: "35209115".into(),
        ..Default::default()
    };
    let odense =
        id::municipality_service_client::MunicipalityServiceClient::new(t.identity.clone())
            .create_municipality(bearer(request, &t.admin))
            .await
            .unwrap()
            .into_inner()
            .municipality
            .unwrap()
            .municipality_id;
    let (_, stranger) = t
        .user(&odense, "cw@odense.dk", id::Role::MunicipalCaseworker)
        .await;
    let denied = t
        .cases()
        .get_case(bearer(
            pb::GetCaseRequest {
                case_id: case.case_id.clone(),
            },
            &stranger,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let listed = t
        .cases()
        .list_cases(bearer(pb::ListCasesRequest::default(), &stranger))
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(listed.is_empty());
    let comment = pb::AddCommentRequest {
        case_id: case.case_id,
        text: "Hej".into(),
        visibility: pb::CommentVisibility::Public as i32,
    };
    assert_eq!(
        t.cases()
            .add_comment(bearer(comment, &stranger))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn related_cases_list_each_other() {
    let t = TestCases::start().await;
    let first = t
        .file(t.new_case("Omregning A", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let second = t
        .file(t.new_case("Omregning B", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();
    let relate = pb::RelateCasesRequest {
        case_id: first.case_id.clone(),
        related_case_id: second.case_id.clone(),
    };
    assert_eq!(
        t.cases()
            .relate_cases(bearer(relate.clone(), &t.reporter))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let related = t
        .cases()
        .relate_cases(bearer(relate.clone(), &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        related.related_case_ids,
        std::slice::from_ref(&second.case_id)
    );
    t.cases()
        .relate_cases(bearer(relate, &t.supporter))
        .await
        .unwrap();
    let other = t
        .cases()
        .get_case(bearer(
            pb::GetCaseRequest {
                case_id: second.case_id,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(other.related_case_ids, [first.case_id]);
}
