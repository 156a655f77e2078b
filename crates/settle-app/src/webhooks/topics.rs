//! Which events reach which endpoint: topic patterns, the event as a delivery carries it, and the deliveries the
//! relay creates with each published event.

use serde::Serialize;
use settle_store::{ConnectionTrait, StoreError, outbox::OutboxRow, webhooks as store};

use crate::{AppError, time::rfc3339};

/// The id a delivery is sent with: its event's id, the same on every attempt and channel.
pub(super) fn delivery_event_id(d: &store::DeliveryRow) -> String {
    d.event_id.clone().unwrap_or_else(|| settle_store::outbox::legacy_event_id(d.seq))
}

/// An event as webhooks, the events API and NATS carry it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEvent)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    #[schema(example = "evt_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b")]
    /// Made with the event, never issued twice: `webhook-id`, `Nats-Msg-Id`, SSE's id.
    pub id: String,
    /// The outbox seq: the order of events (issued again after a restore of an older backup).
    pub seq: i64,
    #[schema(example = "payment.completed")]
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    /// Whether the event is live (false: a test-mode object's).
    pub livemode: bool,
    /// The object the event is about (a payment for `payment.*`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl EventView {
    /// The event of a published outbox row (None while unpublished).
    pub fn of(row: &OutboxRow) -> Option<Self> {
        let (seq, id) = (row.seq?, settle_store::outbox::event_id_of(row)?);
        let data = serde_json::from_str::<serde_json::Value>(&row.payload).ok().and_then(|mut v| v.get_mut("data").map(serde_json::Value::take));
        let livemode = settle_domain::mode::is_live(&row.merchant_id);
        Some(Self { id, seq, kind: row.topic.clone(), created_at: rfc3339(row.created_at), livemode, data: data.unwrap_or_default() })
    }

    /// The JSON body of a delivery: `{id, type, createdAt, livemode, data}`.
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            created_at: &'a str,
            livemode: bool,
            data: &'a serde_json::Value,
        }
        serde_json::to_string(&Body { id: &self.id, kind: &self.kind, created_at: &self.created_at, livemode: self.livemode, data: &self.data })
            .unwrap_or_default()
    }
}

/// Checks a list of event type patterns: `*`, `payment.*`, or a type such as `order.paid`.
pub fn parse_patterns(param: &str, patterns: &[String]) -> Result<Vec<String>, AppError> {
    if patterns.is_empty() || patterns.len() > 32 {
        return Err(AppError::invalid(param, format!("{param} must list 1 to 32 event types")));
    }
    let mut out = Vec::with_capacity(patterns.len());
    for p in patterns {
        let p = p.trim();
        let name = p.strip_suffix(".*").unwrap_or(p);
        let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let ok = p == "*" || (p.len() <= 64 && name.split('.').all(word));
        if !ok {
            return Err(AppError::invalid(
                param,
                format!("{param}: {p:?} is not an event type (such as payment.completed), a prefix (payment.*) or *"),
            ));
        }
        if settle_store::outbox::is_internal(&format!("{name}.")) || settle_store::outbox::is_internal(p) {
            return Err(AppError::invalid(
                param,
                format!("{param}: {p:?} names Settle's own saga events, which no merchant receives: use payment.*, order.*, refund.* or *"),
            ));
        }
        if !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
        }
    }
    Ok(out)
}

/// Whether a pattern takes a topic.
pub fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

/// Creates the deliveries of freshly published rows (call it in the relay's publishing transaction). Returns
/// how many.
pub async fn create_deliveries(conn: &impl ConnectionTrait, rows: &[OutboxRow], now: i64) -> Result<usize, StoreError> {
    let mut merchants: Vec<&str> = rows.iter().map(|r| r.merchant_id.as_str()).collect();
    merchants.sort_unstable();
    merchants.dedup();
    let endpoints = store::enabled_endpoints_of(conn, &merchants).await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let patterns: Vec<(&store::EndpointRow, Vec<String>)> =
        endpoints.iter().map(|e| (e, serde_json::from_str::<Vec<String>>(&e.events).unwrap_or_default())).collect();
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| !settle_store::outbox::is_internal(&r.topic)) {
        // A test event goes to the endpoint it names, and to no other.
        let test = r.topic == super::TEST_EVENT;
        let mut targets = patterns
            .iter()
            .filter(|(ep, pats)| {
                ep.merchant_id == r.merchant_id && if test { ep.endpoint_id == r.aggregate_id } else { pats.iter().any(|p| matches(p, &r.topic)) }
            })
            .peekable();
        // The event and its body, once per row that any endpoint takes (none: nothing parsed).
        if targets.peek().is_none() {
            continue;
        }
        let Some(ev) = EventView::of(r) else { continue };
        let body = ev.body();
        for (ep, _) in targets {
            out.push(store::NewDelivery {
                delivery_id: format!("wd_{}", uuid::Uuid::now_v7().simple()),
                endpoint_id: ep.endpoint_id.clone(),
                merchant_id: r.merchant_id.clone(),
                seq: ev.seq,
                event_id: ev.id.clone(),
                event_type: r.topic.clone(),
                body: body.clone(),
            });
        }
    }
    let n = out.len();
    while !out.is_empty() {
        let rest = out.split_off(out.len().min(200));
        store::insert_deliveries(conn, std::mem::replace(&mut out, rest), now).await?;
    }
    Ok(n)
}
