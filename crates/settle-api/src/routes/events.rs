//! `GET /v1/events/stream`: the caller's events as Server-Sent Events, each with its event id (`evt_…`) as id and the event as
//! the events API lists it as data.
//!
//! A stream takes a place in this instance's fan-out ([`settle_app::follower::Fanout`]) and receives its
//! merchant's rows from the follower in memory; it reads the database only to catch up (a `Last-Event-ID`
//! older than the follower's head, or a stream that fell behind its channel).

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use settle_app::follower::{self, Refused, Subscription};
use tokio::sync::broadcast::error::RecvError;

use crate::{ApiError, AppState, error::ErrorBody, extract::Merchant};

/// Rows read per catch-up query.
const PAGE: u64 = 200;

struct Cursor {
    st: AppState,
    merchant: String,
    /// The seq of the last event sent (or the one the stream starts after).
    last: i64,
    /// Rows may be missing from the channel after `last`: read them from the database first.
    catching_up: bool,
    buf: VecDeque<Event>,
    sub: Subscription,
    api_key: String,
    auth: tokio::sync::watch::Receiver<u64>,
}

impl Cursor {
    fn push(&mut self, ev: &follower::Event) {
        if ev.seq > self.last {
            self.last = ev.seq;
            self.buf.push_back(Event::default().id(&ev.id).event(&ev.topic).data(&ev.data));
        }
    }
}

/// Stream the caller's events (`payment.created`, `payment.cancelled`, ...). Each event's SSE id is its event id
/// (`evt_…`, the `webhook-id` its webhooks carry) and its data the event as `GET /v1/events` lists it.
/// `Last-Event-ID` (an event id, or a seq) resumes exactly after that event; an id this database does not hold
/// (lost to a restore of an older backup) resumes with every event published from a minute before that id was made.
/// Without it the stream starts with the next event. A comment line is sent as a heartbeat while there is nothing
/// to send.
#[utoipa::path(
    get, path = "/v1/events/stream", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event: its id (evt_…) or its seq")),
    responses(
        (status = 200, description = "text/event-stream; each event's id is its event id (evt_…), its data the event as JSON", content_type = "text/event-stream", body = String),
        (status = 400, body = ErrorBody),
        (status = 429, description = "too_many_streams: the merchant's or this instance's stream cap is reached", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stream_events(
    State(st): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let asked = match headers.get("last-event-id") {
        Some(v) => {
            let v = v.to_str().map_err(|_| ApiError::invalid("Last-Event-ID", "Last-Event-ID must be an event id (evt_…) or a seq"))?;
            Some(settle_app::webhooks::resume_after(&st.ctx, &merchant, "Last-Event-ID", v).await?)
        }
        None => None,
    };
    let sub = match open(&st, &merchant)? {
        Some(s) => s,
        None => {
            follower::Follower::start(&st.ctx).await.map_err(settle_app::AppError::from)?;
            open(&st, &merchant)?.ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "event streams are starting"))?
        }
    };
    let last = asked.unwrap_or(sub.head);
    let heartbeat = KeepAlive::new().interval(st.ctx.settings.sse_heartbeat).text("heartbeat");
    // The stream's key, asked again whenever this instance forgets keys (a revocation or a merchant's deletion,
    // made here or read by the follower): a stream of a key that no longer authenticates ends.
    let api_key = crate::extract::bearer_token(&headers).unwrap_or_default().to_owned();
    let auth = st.ctx.auth_epoch.subscribe();
    // A revocation between the authentication and this subscription would go unseen: asked once more now.
    settle_app::merchants::authenticate(&st.ctx, &api_key).await?;
    let cursor = Cursor { catching_up: last < sub.head, st, merchant, last, buf: VecDeque::new(), sub, api_key, auth };
    let stream = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(ev) = c.buf.pop_front() {
                return Some((Ok(ev), c));
            }
            if *c.st.stopping.borrow() {
                return None;
            }
            if c.catching_up {
                metrics::counter!("settle_sse_catchup_reads_total").increment(1);
                match follower::read_after(&c.st.ctx, &c.merchant, c.last, PAGE).await {
                    Ok(rows) => {
                        c.catching_up = rows.len() as u64 == PAGE;
                        for r in &rows {
                            if let Some(ev) = follower::Event::of(r) {
                                c.push(&ev);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream catch-up read failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                continue;
            }
            let mut stopping = c.st.stopping.clone();
            tokio::select! {
                got = c.sub.rx.recv() => match got {
                    Ok(ev) => c.push(&ev),
                    // Fell behind the channel: the missed rows are in the database.
                    Err(RecvError::Lagged(_)) => c.catching_up = true,
                    Err(RecvError::Closed) => return None,
                },
                _ = stopping.changed() => {}
                Ok(()) = c.auth.changed() => {
                    // Revoked, or no longer the tenant the stream serves (the demo key moved to test mode): closed.
                    match settle_app::merchants::authenticate(&c.st.ctx, &c.api_key).await {
                        Err(settle_app::AppError::Unauthenticated) => {
                            metrics::counter!("settle_sse_closed_revoked_total").increment(1);
                            return None;
                        }
                        Ok(tenant) if tenant != c.merchant => {
                            metrics::counter!("settle_sse_closed_revoked_total").increment(1);
                            return None;
                        }
                        _ => {}
                    }
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(heartbeat))
}

fn open(st: &AppState, merchant: &str) -> Result<Option<Subscription>, ApiError> {
    st.ctx.fanout.open(merchant).map_err(refused)
}

/// 429 `too_many_streams`, saying which cap was reached.
pub(crate) fn refused(r: Refused) -> ApiError {
    metrics::counter!("settle_sse_refused_total").increment(1);
    let message = match r {
        Refused::Merchant => "this merchant has its most event streams open on this instance; close one or retry later",
        Refused::Instance => "this instance serves its most event streams; retry later",
        Refused::Payment => "this payment has its most streams open on this instance; close one or retry later",
    };
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_streams", message);
    e.retry_after = Some(5);
    e
}
