//! Opening the database.

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
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

/// How many write transactions may wait for their turn on SQLite before another is refused (503, retry later): a
/// burst of a few thousand requests waits its turn, each write at most [`TURN_WAIT`], rather than being refused at
/// once, and the 503 is kept for real overload. At 512, seed 002's own load test (1000 concurrent purchases) had
/// 193 refused. Not larger: the queue is first come, first served for every writer, the workers' lease renewals
/// included, and a deeper backlog only turns a quick 503 into a slow one.
pub const WRITE_QUEUE: usize = 4096;
/// At most this many write transactions are committed together on SQLite.
pub const MAX_BATCH: usize = 64;
/// A group of write transactions on SQLite is committed once its first write has waited this long, even while
/// more would join it (bounds a write's wait for its commit under sustained load).
pub const GROUP_WAIT: Duration = Duration::from_millis(10);

/// How SQLite's writer queues and groups write transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterSettings {
    /// How many may wait for their turn before another is refused (503, retry later).
    pub queue: usize,
    /// At most this many are committed together (1: each commits alone).
    pub group: usize,
    /// A group is committed once its first write has waited this long (zero: a group never gathers more than
    /// the writes already waiting when one commits).
    pub group_wait: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self { queue: WRITE_QUEUE, group: MAX_BATCH, group_wait: GROUP_WAIT }
    }
}

/// Why a write was refused before it began: the message travels through `DbErr::Custom` where a single statement
/// ran in a group ([`Db::in_group`]), and [`StoreError`] recognises it again as retryable.
pub(crate) const QUEUE_FULL: &str = "the database's write queue is full";
pub const TURN_LATE: &str = "the database's write turn did not come in time";
/// A member of a batch that has not heard of the batch's end after this long takes the turn and ends it itself
/// (the writer it passed the turn to went away without taking it).
const BATCH_STALL: Duration = Duration::from_millis(200);
/// The longest a write waits for its turn before it is told to retry.
pub const TURN_WAIT: Duration = Duration::from_secs(10);

/// The database: its pool, and on SQLite one writer. SQLite has one write lock; pooled connections that contend
/// for it sleep and retry (its busy handler), which made the tail of a create a second long under load. Here every
/// write goes through one dedicated connection and waits for its turn in process, in arrival order, so the lock is
/// always free when it begins; at most [`WriterSettings::queue`] wait, and the next is refused at once rather
/// than left to grow the queue. Reads use a pool of read-only connections. PostgreSQL and MySQL are untouched:
/// one pool for everything.
///
/// It derefs to the read pool and is itself a connection (`&impl ConnectionTrait`) for single statements: one
/// that writes goes through the writer.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    writer: Option<Arc<Writer>>,
}

struct Writer {
    /// The one connection that writes (on a file database; the pool itself for an in-memory one).
    conn: DatabaseConnection,
    turn: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_batch: usize,
    group_wait: Duration,
    /// The open group transaction that the next write transactions join (only the turn's holder touches it).
    batch: tokio::sync::Mutex<Option<Batch>>,
    /// Numbers the batches, so a member that waited too long for its batch's end can tell whether it ended.
    generation: AtomicUsize,
    /// Groups committed, and the write transactions they held.
    groups: AtomicU64,
    members: AtomicU64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("waiting", &self.waiting).field("max_waiting", &self.max_waiting).field("max_batch", &self.max_batch).finish()
    }
}

/// Write transactions committed together: each ran in a savepoint of `outer` and was released into it; `done`
/// tells them how the one commit went.
struct Batch {
    outer: DatabaseTransaction,
    opened: std::time::Instant,
    members: usize,
    generation: usize,
    done: tokio::sync::watch::Sender<Option<Result<(), String>>>,
}

impl Db {
    /// A handle on `conn`, which also writes; on SQLite its writes take turns.
    pub fn new(conn: DatabaseConnection) -> Self {
        Self::writer_on(conn.clone(), conn, WriterSettings::default())
    }

    /// This database with its own SQLite writer state (same connections), queueing and grouping as `settings` say.
    pub fn with_writer(self, settings: WriterSettings) -> Self {
        let writes = self.writes().clone();
        Self::writer_on(self.conn, writes, settings)
    }

