//! Operational messages: drafted, published once the scope is known, updated, resolved; the public list.

use chrono::Duration;
use tonic::Code;

use super::*;

fn messages(
    t: &TestCases,
) -> pb::operational_message_service_client::OperationalMessageServiceClient<Channel> {
    pb::operational_message_service_client::OperationalMessageServiceClient::new(t.cases.clone())
}

fn draft(t: &TestCases) -> pb::OperationalMessage {
    pb::OperationalMessage {
        title_da: "Driftsforstyrrelse i KY".into(),
        text_da: "Det er ikke muligt at logge ind i KY.".into(),
        workaround_da: "Brug den direkte adresse til login.".into(),
        title_en: "Disruption in KY".into(),
        text_en: "Logging in to KY is not possible.".into(),
        system_ids: vec![t.system.clone()],
        start_time: time("2025-04-02T07:00:00Z"),
        expected_end_time: time("2025-04-02T10:00:00Z"),
        ..Default::default()
    }
}

/// The public list, asked without a token.
async fn public(t: &TestCases) -> pb::ListPublicOperationalMessagesResponse {
    messages(t)
        .list_public_operational_messages(pb::ListPublicOperationalMessagesRequest::default())
        .await
        .unwrap()
        .into_inner()
}

/// A message's public page, asked without a token.
async fn public_message(
    t: &TestCases,
    id: &str,
) -> Result<pb::GetPublicOperationalMessageResponse, tonic::Status> {
    messages(t)
        .get_public_operational_message(pb::GetPublicOperationalMessageRequest {
            operational_message_id: id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The message as its writers read it now.
async fn current(t: &TestCases, id: &str) -> pb::OperationalMessage {
    messages(t)
        .get_operational_message(bearer(
            pb::GetOperationalMessageRequest {
                operational_message_id: id.into(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap()
}

#[tokio::test]
async fn a_message_goes_from_draft_to_resolved_and_the_public_list_shows_only_what_is_public() {
    let mut t = TestCases::start().await;
    let created = messages(&t)
        .create_operational_message(bearer(
            pb::CreateOperationalMessageRequest {
                idempotency_key: "msg-1".into(),
                operational_message: Some(draft(&t)),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    assert_eq!(created.state(), pb::OperationalMessageState::Draft);
    assert_eq!(created.system_names, ["KY"]);
    let draft_hidden = messages(&t)
        .get_operational_message(bearer(
            pb::GetOperationalMessageRequest {
                operational_message_id: created.operational_message_id.clone(),
            },
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(draft_hidden.code(), Code::PermissionDenied);
    assert_eq!(
        public_message(&t, &created.operational_message_id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound,
        "a draft is not public"
    );
    let bad_id = public_message(&t, "not-an-id").await.unwrap_err();
    assert_eq!(violated_fields(&bad_id), ["operational_message_id"]);
    let systems = messages(&t)
        .list_public_systems(pb::ListPublicSystemsRequest {})
        .await
        .unwrap()
        .into_inner()
        .systems;
    let names: Vec<(&str, bool)> = systems
        .iter()
        .map(|s| (s.name.as_str(), s.chain_responsibility))
        .collect();
    assert_eq!(
        names,
        [("KY", true), ("SKAT eIndkomst", false)],
        "the systems are public, by name, without a token"
    );
    assert_eq!(systems[0].system_id, t.system);

    // Not published while the scope is unknown.
    let publish = |m: &pb::OperationalMessage| pb::PublishOperationalMessageRequest {
        operational_message_id: m.operational_message_id.clone(),
        expected_version: m.version,
    };
    let no_scope = messages(&t)
        .publish_operational_message(bearer(publish(&created), &t.supporter))
        .await
        .unwrap_err();
    assert_eq!(no_scope.code(), Code::FailedPrecondition);
    assert!(public(&t).await.active.is_empty());
    assert_eq!(
        current(&t, &created.operational_message_id).await,
        created,
        "nothing was written"
    );

    let scoped = messages(&t)
        .update_operational_message(bearer(
            pb::UpdateOperationalMessageRequest {
                operational_message: Some(pb::OperationalMessage {
                    scope: pb::IncidentScope::General as i32,
                    ..created.clone()
                }),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    assert_eq!(scoped.state(), pb::OperationalMessageState::Draft);
    let published = messages(&t)
        .publish_operational_message(bearer(publish(&scoped), &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    assert_eq!(published.state(), pb::OperationalMessageState::Published);
    assert!(published.publish_time.is_some());
    let listed = public(&t).await;
    assert_eq!(listed.active.len(), 1);
    assert_eq!(listed.active[0].title_da, "Driftsforstyrrelse i KY");
    assert_eq!(listed.active[0].system_names, ["KY"]);

    let updated = messages(&t)
        .update_operational_message(bearer(
            pb::UpdateOperationalMessageRequest {
                operational_message: Some(pb::OperationalMessage {
                    text_da: "Login virker igen for de fleste; vi følger op.".into(),
                    ..published.clone()
                }),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    assert_eq!(updated.state(), pb::OperationalMessageState::Updated);
    assert_eq!(updated.scope(), pb::IncidentScope::General);

    let resolve = pb::ResolveOperationalMessageRequest {
        operational_message_id: updated.operational_message_id.clone(),
        expected_version: updated.version,
        resolution_da: "Fejlen er rettet kl. 11.05.".into(),
        resolution_en: "Fixed at 11:05.".into(),
    };
    for (field, with_pii) in [
        (
            "resolution_da",
            pb::ResolveOperationalMessageRequest {
                resolution_da: "Rettet for borger 010190-1234".into(),
                ..resolve.clone()
            },
        ),
        (
            "resolution_en",
            pb::ResolveOperationalMessageRequest {
                resolution_en: "Fixed for 010190-1234".into(),
                ..resolve.clone()
            },
        ),
    ] {
        let refused = messages(&t)
            .resolve_operational_message(bearer(with_pii, &t.supporter))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field]);
    }
    assert_eq!(
        current(&t, &updated.operational_message_id).await,
        updated,
        "nothing was written"
    );
    let resolved = messages(&t)
        .resolve_operational_message(bearer(resolve.clone(), &t.supporter))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    assert_eq!(resolved.state(), pb::OperationalMessageState::Resolved);
    let twice = messages(&t)
        .resolve_operational_message(bearer(
            pb::ResolveOperationalMessageRequest {
                expected_version: resolved.version,
                ..resolve
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(
        current(&t, &resolved.operational_message_id).await,
        resolved,
        "nothing was written"
    );
    // Its page: what it said at each public step, oldest first; the refusals left no step.
    let shown = public_message(&t, &resolved.operational_message_id)
        .await
        .unwrap();
    let page = shown.operational_message.unwrap();
    assert_eq!(page.resolution_da, "Fejlen er rettet kl. 11.05.");
    let steps: Vec<(pb::OperationalMessageState, &str, &str)> = shown
        .updates
        .iter()
        .map(|u| (u.state(), u.text_da.as_str(), u.resolution_da.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (
                pb::OperationalMessageState::Published,
                "Det er ikke muligt at logge ind i KY.",
                ""
            ),
            (
                pb::OperationalMessageState::Updated,
                "Login virker igen for de fleste; vi følger op.",
                ""
            ),
            (
                pb::OperationalMessageState::Resolved,
                "Login virker igen for de fleste; vi følger op.",
                "Fejlen er rettet kl. 11.05."
            ),
        ]
    );
    assert!(
        shown
            .updates
            .iter()
            .all(|u| u.update_time.is_some() && u.title_en == "Disruption in KY")
    );

    let changes: Vec<String> = t
        .events::<pb::OperationalMessageChanged>("OperationalMessageChanged")
        .await
        .into_iter()
        .map(|e| e.change)
        .collect();
    assert_eq!(
        changes,
        ["create", "update", "publish", "update", "resolve"],
        "one event per change written, none for the refusals"
    );

    let listed = public(&t).await;
    assert!(listed.active.is_empty());
    assert_eq!(listed.recent.len(), 1);
    assert_eq!(
        listed.recent[0].resolution_da,
        "Fejlen er rettet kl. 11.05."
    );

    // Resolved messages leave the public list after the recent days.
    t.clock.advance(Duration::days(15));
    assert!(public(&t).await.recent.is_empty());
    t.at("2025-04-17T07:00:00Z").await;
    let kept = messages(&t)
        .list_operational_messages(bearer(
            pb::ListOperationalMessagesRequest::default(),
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_messages;
    assert_eq!(kept.len(), 1, "the writers still find it");
}

#[tokio::test]
async fn a_message_takes_its_incidents_scope_and_bad_input_writes_nothing() {
    let t = TestCases::start().await;
    let incident = pb::incident_service_client::IncidentServiceClient::new(t.cases.clone())
        .open_incident(bearer(
            pb::OpenIncidentRequest {
                title: "Login fejler".into(),
                system_ids: vec![t.system.clone()],
                scope: pb::IncidentScope::Sporadic as i32,
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .incident
        .unwrap();

    let with_pii = pb::OperationalMessage {
        text_da: "Borger 010190-1234 er berørt".into(),
        ..draft(&t)
    };
    let refused = messages(&t)
        .create_operational_message(bearer(
            pb::CreateOperationalMessageRequest {
                operational_message: Some(with_pii),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["operational_message.text_da"]);
    let cpr = "Borger 010190-1234 er berørt".to_owned();
    type TextField = fn(&mut pb::OperationalMessage) -> &mut String;
    let every_text: [(&str, TextField); 6] = [
        ("title_da", |m| &mut m.title_da),
        ("workaround_da", |m| &mut m.workaround_da),
        ("title_en", |m| &mut m.title_en),
        ("text_en", |m| &mut m.text_en),
        ("workaround_en", |m| &mut m.workaround_en),
        ("text_da", |m| &mut m.text_da),
    ];
    for (field, text) in every_text {
        let mut with_pii = draft(&t);
        *text(&mut with_pii) = cpr.clone();
        let refused = messages(&t)
            .create_operational_message(bearer(
                pb::CreateOperationalMessageRequest {
                    operational_message: Some(with_pii),
                    ..Default::default()
                },
                &t.supporter,
            ))
            .await
            .unwrap_err();
        assert_eq!(
            violated_fields(&refused),
            [format!("operational_message.{field}")]
        );
    }
    let reversed = pb::OperationalMessage {
        expected_end_time: time("2025-04-02T06:00:00Z"),
        title_en: String::new(),
        ..draft(&t)
    };
    let refused = messages(&t)
        .create_operational_message(bearer(
            pb::CreateOperationalMessageRequest {
                operational_message: Some(reversed),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "operational_message.expected_end_time",
            "operational_message.title_en"
        ]
    );
    let by_reporter = messages(&t)
        .create_operational_message(bearer(
            pb::CreateOperationalMessageRequest {
                operational_message: Some(draft(&t)),
                ..Default::default()
            },
            &t.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(by_reporter.code(), Code::PermissionDenied);
    let listed = messages(&t)
        .list_operational_messages(bearer(
            pb::ListOperationalMessagesRequest::default(),
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_messages;
    assert!(listed.is_empty(), "nothing was written");

    let about_incident = messages(&t)
        .create_operational_message(bearer(
            pb::CreateOperationalMessageRequest {
                operational_message: Some(pb::OperationalMessage {
                    incident_id: incident.incident_id.clone(),
                    ..draft(&t)
                }),
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    let published = messages(&t)
        .publish_operational_message(bearer(
            pb::PublishOperationalMessageRequest {
                operational_message_id: about_incident.operational_message_id.clone(),
                expected_version: about_incident.version,
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    assert_eq!(published.scope(), pb::IncidentScope::Sporadic);
    assert_eq!(published.incident_id, incident.incident_id);
    let shown = public(&t).await;
    assert_eq!(shown.active.len(), 1);
    assert!(
        shown.active[0].incident_id.is_empty(),
        "the public does not see the incident"
    );
    let page = public_message(&t, &published.operational_message_id)
        .await
        .unwrap()
        .operational_message
        .unwrap();
    assert!(page.incident_id.is_empty(), "nor on the message's page");
}
