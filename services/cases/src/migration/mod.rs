//! The cases schema: the platform's tables, then the service's own.

use sea_orm_migration::prelude::*;

mod m20261123_000020_cases_tables;
mod m20261123_000030_incidents;
mod m20261204_000040_report_indexes;
mod m20261205_000050_stored_symptoms;
mod m20261205_000060_message_updates;
mod m20261205_000070_reports_by_number;
mod m20261205_000080_open_case_indexes;
mod m20261206_000090_one_system_time_index;
mod m20261206_000100_case_number_sequence;
mod m20261206_000110_case_handlers;
mod m20261206_000120_known_issues;
mod m20261206_000130_eligibility_requests;
mod m20261206_000140_case_ratings;
mod m20261206_000150_surveys;
mod m20261207_000160_desk_report_indexes;
mod m20261207_000170_supplier_mails;
mod m20261207_000180_held_mails;
mod m20261207_000190_case_citations;
mod m20261207_000200_personal_id_erasure;
mod m20261207_000210_retention_indexes;
mod m20261207_000220_filings_by_system;

/// Every migration of the cases database, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut migrations = kommune_platform::migration::migrations();
        migrations.push(Box::new(m20261123_000020_cases_tables::Migration));
        migrations.push(Box::new(m20261123_000030_incidents::Migration));
        migrations.push(Box::new(m20261204_000040_report_indexes::Migration));
        migrations.push(Box::new(m20261205_000050_stored_symptoms::Migration));
        migrations.push(Box::new(m20261205_000060_message_updates::Migration));
        migrations.push(Box::new(m20261205_000070_reports_by_number::Migration));
        migrations.push(Box::new(m20261205_000080_open_case_indexes::Migration));
        migrations.push(Box::new(m20261206_000090_one_system_time_index::Migration));
        migrations.push(Box::new(m20261206_000100_case_number_sequence::Migration));
        migrations.push(Box::new(m20261206_000110_case_handlers::Migration));
        migrations.push(Box::new(m20261206_000120_known_issues::Migration));
        migrations.push(Box::new(m20261206_000130_eligibility_requests::Migration));
        migrations.push(Box::new(m20261206_000140_case_ratings::Migration));
        migrations.push(Box::new(m20261206_000150_surveys::Migration));
        migrations.push(Box::new(m20261207_000160_desk_report_indexes::Migration));
        migrations.push(Box::new(m20261207_000170_supplier_mails::Migration));
        migrations.push(Box::new(m20261207_000180_held_mails::Migration));
        migrations.push(Box::new(m20261207_000190_case_citations::Migration));
        migrations.push(Box::new(m20261207_000200_personal_id_erasure::Migration));
        migrations.push(Box::new(m20261207_000210_retention_indexes::Migration));
        migrations.push(Box::new(m20261207_000220_filings_by_system::Migration));
        migrations
    }
}
