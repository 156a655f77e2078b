//! Relay requests and the relayer's transactions.
//!
//! Invariant: a relayer nonce is handed out only inside the transaction that records the transaction using it
//! (`relayer_nonces.next_nonce` moves by a compare-and-set in that transaction), so no two transactions share a
//! nonce and none is skipped, whatever crashes; a replacement reuses its nonce explicitly.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use crate::{
    StoreError,
    entity::{relay_request, relay_tx, relayer_nonce},
};

pub use relay_request::Model as RelayRequestRow;
pub use relay_tx::Model as RelayTxRow;

pub const PENDING: &str = "PENDING";
pub const SENT: &str = "SENT";
pub const CONFIRMED: &str = "CONFIRMED";
pub const FAILED: &str = "FAILED";
pub const CANCELLED: &str = "CANCELLED";
/// Its transaction can no longer succeed and a 0-value transfer was sent at its nonce: FAILED once that is mined,
/// CONFIRMED if its own transaction is mined after all.
pub const WITHDRAWING: &str = "WITHDRAWING";

// A relayer transaction's status: SENT until one at its nonce is MINED (the others are then REPLACED), or
// DISPLACED when the nonce was used by a transaction that is not ours.
pub const MINED: &str = "MINED";
pub const REPLACED: &str = "REPLACED";
pub const DISPLACED: &str = "DISPLACED";

