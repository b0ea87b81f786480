//! Incidents: revealed by users' own reports, worked once, answered and resolved for every reporter.

use chrono::Duration;
use tonic::Code;

use super::*;

const LOGIN_FAILS: [(&str, &str); 5] = [
    ("Kan ikke logge ind i KY", "Login-siden svarer ikke"),
    ("Vi kan ikke logge ind på KY", "Ingen af os kan logge ind"),
    (
        "KY: kan ikke logge ind siden kl. 9",
        "Login fejler for alle",
    ),
    ("Login fejler i KY", "Kan ikke logge ind, fejlkode 503"),
    ("KY login virker ikke", "Vi kan ikke logge ind"),
];

/// Reporters in three municipalities, and KY detecting an outage from 4 same-cause reports by 3 people
/// within 15 minutes.
struct Outage {
    t: TestCases,
    reporters: Vec<(String, String)>,
}

impl Outage {
    async fn start() -> Self {
        let t = TestCases::start().await;
        let mut reference =
            pb::reference_service_client::ReferenceServiceClient::new(t.cases.clone());
        let mut ky = reference
            .list_systems(bearer(pb::ListSystemsRequest {}, &t.admin))
            .await
            .unwrap()
            .into_inner()
            .systems
            .into_iter()
            .find(|s| s.system_id == t.system)
            .unwrap();
        ky.outage_report_threshold = 4;
        ky.outage_distinct_reporters = 3;
        ky.outage_window_minutes = 15;
        reference
            .update_system(bearer(
                pb::UpdateSystemRequest { system: Some(ky) },
                &t.admin,
            ))
            .await
            .unwrap();
        let copenhagen = t
            .municipality("101", "Københavns Kommune", "64942212")
            .await;
        let odense = t.municipality("461", "Odense Kommune", "35209115").await;
        let mut reporters = vec![(t.reporter_id.clone(), t.reporter.clone())];
        reporters.push(t.eligible_reporter(&copenhagen, "cw@kk.dk").await);
        reporters.push(t.eligible_reporter(&odense, "cw@odense.dk").await);
        reporters.push(t.eligible_reporter(&copenhagen, "cw2@kk.dk").await);
        reporters.push(t.eligible_reporter(&odense, "cw2@odense.dk").await);
        Self { t, reporters }
    }

    /// Files a report by reporter `n` (fresh token, so the clock may have moved far).
    async fn report(&self, n: usize, text: (&str, &str)) -> pb::Case {
        self.report_with(&self.t.token_for(&self.reporters[n].0).await, text)
            .await
    }

    /// Files a report with a reporter's token.
    async fn report_with(&self, token: &str, text: (&str, &str)) -> pb::Case {
        self.report_to(&self.t.cases, token, text).await
    }

