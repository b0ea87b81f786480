//! The platform's own tables, present in every service's database: the outbox, the audit chain and
//! idempotency keys. A service's migrator lists [`migrations`] before its own.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

/// A named foreign key from `from` (table, column) to `to` (table, column), declared inside
/// `create_table` (SQLite cannot add one later).
pub fn foreign_key(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

/// The column shapes every schema repeats, for new migrations (published ones stay as written).
pub mod columns {
    use sea_orm_migration::prelude::*;

    /// A string primary key (UUIDs).
    pub fn id(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name)
            .string()
            .not_null()
            .primary_key()
            .take()
    }

    /// A required short string (names, enum names, ids).
    pub fn short(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).string().not_null().take()
    }

    /// A required text of any length (free text, JSON lists).
    pub fn text(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).text().not_null().take()
    }

    /// A required instant.
    pub fn instant(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name)
            .timestamp_with_time_zone()
            .not_null()
            .take()
    }

    /// An optional instant.
    pub fn optional_instant(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name)
            .timestamp_with_time_zone()
            .null()
            .take()
    }

    /// An optimistic-concurrency version (or any required 64-bit count).
    pub fn version(name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).big_integer().not_null().take()
    }
}

/// The platform's migrations, oldest first.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(PlatformTables),
        Box::new(FeedCursors),
        Box::new(AuditLog),
        Box::new(RetentionIndexes),
        Box::new(AuditActorIndex),
    ]
}

/// Creates the outbox, audit and idempotency tables.
struct PlatformTables;

impl MigrationName for PlatformTables {
    fn name(&self) -> &str {
        "m20261123_000001_platform_tables"
    }
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    TxId,
    EventId,
    EventType,
    Subject,
    Payload,
    OccurredAt,
}

#[derive(DeriveIden)]
enum AuditRecords {
    Table,
    Id,
    EntityType,
    EntityId,
    Sequence,
    Actor,
    Action,
    OccurredAt,
    Payload,
    Redacted,
    PayloadHash,
    PreviousHash,
    RecordHash,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    RequestHash,
    EntityId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for PlatformTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // On PostgreSQL each outbox row records its transaction id, so the feed can hold back rows
        // until every older transaction has ended (sequence values commit out of order). SQLite
        // writes one transaction at a time: 0 everywhere keeps plain id order.
        let tx_id_default = match manager.get_database_backend() {
            DbBackend::Postgres => Expr::cust("(pg_current_xact_id()::text)::bigint"),
            _ => Expr::val(0),
        };
        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(
                        ColumnDef::new(OutboxEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxEvents::TxId)
                            .big_integer()
                            .not_null()
                            .default(tx_id_default),
                    )
                    .col(
                        ColumnDef::new(OutboxEvents::EventId)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(OutboxEvents::EventType).string().not_null())
                    .col(ColumnDef::new(OutboxEvents::Subject).string().not_null())
                    .col(ColumnDef::new(OutboxEvents::Payload).blob().not_null())
                    .col(
                        ColumnDef::new(OutboxEvents::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_events_position")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::TxId)
                    .col(OutboxEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditRecords::Table)
                    .col(
                        ColumnDef::new(AuditRecords::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditRecords::EntityType).string().not_null())
                    .col(ColumnDef::new(AuditRecords::EntityId).string().not_null())
                    .col(
                        ColumnDef::new(AuditRecords::Sequence)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditRecords::Actor).string().not_null())
                    .col(ColumnDef::new(AuditRecords::Action).string().not_null())
                    .col(
                        ColumnDef::new(AuditRecords::OccurredAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditRecords::Payload).text().null())
                    .col(
                        ColumnDef::new(AuditRecords::Redacted)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(AuditRecords::PayloadHash)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditRecords::PreviousHash)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditRecords::RecordHash).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_records_chain")
                    .table(AuditRecords::Table)
                    .col(AuditRecords::EntityType)
                    .col(AuditRecords::EntityId)
                    .col(AuditRecords::Sequence)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::Scope).string().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Key).string().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::RequestHash)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::EntityId)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditRecords::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OutboxEvents::Table).to_owned())
            .await
    }
}

