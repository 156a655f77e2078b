//! The PG simulator: a real HTTP server that behaves like a card gateway without idempotency.
//!
//! - `POST /api/v1/payments` (header `X-USER-ID` required) waits a random latency, fails a share of requests
//!   with 500 before recording anything, otherwise records a PENDING transaction and answers its key. A
//!   second POST for an order makes a second transaction, as a real gateway would.
//! - Processing ends after a random delay as SUCCESS or FAILED (limit exceeded, invalid card); the result is
//!   POSTed to the callback URL, unless dropped; some callbacks are sent twice.
//! - `GET /api/v1/payments/{transactionKey}`, `GET /api/v1/payments?orderId=`: scoped by `X-USER-ID` (another
//!   user's transaction is not found), as seed 004's gateway is.
//! - `POST /api/v1/payments/{transactionKey}/cancel`: voids a PENDING or SUCCESS transaction (CANCELLED);
//!   repeating it is a success; a FAILED one answers 409.
//! - `POST /api/v1/payments/{transactionKey}/refunds {amount, refundRequestId, callbackUrl}`: refunds part or all
//!   of a SUCCESS transaction (422 when it is not one, or when the refunds would exceed its amount), answering a
//!   refund key; the refund is processed later (SUCCEEDED, or FAILED for a share `refund_failure_rate`) and its result
//!   POSTed to the callback URL. The transaction becomes REFUNDED once refunded in full. Charges' fault knobs apply
//!   to refund requests too (failure rate, hang, recorded-but-500, duplicate recording, lost and repeated callbacks,
//!   lookup lag). Like the charges, it has no idempotency: a request sent twice is two refunds.
//!   `GET /api/v1/payments/{transactionKey}/refunds` lists a transaction's refunds.
//! - Served over plain HTTP, or HTTPS with a certificate from a CA generated at start ([`crate::tls::LocalCa`]).
//! - Fault knobs ([`Knobs`]) are set at start and through `GET`/`PUT /admin/knobs`; `GET /admin/stats`
//!   counts requests; `GET /admin/transactions` and `GET /admin/refunds` list every transaction and refund (for
//!   tests).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::wire::{
    Callback, ChargeAccepted, ChargeRequest, ErrorBody, GatewayRefund, GatewayStatus, OrderTransactions, RefundAccepted, RefundRequest, Transaction,
    TransactionRefunds,
};

/// The simulator's behaviour. Rates are 0.0 ..= 1.0; ranges are milliseconds `[min, max]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Knobs {
    /// Share of charge requests answered 500 before anything is recorded.
    pub request_failure_rate: f64,
    /// Latency of every request.
    pub latency_ms: [u64; 2],
    /// Time from an accepted charge to its result.
    pub processing_ms: [u64; 2],
    /// Share of processed transactions that succeed; the rest fail, split between limit exceeded and invalid card.
    pub success_rate: f64,
    /// Share of charge requests that never get an answer (the client times out); nothing is recorded.
    pub hang_rate: f64,
    /// Share of charge requests recorded (the card is charged) but answered 500: the response is lost.
    pub fail_after_record_rate: f64,
    pub callback_drop_rate: f64,
    pub callback_duplicate_rate: f64,
    pub callback_delay_ms: [u64; 2],
    /// Amounts above this are declined at once with 400 (limit exceeded).
    pub decline_above: Option<u64>,
    /// Share of charges the gateway records twice (a second transaction for the order) while answering one key.
    pub duplicate_record_rate: f64,
    /// Share of transactions reported with status `REVIEW` (one Settle does not know) while they are processed.
    pub unknown_status_rate: f64,
    /// Reads report every amount one unit higher than charged (a gateway that disagrees with Settle).
    pub misreport_amount: bool,
    /// A transaction shows in order lookups only this long after it was recorded.
    pub lookup_lag_ms: u64,
    /// A hung charge request (see `hang_rate`) is recorded after all, this long after it arrived.
    pub hang_record_after_ms: Option<u64>,
    /// Every charge is answered with this status at once, recording nothing (401, 403, 408, 429, ...).
    pub force_status: Option<u16>,
    /// Share of refunds the gateway processes and then refuses (FAILED).
    pub refund_failure_rate: f64,
    /// Seed of the random choices (None: from the OS).
    pub seed: Option<u64>,
}

