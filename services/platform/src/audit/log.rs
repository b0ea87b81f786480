//! A service's audit log: every audit record, in the order the sequencer anchored it, as the leaves
//! of an append-only Merkle tree (RFC 6962) whose root is signed in periodic checkpoints — as
//! Certificate Transparency logs sign tree heads. Records are written unanchored in their own
//! transactions (no write waits for the log); [`checkpoint`] later gives the pending ones their log
//! positions, stores the perfect subtrees they complete (so proofs read O(log n) rows), and signs the
//! new root. An auditor who keeps a checkpoint can then demand a consistency proof from any later one:
//! a removed, edited or reordered record, or a log rebuilt with every hash recomputed, no longer
//! proves consistent with what they kept.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Set};

use kommune_proto::common::v1::{AuditCheckpoint, AuditLogEntry, PageResponse};

use super::entity as records;
use super::key::{AuditKeys, key_id, signature_holds};
use super::merkle::{self, Frontier, Hash, Subtree};
use crate::clock::to_timestamp;
use crate::error::Error;
use crate::paging::Page;

/// The most records one checkpoint anchors; a larger backlog is anchored by the rounds that follow.
pub const ANCHOR_BATCH: u64 = 5_000;

/// The stored perfect subtrees of the log.
pub mod node {
    use sea_orm::entity::prelude::*;

    /// The hash of the perfect subtree of `2^level` leaves from `node_index * 2^level`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_log_nodes")]
    pub struct Model {
        /// Height: 0 for a leaf.
        #[sea_orm(primary_key, auto_increment = false)]
        pub level: i32,
        /// Position among its level's subtrees.
        #[sea_orm(primary_key, auto_increment = false)]
        pub node_index: i64,
        /// Hex hash.
        pub hash: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The signed checkpoints of the log.
pub mod checkpoint {
    use sea_orm::entity::prelude::*;

