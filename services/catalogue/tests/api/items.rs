//! Keeping the catalogue: public reading, versions, withdrawal, and what a keeper may not write.

use tonic::Code;

use kommune_platform::testing::{violated_fields, with_bearer as bearer};

use super::*;

#[tokio::test]
async fn the_catalogue_is_public_and_its_versions_stay_readable() {
    let t = TestCatalogue::start().await;
    let extract = t.create(extract()).await.unwrap();
    let seats = t.create(seats()).await.unwrap();
    assert_eq!((extract.version, extract.latest_version), (1, 1));
    assert_eq!(extract.state, pb::ItemState::Published as i32);

    // No token: the catalogue, by category then name.
    let listed = t
        .items()
        .list_items(pb::ListItemsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    let names: Vec<_> = listed
        .iter()
        .map(|i| i.content.as_ref().unwrap().name_da.as_str())
        .collect();
    assert_eq!(names, ["Ekstra supportberettigede brugere", "Dataudtræk"]);

    // A new version: the list shows it, version 1 is still there as it was.
    let mut cheaper = super::extract();
    cheaper.price.as_mut().unwrap().amount_ore = 85_000;
    let revised = t
        .items()
        .revise_item(bearer(
            pb::ReviseItemRequest {
                item_id: extract.item_id.clone(),
                expected_revision: extract.revision,
                content: Some(cheaper),
            },
            &t.supplier,
        ))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!((revised.version, revised.latest_version), (2, 2));
    let first = t
        .items()
        .get_item(pb::GetItemRequest {
            item_id: extract.item_id.clone(),
            version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(first.latest_version, 2);
    assert_eq!(first.content.unwrap().price.unwrap().amount_ore, 95_000);

    // A stale revision is refused; a withdrawal with the current one takes it out of the list.
    let stale = t
        .items()
        .withdraw_item(bearer(
            pb::WithdrawItemRequest {
                item_id: seats.item_id.clone(),
                expected_revision: seats.revision + 1,
                reason: "Erstattet".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    t.items()
        .withdraw_item(bearer(
            pb::WithdrawItemRequest {
                item_id: seats.item_id.clone(),
                expected_revision: seats.revision,
                reason: "Erstattet af en ny aftale".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    let published = t
        .items()
        .list_items(pb::ListItemsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(published.len(), 1);
    let withdrawn = t
        .items()
        .list_items(pb::ListItemsRequest {
            state: pb::ItemState::Withdrawn as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].withdrawal_reason, "Erstattet af en ny aftale");
    let again = t
        .items()
        .revise_item(bearer(
            pb::ReviseItemRequest {
                item_id: seats.item_id.clone(),
                expected_revision: withdrawn[0].revision,
                content: Some(self::seats()),
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn items_that_break_the_rules_are_refused_naming_each_field() {
    let t = TestCatalogue::start().await;
    let mut bad = extract();
    bad.description_da = "Kontakt borgeren med CPR 010203-1234".into();
    bad.price = Some(pb::Price {
        model: pb::PriceModel::Free as i32,
        amount_ore: 100,
        ..Default::default()
    });
    bad.questions
        .push(question("purpose", pb::QuestionKind::Text, false, &[]));
    bad.questions
        .push(question("size", pb::QuestionKind::Choice, true, &["S"]));
    bad.delivery_working_days = -1;
    bad.orderable_by = vec![id::Role::ConsortiumAdmin as i32];
    let refused = t.create(bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "content.delivery_working_days",
            "content.description_da",
            "content.orderable_by",
            "content.price.amount_ore",
            "content.questions[4].key",
            "content.questions[5].choices",
        ]
    );

    let mut per_unit = seats();
    per_unit.price.as_mut().unwrap().unit_da.clear();
    per_unit.price.as_mut().unwrap().amount_ore = -5;
    let refused = t.create(per_unit).await.unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        ["content.price.amount_ore", "content.price.unit_da"]
    );

    // Nothing was written.
    let listed = t
        .items()
        .list_items(pb::ListItemsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(listed.is_empty());
}

#[tokio::test]
async fn only_the_consortium_and_the_supplier_keep_the_catalogue() {
    let t = TestCatalogue::start().await;
    let request = pb::CreateItemRequest {
        idempotency_key: String::new(),
        content: Some(extract()),
    };
    let refused = t
        .items()
        .create_item(bearer(request.clone(), &t.leaders[0].1))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let unauthenticated = t.items().create_item(request).await.unwrap_err();
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);

    // A retry with the same key creates nothing new.
    let keyed = pb::CreateItemRequest {
        idempotency_key: "katalog-1".into(),
        content: Some(extract()),
    };
    let first = t
        .items()
        .create_item(bearer(keyed.clone(), &t.supplier))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    let again = t
        .items()
        .create_item(bearer(keyed, &t.supplier))
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    assert_eq!(first.item_id, again.item_id);
    let missing = t
        .items()
        .get_item(pb::GetItemRequest {
            item_id: uuid::Uuid::new_v4().to_string(),
            version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
