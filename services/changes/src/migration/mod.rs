//! The changes schema: the platform's tables, then the service's own.

use sea_orm_migration::prelude::*;

mod m20261123_000030_changes_tables;
mod m20261123_000050_publications;
mod m20261205_000060_publication_facets;
mod m20261205_000070_publication_search;

/// Every migration of the changes database, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = kommune_platform::migration::migrations();
        migrations.push(Box::new(m20261123_000030_changes_tables::Migration));
        migrations.push(Box::new(m20261123_000050_publications::Migration));
        migrations.push(Box::new(m20261205_000060_publication_facets::Migration));
        migrations.push(Box::new(m20261205_000070_publication_search::Migration));
        migrations
    }
}
