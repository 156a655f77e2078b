//! Merchants, API keys and authentication. A key is shown once; only its SHA-256 is stored.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use settle_domain::FeeBps;
use settle_store::audit;

use crate::{
    AppError, Context,
    idempotency::{self, IdemKey, Outcome, Reply},
};

/// The demo merchant `settle serve --demo` and `settle seed` create. Its key is fixed so that the README's
/// curl tour works verbatim; it is for local use only.
pub const DEMO_MERCHANT_ID: &str = "mch_demo";
pub const DEMO_MERCHANT_NAME: &str = "Demo Shop";
pub const DEMO_API_KEY: &str = "sk_demo_0000000000000000000000000000000000000000000000000000000000000000";

/// The tenant the demo key opens: the demo merchant's test mode.
pub fn demo_tenant() -> String {
    settle_domain::mode::test_tenant(DEMO_MERCHANT_ID)
}

/// A merchant with its API keys, shown once at creation.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedMerchant {
    pub merchant_id: String,
    pub name: String,
    /// The live-mode key (`sk_live_…`): live payments, on live chains and the card gateway.
    pub api_key: String,
    /// The test-mode key (`sk_test_…`): test payments, on test networks and the card simulator, kept apart from
    /// live ones.
    pub test_api_key: String,
    /// Fee on chain payments, in basis points (signed into each payment's terms; paid to the gateway's treasury).
    pub fee_bps: u16,
}

/// A merchant as administration shows it (no key).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub merchant_id: String,
    pub name: String,
    /// Fee on chain payments, in basis points, for payments created from now on.
    pub fee_bps: u16,
    /// Whether a CHAIN payment the chain shows paid after it ended CANCELLED or EXPIRED is refunded in full
    /// automatically (a refund waiting on the recipient's signature, like any CHAIN refund). Default true.
    pub refund_late_payments: bool,
    /// Whether a CHAIN refund gives back its share of the fee the payment paid (the treasury pays that part, the
    /// recipient the rest), at gateways of version 3 and later. Default false: the treasury keeps the fee and the
    /// recipient pays the whole refund.
    pub return_fee_on_refund: bool,
    /// The hosts its checkout sessions may send payers back to (`successUrl`, `cancelUrl`).
    pub redirect_hosts: Vec<String>,
}

/// What [`update`] changes; None leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct MerchantChanges {
    pub fee: Option<FeeBps>,
    pub refund_late_payments: Option<bool>,
    pub return_fee_on_refund: Option<bool>,
    /// Replaces the hosts checkout sessions may send payers back to.
    pub redirect_hosts: Option<Vec<String>>,
}

impl MerchantChanges {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.fee.is_none() && self.refund_late_payments.is_none() && self.return_fee_on_refund.is_none() && self.redirect_hosts.is_none()
    }
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh API key of a mode (`sk_live_…` or `sk_test_…`).
fn new_key(live: bool) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{}{}", settle_domain::mode::key_prefix(live), hex::encode(b))
}

/// How much of a key is kept to tell keys apart (`sk_live_` and 4 more).
const SHOWN: usize = 12;

/// The part of a key kept and shown to tell keys apart.
fn shown(key: &str) -> &str {
    key.get(..SHOWN).unwrap_or(key)
}

/// Creates a merchant with a fresh API key for each mode.
pub async fn create(ctx: &Context, name: &str, fee: FeeBps) -> Result<CreatedMerchant, AppError> {
    let reply = create_keyed(ctx, name, fee, None).await?;
    serde_json::from_str(&reply.body).map_err(AppError::internal)
}

/// The scope of the administration's Idempotency-Keys (no merchant id is `admin`: they all start `mch_`).
pub const ADMIN_SCOPE: &str = "admin";

/// [`create`] under an Idempotency-Key of the administration ([`ADMIN_SCOPE`]): the merchant and the key's record
/// commit together, so a retry answers the same merchant (its API key shown again only when a master key sealed it
/// in the record, and only while the key still works; otherwise 409) and never makes a second one.
pub async fn create_keyed(ctx: &Context, name: &str, fee: FeeBps, key: Option<IdemKey>) -> Result<Reply, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(AppError::invalid("name", "name must be 1 to 255 characters"));
    }
    if name.contains('\0') {
        return Err(AppError::invalid("name", "name must not contain NUL characters"));
    }
    let mut reply = idempotency::once(ctx, ADMIN_SCOPE, key, |claim| async move {
        let (reply, record) = create_in_txn(ctx, name, fee, &claim).await?;
        claim.committed();
        tracing::info!(merchant = %serde_json::from_str::<serde_json::Value>(&record.body).map(|v| v["merchantId"].to_string()).unwrap_or_default(), "merchant created");
        Ok(reply)
    })
    .await?;
    if reply.replayed {
        reply.body = open_api_key(ctx, &reply.body, "merchantId", &["apiKey", "testApiKey"]).await?;
    }
    Ok(reply)
}

