//! The merchant's shop: users with points, items with stock, coupons issued to users (what orders use).

use serde::Serialize;
use settle_domain::{CouponStatus, UserStatus};
use settle_store::{StoreError, audit, shop};

use crate::{
    AppError, Context,
    idempotency::{self, Claim, IdemKey, Outcome, Reply},
    time::rfc3339,
};

pub use settle_store::shop::{NewItem, NewUser};

/// The largest balance, price, stock or discount accepted (fits a JavaScript number exactly).
pub const MAX_UNITS: i64 = (1 << 53) - 1;

/// Checks an identifier the merchant chooses (`user-123`): 1 to 64 of `A-Z a-z 0-9 _ - .`.
pub fn check_id(param: &str, v: &str) -> Result<(), AppError> {
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
        return Err(AppError::invalid(param, format!("{param} must be 1 to 64 letters, digits, '_', '-' or '.'")));
    }
    Ok(())
}

/// Checks an amount of minor units, points or stock.
pub fn check_units(param: &str, v: i64) -> Result<(), AppError> {
    if !(0..=MAX_UNITS).contains(&v) {
        return Err(AppError::invalid(param, format!("{param} must be an integer from 0 to {MAX_UNITS}")));
    }
    Ok(())
}

fn check_name(v: &str) -> Result<(), AppError> {
    if v.trim().is_empty() || v.chars().count() > 255 || v.contains('\0') {
        return Err(AppError::invalid("name", "name must be 1 to 255 characters"));
    }
    Ok(())
}

