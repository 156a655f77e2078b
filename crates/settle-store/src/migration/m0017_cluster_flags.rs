//! Migration m0017: cluster flags.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Switches every instance follows (`read_only`: the admin's read-only mode): stored, so that a switch made on one
/// instance holds on all of them (each reads it at start and on every follower step) and across restarts.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("cluster_flags")
                .col(string_len("name", 64).primary_key())
                .col(boolean("enabled"))
                .col(big_integer("updated_at"))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::MySql {
            // Byte-wise comparison, as on PostgreSQL and SQLite (see m0008).
            m.get_connection().execute_unprepared("ALTER TABLE `cluster_flags` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin").await?;
        }
        m.exec_stmt(
            Query::insert()
                .into_table("cluster_flags")
                .columns(["name", "enabled", "updated_at"])
                .values_panic(["read_only".into(), false.into(), 0i64.into()])
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("cluster_flags").to_owned()).await
    }
}
