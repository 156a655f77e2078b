//! The chain watcher's state: its cursor, the block hashes it relied on, and the logs it saw.
//!
//! Invariant: every log row's block hash, and the cursor's, were canonical when written; a reorg is found by
//! comparing them with the chain again, and [`rewind`] removes everything above the fork so the blocks are read
//! again.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use settle_domain::PaymentStatus;

use crate::{
    StoreError,
    entity::{chain_block, chain_cursor, chain_log, payment, relay_request},
};

pub use chain_cursor::Model as CursorRow;
pub use chain_log::Model as LogRow;

pub async fn cursor(conn: &impl ConnectionTrait, chain_id: i64) -> Result<Option<CursorRow>, StoreError> {
    Ok(chain_cursor::Entity::find_by_id(chain_id).one(conn).await?)
}

/// Moves the cursor (creating it the first time).
pub async fn set_cursor(conn: &impl ConnectionTrait, chain_id: i64, number: i64, hash: &str, now: i64) -> Result<(), StoreError> {
    let res = chain_cursor::Entity::update_many()
        .col_expr(chain_cursor::Column::BlockNumber, Expr::value(number))
        .col_expr(chain_cursor::Column::BlockHash, Expr::value(hash))
        .col_expr(chain_cursor::Column::UpdatedAt, Expr::value(now))
        .filter(chain_cursor::Column::ChainId.eq(chain_id))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        let row =
            chain_cursor::ActiveModel { chain_id: Set(chain_id), block_number: Set(number), block_hash: Set(hash.to_owned()), updated_at: Set(now) };
        chain_cursor::Entity::insert(row).exec_without_returning(conn).await?;
    }
    Ok(())
}

/// Records the hash of a block the watcher relied on (replacing an older one at that number). Safe when the
/// watcher and the relayer (recording a receipt's log) remember the same block at once.
pub async fn remember_block(conn: &impl ConnectionTrait, chain_id: i64, number: i64, hash: &str) -> Result<(), StoreError> {
    // One upsert: it never raises a unique violation (which would abort the caller's transaction on PostgreSQL when
    // the relayer and the watcher remember the same block at once).
    let row = chain_block::ActiveModel { chain_id: Set(chain_id), number: Set(number), hash: Set(hash.to_owned()), ..Default::default() };
    chain_block::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([chain_block::Column::ChainId, chain_block::Column::Number]).update_column(chain_block::Column::Hash).to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// The remembered blocks at or below `number`, highest first.
pub async fn blocks_below(conn: &impl ConnectionTrait, chain_id: i64, number: i64, limit: u64) -> Result<Vec<(i64, String)>, StoreError> {
    Ok(chain_block::Entity::find()
        .filter(chain_block::Column::ChainId.eq(chain_id))
        .filter(chain_block::Column::Number.lte(number))
        .order_by_desc(chain_block::Column::Number)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|b| (b.number, b.hash))
        .collect())
}

/// Forgets everything above `fork` (a reorg): remembered blocks and logs, applied ones included (a log an applied
/// payment relied on that a reorg removed is the caller's to report; if its transaction is mined again, its log is
/// read again). Returns the logs forgotten.
/// The logs a rewind to `fork` would forget.
pub async fn logs_above(conn: &impl ConnectionTrait, chain_id: i64, fork: i64) -> Result<Vec<LogRow>, StoreError> {
    Ok(chain_log::Entity::find().filter(chain_log::Column::ChainId.eq(chain_id)).filter(chain_log::Column::BlockNumber.gt(fork)).all(conn).await?)
}

