//! The payment use cases: create, read, list, cancel. Their views are the ledger's ([`crate::ledger::views`]);
//! every status change goes through the [`crate::ledger`].

pub mod simulate;

pub use crate::ledger::views::{EventList, EventView, PaymentList, PaymentView, StatusView};
use crate::ledger::{
    Fact, apply_transition,
    views::{body_of, cached, event_payload},
};

use serde::Serialize;
use settle_domain::{Address, Amount, Currency, OrderId, PaymentId, PaymentStatus, Rail};
use settle_store::{
    StoreError,
    payments::{self as store, ListFilter, NewPayment, PaymentRow},
};

pub use settle_store::payments::Details;

use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    time::rfc3339,
};

/// A parsed `POST /v1/payments`.
#[derive(Clone, Debug)]
pub enum CreatePayment {
    Chain {
        order_id: OrderId,
        amount: Amount,
        currency: Currency,
        chain_id: i64,
        token_address: Address,
        recipient_address: Address,
        /// Seconds until the signed deadline (default 1800).
        expires_in_secs: Option<u64>,
    },
    Card {
        order_id: OrderId,
        amount: Amount,
        currency: Currency,
    },
}

/// Creates a PENDING payment with what the merchant attaches to it.
pub async fn create(ctx: &Context, merchant_id: &str, input: CreatePayment, details: Details, key: Option<IdemKey>) -> Result<Reply, AppError> {
    let mut reply = idempotency::once(ctx, merchant_id, key, |claim| async move {
        let (reply, row) = crate::retrying(|| create_once(ctx, merchant_id, input.clone(), details.clone(), &claim)).await?;
        ctx.outbox_wake.notify_one();
        ctx.cache.put_status(&cached(&row)).await;
        Ok(reply)
    })
    .await?;
    if reply.replayed {
        reply.body = open_client_secret(ctx, &reply.body)?;
    }
    Ok(reply)
}

/// A recorded create answer with its client secret opened (it is recorded sealed; see `create_once`).
fn open_client_secret(ctx: &Context, body: &str) -> Result<String, AppError> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else { return Ok(body.to_owned()) };
    match (v["clientSecret"].as_str(), v["paymentId"].as_str()) {
        (Some(sealed), Some(id)) if crate::crypto::is_sealed(sealed) => {
            // Sealed under a master key no longer configured: the answer cannot be given again (a new key with the
            // same orderId answers 409 duplicate_order; nothing is created twice).
            let open = crate::crypto::open(ctx.settings.keyring.as_deref(), sealed, id).map_err(|e| {
                AppError::InvalidState(format!(
                    "this Idempotency-Key's stored answer can no longer be opened ({e}); read the payment with GET /payments/{id}"
                ))
            })?;
            Ok(body.replacen(sealed, &open, 1))
        }
        _ => Ok(body.to_owned()),
    }
}

