use axum::{
    Json,
    extract::{RawQuery, State},
};
use settle_app::payments::{self, ListQuery, PaymentList};
use settle_domain::{OrderId, PaymentId, PaymentStatus};

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Merchant, query_limit, query_pairs},
    schemas,
};

fn parse_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { limit: 10, ..Default::default() };
    for (k, v) in query_pairs(raw)? {
        match k.as_str() {
            "status" => q.status = Some(PaymentStatus::parse("status", &v).map_err(ApiError::from_domain)?),
            "orderId" => q.order_id = Some(OrderId::parse("orderId", &v).map_err(ApiError::from_domain)?.as_str().to_owned()),
            "limit" => q.limit = query_limit(&v)?,
            "startingAfter" => q.starting_after = Some(PaymentId::parse("startingAfter", &v).map_err(ApiError::from_domain)?),
            _ => {}
        }
    }
    Ok(q)
}

/// A merchant's payments, newest first.
#[utoipa::path(
    get, path = "/payments", tag = "payments",
    params(
        ("status" = Option<String>, Query, description = "PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED or EXPIRED"),
        ("orderId" = Option<String>, Query),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
        ("startingAfter" = Option<String>, Query, description = "paymentId of the last item of the previous page"),
    ),
    responses((status = 200, body = schemas::PaymentList), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_payments(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<PaymentList>, ApiError> {
    let q = parse_query(raw.as_deref())?;
    Ok(Json(payments::list(&st.ctx, &m, q).await?))
}
