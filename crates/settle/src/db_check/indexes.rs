//! Keys and indexes of the live schema: a primary key on every table, an index for every lookup the store makes,
//! no index that another covers, and (PostgreSQL) no index left unused.

use settle_store::schema::{Schema, TableInfo};

use super::{
    Report,
    sources::{line_of, table_location},
};

/// The lookups the store makes: a table, the columns its WHERE (or ORDER BY) leads with, and where it is made
/// (a file and a string on the line). Each needs an index (or the primary key) that begins with those columns.
pub(super) const LOOKUPS: &[(&str, &[&str], &str, &str)] = &[
    ("merchants", &["merchant_id"], "crates/settle-store/src/merchants.rs", "Column::MerchantId.eq(merchant_id)"),
    ("api_keys", &["key_hash"], "crates/settle-store/src/merchants.rs", "Column::KeyHash.eq(key_hash)"),
    ("api_keys", &["merchant_id"], "crates/settle-store/src/merchants.rs", "api_key::Column::MerchantId.eq(merchant_id)"),
    ("api_keys", &["revoked_at"], "crates/settle-store/src/merchants.rs", "Column::RevokedAt.lt(before)"),
    ("payments", &["payment_id"], "crates/settle-store/src/payments.rs", "Column::PaymentId.eq("),
    ("payments", &["merchant_id", "order_id"], "crates/settle-store/src/payments.rs", "Column::OrderId.eq("),
    ("payments", &["merchant_id", "id"], "crates/settle-store/src/payments.rs", "Column::MerchantId.eq("),
    ("payments", &["status"], "crates/settle-store/src/payments.rs", "Column::Status.eq("),
    ("payments", &["external_payment_key"], "crates/settle-store/src/payments.rs", "Column::ExternalPaymentKey"),
    ("payment_events", &["payment_id"], "crates/settle-store/src/payments.rs", "payment_event::Column::PaymentId"),
    ("payment_metadata", &["payment_id"], "crates/settle-store/src/payments.rs", "payment_metadata::Column::PaymentId.eq("),
    (
        "payment_metadata",
        &["merchant_id", "meta_key", "meta_value"],
        "crates/settle-store/src/payments.rs",
        "payment_metadata::Column::MerchantId.eq(",
    ),
    ("refunds", &["refund_id"], "crates/settle-store/src/refunds.rs", "Column::RefundId.eq(refund_id)"),
    ("refunds", &["payment_id"], "crates/settle-store/src/refunds.rs", "refund::Column::PaymentId.eq(payment_id)"),
    ("refunds", &["merchant_id", "id"], "crates/settle-store/src/refunds.rs", "refund::Column::MerchantId.eq(merchant_id)"),
    ("refunds", &["status", "next_check_at"], "crates/settle-store/src/refunds.rs", "Column::NextCheckAt.lte(now)"),
    ("checkout_sessions", &["session_id"], "crates/settle-store/src/checkout_sessions.rs", "Column::SessionId.eq(session_id)"),
    ("order_cancellations", &["cancellation_id"], "crates/settle-store/src/cancellations.rs", "Column::CancellationId.eq(cancellation_id)"),
    ("order_cancellations", &["order_id"], "crates/settle-store/src/cancellations.rs", "Column::OrderId.eq(order_id)"),
    ("order_cancellations", &["refund_id"], "crates/settle-store/src/cancellations.rs", "Column::RefundId.eq(refund_id)"),
    ("idempotency_keys", &["merchant_id", "idem_key"], "crates/settle-store/src/idempotency.rs", "Column::IdemKey.eq("),
    ("idempotency_keys", &["expires_at"], "crates/settle-store/src/idempotency.rs", "Column::ExpiresAt"),
    ("outbox", &["seq"], "crates/settle-store/src/outbox.rs", "Column::Seq.gt(after_seq)"),
    ("outbox", &["merchant_id", "seq"], "crates/settle-store/src/outbox.rs", "Column::MerchantId.eq(merchant_id)"),
    ("outbox", &["event_id"], "crates/settle-store/src/outbox.rs", "Column::EventId.eq("),
    ("outbox", &["published_at"], "crates/settle-store/src/outbox.rs", "Column::PublishedAt.gte(since)"),
    ("leases", &["name"], "crates/settle-store/src/leases.rs", "name"),
    ("cluster_flags", &["name"], "crates/settle-store/src/flags.rs", "Column::Name.eq(name)"),
    ("gateway_voids", &["status", "next_attempt_at"], "crates/settle-store/src/voids.rs", "Column::Status"),
    ("relay_requests", &["relay_request_id"], "crates/settle-store/src/relay.rs", "Column::RelayRequestId"),
    ("relay_requests", &["chain_id", "status"], "crates/settle-store/src/relay.rs", "Column::Status"),
    ("relay_txs", &["chain_id", "relayer", "nonce"], "crates/settle-store/src/relay.rs", "Column::Nonce"),
    ("relayer_nonces", &["chain_id", "relayer"], "crates/settle-store/src/relay.rs", "Column::Relayer"),
    ("chain_blocks", &["chain_id", "number"], "crates/settle-store/src/chain.rs", "Column::Number"),
    ("chain_logs", &["chain_id", "block_number"], "crates/settle-store/src/chain.rs", "Column::ChainId"),
    ("chain_logs", &["chain_id", "payment_id"], "crates/settle-store/src/chain.rs", "chain_log::Column::PaymentId.eq(payment_id)"),
    ("shop_users", &["merchant_id", "user_id"], "crates/settle-store/src/shop.rs", "Column::UserId"),
    ("items", &["merchant_id", "item_id"], "crates/settle-store/src/shop.rs", "Column::ItemId"),
    ("coupons", &["merchant_id", "coupon_id"], "crates/settle-store/src/shop.rs", "Column::CouponId"),
    ("saga_states", &["saga_id"], "crates/settle-store/src/orders.rs", "Column::SagaId"),
    ("saga_step_results", &["saga_id"], "crates/settle-store/src/orders.rs", "saga_step_result::Column::SagaId"),
    ("saga_states", &["status", "id"], "crates/settle-store/src/orders.rs", "saga_state::Column::Id.gt(after_id)"),
    ("inbox", &["consumer", "event_seq"], "crates/settle-store/src/orders.rs", "inbox::Column::EventSeq.lt(below)"),
    ("notifications", &["created_at"], "crates/settle-store/src/orders.rs", "notification::Column::CreatedAt.lt(before)"),
    ("transaction_logs", &["created_at"], "crates/settle-store/src/orders.rs", "transaction_log::Column::CreatedAt.lt(before)"),
    ("saga_step_results", &["created_at"], "crates/settle-store/src/orders.rs", "saga_step_result::Column::CreatedAt.lt(before)"),
    ("dead_letters", &["next_attempt_at"], "crates/settle-store/src/dead_letters.rs", "Column::NextAttemptAt.lte(now)"),
    ("webhook_endpoints", &["endpoint_id"], "crates/settle-store/src/webhooks.rs", "Column::EndpointId.eq("),
    ("webhook_endpoints", &["merchant_id"], "crates/settle-store/src/webhooks.rs", "webhook_endpoint::Column::MerchantId.eq("),
    ("webhook_deliveries", &["delivery_id"], "crates/settle-store/src/webhooks.rs", "Column::DeliveryId.eq("),
    ("webhook_deliveries", &["status", "next_attempt_at"], "crates/settle-store/src/webhooks.rs", "Column::NextAttemptAt"),
    ("webhook_deliveries", &["endpoint_id", "id"], "crates/settle-store/src/webhooks.rs", "webhook_delivery::Column::EndpointId.eq("),
    ("webhook_attempts", &["delivery_id"], "crates/settle-store/src/webhooks.rs", "webhook_attempt::Column::DeliveryId"),
    ("audit_log", &["merchant_id", "id"], "crates/settle-store/src/audit.rs", "Column::MerchantId.eq(merchant_id)"),
    ("audit_log", &["created_at"], "crates/settle-store/src/audit.rs", "Column::CreatedAt.lt(before)"),
];

