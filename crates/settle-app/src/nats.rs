//! NATS JetStream as the event bus: with `SETTLE_NATS_URL`, every published live outbox event also goes to JetStream,
//! subject `settle.<merchantId>.<type>`, on a stream Settle creates if absent (`SETTLE`, subjects `settle.>`),
//! with `Nats-Msg-Id` = the event id (`evt_…`, made with the event, never issued twice) and the body webhooks carry.
//!
//! One publisher across all instances (the `nats-publisher` lease) sends events one at a time in seq order, each
//! only after the previous one's acknowledgement, so the stream holds them in seq order with no gap. Where it
//! stands is the larger of its stored position and the seq of the last event in the stream, so after a crash
//! between a publish and recording it nothing is sent twice; should it be, the server drops the repeat by its
//! `Nats-Msg-Id` (within the stream's duplicate window). The stream's last event counts only when this database
//! holds it: after a restore of an older backup the stream is ahead of the database, and the events published
//! since the restore (new ids, seqs issued again) are sent, not skipped. NATS being away stops only this worker: it retries with
//! backoff, and payments, the relay, webhooks and SSE go on.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{self, stream};
use settle_store::{StoreError, outbox};
use tokio::sync::Mutex;

use crate::{Context, lease::LeaseHolder, webhooks::EventView, worker::Outcome};

pub const LEASE: &str = "nats-publisher";
/// The publisher's position in `consumer_offsets`.
const CONSUMER: &str = "nats-publisher";
const BATCH: u64 = 200;

pub use crate::settings::NatsSettings;

/// Why a pass failed.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("NATS: {0}")]
    Nats(String),
}

fn nats(e: impl std::fmt::Display) -> NatsError {
    NatsError::Nats(e.to_string())
}

/// A subject token: what NATS gives meaning to (`.`, `*`, `>`, whitespace) becomes `_`.
fn token(s: &str) -> String {
    s.chars().map(|c| if c == '.' || c == '*' || c == '>' || c.is_whitespace() { '_' } else { c }).collect()
}

/// The subject of an event: `settle.<merchantId>.<type>` (the type keeps its dots: `settle.mch_1.payment.created`);
/// a test event's (with SETTLE_NATS_TEST_EVENTS) `settle.test.<merchantId>.<type>`.
pub fn subject(tenant: &str, topic: &str) -> String {
    let kind: Vec<String> = topic.split('.').map(token).collect();
    let merchant = token(settle_domain::mode::merchant_of(tenant));
    if settle_domain::mode::is_live(tenant) {
        format!("settle.{merchant}.{}", kind.join("."))
    } else {
        format!("settle.test.{merchant}.{}", kind.join("."))
    }
}

#[derive(Clone)]
pub struct Publisher {
    ctx: Context,
    lease: LeaseHolder,
    settings: NatsSettings,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    js: Option<jetstream::Context>,
    /// The highest seq in the stream, as far as this holder knows (None: to be read again).
    position: Option<i64>,
}

impl Publisher {
    pub fn new(ctx: Context, settings: NatsSettings) -> Self {
        Self { lease: LeaseHolder::new(ctx.clone(), LEASE), ctx, settings, state: Default::default() }
    }

    async fn connect(&self) -> Result<jetstream::Context, NatsError> {
        let client = async_nats::ConnectOptions::new()
            .name("settle")
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            .connect(self.settings.url.as_str())
            .await
            .map_err(nats)?;
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: self.settings.stream.clone(),
            subjects: vec!["settle.>".into()],
            storage: stream::StorageType::File,
            max_age: self.ctx.settings.event_retention,
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        })
        .await
        .map_err(nats)?;
        tracing::info!(stream = %self.settings.stream, "publishing events to NATS JetStream");
        Ok(js)
    }

    /// The seq of the last event in the stream, when this database holds it (0: none, or one it does not hold).
    async fn last_in_stream(&self, js: &jetstream::Context) -> Result<i64, NatsError> {
        let mut s = js.get_stream(&self.settings.stream).await.map_err(nats)?;
        let (last, messages) = {
            let st = &s.info().await.map_err(nats)?.state;
            (st.last_sequence, st.messages)
        };
        // An empty stream (purged by an operator, or every message past its age) may still count a last sequence.
        if last == 0 || messages == 0 {
            return Ok(0);
        }
        let m = match s.get_raw_message(last).await {
            Ok(m) => m,
            // Removed since the info was read: nothing of the stream counts.
            Err(e) if e.to_string().to_ascii_lowercase().contains("no message found") => return Ok(0),
            Err(e) => return Err(nats(e)),
        };
        let Some(id) = m.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned()) else { return Ok(0) };
        let seq = outbox::seq_of_event(&self.ctx.db, None, &id).await?;
        if seq.is_none() {
            tracing::warn!(event_id = %id, "the NATS stream's last event is not in this database (restored from an older backup?): publishing from the stored position");
        }
        Ok(seq.unwrap_or(0))
    }

    /// Publishes the next batch if this instance holds the lease.
    pub async fn run_once(&self) -> Result<Outcome, NatsError> {
        if !self.lease.hold(settle_store::now_ms()).await? {
            self.state.lock().await.position = None;
            return Ok(Outcome::Idle);
        }
        let mut st = self.state.lock().await;
        let result = self.pass(&mut st).await;
        if result.is_err() {
            // Read where the stream stands again before the next publish.
            st.position = None;
        }
        result
    }

    async fn pass(&self, st: &mut State) -> Result<Outcome, NatsError> {
        let js = match &st.js {
            Some(js) => js.clone(),
            None => {
                let js = self.connect().await?;
                st.js = Some(js.clone());
                js
            }
        };
        let position = match st.position {
            Some(p) => p,
            None => {
                let stored = settle_store::orders::offset(&self.ctx.db, CONSUMER).await?;
                let p = stored.max(self.last_in_stream(&js).await?);
                st.position = Some(p);
                p
            }
        };
        let rows = outbox::read_all_after(&self.ctx.db, position, BATCH).await?;
        let Some(last) = rows.last().and_then(|r| r.seq) else { return Ok(Outcome::Idle) };
        let mut sent = 0;
        for r in &rows {
            let Some(ev) = EventView::of(r) else { continue };
            // NATS carries live events only (unless a staging setup asks for test ones too): a consumer of the
            // stream never acts on a test payment. Test events reach their mode's webhooks, event list and stream.
            // Settle's own events (`saga.*`) are no merchant's.
            if (!settle_domain::mode::is_live(&r.merchant_id) && !self.settings.test_events) || outbox::is_internal(&r.topic) {
                st.position = Some(ev.seq);
                continue;
            }
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", ev.id.as_str());
            let ack = js.publish_with_headers(subject(&r.merchant_id, &r.topic), headers, ev.body().into()).await.map_err(nats)?;
            ack.await.map_err(nats)?;
            st.position = Some(ev.seq);
            sent += 1;
        }
        settle_store::orders::set_offset(&self.ctx.db, CONSUMER, last, settle_store::now_ms()).await?;
        metrics::counter!("settle_nats_published_total").increment(sent);
        Ok(Outcome::Worked(rows.len()))
    }

    pub async fn release(&self) {
        self.lease.release().await;
    }
}

crate::worker::impl_worker!(Publisher, "nats-publisher", true, NatsError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        assert_eq!(subject("mch_demo", "payment.created"), "settle.mch_demo.payment.created");
        assert_eq!(subject("m.x*>", "webhook_endpoint.disabled"), "settle.m_x__.webhook_endpoint.disabled");
        assert_eq!(subject("mch_demo:test", "payment.created"), "settle.test.mch_demo.payment.created");
    }
}
