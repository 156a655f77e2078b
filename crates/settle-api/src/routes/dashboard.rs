//! `/dashboard`: a merchant's payments (live), orders and sagas, and Settle's health, in the browser. Its three
//! files (assets/dashboard) are compiled into the binary; it calls only this server's API, with the key the user
//! signs in with (kept in the tab's sessionStorage).

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// Everything from this server only; no inline script or style, no form posts, never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

pub async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, CSP), (header::X_CONTENT_TYPE_OPTIONS, "nosniff"), (header::REFERRER_POLICY, "no-referrer")],
        Html(include_str!("../../assets/dashboard/index.html")),
    )
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind): (&'static str, &'static str) = match name.as_str() {
        "app.js" => (include_str!("../../assets/dashboard/app.js"), "text/javascript; charset=utf-8"),
        "app.css" => (include_str!("../../assets/dashboard/app.css"), "text/css; charset=utf-8"),
        _ => return crate::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response(),
    };
    static_asset(body, kind, CSP)
}

/// A file of a page served from the binary (`kind` its content type), under the page's `csp`.
pub(crate) fn static_asset(body: &'static str, kind: &'static str, csp: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, csp),
        ],
        body,
    )
        .into_response()
}
