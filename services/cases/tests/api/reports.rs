//! Reports at scale: lists come a page at a time, and the SLA sweep reads only cases that are due.

use chrono::{DateTime, Duration, Utc};

use kommune_cases::store::cases;

use super::*;

fn reports(t: &TestCases) -> pb::report_service_client::ReportServiceClient<Channel> {
    pb::report_service_client::ReportServiceClient::new(t.cases.clone())
}

#[tokio::test]
async fn old_cases_and_sla_alerts_come_a_page_at_a_time() {
    let mut t = TestCases::start().await;
    let mut filed = Vec::new();
    for n in 0..5 {
        let case = t
            .file(t.new_case(&format!("Fejl {n}"), pb::Severity::Normal))
            .await
            .unwrap()
            .case
            .unwrap();
        filed.push(case.case_id);
    }
    t.at("2025-06-02T07:00:00Z").await;
    let page = |token: &str| {
        Some(kommune_proto::common::v1::PageRequest {
            page_size: 2,
            page_token: token.to_owned(),
        })
    };

    let (mut old, mut alerted, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let answer = reports(&t)
            .list_old_cases(bearer(
                pb::ListOldCasesRequest {
                    created_before: Some(prost_types::Timestamp {
                        seconds: 1_800_000_000,
                        nanos: 0,
                    }),
                    page: page(&token),
                },
                &t.supporter,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(answer.cases.len() <= 2);
        old.extend(answer.cases.into_iter().map(|c| c.case_id));
        token = answer.page.unwrap_or_default().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(old, filed, "every old case once, oldest first");

    loop {
        let answer = reports(&t)
            .list_sla_alerts(bearer(
                pb::ListSlaAlertsRequest {
                    due_within_minutes: 0,
                    page: page(&token),
                },
                &t.supporter,
            ))
            .await
            .unwrap()
            .into_inner();
        let cases: std::collections::BTreeSet<String> = answer
            .alerts
            .into_iter()
            .map(|a| a.case.unwrap_or_default().case_id)
            .collect();
        assert!(cases.len() <= 2);
        alerted.extend(cases);
        token = answer.page.unwrap_or_default().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(
        alerted, filed,
        "two months on, every case has missed its targets"
    );
}

/// A case as stored, filed at `filed` with its targets due `response` and `resolution` after.
pub fn stored_case(filed: DateTime<Utc>, response: Duration, resolution: Duration) -> cases::Model {
    cases::Model {
        id: uuid::Uuid::now_v7().to_string(),
        number: 0,
        municipality_id: uuid::Uuid::now_v7().to_string(),
        reporter_user_id: uuid::Uuid::now_v7().to_string(),
        title: "Fejl".into(),
        description: String::new(),
        kind: pb::CaseKind::Fault.into(),
        question_subject: pb::QuestionSubject::Unspecified.into(),
        severity: pb::Severity::Normal.into(),
        system_id: String::new(),
        area_id: String::new(),
        guide_sections: "[]".into(),
        personal_id: None,
        state: pb::CaseState::New.into(),
        team_id: None,
        line: pb::SupportLine::Unspecified.into(),
        resolution: pb::Resolution::Unspecified.into(),
        change_request_id: String::new(),
        change_request_wanted: false,
        merged_into: None,
        incident_flag: false,
        response_due: filed + response,
        first_response_at: None,
        resolution_due: filed + resolution,
        paused_seconds: 0,
        awaiting_since: None,
        resolved_at: None,
        related: "[]".into(),
        version: 1,
        created_at: filed,
        updated_at: filed,
        incident_id: None,
        symptom: None,
        handler_user_id: None,
        eligibility_request: None,
        rating_invited_at: None,
        cited_sections: "[]".into(),
        suggestion_id: String::new(),
        personal_id_erased_at: None,
    }
}

#[tokio::test]
async fn the_sla_sweep_reads_only_open_cases_that_are_due() {
    // The service's database, with its system and area, and no case yet.
    let t = TestCases::start().await;
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let numbers = std::cell::Cell::new(0);
    let stored_case = |filed, response, resolution| {
        let mut case = stored_case(filed, response, resolution);
        numbers.set(numbers.get() + 1);
        case.number = numbers.get();
        case.system_id = t.system.clone();
        case.area_id = t.area.clone();
        case
    };
    let now = DateTime::parse_from_rfc3339("2025-04-02T10:00:00Z")
        .unwrap()
        .to_utc();
    let soon = now + Duration::hours(1);
    // Many cases far from due; resolved, answered and waiting ones are not due either.
    for _ in 0..40 {
        let far = stored_case(now, Duration::days(3), Duration::days(10));
        cases::insert(&db, far).await.unwrap();
    }
    let mut answered = stored_case(
        now - Duration::days(2),
        Duration::hours(4),
        Duration::days(5),
    );
    answered.first_response_at = Some(now - Duration::days(1));
    let mut resolved = stored_case(
        now - Duration::days(9),
        Duration::hours(4),
        Duration::days(1),
    );
    resolved.state = pb::CaseState::Resolved.into();
    // The municipality's wait pauses the resolution clock.
    let mut waiting = stored_case(
        now - Duration::days(2),
        Duration::hours(1),
        Duration::days(1),
    );
    waiting.first_response_at = Some(now - Duration::days(2));
    waiting.state = pb::CaseState::AwaitingMunicipality.into();
    for case in [answered, resolved, waiting] {
        cases::insert(&db, case).await.unwrap();
    }
    let breached = stored_case(
        now - Duration::days(2),
        Duration::hours(4),
        Duration::days(1),
    );
    let coming = stored_case(now, Duration::minutes(30), Duration::days(10));
    let mut due = Vec::new();
    for case in [breached, coming] {
        due.push(cases::insert(&db, case).await.unwrap().id);
    }

    // Read a page of one at a time, as the sweep reads its pages.
    let mut read = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = cases::due_by(&db, soon, after.as_deref(), 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        read.extend(page.into_iter().map(|c| c.id));
    }
    assert_eq!(read, due, "only the due cases are read");
}

#[tokio::test]
async fn a_long_queue_answers_at_most_its_cap_and_says_how_long_it_is() {
    let t = TestCases::start().await;
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let filed = DateTime::parse_from_rfc3339("2025-04-02T10:00:00Z")
        .unwrap()
        .to_utc();
    // The team's second area: its queue merges the areas' unassigned cases in filing order.
    let second_area = t.create_area("Indberetning", &t.second_line).await;
    let waiting = (kommune_platform::paging::MAX_PAGE_SIZE + 3) as usize;
    let mut filed_ids = Vec::new();
    for number in 1..=waiting {
        let mut case = stored_case(filed, Duration::hours(4), Duration::days(5));
        case.number = number as i64;
        case.system_id = t.system.clone();
        case.area_id = [&t.area, &second_area][number % 2].clone();
        filed_ids.push(cases::insert(&db, case).await.unwrap().id);
    }
    let queue = reports(&t)
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
        queue.unassigned.len() as u64,
        kommune_platform::paging::MAX_PAGE_SIZE
    );
    assert_eq!(queue.unassigned_count, waiting as i64);
    let ids: Vec<&String> = queue.unassigned.iter().map(|c| &c.case_id).collect();
    let oldest: Vec<&String> = filed_ids.iter().take(queue.unassigned.len()).collect();
    assert_eq!(ids, oldest, "the oldest of both areas, in filing order");
    assert!(!queue.unassigned_page.unwrap().next_page_token.is_empty());
    assert!(queue.assigned.is_empty());
    assert_eq!(queue.assigned_count, 0);
    assert!(queue.assigned_page.unwrap().next_page_token.is_empty());
}

#[tokio::test]
async fn a_queue_comes_a_page_at_a_time_in_both_its_lists() {
    let t = TestCases::start().await;
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let filed = DateTime::parse_from_rfc3339("2025-04-02T10:00:00Z")
        .unwrap()
        .to_utc();
    let second_area = t.create_area("Indberetning", &t.second_line).await;
    let mut unassigned = Vec::new();
    let mut assigned = Vec::new();
    for number in 1..=23 {
        // Three cases share each resolution due time: pages must not split, skip or repeat them.
        let mut case = stored_case(filed, Duration::hours(4), Duration::days(5 - number / 3));
        case.number = number;
        case.system_id = t.system.clone();
        case.area_id = [&t.area, &second_area][number as usize % 2].clone();
        if number % 2 == 0 {
            case.team_id = Some(t.second_line.clone());
            assigned.push((case.resolution_due, case.id.clone()));
        } else {
            unassigned.push(case.id.clone());
        }
        cases::insert(&db, case).await.unwrap();
    }
    assigned.sort();
    let assigned: Vec<String> = assigned.into_iter().map(|(_, id)| id).collect();

    let page = |token: &str| {
        Some(kommune_proto::common::v1::PageRequest {
            page_size: 4,
            page_token: token.to_owned(),
        })
    };
    let (mut read_unassigned, mut read_assigned) = (Vec::new(), Vec::new());
    let mut tokens = (Some(String::new()), Some(String::new()));
    while tokens.0.is_some() || tokens.1.is_some() {
        // A list read to its end is asked for no more (its first page again would repeat it).
        let queue = reports(&t)
            .list_queue(bearer(
                pb::ListQueueRequest {
                    team_id: t.second_line.clone(),
                    unassigned_page: page(tokens.0.as_deref().unwrap_or_default()),
                    assigned_page: page(tokens.1.as_deref().unwrap_or_default()),
                },
                &t.supporter,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (queue.unassigned_count, queue.assigned_count),
            (unassigned.len() as i64, assigned.len() as i64),
            "every page counts the whole lists"
        );
        assert!(queue.unassigned.len() <= 4 && queue.assigned.len() <= 4);
        let next = |page: Option<kommune_proto::common::v1::PageResponse>| {
            Some(page.unwrap().next_page_token).filter(|token| !token.is_empty())
        };
        if tokens.0.is_some() {
            read_unassigned.extend(queue.unassigned.into_iter().map(|c| c.case_id));
            tokens.0 = next(queue.unassigned_page);
        }
        if tokens.1.is_some() {
            read_assigned.extend(queue.assigned.into_iter().map(|c| c.case_id));
            tokens.1 = next(queue.assigned_page);
        }
        assert!(
            read_unassigned.len() + read_assigned.len() <= 23,
            "no page repeats"
        );
    }
    assert_eq!(read_unassigned, unassigned, "the unassigned, oldest first");
    assert_eq!(read_assigned, assigned, "the team's own, most urgent first");

    for (request, field) in [
        (
            pb::ListQueueRequest {
                team_id: t.second_line.clone(),
                assigned_page: page("not-a-token"),
                ..Default::default()
            },
            "assigned_page.page_token",
        ),
        (
            pb::ListQueueRequest {
                team_id: t.second_line.clone(),
                unassigned_page: Some(kommune_proto::common::v1::PageRequest {
                    page_size: -1,
                    page_token: String::new(),
                }),
                ..Default::default()
            },
            "unassigned_page.page_size",
        ),
    ] {
        let refused = reports(&t)
            .list_queue(bearer(request, &t.supporter))
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec![field.to_owned()])
        );
    }
}

#[tokio::test]
async fn sla_alerts_look_ahead_at_most_a_working_year() {
    let t = TestCases::start().await;
    let alerts = |due_within_minutes| {
        let mut reports = reports(&t);
        let request = bearer(
            pb::ListSlaAlertsRequest {
                due_within_minutes,
                page: None,
            },
            &t.supporter,
        );
        async move { reports.list_sla_alerts(request).await }
    };
    assert!(alerts(100_000).await.is_ok());
    for out_of_range in [-1, 100_001, i32::MAX - 1] {
        let refused = alerts(out_of_range).await.unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec!["due_within_minutes".to_owned()]),
            "{out_of_range}"
        );
    }
}

