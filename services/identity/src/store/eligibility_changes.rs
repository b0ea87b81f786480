//! Filed eligibility changes: who asked, when, what.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::paging::Page;
use kommune_proto::identity::v1::EligibilityChangeKind;

/// A change as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "eligibility_changes")]
pub struct Model {
    /// UUID (v7, so ids sort by filing).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `NEW`, `REPLACEMENT` or `STOP` (the proto enum's names).
    pub kind: Named<EligibilityChangeKind>,
    /// The municipality.
    pub municipality_id: String,
    /// Who filed it.
    pub requested_by: String,
    /// When.
    pub requested_at: DateTimeUtc,
    /// The registration created or stopped.
    pub registration_id: String,
    /// The registration a replacement ended.
    pub replaced_registration_id: Option<String>,
    /// First valid day (new, replacement) or last valid day (stop).
    pub effective_date: NaiveDate,
    /// Why.
    pub note: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a change.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One change.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of a municipality's changes, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    municipality_id: &str,
    page: &Page,
) -> Result<(Vec<Model>, kommune_proto::common::v1::PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::MunicipalityId.eq(municipality_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |c| c.id.clone()))
}