    fn writer_on(reads: DatabaseConnection, writes: DatabaseConnection, s: WriterSettings) -> Self {
        let sqlite = reads.get_database_backend() == DbBackend::Sqlite;
        let writer = sqlite.then(|| {
            Arc::new(Writer {
                conn: writes,
                turn: Arc::new(Semaphore::new(1)),
                waiting: AtomicUsize::new(0),
                max_waiting: s.queue,
                max_batch: s.group.max(1),
                group_wait: s.group_wait,
                batch: tokio::sync::Mutex::new(None),
                generation: AtomicUsize::new(0),
                groups: AtomicU64::new(0),
                members: AtomicU64::new(0),
            })
        });
        Self { conn: reads, writer }
    }

    /// The pool (read-only on SQLite).
    pub fn pool(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The connection that writes, for what runs outside Settle's transactions: migrations. Nothing else may
    /// run on it while they do.
    pub fn writes(&self) -> &DatabaseConnection {
        self.writer.as_ref().map_or(&self.conn, |w| &w.conn)
    }

    /// On SQLite, how many groups of write transactions were committed and how many transactions they held.
    pub fn write_groups(&self) -> Option<(u64, u64)> {
        self.writer.as_ref().map(|w| (w.groups.load(Ordering::Relaxed), w.members.load(Ordering::Relaxed)))
    }

    /// Closes the pool and the writer (every clone's).
    pub async fn close(self) -> Result<(), DbErr> {
        let writes = self.writer.as_ref().map(|w| w.conn.clone());
        self.conn.close().await?;
        match writes {
            Some(w) => w.close().await,
            None => Ok(()),
        }
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
            return Err(StoreError::Retryable(QUEUE_FULL));
        }
        // Counted out again however the wait ends, a dropped request included.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _waiting = Waiting(&w.waiting);
        // Bounded, as a pool's acquire is: a writer that waited this long is told to retry rather than hang.
        match tokio::time::timeout(TURN_WAIT, w.turn.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(Some(p)),
            Ok(Err(_)) => Err(StoreError::Db(DbErr::Custom("the write turn closed".into()))),
            Err(_) => Err(StoreError::Retryable(TURN_LATE)),
        }
    }

    /// On SQLite, a statement that writes, run outside a transaction: it joins a write group like any
    /// transaction (a lone statement on the pool would contend for SQLite's lock with the group and could wait in
    /// the busy handler for seconds under load).
    fn writes_alone(&self, sql: &str) -> bool {
        self.writer.is_some() && ["INSERT", "UPDATE", "DELETE", "REPLACE"].iter().any(|w| verb(sql).eq_ignore_ascii_case(w))
    }

    async fn in_group<T, F, Fut>(&self, run: F) -> Result<T, DbErr>
    where
        F: FnOnce(Txn) -> Fut + Send,
        Fut: std::future::Future<Output = Result<(T, Txn), DbErr>> + Send,
        T: Send,
    {
        let txn = begin(self).await.map_err(|e| match e {
            StoreError::Db(e) => e,
            // Recognised again by `StoreError::from`: a refused write stays a 503, not a 500.
            StoreError::Retryable(why) => DbErr::Custom(why.to_owned()),
            other => DbErr::Custom(other.to_string()),
        })?;
        let (out, txn) = run(txn).await?;
        txn.commit().await?;
        Ok(out)
    }
}

impl Deref for Db {
    type Target = DatabaseConnection;
    fn deref(&self) -> &DatabaseConnection {
        &self.conn
    }
}

