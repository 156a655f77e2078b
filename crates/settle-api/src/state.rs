//! The state every handler receives.

use std::{sync::Arc, time::Duration};

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use settle_app::Context;
use tokio::sync::watch;

/// A per-caller rate limit: a steady rate and a burst.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Settings of the HTTP edge.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Enables `POST /v1/merchants` for callers presenting this token.
    pub admin_token: Option<SecretString>,
    /// Allowed CORS origins; empty allows none, `*` allows any.
    pub cors_origins: Vec<String>,
    /// None disables rate limiting.
    pub rate_limit: Option<RateLimit>,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<crate::client_ip::TrustedProxy>,
    /// Bound on one request (SSE streams excepted).
    pub request_timeout: Duration,
    /// Records every request's statements here (`settle db check`'s workload); None in service.
    pub statement_sink: Option<StatementSink>,
}

/// Where traced requests go: each with its method, route, status and statements in order.
pub type StatementSink = Arc<std::sync::Mutex<Vec<RequestTrace>>>;

#[derive(Clone, Debug)]
pub struct RequestTrace {
    pub method: String,
    pub route: String,
    pub status: u16,
    pub statements: Vec<settle_app::audit::Traced>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            admin_token: None,
            cors_origins: Vec::new(),
            rate_limit: Some(RateLimit { per_second: 1000, burst: 2000 }),
            body_limit: 64 * 1024,
            trusted_proxies: Vec::new(),
            request_timeout: Duration::from_secs(30),
            statement_sink: None,
        }
    }
}

/// What every handler receives: one pointer, since axum clones the state several times per request.
#[derive(Clone)]
pub struct AppState(Arc<State>);

pub struct State {
    pub ctx: Context,
    pub cfg: Arc<ApiConfig>,
    pub prometheus: PrometheusHandle,
    /// Turns true at shutdown: readiness fails and SSE streams end.
    pub stopping: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(state: State) -> Self {
        Self(Arc::new(state))
    }
}

impl std::ops::Deref for AppState {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}
