//! A retry after a failure that follows the commit: the order, charge or endpoint a request made is committed, and
//! then recording its answer fails (a trigger refuses the Idempotency-Key's completion) or the process dies (SIGKILL,
//! then a short `SETTLE_IDEMPOTENCY_STALE_SECS`). A retry with the same key and body must answer with what the
//! first request made — one order, one gateway SUCCESS — never make a second.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use settle_card::wire::GatewayStatus;
use settle_store::ConnectionTrait;

use crate::{card::CARD, helpers::*, per_db};

per_db!(
    a_retried_order_whose_answer_was_lost_is_the_same_order_charged_once,
    a_retried_charge_whose_answer_was_lost_answers_the_payment,
    retried_webhook_endpoint_creates_and_rotations_make_one_of_each,
    an_order_whose_server_died_after_the_commit_is_answered_once_restarted,
    retried_shop_writes_make_one_of_each,
    a_retried_api_key_create_makes_one_key,
    a_retried_merchant_create_makes_one_merchant,
    a_retried_refund_whose_answer_was_lost_is_the_same_refund,
    a_retried_order_cancellation_whose_answer_was_lost_is_the_same_cancellation,
    a_refund_whose_server_died_mid_request_is_made_once
);

/// Makes every completion of an Idempotency-Key record (state to DONE) fail, as a database error after the
/// business commit would; `false` takes it away.
pub(crate) async fn fail_completions(app: &TestApp, on: bool) {
    let db = app.ctx.db.writes();
    let sql: &[&str] = match (app.setup.variant.db, on) {
        (Db::Sqlite, true) => &["CREATE TRIGGER fail_completions BEFORE UPDATE ON idempotency_keys WHEN NEW.state = 'DONE' \
             BEGIN SELECT RAISE(ABORT, 'injected: the completion fails'); END"],
        (Db::Sqlite, false) | (Db::Mysql, false) => &["DROP TRIGGER fail_completions"],
        (Db::Postgres, true) => &[
            "CREATE FUNCTION fail_completions() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected: the completion fails'; END $$",
            "CREATE TRIGGER fail_completions BEFORE UPDATE ON idempotency_keys FOR EACH ROW \
             WHEN (NEW.state = 'DONE') EXECUTE FUNCTION fail_completions()",
        ],
        (Db::Postgres, false) => &["DROP TRIGGER fail_completions ON idempotency_keys", "DROP FUNCTION fail_completions()"],
        (Db::Mysql, true) => &["CREATE TRIGGER fail_completions BEFORE UPDATE ON idempotency_keys FOR EACH ROW \
             BEGIN IF NEW.state = 'DONE' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected: the completion fails'; END IF; END"],
    };
    for s in sql {
        db.execute_unprepared(s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// A setup with a fresh master key (`SETTLE_MASTER_KEY`) or none.
fn with_master_key(v: Variant, master: bool) -> Setup {
    let mut setup = Setup::new(v);
    if master {
        let ring = settle_app::crypto::Keyring::parse(&settle_app::crypto::Keyring::generate()).unwrap();
        setup.settings.keyring = Some(std::sync::Arc::new(ring));
    }
    setup
}

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> Resp {
    app.request(Method::POST, path, Some(&app.key), Some(&body.to_string()), &[("idempotency-key", key)]).await
}

/// The orders of a user, from the saga list (every order has one saga).
async fn orders_of(app: &TestApp, user: &str) -> Vec<String> {
    let page = app.get(&format!("/v1/sagas?userId={user}&limit=100")).await.body;
    page["data"].as_array().unwrap().iter().map(|s| s["orderId"].as_str().unwrap().to_owned()).collect()
}

async fn order_ended(app: &TestApp, order_id: &str) -> Value {
    let mut last = Value::Null;
    let ended = within(Duration::from_secs(60), async || {
        last = app.get(&format!("/v1/orders/{order_id}")).await.body;
        (last["saga"]["status"] == "COMPLETED" || last["saga"]["status"] == "COMPENSATED").then(|| last.clone())
    })
    .await;
    ended.unwrap_or_else(|| panic!("the saga did not end: {last}"))
}

/// `POST /orders` commits the order, stock, points and payment, charges the card, and then cannot record its answer
/// (a 5xx). The retry with the same key and body answers the same order; the card is charged once, the stock taken
/// once; a third call replays. Orchestrated and choreographed alike.
async fn a_retried_order_whose_answer_was_lost_is_the_same_order_charged_once(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    for (n, (pattern, user)) in [("orchestration", "user-123"), ("choreography", "user-456")].into_iter().enumerate() {
        let stock = app.get("/v1/items/item-sword").await.body["stock"].as_i64().unwrap();
        let body = json!({"userId": user, "items": [{"itemId": "item-sword", "quantity": 1}], "usePoints": 1000,
            "card": {"cardType": "SAMSUNG", "cardNo": CARD}, "pattern": pattern});
        let key = format!("lost-answer-{n}");
        fail_completions(&app, true).await;
        let first = post_with_key(&app, "/v1/orders", &key, &body).await;
        fail_completions(&app, false).await;
        assert!(first.status.as_u16() >= 500, "{pattern}: the answer could not be recorded: {}", first.text);
        let retry = post_with_key(&app, "/v1/orders", &key, &body).await;
        assert_eq!(retry.status, 201, "{pattern}: {}", retry.text);
        let order_id = retry.body["order"]["orderId"].as_str().unwrap().to_owned();
        assert_eq!(orders_of(&app, user).await, vec![order_id.clone()], "{pattern}: one order for the key");
        let o = order_ended(&app, &order_id).await;
        assert_eq!((o["order"]["status"].as_str(), o["saga"]["status"].as_str()), (Some("PAID"), Some("COMPLETED")), "{o}");
        let pid = o["payment"]["paymentId"].as_str().unwrap();
        let txs: Vec<_> = app.sim_transactions().await.into_iter().filter(|t| t.order_id == pid).collect();
        assert_eq!(txs.len(), 1, "{pattern}: the card was charged once: {txs:?}");
        assert_eq!(txs[0].status, GatewayStatus::Success);
        assert_eq!(app.get("/v1/items/item-sword").await.body["stock"].as_i64().unwrap(), stock - 1, "{pattern}: stock taken once");
        let again = post_with_key(&app, "/v1/orders", &key, &body).await;
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{}", again.text);
        assert_eq!(again.body["order"]["orderId"], order_id.as_str());
    }
    // `POST /purchase` (points only) alike: one order, the points taken once.
    let points = app.get("/v1/users/user-456").await.body["points"].as_i64().unwrap();
    let body = json!({"userId": "user-456", "itemId": "item-potion", "quantity": 2});
    fail_completions(&app, true).await;
    let first = post_with_key(&app, "/purchase", "lost-purchase", &body).await;
    fail_completions(&app, false).await;
    assert!(first.status.as_u16() >= 500, "the answer could not be recorded: {}", first.text);
    let retry = post_with_key(&app, "/purchase", "lost-purchase", &body).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.body["order"]["status"], "PAID", "{}", retry.text);
    assert_eq!(orders_of(&app, "user-456").await.len(), 2, "the choreographed order and this purchase, nothing more");
    assert_eq!(app.get("/v1/users/user-456").await.body["points"].as_i64().unwrap(), points - 1000, "points taken once");
    app.finish().await;
}

/// `POST /payments/{id}/card` moves the payment to PROCESSING and charges it, then cannot record its answer. The
/// retry answers with the payment (202 and its gateway key), never a 409 and never a second charge.
async fn a_retried_charge_whose_answer_was_lost_answers_the_payment(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let id = app.create_card_payment("lost-charge-answer", 15_000).await;
    fail_completions(&app, true).await;
    let first = app.pay(&id, "SAMSUNG", CARD, Some("lost-charge")).await;
    fail_completions(&app, false).await;
    assert!(first.status.as_u16() >= 500, "the answer could not be recorded: {}", first.text);
    let retry = app.pay(&id, "SAMSUNG", CARD, Some("lost-charge")).await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    assert_eq!(retry.body["paymentId"], id.as_str());
    assert!(retry.body["externalPaymentKey"].as_str().is_some(), "{}", retry.text);
    let fin = app.wait_final(std::slice::from_ref(&id), Duration::from_secs(60)).await;
    assert_eq!(fin, vec!["COMPLETED".to_owned()]);
    let txs: Vec<_> = app.sim_transactions().await.into_iter().filter(|t| t.order_id == id).collect();
    assert_eq!(txs.len(), 1, "charged once: {txs:?}");
    let again = app.pay(&id, "SAMSUNG", CARD, Some("lost-charge")).await;
    assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (202, Some("true")), "{}", again.text);
    app.finish().await;
}

/// A retried `POST /webhook-endpoints` answers the endpoint the first call made, with the same secret, and makes
/// no second endpoint; a retried rotation answers the secret the first rotation made and does not rotate again.
/// The recorded answers hold no secret.
async fn retried_webhook_endpoint_creates_and_rotations_make_one_of_each(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let body = json!({"url": "http://127.0.0.1:9/hooks", "events": ["payment.*"]});
    let first = post_with_key(&app, "/v1/webhook-endpoints", "we-create", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retry = post_with_key(&app, "/v1/webhook-endpoints", "we-create", &body).await;
    assert_eq!((retry.status.as_u16(), retry.header("idempotent-replayed")), (201, Some("true")), "{}", retry.text);
    assert_eq!((&retry.body["id"], &retry.body["secret"]), (&first.body["id"], &first.body["secret"]));
    assert_eq!(app.get("/v1/webhook-endpoints").await.body["data"].as_array().unwrap().len(), 1, "one endpoint");
    let other = post_with_key(&app, "/v1/webhook-endpoints", "we-create", &json!({"url": "http://127.0.0.1:9/other", "events": ["*"]})).await;
    other.assert_error(422, "idempotency_key_reused");

    let id = first.body["id"].as_str().unwrap();
    let path = format!("/v1/webhook-endpoints/{id}/rotate-secret");
    let rotated = post_with_key(&app, &path, "we-rotate", &json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_ne!(rotated.body["secret"], first.body["secret"]);
    let again = app.request(Method::POST, &path, Some(&app.key), None, &[("idempotency-key", "we-rotate")]).await;
    assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (200, Some("true")), "{}", again.text);
    assert_eq!(again.body["secret"], rotated.body["secret"], "the caller keeps the secret it holds");
    let row = settle_store::webhooks::endpoint(&app.ctx.db, DEMO_TENANT, id).await.unwrap().unwrap();
    assert!(row.previous_secret.is_some(), "rotated once: the first secret still signs beside the new one");
    for key in ["we-create", "we-rotate"] {
        let rec = settle_store::idempotency::find(&app.ctx.db, DEMO_TENANT, key).await.unwrap().unwrap();
        let stored = rec.response_body.unwrap_or_default();
        for secret in [&first.body["secret"], &rotated.body["secret"]] {
            assert!(!stored.contains(secret.as_str().unwrap()), "{key}: the recorded answer holds no secret: {stored}");
        }
    }
    app.finish().await;
}

/// `settle serve` is killed (SIGKILL) after an order committed, while its charge waits on the gateway (which has
/// recorded it). Restarted, with a short `SETTLE_IDEMPOTENCY_STALE_SECS`, the retry with the same key answers
/// that order; the gateway holds one SUCCESS for it, and the order ends PAID.
async fn an_order_whose_server_died_after_the_commit_is_answered_once_restarted(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(db) = TestDb::create(v.db).await else { return };
    settle_card::tls::ensure_crypto_provider();
    // The gateway records every charge and never answers it (until the knobs change).
    let knobs = settle_card::sim::Knobs { hang_rate: 1.0, hang_record_after_ms: Some(0), ..settle_card::sim::Knobs::calm() };
    let sim = settle_card::sim::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), knobs);
    let dir = TempDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("SETTLE_LISTEN", format!("127.0.0.1:{port}")),
        ("SETTLE_PG_URL", sim.url()),
        ("SETTLE_PG_TEST_URL", sim.url()),
        ("SETTLE_PG_TIMEOUT_MS", "20000".to_owned()),
        ("SETTLE_PG_CHARGE_RETRIES", "1".to_owned()),
        ("SETTLE_RECONCILE_DEADLINE_SECS", "600".to_owned()),
        ("SETTLE_REQUEST_TIMEOUT_SECS", "2".to_owned()),
        ("SETTLE_RELAY_WAIT_SECS", "1".to_owned()),
        ("SETTLE_IDEMPOTENCY_STALE_SECS", "3".to_owned()),
        ("SETTLE_RECONCILE_AFTER_SECS", "1".to_owned()),
        ("SETTLE_RECONCILE_BACKOFF_SECS", "1".to_owned()),
    ];
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let transactions = || {
        let (client, url) = (client.clone(), format!("{}/admin/transactions", sim.url()));
        async move { client.get(url).send().await.unwrap().json::<Vec<settle_card::wire::Transaction>>().await.unwrap() }
    };
    let key = settle_app::merchants::DEMO_API_KEY;
    let body = json!({"userId": "user-123", "items": [{"itemId": "item-sword", "quantity": 2}], "usePoints": 1000,
        "card": {"cardType": "SAMSUNG", "cardNo": CARD}})
    .to_string();
    let headers = [("idempotency-key", "killed-after-commit")];
    let mut serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    let first = {
        let (client, base, body) = (client.clone(), base.clone(), body.clone());
        tokio::spawn(async move { request_at(&client, &base, Method::POST, "/v1/orders", Some(key), Some(&body), &headers).await })
    };
    // The order is committed and its charge recorded by the gateway (which does not answer): kill Settle now.
    eventually(Duration::from_secs(30), "the charge reaches the gateway", async || (!transactions().await.is_empty()).then_some(())).await;
    serve.kill();
    let _ = first.await;
    client.put(format!("{}/admin/knobs", sim.url())).json(&settle_card::sim::Knobs::calm()).send().await.unwrap();
    let _serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    // Until the dead request's claim is stale the key is in flight (a retry waits on it: 409, or 504 when the
    // request timeout comes first); then the retry answers its order.
    let mut last = String::new();
    let answered = within(Duration::from_secs(30), async || {
        let r = request_at(&client, &base, Method::POST, "/v1/orders", Some(key), Some(&body), &headers).await;
        if r.status != 409 && r.status != 504 {
            return Some(r);
        }
        last = r.text;
        None
    })
    .await;
    let retry = answered.unwrap_or_else(|| panic!("the key stayed in flight: {last}"));
    assert_eq!(retry.status, 201, "{}", retry.text);
    let order_id = retry.body["order"]["orderId"].as_str().unwrap().to_owned();
    let sagas = request_at(&client, &base, Method::GET, "/v1/sagas?userId=user-123", Some(key), None, &[]).await.body;
    assert_eq!((sagas["data"].as_array().map(Vec::len), sagas["hasMore"].as_bool()), (Some(1), Some(false)), "one order for the key: {sagas}");
    let mut last = Value::Null;
    let ended = within(Duration::from_secs(60), async || {
        last = request_at(&client, &base, Method::GET, &format!("/v1/orders/{order_id}"), Some(key), None, &[]).await.body;
        (last["saga"]["status"] != "IN_PROGRESS").then(|| last.clone())
    })
    .await;
    let o = ended.unwrap_or_else(|| panic!("the saga did not end: {last}"));
    assert_eq!((o["order"]["status"].as_str(), o["payment"]["status"].as_str()), (Some("PAID"), Some("COMPLETED")), "{o}");
    let pid = o["payment"]["paymentId"].as_str().unwrap();
    let all = transactions().await;
    let txs: Vec<_> = all.iter().filter(|t| t.order_id == pid).collect();
    assert_eq!(txs.len(), 1, "one charge: {txs:?}");
    assert_eq!(txs[0].status, GatewayStatus::Success);
    assert_eq!(all.len(), 1, "nothing else was charged");
    drop(_serve);
    sim.stop().await;
    db.drop_now().await;
}

