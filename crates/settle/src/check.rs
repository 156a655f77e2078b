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

use std::collections::BTreeMap;

use serde::Serialize;
use settle_store::schema::{Schema, TableInfo};

use crate::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// A check, with its stable id.
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub level: Level,
}

pub const RULES: &[Rule] = &[
    Rule { id: "SETTLE001", name: "MigrationPending", description: "A migration this Settle knows has not been applied.", level: Level::Error },
    Rule {
        id: "SETTLE002",
        name: "MigrationUnknown",
        description: "The database records a migration this Settle does not know.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE003",
        name: "TableDrift",
        description: "A table the migrations create is missing, or the database has one they do not.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE004",
        name: "ColumnDrift",
        description: "A column is missing, extra, or differs in type or nullability from what the migrations declare.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE005",
        name: "IndexDrift",
        description: "An index is missing, extra, or differs in columns or uniqueness from what the migrations declare.",
        level: Level::Error,
    },
    Rule { id: "SETTLE006", name: "TableWithoutPrimaryKey", description: "A table has no primary key.", level: Level::Error },
    Rule {
        id: "SETTLE007",
        name: "QueryWithoutIndex",
        description: "A lookup the store makes has no index with those leading columns.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE008",
        name: "DuplicateIndex",
        description: "An index has the same leading columns as another and adds nothing.",
        level: Level::Warning,
    },
    Rule {
        id: "SETTLE009",
        name: "UnusedIndex",
        description: "PostgreSQL has never used this index since its statistics were reset.",
        level: Level::Note,
    },
    Rule {
        id: "SETTLE010",
        name: "LongTransaction",
        description: "A session has held a transaction open too long (more than a minute by default).",
        level: Level::Warning,
    },
    Rule {
        id: "SETTLE011",
        name: "SeedNotIdempotent",
        description: "Running the demo seed a second time changed the database.",
        level: Level::Error,
    },
    Rule {
        id: "SETTLE012",
        name: "RepeatedStatement",
        description: "A request ran the same statement many times (an N+1 query pattern).",
        level: Level::Warning,
    },
    Rule {
        id: "SETTLE013",
        name: "WritesOutsideTransaction",
        description: "A request made several writes outside a transaction: a failure between them leaves half a change.",
        level: Level::Error,
    },
];

fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).expect("a known rule")
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule_id: &'static str,
    pub level: Level,
    pub message: String,
    /// The repository file the finding concerns.
    pub file: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// The sources findings point into, embedded so that a line can be named without the repository at hand.
const SOURCES: &[(&str, &str)] = &[
    ("crates/settle-store/src/migration.rs", include_str!("../../settle-store/src/migration.rs")),
    ("crates/settle-store/src/migration/m0001_merchants.rs", include_str!("../../settle-store/src/migration/m0001_merchants.rs")),
    ("crates/settle-store/src/migration/m0002_payments.rs", include_str!("../../settle-store/src/migration/m0002_payments.rs")),
    ("crates/settle-store/src/migration/m0003_mechanisms.rs", include_str!("../../settle-store/src/migration/m0003_mechanisms.rs")),
    ("crates/settle-store/src/migration/m0005_card_hardening.rs", include_str!("../../settle-store/src/migration/m0005_card_hardening.rs")),
    ("crates/settle-store/src/migration/m0006_chain.rs", include_str!("../../settle-store/src/migration/m0006_chain.rs")),
    ("crates/settle-store/src/migration/m0007_commerce.rs", include_str!("../../settle-store/src/migration/m0007_commerce.rs")),
    ("crates/settle-store/src/migration/m0012_webhooks.rs", include_str!("../../settle-store/src/migration/m0012_webhooks.rs")),
    ("crates/settle-store/src/migration/m0014_audit_log.rs", include_str!("../../settle-store/src/migration/m0014_audit_log.rs")),
    ("crates/settle-store/src/migration/m0017_cluster_flags.rs", include_str!("../../settle-store/src/migration/m0017_cluster_flags.rs")),
    ("crates/settle-store/src/merchants.rs", include_str!("../../settle-store/src/merchants.rs")),
    ("crates/settle-store/src/payments.rs", include_str!("../../settle-store/src/payments.rs")),
    ("crates/settle-store/src/idempotency.rs", include_str!("../../settle-store/src/idempotency.rs")),
    ("crates/settle-store/src/outbox.rs", include_str!("../../settle-store/src/outbox.rs")),
    ("crates/settle-store/src/leases.rs", include_str!("../../settle-store/src/leases.rs")),
    ("crates/settle-store/src/flags.rs", include_str!("../../settle-store/src/flags.rs")),
    ("crates/settle-store/src/voids.rs", include_str!("../../settle-store/src/voids.rs")),
    ("crates/settle-store/src/relay.rs", include_str!("../../settle-store/src/relay.rs")),
    ("crates/settle-store/src/chain.rs", include_str!("../../settle-store/src/chain.rs")),
    ("crates/settle-store/src/shop.rs", include_str!("../../settle-store/src/shop.rs")),
    ("crates/settle-store/src/orders.rs", include_str!("../../settle-store/src/orders.rs")),
    ("crates/settle-store/src/webhooks.rs", include_str!("../../settle-store/src/webhooks.rs")),
    ("crates/settle-store/src/audit.rs", include_str!("../../settle-store/src/audit.rs")),
    ("crates/settle-app/src/merchants.rs", include_str!("../../settle-app/src/merchants.rs")),
];

