//! The audit log that holds: records sealed with a key the database never holds, anchored in a
//! signed Merkle log, proven to anyone through the public RPCs, and every kind of tampering with
//! the database detected — in the service, and by an outside auditor that kept an earlier checkpoint.

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use kommune_platform::audit::auditor::{self, Kept};
use kommune_platform::audit::key::{AuditKey, signature_holds};
use kommune_platform::audit::{entity as records, log, merkle};
use kommune_proto::common::v1::{AuditChainVerification, AuditCheckpoint, AuditLogVerification};

use super::*;

/// Identity with a trail: Anne created and renamed twice (3 records), Bo created (1 record), and a
/// checkpoint over all of it.
struct Trail {
    identity: TestIdentity,
    admin: String,
    anne: String,
    bo: String,
    db: DatabaseConnection,
}

impl Trail {
    async fn start() -> Self {
        let identity = TestIdentity::start().await;
        let admin = identity.admin_token.clone();
        let m = identity.create_municipality("101", CVR_A).await;
        let roles = [Role::MunicipalCaseworker];
        let anne = identity
            .create_user(&admin, &m.municipality_id, "anne@kk.dk", &roles)
            .await
            .unwrap()
            .user_id;
        let bo = identity
            .create_user(&admin, &m.municipality_id, "bo@kk.dk", &roles)
            .await
            .unwrap()
            .user_id;
        for (version, name) in [(1, "Anne B. Hansen"), (2, "Anne Berg")] {
            identity
                .users()
                .update_user(bearer(
                    pb::UpdateUserRequest {
                        user_id: anne.clone(),
                        expected_version: version,
                        name: Some(name.into()),
                        ..Default::default()
                    },
                    &admin,
                ))
                .await
                .unwrap();
        }
        let db = kommune_platform::db::connect(&identity.database_url)
            .await
            .unwrap();
        let trail = Self {
            identity,
            admin,
            anne,
            bo,
            db,
        };
        trail.sign().await;
        trail
    }

