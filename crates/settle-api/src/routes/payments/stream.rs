//! `GET /v1/payments/{paymentId}/stream`: one payment as it changes, as Server-Sent Events, for its payer's page
//! (its client secret or a checkout session's id) or its merchant.
//!
//! The first event is the payment as it stands; each later one is sent when it changed: its status, its block, or
//! the confirmations its block has (from the head the chain's watcher last read, no node call per stream). A change
//! is looked for when the follower delivers one of the merchant's events naming the payment (the merchant's
//! channel, [`settle_app::fanout`]), and on a tick besides: every second while the payment is PROCESSING (the
//! confirmations count up with blocks, which make no event), every 5 s otherwise (a stream that fell behind the
//! channel still sees every change). The stream ends after the payment is final, or after [`LIFETIME`] (a payer
//! whose session expired meanwhile is asked again when it reconnects; a CARD payment left PENDING never ends).
//!
//! Payment streams have a budget of their own on each instance ([`settle_app::fanout::Fanout::open_payment`]): as
//! many as the merchants' event streams, at most 3 per payment, and they never take a merchant's places.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::Stream;
use serde::Serialize;
use settle_app::{fanout::Subscription, payments, payments::PaymentView};
use settle_domain::PaymentStatus;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

use crate::{ApiError, AppState, error::ErrorBody, extract::PaymentCaller, schemas};

/// How long a stream lasts at most; the page reconnects.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);

/// One event of the stream (`event: payment`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentUpdate {
    /// The payment, as `GET /v1/payments/{paymentId}` answers the caller.
    #[schema(value_type = schemas::PaymentView)]
    pub payment: PaymentView,
    /// CHAIN, once its block is known: the confirmations it has (capped at `confirmationsRequired`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u64>,
    /// CHAIN: the confirmations that make it COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmations_required: Option<u64>,
}

/// Follow one payment: an event `payment` with the payment as it stands, then one each time it changes, until it is
/// final (COMPLETED, FAILED, CANCELLED or EXPIRED). With the merchant's key, the payment's `clientSecret` or one
/// of its checkout sessions' ids (what the payer's page holds: browsers' EventSource sends no header, so read it
/// with `fetch`). A comment line is sent as a heartbeat while nothing changes.
#[utoipa::path(
    get, path = "/v1/payments/{paymentId}/stream", tag = "payments",
    params(("paymentId" = String, Path, description = "0x + 64 hex")),
    responses(
        (status = 200, description = "text/event-stream; each event is `payment`, its data a PaymentUpdate as JSON", content_type = "text/event-stream", body = PaymentUpdate),
        (status = 400, body = ErrorBody),
        (status = 401, description = "No key, or a client secret or session of another payment", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "too_many_streams: this payment has its most streams (3) open on this instance, or the instance its most payment streams", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn payment_stream(
    State(st): State<AppState>,
    PaymentCaller(merchant, payer): PaymentCaller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let payer = payer.is_some();
    let first = update(&st, &merchant, &id, payer).await?;
    let id = first.payment.payment_id.clone();
    let sub = match st.ctx.fanout.open_payment(&merchant, &id).map_err(super::super::events::refused)? {
        Some(s) => s,
        None => {
            settle_app::follower::Follower::start(&st.ctx).await.map_err(settle_app::AppError::from)?;
            st.ctx
                .fanout
                .open_payment(&merchant, &id)
                .map_err(super::super::events::refused)?
                .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "event streams are starting"))?
        }
    };
    let until = tokio::time::Instant::now() + LIFETIME;
    let watch = Watch { id, st, merchant, payer, sub: Some(sub), last: None, status: None, next: Some(first), done: false, until };
    let heartbeat = KeepAlive::new().interval(watch.st.ctx.settings.sse_heartbeat).text("heartbeat");
    let stream = futures::stream::unfold(watch, |mut w| async move {
        loop {
            if let Some(u) = w.next.take() {
                let data = serde_json::to_string(&u).unwrap_or_default();
                if w.last.as_deref() != Some(data.as_str()) {
                    w.done = is_final(u.payment.status);
                    w.status = Some(u.payment.status);
                    w.last = Some(data.clone());
                    return Some((Ok(Event::default().event("payment").data(data)), w));
                }
            }
            if w.done || *w.st.stopping.borrow() {
                return None;
            }
            let tick = Duration::from_secs(if w.status == Some(PaymentStatus::Processing) { 1 } else { 5 });
            let mut stopping = w.st.stopping.clone();
            let named = async {
                match w.sub.as_mut() {
                    Some(s) => loop {
                        match s.rx.recv().await {
                            Ok(ev) if ev.data.contains(&w.id) => return true,
                            Ok(_) => continue,
                            Err(RecvError::Lagged(_)) => return true,
                            Err(RecvError::Closed) => return false,
                        }
                    },
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                open = named => if !open { w.sub = None },
                _ = tokio::time::sleep(tick) => {}
                _ = tokio::time::sleep_until(w.until) => return None,
                _ = stopping.changed() => return None,
            }
            match update(&w.st, &w.merchant, &w.id, w.payer).await {
                Ok(u) => w.next = Some(u),
                Err(e) => tracing::warn!(error = %e.message, "a payment stream's read failed; looking again at the next tick"),
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(heartbeat))
}

struct Watch {
    st: AppState,
    merchant: String,
    id: String,
    payer: bool,
    sub: Option<Subscription>,
    /// The data of the last event sent, and its payment's status.
    last: Option<String>,
    status: Option<PaymentStatus>,
    /// Read, not yet compared with `last`.
    next: Option<PaymentUpdate>,
    /// The last event sent was final.
    done: bool,
    /// When the stream ends if the payment is not final by then.
    until: tokio::time::Instant,
}

fn is_final(s: PaymentStatus) -> bool {
    matches!(s, PaymentStatus::Completed | PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Expired)
}

/// The payment as the caller sees it, with its confirmations.
async fn update(st: &AppState, merchant: &str, id: &str, payer: bool) -> Result<PaymentUpdate, ApiError> {
    let view = payments::get(&st.ctx, merchant, id).await?;
    let payment = if payer { view.for_payer() } else { view };
    let (confirmations, confirmations_required) = payments::confirmations(&st.ctx, &payment).await?;
    Ok(PaymentUpdate { payment, confirmations, confirmations_required })
}
