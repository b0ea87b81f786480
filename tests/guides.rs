//! Guides through the gateway: a caseworker searches, reads a suggestion, files a case citing what
//! was read, and the guides' report shows it.

use kommune_guides::testing::{docx, sample_sections};
use kommune_proto::cases::v1 as cases;
use kommune_proto::guides::v1 as guides;

use super::*;

impl Suite {
    /// An area of a new second-line team.
    async fn area(&self, name: &str) -> cases::Area {
        let mut reference =
            cases::reference_service_client::ReferenceServiceClient::new(self.gateway.clone());
        let team = cases::Team {
            name: format!("Team {name}"),
            line: cases::SupportLine::Second as i32,
            ..Default::default()
        };
        let team = reference
            .create_team(bearer(
                cases::CreateTeamRequest { team: Some(team) },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .team
            .unwrap();
        let area = cases::Area {
            name: name.into(),
            team_id: team.team_id,
            ..Default::default()
        };
        reference
            .create_area(bearer(
                cases::CreateAreaRequest { area: Some(area) },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .area
            .unwrap()
    }

    /// A guide to `system` imported through the gateway as the consortium admin.
    async fn guide(&self, system: &cases::System, file: Vec<u8>) -> Result<guides::Guide, Status> {
        let options = guides::ImportGuideOptions {
            title: format!("Vejledning til {}", system.name),
            system_id: system.system_id.clone(),
            audience: guides::Audience::Caseworkers as i32,
            file_name: "vejledning.docx".into(),
            ..Default::default()
        };
        let mut messages = vec![guides::ImportGuideRequest {
            part: Some(guides::import_guide_request::Part::Options(options)),
        }];
        messages.extend(
            file.chunks(64 * 1024)
                .map(|chunk| guides::ImportGuideRequest {
                    part: Some(guides::import_guide_request::Part::Chunk(chunk.to_vec())),
                }),
        );
        let imported = guides::guide_service_client::GuideServiceClient::new(self.gateway.clone())
            .import_guide(bearer(tokio_stream::iter(messages), &self.admin_token))
            .await?
            .into_inner();
        Ok(imported.guide.unwrap())
    }
}

#[tokio::test]
async fn a_caseworker_reads_a_suggestion_files_anyway_and_the_report_shows_it() {
    let suite = Suite::start().await;
    let ky = suite.system("KY").await;
    let other = suite.system("Andet system").await;
    let area = suite.area("Udbetaling").await;
    let unknown = cases::System {
        system_id: "0192f1a4-0000-7000-8000-00000000beef".into(),
        name: "Ukendt".into(),
        ..Default::default()
    };
    let err = suite
        .guide(&unknown, docx(&sample_sections(1, 1, 1)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "a system cases does not know");
    let guide = suite
        .guide(&ky, docx(&sample_sections(6, 4, 4)))
        .await
        .unwrap();
    assert_eq!(guide.system_name, "KY");
    let other_guide = suite
        .guide(&other, docx(&sample_sections(2, 2, 2)))
        .await
        .unwrap();

    let aarhus = suite.municipality("751", "55133018").await;
    let reporter = suite
        .user(&aarhus, "reporter@aarhus.dk", Role::MunicipalCaseworker)
        .await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .date_naive();
    pb::eligibility_service_client::EligibilityServiceClient::new(suite.gateway.clone())
        .register_eligible_user(bearer(
            pb::RegisterEligibleUserRequest {
                user_id: reporter.user_id.clone(),
                municipality_id: aarhus.clone(),
                valid_from: today.format("%Y-%m-%d").to_string(),
                ..Default::default()
            },
            &suite.admin_token,
        ))
        .await
        .unwrap();
    let token = suite.token_for(&reporter).await;
    let mut search = guides::search_service_client::SearchServiceClient::new(suite.gateway.clone());

    // A search with an inflected word finds the section headed by it.
    let hits = search
        .search_sections(bearer(
            guides::SearchSectionsRequest {
                query: "udbetalinger".into(),
                system_id: ky.system_id.clone(),
                limit: 5,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .hits;
    assert!(
        hits[0]
            .section
            .as_ref()
            .unwrap()
            .heading
            .contains("Udbetaling")
    );

    // While the case is written, sections are suggested; the reporter reads two and files anyway.
    let suggestion = search
        .suggest_sections(bearer(
            guides::SuggestSectionsRequest {
                title: "Udbetalingen er ikke sket".into(),
                description: "Borgeren har ikke fået udbetaling af ydelsen i denne måned.".into(),
                system_id: ky.system_id.clone(),
                limit: 3,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(suggestion.hits.len(), 3);
    let read: Vec<String> = suggestion.hits[..2]
        .iter()
        .map(|h| h.section.as_ref().unwrap().section_id.clone())
        .collect();
    let filing = cases::FileCaseRequest {
        title: "Udbetalingen er ikke sket".into(),
        description: "Borgeren har ikke fået udbetaling af ydelsen i denne måned.".into(),
        kind: cases::CaseKind::Fault as i32,
        severity: cases::Severity::Normal as i32,
        system_id: ky.system_id.clone(),
        area_id: area.area_id.clone(),
        cited_section_ids: read.clone(),
        suggestion_id: suggestion.suggestion_id.clone(),
        ..Default::default()
    };
    let mut case_service =
        cases::case_service_client::CaseServiceClient::new(suite.gateway.clone());
    let filed = case_service
        .file_case(bearer(filing.clone(), &token))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let cited: Vec<&str> = filed
        .cited_sections
        .iter()
        .map(|c| c.section_id.as_str())
        .collect();
    assert_eq!(cited, [read[0].as_str(), read[1].as_str()]);
    assert_eq!(filed.cited_sections[0].guide_title, "Vejledning til KY");
    assert_eq!(
        filed.cited_sections[0].heading,
        suggestion.hits[0].section.as_ref().unwrap().heading
    );
    assert_eq!(filed.suggestion_id, suggestion.suggestion_id);

    // A section of another system's guide, or one that does not exist, is refused on the filing.
    let theirs = guides::guide_service_client::GuideServiceClient::new(suite.gateway.clone())
        .list_sections(bearer(
            guides::ListSectionsRequest {
                guide_id: other_guide.guide_id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .sections;
    let mut wrong = filing.clone();
    wrong.suggestion_id.clear();
    wrong.cited_section_ids = vec![read[0].clone(), theirs[0].section_id.clone()];
    let err = case_service
        .file_case(bearer(wrong.clone(), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().starts_with("cited_section_ids[1]"),
        "{}",
        err.message()
    );
    wrong.cited_section_ids = vec!["0192f1a4-0000-7000-8000-00000000dead".into()];
    let err = case_service
        .file_case(bearer(wrong, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // The report shows the sections read before filing anyway, once cases' feed has told guides.
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .format("%Y-%m")
        .to_string();
    let mut reports =
        guides::report_service_client::ReportServiceClient::new(suite.gateway.clone());
    let stats = eventually("the citations are counted", async || {
        let stats = reports
            .list_section_statistics(bearer(
                guides::ListSectionStatisticsRequest {
                    first_month: month.clone(),
                    last_month: month.clone(),
                    guide_id: guide.guide_id.clone(),
                    ..Default::default()
                },
                &suite.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .sections;
        stats
            .first()
            .is_some_and(|s| s.read_and_filed > 0)
            .then_some(stats)
    })
    .await;
    let filed_anyway: Vec<(&str, i64)> = stats
        .iter()
        .filter(|s| s.read_and_filed > 0)
        .map(|s| (s.section_id.as_str(), s.read_and_filed))
        .collect();
    assert_eq!(filed_anyway.len(), 2);
    assert!(
        filed_anyway
            .iter()
            .all(|(id, n)| read.contains(&(*id).to_owned()) && *n == 1)
    );
    let summary = reports
        .get_deflection_summary(bearer(
            guides::GetDeflectionSummaryRequest {
                first_month: month.clone(),
                last_month: month.clone(),
                system_id: ky.system_id.clone(),
            },
            &suite.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .total
        .unwrap();
    assert_eq!(
        (summary.suggestions, summary.answered, summary.filed_anyway),
        (1, 0, 1)
    );

    // A suggestion a filed case cites did not answer the question.
    let late = search
        .mark_answered(bearer(
            guides::MarkAnsweredRequest {
                suggestion_id: suggestion.suggestion_id.clone(),
                section_id: read[0].clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    // Someone else's (or no) suggestion is refused on the filing's own field.
    let mut foreign = filing.clone();
    foreign.suggestion_id = "0192f1a4-0000-7000-8000-00000000f00d".into();
    let err = case_service
        .file_case(bearer(foreign, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("suggestion_id"),
        "{}",
        err.message()
    );

    // A new version of the guide keeps the cited sections: the case's citations still lead to them.
    let mut revised = sample_sections(6, 4, 4);
    revised[1].paragraphs.push("Nyt afsnit i version 2.".into());
    revised.insert(
        2,
        kommune_guides::testing::SectionSpec {
            level: 2,
            heading: "1.2 Nyt om frister".into(),
            paragraphs: vec!["Nyt.".into()],
        },
    );
    let options = guides::ImportGuideOptions {
        guide_id: guide.guide_id.clone(),
        expected_revision: guide.revision,
        file_name: "vejledning-v2.docx".into(),
        ..Default::default()
    };
    let parts = [
        guides::ImportGuideRequest {
            part: Some(guides::import_guide_request::Part::Options(options)),
        },
        guides::ImportGuideRequest {
            part: Some(guides::import_guide_request::Part::Chunk(docx(&revised))),
        },
    ];
    let mut guide_service =
        guides::guide_service_client::GuideServiceClient::new(suite.gateway.clone());
    let v2 = guide_service
        .import_guide(bearer(tokio_stream::iter(parts), &suite.admin_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v2.guide.unwrap().version, 2);
    for cited in &filed.cited_sections {
        let section = guide_service
            .get_section(bearer(
                guides::GetSectionRequest {
                    section_id: cited.section_id.clone(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .section
            .unwrap();
        assert!(section.current, "{} is in version 2", cited.heading);
        assert_eq!(section.version, 2);
        assert_eq!(section.heading, cited.heading);
    }
}
