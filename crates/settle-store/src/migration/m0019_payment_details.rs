//! Migration m0019: what a merchant attaches to a payment or an order, and order ids free again after a failure.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{DbBackend, Statement},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Whether a payment in `status` still holds its order id: what the generated column `open_order_id` says.
const OPEN_ORDER_ID: &str = "CASE WHEN status IN ('FAILED', 'EXPIRED', 'CANCELLED') THEN NULL ELSE order_id END";

/// - `description`, `customer_email` and `metadata` (a JSON object of strings) on payments and orders.
/// - `payment_metadata`: one row per metadata key of a payment, indexed for `metadata[key]=value` searches.
/// - An order id is unique among a merchant's payments that may still be paid. `open_order_id` is a column the
///   database computes from the row: the order id while the payment is not FAILED, EXPIRED or CANCELLED (states
///   that never change again), NULL after. The unique index `payments_merchant_order` moves from
///   `(merchant_id, order_id)` to `(merchant_id, open_order_id)` (NULLs never collide) and keeps its name, so that a
///   Settle of before this migration still serving during a rolling upgrade writes under the same rule (the
///   database computes the column for its writes too) and still reads a violation as `duplicate_order`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for table in ["payments", "orders"] {
            m.alter_table(Table::alter().table(table).add_column(text_null("description")).to_owned()).await?;
            m.alter_table(Table::alter().table(table).add_column(string_len_null("customer_email", 254)).to_owned()).await?;
            m.alter_table(Table::alter().table(table).add_column(text_null("metadata")).to_owned()).await?;
        }
        let generated = match m.get_database_backend() {
            DbBackend::Postgres => format!("ALTER TABLE payments ADD COLUMN open_order_id VARCHAR(255) GENERATED ALWAYS AS ({OPEN_ORDER_ID}) STORED"),
            DbBackend::MySql => format!("ALTER TABLE payments ADD COLUMN open_order_id VARCHAR(255) AS ({OPEN_ORDER_ID}) STORED"),
            // SQLite adds only VIRTUAL generated columns to a table that exists; an index on one is stored.
            _ => format!("ALTER TABLE payments ADD COLUMN open_order_id VARCHAR(255) GENERATED ALWAYS AS ({OPEN_ORDER_ID}) VIRTUAL"),
        };
        m.get_connection().execute_unprepared(&generated).await?;
        m.drop_index(Index::drop().name("payments_merchant_order").table("payments").to_owned()).await?;
        m.create_index(Index::create().name("payments_merchant_order").table("payments").col("merchant_id").col("open_order_id").unique().to_owned())
            .await?;
        m.create_index(Index::create().name("payments_merchant_order_id").table("payments").col("merchant_id").col("order_id").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("payment_metadata")
                .col(big_pk_auto("id"))
                .col(string_len("merchant_id", 64))
                .col(string_len("payment_id", 66))
                .col(string_len("meta_key", 40))
                .col(string_len("meta_value", 500))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("payment_metadata_key").table("payment_metadata").col("payment_id").col("meta_key").unique().to_owned())
            .await?;
        m.create_index(
            Index::create().name("payment_metadata_search").table("payment_metadata").col("merchant_id").col("meta_key").col("meta_value").to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `payment_metadata` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Refused before anything changes while an order id has two payments: the old unique index could not be made.
        let conn = m.get_connection();
        let twice = conn
            .query_one_raw(Statement::from_string(
                m.get_database_backend(),
                "SELECT merchant_id, order_id FROM payments GROUP BY merchant_id, order_id HAVING COUNT(*) > 1",
            ))
            .await?;
        if twice.is_some() {
            return Err(DbErr::Migration(
                "m0019 cannot be rolled back: some order ids have more than one payment (one FAILED, EXPIRED or CANCELLED, and a \
                 newer one), which the earlier unique index on (merchant_id, order_id) forbids"
                    .into(),
            ));
        }
        m.drop_table(Table::drop().table("payment_metadata").to_owned()).await?;
        m.drop_index(Index::drop().name("payments_merchant_order_id").table("payments").to_owned()).await?;
        m.drop_index(Index::drop().name("payments_merchant_order").table("payments").to_owned()).await?;
        m.alter_table(Table::alter().table("payments").drop_column("open_order_id").to_owned()).await?;
        m.create_index(Index::create().name("payments_merchant_order").table("payments").col("merchant_id").col("order_id").unique().to_owned())
            .await?;
        for table in ["payments", "orders"] {
            for col in ["description", "customer_email", "metadata"] {
                m.alter_table(Table::alter().table(table).drop_column(col).to_owned()).await?;
            }
        }
        Ok(())
    }
}