/// A connection that passes every statement to the one it wraps (`self.$get()`).
macro_rules! delegate_connection {
    ($ty:ty, $get:ident) => {
        #[async_trait::async_trait]
        impl ConnectionTrait for $ty {
            fn get_database_backend(&self) -> DbBackend {
                self.$get().get_database_backend()
            }
            async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
                crate::audit::trace(&stmt.sql, true);
                self.$get().execute_raw(stmt).await
            }
            async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
                crate::audit::trace(sql, true);
                self.$get().execute_unprepared(sql).await
            }
            async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
                crate::audit::trace(&stmt.sql, true);
                self.$get().query_one_raw(stmt).await
            }
            async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
                crate::audit::trace(&stmt.sql, true);
                self.$get().query_all_raw(stmt).await
            }
        }
    };
}

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        crate::audit::trace(&stmt.sql, false);
        if self.writes_alone(&stmt.sql) {
            return self.in_group(|t| async move { Ok(((*t).execute_raw(stmt).await?, t)) }).await;
        }
        self.conn.execute_raw(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        crate::audit::trace(sql, false);
        if self.writes_alone(sql) {
            return self.in_group(|t| async move { Ok(((*t).execute_unprepared(sql).await?, t)) }).await;
        }
        self.conn.execute_unprepared(sql).await
    }
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        crate::audit::trace(&stmt.sql, false);
        if self.writes_alone(&stmt.sql) {
            return self.in_group(|t| async move { Ok(((*t).query_one_raw(stmt).await?, t)) }).await;
        }
        read_again(&self.conn, stmt, |c, s| c.query_one_raw(s)).await
    }
    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        crate::audit::trace(&stmt.sql, false);
        if self.writes_alone(&stmt.sql) {
            return self.in_group(|t| async move { Ok(((*t).query_all_raw(stmt).await?, t)) }).await;
        }
        read_again(&self.conn, stmt, |c, s| c.query_all_raw(s)).await
    }
}

/// Runs `stmt` on the pool; a SELECT whose session the server ended under it (a failover, a restart, an operator
/// ending sessions: `session_ended`) runs again on another connection, up to three tries in all, since reading
/// twice changes nothing. Anything else, and a statement that may write, is answered as it failed.
async fn read_again<'a, T, Fut>(
    conn: &'a DatabaseConnection,
    stmt: Statement,
    run: impl Fn(&'a DatabaseConnection, Statement) -> Fut,
) -> Result<T, DbErr>
where
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    if !verb(&stmt.sql).eq_ignore_ascii_case("SELECT") {
        return run(conn, stmt).await;
    }
    for _ in 0..2 {
        match run(conn, stmt.clone()).await {
            Err(e) if crate::error::session_ended(&e) => {
                metrics::counter!("settle_db_reads_again_total").increment(1);
                tracing::debug!(error = %e, "the session ended under a read; reading again on another connection");
            }
            other => return other,
        }
    }
    run(conn, stmt).await
}

/// A statement's first word (`INSERT`, `SELECT`, `WITH`...), as written.
fn verb(sql: &str) -> &str {
    sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("")
}

/// Before a pooled PostgreSQL or MySQL connection is handed out: tested (one round trip) when it has been idle for
/// half a second or more, or when this process saw a session ended in the last five seconds; otherwise handed out
/// as it is. The pool already tests every connection as it comes back, so one used within the half second was
/// alive then; testing each on every acquire cost a tenth of the creates on PostgreSQL (2,246 -> 2,466/s without
/// it). A session ended between is one failed statement: a read runs again (`read_again`), a write is answered
/// 503 (the client retries under its Idempotency-Key), and the pool tests every connection for a while after, so
/// a failover, which ends them all, costs one failure rather than one per pooled connection.
fn test_if_stale<C: sea_orm::sqlx::Connection>(
    conn: &mut C,
    meta: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>> {
    let recent_end = crate::now_ms() - crate::error::session_ended_seen() < 5_000;
    Box::pin(async move {
        if recent_end || meta.idle_for >= Duration::from_millis(500) {
            conn.ping().await?;
        }
        Ok(true)
    })
}

/// A write transaction from [`begin`]: on SQLite it holds the write turn until it commits, rolls back or drops.
/// It derefs to the transaction and is itself a connection.
///
/// On SQLite it is a savepoint in a group transaction ([`Batch`]): writes that waited for the turn while another
/// ran join the same transaction, each in its own savepoint, and one commit makes them all durable. A failed one
/// rolls back its savepoint only. `commit` returns once the group's commit is durable, so every caller answers
/// only what is on disk, and exactly what it would have answered alone. When nobody waits, the group is committed
/// at once: batching never delays a lone writer. Under sustained load a group is committed when it holds
/// [`WriterSettings::group`] writes or its first has waited [`WriterSettings::group_wait`].
pub struct Txn {
    // Dropped first: an unfinished transaction rolls back before the turn passes on.
    inner: Option<DatabaseTransaction>,
    turn: Option<OwnedSemaphorePermit>,
    writer: Option<Arc<Writer>>,
}

impl Txn {
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let inner = self.inner.take().expect("an open transaction");
        let Some(w) = self.writer.take() else { return inner.commit().await };
        let turn = self.turn.take();
        // The savepoint is released into the group; a failure here rolls it back (as it drops) and ends nothing.
        if let Err(e) = inner.commit().await {
            end_or_pass(w, turn).await;
            return Err(e);
        }
        joined(w, turn).await
    }

    pub async fn rollback(mut self) -> Result<(), DbErr> {
        let inner = self.inner.take().expect("an open transaction");
        let res = inner.rollback().await;
        if let Some(w) = self.writer.take() {
            end_or_pass(w, self.turn.take()).await;
        }
        res
    }
}

