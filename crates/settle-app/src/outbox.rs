//! The outbox relay and what SSE streams read.
//!
//! One relay across all instances holds the `outbox-relay` lease and gives committed rows their seq; it then
//! announces the highest seq on [`Context::published`]. An SSE stream reads a merchant's rows by seq from the
//! database, waking on that announcement or on a short poll (for rows another instance published).

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
        Ok(Outcome::Worked(rows.len()))
    }

    /// Gives the lease up at shutdown so another instance takes over at once.
    pub async fn release(&self) {
        self.lease.release().await;
    }
}

/// A merchant's published events after `after_seq`.
pub async fn read_after(ctx: &Context, merchant_id: &str, after_seq: i64, limit: u64) -> Result<Vec<outbox::OutboxRow>, StoreError> {
    outbox::read_after(&ctx.db, merchant_id, after_seq, limit).await
}

/// The highest seq published so far (a new stream without Last-Event-ID starts after it).
pub async fn head(ctx: &Context) -> Result<i64, StoreError> {
    outbox::max_seq(&ctx.db).await
}
