//! Configuration: defaults, then an optional `settle.toml` (or the file SETTLE_CONFIG names), then
//! environment variables. A file key is the variable's name in snake_case without the `SETTLE_` prefix
//! (`listen`, `database_url`, `cb_failure_rate`, ...). A bad value fails at start with one line that names it.

use std::{collections::HashMap, net::SocketAddr, path::Path, time::Duration};

use anyhow::{Context, bail};
use secrecy::SecretString;
use settle_api::{ApiConfig, RateLimit};
use settle_app::Settings;
use settle_card::client::GatewayConfig;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything Settle reads at start: one tree. The process's own settings are fields here; the HTTP edge's,
/// the application's and the gateway client's are the structs those layers take ([`ApiConfig`],
/// [`Settings`], [`GatewayConfig`]), filled in place, never copied field by field. [`SETTINGS`] is the one list of
/// variables: it names each and says where its value goes.
#[derive(Clone, Debug)]
pub struct Config {
    /// DATABASE_URL: `sqlite://settle.db` (default), `postgres://...` or `mysql://...`.
    pub database_url: String,
    /// REDIS_URL: Redis for the cache; unset means an in-process cache.
    pub redis_url: Option<String>,
    /// SETTLE_DATABASE_CA_FILE: trusted roots (PEM) for the database's TLS (PostgreSQL `sslrootcert`, MySQL
    /// `ssl-ca`); the URL's `sslmode` / `ssl-mode` says whether TLS is used.
    pub database_ca_file: Option<String>,
    /// SETTLE_REDIS_CA_FILE: trusted roots (PEM) for `rediss://`, instead of the system's.
    pub redis_ca_file: Option<String>,
    /// SETTLE_LISTEN: address to serve on.
    pub listen: SocketAddr,
    /// SETTLE_LOG_FORMAT: `json` or `pretty`.
    pub log_format: LogFormat,
    /// SETTLE_LOG (or RUST_LOG): log filter.
    pub log_filter: String,
    /// SETTLE_SHUTDOWN_TIMEOUT_SECS: how long in-flight requests may finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// SETTLE_HEADER_TIMEOUT_SECS: a connection whose request headers have not all arrived this long after it began
    /// waiting for them is closed. It is also the idle keep-alive timeout: a connection waiting for its next request
    /// waits for that request's headers.
    pub header_timeout: Duration,
    /// SETTLE_ALLOW_DEMO_KEY: `serve` without `--demo` starts although the demo merchant's fixed key (printed in
    /// the README) authenticates on its database. Off by default: a production database must never accept it. For
    /// local clusters and tests only.
    pub allow_demo_key: bool,
    /// SETTLE_MAX_CONNECTIONS: open client connections at most; one over it is closed at once (never queued).
    /// Lowered at start to fit the process's open-file limit, leaving room for the database and other sockets.
    pub max_connections: usize,
    /// SETTLE_DB_MAX_CONNECTIONS: database pool size.
    pub db_max_connections: u32,
    /// SETTLE_DB_CHECK_REFERENCE_URL: where `settle db check` makes its throwaway reference (a schema on PostgreSQL,
    /// a database on MySQL) when the configured role may not (a read-only role); unset: on DATABASE_URL's server.
    pub db_check_reference_url: Option<String>,
    /// SQLite's writer: SETTLE_SQLITE_WRITE_QUEUE (write transactions that may wait for their turn before the next
    /// is refused), SETTLE_SQLITE_WRITE_GROUP (at most this many are committed together; 1: each alone) and
    /// SETTLE_SQLITE_GROUP_WAIT_MS (a group is committed once its first write has waited this long).
    pub sqlite_writer: settle_store::connect::WriterSettings,
    /// SETTLE_PG_URL: the card gateway of live payments. Unset: the card rail is off in live mode (charges answer
    /// 400 feature_not_enabled). The simulator is never a live gateway: `simulator` is refused.
    pub gateway_url: Option<String>,
    /// SETTLE_PG_TEST_URL: the card gateway of test payments (a gateway's sandbox, or a PG simulator the instances
    /// share), or `simulator`: the PG simulator in-process (`app.card.simulator`), as `serve --demo` has it
    /// unless told otherwise. Unset (and no --demo): the card rail is off in test mode.
    pub test_gateway_url: Option<String>,
    /// The HTTP edge: admin token, CORS, rate limits, body limit, trusted proxies, request timeout.
    pub api: ApiConfig,
    /// The application: idempotency, SSE, sagas, relay wait, the card rail's reconciliation.
    pub app: Settings,
    /// The gateway client (SETTLE_PG_*, SETTLE_CB_*); its `base_url` is SETTLE_PG_URL's, set at start.
    pub gateway: GatewayConfig,
    /// The chains CHAIN payments may use (settle.toml `[[chains]]`; keys may come from
    /// SETTLE_CHAIN_<ID>_SIGNER_KEY / SETTLE_CHAIN_<ID>_RELAYER_KEY, URLs from SETTLE_CHAIN_<ID>_RPC_URLS).
    pub chains: Vec<settle_app::chain::ChainSpec>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://settle.db".into(),
            redis_url: None,
            database_ca_file: None,
            redis_ca_file: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            log_format: LogFormat::Pretty,
            log_filter: "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into(),
            shutdown_timeout: Duration::from_secs(20),
            header_timeout: Duration::from_secs(10),
            allow_demo_key: false,
            max_connections: 16_384,
            db_max_connections: 20,
            db_check_reference_url: None,
            sqlite_writer: settle_store::connect::WriterSettings::default(),
            gateway_url: None,
            test_gateway_url: None,
            api: ApiConfig::default(),
            app: Settings::default(),
            gateway: GatewayConfig::new(""),
            chains: Vec::new(),
        }
    }
}

