//! Migration m0023: the gateway a CHAIN payment's terms were signed for.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `payments.gateway_address`: the gateway contract a CHAIN payment's terms were signed for (its EIP-712
/// `verifyingContract`), so that a chain moved to a new gateway keeps following, cancelling and refunding the payments
/// made on the one before. NULL for a CARD payment, and for a CHAIN payment made before this column: those belong to
/// the gateway the chain names now.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("payments").add_column(string_len_null("gateway_address", 42)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("payments").drop_column("gateway_address").to_owned()).await
    }
}
