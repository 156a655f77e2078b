//! Extractors: every rejection answers with the error envelope, never axum's plain-text defaults.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use settle_app::idempotency::{self, IdemKey, Outcome, Reply};

use crate::{ApiError, AppState};

/// The merchant the request's API key (`Authorization: Bearer <apiKey>`) belongs to.
pub struct Merchant(pub String);

fn bearer(parts: &Parts) -> Option<&str> {
    bearer_token(&parts.headers)
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The merchant the rate limiter already resolved this request's key to (from the authentication cache), so
/// the key is not hashed and looked up twice.
#[derive(Clone)]
pub(crate) struct KnownMerchant(pub String);

impl FromRequestParts<AppState> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        if let Some(KnownMerchant(m)) = parts.extensions.get::<KnownMerchant>() {
            return Ok(Self(m.clone()));
        }
        let key = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        Ok(Self(settle_app::merchants::authenticate(&st.ctx, key).await?))
    }
}

/// The caller of a payment's checkout route: its merchant's API key, the payment's client secret (`pcs_...`, from
/// the create answer) or one of its checkout sessions' ids (`cs_...`), each of which opens that one payment and
/// nothing else. The merchant, and the
/// payment id when the caller is the payer (by its client secret).
pub struct PaymentCaller(pub String, pub Option<String>);

impl FromRequestParts<AppState> for PaymentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts).ok_or_else(ApiError::unauthorized)?.to_owned();
        if key.starts_with("cs_") {
            let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, st).await.map_err(|_| ApiError::unauthorized())?;
            // An expired session reads its payment, and pays nothing (409).
            let write = parts.method != axum::http::Method::GET;
            let merchant = settle_app::checkout::authorize_session(&st.ctx, &id, &key, write).await.map_err(|e| match e {
                settle_app::AppError::InvalidState(_) => ApiError::from(e),
                settle_app::AppError::DatabaseUnavailable(_) => ApiError::from(e),
                _ => ApiError::unauthorized(),
            })?;
            settle_app::audit::set_actor(settle_app::audit::Actor::new("checkout", None));
            return Ok(Self(merchant, Some(id)));
        }
        if key.starts_with("pcs_") {
            let axum::extract::Path(id) = axum::extract::Path::<String>::from_request_parts(parts, st).await.map_err(|_| ApiError::unauthorized())?;
            let merchant = settle_app::chain::checkout::authorize_secret(&st.ctx, &id, &key).await.map_err(|e| match e {
                settle_app::AppError::Invalid { .. } => ApiError::from(e),
                _ => ApiError::unauthorized(),
            })?;
            settle_app::audit::set_actor(settle_app::audit::Actor::new("checkout", None));
            return Ok(Self(merchant, Some(id)));
        }
        Ok(Self(settle_app::merchants::authenticate(&st.ctx, &key).await?, None))
    }
}

/// The admin token of the merchant routes (`POST /v1/merchants`, `PATCH /v1/merchants/{merchantId}`), checked in
/// constant time.
pub struct Admin;

/// Whether `given` is the admin token.
pub(crate) fn is_admin_token(given: &str, expected: &str) -> bool {
    // Digests of equal length compared in constant time: neither the bytes nor the length of the token leak.
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given.as_bytes()), Sha256::digest(expected.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        use secrecy::ExposeSecret;
        let Some(expected) = &st.cfg.admin_token else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "merchant administration is disabled; set SETTLE_ADMIN_TOKEN to enable it",
            ));
        };
        let given = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        if !is_admin_token(given, expected.expose_secret()) {
            return Err(ApiError::unauthorized());
        }
        settle_app::audit::set_actor(settle_app::audit::Actor::new("admin", None));
        Ok(Self)
    }
}

/// A query string's pairs, in order, each value percent-decoded (a value that is not valid percent-encoded UTF-8 is
/// a 400 naming its key).
pub fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).ok_or_else(|| ApiError::invalid(k.to_owned(), format!("{k} is not valid percent-encoded UTF-8")))?;
            Ok((k.to_owned(), v))
        })
        .collect()
}

