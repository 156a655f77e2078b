//! Configuration: defaults, then an optional `settle.toml` (or the file SETTLE_CONFIG names), then
//! environment variables. A file key is the variable's name in snake_case without the `SETTLE_` prefix
//! (`listen`, `database_url`, `cb_failure_rate`, ...). A bad value fails at start with one line that names it.

use std::{collections::HashMap, net::SocketAddr, path::Path, time::Duration};

use anyhow::{Context, bail};
use secrecy::SecretString;
use settle_card::breaker::BreakerConfig;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The card rail's settings.
#[derive(Clone, Debug)]
pub struct CardConfig {
    /// SETTLE_PG_URL: the card gateway. Unset: the card rail is off (charges answer 503). `simulator`: the PG
    /// simulator runs in-process (as with `serve --demo`); no real card is ever charged.
    pub pg_url: Option<String>,
    /// SETTLE_PG_URL=simulator.
    pub simulator: bool,
    /// SETTLE_PG_CA_FILE: extra trusted roots (PEM) for an https gateway.
    pub ca_file: Option<String>,
    /// SETTLE_PG_RETRY_5XX: `lookup` (retry a charge after an error answer only when two order lookups
    /// SETTLE_PG_LOOKUP_SETTLE_MS apart find nothing) or `never`.
    pub retry_after_5xx: settle_card::client::RetryAfter5xx,
    /// SETTLE_PG_LOOKUP_SETTLE_MS.
    pub lookup_settle: Duration,
    /// SETTLE_RECONCILE_FINAL_CHECK_SECS: how long after a card payment is final its order is checked once more.
    pub final_check_after: Duration,
    /// SETTLE_CALLBACK_URL: where the gateway POSTs results; default `http://{listen}/payments/callback`.
    pub callback_url: Option<String>,
    /// SETTLE_PG_CONNECT_TIMEOUT_MS.
    pub connect_timeout: Duration,
    /// SETTLE_PG_TIMEOUT_MS: bound on one gateway request.
    pub request_timeout: Duration,
    /// SETTLE_PG_READ_RETRIES: extra attempts of a gateway read.
    pub read_retries: u32,
    /// SETTLE_PG_CHARGE_RETRIES: extra attempts of a charge, made only when the gateway certainly recorded nothing.
    pub charge_retries: u32,
    /// SETTLE_PG_BACKOFF_MS: first retry pause (doubling, with full jitter, up to SETTLE_PG_BACKOFF_MAX_MS).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// SETTLE_PG_MAX_CONCURRENT: bulkhead size.
    pub max_concurrent: usize,
    /// SETTLE_PG_MAX_WAIT_MS: how long a charge waits for a bulkhead place.
    pub max_wait: Duration,
    /// SETTLE_CB_*: the circuit breaker.
    pub breaker: BreakerConfig,
    /// SETTLE_RECONCILE_AFTER_SECS: a PROCESSING card payment older than this is asked about.
    pub reconcile_after: Duration,
    /// SETTLE_RECONCILE_BACKOFF_SECS: pauses between questions about one payment, comma-separated.
    pub reconcile_backoff: Vec<Duration>,
    /// SETTLE_RECONCILE_DEADLINE_SECS: a payment the gateway never recorded becomes FAILED after this.
    pub reconcile_deadline: Duration,
}

impl Default for CardConfig {
    fn default() -> Self {
        Self {
            pg_url: None,
            simulator: false,
            ca_file: None,
            retry_after_5xx: settle_card::client::RetryAfter5xx::Lookup,
            lookup_settle: Duration::from_millis(500),
            final_check_after: Duration::from_secs(60),
            callback_url: None,
            connect_timeout: Duration::from_millis(1000),
            request_timeout: Duration::from_millis(3000),
            read_retries: 3,
            charge_retries: 2,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(2000),
            max_concurrent: 25,
            max_wait: Duration::from_millis(500),
            breaker: BreakerConfig::default(),
            reconcile_after: Duration::from_secs(5),
            reconcile_backoff: [5, 30, 120, 600].into_iter().map(Duration::from_secs).collect(),
            reconcile_deadline: Duration::from_secs(120),
        }
    }
}