/// The first line of `file` that contains `needle` (1-based).
fn line_of(file: &str, needle: &str) -> Option<usize> {
    let (_, text) = SOURCES.iter().find(|(f, _)| *f == file)?;
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The migration that creates each table.
const CREATED_BY: &[(&str, &str)] = &[
    ("merchants", "m0001_merchants"),
    ("api_keys", "m0001_merchants"),
    ("payments", "m0002_payments"),
    ("payment_events", "m0002_payments"),
    ("relay_requests", "m0002_payments"),
    ("idempotency_keys", "m0003_mechanisms"),
    ("outbox", "m0003_mechanisms"),
    ("leases", "m0003_mechanisms"),
    ("gateway_voids", "m0005_card_hardening"),
    ("relay_txs", "m0006_chain"),
    ("relayer_nonces", "m0006_chain"),
    ("chain_cursors", "m0006_chain"),
    ("chain_blocks", "m0006_chain"),
    ("chain_logs", "m0006_chain"),
    ("shop_users", "m0007_commerce"),
    ("items", "m0007_commerce"),
    ("coupons", "m0007_commerce"),
    ("issued_coupons", "m0007_commerce"),
    ("orders", "m0007_commerce"),
    ("order_items", "m0007_commerce"),
    ("saga_states", "m0007_commerce"),
    ("saga_step_results", "m0007_commerce"),
    ("transaction_logs", "m0007_commerce"),
    ("notifications", "m0007_commerce"),
    ("inbox", "m0007_commerce"),
    ("consumer_offsets", "m0007_commerce"),
    ("webhook_endpoints", "m0012_webhooks"),
    ("webhook_deliveries", "m0012_webhooks"),
    ("webhook_attempts", "m0012_webhooks"),
    ("audit_log", "m0014_audit_log"),
    ("cluster_flags", "m0017_cluster_flags"),
];

/// Where a table's definition is: its migration file and the line that names it.
fn table_location(table: &str) -> (&'static str, Option<usize>) {
    let Some((_, m)) = CREATED_BY.iter().find(|(t, _)| *t == table) else { return ("crates/settle-store/src/migration.rs", None) };
    let file = SOURCES.iter().map(|(f, _)| *f).find(|f| f.ends_with(&format!("{m}.rs"))).unwrap_or("crates/settle-store/src/migration.rs");
    (file, line_of(file, &format!("\"{table}\"")))
}

/// The lookups the store makes: a table, the columns its WHERE (or ORDER BY) leads with, and where it is made
/// (a file and a string on the line). Each needs an index (or the primary key) that begins with those columns.
const LOOKUPS: &[(&str, &[&str], &str, &str)] = &[
    ("merchants", &["merchant_id"], "crates/settle-store/src/merchants.rs", "Column::MerchantId.eq(merchant_id)"),
    ("api_keys", &["key_hash"], "crates/settle-store/src/merchants.rs", "Column::KeyHash.eq(key_hash)"),
    ("api_keys", &["merchant_id"], "crates/settle-store/src/merchants.rs", "api_key::Column::MerchantId.eq(merchant_id)"),
    ("api_keys", &["revoked_at"], "crates/settle-store/src/merchants.rs", "Column::RevokedAt.lt(before)"),
    ("payments", &["payment_id"], "crates/settle-store/src/payments.rs", "Column::PaymentId.eq("),
    ("payments", &["merchant_id", "order_id"], "crates/settle-store/src/payments.rs", "Column::OrderId.eq("),
    ("payments", &["merchant_id", "id"], "crates/settle-store/src/payments.rs", "Column::MerchantId.eq("),
    ("payments", &["status"], "crates/settle-store/src/payments.rs", "Column::Status.eq("),
    ("payments", &["external_payment_key"], "crates/settle-store/src/payments.rs", "Column::ExternalPaymentKey"),
    ("payment_events", &["payment_id"], "crates/settle-store/src/payments.rs", "payment_event::Column::PaymentId"),
    ("idempotency_keys", &["merchant_id", "idem_key"], "crates/settle-store/src/idempotency.rs", "Column::IdemKey.eq("),
    ("idempotency_keys", &["expires_at"], "crates/settle-store/src/idempotency.rs", "Column::ExpiresAt"),
    ("outbox", &["seq"], "crates/settle-store/src/outbox.rs", "Column::Seq.gt(after_seq)"),
    ("outbox", &["merchant_id", "seq"], "crates/settle-store/src/outbox.rs", "Column::MerchantId.eq(merchant_id)"),
    ("outbox", &["event_id"], "crates/settle-store/src/outbox.rs", "Column::EventId.eq("),
    ("outbox", &["published_at"], "crates/settle-store/src/outbox.rs", "Column::PublishedAt.gte(since)"),
    ("leases", &["name"], "crates/settle-store/src/leases.rs", "name"),
    ("cluster_flags", &["name"], "crates/settle-store/src/flags.rs", "Column::Name.eq(name)"),
    ("gateway_voids", &["status", "next_attempt_at"], "crates/settle-store/src/voids.rs", "Column::Status"),
    ("relay_requests", &["relay_request_id"], "crates/settle-store/src/relay.rs", "Column::RelayRequestId"),
    ("relay_requests", &["chain_id", "status"], "crates/settle-store/src/relay.rs", "Column::Status"),
    ("relay_txs", &["chain_id", "relayer", "nonce"], "crates/settle-store/src/relay.rs", "Column::Nonce"),
    ("relayer_nonces", &["chain_id", "relayer"], "crates/settle-store/src/relay.rs", "Column::Relayer"),
    ("chain_blocks", &["chain_id", "number"], "crates/settle-store/src/chain.rs", "Column::Number"),
    ("chain_logs", &["chain_id", "block_number"], "crates/settle-store/src/chain.rs", "Column::ChainId"),
    ("shop_users", &["merchant_id", "user_id"], "crates/settle-store/src/shop.rs", "Column::UserId"),
    ("items", &["merchant_id", "item_id"], "crates/settle-store/src/shop.rs", "Column::ItemId"),
    ("coupons", &["merchant_id", "coupon_id"], "crates/settle-store/src/shop.rs", "Column::CouponId"),
    ("saga_states", &["saga_id"], "crates/settle-store/src/orders.rs", "Column::SagaId"),
    ("saga_step_results", &["saga_id"], "crates/settle-store/src/orders.rs", "saga_step_result::Column::SagaId"),
    ("webhook_endpoints", &["endpoint_id"], "crates/settle-store/src/webhooks.rs", "Column::EndpointId.eq("),
    ("webhook_endpoints", &["merchant_id"], "crates/settle-store/src/webhooks.rs", "webhook_endpoint::Column::MerchantId.eq("),
    ("webhook_deliveries", &["delivery_id"], "crates/settle-store/src/webhooks.rs", "Column::DeliveryId.eq("),
    ("webhook_deliveries", &["status", "next_attempt_at"], "crates/settle-store/src/webhooks.rs", "Column::NextAttemptAt"),
    ("webhook_deliveries", &["endpoint_id", "id"], "crates/settle-store/src/webhooks.rs", "webhook_delivery::Column::EndpointId.eq("),
    ("webhook_attempts", &["delivery_id"], "crates/settle-store/src/webhooks.rs", "webhook_attempt::Column::DeliveryId"),
    ("audit_log", &["merchant_id", "id"], "crates/settle-store/src/audit.rs", "Column::MerchantId.eq(merchant_id)"),
    ("audit_log", &["created_at"], "crates/settle-store/src/audit.rs", "Column::CreatedAt.lt(before)"),
];

/// What a check found, with what it looked at.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub backend: String,
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Requests the scripted workload made, and the statements they ran.
    pub requests: usize,
    pub statements: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub tables: usize,
}