async fn create_in_txn(ctx: &Context, name: &str, fee: FeeBps, claim: &idempotency::Claim) -> Result<(Reply, Reply), AppError> {
    let merchant_id = format!("mch_{}", uuid::Uuid::now_v7().simple());
    let (key, test_key) = (new_key(true), new_key(false));
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    settle_store::merchants::create(&txn, &merchant_id, name, now).await?;
    settle_store::merchants::add_key(&txn, &merchant_id, &hash_key(&key), shown(&key), now).await?;
    let test_tenant = settle_domain::mode::test_tenant(&merchant_id);
    settle_store::merchants::add_key(&txn, &test_tenant, &hash_key(&test_key), shown(&test_key), now).await?;
    if fee != FeeBps::default() {
        let settings = settle_store::merchants::Settings { fee_bps: Some(fee.stored()), ..Default::default() };
        settle_store::merchants::update_settings(&txn, &merchant_id, settings).await?;
    }
    audit::record(
        &txn,
        Some(&merchant_id),
        "merchant.created",
        &merchant_id,
        &serde_json::json!({"name": name, "feeBps": fee, "keyPrefix": shown(&key), "testKeyPrefix": shown(&test_key)}),
    )
    .await?;
    let answer = |live: &str, test: &str| {
        serde_json::to_string(&CreatedMerchant {
            merchant_id: merchant_id.clone(),
            name: name.to_owned(),
            api_key: live.to_owned(),
            test_api_key: test.to_owned(),
            fee_bps: fee.get(),
        })
        .map_err(AppError::internal)
    };
    let seal = |k: &str| match ctx.settings.keyring.as_deref() {
        Some(keys) => keys.seal(k, &merchant_id),
        None => NOT_KEPT.to_owned(),
    };
    let reply = Reply { outcome: Outcome::Created, body: answer(&key, &test_key)?, replayed: false };
    let record = Reply { body: answer(&seal(&key), &seal(&test_key))?, ..reply.clone() };
    claim.complete_in(&txn, &record).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    Ok((reply, record))
}

/// Changes a merchant's fee on chain payments. Payments already created keep the fee signed into their terms.
pub async fn set_fee(ctx: &Context, merchant_id: &str, fee: FeeBps) -> Result<Merchant, AppError> {
    update(ctx, merchant_id, MerchantChanges { fee: Some(fee), ..Default::default() }).await
}

/// Changes a merchant's settings, audited with what they were. A fee applies to payments created from now on.
pub async fn update(ctx: &Context, merchant_id: &str, changes: MerchantChanges) -> Result<Merchant, AppError> {
    if merchant_id.len() > 64 || merchant_id.contains(':') {
        return Err(AppError::NotFound("merchant"));
    }
    let m = settle_store::merchants::find(&ctx.db, merchant_id).await?.filter(|m| m.deleted_at.is_none()).ok_or(AppError::NotFound("merchant"))?;
    let fee_bps = changes.fee.map_or_else(|| u16::try_from(m.fee_bps).unwrap_or(0), FeeBps::get);
    let refund_late_payments = changes.refund_late_payments.unwrap_or(m.refund_late_payments);
    let return_fee_on_refund = changes.return_fee_on_refund.unwrap_or(m.return_fee_on_refund);
    let stored_hosts = changes.redirect_hosts.as_deref().map(crate::checkout::parse_redirect_hosts).transpose()?;
    let redirect_hosts = crate::checkout::hosts_of(stored_hosts.as_deref().or(m.redirect_hosts.as_deref()));
    let txn = settle_store::begin(&ctx.db).await?;
    let settings = settle_store::merchants::Settings {
        fee_bps: changes.fee.map(FeeBps::stored),
        refund_late_payments: changes.refund_late_payments,
        return_fee_on_refund: changes.return_fee_on_refund,
        redirect_hosts: stored_hosts,
    };
    settle_store::merchants::update_settings(&txn, merchant_id, settings).await?;
    let record = serde_json::json!({
        "feeBps": fee_bps, "refundLatePayments": refund_late_payments, "returnFeeOnRefund": return_fee_on_refund,
        "was": {"feeBps": m.fee_bps, "refundLatePayments": m.refund_late_payments, "returnFeeOnRefund": m.return_fee_on_refund},
    });
    let mut record = record;
    if changes.redirect_hosts.is_some() {
        record["redirectHosts"] = serde_json::json!(redirect_hosts);
        record["was"]["redirectHosts"] = serde_json::json!(crate::checkout::hosts_of(m.redirect_hosts.as_deref()));
    }
    audit::record(&txn, Some(merchant_id), "merchant.updated", merchant_id, &record).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    ctx.merchant_fees.invalidate(merchant_id).await;
    tracing::info!(merchant_id, fee_bps, was = m.fee_bps, refund_late_payments, return_fee_on_refund, "merchant settings changed");
    Ok(Merchant { merchant_id: m.merchant_id, name: m.name, fee_bps, refund_late_payments, return_fee_on_refund, redirect_hosts })
}

