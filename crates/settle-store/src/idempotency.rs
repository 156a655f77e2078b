//! Idempotency-Key records (Stripe semantics). A request claims its key by inserting an IN_FLIGHT row that
//! names it as owner (a random token). The business transaction binds the key to what it created or changed
//! ([`bind`], or [`complete`] with the response), in the same commit as the change and only while the claim is
//! still the owner's. A request that fails before any change releases its claim (the row goes); one that fails
//! after binding abandons it (the row stays, with its resource, and the next request with the key takes it over
//! at once and answers from the resource). A bound key is never run afresh: that is what makes a retry after a
//! failure that followed the commit safe.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{StoreError, entity::idempotency_key};

pub use idempotency_key::Model as IdempotencyRow;

pub const IN_FLIGHT: &str = "IN_FLIGHT";
pub const DONE: &str = "DONE";

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours now: run the request, then [`complete`] or [`release`]. `resource` is what an earlier
    /// owner bound the key to (it failed or stopped after its commit): answer from it, never create anew.
    Claimed { resource: Option<String> },
    /// Someone used the key before: compare hashes, replay or wait.
    Existing(IdempotencyRow),
}

/// Claims `(merchant_id, key)` for `owner`, a request whose body hashes to `hash` (and, under older fingerprint
/// keys, to one of `accepted`). An expired record, or an IN_FLIGHT one whose owner stopped more than `stale_ms` ago
/// (a crash), is taken over.
#[allow(clippy::too_many_arguments)]
pub async fn claim(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    key: &str,
    hash: &str,
    accepted: &[String],
    owner: &str,
    now: i64,
    ttl_ms: i64,
    stale_ms: i64,
) -> Result<Claim, StoreError> {
    let row = idempotency_key::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        idem_key: Set(key.to_owned()),
        request_hash: Set(hash.to_owned()),
        state: Set(IN_FLIGHT.to_owned()),
        response_status: Set(None),
        response_body: Set(None),
        locked_at: Set(now),
        created_at: Set(now),
        expires_at: Set(now + ttl_ms),
        owner: Set(Some(owner.to_owned())),
        ..Default::default()
    };
    match idempotency_key::Entity::insert(row).exec_without_returning(conn).await {
        Ok(_) => return Ok(Claim::Claimed { resource: None }),
        Err(e) => {
            let e = StoreError::from(e);
            if e.is_unavailable() {
                // The session ended under the insert: it may have committed with its answer lost. The row then
                // names this request's owner token (unique to it), and the claim is this request's; otherwise it
                // was not made, and the caller hears the database was unavailable (a retry claims afresh). Left
                // unanswered, a committed claim held the key for the stale period, every retry refused 409.
                return match find(conn, merchant_id, key).await {
                    Ok(Some(r)) if r.owner.as_deref() == Some(owner) && r.state == IN_FLIGHT => Ok(Claim::Claimed { resource: None }),
                    _ => Err(e),
                };
            }
            if !e.is_unique() {
                return Err(e);
            }
        }
    }
    let Some(existing) = find(conn, merchant_id, key).await? else {
        // Deleted between our insert and this read: the caller may try again.
        return Ok(Claim::Existing(missing(merchant_id, key, hash, now)));
    };
    let expired = existing.expires_at < now;
    let stale = existing.state == IN_FLIGHT && existing.locked_at < now - stale_ms;
    // A key bound to what its request made is taken over only by the same request (the caller then sees the
    // other request's fingerprint: 422), and keeps its resource; an expired one starts afresh.
    let resource = if expired { None } else { existing.resource.clone() };
    if resource.is_some() && !accepted.contains(&existing.request_hash) {
        return Ok(Claim::Existing(existing));
    }
    if expired || stale {
        if take_over(conn, &existing, resource.as_deref(), hash, owner, now, ttl_ms).await? {
            return Ok(Claim::Claimed { resource });
        }
        return Ok(Claim::Existing(find(conn, merchant_id, key).await?.unwrap_or(existing)));
    }
    Ok(Claim::Existing(existing))
}

/// Takes `existing` (as it was read) over for `owner`, keeping `resource`: only if the row is still exactly what
/// was read. Nobody took it over since, and its owner did not bind or complete it meanwhile (a bind also moves
/// `locked_at`; the owner and resource are matched too, so an owner's commit landing while this UPDATE waits on the
/// row makes it match nothing). True when taken.
pub async fn take_over(
    conn: &impl ConnectionTrait,
    existing: &IdempotencyRow,
    resource: Option<&str>,
    hash: &str,
    owner: &str,
    now: i64,
    ttl_ms: i64,
) -> Result<bool, StoreError> {
    let mut q = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Resource, Expr::value(resource.map(str::to_owned)))
        .col_expr(idempotency_key::Column::RequestHash, Expr::value(hash))
        .col_expr(idempotency_key::Column::State, Expr::value(IN_FLIGHT))
        .col_expr(idempotency_key::Column::ResponseStatus, Expr::value(Option::<i32>::None))
        .col_expr(idempotency_key::Column::ResponseBody, Expr::value(Option::<String>::None))
        .col_expr(idempotency_key::Column::LockedAt, Expr::value(now))
        .col_expr(idempotency_key::Column::CreatedAt, Expr::value(now))
        .col_expr(idempotency_key::Column::ExpiresAt, Expr::value(now + ttl_ms))
        .col_expr(idempotency_key::Column::Owner, Expr::value(owner))
        .filter(idempotency_key::Column::Id.eq(existing.id))
        .filter(idempotency_key::Column::LockedAt.eq(existing.locked_at))
        .filter(idempotency_key::Column::State.eq(existing.state.as_str()))
        .filter(idempotency_key::Column::RequestHash.eq(existing.request_hash.as_str()));
    q = match &existing.owner {
        Some(o) => q.filter(idempotency_key::Column::Owner.eq(o.as_str())),
        None => q.filter(idempotency_key::Column::Owner.is_null()),
    };
    q = match &existing.resource {
        Some(r) => q.filter(idempotency_key::Column::Resource.eq(r.as_str())),
        None => q.filter(idempotency_key::Column::Resource.is_null()),
    };
    Ok(q.exec(conn).await?.rows_affected == 1)
}

