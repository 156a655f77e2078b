//! Migration m0006: chain.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The chain rail: signed terms on payments, merchant fees, relay requests and their transactions with nonces
/// allocated in the database, and the watcher's cursor, the block hashes it relied on and the logs it saw.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("merchants").add_column(integer("fee_bps").default(0)).to_owned()).await?;
        for col in [
            big_integer_null("deadline"),
            integer_null("fee_bps"),
            string_len_null("server_signature", 132),
            string_len_null("client_secret_hash", 64),
            string_len_null("payer", 42),
            string_len_null("tx_hash", 66),
            big_integer_null("block_number"),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table("payments").add_column(&mut col).to_owned()).await?;
        }
        m.create_index(Index::create().name("payments_chain_deadline").table("payments").col("chain_id").col("deadline").to_owned()).await?;
        for col in [
            big_integer("chain_id").default(0).to_owned(),
            string_len("relayer", 42).default("").to_owned(),
            text_null("request"),
            big_integer_null("nonce"),
            integer("attempts").default(0).to_owned(),
            string_len_null("last_error", 250),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table("relay_requests").add_column(&mut col).to_owned()).await?;
        }
        m.create_index(Index::create().name("relay_requests_due").table("relay_requests").col("chain_id").col("status").to_owned()).await?;

        m.create_table(
            Table::create()
                .table("relay_txs")
                .col(big_pk_auto("id"))
                .col(big_integer("chain_id"))
                .col(string_len("relayer", 42))
                .col(big_integer("nonce"))
                .col(string_len_null("relay_request_id", 255))
                .col(string_len_uniq("tx_hash", 66))
                .col(text("raw_tx"))
                .col(string_len("max_fee", 40))
                .col(string_len("max_priority_fee", 40))
                .col(string_len("status", 16))
                .col(big_integer("sent_block"))
                .col(big_integer("created_at"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("relay_txs_nonce").table("relay_txs").col("chain_id").col("relayer").col("nonce").to_owned()).await?;
        m.create_table(
            Table::create()
                .table("relayer_nonces")
                .col(big_pk_auto("id"))
                .col(big_integer("chain_id"))
                .col(string_len("relayer", 42))
                .col(big_integer("next_nonce"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("relayer_nonces_key").table("relayer_nonces").col("chain_id").col("relayer").unique().to_owned()).await?;
        m.create_table(
            Table::create()
                .table("chain_cursors")
                .col(big_integer("chain_id").primary_key())
                .col(big_integer("block_number"))
                .col(string_len("block_hash", 66))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("chain_blocks")
                .col(big_pk_auto("id"))
                .col(big_integer("chain_id"))
                .col(big_integer("number"))
                .col(string_len("hash", 66))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("chain_blocks_number").table("chain_blocks").col("chain_id").col("number").unique().to_owned()).await?;
        m.create_table(
            Table::create()
                .table("chain_logs")
                .col(big_pk_auto("id"))
                .col(big_integer("chain_id"))
                .col(string_len("payment_id", 66))
                .col(string_len("tx_hash", 66))
                .col(big_integer("log_index"))
                .col(big_integer("block_number"))
                .col(string_len("block_hash", 66))
                .col(string_len("payer", 42))
                .col(string_len("token", 42))
                .col(string_len("amount", 78))
                .col(string_len("fee", 78))
                .col(string_len("recipient", 42))
                .col(boolean("applied").default(false))
                .col(big_integer("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("chain_logs_tx").table("chain_logs").col("chain_id").col("tx_hash").col("log_index").unique().to_owned())
            .await?;
        m.create_index(Index::create().name("chain_logs_block").table("chain_logs").col("chain_id").col("block_number").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["chain_logs", "chain_blocks", "chain_cursors", "relayer_nonces", "relay_txs"] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.drop_index(Index::drop().name("relay_requests_due").table("relay_requests").to_owned()).await?;
        for c in ["last_error", "attempts", "nonce", "request", "relayer", "chain_id"] {
            m.alter_table(Table::alter().table("relay_requests").drop_column(c).to_owned()).await?;
        }
        m.drop_index(Index::drop().name("payments_chain_deadline").table("payments").to_owned()).await?;
        for c in ["block_number", "tx_hash", "payer", "client_secret_hash", "server_signature", "fee_bps", "deadline"] {
            m.alter_table(Table::alter().table("payments").drop_column(c).to_owned()).await?;
        }
        m.alter_table(Table::alter().table("merchants").drop_column("fee_bps").to_owned()).await
    }
}
