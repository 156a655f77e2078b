//! The application context: what requests and workers share, built once at startup and cloned cheaply.
//! Its settings are in [`crate::settings`]; the workers are started by the composition root (the binary's
//! startup) with [`crate::worker::spawn`].

pub use settle_store::stats::{PoolStats, StatementStats, TableStats};
use std::{sync::Arc, time::Duration};

use settle_store::Db;
use tokio::sync::{Notify, watch};

use crate::{Settings, cache::PaymentCache};

/// Everything a request or a worker needs. Cheap to clone (one reference count): requests and tasks clone it
/// freely.
#[derive(Clone)]
pub struct Context(Arc<Shared>);

impl std::ops::Deref for Context {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What a [`Context`] holds.
pub struct Shared {
    pub db: Db,
    pub cache: PaymentCache,
    pub settings: Settings,
    /// This process's name in lease rows.
    pub instance_id: String,
    /// Woken after a commit that queued outbox rows, so the relay publishes at once.
    pub outbox_wake: Arc<Notify>,
    /// The highest outbox seq this instance published (the choreography's dispatcher waits on it).
    pub published: watch::Sender<i64>,
    /// Woken when this instance's relay published rows, so the follower reads them at once.
    pub follow_wake: Arc<Notify>,
    /// This instance's SSE streams, fed by the follower.
    pub fanout: Arc<crate::fanout::Fanout>,
    /// The card gateway of live payments (None: the card rail is off in live mode).
    pub gateway: Option<Arc<settle_card::client::GatewayClient>>,
    /// The card gateway of test payments: the PG simulator (in-process unless SETTLE_PG_TEST_URL names one).
    pub test_gateway: Option<Arc<settle_card::client::GatewayClient>>,
    /// The configured chains.
    pub chains: crate::chain::Chains,
    /// Read-only mode set by the admin (`POST /v1/admin/read-only`).
    pub(crate) read_only_admin: std::sync::atomic::AtomicBool,
    /// The admin's switch set on this instance when the database refused to store it: held here until a later
    /// switch is stored (the follower's reads of the stored switch do not undo it).
    pub(crate) read_only_pinned: std::sync::atomic::AtomicBool,
    /// Woken when webhook deliveries are created or a send ends, so the sender looks for due ones at once.
    pub webhook_wake: Arc<Notify>,
    /// Woken when a relay request is recorded, so the relayer sends it at once.
    pub relay_wake: Arc<Notify>,
    /// Card charges running in their own tasks; shutdown waits for them before closing the pool.
    pub charges: crate::handles::InFlight,
    /// The saga ids a choreography handler of this instance just changed; requests waiting on a saga listen.
    pub(crate) saga_changed: tokio::sync::broadcast::Sender<String>,
    /// API keys this instance authenticated, and their merchant, for a minute (keys live only in memory).
    pub(crate) auth_cache: moka::future::Cache<String, crate::handles::Caller>,
    /// Counts this instance's forgetting of authenticated keys (a revocation or a merchant's deletion, its own or
    /// one its follower read): a key lookup that began before one is not cached, and open event streams check
    /// their key again when it moves.
    pub auth_epoch: watch::Sender<u64>,
    /// The same count, moved before the cache is emptied (the watch above is told after): what a lookup compares.
    pub(crate) auth_generation: std::sync::atomic::AtomicU64,
    /// Keys that matched no merchant, remembered briefly: a repeated bad key costs no lookup.
    pub(crate) auth_misses: moka::future::Cache<String, ()>,
    /// Each merchant's fee on chain payments, for [`FEE_TTL`].
    pub(crate) merchant_fees: moka::future::Cache<String, settle_domain::FeeBps>,
    /// Each merchant's Idempotency-Key fingerprint secret (never changes once stored).
    pub(crate) fingerprint_secrets: moka::future::Cache<String, Arc<[Arc<[u8]>]>>,
    /// Gateway reads callbacks may run at once (apart from the charges' bulkhead).
    pub(crate) callback_permits: Arc<tokio::sync::Semaphore>,
}

/// How long an instance keeps a merchant's fee: a fee changed on another instance applies there within this.
pub const FEE_TTL: Duration = Duration::from_secs(5);

impl Context {
    pub fn new(db: Db, cache: PaymentCache, settings: Settings) -> Self {
        Self::assemble(db, cache, settings, Default::default(), None, None)
    }