    /// Files a report with a reporter's token to the cases replica at `cases`.
    async fn report_to(
        &self,
        cases: &Channel,
        token: &str,
        (title, description): (&str, &str),
    ) -> pb::Case {
        let request = pb::FileCaseRequest {
            title: title.into(),
            description: description.into(),
            ..self.t.new_case("", pb::Severity::Normal)
        };
        pb::case_service_client::CaseServiceClient::new(cases.clone())
            .file_case(bearer(request, token))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    /// A fresh token of the 2nd-line supporter (the clock may have moved past the old one's expiry).
    async fn supporter(&self) -> String {
        self.t.token_for(&self.t.supporter_id).await
    }

    fn incidents(&self) -> pb::incident_service_client::IncidentServiceClient<Channel> {
        pb::incident_service_client::IncidentServiceClient::new(self.t.cases.clone())
    }

    async fn incident(&self, id: &str) -> pb::Incident {
        let request = pb::GetIncidentRequest {
            incident_id: id.into(),
        };
        self.incidents()
            .get_incident(bearer(request, &self.supporter().await))
            .await
            .unwrap()
            .into_inner()
            .incident
            .unwrap()
    }

    /// A case as it stands now.
    async fn case(&self, id: &str) -> pb::Case {
        let request = pb::GetCaseRequest { case_id: id.into() };
        self.t
            .cases()
            .get_case(bearer(request, &self.supporter().await))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    async fn all_incidents(&self) -> Vec<pb::Incident> {
        self.incidents()
            .list_incidents(bearer(
                pb::ListIncidentsRequest::default(),
                &self.supporter().await,
            ))
            .await
            .unwrap()
            .into_inner()
            .incidents
    }

    /// A burst of the five login reports two minutes apart: the fourth reveals the outage.
    async fn burst(&self) -> Vec<pb::Case> {
        let mut filed = Vec::new();
        for (n, text) in LOGIN_FAILS.into_iter().enumerate() {
            filed.push(self.report(n, text).await);
            self.t.clock.advance(Duration::minutes(2));
        }
        filed
    }
}

#[tokio::test]
async fn a_burst_of_same_cause_reports_across_municipalities_opens_one_incident_with_all_linked() {
    let o = Outage::start().await;
    let filed = o.burst().await;
    assert!(
        filed[..3].iter().all(|c| c.incident_id.is_empty()),
        "three reports are not yet an outage"
    );
    let incident_id = filed[3].incident_id.clone();
    assert!(!incident_id.is_empty(), "the fourth reveals it");
    assert_eq!(filed[4].incident_id, incident_id, "the fifth joins it");

    let incidents = o.all_incidents().await;
    assert_eq!(incidents.len(), 1);
    let incident = o.incident(&incident_id).await;
    assert_eq!(incident.status(), pb::IncidentStatus::Suspected);
    assert_eq!(incident.origin(), pb::IncidentOrigin::Detected);
    assert_eq!(incident.system_ids, [o.t.system.as_str()]);
    let mut linked = incident.case_ids.clone();
    linked.sort();
    let mut expected: Vec<String> = filed.iter().map(|c| c.case_id.clone()).collect();
    expected.sort();
    assert_eq!(linked, expected);
    assert_eq!(incident.municipality_ids.len(), 3);
    let kinds: Vec<pb::IncidentUpdateKind> = incident.timeline.iter().map(|u| u.kind()).collect();
    assert_eq!(
        kinds,
        [
            pb::IncidentUpdateKind::Opened,
            pb::IncidentUpdateKind::CaseLinked
        ]
    );
    for case in &filed {
        let read = o.case(&case.case_id).await;
        assert_eq!(read.incident_id, incident_id);
    }
    let opened: Vec<pb::IncidentOpened> = o.t.events("IncidentOpened").await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].cases.len(), 4);

    // A report of another cause in the same minutes stays alone.
    let other = o
        .report(
            1,
            ("Forkert beløb på udbetaling", "Efter omregning af ydelsen"),
        )
        .await;
    assert!(other.incident_id.is_empty());
    // Nor does one that shares only filler words and the system's name with the login reports.
    let printing = o
        .report(2, ("Kan ikke udskrive i KY", "Printeren svarer ikke"))
        .await;
    assert!(printing.incident_id.is_empty());

    // Hours later, past the window, a report of the same cause still joins the open incident.
    o.t.clock.advance(Duration::hours(3));
    let late = o
        .report(0, ("Login fejler stadig", "Kan ikke logge ind"))
        .await;
    assert_eq!(late.incident_id, incident_id);
    assert_eq!(o.incident(&incident_id).await.case_ids.len(), 6);
}

