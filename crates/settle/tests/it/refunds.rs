//! Refunds of card payments against the real PG simulator: whole, partial and several; never more than was paid,
//! even under 50 concurrent requests; exactly once at the gateway whatever it does (answers lost, callbacks lost,
//! refunds recorded twice, refusals, hangs).

use std::{sync::Arc, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use settle_card::{sim::Knobs, wire::GatewayRefund};

use crate::{card::CARD, helpers::*, per_db};

per_db!(
    whole_partial_and_several_refunds_never_exceed_the_payment,
    fifty_concurrent_refunds_never_exceed_the_paid_amount,
    refunds_under_gateway_faults_end_final_and_are_made_once
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cli_creates_and_lists_refunds() {
    the_cli_creates_and_lists_refunds_on(Variant { db: Db::Sqlite, cache: Cache::Memory }).await
}

/// A CARD payment of `amount`, charged and COMPLETED.
pub(crate) async fn completed_card_payment(app: &TestApp, order: &str, amount: u64) -> String {
    let id = app.create_card_payment(order, amount).await;
    let r = app.pay(&id, "SAMSUNG", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(30)).await, ["COMPLETED"]);
    id
}

/// `POST /v1/payments/{id}/refunds` with the demo key.
pub(crate) async fn refund(app: &TestApp, id: &str, body: &Value, key: Option<&str>) -> Resp {
    let extra: Vec<(&str, &str)> = key.map(|k| vec![("idempotency-key", k)]).unwrap_or_default();
    app.request(Method::POST, &format!("/v1/payments/{id}/refunds"), Some(&app.key), Some(&body.to_string()), &extra).await
}

/// A payment's refunds once none is PENDING (within 60 s).
pub(crate) async fn final_refunds(app: &TestApp, id: &str) -> Vec<Value> {
    let mut last = Value::Null;
    let done = within(Duration::from_secs(60), async || {
        last = app.get(&format!("/v1/payments/{id}/refunds")).await.body;
        let data = last["data"].as_array()?.clone();
        data.iter().all(|r| r["status"] == "SUCCEEDED" || r["status"] == "FAILED").then_some(data)
    })
    .await;
    done.unwrap_or_else(|| panic!("refunds still PENDING: {last}"))
}

/// Every refund the simulator recorded.
pub(crate) async fn sim_refunds(app: &TestApp) -> Vec<GatewayRefund> {
    app.client.get(format!("{}/admin/refunds", app.gateway_url)).send().await.expect("refunds").json().await.expect("refunds json")
}

pub(crate) async fn set_knobs(app: &TestApp, knobs: &Knobs) {
    let r = app.client.put(format!("{}/admin/knobs", app.gateway_url)).json(knobs).send().await.expect("knobs");
    assert!(r.status().is_success());
}

/// Checks, for `payment_id`, that the gateway holds each SUCCEEDED refund of Settle's once (twice only for a refund
/// Settle flagged as recorded twice) and no successful refund for a FAILED one, and that the payment's
/// `amountRefunded` is the sum of its SUCCEEDED refunds, never more than its amount.
pub(crate) async fn assert_refunds_consistent(app: &TestApp, payment_id: &str) {
    let ours = final_refunds(app, payment_id).await;
    let payment = app.get(&format!("/v1/payments/{payment_id}")).await.body;
    let at_gateway = sim_refunds(app).await;
    let mut sum = 0u64;
    for r in &ours {
        let id = r["refundId"].as_str().unwrap();
        let succeeded_there = at_gateway.iter().filter(|g| g.refund_request_id == id && g.status == "SUCCEEDED").count();
        match r["status"].as_str().unwrap() {
            "SUCCEEDED" => {
                sum += r["amount"].as_str().unwrap().parse::<u64>().unwrap();
                if r["flagReason"].is_null() {
                    assert_eq!(succeeded_there, 1, "refunded once at the gateway: {r}");
                } else {
                    assert!(succeeded_there >= 1, "{r}");
                }
            }
            _ => assert_eq!(succeeded_there, 0, "a FAILED refund refunded nothing: {r}"),
        }
    }
    assert_eq!(payment["amountRefunded"], sum.to_string(), "{payment}");
    assert!(sum <= payment["amount"].as_str().unwrap().parse::<u64>().unwrap(), "{payment}");
}

async fn whole_partial_and_several_refunds_never_exceed_the_payment(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let id = completed_card_payment(&app, "refund-me", 10_000).await;
    let fresh = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!((fresh["amountRefunded"].as_str(), fresh["refundStatus"].as_str()), (Some("0"), Some("none")), "{fresh}");

    // Not yet paid: refused, nothing recorded.
    let pending = app.create_card_payment("refund-me-not", 500).await;
    refund(&app, &pending, &json!({}), None).await.assert_error(409, "invalid_state");
    // Bad input never reaches the gateway.
    for (body, param) in [
        (json!({"amount": "-1"}), "amount"),
        (json!({"amount": "0"}), "amount"),
        (json!({"amount": "1.5"}), "amount"),
        (json!({"reason": "because"}), "reason"),
        // Settle's own reason, for its automatic refunds of payments paid after they ended.
        (json!({"reason": "paid_after_final"}), "reason"),
        (json!({"metadata": {"k": 1}}), "metadata.k"),
    ] {
        let r = refund(&app, &id, &body, None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text);
        assert!(r.body["error"]["param"].as_str().is_some_and(|p| p.starts_with(param.split('.').next().unwrap())), "{body}: {}", r.text);
    }
    refund(&app, &id, &json!({"amount": "5", "extra": 1}), None).await.assert_error(400, "parameter_invalid");
    assert_eq!(sim_refunds(&app).await.len(), 0);

    // A partial refund, replayed with its key: one refund.
    let body = json!({"amount": "3000", "reason": "requested_by_customer", "metadata": {"ticket": "T-1"}});
    let first = refund(&app, &id, &body, Some("rf-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let r1 = first.body["refundId"].as_str().unwrap().to_owned();
    assert_eq!((first.body["amount"].as_str(), first.body["paymentId"].as_str()), (Some("3000"), Some(id.as_str())));
    assert_eq!((first.body["reason"].as_str(), first.body["metadata"]["ticket"].as_str()), (Some("requested_by_customer"), Some("T-1")));
    let again = refund(&app, &id, &body, Some("rf-1")).await;
    assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (201, Some("true")), "{}", again.text);
    assert_eq!(again.body["refundId"], r1.as_str());
    refund(&app, &id, &json!({"amount": "3001"}), Some("rf-1")).await.assert_error(422, "idempotency_key_reused");
    // A second part, then the rest by default.
    let second = refund(&app, &id, &json!({"amount": "2000"}), None).await;
    assert_eq!(second.status, 201, "{}", second.text);
    let rest = refund(&app, &id, &json!({}), Some("rf-rest")).await;
    assert_eq!((rest.status.as_u16(), rest.body["amount"].as_str()), (201, Some("5000")), "{}", rest.text);
    // Nothing is left: refused, whatever the amount.
    let over = refund(&app, &id, &json!({"amount": "1"}), None).await;
    assert_eq!(over.assert_error(409, "refund_exceeds_remaining").as_deref(), Some("amount"));

    let done = final_refunds(&app, &id).await;
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|r| r["status"] == "SUCCEEDED"), "{done:?}");
    let paid = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(
        (paid["amountRefunded"].as_str(), paid["refundStatus"].as_str(), paid["status"].as_str()),
        (Some("10000"), Some("full"), Some("COMPLETED"))
    );
    assert_refunds_consistent(&app, &id).await;
    let at_gateway = sim_refunds(&app).await;
    assert_eq!(at_gateway.len(), 3, "{at_gateway:?}");
    let tx = app.sim_transactions().await.into_iter().find(|t| t.order_id == id).unwrap();
    assert_eq!(tx.status, settle_card::wire::GatewayStatus::Refunded);

    // Reads: one refund, a filtered list, pages.
    let one = app.get(&format!("/v1/refunds/{r1}")).await;
    assert_eq!((one.status.as_u16(), one.body["status"].as_str(), one.body["livemode"].as_bool()), (200, Some("SUCCEEDED"), Some(false)));
    let listed = app.list_all(&format!("/v1/refunds?status=succeeded&paymentId={id}&limit=2"), "refundId").await;
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[2]["refundId"], r1.as_str(), "newest first");
    assert_eq!(app.get("/v1/refunds?status=FAILED").await.body["data"].as_array().unwrap().len(), 0);
    app.get("/v1/refunds?status=DONE").await.assert_error(400, "parameter_invalid");
    app.get("/v1/refunds?color=red").await.assert_error(400, "parameter_invalid");
    app.get("/v1/refunds/re_123").await.assert_error(400, "parameter_invalid");
    app.get("/v1/refunds/re_0123456789abcdef0123456789abcdef").await.assert_error(404, "not_found");

    // Another merchant sees none of it and cannot refund it.
    let other = app.other_merchant("refund-stranger").await;
    let theirs = app.request(Method::GET, &format!("/v1/refunds/{r1}"), Some(&other), None, &[]).await;
    theirs.assert_error(404, "not_found");
    let refund_theirs =
        app.request(Method::POST, &format!("/v1/payments/{id}/refunds"), Some(&other), Some(&json!({"amount": "1"}).to_string()), &[]).await;
    refund_theirs.assert_error(404, "payment_not_found");
    let listed_theirs = app.request(Method::GET, "/v1/refunds", Some(&other), None, &[]).await;
    assert_eq!(listed_theirs.body["data"].as_array().unwrap().len(), 0);

    // The events: created and succeeded, for each refund.
    app.drain_outbox().await;
    let events = app.list_all("/v1/events?limit=100", "id").await;
    for kind in ["refund.created", "refund.succeeded"] {
        let n = events.iter().filter(|e| e["type"] == kind && e["data"]["paymentId"] == id.as_str()).count();
        assert_eq!(n, 3, "{kind}");
    }
    app.finish().await;
}