/// Creates the table where a service stores how far it has followed other services' feeds.
struct FeedCursors;

impl MigrationName for FeedCursors {
    fn name(&self) -> &str {
        "m20261123_000002_platform_feed_cursors"
    }
}

#[derive(DeriveIden)]
enum FeedCursorsTable {
    #[sea_orm(iden = "feed_cursors")]
    Table,
    Feed,
    Cursor,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for FeedCursors {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FeedCursorsTable::Table)
                    .col(
                        ColumnDef::new(FeedCursorsTable::Feed)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(FeedCursorsTable::Cursor).string().not_null())
                    .col(
                        ColumnDef::new(FeedCursorsTable::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FeedCursorsTable::Table).to_owned())
            .await
    }
}

/// Seals and anchors the audit trail: each record's key and log position, the log's stored subtrees
/// and its signed checkpoints.
struct AuditLog;

impl MigrationName for AuditLog {
    fn name(&self) -> &str {
        "m20261207_000003_platform_audit_log"
    }
}

#[derive(DeriveIden)]
enum AuditLogNodes {
    Table,
    Level,
    NodeIndex,
    Hash,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    TreeSize,
    RootHash,
    SignedAt,
    KeyId,
    PublicKey,
    Signature,
}

#[async_trait::async_trait]
impl MigrationTrait for AuditLog {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(AuditRecords::Table)
                    .add_column(
                        ColumnDef::new(AuditLogColumns::KeyId)
                            .string()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditRecords::Table)
                    .add_column(
                        ColumnDef::new(AuditLogColumns::LogIndex)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_records_log_index")
                    .table(AuditRecords::Table)
                    .col(AuditLogColumns::LogIndex)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditLogNodes::Table)
                    .col(ColumnDef::new(AuditLogNodes::Level).integer().not_null())
                    .col(
                        ColumnDef::new(AuditLogNodes::NodeIndex)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditLogNodes::Hash).string().not_null())
                    .primary_key(
                        Index::create()
                            .col(AuditLogNodes::Level)
                            .col(AuditLogNodes::NodeIndex),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(
                        ColumnDef::new(AuditCheckpoints::TreeSize)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuditCheckpoints::RootHash)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditCheckpoints::SignedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditCheckpoints::KeyId).string().not_null())
                    .col(
                        ColumnDef::new(AuditCheckpoints::PublicKey)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditCheckpoints::Signature)
                            .string()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditCheckpoints::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditLogNodes::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("audit_records_log_index")
                    .table(AuditRecords::Table)
                    .to_owned(),
            )
            .await?;
        for column in [AuditLogColumns::LogIndex, AuditLogColumns::KeyId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditRecords::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuditLogColumns {
    KeyId,
    LogIndex,
}

/// Indexes retention's sweeps read by: what is due is found without a scan.
struct RetentionIndexes;

impl MigrationName for RetentionIndexes {
    fn name(&self) -> &str {
        "m20261207_000004_platform_retention_indexes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for RetentionIndexes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("outbox_events_occurred_at")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_created_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idempotency_keys_created_at")
                    .table(IdempotencyKeys::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("outbox_events_occurred_at")
                    .table(OutboxEvents::Table)
                    .to_owned(),
            )
            .await
    }
}

/// Finds a person's actions in the audit trail without a scan, for a data subject's export.
struct AuditActorIndex;

impl MigrationName for AuditActorIndex {
    fn name(&self) -> &str {
        "m20261207_000005_platform_audit_actor_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AuditActorIndex {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("audit_records_actor")
                    .table(AuditRecords::Table)
                    .col(AuditRecords::Actor)
                    .col(AuditRecords::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("audit_records_actor")
                    .table(AuditRecords::Table)
                    .to_owned(),
            )
            .await
    }
}
