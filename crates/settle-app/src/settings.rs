//! The application layer's tunables; the binary fills them from configuration (`SETTLE_*`).

use std::time::Duration;

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
    /// The longest one step of a leased worker keeps its lease renewed (a step stuck past it lets the lease lapse).
    pub step_bound: Duration,
    /// The card rail's reconciliation timings.
    pub card: CardSettings,
    /// How long `POST /v1/payments/{id}/relay` waits for the payment to complete before answering 504.
    pub relay_wait: Duration,
    /// How `POST /v1/orders` runs its saga when the request does not say.
    pub saga_pattern: Pattern,
    /// How long an order placed without a card may wait for its payment: past it, the order is cancelled and
    /// gives back its stock, coupon and points (saga COMPENSATED, its payment FAILED `order_expired`).
    pub order_unpaid_ttl: Duration,
    /// How often the recovery sweep reads every open saga for what time decides (a request cut off before its charge,
    /// an unpaid order past its TTL). A saga whose payment ends is woken by the payment's event, not by the sweep.
    pub saga_sweep: Duration,
    /// How long a choreography handler must keep failing (at least 5 times) for a reason of its own before its event
    /// is parked in the dead letters: a database that misbehaves for less never parks anything.
    pub park_after: Duration,
    /// How often the follower looks for rows another instance's relay published (with the relay's poll, the
    /// bound on how stale a cached status can be on any instance).
    pub follow_poll: Duration,
    /// SSE streams this instance serves at most, and at most per merchant.
    pub sse_max_streams: usize,
    pub sse_max_per_merchant: usize,
    /// How often an SSE stream with nothing to send sends a heartbeat comment.
    pub sse_heartbeat: Duration,
    /// Outgoing webhooks.
    pub webhooks: WebhookSettings,
    /// Published events older than this are deleted (the events API and catch-up reach back this far).
    pub event_retention: Duration,
    /// Finished webhook deliveries (with their attempts) older than this are deleted.
    pub delivery_retention: Duration,
    /// Revoked API keys are deleted this long after their revocation.
    pub deleted_grace: Duration,
    /// Audit log entries older than this are deleted.
    pub audit_retention: Duration,
    /// Seed 002's records (notifications, transaction logs, the step results of ended sagas) older than this are
    /// deleted.
    pub order_record_retention: Duration,
    /// NATS JetStream, when events are to be published there too.
    pub nats: Option<NatsSettings>,
    /// The master keys that seal secrets at rest (None: stored as given).
    pub keyring: Option<std::sync::Arc<crate::crypto::Keyring>>,
    /// SETTLE_READ_ONLY: refuse writes from the start.
    pub read_only: bool,
    /// After the database refused a write, how long writes are refused without asking it; then the next write
    /// tries again.
    pub read_only_probe: Duration,
}

/// Timings of the card rail.
#[derive(Clone, Debug)]
pub struct CardSettings {
    /// Where the gateway POSTs results; None: Settle's own `/v1/payments/callback` at the address it listens on
    /// (filled in at start).
    pub callback_url: Option<String>,
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
    /// The test-mode gateway is the in-process simulator (`serve --demo`, or SETTLE_PG_TEST_URL=simulator; set at
    /// start).
    pub simulator: bool,
}

impl Default for CardSettings {
    fn default() -> Self {
        Self {
            callback_url: None,
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
            step_bound: Duration::from_secs(300),
            card: CardSettings::default(),
            relay_wait: Duration::from_secs(20),
            saga_pattern: Default::default(),
            order_unpaid_ttl: Duration::from_secs(30 * 60),
            saga_sweep: Duration::from_secs(5),
            park_after: Duration::from_secs(5 * 60),
            follow_poll: Duration::from_millis(250),
            sse_max_streams: 10_000,
            sse_max_per_merchant: 1_000,
            sse_heartbeat: Duration::from_secs(15),
            webhooks: Default::default(),
            event_retention: Duration::from_secs(30 * 24 * 3600),
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
            audit_retention: Duration::from_secs(365 * 24 * 3600),
            order_record_retention: Duration::from_secs(365 * 24 * 3600),
            deleted_grace: Duration::from_secs(30 * 24 * 3600),
            nats: None,
            keyring: None,
            read_only: false,
            read_only_probe: Duration::from_secs(5),
        }
    }
}

/// The stored name of the orchestration pattern.
pub const ORCHESTRATION: &str = "orchestration";

/// How a purchase saga runs: one coordinator (orchestration) or handlers of outbox events (choreography).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pattern {
    #[default]
    Orchestration,
    Choreography,
}

impl Pattern {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            ORCHESTRATION => Some(Self::Orchestration),
            "choreography" => Some(Self::Choreography),
            _ => None,
        }
    }
}

/// Tunables of webhook delivery.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// An attempt without a complete answer within this is a failure.
    pub timeout: Duration,
    /// Pauses before each retry (a tenth of jitter either way); after the last, the delivery is FAILED.
    pub schedule: Vec<Duration>,
    /// An endpoint whose deliveries all failed for this long is disabled.
    pub disable_after: Duration,
    /// Hosts that may be plain http and resolve to loopback or private addresses (development, tests).
    pub allow_hosts: Vec<String>,
    /// Deliveries sent at once to one endpoint by one instance.
    pub per_endpoint: usize,
    /// Deliveries sent at once by one instance.
    pub in_flight: usize,
    /// Deliveries sent at once for one merchant by one instance (so one merchant's slow endpoints never take every
    /// send of the instance).
    pub per_merchant: usize,
    /// The timeout of a send to a failing endpoint (one whose last attempt failed): its circuit lets one send at a
    /// time through, and waits this long at most (capped by `timeout`).
    pub failing_timeout: Duration,
    /// How long a rotated-out secret keeps signing alongside the new one.
    pub rotation_overlap: Duration,
    /// How often an idle sender looks for due deliveries.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let (s, m, h) = (1u64, 60u64, 3600u64);
        Self {
            timeout: Duration::from_secs(10),
            // About three days: 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h.
            schedule: [5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h, 10 * h, 10 * h, 10 * h, 10 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            disable_after: Duration::from_secs(5 * 24 * h),
            allow_hosts: Vec::new(),
            per_endpoint: 4,
            in_flight: 64,
            per_merchant: 16,
            failing_timeout: Duration::from_secs(2),
            rotation_overlap: Duration::from_secs(24 * h),
            poll: Duration::from_secs(1),
        }
    }
}

/// How Settle reaches NATS.
#[derive(Clone, Debug)]
pub struct NatsSettings {
    pub url: String,
    /// The JetStream stream Settle publishes to (created if absent).
    pub stream: String,
    /// Test-mode events too, under `settle.test.<merchantId>.<type>` (SETTLE_NATS_TEST_EVENTS; default false: a bus
    /// of a staging setup, never one whose consumers act on live payments).
    pub test_events: bool,
}