    async fn sign(&self) -> AuditCheckpoint {
        self.identity
            .audit()
            .sign_audit_checkpoint(bearer(pb::SignAuditCheckpointRequest {}, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap()
    }

    async fn verify(&self, user_id: &str) -> AuditChainVerification {
        self.identity
            .audit()
            .verify_audit_chain(bearer(
                pb::VerifyAuditChainRequest {
                    entity_type: "user".into(),
                    entity_id: user_id.into(),
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .verification
            .unwrap()
    }

    async fn verify_log(&self) -> AuditLogVerification {
        self.identity
            .audit()
            .verify_audit_log(bearer(pb::VerifyAuditLogRequest {}, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .verification
            .unwrap()
    }

    async fn rename_bo(&self, name: &str) {
        let bo = self
            .identity
            .users()
            .get_user(bearer(
                pb::GetUserRequest {
                    user_id: self.bo.clone(),
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap();
        self.identity
            .users()
            .update_user(bearer(
                pb::UpdateUserRequest {
                    user_id: self.bo.clone(),
                    expected_version: bo.version,
                    name: Some(name.into()),
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .unwrap();
    }

    async fn records_of(&self, user_id: &str) -> Vec<records::Model> {
        let mut rows = records::Entity::find()
            .filter(records::Column::EntityType.eq("user"))
            .filter(records::Column::EntityId.eq(user_id))
            .all(&self.db)
            .await
            .unwrap();
        rows.sort_by_key(|r| r.sequence);
        rows
    }

    /// Bo renamed, a checkpoint signed over it, and that checkpoint deleted behind the service's back.
    async fn grow_and_remove_the_checkpoint(&self) -> AuditCheckpoint {
        self.rename_bo("Bo Nielsen").await;
        let grown = self.sign().await;
        self.sql(&format!(
            "DELETE FROM audit_checkpoints WHERE tree_size = {}",
            grown.tree_size
        ))
        .await;
        grown
    }

    /// Sets `assignments` on Anne's record `sequence` behind the service's back, and verifies her chain.
    async fn tamper_with_anne(&self, assignments: &str, sequence: i64) -> AuditChainVerification {
        self.sql(&format!(
            "UPDATE audit_records SET {assignments} WHERE entity_id = '{}' AND sequence = {sequence}",
            self.anne
        ))
        .await;
        self.verify(&self.anne).await
    }

    async fn sql(&self, statement: &str) {
        self.db.execute_unprepared(statement).await.unwrap();
    }

    /// An insider holding the audit key edits Anne's second record and re-seals her chain from it,
    /// every hash recomputed.
    async fn rewrite_annes_history(&self) {
        let key = self.identity.audit_keys.current();
        let mut previous = String::new();
        for mut row in self.records_of(&self.anne).await {
            if row.sequence == 2 {
                row.actor = "user:someone-else".into();
            }
            if row.sequence >= 2 {
                row.previous_hash = previous.clone();
                row.record_hash = kommune_platform::audit::seal(key, &row);
                records::ActiveModel::from(row.clone())
                    .reset_all()
                    .update(&self.db)
                    .await
                    .unwrap();
            }
            previous = row.record_hash;
        }
    }
}

fn hash(bytes: &[u8]) -> merkle::Hash {
    merkle::Hash::try_from(bytes).unwrap()
}

fn hex_hash(text: &str) -> merkle::Hash {
    hash(&hex::decode(text).unwrap())
}

#[tokio::test]
async fn checkpoints_anchor_every_record_and_prove_it_to_anyone() {
    let identity = TestIdentity::start().await;
    let refused = identity
        .audit()
        .get_audit_checkpoint(pb::GetAuditCheckpointRequest { tree_size: 0 })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    drop(identity);

    let trail = Trail::start().await;
    let mut audit = trail.identity.audit();
    // Public: no token.
    let first = audit
        .get_audit_checkpoint(pb::GetAuditCheckpointRequest { tree_size: 0 })
        .await
        .unwrap()
        .into_inner()
        .checkpoint
        .unwrap();
    assert_eq!(first.service, "identity");
    assert!(first.tree_size >= 5, "municipality, two users, two renames");
    assert!(signature_holds(
        &first.public_key,
        &first.note,
        &first.signature
    ));
    assert!(
        first
            .note
            .contains(&format!("tree_size {}\n", first.tree_size))
    );

    let chain = trail.verify(&trail.anne).await;
    assert!(chain.valid, "{}", chain.reason);
    assert_eq!((chain.records_checked, chain.records_anchored), (3, 3));
    assert_eq!(
        chain.checkpoint.as_ref().unwrap().tree_size,
        first.tree_size
    );

    // Each record's inclusion, proven with the public RPC and checked here independently.
    let listed = audit
        .list_audit_records(bearer(
            pb::ListAuditRecordsRequest {
                entity_type: "user".into(),
                entity_id: trail.anne.clone(),
                page: None,
            },
            &trail.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .records;
    let root = hex_hash(&first.root_hash);
    for record in &listed {
        assert!(record.anchored);
        let proof = audit
            .get_audit_inclusion_proof(pb::GetAuditInclusionProofRequest {
                log_index: record.log_index,
                tree_size: first.tree_size,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(proof.entry.unwrap().record_hash, record.record_hash);
        let hashes: Vec<_> = proof.hashes.iter().map(|h| hash(h)).collect();
        let leaf = log::leaf_of(&record.record_hash);
        assert!(merkle::verify_inclusion(
            &leaf,
            record.log_index,
            first.tree_size,
            &hashes,
            &root
        ));
    }

    // The log grows; the later checkpoint proves the earlier one its prefix.
    trail.rename_bo("Bo Nielsen").await;
    let pending = trail.verify_log().await;
    assert!(pending.valid, "{}", pending.reason);
    assert_eq!(pending.records_pending, 1);
    let second = trail.sign().await;
    assert_eq!(second.tree_size, first.tree_size + 1);
    let proof = audit
        .get_audit_consistency_proof(pb::GetAuditConsistencyProofRequest {
            first_tree_size: first.tree_size,
            second_tree_size: second.tree_size,
        })
        .await
        .unwrap()
        .into_inner()
        .hashes;
    let proof: Vec<_> = proof.iter().map(|h| hash(h)).collect();
    assert!(merkle::verify_consistency(
        first.tree_size,
        second.tree_size,
        &root,
        &hex_hash(&second.root_hash),
        &proof
    ));
    let whole = trail.verify_log().await;
    assert!(whole.valid, "{}", whole.reason);
    assert_eq!(
        (whole.records_checked, whole.records_pending),
        (second.tree_size, 0)
    );
    // Nothing new: signing again answers the same checkpoint.
    assert_eq!(trail.sign().await.tree_size, second.tree_size);

    // Checkpoints are announced on the event feed.
    let events = trail
        .identity
        .events()
        .watch_events(bearer(
            pb::WatchEventsRequest {
                after_cursor: String::new(),
                follow: false,
            },
            &trail.admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .map(|e| e.unwrap().event.unwrap())
        .collect::<Vec<_>>()
        .await;
    let announced: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "kommune.common.v1.AuditCheckpoint")
        .map(|e| e.subject.clone())
        .collect();
    assert_eq!(
        announced,
        [first.tree_size.to_string(), second.tree_size.to_string()]
    );

    // Bad input, and who may do what.
    let status = audit
        .get_audit_consistency_proof(pb::GetAuditConsistencyProofRequest {
            first_tree_size: 0,
            second_tree_size: second.tree_size,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["first_tree_size"]);
    let status = audit
        .get_audit_consistency_proof(pb::GetAuditConsistencyProofRequest {
            first_tree_size: 1,
            second_tree_size: second.tree_size + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "not a checkpoint's size");
    let status = audit
        .get_audit_inclusion_proof(pb::GetAuditInclusionProofRequest {
            log_index: second.tree_size,
            tree_size: second.tree_size,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&status), ["log_index"]);
    let status = audit
        .verify_audit_chain(bearer(
            pb::VerifyAuditChainRequest {
                entity_type: "municipality".into(),
                entity_id: uuid::Uuid::now_v7().to_string(),
            },
            &trail.admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let m = trail.identity.create_municipality("102", CVR_B).await;
    let clerk = trail
        .identity
        .create_user(
            &trail.admin,
            &m.municipality_id,
            "clerk@kk.dk",
            &[Role::MunicipalCaseworker],
        )
        .await
        .unwrap();
    let clerk = trail.identity.token_for(&clerk).await;
    let status = audit
        .sign_audit_checkpoint(bearer(pb::SignAuditCheckpointRequest {}, &clerk))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = audit
        .list_audit_log_entries(bearer(
            pb::ListAuditLogEntriesRequest {
                first_index: 0,
                page: None,
            },
            &clerk,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = audit
        .verify_audit_log(bearer(pb::VerifyAuditLogRequest {}, &clerk))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// Each way of tampering, on a trail of its own: what VerifyAuditChain of `victim` and the whole
/// log's verification say afterwards.
#[tokio::test]
async fn every_kind_of_tampering_is_detected() {
    // Editing a record.
    let trail = Trail::start().await;
    let chain = trail
        .tamper_with_anne(r#"actor = 'user:someone-else'"#, 2)
        .await;
    assert_eq!(
        (chain.valid, chain.first_invalid_sequence),
        (false, 2),
        "{}",
        chain.reason
    );
    assert!(!trail.verify_log().await.valid);

    // Editing a payload.
    let trail = Trail::start().await;
    let chain = trail
        .tamper_with_anne(r#"payload = '{"name":"Someone Else"}'"#, 3)
        .await;
    assert_eq!(
        (chain.valid, chain.first_invalid_sequence),
        (false, 3),
        "{}",
        chain.reason
    );
    assert!(!trail.verify_log().await.valid);

    // Recomputing every hash after an edit, even with the audit key: no longer what was signed.
    let trail = Trail::start().await;
    trail.rewrite_annes_history().await;
    let chain = trail.verify(&trail.anne).await;
    assert_eq!(
        (chain.valid, chain.first_invalid_sequence),
        (false, 2),
        "{}",
        chain.reason
    );
    assert!(
        chain.reason.contains("signed audit log"),
        "{}",
        chain.reason
    );
    let whole = trail.verify_log().await;
    assert!(!whole.valid);
    assert!(whole.reason.contains("signed root"), "{}", whole.reason);

    // Deleting the tail of a chain.
    let trail = Trail::start().await;
    trail
        .sql(&format!(
            "DELETE FROM audit_records WHERE entity_id = '{}' AND sequence = 3",
            trail.anne
        ))
        .await;
    let chain = trail.verify(&trail.anne).await;
    assert!(!chain.valid);
    assert!(chain.reason.contains("missing"), "{}", chain.reason);
    let whole = trail.verify_log().await;
    assert!(!whole.valid);
    assert!(whole.reason.contains("is missing"), "{}", whole.reason);

    // Deleting a whole chain: seen, not taken for a chain that never was.
    let trail = Trail::start().await;
    trail
        .sql(&format!(
            "DELETE FROM audit_records WHERE entity_id = '{}'",
            trail.bo
        ))
        .await;
    let chain = trail.verify(&trail.bo).await;
    assert!(!chain.valid);
    assert!(chain.reason.contains("missing"), "{}", chain.reason);
    assert!(!trail.verify_log().await.valid);

    // Forging a redaction: a payload removed without a redaction record.
    let trail = Trail::start().await;
    let chain = trail
        .tamper_with_anne(r#"payload = NULL, redacted = TRUE"#, 1)
        .await;
    assert_eq!(
        (chain.valid, chain.first_invalid_sequence),
        (false, 1),
        "{}",
        chain.reason
    );
    assert!(chain.reason.contains("redaction"), "{}", chain.reason);
    let whole = trail.verify_log().await;
    assert!(whole.reason.contains("redaction"), "{}", whole.reason);

    // A checkpoint signed with a key the service does not hold.
    let trail = Trail::start().await;
    let stranger = AuditKey::random();
    let latest = log::latest(&trail.db).await.unwrap().unwrap();
    let note = log::note(
        "identity",
        latest.tree_size as u64,
        &latest.root_hash,
        latest.signed_at,
    );
    trail
        .sql(&format!(
            "UPDATE audit_checkpoints SET key_id = '{}', public_key = '{}', signature = '{}'",
            stranger.id(),
            hex::encode(stranger.public_key()),
            hex::encode(stranger.sign(&note))
        ))
        .await;
    let chain = trail.verify(&trail.anne).await;
    assert!(!chain.valid);
    assert!(chain.reason.contains("unknown key"), "{}", chain.reason);
    let whole = trail.verify_log().await;
    assert!(whole.reason.contains("unknown key"), "{}", whole.reason);
}

#[tokio::test]
async fn an_outside_auditor_holds_the_service_to_its_earlier_checkpoint() {
    let trail = Trail::start().await;
    let channel = trail.identity.channel.clone();
    let run = |kept: Option<Kept>, key: Option<String>| {
        let (channel, admin) = (channel.clone(), trail.admin.clone());
        async move {
            auditor::audit(
                channel,
                "identity",
                key.as_deref(),
                kept.as_ref(),
                Some(admin),
            )
            .await
            .unwrap()
        }
    };
    let first = run(None, None).await;
    assert!(first.problems.is_empty(), "{:?}", first.problems);
    assert_eq!(first.entries_checked, first.checkpoint.tree_size);
    let public_key = hex::encode(&first.checkpoint.public_key);
    let kept = first.kept(&public_key);

    trail.rename_bo("Bo Nielsen").await;
    trail.sign().await;
    let second = run(Some(kept.clone()), None).await;
    assert!(second.problems.is_empty(), "{:?}", second.problems);
    let kept = second.kept(&public_key);

    // A key it does not trust.
    let stranger = hex::encode(AuditKey::random().public_key());
    let distrusted = run(Some(kept.clone()), Some(stranger)).await;
    assert!(
        distrusted
            .problems
            .iter()
            .any(|p| p.contains("unknown key")),
        "{:?}",
        distrusted.problems
    );

    // An insider with the audit key rewrites history, rebuilds the log and signs it anew: the
    // service's own checks pass, the auditor's kept checkpoint does not.
    trail.rewrite_annes_history().await;
    trail.sql("DELETE FROM audit_log_nodes").await;
    trail.sql("DELETE FROM audit_checkpoints").await;
    trail.sql("UPDATE audit_records SET log_index = NULL").await;
    let resigned = trail.sign().await;
    assert_eq!(resigned.tree_size, kept.tree_size);
    assert!(trail.verify(&trail.anne).await.valid);
    let caught = run(Some(kept.clone()), None).await;
    assert!(
        caught
            .problems
            .iter()
            .any(|p| p.contains("history was rewritten")),
        "{:?}",
        caught.problems
    );

    // Truncating the log back to an earlier checkpoint.
    let trail = Trail::start().await;
    let first = auditor::audit(trail.identity.channel.clone(), "identity", None, None, None)
        .await
        .unwrap();
    let kept = first.kept(&hex::encode(&first.checkpoint.public_key));
    let grown = trail.grow_and_remove_the_checkpoint().await;
    trail
        .sql(&format!(
            "DELETE FROM audit_records WHERE log_index >= {}",
            kept.tree_size
        ))
        .await;
    let later = Kept {
        tree_size: grown.tree_size,
        root_hash: grown.root_hash.clone(),
        ..kept
    };
    let caught = auditor::audit(
        trail.identity.channel.clone(),
        "identity",
        None,
        Some(&later),
        None,
    )
    .await
    .unwrap();
    assert!(
        caught.problems.iter().any(|p| p.contains("shrank")),
        "{:?}",
        caught.problems
    );
}

#[tokio::test]
async fn a_record_without_the_services_seal_is_reported_and_never_sealed_afterwards() {
    let trail = Trail::start().await;
    // As a database writer, or an older release, leaves it: no key.
    let chain = trail.tamper_with_anne(r#"key_id = ''"#, 3).await;
    assert_eq!((chain.valid, chain.first_invalid_sequence), (false, 3));
    assert!(chain.reason.contains("not sealed"), "{}", chain.reason);
    // Anchoring and signing go on for what is new; the unsealed record stays reported.
    trail.rename_bo("Bo Nielsen").await;
    trail.sign().await;
    assert!(!trail.verify(&trail.anne).await.valid);
    assert!(!trail.verify_log().await.valid);
}

#[tokio::test]
async fn removed_checkpoints_are_detected_and_never_signed_over() {
    let trail = Trail::start().await;
    trail.grow_and_remove_the_checkpoint().await;
    let chain = trail.verify(&trail.anne).await;
    assert!(!chain.valid);
    assert!(
        chain.reason.contains("checkpoints were removed"),
        "{}",
        chain.reason
    );
    assert!(
        trail
            .verify_log()
            .await
            .reason
            .contains("checkpoints were removed")
    );

    // A stored tree edited under the last checkpoint: the sequencer refuses to sign over it.
    let trail = Trail::start().await;
    trail
        .sql(&format!(
            "UPDATE audit_log_nodes SET hash = '{}' WHERE node_index = 0 AND level = (SELECT MAX(level) FROM audit_log_nodes)",
            "0".repeat(64)
        ))
        .await;
    trail.rename_bo("Bo Nielsen").await;
    let refused = trail
        .identity
        .audit()
        .sign_audit_checkpoint(bearer(pb::SignAuditCheckpointRequest {}, &trail.admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Internal);
}
