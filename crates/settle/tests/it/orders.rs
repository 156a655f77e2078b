//! Orders and the purchase saga against the real PG simulator, on every database: invariants, not status codes.

use std::{sync::Arc, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use settle_card::sim::Knobs;

use crate::{card::CARD, helpers::*, per_db};

per_db!(
    concurrent_orders_never_oversell_and_conserve_points,
    the_dispatcher_moves_past_events_not_its_own,
    a_declined_card_gives_everything_back,
    points_and_a_coupon_pay_without_the_gateway,
    refused_orders_change_nothing,
    an_unknown_outcome_waits_for_the_gateway_then_completes_or_compensates,
    orders_on_seed_004s_gateway_end_paid_or_cancelled_and_the_books_agree,
    a_gateway_that_is_down_compensates_at_once,
    a_charge_judged_unrecorded_that_the_gateway_recorded_is_never_given_back,
    what_the_gateway_showed_late_is_voided_when_nothing_was_said_charged,
    both_patterns_give_the_same_results,
    an_ended_saga_is_read_from_the_cache_and_never_replaced_by_an_older_one,
    choreography_under_concurrency_never_oversells_and_handles_each_event_once,
    an_unpaid_order_gives_everything_back_after_its_ttl,
    a_payment_that_ends_wakes_its_saga_and_the_sweep_writes_nothing,
    an_event_that_keeps_failing_is_parked_and_the_others_go_on
);

pub(crate) async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let r = app.post(path, &body).await;
    assert_eq!(r.status, 201, "{path}: {}", r.text);
    r.body
}

pub(crate) async fn points_of(app: &TestApp, user: &str) -> i64 {
    app.get(&format!("/v1/users/{user}")).await.body["points"].as_i64().unwrap()
}

pub(crate) async fn stock_of(app: &TestApp, item: &str) -> i64 {
    app.get(&format!("/v1/items/{item}")).await.body["stock"].as_i64().unwrap()
}

/// Waits until every saga has ended; returns the orders.
async fn wait_sagas_end(app: &TestApp, order_ids: &[String], limit: Duration) -> Vec<Value> {
    let orders = async || {
        let mut all = Vec::new();
        for id in order_ids {
            all.push(app.get(&format!("/v1/orders/{id}")).await.body);
        }
        all
    };
    let ended = |all: &[Value]| all.iter().all(|o| o["saga"]["status"] == "COMPLETED" || o["saga"]["status"] == "COMPENSATED");
    if let Some(all) = within(limit, async || Some(orders().await).filter(|all| ended(all))).await {
        return all;
    }
    let all = orders().await;
    let open: Vec<_> = all.iter().filter(|o| o["saga"]["status"] == "IN_PROGRESS").map(|o| o.to_string()).take(2).collect();
    assert!(ended(&all), "sagas still open: {open:?}");
    all
}

/// Waits until no saga of the merchant is open, then returns every order (with its payment and saga).
async fn all_orders_once_ended(app: &TestApp) -> Vec<Value> {
    let open = |stats: &Value| stats["byStatus"]["IN_PROGRESS"] != 0 || stats["byStatus"]["COMPENSATING"] != 0;
    if within(Duration::from_secs(60), async || Some(app.get("/v1/sagas/stats").await.body).filter(|s| !open(s))).await.is_none() {
        let stats = app.get("/v1/sagas/stats").await.body;
        assert!(!open(&stats), "sagas still open: {stats}");
    }
    let mut orders = Vec::new();
    for s in app.list_all("/v1/sagas?limit=100", "transactionId").await {
        orders.push(app.get(&format!("/v1/orders/{}", s["orderId"].as_str().unwrap())).await.body);
    }
    orders
}

/// Many users order the same item at once (stock 50, each order part points, part card): exactly 50 orders
/// are PAID, the stock ends at 0 and never below, every user's points plus what their paid orders spent equal
/// what they started with, and nothing answers 500.
async fn concurrent_orders_never_oversell_and_conserve_points(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    // SQLite serialises every write on one file: its share is smaller until the embedded default is tuned for
    // load ("the embedded default under load").
    let default = if v.db == Db::Sqlite { 100 } else { 1000 };
    let orders: usize = std::env::var("SETTLE_ORDER_LOAD").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let users = (orders / 10).max(2);
    create(&app, "/v1/items", json!({"itemId": "hot-item", "name": "Hot item", "price": 1000, "stock": 50})).await;
    for u in 0..users {
        create(&app, "/v1/users", json!({"userId": format!("u{u}"), "name": "Buyer", "points": 5000})).await;
    }
    let tasks: Vec<_> = (0..orders)
        .map(|i| {
            let app = app.clone();
            // A careful shop: when nothing was charged (503: the gateway's bulkhead was full, the order was
            // compensated at once) it orders again after a pause; an order refused for stock is final. (The pause is
            // the buyer's pace, in a task of its own: `eventually`'s borrowing async closure is not Send there.)
            tokio::spawn(async move {
                let body = json!({"userId": format!("u{}", i % users), "items": [{"itemId": "hot-item", "quantity": 1}],
                    "usePoints": 300, "card": {"cardType": "KB", "cardNo": CARD}});
                for _ in 0..200 {
                    let t0 = std::time::Instant::now();
                    let r = app.post("/v1/orders", &body).await;
                    let took = t0.elapsed();
                    match r.status.as_u16() {
                        201 => return (Some(r.body["order"]["orderId"].as_str().unwrap().to_owned()), took),
                        409 => {
                            assert_eq!(r.body["error"]["code"], "out_of_stock", "{}", r.text);
                            return (None, took);
                        }
                        503 => tokio::time::sleep(Duration::from_millis(100)).await,
                        other => panic!("unexpected {other}: {}", r.text),
                    }
                }
                panic!("no answer for order {i}");
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let mut placed = Vec::new();
    let mut latencies = Vec::new();
    for t in tasks {
        let (id, took) = t.await.unwrap();
        placed.extend(id);
        latencies.push(took);
        assert!(stock_of(&app, "hot-item").await >= 0);
    }
    // On SQLite a compensation can wait out writers for longer than the buyers keep trying, so some stock may be
    // given back after everyone was told "out of stock": never oversold, but not always all sold (see "the
    // embedded default under load"). PostgreSQL and MySQL sell exactly the stock.
    let exact = v.db != Db::Sqlite;
    assert!(!exact || placed.len() >= 50, "{} placed", placed.len());
    let ended = wait_sagas_end(&app, &placed, Duration::from_secs(120)).await;
    let settled = started.elapsed();
    // Figures for scripts/bench (nothing here is asserted about speed).
    latencies.sort();
    let pct = |l: &[Duration], p: usize| l[(l.len() * p / 100).min(l.len() - 1)].as_millis();
    let mut reads = Vec::new();
    for o in ended.iter().cycle().take(200) {
        let t0 = std::time::Instant::now();
        app.get(&format!("/v1/sagas/{}", o["saga"]["transactionId"].as_str().unwrap())).await;
        reads.push(t0.elapsed());
    }
    reads.sort();
    eprintln!(
        "ORDERS-BENCH {:?}: {orders} concurrent orders from {users} users for stock 50, all settled in {:.1} s; POST /orders p50 {} ms p95 {} ms p99 {} ms; GET /saga p95 {} ms",
        v.db,
        settled.as_secs_f64(),
        pct(&latencies, 50),
        pct(&latencies, 95),
        pct(&latencies, 99),
        pct(&reads, 95)
    );
    // Every order the shop holds, including one placed whose answer was an error (the buyer then ordered again):
    // the invariants are about all of them.
    let ended = all_orders_once_ended(&app).await;
    let paid: Vec<&Value> = ended.iter().filter(|o| o["order"]["status"] == "PAID").collect();
    assert!(paid.len() <= 50, "never oversold: {} paid", paid.len());
    assert!(!exact || paid.len() == 50, "exactly the stock is sold: {} paid", paid.len());
    assert_eq!(stock_of(&app, "hot-item").await, 50 - paid.len() as i64, "the stock left is what was not paid for");
    for o in &ended {
        let (order, saga, payment) = (&o["order"], &o["saga"], &o["payment"]);
        let sum = order["usedPoints"].as_i64().unwrap() + order["couponDiscount"].as_i64().unwrap() + order["paidAmount"].as_i64().unwrap();
        assert_eq!(sum, order["totalAmount"].as_i64().unwrap());
        match saga["status"].as_str().unwrap() {
            "COMPLETED" => assert_eq!((order["status"].as_str(), payment["status"].as_str()), (Some("PAID"), Some("COMPLETED")), "{o}"),
            _ => assert_eq!(order["status"], "CANCELLED", "{o}"),
        }
    }
    for u in 0..users {
        let user = format!("u{u}");
        let spent: i64 = paid.iter().filter(|o| o["order"]["userId"] == user.as_str()).map(|o| o["order"]["usedPoints"].as_i64().unwrap()).sum();
        assert_eq!(points_of(&app, &user).await + spent, 5000, "{user}: points conserved");
    }
    Arc::into_inner(app).unwrap().finish().await;
}

/// An order placed without a card waits for its payment; nobody pays it, and past the unpaid TTL (1 s here, 30
/// minutes by default) it gives back its stock, coupon and points, in both saga patterns: saga COMPENSATED, order
/// CANCELLED, payment FAILED (code `order_expired` in its history and its `payment.failed` event). A card paid afterwards is refused, nothing
/// charged. An order paid in time is left alone.
async fn an_unpaid_order_gives_everything_back_after_its_ttl(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.order_unpaid_ttl = Duration::from_secs(1);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "lamp", "name": "Lamp", "price": 1000, "stock": 10})).await;
    create(&app, "/v1/users", json!({"userId": "park", "name": "Park", "points": 5000})).await;
    create(&app, "/v1/coupons", json!({"couponId": "c100", "name": "100 off", "discount": 100})).await;
    let mut placed = Vec::new();
    for pattern in ["orchestration", "choreography"] {
        let issued = create(&app, "/v1/coupons/c100/issue", json!({"userId": "park"})).await;
        let body = json!({"userId": "park", "items": [{"itemId": "lamp", "quantity": 2}], "issuedCouponId": issued["issuedCouponId"],
            "usePoints": 400, "pattern": pattern});
        let r = app.post("/v1/orders", &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["saga"]["status"].as_str(), r.body["payment"]["status"].as_str()), (Some("IN_PROGRESS"), Some("PENDING")), "{}", r.text);
        // Held while unpaid (read from the answer: the TTL here is shorter than a read could be sure to beat).
        assert_eq!((r.body["order"]["usedPoints"].as_i64(), r.body["order"]["couponDiscount"].as_i64()), (Some(400), Some(100)), "{}", r.text);
        placed.push((r.body["order"]["orderId"].as_str().unwrap().to_owned(), issued["issuedCouponId"].as_str().unwrap().to_owned()));
    }
    for (order, coupon) in &placed {
        let ended = within(Duration::from_secs(30), async || {
            let o = app.get(&format!("/v1/orders/{order}")).await.body;
            (o["saga"]["status"] == "COMPENSATED").then_some(o)
        })
        .await
        .unwrap_or_else(|| panic!("the unpaid order {order} is given back"));
        assert_eq!(ended["order"]["status"], "CANCELLED", "{ended}");
        let payment = ended["payment"]["paymentId"].as_str().unwrap().to_owned();
        let p = app.get(&format!("/v1/payments/{payment}")).await.body;
        assert_eq!(p["status"], "FAILED", "{p}");
        assert!(p["failureMessage"].as_str().is_some_and(|m| m.contains("not paid within")), "{p}");
        let events = app.get(&format!("/v1/payments/{payment}/events")).await.body;
        let failed = events["data"].as_array().unwrap().iter().find(|e| e["eventType"] == "FAILED").cloned().unwrap_or_default();
        assert_eq!(failed["data"]["code"], "order_expired", "{events}");
        // Paid too late: refused, nothing charged.
        let late = app.pay(&payment, "KB", CARD, None).await;
        assert_eq!(late.status, 409, "{}", late.text);
        let c = settle_store::shop::find_issued(&app.ctx.db, DEMO_TENANT, coupon).await.unwrap().unwrap();
        assert_eq!(c.status, settle_domain::CouponStatus::Available, "the coupon is given back");
    }
    assert_eq!((stock_of(&app, "lamp").await, points_of(&app, "park").await), (10, 5000), "everything given back");
    app.finish().await;
}

