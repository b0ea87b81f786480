//! The audit trail: every mutation recorded with who, when and what, chained per entity by hashes
//! sealed with the service's audit key ([`key`]), so an edited, forged or re-sealed record is
//! detected; every record then anchored in the service's signed Merkle log ([`log`], [`merkle`]), so
//! a removed record or a rewritten history is detected too. The chain covers a hash of the payload,
//! not the payload, so erasure can remove a payload without breaking the chain — only by a chained
//! redaction record naming who and why.

pub mod auditor;
pub mod key;
pub mod log;
pub mod merkle;

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

use kommune_proto::common::v1::{AuditChainVerification, AuditRecord};

use crate::clock::to_timestamp;
use crate::error::Error;
use crate::error::Reason;
use crate::paging::Page;
pub use key::{AuditKey, AuditKeys};

/// Rows of the audit trail.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One audited mutation of one entity.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_records")]
    pub struct Model {
        /// Row id.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// Kind of entity.
        pub entity_type: String,
        /// Entity id.
        pub entity_id: String,
        /// Position in the entity's chain, from 1.
        pub sequence: i64,
        /// The caller's subject.
        pub actor: String,
        /// What was done.
        pub action: String,
        /// When.
        pub occurred_at: DateTimeUtc,
        /// The change as JSON; `None` once redacted.
        pub payload: Option<String>,
        /// Whether the payload was redacted (by a later `redact` record of the chain).
        pub redacted: bool,
        /// Hex SHA-256 of the payload as written.
        pub payload_hash: String,
        /// Hash of the previous record of the entity ("" for the first).
        pub previous_hash: String,
        /// Hash of this record, sealed with the audit key `key_id`.
        pub record_hash: String,
        /// The id of the audit key that sealed it.
        pub key_id: String,
        /// Its position in the service's audit log, once anchored.
        pub log_index: Option<i64>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

/// The action of a redaction record: it names who removed the payloads of the chain's records up to
/// `through_sequence`, and why; its own payload is never removed.
pub const REDACT: &str = "redact";

/// What a mutation changed, to record in the caller's transaction.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Kind of entity, e.g. `user`.
    pub entity_type: &'a str,
    /// Entity id.
    pub entity_id: String,
    /// The caller's subject.
    pub actor: &'a str,
    /// What was done, e.g. `create`.
    pub action: &'a str,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// The fields written.
    pub payload: serde_json::Value,
}

impl<'a> AuditEntry<'a> {
    /// `actor`'s `action` on an entity at `occurred_at`, with the fields written.
    pub fn new(
        actor: &'a crate::auth::Caller,
        entity_type: &'a str,
        entity_id: impl Into<String>,
        action: &'a str,
        occurred_at: DateTime<Utc>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            entity_type,
            entity_id: entity_id.into(),
            actor: &actor.subject,
            action,
            occurred_at,
            payload,
        }
    }
}

/// The last record of an entity's chain.
async fn head(
    txn: &impl ConnectionTrait,
    entity_type: &str,
    entity_id: &str,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.eq(entity_id))
        .order_by_desc(Column::Sequence)
        .limit(1)
        .one(txn)
        .await?)
}

/// Which of the entities `ids` of `entity_type` have a record of `action` (e.g. the people a service
/// has erased: `person`, `erase`), in one query.
pub async fn with_action(
    db: &impl ConnectionTrait,
    entity_type: &str,
    ids: Vec<String>,
    action: &str,
) -> Result<Vec<String>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::EntityId)
        .distinct()
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.is_in(ids))
        .filter(Column::Action.eq(action))
        .into_tuple()
        .all(db)
        .await?)
}

/// Appends a record to the entity's chain inside the caller's transaction, sealed with the current
/// audit key. Two transactions appending to the same entity at once collide on the chain position;
/// the later fails with ABORTED.
pub async fn record(
    txn: &impl ConnectionTrait,
    keys: &AuditKeys,
    entry: AuditEntry<'_>,
) -> Result<(), Error> {
    let last = head(txn, entry.entity_type, &entry.entity_id).await?;
    append(txn, keys, entry, last).await
}

