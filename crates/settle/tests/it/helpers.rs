//! The test harness: a real Settle on port 0 over a fresh database per test (SQLite file, PostgreSQL or
//! MySQL database created for the test), with Redis or the in-process cache, and typed helpers per endpoint.
//!
//! The backend matrix comes from SETTLE_TEST_BACKENDS (default `sqlite,postgres,mysql`). A service that does not
//! answer is skipped with a notice locally and fails the run when CI=true.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use settle::{App, BuildOptions, Config};
use settle_store::ConnectionTrait;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const TOKEN: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
pub const RECIPIENT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    Memory,
    Redis,
}

#[derive(Clone, Copy, Debug)]
pub struct Variant {
    pub db: Db,
    pub cache: Cache,
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn pg_admin_url() -> String {
    std::env::var("SETTLE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn mysql_admin_url() -> String {
    std::env::var("SETTLE_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

pub fn redis_url() -> String {
    std::env::var("SETTLE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether `service` can be used; otherwise prints why and (in CI) fails.
pub fn unavailable(service: &str, why: &str) -> bool {
    assert!(!ci(), "{service} is required in CI but {why}");
    eprintln!("SKIPPED: {service} {why}");
    true
}

impl Variant {
    fn db_name(self) -> &'static str {
        match self.db {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
            Db::Mysql => "mysql",
        }
    }

    /// False (with a printed notice) when this variant's services are not in the matrix or not reachable.
    pub async fn available(self) -> bool {
        let wanted = std::env::var("SETTLE_TEST_BACKENDS").unwrap_or_else(|_| "sqlite,postgres,mysql".into());
        if !wanted.split(',').any(|b| b.trim() == self.db_name()) {
            eprintln!("SKIPPED: {} is not in SETTLE_TEST_BACKENDS", self.db_name());
            return false;
        }
        if self.cache == Cache::Redis && !redis_answers(&redis_url()).await {
            return !unavailable("Redis", &format!("does not answer at {}", redis_url()));
        }
        true
    }
}

async fn redis_answers(url: &str) -> bool {
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await.is_ok_and(|r| r.is_ok())
}

/// A database made for one test, dropped by [`TestDb::drop_now`].
pub struct TestDb {
    pub url: String,
    kind: Db,
    name: String,
    _dir: Option<Arc<TempDir>>,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("settle-test-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestDb {
    /// A database the test made itself (on a server of its own): never dropped here.
    pub fn at(url: String, kind: Db) -> Self {
        Self { url, kind, name: String::new(), _dir: None }
    }

    /// Creates an empty database; None when the backend is unavailable (skipped).
    pub async fn create(kind: Db) -> Option<Self> {
        // The whole UUIDv7: its first 12 hex digits are when it was made, so scripts/test drops only databases
        // old enough to be an interrupted run's, never those of a suite running beside it.
        let name = format!("settle_t_{}", uuid::Uuid::now_v7().simple());
        match kind {
            Db::Sqlite => {
                let dir = Arc::new(TempDir::new());
                let url = format!("sqlite://{}", dir.0.join("settle.db").display());
                Some(Self { url, kind, name, _dir: Some(dir) })
            }
            Db::Postgres | Db::Mysql => {
                let admin = if kind == Db::Postgres { pg_admin_url() } else { mysql_admin_url() };
                let conn = match settle_store::connect(&admin, 1).await {
                    Ok(c) => c,
                    Err(e) => {
                        unavailable(if kind == Db::Postgres { "PostgreSQL" } else { "MySQL" }, &format!("does not answer at {admin}: {e}"));
                        return None;
                    }
                };
                // The name is generated here, never user input.
                conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
                let _ = conn.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Some(Self { url: format!("{base}/{name}"), kind, name, _dir: None })
            }
        }
    }

    /// The same database reached through another address (a proxy).
    pub fn via(&self, addr: SocketAddr) -> Self {
        let (scheme, rest) = self.url.split_once("://").expect("url");
        let (userhost, path) = rest.split_once('/').expect("path");
        let user = userhost.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
        Self { url: format!("{scheme}://{user}{addr}/{path}"), kind: self.kind, name: self.name.clone(), _dir: self._dir.clone() }
    }

    /// host:port of the server.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        let rest = self.url.split_once("://")?.1;
        let host = rest.split_once('/')?.0;
        let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
        host.parse().ok()
    }

    pub async fn drop_now(&self) {
        if self.name.is_empty() {
            return;
        }
        let admin = match self.kind {
            Db::Sqlite => return,
            Db::Postgres => pg_admin_url(),
            Db::Mysql => mysql_admin_url(),
        };
        if let Ok(conn) = settle_store::connect(&admin, 1).await {
            let sql = match self.kind {
                Db::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
                _ => format!("DROP DATABASE IF EXISTS {}", self.name),
            };
            let _ = conn.execute_unprepared(&sql).await;
            let _ = conn.close().await;
        }
    }
}

/// How a test wants Settle set up.
#[derive(Clone)]
pub struct Setup {
    pub variant: Variant,
    pub redis_url: Option<String>,
    pub settings: settle_app::Settings,
    pub rate_limit: Option<(u32, u32)>,
    pub body_limit: Option<usize>,
    pub cors_origins: Vec<String>,
    /// SETTLE_TRUSTED_PROXIES.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub request_timeout: Option<Duration>,
    pub shutdown_timeout: Option<Duration>,
    /// Appended to the database URL (`?sslmode=require`).
    pub db_url_suffix: Option<String>,
    /// SQLite's write queue and groups (SETTLE_SQLITE_WRITE_QUEUE and its kin), when not the defaults.
    pub sqlite_writer: Option<settle_store::connect::WriterSettings>,
    /// SETTLE_REDIS_CA_FILE.
    pub redis_ca_file: Option<String>,
    /// The chains; by default the development chain 31337 (with TOKEN as USDC) on an address where no node
    /// answers (its gateway's version is given): creating a CHAIN payment signs its terms and needs no node.
    pub chains: Vec<settle_app::chain::ChainSpec>,
    pub card: CardSetup,
}

/// The card rail of a test: a simulator started for it (with these knobs) unless `gateway_url` names one, or no
/// gateway at all (`off`), or Settle's own in-process simulator (`in_process`).
#[derive(Clone)]
pub struct CardSetup {
    pub knobs: settle_card::sim::Knobs,
    pub gateway_url: Option<String>,
    /// The test-mode gateway, when it is not the live one's.
    pub test_gateway_url: Option<String>,
    pub off: bool,
    pub in_process: bool,
    /// The gateway client (its base URL is filled in at start).
    pub config: settle_card::client::GatewayConfig,
}

impl Default for CardSetup {
    fn default() -> Self {
        let mut config = settle_card::client::GatewayConfig::new("");
        config.breaker.open_wait = Duration::from_secs(1);
        config.lookup_settle = Duration::from_millis(300);
        Self { knobs: settle_card::sim::Knobs::calm(), gateway_url: None, test_gateway_url: None, off: false, in_process: false, config }
    }
}

impl Setup {
    pub fn new(variant: Variant) -> Self {
        let mut settings = settle_app::Settings::default();
        settings.card.reconcile_after = Duration::from_secs(1);
        settings.card.backoff = vec![Duration::from_secs(1)];
        settings.card.not_recorded_deadline = Duration::from_secs(10);
        settings.card.final_check_after = Duration::from_secs(2);
        Self {
            variant,
            redis_url: None,
            settings,
            rate_limit: None,
            body_limit: None,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            request_timeout: None,
            shutdown_timeout: None,
            db_url_suffix: None,
            sqlite_writer: None,
            redis_ca_file: None,
            chains: vec![settle_app::chain::settings::dev_chain("http://127.0.0.1:9")],
            card: CardSetup::default(),
        }
    }
}

/// A running Settle.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The demo merchant's API key.
    pub key: String,
    pub ctx: settle_app::Context,
    pub db: Arc<TestDb>,
    pub setup: Setup,
    /// The simulator started for this test, if any.
    pub sim: Option<settle_card::sim::SimHandle>,
    /// The gateway Settle talks to.
    pub gateway_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error envelope with this status and code; returns its `param`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> Option<String> {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        let e = &self.body["error"];
        assert_eq!(e["code"], code, "body: {}", self.text);
        assert!(e["type"].is_string() && e["message"].is_string(), "body: {}", self.text);
        assert!(e["requestId"].as_str().is_some_and(|s| !s.is_empty()), "no requestId: {}", self.text);
        e["param"].as_str().map(str::to_owned)
    }
}

impl TestApp {
    /// Settle for `variant`, or None when the variant is skipped.
    pub async fn spawn(variant: Variant) -> Option<Self> {
        Self::spawn_with(Setup::new(variant)).await
    }

    pub async fn spawn_with(setup: Setup) -> Option<Self> {
        if !setup.variant.available().await {
            return None;
        }
        let db = Arc::new(TestDb::create(setup.variant.db).await?);
        Some(Self::start(setup, db).await)
    }

    /// Starts Settle on an existing database (a restart).
    pub async fn start(setup: Setup, db: Arc<TestDb>) -> Self {
        settle_card::tls::ensure_crypto_provider();
        if std::env::var("TEST_LOG").is_ok() {
            settle::telemetry::init_logs(settle::config::LogFormat::Pretty, "debug,sqlx=warn,sea_orm=warn,hyper=info");
        }
        let url = format!("{}{}", db.url, setup.db_url_suffix.as_deref().unwrap_or(""));
        let mut cfg = Config { database_url: url, listen: SocketAddr::from(([127, 0, 0, 1], 0)), db_max_connections: 10, ..Config::default() };
        cfg.api.admin_token = Some(ADMIN_TOKEN.to_owned().into());
        cfg.redis_url = match setup.variant.cache {
            Cache::Memory => None,
            Cache::Redis => Some(setup.redis_url.clone().unwrap_or_else(redis_url)),
        };
        cfg.api.rate_limit = setup.rate_limit.map(|(per_second, burst)| settle_api::RateLimit { per_second, burst });
        if let Some(b) = setup.body_limit {
            cfg.api.body_limit = b;
        }
        cfg.gateway = setup.card.config.clone();
        cfg.api.cors_origins = setup.cors_origins.clone();
        cfg.api.trusted_proxies = setup.trusted_proxies.iter().map(|ip| settle_api::client_ip::TrustedProxy::from(*ip)).collect();
        if let Some(t) = setup.request_timeout {
            cfg.api.request_timeout = t;
        }
        cfg.redis_ca_file = setup.redis_ca_file.clone();
        if let Some(w) = setup.sqlite_writer {
            cfg.sqlite_writer = w;
        }
        cfg.chains = setup.chains.clone();
        cfg.app = setup.settings.clone();
        if let Some(t) = setup.shutdown_timeout {
            cfg.shutdown_timeout = t;
        }
        let sim = match &setup.card.gateway_url {
            _ if setup.card.off || setup.card.in_process => None,
            Some(_) => None,
            None => Some(settle_card::sim::start(TcpListener::bind("127.0.0.1:0").await.expect("bind sim"), setup.card.knobs.clone())),
        };
        let gateway_url = setup.card.gateway_url.clone().unwrap_or_else(|| sim.as_ref().map(|s| s.url()).unwrap_or_default());
        // The test's simulator is both modes' gateway (the demo key is a test key; other merchants' keys are live),
        // unless the setup asks for Settle's own in-process simulator (test mode) or no live gateway.
        cfg.gateway_url = (!setup.card.off && !setup.card.in_process).then(|| gateway_url.clone());
        cfg.test_gateway_url =
            setup.card.test_gateway_url.clone().or_else(|| (!setup.card.off && !setup.card.in_process).then(|| gateway_url.clone()));
        // `demo` seeds the demo merchant; the in-process simulator runs only when the setup asks for it.
        let app = App::build(&cfg, BuildOptions { migrate: true, demo: true, local_master_key: false }).await.expect("build app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let ctx = app.context().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            base,
            client: reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client"),
            key: settle_app::merchants::DEMO_API_KEY.to_owned(),
            ctx,
            db,
            setup,
            sim,
            gateway_url,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops Settle gracefully (as SIGTERM would) and waits for it.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("app task").expect("app stopped cleanly");
        }
    }

    /// Stops Settle and drops its database.
    pub async fn finish(mut self) {
        self.shutdown().await;
        if let Some(sim) = self.sim.take() {
            sim.stop().await;
        }
        self.db.drop_now().await;
    }

    pub async fn request(&self, method: Method, path: &str, key: Option<&str>, body: Option<&str>, extra: &[(&str, &str)]) -> Resp {
        request_at(&self.client, &self.base, method, path, key, body, extra).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, Some(&self.key), None, &[]).await
    }

    /// Every item of a /v1 list (`path` with its query), page after page by `startingAfter` (each item's `id_field`).
    pub async fn list_all(&self, path: &str, id_field: &str) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = match all.last() {
                Some(last) => format!("{path}{sep}startingAfter={}", last[id_field].as_str().unwrap()),
                None => path.to_owned(),
            };
            let page = self.get(&url).await;
            assert_eq!(page.status, 200, "{url}: {}", page.text);
            all.extend(page.body["data"].as_array().unwrap().iter().cloned());
            if page.body["hasMore"] != true {
                return all;
            }
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, Some(&self.key), Some(&body.to_string()), &[]).await
    }

    pub fn chain_payment(order_id: &str) -> Value {
        json!({"orderId": order_id, "amount": "1500", "currency": "USDC", "chainId": 31337, "tokenAddress": TOKEN, "recipientAddress": RECIPIENT})
    }

    /// Creates a chain payment for the demo merchant and returns it.
    pub async fn create_payment(&self, order_id: &str) -> Value {
        let r = self.post("/v1/payments", &Self::chain_payment(order_id)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    /// Creates a CARD payment and returns its id.
    pub async fn create_card_payment(&self, order_id: &str, amount: u64) -> String {
        let r = self.post("/v1/payments", &json!({"orderId": order_id, "amount": amount.to_string(), "currency": "KRW", "rail": "CARD"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["rail"], "CARD");
        r.body["paymentId"].as_str().expect("id").to_owned()
    }

    /// `POST /payments/{id}/card`.
    pub async fn pay(&self, id: &str, card_type: &str, card_no: &str, key: Option<&str>) -> Resp {
        let body = json!({"cardType": card_type, "cardNo": card_no}).to_string();
        let extra: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
        self.request(Method::POST, &format!("/v1/payments/{id}/card"), Some(&self.key), Some(&body), &extra).await
    }

    /// The simulator's request counts.
    pub async fn sim_stats(&self) -> settle_card::sim::Stats {
        self.client.get(format!("{}/admin/stats", self.gateway_url)).send().await.expect("stats").json().await.expect("stats json")
    }

    /// Every transaction the simulator recorded.
    pub async fn sim_transactions(&self) -> Vec<settle_card::wire::Transaction> {
        self.client.get(format!("{}/admin/transactions", self.gateway_url)).send().await.expect("txs").json().await.expect("txs json")
    }

    /// Waits until every payment in `ids` is COMPLETED or FAILED (or `limit` passes); returns their statuses.
    pub async fn wait_final(&self, ids: &[String], limit: Duration) -> Vec<String> {
        let statuses = async || {
            let mut statuses = Vec::with_capacity(ids.len());
            for id in ids {
                let row = settle_store::payments::find_any(&self.ctx.db, id).await.expect("read").expect("payment");
                statuses.push(row.status.as_str().to_owned());
            }
            statuses
        };
        let done = |s: &[String]| s.iter().all(|s| s == "COMPLETED" || s == "FAILED");
        match within(limit, async || Some(statuses().await).filter(|s| done(s))).await {
            Some(s) => s,
            None => statuses().await,
        }
    }

    /// Runs one worker's step on this instance's context until it finds nothing to do; returns the items it
    /// handled. The instance's own loop may run the same worker meanwhile: every worker's step is safe to race.
    pub async fn drive<W: settle_app::worker::Worker>(&self, worker: &W) -> usize {
        settle_app::worker::run_until_idle(|| worker.step()).await.unwrap_or_else(|e| panic!("{}: {e}", W::NAME))
    }

    /// Creates another merchant through the admin API; returns its test API key (the mode of the demo key, so the
    /// two merchants share the test's rails).
    pub async fn other_merchant(&self, name: &str) -> String {
        self.new_merchant(name).await.1
    }

    /// Creates another merchant through the admin API; returns its live and its test API keys.
    pub async fn new_merchant(&self, name: &str) -> (String, String) {
        let r = self.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(&json!({"name": name}).to_string()), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        (r.body["apiKey"].as_str().expect("apiKey").to_owned(), r.body["testApiKey"].as_str().expect("testApiKey").to_owned())
    }

    /// Runs the outbox relay until nothing is left to publish (the app's own relay may publish some rows
    /// meanwhile: a lost race is retried).
    pub async fn drain_outbox(&self) {
        let relay = settle_app::outbox::Relay::new(self.ctx.clone());
        // Bounded in time, not in tries: on a loaded machine the app's own relay can win many races in a row.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            match settle_app::worker::run_until_idle(|| relay.run_once()).await {
                Ok(_) if settle_store::outbox::backlog(&self.ctx.db).await.expect("backlog").0 == 0 => {
                    return;
                }
                Ok(_) | Err(settle_store::StoreError::Conflict(_)) => tokio::task::yield_now().await,
                Err(e) => panic!("relay: {e}"),
            }
        }
        panic!("the outbox did not drain");
    }
}

/// Polls `check` until it gives a value, and returns it; panics naming `what` if `limit` passes first. The one
/// place the suite waits on something it cannot be told about: drive a worker's step ([`TestApp::drive`]) where
/// the test can, and never assert that something did NOT happen without first waiting here for a positive sign
/// that it had its chance (the watcher's cursor passed the block, the step ran).
pub async fn eventually<T>(limit: Duration, what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    match within(limit, check).await {
        Some(v) => v,
        None => panic!("{what}: not within {limit:?}"),
    }
}

/// [`eventually`] that gives None instead of panicking when `limit` passes (for a test that then reports what it
/// saw instead).
/// Sends again after a 503 (a full bulkhead, a busy database), as a careful client does with the same
/// Idempotency-Key; panics when it is still 503 after 100 tries.
pub async fn unless_busy<F: std::future::Future<Output = Resp>>(mut send: impl FnMut() -> F) -> Resp {
    for _ in 0..100 {
        let r = send().await;
        if r.status != 503 {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still 503 after 100 tries");
}

pub async fn within<T>(limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let mut pace = Pace::new(limit);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if !pace.next().await {
            return None;
        }
    }
}

/// The pause between two looks of a poll: 5 ms, doubling up to 100 ms, never past the deadline.
struct Pace {
    deadline: tokio::time::Instant,
    pause: Duration,
}

impl Pace {
    fn new(limit: Duration) -> Self {
        Self { deadline: tokio::time::Instant::now() + limit, pause: Duration::from_millis(5) }
    }

    /// Waits before the next look; false once the deadline has passed.
    async fn next(&mut self) -> bool {
        let left = self.deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        tokio::time::sleep(self.pause.min(left)).await;
        self.pause = (self.pause * 2).min(Duration::from_millis(100));
        true
    }
}

/// [`within`] for a check that is a plain closure returning a future which borrows nothing of the closure
/// (`|| async move { .. }` over copied references): what a `tokio::spawn`ed task needs, where an async closure's
/// future is not known to be Send (a compiler limitation of async closures).
pub async fn within_fn<T, Fut: std::future::Future<Output = Option<T>>>(limit: Duration, mut check: impl FnMut() -> Fut) -> Option<T> {
    let mut pace = Pace::new(limit);
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if !pace.next().await {
            return None;
        }
    }
}

/// A payment as `GET /payments/{id}` shows it, from the create answer (which adds where and how to pay and
/// the checkout's client secret, shown once).
pub fn stored(created: &Value) -> Value {
    let mut v = created.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["clientSecret", "gatewayAddress", "forwarderAddress"] {
            o.remove(k);
        }
    }
    v
}

/// A TCP proxy that can be cut (every connection dropped, new ones refused) and restored, to make a
/// dependency fail without stopping the shared service.
pub struct Proxy {
    pub addr: SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                if *cut_rx.borrow() {
                    drop(inbound);
                    continue;
                }
                let mut rx = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                        _ = rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    pub fn cut(&self) {
        let _ = self.cut.send(true);
    }

    pub fn restore(&self) {
        let _ = self.cut.send(false);
    }
}

/// A proxy that relays until the client sends, in one read, bytes holding every one of `needles` (once; on
/// PostgreSQL a statement's bound values travel apart from its text, which was parsed earlier): those
/// are forwarded, the server's answer is never relayed, and the connection is cut a moment later. The server did
/// what it was asked; the client never hears it (an answer lost after a commit). Plain protocol only (no TLS).
pub async fn losing_answer(upstream: SocketAddr, needles: Vec<Vec<u8>>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let (needles, fired) = (needles.clone(), fired.clone());
            tokio::spawn(async move {
                let Ok(out) = tokio::net::TcpStream::connect(upstream).await else { return };
                let (mut ci, mut co) = inbound.into_split();
                let (mut si, mut so) = out.into_split();
                let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let lost_answers = lost.clone();
                let answers = tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = si.read(&mut buf).await {
                        if lost_answers.load(std::sync::atomic::Ordering::Acquire) || co.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = ci.read(&mut buf).await {
                    let chunk = &buf[..n];
                    let hit = needles.iter().all(|w| chunk.windows(w.len()).any(|x| x == w.as_slice()));
                    if hit && !fired.swap(true, std::sync::atomic::Ordering::AcqRel) {
                        lost.store(true, std::sync::atomic::Ordering::Release);
                        let _ = so.write_all(chunk).await;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        break;
                    }
                    if so.write_all(chunk).await.is_err() {
                        break;
                    }
                }
                answers.abort();
            });
        }
    });
    addr
}

