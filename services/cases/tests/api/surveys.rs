//! The periodic survey: answered once and anonymously while open, results withheld for groups of
//! fewer than five, focus areas chosen from it.

use super::*;

fn surveys(t: &TestCases) -> pb::survey_service_client::SurveyServiceClient<Channel> {
    pb::survey_service_client::SurveyServiceClient::new(t.cases.clone())
}

fn questions() -> Vec<pb::SurveyQuestion> {
    vec![
        pb::SurveyQuestion {
            text_da: "Hvor tilfreds er du med supporten?".into(),
            text_en: "How satisfied are you with the support?".into(),
            kind: pb::SurveyQuestionKind::Score as i32,
        },
        pb::SurveyQuestion {
            text_da: "Hvad kan vi gøre bedre?".into(),
            text_en: "What could we do better?".into(),
            kind: pb::SurveyQuestionKind::Text as i32,
        },
    ]
}

async fn answer(
    t: &TestCases,
    token: &str,
    survey_id: &str,
    answers: Vec<(i32, &str)>,
) -> Result<i64, Status> {
    Ok(surveys(t)
        .answer_survey(bearer(
            pb::AnswerSurveyRequest {
                survey_id: survey_id.into(),
                answers: answers
                    .into_iter()
                    .map(|(score, text)| pb::SurveyAnswer {
                        score,
                        text: text.into(),
                    })
                    .collect(),
            },
            token,
        ))
        .await?
        .into_inner()
        .respondent_count)
}

