//! Satisfaction: the reporter is invited once to rate a resolved case, rates it once, and the desk
//! sees the ratings by team, area and municipality per month.

use super::*;

async fn rate(
    t: &TestCases,
    token: &str,
    case_id: &str,
    rating: i32,
) -> Result<pb::RateCaseResponse, Status> {
    Ok(t.cases()
        .rate_case(bearer(
            pb::RateCaseRequest {
                case_id: case_id.into(),
                rating,
                comment: "Hurtigt svar, tak".into(),
            },
            token,
        ))
        .await?
        .into_inner())
}

#[tokio::test]
async fn a_reporter_is_invited_once_rates_once_and_the_desk_sees_it_by_group() {
    let t = TestCases::start().await;
    let filed = |title: &str| t.file(t.new_case(title, pb::Severity::Normal));
    let first = filed("Omregning fejler").await.unwrap().case.unwrap();
    let second = filed("Udbetaling mangler").await.unwrap().case.unwrap();
    let open = filed("Brev mangler").await.unwrap().case.unwrap();

    let not_yet = rate(&t, &t.reporter, &first.case_id, 4).await.unwrap_err();
    assert_eq!(not_yet.code(), Code::FailedPrecondition);
    let resolved = t.resolve(&first).await;
    t.resolve(&second).await;
    // Reopened and resolved again: still one invitation.
    let reopened = t
        .transition(&t.reporter, &resolved, pb::Transition::Reopen)
        .await
        .unwrap();
    let again = t
        .cases()
        .transition_case(bearer(
            pb::TransitionCaseRequest {
                case_id: reopened.case_id.clone(),
                expected_version: reopened.version,
                transition: pb::Transition::Resolve as i32,
                resolution: pb::Resolution::Fixed as i32,
                ..Default::default()
            },
            &t.supporter,
        ))
        .await
        .unwrap();
    drop(again);
    let invited: Vec<(String, String)> = t
        .events::<pb::CaseRatingInvited>("CaseRatingInvited")
        .await
        .into_iter()
        .map(|e| (e.case_id, e.reporter_user_id))
        .collect();
    assert_eq!(
        invited,
        [
            (first.case_id.clone(), t.reporter_id.clone()),
            (second.case_id.clone(), t.reporter_id.clone())
        ]
    );

    for (token, case_id, rating, code) in [
        (&t.reporter, &first.case_id, 6, Code::InvalidArgument),
        (&t.reporter, &first.case_id, 0, Code::InvalidArgument),
        (&t.supporter, &first.case_id, 4, Code::PermissionDenied),
        (&t.reporter, &open.case_id, 4, Code::FailedPrecondition),
    ] {
        let refused = rate(&t, token, case_id, rating).await.unwrap_err();
        assert_eq!(refused.code(), code, "{refused:?}");
    }
    assert_eq!(
        rate(&t, &t.reporter, &first.case_id, 4)
            .await
            .unwrap()
            .rating,
        4
    );
    let twice = rate(&t, &t.reporter, &first.case_id, 5).await.unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists);
    rate(&t, &t.reporter, &second.case_id, 2).await.unwrap();
    let rated: Vec<i32> = t
        .events::<pb::CaseRated>("CaseRated")
        .await
        .into_iter()
        .map(|e| e.rating)
        .collect();
    assert_eq!(rated, [4, 2]);

    let satisfaction = async |group_by: pb::SatisfactionGrouping| {
        pb::report_service_client::ReportServiceClient::new(t.cases.clone())
            .get_satisfaction(bearer(
                pb::GetSatisfactionRequest {
                    first_month: "2025-03".into(),
                    last_month: "2025-05".into(),
                    group_by: group_by as i32,
                },
                &t.supporter,
            ))
            .await
            .map(|r| {
                r.into_inner()
                    .counts
                    .into_iter()
                    .map(|c| (c.month, c.group_id, c.count, c.average, c.by_rating))
                    .collect::<Vec<_>>()
            })
    };
    let month = "2025-04".to_owned();
    assert_eq!(
        satisfaction(pb::SatisfactionGrouping::Team).await.unwrap(),
        [(
            month.clone(),
            t.second_line.clone(),
            2,
            3.0,
            vec![0, 1, 0, 1, 0]
        )]
    );
    assert_eq!(
        satisfaction(pb::SatisfactionGrouping::Municipality)
            .await
            .unwrap(),
        [(
            month.clone(),
            t.municipality.clone(),
            2,
            3.0,
            vec![0, 1, 0, 1, 0]
        )]
    );
    assert_eq!(
        satisfaction(pb::SatisfactionGrouping::Area).await.unwrap(),
        [(month, t.area.clone(), 2, 3.0, vec![0, 1, 0, 1, 0])]
    );
    let unspecified = satisfaction(pb::SatisfactionGrouping::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(
        (unspecified.code(), violated_fields(&unspecified)),
        (Code::InvalidArgument, vec!["group_by".to_owned()])
    );
}
