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

/// The docs' Content-Security-Policy: everything from this server only, no inline script (Swagger UI sets inline
/// styles, and shows schemas' example images as data: URLs).
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                        font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The interactive API reference (Swagger UI on `/openapi.json`, served from this binary; nothing is loaded from
/// elsewhere). "Authorize" takes a merchant key or the admin token; "Try it out" calls this server.
#[utoipa::path(get, path = "/docs", tag = "meta", responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub async fn docs() -> impl IntoResponse {
    ([(header::CONTENT_SECURITY_POLICY, DOCS_CSP), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")], Html(include_str!("../../assets/docs.html")))
}

/// The docs page's assets: Swagger UI (vendored from the npm package `swagger-ui-dist`, see assets/swagger-ui)
/// and its start-up script.
pub async fn docs_asset(axum::extract::Path(name): axum::extract::Path<String>) -> axum::response::Response {
    let (body, kind): (&'static [u8], &str) = match name.as_str() {
        "swagger-ui-bundle.js" => (include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"), "text/javascript; charset=utf-8"),
        "swagger-ui.css" => (include_bytes!("../../assets/swagger-ui/swagger-ui.css"), "text/css; charset=utf-8"),
        "init.js" => (include_bytes!("../../assets/swagger-ui/init.js"), "text/javascript; charset=utf-8"),
        _ => return crate::ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such route").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, DOCS_CSP),
        ],
        body,
    )
        .into_response()
}