    /// One signed checkpoint.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_checkpoints")]
    pub struct Model {
        /// How many records the log held.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tree_size: i64,
        /// Hex Merkle root.
        pub root_hash: String,
        /// When it was signed (whole microseconds).
        pub signed_at: DateTimeUtc,
        /// The signing key's id.
        pub key_id: String,
        /// Hex Ed25519 public key.
        pub public_key: String,
        /// Hex Ed25519 signature over the note.
        pub signature: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The text a checkpoint's signature covers: one field per line, so any verifier can rebuild it.
pub fn note(service: &str, tree_size: u64, root_hash: &str, signed_at: DateTime<Utc>) -> String {
    format!(
        "kommune audit checkpoint v1\nservice {service}\ntree_size {tree_size}\nroot_hash {root_hash}\nsigned_at {}\n",
        signed_at.to_rfc3339_opts(SecondsFormat::Micros, true)
    )
}

/// A checkpoint as the contracts show it.
pub fn to_proto(service: &str, row: &checkpoint::Model) -> AuditCheckpoint {
    AuditCheckpoint {
        service: service.to_owned(),
        tree_size: row.tree_size as u64,
        root_hash: row.root_hash.clone(),
        signed_at: Some(to_timestamp(row.signed_at)),
        key_id: row.key_id.clone(),
        public_key: hex::decode(&row.public_key).unwrap_or_default(),
        signature: hex::decode(&row.signature).unwrap_or_default(),
        note: note(service, row.tree_size as u64, &row.root_hash, row.signed_at),
    }
}

/// Why a checkpoint does not hold, when it does not: it must be signed by one of the service's own
/// keys, and the signature must cover its fields.
pub fn checkpoint_fault(
    service: &str,
    keys: &AuditKeys,
    row: &checkpoint::Model,
) -> Option<String> {
    let public_key = hex::decode(&row.public_key).unwrap_or_default();
    let known = keys.by_id(&row.key_id).is_some_and(|key| {
        key.public_key().as_slice() == public_key && key_id(&public_key) == row.key_id
    });
    if !known {
        return Some(format!(
            "checkpoint {} is signed with an unknown key {}",
            row.tree_size, row.key_id
        ));
    }
    let signature = hex::decode(&row.signature).unwrap_or_default();
    let note = note(service, row.tree_size as u64, &row.root_hash, row.signed_at);
    (!signature_holds(&public_key, &note, &signature))
        .then(|| format!("checkpoint {} has no valid signature", row.tree_size))
}

/// The latest checkpoint, if any.
pub async fn latest(db: &impl ConnectionTrait) -> Result<Option<checkpoint::Model>, Error> {
    Ok(checkpoint::Entity::find()
        .order_by_desc(checkpoint::Column::TreeSize)
        .limit(1)
        .one(db)
        .await?)
}

/// The checkpoint at `tree_size`.
pub async fn at(
    db: &impl ConnectionTrait,
    tree_size: u64,
) -> Result<Option<checkpoint::Model>, Error> {
    Ok(checkpoint::Entity::find_by_id(tree_size as i64)
        .one(db)
        .await?)
}

/// Anchors up to [`ANCHOR_BATCH`] pending records in the log and signs a checkpoint over it, in one
/// transaction (replicas take turns: an advisory lock on PostgreSQL, SQLite's one writer). Returns
/// the new checkpoint, or `None` when nothing was pending.
pub async fn checkpoint(
    db: &DatabaseConnection,
    keys: &AuditKeys,
    service: &str,
    now: DateTime<Utc>,
) -> Result<Option<checkpoint::Model>, Error> {
    let txn = crate::db::begin(db).await?;
    crate::db::advisory_lock(&txn, "kommune audit log").await?;
    let previous = latest(&txn).await?;
    let size = previous.as_ref().map_or(0, |c| c.tree_size as u64);
    let mut frontier = frontier(&txn, size).await?;
    // Never extend a log that no longer matches what was signed: signing over tampering would make it
    // look like history.
    if let Some(previous) = &previous {
        if let Some(fault) = checkpoint_fault(service, keys, previous) {
            return Err(Error::internal(format!(
                "the audit log is not signed over: {fault}"
            )));
        }
        if hex::encode(frontier.root()) != previous.root_hash {
            return Err(Error::internal(format!(
                "the audit log's stored tree no longer gives checkpoint {}'s root",
                previous.tree_size
            )));
        }
    }
    let pending: Vec<(i64, String)> = records::Entity::find()
        .select_only()
        .column(records::Column::Id)
        .column(records::Column::RecordHash)
        .filter(records::Column::LogIndex.is_null())
        .order_by_asc(records::Column::Id)
        .limit(ANCHOR_BATCH)
        .into_tuple()
        .all(&txn)
        .await?;
    if pending.is_empty() {
        txn.rollback().await?;
        return Ok(None);
    }
    let mut completed = Vec::with_capacity(pending.len() * 2);
    for (id, record_hash) in &pending {
        records::Entity::update_many()
            .col_expr(
                records::Column::LogIndex,
                sea_orm::sea_query::Expr::value(frontier.size() as i64),
            )
            .filter(records::Column::Id.eq(*id))
            .exec(&txn)
            .await?;
        completed.extend(frontier.push(leaf_of(record_hash)));
    }
    for chunk in completed.chunks(500) {
        node::Entity::insert_many(chunk.iter().map(|(subtree, hash)| node::ActiveModel {
            level: Set(subtree.level as i32),
            node_index: Set(subtree.index as i64),
            hash: Set(hex::encode(hash)),
        }))
        .exec(&txn)
        .await?;
    }
    let key = keys.current();
    let signed_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let root_hash = hex::encode(frontier.root());
    let tree_size = frontier.size();
    let signature = key.sign(&note(service, tree_size, &root_hash, signed_at));
    let row = checkpoint::ActiveModel {
        tree_size: Set(tree_size as i64),
        root_hash: Set(root_hash),
        signed_at: Set(signed_at),
        key_id: Set(key.id().to_owned()),
        public_key: Set(hex::encode(key.public_key())),
        signature: Set(hex::encode(signature)),
    }
    .insert(&txn)
    .await?;
    if crate::service::ServiceRole::parse(service).is_some_and(|role| role.has_event_feed()) {
        crate::outbox::publish(&txn, now, tree_size.to_string(), &to_proto(service, &row)).await?;
    }
    txn.commit().await?;
    Ok(Some(row))
}

/// The log's leaf for a record: SHA-256(0x00 ‖ the record hash's bytes).
pub fn leaf_of(record_hash: &str) -> Hash {
    merkle::leaf_hash(&hex::decode(record_hash).unwrap_or_else(|_| record_hash.as_bytes().to_vec()))
}

/// The frontier of the log's first `size` records, from the stored subtrees.
async fn frontier(db: &impl ConnectionTrait, size: u64) -> Result<Frontier, Error> {
    let wanted = merkle::frontier_of(size);
    let mut found = subtrees(db, &wanted).await?;
    let hashes = wanted
        .iter()
        .map(|subtree| found.remove(subtree))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            Error::internal("the audit log is missing a subtree of its last checkpoint")
        })?;
    Frontier::new(size, hashes).ok_or_else(|| Error::internal("audit log frontier"))
}

/// The stored hashes of `wanted` (those missing are left out).
pub async fn subtrees(
    db: &impl ConnectionTrait,
    wanted: &[Subtree],
) -> Result<HashMap<Subtree, Hash>, Error> {
    let mut found = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(100) {
        let mut any = sea_orm::Condition::any();
        for subtree in chunk {
            any = any.add(
                sea_orm::Condition::all()
                    .add(node::Column::Level.eq(subtree.level as i32))
                    .add(node::Column::NodeIndex.eq(subtree.index as i64)),
            );
        }
        for row in node::Entity::find().filter(any).all(db).await? {
            if let Ok(hash) = <Hash>::try_from(hex::decode(&row.hash).unwrap_or_default()) {
                let subtree = Subtree {
                    level: row.level as u32,
                    index: row.node_index as u64,
                };
                found.insert(subtree, hash);
            }
        }
    }
    Ok(found)
}

/// Runs `prove` over the stored subtrees it needs.
async fn prove(
    db: &impl ConnectionTrait,
    prove: impl Fn(&mut dyn merkle::Subtrees) -> Vec<Hash>,
) -> Result<Vec<Hash>, Error> {
    let wanted = merkle::needed(&prove);
    let mut found = subtrees(db, &wanted).await?;
    if found.len() != wanted.len() {
        return Err(Error::internal(
            "the audit log is missing subtrees a proof needs",
        ));
    }
    Ok(prove(&mut found))
}

/// The consistency proof between two sizes; `second` must be a checkpoint's size.
pub async fn consistency_proof(
    db: &impl ConnectionTrait,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, Error> {
    if first == 0 {
        return Err(Error::invalid("first_tree_size", "must be at least 1"));
    }
    if first > second {
        return Err(Error::invalid(
            "second_tree_size",
            "must be at least first_tree_size",
        ));
    }
    if at(db, second).await?.is_none() {
        return Err(Error::not_found_field(
            "audit checkpoint",
            second.to_string(),
            "second_tree_size",
        ));
    }
    prove(db, |s| merkle::consistency_proof(first, second, s)).await
}

/// The inclusion proof of the record at `index` in the log of `size` records (a checkpoint's size).
pub async fn inclusion_proof(
    db: &impl ConnectionTrait,
    index: u64,
    size: u64,
) -> Result<(AuditLogEntry, Vec<Hash>), Error> {
    if index >= size {
        return Err(Error::invalid("log_index", "must be below tree_size"));
    }
    if at(db, size).await?.is_none() {
        return Err(Error::not_found_field(
            "audit checkpoint",
            size.to_string(),
            "tree_size",
        ));
    }
    let record = records::Entity::find()
        .filter(records::Column::LogIndex.eq(index as i64))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found_field("audit log entry", index.to_string(), "log_index"))?;
    let proof = prove(db, |s| merkle::inclusion_proof(index, size, s)).await?;
    // Public: the position and hash only; what the record is about is for those who may read it.
    let entry = AuditLogEntry {
        log_index: index,
        record_hash: record.record_hash,
        ..Default::default()
    };
    Ok((entry, proof))
}

fn entry_of(record: &records::Model) -> AuditLogEntry {
    AuditLogEntry {
        log_index: record.log_index.unwrap_or_default() as u64,
        entity_type: record.entity_type.clone(),
        entity_id: record.entity_id.clone(),
        sequence: record.sequence as u64,
        record_hash: record.record_hash.clone(),
    }
}

/// A page of the log's entries from `first_index`, in log order.
pub async fn entries(
    db: &impl ConnectionTrait,
    first_index: u64,
    page: &Page,
) -> Result<(Vec<AuditLogEntry>, PageResponse), Error> {
    let from = match &page.after {
        Some(after) => after
            .parse::<u64>()
            .ok()
            .and_then(|after| after.checked_add(1))
            .ok_or_else(|| Error::invalid("page.page_token", "is not a token from this list"))?,
        None => first_index,
    };
    let rows = records::Entity::find()
        .filter(records::Column::LogIndex.gte(i64::try_from(from).unwrap_or(i64::MAX)))
        .order_by_asc(records::Column::LogIndex)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    let (rows, page) = page.finish(rows, |r| r.log_index.unwrap_or_default().to_string());
    Ok((rows.iter().map(entry_of).collect(), page))
}

/// What the records of the log do not account for, counted in one pass: how many of the first
/// `size` log positions hold no record (anchored records someone removed), and how many records claim
/// a position no checkpoint of size `size` has (the sequencer gives positions and signs in one
/// transaction, so these mean checkpoints were removed, or positions were forged).
pub async fn unaccounted(db: &impl ConnectionTrait, size: u64) -> Result<(u64, u64), Error> {
    use sea_orm::sea_query::{Alias, CaseStatement, Expr, ExprTrait, Func, Query};
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let position = || Expr::col(records::Column::LogIndex);
    let tally = |counted: sea_orm::sea_query::SimpleExpr| {
        Func::sum(
            CaseStatement::new()
                .case(counted, Expr::val(1i32))
                .finally(Expr::val(0i32)),
        )
    };
    let select = Query::select()
        .expr_as(
            tally(position().gte(0i64).and(position().lt(size))),
            Alias::new("present"),
        )
        .expr_as(
            tally(position().gte(size).or(position().lt(0i64))),
            Alias::new("stray"),
        )
        .from(records::Entity)
        .to_owned();
    let row = db
        .query_one(&select)
        .await?
        .ok_or_else(|| Error::internal("a count without a row"))?;
    // SUM of no rows is NULL; summing 32-bit ones gives a 64-bit integer on PostgreSQL too.
    let present: i64 = row
        .try_get::<Option<i64>>("", "present")?
        .unwrap_or_default();
    let stray: i64 = row.try_get::<Option<i64>>("", "stray")?.unwrap_or_default();
    Ok((
        u64::try_from(size - present).unwrap_or_default(),
        u64::try_from(stray).unwrap_or_default(),
    ))
}

/// Verifies the whole log against the latest checkpoint, reading it in pages (memory stays flat):
/// every position up to the checkpoint's size holds a record, each record is sealed by a known key
/// and keeps its payload unless a chained redaction removed it, and the records rebuild the signed
/// root.
pub async fn verify(
    db: &impl ConnectionTrait,
    keys: &AuditKeys,
    service: &str,
) -> Result<kommune_proto::common::v1::AuditLogVerification, Error> {
    use kommune_proto::common::v1::AuditLogVerification;
    const PAGE: u64 = 1_000;
    let pending = records::Entity::find()
        .filter(records::Column::LogIndex.is_null())
        .count(db)
        .await?;
    let Some(checkpoint) = latest(db).await? else {
        return Ok(AuditLogVerification {
            valid: true,
            records_pending: pending,
            ..Default::default()
        });
    };
    let size = checkpoint.tree_size as u64;
    let fault = |index: u64, reason: String, checked: u64| AuditLogVerification {
        valid: false,
        records_checked: checked,
        reason,
        first_invalid_index: index,
        checkpoint: Some(to_proto(service, &checkpoint)),
        records_pending: pending,
    };
    if let Some(reason) = checkpoint_fault(service, keys, &checkpoint) {
        return Ok(fault(0, reason, 0));
    }
    let (_, stray) = unaccounted(db, size).await?;
    if stray > 0 {
        let reason = format!(
            "{stray} records claim log positions no checkpoint covers: checkpoints were removed"
        );
        return Ok(fault(size, reason, 0));
    }
    let mut frontier = Frontier::default();
    loop {
        let next = frontier.size();
        let rows = records::Entity::find()
            .filter(records::Column::LogIndex.gte(next as i64))
            .filter(records::Column::LogIndex.lt(size as i64))
            .order_by_asc(records::Column::LogIndex)
            .limit(PAGE)
            .all(db)
            .await?;
        for row in &rows {
            let index = frontier.size();
            if row.log_index != Some(index as i64) {
                return Ok(fault(
                    index,
                    format!("the record at log position {index} is missing"),
                    index,
                ));
            }
            if let Some(reason) = super::seal_fault(row, keys) {
                return Ok(fault(
                    index,
                    format!(
                        "{} {} record {}: {reason}",
                        row.entity_type, row.entity_id, row.sequence
                    ),
                    index,
                ));
            }
            if super::payload_removed(row) && !super::redaction_covers(db, keys, row).await? {
                return Ok(fault(
                    index,
                    format!(
                        "{} {} record {}: its payload was removed without a redaction record",
                        row.entity_type, row.entity_id, row.sequence
                    ),
                    index,
                ));
            }
            frontier.push(leaf_of(&row.record_hash));
        }
        if (rows.len() as u64) < PAGE {
            break;
        }
    }
    let checked = frontier.size();
    if checked != size {
        return Ok(fault(
            checked,
            format!("the record at log position {checked} is missing"),
            checked,
        ));
    }
    if hex::encode(frontier.root()) != checkpoint.root_hash {
        return Ok(fault(
            0,
            "the records do not rebuild the checkpoint's signed root".to_owned(),
            checked,
        ));
    }
    Ok(AuditLogVerification {
        valid: true,
        records_checked: checked,
        reason: String::new(),
        first_invalid_index: 0,
        checkpoint: Some(to_proto(service, &checkpoint)),
        records_pending: pending,
    })
}
