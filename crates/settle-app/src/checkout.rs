//! Hosted checkout sessions: a merchant opens one of its PENDING payments to its payer on Settle's own page.
//!
//! `POST /v1/checkout-sessions` records a session for the payment with where the page sends the payer back
//! (`successUrl`, `cancelUrl`, on hosts the merchant registered: `redirectHosts`, https except on localhost) and
//! answers its page's URL. The session id (`cs_` and 32 random hex digits) is the payer's key: it opens that one
//! payment's checkout routes (reading it, its typed data and relay), as the payment's client secret does, and
//! nothing else of the merchant. Once the payment is COMPLETED the page sends the payer to `successUrl` with
//! `session_id`, `payment_id`, `timestamp` and `signature` (`v1,` and the base64 HMAC-SHA256 of
//! `session_id.payment_id.timestamp` under the merchant's checkout secret, `GET /v1/checkout-secret`), so a forged
//! redirect is detected. A merchant still fulfils on the webhook: a redirect can be lost with the payer's tab.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Serialize;
use settle_domain::{PaymentId, PaymentStatus, Rail};
use settle_store::{
    StoreError,
    checkout_sessions::{self as store, SessionRow},
    payments as payments_store,
};
use sha2::Sha256;

use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    ledger::views::body_of,
    time::rfc3339,
};

/// What a session's Idempotency-Key is bound to: `checkout:` and the session id.
const RESOURCE: &str = "checkout:";

/// How long a session is usable at most (a CHAIN payment's session ends with its terms, if sooner).
pub const SESSION_TTL_MS: i64 = 24 * 3600 * 1000;

/// Hosts a merchant may register at most.
pub const MAX_REDIRECT_HOSTS: usize = 20;

/// The payment a session opens.
#[derive(Clone, Debug)]
pub enum SessionPayment {
    /// One of the merchant's PENDING payments (`paymentId`).
    Existing(String),
    /// A payment the session creates (`payment`, the fields of `POST /v1/payments`), under the session's
    /// Idempotency-Key: a retry after a failure that followed the payment's creation finds that payment again.
    New(Box<(crate::payments::CreatePayment, crate::payments::Details)>),
}

/// A parsed `POST /v1/checkout-sessions`.
#[derive(Clone, Debug)]
pub struct CreateSession {
    pub payment: SessionPayment,
    pub success_url: String,
    pub cancel_url: String,
    /// `en` or `ko`; None: the payer's browser decides.
    pub locale: Option<String>,
}

/// A session as the merchant sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// `cs_` and 32 hex digits: the payer's key to the payment (keep it out of logs and analytics).
    #[schema(example = "cs_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    pub id: String,
    /// The page to send the payer to.
    pub url: String,
    pub payment_id: String,
    pub success_url: String,
    pub cancel_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Until when the page takes the payment (RFC 3339).
    pub expires_at: String,
    pub created_at: String,
}

impl SessionView {
    fn of(row: &SessionRow, base: &str) -> Self {
        Self {
            id: row.session_id.clone(),
            url: format!("{}/checkout/{}", base.trim_end_matches('/'), row.session_id),
            payment_id: row.payment_id.clone(),
            success_url: row.success_url.clone(),
            cancel_url: row.cancel_url.clone(),
            locale: row.locale.clone(),
            expires_at: rfc3339(row.expires_at),
            created_at: rfc3339(row.created_at),
        }
    }
}

/// Whether `s` is a session id's shape (`cs_` and 32 lowercase hex digits).
pub fn is_session_id(s: &str) -> bool {
    s.strip_prefix("cs_").is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn new_session_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    format!("cs_{}", hex::encode(b))
}

/// A merchant's registered redirect hosts, as stored (a JSON array).
pub(crate) fn hosts_of(stored: Option<&str>) -> Vec<String> {
    stored.and_then(|s| serde_json::from_str::<Vec<String>>(s).ok()).unwrap_or_default()
}

