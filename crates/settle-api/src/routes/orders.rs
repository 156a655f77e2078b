//! The shop (users, items, coupons) and orders placed through the purchase saga.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde::Deserialize;
use settle_app::{
    card::CardInput,
    orders::{self, OrderInput, PlacedOrder, SagaView},
    shop::{self, ItemView, NewItem, NewUser, UserView},
};
use settle_domain::{CardNumber, CardType, RefundReason, UserStatus};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::{DeclineBody, Declined, ErrorBody},
    extract::{Merchant, Mutation, one_cursor, query_limit, query_pairs, reply, reply_v1, rfc3339_ms, unknown_query},
    schemas,
};

/// `POST /v1/users`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(example = "user-789")]
    pub user_id: String,
    #[schema(example = "Choi")]
    pub name: String,
    /// Points, in minor units.
    #[schema(example = 20000)]
    pub points: i64,
    /// ACTIVE (default) or SUSPENDED.
    pub status: Option<String>,
    /// The most one order may total, in minor units (default 0: no limit).
    pub purchase_limit: Option<i64>,
}

/// Create a shop user.
#[utoipa::path(post, path = "/v1/users", tag = "shop", request_body = CreateUserRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses((status = 201, body = schemas::UserView), (status = 400, body = ErrorBody), (status = 409, description = "the user exists", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_user(State(st): State<AppState>, m: Mutation<CreateUserRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    let u = NewUser {
        user_id: b.user_id,
        name: b.name,
        points: b.points,
        status: match b.status.as_deref() {
            None => UserStatus::Active,
            Some(s) => s.parse().map_err(|()| ApiError::invalid("status", "status must be ACTIVE or SUSPENDED"))?,
        },
        purchase_limit: b.purchase_limit.unwrap_or(0),
    };
    Ok(reply(shop::create_user(&st.ctx, &m.merchant, u, m.idem).await?))
}

/// Retrieve a shop user (its points balance).
#[utoipa::path(get, path = "/v1/users/{userId}", tag = "shop", params(("userId" = String, Path)),
    responses((status = 200, body = schemas::UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_user(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(shop::user(&st.ctx, &m, &id).await?))
}

/// `POST /v1/items`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateItemRequest {
    #[schema(example = "item-shield")]
    pub item_id: String,
    #[schema(example = "Shield")]
    pub name: String,
    /// Minor units.
    #[schema(example = 12000)]
    pub price: i64,
    #[schema(example = 50)]
    pub stock: i64,
    /// Default true.
    pub available: Option<bool>,
}

/// Create an item.
#[utoipa::path(post, path = "/v1/items", tag = "shop", request_body = CreateItemRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses((status = 201, body = schemas::ItemView), (status = 400, body = ErrorBody), (status = 409, description = "the item exists", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_item(State(st): State<AppState>, m: Mutation<CreateItemRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    let i = NewItem { item_id: b.item_id, name: b.name, price: b.price, stock: b.stock, available: b.available.unwrap_or(true) };
    Ok(reply(shop::create_item(&st.ctx, &m.merchant, i, m.idem).await?))
}

/// Retrieve an item (its stock).
#[utoipa::path(get, path = "/v1/items/{itemId}", tag = "shop", params(("itemId" = String, Path)),
    responses((status = 200, body = schemas::ItemView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_item(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<ItemView>, ApiError> {
    Ok(Json(shop::item(&st.ctx, &m, &id).await?))
}

/// `POST /v1/coupons`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCouponRequest {
    #[schema(example = "welcome-3000")]
    pub coupon_id: String,
    #[schema(example = "Welcome")]
    pub name: String,
    /// A fixed discount, in minor units.
    #[schema(example = 3000)]
    pub discount: i64,
}

/// Create a coupon.
#[utoipa::path(post, path = "/v1/coupons", tag = "shop", request_body = CreateCouponRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses((status = 201, body = schemas::CouponView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_coupon(State(st): State<AppState>, m: Mutation<CreateCouponRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    Ok(reply(shop::create_coupon(&st.ctx, &m.merchant, &b.coupon_id, &b.name, b.discount, m.idem).await?))
}

/// `POST /v1/coupons/{couponId}/issue`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueCouponRequest {
    #[schema(example = "user-123")]
    pub user_id: String,
}

