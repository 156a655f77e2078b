use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::{helpers::*, matrix};

matrix!(fifty_concurrent_creates_with_one_key_make_one_payment, key_reuse_rules);

async fn fifty_concurrent_creates_with_one_key_make_one_payment(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let body = TestApp::chain_payment("idem-1").to_string();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.request(Method::POST, "/payments/create", Some(&app.key), Some(&body), &[("idempotency-key", "key-one")]).await
        }));
    }
    let mut responses = Vec::new();
    for t in tasks {
        responses.push(t.await.unwrap());
    }
    for r in &responses {
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let first = &responses[0].text;
    assert!(responses.iter().all(|r| &r.text == first), "all 50 bodies are identical");
    let replayed = responses.iter().filter(|r| r.header("idempotent-replayed") == Some("true")).count();
    assert_eq!(replayed, 49, "one original, 49 replays");
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1, "exactly one payment");
    let list = app.get("/payments?orderId=idem-1").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let id = responses[0].body["paymentId"].as_str().unwrap();
    let ev = app.get(&format!("/payments/{id}/events")).await;
    assert_eq!(ev.body["data"].as_array().unwrap().len(), 1, "one CREATED event");
    Arc::into_inner(app).unwrap().finish().await;
}

async fn key_reuse_rules(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.idempotency_wait = std::time::Duration::from_millis(0);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let body = TestApp::chain_payment("idem-2").to_string();
    let send = |b: String, key: &'static str| {
        let app = &app;
        async move { app.request(Method::POST, "/payments/create", Some(&app.key), Some(&b), &[("idempotency-key", key)]).await }
    };
    let first = send(body.clone(), "k2").await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);

    // Same key, same body (keys in another order, other whitespace): the stored response, replayed.
    let reordered = {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut pairs: Vec<_> = v.as_object().unwrap().iter().collect();
        pairs.reverse();
        format!("{{ {} }}", pairs.iter().map(|(k, v)| format!("\"{k}\" : {v}")).collect::<Vec<_>>().join(" , "))
    };
    let again = send(reordered, "k2").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text);

    // Same key, another body: 422.
    let other = TestApp::chain_payment("idem-other").to_string();
    send(other, "k2").await.assert_error(422, "idempotency_key_reused");

    // The same key on another endpoint is another request too.
    let id = first.body["paymentId"].as_str().unwrap();
    let r = app.request(Method::POST, &format!("/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[("idempotency-key", "k2")]).await;
    r.assert_error(422, "idempotency_key_reused");

    // Keys are per merchant: another merchant's identical key is independent.
    let other_key = app.other_merchant("Other").await;
    let r = app.request(Method::POST, "/payments/create", Some(&other_key), Some(&body), &[("idempotency-key", "k2")]).await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["paymentId"], first.body["paymentId"]);

    // Still in flight (claimed by a request that has not finished): 409.
    let now = settle_store::now_ms();
    let fp = settle_app::idempotency::IdemKey::new("k3", &app.key, "POST", "/payments/create", body.as_bytes()).unwrap().fingerprint;
    settle_store::idempotency::claim(&app.ctx.db, "mch_demo", "k3", &fp, now, 86_400_000, 60_000).await.unwrap();
    send(body.clone(), "k3").await.assert_error(409, "idempotency_in_flight");

    // A failed request (duplicate order) keeps no record: a retry runs again and gets the same answer.
    let dup = send(body.clone(), "k4").await;
    dup.assert_error(409, "duplicate_order");
    send(body.clone(), "k4").await.assert_error(409, "duplicate_order");

    // Cancel with a key replays its 200.
    let c1 = app.request(Method::POST, &format!("/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[("idempotency-key", "c1")]).await;
    let c2 = app.request(Method::POST, &format!("/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[("idempotency-key", "c1")]).await;
    assert_eq!((c1.status.as_u16(), c2.status.as_u16()), (200, 200));
    assert_eq!(c2.header("idempotent-replayed"), Some("true"));
    assert_eq!(c1.text, c2.text);
    let ev = app.get(&format!("/payments/{id}/events")).await;
    assert_eq!(ev.body["data"].as_array().unwrap().len(), 2, "CREATED and one CANCELLED");
    let _ = json!(null);
    app.finish().await;
}
