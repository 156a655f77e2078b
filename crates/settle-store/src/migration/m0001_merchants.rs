//! Migration m0001: merchants.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("merchants")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("merchant_id", 64))
                .col(string_len("name", 255))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("api_keys")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len_uniq("key_hash", 64))
                .col(string_len("key_prefix", 16))
                .col(big_integer("created_at"))
                .col(big_integer_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("api_keys_merchant").table("api_keys").col("merchant_id").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("api_keys").to_owned()).await?;
        m.drop_table(Table::drop().table("merchants").to_owned()).await
    }
}