impl Report {
    fn push(&mut self, id: &'static str, message: String, (file, line): (&'static str, Option<usize>)) {
        let r = rule(id);
        self.findings.push(Finding { rule_id: r.id, level: r.level, message, file, line });
    }

    fn push_level(&mut self, id: &'static str, level: Level, message: String, (file, line): (&'static str, Option<usize>)) {
        self.findings.push(Finding { rule_id: rule(id).id, level, message, file, line });
    }

    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.level == Level::Error).count()
    }
}

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

    // Drift, against this build's migrations applied to a throwaway database; the seed checked there too.
    let reference = Reference::create(cfg, &db).await?;
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
    if applied.len() == known.len() && report.findings.is_empty() {
        drift(&mut report, &expected, &live);
    }
    for t in seed {
        report.push(
            "SETTLE011",
            format!("seeding the demo data a second time changed table {t}"),
            ("crates/settle-app/src/merchants.rs", line_of("crates/settle-app/src/merchants.rs", "pub async fn seed_demo")),
        );
    }

    // Keys and indexes.
    for (name, t) in &live.tables {
        if t.primary_key.is_empty() {
            report.push("SETTLE006", format!("table {name} has no primary key"), table_location(name));
        }
    }
    for (table, cols, file, needle) in LOOKUPS {
        let Some(t) = live.tables.get(*table) else { continue };
        if !indexed(t, cols) {
            report.push(
                "SETTLE007",
                format!("{table} is looked up by ({}) and no index begins with those columns", cols.join(", ")),
                (file, line_of(file, needle)),
            );
        }
    }
    for (name, t) in &live.tables {
        let mut keys: Vec<(&str, &[String], bool)> =
            t.indexes.iter().filter(|i| !i.partial).map(|i| (i.name.as_str(), i.columns.as_slice(), i.unique)).collect();
        keys.push(("PRIMARY KEY", t.primary_key.as_slice(), true));
        for i in t.indexes.iter().filter(|i| !i.partial) {
            // Covered: another index (or the key) begins with all of this one's columns, and this one enforces nothing more.
            if let Some((other, _, _)) = keys.iter().find(|(n, c, u)| {
                *n != i.name
                    && c.len() >= i.columns.len()
                    && c[..i.columns.len()] == i.columns[..]
                    && (!i.unique || (*u && c.len() == i.columns.len()))
            }) {
                report.push(
                    "SETTLE008",
                    format!("index {} on {name} ({}) is covered by {other}", i.name, i.columns.join(", ")),
                    table_location(name),
                );
            }
        }
    }
    for (table, index, scans) in settle_store::schema::unused_indexes(db.pool()).await? {
        // Only a database in use can tell: an index of a table read a few times has had no chance to be used.
        if scans >= 1000 {
            report.push(
                "SETTLE009",
                format!("index {index} on {table} has not been used since statistics were reset, though the table was read {scans} times"),
                table_location(&table),
            );
        }
    }
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

