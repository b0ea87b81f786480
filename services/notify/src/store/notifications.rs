//! Notifications and their delivery state; the inbox is the notifications of the inbox channel.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{Condition, ConnectionTrait, DbBackend, QueryOrder, QuerySelect};

use kommune_platform::Error;
use kommune_platform::db::Named;
use kommune_platform::paging::Page;
use kommune_proto::common::v1::PageResponse;
use kommune_proto::notify::v1::{Channel, DeliveryState, TopicKind};

/// A notification as stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    /// UUID (v7); also its e-mail's `Message-ID`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The recipient.
    pub user_id: String,
    /// Channel (proto name).
    pub channel: Named<Channel>,
    /// Topic kind (proto name).
    pub topic_kind: Named<TopicKind>,
    /// The topic's system or project, or empty.
    pub topic_target: String,
    /// Event kind, e.g. `case_changed`.
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
    /// The e-mail address, or empty.
    pub address: String,
    /// The subscription that chose the channel (webhooks read their URL and secret from it).
    pub subscription_id: Option<String>,
    /// Delivery state (proto name).
    pub state: Named<DeliveryState>,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTimeUtc,
    /// The claim of the worker sending it now.
    pub claim_token: Option<String>,
    /// Until when that claim holds.
    pub claimed_until: Option<DateTimeUtc>,
    /// Why the last attempt failed, or why it is dead.
    pub last_error: String,
    /// The event it came from.
    pub source_event_id: String,
    /// Made.
    pub created_at: DateTimeUtc,
    /// Delivered.
    pub delivered_at: Option<DateTimeUtc>,
    /// Read (inbox).
    pub read_at: Option<DateTimeUtc>,
    /// The Message-ID another service gave the mail (its thread is kept there), or empty for one
    /// made from the id.
    pub message_id: String,
    /// The Message-ID the mail answers, or empty.
    pub in_reply_to: String,
    /// The thread's earlier Message-IDs, space-separated as the References header has them.
    pub thread_references: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// Its mail's Message-ID: the one given by the service that keeps its thread, else one made from
    /// its id.
    pub fn mail_message_id(&self) -> String {
        if self.message_id.is_empty() {
            crate::domain::message_id(&self.id)
        } else {
            self.message_id.clone()
        }
    }
}

/// Inserts a notification.
pub async fn insert(txn: &impl ConnectionTrait, model: Model) -> Result<Model, Error> {
    Ok(ActiveModel::from(model).insert(txn).await?)
}

/// One notification.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, Error> {
    Ok(Entity::find_by_id(id).one(db).await?)
}

/// Claims up to `limit` notifications due at `now` for `token` until `until`: pending, due, and not
/// claimed by a live claim. On PostgreSQL concurrent workers skip each other's rows, so no two claim
/// one notification; SQLite writes one transaction at a time.
pub async fn claim(
    txn: &impl ConnectionTrait,
    token: &str,
    now: DateTimeUtc,
    until: DateTimeUtc,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let mut due = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::State.eq(DeliveryState::Pending.as_str_name()))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(Column::ClaimedUntil.is_null())
                .add(Column::ClaimedUntil.lt(now)),
        )
        .order_by_asc(Column::NextAttemptAt)
        .limit(limit);
    if txn.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let ids: Vec<String> = due.into_tuple().all(txn).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::update_many()
        .col_expr(Column::ClaimToken, Expr::value(token))
        .col_expr(Column::ClaimedUntil, Expr::value(until))
        .filter(Column::Id.is_in(ids))
        .exec(txn)
        .await?;
    Ok(Entity::find()
        .filter(Column::ClaimToken.eq(token))
        .filter(Column::State.eq(DeliveryState::Pending.as_str_name()))
        .order_by_asc(Column::NextAttemptAt)
        .all(txn)
        .await?)
}

