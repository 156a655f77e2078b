//! JSON-RPC over HTTP with failover: a call tries the chain's URLs in order, skipping one that failed recently,
//! up to three tries with backoff. A node's own error answer (a revert, "nonce too low") is returned as is and
//! never retried elsewhere: it is an answer, not an outage.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::Duration,
};

use alloy::primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// No URL answered (connection refused, timeout, HTTP error, garbage).
    #[error("no RPC endpoint answered: {0}")]
    Unavailable(String),
    /// The node answered with an error.
    #[error("RPC error {code}: {message}")]
    Node { code: i64, message: String, data: Option<Bytes> },
}

impl RpcError {
    /// The revert data of a failed `eth_call` / `eth_estimateGas`, when the node gave it.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Node { data, .. } => data.as_ref(),
            Self::Unavailable(_) => None,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Node { message, .. } => message.to_ascii_lowercase(),
            Self::Unavailable(m) => m.to_ascii_lowercase(),
        }
    }
}

/// What a node's refusal of `eth_sendRawTransaction` means for the sender. Nodes and providers word these
/// differently (geth, erigon, anvil, hosted providers); the wording matched is their common part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendRefusal {
    /// The node has the transaction already (a load-balanced provider, a rebroadcast): it was taken.
    AlreadyKnown,
    /// The nonce is used (this transaction or another took it): reconcile with the chain, never sign again blindly.
    NonceTooLow,
    /// A transaction at this nonce with higher fees is in the pool: wait for it.
    Underpriced,
    /// The sender cannot pay for the gas: raising the fees only makes it worse; fund the sender.
    InsufficientFunds,
    /// The node is busy or unreachable (txpool full, rate limited, timed out): try the same bytes later.
    Busy,
    /// The transaction can never be taken as it is (too much gas, a fee over the node's cap, an invalid sender):
    /// a relay is withdrawn (a 0-value transfer takes its nonce), never bumped.
    Fatal,
    /// Anything else (fee below the base fee, a gap in nonces, a wording not known): replaced only once it has
    /// waited its stuck period.
    Other,
}

impl SendRefusal {
    /// How a failed send is to be read.
    pub fn of(e: &RpcError) -> Self {
        let m = e.message();
        let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
        if matches!(e, RpcError::Unavailable(_)) {
            Self::Busy
        } else if has(&["already known", "known transaction", "already imported", "already exists", "already in pool", "alreadyknown"]) {
            Self::AlreadyKnown
        } else if has(&["nonce too low", "nonce is too low", "nonce has already been used", "oldnonce", "nonce too small"]) {
            Self::NonceTooLow
        } else if has(&["underpriced", "replacement fee too low", "fee too low to replace", "could not replace existing tx", "ownnoncealreadyused"]) {
            Self::Underpriced
        } else if has(&[
            "insufficient funds",
            "insufficientfunds",
            "insufficient balance",
            "sender doesn't have enough funds",
            "lack of funds",
            "upfront cost exceeds",
            "not enough funds",
        ]) {
            Self::InsufficientFunds
        } else if has(&[
            "exceeds the configured cap",
            "exceeds block gas limit",
            "gaslimitexceeded",
            "intrinsic gas too low",
            "oversized data",
            "invalid sender",
        ]) {
            Self::Fatal
        } else if has(&[
            "txpool is full",
            "transaction pool is full",
            "pool is full",
            "queue full",
            "rate limit",
            "too many requests",
            "limit exceeded",
            "limit reached",
            "timeout",
            "timed out",
            "try again",
        ]) {
            Self::Busy
        } else {
            Self::Other
        }
    }
}

/// Whether a node's error to `eth_call` is the call reverting (a verdict on the call), not the node failing to answer
/// it (rate limited, a block it has pruned or not reached, a timeout): only a revert decides anything.
pub fn is_revert(e: &RpcError) -> bool {
    match e {
        RpcError::Unavailable(_) => false,
        RpcError::Node { code, message, data } => {
            let m = message.to_ascii_lowercase();
            *code == 3 || *code == -32015 || data.as_ref().is_some_and(|d| !d.is_empty()) || m.contains("revert")
        }
    }
}

