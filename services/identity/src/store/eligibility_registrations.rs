//! Support-eligibility registrations.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;

use crate::domain::eligibility::Period;

/// A registration as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility_registrations")]
pub struct Model {
    /// UUID (v7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The eligible user.
    pub user_id: String,
    /// The municipality.
    pub municipality_id: String,
    /// First valid day.
    pub valid_from: NaiveDate,
    /// Last valid day; `None` until further notice.
    pub valid_to: Option<NaiveDate>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The days it is valid.
    pub fn period(&self) -> Period {
        Period {
            first: self.valid_from,
            last: self.valid_to,
        }
    }
}

/// Inserts a registration.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One registration.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every registration of a user.
pub async fn of_user(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::ValidFrom)
        .all(db)
        .await?)
}

/// The valid days of every registration of a municipality.
pub async fn periods_of_municipality(
    db: &impl ConnectionTrait,
    municipality_id: &str,
) -> Result<Vec<Period>, Error> {
    let rows = Entity::find()
        .filter(Column::MunicipalityId.eq(municipality_id))
        .all(db)
        .await?;
    Ok(rows.iter().map(Model::period).collect())
}

/// Every registration, for the billing report.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .order_by_asc(Column::MunicipalityId)
        .all(db)
        .await?)
}

/// A page of a municipality's registrations (optionally one user's), oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    municipality_id: &str,
    user_id: Option<&str>,
    page: &Page,
) -> Result<(Vec<Model>, kommune_proto::common::v1::PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::MunicipalityId.eq(municipality_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(user_id) = user_id {
        query = query.filter(Column::UserId.eq(user_id));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |r| r.id.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "registration";
}
