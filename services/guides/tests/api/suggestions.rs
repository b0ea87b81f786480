//! Suggestions while a case is written, answers (deflections), citations checked for cases, and the
//! report of where the guides fail.

use kommune_platform::testing::violated_fields;
use tonic::Code;

use super::*;

impl TestGuides {
    async fn suggest(&self, token: &str, title: &str, system: &str) -> pb::SuggestSectionsResponse {
        let request = pb::SuggestSectionsRequest {
            title: title.into(),
            description: "Borgeren har ikke fået sin udbetaling, og sagsbehandleren kan ikke se \
                          hvorfor i systemet."
                .into(),
            system_id: system.into(),
            limit: 3,
        };
        self.search_service()
            .suggest_sections(bearer(request, token))
            .await
            .unwrap()
            .into_inner()
    }

    async fn answered(
        &self,
        token: &str,
        suggestion_id: &str,
        section_id: &str,
    ) -> Result<pb::Section, Status> {
        let request = pb::MarkAnsweredRequest {
            suggestion_id: suggestion_id.into(),
            section_id: section_id.into(),
        };
        Ok(self
            .search_service()
            .mark_answered(bearer(request, token))
            .await?
            .into_inner()
            .section
            .unwrap())
    }

    async fn resolve(
        &self,
        token: &str,
        system: &str,
        section_ids: &[&str],
        suggestion_id: &str,
    ) -> Result<Vec<pb::Section>, Status> {
        let request = pb::ResolveCitationsRequest {
            system_id: system.into(),
            section_ids: section_ids.iter().map(|s| (*s).to_owned()).collect(),
            suggestion_id: suggestion_id.into(),
        };
        Ok(self
            .search_service()
            .resolve_citations(bearer(request, token))
            .await?
            .into_inner()
            .sections)
    }
}

#[tokio::test]
async fn a_drafted_case_gets_suggestions_and_a_section_that_answers_it_is_counted() {
    let t = TestGuides::start().await;
    let guide = t.imported("Ydelsesvejledning", SYSTEM, &long_guide()).await;
    t.imported("Anden vejledning", OTHER_SYSTEM, &long_guide())
        .await;
    let worker = &t.caseworkers[0];

    let first = t.suggest(worker, "Udbetalingen mangler", SYSTEM).await;
    assert_eq!(first.hits.len(), 3);
    assert!(
        first
            .hits
            .iter()
            .all(|h| h.section.as_ref().unwrap().guide_id == guide.guide_id)
    );
    let best = first.hits[0].section.clone().unwrap();
    assert!(
        best.heading.to_lowercase().contains("udbetaling"),
        "{}",
        best.heading
    );

    let answered = t
        .answered(worker, &first.suggestion_id, &best.section_id)
        .await
        .unwrap();
    assert_eq!(answered.section_id, best.section_id);
    assert!(!answered.text.is_empty());
    // Once per suggestion: the same answer again is fine, another is not.
    t.answered(worker, &first.suggestion_id, &best.section_id)
        .await
        .unwrap();
    let other = first.hits[1].section.as_ref().unwrap().section_id.clone();
    let err = t
        .answered(worker, &first.suggestion_id, &other)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // Only the suggestion's own sections, and only its own user's.
    let second = t.suggest(worker, "Udbetalingen mangler igen", SYSTEM).await;
    let not_suggested = t
        .sections(&guide.guide_id)
        .await
        .last()
        .unwrap()
        .section_id
        .clone();
    let err = t
        .answered(worker, &second.suggestion_id, &not_suggested)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["section_id"]);
    let theirs = &t.caseworkers[1];
    let err = t
        .answered(theirs, &second.suggestion_id, &other)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // The report: two suggestions, one answered; the answering section counted.
    let request = pb::GetDeflectionSummaryRequest {
        first_month: "2025-01".into(),
        last_month: "2025-03".into(),
        system_id: SYSTEM.into(),
    };
    let summary = t
        .reports()
        .get_deflection_summary(bearer(request, &t.admin))
        .await
        .unwrap()
        .into_inner();
    let total = summary.total.unwrap();
    assert_eq!(
        (total.suggestions, total.answered, total.filed_anyway),
        (2, 1, 0)
    );
    assert_eq!(total.deflection_rate, 0.5);
    assert_eq!(summary.by_system_and_month.len(), 1);
    assert_eq!(summary.by_system_and_month[0].month, "2025-03");

    let request = pb::ListSectionStatisticsRequest {
        first_month: "2025-03".into(),
        last_month: "2025-03".into(),
        guide_id: guide.guide_id.clone(),
        ..Default::default()
    };
    let stats = t
        .reports()
        .list_section_statistics(bearer(request, &t.supplier))
        .await
        .unwrap()
        .into_inner()
        .sections;
    let best_stats = stats
        .iter()
        .find(|s| s.section_id == best.section_id)
        .unwrap();
    assert_eq!(best_stats.answered, 1);
    assert_eq!(best_stats.suggested, 2);
    assert_eq!(
        best_stats.title,
        format!("{} {}", best.number, best.heading)
    );
    assert_eq!(best_stats.guide_title, "Ydelsesvejledning");
    assert_eq!(stats.iter().map(|s| s.suggested).sum::<i64>(), 6);
}

