//! The Ed25519 keys that sign access tokens. Every replica loads them from here, so all replicas sign
//! with the same newest key and publish every key.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// A signing key as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The key id (`kid`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    /// PKCS#8 DER of the private key.
    pub private_key: Vec<u8>,
    /// Raw 32-byte public key.
    pub public_key: Vec<u8>,
    /// Created.
    pub created_at: DateTimeUtc,
    /// When it stops being published: set when a newer key takes over, once every token it signed
    /// has expired.
    pub retire_after: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Every key still published at `now`, newest first.
pub async fn published(db: &impl ConnectionTrait, now: DateTimeUtc) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(Column::RetireAfter.is_null())
                .add(Column::RetireAfter.gt(now)),
        )
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::KeyId)
        .all(db)
        .await?)
}

/// Marks every key but `current` to retire after `retire_after` (keeping earlier retirements).
pub async fn retire_all_but(
    txn: &impl ConnectionTrait,
    current: &str,
    retire_after: DateTimeUtc,
) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(
            Column::RetireAfter,
            sea_orm::sea_query::Expr::value(retire_after),
        )
        .filter(Column::KeyId.ne(current))
        .filter(Column::RetireAfter.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// Stores a new key.
pub async fn insert(db: &impl ConnectionTrait, model: Model) -> Result<(), Error> {
    ActiveModel::from(model).insert(db).await?;
    Ok(())
}