/// Whether a node refused an `eth_getLogs` range as too large (providers cap blocks or results per query).
pub fn is_range_too_large(e: &RpcError) -> bool {
    let m = e.message();
    matches!(e, RpcError::Node { .. })
        && [
            "range too large",
            "range is too large",
            "block range",
            "more than 10000 results",
            "query returned more than",
            "too many blocks",
            "exceed maximum block range",
            "limit exceeded",
            "response size exceeded",
            "log response size",
        ]
        .iter()
        .any(|n| m.contains(n))
}

struct Endpoint {
    url: String,
    /// Epoch ms until which this URL is skipped after a failure.
    down_until: AtomicI64,
}

/// A chain's RPC endpoints.
pub struct Rpc {
    endpoints: Vec<Endpoint>,
    http: reqwest::Client,
    /// How long a failing URL is skipped.
    penalty: Duration,
    /// The outage under way: set when a call found no URL answering, cleared by the next call any URL answers
    /// (a node's error answer counts as an answer).
    outage: std::sync::Mutex<Option<Outage>>,
}

/// Every endpoint of a chain failing, as the last call found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outage {
    /// Epoch ms of the first failed call of this outage.
    pub since_ms: i64,
    /// What the last failed call saw (no URL in it: a provider's key may sit in one).
    pub reason: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A block header, as much as Settle reads of it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub number: U256,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: U256,
    pub base_fee_per_gas: Option<U256>,
}

/// A log entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Log {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub block_number: U256,
    pub block_hash: B256,
    pub transaction_hash: B256,
    pub log_index: U256,
    #[serde(default)]
    pub removed: bool,
}

/// A transaction receipt.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub transaction_hash: B256,
    pub block_number: U256,
    pub block_hash: B256,
    /// 1 success, 0 reverted.
    pub status: U256,
    pub from: Address,
    /// The deployed contract, for a creation.
    pub contract_address: Option<Address>,
    #[serde(default)]
    pub logs: Vec<Log>,
}

impl Rpc {
    /// `urls` in order of preference; each call has `timeout`.
    pub fn new(urls: &[String], timeout: Duration) -> Result<Self, String> {
        if urls.is_empty() {
            return Err("no RPC URL".into());
        }
        // The process's one TLS stack (rustls with ring), as the card rail installs it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the RPC client: {e}"))?;
        Ok(Self {
            endpoints: urls.iter().map(|u| Endpoint { url: u.clone(), down_until: AtomicI64::new(0) }).collect(),
            http,
            penalty: Duration::from_secs(30),
            outage: std::sync::Mutex::new(None),
        })
    }

    /// The outage under way, if the last call found no endpoint answering.
    pub fn outage(&self) -> Option<Outage> {
        self.outage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn answered(&self, answered: bool, reason: &str) {
        let mut o = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        match (answered, o.as_mut()) {
            (true, _) => *o = None,
            (false, Some(outage)) => outage.reason = reason.to_owned(),
            (false, None) => *o = Some(Outage { since_ms: now_ms(), reason: reason.to_owned() }),
        }
    }

    /// One JSON-RPC call with failover: up to three tries over the URLs that are not being skipped (all of
    /// them, when every one is).
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, RpcError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let now = now_ms();
        let mut order: Vec<&Endpoint> = self.endpoints.iter().filter(|e| e.down_until.load(Ordering::Relaxed) <= now).collect();
        order.extend(self.endpoints.iter().filter(|e| e.down_until.load(Ordering::Relaxed) > now));
        let mut last = String::new();
        for attempt in 0..3usize {
            let ep = order[attempt % order.len()];
            if attempt > 0 {
                metrics::counter!("settle_chain_rpc_retries_total", "method" => method.to_owned()).increment(1);
                tokio::time::sleep(Duration::from_millis(100 * (1 << attempt))).await;
            }
            match self.once(ep, &body).await {
                Ok(v) => {
                    self.answered(true, "");
                    return serde_json::from_value(v).map_err(|e| RpcError::Unavailable(format!("{method}: unreadable result: {e}")));
                }
                Err(e @ RpcError::Node { .. }) => {
                    self.answered(true, "");
                    return Err(e);
                }
                Err(RpcError::Unavailable(e)) => {
                    tracing::debug!(method, error = %e, "RPC endpoint failed; trying another");
                    ep.down_until.store(now_ms() + self.penalty.as_millis() as i64, Ordering::Relaxed);
                    last = e;
                }
            }
        }
        self.answered(false, &last);
        Err(RpcError::Unavailable(last))
    }