fn taken(what: &'static str, e: StoreError) -> AppError {
    match e {
        StoreError::Unique(_) => AppError::InvalidState(format!("this {what} already exists")),
        other => other.into(),
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub user_id: String,
    /// Whether it is live (false: a test key's).
    pub livemode: bool,
    pub name: String,
    /// Points, in minor units.
    pub points: i64,
    /// ACTIVE or SUSPENDED.
    #[schema(value_type = String)]
    pub status: UserStatus,
    /// The most one order may total (0: no limit).
    pub purchase_limit: i64,
    pub created_at: String,
}

impl From<shop::UserRow> for UserView {
    fn from(u: shop::UserRow) -> Self {
        Self {
            livemode: settle_domain::mode::is_live(&u.merchant_id),
            user_id: u.user_id,
            name: u.name,
            points: u.points,
            status: u.status,
            purchase_limit: u.purchase_limit,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemView {
    pub item_id: String,
    /// Whether it is live (false: a test key's).
    pub livemode: bool,
    pub name: String,
    pub price: i64,
    pub stock: i64,
    pub available: bool,
    pub created_at: String,
}

impl From<shop::ItemRow> for ItemView {
    fn from(i: shop::ItemRow) -> Self {
        Self {
            livemode: settle_domain::mode::is_live(&i.merchant_id),
            item_id: i.item_id,
            name: i.name,
            price: i.price,
            stock: i.stock,
            available: i.available,
            created_at: rfc3339(i.created_at),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CouponView {
    pub coupon_id: String,
    /// Whether it is live (false: a test key's).
    pub livemode: bool,
    pub name: String,
    pub discount: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCouponView {
    pub issued_coupon_id: String,
    /// Whether it is live (false: a test key's).
    pub livemode: bool,
    pub coupon_id: String,
    pub user_id: String,
    /// AVAILABLE or USED.
    #[schema(value_type = String)]
    pub status: CouponStatus,
}

impl From<shop::IssuedCouponRow> for IssuedCouponView {
    fn from(c: shop::IssuedCouponRow) -> Self {
        Self {
            livemode: settle_domain::mode::is_live(&c.merchant_id),
            issued_coupon_id: c.issued_coupon_id,
            coupon_id: c.coupon_id,
            user_id: c.user_id,
            status: c.status,
        }
    }
}

/// Creates a user. With an Idempotency-Key, a retry answers the user created the first time (not 409).
pub async fn create_user(ctx: &Context, merchant_id: &str, u: shop::NewUser, key: Option<IdemKey>) -> Result<Reply, AppError> {
    check_id("userId", &u.user_id)?;
    check_name(&u.name)?;
    check_units("points", u.points)?;
    check_units("purchaseLimit", u.purchase_limit)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        let user_id = u.user_id.clone();
        let changes = serde_json::json!({"name": u.name, "points": u.points, "purchaseLimit": u.purchase_limit});
        let txn = settle_store::begin(&ctx.db).await?;
        shop::insert_user(&txn, merchant_id, u, settle_store::now_ms()).await.map_err(|e| taken("user", e))?;
        audit::record(&txn, Some(merchant_id), "user.created", &user_id, &changes).await?;
        let view = UserView::from(shop::find_user(&txn, merchant_id, &user_id).await?.ok_or(AppError::NotFound("user"))?);
        created(txn, &claim, &view).await
    })
    .await
}

/// Answers a creation: the view, recorded for the Idempotency-Key in the same transaction, then committed.
async fn created<T: Serialize>(txn: settle_store::Txn, claim: &Claim, view: &T) -> Result<Reply, AppError> {
    let reply = Reply { outcome: Outcome::Created, body: serde_json::to_string(view).map_err(AppError::internal)?, replayed: false };
    claim.complete_in(&txn, &reply).await?;
    txn.commit().await.map_err(StoreError::from)?;
    claim.committed();
    Ok(reply)
}

pub async fn user(ctx: &Context, merchant_id: &str, user_id: &str) -> Result<UserView, AppError> {
    Ok(shop::find_user(&ctx.db, merchant_id, user_id).await?.ok_or(AppError::NotFound("user"))?.into())
}

/// Creates an item. With an Idempotency-Key, a retry answers the item created the first time (not 409).
pub async fn create_item(ctx: &Context, merchant_id: &str, i: shop::NewItem, key: Option<IdemKey>) -> Result<Reply, AppError> {
    check_id("itemId", &i.item_id)?;
    check_name(&i.name)?;
    check_units("price", i.price)?;
    check_units("stock", i.stock)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        let item_id = i.item_id.clone();
        let changes = serde_json::json!({"name": i.name, "price": i.price, "stock": i.stock});
        let txn = settle_store::begin(&ctx.db).await?;
        shop::insert_item(&txn, merchant_id, i, settle_store::now_ms()).await.map_err(|e| taken("item", e))?;
        audit::record(&txn, Some(merchant_id), "item.created", &item_id, &changes).await?;
        let view = ItemView::from(shop::find_item(&txn, merchant_id, &item_id).await?.ok_or(AppError::NotFound("item"))?);
        created(txn, &claim, &view).await
    })
    .await
}

pub async fn item(ctx: &Context, merchant_id: &str, item_id: &str) -> Result<ItemView, AppError> {
    Ok(shop::find_item(&ctx.db, merchant_id, item_id).await?.ok_or(AppError::NotFound("item"))?.into())
}

/// Creates a coupon. With an Idempotency-Key, a retry answers the coupon created the first time (not 409).
pub async fn create_coupon(
    ctx: &Context,
    merchant_id: &str,
    coupon_id: &str,
    name: &str,
    discount: i64,
    key: Option<IdemKey>,
) -> Result<Reply, AppError> {
    check_id("couponId", coupon_id)?;
    check_name(name)?;
    check_units("discount", discount)?;
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        let txn = settle_store::begin(&ctx.db).await?;
        shop::insert_coupon(&txn, merchant_id, coupon_id, name, discount, settle_store::now_ms()).await.map_err(|e| taken("coupon", e))?;
        audit::record(&txn, Some(merchant_id), "coupon.created", coupon_id, &serde_json::json!({"name": name, "discount": discount})).await?;
        created(
            txn,
            &claim,
            &CouponView { coupon_id: coupon_id.to_owned(), livemode: settle_domain::mode::is_live(merchant_id), name: name.to_owned(), discount },
        )
        .await
    })
    .await
}

/// Issues a coupon to a user; the issued coupon's id is generated. With an Idempotency-Key, a retry answers the
/// coupon issued the first time: a user never gets a second coupon from a request sent twice.
pub async fn issue_coupon(ctx: &Context, merchant_id: &str, coupon_id: &str, user_id: &str, key: Option<IdemKey>) -> Result<Reply, AppError> {
    idempotency::once(ctx, merchant_id, key, |claim| async move {
        shop::find_coupon(&ctx.db, merchant_id, coupon_id).await?.ok_or(AppError::NotFound("coupon"))?;
        shop::find_user(&ctx.db, merchant_id, user_id).await?.ok_or_else(|| AppError::invalid("userId", "no such user"))?;
        let id = format!("icp_{}", uuid::Uuid::now_v7().simple());
        let txn = settle_store::begin(&ctx.db).await?;
        shop::issue_coupon(&txn, merchant_id, &id, coupon_id, user_id, settle_store::now_ms()).await?;
        audit::record(&txn, Some(merchant_id), "coupon.issued", &id, &serde_json::json!({"couponId": coupon_id, "userId": user_id})).await?;
        let view = IssuedCouponView::from(shop::find_issued(&txn, merchant_id, &id).await?.ok_or(AppError::NotFound("coupon"))?);
        created(txn, &claim, &view).await
    })
    .await
}

/// Seed 002's shop, idempotently: user-123 and user-456 (active, with points), user-suspended; item-sword,
/// item-potion, item-out-of-stock, item-disabled.
pub async fn seed_demo(ctx: &Context, merchant_id: &str) -> Result<(), AppError> {
    let now = settle_store::now_ms();
    let users = [
        ("user-123", "Kim", 100_000, UserStatus::Active),
        ("user-456", "Lee", 50_000, UserStatus::Active),
        ("user-suspended", "Park", 10_000, UserStatus::Suspended),
    ];
    for (id, name, points, status) in users {
        if shop::find_user(&ctx.db, merchant_id, id).await?.is_none() {
            let u = shop::NewUser { user_id: id.into(), name: name.into(), points, status, purchase_limit: 0 };
            ignore_taken(shop::insert_user(&ctx.db, merchant_id, u, now).await)?;
        }
    }
    let items = [
        ("item-sword", "Sword", 15_000, 100, true),
        ("item-potion", "Potion", 500, 1000, true),
        ("item-out-of-stock", "Rare shield", 30_000, 0, true),
        ("item-disabled", "Old helmet", 1_000, 10, false),
    ];
    for (id, name, price, stock, available) in items {
        if shop::find_item(&ctx.db, merchant_id, id).await?.is_none() {
            let i = shop::NewItem { item_id: id.into(), name: name.into(), price, stock, available };
            ignore_taken(shop::insert_item(&ctx.db, merchant_id, i, now).await)?;
        }
    }
    Ok(())
}

fn ignore_taken(r: Result<(), StoreError>) -> Result<(), AppError> {
    match r {
        Ok(()) | Err(StoreError::Unique(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
