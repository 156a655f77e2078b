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

/// For each migration, the oldest build that runs on a database that has it, named by that build's last migration:
/// for an expand step (a new table, a nullable column, an index: what an older build does not know it ignores) the
/// last migration of the release before the one that adds it, or an older one; for a contract step (a column dropped
/// or renamed, a constraint an older build's writes may break) the migration itself, so only builds that know it run.
/// A build runs on a database whose every migration it does not know names a build no newer than itself ([`ahead`]).
/// Every migration is listed (a test holds it to [`names`]); migrations older than this record name themselves.
const RUNS_FROM: &[(&str, &str)] = &[
    ("m0001_merchants", "m0001_merchants"),
    ("m0002_payments", "m0002_payments"),
    ("m0003_mechanisms", "m0003_mechanisms"),
    ("m0004_card_reconcile", "m0004_card_reconcile"),
    ("m0005_card_hardening", "m0005_card_hardening"),
    ("m0006_chain", "m0006_chain"),
    ("m0007_commerce", "m0007_commerce"),
    ("m0008_mysql_binary_collation", "m0008_mysql_binary_collation"),
    ("m0009_idempotency_owner", "m0009_idempotency_owner"),
    ("m0010_lease_without_token", "m0010_lease_without_token"),
    ("m0011_outbox_unpublished", "m0011_outbox_unpublished"),
    ("m0012_webhooks", "m0012_webhooks"),
    ("m0013_soft_delete", "m0013_soft_delete"),
    ("m0014_audit_log", "m0014_audit_log"),
    ("m0015_revoked_keys_index", "m0015_revoked_keys_index"),
    ("m0016_idempotency_resource", "m0016_idempotency_resource"),
    ("m0017_cluster_flags", "m0017_cluster_flags"),
    ("m0018_event_ids", "m0018_event_ids"),
    ("m0019_payment_details", "m0019_payment_details"),
    ("m0020_refunds", "m0020_refunds"),
    ("m0021_order_cancellations", "m0021_order_cancellations"),
    ("m0022_late_payment_refunds", "m0022_late_payment_refunds"),
    ("m0023_payment_gateway", "m0023_payment_gateway"),
    ("m0024_fee_returns", "m0024_fee_returns"),
    ("m0025_checkout_sessions", "m0025_checkout_sessions"),
    ("m0026_chain_log_payment", "m0026_chain_log_payment"),
    ("m0027_saga_sweep", "m0027_saga_sweep"),
    ("m0028_dead_letters", "m0028_dead_letters"),
    ("m0029_migration_compatibility", "m0028_dead_letters"),
];

/// Each migration this build knows, with the oldest build that runs on it ([`RUNS_FROM`]).
pub fn compatibility() -> &'static [(&'static str, &'static str)] {
    RUNS_FROM
}

/// The table where [`RUNS_FROM`] is recorded for the migrations applied.
const COMPATIBILITY: &str = "migration_compatibility";

/// Applies every pending migration (on SQLite through its writer), and records for each whether the previous
/// build runs on it. Refused, with nothing applied, when a newer Settle migrated the database ([`ahead`]).
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

/// Writes [`RUNS_FROM`] for the applied migrations not yet recorded. Two instances migrating at once may both write
/// a row: the second's duplicate is the same row, and is taken as written.
async fn record_compatibility(db: &crate::Db) -> Result<(), StoreError> {
    let conn = db.writes();
    let backend = conn.get_database_backend();
    let recorded: Vec<String> = {
        let sql = format!("SELECT version FROM {COMPATIBILITY}");
        let rows = conn.query_all_raw(Statement::from_string(backend, sql)).await?;
        rows.iter().map(|r| r.try_get_by_index::<String>(0)).collect::<Result<_, _>>()?
    };
    for (name, runs_from) in RUNS_FROM.iter().filter(|(n, _)| !recorded.iter().any(|r| r == n)) {
        let mut q = sea_orm::sea_query::Query::insert();
        q.into_table(sea_orm::sea_query::Alias::new(COMPATIBILITY))
            .columns([sea_orm::sea_query::Alias::new("version"), sea_orm::sea_query::Alias::new("runs_from")])
            .values_panic([(*name).into(), (*runs_from).into()]);
        match conn.execute_raw(backend.build(&q)).await.map_err(StoreError::from) {
            Ok(_) | Err(StoreError::Unique(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A database a newer Settle migrated, as this build finds it ([`ahead`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ahead {
    /// Every migration applied is one this build knows.
    No,
    /// Migrations this build does not know, each naming a build no newer than this one as the oldest that runs on
    /// it: this build may serve (it applies no migration).
    Compatible(Vec<String>),
    /// Migrations this build does not know, and those of them only newer builds run on (or not recorded at all).
    Incompatible { unknown: Vec<String>, blocking: Vec<String> },
}

/// Whether a newer Settle migrated the database, and whether this build may run on it (read only): it may when every
/// migration it does not know names, as the oldest build that runs on it, one no newer than this build's last.
pub async fn ahead(db: &DatabaseConnection) -> Result<Ahead, StoreError> {
    let schema = compare(db).await?;
    if schema.unknown.is_empty() {
        return Ok(Ahead::No);
    }
    let recorded: Vec<(String, String)> = if tables(db).await?.iter().any(|t| t == COMPATIBILITY) {
        let sql = format!("SELECT version, runs_from FROM {COMPATIBILITY}");
        let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
        rows.iter().map(|r| Ok((r.try_get_by_index::<String>(0)?, r.try_get_by_index::<String>(1)?))).collect::<Result<_, StoreError>>()?
    } else {
        Vec::new()
    };
    let own = head();
    // Migration names sort in their order (m0001_..., m0002_...).
    let runs = |u: &String| recorded.iter().any(|(v, from)| v == u && from.as_str() <= own.as_str());
    let blocking: Vec<String> = schema.unknown.iter().filter(|u| !runs(u)).cloned().collect();
    Ok(if blocking.is_empty() { Ahead::Compatible(schema.unknown) } else { Ahead::Incompatible { unknown: schema.unknown, blocking } })
}

/// Rolls back the last `steps` migrations; refused when a newer Settle migrated the database (roll back with it).
pub async fn down(db: &crate::Db, steps: u32) -> Result<(), StoreError> {
    let schema = compare(db.pool()).await?;
    if !schema.unknown.is_empty() {
        return Err(StoreError::Db(DbErr::Custom(format!(
            "the database was migrated by a newer Settle (migrations {} are unknown to this one); roll it back with that Settle",
            schema.unknown.join(", ")
        ))));
    }
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
