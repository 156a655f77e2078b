//! Migration m0005: card hardening.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The card rail's repairs: gateway transactions to void (durable, retried until done), a flag for payments an
/// operator must look at, and when a finished card payment is checked once more at the gateway.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("payments").add_column(string_len_null("flag_reason", 200)).to_owned()).await?;
        m.alter_table(Table::alter().table("payments").add_column(big_integer_null("final_check_at")).to_owned()).await?;
        m.create_index(Index::create().name("payments_final_check").table("payments").col("final_check_at").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("gateway_voids")
                .col(big_pk_auto("id"))
                .col(string_len("payment_id", 66))
                .col(string_len("merchant_id", 64))
                .col(string_len("transaction_key", 128).unique_key())
                .col(string_len("reason", 32))
                .col(string_len("status", 16))
                .col(integer("attempts").default(0))
                .col(big_integer("next_attempt_at"))
                .col(string_len_null("last_error", 250))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("gateway_voids_due").table("gateway_voids").col("status").col("next_attempt_at").to_owned()).await?;
        m.create_index(Index::create().name("gateway_voids_payment").table("gateway_voids").col("payment_id").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("gateway_voids").to_owned()).await?;
        m.drop_index(Index::drop().name("payments_final_check").table("payments").to_owned()).await?;
        m.alter_table(Table::alter().table("payments").drop_column("final_check_at").to_owned()).await?;
        m.alter_table(Table::alter().table("payments").drop_column("flag_reason").to_owned()).await
    }
}
