//! Idempotency keys for creates: a retry with the same key creates nothing and answers what the first
//! call created, as it is now; a reuse of the key with other parameters fails; the key is stored in the
//! same transaction as the change.

use chrono::{DateTime, Utc};
use prost::Message;
use sea_orm::entity::prelude::*;
use sea_orm::{DatabaseConnection, Set};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::{Error, FieldViolation, Reason};

/// Rows of stored idempotency keys.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// A key and what it created.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// The caller and RPC the key belongs to.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        /// The client's key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// Hash of the request (without the key).
        pub request_hash: String,
        /// Id of the entity the request created.
        pub entity_id: String,
        /// When the key was first used.
        pub created_at: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 128;

/// An idempotency key in its scope (caller and RPC), with the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    scope: String,
    key: String,
    request_hash: String,
}

impl IdempotencyKey {
    /// The key of a request, if it has one. `request` is the request with its key field cleared, so a
    /// retry is recognised by its parameters.
    /// The key of something that arrives from outside with an id of its own (a mail's Message-ID),
    /// handled once in `scope`: the id hashed, so any length fits; every arrival is the same request.
    pub fn external(scope: &str, id: &str) -> Self {
        Self {
            scope: scope.to_owned(),
            key: hex::encode(Sha256::digest(id.as_bytes())),
            request_hash: String::new(),
        }
    }

    pub fn of(
        caller: &Caller,
        rpc: &str,
        key: &str,
        request: &impl Message,
    ) -> Result<Option<Self>, Error> {
        if key.is_empty() {
            return Ok(None);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::invalid(
                "idempotency_key",
                format!("must be at most {MAX_KEY_LEN} bytes"),
            ));
        }
        Ok(Some(Self {
            scope: format!("{}|{rpc}", caller.subject),
            key: key.to_owned(),
            request_hash: hex::encode(Sha256::digest(request.encode_to_vec())),
        }))
    }
}

/// What an idempotent create produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<T> {
    /// The create ran now.
    New(T),
    /// The key was used before with the same request; this is the id of the entity it created.
    Replayed(String),
}

impl<T> Created<T> {
    /// What a create answers: what it made now, or, for a replay, the entity the key made first as it
    /// is now (loaded by `current` from its id). Only ids are stored, so a replay cannot return the
    /// first answer itself, and the current state is what a retrying client needs anyway.
    pub async fn or_current(
        self,
        current: impl AsyncFnOnce(String) -> Result<T, Error>,
    ) -> Result<T, Error> {
        match self {
            Created::New(created) => Ok(created),
            Created::Replayed(id) => current(id).await,
        }
    }
}

/// Runs `op` in one transaction and stores the id of what it created under `key`, in the same
/// transaction. When the key was used before with the same request, `op` does not run and the stored
/// id is returned. Only ids are stored, so no secret or personal data outlives its entity here.
pub async fn run<T>(
    db: &DatabaseConnection,
    key: Option<IdempotencyKey>,
    now: DateTime<Utc>,
    id_of: impl Fn(&T) -> String,
    op: impl AsyncFnOnce(&crate::db::Txn) -> Result<T, Error>,
) -> Result<Created<T>, Error> {
    let Some(key) = key else {
        let txn = crate::db::begin(db).await?;
        let created = op(&txn).await?;
        txn.commit().await?;
        return Ok(Created::New(created));
    };
    if let Some(id) = stored_entity(db, &key).await? {
        return Ok(Created::Replayed(id));
    }
    let txn = crate::db::begin(db).await?;
    let result = async {
        let created = op(&txn).await?;
        entity::ActiveModel {
            scope: Set(key.scope.clone()),
            key: Set(key.key.clone()),
            request_hash: Set(key.request_hash.clone()),
            entity_id: Set(id_of(&created)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        Ok::<_, Error>(created)
    }
    .await;
    match result {
        Ok(created) => {
            txn.commit().await?;
            Ok(Created::New(created))
        }
        // A concurrent request with the same key may have won; what it created is the answer. The
        // rollback returns once writers before this one are committed, so it is seen.
        Err(err) => {
            txn.rollback().await?;
            stored_entity(db, &key)
                .await?
                .map(Created::Replayed)
                .ok_or(err)
        }
    }
}

/// Whether `key` was used before: what it keyed was done (and committed).
pub async fn seen(db: &DatabaseConnection, key: &IdempotencyKey) -> Result<bool, Error> {
    Ok(stored_entity(db, key).await?.is_some())
}

/// The id of what `key` created before, if it was used: a retry answers with it before checking
/// anything that may have changed since (an item withdrawn after it was ordered).
pub async fn earlier(
    db: &DatabaseConnection,
    key: Option<&IdempotencyKey>,
) -> Result<Option<String>, Error> {
    match key {
        Some(key) => stored_entity(db, key).await,
        None => Ok(None),
    }
}

async fn stored_entity(
    db: &DatabaseConnection,
    key: &IdempotencyKey,
) -> Result<Option<String>, Error> {
    let Some(stored) = entity::Entity::find_by_id((key.scope.clone(), key.key.clone()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if stored.request_hash != key.request_hash {
        return Err(Error::InvalidArgument(vec![FieldViolation::because(
            Reason::IdempotencyKeyReused,
            "idempotency_key",
            "was already used with different parameters; use a new key for a new request",
        )]));
    }
    Ok(Some(stored.entity_id))
}

/// Retention: removes up to `limit` keys first used before `cutoff`; how many.
pub async fn purge(
    txn: &impl sea_orm::ConnectionTrait,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<u64, Error> {
    use entity::{Column, Entity};
    use sea_orm::{QueryOrder, QuerySelect};
    let due: Vec<(String, String)> = Entity::find()
        .select_only()
        .column(Column::Scope)
        .column(Column::Key)
        .filter(Column::CreatedAt.lt(cutoff))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .into_tuple()
        .all(txn)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut keys = sea_orm::Condition::any();
    for (scope, key) in due {
        keys = keys.add(
            sea_orm::Condition::all()
                .add(Column::Scope.eq(scope))
                .add(Column::Key.eq(key)),
        );
    }
    Ok(Entity::delete_many()
        .filter(keys)
        .exec(txn)
        .await?
        .rows_affected)
}
