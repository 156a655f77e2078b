//! The edge every request passes ([`Edge`] around the application, [`RouteEdge`] around each route): request id,
//! span, timeout, per-caller rate limit, per-route metrics, the error envelope.

use std::{net::SocketAddr, num::NonZeroU32, sync::Arc, time::Instant};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::{ApiError, AppState, RateLimit, client_ip::TrustedProxy, error::REQUEST_ID};

/// A body sent with a Content-Type that is not JSON is refused with 415 (no Content-Type at all is read as JSON).
fn unsupported_media(req: &Request) -> Option<Response> {
    let sends_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    let ct = req.headers().get(header::CONTENT_TYPE).filter(|_| sends_body)?;
    let essence = ct.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        return None;
    }
    Some(
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        )
        .into_response(),
    )
}

/// Every error answered outside Settle's handlers (axum's own rejections: a wrong method, a path segment that
/// is not UTF-8, a body over the limit on a raw-body route) becomes the JSON error envelope, keeping its status
/// and headers (`Allow`, `Retry-After`).
async fn envelope(res: Response) -> Response {
    let status = res.status();
    let json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "internal_error",
        _ => "request_invalid",
    };
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not take this method (see Allow)".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        s if s.is_server_error() => "an internal error occurred; quote the request id when reporting it".to_owned(),
        _ if !text.is_empty() => text,
        s => s.canonical_reason().unwrap_or("the request was refused").to_lowercase(),
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// The client's address ([`crate::client_ip`]): the peer's, or, when the peer is a trusted proxy, the first hop of
/// `X-Forwarded-For` from the right that is not one.
pub(crate) fn client_address(req: &Request, trusted_proxies: &[TrustedProxy]) -> String {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let Some(peer) = peer else { return "unknown".into() };
    // Read byte for byte: a hop that is not visible ASCII is a hop that is not an address (it stops the walk where
    // it stands), and never hides the hops a proxy appended after it.
    let forwarded: Vec<String> =
        req.headers().get_all("x-forwarded-for").iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
    let forwarded: Vec<&str> = forwarded.iter().map(String::as_str).collect();
    crate::client_ip::client_of(peer, &forwarded, trusted_proxies)
}

/// Runs the request (`run`) inside its request id (for error bodies), bounds it by the request timeout (SSE
/// streams excepted), and records its latency per route.
async fn request_context<F, Fut>(st: AppState, req: Request, run: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response> + Send + 'static,
{
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let streaming = route.as_ref().is_some_and(|r| matches!(r.as_str(), "/events" | "/v1/events/stream"));
    let started = Instant::now();
    let timeout = st.cfg.request_timeout;
    if streaming {
        let res = REQUEST_ID.scope(id, run(req)).await;
        return record(route.as_ref().map(MatchedPath::as_str), &method, started, res);
    }
    let read = matches!(method, Method::GET | Method::HEAD);
    if !read
        && !matches!(method, Method::OPTIONS)
        && st.ctx.read_only().is_some()
        && route.as_ref().is_none_or(|r| r.as_str() != "/v1/admin/read-only")
    {
        let res = REQUEST_ID.scope(id, async { crate::error::read_only().into_response() }).await;
        return record(route.as_ref().map(MatchedPath::as_str), &method, started, res);
    }
    // Traced (db check's workload): every statement of the request is recorded in its scope, reads' too.
    let traced = st
        .cfg
        .statement_sink
        .as_ref()
        .map(|_| settle_app::audit::Scope::traced(Some(id.clone()), Some(client_address(&req, &st.cfg.trusted_proxies)), anonymous()));
    let answer = if read {
        // A read runs inline: it has nothing to leave halfway, and a task of its own would cost a cached status
        // read about a tenth of its time. The few reads that write (a status read that finds a CHAIN payment paid
        // on chain) or hold a transaction (an order read as one snapshot) run those parts in tasks of their own
        // in settle-app, so the timeout or a client that goes away never cuts them off either.
        use futures::FutureExt;
        let run = std::panic::AssertUnwindSafe(REQUEST_ID.scope(id.clone(), settle_app::audit::carry(traced.clone(), run(req)))).catch_unwind();
        tokio::time::timeout(timeout, run).await.map(|r| r.map_err(|_| "a read panicked".to_owned()))
    } else {
        // A write runs in a task of its own, to its end: a client that goes away, or the timeout, never drops it
        // halfway through a database transaction (a transaction cut off mid-statement could leave its pooled
        // connection inside a transaction that no one ends, holding its locks).
        // Its changes are audited with the request's id, client address and (once authentication finds it) actor.
        let scope = traced
            .clone()
            .unwrap_or_else(|| settle_app::audit::Scope::new(Some(id.clone()), Some(client_address(&req, &st.cfg.trusted_proxies)), anonymous()));
        let mut task = tokio::spawn(REQUEST_ID.scope(id.clone(), settle_app::audit::within(scope, run(req))));
        tokio::time::timeout(timeout, &mut task).await.map(|r| r.map_err(|e| format!("a request's task failed: {e}")))
    };
    let res = REQUEST_ID
        .scope(id, async move {
            match answer {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "request failed");
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the request failed").into_response()
                }
                Err(_) if read => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "request_timeout", "the request took too long").into_response(),
                Err(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "request_timeout", "the request took too long; it finishes in the background")
                    .into_response(),
            }
        })
        .await;
    if let (Some(sink), Some(scope)) = (&st.cfg.statement_sink, traced)
        && let Ok(mut sink) = sink.lock()
    {
        let route = route.as_ref().map_or("unmatched", |r| r.as_str()).to_owned();
        sink.push(crate::state::RequestTrace { method: method.to_string(), route, status: res.status().as_u16(), statements: scope.statements() });
    }
    record(route.as_ref().map(MatchedPath::as_str), &method, started, res)
}