/// A merchant's fee on chain payments, remembered for [`FEE_TTL`](crate::context::FEE_TTL): a create reads no
/// merchant row. A change made on this instance applies at once; one made on another, within that time.
/// A stored fee outside 0..=10000 is refused (never signed as another).
pub async fn fee_bps(ctx: &Context, tenant: &str) -> Result<FeeBps, AppError> {
    // Kept by merchant: both modes sign the fee a change made (and invalidated) by merchant id.
    let merchant_id = settle_domain::mode::merchant_of(tenant);
    if let Some(f) = ctx.merchant_fees.get(merchant_id).await {
        return Ok(f);
    }
    let stored = settle_store::merchants::find(&ctx.db, merchant_id).await?.map(|m| m.fee_bps).unwrap_or(0);
    let fee = FeeBps::from_stored(stored).map_err(|e| AppError::internal(std::io::Error::other(format!("merchant {merchant_id}: {e}"))))?;
    ctx.merchant_fees.insert(merchant_id.to_owned(), fee).await;
    Ok(fee)
}

/// Creates the demo merchant and its key (a test key: the demo merchant's test mode) if absent; running it again
/// changes nothing. A demo key made before modes existed becomes a test key (what it made stays in live mode).
pub async fn seed_demo(ctx: &Context) -> Result<DemoMerchant, AppError> {
    let now = settle_store::now_ms();
    let hash = hash_key(DEMO_API_KEY);
    let tenant = demo_tenant();
    let txn = settle_store::begin(&ctx.db).await?;
    if settle_store::merchants::find(&txn, DEMO_MERCHANT_ID).await?.is_none() {
        settle_store::merchants::create(&txn, DEMO_MERCHANT_ID, DEMO_MERCHANT_NAME, now).await?;
    }
    let moved = match settle_store::merchants::key_by_hash(&txn, &hash).await? {
        None => {
            settle_store::merchants::add_key(&txn, &tenant, &hash, shown(DEMO_API_KEY), now).await?;
            false
        }
        Some(k) if k.merchant_id != tenant => {
            settle_store::merchants::move_key(&txn, &hash, &tenant).await?;
            // Instances that authenticated it as a live key forget it (as for a revocation).
            // Under its new tenant: no live webhook or consumer is told of a revocation that did not happen.
            forget_keys(&txn, &tenant, KEY_REVOKED, serde_json::json!({"keyId": format!("key_{}", k.id), "keyPrefix": k.key_prefix})).await?;
            true
        }
        Some(_) => false,
    };
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    if moved {
        forget_all(ctx);
        ctx.outbox_wake.notify_one();
        tracing::warn!("the demo key, made before test and live modes, is a test key now: what it made stays in live mode");
    }
    Ok(DemoMerchant { merchant_id: DEMO_MERCHANT_ID.into(), name: DEMO_MERCHANT_NAME.into(), api_key: DEMO_API_KEY.into(), livemode: false })
}

/// The demo merchant, as `settle seed` prints it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoMerchant {
    pub merchant_id: String,
    pub name: String,
    /// A test key.
    pub api_key: String,
    pub livemode: bool,
}

pub use crate::handles::Caller;

impl Caller {
    fn new(merchant_id: String, key_id: i64) -> Self {
        Self(std::sync::Arc::new((merchant_id, format!("key_{key_id}"))))
    }

    /// Names this key as the actor of the request's audit scope, and gives its merchant.
    fn act(&self) -> String {
        if audit::active() {
            audit::set_actor(audit::Actor::new("merchant", Some(self.0.1.clone())));
        }
        self.0.0.clone()
    }
}

