//! The timeline entries of incidents.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_proto::cases::v1::{IncidentStatus, IncidentUpdateKind};

/// A timeline entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_updates")]
pub struct Model {
    /// UUID (v7, so ids sort by time).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The incident.
    pub incident_id: String,
    /// Kind (proto name).
    pub kind: Named<IncidentUpdateKind>,
    /// What was said or done.
    pub text: String,
    /// The incident's status after it (proto name).
    pub status: Named<IncidentStatus>,
    /// Who.
    pub author: String,
    /// The cases it concerns, as a JSON list.
    pub case_ids: String,
    /// When.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The cases it concerns.
    pub fn case_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.case_ids).unwrap_or_default()
    }
}

/// Inserts an entry.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One entry.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// The timelines of the incidents, each oldest first.
pub async fn of_incidents(
    db: &impl ConnectionTrait,
    incident_ids: &[String],
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::IncidentId.is_in(incident_ids))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Who wrote each entry, the words and their incident: what erasing an anonymised person's words needs.
pub const AUTHORED: kommune_platform::db::AuthoredText<Entity> =
    kommune_platform::db::AuthoredText {
        what: "incident updates",
        author: Column::Author,
        text: Column::Text,
        owner: Column::IncidentId,
    };
