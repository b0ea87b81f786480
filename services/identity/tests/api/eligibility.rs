//! Support eligibility: the three changes, the check at both boundary days, refusals, and the quota.

use super::*;

/// Two municipalities with users; the clock stands at 15 June 2024.
struct Setup {
    identity: TestIdentity,
    aarhus: String,
    odense: String,
    leader: pb::User,
    users: Vec<pb::User>,
    stranger: pb::User,
}

impl Setup {
    async fn new() -> Self {
        let identity = TestIdentity::start().await;
        let admin = identity.admin_token.clone();
        let aarhus = identity
            .create_municipality("751", CVR_B)
            .await
            .municipality_id;
        let odense = identity
            .create_municipality("461", "35209115")
            .await
            .municipality_id;
        let leader = identity
            .create_user(
                &admin,
                &aarhus,
                "leader@aarhus.dk",
                &[Role::MunicipalProjectLeader],
            )
            .await
            .unwrap();
        let mut users = Vec::new();
        for i in 0..3 {
            users.push(
                identity
                    .create_user(
                        &admin,
                        &aarhus,
                        &format!("u{i}@aarhus.dk"),
                        &[Role::MunicipalCaseworker],
                    )
                    .await
                    .unwrap(),
            );
        }
        let stranger = identity
            .create_user(&admin, &odense, "u@odense.dk", &[Role::MunicipalCaseworker])
            .await
            .unwrap();
        Self {
            identity,
            aarhus,
            odense,
            leader,
            users,
            stranger,
        }
    }

    async fn register(
        &self,
        token: &str,
        user: &pb::User,
        municipality: &str,
        from: &str,
        to: &str,
    ) -> Result<pb::RegisterEligibleUserResponse, Status> {
        let request = pb::RegisterEligibleUserRequest {
            user_id: user.user_id.clone(),
            municipality_id: municipality.into(),
            valid_from: from.into(),
            valid_to: to.into(),
            note: "Ny supportberettiget bruger".into(),
            ..Default::default()
        };
        Ok(self
            .identity
            .eligibility()
            .register_eligible_user(bearer(request, token))
            .await?
            .into_inner())
    }

    async fn check(
        &self,
        user: &pb::User,
        municipality: &str,
        at: &str,
    ) -> pb::CheckEligibilityResponse {
        let time = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
        let request = pb::CheckEligibilityRequest {
            user_id: user.user_id.clone(),
            municipality_id: municipality.into(),
            time: Some(kommune_platform::clock::to_timestamp(time)),
        };
        self.identity
            .eligibility()
            .check_eligibility(bearer(request, &self.identity.admin_token))
            .await
            .unwrap()
            .into_inner()
    }

    async fn changes(&self) -> Vec<pb::EligibilityChange> {
        let request = pb::ListEligibilityChangesRequest {
            municipality_id: self.aarhus.clone(),
            page: None,
        };
        self.identity
            .eligibility()
            .list_eligibility_changes(bearer(request, &self.identity.admin_token))
            .await
            .unwrap()
            .into_inner()
            .changes
    }

    async fn registrations(&self) -> Vec<pb::EligibilityRegistration> {
        let request = pb::ListEligibilityRegistrationsRequest {
            municipality_id: self.aarhus.clone(),
            ..Default::default()
        };
        let response = self
            .identity
            .eligibility()
            .list_eligibility_registrations(bearer(request, &self.identity.admin_token))
            .await;
        response.unwrap().into_inner().registrations
    }

    async fn quota(&self, date: &str) -> pb::Quota {
        let request = pb::GetQuotaRequest {
            municipality_id: self.aarhus.clone(),
            date: date.into(),
        };
        self.identity
            .eligibility()
            .get_quota(bearer(request, &self.identity.admin_token))
            .await
            .unwrap()
            .into_inner()
            .quota
            .unwrap()
    }
}

