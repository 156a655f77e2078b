//! Cancellations of paid orders against the real PG simulator, on every database: whole or line by line, however
//! they are grouped, raced or failed, the user ends with exactly what they paid with (card, points, coupon, stock),
//! and the gateway refunds each unit once.

use std::{sync::Arc, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use settle_card::sim::Knobs;

use crate::{
    card::CARD,
    helpers::*,
    orders::{create, points_of, stock_of},
    per_db,
    refunds::{assert_refunds_consistent, set_knobs, sim_refunds},
};

per_db!(
    an_order_cancelled_line_by_line_gives_back_exactly_what_it_was_paid_with,
    thirty_concurrent_cancellations_take_each_line_once,
    a_cancellation_whose_refund_fails_gives_nothing_back_and_frees_its_lines,
    an_order_closes_only_when_every_line_is_cancelled_and_a_late_refund_revives_its_cancellation
);

/// Places `body` as an order and waits until it is PAID; returns the order's view (order, payment, saga).
async fn paid_order(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/orders", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["order"]["orderId"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "the order is PAID", async || {
        let o = app.get(&format!("/v1/orders/{id}")).await.body;
        (o["order"]["status"] == "PAID").then_some(o)
    })
    .await
}

/// `POST /v1/orders/{id}/cancel` with the demo key.
pub(crate) async fn cancel(app: &TestApp, order_id: &str, body: &Value, key: Option<&str>) -> Resp {
    let extra: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
    app.request(Method::POST, &format!("/v1/orders/{order_id}/cancel"), Some(&app.key), Some(&body.to_string()), &extra).await
}

/// The order's cancellations once none is PENDING (within 60 s).
pub(crate) async fn final_cancellations(app: &TestApp, order_id: &str) -> (Value, Vec<Value>) {
    let mut last = Value::Null;
    let done = within(Duration::from_secs(60), async || {
        last = app.get(&format!("/v1/orders/{order_id}")).await.body;
        let all = last["cancellations"].as_array().cloned().unwrap_or_default();
        all.iter().all(|c| c["status"] != "PENDING").then_some((last.clone(), all))
    })
    .await;
    done.unwrap_or_else(|| panic!("cancellations still PENDING: {last}"))
}

/// The cancellation `id` of `order_id` once it is final.
async fn final_cancellation(app: &TestApp, order_id: &str, id: &str) -> Value {
    let (_, all) = final_cancellations(app, order_id).await;
    all.into_iter().find(|c| c["cancellationId"] == id).unwrap_or_else(|| panic!("no cancellation {id}"))
}

/// A cancellation answered: 200 when final at once, 202 while its refund is under way.
fn cancelled(r: &Resp) -> String {
    assert!(r.status == 200 || r.status == 202, "{}", r.text);
    assert_eq!(r.body["status"] == "PENDING", r.status == 202, "{}", r.text);
    r.body["cancellationId"].as_str().unwrap().to_owned()
}

