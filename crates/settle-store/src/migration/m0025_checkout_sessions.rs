//! Migration m0025: hosted checkout sessions, and the merchant settings they use.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// - `checkout_sessions`: a payer's way into one payment on Settle's hosted page. `session_id` is public, unique and
///   unguessable (it opens that payment's checkout, as its client secret does); where the page sends the payer back
///   (`success_url`, `cancel_url`), its language, and until when it is usable.
/// - `merchants.redirect_hosts`: the hosts a merchant's sessions may send payers back to (a JSON array; NULL: none).
/// - `merchants.checkout_secret`: the key of the signature on a session's success redirect, sealed under the master
///   key (NULL until first used).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("checkout_sessions")
                .col(big_pk_auto("id"))
                .col(string_len("session_id", 40))
                .col(string_len("merchant_id", 64))
                .col(string_len("payment_id", 66))
                .col(text("success_url"))
                .col(text("cancel_url"))
                .col(string_len_null("locale", 8))
                .col(big_integer("expires_at"))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("checkout_sessions_session_id").table("checkout_sessions").col("session_id").unique().to_owned()).await?;
        m.create_index(Index::create().name("checkout_sessions_merchant").table("checkout_sessions").col("merchant_id").col("id").to_owned()).await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `checkout_sessions` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        m.alter_table(Table::alter().table("merchants").add_column(text_null("redirect_hosts")).to_owned()).await?;
        m.alter_table(Table::alter().table("merchants").add_column(text_null("checkout_secret")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").drop_column("checkout_secret").to_owned()).await?;
        m.alter_table(Table::alter().table("merchants").drop_column("redirect_hosts").to_owned()).await?;
        m.drop_table(Table::drop().table("checkout_sessions").to_owned()).await
    }
}