/// Whether the primary key or an index begins with `cols` (in any order among them: equality lookups).
fn indexed(t: &TableInfo, cols: &[&str]) -> bool {
    let begins = |c: &[String]| c.len() >= cols.len() && cols.iter().all(|x| c[..cols.len()].iter().any(|y| y == x));
    begins(&t.primary_key) || t.indexes.iter().any(|i| !i.partial && begins(&i.columns))
}

fn drift(report: &mut Report, expected: &Schema, live: &Schema) {
    for (name, want) in &expected.tables {
        let Some(got) = live.tables.get(name) else {
            report.push("SETTLE003", format!("table {name} is missing"), table_location(name));
            continue;
        };
        let loc = table_location(name);
        for c in &want.columns {
            match got.columns.iter().find(|g| g.name == c.name) {
                None => report.push("SETTLE004", format!("column {name}.{} is missing", c.name), loc),
                Some(g) if g.data_type != c.data_type => {
                    report.push("SETTLE004", format!("column {name}.{} is {}, the migrations declare {}", c.name, g.data_type, c.data_type), loc)
                }
                Some(g) if g.nullable != c.nullable => report.push(
                    "SETTLE004",
                    format!("column {name}.{} is {}, the migrations declare it {}", c.name, null_word(g.nullable), null_word(c.nullable)),
                    loc,
                ),
                Some(_) => {}
            }
        }
        for g in got.columns.iter().filter(|g| !want.columns.iter().any(|c| c.name == g.name)) {
            report.push("SETTLE004", format!("column {name}.{} is not declared by any migration", g.name), loc);
        }
        if got.primary_key != want.primary_key {
            report.push(
                "SETTLE005",
                format!("the primary key of {name} is ({}), the migrations declare ({})", got.primary_key.join(", "), want.primary_key.join(", ")),
                loc,
            );
        }
        for i in &want.indexes {
            match got.indexes.iter().find(|g| g.name == i.name) {
                None => report.push("SETTLE005", format!("index {} on {name} ({}) is missing", i.name, i.columns.join(", ")), loc),
                Some(g) if g.columns != i.columns || g.unique != i.unique || g.partial != i.partial => report.push(
                    "SETTLE005",
                    format!(
                        "index {} on {name} is ({}){}, the migrations declare ({}){}",
                        i.name,
                        g.columns.join(", "),
                        uniq(g.unique),
                        i.columns.join(", "),
                        uniq(i.unique)
                    ),
                    loc,
                ),
                Some(_) => {}
            }
        }
        for g in got.indexes.iter().filter(|g| !want.indexes.iter().any(|i| i.name == g.name)) {
            report.push_level(
                "SETTLE005",
                Level::Warning,
                format!("index {} on {name} ({}) is not declared by any migration", g.name, g.columns.join(", ")),
                loc,
            );
        }
    }
    for name in live.tables.keys().filter(|t| !expected.tables.contains_key(*t)) {
        report.push_level(
            "SETTLE003",
            Level::Warning,
            format!("table {name} is not Settle's (no migration creates it)"),
            ("crates/settle-store/src/migration.rs", None),
        );
    }
}