/// One setting: its variable, and what a value of it does to the configuration.
struct Setting {
    var: &'static str,
    set: fn(&mut Config, &str) -> Result<(), String>,
}

/// Every setting, in the order they apply. A value that does not parse fails with `VAR=value: why`.
const SETTINGS: &[Setting] = &[
    Setting { var: "DATABASE_URL", set: |c, v| put(&mut c.database_url, v.to_owned()) },
    Setting { var: "REDIS_URL", set: |c, v| put(&mut c.redis_url, Some(v.to_owned())) },
    Setting { var: "SETTLE_DATABASE_CA_FILE", set: |c, v| put(&mut c.database_ca_file, Some(v.to_owned())) },
    Setting { var: "SETTLE_REDIS_CA_FILE", set: |c, v| put(&mut c.redis_ca_file, Some(v.to_owned())) },
    Setting { var: "SETTLE_LISTEN", set: |c, v| put(&mut c.listen, v.parse().map_err(|_| "is not an address such as 127.0.0.1:3000")?) },
    Setting {
        var: "SETTLE_LOG_FORMAT",
        set: |c, v| {
            c.log_format = match v {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => return Err("must be json or pretty".into()),
            };
            Ok(())
        },
    },
    Setting { var: "SETTLE_LOG", set: |c, v| put(&mut c.log_filter, v.to_owned()) },
    Setting { var: "SETTLE_SHUTDOWN_TIMEOUT_SECS", set: |c, v| secs(v, &mut c.shutdown_timeout) },
    Setting { var: "SETTLE_HEADER_TIMEOUT_SECS", set: |c, v| secs(v, &mut c.header_timeout) },
    Setting { var: "SETTLE_MAX_CONNECTIONS", set: |c, v| num(v, &mut c.max_connections) },
    Setting { var: "SETTLE_DB_MAX_CONNECTIONS", set: |c, v| num(v, &mut c.db_max_connections) },
    Setting { var: "SETTLE_DB_CHECK_REFERENCE_URL", set: |c, v| put(&mut c.db_check_reference_url, Some(v.to_owned())) },
    Setting { var: "SETTLE_SQLITE_WRITE_QUEUE", set: |c, v| num(v, &mut c.sqlite_writer.queue) },
    Setting { var: "SETTLE_SQLITE_WRITE_GROUP", set: |c, v| num(v, &mut c.sqlite_writer.group) },
    Setting { var: "SETTLE_SQLITE_GROUP_WAIT_MS", set: |c, v| millis(v, &mut c.sqlite_writer.group_wait) },
    // The HTTP edge.
    Setting {
        var: "SETTLE_ADMIN_TOKEN",
        set: |c, v| {
            if v.len() < 16 {
                return Err("must be at least 16 characters".into());
            }
            put(&mut c.api.admin_token, Some(SecretString::from(v.to_owned())))
        },
    },
    Setting { var: "SETTLE_CORS_ORIGINS", set: |c, v| put(&mut c.api.cors_origins, list(v).map(str::to_owned).collect()) },
    Setting {
        var: "SETTLE_RATE_LIMIT_PER_SEC",
        set: |c, v| {
            let mut n = 0u32;
            num(v, &mut n)?;
            let burst = c.api.rate_limit.map_or(ApiConfig::default().rate_limit.map_or(1, |r| r.burst), |r| r.burst);
            put(&mut c.api.rate_limit, (n > 0).then_some(RateLimit { per_second: n, burst }))
        },
    },
    Setting {
        var: "SETTLE_RATE_LIMIT_BURST",
        set: |c, v| match &mut c.api.rate_limit {
            Some(r) => num(v, &mut r.burst),
            None => num(v, &mut 0u32),
        },
    },
    Setting {
        var: "SETTLE_TRUSTED_PROXIES",
        set: |c, v| {
            c.api.trusted_proxies = list(v).map(|s| s.parse::<settle_api::client_ip::TrustedProxy>()).collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Setting { var: "SETTLE_BODY_LIMIT_BYTES", set: |c, v| num(v, &mut c.api.body_limit) },
    Setting { var: "SETTLE_REQUEST_TIMEOUT_SECS", set: |c, v| secs(v, &mut c.api.request_timeout) },
    // The application.
    Setting { var: "SETTLE_RELAY_WAIT_SECS", set: |c, v| secs(v, &mut c.app.relay_wait) },
    Setting { var: "SETTLE_IDEMPOTENCY_STALE_SECS", set: |c, v| secs(v, &mut c.app.idempotency_stale) },
    Setting { var: "SETTLE_ORDER_UNPAID_TTL_SECS", set: |c, v| secs(v, &mut c.app.order_unpaid_ttl) },
    Setting {
        var: "SETTLE_SAGA_PATTERN",
        set: |c, v| put(&mut c.app.saga_pattern, settle_app::orders::Pattern::parse(v).ok_or("must be orchestration or choreography")?),
    },
    Setting { var: "SETTLE_FOLLOW_POLL_MS", set: |c, v| millis(v, &mut c.app.follow_poll) },
    Setting { var: "SETTLE_SSE_MAX_STREAMS", set: |c, v| num(v, &mut c.app.sse_max_streams) },
    Setting { var: "SETTLE_SSE_MAX_STREAMS_PER_MERCHANT", set: |c, v| num(v, &mut c.app.sse_max_per_merchant) },
    Setting { var: "SETTLE_SSE_HEARTBEAT_SECS", set: |c, v| secs(v, &mut c.app.sse_heartbeat) },
    Setting {
        var: "SETTLE_ALLOW_DEMO_KEY",
        set: |c, v| {
            c.allow_demo_key = match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err("must be true or false".into()),
            };
            Ok(())
        },
    },
    Setting {
        var: "SETTLE_READ_ONLY",
        set: |c, v| {
            c.app.read_only = match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err("must be true or false".into()),
            };
            Ok(())
        },
    },
    // Secrets at rest.
    Setting { var: "SETTLE_MASTER_KEY", set: |c, v| put(&mut c.app.keyring, Some(std::sync::Arc::new(settle_app::crypto::Keyring::parse(v)?))) },
    // Webhooks and events.
    Setting { var: "SETTLE_WEBHOOK_ALLOW_HOSTS", set: |c, v| put(&mut c.app.webhooks.allow_hosts, list(v).map(str::to_ascii_lowercase).collect()) },
    Setting { var: "SETTLE_WEBHOOK_TIMEOUT_MS", set: |c, v| millis(v, &mut c.app.webhooks.timeout) },
    Setting {
        var: "SETTLE_WEBHOOK_RETRY_SCHEDULE",
        set: |c, v| {
            c.app.webhooks.schedule = list(v).map(span).collect::<Result<_, _>>()?;
            Ok(())
        },
    },
    Setting { var: "SETTLE_WEBHOOK_DISABLE_AFTER_HOURS", set: |c, v| hours(v, &mut c.app.webhooks.disable_after) },
    Setting { var: "SETTLE_WEBHOOK_PER_ENDPOINT", set: |c, v| num(v, &mut c.app.webhooks.per_endpoint) },
    Setting { var: "SETTLE_WEBHOOK_MAX_IN_FLIGHT", set: |c, v| num(v, &mut c.app.webhooks.in_flight) },
    Setting { var: "SETTLE_WEBHOOK_PER_MERCHANT", set: |c, v| num(v, &mut c.app.webhooks.per_merchant) },
    Setting { var: "SETTLE_WEBHOOK_FAILING_TIMEOUT_MS", set: |c, v| millis(v, &mut c.app.webhooks.failing_timeout) },
    Setting { var: "SETTLE_EVENT_RETENTION_DAYS", set: |c, v| days(v, &mut c.app.event_retention) },
    Setting { var: "SETTLE_DELIVERY_RETENTION_DAYS", set: |c, v| days(v, &mut c.app.delivery_retention) },
    Setting { var: "SETTLE_DELETED_GRACE_DAYS", set: |c, v| days(v, &mut c.app.deleted_grace) },
    Setting { var: "SETTLE_AUDIT_RETENTION_DAYS", set: |c, v| days(v, &mut c.app.audit_retention) },
    Setting { var: "SETTLE_ORDER_RECORD_RETENTION_DAYS", set: |c, v| days(v, &mut c.app.order_record_retention) },
    Setting {
        var: "SETTLE_NATS_URL",
        set: |c, v| {
            let stream = c.app.nats.as_ref().map_or_else(|| "SETTLE".to_owned(), |n| n.stream.clone());
            let test_events = c.app.nats.as_ref().is_some_and(|n| n.test_events);
            put(&mut c.app.nats, Some(settle_app::nats::NatsSettings { url: v.to_owned(), stream, test_events }))
        },
    },
    Setting {
        var: "SETTLE_NATS_STREAM",
        set: |c, v| match &mut c.app.nats {
            Some(n) => put(&mut n.stream, v.to_owned()),
            None => Err("needs SETTLE_NATS_URL".into()),
        },
    },
    Setting {
        var: "SETTLE_NATS_TEST_EVENTS",
        set: |c, v| {
            let on = match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err("must be true or false".into()),
            };
            match &mut c.app.nats {
                Some(n) => put(&mut n.test_events, on),
                None => Err("needs SETTLE_NATS_URL".into()),
            }
        },
    },
    Setting { var: "SETTLE_CALLBACK_URL", set: |c, v| put(&mut c.app.card.callback_url, Some(v.to_owned())) },
    Setting { var: "SETTLE_RECONCILE_AFTER_SECS", set: |c, v| secs(v, &mut c.app.card.reconcile_after) },
    Setting {
        var: "SETTLE_RECONCILE_BACKOFF_SECS",
        set: |c, v| {
            c.app.card.backoff = v
                .split(',')
                .map(|s| s.trim().parse::<u64>().map(Duration::from_secs))
                .collect::<Result<_, _>>()
                .map_err(|_| "must be comma-separated whole seconds")?;
            Ok(())
        },
    },
    Setting { var: "SETTLE_RECONCILE_DEADLINE_SECS", set: |c, v| secs(v, &mut c.app.card.not_recorded_deadline) },
    Setting { var: "SETTLE_RECONCILE_FINAL_CHECK_SECS", set: |c, v| secs(v, &mut c.app.card.final_check_after) },
    // The card gateway and its client.
    Setting {
        var: "SETTLE_PG_URL",
        set: |c, v| {
            if v == "simulator" {
                return Err(
                    "live payments never reach the simulator; test keys use it without any setting (SETTLE_PG_URL names the live card gateway)"
                        .into(),
                );
            }
            c.gateway_url = Some(v.to_owned());
            Ok(())
        },
    },
    Setting { var: "SETTLE_PG_TEST_URL", set: |c, v| put(&mut c.test_gateway_url, Some(v.to_owned())) },
    Setting { var: "SETTLE_PG_CA_FILE", set: |c, v| put(&mut c.gateway.ca_file, Some(v.into())) },
    Setting {
        var: "SETTLE_PG_RETRY_5XX",
        set: |c, v| {
            c.gateway.retry_after_5xx = match v {
                "lookup" => settle_card::client::RetryAfter5xx::Lookup,
                "never" => settle_card::client::RetryAfter5xx::Never,
                _ => return Err("must be lookup or never".into()),
            };
            Ok(())
        },
    },
    Setting { var: "SETTLE_PG_LOOKUP_SETTLE_MS", set: |c, v| millis(v, &mut c.gateway.lookup_settle) },
    Setting { var: "SETTLE_PG_CONNECT_TIMEOUT_MS", set: |c, v| millis(v, &mut c.gateway.connect_timeout) },
    Setting { var: "SETTLE_PG_TIMEOUT_MS", set: |c, v| millis(v, &mut c.gateway.request_timeout) },
    Setting { var: "SETTLE_PG_READ_RETRIES", set: |c, v| num(v, &mut c.gateway.read_retries) },
    Setting { var: "SETTLE_PG_CHARGE_RETRIES", set: |c, v| num(v, &mut c.gateway.charge_retries) },
    Setting { var: "SETTLE_PG_BACKOFF_MS", set: |c, v| millis(v, &mut c.gateway.backoff_base) },
    Setting { var: "SETTLE_PG_BACKOFF_MAX_MS", set: |c, v| millis(v, &mut c.gateway.backoff_max) },
    Setting { var: "SETTLE_PG_MAX_CONCURRENT", set: |c, v| num(v, &mut c.gateway.max_concurrent_calls) },
    Setting { var: "SETTLE_PG_MAX_WAIT_MS", set: |c, v| millis(v, &mut c.gateway.max_wait) },
    Setting { var: "SETTLE_CB_WINDOW", set: |c, v| num(v, &mut c.gateway.breaker.window_size) },
    Setting { var: "SETTLE_CB_MIN_CALLS", set: |c, v| num(v, &mut c.gateway.breaker.minimum_calls) },
    Setting { var: "SETTLE_CB_FAILURE_RATE", set: |c, v| num(v, &mut c.gateway.breaker.failure_rate_threshold) },
    Setting { var: "SETTLE_CB_SLOW_CALL_RATE", set: |c, v| num(v, &mut c.gateway.breaker.slow_call_rate_threshold) },
    Setting { var: "SETTLE_CB_SLOW_CALL_MS", set: |c, v| millis(v, &mut c.gateway.breaker.slow_call_duration) },
    Setting { var: "SETTLE_CB_OPEN_WAIT_SECS", set: |c, v| secs(v, &mut c.gateway.breaker.open_wait) },
    Setting { var: "SETTLE_CB_HALF_OPEN_CALLS", set: |c, v| num(v, &mut c.gateway.breaker.half_open_calls) },
];

