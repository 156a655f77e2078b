//! `GET /events`: the caller's events as Server-Sent Events, each with its outbox seq as id.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;

use crate::{ApiError, AppState, error::ErrorBody, extract::Merchant};

/// How often a stream looks for events another instance published.
const POLL: Duration = Duration::from_millis(500);

struct Cursor {
    st: AppState,
    merchant: String,
    last: i64,
    buf: VecDeque<Event>,
    published: tokio::sync::watch::Receiver<i64>,
}

/// Stream the caller's events (`payment.created`, `payment.cancelled`, ...). `Last-Event-ID` resumes exactly
/// after that event; without it the stream starts with the next event.
#[utoipa::path(
    get, path = "/events", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses((status = 200, description = "text/event-stream; each event's id is its seq", content_type = "text/event-stream", body = String), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn stream_events(
    State(st): State<AppState>,
    Merchant(merchant): Merchant,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| ApiError::invalid("Last-Event-ID", "Last-Event-ID must be a non-negative integer"))?,
        None => settle_app::outbox::head(&st.ctx).await.map_err(settle_app::AppError::from)?,
    };
    let published = st.ctx.published.subscribe();
    let cursor = Cursor { st, merchant, last, buf: VecDeque::new(), published };
    let stream = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(ev) = c.buf.pop_front() {
                return Some((Ok(ev), c));
            }
            if *c.st.stopping.borrow() {
                return None;
            }
            match settle_app::outbox::read_after(&c.st.ctx, &c.merchant, c.last, 200).await {
                Ok(rows) if !rows.is_empty() => {
                    for r in rows {
                        let seq = r.seq.unwrap_or(c.last);
                        c.last = seq;
                        c.buf.push_back(Event::default().id(seq.to_string()).event(r.topic).data(r.payload));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "event stream read failed; retrying"),
            }
            let mut stopping = c.st.stopping.clone();
            tokio::select! {
                _ = c.published.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stopping.changed() => {}
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