#[tokio::test]
async fn reports_filed_before_symptoms_were_kept_still_reveal_an_outage() {
    let o = Outage::start().await;
    let mut filed = Vec::new();
    for (n, text) in LOGIN_FAILS.into_iter().take(3).enumerate() {
        filed.push(o.report(n, text).await);
        o.t.clock.advance(Duration::minutes(2));
    }
    // As a case filed before the upgrade that keeps symptoms (or by a replica not upgraded yet).
    use sea_orm::ConnectionTrait as _;
    let db = kommune_platform::db::connect(&o.t.database_url)
        .await
        .unwrap();
    let forgotten = db
        .execute_unprepared("UPDATE cases SET symptom = NULL")
        .await
        .unwrap();
    assert_eq!(forgotten.rows_affected(), 3);

    let fourth = o.report(3, LOGIN_FAILS[3]).await;
    assert!(!fourth.incident_id.is_empty(), "the fourth reveals it");
    let mut linked = o.incident(&fourth.incident_id).await.case_ids;
    linked.sort();
    filed.push(fourth);
    let mut expected: Vec<String> = filed.iter().map(|c| c.case_id.clone()).collect();
    expected.sort();
    assert_eq!(linked, expected);
}

#[tokio::test]
async fn replicas_on_one_database_detect_from_each_others_reports() {
    let mut o = Outage::start().await;
    let one = o.t.cases.clone();
    let other = o.t.replica().await;
    // Each replica keeps the window it has seen; the other's filings reach it by case number.
    let mut filed = Vec::new();
    for (n, at) in [&one, &one, &other, &one].into_iter().enumerate() {
        let token = o.t.token_for(&o.reporters[n].0).await;
        filed.push(o.report_to(at, &token, LOGIN_FAILS[n]).await);
        o.t.clock.advance(Duration::minutes(2));
    }
    let fourth = &filed[3];
    assert!(
        !fourth.incident_id.is_empty(),
        "the fourth, filed at the first replica, counts the third filed at the other"
    );
    let mut linked = o.incident(&fourth.incident_id).await.case_ids;
    linked.sort();
    let mut expected: Vec<String> = filed.iter().map(|c| c.case_id.clone()).collect();
    expected.sort();
    assert_eq!(linked, expected);

    let token = o.t.token_for(&o.reporters[4].0).await;
    let fifth = o.report_to(&other, &token, LOGIN_FAILS[4]).await;
    assert_eq!(
        fifth.incident_id, fourth.incident_id,
        "the other replica sees the links made at the first"
    );
}

#[tokio::test]
async fn reports_filed_at_once_make_one_incident_with_all_linked() {
    let o = Outage::start().await;
    let mut tokens = Vec::new();
    for (reporter, _) in &o.reporters {
        tokens.push(o.t.token_for(reporter).await);
    }
    let filed = futures::future::join_all(
        LOGIN_FAILS
            .into_iter()
            .zip(&tokens)
            .map(|(text, token)| o.report_with(token, text)),
    )
    .await;
    let incidents = o.all_incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let incident = o.incident(&incidents[0].incident_id).await;
    assert_eq!(incident.case_ids.len(), 5);
    assert!(filed.iter().all(|c| incident.case_ids.contains(&c.case_id)));
}

#[tokio::test]
async fn reports_from_too_few_people_are_no_outage_until_enough_report() {
    let o = Outage::start().await;
    // K = 4 reports, M = 3 people: one person's four reports and a colleague's fifth are not enough.
    let mut filed = Vec::new();
    for text in &LOGIN_FAILS[..4] {
        filed.push(o.report(0, *text).await);
        o.t.clock.advance(Duration::minutes(1));
    }
    filed.push(o.report(1, LOGIN_FAILS[4]).await);
    assert!(filed.iter().all(|c| c.incident_id.is_empty()));
    assert!(o.all_incidents().await.is_empty());

    // A third person's report makes it an outage of all six.
    o.t.clock.advance(Duration::minutes(1));
    let third = o.report(2, LOGIN_FAILS[1]).await;
    assert!(!third.incident_id.is_empty());
    let incident = o.incident(&third.incident_id).await;
    assert_eq!(incident.case_ids.len(), 6);
    assert_eq!(incident.municipality_ids.len(), 3);
}

