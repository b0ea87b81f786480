//! Releases: the timeline, the selection window, and change requests following their release's phases.

use tonic::Code;

use kommune_platform::testing::with_bearer as bearer;
use kommune_proto::changes::v1 as pb;

use crate::{TestChanges, invalid_fields};

#[tokio::test]
async fn a_release_selects_then_moves_its_change_requests() {
    let mut t = TestChanges::start().await;
    // Released Monday 22 December 2025 (week 52): selection runs from Monday 3 March, 42 weeks
    // before, to Sunday 27 April.
    let release = t
        .releases()
        .create_release(bearer(
            pb::CreateReleaseRequest {
                name: "2025-2".into(),
                release_date: "2025-12-22".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .release
        .unwrap();
    assert_eq!(release.timeline.len(), 11);
    let selection = &release.timeline[0];
    assert_eq!(selection.phase, pb::ReleasePhase::Selection as i32);
    assert_eq!(
        (selection.first_day.as_str(), selection.first_week.as_str()),
        ("2025-03-03", "2025-W10")
    );
    assert_eq!(selection.last_day, "2025-04-27");
    assert_eq!(release.current_phase, pb::ReleasePhase::Unspecified as i32);

    let phase_on = |date: &str| pb::GetReleasePhaseRequest {
        release_id: release.release_id.clone(),
        date: date.into(),
    };
    let phase = t
        .releases()
        .get_release_phase(bearer(phase_on("2025-04-28"), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .phase;
    assert_eq!(phase, pb::ReleasePhase::NeedsAnalysis as i32);
    let refused = t
        .releases()
        .get_release_phase(bearer(phase_on("21/04/2025"), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(invalid_fields(&refused), ["date"]);

    let cr = t.create("Med i release").await;
    let cr = t.set_status(&cr, 20).await;
    let add = |cr: &pb::ChangeRequest| pb::AddToReleaseRequest {
        change_request_id: cr.change_request_id.clone(),
        expected_version: cr.version,
        release_id: release.release_id.clone(),
    };
    // Saturday 1 March: selection has not opened.
    let refused = t
        .releases()
        .add_to_release(bearer(add(&cr), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    t.advance_days(3).await;
    let selected = t
        .releases()
        .add_to_release(bearer(add(&cr), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(selected.status_code, 30);
    assert_eq!(selected.release_id, release.release_id);
    let advance = || pb::AdvanceReleaseRequest {
        release_id: release.release_id.clone(),
    };
    let moved = t
        .releases()
        .advance_release(bearer(advance(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .moved;
    assert_eq!(moved, 0);

    // Tuesday 29 April: needs analysis. The release's change requests move on to analysis.
    t.advance_days(56).await;
    let moved = t
        .releases()
        .advance_release(bearer(advance(), &t.admin))
        .await
        .unwrap()
        .into_inner()
        .moved;
    assert_eq!(moved, 1);
    let analysed = t
        .change_requests()
        .get_change_request(bearer(
            pb::GetChangeRequestRequest {
                change_request_id: cr.change_request_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(analysed.status_code, 40);

    // Too late for a new one; the planned one can still be dropped, with a reason.
    let late = t.set_status(&t.create("For sent").await, 20).await;
    let refused = t
        .releases()
        .add_to_release(bearer(add(&late), &t.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let dropped = t
        .releases()
        .drop_from_release(bearer(
            pb::DropFromReleaseRequest {
                change_request_id: analysed.change_request_id.clone(),
                expected_version: analysed.version,
                reason: "Leverandøren kan ikke nå det".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    assert_eq!(dropped.status_code, 20);
    assert!(dropped.release_id.is_empty());
    assert_eq!(dropped.drop_reason, "Leverandøren kan ikke nå det");
}

#[tokio::test]
async fn only_consortium_admins_plan_releases() {
    let t = TestChanges::start().await;
    let caseworker = t
        .caseworker(&t.municipalities[0], "caseworker@kommune.dk")
        .await;
    let request = pb::CreateReleaseRequest {
        name: "2026-1".into(),
        release_date: "2026-06-01".into(),
    };
    let refused = t
        .releases()
        .create_release(bearer(request, &caseworker))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = t
        .releases()
        .create_release(bearer(
            pb::CreateReleaseRequest {
                name: String::new(),
                release_date: "juni".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap_err();
    let mut fields = invalid_fields(&refused);
    fields.sort();
    assert_eq!(fields, ["name", "release_date"]);
}

#[tokio::test]
async fn change_requests_follow_their_release_timeline_by_themselves() {
    let mut t = TestChanges::start_sweeping(std::time::Duration::from_millis(50)).await;
    let release = t
        .releases()
        .create_release(bearer(
            pb::CreateReleaseRequest {
                name: "2025-2".into(),
                release_date: "2025-12-22".into(),
            },
            &t.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .release
        .unwrap();
    let cr = t.set_status(&t.create("Følger tidslinjen").await, 20).await;
    t.advance_days(3).await;
    t.releases()
        .add_to_release(bearer(
            pb::AddToReleaseRequest {
                change_request_id: cr.change_request_id.clone(),
                expected_version: cr.version,
                release_id: release.release_id.clone(),
            },
            &t.admin,
        ))
        .await
        .unwrap();

    // 29 April: needs analysis. Nobody calls AdvanceRelease; the sweep moves it to analysis.
    t.advance_days(56).await;
    let get = || pb::GetChangeRequestRequest {
        change_request_id: cr.change_request_id.clone(),
    };
    let mut status = 0;
    for _ in 0..200 {
        status = t
            .change_requests()
            .get_change_request(bearer(get(), &t.admin))
            .await
            .unwrap()
            .into_inner()
            .change_request
            .unwrap()
            .status_code;
        if status == 40 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 40, "moved on to analysis");
    let records = pb::audit_service_client::AuditServiceClient::new(t.changes.clone())
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
    let phase = records.iter().find(|r| r.action == "phase").unwrap();
    assert_eq!(phase.actor, "system:release timeline");
}
