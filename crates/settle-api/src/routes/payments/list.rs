use axum::{
    Json,
    extract::{RawQuery, State},
};
use settle_app::payments::{self, ListQuery, PaymentList};
use settle_domain::{OrderId, PaymentId, PaymentStatus};

use crate::{ApiError, AppState, error::ErrorBody, extract::Merchant, schemas};

fn parse_query(raw: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery { limit: 10, ..Default::default() };
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or_else(|| ApiError::invalid(k.to_owned(), format!("{k} is not valid percent-encoded UTF-8")))?;
        match k {
            "status" => q.status = Some(PaymentStatus::parse("status", &v).map_err(ApiError::from_domain)?),
            "orderId" => q.order_id = Some(OrderId::parse("orderId", &v).map_err(ApiError::from_domain)?.as_str().to_owned()),
            "limit" => {
                q.limit = v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| ApiError::invalid("limit", "limit must be an integer from 1 to 100"))?;
            }
            "startingAfter" => q.starting_after = Some(PaymentId::parse("startingAfter", &v).map_err(ApiError::from_domain)?),
            _ => {}
        }
    }
    Ok(q)
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
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