impl Default for Knobs {
    /// Seed 004's gateway: about 40 % failures, 100-500 ms latency, results 1-5 s later.
    fn default() -> Self {
        Self {
            request_failure_rate: 0.4,
            latency_ms: [100, 500],
            processing_ms: [1000, 5000],
            success_rate: 0.7,
            hang_rate: 0.0,
            fail_after_record_rate: 0.0,
            callback_drop_rate: 0.0,
            callback_duplicate_rate: 0.0,
            callback_delay_ms: [0, 0],
            decline_above: None,
            duplicate_record_rate: 0.0,
            unknown_status_rate: 0.0,
            misreport_amount: false,
            lookup_lag_ms: 0,
            hang_record_after_ms: None,
            force_status: None,
            refund_failure_rate: 0.0,
            seed: None,
        }
    }
}

impl Knobs {
    /// A gateway that answers at once and never fails (tests set what they need on top).
    pub fn calm() -> Self {
        Self { request_failure_rate: 0.0, latency_ms: [0, 0], processing_ms: [50, 50], success_rate: 1.0, ..Self::default() }
    }
}

/// Request counts, for tests ("no traffic reached the gateway").
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub charge_requests: u64,
    pub get_requests: u64,
    pub void_requests: u64,
    pub refund_requests: u64,
    pub callbacks_sent: u64,
}

/// A recorded transaction and what the simulator keeps beside it.
struct Record {
    tx: Transaction,
    callback_url: String,
    user_id: String,
    recorded: std::time::Instant,
}

/// A recorded refund and where its result goes.
struct RefundRecord {
    refund: GatewayRefund,
    callback_url: String,
    recorded: std::time::Instant,
}

struct Sim {
    knobs: Mutex<Knobs>,
    /// Refunds by transaction key, in the order they were recorded.
    refunds: Mutex<HashMap<String, Vec<RefundRecord>>>,
    refund_requests: AtomicU64,
    rng: Mutex<StdRng>,
    txs: Mutex<HashMap<String, Record>>,
    by_order: Mutex<HashMap<String, Vec<String>>>,
    charges: AtomicU64,
    gets: AtomicU64,
    voids: AtomicU64,
    callbacks: AtomicU64,
    http: reqwest::Client,
}

type Shared = Arc<Sim>;

impl Sim {
    fn roll(&self) -> f64 {
        self.rng.lock().unwrap_or_else(|p| p.into_inner()).random::<f64>()
    }

    fn between(&self, [lo, hi]: [u64; 2]) -> Duration {
        let ms = if hi > lo { self.rng.lock().unwrap_or_else(|p| p.into_inner()).random_range(lo..=hi) } else { lo };
        Duration::from_millis(ms)
    }

    fn knobs(&self) -> Knobs {
        self.knobs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    scheme: &'static str,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    pub fn url(&self) -> String {
        match self.scheme {
            "https" => format!("https://{}", self.addr),
            _ => format!("http://{}", self.addr),
        }
    }

