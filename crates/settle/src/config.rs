//! Configuration: defaults, then an optional `settle.toml` (or the file SETTLE_CONFIG names), then
//! environment variables. A bad value fails at start with one line that names the setting.

use std::{net::SocketAddr, path::Path, time::Duration};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Deserialize;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything Settle reads at start.
#[derive(Clone, Debug)]
pub struct Config {
    /// DATABASE_URL: `sqlite://settle.db` (default), `postgres://...` or `mysql://...`.
    pub database_url: String,
    /// REDIS_URL: Redis for the cache; unset means an in-process cache.
    pub redis_url: Option<String>,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://settle.db".into(),
            redis_url: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            admin_token: None,
            cors_origins: Vec::new(),
            rate_limit_per_sec: 1000,
            rate_limit_burst: 2000,
            log_format: LogFormat::Pretty,
            log_filter: "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into(),
            body_limit_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(20),
            db_max_connections: 20,
        }
    }
}

/// The file form: the same settings, snake_case names.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    redis_url: Option<String>,
    listen: Option<String>,
    admin_token: Option<String>,
    cors_origins: Option<Vec<String>>,
    rate_limit_per_sec: Option<u32>,
    rate_limit_burst: Option<u32>,
    log_format: Option<String>,
    log: Option<String>,
    body_limit_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    shutdown_timeout_secs: Option<u64>,
    db_max_connections: Option<u32>,
}

impl Config {
    /// Reads the configuration from the process environment and the optional file.
    pub fn load() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `env` (a test passes its own map).
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut c = Self::default();
        let path = env("SETTLE_CONFIG");
        let file = match &path {
            Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("SETTLE_CONFIG: cannot read {p}"))?),
            None if Path::new("settle.toml").exists() => Some(std::fs::read_to_string("settle.toml").context("settle.toml: cannot read it")?),
            None => None,
        };
        if let Some(text) = file {
            let name = path.as_deref().unwrap_or("settle.toml");
            let f: FileConfig = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{name}: {}", e.message()))?;
            c.apply_file(f)?;
        }
        let set = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(v) = set("DATABASE_URL") {
            c.database_url = v;
        }
        if let Some(v) = set("REDIS_URL") {
            c.redis_url = Some(v);
        }
        if let Some(v) = set("SETTLE_LISTEN") {
            c.listen = parse_listen("SETTLE_LISTEN", &v)?;
        }
        if let Some(v) = set("SETTLE_ADMIN_TOKEN") {
            c.admin_token = Some(admin_token("SETTLE_ADMIN_TOKEN", v)?);
        }
        if let Some(v) = set("SETTLE_CORS_ORIGINS") {
            c.cors_origins = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        if let Some(v) = set("SETTLE_RATE_LIMIT_PER_SEC") {
            c.rate_limit_per_sec = num("SETTLE_RATE_LIMIT_PER_SEC", &v)?;
        }
        if let Some(v) = set("SETTLE_RATE_LIMIT_BURST") {
            c.rate_limit_burst = num("SETTLE_RATE_LIMIT_BURST", &v)?;
        }
        if let Some(v) = set("SETTLE_LOG_FORMAT") {
            c.log_format = log_format("SETTLE_LOG_FORMAT", &v)?;
        }
        if let Some(v) = set("SETTLE_LOG").or_else(|| set("RUST_LOG")) {
            c.log_filter = v;
        }
        if let Some(v) = set("SETTLE_BODY_LIMIT_BYTES") {
            c.body_limit_bytes = num("SETTLE_BODY_LIMIT_BYTES", &v)?;
        }
        if let Some(v) = set("SETTLE_REQUEST_TIMEOUT_SECS") {
            c.request_timeout = Duration::from_secs(num("SETTLE_REQUEST_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = set("SETTLE_SHUTDOWN_TIMEOUT_SECS") {
            c.shutdown_timeout = Duration::from_secs(num("SETTLE_SHUTDOWN_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = set("SETTLE_DB_MAX_CONNECTIONS") {
            c.db_max_connections = num("SETTLE_DB_MAX_CONNECTIONS", &v)?;
        }
        c.validate()?;
        Ok(c)
    }

    fn apply_file(&mut self, f: FileConfig) -> anyhow::Result<()> {
        if let Some(v) = f.database_url {
            self.database_url = v;
        }
        if let Some(v) = f.redis_url {
            self.redis_url = Some(v);
        }
        if let Some(v) = f.listen {
            self.listen = parse_listen("listen", &v)?;
        }
        if let Some(v) = f.admin_token {
            self.admin_token = Some(admin_token("admin_token", v)?);
        }
        if let Some(v) = f.cors_origins {
            self.cors_origins = v;
        }
        if let Some(v) = f.rate_limit_per_sec {
            self.rate_limit_per_sec = v;
        }
        if let Some(v) = f.rate_limit_burst {
            self.rate_limit_burst = v;
        }
        if let Some(v) = f.log_format {
            self.log_format = log_format("log_format", &v)?;
        }
        if let Some(v) = f.log {
            self.log_filter = v;
        }
        if let Some(v) = f.body_limit_bytes {
            self.body_limit_bytes = v;
        }
        if let Some(v) = f.request_timeout_secs {
            self.request_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.shutdown_timeout_secs {
            self.shutdown_timeout = Duration::from_secs(v);
        }
        if let Some(v) = f.db_max_connections {
            self.db_max_connections = v;
        }
        Ok(())
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
        if self.db_max_connections == 0 {
            bail!("SETTLE_DB_MAX_CONNECTIONS must be at least 1");
        }
        Ok(())
    }
}

fn parse_listen(name: &str, v: &str) -> anyhow::Result<SocketAddr> {
    v.parse().map_err(|_| anyhow::anyhow!("{name}={v} is not an address such as 127.0.0.1:3000"))
}

fn num<T: std::str::FromStr>(name: &str, v: &str) -> anyhow::Result<T> {
    v.trim().parse().map_err(|_| anyhow::anyhow!("{name}={v} is not a non-negative integer"))
}

fn log_format(name: &str, v: &str) -> anyhow::Result<LogFormat> {
    match v {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        _ => bail!("{name}={v} must be json or pretty"),
    }
}

fn admin_token(name: &str, v: String) -> anyhow::Result<SecretString> {
    if v.len() < 16 {
        bail!("{name} must be at least 16 characters");
    }
    Ok(SecretString::from(v))
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
    use std::collections::HashMap;

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
        ] {
            let e = load(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite://settle.db"), "sqlite://settle.db");
    }
}
