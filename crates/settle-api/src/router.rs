//! One route table builds both the axum router and the OpenAPI document.

use std::sync::OnceLock;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::IntoResponse,
};
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    ApiError, AppState,
    middleware::{Edge, Limiter, RouteEdgeLayer},
    routes::{checkout, events, health, merchants, meta, orders, payments, refunds, seed, webhooks},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Settle", description = "Payments that reach a final state: card gateway or EVM chain, never lost, never charged twice."),
    modifiers(&Security),
    tags(
        (name = "payments", description = "Create, read, update, list and cancel payments"),
        (name = "refunds", description = "Refunds of completed payments, whole or in parts, exactly once"),
        (name = "checkout", description = "Settle's hosted checkout page: a session opens one payment to its payer"),
        (name = "chain", description = "The gasless checkout of a CHAIN payment: what the payer signs, and the signed request relayed"),
        (name = "events", description = "A merchant's events: Server-Sent Events, and a list by seq"),
        (name = "webhooks", description = "Webhook endpoints and their signed deliveries"),
        (name = "merchants", description = "Merchant administration"),
        (name = "shop", description = "The shop's users, items and coupons"),
        (name = "orders", description = "Orders and the purchase saga"),
        (name = "health", description = "Liveness, readiness, dependencies"),
        (name = "meta", description = "Metrics and API description"),
        (name = "test", description = "Test mode's helpers (test keys only): simulate what a rail would report"),
        (name = "seed", description = "The seed documents' unversioned paths, with the seeds' own shapes, for the systems they describe; new integrations use /v1"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("A merchant API key")).build()),
        );
        c.add_security_scheme(
            "admin",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("SETTLE_ADMIN_TOKEN")).build()),
        );
    }
}

fn table() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(merchants::create_merchant))
        .routes(routes!(merchants::update_merchant, merchants::delete_merchant))
        .routes(routes!(merchants::create_api_key, merchants::list_api_keys))
        .routes(routes!(merchants::revoke_api_key))
        .routes(routes!(merchants::audit_log))
        .routes(routes!(merchants::set_read_only))
        .routes(routes!(merchants::db_stats))
        .routes(routes!(merchants::dead_letters))
        .routes(routes!(merchants::retry_dead_letter))
        .routes(routes!(payments::create::create_payment, payments::list::list_payments))
        .routes(routes!(payments::get::get_payment, payments::update::update_payment))
        .routes(routes!(payments::status::payment_status))
        .routes(routes!(payments::events::payment_events))
        .routes(routes!(payments::stream::payment_stream))
        .routes(routes!(payments::cancel::cancel_payment))
        .routes(routes!(payments::simulate::simulate_payment))
        .routes(routes!(payments::card::pay_with_card))
        .routes(routes!(refunds::create_refund, refunds::payment_refunds))
        .routes(routes!(refunds::get_refund))
        .routes(routes!(refunds::refund_typed_data))
        .routes(routes!(refunds::submit_refund))
        .routes(routes!(refunds::list_refunds))
        .routes(routes!(checkout::create_session))
        .routes(routes!(checkout::get_session))
        .routes(routes!(checkout::checkout_secret))
        .routes(routes!(checkout::page_session))
        .routes(routes!(checkout::session_return))
        .routes(routes!(payments::gasless::typed_data))
        .routes(routes!(payments::gasless::gasless))
        .routes(routes!(payments::gasless::relay))
        .routes(routes!(seed::gasless))
        .routes(routes!(seed::relay))
        .routes(routes!(payments::callback::gateway_callback))
        .routes(routes!(orders::create_user))
        .routes(routes!(orders::get_user))
        .routes(routes!(orders::create_item))
        .routes(routes!(orders::get_item))
        .routes(routes!(orders::create_coupon))
        .routes(routes!(orders::issue_coupon))
        .routes(routes!(orders::place_order))
        .routes(routes!(orders::purchase))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::cancel_order))
        .routes(routes!(orders::get_saga))
        .routes(routes!(orders::list_sagas))
        .routes(routes!(seed::list_sagas))
        .routes(routes!(seed::get_saga))
        .routes(routes!(seed::saga_stats))
        .routes(routes!(seed::create_payment))
        .routes(routes!(orders::saga_stats))
        .routes(routes!(events::stream_events))
        .routes(routes!(webhooks::list_events))
        .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
        .routes(routes!(webhooks::get_endpoint, webhooks::update_endpoint, webhooks::delete_endpoint))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::send_test))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::retry_delivery))
        .routes(routes!(health::health))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(meta::metrics))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(meta::docs))
}

