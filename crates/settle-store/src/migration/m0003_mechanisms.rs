//! Migration m0003: mechanisms.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("idempotency_keys")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("idem_key", 255))
                .col(string_len("request_hash", 64))
                .col(string_len("state", 16))
                .col(integer_null("response_status"))
                .col(text_null("response_body"))
                .col(big_integer("locked_at"))
                .col(big_integer("created_at"))
                .col(big_integer("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idempotency_keys_merchant_key").table("idempotency_keys").col("merchant_id").col("idem_key").unique().to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idempotency_keys_expires").table("idempotency_keys").col("expires_at").to_owned()).await?;

        m.create_table(
            Table::create()
                .table("outbox")
                .col(big_pk_auto("id"))
                .col(big_integer_null("seq").unique_key())
                .col(string_len("merchant_id", 64))
                .col(string_len("topic", 64))
                .col(string_len("aggregate_id", 66))
                .col(text("payload"))
                .col(big_integer("created_at"))
                .col(big_integer_null("published_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("outbox_merchant_seq").table("outbox").col("merchant_id").col("seq").to_owned()).await?;

        m.create_table(
            Table::create()
                .table("leases")
                .col(string_len("name", 64).primary_key())
                .col(string_len("owner", 64))
                .col(big_integer("expires_at"))
                .col(big_integer("token"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["leases", "outbox", "idempotency_keys"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
