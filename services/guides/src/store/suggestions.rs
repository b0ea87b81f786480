//! Suggestions made while a case was written: who asked, for which system and month, how many
//! sections were found, and what came of it (answered by a section, or a case filed anyway).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;

/// A suggestion as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suggestions")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who asked (the token's subject).
    pub subject: String,
    /// The system the case is about.
    pub system_id: String,
    /// The Copenhagen month, `YYYY-MM`.
    pub month: String,
    /// When.
    pub created_at: DateTimeUtc,
    /// Sections suggested.
    pub hit_count: i32,
    /// The section that answered it; empty until one did.
    pub answered_section_id: String,
    /// The first case filed citing it; empty until one was.
    pub filed_case_id: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a suggestion.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One suggestion.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Records the section that answered a suggestion, unless one already did; whether it was recorded.
pub async fn answer(txn: &impl ConnectionTrait, id: &str, section_id: &str) -> Result<bool, Error> {
    let done = Entity::update_many()
        .col_expr(Column::AnsweredSectionId, Expr::value(section_id))
        .filter(Column::Id.eq(id))
        .filter(Column::AnsweredSectionId.eq(""))
        .exec(txn)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Records the first case filed citing a suggestion.
pub async fn filed(txn: &impl ConnectionTrait, id: &str, case_id: &str) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::FiledCaseId, Expr::value(case_id))
        .filter(Column::Id.eq(id))
        .filter(Column::FiledCaseId.eq(""))
        .exec(txn)
        .await?;
    Ok(())
}

/// Suggestions that found sections, by system and month within `first..=last` (months `YYYY-MM`,
/// compared as text), counted in the database: (system, month, suggestions, answered, filed anyway).
pub async fn counts(
    db: &impl ConnectionTrait,
    first: &str,
    last: &str,
    system_id: Option<&str>,
) -> Result<Vec<(String, String, i64, i64, i64)>, Error> {
    let count_set = |column: &str| {
        Expr::cust(format!(
            "CAST(SUM(CASE WHEN {column} <> '' THEN 1 ELSE 0 END) AS BIGINT)"
        ))
    };
    let mut query = Entity::find()
        .select_only()
        .column(Column::SystemId)
        .column(Column::Month)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "suggestions")
        // Answered means no case was filed: a suggestion also cited by a filed case counts as filed.
        .column_as(
            Expr::cust(
                "CAST(SUM(CASE WHEN answered_section_id <> '' AND filed_case_id = '' \
                 THEN 1 ELSE 0 END) AS BIGINT)",
            ),
            "answered",
        )
        .column_as(count_set("filed_case_id"), "filed")
        .filter(Column::Month.gte(first))
        .filter(Column::Month.lte(last))
        .filter(Column::HitCount.gt(0))
        .group_by(Column::Month)
        .group_by(Column::SystemId)
        .order_by_asc(Column::Month)
        .order_by_asc(Column::SystemId);
    if let Some(system_id) = system_id {
        query = query.filter(Column::SystemId.eq(system_id));
    }
    Ok(query.into_tuple().all(db).await?)
}

/// Retention: removes up to `limit` suggestions made before `cutoff`, with the sections they
/// suggested; how many.
pub async fn purge(
    txn: &impl ConnectionTrait,
    cutoff: DateTimeUtc,
    limit: u64,
) -> Result<u64, Error> {
    let due = sea_orm::Condition::all().add(Column::CreatedAt.lt(cutoff));
    let ids: Vec<String> = kommune_platform::retention::due_ids::<Entity, _>(
        txn,
        Column::Id,
        Column::CreatedAt,
        due,
        limit,
    )
    .await?;
    kommune_platform::retention::delete_ids::<super::suggested_sections::Entity, _>(
        txn,
        super::suggested_sections::Column::SuggestionId,
        ids.clone(),
    )
    .await?;
    kommune_platform::retention::delete_ids::<Entity, _>(txn, Column::Id, ids).await
}
