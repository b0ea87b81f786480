//! Municipalities' tasks.

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::klik::v1::{Phase, Priority, TaskStatus, Theme};

use crate::domain::{Dates, Schedule};

/// A task as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    /// UUID (v7, so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The project.
    pub project_id: String,
    /// The template.
    pub template_id: String,
    /// The template version published from.
    pub template_version: i32,
    /// The municipality.
    pub municipality_id: String,
    /// Title.
    pub title: String,
    /// Theme (proto name).
    pub theme: Named<Theme>,
    /// Phase (proto name).
    pub phase: Named<Phase>,
    /// Priority (proto name).
    pub priority: Named<Priority>,
    /// When it falls relative to go-live, as JSON (`domain::Schedule`).
    pub schedule: String,
    /// Status (proto name).
    pub status: Named<TaskStatus>,
    /// First day; `None` while to be scheduled.
    pub start_date: Option<NaiveDate>,
    /// Deadline; `None` while to be scheduled.
    pub end_date: Option<NaiveDate>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// When it falls relative to go-live.
    pub fn schedule(&self) -> Result<Schedule, Error> {
        serde_json::from_str(&self.schedule).map_err(Error::internal)
    }

    /// Its dates, once scheduled.
    pub fn dates(&self) -> Option<Dates> {
        self.start_date
            .zip(self.end_date)
            .map(|(start, end)| Dates { start, end })
    }
}

/// Inserts a task.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One task.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every task of a project, optionally of some municipalities only.
pub async fn of_project(
    db: &impl ConnectionTrait,
    project_id: &str,
    municipalities: Option<&[String]>,
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find().filter(Column::ProjectId.eq(project_id));
    if let Some(municipalities) = municipalities {
        query =
            query.filter(Column::MunicipalityId.is_in(municipalities.iter().map(String::as_str)));
    }
    Ok(query.all(db).await?)
}

/// A page of a project's tasks, oldest first, optionally of one municipality and only overdue ones.
pub async fn list(
    db: &impl ConnectionTrait,
    project_id: &str,
    municipality_id: Option<&str>,
    overdue_on: Option<NaiveDate>,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::ProjectId.eq(project_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(municipality_id) = municipality_id {
        query = query.filter(Column::MunicipalityId.eq(municipality_id));
    }
    if let Some(today) = overdue_on {
        query = query
            .filter(Column::EndDate.lt(today))
            .filter(Column::Status.ne(Named(TaskStatus::Done)));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |t| t.id.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "task";
}
