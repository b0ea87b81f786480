//! Municipalities, users, service accounts, keys, tokens, audit and events.

use super::*;

#[tokio::test]
async fn api_keys_are_exchanged_for_tokens_that_verify() {
    let identity = TestIdentity::start().await;
    let caller = identity
        .tokens()
        .get_caller(bearer(pb::GetCallerRequest {}, &identity.admin_token))
        .await
        .unwrap()
        .into_inner();
    assert!(caller.subject.starts_with("service-account:"));
    assert_eq!(caller.roles, vec![Role::ConsortiumAdmin as i32]);

    let keys = identity
        .tokens()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].public_key.len(), 32);

    let wrong = identity
        .exchange("kmn_this-key-was-never-issued-000000")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let missing = identity
        .tokens()
        .get_caller(pb::GetCallerRequest {})
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn expired_forged_and_foreign_tokens_are_rejected() {
    let identity = TestIdentity::start().await;
    let get_caller = |token: String| {
        let mut tokens = identity.tokens();
        async move {
            tokens
                .get_caller(bearer(pb::GetCallerRequest {}, &token))
                .await
        }
    };

    // Signed by a key identity never published, under identity's own key id.
    let kid = identity
        .tokens()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys[0]
        .key_id
        .clone();
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let der = foreign.to_pkcs8_der().unwrap();
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: "service-account:00000000-0000-0000-0000-000000000000".into(),
        mun: None,
        roles: vec!["ROLE_CONSORTIUM_ADMIN".into()],
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + 600,
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid);
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        get_caller(forged).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // A real token with its payload altered.
    let mut parts: Vec<String> = identity.admin_token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(
        get_caller(parts.join(".")).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    assert_eq!(
        get_caller("not-a-jwt".into()).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // A valid token, once its lifetime is over.
    assert!(get_caller(identity.admin_token.clone()).await.is_ok());
    identity.clock.advance(Duration::minutes(16));
    let expired = get_caller(identity.admin_token.clone()).await.unwrap_err();
    assert_eq!(expired.code(), Code::Unauthenticated);
    assert!(
        expired.message().contains("expired"),
        "{}",
        expired.message()
    );
}

#[tokio::test]
async fn revoked_keys_and_inactive_principals_cannot_sign_in() {
    let identity = TestIdentity::start().await;
    let admin = &identity.admin_token;
    let account = identity
        .accounts()
        .create_service_account(bearer(
            pb::CreateServiceAccountRequest {
                name: "cases".into(),
                description: "The cases service".into(),
                roles: vec![Role::Service as i32],
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .service_account
        .unwrap();
    let subject = format!("service-account:{}", account.service_account_id);
    let created = identity
        .accounts()
        .create_api_key(bearer(
            pb::CreateApiKeyRequest {
                subject: subject.clone(),
                ..Default::default()
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let token = identity.exchange(&created.secret).await.unwrap();

    // A retried create returns the same key, never its secret again (the secret is not stored).
    let retry = pb::CreateApiKeyRequest {
        subject: subject.clone(),
        idempotency_key: "k1".into(),
        ..Default::default()
    };
    let first = identity
        .accounts()
        .create_api_key(bearer(retry.clone(), admin))
        .await
        .unwrap()
        .into_inner();
    let again = identity
        .accounts()
        .create_api_key(bearer(retry, admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first.api_key.unwrap().api_key_id,
        again.api_key.unwrap().api_key_id
    );
    assert!(!first.secret.is_empty());
    assert!(again.secret.is_empty());
    let caller = identity
        .tokens()
        .get_caller(bearer(pb::GetCallerRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caller.subject, subject);
    assert_eq!(caller.roles, vec![Role::Service as i32]);

    let key_id = created.api_key.unwrap().api_key_id;
    let revoked = identity
        .accounts()
        .revoke_api_key(bearer(
            pb::RevokeApiKeyRequest {
                api_key_id: key_id.clone(),
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    assert!(revoked.revoke_time.is_some());
    assert_eq!(
        identity.exchange(&created.secret).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    let trail = identity
        .audit()
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "api_key".into(),
                entity_id: key_id,
                page: None,
            },
            admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let actions: Vec<_> = trail.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["create", "revoke"]);
    assert!(
        trail
            .iter()
            .all(|r| r.actor.starts_with("service-account:"))
    );
}

#[tokio::test]
async fn bad_municipalities_are_rejected_field_by_field_and_nothing_is_written() {
    let identity = TestIdentity::start().await;
    let status = identity
        .municipalities()
        .create_municipality(bearer(
            pb::CreateMunicipalityRequest {
                code: "1a".into(),
                name: "Kommune 010190-1234".into(),
                cvr_number: "64942213".into(),
                ..Default::default()
            },
            &identity.admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["code", "name", "cvr_number"]);
    let listed = identity
        .municipalities()
        .list_municipalities(bearer(
            pb::ListMunicipalitiesRequest::default(),
            &identity.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.municipalities.is_empty());

    identity.create_municipality("101", CVR_A).await;
    let duplicate = identity
        .municipalities()
        .create_municipality(bearer(
            pb::CreateMunicipalityRequest {
                code: "101".into(),
                name: "Again".into(),
                cvr_number: CVR_B.into(),
                ..Default::default()
            },
            &identity.admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    assert_eq!(violated_fields(&duplicate), ["code"]);
}

#[tokio::test]
async fn bad_users_get_precise_statuses_and_nothing_is_written() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let municipality = identity.create_municipality("751", CVR_B).await;

    let unknown = identity
        .create_user(
            &admin,
            "01a2067f-0000-7000-8000-000000000000",
            "a@aarhus.dk",
            &[Role::MunicipalCaseworker],
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(violated_fields(&unknown), ["municipality_id"]);

    let mut request = pb::CreateUserRequest {
        municipality_id: municipality.municipality_id.clone(),
        name: "Anne 0101901234".into(),
        email: "anne@aarhus.dk".into(),
        roles: vec![Role::MunicipalCaseworker as i32],
        ..Default::default()
    };
    let pii = identity
        .users()
        .create_user(bearer(request.clone(), &admin))
        .await
        .unwrap_err();
    assert_eq!(pii.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&pii), ["name"]);

    request.name = "Anne Hansen".into();
    request.roles = vec![Role::SupplierSecondLine as i32];
    let wrong_roles = identity
        .users()
        .create_user(bearer(request.clone(), &admin))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&wrong_roles), ["roles"]);

    request.roles = vec![Role::MunicipalCaseworker as i32];
    identity
        .users()
        .create_user(bearer(request.clone(), &admin))
        .await
        .unwrap();
    request.email = "ANNE@aarhus.dk".into();
    let duplicate = identity
        .users()
        .create_user(bearer(request, &admin))
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    assert_eq!(violated_fields(&duplicate), ["email"]);

    let users = identity
        .users()
        .list_users(bearer(pb::ListUsersRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn retried_creates_never_duplicate() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let municipality = identity.create_municipality("461", CVR_A).await;
    let request = pb::CreateUserRequest {
        idempotency_key: "import-row-17".into(),
        municipality_id: municipality.municipality_id,
        name: "Bo Jensen".into(),
        email: "bo@odense.dk".into(),
        roles: vec![Role::MunicipalCaseworker as i32],
    };
    let first = identity
        .users()
        .create_user(bearer(request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    let again = identity
        .users()
        .create_user(bearer(request.clone(), &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.user.unwrap().user_id, again.user.unwrap().user_id);

    let mut other = request;
    other.email = "someone.else@odense.dk".into();
    let reused = identity
        .users()
        .create_user(bearer(other, &admin))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&reused), ["idempotency_key"]);

    let users = identity
        .users()
        .list_users(bearer(pb::ListUsersRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn a_municipality_never_sees_another_municipalitys_users() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let a = identity
        .create_municipality("101", CVR_A)
        .await
        .municipality_id;
    let b = identity
        .create_municipality("751", CVR_B)
        .await
        .municipality_id;
    let leader_a = identity
        .create_user(&admin, &a, "leader@kk.dk", &[Role::MunicipalProjectLeader])
        .await
        .unwrap();
    let user_b = identity
        .create_user(&admin, &b, "worker@aarhus.dk", &[Role::MunicipalCaseworker])
        .await
        .unwrap();
    let token_a = identity.token_for(&leader_a).await;

    // The project leader manages their own municipality's users, and only those.
    let own = identity
        .create_user(&token_a, &a, "worker@kk.dk", &[Role::MunicipalCaseworker])
        .await
        .unwrap();
    let foreign = identity
        .create_user(&token_a, &b, "spy@aarhus.dk", &[Role::MunicipalCaseworker])
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let escalate = identity
        .create_user(
            &token_a,
            &a,
            "boss@kk.dk",
            &[Role::MunicipalProjectLeader, Role::ConsortiumAdmin],
        )
        .await;
    assert!(escalate.is_err());

    let read = identity
        .users()
        .get_user(bearer(
            pb::GetUserRequest {
                user_id: user_b.user_id.clone(),
            },
            &token_a,
        ))
        .await;
    assert_eq!(read.unwrap_err().code(), Code::PermissionDenied);
    let listed = identity
        .users()
        .list_users(bearer(pb::ListUsersRequest::default(), &token_a))
        .await
        .unwrap()
        .into_inner()
        .users;
    let mut emails: Vec<_> = listed.iter().map(|u| u.email.as_str()).collect();
    emails.sort();
    assert_eq!(emails, ["leader@kk.dk", "worker@kk.dk"]);
    // By address, whatever its case; a municipal caller finds only their own municipality's.
    let by_email = async |email: &str, token: &str| {
        identity
            .users()
            .list_users(bearer(
                pb::ListUsersRequest {
                    email: email.into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .unwrap()
            .into_inner()
            .users
    };
    let found = by_email(" Worker@KK.dk ", &token_a).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user_id, own.user_id);
    assert!(by_email("worker@aarhus.dk", &token_a).await.is_empty());
    assert_eq!(by_email("worker@aarhus.dk", &admin).await.len(), 1);
    let other_list = identity
        .users()
        .list_users(bearer(
            pb::ListUsersRequest {
                municipality_id: b.clone(),
                ..Default::default()
            },
            &token_a,
        ))
        .await;
    assert_eq!(other_list.unwrap_err().code(), Code::PermissionDenied);
    let trail = identity
        .audit()
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "user".into(),
                entity_id: user_b.user_id,
                page: None,
            },
            &token_a,
        ))
        .await;
    assert_eq!(trail.unwrap_err().code(), Code::PermissionDenied);
    let own_trail = identity
        .audit()
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "user".into(),
                entity_id: own.user_id,
                page: None,
            },
            &token_a,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(own_trail.len(), 1);
    assert_eq!(own_trail[0].actor, format!("user:{}", leader_a.user_id));
}

#[tokio::test]
async fn stale_updates_are_aborted() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let m = identity.create_municipality("101", CVR_A).await;
    let updated = identity
        .municipalities()
        .update_municipality(bearer(
            pb::UpdateMunicipalityRequest {
                municipality_id: m.municipality_id.clone(),
                expected_version: 1,
                name: Some("Københavns Kommune".into()),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .municipality
        .unwrap();
    assert_eq!(
        (
            updated.version,
            updated.name.as_str(),
            updated.code.as_str()
        ),
        (2, "Københavns Kommune", "101")
    );
    let stale = identity
        .municipalities()
        .update_municipality(bearer(
            pb::UpdateMunicipalityRequest {
                municipality_id: m.municipality_id,
                expected_version: 1,
                active: Some(false),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}

#[tokio::test]
async fn an_edited_audit_record_is_detected() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let m = identity.create_municipality("101", CVR_A).await;
    let user = identity
        .create_user(
            &admin,
            &m.municipality_id,
            "anne@kk.dk",
            &[Role::MunicipalCaseworker],
        )
        .await
        .unwrap();
    for (version, name) in [(1, "Anne B. Hansen"), (2, "Anne Berg")] {
        identity
            .users()
            .update_user(bearer(
                pb::UpdateUserRequest {
                    user_id: user.user_id.clone(),
                    expected_version: version,
                    name: Some(name.into()),
                    ..Default::default()
                },
                &admin,
            ))
            .await
            .unwrap();
    }
    let verify = || {
        let mut audit = identity.audit();
        let request = bearer(
            pb::VerifyAuditChainRequest {
                entity_type: "user".into(),
                entity_id: user.user_id.clone(),
            },
            &admin,
        );
        async move {
            audit
                .verify_audit_chain(request)
                .await
                .unwrap()
                .into_inner()
                .verification
                .unwrap()
        }
    };
    let before = verify().await;
    assert!(before.valid);
    assert_eq!(before.records_checked, 3);

    let db = kommune_platform::db::connect(&identity.database_url)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE audit_records SET payload = '{{\"name\":\"Someone Else\"}}' WHERE entity_id = '{}' AND sequence = 2",
        user.user_id
    ))
    .await
    .unwrap();
    let after = verify().await;
    assert!(!after.valid);
    assert_eq!(after.first_invalid_sequence, 2);
}

#[tokio::test]
async fn the_event_feed_delivers_every_event_once_in_order_after_concurrent_writers() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let m = identity.create_municipality("101", CVR_A).await;
    let writers = (0..16).map(|i| {
        let identity = &identity;
        let (admin, municipality_id) = (admin.clone(), m.municipality_id.clone());
        async move {
            identity
                .create_user(
                    &admin,
                    &municipality_id,
                    &format!("user{i}@kk.dk"),
                    &[Role::MunicipalCaseworker],
                )
                .await
        }
    });
    let created: Vec<_> = futures::future::join_all(writers)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let watch = |after_cursor: String| {
        let mut events = identity.events();
        let request = bearer(
            pb::WatchEventsRequest {
                after_cursor,
                follow: false,
            },
            &admin,
        );
        async move {
            let stream = events.watch_events(request).await.unwrap().into_inner();
            stream
                .map(|r| r.unwrap().event.unwrap())
                .collect::<Vec<_>>()
                .await
        }
    };
    let all = watch(String::new()).await;
    let users: Vec<_> = all
        .iter()
        .filter(|e| e.event_type == "kommune.identity.v1.UserCreated")
        .collect();
    assert_eq!(users.len(), created.len());
    let mut subjects: Vec<_> = users.iter().map(|e| e.subject.clone()).collect();
    subjects.sort();
    let mut expected: Vec<_> = created.iter().map(|u| u.user_id.clone()).collect();
    expected.sort();
    assert_eq!(subjects, expected);
    let mut ids: Vec<_> = all.iter().map(|e| e.event_id.clone()).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
    let payload = users[0].payload.as_ref().unwrap();
    assert_eq!(
        payload.type_url,
        "type.googleapis.com/kommune.identity.v1.UserCreated"
    );
    let decoded: pb::UserCreated = prost::Message::decode(payload.value.as_slice()).unwrap();
    assert_eq!(decoded.municipality_id, m.municipality_id);

    // Resuming after any event yields exactly the rest.
    let middle = all.len() / 2;
    let rest = watch(all[middle].cursor.clone()).await;
    let rest_ids: Vec<_> = rest.iter().map(|e| e.event_id.clone()).collect();
    let expected_rest: Vec<_> = all[middle + 1..]
        .iter()
        .map(|e| e.event_id.clone())
        .collect();
    assert_eq!(rest_ids, expected_rest);

    // A following watcher sees an event committed after it started.
    let mut follower = identity
        .events()
        .watch_events(bearer(
            pb::WatchEventsRequest {
                after_cursor: all.last().unwrap().cursor.clone(),
                follow: true,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let late = identity
        .create_user(
            &admin,
            &m.municipality_id,
            "late@kk.dk",
            &[Role::MunicipalCaseworker],
        )
        .await
        .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), follower.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.event.unwrap().subject, late.user_id);

    let bad_cursor = identity
        .events()
        .watch_events(bearer(
            pb::WatchEventsRequest {
                after_cursor: "nonsense".into(),
                follow: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&bad_cursor), ["after_cursor"]);
}

#[tokio::test]
async fn configured_service_keys_make_their_accounts_once() {
    const NOTIFY_KEY: &str = "kommune-test-notify-service-key-0123";
    let database_url = fresh_database_url("identity").await;
    let start = async || {
        let mut options = Options::new(database_url.clone(), Arc::new(SystemClock));
        options.bootstrap_admin_key = Some(ADMIN_KEY.into());
        options.bootstrap_service_keys =
            BootstrapServiceKeys::parse(&format!("notify={NOTIFY_KEY}")).unwrap();
        let identity = Identity::build(options).await.unwrap();
        let (listener, addr) = loopback_listener().await;
        let running = spawn(|stop| async move {
            identity
                .serve(listener, &ServerConfig::default(), stop)
                .await
                .unwrap();
        });
        (channel_to(addr), running)
    };
    let service_accounts = async |channel: &Channel| {
        let admin = kommune_platform::testing::exchange(channel, ADMIN_KEY).await;
        ServiceAccountServiceClient::new(channel.clone())
            .list_service_accounts(bearer(pb::ListServiceAccountsRequest::default(), &admin))
            .await
            .unwrap()
            .into_inner()
            .service_accounts
            .into_iter()
            .map(|a| (a.name, a.roles))
            .collect::<Vec<_>>()
    };

    let (channel, running) = start().await;
    let token = kommune_platform::testing::exchange(&channel, NOTIFY_KEY).await;
    let caller = TokenServiceClient::new(channel.clone())
        .get_caller(bearer(pb::GetCallerRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caller.roles, [Role::Service as i32]);
    let first = service_accounts(&channel).await;
    assert_eq!(
        first,
        [
            (
                "consortium-admin".to_owned(),
                vec![Role::ConsortiumAdmin as i32]
            ),
            ("notify".to_owned(), vec![Role::Service as i32]),
        ]
    );
    running.stop().await;

    // Started again with the same configuration: nothing new.
    let (channel, _running) = start().await;
    assert_eq!(service_accounts(&channel).await, first);
}
