//! Switches every instance follows, one row each in `cluster_flags` (made by their migration): set by one instance,
//! read by all (at start and on each follower step), kept across restarts.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{StoreError, entity::cluster_flag};

/// The admin's read-only mode.
pub const READ_ONLY: &str = "read_only";

/// Whether `name` is on (false when its row is missing).
pub async fn get(conn: &impl ConnectionTrait, name: &str) -> Result<bool, StoreError> {
    Ok(cluster_flag::Entity::find_by_id(name.to_owned()).one(conn).await?.is_some_and(|f| f.enabled))
}

/// Turns `name` on or off.
pub async fn set(conn: &impl ConnectionTrait, name: &str, enabled: bool, now: i64) -> Result<(), StoreError> {
    let res = cluster_flag::Entity::update_many()
        .col_expr(cluster_flag::Column::Enabled, Expr::value(enabled))
        .col_expr(cluster_flag::Column::UpdatedAt, Expr::value(now))
        .filter(cluster_flag::Column::Name.eq(name))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        // Its row is missing (removed by hand): made again.
        let row = cluster_flag::ActiveModel { name: Set(name.to_owned()), enabled: Set(enabled), updated_at: Set(now) };
        cluster_flag::Entity::insert(row).exec_without_returning(conn).await?;
    }
    Ok(())
}
