//! Migration m0016: idempotency resource.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// An Idempotency-Key names what its request created or changed (`order:ord_…`, `payment:0x…`, `webhook_endpoint:we_…`),
/// written in the same transaction as that change. A retry after a failure that followed the commit (the answer
/// not recorded, the process killed) answers from that resource instead of running the request again.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("idempotency_keys").add_column(string_len_null("resource", 100)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("idempotency_keys").drop_column("resource").to_owned()).await
    }
}
