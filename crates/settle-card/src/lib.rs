//! Settle's card rail, knowing nothing of the database.
//!
//! - [`wire`]: the gateway's JSON (charge request, transaction, callback).
//! - [`client`]: [`client::GatewayClient`], the resilient gateway client: connect and request timeouts, retries
//!   with backoff and jitter only where safe, a circuit breaker, a bulkhead.
//! - [`breaker`]: [`breaker::CircuitBreaker`], count-window circuit breaker with Resilience4j's semantics.
//! - [`sim`]: the PG simulator, a real HTTP(S) server with fault knobs (`settle pg-sim`, or port 0 in tests).
//! - [`tls`]: the one rustls provider of the process, and the simulator's generated CA.

pub mod breaker;
pub mod client;
pub mod sim;
pub mod tls;
pub mod wire;
