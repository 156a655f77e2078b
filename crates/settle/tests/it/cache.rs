use std::time::Duration;

use redis::AsyncCommands;
use serde_json::json;

use crate::helpers::*;

// Two instances with in-process caches (on every database): nothing but the follower carries a change across.
crate::per_db!(cache = Memory; a_status_change_reaches_every_instances_cache);

/// How long a test waits for a status to reach another instance's cache: the bound (relay poll 0.2 s +
/// follower poll 0.25 s) with room for a loaded machine, far below the 300 s TTL a missed change used to last.
const AGREE_WITHIN: Duration = Duration::from_secs(10);

/// Polls `app`'s status of `id` until it is `want`; returns how long that took.
async fn status_becomes(app: &TestApp, id: &str, want: &str) -> Duration {
    let started = std::time::Instant::now();
    let mut last = serde_json::Value::Null;
    let seen = within(AGREE_WITHIN, async || {
        last = app.get(&format!("/payments/{id}/status")).await.body["status"].clone();
        (last == want).then_some(())
    })
    .await;
    assert!(seen.is_some(), "still {last} after {:?}", started.elapsed());
    started.elapsed()
}

/// Two instances on one database, each with its own in-process cache: B caches a PENDING status, A cancels
/// the payment, and B serves CANCELLING within the follower's bound (before, B served PENDING for the TTL).
async fn a_status_change_reaches_every_instances_cache(v: Variant) {
    let Some(a) = TestApp::spawn(v).await else { return };
    let mut b = TestApp::start(a.setup.clone(), a.db.clone()).await;
    let id = a.create_payment("agree-1").await["paymentId"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(b.get(&format!("/payments/{id}/status")).await.body["status"], "PENDING");
    }
    assert_eq!(b.ctx.cache.get_status(&id).await.expect("B caches it").status, "PENDING");
    let c = a.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let took = status_becomes(&b, &id, "CANCELLING").await;
    println!("B served CANCELLING {took:?} after A's cancel");
    assert_eq!(b.ctx.cache.get_status(&id).await.expect("still cached").version, 2, "B's cache holds the new version");
    b.shutdown().await;
    a.finish().await;
}

/// Two instances sharing Redis; A's path to Redis is cut while it cancels, so its cache write is lost (A only
/// remembers the key as dirty). B's follower writes the change to Redis, so B, reading Redis, serves CANCELLING
/// within the bound rather than the PENDING left there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cache_write_lost_on_one_instance_is_made_by_the_others() {
    let v = Variant { db: Db::Postgres, cache: Cache::Redis };
    if !v.available().await {
        return;
    }
    let upstream = redis_url().trim_start_matches("redis://").trim_end_matches('/').parse().expect("redis addr");
    let proxy = Proxy::start(upstream).await;
    let mut setup = Setup::new(v);
    setup.redis_url = Some(format!("redis://{}", proxy.addr));
    let Some(a) = TestApp::spawn_with(setup).await else { return };
    let mut b_setup = a.setup.clone();
    b_setup.redis_url = Some(redis_url());
    let mut b = TestApp::start(b_setup, a.db.clone()).await;
    let mut direct = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();

    let id = b.create_payment("agree-redis-1").await["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(b.get(&format!("/payments/{id}/status")).await.body["status"], "PENDING");
    assert_eq!(cached(&mut direct, &id).await.expect("cached")["status"], "PENDING");
    proxy.cut();
    let c = a.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let took = status_becomes(&b, &id, "CANCELLING").await;
    println!("B served CANCELLING {took:?} after A's cancel");
    let entry = cached(&mut direct, &id).await.expect("cached");
    assert_eq!((entry["status"].as_str(), entry["version"].as_i64()), (Some("CANCELLING"), Some(2)), "{entry}");
    proxy.restore();
    b.shutdown().await;
    a.finish().await;
}

crate::per_db!(cache = Redis; redis_outage_falls_back_and_never_serves_stale);

async fn cached(conn: &mut redis::aio::MultiplexedConnection, id: &str) -> Option<serde_json::Value> {
    let v: Option<String> = conn.get(settle_app::cache::status_key(id)).await.unwrap();
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
    let entry = cached(&mut direct, &id).await.expect("cached");
    assert_eq!((entry["version"].as_i64(), entry["chainId"].as_i64()), (Some(1), Some(31337)), "{entry}");
    assert_eq!(settle_app::cache::status_key(&id), format!("payment:{{{id}}}"), "a hash tag: one slot on Redis Cluster");

    proxy.cut();
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.status, 200, "served from the database: {}", s.text);
    assert_eq!(s.body["status"], "PENDING");
    let h = app.request(reqwest::Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["cache"]["status"], "degraded");
    let c = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(c.status, 200, "{}", c.text);
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.body["status"], "CANCELLING");
    let other = app.create_payment("cache-2").await;
    assert_eq!(app.get(&format!("/v1/payments/{}", other["paymentId"].as_str().unwrap())).await.status, 200);
    // Redis still holds the old PENDING: the danger is real.
    assert_eq!(cached(&mut direct, &id).await.expect("still cached")["status"], "PENDING");

    proxy.restore();
    eventually(Duration::from_secs(10), "the cache reconnects by itself", async || {
        (app.request(reqwest::Method::GET, "/health", None, None, &[]).await.body["cache"]["status"] == "ok").then_some(())
    })
    .await;
    for _ in 0..3 {
        let s = app.get(&format!("/payments/{id}/status")).await;
        assert_eq!(s.body["status"], "CANCELLING", "no stale status after Redis is back");
    }
    let now = cached(&mut direct, &id).await.expect("cache used again");
    assert_eq!(now["status"], "CANCELLING");
    assert_eq!(now["version"], 2);
    app.finish().await;
}