/// A payment that ends wakes its order's saga through its event, in both patterns, with the recovery sweep resting
/// (an hour between passes here); and a sweep over 30 open sagas with nothing to do reads them and writes none
/// (it used to rewrite every open saga on each pass, and a decided saga waited for its turn).
async fn a_payment_that_ends_wakes_its_saga_and_the_sweep_writes_nothing(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.saga_sweep = Duration::from_secs(3600);
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    // Settle's own saga events reach no merchant: an endpoint for everything, the events API.
    let rx = crate::webhooks::Receiver::start(crate::webhooks::Behaviour::Ok).await;
    crate::webhooks::endpoint(&app, &rx.url, &["*"]).await;
    app.post("/v1/webhook-endpoints", &json!({"url": rx.url, "events": ["saga.*"]})).await.assert_error(400, "parameter_invalid");
    create(&app, "/v1/items", json!({"itemId": "mug", "name": "Mug", "price": 1000, "stock": 100})).await;
    create(&app, "/v1/users", json!({"userId": "lee", "name": "Lee", "points": 100_000})).await;
    let mut orders = Vec::new();
    for i in 0..32 {
        let pattern = if i % 2 == 0 { "orchestration" } else { "choreography" };
        let body = json!({"userId": "lee", "items": [{"itemId": "mug", "quantity": 1}], "usePoints": 100, "pattern": pattern});
        let r = app.post("/v1/orders", &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        orders.push(r.body);
    }
    // Choreographed orders reach their payment through the dispatcher.
    let payment_of = async |o: &Value| -> Option<(String, String)> {
        let o = app.get(&format!("/v1/orders/{}", o["order"]["orderId"].as_str().unwrap())).await.body;
        Some((o["payment"]["paymentId"].as_str()?.to_owned(), o["saga"]["transactionId"].as_str()?.to_owned()))
    };
    let mut open = Vec::new();
    for o in &orders {
        open.push(within(Duration::from_secs(30), async || payment_of(o).await).await.expect("the order has its payment"));
    }
    // One order of each pattern is paid; its saga ends by its payment's event alone.
    for (payment, saga) in &open[..2] {
        let r = app.pay(payment, "KB", CARD, None).await;
        // COMPLETED at once, or PROCESSING until the gateway's callback or the reconciler decides it.
        assert!(matches!(r.status.as_u16(), 200 | 202), "{}", r.text);
        let ended = within(Duration::from_secs(30), async || {
            let s = settle_store::orders::find_saga(&app.ctx.db, None, saga).await.unwrap().unwrap();
            (s.status == settle_domain::SagaStatus::Completed).then_some(s)
        })
        .await;
        assert!(ended.is_some(), "the saga {saga} of the paid payment {payment} ended without the sweep");
    }
    // The sweep over the 30 left open: it ends none and writes none.
    let before = async || {
        let mut rows = Vec::new();
        for (_, saga) in &open[2..] {
            let s = settle_store::orders::find_saga(&app.ctx.db, None, saga).await.unwrap().unwrap();
            rows.push((s.saga_id, s.status, s.version, s.updated_at));
        }
        rows
    };
    let was = before().await;
    tokio::time::sleep(Duration::from_millis(600)).await; // past the sweep's "a request is still driving it"
    let sweep = settle_app::orders::SagaWorker::new(app.ctx.clone());
    let ended = settle_app::worker::run_until_idle(|| sweep.run_once()).await.unwrap();
    assert_eq!(ended, 0, "nothing to end");
    assert_eq!(before().await, was, "the sweep wrote no saga it left open");
    assert!(was.iter().all(|s| s.1 == settle_domain::SagaStatus::InProgress), "{was:?}");
    assert_eq!(stock_of(&app, "mug").await, 100 - 32);
    // 32 payments created and 2 completed reach the endpoint; no saga event does (they came before the completions).
    let got = rx.wait_succeeded(34, Duration::from_secs(30)).await;
    assert!(got.len() >= 34, "{}", got.len());
    let kinds: Vec<String> = rx.got().iter().map(|g| serde_json::from_str::<Value>(&g.body).unwrap()["type"].as_str().unwrap().to_owned()).collect();
    assert!(!kinds.iter().any(|k| k.starts_with("saga.")), "{kinds:?}");
    let events = app.get("/v1/events?limit=100").await.body;
    let types: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"payment.created") && !types.iter().any(|t| t.starts_with("saga.")), "{types:?}");
    app.get("/v1/events?type=saga.completed").await.assert_error(400, "parameter_invalid");
    app.finish().await;
}

