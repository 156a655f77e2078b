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
    /// A row the caller named does not exist (or belongs to another tenant).
    #[error("not found")]
    NotFound,
    /// Anything else the database said, including a lost connection.
    #[error("database error: {0}")]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        if is_deadlock(&e) {
            return Self::Conflict("the database chose this transaction as a deadlock victim");
        }
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(msg)) => Self::Unique(msg),
            _ => Self::Db(e),
        }
    }
}

/// A deadlock or serialization failure (SQLSTATE 40001 on MySQL and PostgreSQL, 40P01 on PostgreSQL): the
/// transaction was rolled back and nothing of it happened.
fn is_deadlock(e: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("40001" | "40P01")),
            _ => false,
        },
        _ => false,
    }
}

impl StoreError {
    pub fn is_unique(&self) -> bool {
        matches!(self, Self::Unique(_))
    }

    /// The database could not be reached (refused, reset, pool exhausted or closed): a 503, not a bug.
    pub fn is_unavailable(&self) -> bool {
        use sea_orm::{RuntimeErr, sqlx};
        let Self::Db(e) = self else { return false };
        match e {
            DbErr::ConnectionAcquire(_) => true,
            DbErr::Conn(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => matches!(
                e.as_ref(),
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_)
            ),
            DbErr::Conn(_) => true,
            _ => false,
        }
    }
}