#[tokio::test]
async fn citations_are_checked_against_the_cases_system() {
    let t = TestGuides::start().await;
    let ours = t.imported("Ydelsesvejledning", SYSTEM, &long_guide()).await;
    let theirs = t
        .imported("Anden vejledning", OTHER_SYSTEM, &long_guide())
        .await;
    let ours = t.sections(&ours.guide_id).await;
    let theirs = t.sections(&theirs.guide_id).await;
    let worker = &t.caseworkers[0];
    let suggestion = t.suggest(worker, "Udbetalingen mangler", SYSTEM).await;

    let cited = t
        .resolve(
            worker,
            SYSTEM,
            &[&ours[3].section_id, &ours[1].section_id],
            &suggestion.suggestion_id,
        )
        .await
        .unwrap();
    let numbers: Vec<&str> = cited.iter().map(|s| s.number.as_str()).collect();
    assert_eq!(numbers, [ours[3].number.as_str(), ours[1].number.as_str()]);
    assert_eq!(cited[0].guide_title, "Ydelsesvejledning");

    let err = t
        .resolve(
            worker,
            SYSTEM,
            &[&ours[0].section_id, &theirs[0].section_id],
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["section_ids[1]"]);
    let missing = "0192f1a4-0000-7000-8000-00000000dead";
    let err = t
        .resolve(worker, SYSTEM, &[&ours[0].section_id, missing], "")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["section_ids[1]"]);
    let err = t
        .resolve(
            worker,
            SYSTEM,
            &[&ours[0].section_id, &ours[0].section_id],
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["section_ids[1]"]);
    // Someone else's suggestion, or one for another system.
    let err = t
        .resolve(
            &t.caseworkers[1],
            SYSTEM,
            &[&ours[0].section_id],
            &suggestion.suggestion_id,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = t
        .resolve(
            worker,
            OTHER_SYSTEM,
            &[&theirs[0].section_id],
            &suggestion.suggestion_id,
        )
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["suggestion_id"]);
}

#[tokio::test]
async fn a_suggestion_needs_a_draft_and_a_system() {
    let t = TestGuides::start().await;
    let request = pb::SuggestSectionsRequest {
        title: " ".into(),
        description: String::new(),
        system_id: String::new(),
        limit: 11,
    };
    let err = t
        .search_service()
        .suggest_sections(bearer(request, &t.caseworkers[0]))
        .await
        .unwrap_err();
    let mut fields = violated_fields(&err);
    fields.sort();
    assert_eq!(fields, ["limit", "system_id", "title"]);
    let cpr = pb::SuggestSectionsRequest {
        title: "Borger 010190-1234 mangler udbetaling".into(),
        description: String::new(),
        system_id: SYSTEM.into(),
        limit: 0,
    };
    let err = t
        .search_service()
        .suggest_sections(bearer(cpr, &t.caseworkers[0]))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["title"]);
}
