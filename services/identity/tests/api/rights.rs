//! A person's right to erasure, signing-key rotation, and tokens of outside identity providers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

#[tokio::test]
async fn anonymising_a_person_keeps_the_history_and_tells_the_other_services() {
    let identity = TestIdentity::start().await;
    let admin = identity.admin_token.clone();
    let m = identity
        .create_municipality("101", CVR_A)
        .await
        .municipality_id;
    let person = identity
        .users()
        .create_user(bearer(
            pb::CreateUserRequest {
                municipality_id: m.clone(),
                name: "Margrethe Testesen".into(),
                email: "m.testesen@kk.dk".into(),
                roles: vec![Role::MunicipalCaseworker as i32],
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let register = pb::RegisterEligibleUserRequest {
        user_id: person.user_id.clone(),
        municipality_id: m.clone(),
        valid_from: "2024-01-01".into(),
        ..Default::default()
    };
    identity
        .eligibility()
        .register_eligible_user(bearer(register, &admin))
        .await
        .unwrap();
    let key = identity
        .accounts()
        .create_api_key(bearer(
            pb::CreateApiKeyRequest {
                subject: format!("user:{}", person.user_id),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let colleague = identity
        .create_user(&admin, &m, "colleague@kk.dk", &[Role::MunicipalCaseworker])
        .await
        .unwrap();
    let colleague_token = identity.token_for(&colleague).await;
    let denied = identity
        .users()
        .anonymize_user(bearer(
            pb::AnonymizeUserRequest {
                user_id: person.user_id.clone(),
            },
            &colleague_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let anonymized = identity
        .users()
        .anonymize_user(bearer(
            pb::AnonymizeUserRequest {
                user_id: person.user_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(anonymized.anonymized && !anonymized.active);
    assert_eq!(anonymized.name, "Anonymised user");
    assert!(anonymized.email.ends_with("@kommune.invalid"));
    assert_eq!(
        identity.exchange(&key).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    // Nothing personal is left anywhere in the database; the history and the audit chain stay.
    let db = kommune_platform::db::connect(&identity.database_url)
        .await
        .unwrap();
    for (table, column) in [
        ("users", "name"),
        ("users", "email"),
        ("audit_records", "payload"),
    ] {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} LIKE '%Testesen%' OR {column} LIKE '%m.testesen%'"),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get::<i64>("", "n").unwrap(),
            0,
            "{table}.{column} still names the person"
        );
    }
    let audit = identity.audit();
    let trail = audit
        .clone()
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "user".into(),
                entity_id: person.user_id.clone(),
                page: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    assert_eq!(
        trail
            .iter()
            .map(|r| (r.action.as_str(), r.redacted))
            .collect::<Vec<_>>(),
        [("create", true), ("redact", false), ("anonymize", false)]
    );
    let chain = audit
        .clone()
        .verify_audit_chain(bearer(
            pb::VerifyAuditChainRequest {
                entity_type: "user".into(),
                entity_id: person.user_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .verification
        .unwrap();
    assert!(chain.valid);
    let registrations = identity
        .eligibility()
        .list_eligibility_registrations(bearer(
            pb::ListEligibilityRegistrationsRequest {
                municipality_id: m.clone(),
                user_id: person.user_id.clone(),
                page: None,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .registrations;
    assert_eq!(registrations.len(), 1, "the eligibility history stays");

    let events: Vec<_> = identity
        .events()
        .watch_events(bearer(
            pb::WatchEventsRequest {
                after_cursor: String::new(),
                follow: false,
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .map(|e| e.unwrap().event.unwrap())
        .collect()
        .await;
    let event = events
        .iter()
        .find(|e| e.event_type == "kommune.identity.v1.UserAnonymized")
        .expect("an anonymisation event");
    let payload: pb::UserAnonymized =
        prost::Message::decode(event.payload.as_ref().unwrap().value.as_slice()).unwrap();
    assert_eq!(
        (payload.user_id.as_str(), payload.municipality_id.as_str()),
        (person.user_id.as_str(), m.as_str())
    );

    // Anonymising again changes nothing.
    let again = identity
        .users()
        .anonymize_user(bearer(
            pb::AnonymizeUserRequest {
                user_id: person.user_id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(again.version, anonymized.version);
}

fn key_id(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn a_rotated_key_keeps_tokens_issued_before_it_valid() {
    let mut identity = TestIdentity::start().await;
    let before = identity.admin_token.clone();
    let rotated = identity
        .tokens()
        .rotate_signing_key(bearer(pb::RotateSigningKeyRequest {}, &before))
        .await
        .unwrap()
        .into_inner()
        .key
        .unwrap();
    assert_ne!(rotated.key_id, key_id(&before));

    let after = identity.exchange(ADMIN_KEY).await.unwrap();
    assert_eq!(key_id(&after), rotated.key_id);
    for token in [&before, &after] {
        identity
            .tokens()
            .get_caller(bearer(pb::GetCallerRequest {}, token))
            .await
            .unwrap();
    }
    let keys = identity
        .tokens()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 2);
    let old = keys.iter().find(|k| k.key_id == key_id(&before)).unwrap();
    assert!(old.retire_time.is_some());

    // Once every token the old key signed has expired, it is no longer published.
    identity
        .clock
        .advance(Duration::minutes(15 + 5) + Duration::seconds(1));
    let keys = identity
        .tokens()
        .get_public_keys(pb::GetPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(
        keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
        [rotated.key_id.as_str()]
    );

    identity.admin_token = identity.exchange(ADMIN_KEY).await.unwrap();
    let m = identity
        .create_municipality("101", CVR_A)
        .await
        .municipality_id;
    let admin = identity.admin_token.clone();
    let caseworker = identity
        .create_user(&admin, &m, "cw@kk.dk", &[Role::MunicipalCaseworker])
        .await
        .unwrap();
    let token = identity.token_for(&caseworker).await;
    let denied = identity
        .tokens()
        .rotate_signing_key(bearer(pb::RotateSigningKeyRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

const IDP: &str = "https://idp.aarhus.example";
const AARHUS_CVR: &str = "55133018";
const AARHUS_ID: &str = "01934b1e-0000-7000-8000-000000000751";

fn idp_key(seed: u8) -> (ed25519_dalek::SigningKey, serde_json::Value) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let jwk = serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "idp-1",
        "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
    });
    (key, jwk)
}

fn idp_token(key: &ed25519_dalek::SigningKey, issuer: &str, cvr: &str, exp: i64) -> String {
    let claims = serde_json::json!({
        "iss": issuer, "aud": "kommune", "sub": "anne.h", "org_cvr": cvr,
        "groups": ["caseworker", "canteen"], "iat": exp - 300, "exp": exp,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("idp-1".into());
    let der = key.to_pkcs8_der().unwrap();
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn tokens_of_a_trusted_outside_issuer_are_accepted_and_a_strangers_refused() {
    let (idp, jwk) = idp_key(7);
    let trusted: TrustedIssuer = serde_json::from_value(serde_json::json!({
        "issuer": IDP,
        "audience": "kommune",
        "jwks": {"keys": [jwk]},
        "municipality_claim": "org_cvr",
        "municipalities": {AARHUS_CVR: AARHUS_ID},
        "roles_claim": "groups",
        "roles": {"caseworker": "ROLE_MUNICIPAL_CASEWORKER", "support-lead": "ROLE_MUNICIPAL_PROJECT_LEADER"},
    }))
    .unwrap();
    let identity = TestIdentity::start_with(vec![trusted]).await;
    let exp = identity.clock.now().timestamp() + 300;
    let get_caller = |token: String| {
        let mut tokens = identity.tokens();
        async move {
            tokens
                .get_caller(bearer(pb::GetCallerRequest {}, &token))
                .await
        }
    };

    let caller = get_caller(idp_token(&idp, IDP, AARHUS_CVR, exp))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(caller.subject, format!("external:{IDP}#anne.h"));
    assert_eq!(caller.municipality_id, AARHUS_ID);
    assert_eq!(caller.roles, vec![Role::MunicipalCaseworker as i32]);

    let (stranger, _) = idp_key(8);
    let refused = [
        idp_token(&stranger, IDP, AARHUS_CVR, exp), // signed by a key the issuer does not publish
        idp_token(&idp, "https://idp.evil.example", AARHUS_CVR, exp), // an issuer nobody trusts
        idp_token(&idp, IDP, "12345678", exp),      // a municipality kommune does not know
        idp_token(&idp, IDP, AARHUS_CVR, exp - 3600), // expired
    ];
    for token in refused {
        assert_eq!(
            get_caller(token).await.unwrap_err().code(),
            Code::Unauthenticated
        );
    }
}