#[tokio::test]
async fn a_survey_is_answered_once_anonymously_and_small_groups_are_withheld() {
    let mut t = TestCases::start().await;
    let survey = pb::Survey {
        title: "Tilfredshedsundersøgelse 2025".into(),
        questions: questions(),
        open_time: time("2025-04-01T07:00:00Z"),
        close_time: time("2025-04-09T07:00:00Z"),
        ..Default::default()
    };
    let create = async |survey: pb::Survey, token: &str| {
        surveys(&t)
            .create_survey(bearer(
                pb::CreateSurveyRequest {
                    idempotency_key: String::new(),
                    survey: Some(survey),
                },
                token,
            ))
            .await
    };
    for (bad, field) in [
        (
            pb::Survey {
                close_time: time("2025-03-01T07:00:00Z"),
                ..survey.clone()
            },
            "survey.close_time",
        ),
        (
            pb::Survey {
                questions: Vec::new(),
                ..survey.clone()
            },
            "survey.questions",
        ),
    ] {
        let refused = create(bad, &t.supporter).await.unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec![field.to_owned()])
        );
    }
    let denied = create(survey.clone(), &t.reporter).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let survey_id = create(survey, &t.supporter)
        .await
        .unwrap()
        .into_inner()
        .survey
        .unwrap()
        .survey_id;

    // Bad answers: refused, nothing kept.
    for (answers, field) in [
        (vec![(4, "")], "answers"),
        (vec![(6, ""), (0, "")], "answers[0].score"),
        (vec![(4, ""), (2, "")], "answers[1].score"),
        (
            vec![(4, "Borgeren 010190-1234 venter"), (0, "")],
            "answers[0].text",
        ),
    ] {
        let refused = answer(&t, &t.reporter, &survey_id, answers)
            .await
            .unwrap_err();
        assert_eq!(
            (refused.code(), violated_fields(&refused)),
            (Code::InvalidArgument, vec![field.to_owned()]),
            "{refused:?}"
        );
    }
    let supplier = answer(&t, &t.supporter, &survey_id, vec![(4, ""), (0, "")])
        .await
        .unwrap_err();
    assert_eq!(supplier.code(), Code::PermissionDenied);
    let (_, not_eligible) = t
        .user(
            &t.municipality,
            "ikke@aarhus.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    let refused = answer(&t, &not_eligible, &survey_id, vec![(4, ""), (0, "")])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Six in Aarhus (the reporter and five colleagues), two in Odense.
    assert_eq!(
        answer(
            &t,
            &t.reporter,
            &survey_id,
            vec![(5, "Hurtige svar"), (0, "")]
        )
        .await
        .unwrap(),
        1
    );
    let twice = answer(&t, &t.reporter, &survey_id, vec![(1, ""), (0, "")])
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    for n in 0..5 {
        let (_, token) = t
            .eligible_reporter(&t.municipality, &format!("kollega{n}@aarhus.dk"))
            .await;
        answer(
            &t,
            &token,
            &survey_id,
            vec![(4, ""), (0, "Flere vejledninger")],
        )
        .await
        .unwrap();
    }
    let odense = t.municipality("461", "Odense Kommune", "35209115").await;
    for n in 0..2 {
        let (_, token) = t
            .eligible_reporter(&odense, &format!("sag{n}@odense.dk"))
            .await;
        answer(&t, &token, &survey_id, vec![(2, ""), (0, "Svartider")])
            .await
            .unwrap();
    }

    let results = surveys(&t)
        .get_survey_results(bearer(
            pb::GetSurveyResultsRequest {
                survey_id: survey_id.clone(),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner();
    let overall = results.overall.unwrap();
    assert_eq!((overall.respondent_count, overall.withheld), (8, false));
    assert_eq!(overall.questions[0].by_score, [0, 2, 0, 5, 1]);
    assert!((overall.questions[0].average - 29.0 / 8.0).abs() < 1e-9);
    let mut texts = overall.questions[1].texts.clone();
    texts.sort();
    assert_eq!(texts.len(), 7);
    let groups: Vec<(String, i64, bool, usize)> = results
        .municipalities
        .into_iter()
        .map(|g| {
            (
                g.municipality_id,
                g.respondent_count,
                g.withheld,
                g.questions.len(),
            )
        })
        .collect();
    let mut expected = vec![
        (t.municipality.clone(), 6, false, 2),
        (odense.clone(), 2, true, 0),
    ];
    expected.sort();
    assert_eq!(groups, expected, "fewer than five: withheld");

    // Focus areas chosen from the results, followed up to the next meeting.
    let mut focus = surveys(&t);
    let area = focus
        .create_focus_area(bearer(
            pb::CreateFocusAreaRequest {
                focus_area: Some(pb::FocusArea {
                    survey_id: survey_id.clone(),
                    title: "Svartider for Odense".into(),
                    owner_user_id: t.supporter_id.clone(),
                    actions: "Fast kontaktperson".into(),
                    ..Default::default()
                }),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .focus_area
        .unwrap();
    assert_eq!(area.status, pb::FocusAreaStatus::Planned as i32);
    let moved = pb::FocusArea {
        status: pb::FocusAreaStatus::InProgress as i32,
        ..area.clone()
    };
    let updated = focus
        .update_focus_area(bearer(
            pb::UpdateFocusAreaRequest {
                focus_area: Some(moved.clone()),
            },
            &t.supporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .focus_area
        .unwrap();
    assert_eq!(
        (updated.status, updated.version),
        (pb::FocusAreaStatus::InProgress as i32, 2)
    );
    let stale = focus
        .update_focus_area(bearer(
            pb::UpdateFocusAreaRequest {
                focus_area: Some(moved),
            },
            &t.supporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let listed = focus
        .list_focus_areas(bearer(
            pb::ListFocusAreasRequest {
                survey_id: survey_id.clone(),
                page: None,
            },
            &t.reporter,
        ))
        .await
        .unwrap()
        .into_inner()
        .focus_areas;
    assert_eq!(listed.len(), 1);

    // Closed: no more answers.
    t.at("2025-04-10T07:00:00Z").await;
    let closed = answer(&t, &t.reporter, &survey_id, vec![(3, ""), (0, "")])
        .await
        .unwrap_err();
    assert_eq!(closed.code(), Code::FailedPrecondition);
}