fn is_local(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") || host.ends_with(".localhost")
}

/// Parses the redirect hosts a merchant registers: host names (lowercased), at most [`MAX_REDIRECT_HOSTS`]; 400 naming
/// `redirectHosts` otherwise. Stored as a JSON array.
pub fn parse_redirect_hosts(hosts: &[String]) -> Result<String, AppError> {
    if hosts.len() > MAX_REDIRECT_HOSTS {
        return Err(AppError::invalid("redirectHosts", format!("at most {MAX_REDIRECT_HOSTS} hosts")));
    }
    let mut out: Vec<String> = Vec::with_capacity(hosts.len());
    for h in hosts {
        let host = h.trim().to_ascii_lowercase();
        let parsed = reqwest::Url::parse(&format!("https://{host}/")).ok();
        let ok = !host.is_empty() && host.len() <= 253 && parsed.is_some_and(|u| u.host_str() == Some(host.as_str()) && u.port().is_none());
        if !ok {
            return Err(AppError::invalid("redirectHosts", format!("{h:?} is not a host name (no scheme, port or path)")));
        }
        if !out.contains(&host) {
            out.push(host);
        }
    }
    serde_json::to_string(&out).map_err(AppError::internal)
}

/// Whether a merchant URL's scheme is allowed: https, or http on localhost.
fn scheme_ok(url: &reqwest::Url, host: &str) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_local(host))
}

/// The origin of a merchant page that embeds a session's checkout (`Settle.checkout` in `/v1/checkout.js`), if it
/// may: an origin alone (no path, query or credentials) on one of `hosts`, https except on localhost.
fn embed_origin_on(raw: &str, hosts: &[String]) -> Option<String> {
    if raw.len() > 300 {
        return None;
    }
    let url = reqwest::Url::parse(raw).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty() && url.password().is_none();
    (bare && scheme_ok(&url, &host) && hosts.contains(&host)).then(|| url.origin().ascii_serialization())
}

/// The origin a session's page may be embedded in and tell its outcome to (`origin` asked by the embedding page):
/// None unless it is on the session's merchant's `redirectHosts`.
pub async fn embed_origin(ctx: &Context, session_id: &str, origin: &str) -> Result<Option<String>, AppError> {
    if !is_session_id(session_id) {
        return Ok(None);
    }
    let Some(s) = store::find_any(&ctx.db, session_id).await? else { return Ok(None) };
    let merchant = settle_store::merchants::find(&ctx.db, settle_domain::mode::merchant_of(&s.merchant_id)).await?;
    Ok(merchant.and_then(|m| embed_origin_on(origin, &hosts_of(m.redirect_hosts.as_deref()))))
}

