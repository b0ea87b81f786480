//! Mail that belongs to a thread another service keeps (a case's mails to its supplier): the
//! Message-ID it was given, and the In-Reply-To and References that place it. Empty for notify's own
//! notifications, whose Message-ID comes from their id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    MessageId,
    InReplyTo,
    ThreadReferences,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Notifications::MessageId,
            Notifications::InReplyTo,
            Notifications::ThreadReferences,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Notifications::Table)
                        .add_column(ColumnDef::new(column).text().not_null().default(""))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Notifications::MessageId,
            Notifications::InReplyTo,
            Notifications::ThreadReferences,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Notifications::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
