//! Opening the database.

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, IsolationLevel,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// How many write transactions may wait for their turn on SQLite before another is refused (503, retry later).
pub const WRITE_QUEUE: usize = 512;

/// The database: its pool, and on SQLite the turn that write transactions take one at a time. SQLite has one
/// write lock; pooled connections that contend for it sleep and retry (its busy handler), which made the tail of
/// a create a second long under load. Here a write transaction first waits for its turn in process, in arrival
/// order, so the lock is always free when it begins; at most [`WRITE_QUEUE`] wait, and the next is refused at
/// once rather than left to grow the queue. Reads, and everything on PostgreSQL and MySQL, are untouched.
///
/// It derefs to the pool and is itself a connection (`&impl ConnectionTrait`) for single statements.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    writer: Option<Arc<Writer>>,
}

#[derive(Debug)]
struct Writer {
    turn: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Db {
    /// A handle on `conn`, with the one-writer turn when it is SQLite's.
    pub fn new(conn: DatabaseConnection) -> Self {
        Self::with_write_queue(conn, WRITE_QUEUE)
    }

    /// [`Db::new`] with room for `max_waiting` write transactions waiting on SQLite.
    pub fn with_write_queue(conn: DatabaseConnection, max_waiting: usize) -> Self {
        let sqlite = conn.get_database_backend() == DbBackend::Sqlite;
        let writer = sqlite.then(|| Arc::new(Writer { turn: Arc::new(Semaphore::new(1)), waiting: AtomicUsize::new(0), max_waiting }));
        Self { conn, writer }
    }

    /// The pool.
    pub fn pool(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes the pool (every clone's).
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }

    /// Waits for the write turn on SQLite (None elsewhere); refused when the queue is full.
    async fn write_turn(&self) -> Result<Option<OwnedSemaphorePermit>, StoreError> {
        let Some(w) = &self.writer else { return Ok(None) };
        if let Ok(p) = w.turn.clone().try_acquire_owned() {
            return Ok(Some(p));
        }
        if w.waiting.fetch_add(1, Ordering::AcqRel) >= w.max_waiting {
            w.waiting.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("settle_db_write_queue_full_total").increment(1);
            return Err(StoreError::Retryable("the database's write queue is full"));
        }
        // Counted out again however the wait ends, a dropped request included.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _waiting = Waiting(&w.waiting);
        Ok(Some(w.turn.clone().acquire_owned().await.map_err(|_| StoreError::Db(DbErr::Custom("the write turn closed".into())))?))
    }
}

impl Deref for Db {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.conn
    }
}

/// A connection that passes every statement to the one it wraps (`$field`).
macro_rules! delegate_connection {
    ($ty:ty, $field:ident) => {
        #[async_trait::async_trait]
        impl ConnectionTrait for $ty {
            fn get_database_backend(&self) -> DbBackend {
                self.$field.get_database_backend()
            }
            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                self.$field.execute_raw(stmt).await
            }
            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                self.$field.execute_unprepared(sql).await
            }
            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                self.$field.query_one_raw(stmt).await
            }
            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                self.$field.query_all_raw(stmt).await
            }
        }
    };
}

delegate_connection!(Db, conn);

/// A write transaction from [`begin`]: on SQLite it holds the write turn until it commits, rolls back or drops.
/// It derefs to the transaction and is itself a connection.
pub struct Txn {
    // Dropped first: an unfinished transaction rolls back before the turn passes on.
    inner: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl Txn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.inner.rollback().await
    }
}

impl Deref for Txn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.inner
    }
}

delegate_connection!(Txn, inner);

/// Opens a pool. SQLite files are created if absent and run in WAL mode with `synchronous=FULL` on every
/// connection; `max_connections` bounds the pool.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
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
    Ok(Db::new(db))
}

/// Begins a transaction that will write. On SQLite it first takes the write turn ([`Db`]), then the write lock at
/// BEGIN (IMMEDIATE), so it never fails upgrading a read snapshot.
pub async fn begin(db: &Db) -> Result<Txn, StoreError> {
    let turn = db.write_turn().await?;
    let opts = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(Txn { inner: db.conn.begin_with_options(opts).await?, _turn: turn })
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
