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
    /// The card gateway: which one, and its circuit.
    pub gateway: GatewayHealth,
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
    /// ok, or degraded: the last call found none of the chain's RPC endpoints answering (chain payments wait;
    /// the other rails go on).
    pub status: &'static str,
    /// Why the chain is degraded, as the last failed call saw it.
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
    /// The relayer's balance is under the chain's `low_balance_wei`: fund it.
    pub low_balance: bool,
    /// Relayed transactions sent and not yet mined.
    pub pending_relays: usize,
}

#[derive(Serialize, ToSchema)]
pub struct GatewayHealth {
    /// gateway (SETTLE_PG_URL), simulator (the in-process PG simulator: no real card is charged) or
    /// not_configured (card charges answer 503).
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
            ChainHealth {
                chain_id: c.chain_id,
                status: if outage.is_some() { "degraded" } else { "ok" },
                reason: outage.as_ref().map(|o| format!("no RPC endpoint answers: {}", o.reason)),
                unreachable_since: outage.as_ref().map(|o| settle_app::payments::rfc3339(o.since_ms)),
                head: o.head,
                watcher_cursor: o.cursor,
                watcher_lag_blocks: o.head.zip(o.cursor).map(|(h, c)| h.saturating_sub(c)),
                relayer: c.relayer.address().to_checksum(None),
                relayer_balance_wei: o.relayer_balance_wei.map(|w| w.to_string()),
                low_balance: o.relayer_balance_wei.is_some_and(|w| w < c.low_balance_wei),
                pending_relays: o.pending_relays,
            }
        })
        .collect();
    let degraded = chains.iter().any(|c| c.status != "ok") || cache.as_str() == "degraded";
    let body = Health {
        status: if !db_ok { "unavailable" } else if degraded { "degraded" } else { "ok" },
        database: DatabaseHealth { status: if db_ok { "ok" } else { "unavailable" }, latency_ms: latency.as_millis() as u64 },
        cache: CacheHealthView { status: cache.as_str() },
        read_only: st.ctx.read_only(),
        gateway: GatewayHealth {
            mode: match (&st.ctx.pg, st.ctx.settings.card.simulator) {
                (None, _) => "not_configured",
                (Some(_), true) => "simulator",
                (Some(_), false) => "gateway",
            },
            circuit: st.ctx.pg.as_ref().map(|pg| pg.circuit_state().as_str()),
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
