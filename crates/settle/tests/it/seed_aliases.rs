//! The seed documents' unversioned paths, answered with the seeds' own shapes, so the systems they describe can
//! point at Settle unchanged (Settle's own conventions live under `/v1`). Each test sends the seed's own request
//! body and checks the seed's answer: field names, types, status codes, and the invariants behind them.
//!
//! - seed 002 (purchase saga): `POST /purchase {userId, itemId, quantity, price}` answered 200; `GET /saga/{id}`
//!   a SagaState (`transactionId`, lowercase `status`, `userId`, `itemId`, `quantity`, `price`, `steps`, ...);
//!   `GET /sagas` `{data, total, page, limit, totalPages}` filtered by `status` (the seed's lowercase values),
//!   `userId`, `page`, `limit`; `GET /sagas/stats` flat counts `{total, pending, inProgress, completed, failed,
//!   compensating, compensated}`. The price is checked against the item's, never trusted.
//! - seeds 000/001 (pay-server): `POST /payments/create` with seed 000's fields (merchantId included), 400 on a
//!   bad amount format or merchantId; `GET /payments/{id}/status` with a dynamic chainId, 404 for an unknown
//!   id; `POST /payments/{id}/gasless` 401 on a bad signature; `POST /payments/{id}/relay` a timeout error.
//! - seed 003: `GET /events` is Server-Sent Events that a reconnect resumes without loss or repeat.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use settle_chain::{
    PrivateKeySigner, U256,
    alloy_sol::SolCall,
    contracts::{self, ForwardRequest},
    deploy, eip712,
};

use crate::{
    chain::{Anvil, DEV_FORWARDER, DEV_GATEWAY, key, now_secs},
    helpers::*,
    per_db,
    sse::{self, Sse},
};

per_db!(seed_002_purchase_and_sagas, seed_001_pay_server_routes, seed_003_events_stream_resumes_without_loss);

const DEMO: &str = DEMO_TENANT;

/// Seed 002's saga statuses (`saga_states.status`, its statistics query).
const SAGA_STATUSES: [&str; 6] = ["pending", "in_progress", "completed", "failed", "compensating", "compensated"];

/// Seed 002's `getStatistics()` answer: flat counts.
const STATS: [&str; 7] = ["total", "pending", "inProgress", "completed", "failed", "compensating", "compensated"];

/// Seed 002's purchase body (its load test: `{userId, itemId, quantity: 1, price}`).
fn purchase(user: &str, item: &str, price: i64) -> Value {
    json!({"userId": user, "itemId": item, "quantity": 1, "price": price})
}

/// A user's points, from the database (not through any route).
async fn points(app: &TestApp, user: &str) -> i64 {
    settle_store::shop::find_user(&app.ctx.db, DEMO, user).await.unwrap().unwrap_or_else(|| panic!("no user {user}")).points
}

/// An item (its price and stock), from the database.
async fn item(app: &TestApp, item: &str) -> settle_store::shop::ItemRow {
    settle_store::shop::find_item(&app.ctx.db, DEMO, item).await.unwrap().unwrap_or_else(|| panic!("no item {item}"))
}

/// `GET /sagas/stats`, checked to be seed 002's flat counts (each a number, `total` their sum).
async fn stats(app: &TestApp) -> Value {
    let r = app.get("/sagas/stats").await;
    assert_eq!(r.status, 200, "{}", r.text);
    for k in STATS {
        assert!(r.body[k].as_u64().is_some(), "/sagas/stats has the flat count {k}: {}", r.text);
    }
    let sum: u64 = STATS[1..].iter().map(|k| r.body[*k].as_u64().unwrap()).sum();
    assert_eq!(r.body["total"].as_u64(), Some(sum), "total is the sum of the counts: {}", r.text);
    r.body
}