/// An RFC 3339 time (a `createdFrom`/`createdTo` filter) as epoch milliseconds.
pub fn rfc3339_ms(name: &'static str, v: &str) -> Result<i64, ApiError> {
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::invalid(name, format!("{name} must be an RFC 3339 time, such as 2026-12-02T00:00:00Z")))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A query parameter the route does not take: 400 naming it (as an unknown body field is).
pub fn unknown_query(name: &str) -> ApiError {
    ApiError::invalid(name.to_owned(), format!("unknown query parameter {name}"))
}

/// `startingAfter` and `endingBefore` page in opposite directions: at most one of them.
pub fn one_cursor(starting_after: bool, ending_before: bool) -> Result<(), ApiError> {
    if starting_after && ending_before {
        return Err(ApiError::invalid("endingBefore", "give startingAfter or endingBefore, not both"));
    }
    Ok(())
}

/// A page size: an integer from 1 to 100.
pub fn query_limit(v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| ApiError::invalid("limit", "limit must be an integer from 1 to 100"))
}

/// Decodes `%XX` escapes and `+` (a space) of a query value; None when the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The body of a route that changes only what it is sent (PATCH, a switch): an empty body is a 400 saying
/// what to send, not an empty object.
pub fn parse_json_required<T: DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "body_invalid", format!("send a JSON object: {what}")));
    }
    parse_json(raw)
}

/// Parses a JSON body into `T`, naming the field at fault in `param`.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) { b"{}" } else { raw };
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "body_invalid", "the body must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(StatusCode::BAD_REQUEST, "body_invalid", format!("the body is not valid JSON: {msg}"));
        }
        // serde names a missing or unknown field only in its message.
        let named = |prefix: &str| msg.strip_prefix(prefix).and_then(|r| r.split('`').next()).map(str::to_owned);
        if let Some(f) = named("missing field `") {
            return ApiError::missing(f);
        }
        if let Some(f) = named("unknown field `") {
            return ApiError::invalid(f.clone(), format!("unknown field {f}"));
        }
        let param = if path == "." { String::new() } else { path };
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        if param.is_empty() {
            ApiError::new(StatusCode::BAD_REQUEST, "body_invalid", format!("the body must be a JSON object: {msg}"))
        } else {
            ApiError::invalid(param.clone(), format!("{param}: {msg}"))
        }
    })
}

/// A mutating request: the caller (authenticated first), its Idempotency-Key, and its parsed JSON body.
pub struct Mutation<T> {
    pub merchant: String,
    pub idem: Option<IdemKey>,
    pub body: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Mutation<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let Merchant(merchant) = Merchant::from_request_parts(&mut parts, st).await?;
        let (idem, raw) = keyed_body(parts, body, st, &merchant).await?;
        let body = parse_json(&raw)?;
        Ok(Self { merchant, idem, body })
    }
}

/// The request's body and its Idempotency-Key (bound to the merchant, the method, the path and the body), for a
/// caller already authenticated as `merchant`.
pub(crate) async fn keyed_body(parts: Parts, body: axum::body::Body, st: &AppState, merchant: &str) -> Result<(Option<IdemKey>, Bytes), ApiError> {
    let key = match parts.headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| ApiError::invalid("Idempotency-Key", "Idempotency-Key must be printable ASCII"))?.to_owned()),
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let raw = Bytes::from_request(Request::from_parts(parts, body), st).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is too large")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "body_invalid", "the request body could not be read")
        }
    })?;
    let idem = match key {
        Some(k) if merchant == settle_app::merchants::ADMIN_SCOPE => Some(IdemKey::new(&k, &admin_secrets(st), &method, &path, &raw)?),
        Some(k) => Some(IdemKey::new(&k, &idempotency::fingerprint_secrets(&st.ctx, merchant).await?, &method, &path, &raw)?),
        None => None,
    };
    Ok((idem, raw))
}