async fn create_once(
    ctx: &Context,
    merchant_id: &str,
    input: CreatePayment,
    details: Details,
    claim: &Claim,
) -> Result<(Reply, PaymentRow), AppError> {
    let now = settle_store::now_ms();
    // A CHAIN payment's checkout secret (shown once, in this answer) and where to pay.
    let mut secret: Option<(String, String, String)> = None;
    let new = match input {
        CreatePayment::Chain { order_id, amount, currency, chain_id, token_address, recipient_address, expires_in_secs } => {
            // What the chain rail adds: its checks of the chain and token, the merchant's fee and the signed terms.
            let payment_id = PaymentId::generate().to_string();
            let terms = crate::rails::chain_terms(
                ctx,
                crate::rails::ChainTermsInput {
                    merchant_id,
                    payment_id: &payment_id,
                    chain_id,
                    token_address: &token_address,
                    currency: &currency,
                    amount: &amount,
                    recipient_address: &recipient_address,
                    expires_in_secs,
                    now,
                },
            )
            .await?;
            secret = Some((terms.client_secret, terms.gateway, terms.forwarder));
            NewPayment {
                payment_id,
                merchant_id: merchant_id.to_owned(),
                order_id: order_id.as_str().to_owned(),
                rail: Rail::Chain,
                amount: amount.to_string(),
                currency: currency.to_string(),
                chain_id: Some(chain_id),
                token_address: Some(token_address.to_string()),
                recipient_address: Some(recipient_address.to_string()),
                chain_terms: Some(terms.stored),
                details,
            }
        }
        CreatePayment::Card { order_id, amount, currency } => NewPayment {
            payment_id: PaymentId::generate().to_string(),
            merchant_id: merchant_id.to_owned(),
            order_id: order_id.as_str().to_owned(),
            rail: Rail::Card,
            amount: amount.to_string(),
            currency: currency.to_string(),
            chain_id: None,
            token_address: None,
            recipient_address: None,
            chain_terms: None,
            details,
        },
    };
    let mut row = new.row(now);
    let view = PaymentView::from(&row);
    let event = event_payload(store::TOPIC_CREATED, &view);
    // The answer as sent holds the checkout's client secret; the answer recorded for a replay holds it sealed under
    // the master key (the payments table keeps only its hash), opened again when it is replayed.
    let (body, recorded) = match secret {
        Some((client_secret, gateway, forwarder)) => {
            let created = |client_secret: &str| {
                body_of(&CreatedPayment {
                    payment: view.clone(),
                    gateway_address: Some(gateway.clone()),
                    forwarder_address: Some(forwarder.clone()),
                    client_secret: Some(client_secret.to_owned()),
                })
            };
            let sealed = crate::crypto::seal(ctx.settings.keyring.as_deref(), &client_secret, &row.payment_id);
            (created(&client_secret)?, created(&sealed)?)
        }
        None => {
            let b = body_of(&view)?;
            (b.clone(), b)
        }
    };
    let reply = Reply { outcome: Outcome::Created, body, replayed: false };
    let record = Reply { body: recorded, ..reply.clone() };
    // The payment, its event, its outbox row and the idempotency record's answer, in one atomic write.
    // Only the (merchant, open order id) index means a duplicate order; any other unique violation is a fault, said as
    // one.
    let id = store::insert_published(&ctx.db, &row, &event, claim.completion(&record)).await.map_err(|e| {
        if e.violates("payments_merchant_order", "payments", &["merchant_id", "open_order_id"]) { AppError::DuplicateOrder } else { e.into() }
    })?;
    row.id = id.ok_or_else(|| claim.lost())?;
    claim.committed();
    Ok((reply, row))
}

/// A payment as its creation answers it. A CHAIN payment also carries what its checkout needs: the gateway and
/// forwarder contracts, and the client secret (`pcs_...`) that opens this one payment's checkout routes, shown
/// this once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPayment {
    #[serde(flatten)]
    pub payment: PaymentView,
    /// CHAIN: the gateway contract the payer pays through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_address: Option<String>,
    /// CHAIN: the forwarder contract of gasless payments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarder_address: Option<String>,
    /// CHAIN: opens this payment's checkout routes (typed-data, gasless, relay) and nothing else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

fn parse_id(payment_id: &str) -> Result<PaymentId, AppError> {
    Ok(PaymentId::parse("paymentId", payment_id)?)
}

async fn load(ctx: &Context, merchant_id: &str, payment_id: &str) -> Result<PaymentRow, AppError> {
    let id = parse_id(payment_id)?;
    store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))
}

/// A merchant's payment.
/// A CHAIN payment's confirmations (capped at those that complete it; once its block is known: the watcher's log
/// before it is COMPLETED), and the confirmations that complete it; from the head the chain's watcher last read,
/// without a node call. (None, None) for a CARD payment.
pub async fn confirmations(ctx: &Context, view: &PaymentView) -> Result<(Option<u64>, Option<u64>), AppError> {
    let Some((chain_id, chain)) = view.chain_id.and_then(|c| Some((c, ctx.chains.get(c)?))) else { return Ok((None, None)) };
    let required = chain.confirmations;
    if view.status == PaymentStatus::Completed {
        return Ok((Some(required), Some(required)));
    }
    let block = match (view.block_number, view.status) {
        (None, PaymentStatus::Processing) => settle_store::chain::payment_log_block(&ctx.db, chain_id, &view.payment_id).await?,
        (block, _) => block,
    };
    let have = block.map(|b| (chain.observed().head.unwrap_or(0) as i64 - b + 1).clamp(0, required as i64) as u64);
    Ok((have, Some(required)))
}

