//! Migration m0008: mysql binary collation.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every table Settle has, as of this migration.
const TABLES: [&str; 26] = [
    "api_keys",
    "chain_blocks",
    "chain_cursors",
    "chain_logs",
    "consumer_offsets",
    "coupons",
    "gateway_voids",
    "idempotency_keys",
    "inbox",
    "issued_coupons",
    "items",
    "leases",
    "merchants",
    "notifications",
    "order_items",
    "orders",
    "outbox",
    "payment_events",
    "payments",
    "relay_requests",
    "relay_txs",
    "relayer_nonces",
    "saga_states",
    "saga_step_results",
    "shop_users",
    "transaction_logs",
];

/// MySQL compares strings with the database's default collation, usually case-insensitive: `ORDER-1` and
/// `order-1` would be one order id, one idempotency key, one user. PostgreSQL and SQLite compare bytes. Every
/// table is converted to `utf8mb4_bin` so the three agree (a test checks every table, new ones included).
/// Nothing changes on PostgreSQL and SQLite.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        convert(m, "utf8mb4_bin").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        convert(m, "utf8mb4_general_ci").await
    }
}

async fn convert(m: &SchemaManager<'_>, collation: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != DbBackend::MySql {
        return Ok(());
    }
    // Identifiers cannot be bound: the names are this file's constants.
    for table in TABLES {
        m.get_connection().execute_unprepared(&format!("ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}")).await?;
    }
    Ok(())
}