/// Everything Settle reads at start.
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
    /// SETTLE_ADMIN_TOKEN: enables `POST /merchants`.
    pub admin_token: Option<SecretString>,
    /// SETTLE_CORS_ORIGINS: comma-separated allowed origins (`*` for any); empty allows none.
    pub cors_origins: Vec<String>,
    /// SETTLE_RATE_LIMIT_PER_SEC: steady requests per second per caller; 0 disables rate limiting.
    pub rate_limit_per_sec: u32,
    /// SETTLE_RATE_LIMIT_BURST: requests a caller may send at once.
    pub rate_limit_burst: u32,
    /// SETTLE_TRUSTED_PROXIES: comma-separated addresses of reverse proxies whose `X-Forwarded-For` names the
    /// client (for the per-address rate limits); empty trusts none.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// SETTLE_LOG_FORMAT: `json` or `pretty`.
    pub log_format: LogFormat,
    /// SETTLE_LOG (or RUST_LOG): log filter.
    pub log_filter: String,
    /// SETTLE_BODY_LIMIT_BYTES: largest request body.
    pub body_limit_bytes: usize,
    /// SETTLE_REQUEST_TIMEOUT_SECS: bound on one request.
    pub request_timeout: Duration,
    /// SETTLE_SHUTDOWN_TIMEOUT_SECS: how long in-flight requests may finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// SETTLE_DB_MAX_CONNECTIONS: database pool size.
    pub db_max_connections: u32,
    /// SETTLE_RELAY_WAIT_SECS: how long `POST /payments/{id}/relay` waits for the payment to complete.
    pub relay_wait: Duration,
    /// SETTLE_SAGA_PATTERN: `orchestration` (default) or `choreography`, for orders that do not say.
    pub saga_pattern: settle_app::orders::Pattern,
    /// SETTLE_FOLLOW_POLL_MS: how often each instance's follower looks for events another instance published;
    /// with the relay's 200 ms, the bound on how stale a cached status can be on any instance.
    pub follow_poll: Duration,
    /// SETTLE_SSE_MAX_STREAMS: event streams one instance serves at most (429 `too_many_streams` beyond).
    pub sse_max_streams: usize,
    /// SETTLE_SSE_MAX_STREAMS_PER_MERCHANT: event streams one merchant may hold open on one instance.
    pub sse_max_per_merchant: usize,
    /// SETTLE_SSE_HEARTBEAT_SECS: how often an idle event stream sends a heartbeat comment.
    pub sse_heartbeat: Duration,
    /// The card rail.
    pub card: CardConfig,
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
            admin_token: None,
            cors_origins: Vec::new(),
            rate_limit_per_sec: 1000,
            rate_limit_burst: 2000,
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Pretty,
            log_filter: "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into(),
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(20),
            db_max_connections: 20,
            relay_wait: Duration::from_secs(20),
            saga_pattern: Default::default(),
            follow_poll: Duration::from_millis(250),
            sse_max_streams: 10_000,
            sse_max_per_merchant: 1_000,
            sse_heartbeat: Duration::from_secs(15),
            card: CardConfig::default(),
            chains: Vec::new(),
        }
    }
}

/// Every setting's variable name.
const KNOWN: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "SETTLE_LISTEN",
    "SETTLE_ADMIN_TOKEN",
    "SETTLE_CORS_ORIGINS",
    "SETTLE_RATE_LIMIT_PER_SEC",
    "SETTLE_RATE_LIMIT_BURST",
    "SETTLE_TRUSTED_PROXIES",
    "SETTLE_LOG_FORMAT",
    "SETTLE_LOG",
    "SETTLE_BODY_LIMIT_BYTES",
    "SETTLE_REQUEST_TIMEOUT_SECS",
    "SETTLE_SHUTDOWN_TIMEOUT_SECS",
    "SETTLE_DB_MAX_CONNECTIONS",
    "SETTLE_PG_URL",
    "SETTLE_CALLBACK_URL",
    "SETTLE_PG_CONNECT_TIMEOUT_MS",
    "SETTLE_PG_TIMEOUT_MS",
    "SETTLE_PG_READ_RETRIES",
    "SETTLE_PG_CHARGE_RETRIES",
    "SETTLE_PG_BACKOFF_MS",
    "SETTLE_PG_BACKOFF_MAX_MS",
    "SETTLE_PG_MAX_CONCURRENT",
    "SETTLE_PG_MAX_WAIT_MS",
    "SETTLE_CB_WINDOW",
    "SETTLE_CB_MIN_CALLS",
    "SETTLE_CB_FAILURE_RATE",
    "SETTLE_CB_SLOW_CALL_RATE",
    "SETTLE_CB_SLOW_CALL_MS",
    "SETTLE_CB_OPEN_WAIT_SECS",
    "SETTLE_CB_HALF_OPEN_CALLS",
    "SETTLE_RECONCILE_AFTER_SECS",
    "SETTLE_RECONCILE_BACKOFF_SECS",
    "SETTLE_RECONCILE_DEADLINE_SECS",
    "SETTLE_PG_CA_FILE",
    "SETTLE_PG_RETRY_5XX",
    "SETTLE_PG_LOOKUP_SETTLE_MS",
    "SETTLE_RECONCILE_FINAL_CHECK_SECS",
    "SETTLE_DATABASE_CA_FILE",
    "SETTLE_REDIS_CA_FILE",
    "SETTLE_RELAY_WAIT_SECS",
    "SETTLE_SAGA_PATTERN",
    "SETTLE_FOLLOW_POLL_MS",
    "SETTLE_SSE_MAX_STREAMS",
    "SETTLE_SSE_MAX_STREAMS_PER_MERCHANT",
    "SETTLE_SSE_HEARTBEAT_SECS",
];

