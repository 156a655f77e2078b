//! What a merchant attaches to a payment (description, customer email, metadata): kept, returned, searched,
//! updated with an Idempotency-Key, carried in events; and an order id free again once its payment can no longer
//! be paid, with exactly one winner when two creates race for it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, per_db};

per_db!(
    metadata_is_kept_updated_searched_and_sent,
    an_order_id_is_free_again_once_its_payment_cannot_be_paid,
    updates_racing_a_charge_lose_nothing_and_never_fail_the_payer,
    an_earlier_instances_writes_keep_the_order_id_rule
);

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap_or_else(|| panic!("{page}")).iter().map(|p| p["paymentId"].as_str().unwrap().to_owned()).collect()
}

async fn update(app: &TestApp, id: &str, body: Value, key: Option<&str>) -> Resp {
    let extra: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
    app.request(Method::POST, &format!("/v1/payments/{id}"), Some(&app.key), Some(&body.to_string()), &extra).await
}

async fn metadata_is_kept_updated_searched_and_sent(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let mut body = TestApp::chain_payment("meta-1");
    body["description"] = "2 coffees".into();
    body["customerEmail"] = "payer@example.com".into();
    body["metadata"] = json!({"customer": "c_42", "channel": "web", "note": "ü ☕ & = ?"});
    let r = app.post("/v1/payments", &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(r.body["metadata"], json!({"customer": "c_42", "channel": "web", "note": "ü ☕ & = ?"}));
    assert_eq!((r.body["description"].as_str(), r.body["customerEmail"].as_str()), (Some("2 coffees"), Some("payer@example.com")));
    let got = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(
        (&got["metadata"], &got["description"], &got["customerEmail"]),
        (&r.body["metadata"], &r.body["description"], &r.body["customerEmail"])
    );
    let r = app
        .post("/v1/payments", &json!({"orderId": "meta-2", "amount": "100", "currency": "KRW", "rail": "CARD", "metadata": {"customer": "c_7"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let other = r.body["paymentId"].as_str().unwrap().to_owned();
    let plain = app.create_card_payment("meta-3", 100).await;
    assert_eq!(app.get(&format!("/v1/payments/{plain}")).await.body["metadata"], json!({}), "metadata is {{}} when none");

    // Search: a key and value, as sent by a browser (brackets encoded) or by hand; every filter must hold.
    assert_eq!(ids(&app.get("/v1/payments?metadata[customer]=c_42").await.body), [id.as_str()]);
    assert_eq!(ids(&app.get("/v1/payments?metadata%5Bcustomer%5D=c_7").await.body), [other.as_str()]);
    assert_eq!(ids(&app.get("/v1/payments?metadata[note]=%C3%BC%20%E2%98%95%20%26%20%3D%20%3F").await.body), [id.as_str()]);
    assert_eq!(ids(&app.get("/v1/payments?metadata[customer]=c_42&metadata[channel]=web&rail=CHAIN").await.body), [id.as_str()]);
    assert!(ids(&app.get("/v1/payments?metadata[customer]=c_42&metadata[channel]=app").await.body).is_empty());
    assert!(ids(&app.get("/v1/payments?metadata[customer]=C_42").await.body).is_empty(), "values compare exactly");
    // Another merchant's payment with the same metadata is never found.
    let other_key = app.other_merchant("meta-other").await;
    let r = app
        .request(
            Method::POST,
            "/v1/payments",
            Some(&other_key),
            Some(&json!({"orderId": "m", "amount": "1", "currency": "KRW", "rail": "CARD", "metadata": {"customer": "c_42"}}).to_string()),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(ids(&app.get("/v1/payments?metadata[customer]=c_42").await.body), [id.as_str()]);
    for (q, param) in [("metadata[]=x", "metadata"), ("metadata[a]=", "metadata"), ("metadata=x", "metadata"), ("meta[a]=x", "meta[a]")] {
        let r = app.get(&format!("/v1/payments?{q}")).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some(param), "{q}: {}", r.text);
    }

    // Update: keys merged (null removes one), a field cleared, another kept; the search follows at once.
    let r = update(&app, &id, json!({"metadata": {"channel": null, "tier": "gold"}, "description": null}), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["metadata"], json!({"customer": "c_42", "note": "ü ☕ & = ?", "tier": "gold"}));
    assert!(r.body.get("description").is_none() && r.body["customerEmail"] == "payer@example.com", "{}", r.text);
    assert_eq!((r.body["status"].as_str(), r.body["version"].as_i64()), (Some("PENDING"), Some(1)), "an update is no status change");
    assert!(ids(&app.get("/v1/payments?metadata[channel]=web").await.body).is_empty());
    assert_eq!(ids(&app.get("/v1/payments?metadata[tier]=gold").await.body), [id.as_str()]);

    // The same Idempotency-Key and body answer the same, and change once; another body with it is refused.
    let first = update(&app, &id, json!({"metadata": {"tier": "platinum"}}), Some("upd-1")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = update(&app, &id, json!({"metadata": {"tier": "platinum"}}), Some("upd-1")).await;
    assert_eq!((again.status.as_u16(), &again.body), (200, &first.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.body["metadata"]["tier"], "platinum");
    let r = update(&app, &id, json!({"metadata": {"tier": "silver"}}), Some("upd-1")).await;
    assert_eq!(r.status, 422, "{}", r.text);
    // The step after the commit fails (the key's answer cannot be recorded): the change rolls back with it, and the
    // retry makes it once.
    crate::after_commit::fail_completions(&app, true).await;
    let lost = update(&app, &id, json!({"metadata": {"lost": "once"}}), Some("upd-2")).await;
    crate::after_commit::fail_completions(&app, false).await;
    assert!(lost.status.as_u16() >= 500, "{}", lost.text);
    let now = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(now["metadata"].get("lost"), None, "nothing kept: {now}");
    let retried = update(&app, &id, json!({"metadata": {"lost": "once"}}), Some("upd-2")).await;
    assert_eq!((retried.status.as_u16(), retried.body["metadata"]["lost"].as_str()), (200, Some("once")), "{}", retried.text);
    let r = update(&app, &id, json!({"metadata": {"lost": null}}), None).await;
    assert_eq!(r.body["metadata"].get("lost"), None, "{}", r.text);
    // An update that changes nothing answers the payment and sends no event.
    let r = update(&app, &id, json!({"metadata": {"tier": "platinum"}}), Some("upd-3")).await;
    assert_eq!((r.status.as_u16(), &r.body["metadata"]["tier"]), (200, &json!("platinum")), "{}", r.text);
    let unchanged = app.get(&format!("/v1/payments/{id}")).await.body;

    // Bad input: a 400 naming the field, nothing changed.
    let many: serde_json::Map<String, Value> = (0..49).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (body, param) in [
        (json!({"metadata": many}), "metadata"),
        (json!({"metadata": {"k".repeat(41): "v"}}), "metadata"),
        (json!({"metadata": {"k": "v".repeat(501)}}), "metadata"),
        (json!({"metadata": {"k": 5}}), "metadata"),
        (json!({"metadata": ["k"]}), "metadata"),
        (json!({"customerEmail": "not an email"}), "customerEmail"),
        (json!({"description": "d".repeat(1001)}), "description"),
        (json!({"description": 7}), "description"),
    ] {
        let r = update(&app, &id, body.clone(), None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert_eq!(r.body["error"]["param"].as_str(), Some(param), "{body}: {}", r.text);
    }
    let r = update(&app, &id, json!({"amount": "1"}), None).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app.post("/v1/payments", &json!({"orderId": "meta-bad", "amount": "1", "currency": "KRW", "rail": "CARD", "customerEmail": "a@b"})).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("customerEmail"));
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body, unchanged, "nothing changed");
    let r = update(&app, "0x00000000000000000000000000000000000000000000000000000000000000ff", json!({"description": "x"}), None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app.request(Method::POST, &format!("/v1/payments/{id}"), Some(&other_key), Some(&json!({"description": "mine"}).to_string()), &[]).await;
    assert_eq!(r.status, 404, "another merchant's payment is not found: {}", r.text);

    // Every change is sent as payment.updated, with the metadata as it became; the payment's history (its states)
    // has none of them.
    let history = app.get(&format!("/v1/payments/{id}/events")).await.body;
    let kinds: Vec<&str> = history["data"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["CREATED"], "{history}");
    app.drain_outbox().await;
    let events = app.get("/v1/events?type=payment.updated&limit=100").await;
    assert_eq!(events.status, 200, "{}", events.text);
    let sent: Vec<&Value> = events.body["data"].as_array().unwrap().iter().filter(|e| e["data"]["paymentId"] == id.as_str()).collect();
    assert_eq!(sent.len(), 4, "{}", events.text);
    assert!(sent.iter().any(|e| e["data"]["metadata"]["tier"] == "platinum"), "{}", events.text);
    // An order takes them too, and its card payment carries them.
    let order = json!({"userId": "user-123", "items": [{"itemId": "item-potion", "quantity": 1}], "description": "a potion",
        "customerEmail": "buyer@example.com", "metadata": {"cart": "cart_9"}});
    let r = app.post("/v1/orders", &order).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = &r.body["order"];
    assert_eq!(
        (&o["metadata"], &o["description"], &o["customerEmail"]),
        (&json!({"cart": "cart_9"}), &json!("a potion"), &json!("buyer@example.com"))
    );
    assert_eq!(r.body["payment"]["metadata"], json!({"cart": "cart_9"}), "{}", r.text);
    let got = app.get(&format!("/v1/orders/{}", o["orderId"].as_str().unwrap())).await.body;
    assert_eq!(got["order"]["metadata"], json!({"cart": "cart_9"}), "{got}");
    assert_eq!(ids(&app.get("/v1/payments?metadata[cart]=cart_9").await.body), [r.body["payment"]["paymentId"].as_str().unwrap().to_owned()]);
    let r = app.post("/v1/orders", &json!({"userId": "user-123", "items": [{"itemId": "item-potion", "quantity": 1}], "metadata": {"k": 1}})).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("metadata"));
    let created = app.get("/v1/events?type=payment.created&limit=100").await.body;
    let created: Vec<&Value> = created["data"].as_array().unwrap().iter().filter(|e| e["data"]["paymentId"] == id.as_str()).collect();
    assert_eq!(created[0]["data"]["metadata"]["customer"], "c_42");
    app.finish().await;
}

/// `orderId` is unique among a merchant's payments that may still be paid: a second live one is 409; after the
/// first FAILED or was CANCELLED a new one is created; twenty creates racing for a freed order id make exactly one.
async fn an_order_id_is_free_again_once_its_payment_cannot_be_paid(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = settle_card::sim::Knobs { decline_above: Some(50_000), ..settle_card::sim::Knobs::calm() };
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let card = |order: &str| json!({"orderId": order, "amount": "90000", "currency": "KRW", "rail": "CARD"});
    let first = app.post("/v1/payments", &card("ord-reuse")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let first = first.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(app.post("/v1/payments", &card("ord-reuse")).await.assert_error(409, "duplicate_order").as_deref(), Some("orderId"));
    // Declined (90,000 is past the gateway's limit here): FAILED, the order id is free.
    assert_eq!(app.pay(&first, "KB", "4111-1111-1111-1111", None).await.status, 402);
    assert_eq!(app.get(&format!("/v1/payments/{first}")).await.body["status"], "FAILED");
    let second = app.post("/v1/payments", &card("ord-reuse")).await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second = second.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post("/v1/payments", &card("ord-reuse")).await.assert_error(409, "duplicate_order").as_deref(),
        Some("orderId"),
        "still one live payment"
    );
    // Cancelled: free again; twenty creates race for it and exactly one wins.
    let r = app.post(&format!("/v1/payments/{second}/cancel"), &json!({})).await;
    assert_eq!(r.body["status"], "CANCELLED", "{}", r.text);
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.post("/v1/payments", &card("ord-reuse")).await.status.as_u16() })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|s| **s == 201).count(), 1, "exactly one winner: {answers:?}");
    assert!(answers.iter().all(|s| matches!(s, 201 | 409 | 503)), "every loser a 409 (or SQLite's busy 503), nothing else: {answers:?}");
    let all = app.list_all("/v1/payments?orderId=ord-reuse", "paymentId").await;
    let statuses: Vec<&str> = all.iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["PENDING", "CANCELLED", "FAILED"], "newest first: one live payment per order id, the ended ones kept");
    // A COMPLETED payment keeps its order id for good.
    let done = app.create_card_payment("ord-paid", 1500).await;
    let r = app.pay(&done, "KB", "4111-1111-1111-1111", None).await;
    assert!(r.status.is_success(), "{}", r.text);
    app.wait_final(std::slice::from_ref(&done), std::time::Duration::from_secs(30)).await;
    assert_eq!(app.get(&format!("/v1/payments/{done}")).await.body["status"], "COMPLETED");
    assert_eq!(
        app.post("/v1/payments", &json!({"orderId": "ord-paid", "amount": "1500", "currency": "KRW", "rail": "CARD"}))
            .await
            .assert_error(409, "duplicate_order")
            .as_deref(),
        Some("orderId")
    );
    // Rolling m0019 back would need the old unique index, which these payments break: refused before anything
    // changes (the migration stays applied, the rule still holds).
    // The migrations after m0019 go first (and come back after).
    let after = settle_store::migration::names().iter().skip_while(|n| !n.starts_with("m0019")).count() - 1;
    if after > 0 {
        settle_store::migration::down(&app.ctx.db, after as u32).await.expect("the later migrations roll back");
    }
    let e = settle_store::migration::down(&app.ctx.db, 1).await.expect_err("refused");
    assert!(e.to_string().contains("m0019 cannot be rolled back"), "{e}");
    settle_store::migration::up(&app.ctx.db).await.unwrap();
    assert!(settle_store::migration::pending(&app.ctx.db).await.unwrap().is_empty());
    assert_eq!(app.post("/v1/payments", &card("ord-reuse")).await.assert_error(409, "duplicate_order").as_deref(), Some("orderId"));
    std::sync::Arc::into_inner(app).unwrap().finish().await;
}

/// Ten metadata updates race the payer's card charge on one payment: every update is applied (none lost, the
/// row locked from its read to its commit), and the charge is never refused for the payment having "changed
/// concurrently" (an update is no status change and leaves the version alone).
async fn updates_racing_a_charge_lose_nothing_and_never_fail_the_payer(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = std::sync::Arc::new(app);
    let id = app.create_card_payment("race-update", 1500).await;
    let updates: Vec<_> = (0..10)
        .map(|n| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move { (n, update(&app, &id, json!({"metadata": {format!("k{n}"): "v"}}), None).await) })
        })
        .collect();
    let charge = {
        let (app, id) = (app.clone(), id.clone());
        tokio::spawn(async move { app.pay(&id, "KB", "4111-1111-1111-1111", None).await })
    };
    let mut applied = Vec::new();
    for t in updates {
        let (n, r) = t.await.unwrap();
        match r.status.as_u16() {
            200 => applied.push(format!("k{n}")),
            // SQLite's one writer may turn one away under this contention: it changed nothing.
            503 if v.db == Db::Sqlite => {}
            s => panic!("an update answered {s}: {}", r.text),
        }
    }
    let charged = charge.await.unwrap();
    assert!(matches!(charged.status.as_u16(), 200 | 202), "the charge: {}", charged.text);
    app.wait_final(std::slice::from_ref(&id), std::time::Duration::from_secs(30)).await;
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["status"], "COMPLETED", "{p}");
    let mut kept: Vec<String> = p["metadata"].as_object().unwrap().keys().cloned().collect();
    kept.sort();
    applied.sort();
    assert_eq!(kept, applied, "every applied update is kept, nothing else: {p}");
    assert!(applied.len() >= 5, "most updates went through: {applied:?}");
    std::sync::Arc::into_inner(app).unwrap().finish().await;
}

