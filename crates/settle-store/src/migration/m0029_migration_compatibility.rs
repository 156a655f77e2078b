//! Migration m0029: what the previous release may run on.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `migration_compatibility`: for each applied migration, the oldest build that runs on a database that has it, named
/// by that build's last migration (`runs_from`, see `RUNS_FROM`), written as migrations are applied ([`super::up`]).
/// A build that finds migrations it does not know (a newer one migrated the database during a rolling restart)
/// reads it: it starts when every one of them names a build no newer than itself, and refuses otherwise, naming them.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("migration_compatibility")
                .col(string_len("version", 255).primary_key())
                .col(string_len("runs_from", 255))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection()
                .execute_unprepared("ALTER TABLE `migration_compatibility` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("migration_compatibility").to_owned()).await
    }
}
