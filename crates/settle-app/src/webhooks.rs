//! Outgoing webhooks: a merchant's endpoints receive its events, signed as the Standard Webhooks specification
//! defines (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`).
//!
//! - The relay creates one delivery per (event, matching endpoint) in the transaction that publishes the event
//!   ([`create_deliveries`]): an event is never published without its deliveries, nor delivered twice by design.
//! - Every instance runs a [`Sender`]: it claims due deliveries one by one (a compare-and-set in the database,
//!   so one worker sends a delivery at a time), sends each in a task of its own, at most
//!   [`WebhookSettings::per_endpoint`] at once per endpoint (a slow endpoint holds only its own slots), and
//!   records the attempt. A non-2xx answer, no answer within the timeout, a redirect or a refused address is
//!   retried on [`WebhookSettings::schedule`] with jitter; after the last retry the delivery is FAILED and kept.
//!   A worker that dies mid-send leaves its claim to run out: the delivery is sent again with the same
//!   `webhook-id` (at least once; receivers dedupe on it).
//! - An endpoint whose deliveries have all failed for [`WebhookSettings::disable_after`] is disabled, and a
//!   `webhook_endpoint.disabled` event is recorded.
//! - Addresses: an endpoint must be https, and its host must resolve only to public addresses, unless the host
//!   is on [`WebhookSettings::allow_hosts`]. The check runs when the endpoint is created or changed and again
//!   on every connection (the client's resolver refuses, so a name that changes its answer between the two
//!   gains nothing); redirects are never followed.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use serde::Serialize;
use settle_store::{ConnectionTrait, StoreError, audit, outbox::OutboxRow, webhooks as store};
use sha2::Sha256;

use crate::{
    AppError, Context,
    crypto::{self, CryptoError, Keyring},
    idempotency::{self, Claim, IdemKey, Reply},
    time::rfc3339,
    worker::Outcome,
};

/// The topic recorded when Settle disables a failing endpoint.
pub const ENDPOINT_DISABLED: &str = "webhook_endpoint.disabled";
/// Endpoints a merchant may have.
pub const MAX_ENDPOINTS: u64 = 16;
/// How long a send's claim holds: twice the send's timeout and this, time enough to record its answer; then
/// another worker may send the delivery again.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);
/// Bytes of an answer kept with its attempt.
const EXCERPT: usize = 200;

pub use crate::settings::WebhookSettings;

// ---------------------------------------------------------------------------------------------------------
// Signing

/// A fresh endpoint secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("whsec_{}", B64.encode(b))
}

/// One `v1,<base64>` signature of `id.timestamp.body` with `secret` (`whsec_...`); None for a malformed secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header of an endpoint: the current secret's signature, and during a rotation's
/// overlap the previous secret's too, space-separated. The secrets are opened with the master keys.
fn signatures(keys: Option<&Keyring>, ep: &store::EndpointRow, id: &str, timestamp: i64, body: &str, now_ms: i64) -> Result<String, CryptoError> {
    let mut out: Vec<String> = sign(&crypto::open(keys, &ep.secret, &ep.endpoint_id)?, id, timestamp, body).into_iter().collect();
    if let (Some(prev), Some(until)) = (&ep.previous_secret, ep.previous_secret_until)
        && until > now_ms
        && let Some(s) = sign(&crypto::open(keys, prev, &ep.endpoint_id)?, id, timestamp, body)
    {
        out.push(s);
    }
    Ok(out.join(" "))
}

// ---------------------------------------------------------------------------------------------------------
// Events

/// The id a delivery is sent with: its event's id, the same on every attempt and channel.
fn delivery_event_id(d: &store::DeliveryRow) -> String {
    d.event_id.clone().unwrap_or_else(|| settle_store::outbox::legacy_event_id(d.seq))
}

/// An event as webhooks, the events API and NATS carry it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Made with the event, never issued twice: `webhook-id`, `Nats-Msg-Id`, SSE's id.
    pub id: String,
    /// The outbox seq: the order of events (issued again after a restore of an older backup).
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub data: serde_json::Value,
}

impl EventView {
    /// The event of a published outbox row (None while unpublished).
    pub fn of(row: &OutboxRow) -> Option<Self> {
        let (seq, id) = (row.seq?, settle_store::outbox::event_id_of(row)?);
        let data = serde_json::from_str::<serde_json::Value>(&row.payload).ok().and_then(|mut v| v.get_mut("data").map(serde_json::Value::take));
        Some(Self { id, seq, kind: row.topic.clone(), created_at: rfc3339(row.created_at), data: data.unwrap_or_default() })
    }

    /// The JSON body of a delivery: `{id, type, createdAt, data}`.
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            created_at: &'a str,
            data: &'a serde_json::Value,
        }
        serde_json::to_string(&Body { id: &self.id, kind: &self.kind, created_at: &self.created_at, data: &self.data }).unwrap_or_default()
    }
}

