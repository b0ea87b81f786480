//! Enrolments of municipalities in projects.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;

/// An enrolment as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrolments")]
pub struct Model {
    /// UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The project.
    pub project_id: String,
    /// The municipality.
    pub municipality_id: String,
    /// The chosen wave.
    pub wave_id: String,
    /// The municipality's project leader.
    pub project_leader_user_id: String,
    /// The municipality's debtor system.
    pub debtor_system: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Enrolled.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts an enrolment; a second one of the municipality in the project is ALREADY_EXISTS.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    ActiveModel::from(model).insert(txn).await.map_err(|e| {
        kommune_platform::db::unique(e, "municipality_id", || {
            "the municipality is already enrolled in the project".into()
        })
    })
}

/// A municipality's enrolment in a project.
pub async fn of_municipality(
    db: &impl ConnectionTrait,
    project_id: &str,
    municipality_id: &str,
) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::ProjectId.eq(project_id))
        .filter(Column::MunicipalityId.eq(municipality_id))
        .one(db)
        .await?)
}

/// Every enrolment of a project.
pub async fn of_project(db: &impl ConnectionTrait, project_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::ProjectId.eq(project_id))
        .all(db)
        .await?)
}

/// Every enrolment in a wave.
pub async fn of_wave(db: &impl ConnectionTrait, wave_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::WaveId.eq(wave_id))
        .all(db)
        .await?)
}

/// A page of a project's enrolments, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    project_id: &str,
    municipality_id: Option<&str>,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::ProjectId.eq(project_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(municipality_id) = municipality_id {
        query = query.filter(Column::MunicipalityId.eq(municipality_id));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |e| e.id.clone()))
}

/// One enrolment.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

impl Versioned for Model {
    const NAME: &'static str = "enrolment";
}

/// Every enrolment naming `user_id` as its project leader.
pub async fn led_by(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::ProjectLeaderUserId.eq(user_id))
        .all(db)
        .await?)
}