/// 2 swords and a shield (35,000): 3,000 by a coupon, 5,000 in points, 27,000 by card. One sword, then the shield,
/// then the rest are cancelled: each gives back its lines' value less the coupon's share, split between card and
/// points; the last gives back all that is left and the coupon; the order ends CANCELLED, the user with exactly
/// what they started with, the gateway having refunded 27,000 in three refunds.
async fn an_order_cancelled_line_by_line_gives_back_exactly_what_it_was_paid_with(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    create(&app, "/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 15000, "stock": 5})).await;
    create(&app, "/v1/items", json!({"itemId": "shield", "name": "Shield", "price": 5000, "stock": 5})).await;
    create(&app, "/v1/users", json!({"userId": "kim", "name": "Kim", "points": 20000})).await;
    create(&app, "/v1/coupons", json!({"couponId": "welcome", "name": "Welcome", "discount": 3000})).await;
    let coupon = create(&app, "/v1/coupons/welcome/issue", json!({"userId": "kim"})).await["issuedCouponId"].as_str().unwrap().to_owned();
    let placed = paid_order(
        &app,
        json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 2}, {"itemId": "shield", "quantity": 1}],
            "issuedCouponId": coupon, "usePoints": 5000, "card": {"cardType": "KB", "cardNo": CARD}}),
    )
    .await;
    let order = placed["order"]["orderId"].as_str().unwrap().to_owned();
    let payment = placed["payment"]["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(placed["order"]["paidAmount"], 27000);
    assert_eq!((points_of(&app, "kim").await, stock_of(&app, "sword").await, stock_of(&app, "shield").await), (15000, 3, 4));

    // Refusals change nothing and reach no gateway.
    let refunds_before = app.sim_stats().await.refund_requests;
    for (body, status, param) in [
        (json!({"items": [{"itemId": "bow", "quantity": 1}]}), 400, "items"),
        (json!({"items": [{"itemId": "sword", "quantity": 1}, {"itemId": "sword", "quantity": 1}]}), 400, "items"),
        (json!({"items": []}), 400, "items"),
        (json!({"items": [{"itemId": "sword", "quantity": 0}]}), 400, "items[0].quantity"),
        (json!({"items": [{"itemId": "sword", "quantity": 3}]}), 409, ""),
        (json!({"reason": "because"}), 400, "reason"),
        (json!({"everything": true}), 400, ""),
    ] {
        let r = cancel(&app, &order, &body, None).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert!(r.body["error"]["requestId"].is_string(), "{body}: {}", r.text);
        if !param.is_empty() {
            assert_eq!(r.body["error"]["param"], param, "{body}: {}", r.text);
        }
    }
    cancel(&app, "ord_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b", &json!({}), None).await.assert_error(404, "not_found");
    let other = app.other_merchant("cancel-stranger").await;
    let theirs = app.request(Method::POST, &format!("/v1/orders/{order}/cancel"), Some(&other), Some("{}"), &[]).await;
    theirs.assert_error(404, "not_found");
    assert_eq!(app.sim_stats().await.refund_requests, refunds_before);
    assert_eq!((points_of(&app, "kim").await, stock_of(&app, "sword").await), (15000, 3));

    // One sword, replayed with its key: one cancellation. 15,000 less 1,285 of the coupon = 13,715 back.
    let one_sword = json!({"items": [{"itemId": "sword", "quantity": 1}], "reason": "requested_by_customer"});
    let first = cancel(&app, &order, &one_sword, Some("cancel-1")).await;
    let c1 = cancelled(&first);
    assert_eq!((first.body["closesOrder"].as_bool(), first.body["couponReleased"].as_bool()), (Some(false), Some(false)), "{}", first.text);
    let again = cancel(&app, &order, &one_sword, Some("cancel-1")).await;
    assert_eq!((again.header("idempotent-replayed"), again.body["cancellationId"].as_str()), (Some("true"), Some(c1.as_str())));
    cancel(&app, &order, &json!({}), Some("cancel-1")).await.assert_error(422, "idempotency_key_reused");
    let c1 = final_cancellation(&app, &order, &c1).await;
    assert_eq!(c1["status"], "SUCCEEDED", "{c1}");
    let (card1, points1) = (c1["cardAmount"].as_i64().unwrap(), c1["points"].as_i64().unwrap());
    assert_eq!(card1 + points1, 15000 - 3000 * 15000 / 35000, "{c1}");
    assert_eq!((points_of(&app, "kim").await, stock_of(&app, "sword").await), (15000 + points1, 4));
    let refund1 = app.get(&format!("/v1/refunds/{}", c1["refundId"].as_str().unwrap())).await.body;
    assert_eq!((refund1["status"].as_str(), refund1["amount"].as_str()), (Some("SUCCEEDED"), Some(card1.to_string().as_str())), "{refund1}");
    assert_eq!(refund1["metadata"]["orderId"], order.as_str());

    // The shield, then (after the merchant refunded 1,000 of the payment directly) the rest, with no items: the last
    // one gives back all that is left, less the direct refund, and the order closes, giving the coupon back.
    let c2 = cancelled(&cancel(&app, &order, &json!({"items": [{"itemId": "shield", "quantity": 1}]}), None).await);
    let c2 = final_cancellation(&app, &order, &c2).await;
    assert_eq!(c2["cardAmount"].as_i64().unwrap() + c2["points"].as_i64().unwrap(), 5000 - 3000 * 5000 / 35000, "{c2}");
    assert_eq!((c2["closesOrder"].as_bool(), c2["couponReleased"].as_bool()), (Some(false), Some(false)), "{c2}");
    set_knobs(&app, &Knobs { processing_ms: [3000, 3000], ..Knobs::calm() }).await;
    let direct = crate::refunds::refund(&app, &payment, &json!({"amount": "1000"}), None).await;
    assert_eq!(direct.status, 201, "{}", direct.text);
    // While it is under way what is left to refund is not known: the cancellation waits (409), nothing recorded.
    cancel(&app, &order, &json!({}), None).await.assert_error(409, "invalid_state");
    set_knobs(&app, &Knobs::calm()).await;
    crate::refunds::final_refunds(&app, &payment).await;
    let rest = cancel(&app, &order, &json!({}), Some("cancel-rest")).await;
    let c3 = cancelled(&rest);
    assert_eq!(rest.body["items"], json!([{"itemId": "sword", "quantity": 1}]), "{}", rest.text);
    let c3 = final_cancellation(&app, &order, &c3).await;
    assert_eq!((c3["closesOrder"].as_bool(), c3["couponReleased"].as_bool()), (Some(true), Some(true)), "{c3}");
    let (after, all) = final_cancellations(&app, &order).await;
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|c| c["status"] == "SUCCEEDED"), "{all:?}");
    let card: i64 = all.iter().map(|c| c["cardAmount"].as_i64().unwrap()).sum();
    let points: i64 = all.iter().map(|c| c["points"].as_i64().unwrap()).sum();
    assert_eq!((card, points), (27000 - 1000, 5000), "{all:?}");
    assert_eq!(after["order"]["status"], "CANCELLED", "{after}");
    assert_eq!((after["payment"]["amountRefunded"].as_str(), after["payment"]["refundStatus"].as_str()), (Some("27000"), Some("full")));
    assert_eq!((points_of(&app, "kim").await, stock_of(&app, "sword").await, stock_of(&app, "shield").await), (20000, 5, 5));
    assert_refunds_consistent(&app, &payment).await;
    let refunded: u64 = sim_refunds(&app).await.iter().filter(|g| g.status == "SUCCEEDED").map(|g| g.amount).sum();
    assert_eq!(refunded, 27000);
    // Nothing is left.
    cancel(&app, &order, &json!({}), None).await.assert_error(409, "invalid_state");
    // The coupon is usable again: an order it pays alone.
    create(&app, "/v1/items", json!({"itemId": "dagger", "name": "Dagger", "price": 3000, "stock": 1})).await;
    let reuse = app.post("/v1/orders", &json!({"userId": "kim", "items": [{"itemId": "dagger", "quantity": 1}], "issuedCouponId": coupon})).await;
    assert_eq!((reuse.status.as_u16(), reuse.body["order"]["status"].as_str()), (201, Some("PAID")), "{}", reuse.text);

    // An order paid in points alone is cancelled at once, without the gateway.
    let potions = paid_order(&app, json!({"userId": "kim", "items": [{"itemId": "shield", "quantity": 2}], "usePoints": 10000})).await;
    let before = app.sim_stats().await.refund_requests;
    let r = cancel(&app, potions["order"]["orderId"].as_str().unwrap(), &json!({}), None).await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str(), r.body["points"].as_i64()), (200, Some("SUCCEEDED"), Some(10000)), "{}", r.text);
    assert!(r.body["refundId"].is_null());
    assert_eq!(app.sim_stats().await.refund_requests, before);
    assert_eq!((points_of(&app, "kim").await, stock_of(&app, "shield").await), (20000, 5));

    // The events: created and succeeded for each cancellation, with the refunds'.
    app.drain_outbox().await;
    let events = app.list_all("/v1/events?limit=100", "id").await;
    for kind in ["order.cancellation.created", "order.cancellation.succeeded"] {
        assert_eq!(events.iter().filter(|e| e["type"] == kind).count(), 4, "{kind}");
    }
    app.finish().await;
}