/// The shop's writes under an Idempotency-Key: a user, an item and a coupon created once (the retry answers the
/// first 201, replayed, where a plain second create is a 409), and a coupon issued once: its id is generated, so
/// before, a request sent twice gave the user two coupons. When recording the answer fails, the issue it would have
/// answered rolls back with it; the retry issues it once, and the next replays.
async fn retried_shop_writes_make_one_of_each(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    for (path, body) in [
        ("/v1/users", json!({"userId": "user-idem", "name": "Kim", "points": 100})),
        ("/v1/items", json!({"itemId": "item-idem", "name": "Cup", "price": 500, "stock": 3})),
        ("/v1/coupons", json!({"couponId": "coupon-idem", "name": "Ten", "discount": 10})),
    ] {
        let key = format!("create{}", path.replace('/', "-"));
        let first = post_with_key(&app, path, &key, &body).await;
        assert_eq!(first.status, 201, "{path}: {}", first.text);
        let retry = post_with_key(&app, path, &key, &body).await;
        assert_eq!((retry.status.as_u16(), retry.header("idempotent-replayed")), (201, Some("true")), "{path}: {}", retry.text);
        assert_eq!(retry.body, first.body, "{path}");
        app.post(path, &body).await.assert_error(409, "invalid_state");
        let mut other = body.clone();
        other["name"] = json!("Other");
        post_with_key(&app, path, &key, &other).await.assert_error(422, "idempotency_key_reused");
    }
    let issues = async || app.get("/v1/audit-log?action=coupon.issued&limit=100").await.body["data"].as_array().unwrap().len();
    let body = json!({"userId": "user-idem"});
    fail_completions(&app, true).await;
    let failed = post_with_key(&app, "/v1/coupons/coupon-idem/issue", "issue-once", &body).await;
    fail_completions(&app, false).await;
    assert!(failed.status.as_u16() >= 500, "the answer could not be recorded: {}", failed.text);
    assert_eq!(issues().await, 0, "the issue rolled back with its answer");
    let first = post_with_key(&app, "/v1/coupons/coupon-idem/issue", "issue-once", &body).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retry = post_with_key(&app, "/v1/coupons/coupon-idem/issue", "issue-once", &body).await;
    assert_eq!((retry.status.as_u16(), retry.header("idempotent-replayed")), (201, Some("true")), "{}", retry.text);
    assert_eq!(retry.body["issuedCouponId"], first.body["issuedCouponId"]);
    assert_eq!(issues().await, 1, "one coupon issued for the key");
    // Without a key, each request is its own issue (a merchant may give a user two coupons on purpose).
    assert_eq!(app.post("/v1/coupons/coupon-idem/issue", &body).await.status, 201);
    assert_eq!(issues().await, 2);
    app.finish().await;
}