    /// Stops serving (accepted connections are closed).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

/// Starts the simulator on `listener` (plain HTTP).
pub fn start(listener: TcpListener, knobs: Knobs) -> SimHandle {
    let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    serve(listener, addr, "http", knobs)
}

/// Starts the simulator on `listener` over HTTPS with `ca`'s server certificate.
pub fn start_tls(listener: TcpListener, knobs: Knobs, ca: &crate::tls::LocalCa) -> SimHandle {
    let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    serve(ca.listener(listener), addr, "https", knobs)
}

fn serve<L>(listener: L, addr: SocketAddr, scheme: &'static str, knobs: Knobs) -> SimHandle
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    crate::tls::ensure_crypto_provider();
    let rng = match knobs.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    };
    let sim = Arc::new(Sim {
        knobs: Mutex::new(knobs),
        refunds: Mutex::new(HashMap::new()),
        refund_requests: AtomicU64::new(0),
        rng: Mutex::new(rng),
        txs: Mutex::new(HashMap::new()),
        by_order: Mutex::new(HashMap::new()),
        charges: AtomicU64::new(0),
        gets: AtomicU64::new(0),
        voids: AtomicU64::new(0),
        callbacks: AtomicU64::new(0),
        http: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default(),
    });
    let app = Router::new()
        .route("/api/v1/payments", get(find_by_order).post(charge))
        .route("/api/v1/payments/{key}", get(get_tx))
        .route("/api/v1/payments/{key}/cancel", axum::routing::post(cancel))
        .route("/api/v1/payments/{key}/refunds", get(refunds_of).post(refund))
        .route("/admin/refunds", get(all_refunds))
        .route("/admin/knobs", get(get_knobs).put(put_knobs))
        .route("/admin/stats", get(stats))
        .route("/admin/transactions", get(all_transactions))
        .with_state(sim);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    SimHandle { addr, scheme, stop: Some(tx), task: Some(task) }
}

fn gw_error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(ErrorBody { error: error.into(), message: message.into() })).into_response()
}

fn user_of(headers: &HeaderMap) -> Option<String> {
    headers.get("x-user-id").and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn charge(State(sim): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    sim.charges.fetch_add(1, Ordering::Relaxed);
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.latency_ms)).await;
    if let Some(code) = k.force_status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return gw_error(status, "FORCED", "forced answer");
    }
    let Some(user_id) = user_of(&headers) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "X-USER-ID header is required");
    };
    let Ok(req) = serde_json::from_slice::<ChargeRequest>(&body) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "invalid body");
    };
    if !["SAMSUNG", "KB", "HYUNDAI"].contains(&req.card_type.as_str()) || req.card_no.len() != 19 || req.amount == 0 {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "invalid card or amount");
    }
    if k.decline_above.is_some_and(|limit| req.amount > limit) {
        return gw_error(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "limit exceeded");
    }
    let recorder = {
        let sim = sim.clone();
        move || record(&sim, &req, &user_id)
    };
    let key = match with_faults(&sim, &k, recorder).await {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    (StatusCode::OK, Json(ChargeAccepted { transaction_key: key, status: "PENDING".into() })).into_response()
}

/// The faults a charge or a refund request meets, in order: it hangs (recorded after `hang_record_after_ms` when
/// set), fails before anything is recorded, is recorded (twice, sometimes) by `record`, or fails after recording.
/// The key recorded, or the answer to send instead.
async fn with_faults(sim: &Shared, k: &Knobs, record: impl Fn() -> String + Clone + Send + 'static) -> Result<String, Response> {
    if sim.roll() < k.hang_rate {
        if let Some(after) = k.hang_record_after_ms {
            let record = record.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(after)).await;
                record();
            });
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if sim.roll() < k.request_failure_rate {
        return Err(gw_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "temporary failure"));
    }
    let key = record();
    if sim.roll() < k.duplicate_record_rate {
        record();
    }
    if sim.roll() < k.fail_after_record_rate {
        return Err(gw_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "temporary failure"));
    }
    Ok(key)
}

/// Records a transaction for `req` and starts processing it; returns its key.
fn record(sim: &Shared, req: &ChargeRequest, user_id: &str) -> String {
    let key = format!("TX-{}", uuid::Uuid::now_v7().simple());
    let status = if sim.roll() < sim.knobs().unknown_status_rate { GatewayStatus::Unknown("REVIEW".into()) } else { GatewayStatus::Pending };
    let tx = Transaction {
        transaction_key: key.clone(),
        order_id: req.order_id.clone(),
        card_type: req.card_type.clone(),
        card_last4: req.card_no[req.card_no.len().saturating_sub(4)..].to_owned(),
        amount: req.amount,
        status,
        reason: None,
    };
    let rec = Record { tx, callback_url: req.callback_url.clone(), user_id: user_id.to_owned(), recorded: std::time::Instant::now() };
    sim.txs.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone(), rec);
    sim.by_order.lock().unwrap_or_else(|p| p.into_inner()).entry(req.order_id.clone()).or_default().push(key.clone());
    tokio::spawn(process(sim.clone(), key.clone()));
    key
}

