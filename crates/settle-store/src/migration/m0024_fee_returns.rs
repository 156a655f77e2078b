//! Migration m0024: a merchant's choice about the fee when a CHAIN payment is refunded, and what each refund gives
//! back of it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// - `merchants.return_fee_on_refund`: whether a refund of a CHAIN payment gives back its share of the fee the payment
///   paid to the treasury (true), or the treasury keeps the fee and the recipient pays the whole refund (false, the
///   default).
/// - `refunds.fee_returned`: the part of a CHAIN refund the treasury pays (canonical digits), signed into its terms;
///   NULL when none is.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").add_column(boolean("return_fee_on_refund").default(false)).to_owned()).await?;
        m.alter_table(Table::alter().table("refunds").add_column(string_len_null("fee_returned", 78)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("refunds").drop_column("fee_returned").to_owned()).await?;
        m.alter_table(Table::alter().table("merchants").drop_column("return_fee_on_refund").to_owned()).await
    }
}
