//! The catalogue's schema: the platform's tables, then the catalogue's own.

use sea_orm_migration::prelude::*;

mod m20261207_000010_catalogue_tables;
mod m20261207_000020_invoicing;
mod m20261207_000030_extra_users;
mod m20261207_000040_order_attachments;
mod m20261207_000050_orders_by_orderer;

/// Every migration of the catalogue database, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = kommune_platform::migration::migrations();
        migrations.push(Box::new(m20261207_000010_catalogue_tables::Migration));
        migrations.push(Box::new(m20261207_000020_invoicing::Migration));
        migrations.push(Box::new(m20261207_000030_extra_users::Migration));
        migrations.push(Box::new(m20261207_000040_order_attachments::Migration));
        migrations.push(Box::new(m20261207_000050_orders_by_orderer::Migration));
        migrations
    }
}