/// One choreographed saga's event keeps failing (a trigger refuses its transaction log: a fault of that event alone):
/// it is parked at once and every other saga goes on; tried again by itself 5 times over a second (5 minutes by
/// default), it then waits in the dead letters with its error for an operator. The janitor, a year on, deletes ended sagas' records, the events and their inbox rows, never the open saga's step results; the
/// operator's retry then handles the parked event from its own copy: once the fault is gone, the saga completes.
async fn an_event_that_keeps_failing_is_parked_and_the_others_go_on(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.park_after = Duration::from_secs(1);
    setup.settings.order_unpaid_ttl = Duration::from_secs(3);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let exec = async |sql: &str| settle_store::ConnectionTrait::execute_unprepared(app.ctx.db.writes(), sql).await.unwrap();
    // A trigger that refuses the rows of `table` where `cond` holds (named `name`).
    let refuse = |name: &str, table: &str, cond: &str| -> Vec<String> {
        match v.db {
            Db::Sqlite => {
                vec![format!("CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN NEW.{cond} BEGIN SELECT RAISE(ABORT, 'refused for the test'); END")]
            }
            Db::Postgres => vec![
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN IF NEW.{cond} THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                ),
                format!("CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"),
            ],
            Db::Mysql => vec![format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW BEGIN IF NEW.{cond} THEN \
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused for the test'; END IF; END"
            )],
        }
    };
    for sql in refuse("refuse_bad", "transaction_logs", "user_id = 'bad'").into_iter().chain(refuse("refuse_777", "payments", "amount = '777'")) {
        exec(&sql).await;
    }
    create(&app, "/v1/items", json!({"itemId": "pen", "name": "Pen", "price": 100, "stock": 100})).await;
    for user in ["bad", "good"] {
        create(&app, "/v1/users", json!({"userId": user, "name": user, "points": 1000})).await;
    }
    let order = async |user: &str| {
        let body = json!({"userId": user, "items": [{"itemId": "pen", "quantity": 1}], "usePoints": 100, "pattern": "choreography"});
        let r = app.post("/v1/orders", &body).await;
        assert!(r.status == 201 || r.status == 202, "{}", r.text);
        r.body["order"]["orderId"].as_str().unwrap().to_owned()
    };
    let saga_of = async |order: &str| app.get(&format!("/v1/orders/{order}")).await.body["saga"].clone();
    let bad = order("bad").await;
    // The bad saga reaches its last step, whose handler fails; only then are the others placed (behind it).
    let at_last = within(Duration::from_secs(30), async || Some(saga_of(&bad).await).filter(|s| s["currentStep"] == "PAYMENT")).await;
    assert!(at_last.is_some(), "{}", saga_of(&bad).await);
    let mut good = Vec::new();
    for _ in 0..3 {
        good.push(order("good").await);
    }
    let all_good = within(Duration::from_secs(60), async || {
        for o in &good {
            if saga_of(o).await["status"] != "COMPLETED" {
                return None;
            }
        }
        Some(())
    })
    .await;
    assert!(all_good.is_some(), "the other sagas went on: {}", saga_of(&good[0]).await);
    // Tried again by itself (5 times over a second here), then it waits for an operator.
    let letters = within(Duration::from_secs(30), async || {
        let r = app.request(Method::GET, "/v1/admin/dead-letters", Some(ADMIN_TOKEN), None, &[]).await;
        (r.status == 200 && r.body["data"].as_array().is_some_and(|d| d.len() == 1 && d[0].get("nextAttemptAt").is_none())).then_some(r)
    })
    .await;
    let letters = match letters {
        Some(l) => l,
        None => panic!("{}", app.request(Method::GET, "/v1/admin/dead-letters", Some(ADMIN_TOKEN), None, &[]).await.text),
    };
    let data = letters.body["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "{}", letters.text);
    let bad_saga = saga_of(&bad).await;
    let d = &data[0];
    assert_eq!(
        (d["consumer"].as_str(), d["topic"].as_str(), d["aggregateId"].as_str()),
        (Some("orders"), Some("saga.payment_created"), bad_saga["transactionId"].as_str()),
        "{d}"
    );
    assert!(d["error"].as_str().unwrap().contains("refused for the test") && d["attempts"].as_i64() >= Some(5), "{d}");
    assert_eq!(bad_saga["status"], "IN_PROGRESS", "{bad_saga}");
    // The dispatcher's read position moved past it (it used to stay before it for ever, rereading an ever longer
    // stretch until 500 events waited behind it, and then handling nothing at all).
    let (position, _) = settle_app::orders::progress(&app.ctx).await.unwrap();
    assert!(position >= d["eventSeq"].as_i64().unwrap(), "read up to {position}: {d}");
    // The gauge for the alert is the janitor's (one instance's, from the database).
    settle_app::janitor::Janitor::new(app.ctx.clone()).run_once().await.unwrap();
    let metrics = app.request(Method::GET, "/metrics", None, None, &[]).await.text;
    assert!(metrics.lines().any(|l| l == "settle_dead_letters 1"), "the alert's gauge");
    let retry = format!("/v1/admin/dead-letters/{}/retry", d["id"]);
    let again = app.request(Method::POST, &retry, Some(ADMIN_TOKEN), None, &[]).await;
    again.assert_error(409, "invalid_state");
    // A saga whose payment cannot be created (its event retried, or parked, before it) gives everything back after the
    // unpaid TTL (3 s here), and its event then finds nothing to do.
    create(&app, "/v1/items", json!({"itemId": "lamp", "name": "Lamp", "price": 1000, "stock": 5})).await;
    create(&app, "/v1/users", json!({"userId": "stuck", "name": "stuck", "points": 1000})).await;
    let body = json!({"userId": "stuck", "items": [{"itemId": "lamp", "quantity": 1}], "usePoints": 223, "pattern": "choreography"});
    app.post("/v1/orders", &body).await;
    let stuck = within(Duration::from_secs(60), async || {
        let s = app.get("/v1/sagas?userId=stuck").await.body["data"][0].clone();
        (s["status"] == "FAILED").then_some(s)
    })
    .await;
    let stuck = match stuck {
        Some(s) => s,
        None => panic!("the stuck saga gave everything back: {}", app.get("/v1/sagas?userId=stuck").await.text),
    };
    assert_eq!((stock_of(&app, "lamp").await, points_of(&app, "stuck").await), (5, 1000), "{stuck}");
    exec(if v.db == Db::Postgres { "DROP TRIGGER refuse_777 ON payments" } else { "DROP TRIGGER refuse_777" }).await;
    // Where its event was parked (the database's error counted as the event's own), a retry finds the saga past it:
    // handled once, nothing changes.
    let letters = app.request(Method::GET, "/v1/admin/dead-letters", Some(ADMIN_TOKEN), None, &[]).await.body;
    for d in letters["data"].as_array().unwrap().iter().filter(|d| d["consumer"] == "payments") {
        let again = format!("/v1/admin/dead-letters/{}/retry", d["id"]);
        assert_eq!(app.request(Method::POST, &again, Some(ADMIN_TOKEN), None, &[]).await.status, 200);
        assert_eq!(app.request(Method::POST, &again, Some(ADMIN_TOKEN), None, &[]).await.status, 404, "handled once");
    }
    assert_eq!((stock_of(&app, "lamp").await, points_of(&app, "stuck").await), (5, 1000));

    // A year on: the janitor deletes what outlived its retention, but never the open saga's step results.
    let year = 366 * 24 * 3600 * 1000;
    settle_app::janitor::Janitor::new(app.ctx.clone()).purge(settle_store::now_ms() + year).await.unwrap();
    let steps = async |o: &str| saga_of(o).await["steps"].as_array().map_or(0, Vec::len);
    assert_eq!(steps(&good[0]).await, 0, "an ended saga's step results are gone");
    assert!(steps(&bad).await >= 4, "the open saga keeps its step results: {}", saga_of(&bad).await);
    let db = &app.ctx.db;
    let oldest = settle_store::outbox::min_seq(db).await.unwrap();
    for c in settle_app::orders::Consumer::ALL {
        let kept = settle_store::orders::purge_inbox_below(db, c.name(), oldest, 1).await.unwrap();
        assert_eq!(kept, 0, "the inbox rows of purged events are gone");
    }
    // The fault is mended: the retry handles the parked event (the outbox no longer holds it) and the saga completes.
    exec(if v.db == Db::Postgres { "DROP TRIGGER refuse_bad ON transaction_logs" } else { "DROP TRIGGER refuse_bad" }).await;
    let ok = app.request(Method::POST, &retry, Some(ADMIN_TOKEN), None, &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(saga_of(&bad).await["status"], "COMPLETED");
    let letters = app.request(Method::GET, "/v1/admin/dead-letters", Some(ADMIN_TOKEN), None, &[]).await;
    assert_eq!(letters.body["data"], json!([]), "{}", letters.text);
    // The operator's retry is in the merchant's audit log.
    let audit = app.get("/v1/audit-log?action=dead_letter.retried").await;
    let target = d["id"].to_string();
    assert!(audit.body["data"].as_array().is_some_and(|a| a.iter().any(|e| e["targetId"] == target)), "{}", audit.text);
    assert_eq!((points_of(&app, "bad").await, points_of(&app, "good").await, stock_of(&app, "pen").await), (900, 700, 96));
    app.finish().await;
}

/// A declined card: the saga is compensated and the stock, the coupon, the points and the order are exactly as
/// before; the payment is FAILED.
async fn a_declined_card_gives_everything_back(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { decline_above: Some(1000), ..Knobs::calm() };
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 15000, "stock": 3})).await;
    create(&app, "/v1/users", json!({"userId": "kim", "name": "Kim", "points": 10000})).await;
    create(&app, "/v1/coupons", json!({"couponId": "welcome", "name": "Welcome", "discount": 3000})).await;
    let issued = create(&app, "/v1/coupons/welcome/issue", json!({"userId": "kim"})).await;
    let coupon = issued["issuedCouponId"].as_str().unwrap();
    let body = json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 2}], "issuedCouponId": coupon, "usePoints": 4000,
        "card": {"cardType": "KB", "cardNo": CARD}});
    let r = app.post("/v1/orders", &body).await;
    r.assert_error(402, "card_declined");
    let o = &r.body["error"]["order"];
    assert_eq!((o["order"]["totalAmount"].as_i64(), o["order"]["paidAmount"].as_i64()), (Some(30000), Some(23000)));
    assert_eq!(o["saga"]["status"], "COMPENSATED");
    assert_eq!(o["order"]["status"], "CANCELLED");
    assert_eq!(o["payment"]["status"], "FAILED");
    let steps: Vec<(&str, &str)> =
        o["saga"]["steps"].as_array().unwrap().iter().map(|s| (s["step"].as_str().unwrap(), s["outcome"].as_str().unwrap())).collect();
    let compensated: Vec<&str> = steps.iter().filter(|s| s.1 == "COMPENSATED").map(|s| s.0).collect();
    assert_eq!(compensated, ["CREATE_PAYMENT", "DEDUCT_POINTS", "USE_COUPON", "RESERVE_STOCK"], "reverse order: {steps:?}");
    assert_eq!(stock_of(&app, "sword").await, 3);
    assert_eq!(points_of(&app, "kim").await, 10000);
    // The coupon can be used again: an order the coupon pays alone.
    create(&app, "/v1/items", json!({"itemId": "dagger", "name": "Dagger", "price": 3000, "stock": 1})).await;
    let again = app.post("/v1/orders", &json!({"userId": "kim", "items": [{"itemId": "dagger", "quantity": 1}], "issuedCouponId": coupon})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["saga"]["status"], "COMPLETED");
    app.finish().await;
}