#[tokio::test]
async fn the_three_changes_are_recorded_and_applied() {
    let s = Setup::new().await;
    let leader_token = s.identity.token_for(&s.leader).await;
    let new = s
        .register(&leader_token, &s.users[0], &s.aarhus, "2024-01-01", "")
        .await
        .unwrap();
    let first = new.registration.unwrap();
    assert_eq!(
        (first.valid_from.as_str(), first.valid_to.as_str()),
        ("2024-01-01", "")
    );

    let replaced = s
        .identity
        .eligibility()
        .replace_eligible_user(bearer(
            pb::ReplaceEligibleUserRequest {
                replaced_registration_id: first.registration_id.clone(),
                new_user_id: s.users[1].user_id.clone(),
                effective_date: "2024-07-01".into(),
                note: "Anne overtager efter Bo".into(),
                ..Default::default()
            },
            &leader_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let ended = replaced.replaced_registration.unwrap();
    assert_eq!(
        (ended.registration_id.as_str(), ended.valid_to.as_str()),
        (first.registration_id.as_str(), "2024-06-30")
    );
    let second = replaced.registration.unwrap();
    assert_eq!(
        (second.user_id.as_str(), second.valid_from.as_str()),
        (s.users[1].user_id.as_str(), "2024-07-01")
    );

    let stopped = s
        .identity
        .eligibility()
        .stop_eligibility(bearer(
            pb::StopEligibilityRequest {
                registration_id: second.registration_id.clone(),
                valid_to: "2024-12-31".into(),
                note: String::new(),
            },
            &leader_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stopped.registration.unwrap().valid_to, "2024-12-31");

    let changes = s.changes().await;
    let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
    use pb::EligibilityChangeKind as Kind;
    assert_eq!(
        kinds,
        [
            Kind::New as i32,
            Kind::Replacement as i32,
            Kind::Stop as i32
        ]
    );
    assert!(
        changes
            .iter()
            .all(|c| c.requested_by == format!("user:{}", s.leader.user_id))
    );
    assert_eq!(changes[1].replaced_registration_id, first.registration_id);
    assert_eq!(changes[2].effective_date, "2024-12-31");

    // Each change is an event; each registration has its audit trail.
    let events: Vec<_> = s
        .identity
        .events()
        .watch_events(bearer(
            pb::WatchEventsRequest {
                after_cursor: String::new(),
                follow: false,
            },
            &s.identity.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .map(|e| e.unwrap().event.unwrap())
        .filter(|e| std::future::ready(e.event_type == "kommune.identity.v1.EligibilityChanged"))
        .collect()
        .await;
    assert_eq!(events.len(), 3);
    let trail = s
        .identity
        .audit()
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "eligibility_registration".into(),
                entity_id: first.registration_id,
                page: None,
            },
            &leader_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(
        trail.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
        ["register", "end by replacement"]
    );

    // The day before the replacement the first user may file, from that day the second.
    assert!(
        s.check(&s.users[0], &s.aarhus, "2024-06-30T12:00:00Z")
            .await
            .eligible
    );
    assert!(
        !s.check(&s.users[0], &s.aarhus, "2024-07-01T12:00:00Z")
            .await
            .eligible
    );
    assert!(
        s.check(&s.users[1], &s.aarhus, "2024-07-01T12:00:00Z")
            .await
            .eligible
    );
}

#[tokio::test]
async fn eligibility_holds_from_the_first_to_the_last_day_in_copenhagen() {
    let s = Setup::new().await;
    let admin = s.identity.admin_token.clone();
    s.register(&admin, &s.users[0], &s.aarhus, "2024-03-01", "2024-03-31")
        .await
        .unwrap();
    let cases = [
        ("2024-02-29T22:59:59Z", false, "2024-02-29"), // 23:59:59 on 29 February (UTC+1)
        ("2024-02-29T23:00:00Z", true, "2024-03-01"),  // midnight, 1 March
        ("2024-03-31T21:59:59Z", true, "2024-03-31"),  // 23:59:59 on 31 March (summer time, UTC+2)
        ("2024-03-31T22:00:00Z", false, "2024-04-01"), // midnight, 1 April
    ];
    for (at, eligible, date) in cases {
        let answer = s.check(&s.users[0], &s.aarhus, at).await;
        assert_eq!(
            (answer.eligible, answer.date.as_str()),
            (eligible, date),
            "at {at}"
        );
        assert_eq!(answer.registration.is_some(), eligible);
    }
    assert!(
        !s.check(&s.users[0], &s.odense, "2024-03-15T12:00:00Z")
            .await
            .eligible
    );
    assert!(
        !s.check(&s.users[1], &s.aarhus, "2024-03-15T12:00:00Z")
            .await
            .eligible
    );
}

#[tokio::test]
async fn bad_eligibility_changes_are_refused_and_nothing_is_written() {
    let s = Setup::new().await;
    let admin = s.identity.admin_token.clone();
    let leader = s.identity.token_for(&s.leader).await;

    let backwards = s
        .register(&admin, &s.users[0], &s.aarhus, "2024-06-01", "2024-05-31")
        .await
        .unwrap_err();
    assert_eq!(
        (backwards.code(), violated_fields(&backwards)),
        (Code::InvalidArgument, vec!["valid_to".to_owned()])
    );

    let open = s
        .register(&admin, &s.users[0], &s.aarhus, "2024-01-01", "")
        .await
        .unwrap()
        .registration
        .unwrap();
    let overlap = s
        .register(&admin, &s.users[0], &s.aarhus, "2024-06-01", "2024-06-30")
        .await
        .unwrap_err();
    assert_eq!(overlap.code(), Code::FailedPrecondition);
    assert!(
        overlap.message().contains(&open.registration_id),
        "{}",
        overlap.message()
    );

    let ended = s
        .register(&admin, &s.users[2], &s.aarhus, "2024-01-01", "2024-05-31")
        .await
        .unwrap()
        .registration
        .unwrap();
    let stop = pb::StopEligibilityRequest {
        registration_id: ended.registration_id.clone(),
        valid_to: "2024-05-15".into(),
        note: String::new(),
    };
    let stop = s
        .identity
        .eligibility()
        .stop_eligibility(bearer(stop, &admin))
        .await
        .unwrap_err();
    assert_eq!(stop.code(), Code::FailedPrecondition);
    let replace = pb::ReplaceEligibleUserRequest {
        replaced_registration_id: ended.registration_id.clone(),
        new_user_id: s.users[1].user_id.clone(),
        effective_date: "2024-07-01".into(),
        ..Default::default()
    };
    let replace = s
        .identity
        .eligibility()
        .replace_eligible_user(bearer(replace, &admin))
        .await
        .unwrap_err();
    assert_eq!(replace.code(), Code::FailedPrecondition);

    let foreign = s
        .register(&leader, &s.stranger, &s.odense, "2024-07-01", "")
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let wrong_user = s
        .register(&leader, &s.stranger, &s.aarhus, "2024-07-01", "")
        .await
        .unwrap_err();
    assert_eq!(
        (wrong_user.code(), violated_fields(&wrong_user)),
        (Code::InvalidArgument, vec!["user_id".to_owned()])
    );
    let caseworker = s.identity.token_for(&s.users[0]).await;
    let not_allowed = s
        .register(&caseworker, &s.users[1], &s.aarhus, "2024-07-01", "")
        .await
        .unwrap_err();
    assert_eq!(not_allowed.code(), Code::PermissionDenied);

    let mut pii = pb::RegisterEligibleUserRequest {
        user_id: s.users[1].user_id.clone(),
        municipality_id: s.aarhus.clone(),
        valid_from: "2024-07-01".into(),
        note: "Erstatter borger 010190-1234".into(),
        ..Default::default()
    };
    let refused = s
        .identity
        .eligibility()
        .register_eligible_user(bearer(pii.clone(), &admin))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), violated_fields(&refused)),
        (Code::InvalidArgument, vec!["note".to_owned()])
    );
    pii.valid_from = "1. juli".into();
    let refused = s
        .identity
        .eligibility()
        .register_eligible_user(bearer(pii, &admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["valid_from", "note"]);

    // Only the two accepted registrations exist, each with its one change; the ended one is untouched.
    assert_eq!(s.registrations().await.len(), 2);
    assert_eq!(s.changes().await.len(), 2);
    let untouched = s
        .registrations()
        .await
        .into_iter()
        .find(|r| r.registration_id == ended.registration_id)
        .unwrap();
    assert_eq!(
        (untouched.valid_to.as_str(), untouched.version),
        ("2024-05-31", 1)
    );
}

#[tokio::test]
async fn quota_counts_the_extras_beyond_the_baseline_day() {
    let s = Setup::new().await;
    let admin = s.identity.admin_token.clone();
    s.register(&admin, &s.users[0], &s.aarhus, "2022-06-01", "")
        .await
        .unwrap();
    s.register(&admin, &s.users[1], &s.aarhus, "2023-01-01", "")
        .await
        .unwrap(); // valid on the baseline day
    s.register(&admin, &s.users[2], &s.aarhus, "2023-01-02", "2023-01-31")
        .await
        .unwrap(); // one day too late

    let q = s.quota("2022-12-31").await;
    assert_eq!(
        (
            q.eligible_count,
            q.baseline,
            q.billable_extra,
            q.baseline_date.as_str()
        ),
        (1, 2, 0, "2023-01-01")
    );
    let q = s.quota("2023-01-01").await;
    assert_eq!((q.eligible_count, q.billable_extra), (2, 0));
    let q = s.quota("2023-01-02").await;
    assert_eq!((q.eligible_count, q.billable_extra), (3, 1));
    let q = s.quota("2023-02-01").await;
    assert_eq!((q.eligible_count, q.billable_extra), (2, 0));
    assert_eq!(s.quota("").await.date, "2024-06-15");

    let report = |first: &str, last: &str, token: &str, municipality: &str| {
        let request = pb::GetBillingReportRequest {
            first_day: first.into(),
            last_day: last.into(),
            municipality_id: municipality.into(),
        };
        let mut client = s.identity.eligibility();
        let request = bearer(request, token);
        async move { client.get_billing_report(request).await }
    };
    let whole_year = report("2023-01-01", "2024-01-01", &admin, "")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole_year.lines[0].extra_user_days, 30);
    let january = report("2023-01-01", "2023-01-31", &admin, "")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(january.lines.len(), 1);
    let line = &january.lines[0];
    assert_eq!(line.municipality_id, s.aarhus);
    assert_eq!(
        (
            line.baseline,
            line.extra_user_days,
            line.peak_eligible,
            line.peak_billable_extra
        ),
        (2, 30, 3, 1)
    );

    let too_long = report("2023-01-01", "2024-01-02", &admin, "")
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&too_long), ["last_day"]);
    let caseworker = s.identity.token_for(&s.users[0]).await;
    assert_eq!(
        report("2023-01-01", "2023-01-31", &caseworker, "")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        report("2023-01-01", "2023-01-31", &caseworker, &s.odense)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let own = report("2023-01-01", "2023-01-31", &caseworker, &s.aarhus)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.lines[0].extra_user_days, 30);
}