/// A write released into the open group (its turn `turn` still held): ends the group when nobody waits to join it
/// or it is full or old enough, else passes the turn on and waits for whoever ends it. Returns once the group's
/// commit is durable (or failed, and with it this write).
async fn joined(w: Arc<Writer>, turn: Option<OwnedSemaphorePermit>) -> Result<(), DbErr> {
    let mut batch = w.batch.lock().await;
    let b = batch.as_mut().expect("an open batch while the turn is held");
    b.members += 1;
    let generation = b.generation;
    let mut done = b.done.subscribe();
    if w.waiting.load(Ordering::Acquire) == 0 || b.members >= w.max_batch || b.opened.elapsed() >= w.group_wait {
        let b = batch.take().expect("an open batch");
        drop(batch);
        let res = end(&w, b).await;
        drop(turn);
        return res;
    }
    drop(batch);
    drop(turn); // the next writer joins this group
    loop {
        // The outcome, copied out at once (the channel's guard must not live across an await).
        let outcome = match tokio::time::timeout(BATCH_STALL, done.wait_for(Option::is_some)).await {
            Ok(Ok(v)) => Some(v.clone()),
            Ok(Err(_)) => Some(Some(Err("the write group ended without an outcome".to_owned()))),
            Err(_) => None,
        };
        match outcome {
            Some(v) => return v.unwrap_or_else(|| Err("the write group ended without an outcome".to_owned())).map_err(DbErr::Custom),
            None => {
                // Whoever took the turn has not ended the group: take the turn and end it, unless it ended.
                let turn = w.turn.clone().acquire_owned().await.map_err(|_| DbErr::Custom("the write turn closed".into()))?;
                let mut batch = w.batch.lock().await;
                if batch.as_ref().is_some_and(|b| b.generation == generation) {
                    let b = batch.take().expect("an open batch");
                    drop(batch);
                    let res = end(&w, b).await;
                    drop(turn);
                    return res;
                }
            }
        }
    }
}

/// Commits a group and tells its members.
async fn end(w: &Writer, b: Batch) -> Result<(), DbErr> {
    let res = b.outer.commit().await;
    if res.is_ok() {
        w.groups.fetch_add(1, Ordering::Relaxed);
        w.members.fetch_add(b.members as u64, Ordering::Relaxed);
    }
    if let Err(e) = &res {
        tracing::error!(error = %e, members = b.members, "a write group's commit failed; none of its writes happened");
    }
    metrics::histogram!("settle_db_write_group_size").record(b.members as f64);
    b.done.send_replace(Some(res.as_ref().map(|_| ()).map_err(|e| e.to_string())));
    res
}

/// A member left without releasing into the group: end the group when nobody waits to join it (its earlier
/// members wait for that commit), else pass the turn on.
async fn end_or_pass(w: Arc<Writer>, turn: Option<OwnedSemaphorePermit>) {
    if w.waiting.load(Ordering::Acquire) == 0 {
        let batch = w.batch.lock().await.take();
        if let Some(b) = batch {
            let _ = end(&w, b).await;
        }
    }
    drop(turn);
}