/// The merchant an API key belongs to (and, inside an audit scope, the key becomes its actor).
pub async fn authenticate(ctx: &Context, api_key: &str) -> Result<String, AppError> {
    if api_key.is_empty() || api_key.len() > 200 {
        return Err(AppError::Unauthenticated);
    }
    // The caches are keyed by the key itself (a SHA-256 per request cost more than the rest of a cached
    // status read's authentication); the database is asked by its hash.
    if let Some(c) = ctx.auth_cache.get(api_key).await {
        return Ok(c.act());
    }
    if ctx.auth_misses.contains_key(api_key) {
        return Err(AppError::Unauthenticated);
    }
    let found = look_up(ctx, api_key).await?;
    Ok(remember(ctx, api_key, found).await)
}

/// A key found in the database, and when its lookup began (the count of forgettings then).
pub struct KeyLookup {
    caller: Caller,
    epoch: u64,
}

/// Asks the database for `api_key` (a miss is remembered briefly and answered 401).
pub async fn look_up(ctx: &Context, api_key: &str) -> Result<KeyLookup, AppError> {
    metrics::counter!("settle_auth_lookups_total").increment(1);
    let epoch = ctx.auth_generation.load(std::sync::atomic::Ordering::Acquire);
    let Some((m, key_id)) = settle_store::merchants::find_by_key_hash(&ctx.db, &hash_key(api_key)).await? else {
        ctx.auth_misses.insert(api_key.to_owned(), ()).await;
        return Err(AppError::Unauthenticated);
    };
    Ok(KeyLookup { caller: Caller::new(m, key_id), epoch })
}

/// Caches a key found by [`look_up`] and acts as its merchant; returns the merchant. A revocation forgotten while
/// the lookup ran may have come after the key was read: the key is not kept then (inserted first and taken out
/// again, so a forgetting between the check and the insert cannot be missed either).
pub async fn remember(ctx: &Context, api_key: &str, found: KeyLookup) -> String {
    let KeyLookup { caller, epoch } = found;
    ctx.auth_cache.insert(api_key.to_owned(), caller.clone()).await;
    if ctx.auth_generation.load(std::sync::atomic::Ordering::Acquire) != epoch {
        ctx.auth_cache.invalidate(api_key).await;
    }
    caller.act()
}

/// The merchant of an API key this instance has recently authenticated, without asking the database (the rate
/// limiter's bucket for it); None for any other key.
pub async fn known_merchant(ctx: &Context, api_key: &str) -> Option<String> {
    if api_key.is_empty() || api_key.len() > 200 {
        return None;
    }
    ctx.auth_cache.get(api_key).await.map(|c| c.act())
}

/// An API key as its merchant sees it (never the key itself, but at creation).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    /// `key_<n>`.
    #[schema(example = "key_2")]
    pub id: String,
    /// The key's first characters, to tell keys apart (8 for keys made before modes, 12 since).
    #[schema(example = "sk_live_4f1a")]
    pub key_prefix: String,
    /// Whether the key opens live mode (false: test mode).
    pub livemode: bool,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl ApiKeyView {
    fn of(k: &settle_store::merchants::ApiKeyRow) -> Self {
        Self {
            id: format!("key_{}", k.id),
            key_prefix: k.key_prefix.clone(),
            livemode: settle_domain::mode::is_live(&k.merchant_id),
            created_at: crate::time::rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(crate::time::rfc3339),
        }
    }
}

/// A new API key, shown this once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub api_key: String,
}

/// A merchant's keys.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    /// The caller's mode: a key lists and manages the keys of its own mode only.
    pub livemode: bool,
    pub data: Vec<ApiKeyView>,
    /// Always false: at most 10 active keys, and revoked ones are purged, so the keys fit on one page.
    pub has_more: bool,
}

/// Keys a merchant may hold at once.
pub const MAX_ACTIVE_KEYS: usize = 10;
/// The topics that make every instance forget the keys it authenticated.
pub const KEY_REVOKED: &str = "api_key.revoked";
pub const MERCHANT_DELETED: &str = "merchant.deleted";