/// Seed 002's SagaState: `transactionId`, `status` (lowercase), `userId`, `itemId`, `quantity`, `price`,
/// `createdAt`, `updatedAt`, `completedAt` (once completed), `errorMessage` (optional), `steps` (each with its
/// `step` and `status`).
#[track_caller]
fn assert_seed_saga(s: &Value) {
    for k in ["transactionId", "status", "userId", "itemId", "createdAt", "updatedAt"] {
        assert!(s[k].as_str().is_some_and(|v| !v.is_empty()), "{k} is a string: {s}");
    }
    assert!(SAGA_STATUSES.contains(&s["status"].as_str().unwrap()), "status is one of seed 002's {SAGA_STATUSES:?}: {s}");
    assert!(s["quantity"].as_i64().is_some(), "quantity is a number: {s}");
    assert!(s["price"].is_number(), "price is a number: {s}");
    assert!(s["errorMessage"].is_null() || s["errorMessage"].is_string(), "errorMessage is optional text: {s}");
    let steps = s["steps"].as_array().unwrap_or_else(|| panic!("steps is an array: {s}"));
    for step in steps {
        assert!(step["step"].is_string() && step["status"].is_string(), "a step result has step and status: {step}");
    }
    if s["status"] == "completed" {
        assert!(s["completedAt"].is_string(), "a completed saga has completedAt: {s}");
    }
}

/// Seed 002 against the demo shop (seed 002's data: user-123, user-456, user-suspended; item-sword,
/// item-potion, item-out-of-stock, item-disabled): a wrong price is refused and changes nothing; the right price
/// buys exactly one (points and stock move by exactly that), answered 200; the saga reads, lists and counts in
/// the seed's shapes; concurrent purchases never oversell and conserve points.
async fn seed_002_purchase_and_sagas(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let start = stats(&app).await;
    assert_eq!(start["total"], 0, "{start}");
    let sword = item(&app, "item-sword").await;
    let (points0, stock0) = (points(&app, "user-123").await, sword.stock);

    // A price that is not the item's is refused (the seed's literal `price: 100` too, when that is not it).
    let mut wrong = vec![sword.price + 1, sword.price - 1];
    if sword.price != 100 {
        wrong.push(100);
    }
    for p in wrong {
        let r = app.post("/purchase", &purchase("user-123", "item-sword", p)).await;
        assert_eq!(r.assert_error(409, "price_changed").as_deref(), Some("price"), "price {p} for an item at {}", sword.price);
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&p.to_string()) && message.contains(&sword.price.to_string()), "both prices named: {message}");
    }
    assert_eq!(points(&app, "user-123").await, points0, "nothing deducted for a wrong price");
    assert_eq!(item(&app, "item-sword").await.stock, stock0, "no stock taken for a wrong price");
    assert_eq!(stats(&app).await["total"], 0, "no saga for a wrong price");

    // Seed 002's refusals, each at the item's right price: nothing changes.
    let refused = [("user-suspended", "item-potion"), ("user-123", "item-out-of-stock"), ("user-123", "item-disabled")];
    let mut before = Vec::new();
    for (user, it) in refused {
        before.push((points(&app, user).await, item(&app, it).await));
    }
    for ((user, it), (p, i)) in refused.iter().zip(&before) {
        let r = app.post("/purchase", &purchase(user, it, i.price)).await;
        assert!(r.status.is_client_error(), "{user} buying {it}: {}", r.text);
        assert_eq!(points(&app, user).await, *p, "{user}: nothing deducted");
        assert_eq!(item(&app, it).await.stock, i.stock, "{it}: no stock taken");
    }

    // The right price: 200 (the seed's clients count only 200 as success), exactly one bought.
    let r = app.post("/purchase", &purchase("user-123", "item-sword", sword.price)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.is_object(), "{}", r.text);
    eventually(Duration::from_secs(20), "the purchase's saga completes", async || (stats(&app).await["completed"] == 1).then_some(())).await;
    assert_eq!(points(&app, "user-123").await, points0 - sword.price, "points move by exactly the item's price");
    assert_eq!(item(&app, "item-sword").await.stock, stock0 - 1, "exactly one sword sold");

    // GET /sagas: the seed's page, filtered by its lowercase status and the user.
    let page = app.get("/sagas?userId=user-123&status=completed&page=1&limit=10").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let p = &page.body;
    assert_eq!(
        (p["total"].as_u64(), p["page"].as_u64(), p["limit"].as_u64(), p["totalPages"].as_u64(), p["data"].as_array().map(Vec::len)),
        (Some(1), Some(1), Some(10), Some(1), Some(1)),
        "{p}"
    );
    let listed = &p["data"][0];
    assert_seed_saga(listed);
    assert_eq!(
        (listed["userId"].as_str(), listed["itemId"].as_str(), listed["quantity"].as_i64(), listed["price"].as_i64(), listed["status"].as_str()),
        (Some("user-123"), Some("item-sword"), Some(1), Some(sword.price), Some("completed")),
        "{listed}"
    );
    assert_eq!(app.get("/sagas?status=failed").await.body["total"], 0, "a wrong price or a refusal leaves no failed saga");

    // GET /saga/{transactionId}: the same saga, with its step results.
    let tx = listed["transactionId"].as_str().unwrap().to_owned();
    let one = app.get(&format!("/saga/{tx}")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_seed_saga(&one.body);
    assert_eq!((one.body["transactionId"].as_str(), one.body["status"].as_str()), (Some(tx.as_str()), Some("completed")), "{}", one.text);
    assert!(one.body["steps"].as_array().is_some_and(|s| !s.is_empty()), "a completed saga has its step results: {}", one.text);

    // The seed's load test in small: many buyers at once for stock 5, exactly 5 sold, points conserved.
    let gem = settle_store::shop::NewItem { item_id: "seed-gem".into(), name: "Gem".into(), price: 700, stock: 5, available: true };
    settle_store::shop::insert_item(&app.ctx.db, DEMO, gem, settle_store::now_ms()).await.unwrap();
    let points_before = points(&app, "user-123").await + points(&app, "user-456").await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let user = if i % 2 == 0 { "user-123" } else { "user-456" };
                let r = app.post("/purchase", &purchase(user, "seed-gem", 700)).await;
                assert!(r.status == 200 || r.status.is_client_error(), "bought or refused, never a 5xx: {}", r.text);
                r.status == 200
            })
        })
        .collect();
    let mut bought = 0;
    for t in tasks {
        bought += usize::from(t.await.unwrap());
    }
    assert_eq!(bought, 5, "exactly the stock is sold");
    assert_eq!(item(&app, "seed-gem").await.stock, 0, "never below zero");
    let points_after = points(&app, "user-123").await + points(&app, "user-456").await;
    assert_eq!(points_before - points_after, 5 * 700, "points move by exactly what was sold");
    let s = stats(&app).await;
    assert_eq!((s["completed"].as_u64(), s["inProgress"].as_u64()), (Some(6), Some(0)), "{s}");
    Arc::into_inner(app).unwrap().finish().await;
}

