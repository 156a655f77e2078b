//! The files findings point into, embedded so that a finding names its file and line without the repository at
//! hand, and the migration that creates each table.

/// The sources findings point into, embedded so that a line can be named without the repository at hand.
const SOURCES: &[(&str, &str)] = &[
    ("crates/settle-store/src/migration.rs", include_str!("../../../settle-store/src/migration.rs")),
    ("crates/settle-store/src/migration/m0001_merchants.rs", include_str!("../../../settle-store/src/migration/m0001_merchants.rs")),
    ("crates/settle-store/src/migration/m0002_payments.rs", include_str!("../../../settle-store/src/migration/m0002_payments.rs")),
    ("crates/settle-store/src/migration/m0003_mechanisms.rs", include_str!("../../../settle-store/src/migration/m0003_mechanisms.rs")),
    ("crates/settle-store/src/migration/m0004_card_reconcile.rs", include_str!("../../../settle-store/src/migration/m0004_card_reconcile.rs")),
    ("crates/settle-store/src/migration/m0005_card_hardening.rs", include_str!("../../../settle-store/src/migration/m0005_card_hardening.rs")),
    ("crates/settle-store/src/migration/m0006_chain.rs", include_str!("../../../settle-store/src/migration/m0006_chain.rs")),
    ("crates/settle-store/src/migration/m0007_commerce.rs", include_str!("../../../settle-store/src/migration/m0007_commerce.rs")),
    (
        "crates/settle-store/src/migration/m0008_mysql_binary_collation.rs",
        include_str!("../../../settle-store/src/migration/m0008_mysql_binary_collation.rs"),
    ),
    ("crates/settle-store/src/migration/m0009_idempotency_owner.rs", include_str!("../../../settle-store/src/migration/m0009_idempotency_owner.rs")),
    (
        "crates/settle-store/src/migration/m0010_lease_without_token.rs",
        include_str!("../../../settle-store/src/migration/m0010_lease_without_token.rs"),
    ),
    (
        "crates/settle-store/src/migration/m0011_outbox_unpublished.rs",
        include_str!("../../../settle-store/src/migration/m0011_outbox_unpublished.rs"),
    ),
    ("crates/settle-store/src/migration/m0012_webhooks.rs", include_str!("../../../settle-store/src/migration/m0012_webhooks.rs")),
    ("crates/settle-store/src/migration/m0013_soft_delete.rs", include_str!("../../../settle-store/src/migration/m0013_soft_delete.rs")),
    ("crates/settle-store/src/migration/m0014_audit_log.rs", include_str!("../../../settle-store/src/migration/m0014_audit_log.rs")),
    (
        "crates/settle-store/src/migration/m0015_revoked_keys_index.rs",
        include_str!("../../../settle-store/src/migration/m0015_revoked_keys_index.rs"),
    ),
    (
        "crates/settle-store/src/migration/m0016_idempotency_resource.rs",
        include_str!("../../../settle-store/src/migration/m0016_idempotency_resource.rs"),
    ),
    ("crates/settle-store/src/migration/m0017_cluster_flags.rs", include_str!("../../../settle-store/src/migration/m0017_cluster_flags.rs")),
    ("crates/settle-store/src/migration/m0018_event_ids.rs", include_str!("../../../settle-store/src/migration/m0018_event_ids.rs")),
    ("crates/settle-store/src/migration/m0019_payment_details.rs", include_str!("../../../settle-store/src/migration/m0019_payment_details.rs")),
    ("crates/settle-store/src/migration/m0020_refunds.rs", include_str!("../../../settle-store/src/migration/m0020_refunds.rs")),
    (
        "crates/settle-store/src/migration/m0021_order_cancellations.rs",
        include_str!("../../../settle-store/src/migration/m0021_order_cancellations.rs"),
    ),
    (
        "crates/settle-store/src/migration/m0022_late_payment_refunds.rs",
        include_str!("../../../settle-store/src/migration/m0022_late_payment_refunds.rs"),
    ),
    ("crates/settle-store/src/migration/m0023_payment_gateway.rs", include_str!("../../../settle-store/src/migration/m0023_payment_gateway.rs")),
    ("crates/settle-store/src/migration/m0024_fee_returns.rs", include_str!("../../../settle-store/src/migration/m0024_fee_returns.rs")),
    ("crates/settle-store/src/migration/m0025_checkout_sessions.rs", include_str!("../../../settle-store/src/migration/m0025_checkout_sessions.rs")),
    ("crates/settle-store/src/migration/m0026_chain_log_payment.rs", include_str!("../../../settle-store/src/migration/m0026_chain_log_payment.rs")),
    ("crates/settle-store/src/migration/m0027_saga_sweep.rs", include_str!("../../../settle-store/src/migration/m0027_saga_sweep.rs")),
    ("crates/settle-store/src/migration/m0028_dead_letters.rs", include_str!("../../../settle-store/src/migration/m0028_dead_letters.rs")),
    (
        "crates/settle-store/src/migration/m0029_migration_compatibility.rs",
        include_str!("../../../settle-store/src/migration/m0029_migration_compatibility.rs"),
    ),
    ("crates/settle-store/src/merchants.rs", include_str!("../../../settle-store/src/merchants.rs")),
    ("crates/settle-store/src/dead_letters.rs", include_str!("../../../settle-store/src/dead_letters.rs")),
    ("crates/settle-store/src/checkout_sessions.rs", include_str!("../../../settle-store/src/checkout_sessions.rs")),
    ("crates/settle-store/src/payments.rs", include_str!("../../../settle-store/src/payments.rs")),
    ("crates/settle-store/src/refunds.rs", include_str!("../../../settle-store/src/refunds.rs")),
    ("crates/settle-store/src/cancellations.rs", include_str!("../../../settle-store/src/cancellations.rs")),
    ("crates/settle-store/src/idempotency.rs", include_str!("../../../settle-store/src/idempotency.rs")),
    ("crates/settle-store/src/outbox.rs", include_str!("../../../settle-store/src/outbox.rs")),
    ("crates/settle-store/src/leases.rs", include_str!("../../../settle-store/src/leases.rs")),
    ("crates/settle-store/src/flags.rs", include_str!("../../../settle-store/src/flags.rs")),
    ("crates/settle-store/src/voids.rs", include_str!("../../../settle-store/src/voids.rs")),
    ("crates/settle-store/src/relay.rs", include_str!("../../../settle-store/src/relay.rs")),
    ("crates/settle-store/src/chain.rs", include_str!("../../../settle-store/src/chain.rs")),
    ("crates/settle-store/src/shop.rs", include_str!("../../../settle-store/src/shop.rs")),
    ("crates/settle-store/src/orders.rs", include_str!("../../../settle-store/src/orders.rs")),
    ("crates/settle-store/src/webhooks.rs", include_str!("../../../settle-store/src/webhooks.rs")),
    ("crates/settle-store/src/audit.rs", include_str!("../../../settle-store/src/audit.rs")),
    ("crates/settle-app/src/merchants.rs", include_str!("../../../settle-app/src/merchants.rs")),
];

