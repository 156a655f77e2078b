//! Store errors: a thiserror enum the services match on. Constraint violations that mean something to a
//! caller become their own variants here, in one place, rather than a match on driver messages everywhere.

use sea_orm::{DbErr, SqlErr};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the text is the driver's message (for logs only).
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// Another writer changed the rows first (a lost race); the caller retries or gives up.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database gave up on this transaction and rolled it back (a deadlock victim, a serialization
    /// failure, MySQL's lock-wait timeout): nothing of it happened, and running it again may succeed.
    #[error("retryable: {0}")]
    Retryable(&'static str),
    /// A row the caller named does not exist (or belongs to another tenant).
    #[error("not found")]
    NotFound,
    /// The database refuses writes (PostgreSQL in recovery or with read-only transactions, MySQL's read_only,
    /// a read-only SQLite file): nothing was written.
    #[error("the database refuses writes")]
    ReadOnly,
    /// Anything else the database said, including a lost connection.
    #[error("database error: {0}")]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if let Some(why) = retryable(&e) {
            return Self::Retryable(why);
        }
        if refuses_writes(&e) {
            READ_ONLY_SEEN.store(crate::now_ms(), std::sync::atomic::Ordering::Relaxed);
            return Self::ReadOnly;
        }
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(msg)) => Self::Unique(msg),
            _ => Self::Db(e),
        }
    }
}

/// A deadlock or serialization failure (SQLSTATE 40001 on MySQL and PostgreSQL, 40P01 on PostgreSQL) or MySQL's
/// lock-wait timeout (error 1205): the database rolled the transaction (or the statement) back. Or SQLite's
/// writer refused the write (its queue full, or the turn late): nothing of it began.
fn retryable(e: &DbErr) -> Option<&'static str> {
    use sea_orm::{RuntimeErr, sqlx};
    if let DbErr::Custom(m) = e {
        // SQLite's writer refused the write before it began (a single statement's turn, see `Db`).
        return [crate::connect::QUEUE_FULL, crate::connect::TURN_LATE].into_iter().find(|w| w == m);
    }
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else { return None };
    let sqlx::Error::Database(d) = e.as_ref() else { return None };
    match d.code().as_deref() {
        Some("40001" | "40P01") => Some("the database chose this transaction as a deadlock or serialization victim"),
        _ if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some_and(|m| m.number() == 1205) => Some("a lock wait timed out"),
        _ => None,
    }
}

/// The server ended the session the statement ran on, or the connection under it broke: PostgreSQL's
/// admin_shutdown, crash_shutdown and cannot_connect_now (57P01-57P03: a failover, a restart, an operator's
/// pg_terminate_backend), MySQL's killed connection and server shutdown (1927, 1053: KILL, a restart; MySQL's
/// 4031, its idle timeout, is left out: MariaDB uses that number for a DDL error), or the socket failing.
/// Whatever the statement was, it did not commit unless the session ended in the instant between its commit and
/// the answer, which nobody can tell from here: a write is answered 503 (the client retries under its
/// Idempotency-Key), never run again unseen; a read is (see `Db`). Seeing one is noted ([`session_ended_seen`]).
pub fn session_ended(e: &DbErr) -> bool {
    let ended = ended_under(e);
    if ended {
        SESSION_ENDED_SEEN.store(crate::now_ms(), std::sync::atomic::Ordering::Relaxed);
    }
    ended
}

fn ended_under(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Conn(RuntimeErr::SqlxError(e))) = e else {
        return false;
    };
    match e.as_ref() {
        sqlx::Error::Database(d) => {
            if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                return matches!(m.number(), 1053 | 1927);
            }
            matches!(d.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
        }
        sqlx::Error::Io(_) => true,
        _ => false,
    }
}

/// When this process last saw a session ended under a statement (epoch ms; 0: never): for a while after, the pool
/// tests each connection before handing it out, so one ended session does not become one failure per pooled
/// connection (a failover ends them all).
static SESSION_ENDED_SEEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// When this process last saw a session ended under a statement (epoch ms; 0: never).
pub fn session_ended_seen() -> i64 {
    SESSION_ENDED_SEEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// When this process last saw the database refuse a write (epoch ms; 0: never). Process-wide: a process serves
/// one database (the test suite runs each test in a process of its own, under nextest).
static READ_ONLY_SEEN: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// When this process last saw the database refuse a write (epoch ms; 0: never).
pub fn read_only_seen() -> i64 {
    READ_ONLY_SEEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// The database refuses writes: SQLSTATE 25006 (PostgreSQL: a read-only transaction, a standby in recovery),
/// MySQL 1290 / 1792 / 1836 (read_only, a read-only transaction, read-only mode), SQLite's SQLITE_READONLY and its
/// extended codes.
fn refuses_writes(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else { return false };
    let sqlx::Error::Database(d) = e.as_ref() else { return false };
    if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(m.number(), 1290 | 1792 | 1836);
    }
    matches!(d.code().as_deref(), Some("25006" | "8" | "264" | "520" | "776" | "1032" | "1288" | "1544"))
}

impl StoreError {
    pub fn is_unique(&self) -> bool {
        matches!(self, Self::Unique(_))
    }

    /// Whether this is a unique violation of the index `index` over `table`'s `columns`: PostgreSQL and MySQL name
    /// the index in their message, SQLite names the columns (`UNIQUE constraint failed: t.a, t.b`). Only that
    /// constraint means what the caller makes of it (a duplicate order, say); another one is a fault.
    pub fn violates(&self, index: &str, table: &str, columns: &[&str]) -> bool {
        let Self::Unique(msg) = self else { return false };
        let sqlite = columns.iter().map(|c| format!("{table}.{c}")).collect::<Vec<_>>().join(", ");
        msg.contains(&format!("\"{index}\""))
            || msg.contains(&format!("'{index}'"))
            || msg.contains(&format!("key '{table}.{index}'"))
            || msg.ends_with(&sqlite)
    }

    /// The database could not be reached (refused, reset, pool exhausted or closed) or, on SQLite, stayed
    /// locked by other writers: a 503, not a bug.
    pub fn is_unavailable(&self) -> bool {
        use sea_orm::{RuntimeErr, sqlx};
        let Self::Db(e) = self else { return false };
        if session_ended(e) {
            return true;
        }
        match e {
            DbErr::ConnectionAcquire(_) => true,
            DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                match e.as_ref() {
                    // SQLite's file stayed locked by other writers past the busy timeout (SQLITE_BUSY, SQLITE_LOCKED):
                    // nothing of this transaction happened; the caller may retry.
                    sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("5" | "6" | "517")),
                    other => matches!(
                        other,
                        sqlx::Error::Io(_)
                            | sqlx::Error::PoolTimedOut
                            | sqlx::Error::PoolClosed
                            | sqlx::Error::WorkerCrashed
                            | sqlx::Error::Protocol(_)
                            | sqlx::Error::Tls(_)
                    ),
                }
            }
            DbErr::Conn(_) => true,
            _ => false,
        }
    }
}
