//! `/metrics` (Prometheus text), `/openapi.json`, `/docs`.

use axum::{
    extract::State,
    http::header,
    response::{Html, IntoResponse},
};

use crate::AppState;

/// Prometheus metrics: request latency per route, cache hits and misses, outbox backlog and lag, ...
#[utoipa::path(get, path = "/metrics", tag = "meta", responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    if let Ok((n, age)) = st.ctx.outbox_backlog().await {
        metrics::gauge!("settle_outbox_backlog").set(n as f64);
        metrics::gauge!("settle_outbox_oldest_unpublished_seconds").set(age);
    }
    let pool = st.ctx.pool_stats();
    metrics::gauge!("settle_db_pool_connections", "state" => "in_use").set(f64::from(pool.in_use));
    metrics::gauge!("settle_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("settle_db_pool_max_connections").set(f64::from(pool.max));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.prometheus.render())
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 JSON", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::router::openapi_json().to_owned())
}

/// A self-contained page that renders `/openapi.json` (no external assets).
#[utoipa::path(get, path = "/docs", tag = "meta", responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub async fn docs() -> Html<&'static str> {
    Html(include_str!("docs.html"))
}
