//! The sections cases cited when they were filed, as cases' feed tells: one row per case and section,
//! so a feed event delivered twice counts once.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, TryInsertResult};

use kommune_platform::Error;

/// A citation as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "citations")]
pub struct Model {
    /// The case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: String,
    /// The section.
    #[sea_orm(primary_key, auto_increment = false)]
    pub section_id: String,
    /// The suggestion the reporter read, if any.
    pub suggestion_id: String,
    /// The case's system.
    pub system_id: String,
    /// The Copenhagen month of the filing.
    pub month: String,
    /// When the case was filed.
    pub cited_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records a citation; false when it was recorded before.
pub async fn insert_once(txn: &impl ConnectionTrait, model: Model) -> Result<bool, Error> {
    let inserted = Entity::insert(ActiveModel::from(model))
        .on_conflict_do_nothing_on([Column::CaseId, Column::SectionId])
        .exec(txn)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(_)))
}
