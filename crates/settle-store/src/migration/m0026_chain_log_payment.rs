//! Migration m0026: the chain logs of one payment found by an index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `chain_logs (chain_id, payment_id)`: a payment's logs, read by the watcher before it expires or cancels a payment
/// (was it paid?) and by a payment's stream while it waits for its confirmations (which block?). Before, both read
/// every log of the chain.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(Index::create().name("chain_logs_payment").table("chain_logs").col("chain_id").col("payment_id").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("chain_logs_payment").table("chain_logs").to_owned()).await
    }
}
