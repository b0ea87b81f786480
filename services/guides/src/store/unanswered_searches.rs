//! Searches that found nothing, with their words: the sections the guides lack.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;

/// A search that found nothing, as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unanswered_searches")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The words, normalised (checked free of personal ID numbers).
    pub query: String,
    /// The system searched; empty for all.
    pub system_id: String,
    /// The Copenhagen month, `YYYY-MM`.
    pub month: String,
    /// When.
    pub at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records a search that found nothing.
pub async fn insert(db: &impl ConnectionTrait, model: Model) -> Result<(), Error> {
    ActiveModel::from(model).insert(db).await?;
    Ok(())
}

/// Searches by words, system and month within `first..=last`, the most frequent first, counted in the
/// database: (query, system, month, count); `limit` rows from `offset`.
pub async fn counts(
    db: &impl ConnectionTrait,
    first: &str,
    last: &str,
    system_id: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<Vec<(String, String, String, i64)>, Error> {
    let mut query = Entity::find()
        .select_only()
        .column(Column::Query)
        .column(Column::SystemId)
        .column(Column::Month)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "count")
        .filter(Column::Month.gte(first))
        .filter(Column::Month.lte(last))
        .group_by(Column::Query)
        .group_by(Column::SystemId)
        .group_by(Column::Month)
        .order_by_desc(Expr::cust("CAST(COUNT(*) AS BIGINT)"))
        .order_by_asc(Column::Month)
        .order_by_asc(Column::Query)
        .order_by_asc(Column::SystemId)
        .offset(offset)
        .limit(limit);
    if let Some(system_id) = system_id {
        query = query.filter(Column::SystemId.eq(system_id));
    }
    Ok(query.into_tuple().all(db).await?)
}

/// Retention: removes up to `limit` searches made before `cutoff`; how many.
pub async fn purge(
    txn: &impl ConnectionTrait,
    cutoff: DateTimeUtc,
    limit: u64,
) -> Result<u64, Error> {
    let due = sea_orm::Condition::all().add(Column::At.lt(cutoff));
    let ids: Vec<String> =
        kommune_platform::retention::due_ids::<Entity, _>(txn, Column::Id, Column::At, due, limit)
            .await?;
    kommune_platform::retention::delete_ids::<Entity, _>(txn, Column::Id, ids).await
}
