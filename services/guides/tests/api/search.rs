//! Search in Danish: inflections found, the most relevant first, snippets, system filter, withdrawn
//! guides left out, every replica answering the same, and searches that find nothing kept.

use kommune_guides::testing::{SectionSpec, sample_sections};
use kommune_platform::testing::violated_fields;
use tonic::Code;

use super::*;

fn section(level: u8, heading: &str, paragraphs: &[&str]) -> SectionSpec {
    SectionSpec {
        level,
        heading: heading.into(),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// A small guide whose words are known.
fn benefits_guide() -> Vec<SectionSpec> {
    vec![
        section(
            1,
            "1 Indledning",
            &["Vejledningen beskriver systemets funktioner."],
        ),
        section(
            1,
            "2 Udbetaling",
            &["Udbetalingen sker den sidste hverdag i måneden til borgerens NemKonto."],
        ),
        section(
            2,
            "2.1 Manuel tilknytning",
            &["Ved manuel tilknytning vælger sagsbehandleren borgeren og trykker Gem."],
        ),
        section(
            2,
            "2.2 Tilbagebetaling",
            &["Kræves en udbetaling tilbage, oprettes et krav. Udbetalinger modregnes ikke."],
        ),
    ]
}

#[tokio::test]
async fn danish_inflections_find_the_most_relevant_section_first() {
    let t = TestGuides::start().await;
    t.imported("Ydelsesvejledning", SYSTEM, &benefits_guide())
        .await;
    let hits = t.search("udbetalinger", "").await.unwrap();
    let numbers: Vec<&str> = hits
        .iter()
        .map(|h| h.section.as_ref().unwrap().number.as_str())
        .collect();
    assert_eq!(
        numbers.first(),
        Some(&"2"),
        "the section headed by the word first: {numbers:?}"
    );
    assert!(numbers.contains(&"2.2"));
    assert!(!numbers.contains(&"1"), "{numbers:?}");
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    let snippet = &hits[0].snippet_html;
    assert!(snippet.contains("<b>Udbetalingen</b>"), "{snippet}");

    let tied = t.search("tilknytningen", "").await.unwrap();
    assert_eq!(
        tied[0].section.as_ref().unwrap().heading,
        "Manuel tilknytning"
    );
    assert!(
        t.search("\"manuel tilknytning\" -tilbagebetaling", "")
            .await
            .unwrap()
            .len()
            == 1
    );
}

#[tokio::test]
async fn search_keeps_to_the_system_asked_and_to_published_guides() {
    let t = TestGuides::start().await;
    let ours = t
        .imported("Ydelsesvejledning", SYSTEM, &benefits_guide())
        .await;
    t.imported("Anden vejledning", OTHER_SYSTEM, &benefits_guide())
        .await;
    let all = t.search("udbetaling", "").await.unwrap();
    let ours_only = t.search("udbetaling", SYSTEM).await.unwrap();
    assert_eq!(all.len(), 2 * ours_only.len());
    assert!(
        ours_only
            .iter()
            .all(|h| h.section.as_ref().unwrap().guide_id == ours.guide_id)
    );

    let request = pb::WithdrawGuideRequest {
        guide_id: ours.guide_id.clone(),
        expected_revision: ours.revision,
        reason: "Forældet".into(),
    };
    t.guide_service()
        .withdraw_guide(bearer(request, &t.admin))
        .await
        .unwrap();
    assert!(t.search("udbetaling", SYSTEM).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_suppliers_own_guides_are_read_by_the_suite_wide_roles_only() {
    let t = TestGuides::start().await;
    let mut options = new_guide("Driftshåndbog", SYSTEM, "drift.docx");
    options.audience = pb::Audience::Supplier as i32;
    let own = t
        .import_as(&t.admin, options, &docx(&benefits_guide()))
        .await
        .unwrap()
        .guide
        .unwrap();
    let listed = async |token: &str| {
        t.guide_service()
            .list_guides(bearer(pb::ListGuidesRequest::default(), token))
            .await
            .unwrap()
            .into_inner()
            .guides
            .len()
    };
    let read = async |token: &str| {
        t.guide_service()
            .get_guide(bearer(
                pb::GetGuideRequest {
                    guide_id: own.guide_id.clone(),
                },
                token,
            ))
            .await
            .map(|_| ())
    };
    let found = async |token: &str| {
        t.search_service()
            .search_sections(bearer(
                pb::SearchSectionsRequest {
                    query: "udbetaling".into(),
                    system_id: SYSTEM.into(),
                    limit: 0,
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .hits
            .len()
    };
    // The supplier reads it, lists it and finds it.
    assert!(read(&t.supplier).await.is_ok());
    assert_eq!(listed(&t.supplier).await, 1);
    assert!(found(&t.supplier).await > 0);
    // To a municipality's caseworker it is as if it did not exist.
    let hidden = read(&t.caseworkers[0]).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(listed(&t.caseworkers[0]).await, 0);
    assert_eq!(found(&t.caseworkers[0]).await, 0);
    let sections = t
        .guide_service()
        .list_sections(bearer(
            pb::ListSectionsRequest {
                guide_id: own.guide_id.clone(),
                ..Default::default()
            },
            &t.caseworkers[0],
        ))
        .await
        .unwrap_err();
    assert_eq!(sections.code(), Code::NotFound);
    let trail = pb::audit_service_client::AuditServiceClient::new(t.guides.clone())
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "guide".into(),
                entity_id: own.guide_id.clone(),
                page: None,
            },
            &t.caseworkers[0],
        ))
        .await
        .unwrap_err();
    assert_eq!(trail.code(), Code::NotFound);
}

#[tokio::test]
async fn every_replica_answers_the_same() {
    let t = TestGuides::start().await;
    let (other, _running) = t.replica().await;
    t.imported("Ydelsesvejledning", SYSTEM, &sample_sections(4, 3, 3))
        .await;
    let here = t.search("udbetaling tilknytning", "").await.unwrap();
    let request = pb::SearchSectionsRequest {
        query: "udbetaling tilknytning".into(),
        system_id: String::new(),
        limit: 0,
    };
    // The other replica learns of the import within its sync interval.
    let mut there = Vec::new();
    for _ in 0..50 {
        there = pb::search_service_client::SearchServiceClient::new(other.clone())
            .search_sections(bearer(request.clone(), &t.caseworkers[1]))
            .await
            .unwrap()
            .into_inner()
            .hits;
        if !there.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let ids = |hits: &[pb::SectionHit]| -> Vec<String> {
        hits.iter()
            .map(|h| h.section.as_ref().unwrap().section_id.clone())
            .collect()
    };
    assert!(!here.is_empty());
    assert_eq!(ids(&here), ids(&there));
}

#[tokio::test]
async fn searches_that_find_nothing_are_counted_with_their_words() {
    let t = TestGuides::start().await;
    t.imported("Ydelsesvejledning", SYSTEM, &benefits_guide())
        .await;
    for query in [
        "Flyttebevis  til udlandet",
        "flyttebevis til udlandet",
        "pension",
    ] {
        assert!(t.search(query, SYSTEM).await.unwrap().is_empty());
    }
    assert!(!t.search("udbetaling", SYSTEM).await.unwrap().is_empty());
    let request = pb::ListUnansweredSearchesRequest {
        first_month: "2025-03".into(),
        last_month: "2025-03".into(),
        system_id: String::new(),
        page: None,
    };
    let searches = t
        .reports()
        .list_unanswered_searches(bearer(request.clone(), &t.supplier))
        .await
        .unwrap()
        .into_inner()
        .searches;
    let counted: Vec<(&str, i64)> = searches
        .iter()
        .map(|s| (s.query.as_str(), s.count))
        .collect();
    assert_eq!(counted, [("flyttebevis til udlandet", 2), ("pension", 1)]);
    assert_eq!(searches[0].system_id, SYSTEM);
    assert_eq!(searches[0].month, "2025-03");
    let err = t
        .reports()
        .list_unanswered_searches(bearer(request, &t.caseworkers[0]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_search_with_a_personal_id_number_is_refused_and_never_kept() {
    let t = TestGuides::start().await;
    let err = t
        .search("borger 010190-1234 udbetaling", "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["query"]);
    let err = t.search("   ", "").await.unwrap_err();
    assert_eq!(violated_fields(&err), ["query"]);
    let err = t.search("udbetaling", "ikke-et-id").await.unwrap_err();
    assert_eq!(violated_fields(&err), ["system_id"]);
}

#[tokio::test]
async fn searches_and_suggestions_past_their_retention_are_removed_and_no_others() {
    use kommune_guides::store::{suggestions, unanswered_searches};
    use kommune_platform::retention::{Policy, Sweeper};
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};

    let t = TestGuides::start().await;
    t.imported("Ydelsesvejledning", SYSTEM, &benefits_guide())
        .await;
    for query in ["pension", "flyttebevis"] {
        assert!(t.search(query, SYSTEM).await.unwrap().is_empty());
    }
    for title in ["Udbetaling mangler", "Udbetalingen er forkert"] {
        t.search_service()
            .suggest_sections(bearer(
                pb::SuggestSectionsRequest {
                    title: title.into(),
                    description: "Borgeren har ikke fået sin udbetaling.".into(),
                    system_id: SYSTEM.into(),
                    limit: 3,
                },
                &t.caseworkers[0],
            ))
            .await
            .unwrap();
    }
    // One of each written two years ago.
    let db = kommune_platform::db::connect(&t.database_url)
        .await
        .unwrap();
    let long_ago = DateTime::parse_from_rfc3339("2023-03-01T10:00:00Z")
        .unwrap()
        .to_utc();
    let search = unanswered_searches::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let mut old_search = search.into_active_model();
    old_search.at = Set(long_ago);
    let old_search = old_search.update(&db).await.unwrap();
    let suggestion = suggestions::Entity::find().one(&db).await.unwrap().unwrap();
    let mut old_suggestion = suggestion.into_active_model();
    old_suggestion.created_at = Set(long_ago);
    let old_suggestion = old_suggestion.update(&db).await.unwrap();

    let replica = Guides::build(Options::new(
        t.database_url.clone(),
        t.identity_addr.clone(),
        Arc::new(t.clock.clone()),
    ))
    .await
    .unwrap();
    let kinds = replica.all_retention_kinds();
    let policy = Policy::parse("guides", &kinds, "").unwrap();
    let removed = Sweeper::new(replica.audit_log(), kinds, policy)
        .sweep()
        .await
        .unwrap();
    let of = |kind: &str| removed.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n);
    assert_eq!(of("unanswered_searches"), Some(1));
    assert_eq!(of("suggestions"), Some(1));
    let searches = unanswered_searches::Entity::find().all(&db).await.unwrap();
    assert_eq!(searches.len(), 1);
    assert_ne!(searches[0].id, old_search.id);
    assert!(
        suggestions::Entity::find_by_id(old_suggestion.id.clone())
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(suggestions::Entity::find().count(&db).await.unwrap(), 1);
}
