//! The janitor: one across all instances (the `janitor` lease) deletes, in bounded batches, what has outlived
//! its retention: expired Idempotency-Key records, published events past `event_retention` (never the newest, nor
//! one the saga dispatcher has not read), the inbox rows of events purged, seed 002's records past
//! `order_record_retention`,
//! finished webhook deliveries past `delivery_retention`, API keys revoked longer ago than `deleted_grace`, and audit entries past `audit_retention`.
//! `settle_purged_total{what}` counts what each run deleted. Each run also refreshes the table-size gauges
//! (`settle_table_rows`, `settle_table_bytes`).

use std::time::Duration;

use settle_store::StoreError;

use crate::{Context, lease::LeaseHolder, worker::Outcome};

pub const LEASE: &str = "janitor";
/// Rows per batch (one short transaction each), and batches per kind per run.
const BATCH: u64 = 1000;
const BATCHES: usize = 100;
/// How often the janitor runs.
pub const EVERY: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct Janitor {
    ctx: Context,
    lease: LeaseHolder,
}

/// What one run deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_keys: u64,
    pub events: u64,
    /// Inbox rows of events the outbox no longer holds.
    pub inbox: u64,
    /// Notifications, transaction logs and ended sagas' step results.
    pub order_records: u64,
    pub deliveries: u64,
    pub api_keys: u64,
    pub audit: u64,
}

impl Janitor {
    pub fn new(ctx: Context) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), LEASE), ctx }
    }

    /// One run, if this instance holds the lease. Always `Idle`: the next run is [`EVERY`] later.
    async fn run_held(&self, now: i64) -> Result<Outcome, StoreError> {
        let p = self.purge(now).await?;
        if p != Purged::default() {
            tracing::info!(?p, "janitor purged");
        }
        metrics::gauge!("settle_dead_letters").set(settle_store::dead_letters::waiting(&self.ctx.db).await? as f64);
        // Table sizes for /metrics, refreshed by the lease holder alone (the queries read catalogs, or count on SQLite).
        for t in settle_store::stats::tables(&self.ctx.db).await? {
            metrics::gauge!("settle_table_rows", "table" => t.name.clone()).set(t.rows as f64);
            if let Some(b) = t.bytes {
                metrics::gauge!("settle_table_bytes", "table" => t.name).set(b as f64);
            }
        }
        Ok(Outcome::Idle)
    }

    /// Deletes everything past its retention as of `now`.
    pub async fn purge(&self, now: i64) -> Result<Purged, StoreError> {
        let s = &self.ctx.settings;
        let ms = |d: Duration| d.as_millis() as i64;
        let db = &self.ctx.db;
        let idempotency_keys = settle_store::idempotency::purge_expired(db, now).await?;
        // Never an event the saga dispatcher has not read yet (it would be lost to its saga).
        let unread = settle_store::orders::offset(db, crate::orders::choreography::NAME).await? + 1;
        let events = batches("events", || settle_store::outbox::purge_published_before(db, now - ms(s.event_retention), unread, BATCH)).await?;
        // The inbox remembers handled events while they can be read again, not after the outbox let them go.
        let oldest = settle_store::outbox::min_seq(db).await?;
        let mut inbox = 0;
        for c in crate::orders::Consumer::ALL {
            inbox += batches("inbox", || settle_store::orders::purge_inbox_below(db, c.name(), oldest, BATCH)).await?;
        }
        let order_records =
            batches("order_records", || settle_store::orders::purge_records_before(db, now - ms(s.order_record_retention), BATCH)).await?;
        let deliveries = batches("webhook_deliveries", || async {
            let txn = settle_store::begin(db).await?;
            let n = settle_store::webhooks::purge_finished_before(&txn, now - ms(s.delivery_retention), BATCH).await?;
            txn.commit().await?;
            Ok(n)
        })
        .await?;
        let api_keys = batches("api_keys", || settle_store::merchants::purge_revoked_keys(db, now - ms(s.deleted_grace), BATCH)).await?;
        let audit = batches("audit_log", || settle_store::audit::purge_before(db, now - ms(s.audit_retention), BATCH)).await?;
        metrics::counter!("settle_purged_total", "what" => "idempotency_keys").increment(idempotency_keys);
        Ok(Purged { idempotency_keys, events, inbox, order_records, deliveries, api_keys, audit })
    }
}

/// Runs `step` until it deletes nothing (at most [`BATCHES`] times); counts what it deleted.
async fn batches<F, Fut>(what: &'static str, mut step: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for _ in 0..BATCHES {
        let n = step().await?;
        total += n;
        if n < BATCH {
            break;
        }
    }
    metrics::counter!("settle_purged_total", "what" => what).increment(total);
    Ok(total)
}

crate::worker::leased_worker!(Janitor, "janitor", settle_store::StoreError);