/// The fingerprint keys of the administration's Idempotency-Keys: derived from the master keys when there are
/// some, then from the admin token (neither is in the database).
fn admin_secrets(st: &AppState) -> Vec<Vec<u8>> {
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    if let Some(keys) = st.ctx.settings.keyring.as_deref() {
        secrets.extend(keys.derive("settle/idempotency-fingerprint/v1/admin").into_iter().map(|k| k[..].to_vec()));
    }
    if let Some(token) = &st.cfg.admin_token {
        secrets.push(Sha256::new().chain_update(b"settle/admin-idempotency\0").chain_update(token.expose_secret().as_bytes()).finalize().to_vec());
    }
    secrets
}

/// A payer's checkout request: its caller (a merchant key or the payment's client secret, as [`PaymentCaller`]),
/// its Idempotency-Key and its parsed JSON body.
pub struct Checkout<T> {
    pub merchant: String,
    pub idem: Option<IdemKey>,
    pub body: T,
    /// Whether the caller is the payer (a client secret or a checkout session), not the merchant.
    pub payer: bool,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Checkout<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let PaymentCaller(merchant, payer_of) = PaymentCaller::from_request_parts(&mut parts, st).await?;
        let (mut idem, raw) = keyed_body(parts, body, st, &merchant).await?;
        // A payer's keys live in a namespace of their payment's: a client secret can neither see whether the merchant
        // used a key (a 422 would say so) nor take one of the merchant's for 24 h.
        let payer = payer_of.is_some();
        if let (Some(k), Some(payment)) = (idem.as_mut(), payer_of) {
            use sha2::{Digest, Sha256};
            let scoped = Sha256::digest(format!("{payment}\0{}", k.key).as_bytes());
            k.key = format!("pcs:{}", hex::encode(&scoped[..30]));
        }
        let body = parse_json(&raw)?;
        Ok(Self { merchant, idem, body, payer })
    }
}

/// A reply as the payer sees it: a payment in it (the answer itself, its `payment`, or a decline's `error.payment`)
/// without what is the merchant's alone (its metadata, the customer's email, an operator's flag).
pub fn for_payer(mut r: Reply) -> Reply {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&r.body) else { return r };
    let strip = |p: &mut serde_json::Value| {
        if let Some(o) = p.as_object_mut().filter(|o| o.contains_key("paymentId")) {
            o.remove("customerEmail");
            o.remove("flagReason");
            o.insert("metadata".into(), serde_json::json!({}));
        }
    };
    strip(&mut v);
    strip(&mut v["payment"]);
    strip(&mut v["error"]["payment"]);
    if let Ok(body) = serde_json::to_string(&v) {
        r.body = body;
    }
    r
}

/// The HTTP status of an outcome: 200, 201, 202, or 402 for a decline (the body says what was declined).
pub fn status_of(o: Outcome) -> StatusCode {
    match o {
        Outcome::Done => StatusCode::OK,
        Outcome::Created => StatusCode::CREATED,
        Outcome::Accepted => StatusCode::ACCEPTED,
        Outcome::Declined => StatusCode::PAYMENT_REQUIRED,
    }
}

/// Sends a stored or fresh reply as JSON, marking replays with `Idempotent-Replayed: true`.
pub fn reply(r: Reply) -> Response {
    let status = status_of(r.outcome);
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], r.body).into_response();
    if r.replayed {
        res.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    res
}

/// [`reply`], a decline (402) in the error envelope with what was declined inside it, as every /v1 route answers.
pub fn reply_v1(r: Reply, what: crate::error::Declined) -> Response {
    if r.outcome != Outcome::Declined {
        return reply(r);
    }
    let mut res = crate::error::declined(&r.body, what);
    if r.replayed {
        res.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    res
}
