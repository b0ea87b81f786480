//! Mail the desk's mailbox could not place by itself, held for a person, with its attachments.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::paging::Page;
use kommune_proto::cases::v1::{HeldMailState, HeldReason};
use kommune_proto::common::v1::PageResponse;

/// A held mail as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "held_mails")]
pub struct Model {
    /// UUID (v7, so ids sort by arrival).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The sender's address.
    pub from_address: String,
    /// Subject (erased on rejection).
    pub subject: String,
    /// Text (erased on rejection).
    pub text: String,
    /// Why it was held (proto name).
    pub reason: Named<HeldReason>,
    /// The case it replies to, if any.
    pub reply_to_case_id: Option<String>,
    /// The incident it replies to, if any.
    pub reply_to_incident_id: Option<String>,
    /// Where it stands (proto name).
    pub state: Named<HeldMailState>,
    /// The case it became or joined, once accepted.
    pub case_id: Option<String>,
    /// Who decided, or empty.
    pub decided_by: String,
    /// Why it was rejected, or empty.
    pub rejection_reason: String,
    /// Arrived.
    pub created_at: DateTimeUtc,
    /// Decided.
    pub decided_at: Option<DateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Inserts a held mail.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// Writes a decided mail.
pub async fn update(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).reset_all().update(txn).await?)
}

/// One held mail.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// A page of the held mails in `state`, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    state: HeldMailState,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::State.eq(Named(state)))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |m| m.id.clone()))
}

/// A held mail's attachments.
pub mod attachments {
    use sea_orm::entity::prelude::*;
    use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

    use kommune_platform::Error;

    /// An attachment as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "held_mail_attachments")]
    pub struct Model {
        /// UUID.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The held mail.
        pub held_mail_id: String,
        /// File name.
        pub file_name: String,
        /// MIME type.
        pub content_type: String,
        /// The bytes.
        pub content: Vec<u8>,
    }

    /// No navigable relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    /// Inserts an attachment.
    pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
        Ok(ActiveModel::from(model).insert(txn).await?)
    }

    /// The attachments of a held mail, in the order they came.
    pub async fn of(db: &impl ConnectionTrait, held_mail_id: &str) -> Result<Vec<Model>, Error> {
        Ok(Entity::find()
            .filter(Column::HeldMailId.eq(held_mail_id))
            .order_by_asc(Column::Id)
            .all(db)
            .await?)
    }

    /// The file names of each of the held mails' attachments, by mail.
    pub async fn names(
        db: &impl ConnectionTrait,
        held_mail_ids: &[String],
    ) -> Result<Vec<(String, String)>, Error> {
        Ok(Entity::find()
            .select_only()
            .column(Column::HeldMailId)
            .column(Column::FileName)
            .filter(Column::HeldMailId.is_in(held_mail_ids.iter().map(String::as_str)))
            .order_by_asc(Column::Id)
            .into_tuple()
            .all(db)
            .await?)
    }

    /// Erases a held mail's attachments.
    pub async fn erase(txn: &impl ConnectionTrait, held_mail_id: &str) -> Result<(), Error> {
        Entity::delete_many()
            .filter(Column::HeldMailId.eq(held_mail_id))
            .exec(txn)
            .await?;
        Ok(())
    }
}
