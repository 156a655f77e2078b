//! `/checkout/{sessionId}`: Settle's hosted checkout page (the payer's side of one payment). Its three files
//! (assets/checkout) are compiled into the binary; the page calls only this server's API, with the session id in its
//! URL as the payer's key.

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// Everything from this server only; no inline script or style, no form posts, never framed; the page navigates to
/// the merchant's URLs itself.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub async fn page(Path(session_id): Path<String>) -> Response {
    if !settle_app::checkout::is_session_id(&session_id) {
        return crate::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such checkout session").into_response();
    }
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(include_str!("../../assets/checkout/index.html")),
    )
        .into_response()
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match name.as_str() {
        "checkout.js" => (include_str!("../../assets/checkout/checkout.js"), "text/javascript; charset=utf-8"),
        "checkout.css" => (include_str!("../../assets/checkout/checkout.css"), "text/css; charset=utf-8"),
        _ => return crate::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response(),
    };
    super::dashboard::static_asset(body, kind, CSP)
}
