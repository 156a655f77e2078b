//! What an operator watches in the database: the pool's connections, and each table's rows and bytes.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Db, StoreError};

/// The connection pool (SQLite: the read pool; its writer is one more connection).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    /// Connections open now.
    pub size: u32,
    /// Of them, idle.
    pub idle: u32,
    /// Of them, running a statement or holding a transaction.
    pub in_use: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// One table: rows (PostgreSQL and MySQL: the planner's estimate; SQLite: counted) and bytes on disk with its
/// indexes (None where the backend cannot tell).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableStats {
    pub name: String,
    pub rows: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
}

/// The pool's connections now.
pub fn pool(db: &Db) -> PoolStats {
    let c = db.pool();
    let (size, idle, max) = match c.get_database_backend() {
        DbBackend::Postgres => {
            let p = c.get_postgres_connection_pool();
            (p.size(), p.num_idle() as u32, p.options().get_max_connections())
        }
        DbBackend::MySql => {
            let p = c.get_mysql_connection_pool();
            (p.size(), p.num_idle() as u32, p.options().get_max_connections())
        }
        _ => {
            let p = c.get_sqlite_connection_pool();
            (p.size(), p.num_idle() as u32, p.options().get_max_connections())
        }
    };
    PoolStats { size, idle: idle.min(size), in_use: size.saturating_sub(idle), max }
}

/// Every table of the current database or schema, by name.
pub async fn tables(db: &Db) -> Result<Vec<TableStats>, StoreError> {
    let c = db.pool();
    let backend = c.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT c.relname::text AS name, GREATEST(c.reltuples, 0)::bigint AS rows, pg_total_relation_size(c.oid)::bigint AS bytes \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 1"
        }
        DbBackend::MySql => {
            "SELECT CAST(TABLE_NAME AS CHAR) AS name, CAST(COALESCE(TABLE_ROWS, 0) AS SIGNED) AS `rows`, \
             CAST(COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS SIGNED) AS bytes \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
        }
        _ => return sqlite_tables(db).await,
    };
    let rows = c.query_all_raw(Statement::from_string(backend, sql)).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(TableStats {
                name: r.try_get::<String>("", "name").ok()?,
                rows: r.try_get::<i64>("", "rows").unwrap_or(0),
                bytes: r.try_get::<i64>("", "bytes").ok(),
            })
        })
        .collect())
}

/// SQLite: rows counted per table (a database small enough to embed), bytes from `dbstat` where SQLite has it.
async fn sqlite_tables(db: &Db) -> Result<Vec<TableStats>, StoreError> {
    let c = db.pool();
    let names = crate::migration::tables(c).await?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        // A name from the catalog, quoted as an identifier (identifiers cannot be bound).
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let rows = c
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, format!("SELECT COUNT(*) AS n FROM {quoted}")))
            .await?
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0);
        let bytes = c
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT SUM(pgsize) AS b FROM dbstat WHERE name = ?",
                [name.clone().into()],
            ))
            .await
            .ok()
            .flatten()
            .and_then(|r| r.try_get::<i64>("", "b").ok());
        out.push(TableStats { name, rows, bytes });
    }
    Ok(out)
}

/// Latency of one statement (its SQL with placeholders; values are never kept) in this process: how often it ran,
/// how many runs were slow (over 250 ms), and the median and 95th percentile of its recent runs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementStats {
    pub sql: String,
    pub count: u64,
    /// Runs that took 250 ms or more.
    pub slow: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub total_ms: f64,
}

/// Recent runs kept per statement, and distinct statements tracked (Settle's own are far fewer).
const SAMPLES: usize = 512;
const MAX_STATEMENTS: usize = 1000;

#[derive(Default)]
struct Samples {
    count: u64,
    slow: u64,
    total_secs: f64,
    recent: Vec<f32>,
    next: usize,
}

static STATEMENTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Samples>>> = std::sync::LazyLock::new(Default::default);

/// Records one run of a statement (from the pool's metric callback).
pub(crate) fn observe(sql: &str, secs: f64, slow: bool) {
    let Ok(mut all) = STATEMENTS.lock() else { return };
    // One lookup for a statement seen before (every run after its first): this is on every statement's path.
    if let Some(s) = all.get_mut(sql) {
        s.add(secs, slow);
    } else if all.len() < MAX_STATEMENTS {
        let mut s = Samples::default();
        s.add(secs, slow);
        all.insert(sql.to_owned(), s);
    }
}

impl Samples {
    fn add(&mut self, secs: f64, slow: bool) {
        self.count += 1;
        self.slow += u64::from(slow);
        self.total_secs += secs;
        if self.recent.len() < SAMPLES {
            self.recent.push(secs as f32);
        } else {
            self.recent[self.next] = secs as f32;
            self.next = (self.next + 1) % SAMPLES;
        }
    }
}

/// The `top` statements by total time, with their quantiles.
pub fn statements(top: usize) -> Vec<StatementStats> {
    let Ok(all) = STATEMENTS.lock() else { return Vec::new() };
    let mut out: Vec<StatementStats> = all
        .iter()
        .map(|(sql, s)| {
            let mut v = s.recent.clone();
            v.sort_by(f32::total_cmp);
            let q = |p: f64| v.get(((v.len() as f64 - 1.0) * p).round() as usize).map_or(0.0, |x| (*x as f64 * 1e6).round() / 1e3);
            StatementStats {
                sql: sql.clone(),
                count: s.count,
                slow: s.slow,
                p50_ms: q(0.5),
                p95_ms: q(0.95),
                total_ms: (s.total_secs * 1e6).round() / 1e3,
            }
        })
        .collect();
    out.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    out.truncate(top);
    out
}