/// 30 requests each cancel one of an order's 10 potions at once: exactly 10 are taken, the others refused
/// (`invalid_state`); the card and the points come back in full, never more, and the stock is whole again.
async fn thirty_concurrent_cancellations_take_each_line_once(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    create(&app, "/v1/items", json!({"itemId": "potion", "name": "Potion", "price": 1000, "stock": 20})).await;
    create(&app, "/v1/users", json!({"userId": "lee", "name": "Lee", "points": 10000})).await;
    let placed = paid_order(
        &app,
        json!({"userId": "lee", "items": [{"itemId": "potion", "quantity": 10}], "usePoints": 3000, "card": {"cardType": "KB", "cardNo": CARD}}),
    )
    .await;
    let order = placed["order"]["orderId"].as_str().unwrap().to_owned();
    let payment = placed["payment"]["paymentId"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (app, order) = (app.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let key = format!("race-{i}");
            let (app, order, key, body) = (&app, &order, &key, &json!({"items": [{"itemId": "potion", "quantity": 1}]}));
            unless_busy(|| cancel(app, order, body, Some(key))).await
        }));
    }
    let mut taken = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            200 | 202 => taken += 1,
            409 => assert_eq!(r.body["error"]["code"], "invalid_state", "{}", r.text),
            other => panic!("{other}: {}", r.text),
        }
    }
    assert_eq!(taken, 10, "exactly the order's lines");
    let (after, all) = final_cancellations(&app, &order).await;
    assert_eq!(all.len(), 10);
    assert!(all.iter().all(|c| c["status"] == "SUCCEEDED"), "{all:?}");
    assert_eq!(all.iter().filter(|c| c["closesOrder"] == true).count(), 1, "one of them took the last line");
    let card: i64 = all.iter().map(|c| c["cardAmount"].as_i64().unwrap()).sum();
    let points: i64 = all.iter().map(|c| c["points"].as_i64().unwrap()).sum();
    assert_eq!((card, points), (7000, 3000));
    assert_eq!(after["order"]["status"], "CANCELLED");
    assert_eq!((points_of(&app, "lee").await, stock_of(&app, "potion").await), (10000, 20));
    assert_refunds_consistent(&app, &payment).await;
    let refunded: u64 = sim_refunds(&app).await.iter().filter(|g| g.status == "SUCCEEDED").map(|g| g.amount).sum();
    assert_eq!(refunded, 7000);
    Arc::try_unwrap(app).ok().unwrap().finish().await;
}