    async fn once(&self, ep: &Endpoint, body: &Value) -> Result<Value, RpcError> {
        let res = self.http.post(&ep.url).json(body).send().await.map_err(|e| RpcError::Unavailable(without_url(&e)))?;
        if !res.status().is_success() {
            return Err(RpcError::Unavailable(format!("HTTP {}", res.status())));
        }
        let v: Value = res.json().await.map_err(|e| RpcError::Unavailable(format!("unreadable answer: {}", without_url(&e))))?;
        if let Some(err) = v.get("error") {
            let data = err.get("data").and_then(|d| d.as_str().or_else(|| d.get("data").and_then(Value::as_str)));
            return Err(RpcError::Node {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
                data: data.and_then(|d| hex::decode(d.trim_start_matches("0x")).ok()).map(Bytes::from),
            });
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        Ok(self.call::<U256>("eth_chainId", json!([])).await?.to::<u64>())
    }

    pub async fn block_number(&self) -> Result<u64, RpcError> {
        Ok(self.call::<U256>("eth_blockNumber", json!([])).await?.to::<u64>())
    }

    /// A block by number (`None`: latest).
    pub async fn block(&self, number: Option<u64>) -> Result<Option<Block>, RpcError> {
        let tag = number.map(|n| format!("0x{n:x}")).unwrap_or_else(|| "latest".into());
        self.call("eth_getBlockByNumber", json!([tag, false])).await
    }

    /// Logs of `address` with `topic0` in `[from, to]`.
    pub async fn logs(&self, address: &[Address], topic0: B256, from: u64, to: u64) -> Result<Vec<Log>, RpcError> {
        self.call(
            "eth_getLogs",
            json!([{"address": address, "topics": [topic0], "fromBlock": format!("0x{from:x}"), "toBlock": format!("0x{to:x}")}]),
        )
        .await
    }

    /// `eth_call` at the latest block, from `from` when given.
    pub async fn eth_call(&self, from: Option<Address>, to: Address, data: &Bytes) -> Result<Bytes, RpcError> {
        self.eth_call_at(from, to, data, None).await
    }

    /// `eth_call` at block `at` (None: latest), from `from` when given.
    pub async fn eth_call_at(&self, from: Option<Address>, to: Address, data: &Bytes, at: Option<u64>) -> Result<Bytes, RpcError> {
        let mut tx = json!({"to": to, "data": data});
        if let Some(f) = from {
            tx["from"] = json!(f);
        }
        let tag = at.map(|n| format!("0x{n:x}")).unwrap_or_else(|| "latest".into());
        self.call("eth_call", json!([tx, tag])).await
    }

    pub async fn estimate_gas(&self, from: Address, to: Address, data: &Bytes) -> Result<u64, RpcError> {
        Ok(self.call::<U256>("eth_estimateGas", json!([{"from": from, "to": to, "data": data}])).await?.to::<u64>())
    }

    /// The account's transaction count at `tag` (`pending` or `latest`).
    pub async fn nonce(&self, address: Address, tag: &str) -> Result<u64, RpcError> {
        Ok(self.call::<U256>("eth_getTransactionCount", json!([address, tag])).await?.to::<u64>())
    }

    pub async fn balance(&self, address: Address) -> Result<U256, RpcError> {
        self.call("eth_getBalance", json!([address, "latest"])).await
    }

    pub async fn send_raw(&self, raw: &Bytes) -> Result<B256, RpcError> {
        self.call("eth_sendRawTransaction", json!([raw])).await
    }

    pub async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        self.call("eth_getTransactionReceipt", json!([hash])).await
    }

