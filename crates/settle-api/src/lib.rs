//! Settle's HTTP edge (axum): routes, extractors, the error envelope, OpenAPI and SSE.
//!
//! - [`router`]: builds the axum router and the OpenAPI document from one route table.
//! - [`routes`]: handlers grouped by resource (`payments/create.rs`, `status.rs`, ...).
//! - [`extract`]: authentication, the JSON body extractor, Idempotency-Key.
//! - [`error`]: [`ApiError`], the one JSON error envelope and its stable codes.
//! - [`middleware`]: request id, rate limit, request timeout, per-route metrics.
//! - [`client_ip`]: who the client is behind trusted proxies (`X-Forwarded-For`, CIDR ranges).
//! - [`schemas`]: the OpenAPI description of the JSON settle-app answers with.
//!
//! Handlers parse input into domain types, call a service of settle-app, and shape its answer. They never
//! touch SQL.

pub mod client_ip;
mod details;
pub mod error;
pub mod extract;
pub mod middleware;
mod openapi;
pub mod router;
pub mod routes;
pub mod schemas;
pub mod state;

pub use error::ApiError;
pub use router::{openapi, router};
pub use state::{ApiConfig, AppState, RateLimit, RequestTrace, StatementSink};