/// Seed 002's own load test, as the seed wrote it: 1000 concurrent `POST /purchase` from user-0..user-99, the body
/// `{userId, itemId, quantity: 1, price: 100}`, and more than 95 % must succeed (200): none is refused for want
/// of a place in SQLite's write queue (it waits its turn), and the stock and the points are conserved. On SQLite with the default settings, and on PostgreSQL. `SETTLE_SEED002_LOAD` changes the count
/// (scripts/bench runs it in release and reports the time; nothing here asserts speed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_002_load_test_on_sqlite_with_defaults() {
    seed_002_load_test(Variant { db: Db::Sqlite, cache: Cache::Memory }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_002_load_test_on_postgres() {
    seed_002_load_test(Variant { db: Db::Postgres, cache: Cache::Memory }).await;
}

async fn seed_002_load_test(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let n: i64 = std::env::var("SETTLE_SEED002_LOAD").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let now = settle_store::now_ms();
    let stock = settle_store::shop::NewItem { item_id: "seed-load".into(), name: "Load".into(), price: 100, stock: n, available: true };
    settle_store::shop::insert_item(&app.ctx.db, DEMO, stock, now).await.unwrap();
    for u in 0..100 {
        let user = settle_store::shop::NewUser {
            user_id: format!("user-{u}"),
            name: "Buyer".into(),
            points: 100 * n,
            status: settle_domain::UserStatus::Active,
            purchase_limit: 0,
        };
        settle_store::shop::insert_user(&app.ctx.db, DEMO, user, now).await.unwrap();
    }
    let app = Arc::new(app);
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.post("/purchase", &purchase(&format!("user-{}", i % 100), "seed-load", 100)).await })
        })
        .collect();
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    let mut first_refusal = None;
    for t in tasks {
        let r = t.await.unwrap();
        *answers.entry(r.status.as_u16()).or_default() += 1;
        if r.status != 200 && first_refusal.is_none() {
            first_refusal = Some(r.text.clone());
        }
    }
    let answered = started.elapsed();
    let ok = answers.get(&200).copied().unwrap_or(0) as i64;
    // The seed's own criterion (with the former queue of 512: 837 of 1000). Alone (nextest runs it with every
    // thread), all of them succeed here; the bound is the seed's so that a slow machine is not a failure.
    assert!(ok * 100 >= n * 95, "at least 95 % of the purchases succeed: {answers:?}; first refusal: {first_refusal:?}");
    let settled = within(Duration::from_secs(120), async || {
        let s = app.get("/sagas/stats").await.body;
        (s["pending"] == 0 && s["inProgress"] == 0 && s["compensating"] == 0).then_some(s)
    })
    .await
    .expect("every saga ends");
    eprintln!(
        "SEED002-BENCH {:?}: {n} concurrent purchases answered in {:.2} s, sagas ended by {:.2} s: {answers:?}",
        v.db,
        answered.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // A purchase answered 503 after it was placed still ends (its saga completes): at least every 200 is sold.
    let completed = settled["completed"].as_i64().unwrap();
    assert!(completed >= ok && completed <= n, "{settled}");
    assert_eq!(item(&app, "seed-load").await.stock, n - completed, "the stock is what was not sold");
    let mut left = 0;
    for u in 0..100 {
        left += points(&app, &format!("user-{u}")).await;
    }
    assert_eq!(left + 100 * completed, 100 * 100 * n, "points are conserved");
    Arc::into_inner(app).unwrap().finish().await;
}

