//! API keys (stored as hashes).

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Set};

use kommune_platform::Error;
use kommune_platform::paging::Page;

/// An API key as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// UUID (v7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The subject it authenticates.
    pub subject: String,
    /// SHA-256 of the key, unique.
    pub key_hash: String,
    /// The first characters of the key.
    pub prefix: String,
    /// What it is for.
    pub description: String,
    /// Created.
    pub created_at: DateTimeUtc,
    /// When it stops working.
    pub expires_at: Option<DateTimeUtc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Whether the key may be exchanged at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// Inserts a new key.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "api_key", || "this key is already registered".to_owned())
    })
}

/// The key with this hash.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    key_hash: &str,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::KeyHash.eq(key_hash))
        .one(db)
        .await?)
}

/// One key.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of a subject's keys, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    subject: &str,
    page: &Page,
) -> Result<(Vec<Model>, kommune_proto::common::v1::PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::Subject.eq(subject))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |k| k.id.clone()))
}

/// Marks a key revoked at `now` (keeping an earlier revocation).
pub async fn revoke(
    txn: &impl ConnectionTrait,
    key: Model,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut active = ActiveModel::from(key);
    active.revoked_at = Set(Some(now));
    Ok(active.update(txn).await?)
}

/// Revokes every valid key of `subject` at `now`; returns how many.
pub async fn revoke_all_of(
    txn: &impl ConnectionTrait,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let result = Entity::update_many()
        .col_expr(Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .filter(Column::Subject.eq(subject))
        .filter(Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    Ok(result.rows_affected)
}