/// Marks a log applied; false when it already was (another writer applied it first).
pub async fn mark_applied_once(conn: &impl ConnectionTrait, id: i64) -> Result<bool, StoreError> {
    let res = chain_log::Entity::update_many()
        .col_expr(chain_log::Column::Applied, Expr::value(true))
        .filter(chain_log::Column::Id.eq(id))
        .filter(chain_log::Column::Applied.eq(false))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A rewind to `fork`: forgets the blocks remembered above it and the logs `log_ids` (those whose block is no longer
/// canonical; logs above the fork still canonical are kept).
pub async fn forget(conn: &impl ConnectionTrait, chain_id: i64, fork: i64, log_ids: &[i64]) -> Result<(), StoreError> {
    chain_block::Entity::delete_many()
        .filter(chain_block::Column::ChainId.eq(chain_id))
        .filter(chain_block::Column::Number.gt(fork))
        .exec(conn)
        .await?;
    for ids in log_ids.chunks(500) {
        chain_log::Entity::delete_many()
            .filter(chain_log::Column::ChainId.eq(chain_id))
            .filter(chain_log::Column::Id.is_in(ids.to_vec()))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// A log the watcher saw (a repeat is ignored).
#[derive(Clone, Debug)]
pub struct NewLog {
    pub chain_id: i64,
    pub payment_id: String,
    pub tx_hash: String,
    pub log_index: i64,
    pub block_number: i64,
    pub block_hash: String,
    pub payer: String,
    pub token: String,
    pub amount: String,
    pub fee: String,
    pub recipient: String,
}

/// Records a log; false when it was already recorded.
pub async fn insert_log(conn: &impl ConnectionTrait, l: NewLog, now: i64) -> Result<bool, StoreError> {
    let exists = chain_log::Entity::find()
        .filter(chain_log::Column::ChainId.eq(l.chain_id))
        .filter(chain_log::Column::TxHash.eq(l.tx_hash.as_str()))
        .filter(chain_log::Column::LogIndex.eq(l.log_index))
        .one(conn)
        .await?;
    if exists.is_some() {
        return Ok(false);
    }
    let row = chain_log::ActiveModel {
        chain_id: Set(l.chain_id),
        payment_id: Set(l.payment_id),
        tx_hash: Set(l.tx_hash),
        log_index: Set(l.log_index),
        block_number: Set(l.block_number),
        block_hash: Set(l.block_hash),
        payer: Set(l.payer),
        token: Set(l.token),
        amount: Set(l.amount),
        fee: Set(l.fee),
        recipient: Set(l.recipient),
        applied: Set(false),
        created_at: Set(now),
        ..Default::default()
    };
    // Seen by the other writer in between (the relayer and the watcher record the same receipt's log): nothing is
    // inserted, and no unique violation aborts the caller's transaction.
    let on_conflict = OnConflict::columns([chain_log::Column::ChainId, chain_log::Column::TxHash, chain_log::Column::LogIndex])
        .do_nothing_on([chain_log::Column::ChainId])
        .to_owned();
    Ok(chain_log::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(conn).await? == 1)
}

/// Logs not yet applied, oldest first.
pub async fn unapplied_logs(conn: &impl ConnectionTrait, chain_id: i64, limit: u64) -> Result<Vec<LogRow>, StoreError> {
    Ok(chain_log::Entity::find()
        .filter(chain_log::Column::ChainId.eq(chain_id))
        .filter(chain_log::Column::Applied.eq(false))
        .order_by_asc(chain_log::Column::BlockNumber)
        .limit(limit)
        .all(conn)
        .await?)
}

pub async fn mark_applied(conn: &impl ConnectionTrait, id: i64) -> Result<(), StoreError> {
    chain_log::Entity::update_many().col_expr(chain_log::Column::Applied, Expr::value(true)).filter(chain_log::Column::Id.eq(id)).exec(conn).await?;
    Ok(())
}

/// Whether any log (applied or not) was seen for a payment.
pub async fn has_log(conn: &impl ConnectionTrait, chain_id: i64, payment_id: &str) -> Result<bool, StoreError> {
    Ok(chain_log::Entity::find()
        .filter(chain_log::Column::ChainId.eq(chain_id))
        .filter(chain_log::Column::PaymentId.eq(payment_id))
        .one(conn)
        .await?
        .is_some())
}

/// The block of a payment's latest log on a chain (applied or not): where it was paid, before its confirmations.
pub async fn payment_log_block(conn: &impl ConnectionTrait, chain_id: i64, payment_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(chain_log::Entity::find()
        .filter(chain_log::Column::ChainId.eq(chain_id))
        .filter(chain_log::Column::PaymentId.eq(payment_id))
        .order_by_desc(chain_log::Column::BlockNumber)
        .one(conn)
        .await?
        .map(|l| l.block_number))
}

/// Payments made on one of `gateways` (checksummed), or before a payment's gateway was stored: the ones a chain's
/// watcher may judge. A payment of a gateway the chain no longer lists is left out, so it never takes a page's room.
fn on_gateways(gateways: &[String]) -> Condition {
    Condition::any().add(payment::Column::GatewayAddress.is_null()).add(payment::Column::GatewayAddress.is_in(gateways.iter().cloned()))
}

/// A chain's CANCELLING payments that may be decided now, oldest first: those whose cancellation was mined (its
/// relay request CONFIRMED) or whose terms' deadline is before `before` (epoch seconds). The others wait for their
/// cancellation without costing the watcher a call, however many there are. Only payments of `gateways`.
pub async fn cancelling(
    conn: &impl ConnectionTrait,
    chain_id: i64,
    gateways: &[String],
    before: i64,
    after_id: i64,
    limit: u64,
) -> Result<Vec<payment::Model>, StoreError> {
    let mined = Query::select()
        .expr(Expr::val(1))
        .from(relay_request::Entity)
        .and_where(Expr::col((relay_request::Entity, relay_request::Column::PaymentId)).equals((payment::Entity, payment::Column::PaymentId)))
        .and_where(Expr::col((relay_request::Entity, relay_request::Column::Status)).eq(crate::relay::CONFIRMED))
        .to_owned();
    Ok(payment::Entity::find()
        .filter(payment::Column::Status.eq(PaymentStatus::Cancelling))
        .filter(payment::Column::ChainId.eq(chain_id))
        .filter(on_gateways(gateways))
        .filter(Condition::any().add(payment::Column::Deadline.lt(before)).add(Expr::exists(mined)))
        .filter(payment::Column::Id.gt(after_id))
        .order_by_asc(payment::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Unfinished CHAIN payments of a chain whose deadline is before `before` (epoch seconds), made on one of `gateways`,
/// after row `after_id` (a page of them, by row id: a caller that leaves some as they are goes on past them).
pub async fn past_deadline(
    conn: &impl ConnectionTrait,
    chain_id: i64,
    gateways: &[String],
    before: i64,
    after_id: i64,
    limit: u64,
) -> Result<Vec<payment::Model>, StoreError> {
    Ok(payment::Entity::find()
        .filter(payment::Column::ChainId.eq(chain_id))
        .filter(on_gateways(gateways))
        .filter(payment::Column::Deadline.lt(before))
        .filter(payment::Column::Status.is_in([PaymentStatus::Pending, PaymentStatus::Processing]))
        .filter(payment::Column::Id.gt(after_id))
        .order_by_asc(payment::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
