//! The outbox relay: one across all instances holds the `outbox-relay` lease and gives committed rows their
//! seq; it then wakes this instance's follower ([`crate::follower`]) and announces the highest seq on
//! [`Context::published`].

use settle_store::{StoreError, outbox};

use crate::{Context, lease::LeaseHolder, worker::Outcome};

pub const LEASE: &str = "outbox-relay";
const BATCH: u64 = 500;

#[derive(Clone)]
pub struct Relay {
    ctx: Context,
    lease: LeaseHolder,
}

impl Relay {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), LEASE), ctx }
    }

    /// Publishes one batch if this instance holds the lease.
    pub async fn run_once(&self) -> Result<Outcome, StoreError> {
        let now = settle_store::now_ms();
        if !self.lease.hold(now).await? {
            return Ok(Outcome::Idle);
        }
        // Read first: an idle relay (most of its passes) takes no write lock, which on SQLite is the database's.
        if !outbox::has_unpublished(&self.ctx.db).await? {
            return Ok(Outcome::Idle);
        }
        let txn = settle_store::begin(&self.ctx.db).await?;
        let rows = outbox::publish_batch(&txn, BATCH, now).await?;
        txn.commit().await?;
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

    /// Gives the lease up at shutdown so another instance takes over at once.
    pub async fn release(&self) {
        self.lease.release().await;
    }
}