/// `POST /v1/api-keys` with an Idempotency-Key makes one key whatever fails after the commit:
/// - its answer cannot be recorded: the key rolls back with it, and the retry makes one;
/// - a retry of an answered key answers the same key (with a master key: the record holds it sealed, never in the
///   clear) — and without a master key, where Settle keeps no copy of the key, a 409 naming the key made, never a
///   second key.
async fn a_retried_api_key_create_makes_one_key(v: Variant) {
    for master in [true, false] {
        let Some(app) = TestApp::spawn_with(with_master_key(v, master)).await else { return };
        let keys = async || settle_store::merchants::keys(&app.ctx.db, DEMO_TENANT).await.unwrap().len();
        let before = keys().await;
        fail_completions(&app, true).await;
        let lost = post_with_key(&app, "/v1/api-keys", "key-1", &json!({})).await;
        fail_completions(&app, false).await;
        assert!(lost.status.as_u16() >= 500, "the answer could not be recorded: {}", lost.text);
        assert_eq!(keys().await, before, "the key rolled back with its answer");
        let first = post_with_key(&app, "/v1/api-keys", "key-1", &json!({})).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let made = first.body["apiKey"].as_str().unwrap().to_owned();
        let rec = settle_store::idempotency::find(&app.ctx.db, DEMO_TENANT, "key-1").await.unwrap().unwrap();
        assert!(!rec.response_body.unwrap_or_default().contains(&made), "the recorded answer holds the key in the clear");
        let retry = post_with_key(&app, "/v1/api-keys", "key-1", &json!({})).await;
        if master {
            assert_eq!((retry.status.as_u16(), retry.header("idempotent-replayed")), (201, Some("true")), "{}", retry.text);
            assert_eq!(retry.body["apiKey"].as_str(), Some(made.as_str()), "the same key, opened");
        } else {
            retry.assert_error(409, "invalid_state");
            let id = first.body["id"].as_str().unwrap();
            assert!(retry.body["error"]["message"].as_str().unwrap().contains(id), "{}", retry.text);
        }
        assert_eq!(keys().await, before + 1, "one key for the one Idempotency-Key");
        let works = app.request(Method::GET, "/v1/api-keys", Some(&made), None, &[]).await;
        assert_eq!(works.status, 200, "the key made authenticates: {}", works.text);
        // Revoked since: a replay does not answer it as if it worked.
        let id = first.body["id"].as_str().unwrap();
        assert_eq!(app.request(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&app.key), None, &[]).await.status, 204);
        post_with_key(&app, "/v1/api-keys", "key-1", &json!({})).await.assert_error(409, "invalid_state");
        app.finish().await;
    }
}

