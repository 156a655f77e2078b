//! Migration m0009: idempotency owner.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// An Idempotency-Key claim names its owner (a random token per claim): only the owner completes or releases
/// it, so a request whose claim was taken over after it stalled cannot overwrite the new owner's response.
/// Each merchant gets a server-side secret that keys its request fingerprints (filled on first use for
/// merchants created before this migration), so rotating API keys does not turn a retry into a mismatch.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("idempotency_keys").add_column(string_len_null("owner", 36)).to_owned()).await?;
        m.alter_table(Table::alter().table("merchants").add_column(string_len_null("idem_secret", 64)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").drop_column("idem_secret").to_owned()).await?;
        m.alter_table(Table::alter().table("idempotency_keys").drop_column("owner").to_owned()).await
    }
}
