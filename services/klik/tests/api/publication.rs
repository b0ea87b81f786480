//! Templates, publication in both modes, enrolment, dates from go-live and frozen zones.

use super::*;

#[tokio::test]
async fn k98_tasks_reach_every_municipality_at_once_and_get_dates_at_enrolment() {
    let t = TestKlik::start().await;
    let project = t.project(14).await;
    let wave = t.wave(&project, "1st wave", "2025-04-14").await;
    let (_, created) = t
        .publish(
            &project,
            content(
                "PL 1 Appoint a project leader",
                true,
                Some((-14, pb::OffsetUnit::Days)),
                15,
                None,
            ),
        )
        .await;
    assert_eq!(created, 3, "one task per active municipality");
    for municipality in &t.municipalities {
        let tasks = t.tasks_of(&project, municipality).await;
        assert_eq!(tasks.len(), 1);
        assert_eq!(
            (tasks[0].start_date.as_str(), tasks[0].end_date.as_str()),
            ("", ""),
            "to be scheduled"
        );
        assert_eq!(tasks[0].template_version, 1);
        assert_eq!(tasks[0].priority, pb::Priority::CriticalPath as i32);
    }
    let a = &t.municipalities[0];
    let (_, leader) = t
        .user(a, "leader@kk.dk", id::Role::MunicipalProjectLeader)
        .await;
    let enrolled = t.enrol(&leader, &project, a, &wave.wave_id).await.unwrap();
    assert_eq!(enrolled.tasks_scheduled, 1);
    let task = &t.tasks_of(&project, a).await[0];
    assert_eq!(
        (task.start_date.as_str(), task.end_date.as_str()),
        ("2025-03-16", "2025-03-31")
    );

    // Enrolling twice, or another municipality, is refused.
    let twice = t
        .enrol(&leader, &project, a, &wave.wave_id)
        .await
        .unwrap_err();
    assert_eq!(
        (twice.code(), violated_fields(&twice)),
        (Code::AlreadyExists, vec!["municipality_id".to_owned()])
    );
    let other = t
        .enrol(&leader, &project, &t.municipalities[1], &wave.wave_id)
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn wave_tasks_arrive_when_the_wave_is_published_and_late_enrolments_catch_up() {
    let t = TestKlik::start().await;
    let project = t.project(14).await;
    let first = t.wave(&project, "1st wave", "2025-04-14").await;
    let second = t.wave(&project, "2nd wave", "2025-06-01").await;
    let [a, b, c] = [
        &t.municipalities[0],
        &t.municipalities[1],
        &t.municipalities[2],
    ];
    let (_, created) = t
        .publish(
            &project,
            content(
                "MI 32 Manual attachment of debtor accounts",
                false,
                Some((-1, pb::OffsetUnit::Months)),
                10,
                None,
            ),
        )
        .await;
    assert_eq!(created, 0, "no wave is published yet");
    assert_eq!(
        t.enrol(&t.admin, &project, a, &first.wave_id)
            .await
            .unwrap()
            .tasks_scheduled,
        0
    );
    t.enrol(&t.admin, &project, c, &second.wave_id)
        .await
        .unwrap();

    let published = t
        .projects()
        .publish_wave(bearer(
            pb::PublishWaveRequest {
                wave_id: first.wave_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.tasks_created, 1);
    assert!(published.wave.unwrap().published);
    let task = &t.tasks_of(&project, a).await[0];
    assert_eq!(
        (task.start_date.as_str(), task.end_date.as_str()),
        ("2025-03-04", "2025-03-14")
    );

    // A late enrolment in a published wave receives its tasks at once; the unpublished wave has none.
    assert_eq!(
        t.enrol(&t.admin, &project, b, &first.wave_id)
            .await
            .unwrap()
            .tasks_scheduled,
        1
    );
    assert_eq!(t.tasks_of(&project, b).await.len(), 1);
    assert!(t.tasks_of(&project, c).await.is_empty());

    // A later template published to the project reaches the published wave only.
    let (_, created) = t
        .publish(
            &project,
            content(
                "VF 2 Train the caseworkers",
                false,
                Some((0, pb::OffsetUnit::Days)),
                30,
                None,
            ),
        )
        .await;
    assert_eq!(created, 2);
    assert!(t.tasks_of(&project, c).await.is_empty());
}

#[tokio::test]
async fn dates_follow_a_moved_go_live_except_frozen_tasks_and_month_ends_clamp() {
    let mut t = TestKlik::start().await;
    let project = t.project(14).await;
    let wave = t.wave(&project, "1st wave", "2025-05-31").await;
    let a = &t.municipalities[0];
    t.enrol(&t.admin, &project, a, &wave.wave_id).await.unwrap();
    t.projects()
        .publish_wave(bearer(
            pb::PublishWaveRequest {
                wave_id: wave.wave_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    // Ends a month before go-live; its frozen zone opens 5 days before its start (in April).
    t.publish(
        &project,
        content(
            "UI 4 Phase out the old debtor interface",
            false,
            Some((-1, pb::OffsetUnit::Months)),
            10,
            Some(5),
        ),
    )
    .await;
    // Ends 60 days before go-live; its frozen zone of 30 days before its start has already opened.
    t.publish(
        &project,
        content(
            "PL 2 Plan the rollout",
            false,
            Some((-60, pb::OffsetUnit::Days)),
            10,
            Some(30),
        ),
    )
    .await;
    let dates = |tasks: &[pb::Task], title: &str| {
        let task = tasks.iter().find(|t| t.title.starts_with(title)).unwrap();
        (task.start_date.clone(), task.end_date.clone())
    };
    let before = t.tasks_of(&project, a).await;
    assert_eq!(
        dates(&before, "UI 4"),
        ("2025-04-20".into(), "2025-04-30".into())
    );
    assert_eq!(
        dates(&before, "PL 2"),
        ("2025-03-22".into(), "2025-04-01".into())
    );

    let moved = t
        .projects()
        .move_wave(bearer(
            pb::MoveWaveRequest {
                wave_id: wave.wave_id.clone(),
                expected_version: wave.version + 1,
                go_live: "2025-03-31".into(),
            },
            &t.admin,
        ))
        .await;
    // 31 March is inside the project's 14-day frozen zone from 1 March? No: 17 March opens it. Allowed.
    let moved = moved.unwrap().into_inner();
    assert_eq!(moved.tasks_rescheduled, 1);
    let after = t.tasks_of(&project, a).await;
    assert_eq!(
        dates(&after, "UI 4"),
        ("2025-02-18".into(), "2025-02-28".into()),
        "31 March - 1 month = 28 February"
    );
    assert_eq!(
        dates(&after, "PL 2"),
        ("2025-03-22".into(), "2025-04-01".into()),
        "frozen"
    );

    // Inside the project's frozen zone the wave no longer moves and takes no enrolments.
    t.advance_days(20).await; // 21 March: 10 days before go-live
    let refused = t
        .projects()
        .move_wave(bearer(
            pb::MoveWaveRequest {
                wave_id: wave.wave_id.clone(),
                expected_version: moved.wave.unwrap().version,
                go_live: "2025-06-30".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let late = t
        .enrol(&t.admin, &project, &t.municipalities[1], &wave.wave_id)
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn bad_templates_are_refused_field_by_field_and_nothing_is_written() {
    let t = TestKlik::start().await;
    let project = t.project(14).await;
    let mut bad = content("", false, None, -3, None);
    bad.theme = 0;
    bad.goal = "Ring til borger 010190-1234".into();
    bad.recommended_performer = String::new();
    let request = pb::CreateTemplateRequest {
        project_id: project.clone(),
        content: Some(bad),
        ..Default::default()
    };
    let refused = t
        .templates()
        .create_template(bearer(request, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        [
            "content.title",
            "content.theme",
            "content.goal",
            "content.recommended_performer",
            "content.duration_days"
        ]
    );
    let listed = t
        .templates()
        .list_templates(bearer(
            pb::ListTemplatesRequest {
                project_id: project.clone(),
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.templates.is_empty());

    // Drafts are reviewed, edited with their revision, and published with a version note.
    let request = pb::CreateTemplateRequest {
        project_id: project.clone(),
        content: Some(content("GV 1 Benefits", false, None, 0, None)),
        ..Default::default()
    };
    let template = t
        .templates()
        .create_template(bearer(request, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let id = template.template_id.clone();
    let (_, reviewer) = t
        .user(
            &t.municipalities[0],
            "reviewer@kk.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    let comment = pb::AddReviewCommentRequest {
        template_id: id.clone(),
        text: "Metoden mangler".into(),
    };
    t.templates()
        .add_review_comment(bearer(comment, &reviewer))
        .await
        .unwrap();
    let edit = pb::UpdateDraftRequest {
        template_id: id.clone(),
        expected_revision: 1,
        content: Some(content("GV 1 Benefits, revised", false, None, 0, None)),
    };
    t.templates()
        .update_draft(bearer(edit.clone(), &t.admin))
        .await
        .unwrap();
    assert_eq!(
        t.templates()
            .update_draft(bearer(edit, &t.admin))
            .await
            .unwrap_err()
            .code(),
        Code::Aborted
    );
    let denied = pb::UpdateDraftRequest {
        template_id: id.clone(),
        expected_revision: 2,
        content: Some(content("x", false, None, 0, None)),
    };
    assert_eq!(
        t.templates()
            .update_draft(bearer(denied, &reviewer))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let publish = pb::PublishTemplateRequest {
        template_id: id.clone(),
        expected_revision: 2,
        note: "Revideret efter review".into(),
        initials: "ABC".into(),
    };
    t.templates()
        .publish_template(bearer(publish, &t.admin))
        .await
        .unwrap();
    let history = t
        .templates()
        .get_template(bearer(
            pb::GetTemplateRequest {
                template_id: id.clone(),
            },
            &reviewer,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let v1 = &history.versions[0];
    assert_eq!(
        (v1.state, v1.note.as_str(), v1.initials.as_str()),
        (
            pb::VersionState::Published as i32,
            "Revideret efter review",
            "ABC"
        )
    );
    assert_eq!(v1.content.as_ref().unwrap().title, "GV 1 Benefits, revised");
    // The next edit opens version 2 as a draft.
    let next = pb::UpdateDraftRequest {
        template_id: id.clone(),
        expected_revision: 0,
        content: Some(content("GV 1 Benefits v2", false, None, 0, None)),
    };
    let opened = t
        .templates()
        .update_draft(bearer(next, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    assert_eq!(
        opened
            .versions
            .iter()
            .map(|v| (v.version, v.state))
            .collect::<Vec<_>>(),
        [(1, 2), (2, 1)]
    );
    let comments = t
        .templates()
        .list_review_comments(bearer(
            pb::ListReviewCommentsRequest {
                template_id: id,
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .comments;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].version, 1);
}

#[tokio::test]
async fn enrolments_name_real_municipalities_and_change_waves_outside_frozen_zones() {
    let t = TestKlik::start().await;
    let project = t.project(14).await;
    let first = t.wave(&project, "1st wave", "2025-04-14").await;
    let second = t.wave(&project, "2nd wave", "2025-06-02").await;
    let soon = t.wave(&project, "now", "2025-03-10").await; // inside the 14-day frozen zone
    let a = &t.municipalities[0];

    let leader_a = t.leader_of(a).await;
    let nowhere = pb::EnrolRequest {
        project_id: project.clone(),
        municipality_id: "01a2067f-0000-7000-8000-000000000999".into(),
        wave_id: first.wave_id.clone(),
        project_leader_user_id: leader_a,
        debtor_system: "KMD_OPUS".into(),
    };
    let unknown = t
        .projects()
        .enrol(bearer(nowhere, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), violated_fields(&unknown)),
        (Code::NotFound, vec!["municipality_id".to_owned()])
    );
    let stranger_leader = t.leader_of(&t.municipalities[1]).await;
    let request = pb::EnrolRequest {
        project_id: project.clone(),
        municipality_id: a.clone(),
        wave_id: first.wave_id.clone(),
        project_leader_user_id: stranger_leader,
        debtor_system: "PRISME_2009".into(),
    };
    let wrong_leader = t
        .projects()
        .enrol(bearer(request, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&wrong_leader), ["project_leader_user_id"]);
    assert_eq!(
        t.enrol(&t.admin, &project, a, &soon.wave_id)
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );

    t.projects()
        .publish_wave(bearer(
            pb::PublishWaveRequest {
                wave_id: second.wave_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    t.publish(
        &project,
        content(
            "MI 7 Test the integration",
            false,
            Some((-7, pb::OffsetUnit::Days)),
            7,
            None,
        ),
    )
    .await;
    let enrolment = t
        .enrol(&t.admin, &project, a, &first.wave_id)
        .await
        .unwrap()
        .enrolment
        .unwrap();
    assert!(
        t.tasks_of(&project, a).await.is_empty(),
        "the 1st wave is not published"
    );

    let change = |wave: &str, version: i64| pb::ChangeEnrolmentWaveRequest {
        enrolment_id: enrolment.enrolment_id.clone(),
        expected_version: version,
        wave_id: wave.into(),
    };
    let frozen = t
        .projects()
        .change_enrolment_wave(bearer(change(&soon.wave_id, 1), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(frozen.code(), Code::FailedPrecondition);
    let moved = t
        .projects()
        .change_enrolment_wave(bearer(change(&second.wave_id, 1), &t.admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.enrolment.unwrap().wave_id, second.wave_id);
    let tasks = t.tasks_of(&project, a).await;
    assert_eq!(
        tasks
            .iter()
            .map(|t| (t.start_date.as_str(), t.end_date.as_str()))
            .collect::<Vec<_>>(),
        [("2025-05-19", "2025-05-26")]
    );
    let stale = t
        .projects()
        .change_enrolment_wave(bearer(change(&first.wave_id, 1), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}

#[tokio::test]
async fn a_municipality_reads_its_own_enrolments_and_the_supplier_all() {
    let t = TestKlik::start().await;
    let project = t.project(14).await;
    let wave = t.wave(&project, "1st wave", "2025-06-02").await;
    for municipality in &t.municipalities[..2] {
        t.enrol(&t.admin, &project, municipality, &wave.wave_id)
            .await
            .unwrap();
    }
    let list = |token: String| {
        let request = bearer(
            pb::ListEnrolmentsRequest {
                project_id: project.clone(),
                page: None,
            },
            &token,
        );
        let mut projects = t.projects();
        async move {
            let mut seen: Vec<String> = projects
                .list_enrolments(request)
                .await
                .unwrap()
                .into_inner()
                .enrolments
                .into_iter()
                .map(|e| e.municipality_id)
                .collect();
            seen.sort();
            seen
        }
    };
    let (_, clerk) = t
        .user(
            &t.municipalities[0],
            "clerk@kommune.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    assert_eq!(list(clerk).await, [t.municipalities[0].clone()]);
    let (_, outsider) = t
        .user(
            &t.municipalities[2],
            "pl@kommune.dk",
            id::Role::MunicipalProjectLeader,
        )
        .await;
    assert!(list(outsider).await.is_empty(), "not enrolled: sees none");
    let mut both = t.municipalities[..2].to_vec();
    both.sort();
    let (_, supplier) = t
        .user("", "2nd@supplier.dk", id::Role::SupplierSecondLine)
        .await;
    assert_eq!(list(supplier).await, both);
    assert_eq!(list(t.admin.clone()).await, both);
}

#[tokio::test]
async fn an_anonymised_person_loses_their_review_comments_and_their_place_as_project_leader() {
    let t = TestKlik::start().await;
    let project = t.project(14).await;
    let wave = t.wave(&project, "1st wave", "2025-06-02").await;
    t.enrol(&t.admin, &project, &t.municipalities[0], &wave.wave_id)
        .await
        .unwrap();
    let leader = t.leader_of(&t.municipalities[0]).await;
    let template = t
        .templates()
        .create_template(bearer(
            pb::CreateTemplateRequest {
                project_id: project.clone(),
                content: Some(content("GV 1 Benefits", false, None, 0, None)),
                ..Default::default()
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap();
    let (reviewer_id, reviewer) = t
        .user(
            &t.municipalities[0],
            "reviewer@kk.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    for (text, token) in [
        ("Anne mener metoden mangler", &reviewer),
        ("Enig", &t.admin),
    ] {
        t.templates()
            .add_review_comment(bearer(
                pb::AddReviewCommentRequest {
                    template_id: template.template_id.clone(),
                    text: text.into(),
                },
                token,
            ))
            .await
            .unwrap();
    }
    let users = id::user_service_client::UserServiceClient::new(t.identity.clone());
    for user_id in [&reviewer_id, &leader] {
        users
            .clone()
            .anonymize_user(bearer(
                id::AnonymizeUserRequest {
                    user_id: user_id.clone(),
                },
                &t.admin,
            ))
            .await
            .unwrap();
    }

    // klik follows identity's feed: wait until it has acted.
    let enrolment = || {
        let request = bearer(
            pb::ListEnrolmentsRequest {
                project_id: project.clone(),
                page: None,
            },
            &t.admin,
        );
        let mut projects = t.projects();
        async move {
            projects
                .list_enrolments(request)
                .await
                .unwrap()
                .into_inner()
                .enrolments
                .remove(0)
        }
    };
    let mut cleared = enrolment().await;
    for _ in 0..100 {
        if cleared.project_leader_user_id.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cleared = enrolment().await;
    }
    assert_eq!(
        cleared.project_leader_user_id, "",
        "the anonymised leader is no longer named"
    );
    let comments = t
        .templates()
        .list_review_comments(bearer(
            pb::ListReviewCommentsRequest {
                template_id: template.template_id.clone(),
                ..Default::default()
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .comments;
    let texts: Vec<_> = comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["[removed: the author was anonymised]", "Enig"]);
}