/// `POST /v1/merchants` (the administration's) commits the merchant and then cannot record its answer: nothing is
/// kept (the merchant rolls back with it). The retry makes one merchant; a replay answers the same one, with its
/// API key only when a master key sealed it in the record, never once the merchant is deleted; another body with the
/// key is a 422.
async fn a_retried_merchant_create_makes_one_merchant(v: Variant) {
    for master in [true, false] {
        let Some(app) = TestApp::spawn_with(with_master_key(v, master)).await else { return };
        let merchants = async || {
            let sql = "SELECT COUNT(*) FROM merchants WHERE deleted_at IS NULL";
            let row = app.ctx.db.query_one_raw(settle_store::Statement::from_string(app.ctx.db.get_database_backend(), sql)).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        };
        let before = merchants().await;
        let admin = |key: &str, body: &Value| {
            let body = body.to_string();
            let key = key.to_owned();
            let app = &app;
            async move { app.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(&body), &[("idempotency-key", &key)]).await }
        };
        let body = json!({"name": "Retried Shop", "feeBps": 25});
        fail_completions(&app, true).await;
        let lost = admin("mch-1", &body).await;
        fail_completions(&app, false).await;
        assert!(lost.status.as_u16() >= 500, "the answer could not be recorded: {}", lost.text);
        assert_eq!(merchants().await, before, "the merchant rolled back with its answer");
        let first = admin("mch-1", &body).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let (id, made) = (first.body["merchantId"].as_str().unwrap().to_owned(), first.body["apiKey"].as_str().unwrap().to_owned());
        let made_test = first.body["testApiKey"].as_str().unwrap().to_owned();
        let rec = settle_store::idempotency::find(&app.ctx.db, settle_app::merchants::ADMIN_SCOPE, "mch-1").await.unwrap().unwrap();
        let recorded = rec.response_body.unwrap_or_default();
        assert!(!recorded.contains(&made) && !recorded.contains(&made_test), "the recorded answer holds a key in the clear");
        let retry = admin("mch-1", &body).await;
        if master {
            assert_eq!((retry.status.as_u16(), retry.header("idempotent-replayed")), (201, Some("true")), "{}", retry.text);
            assert_eq!((retry.body["merchantId"].as_str(), retry.body["apiKey"].as_str()), (Some(id.as_str()), Some(made.as_str())));
            assert_eq!(retry.body["testApiKey"].as_str(), Some(made_test.as_str()), "both keys opened");
        } else {
            retry.assert_error(409, "invalid_state");
            assert!(retry.body["error"]["message"].as_str().unwrap().contains(&id), "{}", retry.text);
        }
        assert_eq!(merchants().await, before + 1, "one merchant for the one Idempotency-Key");
        assert!(settle_store::merchants::find(&app.ctx.db, &id).await.unwrap().is_some_and(|m| m.name == "Retried Shop" && m.fee_bps == 25));
        assert_eq!(admin("mch-1", &json!({"name": "Another Shop"})).await.status, 422);
        // A merchant's own key of the same value is another scope: it makes a payment, not a merchant.
        let r = app
            .request(
                Method::POST,
                "/v1/payments",
                Some(&made),
                Some(&json!({"orderId": "o-1", "amount": "1", "currency": "KRW", "rail": "CARD"}).to_string()),
                &[("idempotency-key", "mch-1")],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(app.request(Method::DELETE, &format!("/v1/merchants/{id}"), Some(ADMIN_TOKEN), None, &[]).await.status, 204);
        admin("mch-1", &body).await.assert_error(409, "invalid_state");
        app.finish().await;
    }
}