/// An order paid fully by points and a coupon is PAID at once and makes no gateway call.
async fn points_and_a_coupon_pay_without_the_gateway(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    create(&app, "/v1/items", json!({"itemId": "potion", "name": "Potion", "price": 500, "stock": 10})).await;
    create(&app, "/v1/users", json!({"userId": "lee", "name": "Lee", "points": 5000})).await;
    create(&app, "/v1/coupons", json!({"couponId": "c200", "name": "200 off", "discount": 200})).await;
    let issued = create(&app, "/v1/coupons/c200/issue", json!({"userId": "lee"})).await;
    let before = app.sim_stats().await.charge_requests;
    let r = app
        .post(
            "/v1/orders",
            &json!({"userId": "lee", "items": [{"itemId": "potion", "quantity": 3}], "issuedCouponId": issued["issuedCouponId"], "usePoints": 1300}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["order"]["status"].as_str(), r.body["saga"]["status"].as_str()), (Some("PAID"), Some("COMPLETED")));
    assert!(r.body["payment"].is_null());
    assert_eq!(app.sim_stats().await.charge_requests, before, "no gateway call");
    assert_eq!(points_of(&app, "lee").await, 3700);
    assert_eq!(stock_of(&app, "potion").await, 7);
    // The same Idempotency-Key places one order: the second answer is the first, replayed; another body is 422.
    let body = json!({"userId": "lee", "items": [{"itemId": "potion", "quantity": 1}], "usePoints": 500});
    let first = app.request(reqwest::Method::POST, "/v1/orders", Some(&app.key), Some(&body.to_string()), &[("idempotency-key", "order-once")]).await;
    let again = app.request(reqwest::Method::POST, "/v1/orders", Some(&app.key), Some(&body.to_string()), &[("idempotency-key", "order-once")]).await;
    assert_eq!((first.status.as_u16(), again.status.as_u16()), (201, 201), "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.body, again.body);
    let other = json!({"userId": "lee", "items": [{"itemId": "potion", "quantity": 2}], "usePoints": 1000});
    let r = app.request(reqwest::Method::POST, "/v1/orders", Some(&app.key), Some(&other.to_string()), &[("idempotency-key", "order-once")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(points_of(&app, "lee").await, 3200, "one order's points");
    assert_eq!(stock_of(&app, "potion").await, 6, "one order's potion");
    // seed 002's /purchase: the whole total in points.
    let r = app.post("/purchase", &json!({"userId": "lee", "itemId": "potion", "quantity": 2})).await;
    assert_eq!(r.status, 200, "seed 002's clients count only 200 as success: {}", r.text);
    assert_eq!(r.body["order"]["usedPoints"], 1000);
    assert_eq!(points_of(&app, "lee").await, 2200);
    let saga = app.get(&format!("/v1/sagas/{}", r.body["saga"]["transactionId"].as_str().unwrap())).await;
    assert_eq!(saga.body["status"], "COMPLETED", "{}", saga.text);
    app.finish().await;
}

/// Bad or refused orders answer 4xx with a precise code, and nothing changes: stock, points, coupons.
async fn refused_orders_change_nothing(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    create(&app, "/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 15000, "stock": 1})).await;
    create(&app, "/v1/items", json!({"itemId": "helmet", "name": "Helmet", "price": 1000, "stock": 5, "available": false})).await;
    create(&app, "/v1/users", json!({"userId": "kim", "name": "Kim", "points": 1000})).await;
    create(&app, "/v1/users", json!({"userId": "lee", "name": "Lee", "points": 1000, "purchaseLimit": 5000})).await;
    create(&app, "/v1/users", json!({"userId": "park", "name": "Park", "points": 1000, "status": "SUSPENDED"})).await;
    create(&app, "/v1/coupons", json!({"couponId": "c1", "name": "c1", "discount": 100})).await;
    let lees = create(&app, "/v1/coupons/c1/issue", json!({"userId": "lee"})).await;
    let card = json!({"cardType": "KB", "cardNo": CARD});
    let cases = [
        (json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 0}]}), 400, "parameter_invalid"),
        (json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": -1}]}), 400, "parameter_invalid"),
        (json!({"userId": "kim", "items": []}), 400, "parameter_invalid"),
        (json!({"userId": "kim", "items": [{"itemId": "nothing", "quantity": 1}]}), 404, "item_not_found"),
        (json!({"userId": "nobody", "items": [{"itemId": "sword", "quantity": 1}]}), 404, "user_not_found"),
        (json!({"userId": "park", "items": [{"itemId": "sword", "quantity": 1}]}), 409, "user_not_active"),
        (json!({"userId": "kim", "items": [{"itemId": "helmet", "quantity": 1}]}), 409, "item_not_available"),
        (json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 2}], "card": card}), 409, "out_of_stock"),
        (json!({"userId": "lee", "items": [{"itemId": "sword", "quantity": 1}], "card": card}), 409, "purchase_limit_exceeded"),
        (
            json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 1}], "issuedCouponId": lees["issuedCouponId"], "card": card}),
            409,
            "coupon_not_usable",
        ),
        (json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 1}], "usePoints": 5000, "card": card}), 409, "insufficient_balance"),
        (json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 1}], "usePoints": 20000}), 400, "amount_mismatch"),
        (
            json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 1}], "card": {"cardType": "KB", "cardNo": "1234"}}),
            400,
            "parameter_invalid",
        ),
        (json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 1}], "extra": 1}), 400, "parameter_invalid"),
    ];
    for (body, status, code) in cases {
        let r = app.post("/v1/orders", &body).await;
        assert_eq!((r.status.as_u16(), r.body["error"]["code"].as_str()), (status, Some(code)), "{body}: {}", r.text);
    }
    assert_eq!(stock_of(&app, "sword").await, 1);
    assert_eq!(stock_of(&app, "helmet").await, 5);
    for u in ["kim", "lee", "park"] {
        assert_eq!(points_of(&app, u).await, 1000, "{u}");
    }
    let lees_again = app
        .post("/v1/orders", &json!({"userId": "lee", "items": [{"itemId": "helmet", "quantity": 1}], "issuedCouponId": lees["issuedCouponId"]}))
        .await;
    assert_eq!(lees_again.body["error"]["code"], "item_not_available", "{}", lees_again.text);
    // The coupon is still usable by its owner.
    create(&app, "/v1/items", json!({"itemId": "cheap", "name": "Cheap", "price": 100, "stock": 1})).await;
    let r = app
        .post("/v1/orders", &json!({"userId": "lee", "items": [{"itemId": "cheap", "quantity": 1}], "issuedCouponId": lees["issuedCouponId"]}))
        .await;
    assert_eq!((r.status.as_u16(), r.body["saga"]["status"].as_str()), (201, Some("COMPLETED")), "{}", r.text);
    app.finish().await;
}