/// Records a verified relay request (PENDING).
#[allow(clippy::too_many_arguments)]
pub async fn insert_request(
    conn: &impl ConnectionTrait,
    relay_request_id: &str,
    payment_id: &str,
    chain_id: i64,
    relayer: &str,
    forwarder: &str,
    request: &str,
    now: i64,
) -> Result<(), StoreError> {
    let row = relay_request::ActiveModel {
        relay_request_id: Set(relay_request_id.to_owned()),
        payment_id: Set(payment_id.to_owned()),
        forwarder_address: Set(forwarder.to_owned()),
        tx_hash: Set(None),
        status: Set(PENDING.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        chain_id: Set(chain_id),
        relayer: Set(relayer.to_owned()),
        request: Set(Some(request.to_owned())),
        nonce: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        ..Default::default()
    };
    relay_request::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// Whether a payment has a relay request that may still pay it (PENDING, SENT or WITHDRAWING).
pub async fn has_open_request(conn: &impl ConnectionTrait, payment_id: &str) -> Result<bool, StoreError> {
    Ok(relay_request::Entity::find()
        .filter(relay_request::Column::PaymentId.eq(payment_id))
        .filter(relay_request::Column::Status.is_in([PENDING, SENT, WITHDRAWING]))
        .one(conn)
        .await?
        .is_some())
}

pub async fn find_request(conn: &impl ConnectionTrait, relay_request_id: &str) -> Result<Option<RelayRequestRow>, StoreError> {
    Ok(relay_request::Entity::find().filter(relay_request::Column::RelayRequestId.eq(relay_request_id)).one(conn).await?)
}

/// A chain's requests in `status`, oldest first.
pub async fn requests(conn: &impl ConnectionTrait, chain_id: i64, status: &str, limit: u64) -> Result<Vec<RelayRequestRow>, StoreError> {
    Ok(relay_request::Entity::find()
        .filter(relay_request::Column::ChainId.eq(chain_id))
        .filter(relay_request::Column::Status.eq(status))
        .order_by_asc(relay_request::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Moves a request from `from` to `to` (with its hash and error); false when it was not in `from`.
pub async fn set_request_status(
    conn: &impl ConnectionTrait,
    id: i64,
    from: &str,
    to: &str,
    tx_hash: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let mut upd = relay_request::Entity::update_many()
        .col_expr(relay_request::Column::Status, Expr::value(to))
        .col_expr(relay_request::Column::UpdatedAt, Expr::value(now));
    if let Some(h) = tx_hash {
        upd = upd.col_expr(relay_request::Column::TxHash, Expr::value(h));
    }
    if let Some(e) = error {
        upd = upd.col_expr(relay_request::Column::LastError, Expr::value(e.chars().take(250).collect::<String>()));
    }
    let res = upd.filter(relay_request::Column::Id.eq(id)).filter(relay_request::Column::Status.eq(from)).exec(conn).await?;
    Ok(res.rows_affected == 1)
}

/// The relayer's next nonce as recorded (None before its first transaction on this chain).
pub async fn next_nonce(conn: &impl ConnectionTrait, chain_id: i64, relayer: &str) -> Result<Option<i64>, StoreError> {
    Ok(relayer_nonce::Entity::find()
        .filter(relayer_nonce::Column::ChainId.eq(chain_id))
        .filter(relayer_nonce::Column::Relayer.eq(relayer))
        .one(conn)
        .await?
        .map(|r| r.next_nonce))
}

/// Sets the next nonce when it is unknown or behind `at_least` (the chain's own count); returns the value.
pub async fn ensure_nonce(conn: &impl ConnectionTrait, chain_id: i64, relayer: &str, at_least: i64) -> Result<i64, StoreError> {
    match next_nonce(conn, chain_id, relayer).await? {
        Some(n) if n >= at_least => Ok(n),
        Some(_) => {
            relayer_nonce::Entity::update_many()
                .col_expr(relayer_nonce::Column::NextNonce, Expr::value(at_least))
                .filter(relayer_nonce::Column::ChainId.eq(chain_id))
                .filter(relayer_nonce::Column::Relayer.eq(relayer))
                .filter(relayer_nonce::Column::NextNonce.lt(at_least))
                .exec(conn)
                .await?;
            Ok(at_least)
        }
        None => {
            let row = relayer_nonce::ActiveModel {
                chain_id: Set(chain_id),
                relayer: Set(relayer.to_owned()),
                next_nonce: Set(at_least),
                ..Default::default()
            };
            relayer_nonce::Entity::insert(row).exec_without_returning(conn).await?;
            Ok(at_least)
        }
    }
}

/// Takes nonce `n` (a compare-and-set from `n` to `n + 1`); false when another writer took it.
pub async fn take_nonce(conn: &impl ConnectionTrait, chain_id: i64, relayer: &str, n: i64) -> Result<bool, StoreError> {
    let res = relayer_nonce::Entity::update_many()
        .col_expr(relayer_nonce::Column::NextNonce, Expr::value(n + 1))
        .filter(relayer_nonce::Column::ChainId.eq(chain_id))
        .filter(relayer_nonce::Column::Relayer.eq(relayer))
        .filter(relayer_nonce::Column::NextNonce.eq(n))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A signed transaction to record.
#[derive(Clone, Debug)]
pub struct NewTx {
    pub chain_id: i64,
    pub relayer: String,
    pub nonce: i64,
    pub relay_request_id: Option<String>,
    pub tx_hash: String,
    pub raw_tx: String,
    pub max_fee: String,
    pub max_priority_fee: String,
    pub sent_block: i64,
}

pub async fn insert_tx(conn: &impl ConnectionTrait, t: NewTx, now: i64) -> Result<(), StoreError> {
    let row = relay_tx::ActiveModel {
        chain_id: Set(t.chain_id),
        relayer: Set(t.relayer),
        nonce: Set(t.nonce),
        relay_request_id: Set(t.relay_request_id),
        tx_hash: Set(t.tx_hash),
        raw_tx: Set(t.raw_tx),
        max_fee: Set(t.max_fee),
        max_priority_fee: Set(t.max_priority_fee),
        status: Set(SENT.to_owned()),
        sent_block: Set(t.sent_block),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    relay_tx::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

/// Every transaction of a relayer still SENT, lowest nonce first.
pub async fn sent_txs(conn: &impl ConnectionTrait, chain_id: i64, relayer: &str) -> Result<Vec<RelayTxRow>, StoreError> {
    Ok(relay_tx::Entity::find()
        .filter(relay_tx::Column::ChainId.eq(chain_id))
        .filter(relay_tx::Column::Relayer.eq(relayer))
        .filter(relay_tx::Column::Status.eq(SENT))
        .order_by_asc(relay_tx::Column::Nonce)
        .order_by_asc(relay_tx::Column::Id)
        .all(conn)
        .await?)
}

/// Every transaction at one nonce, oldest first.
pub async fn txs_at(conn: &impl ConnectionTrait, chain_id: i64, relayer: &str, nonce: i64) -> Result<Vec<RelayTxRow>, StoreError> {
    Ok(relay_tx::Entity::find()
        .filter(relay_tx::Column::ChainId.eq(chain_id))
        .filter(relay_tx::Column::Relayer.eq(relayer))
        .filter(relay_tx::Column::Nonce.eq(nonce))
        .order_by_asc(relay_tx::Column::Id)
        .all(conn)
        .await?)
}

/// Moves a transaction's stuck period to start at `block` (a broadcast of it a node took).
pub async fn set_tx_sent_block(conn: &impl ConnectionTrait, id: i64, block: i64) -> Result<(), StoreError> {
    relay_tx::Entity::update_many().col_expr(relay_tx::Column::SentBlock, Expr::value(block)).filter(relay_tx::Column::Id.eq(id)).exec(conn).await?;
    Ok(())
}

pub async fn set_tx_status(conn: &impl ConnectionTrait, id: i64, status: &str, now: i64) -> Result<(), StoreError> {
    relay_tx::Entity::update_many()
        .col_expr(relay_tx::Column::Status, Expr::value(status))
        .col_expr(relay_tx::Column::UpdatedAt, Expr::value(now))
        .filter(relay_tx::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Every transaction of a relayer (tests: nonces contiguous, one mined per nonce).
pub async fn all_txs(conn: &impl ConnectionTrait, chain_id: i64, relayer: &str) -> Result<Vec<RelayTxRow>, StoreError> {
    Ok(relay_tx::Entity::find()
        .filter(relay_tx::Column::ChainId.eq(chain_id))
        .filter(relay_tx::Column::Relayer.eq(relayer))
        .order_by_asc(relay_tx::Column::Nonce)
        .all(conn)
        .await?)
}
