//! Subscriptions: who hears what, and bad ones refused with nothing written.

use tonic::Code;
use tonic_types::StatusExt;

use super::*;

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn topic(kind: pb::TopicKind, target_id: &str) -> Option<pb::Topic> {
    Some(pb::Topic {
        kind: kind as i32,
        target_id: target_id.into(),
    })
}

#[tokio::test]
async fn bad_subscriptions_are_refused_and_nothing_is_written() {
    let s = Suite::start().await;
    let mut options = s.notify_options(&fresh_database_url("notify").await, free_port().await);
    options.webhook_hosts = kommune_notify::domain::WebhookHosts::parse("*.office.com").unwrap();
    let (notify, _running, _) = s.notify(options).await;
    let refused = async |subscription: pb::Subscription| {
        s.subscribe(&notify, subscription).await.unwrap_err()
    };

    let unknown_kind = refused(pb::Subscription {
        topic: None,
        channel: pb::Channel::Inbox as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(violated_fields(&unknown_kind), ["subscription.topic.kind"]);
    let unknown_system = refused(pb::Subscription {
        topic: topic(
            pb::TopicKind::OperationalMessages,
            &uuid::Uuid::now_v7().to_string(),
        ),
        channel: pb::Channel::Inbox as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(unknown_system.code(), Code::NotFound);
    // Case updates are about no one thing: a target is refused, not ignored.
    let targeted = refused(pb::Subscription {
        topic: topic(
            pb::TopicKind::CaseUpdates,
            &uuid::Uuid::now_v7().to_string(),
        ),
        channel: pb::Channel::Inbox as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(targeted.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&targeted), ["subscription.topic.target_id"]);
    let bad_mail = refused(pb::Subscription {
        topic: topic(pb::TopicKind::CaseUpdates, ""),
        channel: pb::Channel::Email as i32,
        email_address: "not-an-address".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(violated_fields(&bad_mail), ["subscription.email_address"]);
    let ftp = refused(pb::Subscription {
        topic: topic(pb::TopicKind::CaseUpdates, ""),
        channel: pb::Channel::Webhook as i32,
        webhook_url: "ftp://example.org/hook".into(),
        webhook_secret: "short".into(),
        ..Default::default()
    })
    .await;
    let mut fields = violated_fields(&ftp);
    fields.sort();
    assert_eq!(
        fields,
        ["subscription.webhook_secret", "subscription.webhook_url"]
    );
    // Webhooks go only to the hosts the operator allows: not into the service's own network.
    let internal = refused(pb::Subscription {
        topic: topic(pb::TopicKind::CaseUpdates, ""),
        channel: pb::Channel::Webhook as i32,
        webhook_url: "http://169.254.169.254/latest/meta-data".into(),
        webhook_secret: "0123456789abcdef".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(violated_fields(&internal), ["subscription.webhook_url"]);
    let someone_else = refused(pb::Subscription {
        user_id: uuid::Uuid::now_v7().to_string(),
        topic: topic(pb::TopicKind::CaseUpdates, ""),
        channel: pb::Channel::Inbox as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(someone_else.code(), Code::PermissionDenied);

    let listed = pb::subscription_service_client::SubscriptionServiceClient::new(notify.clone())
        .list_subscriptions(bearer(pb::ListSubscriptionsRequest::default(), &s.reporter))
        .await
        .unwrap()
        .into_inner()
        .subscriptions;
    assert!(listed.is_empty(), "nothing was written");

    // A good one, then the same again.
    let good = pb::Subscription {
        topic: topic(pb::TopicKind::OperationalMessages, &s.system),
        channel: pb::Channel::Webhook as i32,
        webhook_url: "https://outlook.office.com/webhook/abc".into(),
        webhook_secret: "0123456789abcdef".into(),
        ..Default::default()
    };
    let created = s.subscribe(&notify, good.clone()).await.unwrap();
    assert!(
        created.webhook_secret.is_empty(),
        "the secret is never returned"
    );
    assert_eq!(created.language(), pb::Language::Danish);
    let twice = refused(good).await;
    assert_eq!(twice.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn opting_out_silences_a_default_topic() {
    let s = Suite::start().await;
    let (smtp, notify, _running, _) = s.notify_with_relay().await;
    let colleague = eligible_user(
        &s.identity,
        &s.admin,
        &s.municipality,
        "colleague@aarhus.dk",
    )
    .await;
    // Someone of another municipality cannot subscribe their way into Aarhus' cases.
    let odense = s.municipality("461", "Odense Kommune", "35209115").await;
    let stranger = eligible_user(&s.identity, &s.admin, &odense, "cw@odense.dk").await;
    let stranger_token = user_token(&s.identity, &s.admin, &stranger).await;
    pb::subscription_service_client::SubscriptionServiceClient::new(notify.clone())
        .create_subscription(bearer(
            pb::CreateSubscriptionRequest {
                subscription: Some(pb::Subscription {
                    topic: topic(pb::TopicKind::CaseUpdates, ""),
                    channel: pb::Channel::Inbox as i32,
                    ..Default::default()
                }),
            },
            &stranger_token,
        ))
        .await
        .unwrap();
    s.subscribe(
        &notify,
        pb::Subscription {
            topic: topic(pb::TopicKind::CaseUpdates, ""),
            opted_out: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.file("Forkert beløb").await;
    // The colleague, support-eligible for the same municipality, hears of it; the reporter (opted
    // out) and the stranger (subscribed, but not concerned) do not.
    eventually("the colleague's mail arrives", async || {
        !smtp.messages().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|n| n.user_id == colleague));
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        header(&messages[0], "X-RcptTo").as_deref(),
        Some("colleague@aarhus.dk")
    );
}

#[tokio::test]
async fn an_anonymised_person_leaves_no_subscription_address_or_text_behind() {
    let s = Suite::start().await;
    let port = free_port().await;
    let _smtp = SmtpServer::start(port).await;
    let (notify, _running, _) = s
        .notify(s.notify_options(&fresh_database_url("notify").await, port))
        .await;
    s.subscribe(
        &notify,
        pb::Subscription {
            topic: topic(pb::TopicKind::CaseUpdates, ""),
            channel: pb::Channel::Email as i32,
            email_address: "privat@example.dk".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.file("Forkert beløb").await;
    eventually("the reporter's mail is sent", async || {
        !s.notifications(&notify, pb::DeliveryState::Delivered)
            .await
            .is_empty()
    })
    .await;

    id::user_service_client::UserServiceClient::new(s.identity.clone())
        .anonymize_user(bearer(
            id::AnonymizeUserRequest {
                user_id: s.reporter_id.clone(),
            },
            &s.admin,
        ))
        .await
        .unwrap();
    let mut subscriptions =
        pb::subscription_service_client::SubscriptionServiceClient::new(notify.clone());
    eventually("the subscriptions are gone", async || {
        subscriptions
            .list_subscriptions(bearer(
                pb::ListSubscriptionsRequest {
                    user_id: s.reporter_id.clone(),
                    ..Default::default()
                },
                &s.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .subscriptions
            .is_empty()
    })
    .await;
    let kept = s
        .notifications(&notify, pb::DeliveryState::Unspecified)
        .await;
    assert!(!kept.is_empty());
    assert!(
        kept.iter()
            .all(|n| n.subject.is_empty() && n.text.is_empty()),
        "{kept:?}"
    );
}