/// The gateway records the charge but its answer is lost: the outcome is unknown, so the order stays PLACED
/// (saga IN_PROGRESS) and nothing is compensated until the gateway's result arrives. A late SUCCESS makes the
/// order PAID; a late FAILED compensates it. Then `GET /sagas` and `/v1/sagas/stats` show both.
async fn an_unknown_outcome_waits_for_the_gateway_then_completes_or_compensates(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { fail_after_record_rate: 1.0, processing_ms: [1500, 1500], ..Knobs::calm() };
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 15000, "stock": 5})).await;
    create(&app, "/v1/users", json!({"userId": "kim", "name": "Kim", "points": 10000})).await;
    let order =
        json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 1}], "usePoints": 1000, "card": {"cardType": "KB", "cardNo": CARD}});

    let r = app.post("/v1/orders", &order).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["order"]["status"].as_str(), r.body["saga"]["status"].as_str()), (Some("PLACED"), Some("IN_PROGRESS")), "{}", r.text);
    let first = r.body["order"]["orderId"].as_str().unwrap().to_owned();
    let ended = wait_sagas_end(&app, std::slice::from_ref(&first), Duration::from_secs(60)).await;
    assert_eq!((ended[0]["order"]["status"].as_str(), ended[0]["saga"]["status"].as_str()), (Some("PAID"), Some("COMPLETED")), "{}", ended[0]);
    assert_eq!(ended[0]["payment"]["status"], "COMPLETED");

    crate::card_hardening::set_knobs(&app, &Knobs { fail_after_record_rate: 1.0, processing_ms: [1500, 1500], success_rate: 0.0, ..Knobs::calm() })
        .await;
    let r = app.post("/v1/orders", &order).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["saga"]["status"], "IN_PROGRESS", "an unknown outcome is never compensated blindly: {}", r.text);
    assert_eq!(stock_of(&app, "sword").await, 3, "held while the outcome is unknown");
    let second = r.body["order"]["orderId"].as_str().unwrap().to_owned();
    let ended = wait_sagas_end(&app, std::slice::from_ref(&second), Duration::from_secs(60)).await;
    assert_eq!((ended[0]["order"]["status"].as_str(), ended[0]["saga"]["status"].as_str()), (Some("CANCELLED"), Some("COMPENSATED")), "{}", ended[0]);
    assert_eq!(ended[0]["payment"]["status"], "FAILED");
    assert_eq!(stock_of(&app, "sword").await, 4, "the failed order's sword is back");
    assert_eq!(points_of(&app, "kim").await, 9000, "only the paid order's points are spent");

    let page = app.get("/v1/sagas?status=COMPENSATED&userId=kim&limit=10").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!((page.body["data"].as_array().map(Vec::len), page.body["hasMore"].as_bool()), (Some(1), Some(false)));
    assert_eq!(page.body["data"][0]["orderId"].as_str(), Some(second.as_str()));
    let stats = app.get("/v1/sagas/stats").await.body;
    assert_eq!(
        (stats["total"].as_i64(), stats["byStatus"]["COMPLETED"].as_i64(), stats["byStatus"]["COMPENSATED"].as_i64()),
        (Some(2), Some(1), Some(1)),
        "{stats}"
    );
    for (q, param) in
        [("status=DONE", "status"), ("limit=0", "limit"), ("page=1", "page"), ("createdFrom=yesterday", "createdFrom"), ("userId=%00", "userId")]
    {
        let r = app.get(&format!("/v1/sagas?{q}")).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some(param), "{q}");
    }
    app.finish().await;
}

/// The simulator at seed 004's defaults (40 % of requests fail, 100-500 ms latency, results 1-5 s later by
/// callback, 70 % succeed): every order ends PAID or CANCELLED; a PAID order has a COMPLETED payment, which the
/// gateway holds as exactly one un-voided SUCCESS, and a CANCELLED one none; stock and points add up. Orders
/// alternate between orchestration and choreography.
async fn orders_on_seed_004s_gateway_end_paid_or_cancelled_and_the_books_agree(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { seed: Some(2), ..Knobs::default() };
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let app = Arc::new(app);
    let (orders, users, stock) = (60usize, 10usize, 40i64);
    create(&app, "/v1/items", json!({"itemId": "chaos-sword", "name": "Sword", "price": 15000, "stock": stock})).await;
    for u in 0..users {
        create(&app, "/v1/users", json!({"userId": format!("u{u}"), "name": "Buyer", "points": 20000})).await;
    }
    let tasks: Vec<_> = (0..orders)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"userId": format!("u{}", i % users), "items": [{"itemId": "chaos-sword", "quantity": 1}],
                    "usePoints": 1000, "card": {"cardType": "SAMSUNG", "cardNo": CARD},
                    "pattern": if i % 2 == 0 { "orchestration" } else { "choreography" }});
                for _ in 0..200 {
                    let r = app.post("/v1/orders", &body).await;
                    match r.status.as_u16() {
                        201 | 402 => return Some(r.body["order"]["orderId"].as_str().unwrap().to_owned()),
                        409 => return None,
                        // The buyer's pace between tries (a spawned task: no `eventually` there, see above).
                        503 => tokio::time::sleep(Duration::from_millis(250)).await,
                        other => panic!("unexpected {other}: {}", r.text),
                    }
                }
                panic!("no answer for order {i}");
            })
        })
        .collect();
    let mut placed = Vec::new();
    for t in tasks {
        placed.extend(t.await.unwrap());
    }
    let ended = wait_sagas_end(&app, &placed, Duration::from_secs(120)).await;
    let mut payment_ids = Vec::new();
    let mut sold = 0;
    for o in &ended {
        let (order, saga, payment) = (&o["order"], &o["saga"], &o["payment"]);
        payment_ids.push(payment["paymentId"].as_str().unwrap().to_owned());
        match order["status"].as_str().unwrap() {
            "PAID" => {
                assert_eq!((saga["status"].as_str(), payment["status"].as_str()), (Some("COMPLETED"), Some("COMPLETED")), "{o}");
                sold += 1;
            }
            "CANCELLED" => {
                assert_eq!(saga["status"], "COMPENSATED", "{o}");
                assert_ne!(payment["status"], "COMPLETED", "{o}");
            }
            other => panic!("order ended {other}: {o}"),
        }
    }
    crate::card::wait_books_agree(&app, &payment_ids, Duration::from_secs(60)).await;
    assert_eq!(stock_of(&app, "chaos-sword").await, stock - sold, "stock sold is stock paid for");
    for u in 0..users {
        let user = format!("u{u}");
        let paid = ended.iter().filter(|o| o["order"]["userId"] == user.as_str() && o["order"]["status"] == "PAID").count() as i64;
        assert_eq!(points_of(&app, &user).await, 20000 - 1000 * paid, "{user}: points spent only by paid orders");
    }
    Arc::into_inner(app).unwrap().finish().await;
}

/// The gateway is down: nothing can be charged, so each order is compensated at once and answered 503
/// (`gateway_unavailable`, then `circuit_open` once the breaker opens and nothing is even sent); the stock and
/// points are exactly as before and every saga is COMPENSATED.
async fn a_gateway_that_is_down_compensates_at_once(v: Variant) {
    let (setup, _addr, sim) = crate::card_hardening::breaker_setup(v).await;
    let Some(app) = TestApp::spawn_with(setup).await else {
        sim.stop().await;
        return;
    };
    create(&app, "/v1/items", json!({"itemId": "down-sword", "name": "Sword", "price": 15000, "stock": 5})).await;
    create(&app, "/v1/users", json!({"userId": "down-kim", "name": "Kim", "points": 10000})).await;
    sim.stop().await;
    let order = json!({"userId": "down-kim", "items": [{"itemId": "down-sword", "quantity": 1}], "usePoints": 2000, "card": {"cardType": "KB", "cardNo": CARD}});
    let mut codes = Vec::new();
    for _ in 0..6 {
        let r = app.post("/v1/orders", &order).await;
        assert_eq!(r.status, 503, "{}", r.text);
        codes.push(r.body["error"]["code"].as_str().unwrap().to_owned());
        assert_eq!(stock_of(&app, "down-sword").await, 5);
        assert_eq!(points_of(&app, "down-kim").await, 10000);
    }
    assert_eq!(crate::card::circuit_of(&app).await, "open");
    assert_eq!(codes.last().map(String::as_str), Some("circuit_open"), "{codes:?}");
    let stats = app.get("/v1/sagas/stats").await.body;
    assert_eq!((stats["byStatus"]["COMPENSATED"].as_i64(), stats["byStatus"]["IN_PROGRESS"].as_i64()), (Some(6), Some(0)), "{stats}");
    let page = app.get("/v1/sagas?userId=down-kim&limit=100").await.body;
    for s in page["data"].as_array().unwrap() {
        let o = app.get(&format!("/v1/orders/{}", s["orderId"].as_str().unwrap())).await.body;
        assert_eq!((o["order"]["status"].as_str(), o["payment"]["status"].as_str()), (Some("CANCELLED"), Some("FAILED")), "{o}");
    }
    app.finish().await;
}

