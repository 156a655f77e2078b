//! Migration m0018: event ids.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every event gets an id made once, when its outbox row is written (`evt_` and a UUIDv7), that no restore and no
/// backend issues twice: the `webhook-id`, the `Nats-Msg-Id` and the SSE id. The seq stays the order. Rows
/// written before keep `evt_<seq>` (NULL here); a delivery records the id it is sent with.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("outbox").add_column(string_len_null("event_id", 40)).to_owned()).await?;
        m.create_index(Index::create().name("outbox_event_id").table("outbox").col("event_id").unique().to_owned()).await?;
        // A reader resuming from an id this database does not hold resumes by the time that id was made.
        m.create_index(Index::create().name("outbox_published_at").table("outbox").col("published_at").to_owned()).await?;
        m.alter_table(Table::alter().table("webhook_deliveries").add_column(string_len_null("event_id", 40)).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("webhook_deliveries").drop_column("event_id").to_owned()).await?;
        m.drop_index(Index::drop().name("outbox_published_at").table("outbox").to_owned()).await?;
        m.drop_index(Index::drop().name("outbox_event_id").table("outbox").to_owned()).await?;
        m.alter_table(Table::alter().table("outbox").drop_column("event_id").to_owned()).await
    }
}
