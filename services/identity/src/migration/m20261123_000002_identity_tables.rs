//! Municipalities, users, service accounts, API keys and token signing keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Municipalities {
    Table,
    Id,
    Code,
    Name,
    CvrNumber,
    DebtorSystem,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    MunicipalityId,
    Name,
    Email,
    Roles,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServiceAccounts {
    Table,
    Id,
    Name,
    Description,
    MunicipalityId,
    Roles,
    Active,
    Version,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Subject,
    KeyHash,
    Prefix,
    Description,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    KeyId,
    PrivateKey,
    PublicKey,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Municipalities::Table)
                    .col(ColumnDef::new(Municipalities::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Municipalities::Code).string().not_null().unique_key())
                    .col(ColumnDef::new(Municipalities::Name).string().not_null())
                    .col(ColumnDef::new(Municipalities::CvrNumber).string().not_null())
                    .col(ColumnDef::new(Municipalities::DebtorSystem).string().not_null())
                    .col(ColumnDef::new(Municipalities::Active).boolean().not_null())
                    .col(ColumnDef::new(Municipalities::Version).big_integer().not_null())
                    .col(ColumnDef::new(Municipalities::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Municipalities::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Users::MunicipalityId).string().null())
                    .col(ColumnDef::new(Users::Name).string().not_null())
                    .col(ColumnDef::new(Users::Email).string().not_null().unique_key())
                    .col(ColumnDef::new(Users::Roles).string().not_null())
                    .col(ColumnDef::new(Users::Active).boolean().not_null())
                    .col(ColumnDef::new(Users::Version).big_integer().not_null())
                    .col(ColumnDef::new(Users::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Users::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_municipality")
                            .from(Users::Table, Users::MunicipalityId)
                            .to(Municipalities::Table, Municipalities::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_by_municipality")
                    .table(Users::Table)
                    .col(Users::MunicipalityId)
                    .col(Users::Email)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceAccounts::Table)
                    .col(ColumnDef::new(ServiceAccounts::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(ServiceAccounts::Name).string().not_null().unique_key())
                    .col(ColumnDef::new(ServiceAccounts::Description).string().not_null())
                    .col(ColumnDef::new(ServiceAccounts::MunicipalityId).string().null())
                    .col(ColumnDef::new(ServiceAccounts::Roles).string().not_null())
                    .col(ColumnDef::new(ServiceAccounts::Active).boolean().not_null())
                    .col(ColumnDef::new(ServiceAccounts::Version).big_integer().not_null())
                    .col(ColumnDef::new(ServiceAccounts::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("service_accounts_municipality")
                            .from(ServiceAccounts::Table, ServiceAccounts::MunicipalityId)
                            .to(Municipalities::Table, Municipalities::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(ColumnDef::new(ApiKeys::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(ApiKeys::Subject).string().not_null())
                    .col(ColumnDef::new(ApiKeys::KeyHash).string().not_null().unique_key())
                    .col(ColumnDef::new(ApiKeys::Prefix).string().not_null())
                    .col(ColumnDef::new(ApiKeys::Description).string().not_null())
                    .col(ColumnDef::new(ApiKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApiKeys::ExpiresAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ApiKeys::RevokedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("api_keys_by_subject")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::Subject)
                    .col(ApiKeys::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(ColumnDef::new(SigningKeys::KeyId).string().not_null().primary_key())
                    .col(ColumnDef::new(SigningKeys::PrivateKey).blob().not_null())
                    .col(ColumnDef::new(SigningKeys::PublicKey).blob().not_null())
                    .col(ColumnDef::new(SigningKeys::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SigningKeys::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            ServiceAccounts::Table.into_iden(),
            Users::Table.into_iden(),
            Municipalities::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