/// The seed documents' paths that answer exactly as a /v1 route does: (method, seed path, the /v1 path). The
/// document describes each as a copy of its /v1 operation, tagged `seed`; [`seed_aliases`] routes them.
pub(crate) const SEED_ALIASES: [(&str, &str, &str); 2] =
    [("post", "/payments/callback", "/v1/payments/callback"), ("get", "/events", "/v1/events/stream")];

/// Routes [`SEED_ALIASES`] to their /v1 handlers.
fn seed_aliases(router: Router<AppState>) -> Router<AppState> {
    use axum::routing::{get, post};
    router.route("/payments/callback", post(payments::callback::gateway_callback)).route("/events", get(events::stream_events))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    table().split_for_parts().1
}

/// The OpenAPI document as `/openapi.json` serves it (pretty JSON).
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(openapi()).unwrap_or_default();
        crate::openapi::complete(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
    })
}

/// A request path as logs show it: a checkout session's id (the payer's key to its payment) masked.
pub(crate) fn loggable(path: &str) -> std::borrow::Cow<'_, str> {
    match path.find("/cs_") {
        None => path.into(),
        Some(i) => {
            let start = i + 4;
            let end = path[start..].find('/').map_or(path.len(), |j| start + j);
            format!("{}…{}", &path[..start], &path[end..]).into()
        }
    }
}

async fn fallback() -> impl IntoResponse {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), HeaderName::from_static("idempotent-replayed"), header::RETRY_AFTER])
}

/// The whole HTTP application, as [`router`] makes it.
pub type App = Edge<tower::util::Either<tower_http::cors::Cors<Router>, Router>>;

/// The whole HTTP application: the routes, each inside its part of the edge ([`crate::middleware::RouteEdge`]),
/// CORS when origins are allowed, all inside the [`Edge`].
pub fn router(state: AppState) -> App {
    let (mut router, _) = table().split_for_parts();
    router = seed_aliases(router);
    // The docs page's assets are not API routes: outside the OpenAPI document.
    router = router.route("/docs/{asset}", axum::routing::get(crate::routes::meta::docs_asset));
    router = router
        .route("/dashboard", axum::routing::get(crate::routes::dashboard::page))
        .route("/dashboard/{asset}", axum::routing::get(crate::routes::dashboard::asset))
        .route("/checkout/{session_id}", axum::routing::get(crate::routes::checkout_page::page))
        .route("/checkout/assets/{asset}", axum::routing::get(crate::routes::checkout_page::asset))
        .route("/v1/checkout.js", axum::routing::get(crate::routes::checkout_page::embed_script));
    let limiter = state
        .cfg
        .rate_limit
        .map(|rl| std::sync::Arc::new(Limiter::new(rl, state.ctx.clone(), state.cfg.trusted_proxies.clone(), state.cfg.admin_token.clone())));
    let router = router.fallback(fallback).layer(RouteEdgeLayer::new(state.clone(), limiter.clone()));
    // No allowed origin: no CORS layer (it would add nothing a browser could use, at a cost on every request).
    let cors_origins = state.cfg.cors_origins.clone();
    let routes = router.with_state(state.clone());
    let app = if cors_origins.is_empty() { tower::util::Either::Right(routes) } else { tower::util::Either::Left(cors(&cors_origins).layer(routes)) };
    Edge::new(app, state, limiter)
}

#[cfg(test)]
mod log_tests {
    #[test]
    fn a_checkout_session_id_is_masked_in_logged_paths() {
        let id = "cs_0123456789abcdef0123456789abcdef";
        assert_eq!(super::loggable(&format!("/checkout/{id}")), "/checkout/cs_…");
        assert_eq!(super::loggable(&format!("/v1/checkout/{id}/return")), "/v1/checkout/cs_…/return");
        assert_eq!(super::loggable("/v1/payments"), "/v1/payments");
    }
}
