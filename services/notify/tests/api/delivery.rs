//! Delivery: e-mail, inbox and webhooks, once each, through relay outages, restarts and two replicas;
//! nothing sent that holds a personal ID number.

use hmac::{Hmac, Mac};
use kommune_proto::common::v1::AuditRecord;
use prost::Name;
use sha2::Sha256;

use super::*;

/// The signature a receiver computes: HMAC-SHA256 of `<timestamp>.<body>` under the shared secret.
fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The reporter's subscription to case updates by webhook (their e-mail and inbox then come only
/// from subscriptions too, so each case filed makes exactly one webhook call and one e-mail).
async fn case_updates_by_webhook_and_mail(s: &Suite, notify: &Channel, hook: &WebhookReceiver) {
    for (channel, url, secret) in [
        (
            pb::Channel::Webhook,
            hook.url.clone(),
            "0123456789abcdef0123".to_owned(),
        ),
        (pb::Channel::Email, String::new(), String::new()),
    ] {
        s.subscribe(
            notify,
            pb::Subscription {
                topic: Some(pb::Topic {
                    kind: pb::TopicKind::CaseUpdates as i32,
                    target_id: String::new(),
                }),
                channel: channel as i32,
                webhook_url: url,
                webhook_secret: secret,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_filed_case_reaches_the_reporter_by_mail_and_inbox_once() {
    let s = Suite::start().await;
    let (smtp, notify, _running, _) = s.notify_with_relay().await;
    let case = s.file("Forkert beløb").await;

    eventually("the mail arrives", async || !smtp.messages().is_empty()).await;
    let inbox = s.reporter_inbox(&notify).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].subject,
        format!("Sag {} er oprettet: Forkert beløb", case.number)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "once");
    let mail = &messages[0];
    assert_eq!(
        header(mail, "X-RcptTo").as_deref(),
        Some("reporter@aarhus.dk")
    );
    assert!(mail.contains("multipart/alternative"));
    assert!(mail.contains("text/plain") && mail.contains("text/html"));
    let delivered = s.notifications(&notify, pb::DeliveryState::Delivered).await;
    let email = delivered
        .iter()
        .find(|n| n.channel() == pb::Channel::Email)
        .unwrap();
    assert_eq!(header(mail, "Message-ID"), Some(email.message_id.clone()));

    // Marked read, the inbox item leaves the unread list.
    let mut inbox_client = pb::inbox_service_client::InboxServiceClient::new(notify.clone());
    inbox_client
        .mark_inbox_item_read(bearer(
            pb::MarkInboxItemReadRequest {
                inbox_item_id: inbox[0].inbox_item_id.clone(),
            },
            &s.reporter,
        ))
        .await
        .unwrap();
    let unread = inbox_client
        .list_inbox(bearer(
            pb::ListInboxRequest {
                unread_only: true,
                ..Default::default()
            },
            &s.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(unread.is_empty());
}

#[tokio::test]
async fn mail_waits_while_the_relay_is_down_and_arrives_once_when_it_is_up() {
    let s = Suite::start().await;
    let port = free_port().await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, port))
        .await;
    for n in 0..3 {
        s.file(&format!("Fejl {n}")).await;
    }
    eventually("attempts fail while the relay is down", async || {
        let pending = s.notifications(&notify, pb::DeliveryState::Pending).await;
        pending.len() == 3
            && pending
                .iter()
                .all(|n| n.attempts >= 2 && !n.last_error.is_empty())
    })
    .await;

    let smtp = SmtpServer::start(port).await;
    eventually("every mail is delivered", async || {
        s.notifications(&notify, pb::DeliveryState::Pending)
            .await
            .is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = smtp.message_ids();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(all_distinct(&ids));
    smtp.stop().await;
}

#[tokio::test]
async fn a_graceful_restart_mid_delivery_sends_nothing_twice() {
    let s = Suite::start().await;
    let port = free_port().await;
    let smtp = SmtpServer::start(port).await;
    // A slow receiver, so the restart falls in the middle of the deliveries.
    let hook = WebhookReceiver::start(Duration::from_millis(150)).await;
    let database_url = fresh_database_url("notify").await;
    let (notify, first, _) = s.notify(s.notify_options(&database_url, port)).await;
    case_updates_by_webhook_and_mail(&s, &notify, &hook).await;
    const CASES: usize = 12;
    for n in 0..CASES {
        s.file(&format!("Fejl {n}")).await;
    }
    eventually("some webhooks arrive", async || hook.received().len() >= 2).await;
    first.stop().await;
    assert!(
        hook.received().len() < CASES,
        "the restart came before the end"
    );

    let (notify, _second, _) = s.notify(s.notify_options(&database_url, port)).await;
    eventually("everything is delivered", async || {
        hook.received().len() >= CASES && smtp.message_ids().len() >= CASES
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hooked: Vec<String> = hook
        .received()
        .into_iter()
        .map(|h| h.notification_id)
        .collect();
    assert_eq!(hooked.len(), CASES);
    assert!(all_distinct(&hooked), "a webhook came twice");
    let mailed = smtp.message_ids();
    assert_eq!(mailed.len(), CASES);
    assert!(all_distinct(&mailed), "a mail came twice");
    assert!(
        s.notifications(&notify, pb::DeliveryState::Pending)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn two_replicas_on_one_database_deliver_each_message_once() {
    let s = Suite::start().await;
    let port = free_port().await;
    let smtp = SmtpServer::start(port).await;
    // A batch (5 × 300 ms) outlasts the lease (1 s): each claim must be renewed before its attempt,
    // or the other replica would take and send the batch's later notifications too.
    let hook = WebhookReceiver::start(Duration::from_millis(300)).await;
    let database_url = fresh_database_url("notify").await;
    let options = || {
        let mut options = s.notify_options(&database_url, port);
        options.delivery.lease = chrono::Duration::seconds(1);
        options
    };
    let (notify, _a, _) = s.notify(options()).await;
    let (_, _b, _) = s.notify(options()).await;
    case_updates_by_webhook_and_mail(&s, &notify, &hook).await;
    const CASES: usize = 10;
    for n in 0..CASES {
        s.file(&format!("Fejl {n}")).await;
    }
    eventually("everything is delivered", async || {
        hook.received().len() >= CASES && smtp.message_ids().len() >= CASES
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let hooked: Vec<String> = hook
        .received()
        .into_iter()
        .map(|h| h.notification_id)
        .collect();
    assert_eq!(hooked.len(), CASES, "{hooked:?}");
    assert!(all_distinct(&hooked));
    let mailed = smtp.message_ids();
    assert_eq!(mailed.len(), CASES, "{mailed:?}");
    assert!(all_distinct(&mailed));

    // Each webhook request is signed with the subscription's secret over its timestamp and body.
    for request in hook.received() {
        let timestamp: i64 = request.timestamp.parse().unwrap();
        assert_eq!(
            request.signature,
            signature("0123456789abcdef0123", timestamp, &request.body)
        );
        let card: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(card["@type"], "MessageCard");
    }
}

#[tokio::test]
async fn a_personal_id_number_in_an_event_is_never_sent() {
    let s = Suite::start().await;
    let (smtp, notify, _running, registry) = s.notify_with_relay().await;
    // An upstream event whose text holds a CPR number (cases refuses such text; notify does not trust
    // its feeds to).
    let resolved = cases::IncidentResolved {
        incident_id: uuid::Uuid::now_v7().to_string(),
        cases: vec![cases::LinkedCase {
            case_id: uuid::Uuid::now_v7().to_string(),
            municipality_id: uuid::Uuid::now_v7().to_string(),
            reporter_user_id: s.reporter_id.clone(),
        }],
        cases_resolved: true,
        title: "Login fejler".into(),
        text: "Rettet for borger 010190-1234".into(),
    };
    let event = kommune_proto::common::v1::EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: cases::IncidentResolved::full_name(),
        payload: Some(prost_types::Any::from_msg(&resolved).unwrap()),
        ..Default::default()
    };
    registry.on_event("cases", event).await.unwrap();

    let dead = s.notifications(&notify, pb::DeliveryState::Dead).await;
    assert_eq!(dead.len(), 2, "e-mail and inbox: {dead:?}");
    for notification in &dead {
        assert!(notification.last_error.contains("personal ID number"));
        assert!(!notification.text.contains("010190"));
        let trail = pb::audit_service_client::AuditServiceClient::new(notify.clone())
            .list_audit_records(bearer(
                pb::ListAuditRecordsRequest {
                    entity_type: "notification".into(),
                    entity_id: notification.notification_id.clone(),
                    ..Default::default()
                },
                &s.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .records;
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0].action, "dead-letter");
    }
    let retry = pb::delivery_service_client::DeliveryServiceClient::new(notify.clone())
        .retry_notification(bearer(
            pb::RetryNotificationRequest {
                notification_id: dead[0].notification_id.clone(),
            },
            &s.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(retry.code(), tonic::Code::FailedPrecondition);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(smtp.messages().is_empty(), "nothing was sent");
    let inbox = s.reporter_inbox(&notify).await;
    assert!(
        inbox.is_empty(),
        "a stopped message never reaches the inbox"
    );
}

#[tokio::test]
async fn operational_messages_reach_subscribers_signed_and_the_public_atom_feed() {
    let s = Suite::start().await;
    let hook = WebhookReceiver::start(Duration::ZERO).await;
    let (_smtp, notify, _running, _) = s.notify_with_relay().await;
    s.subscribe(
        &notify,
        pb::Subscription {
            topic: Some(pb::Topic {
                kind: pb::TopicKind::OperationalMessages as i32,
                target_id: s.system.clone(),
            }),
            channel: pb::Channel::Webhook as i32,
            webhook_url: hook.url.clone(),
            webhook_secret: "teams-channel-secret-42".into(),
            language: pb::Language::English as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut messages =
        cases::operational_message_service_client::OperationalMessageServiceClient::new(
            s.cases.clone(),
        );
    let draft = messages
        .create_operational_message(bearer(
            cases::CreateOperationalMessageRequest {
                operational_message: Some(cases::OperationalMessage {
                    title_da: "Driftsforstyrrelse i KY".into(),
                    text_da: "Login fejler.".into(),
                    title_en: "Disruption in KY".into(),
                    text_en: "Login fails.".into(),
                    workaround_en: "Use the direct address.".into(),
                    system_ids: vec![s.system.clone()],
                    scope: cases::IncidentScope::General as i32,
                    start_time: Some(kommune_platform::clock::to_timestamp(chrono::Utc::now())),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .operational_message
        .unwrap();
    messages
        .publish_operational_message(bearer(
            cases::PublishOperationalMessageRequest {
                operational_message_id: draft.operational_message_id.clone(),
                expected_version: draft.version,
            },
            &s.supporter,
        ))
        .await
        .unwrap();

    eventually("the webhook is called", async || {
        !hook.received().is_empty()
    })
    .await;
    let request = &hook.received()[0];
    let timestamp: i64 = request.timestamp.parse().unwrap();
    assert_eq!(
        request.signature,
        signature("teams-channel-secret-42", timestamp, &request.body)
    );
    let card: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(card["title"], "Disruption in KY");
    assert!(
        card["text"]
            .as_str()
            .unwrap()
            .contains("Workaround: Use the direct address.")
    );

    // The public feed, without a token.
    let feed = pb::feed_service_client::FeedServiceClient::new(notify.clone())
        .get_operational_messages_feed(pb::GetOperationalMessagesFeedRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(feed.content_type, "application/atom+xml");
    assert!(
        feed.document
            .contains("<title>Driftsforstyrrelse i KY</title>")
    );
    assert!(feed.document.contains(&draft.operational_message_id));
    assert!(
        !feed.document.contains("<link"),
        "no links unless asked for"
    );

    // One system's feed, linking to the pages of an operations site.
    let mut feeds = pb::feed_service_client::FeedServiceClient::new(notify.clone());
    let of_system = |system_id: &str| pb::GetOperationalMessagesFeedRequest {
        system_id: system_id.into(),
        entry_url_prefix: "https://drift.example.dk/driftsbeskeder/".into(),
        self_url: "https://drift.example.dk/feed.atom".into(),
        ..Default::default()
    };
    let own = feeds
        .get_operational_messages_feed(of_system(&s.system))
        .await
        .unwrap()
        .into_inner()
        .document;
    assert!(own.contains(&format!(
        r#"<link rel="alternate" type="text/html" href="https://drift.example.dk/driftsbeskeder/{}"/>"#,
        draft.operational_message_id
    )));
    assert!(own.contains(r#"<link rel="self" type="application/atom+xml" href="https://drift.example.dk/feed.atom"/>"#));
    let other = feeds
        .get_operational_messages_feed(of_system(&uuid::Uuid::new_v4().to_string()))
        .await
        .unwrap()
        .into_inner()
        .document;
    assert!(!other.contains("<entry>"), "another system's feed is empty");
    let refused = feeds
        .get_operational_messages_feed(pb::GetOperationalMessagesFeedRequest {
            system_id: "KY".into(),
            entry_url_prefix: "javascript:alert(1)".into(),
            self_url: "/feed.atom".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["system_id", "entry_url_prefix", "self_url"]
    );
}

/// An entity's audit trail, as a consortium admin reads it.
async fn trail(s: &Suite, notify: &Channel, entity_type: &str, id: &str) -> Vec<AuditRecord> {
    pb::audit_service_client::AuditServiceClient::new(notify.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: entity_type.into(),
                entity_id: id.into(),
                ..Default::default()
            },
            &s.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records
}

/// Retries a dead notification as the supplier's support.
async fn retry(s: &Suite, notify: &Channel, id: &str) -> pb::Notification {
    pb::delivery_service_client::DeliveryServiceClient::new(notify.clone())
        .retry_notification(bearer(
            pb::RetryNotificationRequest {
                notification_id: id.into(),
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .notification
        .unwrap()
}

/// Waits until a notification is dead, and returns it.
async fn dead_eventually(s: &Suite, notify: &Channel, channel: pb::Channel) -> pb::Notification {
    eventually("a notification is given up", async || {
        s.notifications(notify, pb::DeliveryState::Dead)
            .await
            .iter()
            .any(|n| n.channel() == channel)
    })
    .await;
    let dead: Vec<pb::Notification> = s
        .notifications(notify, pb::DeliveryState::Dead)
        .await
        .into_iter()
        .filter(|n| n.channel() == channel)
        .collect();
    assert_eq!(dead.len(), 1, "{dead:?}");
    dead.into_iter().next().unwrap()
}

#[tokio::test]
async fn mail_whose_retries_run_out_is_dead_lettered_and_arrives_once_retried() {
    let s = Suite::start().await;
    let port = free_port().await;
    let mut options = s.notify_options(&fresh_database_url("notify").await, port);
    options.delivery.retry.attempts = 3;
    let (notify, _running, _) = s.notify(options).await;
    s.file("Forkert beløb").await;

    // No relay: three attempts, then the dead-letter list with the reason, and an audit record.
    let dead = dead_eventually(&s, &notify, pb::Channel::Email).await;
    assert_eq!(dead.attempts, 3);
    assert!(!dead.last_error.is_empty());
    let records = trail(&s, &notify, "notification", &dead.notification_id).await;
    assert_eq!(
        records
            .iter()
            .map(|r| r.action.as_str())
            .collect::<Vec<_>>(),
        ["dead-letter"]
    );
    assert!(records[0].payload_json.contains(&dead.last_error));

    // The relay is back: an operator's retry sends it, once, with the same Message-ID.
    let smtp = SmtpServer::start(port).await;
    let retried = retry(&s, &notify, &dead.notification_id).await;
    assert_eq!(retried.state(), pb::DeliveryState::Pending);
    assert_eq!(retried.attempts, 0);
    eventually("the retried mail arrives", async || {
        !smtp.messages().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.message_ids(), std::slice::from_ref(&dead.message_id));
    let delivered = s.notifications(&notify, pb::DeliveryState::Delivered).await;
    assert!(
        delivered
            .iter()
            .any(|n| n.notification_id == dead.notification_id && n.last_error.is_empty())
    );
    let records = trail(&s, &notify, "notification", &dead.notification_id).await;
    assert_eq!(
        records
            .iter()
            .map(|r| r.action.as_str())
            .collect::<Vec<_>>(),
        ["dead-letter", "retry"]
    );
}

#[tokio::test]
async fn a_webhook_gone_for_good_is_dead_at_once_and_its_signature_holds_only_with_its_secret() {
    let s = Suite::start().await;
    let hook = WebhookReceiver::start(Duration::ZERO).await;
    hook.answer(410);
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, free_port().await))
        .await;
    let secret = "0123456789abcdef0123";
    s.subscribe(
        &notify,
        pb::Subscription {
            topic: Some(pb::Topic {
                kind: pb::TopicKind::CaseUpdates as i32,
                target_id: String::new(),
            }),
            channel: pb::Channel::Webhook as i32,
            webhook_url: hook.url.clone(),
            webhook_secret: secret.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.file("Forkert beløb").await;

    // 410 Gone: trying again cannot help, so there is no second attempt.
    let dead = dead_eventually(&s, &notify, pb::Channel::Webhook).await;
    assert_eq!(dead.attempts, 1);
    assert_eq!(dead.last_error, "the webhook answered 410 Gone");
    let records = trail(&s, &notify, "notification", &dead.notification_id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].action, "dead-letter");
    assert!(records[0].payload_json.contains("410 Gone"));
    assert_eq!(hook.received().len(), 1);

    hook.answer(200);
    retry(&s, &notify, &dead.notification_id).await;
    eventually("the retried webhook is delivered", async || {
        s.notifications(&notify, pb::DeliveryState::Delivered)
            .await
            .iter()
            .any(|n| n.notification_id == dead.notification_id)
    })
    .await;
    let received = hook.received();
    assert_eq!(received.len(), 2);
    // The receiver's check: it holds under the subscription's secret and fails under any other.
    for request in &received {
        assert_eq!(request.notification_id, dead.notification_id);
        let timestamp: i64 = request.timestamp.parse().unwrap();
        assert_eq!(
            request.signature,
            signature(secret, timestamp, &request.body)
        );
        assert_ne!(
            request.signature,
            signature("0123456789abcdef0124", timestamp, &request.body)
        );
    }
}

#[tokio::test]
async fn a_subscription_changed_to_english_mail_is_heard_so_and_once_deleted_the_defaults_return() {
    let s = Suite::start().await;
    let (smtp, notify, _running, _) = s.notify_with_relay().await;
    let case_updates = Some(pb::Topic {
        kind: pb::TopicKind::CaseUpdates as i32,
        target_id: String::new(),
    });
    let created = s
        .subscribe(
            &notify,
            pb::Subscription {
                topic: case_updates.clone(),
                channel: pb::Channel::Inbox as i32,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut subscriptions =
        pb::subscription_service_client::SubscriptionServiceClient::new(notify.clone());
    let to_english_mail = |version: i64| pb::UpdateSubscriptionRequest {
        subscription: Some(pb::Subscription {
            subscription_id: created.subscription_id.clone(),
            version,
            topic: case_updates.clone(),
            channel: pb::Channel::Email as i32,
            language: pb::Language::English as i32,
            ..Default::default()
        }),
    };
    let updated = subscriptions
        .update_subscription(bearer(to_english_mail(created.version), &s.reporter))
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap();
    assert_eq!(updated.version, created.version + 1);
    assert_eq!(updated.channel(), pb::Channel::Email);
    assert_eq!(updated.language(), pb::Language::English);
    let stale = subscriptions
        .update_subscription(bearer(to_english_mail(created.version), &s.reporter))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), tonic::Code::Aborted);

    // Mail only (the subscription chose it over the defaults), in English.
    let case = s.file("Wrong amount").await;
    eventually("the mail arrives", async || !smtp.messages().is_empty()).await;
    let subject = format!("Case {} was filed: Wrong amount", case.number);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(header(&messages[0], "Subject"), Some(subject.clone()));
    assert!(messages[0].contains("The case was received and will be handled by support."));
    let all = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].subject, subject);

    subscriptions
        .delete_subscription(bearer(
            pb::DeleteSubscriptionRequest {
                subscription_id: created.subscription_id.clone(),
            },
            &s.reporter,
        ))
        .await
        .unwrap();
    let listed = subscriptions
        .list_subscriptions(bearer(pb::ListSubscriptionsRequest::default(), &s.reporter))
        .await
        .unwrap()
        .into_inner()
        .subscriptions;
    assert!(listed.is_empty());
    let records = trail(&s, &notify, "subscription", &created.subscription_id).await;
    assert_eq!(
        records
            .iter()
            .map(|r| r.action.as_str())
            .collect::<Vec<_>>(),
        ["create", "update", "delete"]
    );

    // Deleted, the defaults are back: e-mail and inbox, in Danish.
    let second = s.file("Udbetalingen stopper").await;
    eventually("the second mail arrives", async || {
        smtp.messages().len() == 2
    })
    .await;
    let inbox = s.reporter_inbox(&notify).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        inbox[0].subject,
        format!("Sag {} er oprettet: Udbetalingen stopper", second.number)
    );
}

#[tokio::test]
async fn a_case_reported_to_the_supplier_is_mailed_to_its_contacts_in_one_thread() {
    let s = Suite::start().await;
    let (smtp, _notify, _running, _) = s.notify_with_relay().await;
    let mut reference =
        cases::reference_service_client::ReferenceServiceClient::new(s.cases.clone());
    let mut system = reference
        .list_systems(bearer(cases::ListSystemsRequest {}, &s.admin))
        .await
        .unwrap()
        .into_inner()
        .systems
        .into_iter()
        .find(|system| system.system_id == s.system)
        .unwrap();
    system.supplier_contacts = vec![cases::SupplierContact {
        name: "Driftsvagten".into(),
        email: "drift@leverandor.dk".into(),
    }];
    reference
        .update_system(bearer(
            cases::UpdateSystemRequest {
                system: Some(system),
            },
            &s.admin,
        ))
        .await
        .unwrap();
    let case = s.file("Omregning fejler").await;
    let mut desk = cases::case_service_client::CaseServiceClient::new(s.cases.clone());
    let report = desk
        .report_case_to_supplier(bearer(
            cases::ReportCaseToSupplierRequest {
                idempotency_key: "rapport-1".into(),
                case_id: case.case_id.clone(),
                text: "Beløbet er forkert efter omregning.".into(),
            },
            &s.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .mail
        .unwrap();
    let mut case = case;
    for transition in [cases::Transition::Triage, cases::Transition::Start] {
        case = desk
            .transition_case(bearer(
                cases::TransitionCaseRequest {
                    case_id: case.case_id.clone(),
                    expected_version: case.version,
                    transition: transition as i32,
                    ..Default::default()
                },
                &s.supporter,
            ))
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap();
    }
    desk.transition_case(bearer(
        cases::TransitionCaseRequest {
            case_id: case.case_id.clone(),
            expected_version: case.version,
            transition: cases::Transition::Resolve as i32,
            resolution: cases::Resolution::Fixed as i32,
            ..Default::default()
        },
        &s.supporter,
    ))
    .await
    .unwrap();

    let to_supplier = || -> Vec<String> {
        let mut mails: Vec<String> = smtp
            .messages()
            .into_iter()
            .filter(|m| header(m, "X-RcptTo").as_deref() == Some("drift@leverandor.dk"))
            .collect();
        mails.sort_by_key(|m| header(m, "Date"));
        mails
    };
    eventually("both mails reach the supplier", async || {
        to_supplier().len() >= 2
    })
    .await;
    let parser = mail_parser::MessageParser::default();
    let mails: Vec<_> = to_supplier();
    let mut parsed: Vec<_> = mails
        .iter()
        .map(|m| parser.parse(m.as_bytes()).unwrap())
        .collect();
    parsed.sort_by_key(|m| m.subject().map(|s| s.starts_with("Løst")));
    let (first, resolution) = (&parsed[0], &parsed[1]);
    assert_eq!(
        first.subject(),
        Some(format!("[{}] Omregning fejler", case.number).as_str())
    );
    assert_eq!(
        Some(first.message_id().unwrap()),
        report
            .message_id
            .strip_prefix('<')
            .and_then(|id| id.strip_suffix('>'))
    );
    let body = first.body_text(0).unwrap();
    assert!(
        body.contains("Beløbet er forkert efter omregning."),
        "{body}"
    );
    assert!(body.contains("Reply to this mail"), "{body}");
    assert_eq!(
        resolution.subject(),
        Some(format!("Løst / Resolved: [{}] Omregning fejler", case.number).as_str())
    );
    assert_eq!(resolution.in_reply_to().as_text(), first.message_id());
    assert_eq!(resolution.references().as_text(), first.message_id());
    assert!(
        resolution
            .body_text(0)
            .unwrap()
            .contains("Case {} is resolved".replace("{}", &case.number).as_str())
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(to_supplier().len(), 2, "each mail once");
}

#[tokio::test]
async fn a_mail_refused_for_a_personal_id_number_is_answered_to_its_sender_once() {
    let s = Suite::start().await;
    let (smtp, _notify, _running, registry) = s.notify_with_relay().await;
    let refused = cases::InboundMailRefused {
        address: "mette@aarhus.dk".into(),
        reason: cases::MailRefusal::PersonalId as i32,
    };
    let event = kommune_proto::common::v1::EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: cases::InboundMailRefused::full_name(),
        payload: Some(prost_types::Any::from_msg(&refused).unwrap()),
        ..Default::default()
    };
    registry.on_event("cases", event.clone()).await.unwrap();
    registry.on_event("cases", event).await.unwrap();
    eventually("the refusal arrives", async || !smtp.messages().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "once");
    assert_eq!(
        header(&messages[0], "X-RcptTo").as_deref(),
        Some("mette@aarhus.dk")
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(messages[0].as_bytes())
        .unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Din mail er afvist / Your mail was refused")
    );
    let body = parsed.body_text(0).unwrap();
    assert!(
        body.contains("CPR-nummer") && body.contains("personal ID number"),
        "{body}"
    );
}
