//! Files attached to cases, stored in the database so SQLite and PostgreSQL deployments work alike.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;

/// An attachment as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    /// UUID (v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The case.
    pub case_id: String,
    /// File name.
    pub file_name: String,
    /// Content type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// The content.
    pub content: Vec<u8>,
    /// Who attached it.
    pub uploaded_by: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts an attachment.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One attachment with its content.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A case's attachments, oldest first, without their content.
pub async fn of_case(db: &impl ConnectionTrait, case_id: &str) -> Result<Vec<Model>, Error> {
    let rows: Vec<(String, String, String, String, i64, String, DateTimeUtc)> = Entity::find()
        .select_only()
        .columns([
            Column::Id,
            Column::CaseId,
            Column::FileName,
            Column::ContentType,
            Column::SizeBytes,
            Column::UploadedBy,
            Column::CreatedAt,
        ])
        .filter(Column::CaseId.eq(case_id))
        .order_by_asc(Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, case_id, file_name, content_type, size_bytes, uploaded_by, created_at)| Model {
                id,
                case_id,
                file_name,
                content_type,
                size_bytes,
                content: Vec::new(),
                uploaded_by,
                created_at,
            },
        )
        .collect())
}

/// Retention: removes up to `limit` attachments of cases resolved before `cutoff`; how many.
pub async fn purge_of_resolved(
    txn: &impl ConnectionTrait,
    cutoff: DateTimeUtc,
    limit: u64,
) -> Result<u64, Error> {
    let resolved = sea_orm::sea_query::Query::select()
        .column(super::cases::Column::Id)
        .from(super::cases::Entity)
        .and_where(super::cases::Column::ResolvedAt.lt(cutoff))
        .to_owned();
    let due = sea_orm::Condition::all().add(Column::CaseId.in_subquery(resolved));
    let ids: Vec<String> =
        kommune_platform::retention::due_ids::<Entity, _>(txn, Column::Id, Column::Id, due, limit)
            .await?;
    kommune_platform::retention::delete_ids::<Entity, _>(txn, Column::Id, ids).await
}