/// The gateway records each charge but answers 500, and shows a transaction to order lookups only 3 s after (far
/// slower than the client's `lookup_settle` assumes): the client judges the charge unrecorded, having tried it three
/// times, while the gateway's callback records the first. An order, orchestrated or choreographed, is never answered
/// "nothing was charged" and given back with its key forgotten (a retry would then charge the card again): it is
/// answered as it stands, PAID; a retry with its Idempotency-Key replays it; the gateway holds one un-voided SUCCESS
/// per order (the client's own retries' transactions are voided, found by the final check once lookups show them);
/// the stock and the points are what the paid orders take. A payment charged directly is answered as it stands too.
async fn a_charge_judged_unrecorded_that_the_gateway_recorded_is_never_given_back(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { fail_after_record_rate: 1.0, lookup_lag_ms: 3000, ..Knobs::calm() };
    // After the lag: the check that finds the retries' transactions.
    setup.settings.card.final_check_after = Duration::from_secs(5);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "lag-lamp", "name": "Lamp", "price": 10000, "stock": 5})).await;
    create(&app, "/v1/users", json!({"userId": "lag-lee", "name": "Lee", "points": 10000})).await;
    let mut payments = Vec::new();
    for pattern in ["orchestration", "choreography"] {
        let body = json!({"userId": "lag-lee", "items": [{"itemId": "lag-lamp", "quantity": 1}], "usePoints": 2000,
            "card": {"cardType": "KB", "cardNo": CARD}, "pattern": pattern})
        .to_string();
        let key = [("idempotency-key", pattern)];
        let send = || app.request(Method::POST, "/v1/orders", Some(&app.key), Some(&body), &key);
        let first = send().await;
        assert_eq!(first.status, 201, "{pattern}: answered as it stands, not 'nothing was charged': {}", first.text);
        let order_id = first.body["order"]["orderId"].as_str().unwrap().to_owned();
        let again = send().await;
        assert_eq!(again.status, 201, "{pattern}: {}", again.text);
        assert_eq!((again.header("idempotent-replayed"), again.body["order"]["orderId"].as_str()), (Some("true"), Some(order_id.as_str())));
        let ended = wait_sagas_end(&app, std::slice::from_ref(&order_id), Duration::from_secs(30)).await;
        let (order, payment) = (&ended[0]["order"], &ended[0]["payment"]);
        assert_eq!((order["status"].as_str(), payment["status"].as_str()), (Some("PAID"), Some("COMPLETED")), "{pattern}: {}", ended[0]);
        payments.push(payment["paymentId"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.get("/v1/sagas?userId=lag-lee&limit=100").await.body["data"].as_array().unwrap().len(), 2, "one order per pattern");
    assert_eq!((stock_of(&app, "lag-lamp").await, points_of(&app, "lag-lee").await), (3, 6000));
    crate::card::wait_books_agree(&app, &payments, Duration::from_secs(30)).await;
    let successes = app.sim_transactions().await.into_iter().filter(|t| t.status == settle_card::wire::GatewayStatus::Success).count();
    assert_eq!(successes, 2, "each order's card is charged once");

    // A payment charged directly: answered as it stands (202, recorded by the callback), not 503.
    let direct = app.create_card_payment("lag-direct", 5000).await;
    let r = app.pay(&direct, "KB", CARD, Some("lag-2")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_ne!(r.body["status"], "PENDING", "{}", r.text);
    payments.push(direct);
    crate::card::wait_books_agree(&app, &payments, Duration::from_secs(30)).await;
    app.finish().await;
}

/// The same gateway, whose callbacks are all lost: the client judges the charge unrecorded and nothing tells Settle
/// otherwise, so the order is answered 503 "nothing was charged" and given back (its payment FAILED), and a payment
/// charged directly stays PENDING. The gateway did record the charges (three each, the client's retries), and shows
/// them 3 s later: the final check each such charge schedules finds and voids them all once the payment has ended
/// (given back with its order; the direct one once it is cancelled), so no card is left charged for what Settle
/// said it did not charge.
async fn what_the_gateway_showed_late_is_voided_when_nothing_was_said_charged(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { fail_after_record_rate: 1.0, lookup_lag_ms: 3000, callback_drop_rate: 1.0, ..Knobs::calm() };
    setup.settings.card.final_check_after = Duration::from_secs(5);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    create(&app, "/v1/items", json!({"itemId": "late-lamp", "name": "Lamp", "price": 10000, "stock": 5})).await;
    create(&app, "/v1/users", json!({"userId": "late-lee", "name": "Lee", "points": 10000})).await;
    let order = json!({"userId": "late-lee", "items": [{"itemId": "late-lamp", "quantity": 1}], "usePoints": 2000,
        "card": {"cardType": "KB", "cardNo": CARD}, "pattern": "orchestration"});
    app.post("/v1/orders", &order).await.assert_error(503, "gateway_unavailable");
    assert_eq!((stock_of(&app, "late-lamp").await, points_of(&app, "late-lee").await), (5, 10000), "given back");
    let saga = &app.get("/v1/sagas?userId=late-lee&limit=1").await.body["data"][0];
    let placed = app.get(&format!("/v1/orders/{}", saga["orderId"].as_str().unwrap())).await.body;
    assert_eq!(placed["payment"]["status"], "FAILED", "{placed}");
    let given_back = placed["payment"]["paymentId"].as_str().unwrap().to_owned();

    let direct = app.create_card_payment("late-direct", 5000).await;
    app.pay(&direct, "KB", CARD, None).await.assert_error(503, "gateway_unavailable");
    assert_eq!(app.get(&format!("/v1/payments/{direct}")).await.body["status"], "PENDING");

    let c = app.post(&format!("/v1/payments/{direct}/cancel"), &json!({})).await;
    assert_eq!((c.status.as_u16(), c.body["status"].as_str()), (200, Some("CANCELLED")), "{}", c.text);

    let ids = [given_back, direct];
    let recorded = |txs: &[settle_card::wire::Transaction]| ids.iter().map(|id| txs.iter().filter(|t| &t.order_id == id).count()).collect::<Vec<_>>();
    assert_eq!(recorded(&app.sim_transactions().await), [3, 3], "the gateway recorded every try");
    crate::card::wait_books_agree(&app, &ids, Duration::from_secs(30)).await;
    let kept = app.sim_transactions().await.into_iter().filter(|t| t.status == settle_card::wire::GatewayStatus::Success).count();
    assert_eq!(kept, 0, "nothing is left charged");
    app.finish().await;
}

/// `settle serve` is killed (SIGKILL) while orders are in flight, three times, and started again on the same
/// database, with the gateway (`settle pg-sim`) living on, orders orchestrated and choreographed: every saga ends COMPLETED or COMPENSATED, a PAID
/// order has a COMPLETED payment that the gateway holds as exactly one un-voided SUCCESS, and the stock and the
/// points add up to what PAID orders took.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settle_killed_mid_saga_ends_every_saga_once() {
    settle_card::tls::ensure_crypto_provider();
    let dir = TempDir::new();
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sim_port = free();
    let _sim = Process::start(
        &dir,
        &["pg-sim", "--listen", &format!("127.0.0.1:{sim_port}"), "--failure-rate", "0.1", "--latency-ms", "0,50", "--processing-ms", "200,800"],
        &[],
        "PG simulator listening",
    );
    let port = free();
    let env = [
        ("SETTLE_LISTEN", format!("127.0.0.1:{port}")),
        ("SETTLE_PG_URL", format!("http://127.0.0.1:{sim_port}")),
        ("SETTLE_PG_TEST_URL", format!("http://127.0.0.1:{sim_port}")),
        // A charge cut off before the gateway recorded it is failed at the reconcile deadline: short here.
        ("SETTLE_RECONCILE_AFTER_SECS", "2".to_owned()),
        ("SETTLE_RECONCILE_BACKOFF_SECS", "1,2".to_owned()),
        ("SETTLE_RECONCILE_DEADLINE_SECS", "25".to_owned()),
        ("SETTLE_PG_TIMEOUT_MS", "2000".to_owned()),
        ("SETTLE_PG_CONNECT_TIMEOUT_MS", "500".to_owned()),
        ("SETTLE_PG_CHARGE_RETRIES", "1".to_owned()),
    ];
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let key = settle_app::merchants::DEMO_API_KEY;
    let get = |path: String| {
        let (client, base) = (client.clone(), base.clone());
        async move { request_at(&client, &base, reqwest::Method::GET, &path, Some(key), None, &[]).await }
    };
    let start_points = [("user-123", 100_000i64), ("user-456", 50_000)];
    for round in 0..3 {
        let mut serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let (client, base) = (client.clone(), base.clone());
                tokio::spawn(async move {
                    let body = json!({"userId": if i % 2 == 0 { "user-123" } else { "user-456" }, "items": [{"itemId": "item-potion", "quantity": 1 + i % 3}],
                        "usePoints": 100, "card": {"cardType": "HYUNDAI", "cardNo": CARD},
                        "pattern": if (i / 2) % 2 == 0 { "orchestration" } else { "choreography" }});
                    // Cut off by the kill, or answered; either way the saga must end on its own.
                    let _ = client.post(format!("{base}/v1/orders")).bearer_auth(key).json(&body).send().await;
                })
            })
            .collect();
        // The fault schedule: each round is killed a little later, with orders in flight.
        tokio::time::sleep(Duration::from_millis(300 + 200 * round)).await;
        serve.kill();
        for t in tasks {
            let _ = t.await;
        }
    }
    let _serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    // Every saga ends (the dead instances' leases expire, cut-off charges count as never started, the
    // reconciler settles what callbacks missed).
    let ended = |stats: &Value| {
        let open = stats["byStatus"]["IN_PROGRESS"].as_i64().unwrap_or(-1) + stats["byStatus"]["COMPENSATING"].as_i64().unwrap_or(0);
        open == 0 && stats["total"].as_i64().unwrap_or(0) > 0
    };
    if within(Duration::from_secs(90), async || Some(get("/v1/sagas/stats".into()).await.body).filter(|s| ended(s))).await.is_none() {
        let stats = get("/v1/sagas/stats".into()).await.body;
        assert!(ended(&stats), "sagas still open: {stats}");
    }
    let mut orders = Vec::new();
    let mut after = String::new();
    loop {
        let p = get(format!("/v1/sagas?limit=100{after}")).await.body;
        let data = p["data"].as_array().unwrap();
        for s in data {
            orders.push(get(format!("/v1/orders/{}", s["orderId"].as_str().unwrap())).await.body);
        }
        match data.last() {
            Some(last) if p["hasMore"] == true => after = format!("&startingAfter={}", last["transactionId"].as_str().unwrap()),
            _ => break,
        }
    }
    assert!(orders.len() >= 10, "orders were placed before the kills: {}", orders.len());
    let txs: Vec<settle_card::wire::Transaction> =
        client.get(format!("http://127.0.0.1:{sim_port}/admin/transactions")).send().await.unwrap().json().await.unwrap();
    let mut potions_sold = 0;
    let patterns: std::collections::BTreeSet<&str> = orders.iter().filter_map(|o| o["saga"]["pattern"].as_str()).collect();
    assert_eq!(patterns.len(), 2, "both patterns were cut off: {patterns:?}");
    for o in &orders {
        let (order, saga, payment) = (&o["order"], &o["saga"], &o["payment"]);
        let pid = payment["paymentId"].as_str().unwrap_or("none");
        let successes = txs.iter().filter(|t| t.order_id == pid && t.status == settle_card::wire::GatewayStatus::Success).count();
        match order["status"].as_str().unwrap() {
            "PAID" => {
                assert_eq!((saga["status"].as_str(), payment["status"].as_str(), successes), (Some("COMPLETED"), Some("COMPLETED"), 1), "{o}");
                potions_sold += order["items"][0]["quantity"].as_i64().unwrap();
            }
            "CANCELLED" => assert_eq!((saga["status"].as_str(), successes), (Some("COMPENSATED"), 0), "{o}"),
            other => panic!("order ended {other}: {o}"),
        }
    }
    assert_eq!(get("/v1/items/item-potion".into()).await.body["stock"].as_i64().unwrap(), 1000 - potions_sold);
    for (user, start) in start_points {
        let spent: i64 = orders
            .iter()
            .filter(|o| o["order"]["userId"] == user && o["order"]["status"] == "PAID")
            .map(|o| o["order"]["usedPoints"].as_i64().unwrap())
            .sum();
        assert_eq!(get(format!("/v1/users/{user}")).await.body["points"].as_i64().unwrap() + spent, start, "{user}");
    }
}

