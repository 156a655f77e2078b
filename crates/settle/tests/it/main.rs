//! Settle's integration tests: the real server on port 0, real databases, real Redis.

mod helpers;

mod bad_input;
mod cache;
mod cli;
mod concurrency;
mod idempotency;
mod migrations;
mod payments_api;
mod restart;
mod sse;
