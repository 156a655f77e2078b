//! Holding a named lease from a worker loop: renewed when half its time is left, released at shutdown.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use settle_store::{StoreError, leases};

use crate::Context;

#[derive(Clone)]
pub struct LeaseHolder {
    ctx: Context,
    name: Arc<str>,
    /// Epoch ms until which we hold the lease, as far as we know.
    held_until: Arc<AtomicI64>,
}

impl LeaseHolder {
    pub fn new(ctx: Context, name: impl Into<Arc<str>>) -> Self {
        Self { ctx, name: name.into(), held_until: Arc::new(AtomicI64::new(0)) }
    }

    /// Whether this instance holds the lease now (taking or renewing it when due).
    pub async fn hold(&self, now: i64) -> Result<bool, StoreError> {
        let ttl = self.ctx.settings.lease_ttl.as_millis() as i64;
        if now < self.held_until.load(Ordering::Relaxed) - ttl / 2 {
            return Ok(true);
        }
        let held = leases::try_acquire(&self.ctx.db, &self.name, &self.ctx.instance_id, ttl, now).await?;
        if held {
            self.held_until.fetch_max(now + ttl, Ordering::Relaxed);
        } else {
            self.held_until.store(0, Ordering::Relaxed);
        }
        if held {
            // The lease log: this instance holds the lease from `from` to `until` (epoch ms) as far as it knows. A
            // chaos run checks from these lines that no two instances ever held one lease at once.
            tracing::debug!(target: "settle::lease", lease = %self.name, instance = %self.ctx.instance_id, from = now, until = now + ttl, "lease held");
        }
        Ok(held)
    }

    /// The fence of a write: whether this instance still holds the lease, checked inside `conn` (the write's own
    /// transaction). False: the lease lapsed or another instance took it; the caller must not commit, and the step
    /// that read what it was about to write ends (that may be stale).
    pub async fn fence(&self, conn: &impl settle_store::ConnectionTrait) -> Result<bool, StoreError> {
        let now = settle_store::now_ms();
        if self.held_until.load(Ordering::Relaxed) < now {
            return Ok(false);
        }
        let held = leases::fence(conn, &self.name, &self.ctx.instance_id, now).await?;
        if !held {
            self.held_until.store(0, Ordering::Relaxed);
        }
        Ok(held)
    }

    /// Keeps the lease through a long step: extends it when half its time has passed, but never takes it afresh
    /// (what the step read under a lease that lapsed may be stale). False when it was lost.
    pub async fn keep(&self) -> Result<bool, StoreError> {
        let now = settle_store::now_ms();
        let ttl = self.ctx.settings.lease_ttl.as_millis() as i64;
        let until = self.held_until.load(Ordering::Relaxed);
        if until < now {
            self.held_until.store(0, Ordering::Relaxed);
            return Ok(false);
        }
        if now < until - ttl / 2 {
            return Ok(true);
        }
        let held = leases::extend(&self.ctx.db, &self.name, &self.ctx.instance_id, ttl, now).await?;
        if held {
            // Two renewals may race (the heartbeat and the step's own): the database keeps the later expiry, and so
            // does this.
            self.held_until.fetch_max(now + ttl, Ordering::Relaxed);
            tracing::debug!(target: "settle::lease", lease = %self.name, instance = %self.ctx.instance_id, from = now, until = now + ttl, "lease held");
        } else {
            self.held_until.store(0, Ordering::Relaxed);
        }
        Ok(held)
    }

    /// Runs `step` with the lease renewed in the background (every third of its time) for at most the settings'
    /// `step_bound`: a step slowed by a node (one RPC call may take longer than the lease) keeps the lease; a step
    /// stuck beyond the bound lets it lapse, so another instance takes over and this one's fenced writes fail.
    pub async fn renewed_during<T>(&self, step: impl std::future::Future<Output = T>) -> T {
        let bound = self.ctx.settings.step_bound;
        let holder = self.clone();
        let beat = self.ctx.settings.lease_ttl / 3;
        let heartbeat = tokio::spawn(async move {
            let until = tokio::time::Instant::now() + bound;
            loop {
                tokio::time::sleep(beat).await;
                if tokio::time::Instant::now() >= until {
                    tracing::warn!(lease = %holder.name, "a step ran past its bound; its lease is left to lapse");
                    return;
                }
                match holder.keep().await {
                    Ok(true) => {}
                    // Lost: the step's fenced writes will say so.
                    Ok(false) => return,
                    // The database did not answer: tried again at the next beat, while the lease lasts.
                    Err(e) => tracing::debug!(lease = %holder.name, error = %e, "renewing the lease failed; tried again"),
                }
            }
        });
        // Aborted however the step ends, cancelled included: a dropped step never keeps its lease alive.
        let _guard = AbortOnDrop(heartbeat);
        step.await
    }

    /// Gives the lease up so another instance takes over at once.
    pub async fn release(&self) {
        if self.held_until.swap(0, Ordering::Relaxed) > 0 {
            tracing::debug!(target: "settle::lease", lease = %self.name, instance = %self.ctx.instance_id, at = settle_store::now_ms(), "lease released");
            let _ = leases::release(&self.ctx.db, &self.name, &self.ctx.instance_id).await;
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
