//! Migration m0021: cancellations of paid orders.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `order_cancellations`: one row per cancellation of a paid order, whole or some of its lines (`lines`, JSON
/// `[{itemId, quantity}]`), with what it gives back (card, points), whether it closed the order (and gave back its
/// coupon), the card refund that carries its card part (`refund_id`), its status and an operator's flag.
/// `cancellation_id` is public and unique; a refund carries at most one.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("order_cancellations")
                .col(big_pk_auto("id"))
                .col(string_len("cancellation_id", 40))
                .col(string_len("merchant_id", 64))
                .col(string_len("order_id", 64))
                .col(text("lines"))
                .col(big_integer("card_amount"))
                .col(big_integer("points"))
                .col(boolean("releases_coupon"))
                .col(boolean("closes_order"))
                .col(string_len_null("refund_id", 40))
                .col(string_len("status", 20))
                .col(string_len_null("reason", 200))
                .col(string_len_null("failure_code", 64))
                .col(string_len_null("failure_message", 200))
                .col(string_len_null("flag_reason", 200))
                .col(big_integer("version"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        let t = "order_cancellations";
        m.create_index(Index::create().name("order_cancellations_id").table(t).col("cancellation_id").unique().to_owned()).await?;
        m.create_index(Index::create().name("order_cancellations_order").table(t).col("order_id").col("id").to_owned()).await?;
        m.create_index(Index::create().name("order_cancellations_refund").table(t).col("refund_id").unique().to_owned()).await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `order_cancellations` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("order_cancellations").to_owned()).await
    }
}