/// `POST /payments/{id}/refunds` records the refund and sends it to the gateway, then cannot record its answer. The
/// retry answers that refund (never a second one); the gateway refunds once; a third call replays.
async fn a_retried_refund_whose_answer_was_lost_is_the_same_refund(v: Variant) {
    use crate::refunds::{assert_refunds_consistent, completed_card_payment, final_refunds, refund, sim_refunds};
    let Some(app) = TestApp::spawn(v).await else { return };
    let id = completed_card_payment(&app, "lost-refund-answer", 8000).await;
    let body = json!({"amount": "3000"});
    fail_completions(&app, true).await;
    let first = refund(&app, &id, &body, Some("lost-refund")).await;
    fail_completions(&app, false).await;
    assert!(first.status.as_u16() >= 500, "the answer could not be recorded: {}", first.text);
    let retry = refund(&app, &id, &body, Some("lost-refund")).await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    let rid = retry.body["refundId"].as_str().unwrap().to_owned();
    let all = final_refunds(&app, &id).await;
    assert_eq!(all.len(), 1, "one refund: {all:?}");
    assert_eq!((all[0]["refundId"].as_str(), all[0]["status"].as_str()), (Some(rid.as_str()), Some("SUCCEEDED")));
    assert_eq!(sim_refunds(&app).await.len(), 1, "refunded once at the gateway");
    let again = refund(&app, &id, &body, Some("lost-refund")).await;
    assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (201, Some("true")), "{}", again.text);
    assert_eq!(again.body["refundId"], rid.as_str());
    assert_refunds_consistent(&app, &id).await;
    app.finish().await;
}