/// The file key of a variable: `SETTLE_CB_WINDOW` -> `cb_window`, `DATABASE_URL` -> `database_url`.
fn file_key(var: &str) -> String {
    var.strip_prefix("SETTLE_").unwrap_or(var).to_ascii_lowercase()
}

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
        let Some(var) = KNOWN.iter().find(|var| file_key(var) == k) else {
            bail!("{name}: unknown setting `{k}`");
        };
        let s = match v {
            toml::Value::Array(a) => a.iter().map(scalar).collect::<Option<Vec<_>>>().map(|v| v.join(",")),
            other => scalar(&other),
        }
        .ok_or_else(|| anyhow::anyhow!("{name}: `{k}` must be a string, a number, a boolean or a list of them"))?;
        out.insert((*var).to_owned(), s);
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
        let get = |k: &str| env(k).filter(|v| !v.is_empty()).or_else(|| file.get(k).cloned());
        let mut c = Self::default();
        if let Some(v) = get("DATABASE_URL") {
            c.database_url = v;
        }
        c.redis_url = get("REDIS_URL");
        c.database_ca_file = get("SETTLE_DATABASE_CA_FILE");
        c.redis_ca_file = get("SETTLE_REDIS_CA_FILE");
        if let Some(v) = get("SETTLE_LISTEN") {
            c.listen = v.parse().map_err(|_| anyhow::anyhow!("SETTLE_LISTEN={v} is not an address such as 127.0.0.1:3000"))?;
        }
        if let Some(v) = get("SETTLE_ADMIN_TOKEN") {
            if v.len() < 16 {
                bail!("SETTLE_ADMIN_TOKEN must be at least 16 characters");
            }
            c.admin_token = Some(SecretString::from(v));
        }
        if let Some(v) = get("SETTLE_CORS_ORIGINS") {
            c.cors_origins = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        num(&get, "SETTLE_RATE_LIMIT_PER_SEC", &mut c.rate_limit_per_sec)?;
        num(&get, "SETTLE_RATE_LIMIT_BURST", &mut c.rate_limit_burst)?;
        if let Some(v) = get("SETTLE_TRUSTED_PROXIES") {
            c.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(|_| anyhow::anyhow!("SETTLE_TRUSTED_PROXIES: {s} is not an IP address")))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = get("SETTLE_LOG_FORMAT") {
            c.log_format = match v.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => bail!("SETTLE_LOG_FORMAT={v} must be json or pretty"),
            };
        }
        if let Some(v) = get("SETTLE_LOG").or_else(|| env("RUST_LOG").filter(|v| !v.is_empty())) {
            c.log_filter = v;
        }
        num(&get, "SETTLE_BODY_LIMIT_BYTES", &mut c.body_limit_bytes)?;
        secs(&get, "SETTLE_REQUEST_TIMEOUT_SECS", &mut c.request_timeout)?;
        secs(&get, "SETTLE_SHUTDOWN_TIMEOUT_SECS", &mut c.shutdown_timeout)?;
        num(&get, "SETTLE_DB_MAX_CONNECTIONS", &mut c.db_max_connections)?;
        secs(&get, "SETTLE_RELAY_WAIT_SECS", &mut c.relay_wait)?;
        millis(&get, "SETTLE_FOLLOW_POLL_MS", &mut c.follow_poll)?;
        num(&get, "SETTLE_SSE_MAX_STREAMS", &mut c.sse_max_streams)?;
        num(&get, "SETTLE_SSE_MAX_STREAMS_PER_MERCHANT", &mut c.sse_max_per_merchant)?;
        secs(&get, "SETTLE_SSE_HEARTBEAT_SECS", &mut c.sse_heartbeat)?;
        if c.follow_poll.is_zero() || c.sse_heartbeat.is_zero() {
            bail!("SETTLE_FOLLOW_POLL_MS and SETTLE_SSE_HEARTBEAT_SECS must be at least 1");
        }
        if let Some(v) = get("SETTLE_SAGA_PATTERN") {
            c.saga_pattern = settle_app::orders::Pattern::parse(&v)
                .ok_or_else(|| anyhow::anyhow!("SETTLE_SAGA_PATTERN={v} must be orchestration or choreography"))?;
        }

        let k = &mut c.card;
        k.pg_url = get("SETTLE_PG_URL");
        if k.pg_url.as_deref() == Some("simulator") {
            k.pg_url = None;
            k.simulator = true;
        }
        k.ca_file = get("SETTLE_PG_CA_FILE");
        if let Some(v) = get("SETTLE_PG_RETRY_5XX") {
            k.retry_after_5xx = match v.as_str() {
                "lookup" => settle_card::client::RetryAfter5xx::Lookup,
                "never" => settle_card::client::RetryAfter5xx::Never,
                _ => bail!("SETTLE_PG_RETRY_5XX={v} must be lookup or never"),
            };
        }
        millis(&get, "SETTLE_PG_LOOKUP_SETTLE_MS", &mut k.lookup_settle)?;
        secs(&get, "SETTLE_RECONCILE_FINAL_CHECK_SECS", &mut k.final_check_after)?;
        k.callback_url = get("SETTLE_CALLBACK_URL");
        millis(&get, "SETTLE_PG_CONNECT_TIMEOUT_MS", &mut k.connect_timeout)?;
        millis(&get, "SETTLE_PG_TIMEOUT_MS", &mut k.request_timeout)?;
        num(&get, "SETTLE_PG_READ_RETRIES", &mut k.read_retries)?;
        num(&get, "SETTLE_PG_CHARGE_RETRIES", &mut k.charge_retries)?;
        millis(&get, "SETTLE_PG_BACKOFF_MS", &mut k.backoff_base)?;
        millis(&get, "SETTLE_PG_BACKOFF_MAX_MS", &mut k.backoff_max)?;
        num(&get, "SETTLE_PG_MAX_CONCURRENT", &mut k.max_concurrent)?;
        millis(&get, "SETTLE_PG_MAX_WAIT_MS", &mut k.max_wait)?;
        num(&get, "SETTLE_CB_WINDOW", &mut k.breaker.window_size)?;
        num(&get, "SETTLE_CB_MIN_CALLS", &mut k.breaker.minimum_calls)?;
        num(&get, "SETTLE_CB_FAILURE_RATE", &mut k.breaker.failure_rate_threshold)?;
        num(&get, "SETTLE_CB_SLOW_CALL_RATE", &mut k.breaker.slow_call_rate_threshold)?;
        millis(&get, "SETTLE_CB_SLOW_CALL_MS", &mut k.breaker.slow_call_duration)?;
        secs(&get, "SETTLE_CB_OPEN_WAIT_SECS", &mut k.breaker.open_wait)?;
        num(&get, "SETTLE_CB_HALF_OPEN_CALLS", &mut k.breaker.half_open_calls)?;
        secs(&get, "SETTLE_RECONCILE_AFTER_SECS", &mut k.reconcile_after)?;
        secs(&get, "SETTLE_RECONCILE_DEADLINE_SECS", &mut k.reconcile_deadline)?;
        if let Some(v) = get("SETTLE_RECONCILE_BACKOFF_SECS") {
            k.reconcile_backoff = v
                .split(',')
                .map(|s| s.trim().parse::<u64>().map(Duration::from_secs))
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("SETTLE_RECONCILE_BACKOFF_SECS={v} must be comma-separated whole seconds"))?;
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
                spec.rpc_urls = u.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
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
        if self.rate_limit_per_sec > 0 && self.rate_limit_burst == 0 {
            bail!("SETTLE_RATE_LIMIT_BURST must be at least 1 when rate limiting is on");
        }
        if self.body_limit_bytes < 1024 {
            bail!("SETTLE_BODY_LIMIT_BYTES must be at least 1024");
        }
        if self.request_timeout.is_zero() {
            bail!("SETTLE_REQUEST_TIMEOUT_SECS must be at least 1");
        }
        if self.relay_wait >= self.request_timeout {
            bail!("SETTLE_RELAY_WAIT_SECS must be shorter than SETTLE_REQUEST_TIMEOUT_SECS, so a relay that takes longer answers 504 relay_timeout");
        }
        if self.db_max_connections == 0 {
            bail!("SETTLE_DB_MAX_CONNECTIONS must be at least 1");
        }
        let k = &self.card;
        for (name, url) in [("SETTLE_PG_URL", &k.pg_url), ("SETTLE_CALLBACK_URL", &k.callback_url)] {
            if let Some(u) = url
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                bail!("{name} must start with http:// or https:// (got {})", redact(u));
            }
        }
        let b = &k.breaker;
        if !(0.0..=100.0).contains(&b.failure_rate_threshold) || b.failure_rate_threshold == 0.0 {
            bail!("SETTLE_CB_FAILURE_RATE must be a percentage above 0 and at most 100");
        }
        if !(0.0..=100.0).contains(&b.slow_call_rate_threshold) || b.slow_call_rate_threshold == 0.0 {
            bail!("SETTLE_CB_SLOW_CALL_RATE must be a percentage above 0 and at most 100");
        }
        if b.window_size == 0 || b.minimum_calls == 0 || b.half_open_calls == 0 {
            bail!("SETTLE_CB_WINDOW, SETTLE_CB_MIN_CALLS and SETTLE_CB_HALF_OPEN_CALLS must be at least 1");
        }
        if k.max_concurrent == 0 {
            bail!("SETTLE_PG_MAX_CONCURRENT must be at least 1");
        }
        if k.request_timeout.is_zero() || k.connect_timeout.is_zero() {
            bail!("SETTLE_PG_TIMEOUT_MS and SETTLE_PG_CONNECT_TIMEOUT_MS must be at least 1");
        }
        if k.reconcile_backoff.is_empty() {
            bail!("SETTLE_RECONCILE_BACKOFF_SECS must list at least one pause");
        }
        // The reconciler must never fail a payment whose charge may still be on its way to the gateway.
        let worst = crate::startup::pg_config(k, String::new()).worst_case_charge();
        if k.reconcile_deadline <= worst {
            bail!(
                "SETTLE_RECONCILE_DEADLINE_SECS={} is shorter than the longest a charge can take ({} s from SETTLE_PG_TIMEOUT_MS, \
                 SETTLE_PG_CONNECT_TIMEOUT_MS, SETTLE_PG_CHARGE_RETRIES, SETTLE_PG_BACKOFF_MAX_MS and SETTLE_PG_LOOKUP_SETTLE_MS): raise it above that",
                k.reconcile_deadline.as_secs(),
                worst.as_secs() + 1
            );
        }
        for (name, file) in
            [("SETTLE_PG_CA_FILE", &k.ca_file), ("SETTLE_DATABASE_CA_FILE", &self.database_ca_file), ("SETTLE_REDIS_CA_FILE", &self.redis_ca_file)]
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