/// A span such as `5s`, `5m`, `2h` or `1d` (a whole number and its unit).
fn span(v: &str) -> Result<Duration, String> {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = n.parse().map_err(|_| format!("{v} is not a span such as 5s, 5m, 2h or 1d"))?;
    let per = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{v} is not a span such as 5s, 5m, 2h or 1d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(per)))
}

/// Settings whose values are secrets.
const SECRET_SETTINGS: [&str; 2] = ["SETTLE_ADMIN_TOKEN", "SETTLE_MASTER_KEY"];

/// The items of a comma-separated list, trimmed, empty ones left out.
fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The file key of a variable: `SETTLE_CB_WINDOW` -> `cb_window`, `DATABASE_URL` -> `database_url`.
fn file_key(var: &str) -> String {
    var.strip_prefix("SETTLE_").unwrap_or(var).to_ascii_lowercase()
}

/// The value of SETTLE_PG_TEST_URL that asks for the PG simulator in-process.
pub const SIMULATOR: &str = "simulator";
/// What settle.toml holds: flat settings by variable name, and the chains.
type FileSettings = (HashMap<String, String>, Vec<settle_app::chain::ChainSpec>);

fn read_file(env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<FileSettings> {
    let path = env("SETTLE_CONFIG");
    let text = match &path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("SETTLE_CONFIG: cannot read {p}"))?,
        None if Path::new("settle.toml").exists() => std::fs::read_to_string("settle.toml").context("settle.toml: cannot read it")?,
        None => return Ok((HashMap::new(), Vec::new())),
    };
    let name = path.as_deref().unwrap_or("settle.toml");
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{name}: {}", e.message().trim()))?;
    let chains = match table.remove("chains") {
        Some(v) => v.try_into::<Vec<settle_app::chain::ChainSpec>>().map_err(|e| anyhow::anyhow!("{name}: [[chains]]: {}", e.message().trim()))?,
        None => Vec::new(),
    };
    let mut out = HashMap::new();
    for (k, v) in table {
        let Some(setting) = SETTINGS.iter().find(|s| file_key(s.var) == k) else {
            bail!("{name}: unknown setting `{k}`");
        };
        let s = match v {
            toml::Value::Array(a) => a.iter().map(scalar).collect::<Option<Vec<_>>>().map(|v| v.join(",")),
            other => scalar(&other),
        }
        .ok_or_else(|| anyhow::anyhow!("{name}: `{k}` must be a string, a number, a boolean or a list of them"))?;
        out.insert(setting.var.to_owned(), s);
    }
    Ok((out, chains))
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Config {
    /// Reads the configuration from the process environment and the optional file.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `env` (a test passes its own map).
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let (file, chains) = read_file(&env)?;
        let get = |k: &str| {
            let fallback = if k == "SETTLE_LOG" { env("RUST_LOG").filter(|v| !v.is_empty()) } else { None };
            env(k).filter(|v| !v.is_empty()).or_else(|| file.get(k).cloned()).or(fallback)
        };
        let mut c = Self::default();
        for s in SETTINGS {
            if let Some(v) = get(s.var) {
                // A secret's value is never repeated in the message (it would reach a log or a terminal).
                let shown = if SECRET_SETTINGS.contains(&s.var) { "***" } else { v.as_str() };
                (s.set)(&mut c, &v).map_err(|why| anyhow::anyhow!("{}={shown}: {why}", s.var))?;
            }
        }
        for mut spec in chains {
            let id = spec.chain_id;
            if let Some(k) = env(&format!("SETTLE_CHAIN_{id}_SIGNER_KEY")).filter(|v| !v.is_empty()) {
                spec.signer_key = Some(k);
            }
            if let Some(k) = env(&format!("SETTLE_CHAIN_{id}_RELAYER_KEY")).filter(|v| !v.is_empty()) {
                spec.relayer_key = Some(k);
            }
            if let Some(u) = env(&format!("SETTLE_CHAIN_{id}_RPC_URLS")).filter(|v| !v.is_empty()) {
                spec.rpc_urls = list(&u).map(str::to_owned).collect();
            }
            c.chains.push(spec);
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if settle_store::Backend::of_url(&self.database_url).is_none() {
            bail!("DATABASE_URL must start with sqlite:, postgres: or mysql: (got {})", redact(&self.database_url));
        }
        if let Some(r) = &self.redis_url
            && !(r.starts_with("redis://") || r.starts_with("rediss://") || r.starts_with("redis+unix://"))
        {
            bail!("REDIS_URL must start with redis:// or rediss:// (got {})", redact(r));
        }
        if self.api.rate_limit.is_some_and(|r| r.burst == 0) {
            bail!("SETTLE_RATE_LIMIT_BURST must be at least 1 when rate limiting is on");
        }
        if self.api.body_limit < 1024 {
            bail!("SETTLE_BODY_LIMIT_BYTES must be at least 1024");
        }
        if self.api.request_timeout.is_zero() {
            bail!("SETTLE_REQUEST_TIMEOUT_SECS must be at least 1");
        }
        if self.header_timeout.is_zero() {
            bail!("SETTLE_HEADER_TIMEOUT_SECS must be at least 1");
        }
        if self.max_connections == 0 {
            bail!("SETTLE_MAX_CONNECTIONS must be at least 1");
        }
        if self.app.relay_wait >= self.api.request_timeout {
            bail!(
                "SETTLE_RELAY_WAIT_SECS must be shorter than SETTLE_REQUEST_TIMEOUT_SECS, so a relay that takes longer answers 202 (504 relay_timeout on the seed path)"
            );
        }
        if !(Duration::from_secs(60)..=Duration::from_secs(30 * 24 * 3600)).contains(&self.app.order_unpaid_ttl) {
            bail!("SETTLE_ORDER_UNPAID_TTL_SECS must be 60 (a payer needs time to pay) to 2592000 (30 days)");
        }
        if self.sqlite_writer.queue == 0 {
            bail!("SETTLE_SQLITE_WRITE_QUEUE must be at least 1");
        }
        if self.app.idempotency_stale <= self.api.request_timeout {
            bail!(
                "SETTLE_IDEMPOTENCY_STALE_SECS must be longer than SETTLE_REQUEST_TIMEOUT_SECS: a request still running must keep its Idempotency-Key"
            );
        }
        if self.app.follow_poll.is_zero() || self.app.sse_heartbeat.is_zero() {
            bail!("SETTLE_FOLLOW_POLL_MS and SETTLE_SSE_HEARTBEAT_SECS must be at least 1");
        }
        if self.db_max_connections == 0 {
            bail!("SETTLE_DB_MAX_CONNECTIONS must be at least 1");
        }
        let w = &self.app.webhooks;
        if w.timeout.is_zero() || w.per_endpoint == 0 || w.in_flight == 0 || w.per_merchant == 0 || w.failing_timeout.is_zero() {
            bail!(
                "SETTLE_WEBHOOK_TIMEOUT_MS, SETTLE_WEBHOOK_PER_ENDPOINT, SETTLE_WEBHOOK_MAX_IN_FLIGHT, SETTLE_WEBHOOK_PER_MERCHANT and \
                 SETTLE_WEBHOOK_FAILING_TIMEOUT_MS must be at least 1"
            );
        }
        if w.schedule.len() > 50 {
            bail!("SETTLE_WEBHOOK_RETRY_SCHEDULE may list at most 50 pauses");
        }
        if self.app.event_retention.is_zero() || self.app.order_record_retention.is_zero() {
            bail!("SETTLE_EVENT_RETENTION_DAYS and SETTLE_ORDER_RECORD_RETENTION_DAYS must be at least 1");
        }
        if self.sqlite_writer.group == 0 {
            bail!("SETTLE_SQLITE_WRITE_GROUP must be at least 1");
        }
        let test_url = self.test_gateway_url.clone().filter(|u| u != SIMULATOR);
        for (name, url) in
            [("SETTLE_PG_URL", &self.gateway_url), ("SETTLE_PG_TEST_URL", &test_url), ("SETTLE_CALLBACK_URL", &self.app.card.callback_url)]
        {
            if let Some(u) = url
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                bail!("{name} must start with http:// or https:// (got {})", redact(u));
            }
        }
        let g = &self.gateway;
        let b = &g.breaker;
        if !(0.0..=100.0).contains(&b.failure_rate_threshold) || b.failure_rate_threshold == 0.0 {
            bail!("SETTLE_CB_FAILURE_RATE must be a percentage above 0 and at most 100");
        }
        if !(0.0..=100.0).contains(&b.slow_call_rate_threshold) || b.slow_call_rate_threshold == 0.0 {
            bail!("SETTLE_CB_SLOW_CALL_RATE must be a percentage above 0 and at most 100");
        }
        if b.window_size == 0 || b.minimum_calls == 0 || b.half_open_calls == 0 {
            bail!("SETTLE_CB_WINDOW, SETTLE_CB_MIN_CALLS and SETTLE_CB_HALF_OPEN_CALLS must be at least 1");
        }
        if g.max_concurrent_calls == 0 {
            bail!("SETTLE_PG_MAX_CONCURRENT must be at least 1");
        }
        if g.request_timeout.is_zero() || g.connect_timeout.is_zero() {
            bail!("SETTLE_PG_TIMEOUT_MS and SETTLE_PG_CONNECT_TIMEOUT_MS must be at least 1");
        }
        let card = &self.app.card;
        if card.backoff.is_empty() {
            bail!("SETTLE_RECONCILE_BACKOFF_SECS must list at least one pause");
        }
        // The reconciler must never fail a payment whose charge may still be on its way to the gateway.
        let worst = g.worst_case_charge();
        if card.not_recorded_deadline <= worst {
            bail!(
                "SETTLE_RECONCILE_DEADLINE_SECS={} is shorter than the longest a charge can take ({} s from SETTLE_PG_TIMEOUT_MS, \
                 SETTLE_PG_CONNECT_TIMEOUT_MS, SETTLE_PG_CHARGE_RETRIES, SETTLE_PG_BACKOFF_MAX_MS and SETTLE_PG_LOOKUP_SETTLE_MS): raise it above that",
                card.not_recorded_deadline.as_secs(),
                worst.as_secs() + 1
            );
        }
        let ca = g.ca_file.as_ref().map(|p| p.display().to_string());
        for (name, file) in
            [("SETTLE_PG_CA_FILE", &ca), ("SETTLE_DATABASE_CA_FILE", &self.database_ca_file), ("SETTLE_REDIS_CA_FILE", &self.redis_ca_file)]
        {
            if let Some(f) = file
                && !Path::new(f).is_file()
            {
                bail!("{name}={f} is not a readable file");
            }
        }
        Ok(())
    }
}