pub async fn get(ctx: &Context, merchant_id: &str, payment_id: &str) -> Result<PaymentView, AppError> {
    Ok(PaymentView::from(&load(ctx, merchant_id, payment_id).await?))
}

/// A payment's status, from the cache when it holds it.
pub async fn status(ctx: &Context, merchant_id: &str, payment_id: &str) -> Result<StatusView, AppError> {
    let id = parse_id(payment_id)?;
    if let Some(c) = ctx.cache.get_status(id.as_str()).await
        && c.merchant_id == merchant_id
    {
        ctx.cache.count_lookup(true);
        tracing::debug!(payment_id = %id, "status cache hit");
        return Ok(StatusView::from(c));
    }
    ctx.cache.count_lookup(false);
    tracing::debug!(payment_id = %id, "status cache miss");
    let mut row = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
    // A PENDING payment: its rail may know more (the contract is a CHAIN payment's source of truth). What it
    // observes is recorded before it is reported, in a task of its own: the edge runs a read inline, and a
    // transition must never be cut off halfway.
    if row.status == PaymentStatus::Pending
        && let (c, r) = (ctx.clone(), row.clone())
        && let Ok(Some(next)) = tokio::spawn(async move { crate::rails::observe_pending(&c, &r).await }).await
    {
        row = next;
    }
    ctx.cache.put_status(&cached(&row)).await;
    Ok(StatusView { payment_id: row.payment_id, status: row.status.as_str().to_owned(), chain_id: row.chain_id, updated_at: rfc3339(row.updated_at) })
}

/// A payment's status for `merchant_id` (a key's merchant as [`crate::merchants::known_merchant`] finds it in
/// memory), when this instance holds the status in memory. None otherwise (a malformed id, a status not held,
/// another merchant's payment): [`status`], behind the key's authentication, then answers, exactly as it would
/// have. The edge answers the most polled read this way without routing it: the answer is the JSON body of the
/// [`StatusView`], rendered when the status was stored. Nothing is counted until it answers
/// ([`status_held_served`]), since its rate limit may still refuse it.
pub async fn status_held(ctx: &Context, merchant_id: &str, payment_id: &str) -> Option<bytes::Bytes> {
    // Only an id as Settle writes it: any other spelling is for [`status`] to parse.
    if !PaymentId::is_canonical(payment_id) {
        return None;
    }
    let held = ctx.cache.get_status_held(payment_id).await?;
    (held.status.merchant_id == merchant_id).then(|| {
        tracing::debug!(payment_id, "status cache hit");
        held.body.clone()
    })
}

/// Counts a status answered by [`status_held`], found in `took`, as the cache's hit.
pub fn status_held_served(ctx: &Context, took: std::time::Duration) {
    ctx.cache.count_held(took);
}

/// Query of `GET /v1/payments`, parsed.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<PaymentStatus>,
    pub order_id: Option<String>,
    pub rail: Option<Rail>,
    /// `metadata[key]=value` pairs a payment's metadata must all hold.
    pub metadata: Vec<(String, String)>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub limit: u64,
    pub starting_after: Option<PaymentId>,
    pub ending_before: Option<PaymentId>,
}

/// A merchant's payments, newest first.
pub async fn list(ctx: &Context, merchant_id: &str, q: ListQuery) -> Result<PaymentList, AppError> {
    let f = ListFilter {
        status: q.status,
        order_id: q.order_id,
        rail: q.rail,
        metadata: q.metadata,
        created_from: q.created_from,
        created_to: q.created_to,
        limit: q.limit,
        starting_after: q.starting_after.map(|p| p.to_string()),
        ending_before: q.ending_before.map(|p| p.to_string()),
    };
    let cursor = if f.starting_after.is_some() { "startingAfter" } else { "endingBefore" };
    let (rows, has_more) = store::list(&ctx.db, merchant_id, &f).await.map_err(|e| match e {
        StoreError::NotFound => AppError::invalid(cursor, format!("{cursor} names no payment of yours")),
        other => other.into(),
    })?;
    Ok(PaymentList { data: rows.iter().map(PaymentView::from).collect(), has_more })
}

/// A payment's history, oldest first.
pub async fn events(ctx: &Context, merchant_id: &str, payment_id: &str) -> Result<EventList, AppError> {
    let row = load(ctx, merchant_id, payment_id).await?;
    let evs = store::events(&ctx.db, &row.payment_id).await?;
    Ok(EventList { data: evs.iter().map(EventView::from).collect() })
}

