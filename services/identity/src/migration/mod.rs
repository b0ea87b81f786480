//! Identity's schema: the platform's tables, then identity's own.

use sea_orm_migration::prelude::*;

mod m20261123_000002_identity_tables;
mod m20261123_000003_eligibility;

/// Every migration of the identity database, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = kommune_platform::migration::migrations();
        migrations.push(Box::new(m20261123_000002_identity_tables::Migration));
        migrations.push(Box::new(m20261123_000003_eligibility::Migration));
        migrations
    }
}