    /// A context with its chains and its card gateway clients (live, then test).
    pub fn assemble(
        db: Db,
        cache: PaymentCache,
        settings: Settings,
        chains: crate::chain::Chains,
        gateway: Option<Arc<settle_card::client::GatewayClient>>,
        test_gateway: Option<Arc<settle_card::client::GatewayClient>>,
    ) -> Self {
        let (published, _) = watch::channel(0);
        Self(Arc::new(Shared {
            db,
            cache,
            instance_id: format!("settle-{}", uuid::Uuid::now_v7().simple()),
            outbox_wake: Arc::new(Notify::new()),
            published,
            follow_wake: Arc::new(Notify::new()),
            fanout: crate::fanout::Fanout::new(settings.sse_max_streams, settings.sse_max_per_merchant),
            gateway,
            test_gateway,
            charges: crate::handles::InFlight::default(),
            chains,
            relay_wake: Arc::new(Notify::new()),
            webhook_wake: Arc::new(Notify::new()),
            read_only_admin: Default::default(),
            read_only_pinned: Default::default(),
            saga_changed: tokio::sync::broadcast::channel(4096).0,
            auth_cache: moka::future::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(60)).build(),
            auth_epoch: watch::channel(0).0,
            auth_generation: Default::default(),
            callback_permits: Arc::new(tokio::sync::Semaphore::new(4)),
            fingerprint_secrets: moka::future::Cache::builder().max_capacity(10_000).build(),
            merchant_fees: moka::future::Cache::builder().max_capacity(10_000).time_to_live(FEE_TTL).build(),
            auth_misses: moka::future::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(30)).build(),
            settings,
        }))
    }

    /// The card gateway of a tenant's mode: live payments never reach the test gateway, nor test ones the live one.
    pub fn card_gateway(&self, tenant: &str) -> Option<Arc<settle_card::client::GatewayClient>> {
        if settle_domain::mode::is_live(tenant) { self.gateway.clone() } else { self.test_gateway.clone() }
    }

    /// Whether either mode has a card gateway (the card workers run).
    pub fn has_card_gateway(&self) -> bool {
        self.gateway.is_some() || self.test_gateway.is_some()
    }

    /// Why Settle refuses writes now, if it does: `configured` (SETTLE_READ_ONLY), `admin`, or `detected` (the
    /// database refused a write less than `read_only_probe` ago).
    pub fn read_only(&self) -> Option<&'static str> {
        if self.settings.read_only {
            return Some("configured");
        }
        if self.read_only_admin.load(std::sync::atomic::Ordering::Relaxed) || self.read_only_pinned.load(std::sync::atomic::Ordering::Relaxed) {
            return Some("admin");
        }
        let seen = settle_store::error::read_only_seen();
        (seen > 0 && settle_store::now_ms() - seen < self.settings.read_only_probe.as_millis() as i64).then_some("detected")
    }

    /// Applies the admin's read-only mode on this instance (as stored: [`crate::audit::set_read_only`] stores it,
    /// every instance's follower applies it).
    pub fn apply_read_only(&self, on: bool) {
        if self.read_only_admin.swap(on, std::sync::atomic::Ordering::Relaxed) != on {
            tracing::warn!(read_only = on, "read-only mode set by the admin");
        }
    }

    /// The pool's connections now.
    pub fn pool_stats(&self) -> settle_store::stats::PoolStats {
        settle_store::stats::pool(&self.db)
    }

    /// The database as an operator sees it: its backend, the pool's connections, each table's rows and bytes.
    pub async fn db_stats(&self) -> Result<DbStats, settle_store::StoreError> {
        Ok(DbStats {
            backend: match self.db.pool().get_database_backend() {
                settle_store::DbBackend::Postgres => "postgres",
                settle_store::DbBackend::MySql => "mysql",
                _ => "sqlite",
            },
            pool: settle_store::stats::pool(&self.db),
            tables: settle_store::stats::tables(&self.db).await?,
            statements: settle_store::stats::statements(50),
        })
    }

    /// One round trip to the database.
    pub async fn ping_db(&self) -> Result<(), settle_store::StoreError> {
        settle_store::ping(&self.db).await
    }

    /// Outbox rows not yet published, and the age in seconds of the oldest (for /metrics).
    pub async fn outbox_backlog(&self) -> Result<(u64, f64), settle_store::StoreError> {
        let (n, oldest) = settle_store::outbox::backlog(&self.db).await?;
        let age = oldest.map(|t| (settle_store::now_ms() - t).max(0) as f64 / 1000.0).unwrap_or(0.0);
        Ok((n, age))
    }
}

/// The database as `GET /v1/admin/db` and `settle db stats` show it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DbStats {
    /// sqlite, postgres or mysql.
    pub backend: &'static str,
    pub pool: settle_store::stats::PoolStats,
    pub tables: Vec<settle_store::stats::TableStats>,
    /// This instance's 50 statements with the most total time: runs, slow runs, p50 and p95.
    pub statements: Vec<settle_store::stats::StatementStats>,
}
