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
mod m0029_migration_compatibility;

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
            Box::new(m0029_migration_compatibility::Migration),
        ]
    }
}

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::StoreError;

/// Whether the release before the one that added each migration runs on a database that has it: true for an
/// expand step (a new table, a nullable column, an index: what the previous release does not know it ignores),
/// false for a contract step (a column dropped or renamed, a constraint the previous release's writes may break).
/// Every migration is listed (a test holds it to [`names`]); a new one says which it is. Migrations older than
/// this record are marked false: no release before it reads the record.
const PREVIOUS_RELEASE_RUNS: &[(&str, bool)] = &[
    ("m0001_merchants", false),
    ("m0002_payments", false),
    ("m0003_mechanisms", false),
    ("m0004_card_reconcile", false),
    ("m0005_card_hardening", false),
    ("m0006_chain", false),
    ("m0007_commerce", false),
    ("m0008_mysql_binary_collation", false),
    ("m0009_idempotency_owner", false),
    ("m0010_lease_without_token", false),
    ("m0011_outbox_unpublished", false),
    ("m0012_webhooks", false),
    ("m0013_soft_delete", false),
    ("m0014_audit_log", false),
    ("m0015_revoked_keys_index", false),
    ("m0016_idempotency_resource", false),
    ("m0017_cluster_flags", false),
    ("m0018_event_ids", false),
    ("m0019_payment_details", false),
    ("m0020_refunds", false),
    ("m0021_order_cancellations", false),
    ("m0022_late_payment_refunds", false),
    ("m0023_payment_gateway", false),
    ("m0024_fee_returns", false),
    ("m0025_checkout_sessions", false),
    ("m0026_chain_log_payment", false),
    ("m0027_saga_sweep", false),
    ("m0028_dead_letters", false),
    ("m0029_migration_compatibility", true),
];

/// Each migration this build knows, with whether the previous release runs on it ([`PREVIOUS_RELEASE_RUNS`]).
pub fn compatibility() -> &'static [(&'static str, bool)] {
    PREVIOUS_RELEASE_RUNS
}

/// The table where [`PREVIOUS_RELEASE_RUNS`] is recorded for the migrations applied.
const COMPATIBILITY: &str = "migration_compatibility";

/// Applies every pending migration (on SQLite through its writer), and records for each whether the previous
/// release runs on it. Refused, with nothing applied, when a newer Settle migrated the database ([`ahead`]).
pub async fn up(db: &crate::Db) -> Result<(), StoreError> {
    let schema = compare(db.pool()).await?;
    if !schema.unknown.is_empty() {
        return Err(StoreError::Db(DbErr::Custom(format!(
            "the database was migrated by a newer Settle (migrations {} are unknown to this one); migrate it with that Settle",
            schema.unknown.join(", ")
        ))));
    }
    Migrator::up(db.writes(), None).await?;
    record_compatibility(db).await
}

/// Writes [`PREVIOUS_RELEASE_RUNS`] for the applied migrations not yet recorded.
async fn record_compatibility(db: &crate::Db) -> Result<(), StoreError> {
    let conn = db.writes();
    let backend = conn.get_database_backend();
    let recorded: Vec<String> = {
        let sql = format!("SELECT version FROM {COMPATIBILITY}");
        let rows = conn.query_all_raw(Statement::from_string(backend, sql)).await?;
        rows.iter().map(|r| r.try_get_by_index::<String>(0)).collect::<Result<_, _>>()?
    };
    let missing: Vec<&(&str, bool)> = PREVIOUS_RELEASE_RUNS.iter().filter(|(n, _)| !recorded.iter().any(|r| r == n)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut q = sea_orm::sea_query::Query::insert();
    q.into_table(sea_orm::sea_query::Alias::new(COMPATIBILITY))
        .columns([sea_orm::sea_query::Alias::new("version"), sea_orm::sea_query::Alias::new("previous_release_runs")]);
    for (name, runs) in missing {
        q.values_panic([(*name).into(), (*runs).into()]);
    }
    conn.execute_raw(backend.build(&q)).await?;
    Ok(())
}

/// A database a newer Settle migrated, as this build finds it ([`ahead`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ahead {
    /// Every migration applied is one this build knows.
    No,
    /// Migrations this build does not know, each marked as one the previous release runs on: this build may serve
    /// (it applies no migration).
    Compatible(Vec<String>),
    /// Migrations this build does not know, and those of them not marked so (or not recorded at all).
    Incompatible { unknown: Vec<String>, blocking: Vec<String> },
}

/// Whether a newer Settle migrated the database, and whether this build may run on it (read only).
pub async fn ahead(db: &DatabaseConnection) -> Result<Ahead, StoreError> {
    let schema = compare(db).await?;
    if schema.unknown.is_empty() {
        return Ok(Ahead::No);
    }
    let runs: Vec<String> = if tables(db).await?.iter().any(|t| t == COMPATIBILITY) {
        let backend = db.get_database_backend();
        let sql = format!("SELECT version FROM {COMPATIBILITY} WHERE previous_release_runs = $1");
        let sql = if backend == DbBackend::Postgres { sql } else { sql.replace("$1", "?") };
        let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [true.into()])).await?;
        rows.iter().map(|r| r.try_get_by_index::<String>(0)).collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let blocking: Vec<String> = schema.unknown.iter().filter(|u| !runs.contains(u)).cloned().collect();
    Ok(if blocking.is_empty() { Ahead::Compatible(schema.unknown) } else { Ahead::Incompatible { unknown: schema.unknown, blocking } })
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
