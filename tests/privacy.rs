//! A data subject's request served across every service through the gateway: what each service keeps
//! about a person found and exported, then erased, and nothing of them left in any export.

use serde_json::{Value, json};

use super::access::{call_json, made, system_and_area, text};
use super::*;

/// Every service, by package: each serves `PrivacyService/ExportPersonalData`.
const SERVICES: [&str; 7] = [
    "identity",
    "cases",
    "notify",
    "klik",
    "catalogue",
    "changes",
    "guides",
];

/// Every record a service exports about `user_id`, read as `token` two to a page.
async fn export(suite: &Suite, service: &str, user_id: &str, token: &str) -> Vec<Value> {
    let path = format!("/kommune.{service}.v1.PrivacyService/ExportPersonalData");
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = made(
            suite,
            &path,
            token,
            json!({"user_id": user_id, "page": {"page_size": 2, "page_token": page_token}}),
        )
        .await;
        records.extend(page["records"].as_array().cloned().unwrap_or_default());
        page_token = page["page"]["next_page_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if page_token.is_empty() {
            return records;
        }
    }
}

/// The kinds of the records, each once, in order.
fn kinds(records: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = records.iter().map(|r| text(r, "/kind")).collect();
    kinds.dedup();
    kinds
}

#[tokio::test]
async fn a_persons_data_is_exported_from_every_service_then_erased_from_all() {
    let suite = Suite::start().await;
    let admin = suite.admin_token.clone();
    let aarhus = suite.municipality("751", "55133018").await;
    let karen = suite
        .users()
        .create_user(bearer(
            pb::CreateUserRequest {
                municipality_id: aarhus.clone(),
                name: "Karen Kildegaard".into(),
                email: "karen.kildegaard@aarhus.dk".into(),
                roles: vec![
                    Role::MunicipalCaseworker as i32,
                    Role::MunicipalProjectLeader as i32,
                ],
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let token = suite.token_for(&karen).await;
    let colleague = suite
        .user(&aarhus, "kollega@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let colleague_token = suite.token_for(&colleague).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    made(&suite, "/kommune.identity.v1.EligibilityService/RegisterEligibleUser", &admin,
        json!({"user_id": karen.user_id, "municipality_id": aarhus, "valid_from": today.format("%Y-%m-%d").to_string()})).await;

    // Karen works in every service.
    let (system, area) = system_and_area(&suite).await;
    let case = made(&suite, "/kommune.cases.v1.CaseService/FileCase", &token, json!({
        "title": "Karen Kildegaards udbetaling", "description": "Karen Kildegaard ringede om beløbet",
        "kind": "CASE_KIND_FAULT", "severity": "SEVERITY_NORMAL", "system_id": system,
        "area_id": area})).await;
    let case = text(&case, "/case/case_id");
    made(&suite, "/kommune.cases.v1.CaseService/AddComment", &token,
        json!({"case_id": case, "text": "Karens kommentar om beløbet", "visibility": "COMMENT_VISIBILITY_PUBLIC"})).await;
    made(
        &suite,
        "/kommune.notify.v1.SubscriptionService/CreateSubscription",
        &token,
        json!({"subscription": {
        "topic": {"kind": "TOPIC_KIND_OPERATIONAL_MESSAGES", "target_id": system},
        "channel": "CHANNEL_EMAIL", "email_address": "karen.privat@example.dk"}}),
    )
    .await;
    let project = suite.klik_project("FBS").await;
    suite
        .klik_wave(
            &project.project_id,
            today + chrono::Days::new(300),
            &aarhus,
            &karen,
        )
        .await;
    let draft = made(&suite, "/kommune.klik.v1.TemplateService/CreateTemplate", &admin, json!({
        "project_id": project.project_id,
        "content": {"title": "Udpeg en projektleder", "theme": "THEME_PROJECT_MANAGEMENT",
            "phase": "PHASE_PREPARATION", "priority": "PRIORITY_MANDATORY", "goal": "En navngiven leder",
            "description": "Udpeg en", "result": "Lederen er registreret", "recommended_performer": "Ledelsen"}})).await;
    made(&suite, "/kommune.klik.v1.TemplateService/AddReviewComment", &token,
        json!({"template_id": text(&draft, "/template/template_id"), "text": "Karens bemærkning til skabelonen"})).await;
    let item = made(&suite, "/kommune.catalogue.v1.ItemService/CreateItem", &admin, json!({"content": {
        "name_da": "Dataudtræk", "name_en": "Data extract", "description_da": "Et udtræk.", "category": "Udtræk",
        "price": {"model": "PRICE_MODEL_FIXED", "amount_ore": 95000}, "delivery_working_days": 5}})).await;
    let order = made(
        &suite,
        "/kommune.catalogue.v1.OrderService/PlaceOrder",
        &token,
        json!({"item_id": text(&item, "/item/item_id"), "quantity": 1}),
    )
    .await;
    made(
        &suite,
        "/kommune.catalogue.v1.OrderService/AddOrderComment",
        &token,
        json!({"order_id": text(&order, "/order/order_id"), "text": "Karens ønske til leveringen"}),
    )
    .await;
    let theme = made(
        &suite,
        "/kommune.changes.v1.ReferenceService/CreateTheme",
        &admin,
        json!({"name": "Økonomi"}),
    )
    .await;
    made(&suite, "/kommune.changes.v1.ChangeRequestService/CreateChangeRequest", &token, json!({
        "theme_id": text(&theme, "/theme/theme_id"), "title": "Eksport", "description": "Eksport til regneark",
        "asking_municipality_id": aarhus})).await;
    made(
        &suite,
        "/kommune.guides.v1.SearchService/SuggestSections",
        &token,
        json!({"title": "Udbetaling", "description": "Beløbet er forkert", "system_id": system}),
    )
    .await;

    // notify tells her that her case was received (a notification made for her).
    suite
        .inbox_until(&token, |subjects| !subjects.is_empty())
        .await;

    // Found and exported: by Karen herself, service by service.
    let mut found = Vec::new();
    for service in SERVICES {
        found.push(kinds(
            &export(&suite, service, &karen.user_id, &token).await,
        ));
    }
    let expected: [&[&str]; 7] = [
        &["user", "api_key", "eligibility_registration"],
        &["case_reported", "comment_written", "audit_action"],
        &["subscription", "notification", "audit_action"],
        &["enrolment_led", "review_comment_written", "audit_action"],
        &["order_placed", "order_comment_written", "audit_action"],
        &["audit_action"],
        &["suggestion"],
    ];
    assert_eq!(
        found,
        expected.map(|kinds| kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>())
    );

    // Nobody else's to read.
    let refused = call_json(
        &suite,
        "/kommune.cases.v1.PrivacyService/ExportPersonalData",
        &colleague_token,
        &json!({"user_id": karen.user_id}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::PermissionDenied, "NOT_OWNER")
    );
    // "not-a-token", encoded as a page token is.
    for (request, field) in [
        (json!({"user_id": "karen"}), "user_id"),
        (
            json!({"user_id": karen.user_id, "page": {"page_token": "bm90LWEtdG9rZW4"}}),
            "page.page_token",
        ),
    ] {
        let bad = call_json(
            &suite,
            "/kommune.klik.v1.PrivacyService/ExportPersonalData",
            &admin,
            &request,
        )
        .await
        .unwrap_err();
        assert_eq!(
            (bad.code(), violated_fields(&bad)),
            (Code::InvalidArgument, vec![field.to_owned()])
        );
    }

    // Erased: what she wrote in the case itself as a supervised act, then identity anonymises her and
    // the services that keep her words follow (first, so that the case's chain is not written by both
    // at once: that would be a concurrent change to retry).
    let read = made(
        &suite,
        "/kommune.cases.v1.CaseService/GetCase",
        &admin,
        json!({"case_id": case}),
    )
    .await;
    made(
        &suite,
        "/kommune.cases.v1.CaseService/EraseCaseText",
        &admin,
        json!({"case_id": case,
        "expected_version": read["case"]["version"], "title": true, "description": true,
        "reason": "Den registreredes anmodning"}),
    )
    .await;
    made(
        &suite,
        "/kommune.identity.v1.UserService/AnonymizeUser",
        &admin,
        json!({"user_id": karen.user_id}),
    )
    .await;
    let traces = ["karen", "kildegaard"];
    eventually("something of Karen stayed in an export", async || {
        let mut left = Vec::new();
        for service in SERVICES {
            for record in export(&suite, service, &karen.user_id, &admin).await {
                let kind = text(&record, "/kind");
                let content = record.to_string().to_lowercase();
                if traces.iter().any(|t| content.contains(t))
                    || ["subscription", "enrolment_led"].contains(&kind.as_str())
                {
                    left.push(format!("{service}: {record}"));
                }
            }
        }
        if left.is_empty() {
            Some(())
        } else {
            eprintln!("left of Karen so far: {left:#?}");
            None
        }
    })
    .await;
}
