//! The gateway client. Every call passes the bulkhead (bounded concurrent calls) and the circuit breaker;
//! each has a connect and a request timeout, and carries `X-USER-ID` (the gateway scopes transactions by user).
//!
//! Which answers mean what ([`classify`]), written down once:
//! - 2xx: the gateway did it.
//! - 400, 402, 422 to a charge: a **decline**, a refusal about the card or the amount. Nothing was charged.
//! - 401, 403 (and 404, 405, 415 to a charge): Settle is **misconfigured** (wrong credentials or URL). Nothing
//!   was charged; the payment stays PENDING and the breaker counts a failure.
//! - 408, 409, 425, 429, 5xx, a timeout, a reset, an unreadable answer: the outcome is **unknown**. A read is
//!   retried; a charge is retried only when the gateway certainly did not record it.
//!
//! A charge is retried only when nothing can be charged twice: the connection was refused (nothing sent), or,
//! under [`RetryAfter5xx::Lookup`], the gateway answered an unknown-outcome status and two lookups by order id,
//! `lookup_settle` apart, both find no transaction. That policy assumes the gateway makes a recorded transaction
//! visible to order lookups within `lookup_settle`; [`RetryAfter5xx::Never`] makes no such assumption and leaves
//! every such charge to reconciliation.

use std::{path::PathBuf, sync::Arc, time::Duration};

use rand::Rng;
use tokio::sync::Semaphore;

use crate::{
    breaker::{BreakerConfig, CircuitBreaker, CircuitState, Permit},
    wire::{
        ChargeAccepted, ChargeRequest, ErrorBody, GatewayRefund, OrderTransactions, RefundAccepted, RefundRequest, Transaction, TransactionRefunds,
    },
};

/// What to do after a charge got an unknown-outcome answer (5xx, 408, 429).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter5xx {
    /// Ask by order id twice, `lookup_settle` apart; retry only when both find nothing.
    Lookup,
    /// Never retry: the outcome is unknown and reconciliation settles it.
    Never,
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub base_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Extra attempts of a read.
    pub read_retries: u32,
    /// Extra attempts of a charge (only when certainly not recorded).
    pub charge_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub breaker: BreakerConfig,
    /// Concurrent gateway calls allowed (Resilience4j's bulkhead default is 25).
    pub max_concurrent_calls: usize,
    /// How long a call waits for a bulkhead slot before being refused.
    pub max_wait: Duration,
    /// The retry policy after an unknown-outcome answer to a charge.
    pub retry_after_5xx: RetryAfter5xx,
    /// Time between the two order lookups of [`RetryAfter5xx::Lookup`].
    pub lookup_settle: Duration,
    /// A PEM file of extra trusted roots for an `https://` gateway (the system roots are always trusted).
    pub ca_file: Option<PathBuf>,
}

impl GatewayConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(3),
            read_retries: 3,
            charge_retries: 2,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            breaker: BreakerConfig::default(),
            max_concurrent_calls: 25,
            max_wait: Duration::from_millis(500),
            retry_after_5xx: RetryAfter5xx::Lookup,
            lookup_settle: Duration::from_millis(500),
            ca_file: None,
        }
    }

    /// The longest one charge can take, waits and retries included: the reconciler must not give up on a
    /// payment earlier than this.
    pub fn worst_case_charge(&self) -> Duration {
        let attempts = self.charge_retries + 1;
        let per_attempt = self.connect_timeout + self.request_timeout;
        // After an unknown-outcome answer, two single-attempt lookups `lookup_settle` apart.
        let (lookups, settle) = match self.retry_after_5xx {
            RetryAfter5xx::Lookup => (2 * attempts, self.lookup_settle * attempts),
            RetryAfter5xx::Never => (0, Duration::ZERO),
        };
        self.max_wait + per_attempt * (attempts + lookups) + self.backoff_max * self.charge_retries + settle
    }
}