fn put<T>(into: &mut T, v: T) -> Result<(), String> {
    *into = v;
    Ok(())
}

fn num<T: std::str::FromStr>(v: &str, into: &mut T) -> Result<(), String> {
    *into = v.trim().parse().map_err(|_| "is not a valid non-negative number")?;
    Ok(())
}

fn secs(v: &str, into: &mut Duration) -> Result<(), String> {
    let mut n = 0u64;
    num(v, &mut n)?;
    *into = Duration::from_secs(n);
    Ok(())
}

fn hours(v: &str, into: &mut Duration) -> Result<(), String> {
    let mut n = 0u64;
    num(v, &mut n)?;
    *into = Duration::from_secs(n.saturating_mul(3600));
    Ok(())
}

fn days(v: &str, into: &mut Duration) -> Result<(), String> {
    hours(v, into)?;
    *into = into.saturating_mul(24);
    Ok(())
}

fn millis(v: &str, into: &mut Duration) -> Result<(), String> {
    let mut n = 0u64;
    num(v, &mut n)?;
    *into = Duration::from_millis(n);
    Ok(())
}

/// A URL with its password replaced by `***`, for messages and logs.
/// `text` (a driver's error, say) with `url` and its password, wherever they appear, replaced by the URL redacted:
/// a driver that quotes the connection string it could not parse would otherwise print the password.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact(url));
    if let Some(userinfo) = url.split_once("://").and_then(|(_, rest)| rest.rsplit_once('@')).map(|(u, _)| u)
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
    {
        out = out.replace(password, "***");
    }
    out
}