/// A cancellation's card refund refused by the gateway, or never recorded by it, fails the cancellation: nothing
/// is given back and its lines can be cancelled again. One whose refund's answer is lost succeeds through the
/// refund checker. At the end the user has exactly what they started with.
async fn a_cancellation_whose_refund_fails_gives_nothing_back_and_frees_its_lines(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.config.request_timeout = Duration::from_secs(1);
    setup.settings.card.final_check_after = Duration::from_secs(1);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "lamp", "name": "Lamp", "price": 2000, "stock": 10})).await;
    create(&app, "/v1/users", json!({"userId": "park", "name": "Park", "points": 1000})).await;
    let placed = paid_order(
        &app,
        json!({"userId": "park", "items": [{"itemId": "lamp", "quantity": 3}], "usePoints": 1000, "card": {"cardType": "KB", "cardNo": CARD}}),
    )
    .await;
    let order = placed["order"]["orderId"].as_str().unwrap().to_owned();
    let payment = placed["payment"]["paymentId"].as_str().unwrap().to_owned();
    let calm = Knobs::calm();
    let one = json!({"items": [{"itemId": "lamp", "quantity": 1}]});
    for (what, knobs, expected) in [
        ("refused", Knobs { refund_failure_rate: 1.0, ..calm.clone() }, "FAILED"),
        ("refused at once", Knobs { force_status: Some(422), ..calm.clone() }, "FAILED"),
        // Never recorded: the refund is FAILED after the deadline and looked at again for a while; the cancellation
        // holds its lamp until that ends.
        ("hang, never recorded", Knobs { hang_rate: 1.0, ..calm.clone() }, "FAILED"),
        ("answer lost", Knobs { fail_after_record_rate: 1.0, ..calm.clone() }, "SUCCEEDED"),
    ] {
        set_knobs(&app, &knobs).await;
        let (points, lamps) = (points_of(&app, "park").await, stock_of(&app, "lamp").await);
        let id = cancelled(&cancel(&app, &order, &one, None).await);
        let c = final_cancellation(&app, &order, &id).await;
        set_knobs(&app, &calm).await;
        assert_eq!(c["status"], expected, "{what}: {c}");
        if expected == "FAILED" {
            assert!(c["failureCode"].is_string(), "{what}: {c}");
            assert_eq!((points_of(&app, "park").await, stock_of(&app, "lamp").await), (points, lamps), "{what}: nothing given back");
        } else {
            assert_eq!(stock_of(&app, "lamp").await, lamps + 1, "{what}");
        }
    }
    // Two lamps are left (the failed ones freed theirs): cancelled with the rest.
    let rest = cancel(&app, &order, &json!({}), None).await;
    assert_eq!(rest.body["items"], json!([{"itemId": "lamp", "quantity": 2}]), "{}", rest.text);
    let (after, all) = final_cancellations(&app, &order).await;
    assert_eq!(all.iter().filter(|c| c["status"] == "SUCCEEDED").count(), 2, "{all:?}");
    assert_eq!(after["order"]["status"], "CANCELLED", "{after}");
    assert_eq!((points_of(&app, "park").await, stock_of(&app, "lamp").await), (1000, 10));
    assert_eq!(after["payment"]["amountRefunded"], "5000", "{after}");
    assert_refunds_consistent(&app, &payment).await;
    app.finish().await;
}

