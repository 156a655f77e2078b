//! Migration m0028: dead letters, and indexes for the retention of a saga's records.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DbBackend},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `dead_letters`: events a choreography consumer kept failing to handle, parked with their error (unique per
/// consumer and event). Indexes on `created_at` of `notifications`, `transaction_logs` and `saga_step_results`, which
/// the janitor deletes past their retention.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("dead_letters")
                .col(big_pk_auto("id"))
                .col(string_len("consumer", 64))
                .col(big_integer("event_seq"))
                .col(string_len_null("event_id", 64))
                .col(string_len("merchant_id", 64))
                .col(string_len("topic", 64))
                .col(string_len("aggregate_id", 66))
                .col(text("payload"))
                .col(string_len("error", 1000))
                .col(big_integer("attempts"))
                .col(big_integer_null("next_attempt_at"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `dead_letters` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        m.create_index(Index::create().name("dead_letters_key").table("dead_letters").unique().col("consumer").col("event_seq").to_owned()).await?;
        m.create_index(Index::create().name("dead_letters_due").table("dead_letters").col("next_attempt_at").to_owned()).await?;
        for table in ["notifications", "transaction_logs", "saga_step_results"] {
            m.create_index(Index::create().name(format!("{table}_created")).table(table).col("created_at").to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["notifications", "transaction_logs", "saga_step_results"] {
            m.drop_index(Index::drop().name(format!("{table}_created")).table(table).to_owned()).await?;
        }
        m.drop_table(Table::drop().table("dead_letters").to_owned()).await
    }
}
