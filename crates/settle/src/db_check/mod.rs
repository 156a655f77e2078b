//! `settle db check`: the database Settle is pointed at, checked against what Settle expects of it.
//!
//! - Migrations: none pending, none unknown to this build.
//! - Drift: the live schema (tables, columns with their types and nullability, primary keys, indexes) against a
//!   reference built by running this build's migrations on a throwaway database of the same backend (a temporary
//!   schema on PostgreSQL, a temporary database on MySQL, a temporary file for SQLite), dropped afterwards.
//! - Seed idempotency: the demo seed run twice on the reference changes nothing the second time.
//! - Indexes: every lookup the store makes has an index whose leading columns it uses; no index duplicates
//!   another; indexes PostgreSQL has never used (a note: only a long-running database can tell).
//! - Tables without a primary key; sessions holding a transaction open for more than a minute.
//!
//! Findings carry stable rule ids and the source file they concern (the migration that creates the table, the
//! store module that runs the query), and print as text, JSON or SARIF 2.1.0.
//!
//! The pieces: `rules` (the rule ids), `report` (findings, and the report as text or SARIF), `sources` (the files
//! findings point into), `reference` (the throwaway database, and the seed run twice on it), `drift`, `indexes`,
//! and `workload` (scripted requests, and the N+1 patterns and loose writes their statements show).

mod drift;
mod indexes;
mod reference;
mod report;
mod rules;
mod sources;
mod workload;

pub use report::{Finding, Report, Summary, sarif, text};
pub use rules::{Level, RULES, Rule};

use drift::drift;
use reference::{Reference, seed_twice};
use sources::line_of;
use workload::{statements, workload};

use crate::Config;

/// Runs every check on the configured database; a transaction open longer than `long_transaction_secs` is reported.
pub async fn run(cfg: &Config, long_transaction_secs: i64) -> anyhow::Result<Report> {
    let db = crate::startup::open_database(cfg).await?;
    let backend = match db.get_database_backend() {
        settle_store::DbBackend::Postgres => "postgres",
        settle_store::DbBackend::MySql => "mysql",
        _ => "sqlite",
    };
    let mut report = Report { backend: backend.to_owned(), findings: Vec::new(), summary: Summary::default() };
    let migration_file = "crates/settle-store/src/migration.rs";

    // Migrations.
    let known = settle_store::migration::names();
    let applied = settle_store::schema::applied_migrations(db.pool()).await.unwrap_or_default();
    for m in known.iter().filter(|m| !applied.contains(m)) {
        report.push(
            "SETTLE001",
            format!("migration {m} is not applied; run `settle migrate up`"),
            (migration_file, line_of(migration_file, &format!("{m}::Migration"))),
        );
    }
    for m in applied.iter().filter(|m| !known.contains(m)) {
        report.push(
            "SETTLE002",
            format!("the database records migration {m}, which this Settle does not know (a newer version migrated it?)"),
            (migration_file, None),
        );
    }

    let live = settle_store::schema::read(db.pool()).await?;
    report.summary.tables = live.tables.len();

    // Drift, against this build's migrations applied to a throwaway database; the seed checked there too. A role
    // that may only read cannot make one on the live server: the rest is checked, and the report says what was not.
    match Reference::create(cfg, &db).await {
        Ok(reference) => {
            let outcome = async {
                settle_store::migration::up(&reference.db).await?;
                let expected = settle_store::schema::read(reference.db.pool()).await?;
                // Boxed, as `settle`'s commands are: a whole server nested in this future made it too deep to lay out.
                let seed = Box::pin(seed_twice(&reference.db)).await?;
                let traces = Box::pin(workload(cfg, &reference.url)).await?;
                anyhow::Ok((expected, seed, traces))
            }
            .await;
            reference.drop().await;
            let (expected, seed, traces) = outcome?;
            report.summary.requests = traces.len();
            report.summary.statements = traces.iter().map(|t| t.statements.len()).sum();
            statements(&mut report, &traces);
            // Whatever else was found (a request's N+1, a migration a newer Settle applied): only a database missing
            // some of this build's migrations has a drift that means nothing.
            if known.iter().all(|m| applied.contains(m)) {
                drift(&mut report, &expected, &live);
            }
            for t in seed {
                report.push(
                    "SETTLE011",
                    format!("seeding the demo data a second time changed table {t}"),
                    ("crates/settle-app/src/merchants.rs", line_of("crates/settle-app/src/merchants.rs", "pub async fn seed_demo")),
                );
            }
        }
        // A reference the operator named and that fails is an error, not a check quietly made smaller.
        Err(e) if cfg.db_check_reference_url.is_some() => return Err(e),
        Err(e) => report.push(
            "SETTLE014",
            format!(
                "drift, the seed and the workload were not checked: no reference database could be made ({e:#}); for a role that may \
                 only read, set SETTLE_DB_CHECK_REFERENCE_URL to one that may create a schema (PostgreSQL) or a database (MySQL)"
            ),
            (migration_file, None),
        ),
    }

    // Keys and indexes.
    indexes::check(&mut report, &live, &db).await?;
    for s in settle_store::schema::long_sessions(db.pool(), long_transaction_secs).await? {
        report.push(
            "SETTLE010",
            format!("session {} has held a transaction open for {} s ({}): {}", s.id, s.seconds, s.state, s.query),
            (migration_file, None),
        );
    }
    report.findings.sort_by(|a, b| a.level.cmp(&b.level).then(a.rule_id.cmp(b.rule_id)).then(a.message.cmp(&b.message)));
    report.summary.errors = report.errors();
    report.summary.warnings = report.findings.iter().filter(|f| f.level == Level::Warning).count();
    report.summary.notes = report.findings.iter().filter(|f| f.level == Level::Note).count();
    db.close().await?;
    Ok(report)
}
