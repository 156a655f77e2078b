//! Migration m0012: webhooks.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Outgoing webhooks: a merchant's endpoints (with their signing secrets), one delivery per (event, endpoint),
/// and every attempt at a delivery.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("webhook_endpoints")
                .col(big_pk_auto("id"))
                .col(string_len("endpoint_id", 40).unique_key())
                .col(string_len("merchant_id", 64))
                .col(string_len("url", 2048))
                .col(string_len("events", 2048))
                .col(string_len_null("description", 500))
                .col(boolean("enabled"))
                .col(string_len("secret", 255))
                .col(string_len_null("previous_secret", 255))
                .col(big_integer_null("previous_secret_until"))
                .col(big_integer_null("failing_since"))
                .col(string_len_null("disabled_reason", 64))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("webhook_endpoints_merchant").table("webhook_endpoints").col("merchant_id").col("id").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("webhook_deliveries")
                .col(big_pk_auto("id"))
                .col(string_len("delivery_id", 40).unique_key())
                .col(string_len("endpoint_id", 40))
                .col(string_len("merchant_id", 64))
                .col(big_integer("seq"))
                .col(string_len("event_type", 64))
                .col(text("body"))
                .col(string_len("status", 16))
                .col(integer("attempts").default(0))
                .col(big_integer("next_attempt_at"))
                .col(big_integer_null("claimed_until"))
                .col(integer_null("last_status_code"))
                .col(string_len_null("last_error", 250))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("webhook_deliveries_event").table("webhook_deliveries").col("endpoint_id").col("seq").unique().to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("webhook_deliveries_due").table("webhook_deliveries").col("status").col("next_attempt_at").to_owned())
            .await?;
        m.create_index(Index::create().name("webhook_deliveries_endpoint").table("webhook_deliveries").col("endpoint_id").col("id").to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("webhook_attempts")
                .col(big_pk_auto("id"))
                .col(string_len("delivery_id", 40))
                .col(integer("attempt"))
                .col(big_integer("started_at"))
                .col(integer_null("status_code"))
                .col(big_integer("latency_ms"))
                .col(string_len_null("error", 250))
                .col(string_len_null("excerpt", 250))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("webhook_attempts_delivery").table("webhook_attempts").col("delivery_id").col("id").to_owned()).await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008). Identifiers are this file's constants.
            for t in TABLES {
                m.get_connection().execute_unprepared(&format!("ALTER TABLE `{t}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

const TABLES: [&str; 3] = ["webhook_attempts", "webhook_deliveries", "webhook_endpoints"];