/// Checks a session's redirect URL: absolute, https (http only on localhost), no credentials, on a registered host.
fn check_url(field: &'static str, raw: &str, hosts: &[String]) -> Result<String, AppError> {
    if raw.len() > 2000 {
        return Err(AppError::invalid(field, format!("{field} is longer than 2000 characters")));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| AppError::invalid(field, format!("{field} must be an absolute URL")))?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !scheme_ok(&url, &host) {
        return Err(AppError::invalid(field, format!("{field} must be https (http only on localhost)")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(field, format!("{field} must not carry credentials")));
    }
    if !hosts.contains(&host) {
        return Err(AppError::invalid(
            field,
            format!("{field}'s host {host} is not one of the merchant's redirectHosts (PATCH /v1/merchants/{{id}} {{\"redirectHosts\": [...]}})"),
        ));
    }
    if url.fragment().is_some() {
        return Err(AppError::invalid(field, format!("{field} must have no #fragment")));
    }
    Ok(url.to_string())
}

/// Opens a merchant's PENDING payment to its payer on Settle's hosted page; `base` is Settle's public origin.
pub async fn create(ctx: &Context, merchant_id: &str, base: &str, input: CreateSession, key: Option<IdemKey>) -> Result<Reply, AppError> {
    if let SessionPayment::Existing(id) = &input.payment {
        PaymentId::parse("paymentId", id)?;
    }
    // The key of the payment a session creates: the session's own, hashed into a space no client key can name (a
    // space, which Idempotency-Keys never hold) and within the column's 255 characters, with the session request's
    // fingerprint (the same request retried finds the same payment).
    let payment_key = key.as_ref().map(|k| IdemKey {
        key: format!("checkout payment {}", hex::encode(<Sha256 as sha2::Digest>::digest(k.key.as_bytes()))),
        fingerprint: k.fingerprint.clone(),
        accepted: k.accepted.clone(),
    });
    if let Some(l) = &input.locale
        && !matches!(l.as_str(), "en" | "ko")
    {
        return Err(AppError::invalid("locale", "locale must be en or ko"));
    }
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        // The key was bound to a session by a request that died after recording it: that session is the answer.
        if let Some(session_id) = claim.resumes().and_then(|r| r.strip_prefix(RESOURCE)) {
            return reply_with(ctx, &claim, merchant_id, base, session_id).await;
        }
        let merchant =
            settle_store::merchants::find(&ctx.db, settle_domain::mode::merchant_of(merchant_id)).await?.ok_or(AppError::Unauthenticated)?;
        let hosts = hosts_of(merchant.redirect_hosts.as_deref());
        let success_url = check_url("successUrl", &input.success_url, &hosts)?;
        let cancel_url = check_url("cancelUrl", &input.cancel_url, &hosts)?;
        let id = match input.payment {
            SessionPayment::Existing(id) => id,
            SessionPayment::New(new) => {
                let (payment, details) = *new;
                let created = crate::payments::create(ctx, merchant_id, payment, details, payment_key).await?;
                let body: serde_json::Value = serde_json::from_str(&created.body).map_err(AppError::internal)?;
                body["paymentId"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| AppError::internal(std::io::Error::other("a created payment without its id")))?
            }
        };
        let payment = payments_store::find(&ctx.db, merchant_id, &id).await?.ok_or(AppError::NotFound("payment"))?;
        if payment.status != PaymentStatus::Pending {
            return Err(AppError::InvalidState(format!("the payment is {}: a checkout session opens a PENDING payment", payment.status)));
        }
        let now = settle_store::now_ms();
        let mut expires_at = now + SESSION_TTL_MS;
        if payment.rail == Rail::Chain
            && let Some(deadline) = payment.deadline
        {
            expires_at = expires_at.min(deadline.saturating_mul(1000));
        }
        let row = SessionRow {
            id: 0,
            session_id: new_session_id(),
            merchant_id: merchant_id.to_owned(),
            payment_id: payment.payment_id.clone(),
            success_url,
            cancel_url,
            locale: input.locale.clone(),
            expires_at,
            created_at: now,
        };
        let txn = settle_store::begin(&ctx.db).await?;
        let row = store::insert(&txn, &row).await?;
        claim.bind_in(&txn, &format!("{RESOURCE}{}", row.session_id)).await?;
        txn.commit().await.map_err(StoreError::from)?;
        claim.complete(&ctx.db, Reply { outcome: Outcome::Created, body: body_of(&SessionView::of(&row, base))?, replayed: false }).await
    })
    .await
}

async fn reply_with(ctx: &Context, claim: &Claim, merchant_id: &str, base: &str, session_id: &str) -> Result<Reply, AppError> {
    let row = store::find(&ctx.db, merchant_id, session_id).await?.ok_or(AppError::NotFound("checkout session"))?;
    claim.complete(&ctx.db, Reply { outcome: Outcome::Created, body: body_of(&SessionView::of(&row, base))?, replayed: false }).await
}

