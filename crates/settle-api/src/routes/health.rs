//! Health: `/health` (database and cache), `/health/live`, `/health/ready`.

use std::time::Instant;

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// ok; degraded (Settle serves, but a part is impaired: a chain whose RPC endpoints all fail, or Redis
    /// unreachable; the part says why); unavailable (the database does not answer: 503).
    pub status: &'static str,
    pub database: DatabaseHealth,
    pub cache: CacheHealthView,
    /// The card gateway of live payments: whether one is configured, and its circuit.
    pub gateway: GatewayHealth,
    /// The card gateway of test payments: the in-process simulator, or SETTLE_PG_TEST_URL's.
    pub test_gateway: GatewayHealth,
    /// Each configured chain, as its watcher and relayer last saw it.
    pub chains: Vec<ChainHealth>,
    /// Why writes are refused now (503 `read_only`): `configured`, `admin` or `detected` (the database refuses
    /// writes); absent when Settle takes writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChainHealth {
    pub chain_id: u64,
    /// A test network: only test-mode payments use it.
    pub test_network: bool,
    /// ok, or degraded: the last call found none of the chain's RPC endpoints answering, or the relayer cannot send
    /// (a node refused its transaction for insufficient funds; a transaction is still unmined after every
    /// replacement allowed). Chain payments wait; the other rails go on.
    pub status: &'static str,
    /// Why the chain is degraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Since when (RFC 3339) no endpoint has answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<String>,
    /// The chain's head block (null until the watcher reached the node).
    pub head: Option<u64>,
    /// The last block the watcher read.
    pub watcher_cursor: Option<u64>,
    pub watcher_lag_blocks: Option<u64>,
    pub relayer: String,
    /// Decimal wei.
    pub relayer_balance_wei: Option<String>,
    /// The relayer's balance is under the chain's `low_balance_wei`, or a node refused its transaction for
    /// insufficient funds: fund it.
    pub low_balance: bool,
    /// Why the relayer sends nothing new now (a node refused a transaction for insufficient funds; sending resumes
    /// once the balance grows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sending_paused: Option<String>,
    /// Relayed transactions sent and not yet mined.
    pub pending_relays: usize,
    /// The relayer's oldest transaction not yet mined (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck_nonce: Option<StuckNonce>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StuckNonce {
    pub nonce: i64,
    /// Blocks since its transaction (or its last replacement) was sent.
    pub blocks: i64,
    pub replacements: usize,
    /// No replacement is left (the most allowed were made, or the fees are at `max_fee_gwei`).
    pub exhausted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct GatewayHealth {
    /// gateway (SETTLE_PG_URL for live payments, SETTLE_PG_TEST_URL for test ones), simulator (test payments: the
    /// in-process PG simulator, no real card is charged) or not_configured (card charges answer 400
    /// feature_not_enabled).
    pub mode: &'static str,
    /// closed, open or half_open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseHealth {
    pub status: &'static str,
    pub latency_ms: u64,
}

#[derive(Serialize, ToSchema)]
pub struct CacheHealthView {
    /// ok, degraded (Redis unreachable: requests use the database) or memory (in-process cache).
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Probe {
    pub status: &'static str,
}

/// Database, cache, gateway and chain state. 503 when the database does not answer; `degraded` (200) when a chain's
/// endpoints or Redis do not.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    let started = Instant::now();
    let db_ok = tokio::time::timeout(std::time::Duration::from_secs(3), st.ctx.ping_db()).await.is_ok_and(|r| r.is_ok());
    let latency = started.elapsed();
    metrics::histogram!("settle_db_ping_seconds").record(latency.as_secs_f64());
    let cache = st.ctx.cache.health().await;
    let chains: Vec<ChainHealth> = st
        .ctx
        .chains
        .0
        .iter()
        .map(|c| {
            let o = c.observed();
            let outage = c.rpc.outage();
            let exhausted = o.stuck.filter(|s| s.exhausted);
            let reason = match (&outage, &o.funds_short, exhausted) {
                (Some(out), _, _) => Some(format!("no RPC endpoint answers: {}", out.reason)),
                (None, Some(f), _) => Some(format!("the relayer cannot pay for gas ({}): fund it", f.reason)),
                (None, None, Some(s)) => Some(format!("relayer nonce {} is unmined after {} replacements", s.nonce, s.replacements)),
                (None, None, None) => None,
            };
            ChainHealth {
                chain_id: c.chain_id,
                test_network: c.test_network,
                status: if reason.is_some() { "degraded" } else { "ok" },
                reason,
                unreachable_since: outage.as_ref().map(|o| settle_app::time::rfc3339(o.since_ms)),
                head: o.head,
                watcher_cursor: o.cursor,
                watcher_lag_blocks: o.head.zip(o.cursor).map(|(h, c)| h.saturating_sub(c)),
                relayer: c.relayer.address().to_checksum(None),
                relayer_balance_wei: o.relayer_balance_wei.map(|w| w.to_string()),
                low_balance: o.relayer_balance_wei.is_some_and(|w| w < c.low_balance_wei) || o.funds_short.is_some(),
                sending_paused: o.funds_short.as_ref().map(|f| format!("a node refused a transaction for insufficient funds: {}", f.reason)),
                pending_relays: o.pending_relays,
                stuck_nonce: o.stuck.map(|s| StuckNonce { nonce: s.nonce, blocks: s.blocks, replacements: s.replacements, exhausted: s.exhausted }),
            }
        })
        .collect();
    let degraded = chains.iter().any(|c| c.status != "ok") || cache.as_str() == "degraded";
    let body = Health {
        status: if !db_ok {
            "unavailable"
        } else if degraded {
            "degraded"
        } else {
            "ok"
        },
        database: DatabaseHealth { status: if db_ok { "ok" } else { "unavailable" }, latency_ms: latency.as_millis() as u64 },
        cache: CacheHealthView { status: cache.as_str() },
        read_only: st.ctx.read_only(),
        gateway: GatewayHealth {
            mode: if st.ctx.gateway.is_some() { "gateway" } else { "not_configured" },
            circuit: st.ctx.gateway.as_ref().map(|gateway| gateway.circuit_state().as_str()),
        },
        test_gateway: GatewayHealth {
            mode: match (&st.ctx.test_gateway, st.ctx.settings.card.simulator) {
                (None, _) => "not_configured",
                (Some(_), true) => "simulator",
                (Some(_), false) => "gateway",
            },
            circuit: st.ctx.test_gateway.as_ref().map(|gateway| gateway.circuit_state().as_str()),
        },
        chains,
    };
    (if db_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Probe)))]
pub async fn live() -> Json<Probe> {
    Json(Probe { status: "ok" })
}

/// Ready for traffic: the database answers and shutdown has not begun.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses((status = 200, body = Probe), (status = 503, body = Probe)))]
pub async fn ready(State(st): State<AppState>) -> (StatusCode, Json<Probe>) {
    let ok = !*st.stopping.borrow() && tokio::time::timeout(std::time::Duration::from_secs(3), st.ctx.ping_db()).await.is_ok_and(|r| r.is_ok());
    if ok { (StatusCode::OK, Json(Probe { status: "ok" })) } else { (StatusCode::SERVICE_UNAVAILABLE, Json(Probe { status: "unavailable" })) }
}