fn anonymous() -> settle_app::audit::Actor {
    settle_app::audit::Actor::new("anonymous", None)
}

/// Records a request's latency and count per route, method and status.
fn record(route: Option<&str>, method: &Method, started: Instant, res: Response) -> Response {
    observe(&http_metrics(route.unwrap_or("unmatched"), method, res.status().as_u16()), started);
    res
}

/// Counts one request under `m`, with its latency since `started`.
fn observe(m: &HttpMetrics, started: Instant) {
    m.duration.record(started.elapsed().as_secs_f64());
    m.requests.increment(1);
}

/// The HTTP metrics of one route, method and status.
struct HttpMetrics {
    duration: metrics::Histogram,
    requests: metrics::Counter,
}

type HttpMetricsByRoute = std::collections::HashMap<String, std::collections::HashMap<(&'static str, u16), Arc<HttpMetrics>>>;

/// The handles of `route`, `method` and `status`, registered once: a request costs a map lookup under a read
/// lock rather than three label strings and a registry lookup. Methods other than the standard ones count as
/// OTHER, so made-up methods cannot grow the label set.
fn http_metrics(route: &str, method: &Method, status: u16) -> Arc<HttpMetrics> {
    static HANDLES: std::sync::LazyLock<std::sync::RwLock<HttpMetricsByRoute>> = std::sync::LazyLock::new(Default::default);
    let method: &'static str = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    if let Some(m) = HANDLES.read().ok().and_then(|h| h.get(route).and_then(|r| r.get(&(method, status)).cloned())) {
        return m;
    }
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    let m = Arc::new(HttpMetrics {
        duration: metrics::histogram!("settle_http_request_duration_seconds", &labels),
        requests: metrics::counter!("settle_http_requests_total", &labels),
    });
    if let Ok(mut h) = HANDLES.write() {
        h.entry(route.to_owned()).or_default().insert((method, status), m.clone());
    }
    m
}

/// The request's id: the client's `X-Request-Id` when it is a bounded token (`[A-Za-z0-9._-]{1,64}`, sent once),
/// since it goes into log lines and the audit log as sent; otherwise one of Settle's own (a UUID v4 from the
/// thread's random generator: no system call per request), which replaces the client's in the request.
fn request_id(req: &mut Request) -> HeaderValue {
    let ok = |v: &HeaderValue| {
        let b = v.as_bytes();
        (1..=64).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    };
    let mut sent = req.headers().get_all(&X_REQUEST_ID).iter();
    if let (Some(v), None) = (sent.next(), sent.next())
        && ok(v)
    {
        return v.clone();
    }
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let value = HeaderValue::from_str(id.hyphenated().encode_lower(&mut buf)).unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    req.headers_mut().insert(&X_REQUEST_ID, value.clone());
    value
}

/// A header name made once (a `&str` name is parsed again on every use).
static X_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

type BoxFuture = std::pin::Pin<Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send>>;