/// A merchant's session.
pub async fn get(ctx: &Context, merchant_id: &str, base: &str, session_id: &str) -> Result<SessionView, AppError> {
    if !is_session_id(session_id) {
        return Err(AppError::invalid("sessionId", "sessionId must be cs_ followed by 32 hex digits"));
    }
    let row = store::find(&ctx.db, merchant_id, session_id).await?.ok_or(AppError::NotFound("checkout session"))?;
    Ok(SessionView::of(&row, base))
}

/// The session `session_id` opens, if it is the session of `payment_id` (the payer's key to that payment's
/// checkout routes); its merchant. An expired session still reads its payment (the page shows how it ended), and
/// pays nothing any more (`write`: 409).
pub async fn authorize_session(ctx: &Context, payment_id: &str, session_id: &str, write: bool) -> Result<String, AppError> {
    if !is_session_id(session_id) {
        return Err(AppError::Unauthenticated);
    }
    let row = store::find_any(&ctx.db, session_id).await?.ok_or(AppError::Unauthenticated)?;
    if row.payment_id != payment_id {
        return Err(AppError::Unauthenticated);
    }
    if write && settle_store::now_ms() >= row.expires_at {
        return Err(AppError::InvalidState("the checkout session has expired: nothing can be paid through it".into()));
    }
    Ok(row.merchant_id)
}

/// What the hosted page shows of a session (to whoever holds its id).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageView {
    pub session_id: String,
    pub merchant_name: String,
    pub payment_id: String,
    pub livemode: bool,
    /// `CARD` or `CHAIN`.
    #[schema(value_type = String)]
    pub rail: Rail,
    /// Minor units, as a decimal string.
    pub amount: String,
    pub currency: String,
    /// CHAIN: the token's decimals and address, and the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<i64>,
    #[schema(value_type = String)]
    pub status: PaymentStatus,
    /// Until when the page takes the payment (RFC 3339); past it, the session is expired.
    pub expires_at: String,
    pub expired: bool,
    /// Where "Cancel" sends the payer.
    pub cancel_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// CHAIN: the chain as the payer's wallet adds it when it lacks it (`wallet_addEthereumChain`), if Settle is
    /// configured with its public RPC URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_chain: Option<AddChain>,
    /// The merchant page embedding this checkout (`origin` asked, and on the merchant's `redirectHosts`): the page
    /// tells its outcome there (postMessage) instead of redirecting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_origin: Option<String>,
}

/// A chain as `wallet_addEthereumChain` takes it (EIP-3085).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddChain {
    /// 0x and hex.
    pub chain_id: String,
    pub chain_name: String,
    pub native_currency: NativeCurrency,
    pub rpc_urls: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub block_explorer_urls: Vec<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct NativeCurrency {
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
}

impl AddChain {
    fn of(chain: &crate::chain::Chain) -> Option<Self> {
        let w = chain.wallet.as_ref()?;
        let symbol = w.currency_symbol.clone().unwrap_or_else(|| "ETH".into());
        Some(Self {
            chain_id: format!("0x{:x}", chain.chain_id),
            chain_name: w.name.clone(),
            native_currency: NativeCurrency { name: symbol.clone(), symbol, decimals: 18 },
            rpc_urls: w.rpc_urls.clone(),
            block_explorer_urls: w.explorer_urls.clone(),
        })
    }
}

