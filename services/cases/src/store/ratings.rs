//! Reporters' ratings of their cases, and the satisfaction counted from them.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ConnectionTrait, QuerySelect};

use kommune_platform::Error;

/// A rating as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_ratings")]
pub struct Model {
    /// The case (one rating each).
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: String,
    /// 1 to 5.
    pub rating: i32,
    /// The reporter's comment.
    pub comment: String,
    /// When it was given.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records a rating; ALREADY_EXISTS when the case was rated before.
pub async fn insert(db: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    ActiveModel::from(model).insert(db).await.map_err(|e| {
        kommune_platform::db::unique(e, "case_id", || "the case was rated already".into())
    })
}

/// What the ratings of a period are counted by: a column of the rated case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatedBy {
    /// The team that had it.
    Team,
    /// Its area.
    Area,
    /// Its municipality.
    Municipality,
}

impl RatedBy {
    /// What a grouping asked for counts by; none when unspecified.
    pub fn of(grouping: kommune_proto::cases::v1::SatisfactionGrouping) -> Option<Self> {
        use kommune_proto::cases::v1::SatisfactionGrouping;
        match grouping {
            SatisfactionGrouping::Team => Some(Self::Team),
            SatisfactionGrouping::Area => Some(Self::Area),
            SatisfactionGrouping::Municipality => Some(Self::Municipality),
            SatisfactionGrouping::Unspecified => None,
        }
    }
}

/// The ratings of one group: (group, how many, their sum, how many of each rating 1..=5).
pub type Counted = (String, i64, i64, [i64; 5]);

/// The ratings given in `from..until`, counted per group of the rated cases, in the database.
pub async fn counts(
    db: &impl ConnectionTrait,
    by: RatedBy,
    from: DateTimeUtc,
    until: DateTimeUtc,
) -> Result<Vec<Counted>, Error> {
    let (ratings, cases) = (Alias::new("case_ratings"), Alias::new("cases"));
    let group = Alias::new(match by {
        RatedBy::Team => "team_id",
        RatedBy::Area => "area_id",
        RatedBy::Municipality => "municipality_id",
    });
    let rating = || Expr::col((ratings.clone(), Alias::new("rating")));
    let mut select = Query::select();
    select
        .expr_as(
            Func::coalesce([Expr::col((cases.clone(), group.clone())), Expr::val("")]),
            Alias::new("group_id"),
        )
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("count"))
        .expr_as(Func::sum(rating()), Alias::new("total"));
    for score in 1..=5 {
        select.expr_as(
            Func::sum(Expr::case(rating().eq(score), 1).finally(0)),
            Alias::new(format!("rated_{score}")),
        );
    }
    select
        .from(ratings.clone())
        .inner_join(
            cases.clone(),
            Expr::col((cases.clone(), Alias::new("id")))
                .equals((ratings.clone(), Alias::new("case_id"))),
        )
        .and_where(Expr::col((ratings.clone(), Alias::new("created_at"))).gte(from))
        .and_where(Expr::col((ratings.clone(), Alias::new("created_at"))).lt(until))
        .add_group_by([Expr::col((cases, group))]);
    db.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            let mut by_rating = [0; 5];
            for (score, slot) in by_rating.iter_mut().enumerate() {
                *slot = row.try_get::<i64>("", &format!("rated_{}", score + 1))?;
            }
            Ok((
                row.try_get::<String>("", "group_id")?,
                row.try_get::<i64>("", "count")?,
                row.try_get::<i64>("", "total")?,
                by_rating,
            ))
        })
        .collect::<Result<_, DbErr>>()
        .map_err(Error::from)
}

/// Erasure: the comment of every rating of a case `reporter_user_id` reported becomes `erased` (a
/// rating is its reporter's); the cases whose rating comment was erased now.
pub async fn erase_comments_of(
    txn: &impl ConnectionTrait,
    reporter_user_id: &str,
    erased: &str,
) -> Result<Vec<String>, Error> {
    use super::cases;
    let reported = Query::select()
        .column(cases::Column::Id)
        .from(cases::Entity)
        .and_where(cases::Column::ReporterUserId.eq(reporter_user_id))
        .to_owned();
    let rated: Vec<String> = Entity::find()
        .select_only()
        .column(Column::CaseId)
        .filter(Column::CaseId.in_subquery(reported.clone()))
        .filter(Column::Comment.ne(""))
        .filter(Column::Comment.ne(erased))
        .into_tuple()
        .all(txn)
        .await?;
    if !rated.is_empty() {
        Entity::update_many()
            .col_expr(Column::Comment, Expr::value(erased))
            .filter(Column::CaseId.is_in(rated.clone()))
            .exec(txn)
            .await?;
    }
    Ok(rated)
}
