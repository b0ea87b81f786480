//! Each imported version of a guide: the file it came from and what the import made of it.

use sea_orm::ConnectionTrait;
use sea_orm::entity::prelude::*;

use kommune_platform::Error;

/// A guide version as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guide_versions")]
pub struct Model {
    /// The guide.
    #[sea_orm(primary_key, auto_increment = false)]
    pub guide_id: String,
    /// The version, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The file's name as uploaded.
    pub file_name: String,
    /// `docx` or `pdf`.
    pub file_format: String,
    /// Its size in bytes.
    pub file_size: i64,
    /// Its SHA-256, hex, as audited: which file a version came from.
    pub file_sha256: String,
    /// Sections imported.
    pub section_count: i32,
    /// The PDF's pages; 0 for DOCX.
    pub page_count: i32,
    /// Who imported it.
    pub imported_by: String,
    /// When.
    pub imported_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a version.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One version of a guide.
pub async fn find(
    db: &impl ConnectionTrait,
    guide_id: &str,
    version: i32,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id((guide_id.to_owned(), version))
        .one(db)
        .await?)
}

/// The current versions of `guide_ids` (one query for a page of guides).
pub async fn find_many(
    db: &impl ConnectionTrait,
    keys: impl IntoIterator<Item = (String, i32)>,
) -> Result<Vec<Model>, Error> {
    let mut any = sea_orm::Condition::any();
    let mut empty = true;
    for (guide_id, version) in keys {
        empty = false;
        any = any.add(
            sea_orm::Condition::all()
                .add(Column::GuideId.eq(guide_id))
                .add(Column::Version.eq(version)),
        );
    }
    if empty {
        return Ok(Vec::new());
    }
    Ok(Entity::find().filter(any).all(db).await?)
}