/// Starts the chain of an entity created in the caller's transaction `txn` (its id new there): the
/// first record, without reading a head that cannot exist yet (one round trip less for every
/// creation). Recording it for an entity that already has records fails ABORTED, as a collision.
pub async fn record_first(
    txn: &impl ConnectionTrait,
    keys: &AuditKeys,
    entry: AuditEntry<'_>,
) -> Result<(), Error> {
    append(txn, keys, entry, None).await
}

/// Appends `entry` after `last`, the chain's last record (`None`: it starts the chain).
async fn append(
    txn: &impl ConnectionTrait,
    keys: &AuditKeys,
    entry: AuditEntry<'_>,
    last: Option<Model>,
) -> Result<(), Error> {
    let (sequence, previous_hash) =
        last.map_or((1, String::new()), |r| (r.sequence + 1, r.record_hash));
    let payload = entry.payload.to_string();
    let key = keys.current();
    let mut row = Model {
        id: 0,
        entity_type: entry.entity_type.to_owned(),
        entity_id: entry.entity_id.clone(),
        sequence,
        actor: entry.actor.to_owned(),
        action: entry.action.to_owned(),
        occurred_at: entry.occurred_at,
        payload_hash: payload_hash(&payload),
        payload: Some(payload),
        redacted: false,
        previous_hash,
        record_hash: String::new(),
        key_id: key.id().to_owned(),
        log_index: None,
    };
    row.record_hash = seal(key, &row);
    let mut inserted = ActiveModel::from(row).reset_all();
    inserted.id = sea_orm::ActiveValue::NotSet;
    match inserted.insert(txn).await {
        Ok(_) => Ok(()),
        Err(err) if crate::db::is_unique_violation(&err) => Err(Error::Aborted(
            Reason::ConcurrentChange,
            format!(
                "{} {} was changed concurrently; retry",
                entry.entity_type, entry.entity_id
            ),
        )),
        Err(err) => Err(err.into()),
    }
}

/// Erasure: removes the payloads of every record of the entity `entity_type` `entity_id` so far and
/// appends a redaction record saying who did it (`actor`, at `at`) and why (`reason`, which must hold
/// no personal data), so the chain still verifies and shows the redaction. Returns how many payloads
/// were removed; nothing is recorded when the entity has no records.
pub async fn redact(
    txn: &impl ConnectionTrait,
    keys: &AuditKeys,
    actor: &crate::auth::Caller,
    entity_type: &str,
    entity_id: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<u64, Error> {
    let Some(last) = head(txn, entity_type, entity_id).await? else {
        return Ok(0);
    };
    let result = Entity::update_many()
        .col_expr(
            Column::Payload,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(Column::Redacted, sea_orm::sea_query::Expr::value(true))
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.eq(entity_id))
        .filter(Column::Sequence.lte(last.sequence))
        .filter(Column::Action.ne(REDACT))
        .filter(Column::Redacted.eq(false))
        .exec(txn)
        .await?;
    let payload = serde_json::json!({"reason": reason, "through_sequence": last.sequence});
    let entry = AuditEntry::new(actor, entity_type, entity_id, REDACT, at, payload);
    record(txn, keys, entry).await?;
    Ok(result.rows_affected)
}

/// One page of an entity's records, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    entity_type: &str,
    entity_id: &str,
    page: &Page,
) -> Result<(Vec<AuditRecord>, kommune_proto::common::v1::PageResponse), Error> {
    let after: i64 = match &page.after {
        Some(after) => after
            .parse()
            .map_err(|_| Error::invalid("page.page_token", "is not a token from this list"))?,
        None => 0,
    };
    let rows = Entity::find()
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.eq(entity_id))
        .filter(Column::Sequence.gt(after))
        .order_by_asc(Column::Sequence)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    let anchored_below = log::latest(db).await?.map_or(0, |c| c.tree_size);
    let (rows, page) = page.finish(rows, |r| r.sequence.to_string());
    Ok((
        rows.into_iter()
            .map(|row| to_proto(row, anchored_below))
            .collect(),
        page,
    ))
}