    /// Whether the node knows the transaction (mined or in its pool).
    pub async fn knows_transaction(&self, hash: B256) -> Result<bool, RpcError> {
        Ok(!self.call::<Value>("eth_getTransactionByHash", json!([hash])).await?.is_null())
    }

    pub async fn max_priority_fee(&self) -> Result<U256, RpcError> {
        self.call("eth_maxPriorityFeePerGas", json!([])).await
    }
}

/// A reqwest error's text without the URL (which may carry an API key in its path).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    kind.to_owned()
}

impl Rpc {
    /// Waits for `hash` to be mined (polling every 100 ms, up to `limit`).
    pub async fn wait_receipt(&self, hash: B256, limit: Duration) -> Result<Option<Receipt>, RpcError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(r) = self.receipt(hash).await? {
                return Ok(Some(r));
            }
            if tokio::time::Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fees for a transaction now: the latest base fee doubled plus the node's suggested tip.
    pub async fn fees(&self) -> Result<crate::tx::Fees, RpcError> {
        let base = self.block(None).await?.and_then(|b| b.base_fee_per_gas).unwrap_or(U256::from(1_000_000_000u64));
        let tip = self.max_priority_fee().await.unwrap_or(U256::from(1_000_000_000u64));
        let tip = tip.saturating_to::<u128>();
        let base = base.saturating_to::<u128>();
        Ok(crate::tx::Fees { max_fee_per_gas: base.saturating_mul(2).saturating_add(tip), max_priority_fee_per_gas: tip })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(message: &str) -> RpcError {
        RpcError::Node { code: -32000, message: message.into(), data: None }
    }

    #[test]
    fn send_refusals_read_as_the_sender_must_act() {
        for (m, want) in [
            ("already known", SendRefusal::AlreadyKnown),
            ("Known transaction: 0xabc", SendRefusal::AlreadyKnown),
            ("nonce too low: next nonce 5, tx nonce 4", SendRefusal::NonceTooLow),
            ("replacement transaction underpriced", SendRefusal::Underpriced),
            ("insufficient funds for gas * price + value: balance 1, tx cost 2", SendRefusal::InsufficientFunds),
            ("txpool is full", SendRefusal::Busy),
            ("rate limit exceeded", SendRefusal::Busy),
            ("intrinsic gas too low", SendRefusal::Fatal),
            ("InsufficientFunds, Account balance: 5, cumulative cost: 9", SendRefusal::InsufficientFunds),
            ("Upfront cost exceeds account balance", SendRefusal::InsufficientFunds),
            ("not enough funds for gas", SendRefusal::InsufficientFunds),
            ("queue full", SendRefusal::Busy),
            ("could not replace existing tx", SendRefusal::Underpriced),
            ("tx fee (1.20 ether) exceeds the configured cap (1.00 ether)", SendRefusal::Fatal),
            ("exceeds block gas limit", SendRefusal::Fatal),
            ("max fee per gas less than block base fee", SendRefusal::Other),
        ] {
            assert_eq!(SendRefusal::of(&node(m)), want, "{m}");
        }
        assert_eq!(SendRefusal::of(&RpcError::Unavailable("timed out".into())), SendRefusal::Busy);
        assert!(is_range_too_large(&node("query returned more than 10000 results")));
        assert!(is_range_too_large(&node("eth_getLogs block range too large")));
        assert!(!is_range_too_large(&RpcError::Unavailable("range too large".into())));
        assert!(!is_range_too_large(&node("execution reverted")));
        assert!(is_revert(&node("execution reverted: AlreadyPaid")));
        assert!(is_revert(&RpcError::Node { code: 3, message: "x".into(), data: None }));
        for not in ["header not found", "request rate limited", "missing trie node", "execution aborted (timeout = 5s)"] {
            assert!(!is_revert(&node(not)), "{not}");
        }
    }
}
