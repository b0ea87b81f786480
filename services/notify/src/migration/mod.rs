//! The notify schema: the platform's tables, then the service's own.

use sea_orm_migration::prelude::*;

mod m20261123_000040_notify_tables;
mod m20261205_000050_feed_entry_systems;
mod m20261207_000060_mail_threads;
mod m20261207_000070_retention_indexes;

/// Every migration of the notify database, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = kommune_platform::migration::migrations();
        migrations.push(Box::new(m20261123_000040_notify_tables::Migration));
        migrations.push(Box::new(m20261205_000050_feed_entry_systems::Migration));
        migrations.push(Box::new(m20261207_000060_mail_threads::Migration));
        migrations.push(Box::new(m20261207_000070_retention_indexes::Migration));
        migrations
    }
}