impl Drop for Txn {
    fn drop(&mut self) {
        // Dropped unfinished (an error on the way): the savepoint rolls back as `inner` drops; the group must
        // still end or go on, which needs the turn a little longer.
        drop(self.inner.take());
        if let (Some(w), turn) = (self.writer.take(), self.turn.take())
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(end_or_pass(w, turn));
        }
        // Outside a runtime (a process ending) the turn just passes on; the group's members end it themselves
        // after BATCH_STALL.
    }
}

impl Deref for Txn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        self.inner.as_ref().expect("an open transaction")
    }
}

delegate_connection!(Txn, deref);

/// Opens the database: a pool of at most `max_connections`. A SQLite file is created if absent and runs in WAL
/// mode with `synchronous=FULL` on every connection; its pool is read-only, and one more connection writes.
pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
    let backend = Backend::of_url(url)
        .ok_or_else(|| StoreError::Db(sea_orm::DbErr::Custom("DATABASE_URL must start with sqlite:, postgres: or mysql:".into())))?;
    let mut url = url.replacen("mariadb:", "mysql:", 1);
    if backend != Backend::Sqlite {
        return Ok(Db::new(open(url, max_connections, false).await?));
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        // Each connection to an in-memory database has its own: one pool does everything.
        return Ok(Db::new(open(url, max_connections, false).await?));
    }
    if !url.contains("mode=") {
        url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
    }
    // The writer first: it creates the file and puts it in WAL mode, which the readers then find.
    let writes = open(url.clone(), 1, false).await?;
    let reads = open(url, max_connections, true).await?;
    Ok(Db::writer_on(reads, writes, WriterSettings::default()))
}

async fn open(url: String, max_connections: u32, read_only: bool) -> Result<DatabaseConnection, StoreError> {
    let url_is_sqlite = Backend::of_url(&url) == Some(Backend::Sqlite);
    let mut opts = ConnectOptions::new(url);
    // Set on every connection of the pool (a PRAGMA run through the pool reaches one connection only): WAL, and
    // a commit durable when it returns (FULL), as on PostgreSQL and MySQL.
    opts.map_sqlx_sqlite_opts(move |o| {
        let o = o
            .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5));
        if read_only { o.read_only(true).create_if_missing(false) } else { o }
    });
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    // The pool's default pings a connection on every acquire: on SQLite one more turn of the connection's thread
    // per statement or transaction (the writer's while it holds the write turn), for a file that cannot drop a
    // connection; on PostgreSQL and MySQL one more round trip, paid only for a connection that may be stale.
    opts.test_before_acquire(false);
    if !url_is_sqlite {
        opts.map_sqlx_postgres_before_acquire(|c, m| test_if_stale(c, m));
        opts.map_sqlx_mysql_before_acquire(|c, m| test_if_stale(c, m));
    }
    let mut db = Database::connect(opts).await?;
    db.set_metric_callback(|info| {
        let kind = info.statement.sql.split_whitespace().next().unwrap_or("?").to_ascii_uppercase();
        let secs = info.elapsed.as_secs_f64();
        metrics::histogram!("settle_db_query_seconds", "kind" => kind, "failed" => if info.failed { "true" } else { "false" }).record(secs);
        let slow = info.elapsed >= SLOW_QUERY;
        crate::stats::observe(&info.statement.sql, secs, slow);
        if slow {
            metrics::counter!("settle_db_slow_statements_total").increment(1);
            // The statement with its placeholders; bound values are never logged.
            tracing::warn!(elapsed_ms = info.elapsed.as_millis() as u64, sql = %info.statement.sql, "slow query");
        }
    });
    Ok(db)
}

/// Begins a transaction that will write. On SQLite it first takes the write turn ([`Db`]), then the write lock at
/// BEGIN (IMMEDIATE), so it never fails upgrading a read snapshot.
pub async fn begin(db: &Db) -> Result<Txn, StoreError> {
    let turn = db.write_turn().await?;
    let opts = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let Some(w) = &db.writer else {
        return Ok(Txn { inner: Some(db.conn.begin_with_options(opts).await?), turn, writer: None });
    };
    let mut batch = w.batch.lock().await;
    if let Err(e) = open_group(w, &mut batch).await {
        drop(batch);
        drop(turn);
        return Err(e.into());
    }
    let savepoint = batch.as_ref().expect("an open batch").outer.begin().await;
    drop(batch);
    match savepoint {
        Ok(sp) => Ok(Txn { inner: Some(sp), turn, writer: Some(w.clone()) }),
        Err(e) => {
            end_or_pass(w.clone(), turn).await;
            Err(e.into())
        }
    }
}

