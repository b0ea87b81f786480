//! Subscriptions.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::db::Versioned;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::notify::v1::{Channel, Language, TopicKind};

/// A subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    /// UUID (v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The user.
    pub user_id: String,
    /// Topic kind (proto name).
    pub topic_kind: Named<TopicKind>,
    /// The system or project, or empty.
    pub topic_target: String,
    /// Channel (proto name).
    pub channel: Named<Channel>,
    /// E-mail address override, or empty.
    pub email_address: String,
    /// Webhook URL, or empty.
    pub webhook_url: String,
    /// Webhook shared secret, or empty.
    pub webhook_secret: String,
    /// Language (proto name).
    pub language: Named<Language>,
    /// Opted out.
    pub opted_out: bool,
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

/// Inserts a subscription; ALREADY_EXISTS when the user has one for the topic and channel.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    ActiveModel::from(model).insert(txn).await.map_err(|err| {
        if kommune_platform::db::is_unique_violation(&err) {
            Error::AlreadyExists {
                field: "subscription.topic",
                description: "the user already has a subscription to this topic by this channel"
                    .into(),
            }
        } else {
            err.into()
        }
    })
}

/// One subscription.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Every subscription to a topic.
pub async fn of_topic(
    db: &impl ConnectionTrait,
    kind: TopicKind,
    target: &str,
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::TopicKind.eq(Named(kind)))
        .filter(Column::TopicTarget.eq(target))
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// A page of a user's subscriptions, oldest first.
pub async fn of_user(
    db: &impl ConnectionTrait,
    user_id: &str,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.gt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |s| s.id.clone()))
}

impl Versioned for Model {
    const NAME: &'static str = "subscription";
}

/// Deletes a subscription.
pub async fn delete(txn: &impl ConnectionTrait, id: &str) -> Result<(), Error> {
    Entity::delete_by_id(id).exec(txn).await?;
    Ok(())
}

/// Deletes every subscription of a user; returns how many there were.
pub async fn delete_of_user(txn: &impl ConnectionTrait, user_id: &str) -> Result<u64, Error> {
    Ok(Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(txn)
        .await?
        .rows_affected)
}
