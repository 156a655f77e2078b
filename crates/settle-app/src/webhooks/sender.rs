//! The sender: claims due deliveries, sends each within its endpoint's share, records the attempt, retries on the
//! schedule, and disables an endpoint failing for too long.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::Rng;
use settle_store::{StoreError, webhooks as store};

use super::{
    address_guard::{GuardedResolver, refuse_url},
    signing::signatures,
    topics::delivery_event_id,
};
use crate::{Context, time::rfc3339, worker::Outcome};

/// The topic recorded when Settle disables a failing endpoint.
pub const ENDPOINT_DISABLED: &str = "webhook_endpoint.disabled";
/// How long a send's claim holds: twice the send's timeout and this, time enough to record its answer; then
/// another worker may send the delivery again.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);
/// Bytes of an answer kept with its attempt.
const EXCERPT: usize = 200;

/// Every instance's webhook sender (no lease: deliveries are claimed one by one).
#[derive(Clone)]
pub struct Sender {
    ctx: Context,
    http: reqwest::Client,
    state: Arc<SenderState>,
}

pub(super) struct SenderState {
    running: Mutex<Running>,
    permits: Arc<tokio::sync::Semaphore>,
}

/// Sends running on this instance.
#[derive(Default)]
struct Running {
    /// Per endpoint: how many, and how many it may have (1 while it is failing: its circuit).
    endpoints: HashMap<String, (usize, usize)>,
    /// Per merchant.
    merchants: HashMap<String, usize>,
}

/// A send's place on this instance (its endpoint's and its merchant's), given back when dropped.
pub(super) struct Slot {
    state: Arc<SenderState>,
    endpoint: String,
    merchant: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut r = self.state.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, _)) = r.endpoints.get_mut(&self.endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                r.endpoints.remove(&self.endpoint);
            }
        }
        if let Some(n) = r.merchants.get_mut(&self.merchant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                r.merchants.remove(&self.merchant);
            }
        }
    }
}

/// Due deliveries taken in turn from each merchant (the oldest due of each first), so that one merchant's backlog
/// never comes before every other merchant's.
fn round_robin(due: Vec<store::DeliveryRow>) -> Vec<store::DeliveryRow> {
    let n = due.len();
    let mut queues: Vec<std::collections::VecDeque<store::DeliveryRow>> = Vec::new();
    for d in due {
        match queues.iter_mut().find(|q| q.front().is_some_and(|f| f.merchant_id == d.merchant_id)) {
            Some(q) => q.push_back(d),
            None => queues.push(std::collections::VecDeque::from([d])),
        }
    }
    let mut out = Vec::with_capacity(n);
    while !queues.is_empty() {
        queues.retain_mut(|q| {
            out.extend(q.pop_front());
            !q.is_empty()
        });
    }
    out
}

/// What an attempt got.
pub(super) struct Answer {
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
        let state = Arc::new(SenderState { running: Mutex::default(), permits: Arc::new(tokio::sync::Semaphore::new(s.in_flight.max(1))) });
        Ok(Self { ctx, http, state })
    }

    /// A place for one send to `ep`: none when its endpoint (a failing one: its circuit lets one send through at a
    /// time) or its merchant already sends its most at once on this instance.
    fn take_slot(&self, ep: &store::EndpointRow) -> Option<Slot> {
        let s = &self.ctx.settings.webhooks;
        let cap = if ep.failing_since.is_some() { 1 } else { s.per_endpoint.max(1) };
        let mut r = self.state.running.lock().unwrap_or_else(|p| p.into_inner());
        if r.merchants.get(&ep.merchant_id).copied().unwrap_or(0) >= s.per_merchant.max(1) {
            return None;
        }
        let e = r.endpoints.entry(ep.endpoint_id.clone()).or_insert((0, cap));
        if e.0 >= cap {
            return None;
        }
        *e = (e.0 + 1, cap);
        *r.merchants.entry(ep.merchant_id.clone()).or_insert(0) += 1;
        Some(Slot { state: self.state.clone(), endpoint: ep.endpoint_id.clone(), merchant: ep.merchant_id.clone() })
    }

    /// The endpoints and the merchants sending their most at once on this instance (their due deliveries are not read).
    fn busy(&self) -> (Vec<String>, Vec<String>) {
        let per_merchant = self.ctx.settings.webhooks.per_merchant.max(1);
        let r = self.state.running.lock().unwrap_or_else(|p| p.into_inner());
        let endpoints = r.endpoints.iter().filter(|(_, (n, cap))| n >= cap).map(|(e, _)| e.clone()).collect();
        let merchants = r.merchants.iter().filter(|(_, n)| **n >= per_merchant).map(|(m, _)| m.clone()).collect();
        (endpoints, merchants)
    }

    /// Claims the due deliveries this instance has room for and starts sending each in a task of its own.
    pub async fn run_once(&self) -> Result<Outcome, StoreError> {
        let room = self.state.permits.available_permits();
        if room == 0 {
            return Ok(Outcome::Idle);
        }
        let now = settle_store::now_ms();
        let (busy, busy_merchants) = self.busy();
        let due = round_robin(store::due(&self.ctx.db, now, &busy, &busy_merchants, room.min(100) as u64).await?);
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
            let Some(slot) = self.take_slot(&ep) else { continue };
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
        // A failing endpoint's send waits less: a receiver that keeps timing out holds a place for seconds, not for the
        // whole timeout.
        let s = &self.ctx.settings.webhooks;
        let timeout = if ep.failing_since.is_some() { s.failing_timeout.min(s.timeout) } else { s.timeout };
        let sent = self
            .http
            .post(url)
            .timeout(timeout)
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
pub(super) fn describe(e: &reqwest::Error) -> String {
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

crate::worker::impl_worker!(Sender, "webhook-sender", true, settle_store::StoreError);
