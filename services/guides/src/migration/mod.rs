//! The guides' schema: the platform's tables, then the guides' own.

use sea_orm_migration::prelude::*;

mod m20261207_000010_guides_tables;
mod m20261207_000020_retention_indexes;

/// Every migration of the guides database, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = kommune_platform::migration::migrations();
        migrations.push(Box::new(m20261207_000010_guides_tables::Migration));
        migrations.push(Box::new(m20261207_000020_retention_indexes::Migration));
        migrations
    }
}
