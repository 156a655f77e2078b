//! Hosted checkout sessions.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};

use crate::{StoreError, entity::checkout_session};

pub type SessionRow = checkout_session::Model;

/// Records a session; its row with the id given.
pub async fn insert(conn: &impl ConnectionTrait, row: &SessionRow) -> Result<SessionRow, StoreError> {
    let mut am = row.clone().into_active_model().reset_all();
    am.id = sea_orm::ActiveValue::NotSet;
    let id = checkout_session::Entity::insert(am).exec(conn).await?.last_insert_id;
    Ok(SessionRow { id, ..row.clone() })
}

/// A session by its public id, for whoever holds it (the payer's page).
pub async fn find_any(conn: &impl ConnectionTrait, session_id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(checkout_session::Entity::find().filter(checkout_session::Column::SessionId.eq(session_id)).one(conn).await?)
}

/// A merchant's session by its public id.
pub async fn find(conn: &impl ConnectionTrait, merchant_id: &str, session_id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(checkout_session::Entity::find()
        .filter(checkout_session::Column::SessionId.eq(session_id))
        .filter(checkout_session::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?)
}
