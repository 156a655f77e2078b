//! The Settle server: command line, configuration, telemetry and the composition root.
//!
//! - [`cli`]: the `settle` commands (`serve`, `migrate`, `seed`, `merchant`).
//! - [`db_check`]: `settle db check`: migrations, schema drift, seed idempotency, indexes and sessions, as text, JSON
//!   or SARIF.
//! - [`config`]: [`Config`] from environment variables and an optional `settle.toml`, checked at start.
//! - [`startup`]: [`App::build`] (binds, port 0 works) and [`App::run_until_stopped`] (graceful shutdown).
//! - [`telemetry`]: logs (JSON or pretty) and the Prometheus recorder.

pub mod cli;
pub mod config;
pub mod db_check;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::{App, BuildOptions};