/// Extends a claim to `until` just before its attempt, if it still holds; false when it lapsed and
/// another worker may have the notification (this one must not send it then).
pub async fn renew(
    db: &impl ConnectionTrait,
    id: &str,
    token: &str,
    until: DateTimeUtc,
) -> Result<bool, Error> {
    let result = Entity::update_many()
        .col_expr(Column::ClaimedUntil, Expr::value(until))
        .filter(Column::Id.eq(id))
        .filter(Column::ClaimToken.eq(token))
        .filter(Column::State.eq(DeliveryState::Pending.as_str_name()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives up the claims of `token` that were not attempted (the worker is stopping).
pub async fn release(db: &impl ConnectionTrait, token: &str) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::ClaimToken, Expr::value(Option::<String>::None))
        .col_expr(
            Column::ClaimedUntil,
            Expr::value(Option::<DateTimeUtc>::None),
        )
        .filter(Column::ClaimToken.eq(token))
        .exec(db)
        .await?;
    Ok(())
}

/// Records the outcome of a claimed attempt, if the claim still holds: `changed` with the claim
/// released. False when the claim was lost (it expired and another worker took the row).
pub async fn settle(
    db: &impl ConnectionTrait,
    token: &str,
    mut changed: Model,
) -> Result<bool, Error> {
    changed.claim_token = None;
    changed.claimed_until = None;
    let result = Entity::update_many()
        .set(ActiveModel::from(changed.clone()).reset_all())
        .filter(Column::Id.eq(changed.id.as_str()))
        .filter(Column::ClaimToken.eq(token))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Writes a changed notification (an operator's retry, an inbox read).
pub async fn update(db: &impl ConnectionTrait, changed: Model) -> Result<Model, Error> {
    Entity::update(ActiveModel::from(changed.clone()).reset_all())
        .exec(db)
        .await?;
    Ok(changed)
}

/// What a list is limited to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this state.
    pub state: Option<DeliveryState>,
    /// Only this recipient's.
    pub user_id: Option<String>,
    /// Only this channel.
    pub channel: Option<Channel>,
    /// Only unread ones.
    pub unread_only: bool,
}

/// A page of notifications, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: Filter,
    page: &Page,
) -> Result<(Vec<Model>, PageResponse), Error> {
    let mut query = Entity::find()
        .order_by_desc(Column::Id)
        .limit(page.fetch_limit());
    if let Some(state) = filter.state {
        query = query.filter(Column::State.eq(Named(state)));
    }
    if let Some(user) = filter.user_id {
        query = query.filter(Column::UserId.eq(user));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(Column::Channel.eq(Named(channel)));
    }
    if filter.unread_only {
        query = query.filter(Column::ReadAt.is_null());
    }
    if let Some(after) = &page.after {
        query = query.filter(Column::Id.lt(after.as_str()));
    }
    Ok(page.finish(query.all(db).await?, |n| n.id.clone()))
}

/// Erases what a user's notifications say and where they went; the pending ones die unsent. Returns
/// how many notifications were touched.
pub async fn erase_recipient(txn: &impl ConnectionTrait, user_id: &str) -> Result<u64, Error> {
    Entity::update_many()
        .col_expr(
            Column::State,
            Expr::value(DeliveryState::Dead.as_str_name()),
        )
        .col_expr(
            Column::LastError,
            Expr::value("the recipient was anonymised before delivery"),
        )
        .filter(Column::UserId.eq(user_id))
        .filter(Column::State.eq(DeliveryState::Pending.as_str_name()))
        .exec(txn)
        .await?;
    Ok(Entity::update_many()
        .col_expr(Column::Address, Expr::value(""))
        .col_expr(Column::Subject, Expr::value(""))
        .col_expr(Column::Text, Expr::value(""))
        .col_expr(Column::Html, Expr::value(""))
        .filter(Column::UserId.eq(user_id))
        .exec(txn)
        .await?
        .rows_affected)
}

/// Retention: removes up to `limit` notifications made before `cutoff` that are done with
/// (delivered, or given up); how many.
pub async fn purge(
    txn: &impl ConnectionTrait,
    cutoff: DateTimeUtc,
    limit: u64,
) -> Result<u64, Error> {
    let done = [DeliveryState::Delivered, DeliveryState::Dead].map(|s| s.as_str_name());
    let due = Condition::all()
        .add(Column::CreatedAt.lt(cutoff))
        .add(Column::State.is_in(done));
    let ids: Vec<String> = kommune_platform::retention::due_ids::<Entity, _>(
        txn,
        Column::Id,
        Column::CreatedAt,
        due,
        limit,
    )
    .await?;
    kommune_platform::retention::delete_ids::<Entity, _>(txn, Column::Id, ids).await
}