/// Verifies an entity's chain (seals, links, redactions), read in pages so a chain of any length
/// keeps memory flat; the latest checkpoint's signature; that every anchored record of the entity is
/// included in it; and that no anchored record of the service is missing (which is how a removed tail
/// or a deleted chain shows). Reads one snapshot, so writes meanwhile (an erasure, a checkpoint) are
/// not mistaken for tampering. NOT_FOUND when the entity has no records and none is missing.
pub async fn verify(
    db: &DatabaseConnection,
    keys: &AuditKeys,
    service: &str,
    entity_type: &str,
    entity_id: &str,
) -> Result<AuditChainVerification, Error> {
    let snapshot = crate::db::read_snapshot(db).await?;
    let verified = verify_in(&snapshot, keys, service, entity_type, entity_id).await;
    snapshot.rollback().await?;
    verified
}

async fn verify_in(
    db: &impl ConnectionTrait,
    keys: &AuditKeys,
    service: &str,
    entity_type: &str,
    entity_id: &str,
) -> Result<AuditChainVerification, Error> {
    const PAGE: u64 = 1_000;
    let chain = || {
        Entity::find()
            .filter(Column::EntityType.eq(entity_type))
            .filter(Column::EntityId.eq(entity_id))
    };
    let checkpoint = log::latest(db).await?;
    let size = checkpoint.as_ref().map_or(0, |c| c.tree_size as u64);
    let root = checkpoint
        .as_ref()
        .and_then(|c| <merkle::Hash>::try_from(hex::decode(&c.root_hash).ok()?).ok())
        .unwrap_or_default();
    let (missing, stray) = log::unaccounted(db, size).await?;
    let redactions = chain()
        .filter(Column::Action.eq(REDACT))
        .order_by_asc(Column::Sequence)
        .all(db)
        .await?;
    let mut check = ChainCheck::new(keys, &redactions);
    let mut anchored = 0;
    // The first anchored record the checkpoint does not include: (sequence, position).
    let mut unsigned: Option<(i64, u64)> = None;
    loop {
        let page = chain()
            .filter(Column::Sequence.gt(check.checked as i64))
            .order_by_asc(Column::Sequence)
            .limit(PAGE)
            .all(db)
            .await?;
        let full = page.len() as u64 == PAGE;
        for row in &page {
            if let Some(mut invalid) = check.next(row) {
                invalid.checkpoint = checkpoint.as_ref().map(|c| log::to_proto(service, c));
                return Ok(invalid);
            }
        }
        let positions: Vec<(i64, u64, &str)> = page
            .iter()
            .filter_map(|r| {
                let index = r.log_index.map(|i| i as u64).filter(|i| *i < size)?;
                Some((r.sequence, index, r.record_hash.as_str()))
            })
            .collect();
        anchored += positions.len() as u64;
        if unsigned.is_none() && !positions.is_empty() {
            let mut wanted: Vec<merkle::Subtree> = positions
                .iter()
                .flat_map(|(_, index, _)| {
                    merkle::needed(|s| merkle::inclusion_proof(*index, size, s))
                })
                .collect();
            wanted.sort();
            wanted.dedup();
            let mut subtrees = log::subtrees(db, &wanted).await?;
            unsigned = positions.iter().find_map(|(sequence, index, hash)| {
                let proof = merkle::inclusion_proof(*index, size, &mut subtrees);
                let leaf = log::leaf_of(hash);
                (!merkle::verify_inclusion(&leaf, *index, size, &proof, &root))
                    .then_some((*sequence, *index))
            });
        }
        if !full {
            break;
        }
    }
    if check.checked == 0 && missing == 0 {
        return Err(Error::NotFound {
            entity: "audit chain",
            id: format!("{entity_type} {entity_id}"),
            field: Some("entity_id"),
        });
    }
    let mut verification = AuditChainVerification {
        valid: true,
        records_checked: check.checked,
        checkpoint: checkpoint.as_ref().map(|c| log::to_proto(service, c)),
        ..Default::default()
    };
    let fail = |mut v: AuditChainVerification, sequence: i64, reason: String| {
        v.valid = false;
        v.first_invalid_sequence = sequence as u64;
        v.reason = reason;
        v
    };
    let Some(checkpoint) = checkpoint else {
        return Ok(verification);
    };
    if let Some(reason) = log::checkpoint_fault(service, keys, &checkpoint) {
        return Ok(fail(verification, 0, reason));
    }
    if missing > 0 {
        let reason = format!(
            "{missing} anchored records of the service are missing from its audit log (removed)"
        );
        return Ok(fail(verification, 0, reason));
    }
    if stray > 0 {
        let reason = format!(
            "{stray} records claim log positions no checkpoint covers: checkpoints were removed"
        );
        return Ok(fail(verification, 0, reason));
    }
    if let Some((sequence, index)) = unsigned {
        let reason = format!("is not in the signed audit log at position {index}");
        return Ok(fail(verification, sequence, reason));
    }
    verification.records_anchored = anchored;
    Ok(verification)
}

