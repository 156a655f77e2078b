//! Merchants and their API keys (stored as SHA-256 hashes). A key belongs to a tenant (the merchant in one mode,
//! [`settle_domain::mode`]); a merchant has one row, whichever mode asks for it.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use settle_domain::mode::merchant_of;

use crate::{
    StoreError,
    entity::{api_key, merchant},
};

/// Inserts a merchant (its keys are added with [`add_key`], one tenant each).
pub async fn create(conn: &impl ConnectionTrait, merchant_id: &str, name: &str, now: i64) -> Result<merchant::Model, StoreError> {
    let m =
        merchant::ActiveModel { merchant_id: Set(merchant_id.to_owned()), name: Set(name.to_owned()), created_at: Set(now), ..Default::default() };
    merchant::Entity::insert(m).exec_without_returning(conn).await?;
    find(conn, merchant_id).await?.ok_or(StoreError::NotFound)
}

/// Moves a key (by hash) to a tenant: the demo merchant's key, made before modes, becomes a test key.
pub async fn move_key(conn: &impl ConnectionTrait, key_hash: &str, tenant: &str) -> Result<(), StoreError> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::MerchantId, sea_orm::sea_query::Expr::value(tenant))
        .filter(api_key::Column::KeyHash.eq(key_hash))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds an API key to a tenant (a merchant in one mode).
pub async fn add_key(conn: &impl ConnectionTrait, merchant_id: &str, key_hash: &str, key_prefix: &str, now: i64) -> Result<(), StoreError> {
    let k = api_key::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        key_hash: Set(key_hash.to_owned()),
        key_prefix: Set(key_prefix.to_owned()),
        created_at: Set(now),
        revoked_at: Set(None),
        ..Default::default()
    };
    api_key::Entity::insert(k).exec_without_returning(conn).await?;
    Ok(())
}

/// Takes the merchant's row lock for the rest of the transaction (a no-op update: PostgreSQL and MySQL hold the row
/// until the commit; SQLite has one writer anyway), so that a check of the merchant's keys and the write it allows
/// cannot interleave with another request's.
/// A tenant (either mode) locks its merchant's row.
pub async fn lock(conn: &impl ConnectionTrait, merchant_id: &str) -> Result<(), StoreError> {
    merchant::Entity::update_many()
        .col_expr(merchant::Column::Name, sea_orm::sea_query::Expr::col(merchant::Column::Name))
        .filter(merchant::Column::MerchantId.eq(merchant_of(merchant_id)))
        .exec(conn)
        .await?;
    Ok(())
}

/// The merchant of a tenant (either mode: a merchant has one row).
pub async fn find(conn: &impl ConnectionTrait, merchant_id: &str) -> Result<Option<merchant::Model>, StoreError> {
    Ok(merchant::Entity::find().filter(merchant::Column::MerchantId.eq(merchant_of(merchant_id))).one(conn).await?)
}

/// The tenant (the merchant, in the key's mode) an unrevoked API key (by hash) belongs to, unless that merchant was
/// deleted, and the key's id.
pub async fn find_by_key_hash(conn: &impl ConnectionTrait, key_hash: &str) -> Result<Option<(String, i64)>, StoreError> {
    let Some(k) =
        api_key::Entity::find().filter(api_key::Column::KeyHash.eq(key_hash)).filter(api_key::Column::RevokedAt.is_null()).one(conn).await?
    else {
        return Ok(None);
    };
    Ok(find(conn, &k.merchant_id).await?.filter(|m| m.deleted_at.is_none()).map(|_| (k.merchant_id, k.id)))
}

pub use api_key::Model as ApiKeyRow;

/// A merchant's API keys, oldest first (revoked ones included).
pub async fn keys(conn: &impl ConnectionTrait, merchant_id: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
    Ok(api_key::Entity::find().filter(api_key::Column::MerchantId.eq(merchant_id)).order_by_asc(api_key::Column::Id).all(conn).await?)
}

/// The key with this hash (to read its id after adding it).
pub async fn key_by_hash(conn: &impl ConnectionTrait, key_hash: &str) -> Result<Option<ApiKeyRow>, StoreError> {
    Ok(api_key::Entity::find().filter(api_key::Column::KeyHash.eq(key_hash)).one(conn).await?)
}