/// The session as the hosted page shows it, embedded in `origin` if it may be; 404 for an unknown id.
pub async fn page(ctx: &Context, session_id: &str, origin: Option<&str>) -> Result<PageView, AppError> {
    if !is_session_id(session_id) {
        return Err(AppError::NotFound("checkout session"));
    }
    let s = store::find_any(&ctx.db, session_id).await?.ok_or(AppError::NotFound("checkout session"))?;
    let p = payments_store::find(&ctx.db, &s.merchant_id, &s.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    let merchant = settle_store::merchants::find(&ctx.db, settle_domain::mode::merchant_of(&s.merchant_id)).await?;
    let chain = p.chain_id.and_then(|c| ctx.chains.get(c));
    let token: Option<settle_chain::Address> = p.token_address.as_deref().and_then(|t| t.parse().ok());
    let decimals = chain.and_then(|c| token.and_then(|t| c.token(&t)).map(|t| t.decimals));
    let add_chain = chain.and_then(AddChain::of);
    let embed_origin = match (origin, &merchant) {
        (Some(o), Some(m)) => embed_origin_on(o, &hosts_of(m.redirect_hosts.as_deref())),
        _ => None,
    };
    Ok(PageView {
        session_id: s.session_id.clone(),
        merchant_name: merchant.map(|m| m.name).unwrap_or_default(),
        payment_id: p.payment_id.clone(),
        livemode: settle_domain::mode::is_live(&s.merchant_id),
        rail: p.rail,
        amount: p.amount.clone(),
        currency: p.currency.clone(),
        decimals,
        token_address: p.token_address.clone(),
        chain_id: p.chain_id,
        status: p.status,
        expires_at: rfc3339(s.expires_at),
        expired: settle_store::now_ms() >= s.expires_at && p.status == PaymentStatus::Pending,
        cancel_url: s.cancel_url.clone(),
        locale: s.locale.clone(),
        add_chain,
        embed_origin,
    })
}

/// The checkout secret of a tenant's mode (`whsec_` and base64 of 32 bytes): the live one is made on first use and
/// kept sealed; the test one is derived from it (one-way), so a test key never learns the live secret.
pub async fn secret(ctx: &Context, tenant: &str) -> Result<String, AppError> {
    let merchant_id = settle_domain::mode::merchant_of(tenant);
    let context = format!("checkout-secret:{merchant_id}");
    let keys = ctx.settings.keyring.as_deref();
    let stored = match settle_store::merchants::find(&ctx.db, merchant_id).await?.ok_or(AppError::NotFound("merchant"))?.checkout_secret {
        Some(s) => s,
        None => {
            let mut b = [0u8; 32];
            rand::rng().fill_bytes(&mut b);
            let fresh = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(b));
            settle_store::merchants::checkout_secret(&ctx.db, merchant_id, &crate::crypto::seal(keys, &fresh, &context))
                .await?
                .ok_or(AppError::NotFound("merchant"))?
        }
    };
    let live =
        crate::crypto::open(keys, &stored, &context).map_err(|e| AppError::InvalidState(format!("the checkout secret cannot be opened ({e})")))?;
    if settle_domain::mode::is_live(tenant) {
        return Ok(live);
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(live.strip_prefix("whsec_").unwrap_or_default())
        .map_err(|_| AppError::InvalidState("the checkout secret is unreadable".into()))?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|_| AppError::InvalidState("the checkout secret is unreadable".into()))?;
    mac.update(b"settle/checkout-secret/test-mode");
    Ok(format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())))
}

/// Seals every merchant's checkout secret again under the current master key (after `settle keys rotate`); how
/// many were sealed again.
pub async fn reseal_all(ctx: &Context) -> Result<usize, AppError> {
    let Some(keys) = ctx.settings.keyring.as_deref() else { return Ok(0) };
    let mut n = 0;
    for (merchant_id, stored) in settle_store::merchants::checkout_secrets(&ctx.db).await? {
        if keys.is_current(&stored) {
            continue;
        }
        let context = format!("checkout-secret:{merchant_id}");
        let plain = keys
            .open(&stored, &context)
            .map_err(|e| AppError::invalid("SETTLE_MASTER_KEY", format!("the checkout secret of merchant {merchant_id}: {e}")))?;
        if settle_store::merchants::reseal_checkout_secret(&ctx.db, &merchant_id, &stored, &keys.seal(&plain, &context)).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// `v1,` and the base64 HMAC-SHA256 of `session_id.payment_id.timestamp` under `secret` (`whsec_` and base64).
pub fn signature(secret: &str, session_id: &str, payment_id: &str, timestamp: i64) -> Option<String> {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(format!("{session_id}.{payment_id}.{timestamp}").as_bytes());
    Some(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())))
}

