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
use settle_domain::{CardNumber, CardType, UserStatus};
use utoipa::ToSchema;

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Merchant, Mutation, reply},
    schemas,
};

/// `POST /users`.
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
#[utoipa::path(post, path = "/users", tag = "shop", request_body = CreateUserRequest,
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
#[utoipa::path(get, path = "/users/{userId}", tag = "shop", params(("userId" = String, Path)),
    responses((status = 200, body = schemas::UserView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_user(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<UserView>, ApiError> {
    Ok(Json(shop::user(&st.ctx, &m, &id).await?))
}

/// `POST /items`.
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
#[utoipa::path(post, path = "/items", tag = "shop", request_body = CreateItemRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses((status = 201, body = schemas::ItemView), (status = 400, body = ErrorBody), (status = 409, description = "the item exists", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_item(State(st): State<AppState>, m: Mutation<CreateItemRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    let i = NewItem { item_id: b.item_id, name: b.name, price: b.price, stock: b.stock, available: b.available.unwrap_or(true) };
    Ok(reply(shop::create_item(&st.ctx, &m.merchant, i, m.idem).await?))
}

/// Retrieve an item (its stock).
#[utoipa::path(get, path = "/items/{itemId}", tag = "shop", params(("itemId" = String, Path)),
    responses((status = 200, body = schemas::ItemView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_item(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<ItemView>, ApiError> {
    Ok(Json(shop::item(&st.ctx, &m, &id).await?))
}

/// `POST /coupons`.
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
#[utoipa::path(post, path = "/coupons", tag = "shop", request_body = CreateCouponRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses((status = 201, body = schemas::CouponView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_coupon(State(st): State<AppState>, m: Mutation<CreateCouponRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    Ok(reply(shop::create_coupon(&st.ctx, &m.merchant, &b.coupon_id, &b.name, b.discount, m.idem).await?))
}

/// `POST /coupons/{couponId}/issue`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueCouponRequest {
    #[schema(example = "user-123")]
    pub user_id: String,
}

/// Issue a coupon to a user.
#[utoipa::path(post, path = "/coupons/{couponId}/issue", tag = "shop", request_body = IssueCouponRequest,
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

/// `POST /orders`.
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
    /// The card for the remainder; without it the payment waits for `POST /payments/{paymentId}/card`.
    pub card: Option<OrderCard>,
    /// `orchestration` or `choreography` (default: the server's SETTLE_SAGA_PATTERN, orchestration unless set).
    #[schema(example = "orchestration")]
    pub pattern: Option<String>,
}

fn order_input(b: PlaceOrderRequest) -> Result<OrderInput, ApiError> {
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
    Ok(OrderInput { user_id: b.user_id, items, issued_coupon_id: b.issued_coupon_id, use_points, all_in_points: false, card, pattern })
}

/// Place an order: the purchase saga (stock, coupon, points and a CARD payment in one transaction, then the
/// card charged through the gateway; a known failure compensated in reverse order).
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = PlaceOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for the same key and body")),
    responses(
        (status = 201, description = "Placed: the saga is COMPLETED (paid) or IN_PROGRESS (the payment is being decided, or waits for a card)", body = schemas::PlacedOrder),
        (status = 402, description = "The card was declined: the saga is COMPENSATED and everything given back", body = schemas::PlacedOrder),
        (status = 400, body = ErrorBody),
        (status = 404, description = "user_not_found or item_not_found; nothing changed", body = ErrorBody),
        (status = 409, description = "user_not_active, purchase_limit_exceeded, insufficient_balance, out_of_stock, item_not_available or coupon_not_usable; nothing changed", body = ErrorBody),
        (status = 503, description = "circuit_open (or another reason nothing was charged): the order was compensated", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn place_order(State(st): State<AppState>, m: Mutation<PlaceOrderRequest>) -> Result<Response, ApiError> {
    let input = order_input(m.body)?;
    Ok(reply(orders::place(&st.ctx, &m.merchant, input, m.idem).await?))
}

/// `POST /purchase` (seed 002's shape).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PurchaseRequest {
    #[schema(example = "user-123")]
    pub user_id: String,
    #[schema(example = "item-sword")]
    pub item_id: String,
    #[schema(example = 1)]
    pub quantity: i64,
    /// `orchestration` or `choreography`.
    pub pattern: Option<String>,
}

/// One item paid with points: the same saga as `POST /orders` (no card; points must cover the total).
#[utoipa::path(post, path = "/purchase", tag = "orders", request_body = PurchaseRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = schemas::PlacedOrder), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn purchase(State(st): State<AppState>, m: Mutation<PurchaseRequest>) -> Result<Response, ApiError> {
    let b = m.body;
    let mut input = order_input(PlaceOrderRequest {
        user_id: b.user_id,
        items: vec![OrderLine { item_id: b.item_id, quantity: b.quantity }],
        issued_coupon_id: None,
        use_points: None,
        card: None,
        pattern: b.pattern,
    })?;
    input.all_in_points = true;
    Ok(reply(orders::place(&st.ctx, &m.merchant, input, m.idem).await?))
}

/// Retrieve an order with its payment and saga.
#[utoipa::path(get, path = "/orders/{orderId}", tag = "orders", params(("orderId" = String, Path)),
    responses((status = 200, body = schemas::PlacedOrder), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_order(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<PlacedOrder>, ApiError> {
    Ok(Json(orders::placed(&st.ctx, &m, &id).await?))
}

/// Retrieve a saga (its state and steps).
#[utoipa::path(get, path = "/saga/{transactionId}", tag = "orders", params(("transactionId" = String, Path)),
    responses((status = 200, body = schemas::SagaView), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_saga(State(st): State<AppState>, Merchant(m): Merchant, Path(id): Path<String>) -> Result<Json<SagaView>, ApiError> {
    Ok(Json(orders::saga(&st.ctx, &m, &id).await?))
}

fn saga_query(raw: Option<&str>) -> Result<orders::SagaQuery, ApiError> {
    let mut q = orders::SagaQuery { page: 1, limit: 20, ..Default::default() };
    for (k, v) in crate::extract::query_pairs(raw)? {
        let number = |name: &str| v.parse::<u64>().map_err(|_| ApiError::invalid(name.to_owned(), format!("{name} must be a positive integer")));
        match k.as_str() {
            "status" => q.status = Some(v.clone()),
            "userId" => {
                shop::check_id("userId", &v)?;
                q.user_id = Some(v.clone());
            }
            "dateFrom" => {
                let t = time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| ApiError::invalid("dateFrom", "dateFrom must be an RFC 3339 time"))?;
                q.date_from = Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
            }
            "page" => q.page = number("page")?,
            "limit" => q.limit = number("limit")?,
            _ => {}
        }
    }
    Ok(q)
}

/// List sagas, newest first, filtered and paginated: `{data, total, page, limit, totalPages}`.
#[utoipa::path(get, path = "/sagas", tag = "orders",
    params(
        ("status" = Option<String>, Query, description = "PENDING, IN_PROGRESS, COMPLETED, FAILED, COMPENSATING or COMPENSATED"),
        ("userId" = Option<String>, Query),
        ("dateFrom" = Option<String>, Query, description = "RFC 3339: sagas created at or after"),
        ("page" = Option<u64>, Query, description = "From 1 (default 1)"),
        ("limit" = Option<u64>, Query, description = "1 to 100 (default 20)"),
    ),
    responses((status = 200, body = schemas::SagaPage), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list_sagas(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<orders::SagaPage>, ApiError> {
    let q = saga_query(raw.as_deref())?;
    Ok(Json(orders::list_sagas(&st.ctx, &m, q).await?))
}

/// How many sagas, in all and per status.
#[utoipa::path(get, path = "/sagas/stats", tag = "orders",
    responses((status = 200, body = schemas::SagaStats)), security(("bearer" = [])))]
pub async fn saga_stats(State(st): State<AppState>, Merchant(m): Merchant) -> Result<Json<orders::SagaStats>, ApiError> {
    Ok(Json(orders::saga_stats(&st.ctx, &m).await?))
}