/// The outside of the whole application, once per request (not once per route): the request's id (kept or made,
/// and answered in `X-Request-Id`), its log span, and the body limit. One hand-written service rather than a stack
/// of layers, each of which would box the request's future once more.
///
/// It also answers the most polled read, `GET /payments/{paymentId}/status`, without routing it when this instance
/// holds both the caller's key (authenticated here before) and the payment's status in memory: the same answer,
/// headers, rate limit and metrics as the route's, at a fraction of the cost. Anything else about such a request
/// (a key or status not held, a query, the rate limit reached) takes the route, which answers as it always does.
/// Not while CORS is configured (its headers are the route's) or requests are traced (`db check`).
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    body_limit: axum::extract::DefaultBodyLimit,
    held_status: Option<Arc<(AppState, Option<Arc<Limiter>>)>>,
}

impl<S> Edge<S> {
    pub fn new(inner: S, state: AppState, limiter: Option<Arc<Limiter>>) -> Self {
        let body_limit = axum::extract::DefaultBodyLimit::max(state.cfg.body_limit);
        let direct = state.cfg.cors_origins.is_empty() && state.cfg.statement_sink.is_none();
        Self { inner, body_limit, held_status: direct.then(|| Arc::new((state, limiter))) }
    }
}

/// The route a status read answered without routing is counted under.
const STATUS_ROUTE: &str = "/payments/{paymentId}/status";

/// The payment id of `GET /payments/{id}/status` without a query, as sent: [`settle_app::payments::status_held`]
/// holds only ids as Settle writes them, so any other (encoded, or with a slash) is answered by the route.
fn status_path(req: &Request) -> Option<&str> {
    if req.method() != Method::GET || req.uri().query().is_some() {
        return None;
    }
    let id = req.uri().path().strip_prefix("/payments/")?.strip_suffix("/status")?;
    (!id.is_empty()).then_some(id)
}

/// [`status_path`]'s payment id, with the bearer key the request presents.
fn status_read(req: &Request) -> Option<(&str, &str)> {
    Some((status_path(req)?, crate::extract::bearer_token(req.headers())?))
}

/// [`status_read`] answered from memory, or None for the request to be routed. The rate limit is checked once the
/// answer is known to be held (a request that is then routed is checked there, and never charged twice), and
/// refuses as the route would: the same 429, counted under the route.
async fn held_status(state: &AppState, limiter: Option<&Limiter>, started: Instant, req: &mut Request) -> Option<Response> {
    let (id, key) = status_read(req)?;
    let merchant = settle_app::merchants::known_merchant(&state.ctx, key).await?;
    let body = settle_app::payments::status_held(&state.ctx, &merchant, id).await?;
    let took = started.elapsed();
    if let Some(l) = limiter {
        let request_id = req.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if let Some(refused) = REQUEST_ID.sync_scope(request_id, || rate_check_as(l, req, Some(merchant))) {
            return Some(record(Some(STATUS_ROUTE), &Method::GET, started, refused));
        }
    }
    settle_app::payments::status_held_served(&state.ctx, took);
    let mut res = Response::new(axum::body::Body::from(body));
    res.headers_mut().insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Its metric handles, looked up once.
    static SERVED: std::sync::OnceLock<Arc<HttpMetrics>> = std::sync::OnceLock::new();
    observe(SERVED.get_or_init(|| http_metrics(STATUS_ROUTE, &Method::GET, 200)), started);
    Some(res)
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        use tracing::Instrument;
        let id = request_id(&mut req);
        self.body_limit.apply(&mut req);
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %crate::router::loggable(req.uri().path()),
            request_id = %id.to_str().unwrap_or_default()
        );
        let started = Instant::now();
        let inner = self.inner.clone();
        let routed = std::mem::replace(&mut self.inner, inner);
        // Each way its own future: the routed one is large, and a future is moved whole into its box.
        match &self.held_status {
            Some(held) if status_path(&req).is_some() => {
                let held = held.clone();
                let answer = async move {
                    let (state, limiter) = &*held;
                    let mut req = req;
                    match held_status(state, limiter.as_deref(), started, &mut req).await {
                        Some(res) => Ok(res),
                        None => Box::pin(tower::ServiceExt::oneshot(routed, req)).await,
                    }
                };
                Box::pin(finish(answer, id, started).instrument(span))
            }
            _ => Box::pin(finish(tower::ServiceExt::oneshot(routed, req), id, started).instrument(span)),
        }
    }
}

/// The edge's end of every request: its id answered, and its log lines.
async fn finish(
    answer: impl Future<Output = Result<Response, std::convert::Infallible>>,
    id: HeaderValue,
    started: Instant,
) -> Result<Response, std::convert::Infallible> {
    tracing::debug!("started processing request");
    let Ok(mut res) = answer.await;
    let latency = started.elapsed();
    if res.status().is_server_error() {
        tracing::error!(status = res.status().as_u16(), ?latency, "response failed");
    } else {
        tracing::debug!(status = res.status().as_u16(), ?latency, "finished processing request");
    }
    res.headers_mut().entry(&X_REQUEST_ID).or_insert(id);
    Ok(res)
}

