//! Delivery: e-mail, inbox and webhooks, once each, through relay outages, restarts and two replicas;
//! nothing sent that holds a personal ID number.

use hmac::{Hmac, Mac};
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
    let port = free_port().await;
    let smtp = SmtpServer::start(port).await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, port))
        .await;
    let case = s.file("Forkert beløb").await;

    eventually("the mail arrives", async || !smtp.messages().is_empty()).await;
    let inbox = pb::inbox_service_client::InboxServiceClient::new(notify.clone())
        .list_inbox(bearer(pb::ListInboxRequest::default(), &s.reporter))
        .await
        .unwrap()
        .into_inner()
        .items;
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
    let port = free_port().await;
    let smtp = SmtpServer::start(port).await;
    let (notify, _running, registry) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, port))
        .await;
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
    let inbox = pb::inbox_service_client::InboxServiceClient::new(notify.clone())
        .list_inbox(bearer(pb::ListInboxRequest::default(), &s.reporter))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(
        inbox.is_empty(),
        "a stopped message never reaches the inbox"
    );
}

#[tokio::test]
async fn operational_messages_reach_subscribers_signed_and_the_public_atom_feed() {
    let s = Suite::start().await;
    let port = free_port().await;
    let _smtp = SmtpServer::start(port).await;
    let hook = WebhookReceiver::start(Duration::ZERO).await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, port))
        .await;
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
}
