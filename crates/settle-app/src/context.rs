//! The application context: built once at startup, cloned cheaply into every request and worker.

use std::{sync::Arc, time::Duration};

use settle_store::DatabaseConnection;
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

use crate::{cache::PaymentCache, outbox};

/// Tunables of the application layer (the binary fills them from configuration).
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long an Idempotency-Key record lives (24 h).
    pub idempotency_ttl: Duration,
    /// How long a request waits for another in-flight request with its key before answering 409.
    pub idempotency_wait: Duration,
    /// An IN_FLIGHT key older than this is taken to be from a crashed request and may be taken over.
    pub idempotency_stale: Duration,
    /// How often an idle outbox relay looks for rows committed by other instances.
    pub outbox_poll: Duration,
    /// Lease time of single-active workers.
    pub lease_ttl: Duration,
    /// The card rail's reconciliation timings.
    pub card: CardSettings,
    /// How long `POST /payments/{id}/relay` waits for the payment to complete before answering 504.
    pub relay_wait: Duration,
    /// How `POST /orders` runs its saga when the request does not say.
    pub saga_pattern: crate::orders::Pattern,
    /// How often the follower looks for rows another instance's relay published (with the relay's poll, the
    /// bound on how stale a cached status can be on any instance).
    pub follow_poll: Duration,
    /// SSE streams this instance serves at most, and at most per merchant.
    pub sse_max_streams: usize,
    pub sse_max_per_merchant: usize,
    /// How often an SSE stream with nothing to send sends a heartbeat comment.
    pub sse_heartbeat: Duration,
}

/// Timings of the card rail.
#[derive(Clone, Debug)]
pub struct CardSettings {
    /// Where the gateway POSTs results (Settle's `/payments/callback`).
    pub callback_url: String,
    /// A PROCESSING card payment older than this is asked about by the reconciler.
    pub reconcile_after: Duration,
    /// Pauses between successive questions about one payment (the last repeats).
    pub backoff: Vec<Duration>,
    /// A payment the gateway never recorded becomes FAILED this long after it went PROCESSING.
    pub not_recorded_deadline: Duration,
    /// How often an idle reconciler looks for work.
    pub poll: Duration,
    /// How long after a card payment is final the gateway is asked once more about its order (transactions
    /// Settle must void: a duplicate, a late success).
    pub final_check_after: Duration,
    /// The gateway is the in-process simulator (`--demo` or `SETTLE_PG_URL=simulator`).
    pub simulator: bool,
}

impl Default for CardSettings {
    fn default() -> Self {
        Self {
            callback_url: "http://127.0.0.1:3000/payments/callback".into(),
            reconcile_after: Duration::from_secs(5),
            backoff: [5, 30, 120, 600].into_iter().map(Duration::from_secs).collect(),
            not_recorded_deadline: Duration::from_secs(120),
            poll: Duration::from_secs(1),
            final_check_after: Duration::from_secs(60),
            simulator: false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            idempotency_ttl: Duration::from_secs(24 * 3600),
            idempotency_wait: Duration::from_secs(10),
            idempotency_stale: Duration::from_secs(60),
            outbox_poll: Duration::from_millis(200),
            lease_ttl: Duration::from_secs(10),
            card: CardSettings::default(),
            relay_wait: Duration::from_secs(20),
            saga_pattern: Default::default(),
            follow_poll: Duration::from_millis(250),
            sse_max_streams: 10_000,
            sse_max_per_merchant: 1_000,
            sse_heartbeat: Duration::from_secs(15),
        }
    }
}

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
    pub db: DatabaseConnection,
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
    pub fanout: Arc<crate::follower::Fanout>,
    /// The card gateway client (None: the card rail is off).
    pub pg: Option<Arc<settle_card::client::PgClient>>,
    /// The configured chains.
    pub chains: crate::chain::Chains,
    /// Woken when a relay request is recorded, so the relayer sends it at once.
    pub relay_wake: Arc<Notify>,
    /// Card charges running in their own tasks; shutdown waits for them before closing the pool.
    pub charges: crate::card::InFlight,
    /// The saga ids a choreography handler of this instance just changed; requests waiting on a saga listen.
    pub(crate) saga_changed: tokio::sync::broadcast::Sender<String>,
    /// API keys this instance authenticated, and their merchant, for a minute (keys live only in memory).
    pub(crate) auth_cache: moka::future::Cache<String, String>,
    /// Keys that matched no merchant, remembered briefly: a repeated bad key costs no lookup.
    pub(crate) auth_misses: moka::future::Cache<String, ()>,
    /// Each merchant's fee on chain payments, for [`FEE_TTL`].
    pub(crate) merchant_fees: moka::future::Cache<String, i32>,
    /// Each merchant's Idempotency-Key fingerprint secret (never changes once stored).
    pub(crate) fingerprint_secrets: moka::future::Cache<String, Arc<[u8]>>,
    /// Gateway reads callbacks may run at once (apart from the charges' bulkhead).
    pub(crate) callback_permits: Arc<tokio::sync::Semaphore>,
}