/// 50 refunds of 150 at once on a payment of 5000: exactly 33 are taken (4950), the others refused with
/// `refund_exceeds_remaining`; the gateway refunds 4950 and not a unit more; the last 50 can still be refunded.
async fn fifty_concurrent_refunds_never_exceed_the_paid_amount(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let id = completed_card_payment(&app, "refund-race", 5000).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let key = format!("race-{i}");
            let (app, id, key, body) = (&app, &id, &key, &json!({"amount": "150"}));
            unless_busy(|| refund(app, id, body, Some(key))).await
        }));
    }
    let mut taken = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            201 => taken += 1,
            409 => assert_eq!(r.body["error"]["code"], "refund_exceeds_remaining", "{}", r.text),
            other => panic!("{other}: {}", r.text),
        }
    }
    assert_eq!(taken, 33, "exactly what fits in the payment");
    let done = final_refunds(&app, &id).await;
    assert_eq!(done.len(), 33);
    assert_refunds_consistent(&app, &id).await;
    let refunded: u64 = sim_refunds(&app).await.iter().filter(|g| g.status == "SUCCEEDED").map(|g| g.amount).sum();
    assert_eq!(refunded, 4950);
    let last = refund(&app, &id, &json!({}), None).await;
    assert_eq!((last.status.as_u16(), last.body["amount"].as_str()), (201, Some("50")), "{}", last.text);
    assert_refunds_consistent(&app, &id).await;
    let paid = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!((paid["amountRefunded"].as_str(), paid["refundStatus"].as_str()), (Some("5000"), Some("full")));
    Arc::try_unwrap(app).ok().unwrap().finish().await;
}

