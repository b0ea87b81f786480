//! Outages: the distinct-reporters setting of detection, the case's incident, incidents with their
//! timelines, and operational messages.

use kommune_platform::migration::columns::{id, instant, optional_instant, short, text, version};
use kommune_platform::migration::foreign_key as fk;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Systems {
    Table,
    OutageDistinctReporters,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    IncidentId,
    SystemId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    Title,
    Description,
    Status,
    Scope,
    Origin,
    SystemIds,
    MunicipalityIds,
    Symptom,
    SupplierReport,
    FollowUpDue,
    FollowUpAnnounced,
    ResolvedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncidentUpdates {
    Table,
    Id,
    IncidentId,
    Kind,
    Text,
    Status,
    Author,
    CaseIds,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OperationalMessages {
    Table,
    Id,
    State,
    TitleDa,
    TextDa,
    WorkaroundDa,
    TitleEn,
    TextEn,
    WorkaroundEn,
    SystemIds,
    Scope,
    IncidentId,
    StartAt,
    ExpectedEndAt,
    ResolutionDa,
    ResolutionEn,
    PublishedAt,
    ResolvedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Systems::Table)
                    .add_column(
                        ColumnDef::new(Systems::OutageDistinctReporters)
                            .integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::IncidentId).string().null())
                    .to_owned(),
            )
            .await?;
        // Classification reads a system's reports of the window, and an incident's linked cases.
        manager
            .create_index(
                Index::create()
                    .name("cases_by_system_and_time")
                    .table(Cases::Table)
                    .col(Cases::SystemId)
                    .col(Cases::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("cases_by_incident")
                    .table(Cases::Table)
                    .col(Cases::IncidentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Incidents::Table)
                    .col(id(Incidents::Id))
                    .col(short(Incidents::Title))
                    .col(text(Incidents::Description))
                    .col(short(Incidents::Status))
                    .col(short(Incidents::Scope))
                    .col(short(Incidents::Origin))
                    .col(text(Incidents::SystemIds))
                    .col(text(Incidents::MunicipalityIds))
                    .col(text(Incidents::Symptom))
                    .col(ColumnDef::new(Incidents::SupplierReport).text().null())
                    .col(optional_instant(Incidents::FollowUpDue))
                    .col(
                        ColumnDef::new(Incidents::FollowUpAnnounced)
                            .boolean()
                            .not_null(),
                    )
                    .col(optional_instant(Incidents::ResolvedAt))
                    .col(version(Incidents::Version))
                    .col(instant(Incidents::CreatedAt))
                    .col(instant(Incidents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("incidents_by_status")
                    .table(Incidents::Table)
                    .col(Incidents::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncidentUpdates::Table)
                    .col(id(IncidentUpdates::Id))
                    .col(short(IncidentUpdates::IncidentId))
                    .col(short(IncidentUpdates::Kind))
                    .col(text(IncidentUpdates::Text))
                    .col(short(IncidentUpdates::Status))
                    .col(short(IncidentUpdates::Author))
                    .col(text(IncidentUpdates::CaseIds))
                    .col(instant(IncidentUpdates::CreatedAt))
                    .foreign_key(&mut fk(
                        "incident_updates_incident",
                        (IncidentUpdates::Table, IncidentUpdates::IncidentId),
                        (Incidents::Table, Incidents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("incident_updates_by_incident")
                    .table(IncidentUpdates::Table)
                    .col(IncidentUpdates::IncidentId)
                    .col(IncidentUpdates::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OperationalMessages::Table)
                    .col(id(OperationalMessages::Id))
                    .col(short(OperationalMessages::State))
                    .col(short(OperationalMessages::TitleDa))
                    .col(text(OperationalMessages::TextDa))
                    .col(text(OperationalMessages::WorkaroundDa))
                    .col(short(OperationalMessages::TitleEn))
                    .col(text(OperationalMessages::TextEn))
                    .col(text(OperationalMessages::WorkaroundEn))
                    .col(text(OperationalMessages::SystemIds))
                    .col(short(OperationalMessages::Scope))
                    .col(
                        ColumnDef::new(OperationalMessages::IncidentId)
                            .string()
                            .null(),
                    )
                    .col(instant(OperationalMessages::StartAt))
                    .col(optional_instant(OperationalMessages::ExpectedEndAt))
                    .col(text(OperationalMessages::ResolutionDa))
                    .col(text(OperationalMessages::ResolutionEn))
                    .col(optional_instant(OperationalMessages::PublishedAt))
                    .col(optional_instant(OperationalMessages::ResolvedAt))
                    .col(version(OperationalMessages::Version))
                    .col(instant(OperationalMessages::CreatedAt))
                    .col(instant(OperationalMessages::UpdatedAt))
                    .foreign_key(&mut fk(
                        "operational_messages_incident",
                        (OperationalMessages::Table, OperationalMessages::IncidentId),
                        (Incidents::Table, Incidents::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("operational_messages_by_state")
                    .table(OperationalMessages::Table)
                    .col(OperationalMessages::State)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OperationalMessages::Table.into_iden(),
            IncidentUpdates::Table.into_iden(),
            Incidents::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for index in ["cases_by_incident", "cases_by_system_and_time"] {
            manager
                .drop_index(Index::drop().name(index).table(Cases::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::IncidentId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Systems::Table)
                    .drop_column(Systems::OutageDistinctReporters)
                    .to_owned(),
            )
            .await
    }
}