/// Finishes a transaction after the processing delay and sends its callback (unless it was voided).
async fn process(sim: Shared, key: String) {
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.processing_ms)).await;
    let roll = sim.roll();
    let (status, reason) = if roll < k.success_rate {
        (GatewayStatus::Success, None)
    } else if roll < k.success_rate + (1.0 - k.success_rate) / 2.0 {
        (GatewayStatus::Failed, Some("limit exceeded"))
    } else {
        (GatewayStatus::Failed, Some("invalid card"))
    };
    let (tx, url) = {
        let mut txs = sim.txs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(rec) = txs.get_mut(&key) else { return };
        if rec.tx.status == GatewayStatus::Unknown("CANCELLED".into()) {
            return;
        }
        rec.tx.status = status;
        rec.tx.reason = reason.map(Into::into);
        (rec.tx.clone(), rec.callback_url.clone())
    };
    if sim.roll() < k.callback_drop_rate {
        return;
    }
    let times = if sim.roll() < k.callback_duplicate_rate { 2 } else { 1 };
    let cb = Callback {
        transaction_key: tx.transaction_key,
        order_id: tx.order_id,
        status: tx.status.as_str().to_owned(),
        reason: tx.reason,
        refund_key: None,
    };
    for _ in 0..times {
        tokio::time::sleep(sim.between(k.callback_delay_ms)).await;
        sim.callbacks.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = sim.http.post(&url).json(&cb).send().await {
            tracing::debug!(error = %e, "pg-sim: callback not delivered");
        }
    }
}

/// A transaction as a read reports it.
fn reported(tx: &Transaction, k: &Knobs) -> Transaction {
    let mut t = tx.clone();
    if k.misreport_amount {
        t.amount += 1;
    }
    t
}

async fn get_tx(State(sim): State<Shared>, headers: HeaderMap, Path(key): Path<String>) -> Response {
    sim.gets.fetch_add(1, Ordering::Relaxed);
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.latency_ms)).await;
    let Some(user_id) = user_of(&headers) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "X-USER-ID header is required");
    };
    match sim.txs.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        Some(rec) if rec.user_id == user_id => Json(reported(&rec.tx, &k)).into_response(),
        _ => gw_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such transaction"),
    }
}

/// Voids a transaction: PENDING or SUCCESS become CANCELLED; CANCELLED stays so; FAILED answers 409.
async fn cancel(State(sim): State<Shared>, headers: HeaderMap, Path(key): Path<String>) -> Response {
    sim.voids.fetch_add(1, Ordering::Relaxed);
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.latency_ms)).await;
    let Some(user_id) = user_of(&headers) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "X-USER-ID header is required");
    };
    let mut txs = sim.txs.lock().unwrap_or_else(|p| p.into_inner());
    match txs.get_mut(&key) {
        Some(rec) if rec.user_id == user_id => match &rec.tx.status {
            GatewayStatus::Failed | GatewayStatus::Refunded => {
                gw_error(StatusCode::CONFLICT, "NOT_CANCELLABLE", "a failed or refunded transaction cannot be cancelled")
            }
            _ => {
                rec.tx.status = GatewayStatus::Unknown("CANCELLED".into());
                rec.tx.reason = Some("voided".into());
                Json(reported(&rec.tx, &k)).into_response()
            }
        },
        _ => gw_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such transaction"),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderQuery {
    order_id: Option<String>,
}

async fn find_by_order(State(sim): State<Shared>, headers: HeaderMap, Query(q): Query<OrderQuery>) -> Response {
    sim.gets.fetch_add(1, Ordering::Relaxed);
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.latency_ms)).await;
    let Some(user_id) = user_of(&headers) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "X-USER-ID header is required");
    };
    let Some(order_id) = q.order_id else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "orderId is required");
    };
    let keys = sim.by_order.lock().unwrap_or_else(|p| p.into_inner()).get(&order_id).cloned().unwrap_or_default();
    let txs = sim.txs.lock().unwrap_or_else(|p| p.into_inner());
    let lag = Duration::from_millis(k.lookup_lag_ms);
    let transactions = keys
        .iter()
        .filter_map(|key| txs.get(key))
        .filter(|rec| rec.user_id == user_id && rec.recorded.elapsed() >= lag)
        .map(|rec| reported(&rec.tx, &k))
        .collect();
    Json(OrderTransactions { order_id, transactions }).into_response()
}

