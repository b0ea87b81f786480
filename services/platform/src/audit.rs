//! The audit trail: every mutation recorded with who, when and what, chained per entity by hashes so
//! an edited record is detected. The chain covers a hash of the payload, not the payload, so erasure
//! can redact a payload without breaking the chain.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

use kommune_proto::common::v1::{AuditChainVerification, AuditRecord};

use crate::clock::to_timestamp;
use crate::error::Error;
use crate::error::Reason;
use crate::paging::Page;

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
        /// Whether the payload was redacted.
        pub redacted: bool,
        /// Hex SHA-256 of the payload as written.
        pub payload_hash: String,
        /// Hash of the previous record of the entity ("" for the first).
        pub previous_hash: String,
        /// Hash of this record.
        pub record_hash: String,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity, Model};

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

/// Appends a record to the entity's chain inside the caller's transaction. Two transactions appending
/// to the same entity at once collide on the chain position; the later fails with ABORTED.
pub async fn record(txn: &impl ConnectionTrait, entry: AuditEntry<'_>) -> Result<(), Error> {
    let last = Entity::find()
        .filter(Column::EntityType.eq(entry.entity_type))
        .filter(Column::EntityId.eq(entry.entity_id.as_str()))
        .order_by_desc(Column::Sequence)
        .limit(1)
        .one(txn)
        .await?;
    let (sequence, previous_hash) =
        last.map_or((1, String::new()), |r| (r.sequence + 1, r.record_hash));
    let payload = entry.payload.to_string();
    let payload_hash = payload_hash(&payload);
    let link = ChainLink {
        entity_type: entry.entity_type,
        entity_id: &entry.entity_id,
        sequence,
        actor: entry.actor,
        action: entry.action,
        occurred_at: entry.occurred_at,
        payload_hash: &payload_hash,
        previous_hash: &previous_hash,
    };
    let record_hash = link.hash();
    let inserted = ActiveModel {
        entity_type: Set(entry.entity_type.to_owned()),
        entity_id: Set(entry.entity_id.clone()),
        sequence: Set(sequence),
        actor: Set(entry.actor.to_owned()),
        action: Set(entry.action.to_owned()),
        occurred_at: Set(entry.occurred_at),
        payload: Set(Some(payload)),
        redacted: Set(false),
        payload_hash: Set(payload_hash),
        previous_hash: Set(previous_hash),
        record_hash: Set(record_hash),
        ..Default::default()
    }
    .insert(txn)
    .await;
    match inserted {
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

/// Removes the payloads of an entity's records (erasure); the chain still verifies.
pub async fn redact(
    txn: &impl ConnectionTrait,
    entity_type: &str,
    entity_id: &str,
) -> Result<u64, Error> {
    let result = Entity::update_many()
        .col_expr(
            Column::Payload,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(Column::Redacted, sea_orm::sea_query::Expr::value(true))
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.eq(entity_id))
        .exec(txn)
        .await?;
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
    let (rows, page) = page.finish(rows, |r| r.sequence.to_string());
    Ok((rows.into_iter().map(to_proto).collect(), page))
}

/// Verifies an entity's whole chain.
pub async fn verify(
    db: &impl ConnectionTrait,
    entity_type: &str,
    entity_id: &str,
) -> Result<AuditChainVerification, Error> {
    let rows = Entity::find()
        .filter(Column::EntityType.eq(entity_type))
        .filter(Column::EntityId.eq(entity_id))
        .order_by_asc(Column::Sequence)
        .all(db)
        .await?;
    Ok(verify_chain(&rows))
}

fn to_proto(row: Model) -> AuditRecord {
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
    }
}

/// Hex SHA-256 of a payload.
fn payload_hash(payload: &str) -> String {
    hex::encode(Sha256::digest(payload.as_bytes()))
}

/// The fields a record's hash covers.
struct ChainLink<'a> {
    entity_type: &'a str,
    entity_id: &'a str,
    sequence: i64,
    actor: &'a str,
    action: &'a str,
    occurred_at: DateTime<Utc>,
    payload_hash: &'a str,
    previous_hash: &'a str,
}

