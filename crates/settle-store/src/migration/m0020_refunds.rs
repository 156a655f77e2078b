//! Migration m0020: refunds.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// - `refunds`: one row per refund of a payment, whole or partial, with its status, what the gateway calls it and
///   when the card rail asks the gateway about it next. `refund_id` is public and unique; the gateway's refund key
///   is unique where known.
/// - `payments.amount_refunded`: the sum of the payment's SUCCEEDED refunds (canonical digits, '0' by default, so
///   an instance of before this migration inserts payments that read correctly).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("refunds")
                .col(big_pk_auto("id"))
                .col(string_len("refund_id", 40))
                .col(string_len("merchant_id", 64))
                .col(string_len("payment_id", 66))
                .col(string_len("rail", 8))
                .col(string_len("amount", 78))
                .col(string_len("currency", 16))
                .col(string_len("status", 20))
                .col(string_len_null("reason", 32))
                .col(text_null("metadata"))
                .col(string_len_null("failure_code", 64))
                .col(string_len_null("failure_message", 200))
                .col(string_len_null("gateway_refund_key", 128))
                .col(string_len_null("flag_reason", 200))
                .col(integer("check_attempts").default(0))
                .col(big_integer_null("next_check_at"))
                .col(big_integer("version"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("refunds_refund_id").table("refunds").col("refund_id").unique().to_owned()).await?;
        m.create_index(Index::create().name("refunds_gateway_key").table("refunds").col("gateway_refund_key").unique().to_owned()).await?;
        m.create_index(Index::create().name("refunds_payment").table("refunds").col("payment_id").col("id").to_owned()).await?;
        m.create_index(Index::create().name("refunds_merchant").table("refunds").col("merchant_id").col("id").to_owned()).await?;
        m.create_index(Index::create().name("refunds_merchant_status").table("refunds").col("merchant_id").col("status").col("id").to_owned())
            .await?;
        m.create_index(Index::create().name("refunds_due").table("refunds").col("status").col("next_check_at").to_owned()).await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `refunds` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        m.alter_table(Table::alter().table("payments").add_column(string_len("amount_refunded", 78).default("0")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("payments").drop_column("amount_refunded").to_owned()).await?;
        m.drop_table(Table::drop().table("refunds").to_owned()).await
    }
}