/// Each route's part of the edge (it needs the matched route): the request context ([`request_context`]: read-only
/// mode, timeout, a write's own task, audit scope, metrics), the rate limit, a body that is not JSON (415), a query
/// parameter the route does not take (400), and the error envelope around whatever else answered.
#[derive(Clone)]
pub struct RouteEdgeLayer {
    state: AppState,
    limiter: Option<Arc<Limiter>>,
}

impl RouteEdgeLayer {
    pub fn new(state: AppState, limiter: Option<Arc<Limiter>>) -> Self {
        Self { state, limiter }
    }
}

impl<S> tower::Layer<S> for RouteEdgeLayer {
    type Service = RouteEdge<S>;
    fn layer(&self, inner: S) -> RouteEdge<S> {
        RouteEdge { inner, state: self.state.clone(), limiter: self.limiter.clone() }
    }
}

#[derive(Clone)]
pub struct RouteEdge<S> {
    inner: S,
    state: AppState,
    limiter: Option<Arc<Limiter>>,
}

impl<S> tower::Service<Request> for RouteEdge<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service that was made ready answers; its clone waits for the next request.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let (state, limiter) = (self.state.clone(), self.limiter.clone());
        Box::pin(async move {
            Ok(request_context(state, req, move |mut req| async move {
                if let Some(l) = &limiter
                    && let Some(refused) = rate_check(l, &mut req).await
                {
                    return refused;
                }
                if let Some(refused) = unsupported_media(&req).or_else(|| unknown_query(&req)) {
                    return refused;
                }
                let Ok(res) = inner.call(req).await;
                envelope(res).await
            })
            .await)
        })
    }
}

/// A keyed token bucket: the key is the caller's API key (hashed) or, without one, its address. Buckets of
/// callers gone quiet are dropped every few thousand requests, so made-up keys cannot grow it without bound.
#[derive(Clone)]
pub struct Limiter {
    calls: Arc<DefaultKeyedRateLimiter<String>>,
    /// Attempts at the admin routes, per address: few, whatever the general rate.
    admin: Arc<DefaultKeyedRateLimiter<String>>,
    /// Gateway callbacks (unauthenticated), per address: their own budget, apart from API calls.
    callbacks: Arc<DefaultKeyedRateLimiter<String>>,
    seen: Arc<std::sync::atomic::AtomicU64>,
    ctx: settle_app::Context,
    trusted_proxies: Arc<Vec<TrustedProxy>>,
    /// The admin token: its holder is never counted against the admin-attempt limit, only wrong tokens are.
    admin_token: Option<secrecy::SecretString>,
}

/// Admin-route attempts allowed per client address: a burst of 10, then one every 6 s.
const ADMIN_PER_MINUTE: u32 = 10;
/// Gateway callbacks per second per address (a burst of twice that): a gateway sends one per transaction.
const CALLBACKS_PER_SECOND: u32 = 50;

