//! Merchants, API keys and authentication. A key is shown once; only its SHA-256 is stored.

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AppError, Context};

/// The demo merchant `settle serve --demo` and `settle seed` create. Its key is fixed so that the README's
/// curl tour works verbatim; it is for local use only.
pub const DEMO_MERCHANT_ID: &str = "mch_demo";
pub const DEMO_MERCHANT_NAME: &str = "Demo Shop";
pub const DEMO_API_KEY: &str = "sk_demo_0000000000000000000000000000000000000000000000000000000000000000";

/// A merchant with its API key, shown once at creation.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedMerchant {
    pub merchant_id: String,
    pub name: String,
    pub api_key: String,
    /// Fee on chain payments, in basis points (signed into each payment's terms; paid to the gateway's treasury).
    pub fee_bps: u16,
}

/// A merchant as administration shows it (no key).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub merchant_id: String,
    pub name: String,
    /// Fee on chain payments, in basis points, for payments created from now on.
    pub fee_bps: u16,
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn new_key() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("sk_{}", hex::encode(b))
}

/// Creates a merchant with a fresh API key.
pub async fn create(ctx: &Context, name: &str, fee_bps: u16) -> Result<CreatedMerchant, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(AppError::invalid("name", "name must be 1 to 255 characters"));
    }
    if name.contains('\0') {
        return Err(AppError::invalid("name", "name must not contain NUL characters"));
    }
    if fee_bps > 10_000 {
        return Err(AppError::invalid("feeBps", "feeBps must be 0 to 10000"));
    }
    let merchant_id = format!("mch_{}", uuid::Uuid::now_v7().simple());
    let key = new_key();
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    settle_store::merchants::create(&txn, &merchant_id, name, &hash_key(&key), &key[..8], now).await?;
    if fee_bps > 0 {
        settle_store::merchants::set_fee(&txn, &merchant_id, i32::from(fee_bps)).await?;
    }
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    Ok(CreatedMerchant { merchant_id, name: name.to_owned(), api_key: key, fee_bps })
}

/// Changes a merchant's fee on chain payments. Payments already created keep the fee signed into their terms.
pub async fn set_fee(ctx: &Context, merchant_id: &str, fee_bps: u16) -> Result<Merchant, AppError> {
    if fee_bps > 10_000 {
        return Err(AppError::invalid("feeBps", "feeBps must be 0 to 10000"));
    }
    if merchant_id.len() > 64 {
        return Err(AppError::NotFound("merchant"));
    }
    let m = settle_store::merchants::find(&ctx.db, merchant_id).await?.ok_or(AppError::NotFound("merchant"))?;
    settle_store::merchants::set_fee(&ctx.db, merchant_id, i32::from(fee_bps)).await?;
    ctx.merchant_fees.invalidate(merchant_id).await;
    tracing::info!(merchant_id, fee_bps, was = m.fee_bps, "merchant fee changed");
    Ok(Merchant { merchant_id: m.merchant_id, name: m.name, fee_bps })
}

/// A merchant's fee on chain payments, remembered for [`FEE_TTL`](crate::context::FEE_TTL): a create reads no
/// merchant row. A change made on this instance applies at once; one made on another, within that time.
pub async fn fee_bps(ctx: &Context, merchant_id: &str) -> Result<i32, AppError> {
    if let Some(f) = ctx.merchant_fees.get(merchant_id).await {
        return Ok(f);
    }
    let fee = settle_store::merchants::find(&ctx.db, merchant_id).await?.map(|m| m.fee_bps).unwrap_or(0);
    ctx.merchant_fees.insert(merchant_id.to_owned(), fee).await;
    Ok(fee)
}

/// Creates the demo merchant and its key if absent; running it again changes nothing.
pub async fn seed_demo(ctx: &Context) -> Result<CreatedMerchant, AppError> {
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    if settle_store::merchants::find(&txn, DEMO_MERCHANT_ID).await?.is_none() {
        settle_store::merchants::create(&txn, DEMO_MERCHANT_ID, DEMO_MERCHANT_NAME, &hash_key(DEMO_API_KEY), &DEMO_API_KEY[..8], now).await?;
    } else if settle_store::merchants::find_by_key_hash(&txn, &hash_key(DEMO_API_KEY)).await?.is_none() {
        settle_store::merchants::add_key(&txn, DEMO_MERCHANT_ID, &hash_key(DEMO_API_KEY), &DEMO_API_KEY[..8], now).await?;
    }
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    Ok(CreatedMerchant { merchant_id: DEMO_MERCHANT_ID.into(), name: DEMO_MERCHANT_NAME.into(), api_key: DEMO_API_KEY.into(), fee_bps: 0 })
}

/// The merchant an API key belongs to.
pub async fn authenticate(ctx: &Context, api_key: &str) -> Result<String, AppError> {
    if api_key.is_empty() || api_key.len() > 200 {
        return Err(AppError::Unauthenticated);
    }
    // The caches are keyed by the key itself (a SHA-256 per request cost more than the rest of a cached
    // status read's authentication); the database is asked by its hash.
    if let Some(m) = ctx.auth_cache.get(api_key).await {
        return Ok(m);
    }
    if ctx.auth_misses.contains_key(api_key) {
        return Err(AppError::Unauthenticated);
    }
    metrics::counter!("settle_auth_lookups_total").increment(1);
    let Some(m) = settle_store::merchants::find_by_key_hash(&ctx.db, &hash_key(api_key)).await? else {
        ctx.auth_misses.insert(api_key.to_owned(), ()).await;
        return Err(AppError::Unauthenticated);
    };
    ctx.auth_cache.insert(api_key.to_owned(), m.clone()).await;
    Ok(m)
}

/// The merchant of an API key this instance has recently authenticated, without asking the database (the rate
/// limiter's bucket for it); None for any other key.
pub async fn known_merchant(ctx: &Context, api_key: &str) -> Option<String> {
    if api_key.is_empty() || api_key.len() > 200 {
        return None;
    }
    ctx.auth_cache.get(api_key).await
}
