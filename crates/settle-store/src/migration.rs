//! Versioned migrations, one code path for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Column choices that keep every backend exact and alike: amounts are VARCHAR(78) holding canonical decimal
//! digits (MySQL's DECIMAL stops at 65 digits, SQLite has no exact wide decimal); times are BIGINT epoch
//! milliseconds (MySQL TIMESTAMP ends in 2038 and defaults to whole seconds).

use sea_orm_migration::prelude::*;

mod m0001_merchants;
mod m0002_payments;
mod m0003_mechanisms;
mod m0004_card_reconcile;
mod m0005_card_hardening;
mod m0006_chain;
mod m0007_commerce;
mod m0008_mysql_binary_collation;
mod m0009_idempotency_owner;
mod m0010_lease_without_token;
mod m0011_outbox_unpublished;
mod m0012_webhooks;
mod m0013_soft_delete;
mod m0014_audit_log;
mod m0015_revoked_keys_index;
mod m0016_idempotency_resource;
mod m0017_cluster_flags;
mod m0018_event_ids;
mod m0019_payment_details;
mod m0020_refunds;
mod m0021_order_cancellations;
mod m0022_late_payment_refunds;
mod m0023_payment_gateway;
mod m0024_fee_returns;
mod m0025_checkout_sessions;
mod m0026_chain_log_payment;
mod m0027_saga_sweep;
mod m0028_dead_letters;

/// All of Settle's migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_merchants::Migration),
            Box::new(m0002_payments::Migration),
            Box::new(m0003_mechanisms::Migration),
            Box::new(m0004_card_reconcile::Migration),
            Box::new(m0005_card_hardening::Migration),
            Box::new(m0006_chain::Migration),
            Box::new(m0007_commerce::Migration),
            Box::new(m0008_mysql_binary_collation::Migration),
            Box::new(m0009_idempotency_owner::Migration),
            Box::new(m0010_lease_without_token::Migration),
            Box::new(m0011_outbox_unpublished::Migration),
            Box::new(m0012_webhooks::Migration),
            Box::new(m0013_soft_delete::Migration),
            Box::new(m0014_audit_log::Migration),
            Box::new(m0015_revoked_keys_index::Migration),
            Box::new(m0016_idempotency_resource::Migration),
            Box::new(m0017_cluster_flags::Migration),
            Box::new(m0018_event_ids::Migration),
            Box::new(m0019_payment_details::Migration),
            Box::new(m0020_refunds::Migration),
            Box::new(m0021_order_cancellations::Migration),
            Box::new(m0022_late_payment_refunds::Migration),
            Box::new(m0023_payment_gateway::Migration),
            Box::new(m0024_fee_returns::Migration),
            Box::new(m0025_checkout_sessions::Migration),
            Box::new(m0026_chain_log_payment::Migration),
            Box::new(m0027_saga_sweep::Migration),
            Box::new(m0028_dead_letters::Migration),
        ]
    }
}

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::StoreError;

/// Applies every pending migration (on SQLite through its writer).
pub async fn up(db: &crate::Db) -> Result<(), StoreError> {
    Ok(Migrator::up(db.writes(), None).await?)
}

/// Rolls back the last `steps` migrations.
pub async fn down(db: &crate::Db, steps: u32) -> Result<(), StoreError> {
    Ok(Migrator::down(db.writes(), Some(steps)).await?)
}

/// Every migration's name and whether it is applied, in order (through the writer: it creates the ledger table
/// when absent).
pub async fn status(db: &crate::Db) -> Result<Vec<(String, bool)>, StoreError> {
    let all = Migrator::get_migration_with_status(db.writes()).await?;
    Ok(all.iter().map(|m| (m.name().to_owned(), m.status() == sea_orm_migration::MigrationStatus::Applied)).collect())
}

/// Names of pending migrations (the server refuses to start with `--no-migrate` while any are).
pub async fn pending(db: &crate::Db) -> Result<Vec<String>, StoreError> {
    Ok(Migrator::get_pending_migrations(db.writes()).await?.iter().map(|m| m.name().to_owned()).collect())
}

/// The database's schema against this build's migrations, read without writing anything (so under a role that may
/// only read, and on a standby): the migrations it has not applied, and those it applied that this build does not
/// know (a newer Settle migrated it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    pub pending: Vec<String>,
    pub unknown: Vec<String>,
}

/// Reads the migration ledger (absent: nothing applied) and compares it with this build's migrations.
pub async fn compare(db: &DatabaseConnection) -> Result<Schema, StoreError> {
    let applied = if tables(db).await?.iter().any(|t| t == LEDGER) { crate::schema::applied_migrations(db).await? } else { Vec::new() };
    let known = names();
    Ok(Schema {
        pending: known.iter().filter(|n| !applied.contains(n)).cloned().collect(),
        unknown: applied.into_iter().filter(|n| !known.contains(n)).collect(),
    })
}

/// The table where the applied migrations are recorded.
const LEDGER: &str = "seaql_migrations";

/// The tables of the current database/schema, sorted.
pub async fn tables(db: &DatabaseConnection) -> Result<Vec<String>, StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        DbBackend::Postgres => "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()",
        _ => "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()",
    };
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await?;
    let mut names: Vec<String> = rows.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()).collect();
    names.sort();
    Ok(names)
}

/// The name of the last migration this build knows (a backup's schema version).
pub fn head() -> String {
    Migrator::migrations().last().map(|m| m.name().to_owned()).unwrap_or_default()
}

/// Every migration this build knows, in order.
pub fn names() -> Vec<String> {
    Migrator::migrations().iter().map(|m| m.name().to_owned()).collect()
}
