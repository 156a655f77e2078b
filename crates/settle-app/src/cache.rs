//! The payment cache: read-through, TTL 300 s, one key per payment, `payment:{<paymentId>}` (the braces are a
//! Redis Cluster hash tag: whatever else is ever kept for a payment lands in the same slot). The entry holds the
//! chain id with the status, so the seeds' separate `payment:chainId:{id}` key is not kept.
//!
//! Every write carries the row version and never replaces a newer one (a Lua compare-and-set on Redis,
//! `and_compute_with` in memory), so a slow reader cannot put an old status back. Besides the instance that
//! made a change, every instance's follower applies it ([`crate::follower`]), so no instance serves a status
//! older than one relay interval plus one follower interval. Redis failing never fails a
//! request: the caller falls back to the database, the cache reports itself degraded, and for a short while
//! no Redis call is tried. A write that could not reach Redis leaves its key "dirty": before Redis is used
//! again, the dirty keys are deleted there, so a value cached before the outage is never served after it.
//!
//! With Redis, each instance also keeps statuses in memory in front of it (a near cache): a cached status read
//! costs no Redis round trip. It is as fresh as an in-process cache (every change reaches it through the
//! follower within the same bound), and it is what a dirty key is written back from when Redis returns.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use redis::{AsyncCommands, Script, aio::ConnectionManager};
use serde::{Deserialize, Serialize};

/// Cache TTL (seed 000).
pub const TTL: Duration = Duration::from_secs(300);
/// After a Redis failure, how long requests skip Redis before trying it again.
const RETRY_AFTER_MS: i64 = 1_000;
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// What the cache holds of a payment: enough to answer `GET /payments/{id}/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedStatus {
    pub payment_id: String,
    pub merchant_id: String,
    pub status: String,
    pub chain_id: Option<i64>,
    pub version: i64,
    pub updated_at: i64,
}

/// A status as this instance holds it in memory, with its answer to `GET /payments/{id}/status` rendered once
/// when it is stored: the most polled read then costs a lookup and a reference count, not a serialization.
#[derive(Debug)]
pub struct HeldStatus {
    pub status: CachedStatus,
    /// The JSON of [`crate::ledger::views::StatusView`] for `status`.
    pub body: bytes::Bytes,
}

impl HeldStatus {
    fn of(status: CachedStatus) -> Arc<Self> {
        let body = crate::ledger::views::status_body(&status);
        Arc::new(Self { status, body })
    }
}

/// Statuses in memory, keyed by payment id (Redis keys are [`status_key`]).
type Statuses = moka::future::Cache<String, Arc<HeldStatus>>;

/// The state `/health` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheHealth {
    Ok,
    Degraded,
    Memory,
}

impl CacheHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::Memory => "memory",
        }
    }
}

#[derive(Clone)]
pub struct PaymentCache {
    inner: Arc<Inner>,
}

enum Backend {
    /// Redis, and the statuses this instance knows in front of it.
    Redis(ConnectionManager, Statuses),
    Memory(Statuses, moka::future::Cache<String, (i64, Arc<str>)>),
}

struct Inner {
    backend: Backend,
    /// Metric handles, registered on first use (after the recorder is installed) rather than on every call.
    metrics: std::sync::OnceLock<CacheMetrics>,
    /// Epoch ms until which Redis is skipped after a failure.
    skip_until: AtomicI64,
    degraded: AtomicBool,
    dirty: Mutex<HashSet<String>>,
}

struct CacheMetrics {
    get: metrics::Histogram,
    put: metrics::Histogram,
    hits: metrics::Counter,
    misses: metrics::Counter,
}

const SET_IF_NEWER: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' and obj['version'] and tonumber(obj['version']) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"#;

/// The compiled script, hashed once (invocations use EVALSHA and load it on NOSCRIPT).
fn set_if_newer() -> &'static Script {
    static S: std::sync::OnceLock<Script> = std::sync::OnceLock::new();
    S.get_or_init(|| Script::new(SET_IF_NEWER))
}

fn now_ms() -> i64 {
    settle_store::now_ms()
}

