//! Leases: a named piece of background work is done only by the lease's current owner. A lease is taken or
//! renewed by a conditional UPDATE (free, expired, or already ours), or created by an INSERT that a
//! concurrent creator loses on the primary key. This works alike on SQLite, PostgreSQL and MySQL.

use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{StoreError, entity::lease};

/// Takes or renews `name` for `owner` until `now + ttl_ms`. True when `owner` holds it afterwards.
pub async fn try_acquire(conn: &impl ConnectionTrait, name: &str, owner: &str, ttl_ms: i64, now: i64) -> Result<bool, StoreError> {
    let res = lease::Entity::update_many()
        .col_expr(lease::Column::Owner, Expr::value(owner))
        .col_expr(lease::Column::ExpiresAt, Expr::value(now + ttl_ms))
        .filter(lease::Column::Name.eq(name))
        .filter(Condition::any().add(lease::Column::Owner.eq(owner)).add(lease::Column::ExpiresAt.lt(now)))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        return Ok(true);
    }
    let row = lease::ActiveModel { name: Set(name.to_owned()), owner: Set(owner.to_owned()), expires_at: Set(now + ttl_ms) };
    match lease::Entity::insert(row).exec_without_returning(conn).await {
        Ok(_) => Ok(true),
        Err(e) => match StoreError::from(e) {
            StoreError::Unique(_) => Ok(false),
            other => Err(other),
        },
    }
}

/// Gives `name` up if `owner` holds it, so another instance takes over at once.
pub async fn release(conn: &impl ConnectionTrait, name: &str, owner: &str) -> Result<(), StoreError> {
    lease::Entity::update_many()
        .col_expr(lease::Column::ExpiresAt, Expr::value(0i64))
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Owner.eq(owner))
        .exec(conn)
        .await?;
    Ok(())
}

/// The current owner of `name` if its lease has not expired.
pub async fn holder(conn: &impl ConnectionTrait, name: &str, now: i64) -> Result<Option<String>, StoreError> {
    Ok(lease::Entity::find_by_id(name.to_owned()).one(conn).await?.filter(|l| l.expires_at >= now).map(|l| l.owner))
}

/// Whether `owner` holds `name` at `now`, checked with the lease row locked: the fence of a holder's write. Run it
/// inside the transaction of the write it guards. Another instance's takeover waits for that transaction (its
/// UPDATE needs the row), so a write the fence let through committed while its writer held the lease; a holder
/// whose lease lapsed or passed to another gets false and must not commit. It neither takes nor extends the lease
/// (`try_acquire` does, outside any write).
pub async fn fence(conn: &impl ConnectionTrait, name: &str, owner: &str, now: i64) -> Result<bool, StoreError> {
    let res = lease::Entity::update_many()
        .col_expr(lease::Column::ExpiresAt, Expr::col(lease::Column::ExpiresAt))
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Owner.eq(owner))
        .filter(lease::Column::ExpiresAt.gte(now))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        return Ok(true);
    }
    // Should a driver count a matched but unchanged row as unaffected (MySQL without CLIENT_FOUND_ROWS), the row is
    // locked by the UPDATE all the same, so reading it now is exact.
    Ok(lease::Entity::find_by_id(name.to_owned()).one(conn).await?.is_some_and(|l| l.owner == owner && l.expires_at >= now))
}

/// Extends `name` to `now + ttl_ms` only if `owner` holds it without a break (its lease not expired at `now`); never
/// takes it afresh. False: it lapsed or passed to another instance.
pub async fn extend(conn: &impl ConnectionTrait, name: &str, owner: &str, ttl_ms: i64, now: i64) -> Result<bool, StoreError> {
    // Never shortened: of two renewals racing, the later expiry stays.
    let res = lease::Entity::update_many()
        .col_expr(lease::Column::ExpiresAt, Expr::value(now + ttl_ms))
        .filter(lease::Column::Name.eq(name))
        .filter(lease::Column::Owner.eq(owner))
        .filter(lease::Column::ExpiresAt.gte(now))
        .filter(lease::Column::ExpiresAt.lt(now + ttl_ms))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        return Ok(true);
    }
    Ok(lease::Entity::find_by_id(name.to_owned()).one(conn).await?.is_some_and(|l| l.owner == owner && l.expires_at >= now))
}
