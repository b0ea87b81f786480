//! Comments on cases.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::CommentVisibility;
use kommune_proto::common::v1::PageResponse;

/// A comment as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    /// UUID (v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The case.
    pub case_id: String,
    /// Author's subject.
    pub author: String,
    /// Text.
    pub text: String,
    /// Visibility (proto name).
    pub visibility: Named<CommentVisibility>,
    /// Written.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The stored name of public visibility.
pub const PUBLIC: &str = "COMMENT_VISIBILITY_PUBLIC";

/// Inserts a comment.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// A page of a case's comments, oldest first, optionally public ones only.
pub async fn list(
    db: &impl ConnectionTrait,
    case_id: &str,
    public_only: bool,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::CaseId.eq(case_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if public_only {
        query = query.filter(Column::Visibility.eq(PUBLIC));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.id.clone()))
}

/// Who wrote each comment, the words and their case: what erasing an anonymised person's words needs.
pub const AUTHORED: kommune_platform::db::AuthoredText<Entity> =
    kommune_platform::db::AuthoredText {
        what: "comments",
        author: Column::Author,
        text: Column::Text,
        owner: Column::CaseId,
    };