impl ChainLink<'_> {
    fn of(row: &Model) -> ChainLink<'_> {
        ChainLink {
            entity_type: &row.entity_type,
            entity_id: &row.entity_id,
            sequence: row.sequence,
            actor: &row.actor,
            action: &row.action,
            occurred_at: row.occurred_at,
            payload_hash: &row.payload_hash,
            previous_hash: &row.previous_hash,
        }
    }

    /// Each field is length-prefixed, so no two different records hash the same input.
    fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        let micros = self.occurred_at.timestamp_micros().to_string();
        let sequence = self.sequence.to_string();
        for field in [
            self.previous_hash,
            self.entity_type,
            self.entity_id,
            &sequence,
            self.actor,
            self.action,
            &micros,
            self.payload_hash,
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// Checks every record's payload hash (unless redacted), its own hash and its link to the previous one.
fn verify_chain(rows: &[Model]) -> AuditChainVerification {
    let mut previous_hash = "";
    for (index, row) in rows.iter().enumerate() {
        let expected_sequence = index as i64 + 1;
        let reason = if row.sequence != expected_sequence {
            Some(format!(
                "expected record {expected_sequence}, found {}",
                row.sequence
            ))
        } else if row.previous_hash != previous_hash {
            Some("does not link to the previous record".to_owned())
        } else if !row.redacted
            && row.payload.as_deref().map(payload_hash).as_deref()
                != Some(row.payload_hash.as_str())
        {
            Some("payload does not match its hash".to_owned())
        } else if ChainLink::of(row).hash() != row.record_hash {
            Some("record does not match its hash".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            return AuditChainVerification {
                valid: false,
                records_checked: index as u64 + 1,
                first_invalid_sequence: row.sequence as u64,
                reason,
            };
        }
        previous_hash = &row.record_hash;
    }
    AuditChainVerification {
        valid: true,
        records_checked: rows.len() as u64,
        first_invalid_sequence: 0,
        reason: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(payloads: &[&str]) -> Vec<Model> {
        let mut rows: Vec<Model> = Vec::new();
        for (i, payload) in payloads.iter().enumerate() {
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
                action: "update".into(),
                occurred_at: DateTime::from_timestamp(1_700_000_000 + i as i64, 0)
                    .unwrap_or_default(),
                payload: Some((*payload).to_owned()),
                redacted: false,
                payload_hash: payload_hash(payload),
                previous_hash,
                record_hash: String::new(),
            };
            row.record_hash = ChainLink::of(&row).hash();
            rows.push(row);
        }
        rows
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let v = verify_chain(&chain(&["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"]));
        assert!(v.valid);
        assert_eq!(v.records_checked, 3);
    }

    #[test]
    fn edits_are_detected_where_they_happened() {
        let mut rows = chain(&["{\"a\":1}", "{\"a\":2}", "{\"a\":3}"]);
        rows[1].payload = Some("{\"a\":20}".into());
        let v = verify_chain(&rows);
        assert!(!v.valid);
        assert_eq!(v.first_invalid_sequence, 2);

        let mut rows = chain(&["{}", "{}"]);
        rows[0].actor = "user:someone-else".into();
        assert_eq!(verify_chain(&rows).first_invalid_sequence, 1);

        let mut rows = chain(&["{}", "{}", "{}"]);
        rows.remove(1);
        assert_eq!(verify_chain(&rows).first_invalid_sequence, 3);
    }

    #[test]
    fn redaction_keeps_the_chain_valid() {
        let mut rows = chain(&["{\"name\":\"Anne\"}", "{\"name\":\"Bo\"}"]);
        for row in &mut rows {
            row.payload = None;
            row.redacted = true;
        }
        assert!(verify_chain(&rows).valid);
    }
}