/// Adds an API key to the caller's merchant (for rotation: add, switch, then revoke the old one). With an
/// Idempotency-Key a retry makes no second key: the recorded answer holds the key sealed under the master key (the
/// keys table keeps only its hash) and the replay opens it. Without a master key the key is never stored, so a
/// replay cannot show it again: it answers 409 naming the key the first request made.
pub async fn create_key(ctx: &Context, caller: &str, livemode: Option<bool>, key: Option<IdemKey>) -> Result<Reply, AppError> {
    // The key's tenant: the caller's, or its merchant's test mode when a live key asks for a test key (merchants made
    // before modes get their first one so). A test key never makes a live key.
    let live = settle_domain::mode::is_live(caller);
    if livemode == Some(true) && !live {
        return Err(AppError::invalid("livemode", "a test key makes test keys only; make live keys with a live key"));
    }
    let tenant = settle_domain::mode::tenant(caller, livemode.unwrap_or(live));
    let merchant_id = tenant.as_str();
    let mut reply = idempotency::once(ctx, caller, key, |claim| async move {
        let api_key = new_key(settle_domain::mode::is_live(merchant_id));
        let hash = hash_key(&api_key);
        let txn = settle_store::begin(&ctx.db).await?;
        // Counted under the merchant's lock: concurrent creates cannot all see room for one more.
        settle_store::merchants::lock(&txn, merchant_id).await?;
        let active = settle_store::merchants::keys(&txn, merchant_id).await?.iter().filter(|k| k.revoked_at.is_none()).count();
        if active >= MAX_ACTIVE_KEYS {
            return Err(AppError::InvalidState(format!("a merchant holds at most {MAX_ACTIVE_KEYS} active keys; revoke one first")));
        }
        settle_store::merchants::add_key(&txn, merchant_id, &hash, shown(&api_key), settle_store::now_ms()).await?;
        let row = settle_store::merchants::key_by_hash(&txn, &hash).await?.ok_or(AppError::NotFound("api key"))?;
        let view = ApiKeyView::of(&row);
        audit::record(&txn, Some(merchant_id), "api_key.created", &view.id, &serde_json::json!({"keyPrefix": view.key_prefix})).await?;
        if caller != merchant_id {
            // A live key made a test key: the live log shows it too.
            let made = serde_json::json!({"keyPrefix": view.key_prefix, "livemode": view.livemode});
            audit::record(&txn, Some(caller), "api_key.created", &view.id, &made).await?;
        }
        let answer = |k: &str| serde_json::to_string(&CreatedApiKey { key: view.clone(), api_key: k.to_owned() }).map_err(AppError::internal);
        let recorded = match ctx.settings.keyring.as_deref() {
            Some(keys) => keys.seal(&api_key, &view.id),
            None => NOT_KEPT.to_owned(),
        };
        let reply = Reply { outcome: Outcome::Created, body: answer(&api_key)?, replayed: false };
        claim.complete_in(&txn, &Reply { body: answer(&recorded)?, ..reply.clone() }).await?;
        txn.commit().await.map_err(settle_store::StoreError::from)?;
        claim.committed();
        tracing::info!(merchant_id, key_id = row.id, "api key created");
        Ok(reply)
    })
    .await?;
    if reply.replayed {
        reply.body = open_api_key(ctx, &reply.body, "id", &["apiKey"]).await?;
    }
    Ok(reply)
}

/// What a recorded API-key answer holds in place of the key when there is no master key to seal it under.
const NOT_KEPT: &str = "not-kept";

/// A recorded answer holding API keys (in `fields`: a key's create, whose `id` sealed it, or a merchant's, whose
/// `merchantId` sealed both of its keys: `sealed_by`) with its keys opened.
async fn open_api_key(ctx: &Context, body: &str, sealed_by: &str, fields: &[&str]) -> Result<String, AppError> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(AppError::internal)?;
    let Some(id) = v[sealed_by].as_str() else {
        return Err(AppError::internal(std::io::Error::other("a recorded API-key answer lacks its id")));
    };
    let made = match v["keyPrefix"].as_str() {
        Some(prefix) => format!("API key {id} ({prefix}…), shown once to the first request"),
        None => format!("merchant {id}, its API keys shown once to the first request"),
    };
    let lost = if sealed_by == "id" {
        format!("Revoke {id} if that answer was lost")
    } else {
        format!("Delete {id} and create the merchant again if that answer was lost")
    };
    let gone = |why: &str| AppError::InvalidState(format!("this Idempotency-Key already made {made}; {why}. {lost}"));
    let mut out = body.to_owned();
    for field in fields {
        // A merchant's answer recorded before modes holds no test key: it is replayed as it was.
        let Some(stored) = v[*field].as_str() else {
            if *field == "apiKey" {
                return Err(AppError::internal(std::io::Error::other("a recorded API-key answer lacks its key")));
            }
            continue;
        };
        if stored == NOT_KEPT {
            return Err(gone("without SETTLE_MASTER_KEY Settle keeps no copy to show it again"));
        }
        let open = crate::crypto::open(ctx.settings.keyring.as_deref(), stored, id).map_err(|e| gone(&e.to_string()))?;
        // A key revoked since is not answered as if it worked.
        let hash = hash_key(&open);
        let Some(k) = settle_store::merchants::key_by_hash(&ctx.db, &hash).await?.filter(|k| k.revoked_at.is_none()) else {
            return Err(gone("it has been revoked since"));
        };
        if settle_store::merchants::find(&ctx.db, &k.merchant_id).await?.is_none_or(|m| m.deleted_at.is_some()) {
            return Err(gone("its merchant has been deleted since"));
        }
        out = out.replacen(stored, &open, 1);
    }
    Ok(out)
}