/// An in-memory status cache (the whole cache without Redis, the near cache with it).
fn statuses() -> Statuses {
    moka::future::Cache::builder().max_capacity(100_000).time_to_live(TTL).build()
}

/// Stores `v` in `c` unless `c` holds the same or a newer version.
async fn put_newer(c: &Statuses, v: &CachedStatus) {
    c.entry(v.payment_id.clone())
        .and_compute_with(|cur| {
            let op = match cur {
                Some(e) if e.value().status.version >= v.version => moka::ops::compute::Op::Nop,
                _ => moka::ops::compute::Op::Put(HeldStatus::of(v.clone())),
            };
            std::future::ready(op)
        })
        .await;
}

pub fn status_key(payment_id: &str) -> String {
    format!("payment:{{{payment_id}}}")
}

/// The payment id of a Redis key made by [`status_key`].
fn payment_of_key(key: &str) -> Option<&str> {
    key.strip_prefix("payment:{")?.strip_suffix('}')
}

impl PaymentCache {
    /// An in-process cache (no REDIS_URL).
    pub fn memory() -> Self {
        let docs = moka::future::Cache::builder().max_capacity(100_000).time_to_live(TTL).build();
        Self::with(Backend::Memory(statuses(), docs))
    }

    /// A Redis cache. The connection is made lazily and re-made automatically; a bad URL fails here. With
    /// `rediss://`, the server's certificate must chain to `ca_pem` when given (instead of the system roots).
    pub fn redis(url: &str, ca_pem: Option<Vec<u8>>) -> Result<Self, redis::RedisError> {
        settle_card::tls::ensure_crypto_provider();
        let client = match ca_pem {
            Some(pem) => redis::Client::build_with_tls(url, redis::TlsCertificates { client_tls: None, root_cert: Some(pem) })?,
            None => redis::Client::open(url)?,
        };
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let mgr = ConnectionManager::new_lazy_with_config(client, cfg)?;
        Ok(Self::with(Backend::Redis(mgr, statuses())))
    }