/// The gateway misbehaves in every way a charge meets, one at a time; each refund ends final, and the gateway
/// refunds each SUCCEEDED one once (a refund it records twice is flagged for an operator).
async fn refunds_under_gateway_faults_end_final_and_are_made_once(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.config.request_timeout = Duration::from_secs(1);
    // A refund failed as never recorded is looked at again for 4 x 5 s: the late record below (16 s after the
    // request, the deadline being 10 s) falls well inside that however slowly the checker runs.
    setup.settings.card.final_check_after = Duration::from_secs(5);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let id = completed_card_payment(&app, "refund-faults", 100_000).await;
    let calm = Knobs::calm();
    let cases: Vec<(&str, Knobs, &str)> = vec![
        // The refund is recorded, the answer lost: found by its request id, never sent again.
        ("answer lost", Knobs { fail_after_record_rate: 1.0, ..calm.clone() }, "SUCCEEDED"),
        // No callback ever comes: the refund checker asks.
        ("callback lost", Knobs { callback_drop_rate: 1.0, ..calm.clone() }, "SUCCEEDED"),
        // Callbacks twice: applied once.
        ("callback twice", Knobs { callback_duplicate_rate: 1.0, ..calm.clone() }, "SUCCEEDED"),
        // Recorded twice at the gateway: Settle's refund succeeds once and is flagged.
        ("recorded twice", Knobs { duplicate_record_rate: 1.0, ..calm.clone() }, "SUCCEEDED"),
        // Visible to lookups late.
        ("lookup lag", Knobs { fail_after_record_rate: 1.0, lookup_lag_ms: 700, ..calm.clone() }, "SUCCEEDED"),
        // The gateway processes it and refuses it: FAILED, its amount free again.
        ("refused later", Knobs { refund_failure_rate: 1.0, ..calm.clone() }, "FAILED"),
        // Refused at once.
        ("refused at once", Knobs { force_status: Some(422), ..calm.clone() }, "FAILED"),
        // Every attempt a 500 before recording: looked up, resent, never recorded; FAILED after the deadline.
        ("never recorded", Knobs { request_failure_rate: 1.0, ..calm.clone() }, "FAILED"),
        // No answer, recorded late: found by the checker.
        ("hang, recorded late", Knobs { hang_rate: 1.0, hang_record_after_ms: Some(300), ..calm.clone() }, "SUCCEEDED"),
        // No answer, never recorded: FAILED after the deadline.
        ("hang, never recorded", Knobs { hang_rate: 1.0, ..calm.clone() }, "FAILED"),
        // Recorded twice, and one copy (or both) refused: SUCCEEDED when any copy was, FAILED only when both were.
        ("recorded twice, a copy refused", Knobs { duplicate_record_rate: 1.0, refund_failure_rate: 0.5, ..calm.clone() }, "ANY"),
        // No answer; recorded after the deadline failed it: corrected to SUCCEEDED (its amount was held), flagged.
        ("hang, recorded after the deadline", Knobs { hang_rate: 1.0, hang_record_after_ms: Some(16_000), ..calm.clone() }, "SUCCEEDED"),
    ];
    for (i, (what, knobs, expected)) in cases.iter().enumerate() {
        set_knobs(&app, knobs).await;
        let r = refund(&app, &id, &json!({"amount": "1000", "metadata": {"case": what}}), Some(&format!("fault-{i}"))).await;
        assert_eq!(r.status, 201, "{what}: {}", r.text);
        let rid = r.body["refundId"].as_str().unwrap().to_owned();
        let mut last = Value::Null;
        let wanted = |s: &str| if *expected == "ANY" { s == "SUCCEEDED" || s == "FAILED" } else { s == *expected };
        let status = within(Duration::from_secs(60), async || {
            last = app.get(&format!("/v1/refunds/{rid}")).await.body;
            let s = last["status"].as_str()?.to_owned();
            wanted(&s).then_some(s)
        })
        .await;
        assert!(status.is_some(), "{what}: expected {expected}: {last}");
        match *what {
            "recorded twice" | "recorded twice, a copy refused" => {
                assert!(last["flagReason"].as_str().is_some_and(|f| f.contains("2 times")), "{what}: {last}")
            }
            "hang, recorded after the deadline" => assert!(last["flagReason"].as_str().is_some_and(|f| f.contains("deadline")), "{what}: {last}"),
            _ => assert!(last["flagReason"].is_null(), "{what}: {last}"),
        }
        if *expected == "FAILED" {
            assert!(last["failureCode"].as_str().is_some(), "{what}: {last}");
        }
        set_knobs(&app, &calm).await;
    }
    assert_refunds_consistent(&app, &id).await;
    // A retry of any of them answers the same refund.
    let replay = refund(&app, &id, &json!({"amount": "1000", "metadata": {"case": "answer lost"}}), Some("fault-0")).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"), "{}", replay.text);
    app.finish().await;
}