/// How long an instance keeps a merchant's fee: a fee changed on another instance applies there within this.
pub const FEE_TTL: Duration = Duration::from_secs(5);

impl Context {
    pub fn new(db: DatabaseConnection, cache: PaymentCache, settings: Settings) -> Self {
        Self::assemble(db, cache, settings, Default::default(), None)
    }

    /// A context with its chains and its card gateway client.
    pub fn assemble(
        db: DatabaseConnection,
        cache: PaymentCache,
        settings: Settings,
        chains: crate::chain::Chains,
        pg: Option<Arc<settle_card::client::PgClient>>,
    ) -> Self {
        let (published, _) = watch::channel(0);
        Self(Arc::new(Shared {
            db,
            cache,
            instance_id: format!("settle-{}", uuid::Uuid::now_v7().simple()),
            outbox_wake: Arc::new(Notify::new()),
            published,
            follow_wake: Arc::new(Notify::new()),
            fanout: crate::follower::Fanout::new(settings.sse_max_streams, settings.sse_max_per_merchant),
            pg,
            charges: crate::card::InFlight::default(),
            chains,
            relay_wake: Arc::new(Notify::new()),
            saga_changed: tokio::sync::broadcast::channel(4096).0,
            auth_cache: moka::future::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(60)).build(),
            callback_permits: Arc::new(tokio::sync::Semaphore::new(4)),
            fingerprint_secrets: moka::future::Cache::builder().max_capacity(10_000).build(),
            merchant_fees: moka::future::Cache::builder().max_capacity(10_000).time_to_live(FEE_TTL).build(),
            auth_misses: moka::future::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(30)).build(),
            settings,
        }))
    }

    /// Starts the background workers; they stop when `stop` turns true.
    pub fn spawn_workers(&self, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut handles = Vec::new();
        // Each worker: its step loop (woken by `wake`, else every `idle`), then its lease given up at shutdown.
        macro_rules! worker {
            ($name:literal, $worker:expr, $wake:expr, $idle:expr) => {{
                let (w, wake, idle, stop) = ($worker, $wake, $idle, stop.clone());
                handles.push(tokio::spawn(async move {
                    let step = w.clone();
                    let run = move || {
                        let s = step.clone();
                        async move { s.run_once().await }
                    };
                    crate::worker::run_loop($name, run, wake, idle, stop).await;
                    w.release().await;
                }));
            }};
        }
        let never = || Arc::new(Notify::new());
        worker!("outbox-relay", outbox::Relay::new(self.clone()), self.outbox_wake.clone(), self.settings.outbox_poll);
        worker!("follower", crate::follower::Follower::new(self.clone()), self.follow_wake.clone(), self.settings.follow_poll);
        if self.pg.is_some() {
            worker!("card-reconciler", crate::card::Reconciler::new(self.clone()), never(), self.settings.card.poll);
            worker!("card-voider", crate::card::Voider::new(self.clone()), never(), self.settings.card.poll);
        }
        // Every handler of the choreography emits its next event, so the dispatcher wakes on each publication
        // (and polls for events another instance's relay published).
        let chor_wake = never();
        let (bridge_wake, mut published, mut bridge_stop) = (chor_wake.clone(), self.published.subscribe(), stop.clone());
        handles.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = published.changed() => if r.is_err() { break } else { bridge_wake.notify_one() },
                    _ = bridge_stop.changed() => break,
                }
            }
        }));
        worker!("saga-choreography", crate::orders::Choreographer::new(self.clone()), chor_wake, Duration::from_millis(200));
        worker!("saga-recovery", crate::orders::SagaWorker::new(self.clone()), never(), Duration::from_millis(500));
        for chain in self.chains.0.iter() {
            let w = crate::chain::watcher::Watcher::new(self.clone(), chain.clone());
            let poll = w.poll();
            worker!("chain-watcher", w, never(), poll);
            let r = crate::chain::relayer::Relayer::new(self.clone(), chain.clone());
            let poll = r.poll();
            worker!("chain-relayer", r, self.relay_wake.clone(), poll);
        }
        let (janitor_ctx, mut janitor_stop) = (self.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            loop {
                match settle_store::idempotency::purge_expired(&janitor_ctx.db, settle_store::now_ms()).await {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency keys deleted"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                    _ = janitor_stop.changed() => break,
                }
            }
        }));
        handles
    }
}

impl Context {
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
