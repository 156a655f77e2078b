//! Migration m0013: soft delete.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Merchants are deleted softly (`deleted_at`): their keys stop authenticating at once, their rows stay for the
/// records until the janitor's grace period ends. API keys already carry `revoked_at`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").add_column(big_integer_null("deleted_at")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").drop_column("deleted_at").to_owned()).await
    }
}