/// The same scenarios, once orchestrated and once choreographed, each on its own items, users and coupons:
/// the same answers (status and code), the same orders (status and amounts), the same stock, points and
/// coupons afterwards. A refused choreographed order leaves a FAILED saga with its steps compensated, where
/// orchestration writes nothing.
async fn both_patterns_give_the_same_results(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { decline_above: Some(50_000), ..Knobs::calm() };
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let mut outcomes = Vec::new();
    for p in ["orchestration", "choreography"] {
        for (item, price, stock, available) in
            [("sword", 15000, 3, true), ("potion", 500, 10, true), ("helmet", 1000, 5, false), ("rare", 100000, 1, true)]
        {
            create(&app, "/v1/items", json!({"itemId": format!("{item}-{p}"), "name": item, "price": price, "stock": stock, "available": available}))
                .await;
        }
        for (user, points, limit, status) in [("kim", 10000, 0, "ACTIVE"), ("lee", 1000, 5000, "ACTIVE"), ("park", 1000, 0, "SUSPENDED")] {
            create(
                &app,
                "/v1/users",
                json!({"userId": format!("{user}-{p}"), "name": user, "points": points, "purchaseLimit": limit, "status": status}),
            )
            .await;
        }
        let coupon = format!("c3000-{p}");
        create(&app, "/v1/coupons", json!({"couponId": coupon, "name": "3000 off", "discount": 3000})).await;
        let issue = |user: String| {
            let (app, coupon) = (&app, coupon.clone());
            async move {
                create(app, &format!("/v1/coupons/{coupon}/issue"), json!({"userId": user})).await["issuedCouponId"].as_str().unwrap().to_owned()
            }
        };
        let (kims, kims_second, lees) = (issue(format!("kim-{p}")).await, issue(format!("kim-{p}")).await, issue(format!("lee-{p}")).await);
        let card = json!({"cardType": "KB", "cardNo": CARD});
        let line = |item: &str, q: i64| json!([{"itemId": format!("{item}-{p}"), "quantity": q}]);
        let (kim, lee, park) = (format!("kim-{p}"), format!("lee-{p}"), format!("park-{p}"));
        let scenarios = [
            ("/v1/orders", json!({"userId": kim, "items": line("sword", 2), "issuedCouponId": kims, "usePoints": 4000, "card": card})),
            ("/v1/orders", json!({"userId": kim, "items": line("potion", 3), "usePoints": 1500})),
            // Declined (above 50,000): everything given back, the second coupon too.
            ("/v1/orders", json!({"userId": kim, "items": line("rare", 1), "issuedCouponId": kims_second, "usePoints": 1000, "card": card})),
            ("/v1/orders", json!({"userId": park, "items": line("potion", 1)})),
            ("/v1/orders", json!({"userId": "nobody", "items": line("potion", 1)})),
            ("/v1/orders", json!({"userId": kim, "items": line("nothing", 1)})),
            ("/v1/orders", json!({"userId": kim, "items": line("helmet", 1)})),
            ("/v1/orders", json!({"userId": kim, "items": line("sword", 5), "card": card})),
            ("/v1/orders", json!({"userId": lee, "items": line("sword", 1), "card": card})),
            ("/v1/orders", json!({"userId": kim, "items": line("potion", 1), "issuedCouponId": lees, "card": card})),
            ("/v1/orders", json!({"userId": kim, "items": line("sword", 1), "usePoints": 20000})),
            ("/v1/orders", json!({"userId": kim, "items": line("sword", 1), "usePoints": 5000, "card": card})),
            // The second coupon is usable again after the decline.
            ("/v1/orders", json!({"userId": kim, "items": line("potion", 2), "issuedCouponId": kims_second})),
            ("/purchase", json!({"userId": kim, "itemId": format!("potion-{p}"), "quantity": 2})),
        ];
        let mut seen = Vec::new();
        for (path, mut body) in scenarios {
            body["pattern"] = json!(p);
            let mut r = app.post(path, &body).await;
            // A declined order is inside the error envelope.
            if r.status == 402 {
                r.body = r.body["error"]["order"].clone();
            }
            // The end of each order (a card result comes by callback, a moment after the answer).
            let ended = match r.body["order"]["orderId"].as_str() {
                Some(id) => wait_sagas_end(&app, &[id.to_owned()], Duration::from_secs(20)).await.remove(0),
                None => r.body.clone(),
            };
            let o = &ended["order"];
            seen.push(json!({
                "status": r.status.as_u16(), "code": r.body["error"]["code"], "saga": ended["saga"]["status"], "order": o["status"],
                "amounts": [o["totalAmount"], o["couponDiscount"], o["usedPoints"], o["paidAmount"]], "payment": ended["payment"]["status"],
            }));
            if r.status == 201 || r.status == 200 || r.status == 402 {
                assert_eq!(r.body["saga"]["pattern"], p, "{}", r.text);
                let (total, parts) =
                    (o["totalAmount"].as_i64().unwrap(), ["couponDiscount", "usedPoints", "paidAmount"].map(|k| o[k].as_i64().unwrap()));
                assert_eq!(parts.iter().sum::<i64>(), total, "usedPoints + couponDiscount + paidAmount == totalAmount: {o}");
            }
        }
        for item in ["sword", "potion", "helmet", "rare"] {
            seen.push(json!({"stock": item, "left": stock_of(&app, &format!("{item}-{p}")).await}));
        }
        for user in ["kim", "lee", "park"] {
            seen.push(json!({"points": user, "left": points_of(&app, &format!("{user}-{p}")).await}));
        }
        outcomes.push(seen);
    }
    assert_eq!(outcomes[0], outcomes[1], "orchestration and choreography differ");
    assert_eq!(outcomes[0][0]["saga"], "COMPLETED");
    assert_eq!((outcomes[0][2]["status"].as_u64(), outcomes[0][2]["saga"].as_str()), (Some(402), Some("COMPENSATED")));
    assert_eq!(outcomes[0][7]["code"], "out_of_stock");
    // A refused choreographed order: its saga FAILED, and what the steps before the refusal took given back,
    // step by step in reverse (refused at DEDUCT_POINTS: the coupon step and the stock step).
    let failed = app.get("/v1/sagas?status=FAILED&userId=kim-choreography&limit=100").await.body;
    assert!(failed["data"].as_array().unwrap().len() >= 4, "{failed}");
    let refused =
        failed["data"].as_array().unwrap().iter().find(|s| s["error"].as_str().is_some_and(|e| e.starts_with("insufficient_balance"))).unwrap();
    let steps: Vec<String> =
        refused["steps"].as_array().unwrap().iter().map(|s| format!("{}:{}", s["step"].as_str().unwrap(), s["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        steps,
        ["CHECK_USER:DONE", "RESERVE_STOCK:DONE", "USE_COUPON:DONE", "USE_COUPON:COMPENSATED", "RESERVE_STOCK:COMPENSATED"],
        "{refused}"
    );
    assert_eq!(app.get("/v1/sagas?status=FAILED&userId=kim-orchestration").await.body["data"], serde_json::json!([]));
    app.finish().await;
}

/// Choreography under load: 100 orders from 20 users at once for stock 20 (part points, part card): exactly 20
/// PAID, stock 0, points conserved, no 500. Then the outbox is read again from the start, as after a crash that
/// lost the read position: the inbox keeps every handler from running twice (nothing changes, no event is
/// handled twice).
async fn choreography_under_concurrency_never_oversells_and_handles_each_event_once(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    create(&app, "/v1/items", json!({"itemId": "gem", "name": "Gem", "price": 3000, "stock": 20})).await;
    for u in 0..20 {
        create(&app, "/v1/users", json!({"userId": format!("u{u}"), "name": "u", "points": 5000})).await;
    }
    let mut tasks = Vec::new();
    for n in 0..100 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"userId": format!("u{}", n % 20), "items": [{"itemId": "gem", "quantity": 1}], "usePoints": 1000,
                "card": {"cardType": "KB", "cardNo": CARD}, "pattern": "choreography"});
            let r = app.post("/v1/orders", &body).await;
            assert!(r.status.as_u16() < 500, "{}", r.text);
            r
        }));
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let started = std::time::Instant::now();
    for t in tasks {
        *statuses.entry(t.await.unwrap().status.as_u16()).or_default() += 1;
    }
    let answered = started.elapsed();
    let orders = all_orders_once_ended(&app).await;
    let mut ends = std::collections::BTreeMap::<String, usize>::new();
    for o in &orders {
        *ends.entry(format!("{}/{}/{}", o["order"]["status"], o["saga"]["status"], o["payment"]["status"])).or_default() += 1;
    }
    eprintln!("CHOREOGRAPHY: 100 orders answered in {answered:?}, all ended in {:?}: {statuses:?} {ends:?}", started.elapsed());
    assert_eq!(orders.len(), 100, "{statuses:?}");
    let paid: Vec<&Value> = orders.iter().filter(|o| o["order"]["status"] == "PAID").collect();
    assert_eq!(paid.len(), 20, "exactly the stock is sold: {statuses:?}");
    assert!(orders.iter().all(|o| o["order"]["status"] == "PAID" || o["order"]["status"] == "CANCELLED"));
    assert!(paid.iter().all(|o| o["payment"]["status"] == "COMPLETED" && o["saga"]["status"] == "COMPLETED"));
    assert_eq!(stock_of(&app, "gem").await, 0);
    let spent_total: i64 = paid.iter().map(|o| o["order"]["usedPoints"].as_i64().unwrap()).sum();
    let mut left_total = 0;
    for u in 0..20 {
        left_total += points_of(&app, &format!("u{u}")).await;
    }
    assert_eq!(left_total + spent_total, 20 * 5000, "points conserved");
    // Read everything again.
    let (offset, handled) = settle_app::orders::progress(&app.ctx).await.unwrap();
    assert!(offset > 0 && handled.iter().all(|(_, n)| *n > 0), "{offset} {handled:?}");
    settle_app::orders::rewind(&app.ctx).await.unwrap();
    eventually(Duration::from_secs(30), "the dispatcher reads the outbox again", async || {
        (settle_app::orders::progress(&app.ctx).await.unwrap().0 >= offset).then_some(())
    })
    .await;
    assert_eq!(settle_app::orders::progress(&app.ctx).await.unwrap().1, handled, "no event handled twice");
    assert_eq!(stock_of(&app, "gem").await, 0);
    let mut again = 0;
    for u in 0..20 {
        again += points_of(&app, &format!("u{u}")).await;
    }
    assert_eq!(again, left_total, "nothing given back twice");
    assert_eq!(app.get("/v1/sagas/stats").await.body["byStatus"]["COMPLETED"], 20);
    Arc::into_inner(app).unwrap().finish().await;
}