/// Revokes one of a merchant's active keys; false when it has no such active key.
pub async fn revoke_key(conn: &impl ConnectionTrait, merchant_id: &str, key_id: i64, now: i64) -> Result<bool, StoreError> {
    let res = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .filter(api_key::Column::MerchantId.eq(merchant_id))
        .filter(api_key::Column::Id.eq(key_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Marks a merchant deleted; false when there is no such active merchant.
pub async fn soft_delete(conn: &impl ConnectionTrait, merchant_id: &str, now: i64) -> Result<bool, StoreError> {
    let res = merchant::Entity::update_many()
        .col_expr(merchant::Column::DeletedAt, sea_orm::sea_query::Expr::value(now))
        .filter(merchant::Column::MerchantId.eq(merchant_id))
        .filter(merchant::Column::DeletedAt.is_null())
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes keys revoked before `before` (their grace period is over), at most `batch`; returns how many.
pub async fn purge_revoked_keys(conn: &impl ConnectionTrait, before: i64, batch: u64) -> Result<u64, StoreError> {
    crate::delete_batch(conn, api_key::Entity::find().filter(api_key::Column::RevokedAt.lt(before)), api_key::Column::Id, batch).await
}

/// A merchant's settings to change; None leaves one as it is.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Fee on chain payments (basis points).
    pub fee_bps: Option<i32>,
    /// Whether CHAIN payments paid after they ended unpaid are refunded automatically.
    pub refund_late_payments: Option<bool>,
    /// Whether a CHAIN refund gives back its share of the payment's fee.
    pub return_fee_on_refund: Option<bool>,
    /// The hosts checkout sessions may send payers back to, as stored (a JSON array).
    pub redirect_hosts: Option<String>,
}

/// Writes a merchant's changed settings in one statement (nothing when none changes).
pub async fn update_settings(conn: &impl ConnectionTrait, merchant_id: &str, s: Settings) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    let mut update = merchant::Entity::update_many().filter(merchant::Column::MerchantId.eq(merchant_id));
    let mut any = false;
    if let Some(v) = s.fee_bps {
        update = update.col_expr(merchant::Column::FeeBps, Expr::value(v));
        any = true;
    }
    if let Some(v) = s.refund_late_payments {
        update = update.col_expr(merchant::Column::RefundLatePayments, Expr::value(v));
        any = true;
    }
    if let Some(v) = s.return_fee_on_refund {
        update = update.col_expr(merchant::Column::ReturnFeeOnRefund, Expr::value(v));
        any = true;
    }
    if let Some(v) = s.redirect_hosts {
        update = update.col_expr(merchant::Column::RedirectHosts, Expr::value(v));
        any = true;
    }
    if any {
        update.exec(conn).await?;
    }
    Ok(())
}

/// Stores a merchant's checkout secret (sealed) if it has none yet; the one stored, or None for an unknown merchant.
/// Concurrent first uses agree: only the first write lands, and every caller reads the stored one.
pub async fn checkout_secret(conn: &impl ConnectionTrait, merchant_id: &str, fresh_sealed: &str) -> Result<Option<String>, StoreError> {
    merchant::Entity::update_many()
        .col_expr(merchant::Column::CheckoutSecret, sea_orm::sea_query::Expr::value(fresh_sealed))
        .filter(merchant::Column::MerchantId.eq(merchant_id))
        .filter(merchant::Column::CheckoutSecret.is_null())
        .exec(conn)
        .await?;
    Ok(find(conn, merchant_id).await?.and_then(|m| m.checkout_secret))
}

/// Every merchant's sealed checkout secret: (merchant id, secret).
pub async fn checkout_secrets(conn: &impl ConnectionTrait) -> Result<Vec<(String, String)>, StoreError> {
    let rows = merchant::Entity::find().filter(merchant::Column::CheckoutSecret.is_not_null()).all(conn).await?;
    Ok(rows.into_iter().filter_map(|m| Some((m.merchant_id, m.checkout_secret?))).collect())
}

/// Replaces a merchant's sealed checkout secret if it is still `old` (a compare-and-set); whether it did.
pub async fn reseal_checkout_secret(conn: &impl ConnectionTrait, merchant_id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
    let res = merchant::Entity::update_many()
        .col_expr(merchant::Column::CheckoutSecret, sea_orm::sea_query::Expr::value(new))
        .filter(merchant::Column::MerchantId.eq(merchant_id))
        .filter(merchant::Column::CheckoutSecret.eq(old))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The merchant's fingerprint secret (hex), stored as `fresh` if it has none yet; None for an unknown merchant.
/// Concurrent first uses agree: only the first write of `fresh` lands, and every caller reads the stored one.
pub async fn fingerprint_secret(conn: &impl ConnectionTrait, merchant_id: &str, fresh: &str) -> Result<Option<String>, StoreError> {
    if let Some(m) = find(conn, merchant_id).await? {
        if m.idem_secret.is_some() {
            return Ok(m.idem_secret);
        }
    } else {
        return Ok(None);
    }
    merchant::Entity::update_many()
        .col_expr(merchant::Column::IdemSecret, sea_orm::sea_query::Expr::value(fresh))
        .filter(merchant::Column::MerchantId.eq(merchant_of(merchant_id)))
        .filter(merchant::Column::IdemSecret.is_null())
        .exec(conn)
        .await?;
    Ok(find(conn, merchant_id).await?.and_then(|m| m.idem_secret))
}