fn null_word(n: bool) -> &'static str {
    if n { "nullable" } else { "NOT NULL" }
}

fn uniq(u: bool) -> &'static str {
    if u { " unique" } else { "" }
}

/// Seeds the demo data twice on `db`; gives the tables the second run changed.
async fn seed_twice(db: &settle_store::Db) -> anyhow::Result<Vec<String>> {
    let ctx = settle_app::Context::new(db.clone(), settle_app::cache::PaymentCache::memory(), Default::default());
    let seed = || async {
        let m = settle_app::merchants::seed_demo(&ctx).await.map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        settle_app::shop::seed_demo(&ctx, &m.merchant_id).await.map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        anyhow::Ok(())
    };
    let snapshot = || async {
        let mut out = BTreeMap::new();
        for t in settle_store::backup::tables() {
            out.insert(t.name, serde_json::to_string(&t.read(db, 0, 100_000).await?)?);
        }
        anyhow::Ok(out)
    };
    seed().await?;
    let first = snapshot().await?;
    seed().await?;
    let second = snapshot().await?;
    Ok(first.iter().filter(|(t, rows)| second.get(*t) != Some(rows)).map(|(t, _)| (*t).to_owned()).collect())
}

/// A statement run more often than this in one request is an N+1 pattern.
const REPEAT_LIMIT: usize = 5;

/// Replays a small scripted workload through a Settle served on the reference database (the in-process card
/// simulator, a chain that needs no node to sign terms) with every request's statements recorded.
async fn workload(cfg: &Config, url: &str) -> anyhow::Result<Vec<settle_api::RequestTrace>> {
    let sink: settle_api::StatementSink = Default::default();
    let admin = format!("check-{}", settle_store::now_ms());
    let mut c = cfg.clone();
    c.database_url = url.to_owned();
    c.database_ca_file = cfg.database_ca_file.clone();
    c.redis_url = None;
    c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    c.db_max_connections = 4;
    // A gateway of its own that answers at once and declines above 20,000: the script's second order is declined
    // and compensated, every time.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let knobs = settle_card::sim::Knobs { decline_above: Some(20_000), ..settle_card::sim::Knobs::calm() };
    let sim = settle_card::sim::start(listener, knobs);
    c.pg_url = Some(sim.url());
    c.app.card.simulator = false;
    c.app.nats = None;
    c.app.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    c.chains = vec![settle_app::chain::settings::dev_chain("http://127.0.0.1:9")];
    c.api.admin_token = Some(admin.clone().into());
    c.api.rate_limit = None;
    c.api.statement_sink = Some(sink.clone());
    // The reference database is the check's own, seeded with the demo merchant by the seed check.
    c.allow_demo_key = true;
    let app = Box::pin(crate::App::build(&c, crate::BuildOptions { migrate: false, demo: false, local_master_key: false })).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let run = script(&base, &admin).await;
    let _ = stop.send(());
    let _ = server.await;
    sim.stop().await;
    run?;
    let traces = sink.lock().map(|t| t.clone()).unwrap_or_default();
    Ok(traces)
}

