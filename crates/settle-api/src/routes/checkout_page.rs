//! `/checkout/{sessionId}`: Settle's hosted checkout page (the payer's side of one payment). Its three files
//! (assets/checkout) are compiled into the binary; the page calls only this server's API, with the session id in its
//! URL as the payer's key.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;

use crate::AppState;

/// Everything from this server only; no inline script or style, no form posts, never framed (but by the merchant
/// page that embeds it, [`page`]); the page navigates to the merchant's URLs itself.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// `?embed=popup|overlay&origin=…`: set by `/v1/checkout.js` when a merchant page opens the checkout.
#[derive(Deserialize)]
pub struct Embed {
    origin: Option<String>,
}

pub async fn page(State(st): State<AppState>, Path(session_id): Path<String>, Query(embed): Query<Embed>) -> Response {
    if !settle_app::checkout::is_session_id(&session_id) {
        return crate::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such checkout session").into_response();
    }
    // Framed only by the merchant page that asked, and only when it is on the merchant's redirectHosts.
    let origin = match embed.origin {
        Some(o) => settle_app::checkout::embed_origin(&st.ctx, &session_id, &o).await.ok().flatten(),
        None => None,
    };
    let csp = match origin {
        Some(o) => HeaderValue::from_str(&CSP.replace("frame-ancestors 'none'", &format!("frame-ancestors {o}"))),
        None => Ok(HeaderValue::from_static(CSP)),
    };
    (
        [
            (header::CONTENT_SECURITY_POLICY, csp.unwrap_or(HeaderValue::from_static(CSP))),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Html(include_str!("../../assets/checkout/index.html")),
    )
        .into_response()
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match name.as_str() {
        "checkout.js" => (include_str!("../../assets/checkout/checkout.js"), "text/javascript; charset=utf-8"),
        "checkout.css" => (include_str!("../../assets/checkout/checkout.css"), "text/css; charset=utf-8"),
        // Vendored unchanged (assets/checkout/vendor/README.md).
        "qrcode.mjs" => (include_str!("../../assets/checkout/vendor/qrcode.mjs"), "text/javascript; charset=utf-8"),
        _ => return crate::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response(),
    };
    super::dashboard::static_asset(body, kind, CSP)
}

/// `/v1/checkout.js`: the embeddable button's script, loaded by merchant pages of any origin.
pub async fn embed_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::HeaderName::from_static("cross-origin-resource-policy"), "cross-origin"),
        ],
        include_str!("../../assets/checkout/embed.js"),
    )
        .into_response()
}
