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
    let r = app.post("/payments/create", &TestApp::chain_payment("during-outage")).await;
    r.assert_error(503, "database_unavailable");
    assert!(r.header("retry-after").is_some());
    app.get(&format!("/payments/{id1}")).await.assert_error(503, "database_unavailable");
    app.get("/payments").await.assert_error(503, "database_unavailable");
    let h = app.request(Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 503, "{}", h.text);
    assert_eq!(h.body["database"]["status"], "unavailable");
    assert_eq!(app.request(Method::GET, "/health/ready", None, None, &[]).await.status, 503);
    assert_eq!(app.request(Method::GET, "/health/live", None, None, &[]).await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(60), "failures are bounded in time");

    proxy.restore();
    let mut back = false;
    for _ in 0..100 {
        if app.request(Method::GET, "/health", None, None, &[]).await.status == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "Settle reconnects by itself");
    let p2 = app.create_payment("after-outage").await;
    assert_eq!(app.get(&format!("/payments/{id1}")).await.body, stored(&p1), "acknowledged before the outage, still there");
    let list = app.get("/payments?limit=100").await;
    let orders: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|p| p["orderId"].as_str().unwrap()).collect();
    assert_eq!(orders, ["after-outage", "before-outage"], "the refused create left nothing behind");
    assert_eq!(p2["status"], "PENDING");
    app.finish().await;
}