/// The workload: what a merchant, its shop and an operator do, once each.
async fn script(base: &str, admin: &str) -> anyhow::Result<()> {
    use serde_json::json;
    settle_card::tls::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let key = settle_app::merchants::DEMO_API_KEY;
    let call = |method: reqwest::Method, path: String, token: &str, body: Option<serde_json::Value>| {
        let mut rb = http.request(method, format!("{base}{path}")).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let r = rb.send().await?;
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            // A 500 is a defect; the simulator's deliberate failures (503) and declines (402) are answers.
            if status == reqwest::StatusCode::INTERNAL_SERVER_ERROR {
                anyhow::bail!("the workload's {path} answered {status}: {v}");
            }
            anyhow::Ok(v)
        }
    };
    use reqwest::Method as M;
    call(M::POST, "/merchants".into(), admin, Some(json!({"name": "Checked shop"}))).await?;
    let token = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let recipient = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    let mut chain = Vec::new();
    for i in 0..3 {
        let p = call(
            M::POST,
            "/payments/create".into(),
            key,
            Some(json!({"orderId": format!("check-{i}"), "amount": "1500", "currency": "USDC",
            "chainId": 31337, "tokenAddress": token, "recipientAddress": recipient})),
        )
        .await?;
        chain.push(p["paymentId"].as_str().unwrap_or_default().to_owned());
    }
    let card =
        call(M::POST, "/payments/create".into(), key, Some(json!({"orderId": "check-card", "amount": "12000", "currency": "KRW", "rail": "CARD"})))
            .await?;
    let card = card["paymentId"].as_str().unwrap_or_default().to_owned();
    call(M::POST, format!("/payments/{card}/card"), key, Some(json!({"cardType": "KB", "cardNo": "4111-1111-1111-1111"}))).await?;
    call(M::POST, format!("/payments/{}/cancel", chain[0]), key, Some(json!({}))).await?;
    for path in [
        "/payments?limit=100".to_owned(),
        format!("/payments/{}", chain[1]),
        format!("/payments/{}/status", chain[1]),
        format!("/payments/{card}/events"),
        "/events/list?limit=100".to_owned(),
    ] {
        call(M::GET, path, key, None).await?;
    }
    call(M::POST, "/users".into(), key, Some(json!({"userId": "check-user", "name": "Kim", "points": 10000}))).await?;
    call(M::POST, "/items".into(), key, Some(json!({"itemId": "check-item", "name": "Sword", "price": 5000, "stock": 10}))).await?;
    call(M::POST, "/coupons".into(), key, Some(json!({"couponId": "check-coupon", "name": "Welcome", "discount": 300}))).await?;
    let issued = call(M::POST, "/coupons/check-coupon/issue".into(), key, Some(json!({"userId": "check-user"}))).await?;
    let order = call(
        M::POST,
        "/orders".into(),
        key,
        Some(json!({"userId": "check-user", "items": [{"itemId": "check-item", "quantity": 3}],
        "issuedCouponId": issued["issuedCouponId"], "usePoints": 100, "card": {"cardType": "KB", "cardNo": "4111-1111-1111-1111"}})),
    )
    .await?;
    if let Some(id) = order["order"]["orderId"].as_str() {
        call(M::GET, format!("/orders/{id}"), key, None).await?;
    }
    // Declined by the gateway: every step given back.
    let declined = call(
        M::POST,
        "/orders".into(),
        key,
        Some(json!({"userId": "check-user", "items": [{"itemId": "check-item", "quantity": 5}],
        "usePoints": 100, "card": {"cardType": "KB", "cardNo": "4111-1111-1111-1111"}})),
    )
    .await?;
    if declined["saga"]["status"] != "COMPENSATED" {
        anyhow::bail!("the workload's declined order was not compensated: {declined}");
    }
    call(M::GET, "/saga?limit=100".into(), key, None).await?;
    call(M::GET, "/saga/stats".into(), key, None).await?;
    let ep = call(M::POST, "/webhook-endpoints".into(), key, Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["payment.*"]}))).await?;
    let ep = ep["id"].as_str().unwrap_or_default().to_owned();
    call(M::PATCH, format!("/webhook-endpoints/{ep}"), key, Some(json!({"description": "checked"}))).await?;
    call(M::POST, format!("/webhook-endpoints/{ep}/rotate-secret"), key, Some(json!({}))).await?;
    call(M::GET, "/webhook-endpoints".into(), key, None).await?;
    call(M::GET, format!("/webhook-endpoints/{ep}/deliveries?limit=100"), key, None).await?;
    let k = call(M::POST, "/api-keys".into(), key, Some(json!({}))).await?;
    call(M::GET, "/api-keys".into(), key, None).await?;
    call(M::DELETE, format!("/api-keys/{}", k["id"].as_str().unwrap_or_default()), key, None).await?;
    call(M::GET, "/audit-log?limit=100".into(), key, None).await?;
    call(M::GET, "/admin/db".into(), admin, None).await?;
    Ok(())
}

