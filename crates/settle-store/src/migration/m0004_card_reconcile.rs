//! Migration m0004: card reconcile.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Per-payment reconciliation bookkeeping of the card rail: how often the gateway was asked, and when next.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("payments").add_column(integer("recon_attempts").default(0)).to_owned()).await?;
        m.alter_table(Table::alter().table("payments").add_column(big_integer_null("next_check_at")).to_owned()).await?;
        m.create_index(Index::create().name("payments_external_key").table("payments").col("external_payment_key").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("payments_external_key").table("payments").to_owned()).await?;
        m.alter_table(Table::alter().table("payments").drop_column("next_check_at").to_owned()).await?;
        m.alter_table(Table::alter().table("payments").drop_column("recon_attempts").to_owned()).await
    }
}
