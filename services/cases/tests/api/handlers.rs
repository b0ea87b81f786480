//! Handlers and the stand-up: who has a case, each handler's queue, and a team's morning in one call.

use chrono::{DateTime, Duration};
use sea_orm::{ActiveModelTrait, Set};

use kommune_cases::store::{cases, sla_notices};
use kommune_proto::common::v1::PageRequest;

use super::reports::stored_case;
use super::*;

fn reports(t: &TestCases) -> pb::report_service_client::ReportServiceClient<Channel> {
    pb::report_service_client::ReportServiceClient::new(t.cases.clone())
}

/// Makes `members` the 2nd-line team's members.
async fn set_members(t: &TestCases, members: &[&str]) {
    let mut reference = pb::reference_service_client::ReferenceServiceClient::new(t.cases.clone());
    let mut team = reference
        .list_teams(bearer(pb::ListTeamsRequest {}, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .teams
        .into_iter()
        .find(|team| team.team_id == t.second_line)
        .unwrap();
    team.member_user_ids = members.iter().map(|m| (*m).to_owned()).collect();
    reference
        .update_team(bearer(pb::UpdateTeamRequest { team: Some(team) }, &t.admin))
        .await
        .unwrap();
}

async fn assign(
    t: &TestCases,
    token: &str,
    case: &pb::Case,
    handler: &str,
) -> Result<pb::Case, Status> {
    Ok(t.cases()
        .assign_case(bearer(
            pb::AssignCaseRequest {
                case_id: case.case_id.clone(),
                expected_version: case.version,
                handler_user_id: handler.into(),
            },
            token,
        ))
        .await?
        .into_inner()
        .case
        .unwrap())
}

async fn handler_cases(t: &TestCases, token: &str, handler: &str) -> pb::ListHandlerCasesResponse {
    reports(t)
        .list_handler_cases(bearer(
            pb::ListHandlerCasesRequest {
                handler_user_id: handler.into(),
                page: None,
            },
            token,
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_case_is_assigned_taken_handed_over_and_let_go_each_audited_and_announced() {
    let t = TestCases::start().await;
    let (colleague_id, colleague) = t
        .user("", "2nd-b@supplier.dk", id::Role::SupplierSecondLine)
        .await;
    let (specialist_id, _) = t
        .user("", "3rd@supplier.dk", id::Role::ThirdLineSpecialist)
        .await;
    // A municipal user in the team by mistake is still no handler.
    set_members(&t, &[&t.supporter_id, &colleague_id, &t.reporter_id]).await;
    let filed = t
        .file(t.new_case("Omregning fejler", pb::Severity::Normal))
        .await
        .unwrap()
        .case
        .unwrap();

    let untriaged = assign(&t, &t.supporter, &filed, &t.supporter_id)
        .await
        .unwrap_err();
    assert_eq!(untriaged.code(), Code::FailedPrecondition, "{untriaged:?}");
    let case = t
        .transition(&t.supporter, &filed, pb::Transition::Triage)
        .await
        .unwrap();
    assert_eq!(case.handler_user_id, "");

    for (handler, code) in [
        (t.reporter_id.as_str(), Code::InvalidArgument),
        (specialist_id.as_str(), Code::InvalidArgument),
        ("01a2067f-0000-7000-8000-000000000001", Code::NotFound),
    ] {
        let refused = assign(&t, &t.supporter, &case, handler).await.unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (code, vec!["handler_user_id".to_owned()]),
            "{handler}: {refused:?}"
        );
    }
    let not_supporter = t
        .cases()
        .take_case(bearer(
            pb::TakeCaseRequest {
                case_id: case.case_id.clone(),
                expected_version: case.version,
            },
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(not_supporter.code(), Code::PermissionDenied);

    let taken = t
        .cases()
        .take_case(bearer(
            pb::TakeCaseRequest {
                case_id: case.case_id.clone(),
                expected_version: case.version,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(taken.handler_user_id, t.supporter_id);
    let stale = assign(&t, &t.supporter, &case, &colleague_id)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let handed = assign(&t, &t.supporter, &taken, &colleague_id)
        .await
        .unwrap();
    assert_eq!(handed.handler_user_id, colleague_id);

    let own = handler_cases(&t, &colleague, "").await;
    assert_eq!(own.total_count, 1);
    assert_eq!(own.cases[0].case.as_ref().unwrap().case_id, case.case_id);
    assert_eq!(own.cases[0].sla_state, pb::SlaState::OnTrack as i32);
    assert_eq!(
        handler_cases(&t, &t.supporter, &t.supporter_id)
            .await
            .total_count,
        0
    );

    let let_go = t
        .cases()
        .unassign_case(bearer(
            pb::UnassignCaseRequest {
                case_id: case.case_id.clone(),
                expected_version: handed.version,
            },
            &colleague,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(let_go.handler_user_id, "");
    assert_eq!(handler_cases(&t, &colleague, "").await.total_count, 0);

    let changes: Vec<(String, String)> = t
        .events::<pb::CaseChanged>("CaseChanged")
        .await
        .into_iter()
        .map(|event| (event.change, event.handler_user_id))
        .collect();
    assert_eq!(
        changes,
        [
            ("triage".to_owned(), String::new()),
            ("take".to_owned(), t.supporter_id.clone()),
            ("hand_over".to_owned(), colleague_id.clone()),
            ("unassign".to_owned(), String::new()),
        ]
    );
    let audit = pb::audit_service_client::AuditServiceClient::new(t.cases.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "case".into(),
                entity_id: case.case_id.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["file", "triage", "take", "hand_over", "unassign"]);

    // Escalated to a team the handler is not in, the case leaves its handler; a resolved case is
    // handed to nobody.
    let taken = assign(&t, &t.supporter, &let_go, &t.supporter_id)
        .await
        .unwrap();
    let started = t
        .transition(&t.supporter, &taken, pb::Transition::Start)
        .await
        .unwrap();
    assert_eq!(
        started.handler_user_id, t.supporter_id,
        "the handler keeps it in the team"
    );
    let case = t
        .cases()
        .transition_case(bearer(
            pb::TransitionCaseRequest {
                case_id: started.case_id.clone(),
                expected_version: started.version,
                transition: pb::Transition::Escalate as i32,
                team_id: t.third_line.clone(),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.handler_user_id, "");
    let resolved = t
        .cases()
        .transition_case(bearer(
            pb::TransitionCaseRequest {
                case_id: case.case_id.clone(),
                expected_version: case.version,
                transition: pb::Transition::Resolve as i32,
                resolution: pb::Resolution::Fixed as i32,
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let closed = assign(&t, &t.supporter, &resolved, &t.supporter_id)
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition, "{closed:?}");
}

#[tokio::test]
async fn the_standup_shows_a_team_its_morning_in_one_call() {
    let t = TestCases::start().await;
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let (colleague_id, _) = t
        .user("", "2nd-b@supplier.dk", id::Role::SupplierSecondLine)
        .await;
    let (idle_id, _) = t
        .user("", "2nd-c@supplier.dk", id::Role::SupplierSecondLine)
        .await;
    set_members(&t, &[&t.supporter_id, &colleague_id, &idle_id]).await;
    let other_team = pb::reference_service_client::ReferenceServiceClient::new(t.cases.clone())
        .create_team(bearer(
            pb::CreateTeamRequest {
                team: Some(pb::Team {
                    name: "Indberetning".into(),
                    line: pb::SupportLine::Second as i32,
                    ..Default::default()
                }),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .team
        .unwrap()
        .team_id;
    let other_area = t.create_area("Indberetning", &other_team).await;
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let now = at("2025-04-02T07:00:00Z");
    let numbers = std::sync::atomic::AtomicI64::new(1);
    let store = async |mut case: cases::Model| {
        case.number = numbers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        cases::insert(&db, case.clone()).await.unwrap();
        case
    };
    let filed = |days: i64| {
        let mut case = stored_case(
            now - Duration::days(days),
            Duration::hours(4),
            Duration::days(30),
        );
        case.system_id = t.system.clone();
        case.area_id = t.area.clone();
        case
    };
    let triaged = |days: i64, handler: Option<&str>, state: pb::CaseState| {
        let mut case = filed(days);
        case.team_id = Some(t.second_line.clone());
        case.line = pb::SupportLine::Second.into();
        case.state = state.into();
        case.first_response_at = Some(case.created_at + Duration::hours(1));
        case.handler_user_id = handler.map(str::to_owned);
        case
    };
    // Unhandled, filed in this order: untriaged and the team's own without a handler, interleaved;
    // none of them due within the month.
    let mut unhandled = Vec::new();
    for (i, days) in [9, 8, 7, 6, 5].into_iter().enumerate() {
        let mut case = if i % 2 == 0 {
            filed(days)
        } else {
            triaged(days, None, pb::CaseState::Triaged)
        };
        case.response_due = now + Duration::days(30);
        unhandled.push(case);
    }
    let mut overdue = triaged(5, Some(&t.supporter_id), pb::CaseState::InProgress);
    overdue.resolution_due = now - Duration::hours(20);
    let calm = triaged(2, Some(&t.supporter_id), pb::CaseState::InProgress);
    let mut waiting = triaged(3, Some(&colleague_id), pb::CaseState::AwaitingMunicipality);
    waiting.awaiting_since = Some(now - Duration::days(1));
    waiting.resolution_due = now - Duration::days(1);
    // Not the team's: another team's case and an untriaged one of another team's area.
    let mut elsewhere = triaged(1, Some(&t.supporter_id), pb::CaseState::InProgress);
    elsewhere.team_id = Some(t.third_line.clone());
    elsewhere.resolution_due = now - Duration::hours(1);
    let mut of_other_area = filed(1);
    of_other_area.area_id = other_area;
    of_other_area.response_due = now + Duration::days(30);
    // The breaches as the SLA sweep announced them, recorded before the cases are there for the sweep
    // to find (it then finds them announced already): the team's overdue case on Tuesday, an old one
    // last week, and another team's.
    for (case_id, announced) in [
        (&overdue.id, "2025-04-01T10:00:00Z"),
        (&unhandled[1].id, "2025-03-28T10:00:00Z"),
        (&elsewhere.id, "2025-04-01T11:00:00Z"),
    ] {
        sla_notices::ActiveModel {
            case_id: Set(case_id.clone()),
            target: Set("resolution".into()),
            breached: Set(true),
            created_at: Set(at(announced)),
        }
        .insert(&db)
        .await
        .unwrap();
    }
    let mut unhandled_ids = Vec::new();
    for case in unhandled {
        unhandled_ids.push(store(case).await.id);
    }
    let unhandled = unhandled_ids;
    let overdue = store(overdue).await;
    let calm = store(calm).await;
    let waiting = store(waiting).await;
    store(elsewhere).await;
    store(of_other_area).await;

    let standup = async |unhandled_token: &str, handled_page: Option<PageRequest>| {
        reports(&t)
            .get_standup(bearer(
                pb::GetStandupRequest {
                    team_id: t.second_line.clone(),
                    unhandled_page: Some(PageRequest {
                        page_size: 2,
                        page_token: unhandled_token.into(),
                    }),
                    handled_page,
                    ..Default::default()
                },
                &t.supporter,
            ))
            .await
    };
    let first = standup("", None).await.unwrap().into_inner();
    assert_eq!(first.unhandled_count, 5);
    let mut read: Vec<String> = Vec::new();
    let mut page = first.clone();
    loop {
        read.extend(
            page.unhandled
                .iter()
                .map(|q| q.case.as_ref().unwrap().case_id.clone()),
        );
        let token = page.unhandled_page.clone().unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
        page = standup(&token, None).await.unwrap().into_inner();
        assert!(read.len() < 5, "pages repeat");
    }
    assert_eq!(
        read, unhandled,
        "the unhandled, oldest first, a page at a time"
    );

    let mut members = [
        t.supporter_id.clone(),
        colleague_id.clone(),
        idle_id.clone(),
    ];
    members.sort();
    let loads: Vec<(String, i64, i64, i64)> = first
        .handlers
        .iter()
        .map(|l| {
            (
                l.handler_user_id.clone(),
                l.open_count,
                l.breached_count,
                l.awaiting_count,
            )
        })
        .collect();
    let load_of = |id: &str| match id {
        id if id == t.supporter_id => (2, 1, 0),
        id if id == colleague_id => (1, 0, 1),
        _ => (0, 0, 0),
    };
    let expected: Vec<(String, i64, i64, i64)> = members
        .iter()
        .map(|m| {
            let (open, breached, awaiting) = load_of(m);
            (m.clone(), open, breached, awaiting)
        })
        .collect();
    assert_eq!(loads, expected, "every member's load, the idle one too");
    let supporter_load = first
        .handlers
        .iter()
        .find(|l| l.handler_user_id == t.supporter_id)
        .unwrap();
    assert_eq!(
        supporter_load.oldest_create_time,
        Some(kommune_platform::clock::to_timestamp(overdue.created_at))
    );

    assert_eq!(first.handled_count, 3);
    let handled: Vec<(String, i32, i32)> = first
        .handled
        .iter()
        .map(|q| {
            let case = q.case.as_ref().unwrap();
            (case.case_id.clone(), q.sla_state, q.age_days)
        })
        .collect();
    let mut expected_handled = vec![
        (
            t.supporter_id.clone(),
            overdue.id.clone(),
            pb::SlaState::Breached as i32,
            5,
        ),
        (
            t.supporter_id.clone(),
            calm.id.clone(),
            pb::SlaState::OnTrack as i32,
            2,
        ),
        (
            colleague_id.clone(),
            waiting.id.clone(),
            pb::SlaState::Paused as i32,
            3,
        ),
    ];
    expected_handled.sort_by(|a, b| a.0.cmp(&b.0));
    let expected_handled: Vec<(String, i32, i32)> = expected_handled
        .into_iter()
        .map(|(_, id, sla, age)| (id, sla, age))
        .collect();
    assert_eq!(handled, expected_handled, "by handler, most urgent first");

    let awaiting: Vec<&str> = first
        .awaiting_municipality
        .iter()
        .map(|q| q.case.as_ref().unwrap().case_id.as_str())
        .collect();
    assert_eq!(
        (awaiting, first.awaiting_count),
        (vec![waiting.id.as_str()], 1)
    );
    let breached: Vec<&str> = first
        .breached
        .iter()
        .map(|q| q.case.as_ref().unwrap().case_id.as_str())
        .collect();
    assert_eq!(
        (breached, first.breached_count),
        (vec![overdue.id.as_str()], 1),
        "since Tuesday's start only, and the team's only"
    );
    assert_eq!(first.since_time, time("2025-03-31T22:00:00Z"));

    // A page of one handled case at a time reads the same cases.
    let mut token = String::new();
    let mut paged = Vec::new();
    loop {
        let page = standup(
            "",
            Some(PageRequest {
                page_size: 1,
                page_token: token,
            }),
        )
        .await
        .unwrap()
        .into_inner();
        paged.extend(
            page.handled
                .iter()
                .map(|q| q.case.as_ref().unwrap().case_id.clone()),
        );
        token = page.handled_page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
        assert!(paged.len() < 3, "pages repeat");
    }
    let ids: Vec<String> = handled.into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(paged, ids);

    let bad_token = standup(
        "",
        Some(PageRequest {
            page_size: 1,
            page_token: "not-a-token".into(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (bad_token.code(), violated_fields(&bad_token)),
        (
            Code::InvalidArgument,
            vec!["handled_page.page_token".to_owned()]
        )
    );
    let unknown = reports(&t)
        .get_standup(bearer(
            pb::GetStandupRequest {
                team_id: "01a2067f-0000-7000-8000-000000000001".into(),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), violated_fields(&unknown)),
        (Code::NotFound, vec!["team_id".to_owned()])
    );
    let municipal = reports(&t)
        .get_standup(bearer(
            pb::GetStandupRequest {
                team_id: t.second_line.clone(),
                ..Default::default()
            },
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(municipal.code(), Code::PermissionDenied);
}