#[tokio::test]
async fn the_backlog_is_counted_by_municipality_and_area_before_a_date() {
    let t = TestCases::start().await;
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let (old, new) = (at("2022-08-01T10:00:00Z"), at("2025-03-01T10:00:00Z"));
    let (m1, m2) = (
        "01a2067f-0000-7000-8000-00000000000a",
        "01a2067f-0000-7000-8000-00000000000b",
    );
    let second_area = t.create_area("Indberetning", &t.second_line).await;
    let (a, b) = (t.area.as_str(), second_area.as_str());
    let rows = [
        (m1, a, pb::CaseState::New, old),
        (m1, a, pb::CaseState::New, new),
        (m1, a, pb::CaseState::Triaged, old),
        (m2, a, pb::CaseState::New, old),
        (m2, b, pb::CaseState::InProgress, new),
        (m1, a, pb::CaseState::Resolved, old),
        (m2, b, pb::CaseState::Closed, old),
    ];
    for (number, (municipality, area, state, filed)) in rows.into_iter().enumerate() {
        let mut case = stored_case(filed, Duration::hours(8), Duration::hours(80));
        case.number = number as i64 + 1;
        case.municipality_id = municipality.into();
        case.area_id = area.into();
        case.system_id = t.system.clone();
        case.state = state.into();
        cases::insert(&db, case).await.unwrap();
    }
    let backlog = async |group_by: pb::BacklogGrouping, before: Option<&str>| {
        let mut counts: Vec<(String, String, i32, i64)> = reports(&t)
            .get_backlog(bearer(
                pb::GetBacklogRequest {
                    created_before: before.and_then(time),
                    group_by: group_by as i32,
                },
                &t.supporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .counts
            .into_iter()
            .map(|c| (c.municipality_id, c.area_id, c.state, c.count))
            .collect();
        counts.sort();
        counts
    };
    let row = |m: &str, a: &str, state: pb::CaseState, n: i64| {
        (m.to_owned(), a.to_owned(), state as i32, n)
    };
    use pb::BacklogGrouping as By;
    use pb::CaseState::{InProgress, New, Triaged};
    assert_eq!(
        backlog(By::MunicipalityAndArea, None).await,
        [
            row(m1, a, New, 2),
            row(m1, a, Triaged, 1),
            row(m2, a, New, 1),
            row(m2, b, InProgress, 1)
        ]
    );
    assert_eq!(
        backlog(By::Municipality, Some("2022-09-01T00:00:00Z")).await,
        [
            row(m1, "", New, 1),
            row(m1, "", Triaged, 1),
            row(m2, "", New, 1)
        ],
        "cases created before 1 September 2022"
    );
    let by_area = [
        row("", a, New, 3),
        row("", a, Triaged, 1),
        row("", b, InProgress, 1),
    ];
    assert_eq!(backlog(By::Area, None).await, by_area);
    assert_eq!(backlog(By::Unspecified, None).await, by_area);

    let refused = reports(&t)
        .get_backlog(bearer(
            pb::GetBacklogRequest {
                created_before: None,
                group_by: 9,
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), violated_fields(&refused)),
        (Code::InvalidArgument, vec!["group_by".to_owned()])
    );
}

#[tokio::test]
async fn contacts_per_wave_join_the_cases_with_klik_enrolments() {
    use kommune_proto::klik::v1 as klik;
    let mut t = TestCases::start().await;
    let supporter = t.supporter.clone();
    let ask = async |cases: &Channel, project_id: &str, months: i32| {
        pb::report_service_client::ReportServiceClient::new(cases.clone())
            .get_wave_contacts(bearer(
                pb::GetWaveContactsRequest {
                    project_id: project_id.into(),
                    months,
                },
                &supporter,
            ))
            .await
    };
    let unknown_project = "01a2067f-0000-7000-8000-000000000001";
    let not_configured = ask(&t.cases, unknown_project, 3).await.unwrap_err();
    assert_eq!(
        not_configured.code(),
        Code::FailedPrecondition,
        "{not_configured:?}"
    );

    // klik beside them, and a cases replica that knows where it is.
    let klik_service = kommune_klik::Klik::build(kommune_klik::Options {
        audit_keys: kommune_platform::audit::AuditKeys::random(),
        service_api_key: None,
        database_url: fresh_database_url("klik").await,
        identity_addr: t.options.identity_addr.clone(),
        trusted_issuers: Vec::new(),
        clock: Arc::new(t.clock.clone()),
    })
    .await
    .unwrap();
    let (listener, klik_addr) = loopback_listener().await;
    t._running.push(spawn(|stop| async move {
        klik_service
            .serve(listener, &ServerConfig::default(), stop)
            .await
            .unwrap();
    }));
    t.options.klik_addr = Some(format!("http://{klik_addr}"));
    let cases = t.replica().await;

    let mut projects =
        klik::project_service_client::ProjectServiceClient::new(channel_to(klik_addr));
    let project = projects
        .create_project(bearer(
            klik::CreateProjectRequest {
                name: "Ydelsesrefusion".into(),
                ..Default::default()
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .project
        .unwrap()
        .project_id;
    let mut wave = async |name: &str, go_live: &str| {
        projects
            .add_wave(bearer(
                klik::AddWaveRequest {
                    project_id: project.clone(),
                    name: name.into(),
                    go_live: go_live.into(),
                },
                &t.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .wave
            .unwrap()
            .wave_id
    };
    let first_wave = wave("1. bølge", "2025-09-01").await;
    let second_wave = wave("2. bølge", "2026-03-01").await;
    let odense = t.municipality("461", "Odense Kommune", "35209115").await;
    let vejle = t.municipality("630", "Vejle Kommune", "29189838").await;
    let (odense_reporter_id, odense_reporter) = t.eligible_reporter(&odense, "sag@odense.dk").await;
    let (vejle_leader, _) = t.eligible_reporter(&vejle, "sag@vejle.dk").await;
    for (municipality, wave_id, leader) in [
        (&t.municipality, &first_wave, &t.reporter_id),
        (&odense, &first_wave, &odense_reporter_id),
        (&vejle, &second_wave, &vejle_leader),
    ] {
        projects
            .enrol(bearer(
                klik::EnrolRequest {
                    project_id: project.clone(),
                    municipality_id: municipality.clone(),
                    wave_id: wave_id.clone(),
                    project_leader_user_id: leader.clone(),
                    debtor_system: "KMD_OPUS".into(),
                },
                &t.admin,
            ))
            .await
            .unwrap();
    }
    // Aarhus files three cases, Odense one now and one long ago; Vejle none.
    for _ in 0..3 {
        t.file(t.new_case("Omregning", pb::Severity::Normal))
            .await
            .unwrap();
    }
    t.cases()
        .file_case(bearer(
            t.new_case("Udbetaling", pb::Severity::Normal),
            &odense_reporter,
        ))
        .await
        .unwrap();
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let mut long_ago = stored_case(
        DateTime::parse_from_rfc3339("2024-06-03T10:00:00Z")
            .unwrap()
            .to_utc(),
        Duration::hours(8),
        Duration::hours(80),
    );
    long_ago.number = 1_000;
    long_ago.municipality_id = odense.clone();
    long_ago.system_id = t.system.clone();
    long_ago.area_id = t.area.clone();
    cases::insert(&db, long_ago).await.unwrap();

    let contacts = ask(&cases, &project, 3).await.unwrap().into_inner();
    /// A wave as compared: its id, cases, cases per municipality, and each municipality's cases.
    type Compared = (String, i64, f64, Vec<(String, i64)>);
    let waves: Vec<Compared> = contacts
        .waves
        .into_iter()
        .map(|w| {
            let municipalities = w
                .municipalities
                .into_iter()
                .map(|m| (m.municipality_id, m.case_count))
                .collect();
            (
                w.wave_id,
                w.case_count,
                w.cases_per_municipality,
                municipalities,
            )
        })
        .collect();
    assert_eq!(
        waves,
        [
            (second_wave.clone(), 0, 0.0, vec![(vejle.clone(), 0)]),
            (
                first_wave.clone(),
                4,
                2.0,
                vec![(odense.clone(), 1), (t.municipality.clone(), 3)]
            ),
        ],
        "fewest contacts first, within the last three months"
    );
    assert_eq!(contacts.from_time, time("2025-01-02T07:00:00Z"));
    assert_eq!(contacts.until_time, time("2025-04-02T07:00:00Z"));

    let months = ask(&cases, &project, 0).await.unwrap_err();
    assert_eq!(
        (months.code(), violated_fields(&months)),
        (Code::InvalidArgument, vec!["months".to_owned()])
    );
    let unknown = ask(&cases, unknown_project, 3).await.unwrap_err();
    assert_eq!(
        (unknown.code(), violated_fields(&unknown)),
        (Code::NotFound, vec!["project_id".to_owned()])
    );
}