/// During a rolling upgrade an instance of before m0019 writes payments with the columns it knows (no
/// `open_order_id`): the database computes the column for its rows too, so its second live payment for an order is
/// refused under the index it reads as `duplicate_order`, a live one of its blocks this version's create, and one it
/// records FAILED (or moves to FAILED) frees the order id.
async fn an_earlier_instances_writes_keep_the_order_id_rule(v: Variant) {
    use settle_store::{ConnectionTrait, DbBackend, Statement};
    let Some(app) = TestApp::spawn(v).await else { return };
    let backend = app.ctx.db.get_database_backend();
    let p = |i: usize| if backend == DbBackend::Postgres { format!("${i}") } else { "?".to_owned() };
    let earlier = |order: &str, status: &str| {
        let sql = format!(
            "INSERT INTO payments (payment_id, merchant_id, order_id, rail, amount, currency, status, version, created_at, updated_at) \
             VALUES ({}, {}, {}, 'CARD', '100', 'KRW', {}, 1, 0, 0)",
            p(1),
            p(2),
            p(3),
            p(4)
        );
        let values = [settle_domain::PaymentId::generate().to_string().into(), DEMO_TENANT.into(), order.into(), status.into()];
        app.ctx.db.writes().execute_raw(Statement::from_sql_and_values(backend, sql, values))
    };
    earlier("earlier-1", "PENDING").await.unwrap();
    let e = settle_store::StoreError::from(earlier("earlier-1", "PENDING").await.expect_err("a second live payment for the order"));
    // PostgreSQL and MySQL name the index, which the earlier version reads as duplicate_order (SQLite, one process,
    // has no rolling upgrade).
    if backend != DbBackend::Sqlite {
        assert!(e.violates("payments_merchant_order", "payments", &["merchant_id", "order_id"]), "{e:?}");
    } else {
        assert!(matches!(e, settle_store::StoreError::Unique(_)), "{e:?}");
    }
    let card = |order: &str| json!({"orderId": order, "amount": "100", "currency": "KRW", "rail": "CARD"});
    assert_eq!(app.post("/v1/payments", &card("earlier-1")).await.assert_error(409, "duplicate_order").as_deref(), Some("orderId"));
    // Its FAILED payment holds nothing; its move of the live one to FAILED frees the order id.
    earlier("earlier-2", "FAILED").await.unwrap();
    assert_eq!(app.post("/v1/payments", &card("earlier-2")).await.status, 201);
    let sql = format!("UPDATE payments SET status = 'FAILED' WHERE merchant_id = {} AND order_id = {}", p(1), p(2));
    app.ctx.db.writes().execute_raw(Statement::from_sql_and_values(backend, sql, [DEMO_TENANT.into(), "earlier-1".into()])).await.unwrap();
    assert_eq!(app.post("/v1/payments", &card("earlier-1")).await.status, 201);
    app.finish().await;
}