impl Limiter {
    pub fn new(l: RateLimit, ctx: settle_app::Context, trusted_proxies: Vec<TrustedProxy>, admin_token: Option<secrecy::SecretString>) -> Self {
        let per = NonZeroU32::new(l.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(l.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let admin = NonZeroU32::new(ADMIN_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        let callbacks = NonZeroU32::new(CALLBACKS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let callback_burst = NonZeroU32::new(CALLBACKS_PER_SECOND * 2).unwrap_or(NonZeroU32::MIN);
        Self {
            calls: Arc::new(RateLimiter::keyed(Quota::per_second(per).allow_burst(burst))),
            admin: Arc::new(RateLimiter::keyed(Quota::per_minute(admin))),
            callbacks: Arc::new(RateLimiter::keyed(Quota::per_second(callbacks).allow_burst(callback_burst))),
            seen: Default::default(),
            ctx,
            trusted_proxies: Arc::new(trusted_proxies),
            admin_token,
        }
    }

    /// Whether the request carries the admin token itself.
    fn is_admin(&self, req: &Request) -> bool {
        use secrecy::ExposeSecret;
        match (&self.admin_token, crate::extract::bearer_token(req.headers())) {
            (Some(expected), Some(given)) => crate::extract::is_admin_token(given, expected.expose_secret()),
            _ => false,
        }
    }

    fn client(&self, req: &Request) -> String {
        client_address(req, &self.trusted_proxies)
    }

    fn tidy(&self) {
        if self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4096 == 4095 {
            for l in [&self.calls, &self.admin, &self.callbacks] {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }
}

/// Rate limits a merchant's calls by merchant (a key this instance has authenticated: no lookup), and every
/// other call (no key, an unknown or wrong key, the admin token) by client address: random bearer tokens from
/// one address share one bucket, so they cannot buy a database lookup each.
async fn rate_check(limiter: &Limiter, req: &mut Request) -> Option<Response> {
    let merchant = match crate::extract::bearer_token(req.headers()) {
        Some(t) => settle_app::merchants::known_merchant(&limiter.ctx, t).await,
        None => None,
    };
    rate_check_as(limiter, req, merchant)
}

/// [`rate_check`] for a request whose key's merchant is already known (None: no key this instance knows).
fn rate_check_as(limiter: &Limiter, req: &mut Request, merchant: Option<String>) -> Option<Response> {
    if let Some(m) = &merchant {
        req.extensions_mut().insert(crate::extract::KnownMerchant(m.clone()));
    }
    // A write's client address was worked out once already, for its audit scope.
    let client = settle_app::audit::current().and_then(|s| s.client.clone()).unwrap_or_else(|| limiter.client(req));
    let key = match merchant {
        // One bucket per merchant, whichever mode's key calls: test keys do not double a merchant's rate.
        Some(m) => format!("merchant:{}", settle_domain::mode::merchant_of(&m)),
        None => format!("addr:{client}"),
    };
    limiter.tidy();
    let path = req.uri().path();
    let checked = if path.starts_with("/v1/merchants") || path.starts_with("/v1/admin") {
        // Failures are limited, not the operator: a right admin token is never refused by the guessers' bucket of
        // its address (only by the general rate).
        let guess = if limiter.is_admin(req) { Ok(()) } else { limiter.admin.check_key(&client) };
        guess.and_then(|()| limiter.calls.check_key(&key))
    } else if path == "/v1/payments/callback" || path == "/payments/callback" {
        limiter.callbacks.check_key(&client)
    } else {
        limiter.calls.check_key(&key)
    };
    match checked {
        Ok(()) => None,
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            metrics::counter!("settle_rate_limited_total").increment(1);
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; retry after the time in Retry-After");
            e.retry_after = Some(wait.as_secs().max(1));
            Some(e.into_response())
        }
    }
}

/// The query parameters each /v1 route takes, as the OpenAPI document declares them: (method, route) -> names.
fn query_params() -> &'static std::collections::HashMap<(String, String), Vec<String>> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<(String, String), Vec<String>>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let doc: serde_json::Value = serde_json::from_str(crate::router::openapi_json()).unwrap_or_default();
        let mut map = std::collections::HashMap::new();
        for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in ops.as_object().into_iter().flatten() {
                let names = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect();
                map.insert((method.to_ascii_uppercase(), path.clone()), names);
            }
        }
        map
    })
}

/// A /v1 route refuses a query parameter it does not take with 400 naming it, as it refuses an unknown body field:
/// a misspelt filter (`?stauts=FAILED`) would otherwise list everything. HEAD is checked as its GET; a method the
/// route does not have is left to its 405. Left alone: the seed's paths (they keep their leniency) and the
/// gateway's callback (its URL is configured, and may carry a query of the operator's own).
fn unknown_query(req: &Request) -> Option<Response> {
    if let (Some(route), Some(query)) = (req.extensions().get::<MatchedPath>(), req.uri().query())
        && route.as_str().starts_with("/v1/")
        && route.as_str() != "/v1/payments/callback"
    {
        let method = if req.method() == Method::HEAD { "GET" } else { req.method().as_str() };
        if let Some(allowed) = query_params().get(&(method.to_owned(), route.as_str().to_owned())) {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let name = pair.split('=').next().unwrap_or_default();
                // `metadata[key]` is the `metadata` parameter (an OpenAPI deepObject; the handler checks the key).
                let decoded = crate::extract::percent_decode(name);
                let base = decoded.as_deref().unwrap_or(name);
                let base = if base.starts_with("metadata[") { "metadata" } else { name };
                if !allowed.iter().any(|a| a == base) {
                    return Some(
                        crate::extract::unknown_query(&crate::extract::percent_decode(name).unwrap_or_else(|| name.to_owned())).into_response(),
                    );
                }
            }
        }
    }
    None
}
