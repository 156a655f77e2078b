//! Migration m0007: commerce.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The shop of seeds 002 and 004, per merchant: users with points, items with stock, coupons issued to users,
/// orders and their items, and the purchase saga's state, step results, transaction logs and notifications.
/// Money and points are BIGINT minor units: they change by bound arithmetic in SQL (`points = points - ?
/// WHERE points >= ?`), never read, computed and written back.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table("shop_users")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("user_id", 64))
                .col(string_len("name", 255))
                .col(big_integer("points"))
                .col(string_len("status", 16))
                .col(big_integer("purchase_limit"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            Table::create()
                .table("items")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("item_id", 64))
                .col(string_len("name", 255))
                .col(big_integer("price"))
                .col(big_integer("stock"))
                .col(boolean("available"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            Table::create()
                .table("coupons")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("coupon_id", 64))
                .col(string_len("name", 255))
                .col(big_integer("discount"))
                .col(big_integer("created_at"))
                .to_owned(),
            Table::create()
                .table("issued_coupons")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("issued_coupon_id", 64))
                .col(string_len("coupon_id", 64))
                .col(string_len("user_id", 64))
                .col(string_len("status", 16))
                .col(big_integer("version"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            Table::create()
                .table("orders")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("order_id", 64))
                .col(string_len("user_id", 64))
                .col(string_len("status", 16))
                .col(big_integer("total_amount"))
                .col(big_integer("used_points"))
                .col(big_integer("coupon_discount"))
                .col(big_integer("paid_amount"))
                .col(string_len_null("issued_coupon_id", 64))
                .col(string_len_null("payment_id", 66))
                // Whether the order came with a card: a PENDING payment is then a charge that never started.
                .col(boolean("card_given"))
                .col(string_len("saga_id", 64))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            Table::create()
                .table("order_items")
                .col(big_pk_auto("id"))
                .col(string_len("order_id", 64))
                .col(string_len("item_id", 64))
                .col(big_integer("quantity"))
                .col(big_integer("unit_price"))
                .to_owned(),
            Table::create()
                .table("saga_states")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("saga_id", 64))
                .col(string_len("order_id", 64))
                .col(string_len("user_id", 64))
                .col(string_len("pattern", 16))
                .col(string_len("status", 16))
                .col(string_len("current_step", 32))
                .col(string_len_null("error", 250))
                .col(big_integer("version"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
            Table::create()
                .table("saga_step_results")
                .col(big_pk_auto("id"))
                .col(string_len("saga_id", 64))
                .col(string_len("step", 32))
                .col(string_len("outcome", 16))
                .col(text_null("data"))
                .col(big_integer("created_at"))
                .to_owned(),
            Table::create()
                .table("transaction_logs")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("saga_id", 64))
                .col(string_len("order_id", 64))
                .col(string_len("user_id", 64))
                .col(string_len("kind", 32))
                .col(big_integer("amount"))
                .col(big_integer("created_at"))
                .to_owned(),
            Table::create()
                .table("notifications")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("user_id", 64))
                .col(string_len("saga_id", 64))
                .col(string_len("message", 255))
                .col(big_integer("created_at"))
                .to_owned(),
            // Choreography: which events each consumer has handled (at most once per event), and how far
            // each has read the outbox.
            Table::create()
                .table("inbox")
                .col(big_pk_auto("id"))
                .col(string_len("consumer", 64))
                .col(big_integer("event_seq"))
                .col(big_integer("handled_at"))
                .to_owned(),
            Table::create()
                .table("consumer_offsets")
                .col(string_len("consumer", 64).primary_key())
                .col(big_integer("seq"))
                .col(big_integer("updated_at"))
                .to_owned(),
        ];
        for t in tables {
            m.create_table(t).await?;
        }
        let unique = [
            ("shop_users_key", "shop_users", vec!["merchant_id", "user_id"]),
            ("items_key", "items", vec!["merchant_id", "item_id"]),
            ("coupons_key", "coupons", vec!["merchant_id", "coupon_id"]),
            ("issued_coupons_key", "issued_coupons", vec!["merchant_id", "issued_coupon_id"]),
            ("orders_key", "orders", vec!["merchant_id", "order_id"]),
            ("saga_states_key", "saga_states", vec!["saga_id"]),
            // One result per step and outcome: recording a step twice (a resumed saga) is a no-op.
            ("saga_step_results_key", "saga_step_results", vec!["saga_id", "step", "outcome"]),
            ("inbox_key", "inbox", vec!["consumer", "event_seq"]),
        ];
        for (name, table, cols) in unique {
            let mut idx = Index::create().name(name).table(table).unique().to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }
        for (name, table, cols) in [
            ("order_items_order", "order_items", vec!["order_id"]),
            ("orders_payment", "orders", vec!["payment_id"]),
            ("saga_states_open", "saga_states", vec!["status", "updated_at"]),
            ("saga_states_merchant", "saga_states", vec!["merchant_id", "created_at"]),
        ] {
            let mut idx = Index::create().name(name).table(table).to_owned();
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "consumer_offsets",
            "inbox",
            "notifications",
            "transaction_logs",
            "saga_step_results",
            "saga_states",
            "order_items",
            "orders",
            "issued_coupons",
            "coupons",
            "items",
            "shop_users",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
