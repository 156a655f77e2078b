//! `GET /v1/payments/{paymentId}/stream`: one payment as it changes, as Server-Sent Events, for its payer's page
//! (its client secret or a checkout session's id) or its merchant.
//!
//! The first event is the payment as it stands; each later one is sent when it changed: its status, its block, or
//! the confirmations its block has (from the head the chain's watcher last read, no node call per stream). A change
//! is looked for when the follower delivers one of the merchant's events naming the payment (the merchant's
//! channel, [`settle_app::fanout`]), and on a tick besides: every second while the payment is PROCESSING (the
//! confirmations count up with blocks, which make no event), every 5 s otherwise (a stream without a place in the
//! channel, or one that fell behind it, still sees every change). The stream ends after the payment is final.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{LazyLock, Mutex},
    time::Duration,
};

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

/// Streams a payer may hold open on one payment on this instance (a page in a few tabs).
const PAYER_STREAMS_PER_PAYMENT: usize = 3;

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
        (status = 429, description = "too_many_streams: this payment's payer holds its most streams on this instance", body = ErrorBody),
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
    let place = if payer { Some(PayerPlace::take(&first.payment.payment_id)?) } else { None };
    // A place in the merchant's channel if there is one free; without it, the ticks alone.
    let sub = match st.ctx.fanout.open(&merchant) {
        Ok(Some(s)) => Some(s),
        Ok(None) => match settle_app::follower::Follower::start(&st.ctx).await {
            Ok(()) => st.ctx.fanout.open(&merchant).ok().flatten(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let watch = Watch {
        id: first.payment.payment_id.clone(),
        st,
        merchant,
        payer,
        sub,
        last: None,
        status: None,
        next: Some(first),
        done: false,
        _place: place,
    };
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
    _place: Option<PayerPlace>,
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

/// A payer's stream on one payment, counted on this instance (at most [`PAYER_STREAMS_PER_PAYMENT`]): a payer
/// cannot take every place of its merchant's channel.
struct PayerPlace(String);

static PAYER_STREAMS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);

impl PayerPlace {
    fn take(payment_id: &str) -> Result<Self, ApiError> {
        let mut open = PAYER_STREAMS.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(payment_id.to_owned()).or_default();
        if *n >= PAYER_STREAMS_PER_PAYMENT {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                "this payment has its most payer streams open on this instance; close one, or read GET /v1/payments/{paymentId}",
            );
            e.retry_after = Some(5);
            return Err(e);
        }
        *n += 1;
        Ok(Self(payment_id.to_owned()))
    }
}

impl Drop for PayerPlace {
    fn drop(&mut self) {
        let mut open = PAYER_STREAMS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.0);
            }
        }
    }
}
