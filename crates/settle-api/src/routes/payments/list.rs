//! `GET /v1/payments`: a merchant's payments, filtered and paged.

use axum::{
    Json,
    extract::{RawQuery, State},
};
use settle_app::payments::{self, ListQuery, PaymentList};
use settle_domain::{OrderId, PaymentId, PaymentStatus, Rail};

use crate::{
    ApiError, AppState,
    error::ErrorBody,
    extract::{Merchant, one_cursor, query_limit, query_pairs, rfc3339_ms, unknown_query},
    schemas,
};

fn parse_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { limit: 10, ..Default::default() };
    for (k, v) in query_pairs(raw)? {
        match k.as_str() {
            "status" => q.status = Some(PaymentStatus::parse("status", &v).map_err(ApiError::from_domain)?),
            "orderId" => q.order_id = Some(OrderId::parse("orderId", &v).map_err(ApiError::from_domain)?.as_str().to_owned()),
            "rail" => q.rail = Some(Rail::from_stored(&v).map_err(|_| ApiError::invalid("rail", "rail must be CARD or CHAIN"))?),
            "createdFrom" => q.created_from = Some(rfc3339_ms("createdFrom", &v)?),
            "createdTo" => q.created_to = Some(rfc3339_ms("createdTo", &v)?),
            "limit" => q.limit = query_limit(&v)?,
            "startingAfter" => q.starting_after = Some(PaymentId::parse("startingAfter", &v).map_err(ApiError::from_domain)?),
            "endingBefore" => q.ending_before = Some(PaymentId::parse("endingBefore", &v).map_err(ApiError::from_domain)?),
            _ => match crate::details::metadata_filter(&k, &v)? {
                Some(pair) if q.metadata.len() < 10 => q.metadata.push(pair),
                Some(_) => return Err(ApiError::invalid("metadata", "at most 10 metadata filters")),
                None => return Err(unknown_query(&k)),
            },
        }
    }
    one_cursor(q.starting_after.is_some(), q.ending_before.is_some())?;
    Ok(q)
}

/// A merchant's payments, newest first.
#[utoipa::path(
    get, path = "/v1/payments", tag = "payments",
    params(
        ("status" = Option<String>, Query, description = "PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED or EXPIRED"),
        ("orderId" = Option<String>, Query),
        ("rail" = Option<String>, Query, description = "CARD or CHAIN"),
        ("createdFrom" = Option<String>, Query, description = "RFC 3339: created at or after"),
        ("createdTo" = Option<String>, Query, description = "RFC 3339: created at or before"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
        ("startingAfter" = Option<String>, Query, description = "paymentId of the last item of the previous page: the next page"),
        ("endingBefore" = Option<String>, Query, description = "paymentId of the first item of the next page: the previous page"),
        ("metadata" = Option<std::collections::BTreeMap<String, String>>, Query, style = DeepObject, explode,
            description = "metadata[key]=value: payments whose metadata holds that value at that key (up to 10, all must hold)"),
    ),
    responses((status = 200, body = schemas::PaymentList), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_payments(State(st): State<AppState>, Merchant(m): Merchant, RawQuery(raw): RawQuery) -> Result<Json<PaymentList>, ApiError> {
    let q = parse_query(raw.as_deref())?;
    Ok(Json(payments::list(&st.ctx, &m, q).await?))
}
