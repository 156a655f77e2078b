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
        }
    }
}

/// Everything a request or a worker needs.
#[derive(Clone)]
pub struct Context {
    pub db: DatabaseConnection,
    pub cache: PaymentCache,
    pub settings: Settings,
    /// This process's name in lease rows.
    pub instance_id: String,
    /// Woken after a commit that queued outbox rows, so the relay publishes at once.
    pub outbox_wake: Arc<Notify>,
    /// The highest outbox seq this instance published; SSE streams wait on it.
    pub published: watch::Sender<i64>,
    /// The card gateway client (None: the card rail is off).
    pub pg: Option<Arc<settle_card::client::PgClient>>,
    /// The configured chains.
    pub chains: crate::chain::Chains,
    /// Woken when a relay request is recorded, so the relayer sends it at once.
    pub relay_wake: Arc<Notify>,
    /// Card charges running in their own tasks; shutdown waits for them before closing the pool.
    pub charges: crate::card::InFlight,
    pub(crate) auth_cache: moka::future::Cache<String, String>,
}

impl Context {
    pub fn new(db: DatabaseConnection, cache: PaymentCache, settings: Settings) -> Self {
        let (published, _) = watch::channel(0);
        Self {
            db,
            cache,
            settings,
            instance_id: format!("settle-{}", uuid::Uuid::now_v7().simple()),
            outbox_wake: Arc::new(Notify::new()),
            published,
            pg: None,
            charges: crate::card::InFlight::default(),
            chains: Default::default(),
            relay_wake: Arc::new(Notify::new()),
            auth_cache: moka::future::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(60)).build(),
        }
    }

    /// Starts the background workers; they stop when `stop` turns true.
    pub fn spawn_workers(&self, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let relay = outbox::Relay::new(self.clone());
        let relay_stop = stop.clone();
        let wake = self.outbox_wake.clone();
        let poll = self.settings.outbox_poll;
        let janitor_ctx = self.clone();
        let reconciler = crate::card::Reconciler::new(self.clone());
        let recon_stop = stop.clone();
        let recon_poll = self.settings.card.poll;
        let voider = crate::card::Voider::new(self.clone());
        let void_stop = stop.clone();
        let mut janitor_stop = stop.clone();
        let mut handles = Vec::new();
        if self.pg.is_some() {
            handles.push(tokio::spawn(async move {
                let r = reconciler.clone();
                crate::worker::run_loop(
                    "card-reconciler",
                    move || {
                        let r = r.clone();
                        async move { r.run_once().await }
                    },
                    Arc::new(Notify::new()),
                    recon_poll,
                    recon_stop,
                )
                .await;
                reconciler.release().await;
            }));
            handles.push(tokio::spawn(async move {
                let v = voider.clone();
                crate::worker::run_loop(
                    "card-voider",
                    move || {
                        let v = v.clone();
                        async move { v.run_once().await }
                    },
                    Arc::new(Notify::new()),
                    recon_poll,
                    void_stop,
                )
                .await;
                voider.release().await;
            }));
        }
        for chain in self.chains.0.iter() {
            let w = crate::chain::watcher::Watcher::new(self.clone(), chain.clone());
            let (w_stop, poll) = (stop.clone(), w.poll());
            handles.push(tokio::spawn(async move {
                let step = w.clone();
                crate::worker::run_loop(
                    "chain-watcher",
                    move || {
                        let s = step.clone();
                        async move { s.run_once().await }
                    },
                    Arc::new(Notify::new()),
                    poll,
                    w_stop,
                )
                .await;
                w.release().await;
            }));
            let r = crate::chain::relayer::Relayer::new(self.clone(), chain.clone());
            let (r_stop, poll, wake) = (stop.clone(), r.poll(), self.relay_wake.clone());
            handles.push(tokio::spawn(async move {
                let step = r.clone();
                crate::worker::run_loop(
                    "chain-relayer",
                    move || {
                        let s = step.clone();
                        async move { s.run_once().await }
                    },
                    wake,
                    poll,
                    r_stop,
                )
                .await;
                r.release().await;
            }));
        }
        handles.extend([
            tokio::spawn(async move {
                let r = relay.clone();
                crate::worker::run_loop(
                    "outbox-relay",
                    move || {
                        let r = r.clone();
                        async move { r.run_once().await }
                    },
                    wake,
                    poll,
                    relay_stop,
                )
                .await;
                relay.release().await;
            }),
            tokio::spawn(async move {
                loop {
                    match settle_store::idempotency::purge_expired(&janitor_ctx.db, settle_store::now_ms()).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(purged = n, "expired idempotency keys deleted")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                        _ = janitor_stop.changed() => break,
                    }
                }
            }),
        ]);
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
