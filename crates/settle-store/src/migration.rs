//! Versioned migrations, one code path for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Column choices that keep every backend exact and alike: amounts are VARCHAR(78) holding canonical decimal
//! digits (MySQL's DECIMAL stops at 65 digits, SQLite has no exact wide decimal); times are BIGINT epoch
//! milliseconds (MySQL TIMESTAMP ends in 2038 and defaults to whole seconds).

use sea_orm_migration::prelude::*;

mod m0001_merchants;
mod m0002_payments;
mod m0003_mechanisms;

/// All of Settle's migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_merchants::Migration),
            Box::new(m0002_payments::Migration),
            Box::new(m0003_mechanisms::Migration),
        ]
    }
}
