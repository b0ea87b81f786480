//! The files guides were imported from, kept in chunks so a download streams without holding the
//! whole file.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;

/// How much of a file one row holds (and one download message carries).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// A chunk of a file as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guide_file_chunks")]
pub struct Model {
    /// The guide.
    #[sea_orm(primary_key, auto_increment = false)]
    pub guide_id: String,
    /// The version.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The chunk's place, from 0.
    #[sea_orm(primary_key, auto_increment = false)]
    pub chunk: i32,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Stores a version's file.
pub async fn insert(
    txn: &impl ConnectionTrait,
    guide_id: &str,
    version: i32,
    file: &[u8],
) -> Result<(), Error> {
    for (chunk, bytes) in file.chunks(CHUNK_SIZE).enumerate() {
        ActiveModel::from(Model {
            guide_id: guide_id.to_owned(),
            version,
            chunk: i32::try_from(chunk).map_err(Error::internal)?,
            bytes: bytes.to_vec(),
        })
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The chunk after `after` (or the first), one row read at a time.
pub async fn next(
    db: &impl ConnectionTrait,
    guide_id: &str,
    version: i32,
    after: Option<i32>,
) -> Result<Option<Model>, Error> {
    let mut query = Entity::find()
        .filter(Column::GuideId.eq(guide_id))
        .filter(Column::Version.eq(version))
        .order_by_asc(Column::Chunk);
    if let Some(after) = after {
        query = query.filter(Column::Chunk.gt(after));
    }
    Ok(query.one(db).await?)
}