fn to_proto(row: Model, anchored_below: i64) -> AuditRecord {
    let anchored = row.log_index.is_some_and(|i| i < anchored_below);
    AuditRecord {
        entity_type: row.entity_type,
        entity_id: row.entity_id,
        sequence: row.sequence as u64,
        actor: row.actor,
        action: row.action,
        occurred_at: Some(to_timestamp(row.occurred_at)),
        payload_json: row.payload.unwrap_or_default(),
        redacted: row.redacted,
        payload_hash: row.payload_hash,
        previous_hash: row.previous_hash,
        record_hash: row.record_hash,
        key_id: row.key_id,
        anchored,
        log_index: row.log_index.filter(|_| anchored).unwrap_or_default() as u64,
    }
}

/// Hex SHA-256 of a payload.
fn payload_hash(payload: &str) -> String {
    hex::encode(Sha256::digest(payload.as_bytes()))
}

/// The record's hash, sealed with `key`: every field but the payload itself (its hash stands in),
/// the redaction flag (a redaction record stands in) and the log position (the log's tree covers it).
pub fn seal(key: &AuditKey, row: &Model) -> String {
    let micros = row.occurred_at.timestamp_micros().to_string();
    let sequence = row.sequence.to_string();
    key.seal(&[
        &row.previous_hash,
        &row.entity_type,
        &row.entity_id,
        &sequence,
        &row.actor,
        &row.action,
        &micros,
        &row.payload_hash,
    ])
}

/// Why a record's own hashes do not hold, if they do not.
fn seal_fault(row: &Model, keys: &AuditKeys) -> Option<String> {
    let Some(key) = keys.by_id(&row.key_id) else {
        return Some(if row.key_id.is_empty() {
            "is not sealed with an audit key".to_owned()
        } else {
            format!("is sealed with an unknown audit key {}", row.key_id)
        });
    };
    if seal(key, row) != row.record_hash {
        return Some("does not match its sealed hash".to_owned());
    }
    match &row.payload {
        Some(payload) if payload_hash(payload) != row.payload_hash => {
            Some("payload does not match its hash".to_owned())
        }
        _ => None,
    }
}

/// Whether the record's payload is gone or marked redacted.
fn payload_removed(row: &Model) -> bool {
    row.payload.is_none() || row.redacted
}

