//! Mail to suppliers: a system's supplier contacts, incident numbers for the subject of an incident's
//! mails (the incidents so far numbered in the order they were opened), and the mails sent, one thread
//! per case or incident.

use kommune_platform::migration::columns::{id, instant, short, text};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Systems {
    Table,
    SupplierContacts,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Number,
}

#[derive(DeriveIden)]
enum IncidentNumbers {
    Table,
    Id,
    Last,
}

#[derive(DeriveIden)]
enum SupplierMails {
    Table,
    Id,
    CaseId,
    IncidentId,
    Kind,
    MessageId,
    ThreadMessageId,
    Recipients,
    Subject,
    Text,
    SenderUserId,
    CreatedAt,
}

const INCIDENTS_BY_NUMBER: &str = "incidents_by_number";
const MAILS_OF_CASE: &str = "supplier_mails_of_case";
const MAILS_OF_INCIDENT: &str = "supplier_mails_of_incident";
const MAILS_BY_MESSAGE_ID: &str = "supplier_mails_by_message_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Systems::Table)
                    .add_column(
                        ColumnDef::new(Systems::SupplierContacts)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Incidents::Table)
                    .add_column(ColumnDef::new(Incidents::Number).big_integer().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE incidents SET number = (SELECT COUNT(*) FROM incidents earlier \
             WHERE earlier.created_at < incidents.created_at \
             OR (earlier.created_at = incidents.created_at AND earlier.id <= incidents.id))",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(INCIDENTS_BY_NUMBER)
                    .table(Incidents::Table)
                    .col(Incidents::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Numbers come as case numbers do (`store::numbers::next`): a sequence on PostgreSQL, a
        // counter row on SQLite.
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("CREATE SEQUENCE incident_number_sequence")
                .await?;
            db.execute_unprepared(
                "SELECT setval('incident_number_sequence', GREATEST(COUNT(*), 1), COUNT(*) > 0) \
                 FROM incidents",
            )
            .await?;
        } else {
            manager
                .create_table(
                    Table::create()
                        .table(IncidentNumbers::Table)
                        .col(
                            ColumnDef::new(IncidentNumbers::Id)
                                .integer()
                                .not_null()
                                .primary_key(),
                        )
                        .col(
                            ColumnDef::new(IncidentNumbers::Last)
                                .big_integer()
                                .not_null(),
                        )
                        .to_owned(),
                )
                .await?;
            db.execute_unprepared(
                "INSERT INTO incident_numbers (id, last) SELECT 1, COUNT(*) FROM incidents",
            )
            .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(SupplierMails::Table)
                    .col(id(SupplierMails::Id))
                    .col(ColumnDef::new(SupplierMails::CaseId).string().null())
                    .col(ColumnDef::new(SupplierMails::IncidentId).string().null())
                    .col(short(SupplierMails::Kind))
                    .col(short(SupplierMails::MessageId))
                    .col(short(SupplierMails::ThreadMessageId))
                    .col(text(SupplierMails::Recipients))
                    .col(text(SupplierMails::Subject))
                    .col(text(SupplierMails::Text))
                    .col(short(SupplierMails::SenderUserId))
                    .col(instant(SupplierMails::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (MAILS_OF_CASE, SupplierMails::CaseId),
            (MAILS_OF_INCIDENT, SupplierMails::IncidentId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SupplierMails::Table)
                        .col(column)
                        .col(SupplierMails::CreatedAt)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(MAILS_BY_MESSAGE_ID)
                    .table(SupplierMails::Table)
                    .col(SupplierMails::MessageId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SupplierMails::Table).to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP SEQUENCE incident_number_sequence")
                .await?;
        } else {
            manager
                .drop_table(Table::drop().table(IncidentNumbers::Table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(INCIDENTS_BY_NUMBER)
                    .table(Incidents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Incidents::Table)
                    .drop_column(Incidents::Number)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Systems::Table)
                    .drop_column(Systems::SupplierContacts)
                    .to_owned(),
            )
            .await
    }
}