/// Checks a list of event type patterns: `*`, `payment.*`, or a type such as `order.paid`.
pub fn parse_patterns(param: &str, patterns: &[String]) -> Result<Vec<String>, AppError> {
    if patterns.is_empty() || patterns.len() > 32 {
        return Err(AppError::invalid(param, format!("{param} must list 1 to 32 event types")));
    }
    let mut out = Vec::with_capacity(patterns.len());
    for p in patterns {
        let p = p.trim();
        let name = p.strip_suffix(".*").unwrap_or(p);
        let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let ok = p == "*" || (p.len() <= 64 && name.split('.').all(word));
        if !ok {
            return Err(AppError::invalid(
                param,
                format!("{param}: {p:?} is not an event type (such as payment.completed), a prefix (payment.*) or *"),
            ));
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
        }
    }
    Ok(out)
}

/// Whether a pattern takes a topic.
pub fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

/// Creates the deliveries of freshly published rows (call it in the relay's publishing transaction). Returns
/// how many.
pub async fn create_deliveries(conn: &impl ConnectionTrait, rows: &[OutboxRow], now: i64) -> Result<usize, StoreError> {
    let mut merchants: Vec<&str> = rows.iter().map(|r| r.merchant_id.as_str()).collect();
    merchants.sort_unstable();
    merchants.dedup();
    let endpoints = store::enabled_endpoints_of(conn, &merchants).await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let patterns: Vec<(&store::EndpointRow, Vec<String>)> =
        endpoints.iter().map(|e| (e, serde_json::from_str::<Vec<String>>(&e.events).unwrap_or_default())).collect();
    let mut out = Vec::new();
    for r in rows {
        let mut targets =
            patterns.iter().filter(|(ep, pats)| ep.merchant_id == r.merchant_id && pats.iter().any(|p| matches(p, &r.topic))).peekable();
        // The event and its body, once per row that any endpoint takes (none: nothing parsed).
        if targets.peek().is_none() {
            continue;
        }
        let Some(ev) = EventView::of(r) else { continue };
        let body = ev.body();
        for (ep, _) in targets {
            out.push(store::NewDelivery {
                delivery_id: format!("wd_{}", uuid::Uuid::now_v7().simple()),
                endpoint_id: ep.endpoint_id.clone(),
                merchant_id: r.merchant_id.clone(),
                seq: ev.seq,
                event_id: ev.id.clone(),
                event_type: r.topic.clone(),
                body: body.clone(),
            });
        }
    }
    let n = out.len();
    while !out.is_empty() {
        let rest = out.split_off(out.len().min(200));
        store::insert_deliveries(conn, std::mem::replace(&mut out, rest), now).await?;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------------------
// Addresses

/// Whether an address is on the public internet (not loopback, private, link-local, shared, documentation,
/// multicast or otherwise reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x64 && s[1] == 0xff9b))
        }
    }
}

fn allowed(allow_hosts: &[String], host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    allow_hosts.iter().any(|h| h.trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(host))
}