/// How far a redaction record reaches: the last sequence whose payload it removed.
fn redaction_reach(row: &Model) -> Option<i64> {
    if row.action != REDACT {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(row.payload.as_deref()?).ok()?;
    payload.get("through_sequence")?.as_i64()
}

/// Whether a later, soundly sealed redaction record of the row's chain removed its payload.
async fn redaction_covers(
    db: &impl ConnectionTrait,
    keys: &AuditKeys,
    row: &Model,
) -> Result<bool, Error> {
    let redactions = Entity::find()
        .filter(Column::EntityType.eq(row.entity_type.as_str()))
        .filter(Column::EntityId.eq(row.entity_id.as_str()))
        .filter(Column::Action.eq(REDACT))
        .filter(Column::Sequence.gt(row.sequence))
        .all(db)
        .await?;
    Ok(row.action != REDACT
        && redactions.iter().any(|r| {
            seal_fault(r, keys).is_none()
                && redaction_reach(r).is_some_and(|reach| reach >= row.sequence)
        }))
}

/// Checks a chain record by record in sequence order, keeping only the previous record's hash, so a
/// chain is read in pages: each record's seal and payload hash, its link to the previous one, and that
/// each payload removed was removed by a later redaction record of the chain.
struct ChainCheck<'k> {
    keys: &'k AuditKeys,
    /// The chain's redaction records' sequences, ascending, each with the furthest sequence any
    /// redaction from it on reaches.
    redactions: Vec<(i64, i64)>,
    previous_hash: String,
    /// How many records passed.
    checked: u64,
}

impl<'k> ChainCheck<'k> {
    /// A check of a chain whose redaction records are `redactions`, in sequence order.
    fn new(keys: &'k AuditKeys, redactions: &[Model]) -> Self {
        let mut reaches: Vec<(i64, i64)> = redactions
            .iter()
            .map(|r| (r.sequence, redaction_reach(r).unwrap_or(0)))
            .collect();
        let mut furthest = 0;
        for (_, reach) in reaches.iter_mut().rev() {
            furthest = furthest.max(*reach);
            *reach = furthest;
        }
        Self {
            keys,
            redactions: reaches,
            previous_hash: String::new(),
            checked: 0,
        }
    }

    /// The furthest sequence a redaction record after `sequence` reaches (0 for none).
    fn redacted_through(&self, sequence: i64) -> i64 {
        let after = self.redactions.partition_point(|(s, _)| *s <= sequence);
        self.redactions.get(after).map_or(0, |(_, reach)| *reach)
    }

