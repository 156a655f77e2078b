//! settle-app serializes what Settle answers; settle-api declares its schemas (`settle_api::schemas`). This test
//! holds the two together on every route that answers a settle-app representation: each answer, checked against
//! the component schema `/openapi.json` names for it, carries no property the schema lacks (at any depth), lacks
//! none it requires, and has the documented JSON type everywhere.

use reqwest::Method;
use serde_json::{Value, json};
use settle_card::sim::Knobs;

use crate::{card::CARD, helpers::*};

/// The schema `r` points at (`#/components/schemas/Name`), or `r` itself.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => doc["components"]["schemas"].get(name).unwrap_or_else(|| panic!("no schema {name}")),
        None => s,
    }
}

fn types(s: &Value) -> Vec<&str> {
    match &s["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every way `v` departs from `schema`, with its JSON path.
fn violations(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    let s = resolve(doc, schema);
    if let Some(alts) = s.get("oneOf").or_else(|| s.get("anyOf")).and_then(Value::as_array) {
        let fits = alts.iter().any(|a| {
            let mut o = vec![];
            violations(doc, a, v, at, &mut o);
            o.is_empty()
        });
        if !fits {
            out.push(format!("{at}: {v} fits none of {}", Value::Array(alts.clone())));
        }
        return;
    }
    let ts = types(s);
    let t = type_of(v);
    let fits = ts.is_empty() || ts.contains(&t) || (t == "integer" && ts.contains(&"number"));
    if !fits {
        out.push(format!("{at}: a {t} where the schema says {ts:?}"));
        return;
    }
    match v {
        Value::Object(obj) => {
            // The properties and required names of the schema, or of all the parts it is made of.
            let parts: Vec<&Value> = match s.get("allOf").and_then(Value::as_array) {
                Some(all) => all.iter().map(|p| resolve(doc, p)).collect(),
                None => vec![s],
            };
            let props: serde_json::Map<String, Value> =
                parts.iter().filter_map(|p| p.get("properties").and_then(Value::as_object)).flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
            let free_form = parts.iter().all(|p| p.get("properties").is_none() && p.get("additionalProperties").is_none());
            for (k, val) in obj {
                match props.get(k) {
                    Some(ps) => violations(doc, ps, val, &format!("{at}.{k}"), out),
                    None => match s.get("additionalProperties") {
                        Some(ap) if ap.is_object() => violations(doc, ap, val, &format!("{at}.{k}"), out),
                        _ if free_form => {}
                        _ => out.push(format!("{at}.{k}: not in the schema")),
                    },
                }
            }
            let required = parts.iter().filter_map(|p| p.get("required").and_then(Value::as_array)).flatten().filter_map(Value::as_str);
            for r in required {
                if !obj.contains_key(r) {
                    out.push(format!("{at}.{r}: required, absent"));
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    violations(doc, is, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// The schema the document gives for `status` of `method path`.
fn answer_schema<'a>(doc: &'a Value, method: &str, path: &str, status: reqwest::StatusCode) -> &'a Value {
    let status = status.as_u16();
    doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]["schema"]
        .as_object()
        .map(|_| &doc["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]["schema"])
        .unwrap_or_else(|| panic!("{method} {path} documents no JSON answer for {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_answer_matches_its_documented_schema() {
    let v = Variant { db: Db::Sqlite, cache: Cache::Memory };
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { decline_above: Some(50_000), ..Knobs::calm() };
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    setup.settings.webhooks.schedule = vec![std::time::Duration::from_millis(100)];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let doc = app.get("/openapi.json").await.body;
    let mut checked = 0;
    let mut bad = vec![];
    let mut check = |method: &str, path: &str, r: &Resp| {
        let s = answer_schema(&doc, method, path, r.status);
        violations(&doc, s, &r.body, &format!("{method} {path} {}", r.status), &mut bad);
        checked += 1;
    };
    let send = |method: Method, path: String, key: Option<String>, body: Value| {
        let app = &app;
        async move {
            let body = (!body.is_null()).then(|| body.to_string());
            app.request(method, &path, key.as_deref(), body.as_deref(), &[]).await
        }
    };
    let k = Some(app.key.clone());
    let admin = Some(ADMIN_TOKEN.to_owned());

    // Merchants.
    let r = send(Method::POST, "/v1/merchants".into(), admin.clone(), json!({"name": "Schema shop", "feeBps": 100})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    check("post", "/v1/merchants", &r);
    let mid = r.body["merchantId"].as_str().unwrap().to_owned();
    let r = send(Method::PATCH, format!("/v1/merchants/{mid}"), admin, json!({"feeBps": 50})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("patch", "/v1/merchants/{merchantId}", &r);

    // A CHAIN payment (terms, signature, expiry, what the merchant attached), updated, then cancelled.
    let mut body = TestApp::chain_payment("schema-chain");
    body["description"] = "schema".into();
    body["customerEmail"] = "payer@example.com".into();
    body["metadata"] = json!({"customer": "c_1"});
    let r = send(Method::POST, "/v1/payments".into(), k.clone(), body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    check("post", "/v1/payments", &r);
    let chain_id = r.body["paymentId"].as_str().unwrap().to_owned();
    let r = send(Method::POST, format!("/v1/payments/{chain_id}"), k.clone(), json!({"metadata": {"tier": "gold"}, "description": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("post", "/v1/payments/{paymentId}", &r);
    // A CARD payment, charged (PROCESSING, then COMPLETED) and one declined (402, failureMessage).
    let card_id = app.create_card_payment("schema-card", 1500).await;
    let r = app.pay(&card_id, "KB", CARD, None).await;
    check("post", "/v1/payments/{paymentId}/card", &r);
    let declined = app.create_card_payment("schema-declined", 90_000).await;
    let r = app.pay(&declined, "KB", CARD, None).await;
    assert_eq!(r.status, 402, "{}", r.text);
    check("post", "/v1/payments/{paymentId}/card", &r);
    app.wait_final(std::slice::from_ref(&card_id), std::time::Duration::from_secs(30)).await;
    for id in [&chain_id, &card_id, &declined] {
        check("get", "/v1/payments/{paymentId}", &app.get(&format!("/v1/payments/{id}")).await);
        check("get", "/payments/{paymentId}/status", &app.get(&format!("/payments/{id}/status")).await);
        check("get", "/v1/payments/{paymentId}/events", &app.get(&format!("/v1/payments/{id}/events")).await);
    }
    let r = send(Method::POST, format!("/v1/payments/{chain_id}/cancel"), k.clone(), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("post", "/v1/payments/{paymentId}/cancel", &r);
    check("get", "/v1/payments", &app.get("/v1/payments?limit=10").await);

    // The shop, an order paid by card, and one declined (compensated).
    let post = |path: &str, body: Value| send(Method::POST, path.to_owned(), k.clone(), body);
    let r = post("/v1/users", json!({"userId": "kim", "name": "Kim", "points": 10000})).await;
    check("post", "/v1/users", &r);
    check("get", "/v1/users/{userId}", &app.get("/v1/users/kim").await);
    check("post", "/v1/items", &post("/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 15000, "stock": 9})).await);
    check("get", "/v1/items/{itemId}", &app.get("/v1/items/sword").await);
    check("post", "/v1/coupons", &post("/v1/coupons", json!({"couponId": "welcome", "name": "Welcome", "discount": 3000})).await);
    let issued = post("/v1/coupons/welcome/issue", json!({"userId": "kim"})).await;
    check("post", "/v1/coupons/{couponId}/issue", &issued);
    let coupon = issued.body["issuedCouponId"].as_str().unwrap();
    let order = json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 2}], "issuedCouponId": coupon, "usePoints": 4000,
        "card": {"cardType": "KB", "cardNo": CARD}});
    let r = post("/v1/orders", order).await;
    assert_eq!(r.status, 201, "{}", r.text);
    check("post", "/v1/orders", &r);
    let order_id = r.body["order"]["orderId"].as_str().unwrap().to_owned();
    let tx = r.body["saga"]["transactionId"].as_str().unwrap().to_owned();
    let r =
        post("/v1/orders", json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 5}], "card": {"cardType": "KB", "cardNo": CARD}})).await;
    assert_eq!(r.status, 402, "{}", r.text);
    check("post", "/v1/orders", &r);
    check("get", "/v1/orders/{orderId}", &app.get(&format!("/v1/orders/{order_id}")).await);
    check("get", "/v1/sagas/{transactionId}", &app.get(&format!("/v1/sagas/{tx}")).await);
    check("get", "/v1/sagas", &app.get("/v1/sagas?limit=10").await);
    check("get", "/v1/sagas/stats", &app.get("/v1/sagas/stats").await);
    // The seed's shapes on the seed's paths.
    check("get", "/sagas", &app.get("/sagas?limit=10").await);
    check("get", "/saga/{transactionId}", &app.get(&format!("/saga/{tx}")).await);
    check("get", "/sagas/stats", &app.get("/sagas/stats").await);

    // Webhooks: an endpoint that fails once, its deliveries with their attempts, a retry, the events API.
    let rx = crate::webhooks::Receiver::start(crate::webhooks::Behaviour::FailFirst(1)).await;
    let r = post("/v1/webhook-endpoints", json!({"url": rx.url, "events": ["payment.*"], "description": "schema"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    check("post", "/v1/webhook-endpoints", &r);
    let ep = r.body["id"].as_str().unwrap().to_owned();
    check("get", "/v1/webhook-endpoints", &app.get("/v1/webhook-endpoints").await);
    check("get", "/v1/webhook-endpoints/{endpointId}", &app.get(&format!("/v1/webhook-endpoints/{ep}")).await);
    let r = send(Method::PATCH, format!("/v1/webhook-endpoints/{ep}"), k.clone(), json!({"description": "changed"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("patch", "/v1/webhook-endpoints/{endpointId}", &r);
    let r = post(&format!("/v1/webhook-endpoints/{ep}/rotate-secret"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("post", "/v1/webhook-endpoints/{endpointId}/rotate-secret", &r);
    check("post", "/v1/webhook-endpoints/{endpointId}/test", &post(&format!("/v1/webhook-endpoints/{ep}/test"), json!({})).await);
    app.create_payment("schema-hook").await;
    rx.wait_succeeded(1, std::time::Duration::from_secs(15)).await;
    // One that has its answer recorded (the receiver may have it before Settle has recorded the success).
    let (r, delivery) = eventually(std::time::Duration::from_secs(15), "a delivery recorded as SUCCEEDED", async || {
        let r = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries")).await;
        let done = r.body["data"].as_array().unwrap().iter().find(|d| d["status"] == "SUCCEEDED").map(|d| d["id"].as_str().unwrap().to_owned());
        done.map(|d| (r, d))
    })
    .await;
    check("get", "/v1/webhook-endpoints/{endpointId}/deliveries", &r);
    let r = post(&format!("/v1/webhook-deliveries/{delivery}/retry"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    check("post", "/v1/webhook-deliveries/{deliveryId}/retry", &r);
    check("get", "/v1/events", &app.get("/v1/events?limit=5").await);
    let r = post("/v1/api-keys", json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    check("post", "/v1/api-keys", &r);
    check("get", "/v1/api-keys", &app.get("/v1/api-keys").await);
    let r = send(Method::GET, "/v1/admin/db".into(), Some(ADMIN_TOKEN.to_owned()), Value::Null).await;
    assert_eq!(r.status, 200, "{}", r.text);
    check("get", "/v1/admin/db", &r);

    assert!(bad.is_empty(), "answers that depart from their documented schemas:\n{}", bad.join("\n"));
    assert!(checked >= 25, "only {checked} answers checked");
    app.finish().await;
}
