//! Review comments on template drafts.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A comment as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_comments")]
pub struct Model {
    /// UUID (v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The template.
    pub template_id: String,
    /// The draft version.
    pub version: i32,
    /// Author's subject.
    pub author: String,
    /// The comment.
    pub text: String,
    /// Written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a comment.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// A page of a template's comments, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    template_id: &str,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::TemplateId.eq(template_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.id.clone()))
}

/// Who wrote each comment, the words and their template: what erasing an anonymised person's words
/// needs.
pub const AUTHORED: kommune_platform::db::AuthoredText<Entity> =
    kommune_platform::db::AuthoredText {
        what: "review comments",
        author: Column::Author,
        text: Column::Text,
        owner: Column::TemplateId,
    };