pub async fn list_keys(ctx: &Context, merchant_id: &str) -> Result<ApiKeyList, AppError> {
    Ok(ApiKeyList {
        livemode: settle_domain::mode::is_live(merchant_id),
        data: settle_store::merchants::keys(&ctx.db, merchant_id).await?.iter().map(ApiKeyView::of).collect(),
        has_more: false,
    })
}

/// Records, in `txn`, that authentication caches must forget what they hold (every instance's follower applies
/// it; the caller forgets on its own instance once `txn` committed).
async fn forget_keys(txn: &settle_store::Txn, merchant_id: &str, topic: &str, data: serde_json::Value) -> Result<(), AppError> {
    let now = settle_store::now_ms();
    settle_store::outbox::enqueue(txn, merchant_id, topic, merchant_id, &serde_json::json!({"type": topic, "data": data}), now).await?;
    Ok(())
}

/// Revokes one of the caller's keys: it fails authentication at once on this instance, and on every other one
/// as soon as its follower reads the `api_key.revoked` event. The last active key cannot be revoked.
pub async fn revoke_key(ctx: &Context, merchant_id: &str, key_id: &str) -> Result<(), AppError> {
    let id: i64 = key_id.strip_prefix("key_").and_then(|n| n.parse().ok()).ok_or(AppError::NotFound("api key"))?;
    let txn = settle_store::begin(&ctx.db).await?;
    let keys = settle_store::merchants::keys(&txn, merchant_id).await?;
    let Some(k) = keys.iter().find(|k| k.id == id && k.revoked_at.is_none()) else {
        return Err(AppError::NotFound("api key"));
    };
    if keys.iter().filter(|k| k.revoked_at.is_none()).count() == 1 {
        return Err(AppError::InvalidState("this is the merchant's last active key; create another before revoking it".into()));
    }
    if !settle_store::merchants::revoke_key(&txn, merchant_id, id, settle_store::now_ms()).await? {
        return Err(AppError::NotFound("api key"));
    }
    forget_keys(&txn, merchant_id, KEY_REVOKED, serde_json::json!({"keyId": key_id, "keyPrefix": k.key_prefix})).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    forget_all(ctx);
    ctx.outbox_wake.notify_one();
    tracing::info!(merchant_id, key_id, "api key revoked");
    Ok(())
}

/// Deletes a merchant softly (admin): its keys stop authenticating (as a revocation does), its records stay.
pub async fn delete(ctx: &Context, merchant_id: &str) -> Result<(), AppError> {
    if merchant_id.len() > 64 || merchant_id.contains(':') {
        return Err(AppError::NotFound("merchant"));
    }
    let txn = settle_store::begin(&ctx.db).await?;
    if !settle_store::merchants::soft_delete(&txn, merchant_id, settle_store::now_ms()).await? {
        return Err(AppError::NotFound("merchant"));
    }
    forget_keys(&txn, merchant_id, MERCHANT_DELETED, serde_json::json!({"merchantId": merchant_id})).await?;
    txn.commit().await.map_err(settle_store::StoreError::from)?;
    forget_all(ctx);
    ctx.outbox_wake.notify_one();
    tracing::warn!(merchant_id, "merchant deleted");
    Ok(())
}

/// Forgets every key this instance authenticated (the next request of each asks the database again).
pub fn forget_all(ctx: &Context) {
    // The count first (a lookup running now will not cache), the cache emptied, then the streams told (each asks
    // for its key again and finds the cache empty).
    ctx.auth_generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    ctx.auth_cache.invalidate_all();
    ctx.auth_epoch.send_modify(|e| *e += 1);
}