/// The source a route's work is in, for a finding's location.
fn route_file(route: &str) -> &'static str {
    let r = route.trim_start_matches('/');
    if r.starts_with("payments") {
        "crates/settle-app/src/payments.rs"
    } else if r.starts_with("webhook") || r.starts_with("events") {
        "crates/settle-app/src/webhooks.rs"
    } else if ["users", "items", "coupons"].iter().any(|p| r.starts_with(p)) {
        "crates/settle-app/src/shop.rs"
    } else if ["orders", "purchase", "saga"].iter().any(|p| r.starts_with(p)) {
        "crates/settle-app/src/orders.rs"
    } else if r.starts_with("audit") {
        "crates/settle-app/src/audit.rs"
    } else {
        "crates/settle-app/src/merchants.rs"
    }
}

/// N+1 patterns and writes outside a transaction, per request of the workload.
fn statements(report: &mut Report, traces: &[settle_api::RequestTrace]) {
    for t in traces {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &t.statements {
            *counts.entry(s.sql.as_str()).or_default() += 1;
        }
        for (sql, n) in counts.into_iter().filter(|(_, n)| *n > REPEAT_LIMIT) {
            let short: String = sql.chars().take(160).collect();
            report.push("SETTLE012", format!("{} {} ran one statement {n} times: {short}", t.method, t.route), (route_file(&t.route), None));
        }
        let loose: Vec<&settle_app::audit::Traced> = t.statements.iter().filter(|s| s.writes() && !s.in_transaction).collect();
        if loose.len() > 1 {
            let list: Vec<String> = loose.iter().map(|s| s.sql.chars().take(80).collect()).collect();
            report.push(
                "SETTLE013",
                format!("{} {} made {} writes outside a transaction: {}", t.method, t.route, loose.len(), list.join(" | ")),
                (route_file(&t.route), None),
            );
        }
    }
}

/// A throwaway database of the live one's backend, for the reference schema.
struct Reference {
    db: settle_store::Db,
    url: String,
    /// How to drop it: a statement run on the live connection, or a file to delete.
    drop_sql: Option<String>,
    live: settle_store::Db,
    file: Option<std::path::PathBuf>,
}

impl Reference {
    async fn create(cfg: &Config, live: &settle_store::Db) -> anyhow::Result<Self> {
        use settle_store::ConnectionTrait;
        // The name is generated here, never input.
        let name = format!("settle_check_{}_{}", std::process::id(), settle_store::now_ms());
        let url = &cfg.database_url;
        let (base, query) = url.split_once('?').map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
        match live.get_database_backend() {
            settle_store::DbBackend::Postgres => {
                live.execute_unprepared(&format!("CREATE SCHEMA {name}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("creating a temporary schema for the reference: {e}"))?;
                let sep = if query.is_some() { '&' } else { '?' };
                let url = format!("{url}{sep}options=-c%20search_path%3D{name}");
                let db = settle_store::connect(&url, 2).await?;
                Ok(Self { db, url, drop_sql: Some(format!("DROP SCHEMA IF EXISTS {name} CASCADE")), live: live.clone(), file: None })
            }
            settle_store::DbBackend::MySql => {
                live.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("creating a temporary database for the reference: {e}"))?;
                let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
                let url = format!("{server}/{name}{}", query.map(|q| format!("?{q}")).unwrap_or_default());
                let db = settle_store::connect(&url, 2).await?;
                Ok(Self { db, url, drop_sql: Some(format!("DROP DATABASE IF EXISTS {name}")), live: live.clone(), file: None })
            }
            _ => {
                let file = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}", file.display());
                let db = settle_store::connect(&url, 2).await?;
                Ok(Self { db, url, drop_sql: None, live: live.clone(), file: Some(file) })
            }
        }
    }

