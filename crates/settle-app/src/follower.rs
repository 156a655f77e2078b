//! The follower: one per instance, whatever its leases. It reads every newly published outbox row by seq
//! (woken by this instance's relay, else every `follow_poll` for rows another instance's relay published),
//! then
//! - applies each payment status change to the cache, with the version guard: no instance serves a status
//!   older than one relay interval plus one follower interval, with one instance or several, in-process
//!   cache or Redis (a cache write that failed on the instance that made the change included);
//! - fans each row out in memory to the SSE streams of its merchant ([`Fanout`]).
//!
//! An idle SSE stream therefore costs the database nothing: only a stream that resumes from an older
//! `Last-Event-ID`, or that fell behind its channel, reads its merchant's rows to catch up.

use settle_store::{StoreError, outbox};

use crate::{Context, cache::CachedStatus, worker::Outcome};

const BATCH: u64 = 500;

impl Event {
    /// The event of a published row (None while unpublished).
    pub fn of(row: &outbox::OutboxRow) -> Option<Self> {
        let view = crate::webhooks::EventView::of(row)?;
        let data = serde_json::to_string(&view).ok()?;
        Some(Self { seq: view.seq, id: view.id, topic: view.kind, data })
    }
}

pub use crate::fanout::{Event, Fanout, Refused, Subscription};

/// The worker that follows the outbox (every instance runs one; no lease). It also follows the cluster's
/// switches (the admin's read-only mode), read at most once per [`FLAGS_EVERY`].
#[derive(Clone)]
pub struct Follower {
    ctx: Context,
    flags_read_at: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// How often the follower reads the cluster's switches: an admin's read-only switch made on another instance holds
/// here within this (and a follower interval).
pub const FLAGS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Follower {
    pub fn new(ctx: Context) -> Self {
        Self { ctx, flags_read_at: Default::default() }
    }

    /// Reads where the outbox stands, so streams may open, and the cluster's switches (the server calls it before
    /// serving: a restarted instance refuses writes at once while the admin's read-only mode is on).
    pub async fn start(ctx: &Context) -> Result<(), StoreError> {
        match settle_store::flags::get(&ctx.db, settle_store::flags::READ_ONLY).await {
            Ok(on) => ctx.apply_read_only(on),
            // Not known: refuse writes (fail closed) until the follower reads the switch.
            Err(e) => {
                ctx.apply_read_only(true);
                return Err(e);
            }
        }
        if ctx.fanout.head().is_none() {
            ctx.fanout.start_at(outbox::max_seq(&ctx.db).await?);
        }
        Ok(())
    }

    /// Follows one batch.
    pub async fn run_once(&self) -> Result<Outcome, StoreError> {
        let now = settle_store::now_ms();
        let last = self.flags_read_at.load(std::sync::atomic::Ordering::Relaxed);
        if now - last >= FLAGS_EVERY.as_millis() as i64 {
            self.flags_read_at.store(now, std::sync::atomic::Ordering::Relaxed);
            self.ctx.apply_read_only(settle_store::flags::get(&self.ctx.db, settle_store::flags::READ_ONLY).await?);
        }
        let Some(head) = self.ctx.fanout.head() else {
            Self::start(&self.ctx).await?;
            return Ok(Outcome::Worked(0));
        };
        metrics::counter!("settle_follower_reads_total").increment(1);
        let rows = outbox::read_all_after(&self.ctx.db, head, BATCH).await?;
        if rows.is_empty() {
            return Ok(Outcome::Idle);
        }
        let n = rows.len();
        // The cache first: a client that sees an event and then asks for the status gets at least that status.
        let statuses: Vec<CachedStatus> = rows.iter().filter_map(status_change).collect();
        // A revoked key or a deleted merchant: every instance forgets the keys it authenticated.
        if rows.iter().any(|r| r.topic == crate::merchants::KEY_REVOKED || r.topic == crate::merchants::MERCHANT_DELETED) {
            crate::merchants::forget_all(&self.ctx);
        }
        futures::future::join_all(statuses.iter().map(|c| self.ctx.cache.apply_published(c))).await;
        self.ctx.fanout.deliver(rows);
        metrics::counter!("settle_follower_rows_total").increment(n as u64);
        Ok(Outcome::Worked(n))
    }

    pub async fn release(&self) {}
}

/// The cache entry a payment event carries (`payment.*` rows hold the payment's view).
fn status_change(r: &outbox::OutboxRow) -> Option<CachedStatus> {
    if !r.topic.starts_with("payment.") {
        return None;
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct View {
        payment_id: String,
        status: String,
        chain_id: Option<i64>,
        version: i64,
        updated_at: String,
    }
    #[derive(serde::Deserialize)]
    struct Payload {
        data: View,
    }
    let v = serde_json::from_str::<Payload>(&r.payload).ok()?.data;
    let updated_at = time::OffsetDateTime::parse(&v.updated_at, &time::format_description::well_known::Rfc3339).ok()?;
    Some(CachedStatus {
        payment_id: v.payment_id,
        // The row's tenant, never the payload's merchantId (the merchant's, the same in both modes): a status read
        // answers from the cache only to the tenant that owns the payment.
        merchant_id: r.merchant_id.clone(),
        status: v.status,
        chain_id: v.chain_id,
        version: v.version,
        updated_at: (updated_at.unix_timestamp_nanos() / 1_000_000) as i64,
    })
}

/// A merchant's published events after `after_seq` (a stream catching up).
pub async fn read_after(ctx: &Context, merchant_id: &str, after_seq: i64, limit: u64) -> Result<Vec<outbox::OutboxRow>, StoreError> {
    outbox::read_after(&ctx.db, merchant_id, after_seq, limit).await
}

crate::worker::impl_worker!(Follower, "follower", false, settle_store::StoreError);
