use reqwest::Method;
use serde_json::json;

use crate::{helpers::*, matrix};

matrix!(
    create_get_status_list_events_cancel,
    tenants_and_auth,
    health_metrics_openapi_docs,
    rate_limit_answers_429,
    exact_amounts_round_trip,
    cors_allows_only_configured_origins
);

async fn create_get_status_list_events_cancel(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };

    // Create: 201 with the whole payment.
    let p = app.create_payment("order-1").await;
    let id = p["paymentId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("0x") && id.len() == 66 && id[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(p["status"], "PENDING");
    assert_eq!(p["merchantId"], "mch_demo");
    assert_eq!(p["orderId"], "order-1");
    assert_eq!(p["amount"], "1500");
    assert_eq!(p["currency"], "USDC");
    assert_eq!(p["chainId"], 31337);
    assert_eq!(p["rail"], "CHAIN");
    assert_eq!(p["tokenAddress"], TOKEN.to_lowercase());
    assert_eq!(p["recipientAddress"], RECIPIENT.to_lowercase());
    assert!(p["createdAt"].as_str().unwrap().ends_with('Z'));

    // Duplicate orderId without the same Idempotency-Key: 409 duplicate_order, nothing created.
    let dup = app.post("/v1/payments", &TestApp::chain_payment("order-1")).await;
    assert_eq!(dup.assert_error(409, "duplicate_order").as_deref(), Some("orderId"));
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1);

    // Get and status (status twice: the second is a cache hit either way).
    let g = app.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(g.status, 200);
    // The create answer also carries where and how to pay, and the checkout's client secret (shown once).
    let mut created = p.clone();
    for k in ["clientSecret", "gatewayAddress", "forwarderAddress"] {
        assert!(created.as_object_mut().unwrap().remove(k).is_some_and(|v| v.is_string()), "{k} in {p}");
    }
    assert_eq!(g.body, created);
    assert!(g.body["serverSignature"].as_str().is_some_and(|s| s.len() == 132), "{}", g.body);
    assert_eq!(g.body["terms"]["paymentId"], id);
    for _ in 0..2 {
        let s = app.get(&format!("/payments/{id}/status")).await;
        assert_eq!(s.status, 200, "{}", s.text);
        assert_eq!(s.body, json!({"paymentId": id, "status": "PENDING", "chainId": 31337, "updatedAt": p["updatedAt"]}));
    }

    // List: newest first, pagination, filters.
    let mut ids = vec![id.clone()];
    for i in 2..=5 {
        ids.push(app.create_payment(&format!("order-{i}")).await["paymentId"].as_str().unwrap().to_owned());
    }
    let all = app.get("/v1/payments?limit=100").await;
    let listed: Vec<&str> = all.body["data"].as_array().unwrap().iter().map(|x| x["paymentId"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    assert_eq!(all.body["hasMore"], false);
    let page1 = app.get("/v1/payments?limit=2").await;
    assert_eq!(page1.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(page1.body["hasMore"], true);
    let last = page1.body["data"][1]["paymentId"].as_str().unwrap().to_owned();
    let page2 = app.get(&format!("/v1/payments?limit=2&startingAfter={last}")).await;
    let p2: Vec<&str> = page2.body["data"].as_array().unwrap().iter().map(|x| x["paymentId"].as_str().unwrap()).collect();
    assert_eq!(p2, newest_first[2..4].to_vec());
    let by_order = app.get("/v1/payments?orderId=order-3").await;
    assert_eq!(by_order.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_order.body["data"][0]["orderId"], "order-3");

    // Cancel (a CHAIN payment): PENDING -> CANCELLING (its cancellation goes to the contract), then 409 invalid_state.
    let c = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(c.body["status"], "CANCELLING");
    assert_eq!(c.body["version"], 2);
    let again = app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&app.key), None, &[]).await;
    again.assert_error(409, "invalid_state");
    let s = app.get(&format!("/payments/{id}/status")).await;
    assert_eq!(s.body["status"], "CANCELLING", "the status after a cancel is never stale");
    let pending = app.get("/v1/payments?status=PENDING&limit=100").await;
    assert_eq!(pending.body["data"].as_array().unwrap().len(), 4);
    let cancelled = app.get("/v1/payments?status=CANCELLING").await;
    assert_eq!(cancelled.body["data"][0]["paymentId"], id.as_str());

    // History, oldest first.
    let ev = app.get(&format!("/v1/payments/{id}/events")).await;
    assert_eq!(ev.status, 200);
    let types: Vec<&str> = ev.body["data"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(types, ["CREATED", "CANCEL_REQUESTED"]);
    assert_eq!(ev.body["data"][1]["fromStatus"], "PENDING");
    assert_eq!(ev.body["data"][1]["toStatus"], "CANCELLING");

    // Unknown ids: 404; a well-formed id of nobody: 404.
    let unknown = format!("0x{}", "ab".repeat(32));
    for path in [format!("/v1/payments/{unknown}"), format!("/payments/{unknown}/status"), format!("/v1/payments/{unknown}/events")] {
        app.get(&path).await.assert_error(404, "payment_not_found");
    }
    app.post(&format!("/v1/payments/{unknown}/cancel"), &json!({})).await.assert_error(404, "payment_not_found");

    // Filters by rail and creation time (the dashboard's), with bad values refused.
    let card = app.create_card_payment("order-card-1", 900).await;
    let rails = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move {
            let r = app.get(&format!("/v1/payments?limit=100&{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.text);
            r.body["data"].as_array().unwrap().iter().map(|p| p["paymentId"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(rails("rail=CARD").await, std::slice::from_ref(&card));
    assert!(rails("rail=CHAIN").await.iter().all(|p| *p != card) && rails("rail=CHAIN").await.contains(&id));
    assert!(rails("createdFrom=2999-01-01T00:00:00Z").await.is_empty());
    assert_eq!(rails("createdTo=2000-01-01T00:00:00Z").await.len(), 0);
    assert!(rails("createdFrom=2000-01-01T00:00:00Z&createdTo=2999-01-01T00:00:00%2B09:00").await.contains(&card));
    for (q, param) in [("rail=BANK", "rail"), ("createdFrom=yesterday", "createdFrom"), ("createdTo=2026-13-01T00:00:00Z", "createdTo")] {
        assert_eq!(app.get(&format!("/v1/payments?{q}")).await.assert_error(400, "parameter_invalid").as_deref(), Some(param));
    }

    // Every response carries a request id.
    assert!(c.header("x-request-id").is_some_and(|h| !h.is_empty()));
    app.finish().await;
}

async fn tenants_and_auth(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let p = app.create_payment("shared-order").await;
    let id = p["paymentId"].as_str().unwrap();
    let other = app.other_merchant("Other Shop").await;

    // Another merchant sees nothing of it: 404, never 403.
    for path in [format!("/v1/payments/{id}"), format!("/payments/{id}/status"), format!("/v1/payments/{id}/events")] {
        app.request(Method::GET, &path, Some(&other), None, &[]).await.assert_error(404, "payment_not_found");
    }
    app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&other), Some("{}"), &[]).await.assert_error(404, "payment_not_found");
    let list = app.request(Method::GET, "/v1/payments", Some(&other), None, &[]).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
    // startingAfter naming another merchant's payment is refused, not followed.
    let r = app.request(Method::GET, &format!("/v1/payments?startingAfter={id}"), Some(&other), None, &[]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("startingAfter"));
    // Order ids are per merchant: the other merchant may use the same one.
    let body = TestApp::chain_payment("shared-order").to_string();
    let r = app.request(Method::POST, "/v1/payments", Some(&other), Some(&body), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let still = app.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(still.body["status"], "PENDING", "the other merchant's cancel did nothing");

    // 401 without a key, with a wrong key, with a malformed header.
    for key in [None, Some("sk_wrong"), Some("")] {
        for (m, path) in [
            (Method::GET, format!("/v1/payments/{id}")),
            (Method::GET, "/v1/payments".into()),
            (Method::POST, "/v1/payments".into()),
            (Method::GET, "/v1/events/stream".into()),
        ] {
            let r = app.request(m.clone(), &path, key, Some("{}"), &[]).await;
            r.assert_error(401, "unauthorized");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
    let r = app.request(Method::GET, "/v1/payments", None, None, &[("authorization", "Basic abc")]).await;
    r.assert_error(401, "unauthorized");

    // POST /merchants needs the admin token.
    let r = app.request(Method::POST, "/v1/merchants", Some(&app.key), Some(r#"{"name":"x"}"#), &[]).await;
    r.assert_error(401, "unauthorized");
    let r = app.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(r#"{"name":""}"#), &[]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("name"));
    app.finish().await;
}

async fn health_metrics_openapi_docs(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let h = app.request(Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 200, "{}", h.text);
    // The test's chain names an address where no node answers: once the watcher has tried it, the chain is
    // degraded and so is Settle as a whole (200 all the same; the other rails serve).
    let health = async || app.request(Method::GET, "/health", None, None, &[]).await;
    let degraded = within(std::time::Duration::from_secs(30), async || Some(health().await).filter(|h| h.body["chains"][0]["status"] == "degraded"));
    let h = match degraded.await {
        Some(h) => h,
        None => health().await,
    };
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!((h.body["status"].as_str(), h.body["chains"][0]["status"].as_str()), (Some("degraded"), Some("degraded")), "{}", h.text);
    assert_eq!(h.body["database"]["status"], "ok");
    assert!(h.body["database"]["latencyMs"].is_u64());
    let expected_cache = if v.cache == Cache::Redis { "ok" } else { "memory" };
    assert_eq!(h.body["cache"]["status"], expected_cache);
    assert_eq!(app.request(Method::GET, "/health/live", None, None, &[]).await.status, 200);
    assert_eq!(app.request(Method::GET, "/health/ready", None, None, &[]).await.status, 200);

    let p = app.create_payment("m-1").await;
    let id = p["paymentId"].as_str().unwrap();
    app.get(&format!("/payments/{id}/status")).await;
    let m = app.request(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(m.status, 200);
    for needle in [
        "settle_http_request_duration_seconds_bucket",
        "route=\"/v1/payments\"",
        "settle_cache_requests_total",
        "settle_outbox_backlog",
        "settle_db_query_seconds_bucket",
        "settle_cache_seconds_bucket",
        "settle_db_ping_seconds",
    ] {
        assert!(m.text.contains(needle), "/metrics lacks {needle}");
    }

    let doc = app.request(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/merchants", "post"),
        ("/v1/payments", "post"),
        ("/v1/payments", "get"),
        ("/v1/payments/{paymentId}", "get"),
        ("/payments/{paymentId}/status", "get"),
        ("/v1/payments/{paymentId}/events", "get"),
        ("/v1/payments/{paymentId}/cancel", "post"),
        ("/v1/events/stream", "get"),
        ("/health", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/docs", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the OpenAPI document");
    }
    for schema in ["PaymentView", "CreatePaymentRequest", "StatusView", "PaymentList", "EventList", "ErrorBody", "Health", "CreatedMerchant"] {
        assert!(doc.body["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }
    let docs = app.request(Method::GET, "/docs", None, None, &[]).await;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("/docs/swagger-ui-bundle.js") && !docs.text.contains("https://"), "the docs page loads nothing from elsewhere");
    let csp = docs.header("content-security-policy").unwrap_or_default().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-eval") && csp.contains("connect-src 'self'"), "{csp}");
    // Its assets are the vendored Swagger UI, byte for byte, checked against the recorded SHA-256; the start-up
    // script points at this server's document and turns the public validator off.
    let vendored = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../settle-api/assets/swagger-ui");
    let sums = std::fs::read_to_string(vendored.join("SHA256SUMS")).unwrap();
    for line in sums.lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        let served = app.client.get(format!("{}/docs/{name}", app.base)).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(served.as_ref(), std::fs::read(vendored.join(name)).unwrap().as_slice(), "{name} is served as vendored");
        assert_eq!(hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &served))), sum, "{name}: SHA256SUMS");
    }
    let init = app.request(Method::GET, "/docs/init.js", None, None, &[]).await.text;
    assert!(init.contains("url: \"/openapi.json\"") && init.contains("validatorUrl: null"), "{init}");
    app.request(Method::GET, "/docs/nope.js", None, None, &[]).await.assert_error(404, "not_found");

    app.request(Method::GET, "/nope", None, None, &[]).await.assert_error(404, "not_found");
    app.finish().await;
}

async fn rate_limit_answers_429(v: Variant) {
    let mut setup = Setup::new(v);
    setup.rate_limit = Some((1, 3));
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(app.get("/v1/payments").await);
    }
    let ok = codes.iter().filter(|r| r.status == 200).count();
    let limited: Vec<_> = codes.iter().filter(|r| r.status == 429).collect();
    assert!(ok >= 3 && !limited.is_empty(), "burst 3 then 429: {:?}", codes.iter().map(|r| r.status).collect::<Vec<_>>());
    for r in limited {
        r.assert_error(429, "rate_limited");
        assert!(r.header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    }
    // Another caller has its own bucket.
    let other = app.other_merchant("Second").await;
    assert_eq!(app.request(Method::GET, "/v1/payments", Some(&other), None, &[]).await.status, 200);
    app.finish().await;
}

/// 1,000 requests with random bearer tokens from one address: they share the address's bucket (429 after the
/// burst), and the database is asked about a bounded number of keys, counted by `settle_auth_lookups_total`. A
/// real merchant's calls, from the same address, keep their own bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_bearer_tokens_cannot_buy_a_lookup_each() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Memory });
    setup.rate_limit = Some((20, 40));
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    assert_eq!(app.get("/v1/payments").await.status, 200, "the merchant's key, known from here on");
    let started = std::time::Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..1000 {
        let token = format!("sk_{}", uuid::Uuid::new_v4().simple());
        *statuses.entry(app.request(Method::GET, "/v1/payments", Some(&token), None, &[]).await.status.as_u16()).or_default() += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(statuses.keys().copied().collect::<Vec<_>>(), [401, 429], "{statuses:?}");
    let metrics = app.request(Method::GET, "/metrics", None, None, &[]).await.text;
    let lookups: f64 = metrics
        .lines()
        .find(|l| l.starts_with("settle_auth_lookups_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let bound = 40.0 + 20.0 * elapsed + 2.0;
    assert!(lookups <= bound, "{lookups} key lookups for 1000 random tokens in {elapsed:.1} s (bound {bound:.0}): {statuses:?}");
    assert!(statuses[&401] as f64 <= bound, "{statuses:?}");
    // The merchant's own bucket is untouched by the flood.
    assert_eq!(app.get("/v1/payments").await.status, 200);
    app.finish().await;
}

/// Wrong admin-token attempts are limited per client address, strictly (10, then one every 6 s) whatever the
/// general rate; the right token is never refused by that limit. Behind a trusted proxy the client is the first hop
/// of `X-Forwarded-For` from the right that is not the proxy, so one address guessing the token does not lock out
/// another, and a guesser cannot name another client. Without the proxy setting, the header is not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_token_guesses_are_limited_per_client() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.rate_limit = Some((1000, 2000));
    setup.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let attempt = |from: &'static str, token: &'static str| {
        let app = &app;
        async move {
            let body = json!({"name": "Guess"}).to_string();
            app.request(Method::POST, "/v1/merchants", Some(token), Some(&body), &[("x-forwarded-for", from)]).await.status.as_u16()
        }
    };
    let mut guesses = Vec::new();
    for _ in 0..15 {
        guesses.push(attempt("203.0.113.7", "not-the-admin-token-at-all").await);
    }
    assert!(guesses[..10].iter().all(|s| *s == 401) && guesses[10..].iter().all(|s| *s == 429), "{guesses:?}");
    // Another client behind the same proxy, with the right token.
    assert_eq!(attempt("203.0.113.8", ADMIN_TOKEN).await, 201);
    // The guesser stays limited while it guesses; the real operator at the same address is never locked out.
    assert_eq!(attempt("203.0.113.7", "still-not-the-admin-token").await, 429);
    assert_eq!(attempt("203.0.113.7", ADMIN_TOKEN).await, 201);
    // X-Forwarded-For is read right to left: a hop the client wrote is never believed, and one that is not an
    // address (with a port here) is not skipped to reach it.
    assert_eq!(attempt("203.0.113.7, 198.51.100.9", "a-guess-from-a-fresh-address").await, 401);
    assert_eq!(attempt("198.51.100.99, 203.0.113.7:5678", "a-guess-that-names-another-client").await, 429);
    // Merchant calls are not admin attempts.
    assert_eq!(app.get("/v1/payments").await.status, 200);
    app.finish().await;
}

/// Gateway callbacks (unauthenticated) have their own per-address budget (50 a second, a burst of 100): a
/// flood of them is cut off with 429 without touching the API calls' buckets, and API calls from the same
/// address that ran out of their budget do not stop the gateway's callbacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_have_their_own_rate_limit() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.rate_limit = Some((5, 5));
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    // The merchant authenticates once, so this instance knows its key and limits it by merchant from now
    // on (a key it has not seen yet is limited by address, like any other unknown token).
    assert_eq!(app.get("/v1/payments").await.status, 200);
    let unknown = format!("0x{}", "ab".repeat(32));
    let callback = |i: usize| {
        let body = json!({"transactionKey": format!("k{i}"), "orderId": unknown}).to_string();
        let app = &app;
        async move { app.request(Method::POST, "/v1/payments/callback", None, Some(&body), &[]).await.status.as_u16() }
    };
    // Unauthenticated API calls from this address run out of their small budget...
    let mut health = Vec::new();
    for _ in 0..10 {
        health.push(app.request(Method::GET, "/health/live", None, None, &[]).await.status.as_u16());
    }
    assert!(health.contains(&429), "{health:?}");
    // ...and callbacks still pass (404: no such payment), up to their own burst, then 429.
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..160 {
        *codes.entry(callback(i).await).or_default() += 1;
    }
    assert!(codes.get(&404).copied().unwrap_or(0) >= 100 && codes.get(&429).copied().unwrap_or(0) > 0, "{codes:?}");
    assert_eq!(codes.keys().copied().collect::<Vec<_>>(), [404, 429], "{codes:?}");
    // The merchant's calls keep their own bucket.
    assert_eq!(app.get("/v1/payments").await.status, 200);
    app.finish().await;
}

async fn exact_amounts_round_trip(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    for (i, amount) in ["1", "9007199254740993", "18446744073709551617", max].iter().enumerate() {
        let mut body = TestApp::chain_payment(&format!("amt-{i}"));
        body["amount"] = json!(amount);
        let r = app.post("/v1/payments", &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["amount"], *amount);
        let id = r.body["paymentId"].as_str().unwrap();
        assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["amount"], *amount, "stored exactly");
    }
    app.finish().await;
}

async fn cors_allows_only_configured_origins(v: Variant) {
    let mut setup = Setup::new(v);
    setup.cors_origins = vec!["https://shop.example".into()];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.client
                .request(Method::OPTIONS, format!("{}/v1/payments", app.base))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization,content-type,idempotency-key")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://shop.example").await;
    assert_eq!(ok.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("https://shop.example"));
    let allowed = ok.headers().get("access-control-allow-headers").and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key") && allowed.contains("authorization"), "{allowed}");
    let other = preflight("https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none(), "another origin is not allowed");
    let r = app.request(Method::GET, "/v1/payments", Some(&app.key), None, &[("origin", "https://shop.example")]).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("https://shop.example"));
    assert!(r.header("access-control-expose-headers").is_some_and(|h| h.contains("x-request-id")));
    app.finish().await;
}

crate::per_db!(cache = Memory; a_read_that_outlasts_the_timeout_answers_504_and_leaves_nothing_behind);

/// Reads run inline (not in a task of their own), bounded by the request timeout all the same. A status read
/// that asks a silent chain node (a PENDING CHAIN payment missing from the cache) answers 504 after the timeout;
/// the transition work it started goes on in its own task, and the instance keeps serving reads and writes, on
/// that payment too.
async fn a_read_that_outlasts_the_timeout_answers_504_and_leaves_nothing_behind(v: Variant) {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = vec![];
        while let Ok((s, _)) = silent.accept().await {
            conns.push(s);
        }
    });
    let mut setup = Setup::new(v);
    setup.chains = vec![settle_app::chain::settings::dev_chain(&format!("http://{addr}"))];
    setup.request_timeout = Some(std::time::Duration::from_secs(1));
    let Some(app) = TestApp::spawn_with(setup).await else {
        held.abort();
        return;
    };
    let p = app.create_payment("slow-read").await;
    let id = p["paymentId"].as_str().unwrap();
    // The follower puts each published payment event's status in the cache: the eviction comes after it has applied
    // the creation's (under load it came later and filled the cache again, and the read never missed).
    app.drain_outbox().await;
    let published = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    crate::helpers::eventually(std::time::Duration::from_secs(30), "the follower applies the creation", async || {
        app.ctx.fanout.head().is_some_and(|h| h >= published).then_some(())
    })
    .await;
    app.ctx.cache.evict(id).await;
    let started = std::time::Instant::now();
    app.get(&format!("/payments/{id}/status")).await.assert_error(504, "request_timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "the read was not bounded: {:?}", started.elapsed());
    // While the node is still asked: reads and writes go on.
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["status"], "PENDING");
    assert_eq!(app.create_payment("after-slow-read").await["status"], "PENDING");
    // Once the node's call times out (5 s) in its task, nothing of it holds the payment: it can be cancelled. A timer,
    // not a wait for a signal: the task records nothing when its call gives up, and the silent node's connections
    // are the watcher's too.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let r = app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "CANCELLING");
    held.abort();
    app.finish().await;
}

/// A client's `X-Request-Id` is kept when it is a bounded token, and replaced by one of Settle's own otherwise
/// (it goes into log lines and the audit log as sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_id_is_kept_only_when_it_is_a_bounded_token() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let id_of = |sent: &'static str| {
        let app = &app;
        async move {
            app.request(Method::GET, "/v1/payments", Some(&app.key), None, &[("x-request-id", sent)]).await.header("x-request-id").map(str::to_owned)
        }
    };
    assert_eq!(id_of("trace.A-1_b").await.as_deref(), Some("trace.A-1_b"));
    let long: &'static str = Box::leak("x".repeat(65).into_boxed_str());
    for odd in ["<script>alert(1)</script>", "a b", "", long, "id;drop"] {
        let got = id_of(odd).await.unwrap_or_default();
        assert!(got != odd && uuid::Uuid::parse_str(&got).is_ok(), "{odd:?} was replaced by Settle's own id, got {got:?}");
    }
    app.finish().await;
}

crate::per_db!(cache = Memory; only_the_order_id_index_means_a_duplicate_order);

/// A create refused by a unique index other than the (merchant, order id) one is a fault (500, nothing written),
/// never `duplicate_order`: a merchant told 409 would take a payment that was never made for an existing one. Before,
/// any unique violation in the create's multi-table write became 409 `duplicate_order`. The same order id again is
/// still 409 `duplicate_order` on every backend (each names the violated index its own way).
async fn only_the_order_id_index_means_a_duplicate_order(v: Variant) {
    use settle_store::ConnectionTrait;
    let Some(app) = TestApp::spawn(v).await else { return };
    let body = |order: &str| json!({"rail": "CARD", "orderId": order, "amount": "1000", "currency": "KRW"});
    assert_eq!(app.post("/v1/payments", &body("unique-1")).await.status, 201);
    app.post("/v1/payments", &body("unique-1")).await.assert_error(409, "duplicate_order");
    // Every create writes a CREATED event: one event type per table makes the next create's event collide.
    app.ctx.db.writes().execute_unprepared("CREATE UNIQUE INDEX test_one_event_type ON payment_events (event_type)").await.unwrap();
    let r = app.post("/v1/payments", &body("unique-2")).await;
    assert_eq!(r.status, 500, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "internal_error", "{}", r.text);
    assert_eq!(app.get("/v1/payments?orderId=unique-2").await.body["data"].as_array().map(Vec::len), Some(0));
    app.finish().await;
}
