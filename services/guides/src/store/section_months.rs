//! What happened to each section in each month, counted as it happens so the report sums a few rows
//! per section instead of every suggestion ever made.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;

/// A section's counts in one month as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "section_months")]
pub struct Model {
    /// The section.
    #[sea_orm(primary_key, auto_increment = false)]
    pub section_id: String,
    /// The Copenhagen month, `YYYY-MM`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    /// Its guide.
    pub guide_id: String,
    /// The guide's system.
    pub system_id: String,
    /// Times suggested.
    pub suggested: i64,
    /// Times it answered the question.
    pub answered: i64,
    /// Times a case filed anyway cited it.
    pub read_and_filed: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What to add to a section's month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// It was suggested.
    Suggested,
    /// It answered a question.
    Answered,
    /// A case filed anyway cited it.
    ReadAndFiled,
}

/// Adds one to a section's count in `month`.
pub async fn add(
    txn: &impl ConnectionTrait,
    section_id: &str,
    month: &str,
    guide_id: &str,
    system_id: &str,
    count: Count,
) -> Result<(), Error> {
    let one = |c: Count| i64::from(c == count);
    let column = match count {
        Count::Suggested => Column::Suggested,
        Count::Answered => Column::Answered,
        Count::ReadAndFiled => Column::ReadAndFiled,
    };
    let row = ActiveModel::from(Model {
        section_id: section_id.to_owned(),
        month: month.to_owned(),
        guide_id: guide_id.to_owned(),
        system_id: system_id.to_owned(),
        suggested: one(Count::Suggested),
        answered: one(Count::Answered),
        read_and_filed: one(Count::ReadAndFiled),
    });
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::SectionId, Column::Month])
                .value(
                    column,
                    Expr::col((Entity, column)).add(Expr::col((Alias::new("excluded"), column))),
                )
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// A section's sums over a period.
#[derive(Debug, Clone, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct Sums {
    /// The section.
    pub section_id: String,
    /// Its guide.
    pub guide_id: String,
    /// Times suggested.
    pub suggested: i64,
    /// Times it answered.
    pub answered: i64,
    /// Times read and filed anyway.
    pub read_and_filed: i64,
}

/// The sections' sums over `first..=last`, the most read-and-filed first, then the most suggested;
/// `limit` rows from `offset`, summed in the database.
pub async fn sums(
    db: &impl ConnectionTrait,
    first: &str,
    last: &str,
    system_id: Option<&str>,
    guide_id: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<Vec<Sums>, Error> {
    let sum = |column: &str| Expr::cust(format!("CAST(SUM({column}) AS BIGINT)"));
    let mut query = Entity::find()
        .select_only()
        .column(Column::SectionId)
        .column_as(Expr::cust("MIN(guide_id)"), "guide_id")
        .column_as(sum("suggested"), "suggested")
        .column_as(sum("answered"), "answered")
        .column_as(sum("read_and_filed"), "read_and_filed")
        .filter(Column::Month.gte(first))
        .filter(Column::Month.lte(last))
        .group_by(Column::SectionId)
        .order_by_desc(Expr::cust("CAST(SUM(read_and_filed) AS BIGINT)"))
        .order_by_desc(Expr::cust("CAST(SUM(suggested) AS BIGINT)"))
        .order_by_asc(Column::SectionId)
        .offset(offset)
        .limit(limit);
    if let Some(system_id) = system_id {
        query = query.filter(Column::SystemId.eq(system_id));
    }
    if let Some(guide_id) = guide_id {
        query = query.filter(Column::GuideId.eq(guide_id));
    }
    Ok(query.into_model::<Sums>().all(db).await?)
}
