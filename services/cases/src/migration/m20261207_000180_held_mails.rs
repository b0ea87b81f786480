//! The desk's mailbox: mail it could not place by itself, held for a person to accept or reject, with
//! its attachments until then.

use kommune_platform::migration::columns::{id, instant, optional_instant, short, text};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HeldMails {
    Table,
    Id,
    FromAddress,
    Subject,
    Text,
    Reason,
    ReplyToCaseId,
    ReplyToIncidentId,
    State,
    CaseId,
    DecidedBy,
    RejectionReason,
    CreatedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum HeldMailAttachments {
    Table,
    Id,
    HeldMailId,
    FileName,
    ContentType,
    Content,
}

const BY_STATE: &str = "held_mails_by_state";
const ATTACHMENTS_OF: &str = "held_mail_attachments_of_mail";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HeldMails::Table)
                    .col(id(HeldMails::Id))
                    .col(short(HeldMails::FromAddress))
                    .col(text(HeldMails::Subject))
                    .col(text(HeldMails::Text))
                    .col(short(HeldMails::Reason))
                    .col(ColumnDef::new(HeldMails::ReplyToCaseId).string().null())
                    .col(ColumnDef::new(HeldMails::ReplyToIncidentId).string().null())
                    .col(short(HeldMails::State))
                    .col(ColumnDef::new(HeldMails::CaseId).string().null())
                    .col(short(HeldMails::DecidedBy))
                    .col(text(HeldMails::RejectionReason))
                    .col(instant(HeldMails::CreatedAt))
                    .col(optional_instant(HeldMails::DecidedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_STATE)
                    .table(HeldMails::Table)
                    .col(HeldMails::State)
                    .col(HeldMails::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HeldMailAttachments::Table)
                    .col(id(HeldMailAttachments::Id))
                    .col(short(HeldMailAttachments::HeldMailId))
                    .col(short(HeldMailAttachments::FileName))
                    .col(short(HeldMailAttachments::ContentType))
                    .col(
                        ColumnDef::new(HeldMailAttachments::Content)
                            .blob()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        "held_mail_attachments_mail",
                        (HeldMailAttachments::Table, HeldMailAttachments::HeldMailId),
                        (HeldMails::Table, HeldMails::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(ATTACHMENTS_OF)
                    .table(HeldMailAttachments::Table)
                    .col(HeldMailAttachments::HeldMailId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HeldMailAttachments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(HeldMails::Table).to_owned())
            .await
    }
}
