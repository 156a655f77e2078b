//! Settle's database layer, and the only crate that knows SQL or SeaORM.
//!
//! - [`connect`]: opening a pool for SQLite, PostgreSQL or MySQL/MariaDB from a URL, and write transactions.
//! - [`migration`]: versioned migrations ([`migration::Migrator`]).
//! - [`entity`]: the SeaORM entities, one per table.
//! - [`merchants`], [`payments`]: tenant-scoped queries.
//! - [`idempotency`], [`outbox`], [`leases`]: the mechanisms every feature reuses; [`flags`]: switches every
//!   instance follows (the admin's read-only mode).
//! - [`refunds`]: refunds of payments, whole or partial; [`cancellations`]: cancellations of paid orders.
//! - [`voids`]: gateway transactions the card rail must void, as durable jobs.
//! - [`webhooks`]: webhook endpoints, their deliveries and every attempt.
//! - [`chain`]: the chain watcher's cursor, remembered block hashes and logs.
//! - [`relay`]: relay requests and the relayer's transactions, with nonces allocated in the database.
//! - [`audit`]: the audit log, written in each change's transaction inside a request's or CLI action's scope.
//! - [`backup`]: every table as portable rows (JSON objects of exact values), for backups across backends.
//! - [`schema`]: the live schema, long-running sessions and unused indexes, for `settle db check`.
//! - [`error`]: the store error type, [`StoreError`].
//!
//! Every function takes a connection or a transaction (`&impl ConnectionTrait`), so a service composes several
//! in one transaction and owns its boundary. Every value is bound, never interpolated.

pub mod audit;
pub mod backup;
pub mod cancellations;
pub mod chain;
pub mod checkout_sessions;
pub mod connect;
pub mod dead_letters;
pub mod entity;
pub mod error;
pub mod flags;
pub mod idempotency;
pub mod leases;
pub mod merchants;
pub mod migration;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod refunds;
pub mod relay;
pub mod schema;
pub mod shop;
pub mod stats;
pub mod voids;
pub mod webhooks;

pub use connect::{Backend, Db, Txn, begin, begin_snapshot, connect, ping, tls_in_use, write_batch};
pub use error::StoreError;
pub use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait};

/// Now, as UTC epoch milliseconds: the unit of every time column.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Deletes one bounded batch of an entity's rows: those `select` finds (filtered and ordered by the caller), by their
/// `id` column, at most `batch`; returns how many. The janitor's purges run it until it deletes less than a batch.
pub(crate) async fn delete_batch<E: sea_orm::EntityTrait>(
    conn: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
    id: E::Column,
    batch: u64,
) -> Result<u64, StoreError> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let ids: Vec<i64> = select.select_only().column(id).limit(batch).into_tuple().all(conn).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(E::delete_many().filter(id.is_in(ids)).exec(conn).await?.rows_affected)
}

/// Where a page of a list starts: the API's `startingAfter` / `endingBefore`, as the cursor row's `id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cursor {
    /// The first page (the newest rows).
    #[default]
    First,
    /// The rows older than this one (the next page).
    After(i64),
    /// The rows newer than this one (the previous page).
    Before(i64),
}

impl Cursor {
    /// The cursor a list request names: `startingAfter`, else `endingBefore` (the edge refuses both at once), each
    /// turned into its row's id by `id_of`, which is told the parameter's name for the error that names it.
    pub async fn named<'a, E, Fut: Future<Output = Result<i64, E>>>(
        starting_after: Option<&'a str>,
        ending_before: Option<&'a str>,
        id_of: impl Fn(&'static str, &'a str) -> Fut,
    ) -> Result<Self, E> {
        Ok(match (starting_after, ending_before) {
            (Some(id), _) => Self::After(id_of("startingAfter", id).await?),
            (None, Some(id)) => Self::Before(id_of("endingBefore", id).await?),
            (None, None) => Self::First,
        })
    }
}

/// One page of `select` (filtered by the caller), newest first by its `id` column, at most `limit` rows, and
/// whether more rows follow in the direction the page was read: older ones for [`Cursor::First`] and
/// [`Cursor::After`], newer ones for [`Cursor::Before`]. A page before a cursor is the `limit` rows just newer
/// than it, still newest first.
pub(crate) async fn page<E: sea_orm::EntityTrait>(
    conn: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
    id: E::Column,
    cursor: Cursor,
    limit: u64,
) -> Result<(Vec<E::Model>, bool), StoreError> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let select = match cursor {
        Cursor::First => select.order_by_desc(id),
        Cursor::After(c) => select.filter(id.lt(c)).order_by_desc(id),
        Cursor::Before(c) => select.filter(id.gt(c)).order_by_asc(id),
    };
    let mut rows = select.limit(limit + 1).all(conn).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if matches!(cursor, Cursor::Before(_)) {
        rows.reverse();
    }
    Ok((rows, more))
}
