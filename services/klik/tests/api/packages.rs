//! Task packages: bulk loading, resolving items, the completion rule, and progress.

use std::collections::HashMap;

use super::*;

/// A project with one published wave-by-wave task for municipality A (enrolled in a published wave).
async fn with_task(t: &TestKlik) -> (String, pb::Task) {
    let project = t.project(0).await;
    let wave = t.wave(&project, "1st wave", "2025-04-14").await;
    t.enrol(&t.admin, &project, &t.municipalities[0], &wave.wave_id)
        .await
        .unwrap();
    t.projects()
        .publish_wave(bearer(
            pb::PublishWaveRequest {
                wave_id: wave.wave_id,
            },
            &t.admin,
        ))
        .await
        .unwrap();
    t.publish(
        &project,
        content(
            "MI 32 Manual attachment of debtor accounts",
            false,
            Some((-14, pb::OffsetUnit::Days)),
            15,
            None,
        ),
    )
    .await;
    let task = t.tasks_of(&project, &t.municipalities[0]).await.remove(0);
    (project, task)
}

fn items(range: std::ops::Range<usize>) -> Vec<pb::NewPackageItem> {
    range
        .map(|i| pb::NewPackageItem {
            reference: format!("DEB-{i:06}"),
            attributes: HashMap::from([
                ("grant".to_owned(), format!("BEV-{}", i % 97)),
                ("amount".to_owned(), format!("{}.00", i * 3)),
            ]),
        })
        .collect()
}