/// /metrics, once (its reads count against the address's rate limit).
async fn metrics_text(app: &TestApp) -> String {
    let m = app.request(reqwest::Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(m.status, 200, "{}", m.text);
    m.text
}

/// A counter's value (one series, named with its labels) in a /metrics text.
fn series_value(metrics: &str, series: &str) -> u64 {
    metrics.lines().find_map(|l| l.strip_prefix(series).filter(|v| v.starts_with(' '))).map_or(0, |v| v.trim().parse().expect("a count"))
}

/// The count of `GET /payments/{paymentId}/status` answers with `status` in a /metrics text.
fn status_reads_counted(metrics: &str, status: u16) -> u64 {
    series_value(metrics, &format!("settle_http_requests_total{{method=\"GET\",route=\"/payments/{{paymentId}}/status\",status=\"{status}\"}}"))
}

/// The edge answers a status read from memory when this instance holds the key and the status, without routing
/// it: the answer is the route's (status, body, the same headers), counted under the route, rate limited like
/// it, and closed to other merchants' keys and wrong keys as the route is.
#[tokio::test]
async fn a_status_read_answered_from_memory_is_the_routes_answer() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.rate_limit = Some((1, 12));
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let id = app.create_payment("held-1").await["paymentId"].as_str().unwrap().to_owned();
    let path = format!("/payments/{id}/status");
    let counted = status_reads_counted(&metrics_text(&app).await, 200);
    // Held: the key and the status are this instance's. Routed: the seed path ignores a query, which only the
    // route reads.
    let held = app.get(&path).await;
    let routed = app.get(&format!("{path}?via=route")).await;
    assert_eq!(held.status, 200, "{}", held.text);
    assert_eq!((held.status, &held.body), (routed.status, &routed.body));
    assert_eq!(held.body["status"], "PENDING");
    let names = |r: &Resp| {
        let mut n: Vec<String> = r.headers.keys().map(|k| k.as_str().to_owned()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&held), names(&routed));
    assert_eq!(held.header("content-type"), routed.header("content-type"));
    assert!(held.header("x-request-id").is_some_and(|v| v.len() == 36), "{:?}", held.headers);
    let mine = app.request(reqwest::Method::GET, &path, Some(&app.key), None, &[("x-request-id", "my-id-1")]).await;
    assert_eq!(mine.header("x-request-id"), Some("my-id-1"));
    assert_eq!(status_reads_counted(&metrics_text(&app).await, 200), counted + 3);
    // Another merchant's key, known here after its first read, never reads this payment; a wrong key is 401.
    let other = app.other_merchant("held-other").await;
    for _ in 0..2 {
        app.request(reqwest::Method::GET, &path, Some(&other), None, &[]).await.assert_error(404, "payment_not_found");
    }
    app.request(reqwest::Method::GET, &path, Some("sk_test_wrong"), None, &[]).await.assert_error(401, "unauthorized");
    // The id in capitals is not held as such: the route parses it and answers the same.
    let upper = app.get(&format!("/payments/0x{}/status", id[2..].to_ascii_uppercase())).await;
    assert_eq!((upper.status, &upper.body), (held.status, &held.body));
    // The answer held is rendered when a status is stored: after a change (the cancel asked of the contract),
    // the held read shows the change, and it is still the route's answer.
    assert_eq!(app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await.status, 200);
    let changed = app.get(&path).await;
    assert_eq!(changed.body["status"], "CANCELLING", "{}", changed.text);
    let routed = app.get(&format!("{path}?via=route")).await;
    assert_eq!((changed.status, &changed.body), (routed.status, &routed.body));
    assert_ne!(changed.body["updatedAt"], held.body["updatedAt"], "{} {}", changed.text, held.text);
    // The merchant's rate limit (1 per second, a burst of 12) holds for reads answered from memory: of 20 at once,
    // at most the burst's remainder and a second's token pass, and the rest are the route's 429.
    let before = metrics_text(&app).await;
    let answers = futures::future::join_all((0..20).map(|_| app.get(&path))).await;
    let ok = answers.iter().filter(|r| r.status == 200).count();
    let limited: Vec<&Resp> = answers.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + limited.len(), 20, "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(ok <= 12, "{ok} passed a burst of 12 (8 were spent)");
    limited[0].assert_error(429, "rate_limited");
    assert!(limited[0].header("retry-after").is_some());
    // Each answer is counted once, as what it was: a refusal is not a cache hit, nor refused twice.
    let after = metrics_text(&app).await;
    let grew = |series: &str| series_value(&after, series) - series_value(&before, series);
    assert_eq!(grew("settle_cache_requests_total{result=\"hit\"}"), ok as u64);
    assert_eq!(grew("settle_rate_limited_total"), limited.len() as u64);
    assert_eq!(status_reads_counted(&after, 200) - status_reads_counted(&before, 200), ok as u64);
    assert_eq!(status_reads_counted(&after, 429) - status_reads_counted(&before, 429), limited.len() as u64);
    app.finish().await;
}
