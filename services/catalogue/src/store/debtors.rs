//! Municipalities' debtor numbers in the invoicing system.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// A debtor number as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "debtors")]
pub struct Model {
    /// The municipality.
    #[sea_orm(primary_key, auto_increment = false)]
    pub municipality_id: String,
    /// Its debtor number.
    pub debtor_number: String,
    /// Last set.
    pub updated_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Sets a municipality's debtor number, replacing the one it had.
pub async fn set(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Entity::insert(ActiveModel::from(model.clone()))
        .on_conflict(
            OnConflict::column(Column::MunicipalityId)
                .update_columns([Column::DebtorNumber, Column::UpdatedAt])
                .to_owned(),
        )
        .exec(txn)
        .await?;
    Ok(model)
}

/// The debtor numbers of the municipalities `ids`.
pub async fn of(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::MunicipalityId.is_in(ids))
        .all(db)
        .await?)
}

/// A page of debtor numbers by municipality.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_asc(Column::MunicipalityId)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::MunicipalityId.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |d| d.municipality_id.clone()))
}
