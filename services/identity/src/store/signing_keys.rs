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
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Every key, newest first.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::KeyId)
        .all(db)
        .await?)
}

/// Stores a new key.
pub async fn insert(db: &impl ConnectionTrait, model: Model) -> Result<(), Error> {
    ActiveModel::from(model).insert(db).await?;
    Ok(())
}
