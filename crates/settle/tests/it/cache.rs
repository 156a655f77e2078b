use std::time::Duration;

use redis::AsyncCommands;
use serde_json::json;

use crate::helpers::*;

mod redis_outage {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() { super::redis_outage_falls_back_and_never_serves_stale(Variant { db: Db::Sqlite, cache: Cache::Redis }).await }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() { super::redis_outage_falls_back_and_never_serves_stale(Variant { db: Db::Postgres, cache: Cache::Redis }).await }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql() { super::redis_outage_falls_back_and_never_serves_stale(Variant { db: Db::Mysql, cache: Cache::Redis }).await }
}

async fn cached(conn: &mut redis::aio::MultiplexedConnection, id: &str) -> Option<serde_json::Value> {
    let v: Option<String> = conn.get(format!("payment:{id}")).await.unwrap();
    v.map(|s| serde_json::from_str(&s).unwrap())
}

/// Redis is cut off (a proxy in front of it drops every connection) while it keeps its data: requests are
/// served from the database, /health says degraded; a cancel made during the outage is not hidden by the
/// PENDING still cached in Redis once Redis is back, and the cache is used again.
async fn redis_outage_falls_back_and_never_serves_stale(v: Variant) {
    if !v.available().await {
        return;
    }
    let upstream = redis_url().trim_start_matches("redis://").trim_end_matches('/').parse().expect("redis addr");
    let proxy = Proxy::start(upstream).await;
    let mut setup = Setup::new(v);
    setup.redis_url = Some(format!("redis://{}", proxy.addr));
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let mut direct = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();

    let id = app.create_payment("cache-1").await["paymentId"].as_str().unwrap().to_owned();
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.body["status"], "PENDING");
    assert_eq!(cached(&mut direct, &id).await.expect("cached")["version"], 1);
    let chain: Option<String> = direct.get(format!("payment:chainId:{id}")).await.unwrap();
    assert_eq!(chain.as_deref(), Some("31337"));

    proxy.cut();
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.status, 200, "served from the database: {}", s.text);
    assert_eq!(s.body["status"], "PENDING");
    let h = app.request(reqwest::Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["cache"]["status"], "degraded");
    let c = app.post(&format!("/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.body["status"], "CANCELLED");
    let other = app.create_payment("cache-2").await;
    assert_eq!(app.get(&format!("/payments/{}", other["paymentId"].as_str().unwrap())).await.status, 200);
    // Redis still holds the old PENDING: the danger is real.
    assert_eq!(cached(&mut direct, &id).await.expect("still cached")["status"], "PENDING");

    proxy.restore();
    let mut healthy = false;
    for _ in 0..50 {
        let h = app.request(reqwest::Method::GET, "/health", None, None, &[]).await;
        if h.body["cache"]["status"] == "ok" {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the cache reconnects by itself");
    for _ in 0..3 {
        let s = app.get(&format!("/payments/{id}/status")).await;
        assert_eq!(s.body["status"], "CANCELLED", "no stale status after Redis is back");
    }
    let now = cached(&mut direct, &id).await.expect("cache used again");
    assert_eq!(now["status"], "CANCELLED");
    assert_eq!(now["version"], 2);
    app.finish().await;
}