fn missing(merchant_id: &str, key: &str, hash: &str, now: i64) -> IdempotencyRow {
    IdempotencyRow {
        id: 0,
        merchant_id: merchant_id.to_owned(),
        idem_key: key.to_owned(),
        request_hash: hash.to_owned(),
        state: IN_FLIGHT.to_owned(),
        response_status: None,
        response_body: None,
        locked_at: now,
        created_at: now,
        expires_at: now,
        owner: None,
        resource: None,
    }
}

pub async fn find(conn: &impl ConnectionTrait, merchant_id: &str, key: &str) -> Result<Option<IdempotencyRow>, StoreError> {
    Ok(idempotency_key::Entity::find()
        .filter(idempotency_key::Column::MerchantId.eq(merchant_id))
        .filter(idempotency_key::Column::IdemKey.eq(key))
        .one(conn)
        .await?)
}

/// Stores the response of `owner`'s claim (its outcome's code and body); call it inside the business transaction. False when the claim is
/// no longer the owner's (taken over after it went stale): the caller must then roll back.
pub async fn complete(conn: &impl ConnectionTrait, merchant_id: &str, key: &str, owner: &str, outcome: i32, body: &str) -> Result<bool, StoreError> {
    let res = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::State, Expr::value(DONE))
        .col_expr(idempotency_key::Column::ResponseStatus, Expr::value(outcome))
        .col_expr(idempotency_key::Column::ResponseBody, Expr::value(body))
        .filter(owned_claim(merchant_id, key, owner))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Binds `owner`'s claim to `resource`, what the request created or changed; call it inside the business
/// transaction. False when the claim is no longer the owner's: the caller must then roll back.
pub async fn bind(conn: &impl ConnectionTrait, merchant_id: &str, key: &str, owner: &str, resource: &str) -> Result<bool, StoreError> {
    let res = idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Resource, Expr::value(resource))
        // The claim is alive: a takeover that read it before this commit no longer matches it.
        .col_expr(idempotency_key::Column::LockedAt, Expr::value(crate::now_ms()))
        .filter(owned_claim(merchant_id, key, owner))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives `owner`'s claim back after the request failed or was cancelled. An unbound claim (nothing changed) is
/// deleted, so a retry runs afresh; a bound one is abandoned (no owner, stale at once), so a retry takes it over
/// at once and answers from its resource. Nothing happens to a record completed, or claimed by someone else since.
pub async fn release(conn: &impl ConnectionTrait, merchant_id: &str, key: &str, owner: &str) -> Result<(), StoreError> {
    idempotency_key::Entity::delete_many()
        .filter(owned_claim(merchant_id, key, owner))
        .filter(idempotency_key::Column::Resource.is_null())
        .exec(conn)
        .await?;
    idempotency_key::Entity::update_many()
        .col_expr(idempotency_key::Column::Owner, Expr::value(Option::<String>::None))
        .col_expr(idempotency_key::Column::LockedAt, Expr::value(0i64))
        .filter(owned_claim(merchant_id, key, owner))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes `owner`'s claim, bound or not: what it was bound to was given back whole and nothing was charged (a
/// refused or uncharged order), so a retry runs afresh rather than answering that.
pub async fn forget(conn: &impl ConnectionTrait, merchant_id: &str, key: &str, owner: &str) -> Result<(), StoreError> {
    idempotency_key::Entity::delete_many().filter(owned_claim(merchant_id, key, owner)).exec(conn).await?;
    Ok(())
}

/// `owner`'s claim of `(merchant_id, key)`, still in flight: what complete, bind, release and forget act on.
fn owned_claim(merchant_id: &str, key: &str, owner: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(idempotency_key::Column::MerchantId.eq(merchant_id))
        .add(idempotency_key::Column::IdemKey.eq(key))
        .add(idempotency_key::Column::Owner.eq(owner))
        .add(idempotency_key::Column::State.eq(IN_FLIGHT))
}

/// Deletes records past their 24 h; returns how many.
pub async fn purge_expired(conn: &impl ConnectionTrait, now: i64) -> Result<u64, StoreError> {
    Ok(idempotency_key::Entity::delete_many().filter(idempotency_key::Column::ExpiresAt.lt(now)).exec(conn).await?.rows_affected)
}