    async fn drop(self) {
        use settle_store::ConnectionTrait;
        let _ = self.db.close().await;
        if let Some(sql) = &self.drop_sql
            && let Err(e) = self.live.execute_unprepared(sql).await
        {
            tracing::warn!(error = %e, "could not drop the reference schema of db check");
        }
        if let Some(f) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

/// The report as text: one line per finding, then a summary.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for f in &r.findings {
        let at = match f.line {
            Some(l) => format!("{}:{l}", f.file),
            None => f.file.to_owned(),
        };
        out.push_str(&format!("{} {} {} ({at})\n", f.level.as_str(), f.rule_id, f.message));
    }
    out.push_str(&format!(
        "{} database, {} tables: {} errors, {} warnings, {} notes\n",
        r.backend, r.summary.tables, r.summary.errors, r.summary.warnings, r.summary.notes
    ));
    out
}

/// The report as SARIF 2.1.0: one run, every rule, each finding a result located in its source file.
pub fn sarif(r: &Report) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|rule| {
            serde_json::json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.description},
                "defaultConfiguration": {"level": rule.level.as_str()},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut location = serde_json::json!({"artifactLocation": {"uri": f.file, "uriBaseId": "SRCROOT"}});
            if let Some(l) = f.line {
                location["region"] = serde_json::json!({"startLine": l});
            }
            serde_json::json!({
                "ruleId": f.rule_id,
                "ruleIndex": RULES.iter().position(|x| x.id == f.rule_id).unwrap_or(0),
                "level": f.level.as_str(),
                "message": {"text": f.message},
                "locations": [{"physicalLocation": location}],
                "properties": {"backend": r.backend},
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "settle db check", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": "The root of the Settle repository."}}},
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use settle_app::audit::Traced;

    use super::*;

    fn trace(statements: &[(&str, bool)]) -> settle_api::RequestTrace {
        settle_api::RequestTrace {
            method: "POST".into(),
            route: "/orders".into(),
            status: 201,
            statements: statements.iter().map(|(s, t)| Traced { sql: (*s).into(), in_transaction: *t }).collect(),
        }
    }

    fn ids(r: &Report) -> Vec<&str> {
        r.findings.iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn repeated_statements_and_loose_writes_are_found() {
        let mut r = Report { backend: "sqlite".into(), findings: Vec::new(), summary: Summary::default() };
        let select = "SELECT * FROM items WHERE item_id = $1";
        // Five of a statement, and writes inside a transaction or one alone: nothing.
        statements(&mut r, &[trace(&[(select, false); 5]), trace(&[("INSERT INTO a VALUES ($1)", true), ("UPDATE b SET c = $1", true)])]);
        statements(&mut r, &[trace(&[("INSERT INTO a VALUES ($1)", false), ("SELECT 1", false)])]);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        // Six: an N+1; two writes outside a transaction (one a WITH ... INSERT): half a change is possible.
        statements(&mut r, &[trace(&[(select, false); 6])]);
        statements(&mut r, &[trace(&[("WITH p AS (SELECT 1) INSERT INTO a SELECT * FROM p", false), ("delete from b", false)])]);
        assert_eq!(ids(&r), ["SETTLE012", "SETTLE013"]);
        assert!(r.findings[0].message.contains("6 times") && r.findings[1].message.contains("2 writes"), "{:?}", r.findings);
        assert_eq!(r.findings[0].file, "crates/settle-app/src/orders.rs");
    }

    #[test]
    fn every_location_is_a_source_file_and_every_rule_is_known() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (f, _) in SOURCES {
            assert!(root.join(f).is_file(), "{f}");
        }
        for (table, _, file, needle) in LOOKUPS {
            assert!(line_of(file, needle).is_some(), "{table}: `{needle}` is not in {file}");
        }
        for (table, _) in CREATED_BY {
            assert!(table_location(table).1.is_some(), "{table}: not named in its migration");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(RULES.iter().all(|r| seen.insert(r.id)), "rule ids are unique");
    }
}