    /// Checks the chain's next record; the failed verification at the first fault.
    fn next(&mut self, row: &Model) -> Option<AuditChainVerification> {
        let expected_sequence = self.checked as i64 + 1;
        let reason = if row.sequence != expected_sequence {
            Some(format!(
                "expected record {expected_sequence}, found {}",
                row.sequence
            ))
        } else if row.previous_hash != self.previous_hash {
            Some("does not link to the previous record".to_owned())
        } else if let Some(fault) = seal_fault(row, self.keys) {
            Some(fault)
        } else if payload_removed(row) && row.action == REDACT {
            Some("is a redaction record whose payload was removed".to_owned())
        } else if payload_removed(row) && self.redacted_through(row.sequence) < row.sequence {
            Some("payload was removed without a redaction record".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return Some(AuditChainVerification {
                valid: false,
                records_checked: self.checked + 1,
                first_invalid_sequence: row.sequence as u64,
                reason,
                ..Default::default()
            });
        }
        self.previous_hash = row.record_hash.clone();
        self.checked += 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verification of a whole chain held in memory.
    fn verify_chain(rows: &[Model], keys: &AuditKeys) -> AuditChainVerification {
        let redactions: Vec<Model> = rows
            .iter()
            .filter(|r| r.action == REDACT)
            .cloned()
            .collect();
        let mut check = ChainCheck::new(keys, &redactions);
        for row in rows {
            if let Some(invalid) = check.next(row) {
                return invalid;
            }
        }
        AuditChainVerification {
            valid: true,
            records_checked: check.checked,
            ..Default::default()
        }
    }

    fn chain(keys: &AuditKeys, actions: &[(&str, &str)]) -> Vec<Model> {
        let mut rows: Vec<Model> = Vec::new();
        for (i, (action, payload)) in actions.iter().enumerate() {
            let previous_hash = rows
                .last()
                .map(|r| r.record_hash.clone())
                .unwrap_or_default();
            let mut row = Model {
                id: i as i64 + 1,
                entity_type: "user".into(),
                entity_id: "u1".into(),
                sequence: i as i64 + 1,
                actor: "user:admin".into(),
                action: (*action).into(),
                occurred_at: DateTime::from_timestamp(1_700_000_000 + i as i64, 0)
                    .unwrap_or_default(),
                payload: Some((*payload).to_owned()),
                redacted: false,
                payload_hash: payload_hash(payload),
                previous_hash,
                record_hash: String::new(),
                key_id: keys.current().id().to_owned(),
                log_index: None,
            };
            row.record_hash = seal(keys.current(), &row);
            rows.push(row);
        }
        rows
    }

    fn updates(keys: &AuditKeys, n: usize) -> Vec<Model> {
        chain(keys, &vec![("update", "{\"a\":1}"); n])
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let keys = AuditKeys::random();
        let v = verify_chain(&updates(&keys, 3), &keys);
        assert!(v.valid, "{}", v.reason);
        assert_eq!(v.records_checked, 3);
    }

    #[test]
    fn edits_are_detected_where_they_happened() {
        let keys = AuditKeys::random();
        let mut rows = updates(&keys, 3);
        rows[1].payload = Some("{\"a\":20}".into());
        let v = verify_chain(&rows, &keys);
        assert!(!v.valid);
        assert_eq!(v.first_invalid_sequence, 2);

        let mut rows = updates(&keys, 2);
        rows[0].actor = "user:someone-else".into();
        assert_eq!(verify_chain(&rows, &keys).first_invalid_sequence, 1);

        let mut rows = updates(&keys, 3);
        rows.remove(1);
        assert_eq!(verify_chain(&rows, &keys).first_invalid_sequence, 3);
    }

    #[test]
    fn a_chain_resealed_without_the_key_is_detected() {
        let keys = AuditKeys::random();
        let forger = AuditKeys::random();
        let mut rows = updates(&keys, 2);
        rows[1].actor = "user:someone-else".into();
        rows[1].record_hash = seal(forger.current(), &rows[1]);
        let v = verify_chain(&rows, &keys);
        assert_eq!(v.first_invalid_sequence, 2);
        rows[1].key_id = forger.current().id().to_owned();
        assert!(
            verify_chain(&rows, &keys)
                .reason
                .contains("unknown audit key")
        );
    }

    #[test]
    fn a_redaction_record_keeps_the_chain_valid_and_a_forged_one_does_not() {
        let keys = AuditKeys::random();
        let mut rows = chain(
            &keys,
            &[
                ("create", "{\"name\":\"Anne\"}"),
                ("update", "{\"name\":\"Bo\"}"),
                (REDACT, "{\"reason\":\"anonymised\",\"through_sequence\":2}"),
                ("update", "{\"active\":false}"),
            ],
        );
        for row in &mut rows[..2] {
            row.payload = None;
            row.redacted = true;
        }
        let v = verify_chain(&rows, &keys);
        assert!(v.valid, "{}", v.reason);

        let mut beyond = rows.clone();
        beyond[3].payload = None;
        beyond[3].redacted = true;
        let v = verify_chain(&beyond, &keys);
        assert_eq!(v.first_invalid_sequence, 4);
        assert!(v.reason.contains("without a redaction record"));

        let mut unredacted = rows.clone();
        unredacted[2].payload = None;
        assert_eq!(verify_chain(&unredacted, &keys).first_invalid_sequence, 1);

        let mut forged = updates(&keys, 2);
        forged[0].payload = None;
        forged[0].redacted = true;
        assert_eq!(verify_chain(&forged, &keys).first_invalid_sequence, 1);
    }
}
