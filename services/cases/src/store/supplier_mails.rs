//! Mails sent to suppliers, one thread per case or incident.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_proto::cases::v1::SupplierMailKind;

/// A mail as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supplier_mails")]
pub struct Model {
    /// UUID (v7, so a thread's mails sort by sending).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The case it is about, if any.
    pub case_id: Option<String>,
    /// The incident it is about, if any.
    pub incident_id: Option<String>,
    /// Its place in the thread (proto name).
    pub kind: Named<SupplierMailKind>,
    /// Its Message-ID.
    pub message_id: String,
    /// The thread's first Message-ID.
    pub thread_message_id: String,
    /// The recipients' addresses as a JSON list.
    pub recipients: String,
    /// Subject.
    pub subject: String,
    /// Text.
    pub text: String,
    /// Who sent it.
    pub sender_user_id: String,
    /// Sent.
    pub created_at: DateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The recipients' addresses.
    pub fn recipients(&self) -> Vec<String> {
        serde_json::from_str(&self.recipients).unwrap_or_default()
    }
}

/// What a thread is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    /// A case, by id.
    Case(&'a str),
    /// An incident, by id.
    Incident(&'a str),
}

/// The most mails of one thread read (a thread is a handful: reports and a resolution or two).
pub const MAX_THREAD: u64 = 100;

/// Inserts a mail.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// The thread about `about`, oldest first.
pub async fn thread(db: &impl ConnectionTrait, about: About<'_>) -> Result<Vec<Model>, Error> {
    let of = match about {
        About::Case(id) => Column::CaseId.eq(id),
        About::Incident(id) => Column::IncidentId.eq(id),
    };
    Ok(Entity::find()
        .filter(of)
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(MAX_THREAD)
        .all(db)
        .await?)
}

/// One mail.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// The mails sent with any of `message_ids` (asked in chunks, well inside every database's limit of
/// bound parameters).
pub async fn by_message_ids(
    db: &impl ConnectionTrait,
    message_ids: &[String],
) -> Result<Vec<Model>, Error> {
    let mut found = Vec::new();
    for chunk in message_ids.chunks(1_000) {
        found.extend(
            Entity::find()
                .filter(Column::MessageId.is_in(chunk))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}
