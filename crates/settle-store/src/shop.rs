//! The shop of the purchase saga: users and their points, items and their stock, coupons issued to users.
//!
//! Invariant: points and stock only change by bound arithmetic guarded in the same statement
//! (`points = points - ? WHERE points >= ?`, `stock = stock - ? WHERE stock >= ?`), so concurrent orders never
//! take a balance or a stock below zero; a coupon is used by a compare-and-set on its version.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use settle_domain::{CouponStatus, UserStatus};

use crate::{
    StoreError,
    entity::{coupon, issued_coupon, item, shop_user},
};

pub use coupon::Model as CouponRow;
pub use issued_coupon::Model as IssuedCouponRow;
pub use item::Model as ItemRow;
pub use shop_user::Model as UserRow;

/// A new shop user.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub user_id: String,
    pub name: String,
    pub points: i64,
    pub status: UserStatus,
    pub purchase_limit: i64,
}

pub async fn insert_user(conn: &impl ConnectionTrait, merchant_id: &str, u: NewUser, now: i64) -> Result<(), StoreError> {
    let row = shop_user::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        user_id: Set(u.user_id),
        name: Set(u.name),
        points: Set(u.points),
        status: Set(u.status),
        purchase_limit: Set(u.purchase_limit),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    shop_user::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn find_user(conn: &impl ConnectionTrait, merchant_id: &str, user_id: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(shop_user::Entity::find()
        .filter(shop_user::Column::MerchantId.eq(merchant_id))
        .filter(shop_user::Column::UserId.eq(user_id))
        .one(conn)
        .await?)
}

/// Takes `amount` points when the balance holds them; false otherwise.
pub async fn take_points(conn: &impl ConnectionTrait, merchant_id: &str, user_id: &str, amount: i64, now: i64) -> Result<bool, StoreError> {
    let res = shop_user::Entity::update_many()
        .col_expr(shop_user::Column::Points, Expr::col(shop_user::Column::Points).sub(amount))
        .col_expr(shop_user::Column::UpdatedAt, Expr::value(now))
        .filter(shop_user::Column::MerchantId.eq(merchant_id))
        .filter(shop_user::Column::UserId.eq(user_id))
        .filter(shop_user::Column::Points.gte(amount))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives `amount` points back (a compensation).
pub async fn give_points(conn: &impl ConnectionTrait, merchant_id: &str, user_id: &str, amount: i64, now: i64) -> Result<(), StoreError> {
    shop_user::Entity::update_many()
        .col_expr(shop_user::Column::Points, Expr::col(shop_user::Column::Points).add(amount))
        .col_expr(shop_user::Column::UpdatedAt, Expr::value(now))
        .filter(shop_user::Column::MerchantId.eq(merchant_id))
        .filter(shop_user::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A new item.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub item_id: String,
    pub name: String,
    pub price: i64,
    pub stock: i64,
    pub available: bool,
}

pub async fn insert_item(conn: &impl ConnectionTrait, merchant_id: &str, i: NewItem, now: i64) -> Result<(), StoreError> {
    let row = item::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        item_id: Set(i.item_id),
        name: Set(i.name),
        price: Set(i.price),
        stock: Set(i.stock),
        available: Set(i.available),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    item::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn find_item(conn: &impl ConnectionTrait, merchant_id: &str, item_id: &str) -> Result<Option<ItemRow>, StoreError> {
    Ok(item::Entity::find().filter(item::Column::MerchantId.eq(merchant_id)).filter(item::Column::ItemId.eq(item_id)).one(conn).await?)
}

/// Takes `quantity` from an available item's stock when it holds that many; false otherwise.
pub async fn take_stock(conn: &impl ConnectionTrait, merchant_id: &str, item_id: &str, quantity: i64, now: i64) -> Result<bool, StoreError> {
    let res = item::Entity::update_many()
        .col_expr(item::Column::Stock, Expr::col(item::Column::Stock).sub(quantity))
        .col_expr(item::Column::UpdatedAt, Expr::value(now))
        .filter(item::Column::MerchantId.eq(merchant_id))
        .filter(item::Column::ItemId.eq(item_id))
        .filter(item::Column::Available.eq(true))
        .filter(item::Column::Stock.gte(quantity))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Puts `quantity` back into an item's stock (a compensation).
pub async fn return_stock(conn: &impl ConnectionTrait, merchant_id: &str, item_id: &str, quantity: i64, now: i64) -> Result<(), StoreError> {
    item::Entity::update_many()
        .col_expr(item::Column::Stock, Expr::col(item::Column::Stock).add(quantity))
        .col_expr(item::Column::UpdatedAt, Expr::value(now))
        .filter(item::Column::MerchantId.eq(merchant_id))
        .filter(item::Column::ItemId.eq(item_id))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn insert_coupon(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    coupon_id: &str,
    name: &str,
    discount: i64,
    now: i64,
) -> Result<(), StoreError> {
    let row = coupon::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        coupon_id: Set(coupon_id.to_owned()),
        name: Set(name.to_owned()),
        discount: Set(discount),
        created_at: Set(now),
        ..Default::default()
    };
    coupon::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn find_coupon(conn: &impl ConnectionTrait, merchant_id: &str, coupon_id: &str) -> Result<Option<CouponRow>, StoreError> {
    Ok(coupon::Entity::find().filter(coupon::Column::MerchantId.eq(merchant_id)).filter(coupon::Column::CouponId.eq(coupon_id)).one(conn).await?)
}

pub async fn issue_coupon(
    conn: &impl ConnectionTrait,
    merchant_id: &str,
    issued_coupon_id: &str,
    coupon_id: &str,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let row = issued_coupon::ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        issued_coupon_id: Set(issued_coupon_id.to_owned()),
        coupon_id: Set(coupon_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        status: Set(CouponStatus::Available),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    issued_coupon::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(())
}

pub async fn find_issued(conn: &impl ConnectionTrait, merchant_id: &str, issued_coupon_id: &str) -> Result<Option<IssuedCouponRow>, StoreError> {
    Ok(issued_coupon::Entity::find()
        .filter(issued_coupon::Column::MerchantId.eq(merchant_id))
        .filter(issued_coupon::Column::IssuedCouponId.eq(issued_coupon_id))
        .one(conn)
        .await?)
}

/// Moves an issued coupon between AVAILABLE and USED, by a compare-and-set on its version; false when it
/// changed meanwhile.
pub async fn set_coupon_status(conn: &impl ConnectionTrait, c: &IssuedCouponRow, to: CouponStatus, now: i64) -> Result<bool, StoreError> {
    let res = issued_coupon::Entity::update_many()
        .col_expr(issued_coupon::Column::Status, Expr::value(to))
        .col_expr(issued_coupon::Column::Version, Expr::value(c.version + 1))
        .col_expr(issued_coupon::Column::UpdatedAt, Expr::value(now))
        .filter(issued_coupon::Column::Id.eq(c.id))
        .filter(issued_coupon::Column::Version.eq(c.version))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}