/// Seed 000's create fields: merchantId, orderId, chainId, tokenAddress, recipientAddress, amount, currency.
fn seed_payment(order_id: &str) -> Value {
    let mut b = TestApp::chain_payment(order_id);
    b["merchantId"] = json!(settle_app::merchants::DEMO_MERCHANT_ID);
    b
}

/// Seeds 000/001's pay-server routes: create (400 on a bad amount format or merchantId, nothing created), status
/// (with the payment's own chainId; 404 for an unknown id), gasless (401 on a bad signature, the payment
/// untouched). No chain node is needed: the signature is checked before anything asks the chain.
async fn seed_001_pay_server_routes(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let created = app.post("/payments/create", &seed_payment("seed-001")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["paymentId"].as_str().expect("paymentId").to_owned();
    assert_eq!(created.body["status"], "PENDING", "{}", created.text);
    let count = async || settle_store::payments::count(&app.ctx.db).await.unwrap();
    let n = count().await;
    let bad = [("amount", json!("12.5")), ("amount", json!("abc")), ("amount", json!("-1")), ("merchantId", json!("mch_someone_else"))];
    for (i, (field, value)) in bad.into_iter().enumerate() {
        let mut body = seed_payment(&format!("seed-001-bad-{i}"));
        body[field] = value.clone();
        let r = app.post("/payments/create", &body).await;
        assert_eq!(r.status, 400, "{field} {value}: {}", r.text);
    }
    // A field given twice is refused (a reader taking the first and one taking the last would disagree).
    let twice = r#"{"merchantId":"mch_other","merchantId":"mch_demo","orderId":"seed-001-twice","amount":"1","currency":"USDC"}"#;
    let r = app.request(reqwest::Method::POST, "/payments/create", Some(&app.key), Some(twice), &[]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(count().await, n, "nothing created by a refused create");

    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(
        (s.body["paymentId"].as_str(), s.body["status"].as_str(), s.body["chainId"].as_i64()),
        (Some(id.as_str()), Some("PENDING"), Some(31337)),
        "the status with the payment's chainId: {}",
        s.text
    );
    let unknown = settle_domain::PaymentId::generate().to_string();
    let r = app.get(&format!("/payments/{unknown}/status")).await;
    assert_eq!(r.status, 404, "{}", r.text);

    // A well-formed forward request paying this payment's terms, from a payer, but not signed by that payer.
    let payer = key(1);
    let sig = hex::decode(created.body["serverSignature"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let data = contracts::payCall { terms: crate::chain::terms_of(&created.body), serverSignature: sig.into() }.abi_encode();
    let deadline = now_secs() + 600;
    let req = ForwardRequest {
        from: payer.address(),
        to: DEV_GATEWAY.parse().unwrap(),
        value: U256::ZERO,
        gas: U256::from(300_000),
        nonce: U256::ZERO,
        deadline: settle_chain::primitives::aliases::U48::from(deadline),
        data: data.clone().into(),
    };
    let view = json!({"from": payer.address().to_checksum(None), "to": DEV_GATEWAY, "value": "0", "gas": "300000", "nonce": "0",
        "deadline": deadline.to_string(), "data": format!("0x{}", hex::encode(&data))});
    let domain = eip712::forwarder_domain(31337, DEV_FORWARDER.parse().unwrap());
    let by_another = eip712::sign_struct(&PrivateKeySigner::random(), &domain, &req).unwrap();
    let cases = [("signed by another key", format!("0x{}", hex::encode(by_another.as_bytes()))), ("garbage", format!("0x{}", "11".repeat(65)))];
    for (what, signature) in cases {
        let r = app.post(&format!("/payments/{id}/gasless"), &json!({"request": view, "signature": signature})).await;
        assert_eq!(r.status, 401, "{what}: a bad signature answers 401: {}", r.text);
        assert_eq!(r.body["error"]["code"], "invalid_signature", "{what}: {}", r.text);
    }
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.body["status"], "PENDING", "nothing relayed: {}", s.text);
    assert_eq!(count().await, n);
    app.finish().await;
}

/// The next `payment.created` event of `payment_id` on the stream; `never` is an event id that must not come again.
async fn created_event(rx: &mut tokio::sync::mpsc::Receiver<Sse>, payment_id: &str, never: Option<&str>) -> Sse {
    for _ in 0..100 {
        let e = sse::next(rx).await;
        assert_eq!((e.data["id"].as_str(), e.data["type"].as_str()), (Some(e.id.as_str()), Some(e.event.as_str())), "{e:?}");
        if let Some(n) = never {
            assert_ne!(e.id, n, "an event sent again after a reconnect: {e:?}");
        }
        if e.event == "payment.created" && e.data["data"]["paymentId"] == payment_id {
            return e;
        }
    }
    panic!("no payment.created for {payment_id}");
}

/// Seed 003: `GET /events` streams the merchant's events (text/event-stream, checked by `sse::open`), each after
/// its commit; a reconnect with `Last-Event-ID` resumes exactly after that event: what came meanwhile arrives,
/// nothing already seen comes again.
async fn seed_003_events_stream_resumes_without_loss(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let mut stream = sse::open(&app, None).await;
    let a = app.create_payment("seed-sse-a").await;
    let first = created_event(&mut stream, a["paymentId"].as_str().unwrap(), None).await;
    drop(stream);
    // Created while nobody listens.
    let b = app.create_payment("seed-sse-b").await;
    let mut again = sse::open(&app, Some(&first.id)).await;
    let second = created_event(&mut again, b["paymentId"].as_str().unwrap(), Some(&first.id)).await;
    assert!(second.seq > first.seq, "{first:?} {second:?}");
    app.finish().await;
}

/// Seed 001's relay route: a relay that does not complete within the wait answers a timeout error (504
/// `relay_timeout`), and nothing is lost: the relay goes on, once, and the payment completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_001_relay_answers_a_timeout_error_and_the_relay_goes_on() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = crate::api_v1::relay_app(&anvil).await;
    let payer = PrivateKeySigner::random();
    let token: settle_chain::Address = TOKEN.parse().unwrap();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(5000)).await.unwrap();
    let created = app.create_payment("seed-relay").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let body = crate::chain::sign_checkout(&app, &created, &payer).await;
    // No block is mined while the relay waits: it cannot complete in time.
    let _: Value = rpc.call("evm_setAutomine", json!([false])).await.unwrap();
    let r = app.post(&format!("/payments/{id}/relay"), &body).await;
    r.assert_error(504, "relay_timeout");
    crate::chain::mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(30)).await;
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.body["status"], "COMPLETED", "{}", s.text);
    let txs = settle_store::relay::all_txs(&app.ctx.db, 31337, &key(0).address().to_checksum(None)).await.unwrap();
    assert_eq!(txs.len(), 1, "one transaction for the one relay, never sent again for the timeout: {txs:?}");
    app.finish().await;
}
