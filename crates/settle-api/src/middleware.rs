//! Middleware: request context (id, span, timeout), per-caller rate limit, per-route metrics.

use std::{net::SocketAddr, num::NonZeroU32, sync::Arc, time::Instant};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use sha2::Digest;

use crate::{ApiError, AppState, RateLimit, error::REQUEST_ID};

/// Runs the request inside its request id (for error bodies), bounds it by the request timeout (SSE streams
/// excepted), and records its latency per route.
pub async fn request_context(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let streaming = route == "/events";
    let started = Instant::now();
    let timeout = st.cfg.request_timeout;
    let res = REQUEST_ID
        .scope(id, async move {
            if streaming {
                next.run(req).await
            } else {
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "request_timeout", "the request took too long").into_response(),
                }
            }
        })
        .await;
    let status = res.status().as_u16().to_string();
    metrics::histogram!("settle_http_request_duration_seconds", "method" => method.clone(), "route" => route.clone(), "status" => status.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("settle_http_requests_total", "method" => method, "route" => route, "status" => status).increment(1);
    res
}

/// A keyed token bucket: the key is the caller's API key (hashed) or, without one, its address. Buckets of
/// callers gone quiet are dropped every few thousand requests, so made-up keys cannot grow it without bound.
#[derive(Clone)]
pub struct Limiter(Arc<DefaultKeyedRateLimiter<String>>, Arc<std::sync::atomic::AtomicU64>);

impl Limiter {
    pub fn new(l: RateLimit) -> Self {
        let per = NonZeroU32::new(l.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(l.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Self(Arc::new(RateLimiter::keyed(Quota::per_second(per).allow_burst(burst))), Default::default())
    }

    fn tidy(&self) {
        if self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4096 == 4095 {
            self.0.retain_recent();
            self.0.shrink_to_fit();
        }
    }
}

pub async fn rate_limit(State(limiter): State<Limiter>, req: Request, next: Next) -> Response {
    let key = match req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(auth) => hex::encode(sha2::Sha256::digest(auth.as_bytes())),
        None => req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .unwrap_or_else(|| "anonymous".into()),
    };
    limiter.tidy();
    match limiter.0.check_key(&key) {
        Ok(()) => next.run(req).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            metrics::counter!("settle_rate_limited_total").increment(1);
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; retry after the time in Retry-After");
            e.retry_after = Some(wait.as_secs().max(1));
            REQUEST_ID
                .scope(req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(), async { e.into_response() })
                .await
        }
    }
}
