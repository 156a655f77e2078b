//! Migration m0002: payments.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("payments")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("payment_id", 66))
                .col(string_len("merchant_id", 64))
                .col(string_len("order_id", 255))
                .col(string_len("rail", 8))
                .col(string_len("amount", 78))
                .col(string_len("currency", 10))
                .col(big_integer_null("chain_id"))
                .col(string_len_null("token_address", 42))
                .col(string_len_null("recipient_address", 42))
                .col(string_len_null("card_type", 16))
                .col(string_len_null("card_last4", 4))
                .col(string_len_null("external_payment_key", 128))
                .col(string_len_null("failure_message", 255))
                .col(string_len("status", 16))
                .col(big_integer("version"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("payments_merchant_order").table("payments").col("merchant_id").col("order_id").unique().to_owned())
            .await?;
        m.create_index(Index::create().name("payments_status_created").table("payments").col("status").col("created_at").to_owned()).await?;
        m.create_index(Index::create().name("payments_merchant_id").table("payments").col("merchant_id").col("id").to_owned()).await?;

        m.create_table(
            Table::create()
                .table("payment_events")
                .col(big_pk_auto("id"))
                .col(string_len("payment_id", 66))
                .col(string_len("event_type", 32))
                .col(string_len_null("from_status", 16))
                .col(string_len("to_status", 16))
                .col(big_integer("version"))
                .col(text_null("event_data"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("payment_events_payment_created").table("payment_events").col("payment_id").col("created_at").to_owned())
            .await?;
        // One event per version of a payment: a lost compare-and-set can never append a second one.
        m.create_index(
            Index::create().name("payment_events_payment_version").table("payment_events").col("payment_id").col("version").unique().to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("relay_requests")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("relay_request_id", 255))
                .col(string_len("payment_id", 66))
                .col(string_len("forwarder_address", 42))
                .col(string_len_null("tx_hash", 66))
                .col(string_len("status", 16))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("relay_requests_payment").table("relay_requests").col("payment_id").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["relay_requests", "payment_events", "payments"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
