//! Opening the database.

use std::time::Duration;

use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, IsolationLevel, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use crate::StoreError;

/// Queries slower than this are logged (and every query is timed in `settle_db_query_seconds`).
const SLOW_QUERY: Duration = Duration::from_millis(250);

/// Which SQL dialect a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// The backend of a database URL, or None for an unknown scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split(':').next()?;
        match scheme {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::Mysql),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }
}

/// Opens a pool. SQLite files are created if absent and run in WAL mode with `synchronous=FULL` on every
/// connection; `max_connections` bounds the pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, StoreError> {
    let backend = Backend::of_url(url)
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::Custom("DATABASE_URL must start with sqlite:, postgres: or mysql:".into())))?;
    let mut url = url.replacen("mariadb:", "mysql:", 1);
    if backend == Backend::Sqlite && !url.contains("mode=") {
        url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
    }
    let mut opts = ConnectOptions::new(url);
    // Set on every connection of the pool (a PRAGMA run through the pool reaches one connection only): WAL, and
    // a commit durable when it returns (FULL), as on PostgreSQL and MySQL.
    opts.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
    });
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let mut db = Database::connect(opts).await?;
    db.set_metric_callback(|info| {
        let kind = info.statement.sql.split_whitespace().next().unwrap_or("?").to_ascii_uppercase();
        let secs = info.elapsed.as_secs_f64();
        metrics::histogram!("settle_db_query_seconds", "kind" => kind, "failed" => if info.failed { "true" } else { "false" }).record(secs);
        if info.elapsed >= SLOW_QUERY {
            // The statement with its placeholders; bound values are never logged.
            tracing::warn!(elapsed_ms = info.elapsed.as_millis() as u64, sql = %info.statement.sql, "slow query");
        }
    });
    Ok(db)
}

/// Begins a transaction that will write. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so two
/// writers queue on the busy timeout instead of failing when one upgrades a read snapshot.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let opts = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(opts).await?)
}

/// Begins a read-only transaction whose reads all see one snapshot (REPEATABLE READ on PostgreSQL and MySQL;
/// a deferred transaction on SQLite), for a view assembled from several rows that one transaction changes
/// together (an order, its payment and its saga).
pub async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    let opts = TransactionOptions {
        isolation_level: (!sqlite).then_some(IsolationLevel::RepeatableRead),
        access_mode: (!sqlite).then_some(AccessMode::ReadOnly),
        sqlite_transaction_mode: sqlite.then_some(SqliteTransactionMode::Deferred),
    };
    Ok(db.begin_with_options(opts).await?)
}

/// A round trip to the database.
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.ping().await?;
    Ok(())
}

/// Whether this session with the database is encrypted (PostgreSQL `pg_stat_ssl`, MySQL `Ssl_cipher`); None on
/// SQLite, which has no connection to encrypt.
pub async fn tls_in_use(db: &DatabaseConnection) -> Result<Option<bool>, StoreError> {
    use sea_orm::Statement;
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT CASE WHEN ssl THEN 'yes' ELSE 'no' END FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        DbBackend::MySql => {
            "SELECT CASE WHEN VARIABLE_VALUE <> '' THEN 'yes' ELSE 'no' END FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER'"
        }
        _ => return Ok(None),
    };
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
    Ok(Some(row.and_then(|r| r.try_get_by_index::<String>(0).ok()).as_deref() == Some("yes")))
}