/// PENDING -> CANCELLED. From any other state, or when a concurrent change wins, 409 `invalid_state`.
pub async fn cancel(ctx: &Context, merchant_id: &str, payment_id: &str, key: Option<IdemKey>) -> Result<Reply, AppError> {
    let id = parse_id(payment_id)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        let current = store::find(&ctx.db, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
        if current.status == PaymentStatus::Cancelling {
            return Err(AppError::InvalidState(
                "the payment is being cancelled on chain: it becomes CANCELLED once the contract refuses its terms".into(),
            ));
        }
        // A rail whose payments stay payable elsewhere (a CHAIN payment's signed terms, until their deadline) cancels
        // there first.
        if let Some(reply) = crate::rails::cancel(ctx, &current, &claim).await? {
            return Ok(reply);
        }
        match apply_transition(ctx, &current, Fact::Cancelled, Default::default(), None, Some((&claim, Outcome::Done))).await? {
            Some((_, Some(reply))) => Ok(reply),
            _ => Err(AppError::InvalidState("the payment changed concurrently and can no longer be cancelled".into())),
        }
    })
    .await
}

/// What `POST /v1/payments/{id}` changes (parsed and checked at the edge): `Some(None)` clears a field.
#[derive(Clone, Debug, Default)]
pub struct UpdatePayment {
    pub description: Option<Option<String>>,
    pub customer_email: Option<Option<String>>,
    pub metadata: Option<MetadataChange>,
}

/// How an update changes metadata.
#[derive(Clone, Debug)]
pub enum MetadataChange {
    /// Every key removed.
    Clear,
    /// Keys set (`Some`) or removed (`None`); the others kept.
    Merge(Vec<(String, Option<String>)>),
}

impl UpdatePayment {
    /// `details` with this update applied.
    pub fn apply(&self, mut details: Details) -> Result<Details, AppError> {
        if let Some(d) = &self.description {
            details.description = d.clone();
        }
        if let Some(e) = &self.customer_email {
            details.customer_email = e.clone();
        }
        match &self.metadata {
            None => {}
            Some(MetadataChange::Clear) => details.metadata = Default::default(),
            Some(MetadataChange::Merge(pairs)) => details.metadata.update("metadata", pairs.iter().cloned())?,
        }
        Ok(details)
    }
}

/// Changes what the merchant attached to a payment (description, customer email, metadata), in any status: the
/// row, its metadata rows, the `payment.updated` event and the Idempotency-Key's answer commit together, the row
/// locked from the read to the commit (concurrent updates apply one after the other, none lost). The status and
/// the version do not change: a payer's charge or checkout racing it goes on unhindered. An update that changes
/// nothing answers the payment as it is and sends no event.
pub async fn update(ctx: &Context, merchant_id: &str, payment_id: &str, change: UpdatePayment, key: Option<IdemKey>) -> Result<Reply, AppError> {
    let id = parse_id(payment_id)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        let (next, reply, changed) = crate::retrying(|| async {
            let txn = settle_store::begin(&ctx.db).await?;
            let current = store::find_locked(&txn, merchant_id, id.as_str()).await?.ok_or(AppError::NotFound("payment"))?;
            let was = Details::of(&current);
            let details = change.apply(was.clone())?;
            let changed = details != was;
            let now = settle_store::now_ms();
            let next = if changed { store::set_details(&txn, &current, &details, now).await? } else { current };
            let view = PaymentView::from(&next);
            if changed {
                let payload = event_payload(store::TOPIC_UPDATED, &view);
                settle_store::outbox::enqueue(&txn, &next.merchant_id, store::TOPIC_UPDATED, &next.payment_id, &payload, now).await?;
            }
            let reply = Reply { outcome: Outcome::Done, body: body_of(&view)?, replayed: false };
            claim.complete_in(&txn, &reply).await?;
            txn.commit().await.map_err(StoreError::from)?;
            claim.committed();
            Ok((next, reply, changed))
        })
        .await?;
        if changed {
            ctx.outbox_wake.notify_one();
            ctx.cache.put_status(&cached(&next)).await;
        }
        Ok(reply)
    })
    .await
}
