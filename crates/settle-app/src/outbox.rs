//! The outbox relay: one across all instances holds the `outbox-relay` lease and gives committed rows their
//! seq, creating their webhook deliveries in the same transaction; it then wakes this instance's follower ([`crate::follower`]) and announces the highest seq on
//! [`Context::published`].

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use settle_store::{StoreError, outbox};

use crate::{Context, lease::LeaseHolder, worker::Outcome};

pub const LEASE: &str = "outbox-relay";
const BATCH: u64 = 500;
/// While rows keep coming, the relay waits this long between passes so that each pass (a transaction, and a
/// follower read on every instance) carries many rows rather than a few: under a create load it costs the
/// database a few dozen transactions a second instead of hundreds. The first row after a quiet spell goes at once.
const GATHER: Duration = Duration::from_millis(20);

#[derive(Clone)]
pub struct Relay {
    ctx: Context,
    lease: LeaseHolder,
    /// The last pass published rows: more are likely waiting.
    busy: Arc<AtomicBool>,
}

impl Relay {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), LEASE), ctx, busy: Default::default() }
    }

    /// Publishes one batch (this instance holds the lease).
    async fn run_held(&self, _now: i64) -> Result<Outcome, StoreError> {
        if self.busy.load(Ordering::Relaxed) {
            tokio::time::sleep(GATHER).await;
        } else if !outbox::has_unpublished(&self.ctx.db).await? {
            // Read first: an idle relay (most of its passes) takes no write lock, which on SQLite is the database's.
            return Ok(Outcome::Idle);
        }
        let txn = settle_store::begin(&self.ctx.db).await?;
        let now = settle_store::now_ms();
        let rows = outbox::publish_batch(&txn, BATCH, now).await?;
        // Each event's webhook deliveries are created in the transaction that publishes it.
        let deliveries = crate::webhooks::create_deliveries(&txn, &rows, now).await?;
        txn.commit().await?;
        if deliveries > 0 {
            self.ctx.webhook_wake.notify_one();
        }
        self.busy.store(!rows.is_empty(), Ordering::Relaxed);
        let Some(last) = rows.last().and_then(|r| r.seq) else {
            return Ok(Outcome::Idle);
        };
        metrics::counter!("settle_outbox_published_total").increment(rows.len() as u64);
        if let Some(first) = rows.first() {
            metrics::histogram!("settle_outbox_lag_seconds").record((now - first.created_at).max(0) as f64 / 1000.0);
        }
        self.ctx.published.send_replace(last);
        self.ctx.follow_wake.notify_one();
        Ok(Outcome::Worked(rows.len()))
    }
}

crate::worker::leased_worker!(Relay, "outbox-relay", settle_store::StoreError);