#[tokio::test]
async fn the_same_reports_spread_over_days_or_of_different_causes_open_none() {
    let o = Outage::start().await;
    for (n, text) in LOGIN_FAILS.into_iter().enumerate() {
        let case = o.report(n, text).await;
        assert!(case.incident_id.is_empty());
        o.t.clock.advance(Duration::days(1));
    }
    let causes = [
        ("Forkert beløb på udbetaling", "Efter omregning af ydelsen"),
        ("Brevskabelon mangler logo", "Afsender mangler også"),
        ("Rapporten over debitorer er tom", "Marts mangler"),
        ("Sagen kan ikke gemmes", "Fejl ved journalisering"),
        (
            "Borgerens adresse opdateres ikke",
            "Ændringer kommer ikke med",
        ),
    ];
    for (n, text) in causes.into_iter().enumerate() {
        let case = o.report(n, text).await;
        assert!(case.incident_id.is_empty(), "{text:?}");
        o.t.clock.advance(Duration::minutes(1));
    }
    assert!(o.all_incidents().await.is_empty());
}

#[tokio::test]
async fn an_acute_filing_opens_an_incident_directly() {
    let o = Outage::start().await;
    let filed =
        o.t.file(o.t.new_case("KY svarer ikke", pb::Severity::Acute))
            .await
            .unwrap();
    let case = filed.case.unwrap();
    assert!(!filed.phone_route.is_empty());
    assert!(!case.incident_id.is_empty());
    let incident = o.incident(&case.incident_id).await;
    assert_eq!(incident.origin(), pb::IncidentOrigin::AcuteFiling);
    assert_eq!(incident.case_ids, [case.case_id.as_str()]);
}