/// Tables without a primary key, lookups without an index, indexes another covers, and indexes PostgreSQL has
/// never used.
pub(super) async fn check(report: &mut Report, live: &Schema, db: &settle_store::Db) -> anyhow::Result<()> {
    for (name, t) in &live.tables {
        if t.primary_key.is_empty() {
            report.push("SETTLE006", format!("table {name} has no primary key"), table_location(name));
        }
    }
    for (table, cols, file, needle) in LOOKUPS {
        let Some(t) = live.tables.get(*table) else { continue };
        if !indexed(t, cols) {
            report.push(
                "SETTLE007",
                format!("{table} is looked up by ({}) and no index begins with those columns", cols.join(", ")),
                (file, line_of(file, needle)),
            );
        }
    }
    for (name, t) in &live.tables {
        let mut keys: Vec<(&str, &[String], bool)> =
            t.indexes.iter().filter(|i| !i.partial).map(|i| (i.name.as_str(), i.columns.as_slice(), i.unique)).collect();
        keys.push(("PRIMARY KEY", t.primary_key.as_slice(), true));
        for i in t.indexes.iter().filter(|i| !i.partial) {
            // Covered: another index (or the key) begins with all of this one's columns, and this one enforces nothing more.
            if let Some((other, _, _)) = keys.iter().find(|(n, c, u)| {
                *n != i.name
                    && c.len() >= i.columns.len()
                    && c[..i.columns.len()] == i.columns[..]
                    && (!i.unique || (*u && c.len() == i.columns.len()))
            }) {
                report.push(
                    "SETTLE008",
                    format!("index {} on {name} ({}) is covered by {other}", i.name, i.columns.join(", ")),
                    table_location(name),
                );
            }
        }
    }
    for (table, index, scans) in settle_store::schema::unused_indexes(db.pool()).await? {
        // Only a database in use can tell: an index of a table read a few times has had no chance to be used.
        if scans >= 1000 {
            report.push(
                "SETTLE009",
                format!("index {index} on {table} has not been used since statistics were reset, though the table was read {scans} times"),
                table_location(&table),
            );
        }
    }
    Ok(())
}

/// Whether the primary key or an index begins with `cols` (in any order among them: equality lookups).
fn indexed(t: &TableInfo, cols: &[&str]) -> bool {
    let begins = |c: &[String]| c.len() >= cols.len() && cols.iter().all(|x| c[..cols.len()].iter().any(|y| y == x));
    begins(&t.primary_key) || t.indexes.iter().any(|i| !i.partial && begins(&i.columns))
}