fn num<T: std::str::FromStr>(get: &impl Fn(&str) -> Option<String>, name: &str, into: &mut T) -> anyhow::Result<()> {
    if let Some(v) = get(name) {
        *into = v.trim().parse().map_err(|_| anyhow::anyhow!("{name}={v} is not a valid non-negative number"))?;
    }
    Ok(())
}

fn secs(get: &impl Fn(&str) -> Option<String>, name: &str, into: &mut Duration) -> anyhow::Result<()> {
    let mut n = into.as_secs();
    num(get, name, &mut n)?;
    *into = Duration::from_secs(n);
    Ok(())
}

fn millis(get: &impl Fn(&str) -> Option<String>, name: &str, into: &mut Duration) -> anyhow::Result<()> {
    let mut n = into.as_millis() as u64;
    num(get, name, &mut n)?;
    *into = Duration::from_millis(n);
    Ok(())
}

/// A URL with its password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
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
        assert_eq!(c.card.breaker.window_size, 100);
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
            ("SETTLE_CB_FAILURE_RATE", "150"),
            ("SETTLE_PG_URL", "ftp://x"),
            ("SETTLE_RECONCILE_BACKOFF_SECS", "5,x"),
            ("SETTLE_PG_RETRY_5XX", "sometimes"),
            ("SETTLE_PG_CA_FILE", "/nonexistent/ca.pem"),
        ] {
            let e = load(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
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
    fn the_simulator_runs_only_when_asked_for() {
        let c = load(&[]).unwrap();
        assert!(c.card.pg_url.is_none() && !c.card.simulator, "no gateway unless configured");
        let c = load(&[("SETTLE_PG_URL", "simulator")]).unwrap();
        assert!(c.card.pg_url.is_none() && c.card.simulator);
    }

    #[test]
    fn file_keys_are_the_variables_in_snake_case() {
        assert_eq!(file_key("SETTLE_CB_WINDOW"), "cb_window");
        assert_eq!(file_key("DATABASE_URL"), "database_url");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://settle.db"), "sqlite://settle.db");
    }
}