/// Stable reason codes of charges that did not end with the gateway's own answer. They go into payment events
/// and responses; the detail (which may name the gateway's internal address) goes to the logs only.
pub mod reason {
    /// The gateway could not be reached; nothing was sent or nothing was recorded.
    pub const UNREACHABLE: &str = "gateway_unreachable";
    /// The gateway refused Settle's credentials or the URL is wrong.
    pub const MISCONFIGURED: &str = "gateway_misconfigured";
    /// No answer in time.
    pub const TIMEOUT: &str = "gateway_timeout";
    /// An error answer whose effect could not be checked.
    pub const ERROR: &str = "gateway_error";
    /// An answer Settle could not read.
    pub const UNREADABLE: &str = "gateway_unreadable_answer";
    /// The circuit opened between attempts.
    pub const CIRCUIT_OPEN: &str = "circuit_open";
}

/// How a charge ended, as far as the gateway told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The gateway recorded the charge; its result comes later (callback or reconciliation).
    Accepted { transaction_key: String },
    /// The gateway refused it (400, 402, 422): nothing was charged. `code` and `message` are the gateway's.
    Declined { code: String, message: String },
    /// Nothing was recorded (every attempt certainly failed before the gateway recorded it).
    NotRecorded { code: &'static str, detail: String },
    /// The gateway refused Settle itself (401, 403, or a wrong URL): nothing was recorded.
    Misconfigured { detail: String },
    /// We cannot know whether it was recorded (timeout, reset, or an error answer we could not check).
    Unknown { code: &'static str, detail: String },
}

/// How a refund request ended, as far as the gateway told us (the same discipline as a charge's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The gateway recorded the refund (`status` as it answered: PENDING, or already SUCCEEDED).
    Accepted { refund_key: String, status: String },
    /// The gateway refused it (400, 402, 404, 422): nothing was refunded. `code` and `message` are the gateway's.
    Refused { code: String, message: String },
    /// Nothing was recorded (every attempt certainly failed before the gateway recorded it).
    NotRecorded { code: &'static str, detail: String },
    /// The gateway refused Settle itself (401, 403): nothing was recorded.
    Misconfigured { detail: String },
    /// We cannot know whether it was recorded: the refund is looked up by its request id later.
    Unknown { code: &'static str, detail: String },
}

/// Why a call was not made or did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("the gateway circuit is open")]
    CircuitOpen,
    #[error("too many concurrent gateway calls")]
    BulkheadFull,
    #[error("the gateway refused Settle's credentials or URL: {0}")]
    Misconfigured(String),
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
}

/// What a void ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoidOutcome {
    /// The transaction is voided (now or before).
    Voided,
    /// The gateway will not void it (it already failed, say): nothing is held.
    NotVoidable,
    /// The gateway does not know the transaction.
    NotFound,
}

/// What an answer's status means ([module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerClass {
    Ok,
    Decline,
    Misconfigured,
    NotFound,
    Unknown,
}

/// Classifies an answer to a charge (`charge`) or to a read or void.
pub fn classify(status: u16, charge: bool) -> AnswerClass {
    match status {
        200..=299 => AnswerClass::Ok,
        400 | 402 | 422 if charge => AnswerClass::Decline,
        401 | 403 => AnswerClass::Misconfigured,
        404 | 405 | 415 if charge => AnswerClass::Misconfigured,
        404 => AnswerClass::NotFound,
        _ => AnswerClass::Unknown,
    }
}

/// Which kind of call an exchange is: how its answer is classified and which breaker permit it takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    Charge,
    /// A refund: classified as a charge, except that a 404 (no such transaction) is a refusal, not Settle's
    /// misconfiguration.
    Refund,
    /// Any other call (a read, a void).
    Plain,
    /// A read anyone can cause (a callback): see [`CircuitBreaker::try_acquire_side`].
    Side,
}

pub struct GatewayClient {
    http: reqwest::Client,
    cfg: GatewayConfig,
    breaker: Arc<CircuitBreaker>,
    bulkhead: Arc<Semaphore>,
}

