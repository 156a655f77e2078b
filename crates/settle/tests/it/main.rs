//! Settle's integration tests: the real server on port 0, real databases, real Redis.
#![allow(clippy::unwrap_used)]

mod helpers;

mod after_commit;
mod api_schemas;
mod api_v1;
mod audit;
mod backup;
mod bad_input;
mod cache;
mod cancellations;
mod card;
mod card_hardening;
mod chain;
mod chain_faults;
mod chain_refunds;
mod checkout;
mod cli;
mod concurrency;
mod db_check;
mod details;
mod docs_browser;
mod edge;
mod idempotency;
mod keys;
mod migrations;
mod modes;
mod nats;
mod openapi_fuzz;
mod ops;
mod orders;
mod outage;
mod payments_api;
mod read_only;
mod refunds;
mod restart;
mod scale_out;
mod sdk;
mod seed_aliases;
mod sse;
mod webhooks;
