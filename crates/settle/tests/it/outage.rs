use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::Method;

use crate::helpers::*;

mod database_outage {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::database_outage_is_a_503_and_recovers(Variant { db: Db::Postgres, cache: Cache::Redis }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql() {
        super::database_outage_is_a_503_and_recovers(Variant { db: Db::Mysql, cache: Cache::Memory }).await
    }
}

/// The database connection is cut (a proxy drops every connection and refuses new ones): requests that need
/// the database get 503 in the envelope, never a 500; /health is 503; once the network is back, Settle
/// reconnects by itself and nothing that was acknowledged is lost.
async fn database_outage_is_a_503_and_recovers(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(real) = TestDb::create(v.db).await else { return };
    let proxy = Proxy::start(real.server_addr().expect("server address")).await;
    let app = TestApp::start(Setup::new(v), Arc::new(real.via(proxy.addr))).await;
    let p1 = app.create_payment("before-outage").await;
    let id1 = p1["paymentId"].as_str().unwrap().to_owned();

    proxy.cut();
    let started = Instant::now();
    let r = app.post("/v1/payments", &TestApp::chain_payment("during-outage")).await;
    r.assert_error(503, "database_unavailable");
    assert!(r.header("retry-after").is_some());
    app.get(&format!("/v1/payments/{id1}")).await.assert_error(503, "database_unavailable");
    app.get("/v1/payments").await.assert_error(503, "database_unavailable");
    let h = app.request(Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 503, "{}", h.text);
    assert_eq!(h.body["database"]["status"], "unavailable");
    assert_eq!(app.request(Method::GET, "/health/ready", None, None, &[]).await.status, 503);
    assert_eq!(app.request(Method::GET, "/health/live", None, None, &[]).await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(60), "failures are bounded in time");

    proxy.restore();
    eventually(Duration::from_secs(10), "Settle reconnects by itself", async || {
        (app.request(Method::GET, "/health", None, None, &[]).await.status == 200).then_some(())
    })
    .await;
    let p2 = app.create_payment("after-outage").await;
    assert_eq!(app.get(&format!("/v1/payments/{id1}")).await.body, stored(&p1), "acknowledged before the outage, still there");
    let list = app.get("/v1/payments?limit=100").await;
    let orders: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|p| p["orderId"].as_str().unwrap()).collect();
    assert_eq!(orders, ["after-outage", "before-outage"], "the refused create left nothing behind");
    assert_eq!(p2["status"], "PENDING");
    app.finish().await;
}

/// An idle outbox relay only reads: while another connection holds SQLite's write lock (the database's only
/// one), the relay's pass with nothing to publish still answers at once instead of queueing for the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_relay_takes_no_write_lock() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    app.drain_outbox().await;
    let relay = settle_app::outbox::Relay::new(app.ctx.clone());
    relay.run_once().await.expect("takes the lease while nothing is locked");
    let other = settle_store::connect(&app.db.url, 1).await.unwrap();
    let writer = settle_store::begin(&other).await.expect("the write lock");
    let pass = tokio::time::timeout(Duration::from_secs(3), relay.run_once()).await;
    assert!(matches!(pass, Ok(Ok(settle_app::worker::Outcome::Idle))), "an idle pass waited for the write lock: {pass:?}");
    writer.rollback().await.unwrap();
    app.finish().await;
}

/// A transaction the database rolls back for contention (a serialization failure, SQLSTATE 40001, raised here by
/// a trigger on PostgreSQL the first times a payment is inserted) is run again inside Settle: rolled back once,
/// the create succeeds with one payment; rolled back every time, it is a 503 `database_busy` with Retry-After,
/// never a 409 or a 500, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_rolled_back_for_contention_is_tried_again_then_answered_503() {
    use settle_store::ConnectionTrait;
    let Some(app) = TestApp::spawn(Variant { db: Db::Postgres, cache: Cache::Memory }).await else { return };
    let db = &app.ctx.db;
    for sql in [
        "CREATE SEQUENCE contention_tries",
        "CREATE TABLE contention_limit (n BIGINT NOT NULL)",
        "INSERT INTO contention_limit VALUES (1)",
        "CREATE FUNCTION contention() RETURNS trigger AS $$ BEGIN \
           IF nextval('contention_tries') <= (SELECT n FROM contention_limit) THEN \
             RAISE EXCEPTION 'simulated contention' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER contention BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION contention()",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    let card = |order: &str| serde_json::json!({"orderId": order, "amount": "1000", "currency": "KRW", "rail": "CARD"});
    let r = app.post("/v1/payments", &card("contended-once")).await;
    assert_eq!(r.status, 201, "rolled back once, then committed: {}", r.text);
    db.execute_unprepared("UPDATE contention_limit SET n = 1000000").await.unwrap();
    let r = app.post("/v1/payments", &card("contended-always")).await;
    assert_eq!((r.status.as_u16(), r.body["error"]["code"].as_str()), (503, Some("database_busy")), "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("1"));
    let tries =
        db.query_one_raw(settle_store::Statement::from_string(settle_store::DbBackend::Postgres, "SELECT last_value FROM contention_tries")).await;
    let tries: i64 = tries.unwrap().unwrap().try_get_by_index(0).unwrap();
    assert_eq!(tries, 2 + 3, "one retry for the first create, three tries in all for the second");
    db.execute_unprepared("DROP TRIGGER contention ON payments").await.unwrap();
    let listed = app.get("/v1/payments?orderId=contended-always").await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(0), "nothing written: {}", listed.text);
    let listed = app.get("/v1/payments?orderId=contended-once").await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1), "{}", listed.text);
    app.finish().await;
}