    fn with(backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                metrics: std::sync::OnceLock::new(),
                skip_until: AtomicI64::new(0),
                degraded: AtomicBool::new(false),
                dirty: Mutex::new(HashSet::new()),
            }),
        }
    }

    fn metrics(&self) -> &CacheMetrics {
        self.inner.metrics.get_or_init(|| CacheMetrics {
            get: metrics::histogram!("settle_cache_seconds", "op" => "get"),
            put: metrics::histogram!("settle_cache_seconds", "op" => "put"),
            hits: metrics::counter!("settle_cache_requests_total", "result" => "hit"),
            misses: metrics::counter!("settle_cache_requests_total", "result" => "miss"),
        })
    }

    /// Counts a status read served from the cache (`hit`) or from the database.
    pub fn count_lookup(&self, hit: bool) {
        let m = self.metrics();
        if hit { m.hits.increment(1) } else { m.misses.increment(1) }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self.inner.backend, Backend::Redis(..))
    }

    /// The cached status of a payment, or None on a miss (or when Redis cannot be asked).
    pub async fn get_status(&self, payment_id: &str) -> Option<CachedStatus> {
        let started = std::time::Instant::now();
        let v = self.get_status_inner(payment_id).await;
        self.metrics().get.record(started.elapsed().as_secs_f64());
        v
    }

    /// The status of a payment as this instance holds it in memory (the in-process cache, or what it knows in
    /// front of Redis), never asking Redis, and not counted: the caller counts what it serves ([`Self::count_held`]);
    /// a miss goes on to [`Self::get_status`], which counts it.
    pub async fn get_status_held(&self, payment_id: &str) -> Option<Arc<HeldStatus>> {
        match &self.inner.backend {
            Backend::Memory(c, _) | Backend::Redis(_, c) => c.get(payment_id).await,
        }
    }

    /// Counts a status served from [`Self::get_status_held`], found in `took`: a get and a hit.
    pub fn count_held(&self, took: std::time::Duration) {
        self.metrics().get.record(took.as_secs_f64());
        self.count_lookup(true);
    }

    async fn get_status_inner(&self, payment_id: &str) -> Option<CachedStatus> {
        match &self.inner.backend {
            Backend::Memory(c, _) => c.get(payment_id).await.map(|h| h.status.clone()),
            Backend::Redis(mgr, near) => {
                if let Some(h) = near.get(payment_id).await {
                    return Some(h.status.clone());
                }
                let v: CachedStatus = self.redis_get(mgr, &status_key(payment_id)).await.and_then(|s| serde_json::from_str(&s).ok())?;
                // What Redis holds under this key is this payment's (a key is only ever written from its own
                // payment's status, but the near cache must never answer for another payment).
                if v.payment_id != payment_id {
                    return None;
                }
                put_newer(near, &v).await;
                Some(v)
            }
        }
    }

    async fn redis_get(&self, mgr: &ConnectionManager, key: &str) -> Option<String> {
        let mut conn = self.usable(mgr).await?;
        let res: redis::RedisResult<Option<String>> = conn.get(key).await;
        match res {
            Ok(v) => {
                self.healthy();
                v
            }
            Err(e) => {
                self.failed(&e, None);
                None
            }
        }
    }

    /// A cached document (JSON with a top-level `version`, such as a saga's view), or None on a miss.
    pub async fn get_doc(&self, key: &str) -> Option<String> {
        let started = std::time::Instant::now();
        let v = match &self.inner.backend {
            Backend::Memory(_, docs) => docs.get(key).await.map(|(_, body)| body.to_string()),
            Backend::Redis(mgr, _) => self.redis_get(mgr, key).await,
        };
        self.metrics().get.record(started.elapsed().as_secs_f64());
        v
    }

    /// Stores a document unless the cache holds the same or a newer `version` of it (the same guard as
    /// payment statuses).
    pub async fn put_doc(&self, key: &str, version: i64, body: String) {
        let started = std::time::Instant::now();
        match &self.inner.backend {
            Backend::Memory(_, docs) => {
                docs.entry(key.to_owned())
                    .and_compute_with(|cur| {
                        let op = match cur {
                            Some(e) if e.value().0 >= version => moka::ops::compute::Op::Nop,
                            _ => moka::ops::compute::Op::Put((version, Arc::from(body))),
                        };
                        std::future::ready(op)
                    })
                    .await;
            }
            Backend::Redis(mgr, _) => self.redis_set_if_newer(mgr, key, body, version).await,
        }
        self.metrics().put.record(started.elapsed().as_secs_f64());
    }

    /// SET_IF_NEWER on `key`.
    async fn redis_set_if_newer(&self, mgr: &ConnectionManager, key: &str, body: String, version: i64) {
        let Some(mut conn) = self.usable(mgr).await else {
            self.mark_dirty(key.to_owned());
            return;
        };
        let res: redis::RedisResult<i32> = set_if_newer().key(key).arg(body).arg(version).arg(TTL.as_secs()).invoke_async(&mut conn).await;
        match res {
            Ok(_) => self.healthy(),
            Err(e) => self.failed(&e, Some(key.to_owned())),
        }
    }

    /// Stores `v` unless the cache already holds the same or a newer version.
    pub async fn put_status(&self, v: &CachedStatus) {
        let started = std::time::Instant::now();
        self.put_status_inner(v).await;
        self.metrics().put.record(started.elapsed().as_secs_f64());
    }

    /// A status change the follower read from the outbox. Without Redis, into the cache. With Redis, into the
    /// near cache, and into Redis unless this instance already holds that version: then it wrote it to Redis
    /// itself (a failed write is remembered as a dirty key and written back), or read it from there. So the
    /// instance that makes a change writes it to Redis once, and the others' followers cover a writer that
    /// died before its write.
    pub async fn apply_published(&self, v: &CachedStatus) {
        if let Backend::Redis(_, near) = &self.inner.backend
            && near.get(&v.payment_id).await.is_some_and(|c| c.status.version >= v.version)
        {
            return;
        }
        self.put_status(v).await;
    }

    async fn put_status_inner(&self, v: &CachedStatus) {
        match &self.inner.backend {
            Backend::Memory(c, _) => put_newer(c, v).await,
            Backend::Redis(mgr, near) => {
                put_newer(near, v).await;
                let body = serde_json::to_string(v).unwrap_or_default();
                self.redis_set_if_newer(mgr, &status_key(&v.payment_id), body, v.version).await;
            }
        }
    }

    /// A Redis connection if Redis is not in its skip window and the keys written during an outage have been
    /// repaired (written back from the near cache, with the version guard, or else deleted); None otherwise (the
    /// caller uses the database).
    async fn usable(&self, mgr: &ConnectionManager) -> Option<ConnectionManager> {
        if now_ms() < self.inner.skip_until.load(Ordering::Relaxed) {
            metrics::counter!("settle_cache_skipped_total").increment(1);
            return None;
        }
        let mut conn = mgr.clone();
        let dirty: Vec<String> = self.inner.dirty.lock().map(|d| d.iter().cloned().collect()).unwrap_or_default();
        if !dirty.is_empty() {
            let res = self.repair(&mut conn, &dirty).await;
            match res {
                Ok(()) => {
                    if let Ok(mut d) = self.inner.dirty.lock() {
                        for k in &dirty {
                            d.remove(k);
                        }
                    }
                    tracing::info!(keys = dirty.len(), "cache: repaired the keys written during the Redis outage");
                }
                Err(e) => {
                    self.failed(&e, None);
                    return None;
                }
            }
        }
        Some(conn)
    }

    /// Writes each dirty key back from the near cache (never over a newer version), or deletes it.
    async fn repair(&self, conn: &mut ConnectionManager, dirty: &[String]) -> redis::RedisResult<()> {
        let near = match &self.inner.backend {
            Backend::Redis(_, near) => Some(near),
            Backend::Memory(..) => None,
        };
        for key in dirty {
            let known = match (near, payment_of_key(key)) {
                (Some(n), Some(id)) => n.get(id).await,
                _ => None,
            };
            match known {
                Some(h) => {
                    let body = serde_json::to_string(&h.status).unwrap_or_default();
                    let _: i32 = set_if_newer().key(key).arg(body).arg(h.status.version).arg(TTL.as_secs()).invoke_async(conn).await?;
                }
                None => conn.del::<_, ()>(key).await?,
            }
        }
        Ok(())
    }

    fn mark_dirty(&self, key: String) {
        if let Ok(mut d) = self.inner.dirty.lock() {
            d.insert(key);
        }
    }

    fn healthy(&self) {
        if self.inner.degraded.swap(false, Ordering::Relaxed) {
            tracing::info!("cache: Redis is answering again");
        }
    }

    fn failed(&self, e: &redis::RedisError, dirty_key: Option<String>) {
        if let Some(k) = dirty_key {
            self.mark_dirty(k);
        }
        self.inner.skip_until.store(now_ms() + RETRY_AFTER_MS, Ordering::Relaxed);
        metrics::counter!("settle_cache_errors_total").increment(1);
        if !self.inner.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "cache: Redis failed; serving from the database");
        }
    }

    /// Drops a payment's cached status here and in Redis (as its TTL or an eviction would).
    pub async fn evict(&self, payment_id: &str) {
        let key = status_key(payment_id);
        match &self.inner.backend {
            Backend::Memory(c, _) => c.invalidate(payment_id).await,
            Backend::Redis(mgr, near) => {
                near.invalidate(payment_id).await;
                if let Some(mut conn) = self.usable(mgr).await {
                    let res: redis::RedisResult<()> = conn.del(&key).await;
                    if let Err(e) = res {
                        self.failed(&e, Some(key));
                    }
                }
            }
        }
    }

    /// Checks the cache for `/health`: pings Redis (outside the skip window) and reports ok, degraded or memory.
    pub async fn health(&self) -> CacheHealth {
        match &self.inner.backend {
            Backend::Memory(..) => CacheHealth::Memory,
            Backend::Redis(mgr, _) => {
                let Some(mut conn) = self.usable(mgr).await else {
                    return CacheHealth::Degraded;
                };
                let res: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
                match res {
                    Ok(_) => {
                        self.healthy();
                        CacheHealth::Ok
                    }
                    Err(e) => {
                        self.failed(&e, None);
                        CacheHealth::Degraded
                    }
                }
            }
        }
    }
}
