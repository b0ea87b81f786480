//! Who hears what: the people an event concerns, told through real cases and identity; reminders handed
//! in as the events cases announces them.

use prost::Name;

use super::*;

/// The users told about `kind` in their inbox whose subject or text holds `text`, sorted; one entry per
/// notification, so a user told twice shows twice.
async fn told(s: &Suite, notify: &Channel, kind: &str, text: &str) -> Vec<String> {
    let mut users: Vec<String> = s
        .notifications(notify, pb::DeliveryState::Unspecified)
        .await
        .into_iter()
        .filter(|n| {
            n.channel() == pb::Channel::Inbox
                && n.kind == kind
                && (n.subject.contains(text) || n.text.contains(text))
        })
        .map(|n| n.user_id)
        .collect();
    users.sort();
    users
}

/// Waits until someone is told about `kind` with `text` (one event's notifications are written
/// together, so then all are there), and returns who.
async fn told_eventually(s: &Suite, notify: &Channel, kind: &str, text: &str) -> Vec<String> {
    eventually(&format!("someone is told {kind}: {text}"), async || {
        !told(s, notify, kind, text).await.is_empty()
    })
    .await;
    told(s, notify, kind, text).await
}

fn sorted(mut users: Vec<String>) -> Vec<String> {
    users.sort();
    users
}