async fn get_knobs(State(sim): State<Shared>) -> Json<Knobs> {
    Json(sim.knobs())
}

async fn put_knobs(State(sim): State<Shared>, Json(k): Json<Knobs>) -> Json<Knobs> {
    if let Some(seed) = k.seed {
        *sim.rng.lock().unwrap_or_else(|p| p.into_inner()) = StdRng::seed_from_u64(seed);
    }
    *sim.knobs.lock().unwrap_or_else(|p| p.into_inner()) = k.clone();
    Json(k)
}

async fn stats(State(sim): State<Shared>) -> Json<Stats> {
    Json(Stats {
        charge_requests: sim.charges.load(Ordering::Relaxed),
        get_requests: sim.gets.load(Ordering::Relaxed),
        void_requests: sim.voids.load(Ordering::Relaxed),
        refund_requests: sim.refund_requests.load(Ordering::Relaxed),
        callbacks_sent: sim.callbacks.load(Ordering::Relaxed),
    })
}

async fn all_transactions(State(sim): State<Shared>) -> Json<Vec<Transaction>> {
    Json(sim.txs.lock().unwrap_or_else(|p| p.into_inner()).values().map(|r| r.tx.clone()).collect())
}

/// Refunds part or all of a SUCCESS transaction ([module docs](self)).
async fn refund(State(sim): State<Shared>, headers: HeaderMap, Path(key): Path<String>, body: axum::body::Bytes) -> Response {
    sim.refund_requests.fetch_add(1, Ordering::Relaxed);
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.latency_ms)).await;
    if let Some(code) = k.force_status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return gw_error(status, "FORCED", "forced answer");
    }
    let Some(user_id) = user_of(&headers) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "X-USER-ID header is required");
    };
    let Ok(req) = serde_json::from_slice::<RefundRequest>(&body) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "invalid body");
    };
    if req.amount == 0 || req.refund_request_id.is_empty() {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "invalid amount or refundRequestId");
    }
    if let Some(refused) = refusal(&sim, &key, &user_id, req.amount) {
        return refused;
    }
    let recorder = {
        let sim = sim.clone();
        move || record_refund(&sim, &key, &req)
    };
    let refund_key = match with_faults(&sim, &k, recorder).await {
        Ok(key) => key,
        Err(answer) => return answer,
    };
    (StatusCode::OK, Json(RefundAccepted { refund_key, status: "PENDING".into() })).into_response()
}

