//! Subscriptions, the events already handled, notifications with their delivery state, and the
//! operational-message feed.

use kommune_platform::migration::columns::{id, instant, optional_instant, short, text, version};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    UserId,
    TopicKind,
    TopicTarget,
    Channel,
    EmailAddress,
    WebhookUrl,
    WebhookSecret,
    Language,
    OptedOut,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum HandledEvents {
    Table,
    EventId,
    Feed,
    HandledAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Channel,
    TopicKind,
    TopicTarget,
    Kind,
    Subject,
    Text,
    Html,
    Address,
    SubscriptionId,
    State,
    Attempts,
    NextAttemptAt,
    ClaimToken,
    ClaimedUntil,
    LastError,
    SourceEventId,
    CreatedAt,
    DeliveredAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum FeedEntries {
    Table,
    MessageId,
    Texts,
    Systems,
    Resolved,
    PublishedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(id(Subscriptions::Id))
                    .col(short(Subscriptions::UserId))
                    .col(short(Subscriptions::TopicKind))
                    .col(short(Subscriptions::TopicTarget))
                    .col(short(Subscriptions::Channel))
                    .col(short(Subscriptions::EmailAddress))
                    .col(text(Subscriptions::WebhookUrl))
                    .col(text(Subscriptions::WebhookSecret))
                    .col(short(Subscriptions::Language))
                    .col(ColumnDef::new(Subscriptions::OptedOut).boolean().not_null())
                    .col(version(Subscriptions::Version))
                    .col(instant(Subscriptions::CreatedAt))
                    .col(instant(Subscriptions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("subscriptions_one_per_user_topic_channel")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::UserId)
                    .col(Subscriptions::TopicKind)
                    .col(Subscriptions::TopicTarget)
                    .col(Subscriptions::Channel)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("subscriptions_by_topic")
                    .table(Subscriptions::Table)
                    .col(Subscriptions::TopicKind)
                    .col(Subscriptions::TopicTarget)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HandledEvents::Table)
                    .col(id(HandledEvents::EventId))
                    .col(short(HandledEvents::Feed))
                    .col(instant(HandledEvents::HandledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(id(Notifications::Id))
                    .col(short(Notifications::UserId))
                    .col(short(Notifications::Channel))
                    .col(short(Notifications::TopicKind))
                    .col(short(Notifications::TopicTarget))
                    .col(short(Notifications::Kind))
                    .col(text(Notifications::Subject))
                    .col(text(Notifications::Text))
                    .col(text(Notifications::Html))
                    .col(text(Notifications::Address))
                    .col(
                        ColumnDef::new(Notifications::SubscriptionId)
                            .string()
                            .null(),
                    )
                    .col(short(Notifications::State))
                    .col(ColumnDef::new(Notifications::Attempts).integer().not_null())
                    .col(instant(Notifications::NextAttemptAt))
                    .col(ColumnDef::new(Notifications::ClaimToken).string().null())
                    .col(optional_instant(Notifications::ClaimedUntil))
                    .col(text(Notifications::LastError))
                    .col(short(Notifications::SourceEventId))
                    .col(instant(Notifications::CreatedAt))
                    .col(optional_instant(Notifications::DeliveredAt))
                    .col(optional_instant(Notifications::ReadAt))
                    .to_owned(),
            )
            .await?;
        // One notification per event, recipient and channel, whatever replica or retry made it.
        manager
            .create_index(
                Index::create()
                    .name("notifications_once_per_event_recipient_channel")
                    .table(Notifications::Table)
                    .col(Notifications::SourceEventId)
                    .col(Notifications::UserId)
                    .col(Notifications::Channel)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notifications_due")
                    .table(Notifications::Table)
                    .col(Notifications::State)
                    .col(Notifications::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("notifications_by_user")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FeedEntries::Table)
                    .col(id(FeedEntries::MessageId))
                    .col(text(FeedEntries::Texts))
                    .col(text(FeedEntries::Systems))
                    .col(ColumnDef::new(FeedEntries::Resolved).boolean().not_null())
                    .col(instant(FeedEntries::PublishedAt))
                    .col(instant(FeedEntries::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FeedEntries::Table.into_iden(),
            Notifications::Table.into_iden(),
            HandledEvents::Table.into_iden(),
            Subscriptions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