/// Where the page sends the payer once the session's payment is COMPLETED: `successUrl` with `session_id`,
/// `payment_id`, `timestamp` and `signature`; 409 while it is not.
pub async fn success_redirect(ctx: &Context, session_id: &str) -> Result<String, AppError> {
    if !is_session_id(session_id) {
        return Err(AppError::NotFound("checkout session"));
    }
    let s = store::find_any(&ctx.db, session_id).await?.ok_or(AppError::NotFound("checkout session"))?;
    let p = payments_store::find(&ctx.db, &s.merchant_id, &s.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
    if p.status != PaymentStatus::Completed {
        return Err(AppError::InvalidState(format!("the payment is {}: the payer returns once it is COMPLETED", p.status)));
    }
    let key = secret(ctx, &s.merchant_id).await?;
    let timestamp = settle_store::now_ms() / 1000;
    let sig =
        signature(&key, &s.session_id, &s.payment_id, timestamp).ok_or_else(|| AppError::InvalidState("the checkout secret is unreadable".into()))?;
    let mut url = reqwest::Url::parse(&s.success_url).map_err(|_| AppError::InvalidState("the session's successUrl is unreadable".into()))?;
    url.query_pairs_mut()
        .append_pair("session_id", &s.session_id)
        .append_pair("payment_id", &s.payment_id)
        .append_pair("timestamp", &timestamp.to_string())
        .append_pair("signature", &sig);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_urls_are_https_on_registered_hosts() {
        let hosts = vec!["shop.example".to_owned(), "localhost".to_owned()];
        assert!(check_url("successUrl", "https://shop.example/done?x=1", &hosts).is_ok());
        assert!(check_url("successUrl", "http://localhost:8080/done", &hosts).is_ok());
        for bad in [
            "http://shop.example/done",
            "https://evil.example/",
            "/done",
            "https://u:p@shop.example/",
            "https://shop.example/#x",
            "javascript:alert(1)",
        ] {
            assert!(check_url("successUrl", bad, &hosts).is_err(), "{bad}");
        }
        assert_eq!(parse_redirect_hosts(&["Shop.Example".into(), "shop.example".into()]).unwrap(), r#"["shop.example"]"#);
        for bad in ["https://shop.example", "shop.example:443", "shop.example/path", "", "a b"] {
            assert!(parse_redirect_hosts(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_embedding_page_is_an_origin_on_a_registered_host() {
        let hosts = vec!["shop.example".to_owned(), "localhost".to_owned()];
        assert_eq!(embed_origin_on("https://shop.example", &hosts).as_deref(), Some("https://shop.example"));
        assert_eq!(embed_origin_on("https://Shop.Example:8443", &hosts).as_deref(), Some("https://shop.example:8443"));
        assert_eq!(embed_origin_on("http://localhost:5173", &hosts).as_deref(), Some("http://localhost:5173"));
        for bad in ["http://shop.example", "https://evil.example", "https://shop.example/cart", "https://shop.example?x", "null", "*", ""] {
            assert_eq!(embed_origin_on(bad, &hosts), None, "{bad}");
        }
    }

    #[test]
    fn the_success_signature_is_an_hmac_of_the_session_payment_and_time() {
        let secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        let a = signature(&secret, "cs_1", "0xab", 1_700_000_000).unwrap();
        assert!(a.starts_with("v1,"));
        assert_ne!(a, signature(&secret, "cs_1", "0xac", 1_700_000_000).unwrap());
        assert_ne!(a, signature(&secret, "cs_1", "0xab", 1_700_000_001).unwrap());
        assert!(signature("nope", "cs_1", "0xab", 1).is_none());
        assert!(is_session_id(&new_session_id()) && !is_session_id("cs_XYZ") && !is_session_id("pcs_1"));
    }
}