/// Why a refund of `amount` on `key` is refused, if it is: an unknown transaction (404), one that is not SUCCESS
/// (422), or refunds that would exceed its amount (422).
fn refusal(sim: &Shared, key: &str, user_id: &str, amount: u64) -> Option<Response> {
    let txs = sim.txs.lock().unwrap_or_else(|p| p.into_inner());
    let rec = match txs.get(key) {
        Some(rec) if rec.user_id == user_id => rec,
        _ => return Some(gw_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such transaction")),
    };
    if rec.tx.status != GatewayStatus::Success {
        return Some(gw_error(StatusCode::UNPROCESSABLE_ENTITY, "NOT_REFUNDABLE", "only a successful transaction can be refunded"));
    }
    let refunds = sim.refunds.lock().unwrap_or_else(|p| p.into_inner());
    let held: u64 = refunds.get(key).map(|rs| rs.iter().filter(|r| r.refund.status != "FAILED").map(|r| r.refund.amount).sum()).unwrap_or(0);
    if held.saturating_add(amount) > rec.tx.amount {
        return Some(gw_error(StatusCode::UNPROCESSABLE_ENTITY, "REFUND_EXCEEDS_AMOUNT", "the refunds would exceed the transaction's amount"));
    }
    None
}

/// Records a PENDING refund of `key` and starts processing it; returns its key.
fn record_refund(sim: &Shared, key: &str, req: &RefundRequest) -> String {
    let refund_key = format!("RF-{}", uuid::Uuid::now_v7().simple());
    let refund = GatewayRefund {
        refund_key: refund_key.clone(),
        refund_request_id: req.refund_request_id.clone(),
        transaction_key: key.to_owned(),
        amount: req.amount,
        status: "PENDING".into(),
        reason: None,
    };
    let rec = RefundRecord { refund, callback_url: req.callback_url.clone(), recorded: std::time::Instant::now() };
    sim.refunds.lock().unwrap_or_else(|p| p.into_inner()).entry(key.to_owned()).or_default().push(rec);
    tokio::spawn(process_refund(sim.clone(), key.to_owned(), refund_key.clone()));
    refund_key
}

/// Finishes a refund after the processing delay, marks the transaction REFUNDED once refunded in full, and sends
/// the callback.
async fn process_refund(sim: Shared, key: String, refund_key: String) {
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.processing_ms)).await;
    let failed = sim.roll() < k.refund_failure_rate;
    let (refund, url, order_id) = {
        let mut txs = sim.txs.lock().unwrap_or_else(|p| p.into_inner());
        let mut refunds = sim.refunds.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = refunds.get_mut(&key) else { return };
        let Some(rec) = list.iter_mut().find(|r| r.refund.refund_key == refund_key) else { return };
        rec.refund.status = if failed { "FAILED" } else { "SUCCEEDED" }.into();
        rec.refund.reason = failed.then(|| "refund refused by the issuer".to_owned());
        let (refund, url) = (rec.refund.clone(), rec.callback_url.clone());
        let refunded: u64 = list.iter().filter(|r| r.refund.status == "SUCCEEDED").map(|r| r.refund.amount).sum();
        let Some(tx) = txs.get_mut(&key) else { return };
        if refunded >= tx.tx.amount {
            tx.tx.status = GatewayStatus::Refunded;
        }
        (refund, url, tx.tx.order_id.clone())
    };
    if url.is_empty() || sim.roll() < k.callback_drop_rate {
        return;
    }
    let times = if sim.roll() < k.callback_duplicate_rate { 2 } else { 1 };
    let cb = Callback {
        transaction_key: key,
        order_id,
        status: refund.status.clone(),
        reason: refund.reason.clone(),
        refund_key: Some(refund.refund_key),
    };
    for _ in 0..times {
        tokio::time::sleep(sim.between(k.callback_delay_ms)).await;
        sim.callbacks.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = sim.http.post(&url).json(&cb).send().await {
            tracing::debug!(error = %e, "pg-sim: refund callback not delivered");
        }
    }
}

async fn refunds_of(State(sim): State<Shared>, headers: HeaderMap, Path(key): Path<String>) -> Response {
    sim.gets.fetch_add(1, Ordering::Relaxed);
    let k = sim.knobs();
    tokio::time::sleep(sim.between(k.latency_ms)).await;
    let Some(user_id) = user_of(&headers) else {
        return gw_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "X-USER-ID header is required");
    };
    if sim.txs.lock().unwrap_or_else(|p| p.into_inner()).get(&key).is_none_or(|rec| rec.user_id != user_id) {
        return gw_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such transaction");
    }
    let lag = Duration::from_millis(k.lookup_lag_ms);
    let refunds = sim
        .refunds
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .map(|rs| rs.iter().filter(|r| r.recorded.elapsed() >= lag).map(|r| r.refund.clone()).collect())
        .unwrap_or_default();
    Json(TransactionRefunds { transaction_key: key, refunds }).into_response()
}

async fn all_refunds(State(sim): State<Shared>) -> Json<Vec<GatewayRefund>> {
    Json(sim.refunds.lock().unwrap_or_else(|p| p.into_inner()).values().flat_map(|rs| rs.iter().map(|r| r.refund.clone())).collect())
}
