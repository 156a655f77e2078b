//! The gateway client. Every call passes the bulkhead (bounded concurrent calls) and the circuit breaker;
//! each has a connect and a request timeout.
//!
//! Retries are made only where they cannot charge twice:
//! - reads (GET) are retried on connection errors, timeouts and 5xx, with exponential backoff and full jitter;
//! - a charge (POST) is retried only when the gateway certainly did not record it: the connection was refused,
//!   or it answered 5xx and asking it by order id finds no transaction. A timeout or a reset after the request
//!   was sent is an unknown outcome: it is never retried here but left to reconciliation.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::sync::Semaphore;

use crate::{
    breaker::{BreakerConfig, CircuitBreaker, CircuitState},
    wire::{ChargeAccepted, ChargeRequest, GatewayError, OrderTransactions, Transaction},
};

/// Client settings.
#[derive(Clone, Debug)]
pub struct PgConfig {
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
}

impl PgConfig {
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
        }
    }
}

/// How a charge ended, as far as the gateway told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The gateway recorded the charge; its result comes later (callback or reconciliation).
    Accepted { transaction_key: String },
    /// The gateway refused it (4xx): nothing was charged.
    Declined { reason: String },
    /// Nothing was recorded (every attempt certainly failed before the gateway recorded it).
    NotRecorded { reason: String },
    /// We cannot know whether it was recorded (timeout, reset, or a 5xx we could not check).
    Unknown { reason: String },
}

/// Why a call was not made or did not complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PgError {
    #[error("the gateway circuit is open")]
    CircuitOpen,
    #[error("too many concurrent gateway calls")]
    BulkheadFull,
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
}

pub struct PgClient {
    http: reqwest::Client,
    cfg: PgConfig,
    breaker: Arc<CircuitBreaker>,
    bulkhead: Arc<Semaphore>,
}

/// One HTTP exchange, classified.
enum Exchange {
    Answer(reqwest::StatusCode, bytes_like::Body),
    /// The connection was never made: nothing was sent.
    NotConnected(String),
    /// Sent, but no usable answer.
    Lost(String),
}