/// One HTTP exchange, classified.
enum Exchange {
    Answer(reqwest::StatusCode, Vec<u8>),
    /// The connection was never made: nothing was sent.
    NotConnected(String),
    /// Sent, but no usable answer.
    Lost {
        timeout: bool,
        detail: String,
    },
}

/// A held place in the bulkhead and, taken in the same step, the breaker's permit for the first call.
pub struct Slot {
    _place: tokio::sync::OwnedSemaphorePermit,
    permit: Option<Permit>,
}

impl Drop for Slot {
    /// A permit never used for a call is given back: nothing was sent, so nothing counts.
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            p.release();
        }
    }
}

impl GatewayClient {
    /// Builds the client; a bad CA file or a TLS setup failure is an error, never a client without timeouts.
    pub fn new(cfg: GatewayConfig) -> Result<Self, String> {
        crate::tls::ensure_crypto_provider();
        let mut b = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(cfg.max_concurrent_calls);
        if let Some(path) = &cfg.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: holds no certificate", path.display()));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b.build().map_err(|e| format!("cannot build the gateway client: {e}"))?;
        Ok(Self { breaker: CircuitBreaker::new(cfg.breaker.clone()), bulkhead: Arc::new(Semaphore::new(cfg.max_concurrent_calls.max(1))), http, cfg })
    }

    pub fn base_url(&self) -> &str {
        &self.cfg.base_url
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.cfg
    }

    pub fn circuit_state(&self) -> CircuitState {
        let s = self.breaker.state();
        metrics::gauge!("settle_pg_circuit_state").set(s.gauge());
        s
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.cfg.backoff_base.saturating_mul(1 << attempt.min(16)).min(self.cfg.backoff_max);
        Duration::from_millis(rand::rng().random_range(0..=cap.as_millis() as u64))
    }

    async fn place(&self, op: &'static str) -> Result<tokio::sync::OwnedSemaphorePermit, GatewayError> {
        match tokio::time::timeout(self.cfg.max_wait, self.bulkhead.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => {
                metrics::counter!("settle_pg_calls_total", "op" => op, "outcome" => "bulkhead_full").increment(1);
                Err(GatewayError::BulkheadFull)
            }
        }
    }

    fn permit(&self, op: &'static str, side: bool) -> Result<Permit, GatewayError> {
        let permit = if side { self.breaker.try_acquire_side() } else { self.breaker.try_acquire() };
        permit.map_err(|_| {
            metrics::counter!("settle_pg_calls_total", "op" => op, "outcome" => "circuit_open").increment(1);
            self.circuit_state();
            GatewayError::CircuitOpen
        })
    }

    /// A place in the bulkhead (if one frees up within `max_wait`) and the breaker's permit, taken together
    /// before a payment is touched: when either is refused, nothing is sent and nothing changes.
    pub async fn slot(&self) -> Result<Slot, GatewayError> {
        let place = self.place("charge").await?;
        let permit = self.permit("charge", false)?;
        Ok(Slot { _place: place, permit: Some(permit) })
    }