/// One HTTP request to a Settle at `base` (in this process or a spawned binary).
pub async fn request_at(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut rb = client.request(method, format!("{base}{path}"));
    if let Some(k) = key {
        rb = rb.bearer_auth(k);
    }
    if let Some(b) = body {
        rb = rb.header("content-type", "application/json").body(b.to_owned());
    }
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let res = rb.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

/// One test function run over the whole matrix: every database with the in-process cache and with Redis.
#[macro_export]
macro_rules! matrix {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::helpers::{Cache, Db, Variant};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_memory() { super::$name(Variant { db: Db::Sqlite, cache: Cache::Memory }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_redis() { super::$name(Variant { db: Db::Sqlite, cache: Cache::Redis }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_memory() { super::$name(Variant { db: Db::Postgres, cache: Cache::Memory }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_redis() { super::$name(Variant { db: Db::Postgres, cache: Cache::Redis }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql_memory() { super::$name(Variant { db: Db::Mysql, cache: Cache::Memory }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql_redis() { super::$name(Variant { db: Db::Mysql, cache: Cache::Redis }).await }
        }
    )*};
}

/// One test function run once per database: with the in-process cache on SQLite and Redis on the others, or with
/// the cache named (`per_db!(cache = Memory; name)`) on all three.
#[macro_export]
macro_rules! per_db {
    (cache = $cache:ident; $($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::helpers::{Cache, Db, Variant};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() { super::$name(Variant { db: Db::Sqlite, cache: Cache::$cache }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() { super::$name(Variant { db: Db::Postgres, cache: Cache::$cache }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql() { super::$name(Variant { db: Db::Mysql, cache: Cache::$cache }).await }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::helpers::{Cache, Db, Variant};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() { super::$name(Variant { db: Db::Sqlite, cache: Cache::Memory }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() { super::$name(Variant { db: Db::Postgres, cache: Cache::Redis }).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn mysql() { super::$name(Variant { db: Db::Mysql, cache: Cache::Redis }).await }
        }
    )*};
}

/// A `settle` subcommand run as a process of the test's own in `dir` (its SQLite database and `settle.toml`
/// there), stopped by its PID. Its stdout is read until a line containing `ready` (kept in `ready_line`) and
/// then drained; its stderr goes to `dir/settle.log`.
pub struct Process {
    child: std::process::Child,
    pub ready_line: String,
}

impl Process {
    pub fn start(dir: &TempDir, args: &[&str], env: &[(&str, String)], ready: &str) -> Self {
        use std::io::BufRead;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.0.join("settle.log")).expect("settle.log");
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_settle"));
        cmd.args(args).current_dir(&dir.0).env_remove("DATABASE_URL").env_remove("REDIS_URL").env_remove("SETTLE_PG_URL").env("SETTLE_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(log).spawn().expect("spawn settle");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let ready_line =
            lines.by_ref().map_while(Result::ok).find(|l| l.contains(ready)).unwrap_or_else(|| panic!("settle {args:?} never said {ready:?}"));
        // Keep reading so the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, ready_line }
    }

    /// The address `settle serve` printed (`Settle listening on http://...`).
    pub fn base(&self) -> String {
        self.ready_line.split("listening on ").nth(1).and_then(|r| r.split_whitespace().next()).expect("an address").to_owned()
    }

    /// SIGKILL: no shutdown, no lease released, whatever was in flight cut off.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The tenant the demo key opens (the demo merchant's test mode): what store functions are scoped by.
pub const DEMO_TENANT: &str = "mch_demo:test";

/// A new CARD payment's row for the demo merchant, as a create would insert it (for tests that write through the
/// store directly).
pub fn card_row(order_id: &str) -> settle_store::payments::PaymentRow {
    settle_store::payments::NewPayment {
        payment_id: settle_domain::PaymentId::generate().to_string(),
        merchant_id: DEMO_TENANT.into(),
        order_id: order_id.into(),
        rail: settle_domain::Rail::Card,
        amount: "100".into(),
        currency: "KRW".into(),
        chain_id: None,
        token_address: None,
        recipient_address: None,
        chain_terms: None,
        details: Default::default(),
    }
    .row(settle_store::now_ms())
}

/// Spawns `f` and returns once its task has polled it once. A write on SQLite takes its place in the queue for the
/// write turn within its first poll (nothing before that waits), so when this returns a write that must wait for
/// its turn is queued: the positive sign that it had its chance to go through.
pub async fn spawn_polled<F>(f: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (polled, first_poll) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut f = std::pin::pin!(f);
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(std::future::Future::poll(f.as_mut(), cx))).await;
        let _ = polled.send(());
        match first {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => f.await,
        }
    });
    first_poll.await.expect("the task polled its future");
    task
}

/// A PostgreSQL role of the database at `url` (reached through `admin`) that may only SELECT, in sessions that may not
/// write at all (a standby's `default_transaction_read_only`), as operators grant backups and checks; gives its
/// name and a URL that logs in as it. `drop_role` removes it.
pub async fn read_only_role(admin: &settle_store::Db, url: &str, purpose: &str) -> (String, String) {
    use settle_store::ConnectionTrait;
    let role = format!("settle_ro_{purpose}_{}", std::process::id());
    let db_name = url.rsplit_once('/').unwrap().1.split('?').next().unwrap().to_owned();
    for sql in [
        format!("DROP ROLE IF EXISTS {role}"),
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT CONNECT ON DATABASE {db_name} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("ALTER ROLE {role} SET default_transaction_read_only = on"),
    ] {
        admin.execute_unprepared(&sql).await.unwrap();
    }
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_and_db = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    (role.clone(), format!("{scheme}://{role}@{host_and_db}"))
}

pub async fn drop_role(admin: &settle_store::Db, role: &str) {
    use settle_store::ConnectionTrait;
    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        let _ = admin.execute_unprepared(&sql).await;
    }
}
