//! Orders through their steps, with the answers they must give and the municipality they belong to.

use tonic::Code;

use kommune_platform::testing::{reason, violated_fields, with_bearer as bearer};
use pb::OrderState as S;

use super::*;

impl TestCatalogue {
    async fn quote(&self, order: &pb::Order, hours: f64) -> Result<pb::Order, Status> {
        let request = pb::QuoteOrderRequest {
            order_id: order.order_id.clone(),
            expected_version: order.version,
            hours,
            text: "Udtræk og kvalitetssikring".into(),
        };
        Ok(self
            .orders()
            .quote_order(bearer(request, &self.supplier))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    async fn accept(&self, token: &str, order: &pb::Order) -> Result<pb::Order, Status> {
        let request = pb::AcceptQuoteRequest {
            order_id: order.order_id.clone(),
            expected_version: order.version,
        };
        Ok(self
            .orders()
            .accept_quote(bearer(request, token))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    async fn approve(&self, order: &pb::Order) -> Result<pb::Order, Status> {
        let request = pb::ApproveOrderRequest {
            order_id: order.order_id.clone(),
            expected_version: order.version,
        };
        Ok(self
            .orders()
            .approve_order(bearer(request, &self.admin))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    async fn start_delivery(&self, order: &pb::Order) -> Result<pb::Order, Status> {
        let request = pb::StartDeliveryRequest {
            order_id: order.order_id.clone(),
            expected_version: order.version,
        };
        Ok(self
            .orders()
            .start_delivery(bearer(request, &self.supplier))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    async fn deliver(&self, order: &pb::Order) -> Result<pb::Order, Status> {
        let request = pb::MarkDeliveredRequest {
            order_id: order.order_id.clone(),
            expected_version: order.version,
        };
        Ok(self
            .orders()
            .mark_delivered(bearer(request, &self.supplier))
            .await?
            .into_inner()
            .order
            .unwrap())
    }

    async fn list(&self, token: &str, request: pb::ListOrdersRequest) -> Vec<pb::Order> {
        self.orders()
            .list_orders(bearer(request, token))
            .await
            .unwrap()
            .into_inner()
            .orders
    }
}

fn states(order: &pb::Order) -> Vec<i32> {
    order.steps.iter().map(|s| s.state).collect()
}

#[tokio::test]
async fn an_order_goes_through_quote_approval_and_delivery_announcing_each_step() {
    let t = TestCatalogue::start().await;
    let item = t.create(extract()).await.unwrap();
    let (leader_id, leader) = &t.leaders[0];
    let order = t
        .place(leader, &item, 0, extract_answers(&t.caseworker.0))
        .await
        .unwrap();
    assert_eq!(order.number, "BEST-000001");
    assert_eq!(order.state, S::Submitted as i32);
    assert_eq!(order.ordered_by, format!("user:{leader_id}"));
    assert_eq!(order.municipality_id, t.municipalities[0]);
    assert_eq!((order.item_version, order.quantity), (1, 1));
    assert_eq!(order.amount_ore, 0, "an hourly item is priced by its quote");
    assert_eq!(order.answers, extract_answers(&t.caseworker.0));

    // Delivery cannot start before the quote, its acceptance and the approval.
    let early = t.start_delivery(&order).await.unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert!(early.message().contains("quote"), "{}", early.message());

    let quoted = t.quote(&order, 7.5).await.unwrap();
    assert_eq!(quoted.state, S::Quoted as i32);
    assert_eq!(quoted.amount_ore, 712_500);
    assert_eq!(quoted.quote.as_ref().unwrap().amount_ore, 712_500);
    // Only the ordering municipality answers the quote.
    let other = t.accept(&t.leaders[1].1, &quoted).await.unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    let by_supplier = t.accept(&t.supplier, &quoted).await.unwrap_err();
    assert_eq!(by_supplier.code(), Code::PermissionDenied);
    let accepted = t.accept(leader, &quoted).await.unwrap();
    // A step on a version read before is refused.
    let stale = t.accept(leader, &quoted).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let approved = t.approve(&accepted).await.unwrap();
    let delivering = t.start_delivery(&approved).await.unwrap();
    // Five working days from Monday 3 March 2025.
    assert_eq!(delivering.promised_delivery_date, "2025-03-10");
    let delivered = t.deliver(&delivering).await.unwrap();
    assert_eq!(delivered.state, S::Delivered as i32);
    assert_eq!(delivered.delivered_date, "2025-03-03");
    assert_eq!(
        states(&delivered),
        [
            S::Submitted as i32,
            S::Quoted as i32,
            S::Accepted as i32,
            S::Approved as i32,
            S::InDelivery as i32,
            S::Delivered as i32,
        ]
    );

    let events: Vec<pb::OrderStepTaken> = t.events("OrderStepTaken").await;
    let announced: Vec<(i32, i32)> = events.iter().map(|e| (e.previous_state, e.state)).collect();
    assert_eq!(
        announced,
        [
            (S::Unspecified as i32, S::Submitted as i32),
            (S::Submitted as i32, S::Quoted as i32),
            (S::Quoted as i32, S::Accepted as i32),
            (S::Accepted as i32, S::Approved as i32),
            (S::Approved as i32, S::InDelivery as i32),
            (S::InDelivery as i32, S::Delivered as i32),
        ]
    );
    assert!(events.iter().all(|e| e.number == "BEST-000001"
        && e.item_name_en == "Data extract"
        && e.ordered_by == format!("user:{leader_id}")));

    // Every step is in the order's audit chain, which holds.
    let trail = pb::audit_service_client::AuditServiceClient::new(t.catalogue.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "order".into(),
                entity_id: order.order_id.clone(),
                page: None,
            },
            leader,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<_> = trail.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "place",
            "quote",
            "accept_quote",
            "approve",
            "start_delivery",
            "deliver"
        ]
    );
    let verified = pb::audit_service_client::AuditServiceClient::new(t.catalogue.clone())
        .verify_audit_chain(bearer(
            pb::VerifyAuditChainRequest {
                entity_type: "order".into(),
                entity_id: order.order_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert!(verified.valid, "{verified:?}");
}

#[tokio::test]
async fn a_declined_quote_rejects_the_order_and_a_cancelled_order_stops() {
    let t = TestCatalogue::start().await;
    let item = t.create(extract()).await.unwrap();
    let leader = &t.leaders[0].1;
    let order = t
        .place(leader, &item, 1, extract_answers(&t.caseworker.0))
        .await
        .unwrap();
    let quoted = t.quote(&order, 40.0).await.unwrap();
    let no_reason = t
        .orders()
        .decline_quote(bearer(
            pb::DeclineQuoteRequest {
                order_id: quoted.order_id.clone(),
                expected_version: quoted.version,
                reason: " ".into(),
            },
            leader,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&no_reason), ["reason"]);
    let declined = t
        .orders()
        .decline_quote(bearer(
            pb::DeclineQuoteRequest {
                order_id: quoted.order_id.clone(),
                expected_version: quoted.version,
                reason: "For dyrt i år".into(),
            },
            leader,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(declined.state, S::Rejected as i32);
    assert_eq!(declined.steps.last().unwrap().reason, "For dyrt i år");
    let after_end = t.approve(&declined).await.unwrap_err();
    assert_eq!(after_end.code(), Code::FailedPrecondition);

    // An order of an item needing nothing goes straight to delivery, and cannot be cancelled then.
    let seats = t.create(seats()).await.unwrap();
    let caseworker = &t.caseworker.1;
    let order = t.place(caseworker, &seats, 3, vec![]).await.unwrap();
    assert_eq!(order.amount_ore, 750_000);
    let no_quote = t.quote(&order, 1.0).await.unwrap_err();
    assert!(
        no_quote.message().contains("needs no quote"),
        "{}",
        no_quote.message()
    );
    let delivering = t.start_delivery(&order).await.unwrap();
    assert_eq!(delivering.promised_delivery_date, "2025-03-05");
    let late = t
        .orders()
        .cancel_order(bearer(
            pb::CancelOrderRequest {
                order_id: delivering.order_id.clone(),
                expected_version: delivering.version,
                reason: "Ikke længere nødvendigt".into(),
            },
            caseworker,
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn answers_that_do_not_fit_are_refused_and_nothing_is_written() {
    let t = TestCatalogue::start().await;
    let item = t.create(extract()).await.unwrap();
    let leader = &t.leaders[0].1;
    use pb::answer::Value;
    // A personal ID number is refused before anything is compared with the item.
    let mut with_cpr = extract_answers(&t.caseworker.0);
    with_cpr[0] = answer("purpose", Value::Text("Borger 010203-1234 mangler".into()));
    let refused = t.place(leader, &item, 1, with_cpr).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["answers[0].text"]);
    assert_eq!(reason(&refused), "PERSONAL_ID_IN_TEXT");
    let mut with_number = extract_answers(&t.caseworker.0);
    with_number[0] = answer("purpose", Value::Number(3_112_901_234.0));
    let refused = t.place(leader, &item, 1, with_number).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["answers[0].number"]);
    assert_eq!(reason(&refused), "PERSONAL_ID_IN_TEXT");

    let answers = vec![
        answer("purpose", Value::Number(1.0)),
        answer("format", Value::Choice("PDF".into())),
        answer("needed_by", Value::Number(3.0)),
        answer("contact", Value::UserId(t.leaders[1].0.clone())),
        answer("colour", Value::Text("blå".into())),
    ];
    let refused = t.place(leader, &item, 1, answers).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "answers[0]",
            "answers[1].choice",
            "answers[2]",
            "answers[4].key",
        ]
    );
    // Once the answers fit, the users they name are asked of identity.
    let theirs = t
        .place(leader, &item, 1, extract_answers(&t.leaders[1].0))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&theirs), ["answers[3].user_id"]);
    let missing = t.place(leader, &item, 1, vec![]).await.unwrap_err();
    assert_eq!(violated_fields(&missing), ["answers", "answers", "answers"]);
    let seats = t.create(seats()).await.unwrap();
    let no_quantity = t.place(leader, &seats, 0, vec![]).await.unwrap_err();
    assert_eq!(violated_fields(&no_quantity), ["quantity"]);
    let too_many = t
        .place(leader, &item, 2, extract_answers(&t.caseworker.0))
        .await;
    assert_eq!(violated_fields(&too_many.unwrap_err()), ["quantity"]);

    assert!(
        t.list(&t.admin, pb::ListOrdersRequest::default())
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn who_may_order_and_withdrawn_items() {
    let t = TestCatalogue::start().await;
    let item = t.create(extract()).await.unwrap();
    // Project leaders only, by default; suite-wide users order for no municipality.
    let caseworker = t
        .place(&t.caseworker.1, &item, 1, extract_answers(&t.caseworker.0))
        .await
        .unwrap_err();
    assert_eq!(caseworker.code(), Code::PermissionDenied);
    let supplier = t
        .place(&t.supplier, &item, 1, extract_answers(&t.caseworker.0))
        .await
        .unwrap_err();
    assert_eq!(supplier.code(), Code::PermissionDenied);

    // An order placed keeps the version it was placed against when the item changes.
    let leader = &t.leaders[0].1;
    let order = t
        .place(leader, &item, 1, extract_answers(&t.caseworker.0))
        .await
        .unwrap();
    let mut cheaper = extract();
    cheaper.price.as_mut().unwrap().amount_ore = 50_000;
    t.items()
        .revise_item(bearer(
            pb::ReviseItemRequest {
                item_id: item.item_id.clone(),
                expected_revision: item.revision,
                content: Some(cheaper),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    let keyed = pb::PlaceOrderRequest {
        idempotency_key: "udtraek-igen".into(),
        item_id: item.item_id.clone(),
        quantity: 1,
        answers: extract_answers(&t.caseworker.0),
    };
    let first_keyed = t
        .orders()
        .place_order(bearer(keyed.clone(), leader))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let quoted = t.quote(&order, 2.0).await.unwrap();
    assert_eq!(quoted.item_version, 1);
    assert_eq!(quoted.amount_ore, 190_000, "the rate of version 1");

    let current = t
        .items()
        .get_item(pb::GetItemRequest {
            item_id: item.item_id.clone(),
            version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    t.items()
        .withdraw_item(bearer(
            pb::WithdrawItemRequest {
                item_id: item.item_id.clone(),
                expected_revision: current.revision,
                reason: "Leveres ikke længere".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    let withdrawn = t
        .place(leader, &item, 1, extract_answers(&t.caseworker.0))
        .await
        .unwrap_err();
    // A retry of an order placed before the withdrawal answers with that order.
    let retried = t
        .orders()
        .place_order(bearer(keyed, leader))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(retried.order_id, first_keyed.order_id);
    assert_eq!(withdrawn.code(), Code::FailedPrecondition);
    assert!(withdrawn.message().contains("Leveres ikke længere"));
    // The order placed before goes on.
    assert!(t.accept(leader, &quoted).await.is_ok());
}

#[tokio::test]
async fn another_municipality_sees_nothing_of_an_order() {
    let t = TestCatalogue::start().await;
    let item = t.create(seats()).await.unwrap();
    let ours = t.place(&t.leaders[0].1, &item, 2, vec![]).await.unwrap();
    let theirs = t.place(&t.leaders[1].1, &item, 1, vec![]).await.unwrap();
    let other = &t.leaders[1].1;

    let read = t
        .orders()
        .get_order(bearer(
            pb::GetOrderRequest {
                order_id: ours.order_id.clone(),
            },
            other,
        ))
        .await
        .unwrap_err();
    assert_eq!(read.code(), Code::PermissionDenied);
    let listed = t.list(other, pb::ListOrdersRequest::default()).await;
    assert_eq!(
        listed.iter().map(|o| &o.order_id).collect::<Vec<_>>(),
        [&theirs.order_id]
    );
    let asked = t
        .orders()
        .list_orders(bearer(
            pb::ListOrdersRequest {
                municipality_id: t.municipalities[0].clone(),
                ..Default::default()
            },
            other,
        ))
        .await
        .unwrap_err();
    assert_eq!(asked.code(), Code::PermissionDenied);
    let comment = t
        .orders()
        .add_order_comment(bearer(
            pb::AddOrderCommentRequest {
                order_id: ours.order_id.clone(),
                text: "Hvornår?".into(),
            },
            other,
        ))
        .await
        .unwrap_err();
    assert_eq!(comment.code(), Code::PermissionDenied);
    let trail = pb::audit_service_client::AuditServiceClient::new(t.catalogue.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "order".into(),
                entity_id: ours.order_id.clone(),
                page: None,
            },
            other,
        ))
        .await
        .unwrap_err();
    assert_eq!(trail.code(), Code::PermissionDenied);

    // The consortium and the supplier see both, newest first, and filter by municipality and state.
    let all = t.list(&t.supplier, pb::ListOrdersRequest::default()).await;
    assert_eq!(
        all.iter().map(|o| &o.order_id).collect::<Vec<_>>(),
        [&theirs.order_id, &ours.order_id]
    );
    let first = t
        .list(
            &t.admin,
            pb::ListOrdersRequest {
                municipality_id: t.municipalities[0].clone(),
                states: vec![S::Submitted as i32],
                ..Default::default()
            },
        )
        .await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].order_id, ours.order_id);

    // The ordering municipality and the supplier discuss the order.
    for token in [&t.leaders[0].1, &t.supplier] {
        t.orders()
            .add_order_comment(bearer(
                pb::AddOrderCommentRequest {
                    order_id: ours.order_id.clone(),
                    text: "Hvornår kan det leveres?".into(),
                },
                token,
            ))
            .await
            .unwrap();
    }
    let comments = t
        .orders()
        .list_order_comments(bearer(
            pb::ListOrderCommentsRequest {
                order_id: ours.order_id.clone(),
                page: None,
            },
            &t.leaders[0].1,
        ))
        .await
        .unwrap()
        .into_inner()
        .comments;
    assert_eq!(comments.len(), 2);
    let events: Vec<pb::OrderCommented> = t.events("OrderCommented").await;
    assert_eq!(events.len(), 2);
}

#[tokio::test]
async fn a_retried_order_is_placed_once() {
    let t = TestCatalogue::start().await;
    let item = t.create(seats()).await.unwrap();
    let request = pb::PlaceOrderRequest {
        idempotency_key: "bestilling-42".into(),
        item_id: item.item_id.clone(),
        quantity: 2,
        answers: vec![],
    };
    let leader = &t.leaders[0].1;
    let first = t
        .orders()
        .place_order(bearer(request.clone(), leader))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let again = t
        .orders()
        .place_order(bearer(request.clone(), leader))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(first.order_id, again.order_id);
    let other = pb::PlaceOrderRequest {
        quantity: 3,
        ..request
    };
    let reused = t
        .orders()
        .place_order(bearer(other, leader))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(
        t.list(&t.admin, pb::ListOrdersRequest::default())
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn files_are_attached_within_limits_and_read_by_whoever_sees_the_order() {
    let t = TestCatalogue::start().await;
    let item = t.create(seats()).await.unwrap();
    let order = t.place(&t.leaders[0].1, &item, 1, vec![]).await.unwrap();
    let attach = |token: &str, name: &str, content_type: &str, content: &[u8]| {
        let request = pb::AddOrderAttachmentRequest {
            order_id: order.order_id.clone(),
            file_name: name.into(),
            content_type: content_type.into(),
            content: content.to_vec(),
        };
        let mut orders = t.orders();
        let token = token.to_owned();
        async move { orders.add_order_attachment(bearer(request, &token)).await }
    };
    let added = attach(
        &t.leaders[0].1,
        "specifikation.pdf",
        "application/pdf",
        b"%PDF-1.7",
    )
    .await
    .unwrap()
    .into_inner()
    .attachment
    .unwrap();
    assert_eq!(added.size_bytes, 8);

    let cpr = attach(
        &t.supplier,
        "noter.txt",
        "text/plain",
        b"Borger 010203-1234",
    )
    .await
    .unwrap_err();
    assert_eq!(violated_fields(&cpr), ["content"]);
    assert_eq!(reason(&cpr), "PERSONAL_ID_IN_TEXT");
    let zip = attach(&t.supplier, "arkiv.zip", "application/zip", b"PK")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&zip), ["content_type"]);
    let other = attach(&t.leaders[1].1, "x.txt", "text/plain", b"hej")
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);

    let read = t
        .orders()
        .get_order_attachment(bearer(
            pb::GetOrderAttachmentRequest {
                attachment_id: added.attachment_id.clone(),
            },
            &t.supplier,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.content, b"%PDF-1.7");
    let hidden = t
        .orders()
        .get_order_attachment(bearer(
            pb::GetOrderAttachmentRequest {
                attachment_id: added.attachment_id.clone(),
            },
            &t.leaders[1].1,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::PermissionDenied);

    // Twenty files at most.
    for i in 1..20 {
        attach(
            &t.supplier,
            &format!("bilag-{i}.txt"),
            "text/plain",
            b"bilag",
        )
        .await
        .unwrap();
    }
    let full = attach(&t.supplier, "bilag-21.txt", "text/plain", b"bilag")
        .await
        .unwrap_err();
    assert_eq!(full.code(), Code::FailedPrecondition);
    let listed = t
        .orders()
        .list_order_attachments(bearer(
            pb::ListOrderAttachmentsRequest {
                order_id: order.order_id.clone(),
            },
            &t.leaders[0].1,
        ))
        .await
        .unwrap()
        .into_inner()
        .attachments;
    assert_eq!(listed.len(), 20);
    assert_eq!(listed[0].file_name, "specifikation.pdf");
}

#[tokio::test]
async fn an_anonymised_persons_order_comments_lose_their_text() {
    let t = TestCatalogue::start().await;
    let item = t.create(seats()).await.unwrap();
    let order = t.place(&t.leaders[0].1, &item, 2, vec![]).await.unwrap();
    // An extract they ordered, answered in their words, and cancelled giving a reason.
    let extract_item = t.create(extract()).await.unwrap();
    let extract_order = t
        .place(
            &t.leaders[0].1,
            &extract_item,
            1,
            extract_answers(&t.leaders[0].0),
        )
        .await
        .unwrap();
    t.orders()
        .cancel_order(bearer(
            pb::CancelOrderRequest {
                order_id: extract_order.order_id.clone(),
                expected_version: extract_order.version,
                reason: "Anne er syg, vi venter".into(),
            },
            &t.leaders[0].1,
        ))
        .await
        .unwrap();
    for (text, token) in [
        ("Ring til Anne på 12345678", &t.leaders[0].1),
        ("Vi ringer", &t.supplier),
    ] {
        t.orders()
            .add_order_comment(bearer(
                pb::AddOrderCommentRequest {
                    order_id: order.order_id.clone(),
                    text: text.into(),
                },
                token,
            ))
            .await
            .unwrap();
    }
    kommune_proto::identity::v1::user_service_client::UserServiceClient::new(t.identity.clone())
        .anonymize_user(bearer(
            kommune_proto::identity::v1::AnonymizeUserRequest {
                user_id: t.leaders[0].0.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    // The catalogue follows identity's feed: wait until it has acted.
    let texts = || {
        let request = bearer(
            pb::ListOrderCommentsRequest {
                order_id: order.order_id.clone(),
                page: None,
            },
            &t.supplier,
        );
        let mut orders = t.orders();
        async move {
            orders
                .list_order_comments(request)
                .await
                .unwrap()
                .into_inner()
                .comments
                .into_iter()
                .map(|c| c.text)
                .collect::<Vec<_>>()
        }
    };
    let mut seen = texts().await;
    for _ in 0..100 {
        if seen[0] != "Ring til Anne på 12345678" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        seen = texts().await;
    }
    assert_eq!(seen, ["[removed: the author was anonymised]", "Vi ringer"]);

    // Their text answer and their reason went with it; the choices, dates and ids stay.
    let extract_order = t
        .orders()
        .get_order(bearer(
            pb::GetOrderRequest {
                order_id: extract_order.order_id.clone(),
            },
            &t.supplier,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let text_of = |key: &str| {
        extract_order
            .answers
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.clone())
    };
    use pb::answer::Value;
    assert_eq!(
        text_of("purpose"),
        Some(Value::Text("[removed: the author was anonymised]".into()))
    );
    assert_eq!(text_of("format"), Some(Value::Choice("XLSX".into())));
    let reasons: Vec<&str> = extract_order
        .steps
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert!(
        reasons.contains(&"[removed: the author was anonymised]")
            && !reasons.iter().any(|r| r.contains("Anne")),
        "{reasons:?}"
    );
}