#[tokio::test]
async fn a_task_completes_only_when_its_package_has_no_open_items() {
    let t = TestKlik::start().await;
    let (project, task) = with_task(&t).await;
    let a = &t.municipalities[0];
    let (_, caseworker) = t.user(a, "cw@kk.dk", id::Role::MunicipalCaseworker).await;
    let (_, stranger) = t
        .user(
            &t.municipalities[1],
            "cw@aarhus.dk",
            id::Role::MunicipalCaseworker,
        )
        .await;
    let (_, supplier) = t
        .user("", "2nd@supplier.dk", id::Role::SupplierSecondLine)
        .await;

    let create = pb::CreatePackageRequest {
        task_id: task.task_id.clone(),
        description: "Debitorkonti uden bevilling".into(),
    };
    assert_eq!(
        t.tasks()
            .create_package(bearer(create.clone(), &caseworker))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let package = t
        .tasks()
        .create_package(bearer(create, &supplier))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    let load = pb::AddPackageItemsRequest {
        package_id: package.package_id.clone(),
        items: items(0..3),
    };
    let loaded = t
        .tasks()
        .add_package_items(bearer(load, &supplier))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    assert_eq!((loaded.item_count, loaded.open_item_count), (3, 3));

    let done = |version: i64, token: &str| {
        let request = pb::SetTaskStatusRequest {
            task_id: task.task_id.clone(),
            expected_version: version,
            status: pb::TaskStatus::Done as i32,
        };
        let mut tasks = t.tasks();
        let request = bearer(request, token);
        async move { tasks.set_task_status(request).await }
    };
    let refused = done(task.version, &caseworker).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("3 open item(s)"),
        "{}",
        refused.message()
    );

    let open = t
        .tasks()
        .list_package_items(bearer(
            pb::ListPackageItemsRequest {
                package_id: package.package_id.clone(),
                open_only: true,
                page: None,
            },
            &caseworker,
        ))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(open.len(), 3);
    let foreign = pb::ResolvePackageItemRequest {
        item_id: open[0].item_id.clone(),
        state: pb::ItemState::CaseCreated as i32,
        case_reference: "KY-1".into(),
        reason: String::new(),
    };
    assert_eq!(
        t.tasks()
            .resolve_package_item(bearer(foreign, &stranger))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let resolutions = [
        (pb::ItemState::CaseCreated, "KY-2025-000123", ""),
        (pb::ItemState::CaseAttached, "KY-2024-004711", ""),
        (pb::ItemState::NotApplicable, "", "Kontoen er lukket"),
    ];
    for (item, (state, case_reference, reason)) in open.iter().zip(resolutions) {
        let request = pb::ResolvePackageItemRequest {
            item_id: item.item_id.clone(),
            state: state as i32,
            case_reference: case_reference.into(),
            reason: reason.into(),
        };
        let resolved = t
            .tasks()
            .resolve_package_item(bearer(request, &caseworker))
            .await
            .unwrap()
            .into_inner()
            .item
            .unwrap();
        assert_eq!(resolved.state, state as i32);
    }
    let again = pb::ResolvePackageItemRequest {
        item_id: open[0].item_id.clone(),
        state: pb::ItemState::NotApplicable as i32,
        case_reference: String::new(),
        reason: "igen".into(),
    };
    assert_eq!(
        t.tasks()
            .resolve_package_item(bearer(again, &caseworker))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let missing_case = pb::ResolvePackageItemRequest {
        item_id: open[0].item_id.clone(),
        state: pb::ItemState::CaseCreated as i32,
        case_reference: String::new(),
        reason: String::new(),
    };
    assert_eq!(
        violated_fields(
            &t.tasks()
                .resolve_package_item(bearer(missing_case, &caseworker))
                .await
                .unwrap_err()
        ),
        ["case_reference"]
    );

    let completed = done(task.version, &caseworker)
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(completed.status, pb::TaskStatus::Done as i32);
    let progress = t
        .tasks()
        .get_progress(bearer(
            pb::GetProgressRequest {
                project_id: project,
                ..Default::default()
            },
            &caseworker,
        ))
        .await
        .unwrap()
        .into_inner()
        .progress
        .unwrap();
    assert_eq!(
        (progress.tasks, progress.done, progress.open_items),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn ten_thousand_items_load_in_one_call_all_or_none() {
    let t = TestKlik::start().await;
    let (_, task) = with_task(&t).await;
    let create = pb::CreatePackageRequest {
        task_id: task.task_id.clone(),
        description: "Debitorkonti".into(),
    };
    let package = t
        .tasks()
        .create_package(bearer(create, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    let load = pb::AddPackageItemsRequest {
        package_id: package.package_id.clone(),
        items: items(0..10_000),
    };
    let loaded = t
        .tasks()
        .add_package_items(bearer(load, &t.admin))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    assert_eq!(
        (loaded.item_count, loaded.open_item_count),
        (10_000, 10_000)
    );

    // A load repeating a reference already loaded changes nothing.
    let overlapping = pb::AddPackageItemsRequest {
        package_id: package.package_id.clone(),
        items: items(9_990..10_010),
    };
    let refused = t
        .tasks()
        .add_package_items(bearer(overlapping, &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists);
    // So does one carrying a personal ID number.
    let mut pii = items(20_000..20_002);
    pii[1]
        .attributes
        .insert("debtor".into(), "010190-1234".into());
    let refused = t
        .tasks()
        .add_package_items(bearer(
            pb::AddPackageItemsRequest {
                package_id: package.package_id.clone(),
                items: pii,
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["items[1].attributes[debtor]"]);
    let task = t
        .tasks()
        .get_task(bearer(
            pb::GetTaskRequest {
                task_id: task.task_id,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(task.package_id, package.package_id);
    let page = pb::ListPackageItemsRequest {
        package_id: package.package_id,
        open_only: true,
        page: Some(kommune_proto::common::v1::PageRequest {
            page_size: 500,
            page_token: String::new(),
        }),
    };
    let first = t
        .tasks()
        .list_package_items(bearer(page, &t.admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.items.len(), 500);
    assert_eq!(first.items[0].reference, "DEB-000000");
    assert!(!first.page.unwrap().next_page_token.is_empty());
}

#[tokio::test]
async fn progress_shows_who_is_stuck() {
    let mut t = TestKlik::start().await;
    let project = t.project(0).await;
    let wave = t.wave(&project, "1st wave", "2025-04-14").await;
    for m in &t.municipalities[..2] {
        t.enrol(&t.admin, &project, m, &wave.wave_id).await.unwrap();
    }
    t.projects()
        .publish_wave(bearer(
            pb::PublishWaveRequest {
                wave_id: wave.wave_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap();
    t.publish(
        &project,
        content(
            "PL 1 Plan",
            false,
            Some((-30, pb::OffsetUnit::Days)),
            5,
            None,
        ),
    )
    .await; // due 15 March
    t.publish(
        &project,
        content(
            "OA 3 Processes",
            false,
            Some((-10, pb::OffsetUnit::Days)),
            5,
            None,
        ),
    )
    .await; // due 4 April
    t.publish(
        &project,
        content("PL 5 Everyone, undated", true, None, 0, None),
    )
    .await;

    // Municipality A finishes its first task; B does nothing. It is now 5 April.
    let a = &t.municipalities[0].clone();
    let first = t
        .tasks_of(&project, a)
        .await
        .into_iter()
        .find(|t| t.title == "PL 1 Plan")
        .unwrap();
    let request = pb::SetTaskStatusRequest {
        task_id: first.task_id,
        expected_version: first.version,
        status: pb::TaskStatus::Done as i32,
    };
    t.tasks()
        .set_task_status(bearer(request, &t.admin))
        .await
        .unwrap();
    t.advance_days(35).await;

    let progress = |wave_id: &str, municipality: &str| {
        let request = pb::GetProgressRequest {
            project_id: project.clone(),
            wave_id: wave_id.into(),
            municipality_id: municipality.into(),
        };
        let mut tasks = t.tasks();
        let request = bearer(request, &t.admin);
        async move {
            tasks
                .get_progress(request)
                .await
                .unwrap()
                .into_inner()
                .progress
                .unwrap()
        }
    };
    let all = progress("", "").await;
    assert_eq!(
        (all.tasks, all.done, all.open, all.overdue),
        (7, 1, 6, 3),
        "2 wave tasks for A and B, the undated task for all 3"
    );
    let in_wave = progress(&wave.wave_id, "").await;
    assert_eq!((in_wave.tasks, in_wave.overdue), (6, 3));
    let just_a = progress("", a).await;
    assert_eq!((just_a.tasks, just_a.done, just_a.overdue), (3, 1, 1));

    let stuck = t
        .tasks()
        .list_stuck_municipalities(bearer(
            pb::ListStuckMunicipalitiesRequest {
                project_id: project.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .municipalities;
    let order: Vec<(&str, i64)> = stuck
        .iter()
        .map(|s| {
            (
                s.municipality_id.as_str(),
                s.progress.as_ref().unwrap().overdue,
            )
        })
        .collect();
    assert_eq!(order, [(t.municipalities[1].as_str(), 2), (a.as_str(), 1)]);

    let overdue = t
        .tasks()
        .list_tasks(bearer(
            pb::ListTasksRequest {
                project_id: project.clone(),
                municipality_id: a.clone(),
                overdue_only: true,
                page: None,
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert_eq!(
        overdue
            .iter()
            .map(|t| (t.title.as_str(), t.overdue))
            .collect::<Vec<_>>(),
        [("OA 3 Processes", true)]
    );

    let (_, caseworker) = t.user(a, "cw@kk.dk", id::Role::MunicipalCaseworker).await;
    let denied = t
        .tasks()
        .list_stuck_municipalities(bearer(
            pb::ListStuckMunicipalitiesRequest {
                project_id: project.clone(),
            },
            &caseworker,
        ))
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    let own_only = t
        .tasks()
        .list_tasks(bearer(
            pb::ListTasksRequest {
                project_id: project,
                ..Default::default()
            },
            &caseworker,
        ))
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert!(own_only.iter().all(|task| &task.municipality_id == a));
    assert_eq!(own_only.len(), 3);
}