/// An order's cancellation is committed (with its card refund), and recording its answer fails. The retry with the
/// same key answers that cancellation: one refund at the gateway, the lines given back once.
async fn a_retried_order_cancellation_whose_answer_was_lost_is_the_same_cancellation(v: Variant) {
    use crate::cancellations::{cancel, final_cancellations};
    use crate::refunds::{assert_refunds_consistent, sim_refunds};
    let Some(app) = TestApp::spawn(v).await else { return };
    for (path, body) in [
        ("/v1/items", json!({"itemId": "vase", "name": "Vase", "price": 4000, "stock": 3})),
        ("/v1/users", json!({"userId": "yoon", "name": "Yoon", "points": 0})),
    ] {
        assert_eq!(app.post(path, &body).await.status, 201);
    }
    let placed = app
        .post("/v1/orders", &json!({"userId": "yoon", "items": [{"itemId": "vase", "quantity": 2}], "card": {"cardType": "KB", "cardNo": CARD}}))
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["order"]["orderId"].as_str().unwrap().to_owned();
    let payment = placed.body["payment"]["paymentId"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "the order is PAID", async || {
        (app.get(&format!("/v1/orders/{order}")).await.body["order"]["status"] == "PAID").then_some(())
    })
    .await;
    let body = json!({"items": [{"itemId": "vase", "quantity": 1}]});
    fail_completions(&app, true).await;
    let first = cancel(&app, &order, &body, Some("lost-cancel")).await;
    fail_completions(&app, false).await;
    assert!(first.status.as_u16() >= 500, "the answer could not be recorded: {}", first.text);
    let retry = cancel(&app, &order, &body, Some("lost-cancel")).await;
    assert!(retry.status == 200 || retry.status == 202, "{}", retry.text);
    let id = retry.body["cancellationId"].as_str().unwrap().to_owned();
    let (after, all) = final_cancellations(&app, &order).await;
    assert_eq!(all.len(), 1, "one cancellation: {all:?}");
    assert_eq!((all[0]["cancellationId"].as_str(), all[0]["status"].as_str()), (Some(id.as_str()), Some("SUCCEEDED")));
    assert_eq!(after["order"]["status"], "PAID", "one vase is left");
    assert_eq!(app.get("/v1/items/vase").await.body["stock"], 2, "one vase back, once");
    assert_eq!(sim_refunds(&app).await.len(), 1, "refunded once at the gateway");
    let again = cancel(&app, &order, &body, Some("lost-cancel")).await;
    assert_eq!((again.header("idempotent-replayed"), again.body["cancellationId"].as_str()), (Some("true"), Some(id.as_str())), "{}", again.text);
    assert_refunds_consistent(&app, &payment).await;
    app.finish().await;
}

