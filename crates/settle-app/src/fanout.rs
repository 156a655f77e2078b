//! The SSE streams of this instance, by merchant: each stream's place and channel, within the instance's and each
//! merchant's limits. The follower ([`crate::follower`]) delivers every published row to its merchant's channel.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use settle_store::outbox;
use tokio::sync::broadcast;

/// Events a stream may fall behind its merchant's channel before it catches up from the database.
const CHANNEL: usize = 1024;

/// A published outbox row, as streams receive it.
#[derive(Debug)]
pub struct Event {
    pub seq: i64,
    /// The event's id (`evt_…`): SSE's id.
    pub id: String,
    pub topic: String,
    /// The event as the events API lists it (`{id, seq, type, createdAt, data}`), as JSON: SSE's data.
    pub data: String,
}

/// Why a stream was not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// This instance serves its most streams.
    Instance,
    /// The merchant has its most streams on this instance.
    Merchant,
    /// The payment has its most streams on this instance.
    Payment,
}

/// Streams one payment may have open on an instance (its payer's page in a few tabs, its merchant).
pub const MAX_PER_PAYMENT: usize = 3;

/// The streams of this instance, by merchant; the follower delivers each row to its merchant's channel.
pub struct Fanout {
    max_streams: usize,
    max_per_merchant: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The highest seq delivered (None until the follower has read where the outbox stands).
    head: Option<i64>,
    /// Merchants' event streams.
    streams: usize,
    /// Payments' streams: a budget of their own (as large as the merchants'), so that a merchant's payers never take
    /// the places of the merchant's own event streams.
    payment_streams: usize,
    payments: HashMap<String, usize>,
    merchants: HashMap<String, Slot>,
}

struct Slot {
    tx: broadcast::Sender<Arc<Event>>,
    streams: usize,
    /// Payment streams reading the merchant's channel.
    watchers: usize,
}

/// An open stream's place: its channel, and the seq up to which rows were delivered before it subscribed
/// (every row after `head` reaches `rx`). Dropping it frees the place.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<Event>>,
    pub head: i64,
    _place: Place,
}

struct Place {
    fanout: Arc<Fanout>,
    merchant: String,
    /// A payment's stream (its payment), or a merchant's.
    payment: Option<String>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut s = self.fanout.lock();
        match &self.payment {
            None => s.streams = s.streams.saturating_sub(1),
            Some(p) => {
                s.payment_streams = s.payment_streams.saturating_sub(1);
                if let Some(n) = s.payments.get_mut(p) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        s.payments.remove(p);
                    }
                }
            }
        }
        if let Some(slot) = s.merchants.get_mut(&self.merchant) {
            if self.payment.is_some() {
                slot.watchers = slot.watchers.saturating_sub(1);
            } else {
                slot.streams = slot.streams.saturating_sub(1);
            }
            if slot.streams == 0 && slot.watchers == 0 {
                s.merchants.remove(&self.merchant);
            }
        }
        metrics::gauge!("settle_sse_streams").set(s.streams as f64);
        metrics::gauge!("settle_sse_payment_streams").set(s.payment_streams as f64);
    }
}

impl Fanout {
    pub fn new(max_streams: usize, max_per_merchant: usize) -> Arc<Self> {
        Arc::new(Self { max_streams, max_per_merchant, state: Mutex::new(State::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The highest seq delivered, once the follower has started.
    pub fn head(&self) -> Option<i64> {
        self.lock().head
    }

    /// Opens a stream for `merchant` within the caps. `Ok(None)`: the follower has not started yet.
    pub fn open(self: &Arc<Self>, merchant: &str) -> Result<Option<Subscription>, Refused> {
        let mut s = self.lock();
        let Some(head) = s.head else { return Ok(None) };
        if s.streams >= self.max_streams {
            return Err(Refused::Instance);
        }
        let slot = s.merchants.entry(merchant.to_owned()).or_insert_with(|| Slot { tx: broadcast::channel(CHANNEL).0, streams: 0, watchers: 0 });
        if slot.streams >= self.max_per_merchant {
            return Err(Refused::Merchant);
        }
        slot.streams += 1;
        let rx = slot.tx.subscribe();
        s.streams += 1;
        metrics::gauge!("settle_sse_streams").set(s.streams as f64);
        Ok(Some(Subscription { rx, head, _place: Place { fanout: self.clone(), merchant: merchant.to_owned(), payment: None } }))
    }

    /// Opens a stream of one of `merchant`'s payments: it reads the merchant's channel, within the payments' own
    /// budget (the instance's cap, apart from the merchants' streams) and [`MAX_PER_PAYMENT`]. `Ok(None)`: the
    /// follower has not started yet.
    pub fn open_payment(self: &Arc<Self>, merchant: &str, payment_id: &str) -> Result<Option<Subscription>, Refused> {
        let mut s = self.lock();
        let Some(head) = s.head else { return Ok(None) };
        if s.payment_streams >= self.max_streams {
            return Err(Refused::Instance);
        }
        if s.payments.get(payment_id).is_some_and(|n| *n >= MAX_PER_PAYMENT) {
            return Err(Refused::Payment);
        }
        *s.payments.entry(payment_id.to_owned()).or_default() += 1;
        s.payment_streams += 1;
        let slot = s.merchants.entry(merchant.to_owned()).or_insert_with(|| Slot { tx: broadcast::channel(CHANNEL).0, streams: 0, watchers: 0 });
        slot.watchers += 1;
        let rx = slot.tx.subscribe();
        metrics::gauge!("settle_sse_payment_streams").set(s.payment_streams as f64);
        let place = Place { fanout: self.clone(), merchant: merchant.to_owned(), payment: Some(payment_id.to_owned()) };
        Ok(Some(Subscription { rx, head, _place: place }))
    }

    /// Delivers rows in seq order and moves the head past them, in one step with respect to [`Self::open`].
    pub(crate) fn deliver(&self, rows: Vec<outbox::OutboxRow>) {
        let mut s = self.lock();
        for r in rows {
            let Some(seq) = r.seq else { continue };
            if !outbox::is_internal(&r.topic)
                && let Some(slot) = s.merchants.get(&r.merchant_id)
                && let Some(ev) = Event::of(&r)
            {
                let _ = slot.tx.send(Arc::new(ev));
            }
            s.head = Some(seq);
        }
    }

    pub(crate) fn start_at(&self, seq: i64) {
        let mut s = self.lock();
        if s.head.is_none() {
            s.head = Some(seq);
        }
    }
}