pub fn redact(url: &str) -> String {
    // A list of URLs (NATS takes several servers): each is redacted.
    if url.contains(',') && url.matches("://").count() > 1 {
        return url.split(',').map(redact).collect::<Vec<_>>().join(",");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL (a `key=value` DSN, `scheme:user:pass@host`): shown only if it carries nothing like a credential.
        let plain = url.starts_with("sqlite:") || !(url.contains('@') || url.contains('=') || url.contains(' '));
        return if plain { url.to_owned() } else { "***".to_owned() };
    };
    // A file path holds no credential.
    if scheme.eq_ignore_ascii_case("sqlite") {
        return url.to_owned();
    }
    // User info ends at the last `@` (a password may hold an unencoded `/`, `?` or `#`).
    let (userinfo, rest) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (rest, fragment) = rest.split_once('#').map_or((rest, None), |(r, f)| (r, Some(f)));
    let (rest, query) = rest.split_once('?').map_or((rest, None), |(r, q)| (r, Some(q)));
    let (host, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match userinfo {
        Some(u) => format!("{u}@{host}"),
        None => host.to_owned(),
    };
    let authority = authority.as_str();
    let mut out = format!("{scheme}://");
    match authority.rsplit_once('@') {
        // user:password -> user:***; a lone token (nats://token@, redis://:password@) -> ***, except a database's
        // user name, which is no secret.
        Some((userinfo, host)) => {
            let user_is_a_name = ["postgres", "postgresql", "mysql", "mariadb"].iter().any(|s| scheme.eq_ignore_ascii_case(s));
            match userinfo.split_once(':') {
                Some((user, _)) => out.push_str(&format!("{user}:***@{host}")),
                None if user_is_a_name => out.push_str(&format!("{userinfo}@{host}")),
                None => out.push_str(&format!("***@{host}")),
            }
        }
        None => out.push_str(authority),
    }
    if let Some(path) = path {
        out.push('/');
        out.push_str(&path.split('/').map(|seg| if looks_like_a_key(seg) { "***" } else { seg }).collect::<Vec<_>>().join("/"));
    }
    if let Some(query) = query {
        out.push('?');
        let pairs = query.split('&').map(|pair| match pair.split_once('=') {
            Some((k, v)) if !v.is_empty() && (credential_name(k) || looks_like_a_key(v)) => format!("{k}=***"),
            _ => pair.to_owned(),
        });
        out.push_str(&pairs.collect::<Vec<_>>().join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(if looks_like_a_key(f) || f.contains('=') { "***" } else { f });
    }
    out
}

/// A query parameter that carries a credential by its name.
fn credential_name(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["pass", "pwd", "token", "key", "secret", "auth", "sig", "credential", "session"].iter().any(|w| k.contains(w))
}

/// A value longer than 20 characters, all of a key's alphabet (letters, digits, `-`, `_`): an RPC provider's key in
/// a path (`/v3/<key>`, `/v2/<key>`), an API key in a query value.
fn looks_like_a_key(v: &str) -> bool {
    v.len() > 20 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Config {
    /// The configuration in effect (defaults, settle.toml, environment), as `settle config check` prints it: every
    /// URL with its password removed, every secret as `"***"` when set.
    pub fn effective(&self) -> serde_json::Value {
        use secrecy::ExposeSecret;
        let secs = |d: Duration| d.as_secs_f64();
        let set = |present: bool| if present { serde_json::json!("***") } else { serde_json::Value::Null };
        let a = &self.app;
        let w = &a.webhooks;
        let g = &self.gateway;
        serde_json::json!({
            "database": {
                "url": redact(&self.database_url),
                "caFile": self.database_ca_file,
                "maxConnections": self.db_max_connections,
                "sqliteWriter": {"queue": self.sqlite_writer.queue, "group": self.sqlite_writer.group, "groupWaitMs": self.sqlite_writer.group_wait.as_millis() as u64},
            },
            "cache": {"redisUrl": self.redis_url.as_deref().map(redact), "redisCaFile": self.redis_ca_file},
            "server": {
                "listen": self.listen.to_string(),
                "shutdownTimeoutSecs": secs(self.shutdown_timeout),
                "headerTimeoutSecs": secs(self.header_timeout),
                "maxConnections": self.max_connections,
                "allowDemoKey": self.allow_demo_key,
                "requestTimeoutSecs": secs(self.api.request_timeout),
                "bodyLimitBytes": self.api.body_limit,
                "corsOrigins": self.api.cors_origins,
                "rateLimit": self.api.rate_limit.map(|r| serde_json::json!({"perSecond": r.per_second, "burst": r.burst})),
                "trustedProxies": self.api.trusted_proxies.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                "adminToken": set(self.api.admin_token.as_ref().is_some_and(|t| !t.expose_secret().is_empty())),
            },
            "log": {"filter": self.log_filter, "format": format!("{:?}", self.log_format).to_lowercase()},
            "secrets": {"masterKey": set(a.keyring.is_some())},
            "readOnly": a.read_only,
            "card": {
                "gatewayUrl": self.gateway_url.as_deref().map(redact),
                "testGatewayUrl": self.test_gateway_url.as_deref().map(redact),
                "testSimulator": self.test_gateway_url.as_deref() == Some(SIMULATOR),
                "callbackUrl": a.card.callback_url.as_deref().map(redact),
                "reconcileAfterSecs": secs(a.card.reconcile_after),
                "notRecordedDeadlineSecs": secs(a.card.not_recorded_deadline),
                "finalCheckAfterSecs": secs(a.card.final_check_after),
                "client": {
                    "connectTimeoutMs": g.connect_timeout.as_millis() as u64,
                    "requestTimeoutMs": g.request_timeout.as_millis() as u64,
                    "readRetries": g.read_retries,
                    "chargeRetries": g.charge_retries,
                    "maxConcurrentCalls": g.max_concurrent_calls,
                    "caFile": g.ca_file.as_ref().map(|p| p.display().to_string()),
                },
            },
            "chains": self.chains.iter().map(|c| serde_json::json!({
                "chainId": c.chain_id,
                "testNetwork": c.test_network,
                "rpcUrls": c.rpc_urls.iter().map(|u| redact(u)).collect::<Vec<_>>(),
                "gateway": c.gateway,
                "forwarder": c.forwarder,
                "confirmations": c.confirmations,
                "tokens": c.tokens.iter().map(|t| t.address.clone()).collect::<Vec<_>>(),
                "signerKey": set(c.signer_key.is_some()),
                "relayerKey": set(c.relayer_key.is_some()),
            })).collect::<Vec<_>>(),
            "events": {
                "sseMaxStreams": a.sse_max_streams,
                "sseMaxStreamsPerMerchant": a.sse_max_per_merchant,
                "nats": a.nats.as_ref().map(|n| serde_json::json!({"url": redact(&n.url), "stream": n.stream})),
            },
            "webhooks": {
                "allowHosts": w.allow_hosts,
                "timeoutMs": w.timeout.as_millis() as u64,
                "perEndpoint": w.per_endpoint,
                "maxInFlight": w.in_flight,
                "disableAfterHours": secs(w.disable_after) / 3600.0,
            },
            "retentionDays": {
                "events": secs(a.event_retention) / 86_400.0,
                "deliveries": secs(a.delivery_retention) / 86_400.0,
                "deletedGrace": secs(a.deleted_grace) / 86_400.0,
                "audit": secs(a.audit_retention) / 86_400.0,
                "orderRecords": secs(a.order_record_retention) / 86_400.0,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_valid() {
        let c = load(&[]).unwrap();
        assert_eq!(c.database_url, "sqlite://settle.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.gateway.breaker.window_size, 100);
    }

    #[test]
    fn a_bad_setting_names_itself() {
        for (k, v) in [
            ("SETTLE_LISTEN", "nowhere"),
            ("DATABASE_URL", "oracle://x"),
            ("REDIS_URL", "http://x"),
            ("SETTLE_RATE_LIMIT_PER_SEC", "-1"),
            ("SETTLE_LOG_FORMAT", "xml"),
            ("SETTLE_ADMIN_TOKEN", "short"),
            ("SETTLE_MASTER_KEY", "c2hvcnQ="),
            ("SETTLE_CB_FAILURE_RATE", "150"),
            ("SETTLE_PG_URL", "ftp://x"),
            ("SETTLE_RECONCILE_BACKOFF_SECS", "5,x"),
            ("SETTLE_PG_RETRY_5XX", "sometimes"),
            ("SETTLE_PG_CA_FILE", "/nonexistent/ca.pem"),
        ] {
            let e = load(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
            if SECRET_SETTINGS.contains(&k) {
                assert!(!e.contains(v), "a secret repeated in the message: {e}");
            }
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_reconcile_deadline_shorter_than_a_charge_names_both_settings() {
        let e = load(&[("SETTLE_RECONCILE_DEADLINE_SECS", "10"), ("SETTLE_PG_TIMEOUT_MS", "5000")]).unwrap_err().to_string();
        assert!(e.contains("SETTLE_RECONCILE_DEADLINE_SECS") && e.contains("SETTLE_PG_TIMEOUT_MS"), "{e}");
        assert!(load(&[("SETTLE_RECONCILE_DEADLINE_SECS", "120")]).is_ok(), "the defaults are consistent");
    }

    #[test]
    fn the_simulator_is_never_a_live_gateway() {
        let c = load(&[]).unwrap();
        assert!(c.gateway_url.is_none() && c.test_gateway_url.is_none(), "no live gateway unless configured");
        let e = load(&[("SETTLE_PG_URL", "simulator")]).unwrap_err().to_string();
        assert!(e.contains("live payments never reach the simulator"), "{e}");
        let c = load(&[("SETTLE_PG_TEST_URL", "https://sandbox.example")]).unwrap();
        assert_eq!(c.test_gateway_url.as_deref(), Some("https://sandbox.example"));
        assert!(load(&[("SETTLE_PG_TEST_URL", "simulator")]).is_ok(), "test mode may ask for the in-process simulator");
        assert!(load(&[("SETTLE_PG_TEST_URL", "ftp://x")]).is_err());
    }

    #[test]
    fn each_setting_lands_in_its_layer() {
        let c = load(&[
            ("SETTLE_PG_TIMEOUT_MS", "5000"),
            ("SETTLE_RECONCILE_DEADLINE_SECS", "300"),
            ("SETTLE_RATE_LIMIT_BURST", "7"),
            ("SETTLE_RATE_LIMIT_PER_SEC", "3"),
            ("SETTLE_SSE_MAX_STREAMS", "9"),
            ("SETTLE_CALLBACK_URL", "https://pay.example/cb"),
        ])
        .unwrap();
        assert_eq!(c.gateway.request_timeout, Duration::from_millis(5000));
        assert_eq!(c.app.card.not_recorded_deadline, Duration::from_secs(300));
        let rl = c.api.rate_limit.unwrap();
        assert_eq!((rl.per_second, rl.burst), (3, 7), "the burst applies whatever order the variables come in");
        assert_eq!(c.app.sse_max_streams, 9);
        assert_eq!(c.app.card.callback_url.as_deref(), Some("https://pay.example/cb"));
        assert!(load(&[("SETTLE_RATE_LIMIT_PER_SEC", "0")]).unwrap().api.rate_limit.is_none(), "0 turns rate limiting off");
    }

    #[test]
    fn every_setting_has_one_distinct_file_key() {
        let keys: std::collections::HashSet<String> = SETTINGS.iter().map(|s| file_key(s.var)).collect();
        assert_eq!(keys.len(), SETTINGS.len());
    }

    #[test]
    fn file_keys_are_the_variables_in_snake_case() {
        assert_eq!(file_key("SETTLE_CB_WINDOW"), "cb_window");
        assert_eq!(file_key("DATABASE_URL"), "database_url");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        let url = "postgres://u:s3cret-pw@[bad/x";
        let scrubbed = scrub(&format!("the connection string '{url}' cannot be parsed (s3cret-pw)"), url);
        assert!(!scrubbed.contains("s3cret-pw") && scrubbed.contains("u:***@"), "{scrubbed}");
        assert_eq!(redact("sqlite://settle.db"), "sqlite://settle.db");
        let file = "sqlite:///tmp/settle-test-01a2399ad23b774fb228b6803ce0a636/settle.db?mode=rwc";
        assert_eq!(redact(file), file, "a file path is kept");
        assert_eq!(redact("postgres://postgres@127.0.0.1:5432/test"), "postgres://postgres@127.0.0.1:5432/test", "a user name is kept");
    }

    #[test]
    fn redacts_every_credential_bearing_part_of_a_url() {
        for (url, secret) in [
            ("postgres://h/db?user=settle&password=hunter2", "hunter2"),
            ("https://rpc.example/api?token=t0k3n", "t0k3n"),
            ("https://rpc.example/?api_key=abc123", "abc123"),
            ("https://rpc.example/?apikey=abc123&chain=1", "abc123"),
            ("nats://s3cr3tt0k3n@127.0.0.1:4222", "s3cr3tt0k3n"),
            ("redis://:redispass@127.0.0.1:6379", "redispass"),
            ("rediss://default:redispass@cache:6380/0", "redispass"),
            ("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
            ("https://eth-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUvWx-_12", "AbCdEfGhIjKlMnOpQrStUvWx-_12"),
            ("https://rpc.example/?x=AbCdEfGhIjKlMnOpQrStUvWxYz", "AbCdEfGhIjKlMnOpQrStUvWxYz"),
            ("https://user:pw@rpc.example/path#access_token=zzz", "zzz"),
        ] {
            let r = redact(url);
            assert!(!r.contains(secret), "{url} -> {r}");
            assert!(r.contains("***"), "{url} -> {r}");
        }
        assert_eq!(redact("https://rpc.example/v1/mainnet?chain=1"), "https://rpc.example/v1/mainnet?chain=1", "nothing secret stays as is");
        assert_eq!(redact("postgres://h/db?sslmode=require"), "postgres://h/db?sslmode=require");
        for (url, secret) in [
            ("nats://u:p1@a:4222,nats://u:p2secret@b:4222", "p2secret"),
            ("redis://:ab/cd?ef#gh@cache:6379", "ab/cd?ef#gh"),
            ("host=db user=settle password=hunter2", "hunter2"),
            ("postgres:settle:hunter2@db", "hunter2"),
        ] {
            let r = redact(url);
            assert!(!r.contains(secret), "{url} -> {r}");
        }
        assert_eq!(redact("nats://a:4222,nats://b:4222"), "nats://a:4222,nats://b:4222");
    }
}
