//! Incidents and their timelines.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::{IncidentOrigin, IncidentScope, IncidentStatus};
use kommune_proto::common::v1::PageResponse;

/// An incident as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    /// UUID (v7, so ids sort by opening).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Status (proto name).
    pub status: Named<IncidentStatus>,
    /// Scope (proto name).
    pub scope: Named<IncidentScope>,
    /// Origin (proto name).
    pub origin: Named<IncidentOrigin>,
    /// Affected system ids as a JSON list.
    pub system_ids: String,
    /// Affected municipality ids as a JSON list.
    pub municipality_ids: String,
    /// The text new reports are compared with: the first report's title and description.
    pub symptom: String,
    /// The report to the supplier as JSON ([`SupplierReport`]).
    pub supplier_report: Option<String>,
    /// When the next follow-up with the supplier is due.
    pub follow_up_due: Option<DateTimeUtc>,
    /// The overdue follow-up was announced.
    pub follow_up_announced: bool,
    /// Resolved at.
    pub resolved_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Opened.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
    /// Its number, in the order incidents are opened (set when opened).
    pub number: i64,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The report to the supplier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierReport {
    /// The problem.
    pub problem: String,
    /// When it began or was seen.
    pub occurred_at: DateTime<Utc>,
    /// An attachment id of a linked case, or empty.
    pub screenshot_attachment_id: String,
    /// The supplier's tag.
    pub tag: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
}

impl Model {
    /// The affected systems.
    pub fn system_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.system_ids).unwrap_or_default()
    }

    /// The affected municipalities.
    pub fn municipality_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.municipality_ids).unwrap_or_default()
    }

    /// The report to the supplier, once made.
    pub fn supplier_report(&self) -> Option<SupplierReport> {
        self.supplier_report
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
    }
}

/// Inserts an incident.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One incident.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// One incident, locked until the transaction ends (PostgreSQL; SQLite writes one at a time anyway).
pub async fn find_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).lock_exclusive().one(db).await?)
}

/// Every incident not yet resolved, oldest first.
pub async fn open(db: &impl ConnectionTrait) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::Status.ne(Named(IncidentStatus::Resolved)))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Every incident of `system_id` not yet resolved, locked until the transaction ends, oldest first.
pub async fn open_for_update(
    db: &impl ConnectionTrait,
    system_id: &str,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::Status.ne(Named(IncidentStatus::Resolved)))
        .filter(affects(system_id))
        .order_by_asc(Column::Id)
        .lock_exclusive()
        .all(db)
        .await?)
}

/// The incidents that affect `system_id`. System ids are UUIDs in a JSON list: quoted, they match only
/// themselves.
fn affects(system_id: &str) -> sea_orm::sea_query::SimpleExpr {
    Column::SystemIds.contains(format!("\"{system_id}\""))
}

/// What a list is limited to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only incidents affecting this system.
    pub system_id: Option<String>,
    /// Only incidents not yet resolved.
    pub open_only: bool,
}

/// A page of incidents, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(Named(status)));
    }
    if let Some(system) = filter.system_id {
        query = query.filter(affects(&system));
    }
    if filter.open_only {
        query = query.filter(Column::Status.ne(Named(IncidentStatus::Resolved)));
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |i| i.id.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "incident";
}

/// Marks the overdue follow-up due at `due` announced; false when it was already, or has moved on.
pub async fn mark_follow_up_announced(
    txn: &impl ConnectionTrait,
    id: &str,
    due: DateTimeUtc,
) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::FollowUpAnnounced, Expr::value(true))
        .filter(Column::Id.eq(id))
        .filter(Column::FollowUpDue.eq(due))
        .filter(Column::FollowUpAnnounced.eq(false))
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The incident with this number.
pub async fn by_number(db: &impl ConnectionTrait, number: i64) -> Result<Option<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::Number.eq(number))
        .one(db)
        .await?)
}