/// Why a URL may not be delivered to, checked without resolving it (scheme, credentials, an address as host).
fn refuse_url(allow_hosts: &[String], url: &reqwest::Url) -> Option<String> {
    let Some(host) = url.host_str() else { return Some("the url has no host".into()) };
    let listed = allowed(allow_hosts, host);
    match url.scheme() {
        "https" => {}
        "http" if listed => {}
        "http" => return Some("the url must be https (plain http only for hosts on SETTLE_WEBHOOK_ALLOW_HOSTS)".into()),
        s => return Some(format!("the url's scheme must be https, not {s}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("the url must not carry credentials".into());
    }
    if !listed
        && let Some(ip) = host_ip(url)
        && !is_public(ip)
    {
        return Some(format!("{ip} is not a public address"));
    }
    None
}

fn host_ip(url: &reqwest::Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Checks an endpoint URL as a merchant gives it: well formed, https, and its host resolving only to public
/// addresses (unless allow-listed). A name that does not resolve now is accepted: every delivery checks again.
async fn check_url(allow_hosts: &[String], raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2048 {
        return Err(AppError::invalid("url", "url must be 1 to 2048 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| AppError::invalid("url", format!("url is not a valid URL: {e}")))?;
    if let Some(why) = refuse_url(allow_hosts, &url) {
        return Err(AppError::invalid("url", why));
    }
    let host = url.host_str().unwrap_or_default();
    if !allowed(allow_hosts, host)
        && host_ip(&url).is_none()
        && let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((host, 443))).await
    {
        for a in addrs {
            if !is_public(a.ip()) {
                return Err(AppError::invalid("url", format!("{host} resolves to {}, which is not a public address", a.ip())));
            }
        }
    }
    Ok(url.to_string())
}

/// The delivery client's resolver: a name resolving to any address that is not public is refused (unless its
/// host is allow-listed), at connection time, so the address checked is the address connected to.
struct GuardedResolver {
    allow_hosts: Arc<Vec<String>>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let listed = allowed(&self.allow_hosts, &host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !listed && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!("{host} resolves to {}, which is not a public address", bad.ip()).into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Endpoints

/// An endpoint as the API shows it (never its secret, but at creation and rotation).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    /// Why Settle disabled it (`failing`); absent when enabled or disabled by the merchant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// During a rotation: until when the previous secret still signs alongside the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl EndpointView {
    fn of(e: &store::EndpointRow, now: i64) -> Self {
        Self {
            id: e.endpoint_id.clone(),
            url: e.url.clone(),
            events: serde_json::from_str(&e.events).unwrap_or_default(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            previous_secret_expires_at: e.previous_secret_until.filter(|u| *u > now && e.previous_secret.is_some()).map(rfc3339),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
        }
    }
}

/// An endpoint with its signing secret, shown once (at creation and at each rotation).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
}

/// A merchant's endpoints.
#[derive(Clone, Debug, Serialize)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
}

fn check_description(d: Option<&str>) -> Result<Option<String>, AppError> {
    match d.map(str::trim) {
        None | Some("") => Ok(None),
        Some(d) if d.chars().count() > 500 || d.contains('\0') => {
            Err(AppError::invalid("description", "description must be at most 500 characters, without NUL"))
        }
        Some(d) => Ok(Some(d.to_owned())),
    }
}

fn check_endpoint_id(id: &str) -> Result<(), AppError> {
    if id.len() > 40 || !id.starts_with("we_") {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    Ok(())
}

/// Registers an endpoint; its secret is in the answer and nowhere else.
/// What an endpoint's create or rotation records for its Idempotency-Key: the endpoint's id, never its secret. The
/// answer, a replay's too, is read from the endpoint (its current secret opened from its sealed column).
fn endpoint_reply(outcome: idempotency::Outcome, endpoint_id: &str) -> Reply {
    Reply { outcome, body: serde_json::json!({ "endpointId": endpoint_id }).to_string(), replayed: false }
}

/// The endpoint a recorded reply names, with its current secret.
async fn endpoint_with_secret(ctx: &Context, merchant_id: &str, reply: &Reply) -> Result<EndpointWithSecret, AppError> {
    let id = serde_json::from_str::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["endpointId"].as_str().map(str::to_owned))
        .ok_or_else(|| AppError::InvalidState("this Idempotency-Key's stored response is unreadable; use a new key".into()))?;
    let row = store::endpoint(&ctx.db, merchant_id, &id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    let secret = crypto::open(ctx.settings.keyring.as_deref(), &row.secret, &row.endpoint_id).map_err(AppError::internal)?;
    Ok(EndpointWithSecret { endpoint: EndpointView::of(&row, settle_store::now_ms()), secret })
}

/// `POST /webhook-endpoints`. With an Idempotency-Key, a retry answers the endpoint the first request made (with
/// its current secret) and never makes a second one.
pub async fn create_endpoint(
    ctx: &Context,
    merchant_id: &str,
    url: &str,
    events: &[String],
    description: Option<&str>,
    key: Option<IdemKey>,
) -> Result<(EndpointWithSecret, bool), AppError> {
    let reply = idempotency::once(ctx, merchant_id, key, |claim| async move {
        let id = create_endpoint_in(ctx, merchant_id, url, events, description, &claim).await?;
        Ok(endpoint_reply(idempotency::Outcome::Created, &id))
    })
    .await?;
    Ok((endpoint_with_secret(ctx, merchant_id, &reply).await?, reply.replayed))
}

async fn create_endpoint_in(
    ctx: &Context,
    merchant_id: &str,
    url: &str,
    events: &[String],
    description: Option<&str>,
    claim: &Claim,
) -> Result<String, AppError> {
    let url = check_url(&ctx.settings.webhooks.allow_hosts, url).await?;
    let events = parse_patterns("events", events)?;
    let description = check_description(description)?;
    if store::count_endpoints(&ctx.db, merchant_id).await? >= MAX_ENDPOINTS {
        return Err(AppError::InvalidState(format!("a merchant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")));
    }
    let id = format!("we_{}", uuid::Uuid::now_v7().simple());
    let secret = new_secret();
    let now = settle_store::now_ms();
    let events = serde_json::to_string(&events).unwrap_or_default();
    let sealed = crypto::seal(ctx.settings.keyring.as_deref(), &secret, &id);
    let txn = settle_store::begin(&ctx.db).await?;
    let row = store::create_endpoint(
        &txn,
        store::NewEndpoint { endpoint_id: &id, merchant_id, url: &url, events: &events, description: description.as_deref(), secret: &sealed },
        now,
    )
    .await?;
    let changes = serde_json::json!({"url": url, "events": events, "description": description});
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.created", &id, &changes).await?;
    claim.complete_in(&txn, &endpoint_reply(idempotency::Outcome::Created, &row.endpoint_id)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    claim.committed();
    drop(secret);
    tracing::info!(merchant_id, endpoint_id = %id, "webhook endpoint created");
    Ok(id)
}

pub async fn list_endpoints(ctx: &Context, merchant_id: &str) -> Result<EndpointList, AppError> {
    let now = settle_store::now_ms();
    Ok(EndpointList { data: store::endpoints(&ctx.db, merchant_id).await?.iter().map(|e| EndpointView::of(e, now)).collect() })
}

pub async fn get_endpoint(ctx: &Context, merchant_id: &str, endpoint_id: &str) -> Result<EndpointView, AppError> {
    check_endpoint_id(endpoint_id)?;
    let e = store::endpoint(&ctx.db, merchant_id, endpoint_id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    Ok(EndpointView::of(&e, settle_store::now_ms()))
}

/// What `PATCH` may change.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Some(None) or Some(Some("")) clears it.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

pub async fn update_endpoint(ctx: &Context, merchant_id: &str, endpoint_id: &str, patch: EndpointPatch) -> Result<EndpointView, AppError> {
    check_endpoint_id(endpoint_id)?;
    let mut change = store::EndpointChange { enabled: patch.enabled, ..Default::default() };
    if let Some(u) = patch.url {
        change.url = Some(check_url(&ctx.settings.webhooks.allow_hosts, &u).await?);
    }
    if let Some(e) = patch.events {
        change.events = Some(serde_json::to_string(&parse_patterns("events", &e)?).unwrap_or_default());
    }
    if let Some(d) = patch.description {
        change.description = Some(check_description(d.as_deref())?);
    }
    let now = settle_store::now_ms();
    let changes = serde_json::json!({"url": change.url, "events": change.events, "description": change.description, "enabled": change.enabled});
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::update_endpoint(&txn, merchant_id, endpoint_id, change, now).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.updated", endpoint_id, &changes).await?;
    txn.commit().await.map_err(StoreError::from)?;
    ctx.webhook_wake.notify_one();
    get_endpoint(ctx, merchant_id, endpoint_id).await
}

/// Deletes an endpoint with its deliveries.
pub async fn delete_endpoint(ctx: &Context, merchant_id: &str, endpoint_id: &str) -> Result<(), AppError> {
    check_endpoint_id(endpoint_id)?;
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::delete_endpoint(&txn, merchant_id, endpoint_id).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.deleted", endpoint_id, &serde_json::json!({})).await?;
    txn.commit().await.map_err(StoreError::from)?;
    tracing::info!(merchant_id, endpoint_id, "webhook endpoint deleted");
    Ok(())
}

/// Replaces an endpoint's secret; the previous one signs alongside it for [`WebhookSettings::rotation_overlap`].
/// `POST /webhook-endpoints/{id}/rotate-secret`. With an Idempotency-Key, a retry answers the secret the first
/// request rotated to (the endpoint's current one) and never rotates again, so the caller keeps the secret it holds.
pub async fn rotate_secret(ctx: &Context, merchant_id: &str, endpoint_id: &str, key: Option<IdemKey>) -> Result<(EndpointWithSecret, bool), AppError> {
    check_endpoint_id(endpoint_id)?;
    let reply = idempotency::once(ctx, merchant_id, key, |claim| async move {
        rotate_in(ctx, merchant_id, endpoint_id, &claim).await?;
        Ok(endpoint_reply(idempotency::Outcome::Done, endpoint_id))
    })
    .await?;
    Ok((endpoint_with_secret(ctx, merchant_id, &reply).await?, reply.replayed))
}

async fn rotate_in(ctx: &Context, merchant_id: &str, endpoint_id: &str, claim: &Claim) -> Result<(), AppError> {
    let secret = new_secret();
    let now = settle_store::now_ms();
    let until = now + ctx.settings.webhooks.rotation_overlap.as_millis() as i64;
    let sealed = crypto::seal(ctx.settings.keyring.as_deref(), &secret, endpoint_id);
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::rotate_secret(&txn, merchant_id, endpoint_id, &sealed, until, now).await? {
        return Err(AppError::NotFound("webhook endpoint"));
    }
    audit::record(&txn, Some(merchant_id), "webhook_endpoint.secret_rotated", endpoint_id, &serde_json::json!({"previousSecretUntil": until}))
        .await?;
    claim.complete_in(&txn, &endpoint_reply(idempotency::Outcome::Done, endpoint_id)).await?;
    txn.commit().await.map_err(StoreError::from)?;
    claim.committed();
    tracing::info!(merchant_id, endpoint_id, "webhook endpoint secret rotated");
    Ok(())
}

/// Seals every stored endpoint secret under the current master key, bound to its endpoint (`settle keys rotate`):
/// those sealed under an older key of the list or before values were bound to their row, and those stored before a
/// key was configured. Each endpoint is written with a compare-and-set on the values read: a secret rotated
/// meanwhile (`rotate-secret`) is never overwritten with the one from before; that endpoint is read again and
/// resealed. Returns how many endpoints changed.
pub async fn reseal_all(ctx: &Context) -> Result<usize, AppError> {
    let Some(keys) = ctx.settings.keyring.as_deref() else {
        return Err(AppError::invalid("SETTLE_MASTER_KEY", "set SETTLE_MASTER_KEY: the new key first, the old ones after it"));
    };
    let mut n = 0;
    for mut row in store::all_secrets(&ctx.db).await? {
        for attempt in 0.. {
            let reseal = |s: &str| -> Result<Option<String>, AppError> {
                if keys.is_current(s) {
                    return Ok(None);
                }
                let plain = keys
                    .open(s, &row.endpoint_id)
                    .map_err(|err| AppError::invalid("SETTLE_MASTER_KEY", format!("a secret of endpoint {}: {err}", row.endpoint_id)))?;
                Ok(Some(keys.seal(&plain, &row.endpoint_id)))
            };
            let secret = reseal(&row.secret)?;
            let previous = match &row.previous_secret {
                Some(p) => reseal(p)?,
                None => None,
            };
            if secret.is_none() && previous.is_none() {
                break;
            }
            let txn = settle_store::begin(&ctx.db).await?;
            let swapped = store::reseal_secrets(
                &txn,
                row.id,
                (&row.secret, row.previous_secret.as_deref()),
                (secret.as_deref().unwrap_or(&row.secret), previous.as_deref().or(row.previous_secret.as_deref())),
            )
            .await?;
            if swapped {
                audit::record(
                    &txn,
                    Some(&row.merchant_id),
                    "webhook_endpoint.secret_resealed",
                    &row.endpoint_id,
                    &serde_json::json!({"keyId": keys.current_id()}),
                )
                .await?;
                txn.commit().await.map_err(StoreError::from)?;
                n += 1;
                break;
            }
            drop(txn);
            // Changed since it was read (a rotation): read it again and seal what it holds now.
            let Some(now) = store::secrets_of(&ctx.db, row.id).await? else { break };
            if attempt >= 10 {
                return Err(AppError::InvalidState(format!("endpoint {} kept changing while its secret was resealed; run it again", row.endpoint_id)));
            }
            row = now;
        }
    }
    Ok(n)
}

/// Checks at start that every stored secret opens with the configured keys (or, without keys, that none is
/// sealed): a missing key would otherwise surface only as failing deliveries.
pub async fn check_secrets(db: &settle_store::Db, keys: Option<&Keyring>) -> Result<(), String> {
    for e in store::all_secrets(db).await.map_err(|e| e.to_string())? {
        for s in std::iter::once(&e.secret).chain(e.previous_secret.as_ref()) {
            if let Err(err) = crypto::open(keys, s, &e.endpoint_id) {
                return Err(match keys {
                    None => "the database holds webhook secrets sealed under a master key: set SETTLE_MASTER_KEY".to_owned(),
                    Some(_) => format!(
                        "SETTLE_MASTER_KEY: a stored webhook secret does not open ({err}); list the key it was sealed under after the new one"
                    ),
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Deliveries

/// One attempt at a delivery.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub started_at: String,
    /// The answer's status; absent when there was none (timeout, refused address, connection failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the answer's body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

/// A delivery of one event to one endpoint.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    /// PENDING, SUCCEEDED or FAILED.
    pub status: String,
    pub attempt_count: i32,
    /// PENDING: when it is (or was last) due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status_code: Option<i32>,
    pub attempts: Vec<AttemptView>,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of deliveries, newest first.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
    pub has_more: bool,
}

fn delivery_view(d: &store::DeliveryRow, attempts: &[store::AttemptRow]) -> DeliveryView {
    DeliveryView {
        id: d.delivery_id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        event_id: delivery_event_id(d),
        event_type: d.event_type.clone(),
        status: d.status.clone(),
        attempt_count: d.attempts,
        next_attempt_at: (d.status == store::PENDING).then(|| rfc3339(d.next_attempt_at)),
        last_status_code: d.last_status_code,
        attempts: attempts
            .iter()
            .filter(|a| a.delivery_id == d.delivery_id)
            .map(|a| AttemptView {
                attempt: a.attempt,
                started_at: rfc3339(a.started_at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                excerpt: a.excerpt.clone(),
            })
            .collect(),
        created_at: rfc3339(d.created_at),
        updated_at: rfc3339(d.updated_at),
    }
}

/// Query of an endpoint's deliveries.
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    pub status: Option<String>,
    pub limit: u64,
    pub starting_after: Option<String>,
}

pub async fn list_deliveries(ctx: &Context, merchant_id: &str, endpoint_id: &str, q: DeliveryQuery) -> Result<DeliveryList, AppError> {
    check_endpoint_id(endpoint_id)?;
    if let Some(s) = &q.status
        && ![store::PENDING, store::SUCCEEDED, store::FAILED].contains(&s.as_str())
    {
        return Err(AppError::invalid("status", "status must be PENDING, SUCCEEDED or FAILED"));
    }
    store::endpoint(&ctx.db, merchant_id, endpoint_id).await?.ok_or(AppError::NotFound("webhook endpoint"))?;
    let after = match &q.starting_after {
        Some(id) => {
            let d = store::delivery(&ctx.db, merchant_id, id)
                .await?
                .filter(|d| d.endpoint_id == endpoint_id)
                .ok_or_else(|| AppError::invalid("startingAfter", "startingAfter names no delivery of this endpoint"))?;
            Some(d.id)
        }
        None => None,
    };
    let (rows, has_more) = store::deliveries(&ctx.db, endpoint_id, q.status.as_deref(), after, q.limit).await?;
    let ids: Vec<String> = rows.iter().map(|d| d.delivery_id.clone()).collect();
    let attempts = store::attempts_of(&ctx.db, &ids).await?;
    Ok(DeliveryList { data: rows.iter().map(|d| delivery_view(d, &attempts)).collect(), has_more })
}

/// Sends a delivery again now (also one that succeeded or failed for good); refused while it is being sent.
pub async fn retry_delivery(ctx: &Context, merchant_id: &str, delivery_id: &str) -> Result<DeliveryView, AppError> {
    if delivery_id.len() > 40 || !delivery_id.starts_with("wd_") {
        return Err(AppError::NotFound("webhook delivery"));
    }
    let now = settle_store::now_ms();
    let txn = settle_store::begin(&ctx.db).await?;
    if !store::retry_now(&txn, merchant_id, delivery_id, now).await? {
        drop(txn);
        return match store::delivery(&ctx.db, merchant_id, delivery_id).await? {
            None => Err(AppError::NotFound("webhook delivery")),
            Some(_) => Err(AppError::InvalidState("this delivery is being sent right now; retry once it has an answer".into())),
        };
    }
    audit::record(&txn, Some(merchant_id), "webhook_delivery.retried", delivery_id, &serde_json::json!({"nextAttemptAt": now})).await?;
    txn.commit().await.map_err(StoreError::from)?;
    ctx.webhook_wake.notify_one();
    let d = store::delivery(&ctx.db, merchant_id, delivery_id).await?.ok_or(AppError::NotFound("webhook delivery"))?;
    let attempts = store::attempts_of(&ctx.db, std::slice::from_ref(&d.delivery_id)).await?;
    Ok(delivery_view(&d, &attempts))
}

// ---------------------------------------------------------------------------------------------------------
// The events API

/// A page of events, in seq order.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub data: Vec<EventView>,
    pub has_more: bool,
}

/// How long before the time an unknown cursor's id was made its reader is resumed from: instances' clocks differ,
/// and an event is published a little after it is made.
const UNKNOWN_CURSOR_SLACK_MS: i64 = 60_000;

/// The seq after which a reader resumes, from its cursor (SSE's `Last-Event-ID`, `after` of the events API): the
/// id of the last event it has, or a seq. An event id this database does not hold (the reader got it before a
/// restore of an older backup, or it was purged) resumes with every event published from a minute before that id
/// was made (a time in the future counts as now): a reader may get again events it has (it drops them by id), and
/// misses none published since. An `evt_<seq>` it does not hold resumes no later than the first event given an id
/// with its row, and a seq no later than the newest event: a cursor from a lost timeline never skips new events.
pub async fn resume_after(ctx: &Context, merchant_id: &str, field: &'static str, cursor: &str) -> Result<i64, AppError> {
    use settle_store::outbox::{self, EventIdForm};
    let cursor = cursor.trim();
    if !cursor.is_empty() && cursor.len() <= 18 && cursor.bytes().all(|b| b.is_ascii_digit()) {
        let seq: i64 = cursor.parse().map_err(|_| AppError::invalid(field, format!("{field} must be an event id (evt_…) or a seq")))?;
        return Ok(seq.min(outbox::max_seq(&ctx.db).await?));
    }
    let Some(form) = outbox::event_id_form(cursor) else {
        return Err(AppError::invalid(field, format!("{field} must be an event id (evt_…) or a seq")));
    };
    if let Some(seq) = outbox::seq_of_event(&ctx.db, Some(merchant_id), cursor).await? {
        return Ok(seq);
    }
    metrics::counter!("settle_event_cursor_unknown_total").increment(1);
    Ok(match form {
        EventIdForm::Legacy(seq) => {
            let before_ids = outbox::seq_before_made_ids(&ctx.db).await?.unwrap_or(i64::MAX);
            seq.min(before_ids).min(outbox::max_seq(&ctx.db).await?)
        }
        EventIdForm::Made(at) => {
            let since = at.min(settle_store::now_ms()).saturating_sub(UNKNOWN_CURSOR_SLACK_MS);
            outbox::seq_before_published(&ctx.db, since).await?
        }
    })
}

/// A merchant's events after seq `after`, of the given types (patterns as endpoints take them).
pub async fn list_events(ctx: &Context, merchant_id: &str, types: &[String], after: i64, limit: u64) -> Result<EventPage, AppError> {
    let types = if types.is_empty() { Vec::new() } else { parse_patterns("type", types)? };
    let (rows, has_more) = settle_store::outbox::list_events(&ctx.db, merchant_id, &types, after, limit).await?;
    Ok(EventPage { data: rows.iter().filter_map(EventView::of).collect(), has_more })
}

// ---------------------------------------------------------------------------------------------------------
// The sender

/// Every instance's webhook sender (no lease: deliveries are claimed one by one).
#[derive(Clone)]
pub struct Sender {
    ctx: Context,
    http: reqwest::Client,
    state: Arc<SenderState>,
}

struct SenderState {
    /// Sends running per endpoint on this instance.
    per_endpoint: Mutex<HashMap<String, usize>>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// An endpoint's slot on this instance, given back when dropped.
struct Slot {
    state: Arc<SenderState>,
    endpoint: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.state.per_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.endpoint);
            }
        }
    }
}

/// What an attempt got.
struct Answer {
    status: Option<u16>,
    error: Option<String>,
    excerpt: Option<String>,
}

impl Sender {
    pub fn new(ctx: Context) -> Result<Self, String> {
        settle_card::tls::ensure_crypto_provider();
        let s = &ctx.settings.webhooks;
        let http = reqwest::Client::builder()
            .timeout(s.timeout)
            .connect_timeout(s.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_hosts: Arc::new(s.allow_hosts.clone()) }))
            .user_agent("Settle-Webhooks/1")
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?;
        let state =
            Arc::new(SenderState { per_endpoint: Mutex::new(HashMap::new()), permits: Arc::new(tokio::sync::Semaphore::new(s.in_flight.max(1))) });
        Ok(Self { ctx, http, state })
    }

    fn take_slot(&self, endpoint: &str) -> Option<Slot> {
        let mut m = self.state.per_endpoint.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(endpoint.to_owned()).or_insert(0);
        if *n >= self.ctx.settings.webhooks.per_endpoint.max(1) {
            return None;
        }
        *n += 1;
        Some(Slot { state: self.state.clone(), endpoint: endpoint.to_owned() })
    }

    fn busy(&self) -> Vec<String> {
        let per = self.ctx.settings.webhooks.per_endpoint.max(1);
        self.state.per_endpoint.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|(_, n)| **n >= per).map(|(e, _)| e.clone()).collect()
    }

    /// Claims the due deliveries this instance has room for and starts sending each in a task of its own.
    pub async fn run_once(&self) -> Result<Outcome, StoreError> {
        let room = self.state.permits.available_permits();
        if room == 0 {
            return Ok(Outcome::Idle);
        }
        let now = settle_store::now_ms();
        let due = store::due(&self.ctx.db, now, &self.busy(), room.min(100) as u64).await?;
        if due.is_empty() {
            return Ok(Outcome::Idle);
        }
        let mut ids: Vec<String> = due.iter().map(|d| d.endpoint_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let endpoints: HashMap<String, Arc<store::EndpointRow>> =
            store::endpoints_by_id(&self.ctx.db, &ids).await?.into_iter().map(|e| (e.endpoint_id.clone(), Arc::new(e))).collect();
        let claim_until = now + (self.ctx.settings.webhooks.timeout * 2 + CLAIM_MARGIN).as_millis() as i64;
        let mut started = 0;
        for d in due {
            let Some(ep) = endpoints.get(&d.endpoint_id).filter(|e| e.enabled).cloned() else { continue };
            let Some(slot) = self.take_slot(&d.endpoint_id) else { continue };
            let Ok(permit) = self.state.permits.clone().try_acquire_owned() else { break };
            if !store::claim(&self.ctx.db, d.id, d.attempts, now, claim_until).await? {
                continue;
            }
            started += 1;
            let me = self.clone();
            tokio::spawn(async move {
                let attempt = d.attempts + 1;
                me.attempt(&ep, &d, attempt).await;
                drop((slot, permit));
                me.ctx.webhook_wake.notify_one();
            });
        }
        Ok(if started > 0 { Outcome::Worked(started) } else { Outcome::Idle })
    }

    /// At shutdown: waits (at most one send's timeout) for the sends under way to be answered and recorded.
    pub async fn release(&self) {
        let all = self.ctx.settings.webhooks.in_flight.max(1) as u32;
        let _ = tokio::time::timeout(self.ctx.settings.webhooks.timeout, self.state.permits.acquire_many(all)).await;
    }

    async fn attempt(&self, ep: &store::EndpointRow, d: &store::DeliveryRow, attempt: i32) {
        let started_at = settle_store::now_ms();
        let t0 = Instant::now();
        let answer = self.post(ep, d).await;
        let latency_ms = t0.elapsed().as_millis() as i64;
        let ok = answer.status.is_some_and(|s| (200..300).contains(&s));
        let now = settle_store::now_ms();
        let schedule = &self.ctx.settings.webhooks.schedule;
        let (status, next_at) = if ok {
            (store::SUCCEEDED, now)
        } else if let Some(pause) = schedule.get(attempt as usize - 1) {
            let ms = pause.as_millis() as i64;
            let jitter = if ms >= 10 { rand::rng().random_range(-(ms / 10)..=ms / 10) } else { 0 };
            (store::PENDING, now + ms + jitter)
        } else {
            (store::FAILED, now)
        };
        let result = store::AttemptResult {
            delivery_id: &d.delivery_id,
            attempt,
            started_at,
            status_code: answer.status.map(i32::from),
            latency_ms,
            error: answer.error.as_deref(),
            excerpt: answer.excerpt.as_deref(),
        };
        let outcome = if ok { "succeeded" } else { "failed" };
        metrics::counter!("settle_webhook_attempts_total", "outcome" => outcome).increment(1);
        metrics::histogram!("settle_webhook_attempt_seconds").record(latency_ms as f64 / 1000.0);
        if let Err(e) = self.record(ep, &result, d.id, ok, status, next_at, now).await {
            // The claim runs out and the delivery is sent again (at least once).
            tracing::warn!(error = %e, delivery_id = %d.delivery_id, "recording a webhook attempt failed; it will be sent again");
        }
        tracing::debug!(delivery_id = %d.delivery_id, endpoint_id = %ep.endpoint_id, attempt, status, code = ?answer.status, latency_ms, "webhook attempt");
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        ep: &store::EndpointRow,
        result: &store::AttemptResult<'_>,
        id: i64,
        ok: bool,
        status: &str,
        next_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let txn = settle_store::begin(&self.ctx.db).await?;
        if !store::record_attempt(&txn, id, result, status, next_at, now).await? {
            // Another worker took the delivery over after this claim ran out: its attempt decides.
            return Ok(());
        }
        let mut disabled = false;
        if ok {
            store::endpoint_succeeded(&txn, &ep.endpoint_id).await?;
        } else if let Some(since) = store::endpoint_failed(&txn, &ep.endpoint_id, now).await?
            && now - since >= self.ctx.settings.webhooks.disable_after.as_millis() as i64
            && store::disable_endpoint(&txn, &ep.endpoint_id, "failing", now).await?
        {
            let data = serde_json::json!({
                "endpointId": ep.endpoint_id,
                "url": ep.url,
                "reason": "failing",
                "failingSince": rfc3339(since),
            });
            settle_store::outbox::enqueue(
                &txn,
                &ep.merchant_id,
                ENDPOINT_DISABLED,
                &ep.endpoint_id,
                &serde_json::json!({"type": ENDPOINT_DISABLED, "data": data}),
                now,
            )
            .await?;
            disabled = true;
        }
        txn.commit().await?;
        if disabled {
            tracing::warn!(endpoint_id = %ep.endpoint_id, merchant_id = %ep.merchant_id, "webhook endpoint disabled: every delivery failed for too long");
            self.ctx.outbox_wake.notify_one();
        }
        Ok(())
    }

    async fn post(&self, ep: &store::EndpointRow, d: &store::DeliveryRow) -> Answer {
        let refused = |why: String| Answer { status: None, error: Some(why), excerpt: None };
        let url = match reqwest::Url::parse(&ep.url) {
            Ok(u) => u,
            Err(e) => return refused(format!("the url is not valid: {e}")),
        };
        if let Some(why) = refuse_url(&self.ctx.settings.webhooks.allow_hosts, &url) {
            return refused(format!("refused: {why}"));
        }
        let id = delivery_event_id(d);
        let now = settle_store::now_ms();
        let ts = now / 1000;
        let sig = match signatures(self.ctx.settings.keyring.as_deref(), ep, &id, ts, &d.body, now) {
            Ok(s) => s,
            Err(e) => return refused(format!("the endpoint's secret cannot be opened: {e}")),
        };
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(d.body.clone())
            .send()
            .await;
        let mut res = match sent {
            Ok(r) => r,
            Err(e) => return refused(describe(&e)),
        };
        let status = res.status().as_u16();
        let mut body = Vec::new();
        let mut error = None;
        while body.len() < EXCERPT {
            match res.chunk().await {
                Ok(Some(c)) => body.extend_from_slice(&c),
                Ok(None) => break,
                Err(e) => {
                    error = Some(describe(&e));
                    break;
                }
            }
        }
        body.truncate(EXCERPT);
        let excerpt = String::from_utf8_lossy(&body).trim().to_owned();
        if (300..400).contains(&status) {
            error = Some("a redirect, which is not followed".into());
        }
        Answer { status: Some(status), error, excerpt: (!excerpt.is_empty()).then_some(excerpt) }
    }
}

/// A client error, without its URL (which may carry a merchant's token) but with its cause.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut out = if e.is_timeout() { "no answer within the timeout".to_owned() } else { e.to_string() };
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    let e = e.url().map(|u| out.replace(u.as_str(), "the endpoint")).unwrap_or(out);
    e.chars().take(250).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_matching() {
        let p = |v: &[&str]| parse_patterns("events", &v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(p(&["payment.*", "order.paid", "payment.*"]).unwrap(), ["payment.*", "order.paid"]);
        assert!(p(&["*"]).is_ok());
        for bad in ["", "Payment.*", "payment.", "payment.*.x", "pay ment", "payment%", "a.b_c.*x"] {
            assert!(p(&[bad]).is_err(), "{bad:?} accepted");
        }
        assert!(p(&[]).is_err());
        assert!(matches("payment.*", "payment.completed"));
        assert!(!matches("payment.*", "payments.x"));
        assert!(matches("*", "saga.started"));
        assert!(matches("order.paid", "order.paid") && !matches("order.paid", "order.paid2"));
    }

    #[test]
    fn addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        let allow = vec!["127.0.0.1".to_owned()];
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(refuse_url(&allow, &u("http://127.0.0.1:9/x")).is_none());
        assert!(refuse_url(&[], &u("http://127.0.0.1:9/x")).is_some());
        assert!(refuse_url(&[], &u("https://127.0.0.1:9/x")).is_some());
        assert!(refuse_url(&[], &u("https://user:pw@example.com/x")).is_some());
        assert!(refuse_url(&[], &u("ftp://example.com/x")).is_some());
        assert!(refuse_url(&[], &u("https://example.com/x")).is_none());
    }

    #[test]
    fn signatures_follow_the_specification() {
        // The specification's example: secret, id, timestamp, body and the signature it gives.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "a", 1, "b"), None);
        let s = new_secret();
        assert!(s.starts_with("whsec_") && B64.decode(&s[6..]).unwrap().len() == 32);
    }
}
