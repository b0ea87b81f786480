//! Versions of task templates: drafts and published versions with their history.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Versioned;
use sea_orm::Condition;

use crate::domain::TaskContent;

/// A template version as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "template_versions")]
pub struct Model {
    /// The template.
    #[sea_orm(primary_key, auto_increment = false)]
    pub template_id: String,
    /// Version number, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// Published (fixed) or a draft.
    pub published: bool,
    /// The content as JSON (`domain::TaskContent`).
    pub content: String,
    /// Version note.
    pub note: String,
    /// Publisher's initials.
    pub initials: String,
    /// Published.
    pub published_at: Option<DateTimeUtc>,
    /// Edit counter of a draft.
    pub revision: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The content.
    pub fn content(&self) -> Result<TaskContent, Error> {
        serde_json::from_str(&self.content).map_err(Error::internal)
    }
}

/// The stored form of content.
pub fn encode(content: &TaskContent) -> Result<String, Error> {
    serde_json::to_string(content).map_err(Error::internal)
}

/// Inserts a version.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// Every version of a template, oldest first.
pub async fn of_template(
    db: &impl ConnectionTrait,
    template_id: &str,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::TemplateId.eq(template_id))
        .order_by_asc(Column::Version)
        .all(db)
        .await?)
}

/// The newest published version of each template of `template_ids`.
pub async fn latest_published(
    db: &impl ConnectionTrait,
    template_ids: &[String],
) -> Result<Vec<Model>, Error> {
    let rows = Entity::find()
        .filter(Column::TemplateId.is_in(template_ids.iter().map(String::as_str)))
        .filter(Column::Published.eq(true))
        .order_by_asc(Column::TemplateId)
        .order_by_desc(Column::Version)
        .all(db)
        .await?;
    let mut latest: Vec<Model> = Vec::new();
    for row in rows {
        if latest
            .last()
            .is_none_or(|l| l.template_id != row.template_id)
        {
            latest.push(row);
        }
    }
    Ok(latest)
}

impl Versioned for Model {
    const NAME: &'static str = "draft";

    fn read_at(&self) -> Condition {
        Condition::all()
            .add(Column::TemplateId.eq(self.template_id.as_str()))
            .add(Column::Version.eq(self.version))
            .add(Column::Revision.eq(self.revision - 1))
            .add(Column::Published.eq(false))
    }
}
