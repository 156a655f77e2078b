//! Migration m0027: the recovery sweep pages open sagas by id.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `saga_states (status, id)` in place of `(status, updated_at)`: the sweep reads open sagas of one status by id,
/// from a cursor, and never writes a saga that has nothing to do (before, it rewrote `updated_at` of every open saga
/// on each pass to move on to the next batch). Counting sagas by status uses either.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(Index::create().name("saga_states_sweep").table("saga_states").col("status").col("id").to_owned()).await?;
        m.drop_index(Index::drop().name("saga_states_open").table("saga_states").to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(Index::create().name("saga_states_open").table("saga_states").col("status").col("updated_at").to_owned()).await?;
        m.drop_index(Index::drop().name("saga_states_sweep").table("saga_states").to_owned()).await
    }
}