/// `settle serve` is killed (SIGKILL) while a refund it recorded waits on the gateway, which recorded it and never
/// answers. Restarted, the refund checker finds it by its request id and it SUCCEEDS; the retry with the same key
/// answers that refund; the gateway refunded once.
async fn a_refund_whose_server_died_mid_request_is_made_once(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(db) = TestDb::create(v.db).await else { return };
    settle_card::tls::ensure_crypto_provider();
    let sim = settle_card::sim::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), settle_card::sim::Knobs::calm());
    let dir = TempDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = [
        ("DATABASE_URL", db.url.clone()),
        ("SETTLE_LISTEN", format!("127.0.0.1:{port}")),
        ("SETTLE_PG_URL", sim.url()),
        ("SETTLE_PG_TEST_URL", sim.url()),
        ("SETTLE_PG_TIMEOUT_MS", "20000".to_owned()),
        ("SETTLE_PG_CHARGE_RETRIES", "1".to_owned()),
        ("SETTLE_RECONCILE_DEADLINE_SECS", "600".to_owned()),
        ("SETTLE_REQUEST_TIMEOUT_SECS", "2".to_owned()),
        ("SETTLE_RELAY_WAIT_SECS", "1".to_owned()),
        ("SETTLE_IDEMPOTENCY_STALE_SECS", "3".to_owned()),
        ("SETTLE_RECONCILE_AFTER_SECS", "1".to_owned()),
        ("SETTLE_RECONCILE_BACKOFF_SECS", "1".to_owned()),
    ];
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let refunds_at_gateway = || {
        let (client, url) = (client.clone(), format!("{}/admin/refunds", sim.url()));
        async move { client.get(url).send().await.unwrap().json::<Vec<settle_card::wire::GatewayRefund>>().await.unwrap() }
    };
    let key = settle_app::merchants::DEMO_API_KEY;
    let mut serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    let created = request_at(
        &client,
        &base,
        Method::POST,
        "/v1/payments",
        Some(key),
        Some(&json!({"orderId": "killed-refund", "amount": "7000", "currency": "KRW", "rail": "CARD"}).to_string()),
        &[],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["paymentId"].as_str().unwrap().to_owned();
    let paid = request_at(
        &client,
        &base,
        Method::POST,
        &format!("/v1/payments/{id}/card"),
        Some(key),
        Some(&json!({"cardType": "SAMSUNG", "cardNo": CARD}).to_string()),
        &[],
    )
    .await;
    assert_eq!(paid.status, 202, "{}", paid.text);
    eventually(Duration::from_secs(30), "the payment completes", async || {
        let p = request_at(&client, &base, Method::GET, &format!("/v1/payments/{id}"), Some(key), None, &[]).await;
        (p.body["status"] == "COMPLETED").then_some(())
    })
    .await;
    // The gateway records every refund and never answers it.
    let hang = settle_card::sim::Knobs { hang_rate: 1.0, hang_record_after_ms: Some(0), ..settle_card::sim::Knobs::calm() };
    client.put(format!("{}/admin/knobs", sim.url())).json(&hang).send().await.unwrap();
    let path = format!("/v1/payments/{id}/refunds");
    let body = json!({"amount": "2500"}).to_string();
    let headers = [("idempotency-key", "killed-mid-refund")];
    let first = {
        let (client, base, path, body) = (client.clone(), base.clone(), path.clone(), body.clone());
        tokio::spawn(async move { request_at(&client, &base, Method::POST, &path, Some(key), Some(&body), &headers).await })
    };
    eventually(Duration::from_secs(30), "the refund reaches the gateway", async || (!refunds_at_gateway().await.is_empty()).then_some(())).await;
    serve.kill();
    let _ = first.await;
    client.put(format!("{}/admin/knobs", sim.url())).json(&settle_card::sim::Knobs::calm()).send().await.unwrap();
    let _serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    let mut last = String::new();
    let answered = within(Duration::from_secs(30), async || {
        let r = request_at(&client, &base, Method::POST, &path, Some(key), Some(&body), &headers).await;
        if r.status != 409 && r.status != 504 {
            return Some(r);
        }
        last = r.text;
        None
    })
    .await;
    let retry = answered.unwrap_or_else(|| panic!("the key stayed in flight: {last}"));
    assert_eq!(retry.status, 201, "{}", retry.text);
    let rid = retry.body["refundId"].as_str().unwrap().to_owned();
    let mut last = Value::Null;
    let ended = within(Duration::from_secs(60), async || {
        last = request_at(&client, &base, Method::GET, &format!("/v1/refunds/{rid}"), Some(key), None, &[]).await.body;
        (last["status"] != "PENDING").then(|| last.clone())
    })
    .await;
    let r = ended.unwrap_or_else(|| panic!("the refund stayed PENDING: {last}"));
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
    let listed = request_at(&client, &base, Method::GET, &path, Some(key), None, &[]).await.body;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "one refund for the key: {listed}");
    let at_gateway = refunds_at_gateway().await;
    assert_eq!(at_gateway.len(), 1, "refunded once: {at_gateway:?}");
    assert_eq!((at_gateway[0].refund_request_id.as_str(), at_gateway[0].status.as_str()), (rid.as_str(), "SUCCEEDED"));
    let p = request_at(&client, &base, Method::GET, &format!("/v1/payments/{id}"), Some(key), None, &[]).await.body;
    assert_eq!((p["amountRefunded"].as_str(), p["refundStatus"].as_str()), (Some("2500"), Some("partial")), "{p}");
    drop(_serve);
    sim.stop().await;
    db.drop_now().await;
}