/// Cancellations race slow refunds, and a refund is made after Settle gave up on it:
/// - a cancellation whose refund is under way holds its sword; the rest of the order is cancelled meanwhile, and
///   the order stays PAID with its coupon used (an order closes only when every line is cancelled by cancellations
///   that SUCCEEDED). The first one's refund is never recorded: it fails, its sword is cancelled again, and only
///   then is the order CANCELLED and the coupon usable again, once;
/// - a cancellation whose refund the gateway records after the refund checker stopped asking fails; its shield is
///   cancelled again; when the gateway's callback says it made the first refund after all, the first cancellation
///   waits on the second, and SUCCEEDS when the second fails.
///
/// The user ends with exactly what they paid with; the gateway refunded exactly what was paid.
async fn an_order_closes_only_when_every_line_is_cancelled_and_a_late_refund_revives_its_cancellation(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.config.request_timeout = Duration::from_secs(1);
    setup.settings.card.final_check_after = Duration::from_secs(1);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 15000, "stock": 2})).await;
    create(&app, "/v1/items", json!({"itemId": "shield", "name": "Shield", "price": 5000, "stock": 2})).await;
    create(&app, "/v1/users", json!({"userId": "han", "name": "Han", "points": 5000})).await;
    create(&app, "/v1/coupons", json!({"couponId": "c3k", "name": "3,000 off", "discount": 3000})).await;
    let coupon = create(&app, "/v1/coupons/c3k/issue", json!({"userId": "han"})).await["issuedCouponId"].as_str().unwrap().to_owned();
    let placed = paid_order(
        &app,
        json!({"userId": "han", "items": [{"itemId": "sword", "quantity": 2}], "issuedCouponId": coupon, "usePoints": 5000,
            "card": {"cardType": "KB", "cardNo": CARD}}),
    )
    .await;
    let order = placed["order"]["orderId"].as_str().unwrap().to_owned();
    let payment = placed["payment"]["paymentId"].as_str().unwrap().to_owned();
    let calm = Knobs::calm();

    set_knobs(&app, &Knobs { hang_rate: 1.0, ..calm.clone() }).await;
    let held = cancel(&app, &order, &json!({"items": [{"itemId": "sword", "quantity": 1}]}), None).await;
    let held = cancelled(&held);
    set_knobs(&app, &calm).await;
    let other = cancelled(&cancel(&app, &order, &json!({}), None).await);
    let other = eventually(Duration::from_secs(30), "the other sword's cancellation SUCCEEDS", async || {
        let o = app.get(&format!("/v1/orders/{order}")).await.body;
        o["cancellations"].as_array()?.iter().find(|c| c["cancellationId"] == other.as_str() && c["status"] == "SUCCEEDED").cloned()
    })
    .await;
    assert_eq!(other["closesOrder"], false, "a sword is still held: {other}");
    let now = app.get(&format!("/v1/orders/{order}")).await.body;
    assert_eq!(now["order"]["status"], "PAID", "{now}");
    create(&app, "/v1/items", json!({"itemId": "dagger", "name": "Dagger", "price": 3000, "stock": 2})).await;
    let dagger = json!({"userId": "han", "items": [{"itemId": "dagger", "quantity": 1}], "issuedCouponId": coupon});
    app.post("/v1/orders", &dagger).await.assert_error(409, "coupon_not_usable");
    let held = final_cancellation(&app, &order, &held).await;
    assert_eq!((held["status"].as_str(), held["failureCode"].as_str()), (Some("FAILED"), Some("not_recorded")), "{held}");
    let again = cancelled(&cancel(&app, &order, &json!({}), None).await);
    let again = final_cancellation(&app, &order, &again).await;
    assert_eq!(
        (again["status"].as_str(), again["closesOrder"].as_bool(), again["couponReleased"].as_bool()),
        (Some("SUCCEEDED"), Some(true), Some(true))
    );
    let after = app.get(&format!("/v1/orders/{order}")).await.body;
    assert_eq!((after["order"]["status"].as_str(), after["payment"]["amountRefunded"].as_str()), (Some("CANCELLED"), Some("22000")), "{after}");
    assert_eq!((points_of(&app, "han").await, stock_of(&app, "sword").await), (5000, 2));
    assert_refunds_consistent(&app, &payment).await;
    let reuse = app.post("/v1/orders", &dagger).await;
    assert_eq!((reuse.status.as_u16(), reuse.body["order"]["status"].as_str()), (201, Some("PAID")), "the coupon, once: {}", reuse.text);

    // Two shields by card. One is cancelled while the gateway records its refund 25 s late (after the 10 s deadline and
    // the 4 x 1 s re-check window): the cancellation FAILS. The merchant cancels that shield again, and this refund is
    // never recorded. When the late refund lands, its cancellation waits (flagged) on the later one of its items; when
    // that one FAILS, the first SUCCEEDS: one shield's value went back, once.
    let placed =
        paid_order(&app, json!({"userId": "han", "items": [{"itemId": "shield", "quantity": 2}], "card": {"cardType": "KB", "cardNo": CARD}})).await;
    let order = placed["order"]["orderId"].as_str().unwrap().to_owned();
    let payment = placed["payment"]["paymentId"].as_str().unwrap().to_owned();
    let shield = json!({"items": [{"itemId": "shield", "quantity": 1}]});
    set_knobs(&app, &Knobs { hang_rate: 1.0, hang_record_after_ms: Some(25_000), ..calm.clone() }).await;
    let late = cancelled(&cancel(&app, &order, &shield, None).await);
    let failed = final_cancellation(&app, &order, &late).await;
    assert_eq!(failed["status"], "FAILED", "given up on before the gateway records it: {failed}");
    set_knobs(&app, &Knobs { hang_rate: 1.0, ..calm.clone() }).await;
    let retry = cancelled(&cancel(&app, &order, &shield, None).await);
    set_knobs(&app, &calm).await;
    let revived = eventually(Duration::from_secs(90), "the late refund revives its cancellation", async || {
        let o = app.get(&format!("/v1/orders/{order}")).await.body;
        o["cancellations"].as_array()?.iter().find(|c| c["cancellationId"] == late.as_str() && c["status"] == "SUCCEEDED").cloned()
    })
    .await;
    assert!(revived["failureCode"].is_null() && revived["flagReason"].is_null(), "{revived}");
    assert_eq!(final_cancellation(&app, &order, &retry).await["status"], "FAILED");
    app.drain_outbox().await;
    let events = app.list_all("/v1/events?limit=100", "id").await;
    let flagged: Vec<&Value> = events.iter().filter(|e| e["type"] == "order.cancellation.flagged").collect();
    assert!(flagged.iter().any(|e| e["data"]["cancellationId"] == late.as_str()), "it waited on the retry: {flagged:?}");
    let after = app.get(&format!("/v1/orders/{order}")).await.body;
    assert_eq!((after["order"]["status"].as_str(), after["payment"]["amountRefunded"].as_str()), (Some("PAID"), Some("5000")), "{after}");
    assert_eq!(stock_of(&app, "shield").await, 1);
    let rest = cancelled(&cancel(&app, &order, &json!({}), None).await);
    assert_eq!(final_cancellation(&app, &order, &rest).await["closesOrder"], true);
    let after = app.get(&format!("/v1/orders/{order}")).await.body;
    assert_eq!((after["order"]["status"].as_str(), after["payment"]["amountRefunded"].as_str()), (Some("CANCELLED"), Some("10000")), "{after}");
    assert_eq!(stock_of(&app, "shield").await, 2);
    assert_refunds_consistent(&app, &payment).await;
    app.finish().await;
}