    /// One call through the bulkhead (unless the caller holds a slot) and the breaker (with the slot's
    /// permit, when it still has one). `charge` selects how answers are classified.
    async fn exchange(&self, op: &'static str, rb: reqwest::RequestBuilder, slot: Option<&mut Slot>, call: Call) -> Result<Exchange, GatewayError> {
        let side = call == Call::Side;
        let (_place, permit) = match slot {
            Some(s) => (
                None,
                match s.permit.take() {
                    Some(p) => p,
                    None => self.permit(op, side)?,
                },
            ),
            None => {
                let place = self.place(op).await?;
                (Some(place), self.permit(op, side)?)
            }
        };
        let charge = matches!(call, Call::Charge | Call::Refund);
        let ex = match rb.send().await {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(b) => Exchange::Answer(status, b.to_vec()),
                    Err(e) => Exchange::Lost { timeout: e.is_timeout(), detail: format!("reading the answer: {e}") },
                }
            }
            Err(e) if e.is_connect() => Exchange::NotConnected(e.to_string()),
            Err(e) if e.is_timeout() => Exchange::Lost { timeout: true, detail: "timed out".into() },
            Err(e) => Exchange::Lost { timeout: false, detail: e.to_string() },
        };
        let (ok, outcome) = match &ex {
            Exchange::Answer(s, _) if call == Call::Refund && s.as_u16() == 404 => (true, "declined"),
            Exchange::Answer(s, _) => match classify(s.as_u16(), charge) {
                AnswerClass::Ok => (true, "ok"),
                AnswerClass::Decline => (true, "declined"),
                AnswerClass::NotFound => (true, "not_found"),
                AnswerClass::Misconfigured => (false, "misconfigured"),
                AnswerClass::Unknown if s.is_server_error() => (false, "5xx"),
                AnswerClass::Unknown => (false, "4xx_unknown"),
            },
            Exchange::NotConnected(_) => (false, "connect_error"),
            Exchange::Lost { timeout: true, .. } => (false, "timeout"),
            Exchange::Lost { .. } => (false, "lost"),
        };
        if outcome == "misconfigured" {
            tracing::error!(op, "the card gateway refused Settle's credentials or URL: check SETTLE_PG_URL and the gateway account");
        }
        permit.record(ok);
        self.circuit_state();
        metrics::counter!("settle_pg_calls_total", "op" => op, "outcome" => outcome).increment(1);
        Ok(ex)
    }

    /// A read with retries; `Ok(None)` for a 404.
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        url: &str,
        user_id: &str,
        mut slot: Option<&mut Slot>,
        call: Call,
    ) -> Result<Option<T>, GatewayError> {
        let mut last = String::new();
        // Inside a charge (a held slot) a lookup is asked once: the charge's own time bound must stay short.
        let retries = if slot.is_some() { 0 } else { self.cfg.read_retries };
        for attempt in 0..=retries {
            if attempt > 0 {
                metrics::counter!("settle_pg_retries_total", "op" => op).increment(1);
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let rb = self.http.get(url).header("X-USER-ID", user_id);
            match self.exchange(op, rb, slot.as_deref_mut(), call).await? {
                Exchange::Answer(s, body) => match classify(s.as_u16(), false) {
                    AnswerClass::Ok => {
                        return serde_json::from_slice(&body).map(Some).map_err(|e| GatewayError::Unavailable(format!("unreadable answer: {e}")));
                    }
                    AnswerClass::NotFound => return Ok(None),
                    AnswerClass::Misconfigured => {
                        return Err(GatewayError::Misconfigured(format!("gateway answered {s}")));
                    }
                    AnswerClass::Decline | AnswerClass::Unknown => last = format!("gateway answered {s}"),
                },
                Exchange::NotConnected(e) | Exchange::Lost { detail: e, .. } => last = e,
            }
        }
        Err(GatewayError::Unavailable(last))
    }

    /// A transaction by key, as the user `user_id` sees it; None when the gateway does not know it.
    pub async fn transaction(&self, key: &str, user_id: &str) -> Result<Option<Transaction>, GatewayError> {
        let url = format!("{}/api/v1/payments/{}", self.cfg.base_url, urlencode(key));
        self.read("get", &url, user_id, None, Call::Plain).await
    }

    /// [`Self::transaction`] for a gateway callback, which anyone can send: a side call of the breaker (only
    /// while it is closed; its successes are not counted, see [`CircuitBreaker::try_acquire_side`]).
    pub async fn transaction_for_callback(&self, key: &str, user_id: &str) -> Result<Option<Transaction>, GatewayError> {
        let url = format!("{}/api/v1/payments/{}", self.cfg.base_url, urlencode(key));
        self.read("get", &url, user_id, None, Call::Side).await
    }

    /// Every transaction of an order.
    pub async fn transactions_of_order(&self, order_id: &str, user_id: &str) -> Result<Vec<Transaction>, GatewayError> {
        self.order_lookup(order_id, user_id, None).await
    }

    async fn order_lookup(&self, order_id: &str, user_id: &str, slot: Option<&mut Slot>) -> Result<Vec<Transaction>, GatewayError> {
        let url = format!("{}/api/v1/payments?orderId={}", self.cfg.base_url, urlencode(order_id));
        Ok(self.read::<OrderTransactions>("find", &url, user_id, slot, Call::Plain).await?.map(|o| o.transactions).unwrap_or_default())
    }

    /// Voids (cancels) a transaction. Safe to repeat: voiding a voided transaction is a success.
    pub async fn void(&self, key: &str, user_id: &str) -> Result<VoidOutcome, GatewayError> {
        let url = format!("{}/api/v1/payments/{}/cancel", self.cfg.base_url, urlencode(key));
        let rb = self.http.post(&url).header("X-USER-ID", user_id);
        match self.exchange("void", rb, None, Call::Plain).await? {
            Exchange::Answer(s, _) => match (classify(s.as_u16(), false), s.as_u16()) {
                (AnswerClass::Ok, _) => Ok(VoidOutcome::Voided),
                (AnswerClass::NotFound, _) => Ok(VoidOutcome::NotFound),
                (_, 409) => Ok(VoidOutcome::NotVoidable),
                (AnswerClass::Misconfigured, _) => Err(GatewayError::Misconfigured(format!("gateway answered {s}"))),
                _ => Err(GatewayError::Unavailable(format!("gateway answered {s}"))),
            },
            Exchange::NotConnected(e) | Exchange::Lost { detail: e, .. } => Err(GatewayError::Unavailable(e)),
        }
    }

    /// Charges a card inside a [`Slot`] (whose permit the first attempt uses). `Err` means nothing was sent.
    pub async fn charge(&self, slot: &mut Slot, user_id: &str, req: &ChargeRequest) -> Result<ChargeOutcome, GatewayError> {
        let url = format!("{}/api/v1/payments", self.cfg.base_url);
        let mut sent_any = false;
        let (mut code, mut last) = (reason::UNREACHABLE, String::new());
        for attempt in 0..=self.cfg.charge_retries {
            if attempt > 0 {
                metrics::counter!("settle_pg_retries_total", "op" => "charge").increment(1);
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let rb = self.http.post(&url).header("X-USER-ID", user_id).json(req);
            let ex = match self.exchange("charge", rb, Some(slot), Call::Charge).await {
                Ok(ex) => ex,
                // Refused before sending: if no earlier attempt reached the gateway, nothing was sent at all.
                Err(e) if !sent_any => return Err(e),
                Err(e) => {
                    return Ok(ChargeOutcome::NotRecorded { code: reason::CIRCUIT_OPEN, detail: format!("{last}; then {e}") });
                }
            };
            match ex {
                Exchange::Answer(s, body) => match classify(s.as_u16(), true) {
                    AnswerClass::Ok => {
                        return Ok(match serde_json::from_slice::<ChargeAccepted>(&body) {
                            Ok(a) => ChargeOutcome::Accepted { transaction_key: a.transaction_key },
                            Err(e) => ChargeOutcome::Unknown { code: reason::UNREADABLE, detail: format!("unreadable answer: {e}") },
                        });
                    }
                    AnswerClass::Decline => {
                        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                            Ok(g) => (g.error, g.message),
                            Err(_) => ("DECLINED".to_owned(), format!("declined by the card gateway ({s})")),
                        };
                        return Ok(ChargeOutcome::Declined { code: short(&code, 64), message: short(&message, 200) });
                    }
                    AnswerClass::Misconfigured => {
                        return Ok(ChargeOutcome::Misconfigured { detail: format!("gateway answered {s}") });
                    }
                    AnswerClass::NotFound | AnswerClass::Unknown => {
                        // It may or may not have been recorded: ask before anything else.
                        sent_any = true;
                        (code, last) = (reason::ERROR, format!("gateway answered {s}"));
                        if self.cfg.retry_after_5xx == RetryAfter5xx::Never {
                            return Ok(ChargeOutcome::Unknown { code, detail: last });
                        }
                        match self.recorded(&req.order_id, user_id, slot).await {
                            Ok(None) => continue,
                            Ok(Some(key)) => {
                                return Ok(ChargeOutcome::Accepted { transaction_key: key });
                            }
                            Err(e) => {
                                return Ok(ChargeOutcome::Unknown { code, detail: format!("{last}; then {e}") });
                            }
                        }
                    }
                },
                Exchange::NotConnected(e) => {
                    (code, last) = (reason::UNREACHABLE, e);
                    continue;
                }
                Exchange::Lost { timeout, detail } => {
                    return Ok(ChargeOutcome::Unknown { code: if timeout { reason::TIMEOUT } else { reason::ERROR }, detail });
                }
            }
        }
        Ok(ChargeOutcome::NotRecorded { code, detail: last })
    }

    /// Every refund the gateway holds for a transaction (by any request id), as `user_id` sees it. `for_callback`: a
    /// read a callback caused (anyone can send one), a side call of the breaker.
    pub async fn refunds_of(&self, transaction_key: &str, user_id: &str, for_callback: bool) -> Result<Vec<GatewayRefund>, GatewayError> {
        let call = if for_callback { Call::Side } else { Call::Plain };
        self.refund_lookup(transaction_key, user_id, None, call).await
    }

    async fn refund_lookup(
        &self,
        transaction_key: &str,
        user_id: &str,
        slot: Option<&mut Slot>,
        call: Call,
    ) -> Result<Vec<GatewayRefund>, GatewayError> {
        let url = format!("{}/api/v1/payments/{}/refunds", self.cfg.base_url, urlencode(transaction_key));
        Ok(self.read::<TransactionRefunds>("refunds", &url, user_id, slot, call).await?.map(|r| r.refunds).unwrap_or_default())
    }

    /// Asks the gateway to refund part or all of a transaction, inside a [`Slot`]. Refusals about the refund (400,
    /// 402, 404, 422) are final. A refund is sent again only when the connection was refused (nothing sent): after an
    /// unknown-outcome answer it is looked up by its request id (twice, `lookup_settle` apart) and, when not found,
    /// left [`RefundOutcome::Unknown`] for the refund checker, never sent again (a gateway whose lookups lag would
    /// refund it twice; a refund has no payer waiting). `Err` means nothing was sent.
    pub async fn refund(&self, slot: &mut Slot, user_id: &str, transaction_key: &str, req: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        let url = format!("{}/api/v1/payments/{}/refunds", self.cfg.base_url, urlencode(transaction_key));
        let mut last = String::new();
        for attempt in 0..=self.cfg.charge_retries {
            if attempt > 0 {
                metrics::counter!("settle_pg_retries_total", "op" => "refund").increment(1);
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let rb = self.http.post(&url).header("X-USER-ID", user_id).json(req);
            let ex = match self.exchange("refund", rb, Some(slot), Call::Refund).await {
                Ok(ex) => ex,
                Err(e) if attempt == 0 => return Err(e),
                Err(e) => return Ok(RefundOutcome::NotRecorded { code: reason::CIRCUIT_OPEN, detail: format!("{last}; then {e}") }),
            };
            match ex {
                Exchange::Answer(s, body) => match (classify(s.as_u16(), true), s.as_u16()) {
                    (AnswerClass::Ok, _) => {
                        return Ok(match serde_json::from_slice::<RefundAccepted>(&body) {
                            Ok(a) => RefundOutcome::Accepted { refund_key: a.refund_key, status: a.status },
                            Err(e) => RefundOutcome::Unknown { code: reason::UNREADABLE, detail: format!("unreadable answer: {e}") },
                        });
                    }
                    (AnswerClass::Decline, _) | (_, 404) => {
                        let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                            Ok(g) => (g.error, g.message),
                            Err(_) => ("REFUSED".to_owned(), format!("refused by the card gateway ({s})")),
                        };
                        return Ok(RefundOutcome::Refused { code: short(&code, 64), message: short(&message, 200) });
                    }
                    (AnswerClass::Misconfigured, _) => return Ok(RefundOutcome::Misconfigured { detail: format!("gateway answered {s}") }),
                    (AnswerClass::NotFound | AnswerClass::Unknown, _) => {
                        let last = format!("gateway answered {s}");
                        return Ok(match self.refund_recorded(transaction_key, &req.refund_request_id, user_id, slot).await {
                            Ok(Some(r)) => RefundOutcome::Accepted { refund_key: r.refund_key, status: r.status },
                            Ok(None) => RefundOutcome::Unknown { code: reason::ERROR, detail: format!("{last}; not found by two lookups") },
                            Err(e) => RefundOutcome::Unknown { code: reason::ERROR, detail: format!("{last}; then {e}") },
                        });
                    }
                },
                Exchange::NotConnected(e) => {
                    last = e;
                    continue;
                }
                Exchange::Lost { timeout, detail } => {
                    return Ok(RefundOutcome::Unknown { code: if timeout { reason::TIMEOUT } else { reason::ERROR }, detail });
                }
            }
        }
        Ok(RefundOutcome::NotRecorded { code: reason::UNREACHABLE, detail: last })
    }

    /// After an unknown-outcome answer to a refund: the gateway's refund with this request id, or None when two
    /// lookups `lookup_settle` apart both find none.
    async fn refund_recorded(
        &self,
        transaction_key: &str,
        request_id: &str,
        user_id: &str,
        slot: &mut Slot,
    ) -> Result<Option<GatewayRefund>, GatewayError> {
        for round in 0..2 {
            if round > 0 {
                tokio::time::sleep(self.cfg.lookup_settle).await;
            }
            let found = self.refund_lookup(transaction_key, user_id, Some(slot), Call::Plain).await?;
            if let Some(r) = found.into_iter().find(|r| r.refund_request_id == request_id) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// After an unknown-outcome answer: the key of a transaction the gateway holds for the order, or None
    /// when two lookups `lookup_settle` apart both find nothing.
    async fn recorded(&self, order_id: &str, user_id: &str, slot: &mut Slot) -> Result<Option<String>, GatewayError> {
        for round in 0..2 {
            if round > 0 {
                tokio::time::sleep(self.cfg.lookup_settle).await;
            }
            let txs = self.order_lookup(order_id, user_id, Some(slot)).await?;
            if let Some(tx) = pick(&txs) {
                return Ok(Some(tx.transaction_key.clone()));
            }
        }
        Ok(None)
    }
}

/// The transaction that stands for an order when the gateway holds several: a SUCCESS, else a PENDING, else
/// the first one.
pub fn pick(txs: &[Transaction]) -> Option<&Transaction> {
    use crate::wire::GatewayStatus as S;
    txs.iter().find(|t| t.status == S::Success).or_else(|| txs.iter().find(|t| t.status == S::Pending)).or_else(|| txs.first())
}

fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Percent-encodes everything but unreserved characters (keys and order ids are ASCII already).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_about_the_card_are_declines() {
        for s in [400, 402, 422] {
            assert_eq!(classify(s, true), AnswerClass::Decline, "{s}");
        }
        for s in [401, 403, 404, 405, 415] {
            assert_eq!(classify(s, true), AnswerClass::Misconfigured, "{s}");
        }
        for s in [408, 409, 425, 429, 500, 502, 503, 504] {
            assert_eq!(classify(s, true), AnswerClass::Unknown, "{s}");
        }
        assert_eq!(classify(404, false), AnswerClass::NotFound);
        assert_eq!(classify(400, false), AnswerClass::Unknown);
        assert_eq!(classify(403, false), AnswerClass::Misconfigured);
    }

    #[test]
    fn the_worst_case_charge_covers_every_attempt() {
        let c = GatewayConfig::new("http://x");
        assert!(c.worst_case_charge() > (c.connect_timeout + c.request_timeout) * (c.charge_retries + 1));
        assert!(c.worst_case_charge() < Duration::from_secs(120), "the default deadline holds it: {:?}", c.worst_case_charge());
    }
}