/// `GET /saga/{id}` through the cache: a running saga is read from the database (its steps go on changing), an
/// ended one is cached under its merchant, an older version never replaces a newer one, and another merchant
/// cannot read it.
async fn an_ended_saga_is_read_from_the_cache_and_never_replaced_by_an_older_one(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    create(&app, "/v1/items", json!({"itemId": "potion", "name": "Potion", "price": 500, "stock": 10})).await;
    create(&app, "/v1/users", json!({"userId": "lee", "name": "Lee", "points": 5000})).await;
    // Waiting for a card: IN_PROGRESS, not cached; once paid, the read shows COMPLETED at once.
    let waiting = create(&app, "/v1/orders", json!({"userId": "lee", "items": [{"itemId": "potion", "quantity": 2}]})).await;
    let saga_id = waiting["saga"]["transactionId"].as_str().unwrap().to_owned();
    let key = format!("saga:{}:{DEMO_TENANT}:{saga_id}", DEMO_TENANT.len());
    assert_eq!(app.get(&format!("/v1/sagas/{saga_id}")).await.body["status"], "IN_PROGRESS");
    assert!(app.ctx.cache.get_doc(&key).await.is_none(), "a running saga is not cached");
    let pid = waiting["payment"]["paymentId"].as_str().unwrap();
    let r = app.pay(pid, "KB", CARD, None).await;
    assert!(r.status.is_success(), "{}", r.text);
    let ended = wait_sagas_end(&app, &[waiting["order"]["orderId"].as_str().unwrap().to_owned()], Duration::from_secs(20)).await;
    assert_eq!(ended[0]["saga"]["status"], "COMPLETED");
    let read = app.get(&format!("/v1/sagas/{saga_id}")).await.body;
    assert_eq!(read["status"], "COMPLETED");
    let version = read["version"].as_i64().unwrap();
    let cached: Value = serde_json::from_str(&app.ctx.cache.get_doc(&key).await.expect("an ended saga is cached")).unwrap();
    assert_eq!(cached, read);
    // An older version (a slow reader's) never replaces it.
    let mut old = read.clone();
    old["status"] = json!("IN_PROGRESS");
    old["version"] = json!(version - 1);
    app.ctx.cache.put_doc(&key, version - 1, old.to_string()).await;
    assert_eq!(app.get(&format!("/v1/sagas/{saga_id}")).await.body["status"], "COMPLETED");
    // Reads are served from the entry (one marked here, as a newer version, to tell it apart).
    let mut marked = read.clone();
    marked["version"] = json!(version + 1);
    marked["error"] = json!("read from the cache");
    app.ctx.cache.put_doc(&key, version + 1, marked.to_string()).await;
    assert_eq!(app.get(&format!("/v1/sagas/{saga_id}")).await.body["error"], "read from the cache");
    // Another merchant's key reads nothing of it.
    let other = app.other_merchant("Other shop").await;
    let r = app.request(reqwest::Method::GET, &format!("/v1/sagas/{saga_id}"), Some(&other), None, &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    app.finish().await;
}

/// The choreography's dispatcher reads only saga events, and its read position moves past every other event too.
/// It stayed at the last saga event before: every pass read again each payment event published since (82 ms a
/// pass on PostgreSQL under a create load, a pass for every relay batch).
async fn the_dispatcher_moves_past_events_not_its_own(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    for i in 0..110 {
        let r = app.post("/v1/payments", &TestApp::chain_payment(&format!("not-a-saga-{i}"))).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    app.drain_outbox().await;
    let last = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    let offset = eventually(Duration::from_secs(20), &format!("the read position moves to within 100 of {last}"), async || {
        let (offset, handled) = settle_app::orders::progress(&app.ctx).await.unwrap();
        assert!(handled.iter().all(|(_, n)| *n == 0), "no saga event: {handled:?}");
        (offset >= last - 100).then_some(offset)
    })
    .await;
    assert!(offset > 0 && offset <= last, "{offset} of {last}");
    app.finish().await;
}