/// Issue a coupon to a user.
#[utoipa::path(post, path = "/v1/coupons/{couponId}/issue", tag = "shop", request_body = IssueCouponRequest,
    params(("couponId" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses((status = 201, body = schemas::IssuedCouponView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue_coupon(State(st): State<AppState>, Path(coupon_id): Path<String>, m: Mutation<IssueCouponRequest>) -> Result<Response, ApiError> {
    Ok(reply(shop::issue_coupon(&st.ctx, &m.merchant, &coupon_id, &m.body.user_id, m.idem).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLine {
    #[schema(example = "item-sword")]
    pub item_id: String,
    #[schema(example = 1)]
    pub quantity: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderCard {
    #[schema(example = "SAMSUNG")]
    pub card_type: String,
    #[schema(example = "4111-1111-1111-1111")]
    pub card_no: String,
}

/// `POST /v1/orders`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrderRequest {
    #[schema(example = "user-123")]
    pub user_id: String,
    pub items: Vec<OrderLine>,
    pub issued_coupon_id: Option<String>,
    /// Points to spend, in minor units (default 0).
    #[schema(example = 5000)]
    pub use_points: Option<i64>,
    /// The card for the remainder; without it the payment waits for `POST /v1/payments/{paymentId}/card`.
    pub card: Option<OrderCard>,
    /// `orchestration` or `choreography` (default: the server's SETTLE_SAGA_PATTERN, orchestration unless set).
    #[schema(example = "orchestration")]
    pub pattern: Option<String>,
    /// What the order is for (up to 1000 characters); its card payment carries it too.
    pub description: Option<String>,
    /// The customer's email address; its card payment carries it too.
    pub customer_email: Option<String>,
    /// Up to 50 keys with string values, as on a payment; its card payment carries them too.
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub metadata: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

fn order_input(b: PlaceOrderRequest) -> Result<OrderInput, ApiError> {
    let details = crate::details::create(b.description, b.customer_email, b.metadata)?;
    shop::check_id("userId", &b.user_id)?;
    if b.items.is_empty() || b.items.len() > 50 {
        return Err(ApiError::invalid("items", "items must list 1 to 50 lines"));
    }
    let mut items: Vec<(String, i64)> = Vec::new();
    for (n, line) in b.items.into_iter().enumerate() {
        shop::check_id(&format!("items[{n}].itemId"), &line.item_id)?;
        if !(1..=10_000).contains(&line.quantity) {
            return Err(ApiError::invalid(format!("items[{n}].quantity"), "quantity must be 1 to 10000"));
        }
        match items.iter_mut().find(|(id, _)| *id == line.item_id) {
            Some((_, q)) => *q += line.quantity,
            None => items.push((line.item_id, line.quantity)),
        }
    }
    if let Some(c) = &b.issued_coupon_id {
        shop::check_id("issuedCouponId", c)?;
    }
    let use_points = b.use_points.unwrap_or(0);
    shop::check_units("usePoints", use_points)?;
    let card = match b.card {
        Some(c) => Some(CardInput {
            card_type: CardType::parse("card.cardType", &c.card_type).map_err(ApiError::from_domain)?,
            card_no: CardNumber::parse("card.cardNo", &c.card_no).map_err(ApiError::from_domain)?,
        }),
        None => None,
    };
    let pattern = match b.pattern.as_deref() {
        Some(p) => Some(orders::Pattern::parse(p).ok_or_else(|| ApiError::invalid("pattern", "pattern must be orchestration or choreography"))?),
        None => None,
    };
    Ok(OrderInput { user_id: b.user_id, items, issued_coupon_id: b.issued_coupon_id, use_points, all_in_points: false, card, pattern, details })
}

/// Place an order: the purchase saga (stock, coupon, points and a CARD payment in one transaction, then the
/// card charged through the gateway; a known failure compensated in reverse order).
#[utoipa::path(post, path = "/v1/orders", tag = "orders", request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Placed: the saga is COMPLETED (paid) or IN_PROGRESS (the payment is being decided, or waits for a card)", body = schemas::PlacedOrder),
        (status = 402, description = "card_declined: the saga is COMPENSATED and everything given back; the order is in error.order", body = DeclineBody),
        (status = 400, body = ErrorBody),
        (status = 404, description = "user_not_found or item_not_found; nothing changed", body = ErrorBody),
        (status = 409, description = "user_not_active, purchase_limit_exceeded, insufficient_balance, out_of_stock, item_not_available or coupon_not_usable; nothing changed", body = ErrorBody),
        (status = 503, description = "circuit_open (or another reason nothing was charged): the order was compensated", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn place_order(State(st): State<AppState>, m: Mutation<PlaceOrderRequest>) -> Result<Response, ApiError> {
    let input = order_input(m.body)?;
    Ok(reply_v1(orders::place(&st.ctx, &m.merchant, input, m.idem).await?, Declined::Order))
}

/// `POST /purchase` (seed 002's shape: its load test sends `{userId, itemId, quantity, price}`).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurchaseRequest {
    #[schema(example = "user-123")]
    pub user_id: String,
    #[schema(example = "item-sword")]
    pub item_id: String,
    #[schema(example = 1)]
    pub quantity: i64,
    /// The item's unit price as the buyer saw it, in minor units: checked against the item's, never trusted (a
    /// different price is refused with 409 `price_changed`, nothing bought).
    #[schema(example = 15000)]
    pub price: Option<i64>,
    /// `orchestration` or `choreography`.
    pub pattern: Option<String>,
}

/// Seed 002's purchase: one item paid with points, through the same saga as `POST /v1/orders` (no card; points
/// must cover the total). Answers 200 (the seed's clients count only 200 as success).
#[utoipa::path(post, path = "/purchase", tag = "seed", request_body = PurchaseRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses(
        (status = 200, body = schemas::PlacedOrder),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "price_changed: price is not the item's (both named; nothing bought); out of stock, points short", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn purchase(State(st): State<AppState>, m: Mutation<PurchaseRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    if let Some(price) = b.price {
        shop::check_id("itemId", &b.item_id)?;
        let item = shop::item(&st.ctx, &m.merchant, &b.item_id).await?;
        if price != item.price {
            // The buyer saw another price than the item's (it changed, or the client is wrong): nothing is charged
            // at a price the buyer did not see, and the client's price is never trusted.
            let mut e = ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "price_changed",
                format!("the price seen, {price}, is not the item's price, {}: nothing was bought", item.price),
            );
            e.param = Some("price".into());
            return Err(e);
        }
    }
    let mut input = order_input(PlaceOrderRequest {
        user_id: b.user_id,
        items: vec![OrderLine { item_id: b.item_id, quantity: b.quantity }],
        issued_coupon_id: None,
        use_points: None,
        card: None,
        pattern: b.pattern,
        description: None,
        customer_email: None,
        metadata: None,
    })?;
    input.all_in_points = true;
    let mut res = reply(orders::place(&st.ctx, &m.merchant, input, m.idem).await?);
    if res.status() == axum::http::StatusCode::CREATED {
        *res.status_mut() = axum::http::StatusCode::OK;
    }
    Ok(res)
}

/// A line of `POST /v1/orders/{orderId}/cancel`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelLine {
    #[schema(example = "item-sword")]
    pub item_id: String,
    #[schema(example = 1)]
    pub quantity: i64,
}

/// `POST /v1/orders/{orderId}/cancel` (an empty body cancels every line not yet cancelled).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelOrderRequest {
    /// The lines to cancel (a partial order refund); default: every line not yet cancelled.
    pub items: Option<Vec<CancelLine>>,
    /// duplicate, fraudulent or requested_by_customer (given to the card refund too).
    #[schema(example = "requested_by_customer")]
    pub reason: Option<String>,
}

fn cancel_input(b: CancelOrderRequest) -> Result<orders::CancelOrder, ApiError> {
    let items = match b.items {
        Some(lines) => {
            if lines.is_empty() || lines.len() > 50 {
                return Err(ApiError::invalid("items", "items must list 1 to 50 lines (leave it out to cancel the whole order)"));
            }
            let mut items = Vec::with_capacity(lines.len());
            for (n, line) in lines.into_iter().enumerate() {
                shop::check_id(&format!("items[{n}].itemId"), &line.item_id)?;
                if !(1..=10_000).contains(&line.quantity) {
                    return Err(ApiError::invalid(format!("items[{n}].quantity"), "quantity must be 1 to 10000"));
                }
                items.push((line.item_id, line.quantity));
            }
            Some(items)
        }
        None => None,
    };
    let reason = b.reason.map(|r| RefundReason::parse("reason", &r)).transpose().map_err(ApiError::from_domain)?;
    Ok(orders::CancelOrder { items, reason })
}

/// Cancel a PAID order, whole or some of its lines (a partial order refund): its card part refunded through the
/// gateway, then its points, stock and (with its last lines) coupon given back, in the refund's transaction. Several
/// cancellations of one order are allowed; together they never give back more than it was paid with.
#[utoipa::path(post, path = "/v1/orders/{orderId}/cancel", tag = "orders", request_body = CancelOrderRequest,
    params(
        ("orderId" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body for 24 h; a retry never cancels twice"),
    ),
    responses(
        (status = 200, description = "SUCCEEDED (nothing to refund by card, or the gateway refunded at once) or FAILED (the card refund failed: nothing was given back)", body = schemas::CancellationView),
        (status = 202, description = "PENDING: the card refund is under way; order.cancellation.succeeded or .failed follows", body = schemas::CancellationView),
        (status = 400, description = "Invalid input (an item not in the order, named twice), or the card rail is not configured", body = ErrorBody),
        (status = 404, description = "Unknown order (or another merchant's, or another mode's)", body = ErrorBody),
        (status = 409, description = "invalid_state: the order is not PAID, or fewer of a line are left to cancel; refund_exceeds_remaining: the payment was refunded directly", body = ErrorBody),
        (status = 503, description = "circuit_open or gateway_busy: nothing was recorded; retry later", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn cancel_order(State(st): State<AppState>, Path(id): Path<String>, m: Mutation<CancelOrderRequest>) -> Result<Response, ApiError> {
    let input = cancel_input(m.body)?;
    Ok(reply(orders::cancel(&st.ctx, &m.merchant, &id, input, m.idem).await?))
}

/// Retrieve an order with its payment and saga.
#[utoipa::path(get, path = "/v1/orders/{orderId}", tag = "orders", params(("orderId" = String, Path)),
    responses((status = 200, body = schemas::PlacedOrder), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_order(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<PlacedOrder>, ApiError> {
    Ok(Json(orders::placed(&st.ctx, &m, &id).await?))
}

/// Retrieve a saga (its state and steps).
#[utoipa::path(get, path = "/v1/sagas/{transactionId}", tag = "orders", params(("transactionId" = String, Path)),
    responses((status = 200, body = schemas::SagaView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_saga(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<SagaView>, ApiError> {
    Ok(Json(orders::saga(&st.ctx, &m, &id).await?))
}

fn saga_list_query(raw: Option<&str>) -> Result<orders::SagaListQuery, ApiError> {
    let mut q = orders::SagaListQuery { limit: 10, ..Default::default() };
    for (k, v) in query_pairs(raw)? {
        match k.as_str() {
            "status" => {
                q.filter.status = Some(v.parse::<orders::SagaStatus>().map_err(|()| {
                    let names: Vec<&str> = orders::SagaStatus::ALL.iter().map(|s| s.as_str()).collect();
                    ApiError::invalid("status", format!("status must be one of {}", names.join(", ")))
                })?)
            }
            "userId" => {
                shop::check_id("userId", &v)?;
                q.filter.user_id = Some(v);
            }
            "createdFrom" => q.filter.created_from = Some(rfc3339_ms("createdFrom", &v)?),
            "createdTo" => q.filter.created_to = Some(rfc3339_ms("createdTo", &v)?),
            "limit" => q.limit = query_limit(&v)?,
            "startingAfter" => q.starting_after = Some(saga_id("startingAfter", v)?),
            "endingBefore" => q.ending_before = Some(saga_id("endingBefore", v)?),
            _ => return Err(unknown_query(&k)),
        }
    }
    one_cursor(q.starting_after.is_some(), q.ending_before.is_some())?;
    Ok(q)
}

fn saga_id(name: &'static str, v: String) -> Result<String, ApiError> {
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(ApiError::invalid(name, format!("{name} must be a saga's transactionId")));
    }
    Ok(v)
}

/// A merchant's sagas, newest first, filtered and paged by cursor.
#[utoipa::path(get, path = "/v1/sagas", tag = "orders",
    params(
        ("status" = Option<String>, Query, description = "PENDING, IN_PROGRESS, COMPLETED, FAILED, COMPENSATING or COMPENSATED"),
        ("userId" = Option<String>, Query),
        ("createdFrom" = Option<String>, Query, description = "RFC 3339: created at or after"),
        ("createdTo" = Option<String>, Query, description = "RFC 3339: created at or before"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
        ("startingAfter" = Option<String>, Query, description = "transactionId of the last item of the previous page: the next page"),
        ("endingBefore" = Option<String>, Query, description = "transactionId of the first item of the next page: the previous page"),
    ),
    responses((status = 200, body = schemas::SagaList), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_sagas(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<orders::SagaList>, ApiError> {
    let q = saga_list_query(raw.as_deref())?;
    Ok(Json(orders::saga_list(&st.ctx, &m, q).await?))
}

/// How many sagas, in all and per status.
#[utoipa::path(get, path = "/v1/sagas/stats", tag = "orders",
    responses((status = 200, body = schemas::SagaStats)), security(("bearer" = [])))]
pub async fn saga_stats(State(st): State<AppState>, Merchant(m): Merchant) -> Result<Json<orders::SagaStats>, ApiError> {
    Ok(Json(orders::saga_stats(&st.ctx, &m).await?))
}