/// A held place in the bulkhead.
pub struct Slot(#[allow(dead_code)] tokio::sync::OwnedSemaphorePermit);

mod bytes_like {
    pub type Body = Vec<u8>;
}

impl PgClient {
    pub fn new(cfg: PgConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.request_timeout)
            .pool_max_idle_per_host(cfg.max_concurrent_calls)
            .build()
            .unwrap_or_default();
        Self {
            breaker: Arc::new(CircuitBreaker::new(cfg.breaker.clone())),
            bulkhead: Arc::new(Semaphore::new(cfg.max_concurrent_calls.max(1))),
            http,
            cfg,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.cfg.base_url
    }

    pub fn circuit_state(&self) -> CircuitState {
        let s = self.breaker.state();
        metrics::gauge!("settle_pg_circuit_state").set(s.gauge());
        s
    }

    /// Whether a charge would be let through now; checked before a payment is touched, so that an open circuit
    /// leaves it PENDING with nothing sent.
    pub fn accepting(&self) -> bool {
        self.breaker.would_allow()
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.cfg.backoff_base.saturating_mul(1 << attempt.min(16)).min(self.cfg.backoff_max);
        Duration::from_millis(rand::rng().random_range(0..=cap.as_millis() as u64))
    }

    /// A place in the bulkhead, if one frees up within `max_wait`, and only while the circuit lets calls
    /// through. Taken before a payment is touched; a charge runs inside it.
    pub async fn slot(&self) -> Result<Slot, PgError> {
        if !self.breaker.would_allow() {
            metrics::counter!("settle_pg_calls_total", "op" => "charge", "outcome" => "circuit_open").increment(1);
            return Err(PgError::CircuitOpen);
        }
        match tokio::time::timeout(self.cfg.max_wait, self.bulkhead.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(Slot(p)),
            _ => {
                metrics::counter!("settle_pg_calls_total", "op" => "charge", "outcome" => "bulkhead_full").increment(1);
                Err(PgError::BulkheadFull)
            }
        }
    }

    /// One call through the bulkhead (unless the caller holds a slot) and the breaker.
    async fn exchange(&self, op: &'static str, rb: reqwest::RequestBuilder, held: Option<&Slot>) -> Result<Exchange, PgError> {
        let _slot = match held {
            Some(_) => None,
            None => match tokio::time::timeout(self.cfg.max_wait, self.bulkhead.clone().acquire_owned()).await {
                Ok(Ok(p)) => Some(p),
                _ => {
                    metrics::counter!("settle_pg_calls_total", "op" => op, "outcome" => "bulkhead_full").increment(1);
                    return Err(PgError::BulkheadFull);
                }
            },
        };
        let Ok(permit) = self.breaker.try_acquire() else {
            metrics::counter!("settle_pg_calls_total", "op" => op, "outcome" => "circuit_open").increment(1);
            self.circuit_state();
            return Err(PgError::CircuitOpen);
        };
        let res = rb.send().await;
        let ex = match res {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(b) => Exchange::Answer(status, b.to_vec()),
                    Err(e) => Exchange::Lost(format!("reading the answer: {e}")),
                }
            }
            Err(e) if e.is_connect() => Exchange::NotConnected(e.to_string()),
            Err(e) if e.is_timeout() => Exchange::Lost("timed out".into()),
            Err(e) => Exchange::Lost(e.to_string()),
        };
        let (ok, outcome) = match &ex {
            Exchange::Answer(s, _) if s.is_server_error() => (false, "5xx"),
            Exchange::Answer(s, _) if s.is_client_error() => (true, "4xx"),
            Exchange::Answer(..) => (true, "ok"),
            Exchange::NotConnected(_) => (false, "connect_error"),
            Exchange::Lost(_) => (false, "lost"),
        };
        self.breaker.record(permit, ok);
        self.circuit_state();
        metrics::counter!("settle_pg_calls_total", "op" => op, "outcome" => outcome).increment(1);
        Ok(ex)
    }

    /// A read with retries; `Ok(None)` for a 404.
    async fn read<T: serde::de::DeserializeOwned>(&self, op: &'static str, url: String, held: Option<&Slot>) -> Result<Option<T>, PgError> {
        let mut last = String::new();
        for attempt in 0..=self.cfg.read_retries {
            if attempt > 0 {
                metrics::counter!("settle_pg_retries_total", "op" => op).increment(1);
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            match self.exchange(op, self.http.get(&url), held).await? {
                Exchange::Answer(s, body) if s.is_success() => {
                    return serde_json::from_slice(&body).map(Some).map_err(|e| PgError::Unavailable(format!("bad answer: {e}")));
                }
                Exchange::Answer(s, _) if s == reqwest::StatusCode::NOT_FOUND => return Ok(None),
                Exchange::Answer(s, _) if s.is_client_error() => return Err(PgError::Unavailable(format!("gateway answered {s}"))),
                Exchange::Answer(s, _) => last = format!("gateway answered {s}"),
                Exchange::NotConnected(e) | Exchange::Lost(e) => last = e,
            }
        }
        Err(PgError::Unavailable(last))
    }

    /// A transaction by key; None when the gateway does not know it.
    pub async fn transaction(&self, key: &str) -> Result<Option<Transaction>, PgError> {
        self.read("get", format!("{}/api/v1/payments/{key}", self.cfg.base_url), None).await
    }

    /// Every transaction of an order.
    pub async fn transactions_of_order(&self, order_id: &str) -> Result<Vec<Transaction>, PgError> {
        self.order_lookup(order_id, None).await
    }

    async fn order_lookup(&self, order_id: &str, held: Option<&Slot>) -> Result<Vec<Transaction>, PgError> {
        let url = format!("{}/api/v1/payments?orderId={order_id}", self.cfg.base_url);
        Ok(self.read::<OrderTransactions>("find", url, held).await?.map(|o| o.transactions).unwrap_or_default())
    }

    /// Charges a card inside a [`Slot`]. `Err(CircuitOpen)` means nothing was sent at all.
    pub async fn charge(&self, slot: &Slot, user_id: &str, req: &ChargeRequest) -> Result<ChargeOutcome, PgError> {
        let url = format!("{}/api/v1/payments", self.cfg.base_url);
        let mut sent_any = false;
        let mut last = String::new();
        for attempt in 0..=self.cfg.charge_retries {
            if attempt > 0 {
                metrics::counter!("settle_pg_retries_total", "op" => "charge").increment(1);
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let rb = self.http.post(&url).header("X-USER-ID", user_id).json(req);
            let ex = match self.exchange("charge", rb, Some(slot)).await {
                Ok(ex) => ex,
                // Refused before sending: if no earlier attempt reached the gateway, nothing was sent at all.
                Err(e) if !sent_any => return Err(e),
                Err(e) => return Ok(ChargeOutcome::NotRecorded { reason: e.to_string() }),
            };
            match ex {
                Exchange::Answer(s, body) if s.is_success() => {
                    return match serde_json::from_slice::<ChargeAccepted>(&body) {
                        Ok(a) => Ok(ChargeOutcome::Accepted { transaction_key: a.transaction_key }),
                        Err(e) => Ok(ChargeOutcome::Unknown { reason: format!("unreadable answer: {e}") }),
                    };
                }
                Exchange::Answer(s, body) if s.is_client_error() => {
                    let reason = serde_json::from_slice::<GatewayError>(&body).map(|g| g.message).unwrap_or_else(|_| format!("declined ({s})"));
                    return Ok(ChargeOutcome::Declined { reason });
                }
                Exchange::Answer(s, _) => {
                    // A 5xx may or may not have been recorded: ask before anything else.
                    sent_any = true;
                    last = format!("gateway answered {s}");
                    match self.order_lookup(&req.order_id, Some(slot)).await {
                        Ok(txs) if txs.is_empty() => continue,
                        Ok(txs) => {
                            let tx = txs.iter().find(|t| t.status == "SUCCESS").unwrap_or(&txs[0]);
                            return Ok(ChargeOutcome::Accepted { transaction_key: tx.transaction_key.clone() });
                        }
                        Err(e) => return Ok(ChargeOutcome::Unknown { reason: format!("{last}; then {e}") }),
                    }
                }
                Exchange::NotConnected(e) => {
                    last = e;
                    continue;
                }
                Exchange::Lost(e) => return Ok(ChargeOutcome::Unknown { reason: e }),
            }
        }
        Ok(ChargeOutcome::NotRecorded { reason: last })
    }
}
