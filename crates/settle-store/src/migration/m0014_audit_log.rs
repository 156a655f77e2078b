//! Migration m0014: audit log.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The audit log: one row per change made by a merchant's API call, an admin or the CLI, written in the change's
/// own transaction. Append-only: nothing in Settle updates a row; the janitor deletes rows past their retention.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("audit_log")
                .col(big_pk_auto("id"))
                .col(string_len_null("merchant_id", 64))
                .col(string_len("actor_type", 16))
                .col(string_len_null("actor_id", 64))
                .col(string_len("action", 64))
                .col(string_len("target_id", 128))
                .col(string_len_null("request_id", 64))
                .col(string_len_null("client_addr", 64))
                .col(string_len("digest", 64))
                .col(text("changes"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("audit_log_merchant").table("audit_log").col("merchant_id").col("id").to_owned()).await?;
        m.create_index(Index::create().name("audit_log_action").table("audit_log").col("merchant_id").col("action").col("id").to_owned()).await?;
        m.create_index(Index::create().name("audit_log_target").table("audit_log").col("merchant_id").col("target_id").col("id").to_owned()).await?;
        m.create_index(Index::create().name("audit_log_created").table("audit_log").col("created_at").to_owned()).await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `audit_log` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("audit_log").to_owned()).await
    }
}
