//! Migration m0011: outbox unpublished.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The relay finds the rows that wait for a seq with `seq IS NULL ORDER BY id`, dozens of times a second under
/// load. On PostgreSQL an update writes a new row version, so the unique index on `seq` keeps an entry with a
/// NULL seq for every row published since the last vacuum: the relay read all of them on every pass (10 ms a pass
/// after 14,000 creates, growing with the table until autovacuum, which waits for a fifth of the table to be dead).
/// A partial index holds only the waiting rows; the dead entries of published rows are dropped from its last page
/// as new rows arrive, so it stays a page or two whatever the table's size. SQLite gets it too (its unique index
/// on `seq` works, but this one is in the relay's order). MySQL has no partial indexes and needs none: InnoDB
/// updates in place and purges old index entries itself.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::MySql {
            return Ok(());
        }
        m.get_connection().execute_unprepared("CREATE INDEX outbox_unpublished ON outbox (id) WHERE seq IS NULL").await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() == DbBackend::MySql {
            return Ok(());
        }
        m.get_connection().execute_unprepared("DROP INDEX outbox_unpublished").await?;
        Ok(())
    }
}
