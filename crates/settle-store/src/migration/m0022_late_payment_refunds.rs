//! Migration m0022: a merchant's choice about CHAIN payments paid after they ended unpaid.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `merchants.refund_late_payments`: whether a CHAIN payment the chain shows paid after Settle ended it CANCELLED or
/// EXPIRED is refunded in full automatically (true, the default) or only reported to the merchant.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").add_column(boolean("refund_late_payments").default(true)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").drop_column("refund_late_payments").to_owned()).await
    }
}
