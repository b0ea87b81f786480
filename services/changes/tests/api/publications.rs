//! The published change-request list: frozen, numbered snapshots, filtered and searched, public.

use super::*;

pub(crate) fn publications(
    t: &TestChanges,
) -> pb::publication_service_client::PublicationServiceClient<Channel> {
    pb::publication_service_client::PublicationServiceClient::new(t.changes.clone())
}

async fn publish(t: &TestChanges, note: &str) -> pb::Publication {
    publications(t)
        .publish_change_requests(bearer(
            pb::PublishChangeRequestsRequest {
                idempotency_key: format!("publish-{note}"),
                note: note.into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .publication
        .unwrap()
}

/// A publication exported as a file, its chunks put together.
pub(crate) async fn export(
    t: &TestChanges,
    publication_id: &str,
    format: pb::ExportFormat,
) -> Vec<u8> {
    let mut chunks = publications(t)
        .export_publication(bearer(
            pb::ExportPublicationRequest {
                publication_id: publication_id.into(),
                format: format as i32,
                ..Default::default()
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut file = Vec::new();
    while let Some(chunk) = chunks.message().await.unwrap() {
        file.extend(chunk.chunk);
    }
    file
}

/// A page of the latest publication, asked without a token.
async fn published(
    t: &TestChanges,
    request: pb::ListPublishedChangeRequestsRequest,
) -> pb::ListPublishedChangeRequestsResponse {
    publications(t)
        .list_published_change_requests(request)
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_publication_is_a_frozen_numbered_snapshot_in_the_published_columns() {
    let t = TestChanges::start().await;
    let none = publications(&t)
        .list_published_change_requests(pb::ListPublishedChangeRequestsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        none.code(),
        Code::FailedPrecondition,
        "nothing published yet"
    );
    let first = t.create("Filtrering på forfaldsdato").await;
    let second = t.create("Eksport af debitorlisten").await;
    let november = publish(&t, "November 2026").await;
    assert_eq!((november.number, november.item_count), (1, 2));
    let again = publish(&t, "November 2026").await;
    assert_eq!(
        again.publication_id, november.publication_id,
        "a retry publishes once"
    );

    let rows = published(&t, Default::default()).await.change_requests;
    assert_eq!(
        rows.iter().map(|r| r.case_id.as_str()).collect::<Vec<_>>(),
        [first.key.as_str(), second.key.as_str()]
    );
    let row = &rows[0];
    assert_eq!(row.change_theme, "Økonomi");
    assert_eq!(row.title, "Filtrering på forfaldsdato");
    assert_eq!(row.status, "10 - New");
    assert_eq!(row.municipality_name, "Kommune 101");
    assert_eq!(
        row.created, "01-03-2025 11:00",
        "Copenhagen time, published format"
    );

    // Later edits change the list, not the publication.
    t.set_status(&first, 20).await;
    t.create("Nyt ønske efter publiceringen").await;
    let frozen = published(
        &t,
        pb::ListPublishedChangeRequestsRequest {
            publication_id: november.publication_id.clone(),
            ..Default::default()
        },
    )
    .await
    .change_requests;
    assert_eq!(frozen, rows);
    let december = publish(&t, "December 2026").await;
    assert_eq!((december.number, december.item_count), (2, 3));
    let latest = published(&t, Default::default()).await;
    assert_eq!(latest.publication.unwrap().number, 2);
    assert_eq!(latest.change_requests[0].status, "20 - Under assessment");

    // An earlier publication by its number, a row by its key, and what the rows can be filtered by:
    // all without a token, as the operations site reads them.
    let by_number = published(
        &t,
        pb::ListPublishedChangeRequestsRequest {
            publication_number: 1,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_number.change_requests, rows);
    let one = |publication_number: i64, case_id: &str| pb::GetPublishedChangeRequestRequest {
        publication_number,
        case_id: case_id.into(),
        ..Default::default()
    };
    let then = publications(&t)
        .get_published_change_request(one(1, &first.key))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(then.change_request.unwrap(), rows[0]);
    assert_eq!(then.publication.unwrap().number, 1);
    let now = publications(&t)
        .get_published_change_request(one(0, &first.key))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.change_request.unwrap().status, "20 - Under assessment");
    for (request, field) in [
        (one(1, "KOMBITKY-999"), "case_id"),
        (one(9, &first.key), "publication_number"),
    ] {
        let missing = publications(&t)
            .get_published_change_request(request)
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::NotFound);
        assert_eq!(violated_fields(&missing), [field]);
    }
    let both = publications(&t)
        .get_published_change_request(pb::GetPublishedChangeRequestRequest {
            publication_id: november.publication_id.clone(),
            publication_number: 1,
            case_id: first.key.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&both), ["publication_number"]);

    let mut client = publications(&t);
    let mut facets = async |publication_number| {
        client
            .list_publication_facets(pb::ListPublicationFacetsRequest {
                publication_number,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
    };
    let named = |list: &[pb::Facet]| -> Vec<(String, i64)> {
        list.iter()
            .map(|f| (f.name.clone(), f.item_count))
            .collect()
    };
    let counted = facets(1).await;
    assert_eq!(named(&counted.themes), [("Økonomi".to_owned(), 2)]);
    assert_eq!(named(&counted.statuses), [("10 - New".to_owned(), 2)]);
    assert_eq!(counted.statuses[0].value, "10");
    assert_eq!(
        named(&counted.municipalities),
        [("Kommune 101".to_owned(), 2)]
    );
    let counted = facets(2).await;
    assert_eq!(
        named(&counted.statuses),
        [
            ("10 - New".to_owned(), 2),
            ("20 - Under assessment".to_owned(), 1)
        ],
        "by code"
    );

    // The export too needs no token.
    let mut chunks = publications(&t)
        .export_publication(pb::ExportPublicationRequest {
            publication_number: 1,
            format: pb::ExportFormat::Csv as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut csv = Vec::new();
    while let Some(chunk) = chunks.message().await.unwrap() {
        csv.extend(chunk.chunk);
    }
    assert_eq!(
        String::from_utf8(csv).unwrap().lines().count(),
        3,
        "header and two rows"
    );
}

#[tokio::test]
async fn the_published_list_is_filtered_searched_and_paged() {
    let t = TestChanges::start().await;
    for n in 0..5 {
        t.create(&format!("Debitorliste nummer {n}")).await;
    }
    let other = t
        .change_requests()
        .create_change_request(bearer(
            pb::CreateChangeRequestRequest {
                description: "Brevskabelonen mangler kommunens LOGO i sidehovedet".into(),
                ..t.new_request(&t.municipalities[1], "Logo i breve")
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    publish(&t, "Marts").await;

    let search = |query: &str| pb::ListPublishedChangeRequestsRequest {
        query: query.into(),
        ..Default::default()
    };
    let hits = published(&t, search("logo SIDEHOVED"))
        .await
        .change_requests;
    assert_eq!(
        hits.iter().map(|r| r.case_id.as_str()).collect::<Vec<_>>(),
        [other.key.as_str()]
    );
    assert!(
        published(&t, search("logo forfaldsdato"))
            .await
            .change_requests
            .is_empty()
    );
    assert_eq!(
        published(&t, search("debitorliste"))
            .await
            .change_requests
            .len(),
        5
    );
    assert_eq!(
        published(&t, search("%")).await.change_requests.len(),
        6,
        "no wildcards"
    );

    let by_municipality = published(
        &t,
        pb::ListPublishedChangeRequestsRequest {
            municipality_id: t.municipalities[1].clone(),
            ..Default::default()
        },
    )
    .await
    .change_requests;
    assert_eq!(by_municipality.len(), 1);
    assert_eq!(by_municipality[0].municipality_name, "Kommune 751");

    // Paging walks every row once, in key order.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = published(
            &t,
            pb::ListPublishedChangeRequestsRequest {
                page: Some(kommune_proto::common::v1::PageRequest {
                    page_size: 4,
                    page_token: token,
                }),
                ..Default::default()
            },
        )
        .await;
        seen.extend(page.change_requests.into_iter().map(|r| r.case_id));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    let mut sorted = seen.clone();
    sorted.sort_by_key(|key| key.rsplit('-').next().unwrap().parse::<i64>().unwrap());
    assert_eq!(seen, sorted);

    // Only consortium admins publish.
    let caseworker = t.caseworker(&t.municipalities[0], "cw@kommune.dk").await;
    let denied = publications(&t)
        .publish_change_requests(bearer(
            pb::PublishChangeRequestsRequest::default(),
            &caseworker,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn an_export_reads_back_as_the_publication() {
    let t = TestChanges::start().await;
    for n in 0..30 {
        t.create(&format!("Ønske {n}")).await;
    }
    // Quotes, commas and line breaks survive the round trip.
    t.change_requests()
        .create_change_request(bearer(
            pb::CreateChangeRequestRequest {
                description: "Felt \"A\", felt B\nog en ny linje".into(),
                ..t.new_request(&t.municipalities[0], "Citater, kommaer")
            },
            &t.admin,
        ))
        .await
        .unwrap();
    let publication = publish(&t, "Januar").await;
    let mut rows = Vec::new();
    let mut token = String::new();
    loop {
        let page = published(
            &t,
            pb::ListPublishedChangeRequestsRequest {
                page: Some(kommune_proto::common::v1::PageRequest {
                    page_size: 7,
                    page_token: token,
                }),
                ..Default::default()
            },
        )
        .await;
        rows.extend(page.change_requests);
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(rows.len(), 31);

    let file = export(&t, &publication.publication_id, pb::ExportFormat::Csv).await;
    let mut reader = csv::Reader::from_reader(file.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        kommune_changes::domain::publication::COLUMNS
    );
    let exported: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let listed: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![
                r.change_theme,
                r.subtheme,
                r.case_id,
                r.title,
                r.description,
                r.workaround,
                r.status,
                r.municipality_name,
                r.created,
                r.related_cases,
            ]
        })
        .collect();
    assert_eq!(exported, listed);

    // The same publication as XLSX.
    let file = export(&t, &publication.publication_id, pb::ExportFormat::Xlsx).await;
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(file)).unwrap();
    let sheet = workbook.worksheet_range_at(0).unwrap().unwrap();
    let mut sheet_rows = sheet.rows().map(|row| {
        let mut cells: Vec<String> = row.iter().map(|cell| cell.to_string()).collect();
        cells.resize(10, String::new());
        cells
    });
    assert_eq!(
        sheet_rows.next().unwrap(),
        kommune_changes::domain::publication::COLUMNS
    );
    assert_eq!(sheet_rows.collect::<Vec<_>>(), listed);

    let no_format = publications(&t)
        .export_publication(bearer(pb::ExportPublicationRequest::default(), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&no_format), ["format"]);
}

#[tokio::test]
async fn a_renamed_theme_changes_the_list_but_not_earlier_publications() {
    let t = TestChanges::start().await;
    let subtheme = t
        .reference()
        .create_subtheme(bearer(
            pb::CreateSubthemeRequest {
                theme_id: t.theme_id.clone(),
                name: "Debitorer".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .subtheme
        .unwrap();
    t.change_requests()
        .create_change_request(bearer(
            pb::CreateChangeRequestRequest {
                subtheme_id: subtheme.subtheme_id.clone(),
                ..t.new_request(&t.municipalities[0], "Filtrering")
            },
            &t.admin,
        ))
        .await
        .unwrap();
    let before = publish(&t, "Før").await;

    let renamed = t
        .reference()
        .rename_theme(bearer(
            pb::RenameThemeRequest {
                theme_id: t.theme_id.clone(),
                name: "Økonomi og debitorer".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .theme
        .unwrap();
    assert_eq!(renamed.name, "Økonomi og debitorer");
    t.reference()
        .rename_subtheme(bearer(
            pb::RenameSubthemeRequest {
                subtheme_id: subtheme.subtheme_id.clone(),
                name: "Debitorlister".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    publish(&t, "Efter").await;

    let row = |publication_id: String| {
        let t = &t;
        async move {
            published(
                t,
                pb::ListPublishedChangeRequestsRequest {
                    publication_id,
                    ..Default::default()
                },
            )
            .await
            .change_requests
            .remove(0)
        }
    };
    let old = row(before.publication_id).await;
    assert_eq!(
        (old.change_theme.as_str(), old.subtheme.as_str()),
        ("Økonomi", "Debitorer")
    );
    let new = row(String::new()).await;
    assert_eq!(
        (new.change_theme.as_str(), new.subtheme.as_str()),
        ("Økonomi og debitorer", "Debitorlister")
    );

    // A name in use, an unknown theme, a personal ID number, a caseworker: refused, nothing renamed.
    let other = t
        .reference()
        .create_theme(bearer(
            pb::CreateThemeRequest {
                name: "Breve".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .theme
        .unwrap();
    let rename = |theme_id: &str, name: &str| pb::RenameThemeRequest {
        theme_id: theme_id.into(),
        name: name.into(),
    };
    let taken = t
        .reference()
        .rename_theme(bearer(
            rename(&other.theme_id, "Økonomi og debitorer"),
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let unknown = t
        .reference()
        .rename_theme(bearer(
            rename(&uuid::Uuid::now_v7().to_string(), "Andet"),
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let personal = t
        .reference()
        .rename_theme(bearer(rename(&other.theme_id, "Sag 0101901234"), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&personal), ["name"]);
    let caseworker = t.caseworker(&t.municipalities[0], "cw@kommune.dk").await;
    let denied = t
        .reference()
        .rename_theme(bearer(rename(&other.theme_id, "Andet"), &caseworker))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let names: Vec<String> = t
        .reference()
        .list_themes(bearer(pb::ListThemesRequest {}, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .themes
        .into_iter()
        .map(|theme| theme.name)
        .collect();
    assert_eq!(names, ["Breve", "Økonomi og debitorer"]);

    let audited = pb::audit_service_client::AuditServiceClient::new(t.changes.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "theme".into(),
                entity_id: t.theme_id.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(
        audited
            .iter()
            .any(|r| r.action == "rename" && r.payload_json.contains("Økonomi og debitorer"))
    );
}

#[tokio::test]
async fn a_persons_words_are_erased_from_a_change_request_and_every_publication_of_it() {
    let t = TestChanges::start().await;
    let cr = t.create("Hanne Holms udbetaling mangler").await;
    publish(&t, "november").await;
    let erase = |expected_version: i64, title: bool| pb::EraseChangeRequestTextRequest {
        change_request_id: cr.change_request_id.clone(),
        expected_version,
        title,
        description: false,
        workaround: false,
        reason: "Den registreredes anmodning".into(),
    };
    let neither = t
        .change_requests()
        .erase_change_request_text(bearer(erase(cr.version, false), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&neither), ["title"]);
    let stale = t
        .change_requests()
        .erase_change_request_text(bearer(erase(cr.version - 1, true), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let erased = t
        .change_requests()
        .erase_change_request_text(bearer(erase(cr.version, true), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(erased.title, "[slettet / erased]");
    assert_eq!(erased.description, cr.description, "only what was named");

    // The published list says so too, and searching for the name finds nothing.
    let listed = published(&t, pb::ListPublishedChangeRequestsRequest::default()).await;
    let row = listed
        .change_requests
        .iter()
        .find(|r| r.case_id == cr.key)
        .unwrap();
    assert_eq!(row.title, "[slettet / erased]");
    assert_eq!(
        row.description, cr.description,
        "only what was named, here too"
    );
    let searched = published(
        &t,
        pb::ListPublishedChangeRequestsRequest {
            query: "Hanne".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(searched.change_requests.is_empty());

    // The audit trail keeps that it happened, not the words; the chain still verifies.
    let mut audit = pb::audit_service_client::AuditServiceClient::new(t.changes.clone());
    let records = audit
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "change_request".into(),
                entity_id: cr.change_request_id.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert!(records.iter().all(|r| !r.payload_json.contains("Hanne")));
    assert_eq!(records.last().unwrap().action, "erase text");
    let verified = audit
        .verify_audit_chain(bearer(
            pb::VerifyAuditChainRequest {
                entity_type: "change_request".into(),
                entity_id: cr.change_request_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert!(verified.valid, "{}", verified.reason);
}
