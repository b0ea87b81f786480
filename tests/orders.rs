//! The service catalogue through the gateway: an order's every step, heard by the orderer and the
//! supplier.

use http::StatusCode;
use kommune_proto::catalogue::v1 as catalogue;

use super::site::visit;
use super::*;

/// Two items the site shows: an hourly extract needing approval, and extra users per user for
/// project leaders and caseworkers of one municipality.
pub(crate) async fn catalogue_items(suite: &Suite, municipality: &str) {
    let items = catalogue::item_service_client::ItemServiceClient::new(suite.gateway.clone());
    let seats = catalogue::ItemContent {
        name_da: "Ekstra <b>supportberettigede</b> brugere".into(),
        name_en: "Extra support-eligible users".into(),
        description_da: "Flere supportberettigede brugere end kommunens basis.".into(),
        category: "Adgang".into(),
        price: Some(catalogue::Price {
            model: catalogue::PriceModel::PerUnit as i32,
            amount_ore: 125_050,
            unit_da: "bruger".into(),
            unit_en: "user".into(),
        }),
        delivery_working_days: 2,
        orderable_by: vec![
            Role::MunicipalProjectLeader as i32,
            Role::MunicipalCaseworker as i32,
        ],
        municipality_ids: vec![municipality.into()],
        ..Default::default()
    };
    for content in [hourly_item(), seats] {
        items
            .clone()
            .create_item(bearer(
                catalogue::CreateItemRequest {
                    idempotency_key: String::new(),
                    content: Some(content),
                },
                &suite.admin_token,
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_service_catalogue_is_on_the_site_in_danish_and_english() {
    let suite = Suite::start().await;
    let empty = visit(&suite, "/servicekatalog", &[]).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert!(empty.body.contains("Kataloget har ingen ydelser lige nu."));
    let aarhus = suite.municipality("751", "55133018").await;
    catalogue_items(&suite, &aarhus).await;
    let page = visit(&suite, "/servicekatalog", &[]).await.body;
    // By category (Adgang before Udtræk), names escaped, prices in kroner, delivery in working days.
    let access = page.find("<h2 id=\"kategori-1\">Adgang</h2>").expect(&page);
    let extracts = page.find("<h2 id=\"kategori-2\">Udtræk</h2>").expect(&page);
    assert!(access < extracts);
    assert!(
        page.contains("Ekstra &lt;b&gt;supportberettigede&lt;"),
        "{page}"
    );
    assert!(page.contains("1.250,50 kr. pr. bruger"), "{page}");
    assert!(page.contains("950,00 kr. pr. time efter tilbud"), "{page}");
    assert!(page.contains("Konsortiet godkender hver bestilling"));
    assert!(
        page.contains("kommunens projektledere, kommunens sagsbehandlere (kun udvalgte kommuner)")
    );
    assert!(page.contains("Hvad skal udtrækket bruges til?"));
    let english = visit(&suite, "/en/servicekatalog", &[]).await.body;
    assert!(
        english.contains("Extra support-eligible users"),
        "{english}"
    );
    assert!(english.contains("DKK 1,250.50 per user"), "{english}");
    assert!(english.contains("5 working days"));
    // Danish where an item has no English.
    assert!(english.contains("Et udtræk af kommunens sager."));
}

fn hourly_item() -> catalogue::ItemContent {
    catalogue::ItemContent {
        name_da: "Dataudtræk".into(),
        name_en: "Data extract".into(),
        description_da: "Et udtræk af kommunens sager.".into(),
        category: "Udtræk".into(),
        price: Some(catalogue::Price {
            model: catalogue::PriceModel::HourlyEstimate as i32,
            amount_ore: 95_000,
            ..Default::default()
        }),
        questions: vec![catalogue::Question {
            key: "purpose".into(),
            label_da: "Hvad skal udtrækket bruges til?".into(),
            kind: catalogue::QuestionKind::Text as i32,
            required: true,
            ..Default::default()
        }],
        delivery_working_days: 5,
        requires_approval: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_order_through_the_gateway_tells_the_orderer_and_the_supplier_at_each_step() {
    let suite = Suite::start().await;
    let aarhus = suite.municipality("751", "55133018").await;
    let leader = suite
        .user(&aarhus, "pl@aarhus.dk", Role::MunicipalProjectLeader)
        .await;
    let supporter = suite
        .user("", "support@leverandoer.dk", Role::SupplierSecondLine)
        .await;
    let leader_token = suite.token_for(&leader).await;
    let supplier_token = suite.token_for(&supporter).await;
    let items = || catalogue::item_service_client::ItemServiceClient::new(suite.gateway.clone());
    let orders = || catalogue::order_service_client::OrderServiceClient::new(suite.gateway.clone());

    let item = items()
        .create_item(bearer(
            catalogue::CreateItemRequest {
                idempotency_key: String::new(),
                content: Some(hourly_item()),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    // The catalogue is public at the door.
    let listed = items()
        .list_items(catalogue::ListItemsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(listed.len(), 1);

    let order = orders()
        .place_order(bearer(
            catalogue::PlaceOrderRequest {
                idempotency_key: "udtraek-2025".into(),
                item_id: item.item_id.clone(),
                quantity: 1,
                answers: vec![catalogue::Answer {
                    key: "purpose".into(),
                    value: Some(catalogue::answer::Value::Text("Statistik".into())),
                }],
            },
            &leader_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let subject = |what: &str| format!("Bestilling {} {what}: Dataudtræk", order.number);
    suite
        .inbox_until(&supplier_token, |s| s.contains(&subject("er modtaget")))
        .await;

    let quoted = orders()
        .quote_order(bearer(
            catalogue::QuoteOrderRequest {
                order_id: order.order_id.clone(),
                expected_version: order.version,
                hours: 4.0,
                text: "Udtræk og kontrol".into(),
            },
            &supplier_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    suite
        .inbox_until(&leader_token, |s| {
            s.contains(&subject("har fået et tilbud"))
        })
        .await;
    let accepted = orders()
        .accept_quote(bearer(
            catalogue::AcceptQuoteRequest {
                order_id: quoted.order_id.clone(),
                expected_version: quoted.version,
            },
            &leader_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let approved = orders()
        .approve_order(bearer(
            catalogue::ApproveOrderRequest {
                order_id: accepted.order_id.clone(),
                expected_version: accepted.version,
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let delivering = orders()
        .start_delivery(bearer(
            catalogue::StartDeliveryRequest {
                order_id: approved.order_id.clone(),
                expected_version: approved.version,
            },
            &supplier_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    orders()
        .mark_delivered(bearer(
            catalogue::MarkDeliveredRequest {
                order_id: delivering.order_id.clone(),
                expected_version: delivering.version,
            },
            &supplier_token,
        ))
        .await
        .unwrap();

    // The orderer hears every step but their own placing and accepting; the supplier every step but
    // the ones it took.
    let heard_by_leader = [
        subject("har fået et tilbud"),
        subject("er godkendt"),
        subject("er under levering"),
        subject("er leveret"),
    ];
    let mut leader_inbox = suite
        .inbox_until(&leader_token, |s| s.len() >= heard_by_leader.len())
        .await;
    leader_inbox.sort();
    let mut expected = heard_by_leader.to_vec();
    expected.sort();
    assert_eq!(leader_inbox, expected);
    let heard_by_supplier = [
        subject("er modtaget"),
        subject("tilbuddet er accepteret"),
        subject("er godkendt"),
    ];
    let mut supplier_inbox = suite
        .inbox_until(&supplier_token, |s| s.len() >= heard_by_supplier.len())
        .await;
    supplier_inbox.sort();
    let mut expected = heard_by_supplier.to_vec();
    expected.sort();
    assert_eq!(supplier_inbox, expected);

    // Another municipality's user sees nothing of it at the door either.
    let odense = suite.municipality("461", "35209115").await;
    let stranger = suite
        .user(&odense, "pl@odense.dk", Role::MunicipalProjectLeader)
        .await;
    let stranger_token = suite.token_for(&stranger).await;
    let denied = orders()
        .get_order(bearer(
            catalogue::GetOrderRequest {
                order_id: order.order_id.clone(),
            },
            &stranger_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}
