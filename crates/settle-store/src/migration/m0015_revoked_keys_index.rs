//! Migration m0015: revoked keys index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The janitor deletes API keys revoked before a time (`revoked_at < ?`) on every run; `settle db check` found no
/// index for it, so each run read the whole table.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(Index::create().name("api_keys_revoked").table("api_keys").col("revoked_at").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("api_keys_revoked").table("api_keys").to_owned()).await
    }
}
