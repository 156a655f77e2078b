use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, matrix};

matrix!(bad_input_is_a_400_naming_the_field);

fn with(f: impl FnOnce(&mut Value)) -> String {
    let mut b = TestApp::chain_payment("bad-1");
    f(&mut b);
    b.to_string()
}

async fn bad_input_is_a_400_naming_the_field(v: Variant) {
    let mut setup = Setup::new(v);
    setup.body_limit = Some(4096);
    let Some(app) = TestApp::spawn_with(setup).await else { return };

    let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (r#"{"orderId":"#.into(), "body_invalid", None),
        ("[1,2]".into(), "body_invalid", None),
        ("not json".into(), "body_invalid", None),
        (with(|b| b["amount"] = json!(1500)), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!("-1")), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!("1.5")), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!("1e3")), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!(over)), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!("0")), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!("")), "parameter_invalid", Some("amount")),
        (with(|b| b["amount"] = json!(null)), "parameter_invalid", Some("amount")),
        (with(|b| b["orderId"] = json!(5)), "parameter_invalid", Some("orderId")),
        (with(|b| b["orderId"] = json!("")), "parameter_invalid", Some("orderId")),
        (with(|b| b["chainId"] = json!("1")), "parameter_invalid", Some("chainId")),
        (with(|b| b["chainId"] = json!(-1)), "parameter_invalid", Some("chainId")),
        (with(|b| b["chainId"] = json!(1.5)), "parameter_invalid", Some("chainId")),
        (with(|b| b["chainId"] = json!(1u64 << 60)), "parameter_invalid", Some("chainId")),
        (with(|b| b["tokenAddress"] = json!("0x123")), "parameter_invalid", Some("tokenAddress")),
        (with(|b| b["tokenAddress"] = json!("5FbDB2315678afecb367f032d93F642f64180aa3")), "parameter_invalid", Some("tokenAddress")),
        (with(|b| b["recipientAddress"] = json!("0xZZ997970C51812dc3A010C7d01b50e0d17dc79C8")), "parameter_invalid", Some("recipientAddress")),
        (with(|b| b["currency"] = json!("usd")), "parameter_invalid", Some("currency")),
        (with(|b| b["rail"] = json!("PAYPAL")), "parameter_invalid", Some("rail")),
        (with(|b| b["foo"] = json!(1)), "parameter_invalid", Some("foo")),
        (with(|b| b["rail"] = json!("CARD")), "parameter_invalid", Some("chainId")),
        (
            with(|b| {
                b.as_object_mut().unwrap().remove("orderId");
            }),
            "parameter_missing",
            Some("orderId"),
        ),
        (
            with(|b| {
                b.as_object_mut().unwrap().remove("amount");
            }),
            "parameter_missing",
            Some("amount"),
        ),
        (
            with(|b| {
                b.as_object_mut().unwrap().remove("chainId");
            }),
            "parameter_missing",
            Some("chainId"),
        ),
        (
            with(|b| {
                b.as_object_mut().unwrap().remove("tokenAddress");
            }),
            "parameter_missing",
            Some("tokenAddress"),
        ),
        ("{}".into(), "parameter_missing", Some("orderId")),
    ];
    for (body, code, param) in &cases {
        let r = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(body), &[]).await;
        let got = r.assert_error(400, code);
        assert_eq!(got.as_deref(), *param, "body {body}: {}", r.text);
    }

    // Path and query values.
    for path in ["/v1/payments/0x123", "/payments/abc/status", "/v1/payments/0xzz/events"] {
        let r = app.get(path).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("paymentId"), "{path}");
    }
    let r = app.post("/v1/payments/0x1/cancel", &json!({})).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("paymentId"));
    for (q, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("status=pending", "status"),
        ("status=DONE", "status"),
        ("startingAfter=xyz", "startingAfter"),
    ] {
        let r = app.get(&format!("/v1/payments?{q}")).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some(param), "{q}");
    }
    for bad in ["abc", "-1", "evt_", "evt_zz", "evt_0193A1B2C3D47E5F8A9B0C1D2E3F4A5B"] {
        let r = app.request(Method::GET, "/v1/events/stream", Some(&app.key), None, &[("last-event-id", bad)]).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("Last-Event-ID"), "{bad}");
    }
    let long_key = "k".repeat(300);
    let r = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&with(|_| {})), &[("idempotency-key", &long_key)]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("Idempotency-Key"));
    let r = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&with(|_| {})), &[("idempotency-key", "")]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("Idempotency-Key"));

    // Too large: 413 in the same envelope.
    let huge = with(|b| b["orderId"] = json!("x".repeat(10_000)));
    app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&huge), &[]).await.assert_error(413, "body_too_large");

    // Nothing was created, and every refusal left the server healthy.
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 0);
    assert_eq!(app.create_payment("good-after-bad").await["status"], "PENDING");
    app.finish().await;
}

/// Errors axum answers before a handler runs are the JSON envelope too: a wrong method (405, with `Allow`), a
/// path segment that is not UTF-8 (400), a body over the limit on a raw-body route (413), a body that is not
/// JSON (415); and a NUL character in a name is a 400 on PostgreSQL, which cannot store it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_error_is_the_json_envelope() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Memory });
    setup.body_limit = Some(4096);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let envelope = |r: &Resp, status: u16, code: &str| {
        assert_eq!(r.status.as_u16(), status, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/json"), "{}", r.text);
        assert_eq!(r.body["error"]["code"], code, "{}", r.text);
        assert!(r.body["error"]["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{}", r.text);
    };
    let r = app.request(Method::DELETE, "/v1/payments", Some(&app.key), None, &[]).await;
    envelope(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST,GET,HEAD"));
    envelope(&app.get("/payments/%C0/status").await, 400, "request_invalid");
    let big = format!("{{\"paymentKey\":\"{}\"}}", "a".repeat(5000));
    envelope(&app.request(Method::POST, "/v1/payments/callback", None, Some(&big), &[]).await, 413, "body_too_large");
    envelope(&app.request(Method::POST, "/v1/users", Some(&app.key), Some(&big), &[]).await, 413, "body_too_large");
    // A body that says it is not JSON: 415, and nothing created; no Content-Type at all is read as JSON.
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"] {
        let res = reqwest::Client::new()
            .post(format!("{}/v1/users", app.base))
            .bearer_auth(&app.key)
            .header("content-type", ct)
            .body(r#"{"userId":"typed","name":"T","points":1}"#)
            .send()
            .await
            .unwrap();
        let (status, text) = (res.status().as_u16(), res.text().await.unwrap());
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{ct}: {text}");
    }
    assert_eq!(app.get("/v1/users/typed").await.status, 404);
    for ct in [None, Some("application/json; charset=utf-8"), Some("application/merge-patch+json")] {
        let mut rb = reqwest::Client::new().post(format!("{}/v1/users", app.base)).bearer_auth(&app.key);
        if let Some(ct) = ct {
            rb = rb.header("content-type", ct);
        }
        let id = format!("typed-{}", ct.map(|c| c.len()).unwrap_or(0));
        let res = rb.body(json!({"userId": id, "name": "T", "points": 1}).to_string()).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 201, "{ct:?}");
    }
    let r = app.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(r#"{"name":"a\u0000b"}"#), &[]).await;
    envelope(&r, 400, "parameter_invalid");
    let r = app.post("/v1/users", &json!({"userId": "nul", "name": "a\u{0}b", "points": 1})).await;
    envelope(&r, 400, "parameter_invalid");
    app.finish().await;
}
