//! Migration m0010: lease without token.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Leases lose their `token` column. It counted changes of owner as a fencing token, but no write ever checked
/// it, and none needs to: a lease only keeps background work from running twice at once, and every write a
/// lease holder makes is safe on its own when a paused holder writes after its lease passed to another — payment
/// changes are version-guarded, an outbox row is published once by a conditional UPDATE (and delivered at least
/// once anyway), a relayer nonce is taken in the transaction that records its transaction.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("leases").drop_column("token").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("leases").add_column(big_integer("token").default(0)).to_owned()).await
    }
}