/// The first line of `file` that contains `needle` (1-based).
pub(super) fn line_of(file: &str, needle: &str) -> Option<usize> {
    let (_, text) = SOURCES.iter().find(|(f, _)| *f == file)?;
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

/// The migration that creates each table.
const CREATED_BY: &[(&str, &str)] = &[
    ("merchants", "m0001_merchants"),
    ("api_keys", "m0001_merchants"),
    ("payments", "m0002_payments"),
    ("payment_events", "m0002_payments"),
    ("relay_requests", "m0002_payments"),
    ("idempotency_keys", "m0003_mechanisms"),
    ("outbox", "m0003_mechanisms"),
    ("leases", "m0003_mechanisms"),
    ("gateway_voids", "m0005_card_hardening"),
    ("relay_txs", "m0006_chain"),
    ("relayer_nonces", "m0006_chain"),
    ("chain_cursors", "m0006_chain"),
    ("chain_blocks", "m0006_chain"),
    ("chain_logs", "m0006_chain"),
    ("shop_users", "m0007_commerce"),
    ("items", "m0007_commerce"),
    ("coupons", "m0007_commerce"),
    ("issued_coupons", "m0007_commerce"),
    ("orders", "m0007_commerce"),
    ("order_items", "m0007_commerce"),
    ("saga_states", "m0007_commerce"),
    ("saga_step_results", "m0007_commerce"),
    ("transaction_logs", "m0007_commerce"),
    ("notifications", "m0007_commerce"),
    ("inbox", "m0007_commerce"),
    ("consumer_offsets", "m0007_commerce"),
    ("webhook_endpoints", "m0012_webhooks"),
    ("webhook_deliveries", "m0012_webhooks"),
    ("webhook_attempts", "m0012_webhooks"),
    ("audit_log", "m0014_audit_log"),
    ("cluster_flags", "m0017_cluster_flags"),
    ("payment_metadata", "m0019_payment_details"),
    ("refunds", "m0020_refunds"),
    ("order_cancellations", "m0021_order_cancellations"),
    ("checkout_sessions", "m0025_checkout_sessions"),
    ("dead_letters", "m0028_dead_letters"),
    ("migration_compatibility", "m0029_migration_compatibility"),
];

/// Where an index is made: the first migration that names it (and the line), else its table's definition.
pub(super) fn index_location(table: &str, index: &str) -> (&'static str, Option<usize>) {
    let needle = format!("\"{index}\"");
    SOURCES
        .iter()
        .filter(|(f, _)| f.contains("/migration/"))
        .find_map(|(f, _)| line_of(f, &needle).map(|l| (*f, Some(l))))
        .unwrap_or_else(|| table_location(table))
}

/// Where a table's definition is: its migration file and the line that names it.
pub(super) fn table_location(table: &str) -> (&'static str, Option<usize>) {
    let Some((_, m)) = CREATED_BY.iter().find(|(t, _)| *t == table) else { return ("crates/settle-store/src/migration.rs", None) };
    let file = SOURCES.iter().map(|(f, _)| *f).find(|f| f.ends_with(&format!("{m}.rs"))).unwrap_or("crates/settle-store/src/migration.rs");
    (file, line_of(file, &format!("\"{table}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db_check::{RULES, indexes::LOOKUPS};

    #[test]
    fn every_location_is_a_source_file_and_every_rule_is_known() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (f, _) in SOURCES {
            assert!(root.join(f).is_file(), "{f}");
        }
        for (table, _, file, needle) in LOOKUPS {
            assert!(line_of(file, needle).is_some(), "{table}: `{needle}` is not in {file}");
        }
        for (table, _) in CREATED_BY {
            assert!(table_location(table).1.is_some(), "{table}: not named in its migration");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(RULES.iter().all(|r| seen.insert(r.id)), "rule ids are unique");
    }
}