/// Opens a group transaction (IMMEDIATE: it takes SQLite's write lock at once) unless one is open; the caller holds
/// the turn.
async fn open_group(w: &Writer, batch: &mut Option<Batch>) -> Result<(), DbErr> {
    if batch.is_none() {
        let opts = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
        let outer = w.conn.begin_with_options(opts).await?;
        let generation = w.generation.fetch_add(1, Ordering::AcqRel);
        let opened = std::time::Instant::now();
        *batch = Some(Batch { outer, opened, members: 0, generation, done: tokio::sync::watch::channel(None).0 });
    }
    Ok(())
}

/// The savepoint a [`write_batch`] runs in on SQLite (one at a time: its writer holds the turn).
const BATCH_SAVEPOINT: &str = "settle_batch";

/// Runs `stmt`, a batch of statements (`;`-separated, values bound in the order they appear), as one write
/// transaction, and returns the rows all its statements return. Either every statement of it is written or none.
///
/// On SQLite the batch joins the write group like a [`begin`]'s transaction, in one turn of the writer connection's
/// thread: its savepoint, statements and release are sent as one text (a transaction from [`begin`] costs a turn
/// for its savepoint, one per statement and one for its release, all while the write turn is held). A statement
/// that fails rolls the savepoint back (one more turn) and nothing of the batch stays. It runs in a task of its own:
/// a caller that goes away (a client that hung up) cannot leave the batch half sent and the savepoint open while
/// the next writer joins the group. It returns once the group's commit is durable.
///
/// Elsewhere it runs in a transaction of its own (MySQL does not take a batch of statements at once).
pub async fn write_batch(db: &Db, stmt: Statement) -> Result<Vec<QueryResult>, StoreError> {
    let Some(w) = db.writer.clone() else {
        let txn = begin(db).await?;
        let rows = txn.query_all_raw(stmt).await?;
        txn.commit().await?;
        return Ok(rows);
    };
    let turn = db.write_turn().await?;
    // Traced as a transaction's statement (`db check`), here: the task below is outside the request's scope.
    crate::audit::trace(&stmt.sql, true);
    let run = async move {
        let mut batch = w.batch.lock().await;
        if let Err(e) = open_group(&w, &mut batch).await {
            drop(batch);
            drop(turn);
            return Err(StoreError::from(e));
        }
        let outer = &batch.as_ref().expect("an open batch").outer;
        let sql = format!("SAVEPOINT {BATCH_SAVEPOINT}; {}; RELEASE {BATCH_SAVEPOINT};", stmt.sql.trim_end().trim_end_matches(';'));
        match outer.query_all_raw(Statement { sql, ..stmt }).await {
            Ok(rows) => {
                drop(batch);
                joined(w, turn).await?;
                Ok(rows)
            }
            Err(e) => {
                // The statements before the failed one are undone; the group's earlier members are untouched. A
                // savepoint that cannot be rolled back (SQLite ended the whole transaction on an I/O error, say)
                // ends the group without its commit, and its members are told.
                let undone = outer.execute_unprepared(&format!("ROLLBACK TO {BATCH_SAVEPOINT}; RELEASE {BATCH_SAVEPOINT}")).await;
                if let Err(undo) = undone {
                    let b = batch.take().expect("an open batch");
                    tracing::error!(error = %undo, members = b.members, "a write batch could not be undone; its group is rolled back");
                    let _ = b.outer.rollback().await;
                    b.done.send_replace(Some(Err("the write group was rolled back".to_owned())));
                    drop(batch);
                    drop(turn);
                } else {
                    drop(batch);
                    end_or_pass(w, turn).await;
                }
                Err(StoreError::from(e))
            }
        }
    };
    tokio::spawn(run).await.map_err(|e| StoreError::Db(DbErr::Custom(format!("a write batch ended: {e}"))))?
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