#[tokio::test]
async fn follow_ups_fall_due_an_hour_after_the_report_and_each_update_and_are_announced_once() {
    let o = Outage::start().await;
    let filed = o.burst().await;
    let incident = o.incident(&filed[3].incident_id).await;
    let before_report = pb::UpdateIncidentRequest {
        incident_id: incident.incident_id.clone(),
        expected_version: incident.version,
        text: "Vi undersøger fejlen".into(),
        ..Default::default()
    };
    let incident = o
        .incidents()
        .update_incident(bearer(before_report, &o.supporter().await))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(
        incident.follow_up_due_time, None,
        "nothing is due before the report"
    );

    let report = pb::ReportToSupplierRequest {
        incident_id: incident.incident_id.clone(),
        expected_version: incident.version,
        problem: "Login til KY fejler for alle kommuner siden 09:00".into(),
        occurred_time: time("2025-04-02T07:00:00Z"),
        tag: "KY - Login".into(),
        ..Default::default()
    };
    let reported = o
        .incidents()
        .report_to_supplier(bearer(report.clone(), &o.supporter().await))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(reported.supplier_report.as_ref().unwrap().tag, "KY - Login");
    assert_eq!(reported.follow_up_due_time, time("2025-04-02T08:10:00Z"));
    let again = o
        .incidents()
        .report_to_supplier(bearer(
            pb::ReportToSupplierRequest {
                expected_version: reported.version,
                ..report
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let overdue = async || {
        o.incidents()
            .list_overdue_follow_ups(bearer(
                pb::ListOverdueFollowUpsRequest {},
                &o.supporter().await,
            ))
            .await
            .unwrap()
            .into_inner()
            .incidents
    };
    o.t.clock.advance(Duration::minutes(59));
    assert!(overdue().await.is_empty());
    o.t.clock.advance(Duration::minutes(2));
    assert_eq!(overdue().await.len(), 1);

    // The sweep announces it once.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while o
            .t
            .events::<pb::IncidentFollowUpOverdue>("IncidentFollowUpOverdue")
            .await
            .is_empty()
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the overdue follow-up was not announced");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let announced: Vec<pb::IncidentFollowUpOverdue> = o.t.events("IncidentFollowUpOverdue").await;
    assert_eq!(announced.len(), 1);
    assert_eq!(announced[0].due_time, time("2025-04-02T08:10:00Z"));

    // An update moves the follow-up an hour on.
    let supporter = o.supporter().await;
    let update = pb::UpdateIncidentRequest {
        incident_id: reported.incident_id.clone(),
        expected_version: reported.version,
        text: "Leverandøren genstarter login-tjenesten".into(),
        status: pb::IncidentStatus::Confirmed as i32,
        scope: pb::IncidentScope::General as i32,
        ..Default::default()
    };
    let updated = o
        .incidents()
        .update_incident(bearer(update, &supporter))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(updated.status(), pb::IncidentStatus::Confirmed);
    assert_eq!(updated.scope(), pb::IncidentScope::General);
    assert_eq!(updated.follow_up_due_time, time("2025-04-02T09:11:00Z"));
    assert!(overdue().await.is_empty());
}

#[tokio::test]
async fn one_reply_reaches_every_linked_case_and_resolving_resolves_them_with_one_event() {
    let o = Outage::start().await;
    let filed = o.burst().await;
    let incident_id = filed[3].incident_id.clone();
    // One reporter's case is already resolved on its own: it is told, not resolved again.
    let first = o.case(&filed[0].case_id).await;
    assert_eq!(first.version, 2, "linked when the incident was proposed");
    let own =
        o.t.transition(&o.supporter().await, &first, pb::Transition::Triage)
            .await
            .unwrap();
    let own =
        o.t.transition(&o.supporter().await, &own, pb::Transition::Start)
            .await
            .unwrap();
    let resolve_own = pb::TransitionCaseRequest {
        case_id: own.case_id.clone(),
        expected_version: own.version,
        transition: pb::Transition::Resolve as i32,
        resolution: pb::Resolution::UserError as i32,
        ..Default::default()
    };
    o.t.cases()
        .transition_case(bearer(resolve_own, &o.supporter().await))
        .await
        .unwrap();

    let reply = pb::ReplyToLinkedCasesRequest {
        idempotency_key: "reply-1".into(),
        incident_id: incident_id.clone(),
        text: "Vi kender til fejlen med login og arbejder på den".into(),
    };
    let replied = o
        .incidents()
        .reply_to_linked_cases(bearer(reply.clone(), &o.supporter().await))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replied.replied_case_ids.len(), 4, "the four open cases");
    let retried = o
        .incidents()
        .reply_to_linked_cases(bearer(reply, &o.supporter().await))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.replied_case_ids, replied.replied_case_ids);
    let comments_of = async |case: &pb::Case, token: &str| {
        o.t.cases()
            .list_comments(bearer(
                pb::ListCommentsRequest {
                    case_id: case.case_id.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .comments
    };
    let seen_by_reporter = comments_of(&filed[1], &o.t.token_for(&o.reporters[1].0).await).await;
    assert_eq!(seen_by_reporter.len(), 1, "the retry wrote nothing more");
    assert_eq!(
        seen_by_reporter[0].text,
        "Vi kender til fejlen med login og arbejder på den"
    );

    let incident = o.incident(&incident_id).await;
    let resolve = pb::ResolveIncidentRequest {
        incident_id: incident_id.clone(),
        expected_version: incident.version,
        text: "Login virker igen efter genstart hos leverandøren".into(),
        leave_cases_open: false,
    };
    let resolved = o
        .incidents()
        .resolve_incident(bearer(resolve.clone(), &o.supporter().await))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.resolved_case_ids.len(), 4);
    let incident = resolved.incident.unwrap();
    assert_eq!(incident.status(), pb::IncidentStatus::Resolved);
    assert!(incident.resolve_time.is_some());
    for case in &filed[1..] {
        let read = o.case(&case.case_id).await;
        assert_eq!(read.state(), pb::CaseState::Resolved);
        assert_eq!(read.resolution(), pb::Resolution::Fixed);
    }
    let told = comments_of(&filed[0], &o.supporter().await).await;
    assert_eq!(told.len(), 1, "the case resolved on its own is told");

    let events: Vec<pb::IncidentResolved> = o.t.events("IncidentResolved").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].cases.len(), 5);
    assert!(events[0].cases_resolved);
    let mut reporters: Vec<String> = events[0]
        .cases
        .iter()
        .map(|c| c.reporter_user_id.clone())
        .collect();
    reporters.sort();
    let mut expected: Vec<String> = o.reporters.iter().map(|(id, _)| id.clone()).collect();
    expected.sort();
    assert_eq!(reporters, expected, "every reporter is named");

    let twice = o
        .incidents()
        .resolve_incident(bearer(
            pb::ResolveIncidentRequest {
                expected_version: incident.version,
                ..resolve
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(o.incident(&incident_id).await.version, incident.version);
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let o = Outage::start().await;
    let ky_case =
        o.t.file(o.t.new_case("Fejl i KY", pb::Severity::Normal))
            .await
            .unwrap()
            .case
            .unwrap();
    let open = pb::OpenIncidentRequest {
        title: "Langsom KY".into(),
        description: "Skærmbilleder loader langsomt".into(),
        system_ids: vec![o.t.system.clone()],
        case_ids: vec![ky_case.case_id.clone()],
        ..Default::default()
    };
    let denied = o
        .incidents()
        .open_incident(bearer(open.clone(), &o.t.reporter))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let incident = o
        .incidents()
        .open_incident(bearer(open, &o.supporter().await))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(incident.origin(), pb::IncidentOrigin::Manual);
    assert_eq!(incident.case_ids, [ky_case.case_id.as_str()]);

    // A case about another system is not linked.
    let skat_case =
        o.t.file(pb::FileCaseRequest {
            system_id: o.t.outside.clone(),
            ..o.t.new_case("Fejl i eIndkomst", pb::Severity::Normal)
        })
        .await
        .unwrap()
        .case
        .unwrap();
    let other_system = o
        .incidents()
        .link_case(bearer(
            pb::LinkCaseRequest {
                incident_id: incident.incident_id.clone(),
                case_id: skat_case.case_id.clone(),
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(other_system.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&other_system), ["case_id"]);
    let unchanged = o.incident(&incident.incident_id).await;
    assert_eq!(unchanged.version, incident.version);
    assert_eq!(unchanged.case_ids, [ky_case.case_id.as_str()]);

    // Opening with a good case and one about another system writes neither the incident nor the link.
    let another_ky_case =
        o.t.file(pb::FileCaseRequest {
            description: "Rapporten over debitorer er tom for marts".into(),
            ..o.t.new_case("Debitorrapport mangler", pb::Severity::Normal)
        })
        .await
        .unwrap()
        .case
        .unwrap();
    let mixed = o
        .incidents()
        .open_incident(bearer(
            pb::OpenIncidentRequest {
                title: "Blandet".into(),
                system_ids: vec![o.t.system.clone()],
                case_ids: vec![another_ky_case.case_id.clone(), skat_case.case_id.clone()],
                ..Default::default()
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&mixed), ["case_ids"], "{mixed:?}");
    let untouched = o.case(&another_ky_case.case_id).await;
    assert_eq!(untouched.version, another_ky_case.version);
    assert!(untouched.incident_id.is_empty());
    let twice = o
        .incidents()
        .open_incident(bearer(
            pb::OpenIncidentRequest {
                title: "To gange".into(),
                system_ids: vec![o.t.system.clone()],
                case_ids: vec![
                    another_ky_case.case_id.clone(),
                    another_ky_case.case_id.clone(),
                ],
                ..Default::default()
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&twice), ["case_ids[1]"]);

    // A personal ID number in an update, and a move back to suspected.
    let update = pb::UpdateIncidentRequest {
        incident_id: incident.incident_id.clone(),
        expected_version: incident.version,
        text: "Borger 010190-1234 kan ikke se sin sag".into(),
        ..Default::default()
    };
    let pii = o
        .incidents()
        .update_incident(bearer(update.clone(), &o.supporter().await))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&pii), ["text"]);
    let confirmed = o
        .incidents()
        .update_incident(bearer(
            pb::UpdateIncidentRequest {
                text: "Bekræftet".into(),
                status: pb::IncidentStatus::Confirmed as i32,
                ..update.clone()
            },
            &o.supporter().await,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    let back = o
        .incidents()
        .update_incident(bearer(
            pb::UpdateIncidentRequest {
                expected_version: confirmed.version,
                text: "Tilbage".into(),
                status: pb::IncidentStatus::Suspected as i32,
                ..update
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&back), ["status"]);

    let after = o.incident(&incident.incident_id).await;
    assert_eq!(after.version, confirmed.version, "nothing more was written");
    assert_eq!(after.case_ids, [ky_case.case_id.as_str()]);
    assert_eq!(after.timeline.len(), 2, "opened and confirmed");

    // A case linked to one incident is not linked to another.
    let second = o
        .incidents()
        .open_incident(bearer(
            pb::OpenIncidentRequest {
                title: "Andet".into(),
                system_ids: vec![o.t.system.clone()],
                case_ids: vec![ky_case.case_id.clone()],
                ..Default::default()
            },
            &o.supporter().await,
        ))
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition);
    assert_eq!(o.all_incidents().await.len(), 1);
}

#[tokio::test]
async fn resolving_may_leave_the_linked_cases_open_and_an_unlinked_case_is_left_out() {
    let o = Outage::start().await;
    let filed = o.burst().await;
    let incident_id = filed[3].incident_id.clone();
    let unlinked = o
        .incidents()
        .unlink_case(bearer(
            pb::UnlinkCaseRequest {
                incident_id: incident_id.clone(),
                case_id: filed[4].case_id.clone(),
            },
            &o.supporter().await,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    assert_eq!(unlinked.case_ids.len(), 4);
    assert!(o.case(&filed[4].case_id).await.incident_id.is_empty());

    let resolved = o
        .incidents()
        .resolve_incident(bearer(
            pb::ResolveIncidentRequest {
                incident_id: incident_id.clone(),
                expected_version: unlinked.version,
                text: "Login virker igen; tjek venligst jeres sag".into(),
                leave_cases_open: true,
            },
            &o.supporter().await,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(resolved.resolved_case_ids.is_empty());
    assert_eq!(
        resolved.incident.unwrap().status(),
        pb::IncidentStatus::Resolved
    );
    for case in &filed {
        let read = o.case(&case.case_id).await;
        assert_ne!(read.state(), pb::CaseState::Resolved);
        let comments =
            o.t.cases()
                .list_comments(bearer(
                    pb::ListCommentsRequest {
                        case_id: case.case_id.clone(),
                        ..Default::default()
                    },
                    &o.supporter().await,
                ))
                .await
                .unwrap()
                .into_inner()
                .comments;
        let told = usize::from(case.case_id != filed[4].case_id);
        assert_eq!(comments.len(), told, "{}", case.case_id);
    }
    let events: Vec<pb::IncidentResolved> = o.t.events("IncidentResolved").await;
    assert_eq!(events.len(), 1);
    assert!(!events[0].cases_resolved);
    assert_eq!(events[0].cases.len(), 4);
}

#[tokio::test]
async fn a_personal_id_number_in_any_incident_text_or_a_municipal_user_is_refused() {
    let o = Outage::start().await;
    let filed = o.burst().await;
    let incident_id = filed[3].incident_id.clone();
    let before = o.incident(&incident_id).await;
    let cpr = "Borger 010190-1234 er ramt";
    let supporter = o.supporter().await;
    let open = pb::OpenIncidentRequest {
        title: "Login".into(),
        system_ids: vec![o.t.system.clone()],
        ..Default::default()
    };
    let report = pb::ReportToSupplierRequest {
        incident_id: incident_id.clone(),
        expected_version: before.version,
        problem: "Login fejler".into(),
        occurred_time: time("2025-04-02T07:00:00Z"),
        tag: "KY - Login".into(),
        ..Default::default()
    };
    let mut incidents = o.incidents();
    let refusals = [
        (
            "title",
            incidents
                .open_incident(bearer(
                    pb::OpenIncidentRequest {
                        title: cpr.into(),
                        ..open.clone()
                    },
                    &supporter,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "description",
            incidents
                .open_incident(bearer(
                    pb::OpenIncidentRequest {
                        description: cpr.into(),
                        ..open.clone()
                    },
                    &supporter,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "problem",
            incidents
                .report_to_supplier(bearer(
                    pb::ReportToSupplierRequest {
                        problem: cpr.into(),
                        ..report.clone()
                    },
                    &supporter,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "tag",
            incidents
                .report_to_supplier(bearer(
                    pb::ReportToSupplierRequest {
                        tag: cpr.into(),
                        ..report.clone()
                    },
                    &supporter,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "text",
            incidents
                .reply_to_linked_cases(bearer(
                    pb::ReplyToLinkedCasesRequest {
                        idempotency_key: "reply-cpr".into(),
                        incident_id: incident_id.clone(),
                        text: cpr.into(),
                    },
                    &supporter,
                ))
                .await
                .map(|_| ()),
        ),
        (
            "text",
            incidents
                .resolve_incident(bearer(
                    pb::ResolveIncidentRequest {
                        incident_id: incident_id.clone(),
                        expected_version: before.version,
                        text: cpr.into(),
                        leave_cases_open: false,
                    },
                    &supporter,
                ))
                .await
                .map(|_| ()),
        ),
    ];
    for (field, result) in refusals {
        let refused = result.unwrap_err();
        assert_eq!(violated_fields(&refused), [field], "{refused:?}");
    }

    // A screenshot that is no attachment, or one of a case outside the incident, is refused.
    let missing = incidents
        .report_to_supplier(bearer(
            pb::ReportToSupplierRequest {
                screenshot_attachment_id: "0190c5d2-0000-7000-8000-000000000000".into(),
                ..report.clone()
            },
            &supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let outside =
        o.t.file(o.t.new_case("Brevskabelon mangler logo", pb::Severity::Normal))
            .await
            .unwrap()
            .case
            .unwrap();
    let attachment =
        o.t.cases()
            .add_attachment(bearer(
                pb::AddAttachmentRequest {
                    case_id: outside.case_id.clone(),
                    file_name: "logo.png".into(),
                    content_type: "image/png".into(),
                    content: [&[0x89, b'P', b'N', b'G'][..], &[7u8; 64]].concat(),
                },
                &o.t.reporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .attachment
            .unwrap();
    let not_linked = incidents
        .report_to_supplier(bearer(
            pb::ReportToSupplierRequest {
                screenshot_attachment_id: attachment.attachment_id.clone(),
                ..report.clone()
            },
            &supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&not_linked), ["screenshot_attachment_id"]);

    // Municipal users neither read nor work incidents.
    let reporter = &o.t.reporter;
    let denied = [
        incidents
            .get_incident(bearer(
                pb::GetIncidentRequest {
                    incident_id: incident_id.clone(),
                },
                reporter,
            ))
            .await
            .map(|_| ()),
        incidents
            .reply_to_linked_cases(bearer(
                pb::ReplyToLinkedCasesRequest {
                    idempotency_key: "reply-by-reporter".into(),
                    incident_id: incident_id.clone(),
                    text: "Det virker igen".into(),
                },
                reporter,
            ))
            .await
            .map(|_| ()),
        incidents
            .resolve_incident(bearer(
                pb::ResolveIncidentRequest {
                    incident_id: incident_id.clone(),
                    expected_version: before.version,
                    text: "Løst".into(),
                    leave_cases_open: false,
                },
                reporter,
            ))
            .await
            .map(|_| ()),
    ];
    for result in denied {
        assert_eq!(result.unwrap_err().code(), Code::PermissionDenied);
    }

    let after = o.incident(&incident_id).await;
    assert_eq!(after, before, "nothing was written");
    assert_eq!(o.all_incidents().await.len(), 1);
    for case in &filed {
        let read = o.case(&case.case_id).await;
        assert_ne!(read.state(), pb::CaseState::Resolved);
    }
}
