//! Test and live modes: a merchant's test key sees and makes test objects only, its live key live ones; each mode
//! has its own payments, order ids, events, webhook endpoints and keys, and its own rails (test networks and the
//! card simulator for test payments, live chains and the card gateway for live ones). Test mode's helper simulates
//! what a rail reports, through the same ledger path; live mode refuses it.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{card::CARD, helpers::*, per_db};

per_db!(each_mode_sees_and_makes_only_its_own_objects, test_helpers_drive_the_rails_paths_and_live_mode_refuses_them);

async fn call(app: &TestApp, method: Method, path: &str, key: &str, body: Option<Value>, extra: &[(&str, &str)]) -> Resp {
    app.request(method, path, Some(key), body.map(|b| b.to_string()).as_deref(), extra).await
}

fn card(order_id: &str) -> Value {
    json!({"orderId": order_id, "amount": "1000", "currency": "KRW", "rail": "CARD"})
}

fn ids(page: &Value, field: &str) -> Vec<String> {
    page["data"].as_array().unwrap_or_else(|| panic!("{page}")).iter().map(|p| p[field].as_str().unwrap().to_owned()).collect()
}

async fn each_mode_sees_and_makes_only_its_own_objects(v: Variant) {
    // Each mode's card gateway is a simulator of its own: what each received shows where each payment went.
    let live_gateway = settle_card::sim::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), settle_card::sim::Knobs::calm());
    let test_gateway = settle_card::sim::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), settle_card::sim::Knobs::calm());
    let mut setup = Setup::new(v);
    setup.card.gateway_url = Some(live_gateway.url());
    setup.card.test_gateway_url = Some(test_gateway.url());
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let (live, test) = app.new_merchant("two modes").await;
    assert!(live.starts_with("sk_live_") && test.starts_with("sk_test_"), "{live} {test}");

    // The same order id in each mode: two payments, one per mode.
    let l = call(&app, Method::POST, "/v1/payments", &live, Some(card("both-1")), &[]).await;
    let t = call(&app, Method::POST, "/v1/payments", &test, Some(card("both-1")), &[]).await;
    assert_eq!((l.status.as_u16(), t.status.as_u16()), (201, 201), "{} {}", l.text, t.text);
    assert_eq!(l.body["merchantId"], t.body["merchantId"], "one merchant, two modes");
    assert_eq!((l.body["livemode"].as_bool(), t.body["livemode"].as_bool()), (Some(true), Some(false)));
    let (lid, tid) = (l.body["paymentId"].as_str().unwrap().to_owned(), t.body["paymentId"].as_str().unwrap().to_owned());
    // A second live one for it is still refused in its own mode.
    call(&app, Method::POST, "/v1/payments", &test, Some(card("both-1")), &[]).await.assert_error(409, "duplicate_order");

    // Neither key reads, changes or cancels the other mode's payment.
    for (key, other) in [(&live, &tid), (&test, &lid)] {
        call(&app, Method::GET, &format!("/v1/payments/{other}"), key, None, &[]).await.assert_error(404, "payment_not_found");
        call(&app, Method::POST, &format!("/v1/payments/{other}/cancel"), key, Some(json!({})), &[]).await.assert_error(404, "payment_not_found");
        call(&app, Method::POST, &format!("/v1/payments/{other}"), key, Some(json!({"description": "x"})), &[])
            .await
            .assert_error(404, "payment_not_found");
    }
    assert_eq!(ids(&call(&app, Method::GET, "/v1/payments", &live, None, &[]).await.body, "paymentId"), [lid.as_str()]);
    assert_eq!(ids(&call(&app, Method::GET, "/v1/payments", &test, None, &[]).await.body, "paymentId"), [tid.as_str()]);

    // Chains: the development chain is a test network; a live payment may not use it.
    let chain = TestApp::chain_payment("chain-1");
    let r = call(&app, Method::POST, "/v1/payments", &live, Some(chain.clone()), &[]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("chainId"), "{}", r.text);
    assert!(r.text.contains("test network"), "{}", r.text);
    let r = call(&app, Method::POST, "/v1/payments", &test, Some(chain), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["livemode"], false);
    // A merchant's fee is one for both modes: a change applies to test payments at once too.
    let mid = l.body["merchantId"].as_str().unwrap().to_owned();
    let r = app.request(Method::PATCH, &format!("/v1/merchants/{mid}"), Some(ADMIN_TOKEN), Some(&json!({"feeBps": 250}).to_string()), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(&app, Method::POST, "/v1/payments", &test, Some(TestApp::chain_payment("chain-2")), &[]).await;
    assert_eq!(r.body["terms"]["feeBps"], 250, "{}", r.text);

    // Card charges: each mode's payment reaches its own gateway, never the other's.
    for (key, id) in [(&live, &lid), (&test, &tid)] {
        let r = call(&app, Method::POST, &format!("/v1/payments/{id}/card"), key, Some(json!({"cardType": "KB", "cardNo": CARD})), &[]).await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let orders = |txs: Vec<settle_card::wire::Transaction>| txs.into_iter().map(|t| t.order_id).collect::<Vec<_>>();
    let seen = async |g: &settle_card::sim::SimHandle| {
        orders(app.client.get(format!("{}/admin/transactions", g.url())).send().await.unwrap().json().await.unwrap())
    };
    assert_eq!(seen(&live_gateway).await, [lid.as_str()], "the live gateway took the live charge only");
    assert_eq!(seen(&test_gateway).await, [tid.as_str()], "the test gateway took the test charge only");

    // Webhook endpoints and events are per mode.
    let r = call(&app, Method::POST, "/v1/webhook-endpoints", &test, Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["livemode"], false);
    // An event after the endpoint exists (one before may have been published already, reaching no endpoint).
    let r = call(&app, Method::POST, &format!("/v1/payments/{tid}"), &test, Some(json!({"description": "noted"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(ids(&call(&app, Method::GET, "/v1/webhook-endpoints", &live, None, &[]).await.body, "id").is_empty());
    assert_eq!(ids(&call(&app, Method::GET, "/v1/webhook-endpoints", &test, None, &[]).await.body, "id").len(), 1);
    app.drain_outbox().await;
    let events = |key: &str| {
        let key = key.to_owned();
        let app = &app;
        async move { call(app, Method::GET, "/v1/events?limit=100", &key, None, &[]).await.body["data"].as_array().unwrap().clone() }
    };
    let (le, te) = (events(&live).await, events(&test).await);
    assert!(!le.is_empty() && !te.is_empty());
    assert!(le.iter().all(|e| e["livemode"] == true && e["data"]["livemode"] == true), "{le:?}");
    assert!(te.iter().all(|e| e["livemode"] == false && e["data"]["livemode"] == false), "{te:?}");
    assert!(le.iter().any(|e| e["data"]["paymentId"] == lid.as_str()) && !le.iter().any(|e| e["data"]["paymentId"] == tid.as_str()));
    // A second instance learns payments' statuses from the events it follows: a test payment's cached status is
    // still the test tenant's, never answered to the live key.
    let mut other = TestApp::start(app.setup.clone(), app.db.clone()).await;
    let version = call(&app, Method::GET, &format!("/v1/payments/{tid}"), &test, None, &[]).await.body["version"].as_i64().unwrap();
    let r = call(&app, Method::POST, &format!("/v1/payments/{tid}"), &test, Some(json!({"description": "seen elsewhere"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.drain_outbox().await;
    eventually(Duration::from_secs(20), "the other instance caches the test payment's status", async || {
        other.ctx.cache.get_status(&tid).await.filter(|c| c.version >= version).map(|_| ())
    })
    .await;
    let status = format!("/payments/{tid}/status");
    assert_eq!(call(&other, Method::GET, &status, &test, None, &[]).await.status, 200);
    call(&other, Method::GET, &status, &live, None, &[]).await.assert_error(404, "payment_not_found");
    other.shutdown().await;

    // Deliveries and the audit log too.
    let ep = ids(&call(&app, Method::GET, "/v1/webhook-endpoints", &test, None, &[]).await.body, "id")[0].clone();
    let deliveries = call(&app, Method::GET, &format!("/v1/webhook-endpoints/{ep}/deliveries"), &test, None, &[]).await;
    let deliveries = deliveries.body["data"].as_array().unwrap_or_else(|| panic!("{}", deliveries.text)).clone();
    assert!(!deliveries.is_empty() && deliveries.iter().all(|d| d["livemode"] == false), "{deliveries:?}");
    for (key, live) in [(&live, true), (&test, false)] {
        let log = call(&app, Method::GET, "/v1/audit-log?limit=100", key, None, &[]).await.body;
        let log = log["data"].as_array().unwrap().clone();
        assert!(!log.is_empty() && log.iter().all(|e| e["livemode"] == live), "{log:?}");
    }

    // The shop and its orders are per mode: a test order's saga (ended, so cached once read) is never the live key's,
    // whatever id it is asked by.
    for (path, body) in [
        ("/v1/items", json!({"itemId": "potion", "name": "Potion", "price": 500, "stock": 10})),
        ("/v1/users", json!({"userId": "lee", "name": "Lee", "points": 5000})),
    ] {
        let r = call(&app, Method::POST, path, &test, Some(body), &[]).await;
        assert_eq!((r.status.as_u16(), r.body["livemode"].as_bool()), (201, Some(false)), "{}", r.text);
    }
    call(&app, Method::GET, "/v1/users/lee", &live, None, &[]).await.assert_error(404, "not_found");
    let order = json!({"userId": "lee", "items": [{"itemId": "potion", "quantity": 2}], "usePoints": 1000});
    let placed = call(&app, Method::POST, "/v1/orders", &test, Some(order), &[]).await;
    assert_eq!((placed.status.as_u16(), placed.body["saga"]["status"].as_str()), (201, Some("COMPLETED")), "{}", placed.text);
    assert_eq!((placed.body["order"]["livemode"].as_bool(), placed.body["saga"]["livemode"].as_bool()), (Some(false), Some(false)));
    let saga = placed.body["saga"]["transactionId"].as_str().unwrap().to_owned();
    assert_eq!(call(&app, Method::GET, &format!("/v1/sagas/{saga}"), &test, None, &[]).await.body["livemode"], false);
    for path in [format!("/v1/sagas/{saga}"), format!("/v1/sagas/test:{saga}"), format!("/saga/test:{saga}")] {
        assert_eq!(call(&app, Method::GET, &path, &live, None, &[]).await.status, 404, "{path}");
    }

    // Keys: each mode lists and makes its own; a test key cannot revoke a live one.
    let lk = call(&app, Method::GET, "/v1/api-keys", &live, None, &[]).await.body;
    let tk = call(&app, Method::GET, "/v1/api-keys", &test, None, &[]).await.body;
    assert_eq!((lk["livemode"].as_bool(), tk["livemode"].as_bool()), (Some(true), Some(false)));
    assert_eq!((ids(&lk, "id").len(), ids(&tk, "id").len()), (1, 1));
    let made = call(&app, Method::POST, "/v1/api-keys", &test, Some(json!({})), &[]).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let new_test = made.body["apiKey"].as_str().unwrap().to_owned();
    assert!(new_test.starts_with("sk_test_") && made.body["livemode"] == false, "{}", made.text);
    assert_eq!(ids(&call(&app, Method::GET, "/v1/payments", &new_test, None, &[]).await.body, "paymentId").len(), 3);
    // A live key may make its merchant a test key (a merchant made before modes has none); a test key never makes a
    // live one.
    let made = call(&app, Method::POST, "/v1/api-keys", &live, Some(json!({"livemode": false})), &[]).await;
    assert_eq!((made.status.as_u16(), made.body["livemode"].as_bool()), (201, Some(false)), "{}", made.text);
    let from_live = made.body["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(ids(&call(&app, Method::GET, "/v1/payments", &from_live, None, &[]).await.body, "paymentId").len(), 3);
    let r = call(&app, Method::POST, "/v1/api-keys", &test, Some(json!({"livemode": true})), &[]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("livemode"));
    let live_key_id = ids(&lk, "id")[0].clone();
    call(&app, Method::DELETE, &format!("/v1/api-keys/{live_key_id}"), &test, None, &[]).await.assert_error(404, "not_found");
    assert_eq!(call(&app, Method::GET, "/v1/payments", &live, None, &[]).await.status, 200, "the live key still works");

    // The merchant's deletion ends both modes.
    let r = app.request(Method::DELETE, &format!("/v1/merchants/{mid}"), Some(ADMIN_TOKEN), None, &[]).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app.request(Method::DELETE, &format!("/v1/merchants/{mid}:test"), Some(ADMIN_TOKEN), None, &[]).await;
    r.assert_error(404, "not_found");
    for key in [&live, &test, &new_test, &from_live] {
        call(&app, Method::GET, "/v1/payments", key, None, &[]).await.assert_error(401, "unauthorized");
    }
    app.finish().await;
    live_gateway.stop().await;
    test_gateway.stop().await;
}

async fn simulate(app: &TestApp, key: &str, id: &str, outcome: &str, idem: Option<&str>) -> Resp {
    let extra: Vec<(&str, &str)> = idem.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
    call(app, Method::POST, &format!("/v1/test/payments/{id}/simulate"), key, Some(json!({"outcome": outcome})), &extra).await
}

async fn history(app: &TestApp, id: &str) -> Vec<String> {
    let r = app.get(&format!("/v1/payments/{id}/events")).await;
    r.body["data"].as_array().unwrap_or_else(|| panic!("{}", r.text)).iter().map(|e| e["eventType"].as_str().unwrap().to_owned()).collect()
}

async fn test_helpers_drive_the_rails_paths_and_live_mode_refuses_them(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let key = app.key.clone();
    assert_eq!(app.get("/v1/api-keys").await.body["livemode"], false, "the demo key is a test key");

    // A card decline: FAILED with the rail's own history entry; the same Idempotency-Key replays it.
    let card_id = app.create_card_payment("sim-card", 1000).await;
    let r = simulate(&app, &key, &card_id, "decline", Some("sim-1")).await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some("FAILED")), "{}", r.text);
    assert_eq!(r.body["failureMessage"], "the card was declined (simulated)");
    let again = simulate(&app, &key, &card_id, "decline", Some("sim-1")).await;
    assert_eq!((again.status, &again.body), (r.status, &r.body), "a retry answers the first response");
    assert_eq!(history(&app, &card_id).await, ["CREATED", "SUBMITTED", "FAILED"]);
    simulate(&app, &key, &card_id, "succeed", None).await.assert_error(409, "invalid_state");
    // Once a charge was sent, the outcome is the gateway's: never contradicted by a simulation.
    let charged = app.create_card_payment("sim-charged", 1000).await;
    assert_eq!(app.pay(&charged, "KB", CARD, None).await.status, 202);
    for outcome in ["succeed", "decline"] {
        simulate(&app, &key, &charged, outcome, None).await.assert_error(409, "invalid_state");
    }
    simulate(&app, &key, &app.create_card_payment("sim-process", 1000).await, "process", None).await.assert_error(409, "invalid_state");

    // A chain payment: sent, its block reorganised away (payable again), paid, then a reorganisation deeper than
    // its confirmations (it stays COMPLETED and the merchant is told).
    let chain_id = app.create_payment("sim-chain").await["paymentId"].as_str().unwrap().to_owned();
    simulate(&app, &key, &chain_id, "decline", None).await.assert_error(409, "invalid_state");
    for (outcome, status) in [("process", "PROCESSING"), ("reorg", "PENDING"), ("succeed", "COMPLETED"), ("reorg", "COMPLETED")] {
        let r = simulate(&app, &key, &chain_id, outcome, None).await;
        assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some(status)), "{outcome}: {}", r.text);
    }
    assert_eq!(history(&app, &chain_id).await, ["CREATED", "SUBMITTED", "REVERTED", "SUBMITTED", "CONFIRMED"]);
    app.drain_outbox().await;
    let events = app.get("/v1/events?limit=100").await.body["data"].as_array().unwrap().clone();
    let of = |id: &str| events.iter().filter(|e| e["data"]["paymentId"] == id).map(|e| e["type"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(
        of(&chain_id),
        ["payment.created", "payment.processing", "payment.reverted", "payment.processing", "payment.completed", "payment.reorged"]
    );
    assert_eq!(of(&card_id), ["payment.created", "payment.processing", "payment.failed"]);
    assert!(events.iter().all(|e| e["livemode"] == false));

    // Expiry frees the order id, as the chain's own expiry does.
    let expiring = app.create_payment("sim-expire").await["paymentId"].as_str().unwrap().to_owned();
    let r = simulate(&app, &key, &expiring, "expire", None).await;
    assert_eq!(r.body["status"], "EXPIRED", "{}", r.text);
    assert_eq!(app.post("/v1/payments", &TestApp::chain_payment("sim-expire")).await.status, 201);

    // Bad input: an unknown outcome, an unknown payment.
    let r = simulate(&app, &key, &card_id, "explode", None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    simulate(&app, &key, &format!("0x{}", "0".repeat(64)), "succeed", None).await.assert_error(404, "payment_not_found");

    // Live mode refuses the helper, and nothing changes.
    let live = app.new_merchant("live only").await.0;
    let r = call(&app, Method::POST, "/v1/payments", &live, Some(card("live-sim")), &[]).await;
    let live_id = r.body["paymentId"].as_str().unwrap().to_owned();
    simulate(&app, &live, &live_id, "succeed", None).await.assert_error(403, "test_mode_only");
    let after = call(&app, Method::GET, &format!("/v1/payments/{live_id}"), &live, None, &[]).await;
    assert_eq!((after.body["status"].as_str(), after.body["version"].as_i64()), (Some("PENDING"), r.body["version"].as_i64()));
    // A test key does not reach a live payment through it either.
    simulate(&app, &key, &live_id, "succeed", None).await.assert_error(404, "payment_not_found");
    app.finish().await;
}

/// Keys made before modes existed stay live; the demo key, made then in live mode, becomes a test key at the next
/// start (what it made stays live, out of its sight).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_made_before_modes_keep_their_meaning() {
    let Some(mut app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let (old, hash) = ("sk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", settle_app::merchants::hash_key);
    let live = app.new_merchant("older").await.0;
    let mid = call(&app, Method::POST, "/v1/payments", &live, Some(card("old-1")), &[]).await.body["merchantId"].as_str().unwrap().to_owned();
    settle_store::merchants::add_key(&app.ctx.db, &mid, &hash(old), &old[..8], settle_store::now_ms()).await.unwrap();
    let page = call(&app, Method::GET, "/v1/payments", old, None, &[]).await;
    assert_eq!(ids(&page.body, "orderId"), ["old-1"], "an older key opens live mode: {}", page.text);
    assert_eq!(page.body["data"][0]["livemode"], true);

    // The demo key as an earlier version left it: in the demo merchant's live mode, with a live payment.
    let demo = settle_app::merchants::DEMO_MERCHANT_ID;
    settle_store::merchants::move_key(&app.ctx.db, &hash(&app.key), demo).await.unwrap();
    settle_app::merchants::forget_all(&app.ctx);
    let r = app.post("/v1/payments", &card("demo-live")).await;
    assert_eq!(r.body["livemode"], true, "{}", r.text);
    app.shutdown().await;
    let (setup, db) = (app.setup.clone(), app.db.clone());
    let app = TestApp::start(setup, db).await;
    assert_eq!(app.get("/v1/api-keys").await.body["livemode"], false, "the demo key is a test key again");
    assert!(ids(&app.get("/v1/payments").await.body, "orderId").is_empty(), "the live payment is out of the test key's sight");
    assert_eq!(app.post("/v1/payments", &card("demo-live")).await.body["livemode"], false);
    app.finish().await;
}