/// `settle refund create|list` against a running Settle: a refund made, listed, and a refusal said with exit 2.
async fn the_cli_creates_and_lists_refunds_on(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let id = completed_card_payment(&app, "refund-cli", 4000).await;
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
            .args(args)
            .env("SETTLE_URL", &app.base)
            .env("SETTLE_API_KEY", &app.key)
            .env_remove("DATABASE_URL")
            .output()
            .expect("run settle");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = cli(&["refund", "create", "--payment", &id, "--amount", "1500", "--reason", "duplicate", "--idempotency-key", "cli-1"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let made: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!((made["amount"].as_str(), made["reason"].as_str()), (Some("1500"), Some("duplicate")), "{made}");
    // The same key again: the same refund.
    let (code, again, _) = cli(&["refund", "create", "--payment", &id, "--amount", "1500", "--reason", "duplicate", "--idempotency-key", "cli-1"]);
    assert_eq!(code, Some(0));
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap()["refundId"], made["refundId"]);
    let (code, out, err) = cli(&["refund", "create", "--payment", &id, "--amount", "2501"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("refund_exceeds_remaining"), "{err}");
    final_refunds(&app, &id).await;
    let (code, out, err) = cli(&["refund", "list", "--payment", &id, "--status", "SUCCEEDED"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let listed: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["data"][0]["refundId"], made["refundId"]);
    assert_eq!(sim_refunds(&app).await.len(), 1);
    app.finish().await;
}