#[tokio::test]
async fn an_incident_tells_every_reporter_and_its_reply_and_resolution_the_eligible_users_too() {
    let s = Suite::start().await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, free_port().await))
        .await;
    let colleague = eligible_user(&s.identity, &s.admin, &s.municipality, "cw@aarhus.dk").await;
    let odense = s.municipality("461", "Odense Kommune", "35209115").await;
    let odense_reporter = eligible_user(&s.identity, &s.admin, &odense, "rep@odense.dk").await;
    let odense_colleague = eligible_user(&s.identity, &s.admin, &odense, "cw@odense.dk").await;
    // Eligible elsewhere, linked to nothing: hears nothing of the incident.
    let vejle = s.municipality("630", "Vejle Kommune", "29189641").await;
    eligible_user(&s.identity, &s.admin, &vejle, "cw@vejle.dk").await;

    let aarhus_case = s.file("Login fejler i Aarhus").await;
    let odense_token = user_token(&s.identity, &s.admin, &odense_reporter).await;
    let odense_case = s.file_as(&odense_token, "Udbetalingen stopper").await;
    let mut incidents = cases::incident_service_client::IncidentServiceClient::new(s.cases.clone());
    let incident = incidents
        .open_incident(bearer(
            cases::OpenIncidentRequest {
                title: "KY svarer ikke".into(),
                description: "Flere kommuner melder fejl.".into(),
                system_ids: vec![s.system.clone()],
                case_ids: vec![aarhus_case.case_id.clone(), odense_case.case_id.clone()],
                ..Default::default()
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    let reporters = sorted(vec![s.reporter_id.clone(), odense_reporter.clone()]);

    // A status update changes no case: only the reporters hear it.
    let incident = incidents
        .update_incident(bearer(
            cases::UpdateIncidentRequest {
                incident_id: incident.incident_id.clone(),
                expected_version: incident.version,
                text: "Leverandøren undersøger fejlen.".into(),
                ..Default::default()
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    let update = told_eventually(&s, &notify, "incident_update", "Leverandøren undersøger").await;
    assert_eq!(update, reporters);

    // A reply is a public comment on every linked case: the reporters hear it, and so do the other
    // eligible users of both municipalities, each once.
    let reply = incidents
        .reply_to_linked_cases(bearer(
            cases::ReplyToLinkedCasesRequest {
                incident_id: incident.incident_id.clone(),
                text: "Genstart browseren som midlertidig løsning.".into(),
                ..Default::default()
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.replied_case_ids.len(), 2);
    let everyone = sorted(vec![
        s.reporter_id.clone(),
        colleague.clone(),
        odense_reporter.clone(),
        odense_colleague.clone(),
    ]);
    let replied = told_eventually(&s, &notify, "incident_update", "Genstart browseren").await;
    assert_eq!(replied, everyone);

    // The resolution resolves the linked cases: the same four, each once.
    let incident = incidents
        .get_incident(bearer(
            cases::GetIncidentRequest {
                incident_id: incident.incident_id.clone(),
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    incidents
        .resolve_incident(bearer(
            cases::ResolveIncidentRequest {
                incident_id: incident.incident_id.clone(),
                expected_version: incident.version,
                text: "Certifikatet er fornyet.".into(),
                leave_cases_open: false,
            },
            &s.supporter,
        ))
        .await
        .unwrap();
    let resolved = told_eventually(&s, &notify, "incident_resolved", "Certifikatet").await;
    assert_eq!(resolved, everyone);
    // Each case resolved with the incident invites its own reporter, and nobody else, to rate it.
    for (case, reporter) in [
        (&aarhus_case, &s.reporter_id),
        (&odense_case, &odense_reporter),
    ] {
        assert_eq!(
            told_eventually(&s, &notify, "rating_invitation", &case.number).await,
            std::slice::from_ref(reporter)
        );
    }
    // The reporters heard it as incident updates, the others as case updates.
    let topics: Vec<(String, i32)> = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await
        .into_iter()
        .filter(|n| n.kind == "incident_resolved" && n.channel() == pb::Channel::Inbox)
        .map(|n| (n.user_id, n.topic.unwrap_or_default().kind))
        .collect();
    for (user, kind) in topics {
        let expected = if reporters.contains(&user) {
            pb::TopicKind::IncidentUpdates
        } else {
            pb::TopicKind::CaseUpdates
        };
        assert_eq!(kind, expected as i32, "{user}");
    }
}

#[tokio::test]
async fn a_case_change_reaches_the_reporter_and_eligible_users_and_an_internal_comment_nobody() {
    let s = Suite::start().await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, free_port().await))
        .await;
    let colleague = eligible_user(&s.identity, &s.admin, &s.municipality, "cw@aarhus.dk").await;
    let odense = s.municipality("461", "Odense Kommune", "35209115").await;
    eligible_user(&s.identity, &s.admin, &odense, "cw@odense.dk").await;
    let case = s.file("Forkert beløb").await;
    let mut cases_client = cases::case_service_client::CaseServiceClient::new(s.cases.clone());
    // Told to the supplier only: announced to nobody.
    cases_client
        .add_comment(bearer(
            cases::AddCommentRequest {
                case_id: case.case_id.clone(),
                text: "Intern note: kig på omregningen.".into(),
                visibility: cases::CommentVisibility::Internal as i32,
            },
            &s.supporter,
        ))
        .await
        .unwrap();
    let mut version = cases_client
        .get_case(bearer(
            cases::GetCaseRequest {
                case_id: case.case_id.clone(),
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap()
        .version;
    for (transition, resolution) in [
        (cases::Transition::Triage, cases::Resolution::Unspecified),
        (cases::Transition::Start, cases::Resolution::Unspecified),
        (cases::Transition::Resolve, cases::Resolution::Fixed),
    ] {
        version = cases_client
            .transition_case(bearer(
                cases::TransitionCaseRequest {
                    case_id: case.case_id.clone(),
                    expected_version: version,
                    transition: transition as i32,
                    resolution: resolution as i32,
                    ..Default::default()
                },
                &s.supporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
            .version;
    }
    let resolved = told_eventually(&s, &notify, "case_changed", "sagen er løst").await;
    assert_eq!(
        resolved,
        sorted(vec![s.reporter_id.clone(), colleague.clone()])
    );
    // Feeds are read in order: the internal comment came before, and told nobody anything.
    let changes = told(&s, &notify, "case_changed", "").await;
    assert_eq!(changes.len(), 3 * 2, "triage, start, resolve: {changes:?}");
    assert!(
        told(&s, &notify, "case_changed", "ny kommentar")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn sla_alerts_and_overdue_follow_ups_reach_the_support() {
    let s = Suite::start().await;
    let (notify, _running, registry) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, free_port().await))
        .await;
    // Of the 2nd line, but not in the team the area's cases go to.
    let other = create_user(
        &s.identity,
        &s.admin,
        "",
        "other2nd@supplier.dk",
        id::Role::SupplierSecondLine,
    )
    .await;
    let untriaged = s.file("Forkert beløb").await;
    let triaged = s.file("Udbetalingen stopper").await;
    cases::case_service_client::CaseServiceClient::new(s.cases.clone())
        .transition_case(bearer(
            cases::TransitionCaseRequest {
                case_id: triaged.case_id.clone(),
                expected_version: triaged.version,
                transition: cases::Transition::Triage as i32,
                ..Default::default()
            },
            &s.supporter,
        ))
        .await
        .unwrap();
    let incident = cases::incident_service_client::IncidentServiceClient::new(s.cases.clone())
        .open_incident(bearer(
            cases::OpenIncidentRequest {
                title: "KY svarer ikke".into(),
                description: "Flere kommuner melder fejl.".into(),
                system_ids: vec![s.system.clone()],
                case_ids: vec![untriaged.case_id.clone()],
                ..Default::default()
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();
    let due = Some(kommune_platform::clock::to_timestamp(chrono::Utc::now()));
    let event =
        |payload: prost_types::Any, event_type: String| kommune_proto::common::v1::EventEnvelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type,
            payload: Some(payload),
            ..Default::default()
        };
    let alert = |case: &cases::Case, breached: bool| {
        event(
            prost_types::Any::from_msg(&cases::CaseSlaAlert {
                case_id: case.case_id.clone(),
                municipality_id: s.municipality.clone(),
                target: "response".into(),
                breached,
                due_time: due,
            })
            .unwrap(),
            cases::CaseSlaAlert::full_name(),
        )
    };
    registry
        .on_event("cases", alert(&triaged, false))
        .await
        .unwrap();
    registry
        .on_event("cases", alert(&untriaged, true))
        .await
        .unwrap();
    let overdue = cases::IncidentFollowUpOverdue {
        incident_id: incident.incident_id.clone(),
        due_time: due,
    };
    registry
        .on_event(
            "cases",
            event(
                prost_types::Any::from_msg(&overdue).unwrap(),
                cases::IncidentFollowUpOverdue::full_name(),
            ),
        )
        .await
        .unwrap();

    // The team working a triaged case hears its SLA is due soon.
    assert_eq!(
        told(&s, &notify, "sla_alert", &triaged.number).await,
        std::slice::from_ref(&s.supporter_id)
    );
    let second_line = sorted(vec![s.supporter_id.clone(), other.clone()]);
    // A case nobody works yet: the whole 2nd line hears it was missed.
    assert_eq!(
        told(&s, &notify, "sla_alert", &untriaged.number).await,
        second_line
    );
    let subjects: Vec<String> = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await
        .into_iter()
        .filter(|n| n.kind == "sla_alert" && n.channel() == pb::Channel::Inbox)
        .map(|n| n.subject)
        .collect();
    assert!(subjects.iter().any(|t| t.starts_with("SLA udløber snart")));
    assert!(subjects.iter().any(|t| t.starts_with("SLA overskredet")));
    // An overdue follow-up with the supplier: the whole 2nd line.
    assert_eq!(
        told(&s, &notify, "follow_up_overdue", "").await,
        second_line
    );
    // The municipality hears of none of it.
    let all = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await;
    assert!(
        all.iter()
            .filter(|n| n.user_id == s.reporter_id)
            .all(|n| n.kind == "case_filed" || n.kind == "case_changed"),
        "{all:?}"
    );
}

#[tokio::test]
async fn a_deactivated_user_hears_nothing_by_any_channel() {
    let s = Suite::start().await;
    let hook = WebhookReceiver::start(Duration::ZERO).await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, free_port().await))
        .await;
    let colleague = eligible_user(&s.identity, &s.admin, &s.municipality, "cw@aarhus.dk").await;
    let colleague_token = user_token(&s.identity, &s.admin, &colleague).await;
    let mut subscriptions =
        pb::subscription_service_client::SubscriptionServiceClient::new(notify.clone());
    for (channel, email_address, webhook_url, webhook_secret) in [
        (
            pb::Channel::Webhook,
            "",
            hook.url.as_str(),
            "0123456789abcdef",
        ),
        (pb::Channel::Email, "privat@example.dk", "", ""),
    ] {
        subscriptions
            .create_subscription(bearer(
                pb::CreateSubscriptionRequest {
                    subscription: Some(pb::Subscription {
                        topic: Some(pb::Topic {
                            kind: pb::TopicKind::CaseUpdates as i32,
                            target_id: String::new(),
                        }),
                        channel: channel as i32,
                        email_address: email_address.into(),
                        webhook_url: webhook_url.into(),
                        webhook_secret: webhook_secret.into(),
                        ..Default::default()
                    }),
                },
                &colleague_token,
            ))
            .await
            .unwrap();
    }
    let mut users = id::user_service_client::UserServiceClient::new(s.identity.clone());
    let user = users
        .get_user(bearer(
            id::GetUserRequest {
                user_id: colleague.clone(),
            },
            &s.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    users
        .update_user(bearer(
            id::UpdateUserRequest {
                user_id: colleague.clone(),
                expected_version: user.version,
                active: Some(false),
                ..Default::default()
            },
            &s.admin,
        ))
        .await
        .unwrap();

    s.file("Forkert beløb").await;
    let reporter = told_eventually(&s, &notify, "case_filed", "").await;
    assert_eq!(reporter, std::slice::from_ref(&s.reporter_id));
    let all = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await;
    assert!(all.iter().all(|n| n.user_id != colleague), "{all:?}");
    assert!(hook.received().is_empty());
}
