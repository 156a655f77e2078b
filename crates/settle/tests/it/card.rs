//! The card rail against the real PG simulator over HTTP.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::json;
use settle_card::{
    sim::Knobs,
    wire::{GatewayStatus, Transaction},
};

use crate::{helpers::*, per_db};

per_db!(
    chaos_every_card_payment_ends_final_and_nothing_is_charged_twice,
    bad_card_input_never_reaches_the_gateway,
    card_happy_paths_declines_and_untrusted_callbacks,
    a_charge_without_an_answer_is_settled_by_the_reconciler,
    a_request_timeout_never_abandons_a_charge
);

pub const CARD: &str = "4111-1111-1111-1111";

/// Charges one payment as a careful merchant would: the same Idempotency-Key on every try, and a retry after
/// a 503 (circuit open, bulkhead full). Returns the final HTTP status. It runs in spawned tasks, where
/// `eventually`'s borrowing async closure is not Send: the pause between tries is the merchant's own.
pub async fn pay_until_answered(app: &TestApp, id: &str) -> u16 {
    let key = format!("pay-{id}");
    for _ in 0..200 {
        let r = app.pay(id, "SAMSUNG", CARD, Some(&key)).await;
        match r.status.as_u16() {
            202 | 402 => return r.status.as_u16(),
            503 => tokio::time::sleep(Duration::from_millis(250)).await,
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    panic!("no answer for {id}");
}

async fn chaos_every_card_payment_ends_final_and_nothing_is_charged_twice(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs {
        request_failure_rate: 0.4,
        latency_ms: [100, 500],
        processing_ms: [1000, 5000],
        success_rate: 0.7,
        callback_drop_rate: 0.2,
        callback_duplicate_rate: 0.1,
        fail_after_record_rate: 0.05,
        // The gateway records some charges twice, reports a status Settle does not know while it processes
        // some, and records some hung charges only after Settle's deadline failed them (a late success).
        duplicate_record_rate: 0.05,
        unknown_status_rate: 0.1,
        hang_rate: 0.02,
        hang_record_after_ms: Some(16_000),
        lookup_lag_ms: 100,
        seed: Some(4),
        ..Knobs::default()
    };
    setup.settings.card.final_check_after = Duration::from_secs(5);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    let app = Arc::new(app);
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..300 {
        ids.push(app.create_card_payment(&format!("chaos-{i}"), 1000 + i).await);
    }
    // Meanwhile, callers that hang up: callbacks for real transactions whose clients give up after 20 ms.
    let hangups = {
        let app = app.clone();
        tokio::spawn(async move {
            let quick = reqwest::Client::builder().timeout(Duration::from_millis(20)).build().unwrap();
            for _ in 0..40 {
                for tx in app.sim_transactions().await.into_iter().take(5) {
                    let body = json!({"transactionKey": tx.transaction_key, "orderId": tx.order_id, "status": "SUCCESS"});
                    let _ = quick.post(format!("{}/v1/payments/callback", app.base)).json(&body).send().await;
                }
                // The fault's schedule: a burst of hang-ups every 250 ms for ten seconds.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(20));
    let tasks: Vec<_> = ids
        .iter()
        .cloned()
        .map(|id| {
            let (app, sem) = (app.clone(), sem.clone());
            tokio::spawn(async move {
                let _p = sem.acquire().await.unwrap();
                pay_until_answered(&app, &id).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    hangups.await.unwrap();
    let statuses = app.wait_final(&ids, Duration::from_secs(120)).await;
    let open: Vec<_> = ids.iter().zip(&statuses).filter(|(_, s)| *s != "COMPLETED" && *s != "FAILED").collect();
    assert!(open.is_empty(), "every payment ends COMPLETED or FAILED within the bound; still open: {open:?}");
    eprintln!("300 card payments final in {:?}", started.elapsed());
    wait_books_agree(&app, &ids, Duration::from_secs(90)).await;
    eprintln!("the gateway's books agree after {:?}", started.elapsed());

    let mut completed = 0;
    for id in &ids {
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        let status = p["status"].as_str().unwrap();
        assert_eq!(p["cardType"], "SAMSUNG");
        assert_eq!(p["cardLast4"], "1111");
        assert!(p.get("flagReason").is_none(), "{id}: nothing disagreed: {p}");
        assert_history(&history(&app, id).await, status, id);
        completed += usize::from(status == "COMPLETED");
    }
    eprintln!("{completed} COMPLETED, {} FAILED", ids.len() - completed);
    assert!(completed > 100, "most charges go through in the end ({completed})");
    refund_under_chaos(&app, &ids).await;
    eprintln!("refunds final and the gateway's refunds agree after {:?}", started.elapsed());
    let m = app.request(Method::GET, "/metrics", None, None, &[]).await.text;
    for name in [
        "settle_pg_calls_total",
        "settle_pg_retries_total",
        "settle_pg_circuit_state",
        "settle_card_voids_total",
        "settle_card_unknown_gateway_status_total",
    ] {
        assert!(m.contains(name), "{name} in /metrics");
    }
    assert_eq!(circuit_of(&app).await, "closed", "hung-up callers never wedge the circuit");
    Arc::into_inner(app).unwrap().finish().await;
}

/// Refunds under the same faults: half of each of the first 100 COMPLETED payments, then the rest, each with its own
/// Idempotency-Key retried after a 503 (a careful merchant). Every refund ends SUCCEEDED or FAILED, and the gateway's refunds agree
/// with Settle's ([`refund_books_agree`]).
async fn refund_under_chaos(app: &Arc<TestApp>, ids: &[String]) {
    let mut paid = Vec::new();
    for id in ids {
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        if p["status"] == "COMPLETED" && paid.len() < 100 {
            paid.push((id.clone(), p["amount"].as_str().unwrap().parse::<u64>().unwrap()));
        }
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(20));
    let tasks: Vec<_> = paid
        .iter()
        .cloned()
        .map(|(id, amount)| {
            let (app, sem) = (app.clone(), sem.clone());
            tokio::spawn(async move {
                let _p = sem.acquire().await.unwrap();
                for (n, body) in [(1, json!({"amount": (amount / 2).to_string()})), (2, json!({}))] {
                    let key = format!("refund-{n}-{id}");
                    for _ in 0..200 {
                        let r = crate::refunds::refund(&app, &id, &body, Some(&key)).await;
                        match r.status.as_u16() {
                            201 => break,
                            // Nothing left (the first refund took it all, or is still holding it).
                            409 if r.body["error"]["code"] == "refund_exceeds_remaining" => break,
                            503 => tokio::time::sleep(Duration::from_millis(250)).await,
                            other => panic!("{id}: refund {n} answered {other}: {}", r.text),
                        }
                    }
                }
            })
        })
        .collect();
    let started = std::time::Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!("{} refunds asked for in {:?}", paid.len() * 2, started.elapsed());
    for (id, _) in &paid {
        crate::refunds::final_refunds(app, id).await;
    }
    eprintln!("refunds final after {:?}", started.elapsed());
    let ids: Vec<String> = paid.into_iter().map(|(id, _)| id).collect();
    if within(Duration::from_secs(30), async || refund_books_agree(app, &ids).await.ok()).await.is_none()
        && let Err(e) = refund_books_agree(app, &ids).await
    {
        panic!("the gateway's refunds disagree with Settle's: {e}");
    }
}

/// The gateway's refunds agree with Settle's: each SUCCEEDED refund of Settle's is refunded at the gateway once and
/// each FAILED one not at all, unless Settle flagged the refund for an operator (recorded twice, or recorded after
/// Settle's deadline failed it); a payment's `amountRefunded` is the sum of its SUCCEEDED refunds and never more
/// than it; the gateway never refunds more than a transaction's amount.
async fn refund_books_agree(app: &TestApp, ids: &[String]) -> Result<(), String> {
    let mut at_gateway: HashMap<String, Vec<settle_card::wire::GatewayRefund>> = HashMap::new();
    for g in crate::refunds::sim_refunds(app).await {
        at_gateway.entry(g.refund_request_id.clone()).or_default().push(g);
    }
    let mut flagged_ids = std::collections::HashSet::new();
    for id in ids {
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        let ours = app.get(&format!("/v1/payments/{id}/refunds")).await.body;
        let mut sum = 0u64;
        for r in ours["data"].as_array().unwrap() {
            let rid = r["refundId"].as_str().unwrap();
            let there = at_gateway.get(rid).map(|gs| gs.iter().filter(|g| g.status == "SUCCEEDED").count()).unwrap_or(0);
            let flagged = !r["flagReason"].is_null();
            if flagged {
                flagged_ids.insert(rid.to_owned());
            }
            match r["status"].as_str().unwrap() {
                "SUCCEEDED" => {
                    sum += r["amount"].as_str().unwrap().parse::<u64>().unwrap();
                    if there == 0 || (there > 1 && !flagged) {
                        return Err(format!("{rid}: SUCCEEDED, refunded {there} times at the gateway: {r}"));
                    }
                }
                "FAILED" if there > 0 && !flagged => return Err(format!("{rid}: FAILED but refunded {there} times at the gateway: {r}")),
                "FAILED" => {}
                other => return Err(format!("{rid}: still {other}")),
            }
        }
        if p["amountRefunded"].as_str() != Some(sum.to_string().as_str()) {
            return Err(format!("{id}: amountRefunded {} but its SUCCEEDED refunds sum to {sum}", p["amountRefunded"]));
        }
        if sum > p["amount"].as_str().unwrap().parse::<u64>().unwrap() {
            return Err(format!("{id}: refunded {sum}, more than paid: {p}"));
        }
    }
    // A gateway that records a refund twice can refund more than a transaction's amount: only ever with the refund
    // flagged by Settle.
    let flagged = flagged_ids;
    let mut by_tx: HashMap<String, u64> = HashMap::new();
    for g in at_gateway.values().flatten().filter(|g| g.status == "SUCCEEDED") {
        *by_tx.entry(g.transaction_key.clone()).or_default() += g.amount;
    }
    for tx in app.sim_transactions().await {
        if by_tx.get(&tx.transaction_key).is_some_and(|r| *r > tx.amount)
            && !at_gateway.values().flatten().any(|g| g.transaction_key == tx.transaction_key && flagged.contains(&g.refund_request_id))
        {
            return Err(format!("{}: the gateway refunded more than {} and no refund is flagged", tx.transaction_key, tx.amount));
        }
    }
    Ok(())
}

/// A payment's event types, oldest first.
pub async fn history(app: &TestApp, id: &str) -> Vec<String> {
    let ev = app.get(&format!("/v1/payments/{id}/events")).await.body;
    ev["data"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap().to_owned()).collect()
}

/// A card payment's history: CREATED; charge attempts (SUBMITTED, then REVERTED when nothing was charged);
/// the gateway's answers (ACCEPTED, OUTCOME_UNKNOWN) and voids of duplicates; exactly one final event matching
/// the status; after it, only voids.
#[track_caller]
fn assert_history(types: &[String], status: &str, id: &str) {
    assert_eq!(types.first().map(String::as_str), Some("CREATED"), "{id}: {types:?}");
    let finals: Vec<usize> = types.iter().enumerate().filter(|(_, t)| *t == "CONFIRMED" || *t == "FAILED").map(|(i, _)| i).collect();
    assert_eq!(finals.len(), 1, "{id}: one final event: {types:?}");
    let last = if status == "COMPLETED" { "CONFIRMED" } else { "FAILED" };
    assert_eq!(types[finals[0]], last, "{id}: {types:?}");
    assert!(
        types[1..finals[0]].iter().all(|t| ["SUBMITTED", "REVERTED", "ACCEPTED", "OUTCOME_UNKNOWN", "VOIDED_DUPLICATE"].contains(&t.as_str())),
        "{id}: {types:?}"
    );
    assert!(types[finals[0] + 1..].iter().all(|t| t.starts_with("VOIDED_")), "{id}: only voids after the end: {types:?}");
}

/// The gateway's books agree with Settle's: every COMPLETED payment holds exactly one un-voided SUCCESS (its
/// recorded key) and every other payment none; nothing is left PENDING at the gateway; every voided
/// transaction has its VOIDED_* event on the payment.
pub async fn books_agree(app: &TestApp, ids: &[String]) -> Result<(), String> {
    let mut by_order: HashMap<String, Vec<Transaction>> = HashMap::new();
    for tx in app.sim_transactions().await {
        by_order.entry(tx.order_id.clone()).or_default().push(tx);
    }
    for id in ids {
        let row = settle_store::payments::find_any(&app.ctx.db, id).await.unwrap().unwrap();
        let txs = by_order.get(id).cloned().unwrap_or_default();
        if let Some(t) = txs
            .iter()
            .find(|t| !matches!(&t.status, GatewayStatus::Success | GatewayStatus::Failed) && t.status != GatewayStatus::Unknown("CANCELLED".into()))
        {
            return Err(format!("{id}: {} is still {} at the gateway", t.transaction_key, t.status));
        }
        let successes: Vec<_> = txs.iter().filter(|t| t.status == GatewayStatus::Success).collect();
        if row.status.as_str() == "COMPLETED" {
            if successes.len() != 1 || Some(&successes[0].transaction_key) != row.external_payment_key.as_ref() {
                return Err(format!("{id}: COMPLETED with key {:?} but the gateway holds successes {successes:?}", row.external_payment_key));
            }
        } else if !successes.is_empty() {
            return Err(format!("{id}: {} but the gateway holds successes {successes:?}", row.status));
        }
        let voided = txs.iter().filter(|t| t.status == GatewayStatus::Unknown("CANCELLED".into())).count();
        let events = history(app, id).await.iter().filter(|t| t.starts_with("VOIDED_")).count();
        if voided != events {
            return Err(format!("{id}: {voided} voided at the gateway, {events} VOIDED_* events"));
        }
    }
    Ok(())
}

pub async fn wait_books_agree(app: &TestApp, ids: &[String], limit: Duration) {
    if within(limit, async || books_agree(app, ids).await.ok()).await.is_some() {
        return;
    }
    if let Err(e) = books_agree(app, ids).await {
        panic!("the gateway's books disagree with Settle's: {e}")
    }
}

async fn bad_card_input_never_reaches_the_gateway(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else {
        return;
    };
    let id = app.create_card_payment("bad-card", 5000).await;
    for (card_type, card_no, param) in [
        ("SAMSUNG", "abcd-efgh-ijkl-mnop", "cardNo"),
        ("SAMSUNG", "4111-1111-1111", "cardNo"),
        ("SAMSUNG", "4111111111111111", "cardNo"),
        ("SAMSUNG", "4111-1111-1111-1112", "cardNo"),
        ("SAMSUNG", "", "cardNo"),
        ("VISA", CARD, "cardType"),
        ("samsung", CARD, "cardType"),
    ] {
        let r = app.pay(&id, card_type, card_no, None).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some(param), "{card_type} {card_no}");
        assert!(!r.text.contains("4111-1111"), "the card number is never echoed");
    }
    let r = app.request(Method::POST, &format!("/v1/payments/{id}/card"), Some(&app.key), Some(r#"{"cardType":"KB"}"#), &[]).await;
    assert_eq!(r.assert_error(400, "parameter_missing").as_deref(), Some("cardNo"));
    let r = app.request(Method::POST, &format!("/v1/payments/{id}/card"), Some(&app.key), Some(r#"{"cardType":"KB","cardNo":4111}"#), &[]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("cardNo"));
    // Card on a chain payment, on a cancelled one, on nobody's: refused before the gateway.
    let chain = app.create_payment("chain-one").await["paymentId"].as_str().unwrap().to_owned();
    app.pay(&chain, "KB", CARD, None).await.assert_error(409, "invalid_state");
    let cancelled = app.create_card_payment("cancel-me", 100).await;
    app.post(&format!("/v1/payments/{cancelled}/cancel"), &json!({})).await;
    app.pay(&cancelled, "KB", CARD, None).await.assert_error(409, "invalid_state");
    app.pay(&format!("0x{}", "cd".repeat(32)), "KB", CARD, None).await.assert_error(404, "payment_not_found");
    // Card creation rules.
    let r = app.post("/v1/payments", &json!({"orderId": "c2", "amount": "1", "currency": "KRW", "rail": "CARD", "chainId": 1})).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("chainId"));

    assert_eq!(app.sim_stats().await.charge_requests, 0, "no bad input reached the gateway");
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["status"], "PENDING");
    assert!(p.get("cardLast4").is_none());
    app.finish().await;
}

async fn card_happy_paths_declines_and_untrusted_callbacks(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { decline_above: Some(1_000_000), callback_drop_rate: 1.0, ..Knobs::calm() };
    setup.settings.card.reconcile_after = Duration::from_secs(30);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };

    // Accepted: 202 PROCESSING with the gateway's key; the card is kept as type and last four only.
    let id = app.create_card_payment("happy", 15_000).await;
    let r = app.pay(&id, "KB", CARD, Some("happy-1")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "PROCESSING");
    let key = r.body["externalPaymentKey"].as_str().expect("key").to_owned();
    assert_eq!((r.body["cardType"].as_str(), r.body["cardLast4"].as_str()), (Some("KB"), Some("1111")));
    let again = app.pay(&id, "KB", CARD, Some("happy-1")).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, r.text);
    assert_eq!(app.sim_stats().await.charge_requests, 1, "a replay sends nothing");
    // Paying again without the key: the payment is no longer PENDING.
    app.pay(&id, "KB", CARD, None).await.assert_error(409, "invalid_state");

    // A forged callback (claims FAILED, the gateway says SUCCESS) is checked with the gateway and applied as SUCCESS.
    eventually(Duration::from_secs(10), "the gateway settles the charge as SUCCESS", async || {
        app.sim_transactions().await.iter().any(|t| t.transaction_key == key && t.status == GatewayStatus::Success).then_some(())
    })
    .await;
    let forged = json!({"transactionKey": key, "orderId": id, "status": "FAILED", "reason": "forged"}).to_string();
    let r = app.request(Method::POST, "/v1/payments/callback", None, Some(&forged), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"], "applied");
    assert_eq!(app.get(&format!("/payments/{id}/status")).await.body["status"], "COMPLETED");
    // Duplicates change nothing.
    for _ in 0..3 {
        let r = app.request(Method::POST, "/v1/payments/callback", None, Some(&forged), &[]).await;
        assert_eq!(r.body["result"], "noop");
    }
    assert_eq!(history(&app, &id).await, ["CREATED", "SUBMITTED", "ACCEPTED", "CONFIRMED"], "confirmed once");
    // Unknown transaction: 404; a callback for no payment of Settle's is answered without asking the gateway.
    let unknown = json!({"transactionKey": "TX-nope", "orderId": id, "status": "SUCCESS"}).to_string();
    app.request(Method::POST, "/v1/payments/callback", None, Some(&unknown), &[]).await.assert_error(404, "not_found");
    let gets = app.sim_stats().await.get_requests;
    let nobody = json!({"transactionKey": key, "orderId": format!("0x{}", "ab".repeat(32)), "status": "SUCCESS"}).to_string();
    app.request(Method::POST, "/v1/payments/callback", None, Some(&nobody), &[]).await.assert_error(404, "not_found");
    assert_eq!(app.sim_stats().await.get_requests, gets, "no gateway call for an unknown order");
    let r = app.request(Method::POST, "/v1/payments/callback", None, Some(&json!({"transactionKey": key, "orderId": "x"}).to_string()), &[]).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("orderId"));
    let bad = app.request(Method::POST, "/v1/payments/callback", None, Some(r#"{"status":"SUCCESS"}"#), &[]).await;
    assert_eq!(bad.assert_error(400, "parameter_missing").as_deref(), Some("transactionKey"));

    // Declined by the gateway at once: 402 card_declined in the error envelope, the payment FAILED with the
    // reason inside it.
    let big = app.create_card_payment("too-big", 5_000_000).await;
    let r = app.pay(&big, "HYUNDAI", CARD, None).await;
    r.assert_error(402, "card_declined");
    assert_eq!(r.body["error"]["type"], "card_error");
    assert_eq!(r.body["error"]["message"], "the card was declined: limit exceeded");
    assert_eq!(r.body["error"]["payment"]["status"], "FAILED");
    assert_eq!(r.body["error"]["payment"]["failureMessage"], "limit exceeded");
    assert_eq!(r.body["error"]["payment"]["paymentId"], big.as_str());
    app.finish().await;
}

mod circuit {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::circuit_opens_fails_fast_and_half_open_probes_close_it(Variant { db: Db::Sqlite, cache: Cache::Memory }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::circuit_opens_fails_fast_and_half_open_probes_close_it(Variant { db: Db::Postgres, cache: Cache::Redis }).await
    }
}

/// The simulator is stopped: charges fail, the circuit opens, calls fail fast with 503 and send nothing (the
/// simulator, back but still within the open wait, receives no request); after the wait, half-open probes
/// succeed and close it.
async fn circuit_opens_fails_fast_and_half_open_probes_close_it(v: Variant) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sim = settle_card::sim::start(listener, Knobs::calm());
    let mut setup = Setup::new(v);
    setup.card.gateway_url = Some(format!("http://{addr}"));
    let c = &mut setup.card.config;
    c.breaker.window_size = 4;
    c.breaker.minimum_calls = 4;
    c.breaker.half_open_calls = 2;
    c.breaker.open_wait = Duration::from_secs(3);
    c.charge_retries = 1;
    c.backoff_base = Duration::from_millis(10);
    let Some(app) = TestApp::spawn_with(setup).await else {
        sim.stop().await;
        return;
    };
    let p1 = app.create_card_payment("cb-1", 100).await;
    assert_eq!(app.pay(&p1, "KB", CARD, None).await.status, 202);
    assert_eq!(circuit_of(&app).await, "closed");
    assert_eq!(app.wait_final(std::slice::from_ref(&p1), Duration::from_secs(10)).await, ["COMPLETED"]);

    sim.stop().await;
    // Connection refused: certainly not recorded, so retried once, then back to PENDING with nothing charged
    // (a 503 the payer may retry), not FAILED: nothing refused the card.
    let p2 = app.create_card_payment("cb-2", 100).await;
    let r = app.pay(&p2, "KB", CARD, None).await;
    r.assert_error(503, "gateway_unavailable");
    assert!(!r.text.contains(&addr.to_string()), "the gateway's address never reaches a merchant: {}", r.text);
    let p = app.get(&format!("/v1/payments/{p2}")).await.body;
    assert_eq!(p["status"], "PENDING", "{p}");
    let ev = app.get(&format!("/v1/payments/{p2}/events")).await;
    assert_eq!(history(&app, &p2).await, ["CREATED", "SUBMITTED", "REVERTED"]);
    assert!(
        ev.text.contains("gateway_unreachable") && !ev.text.contains(&addr.to_string()) && !ev.text.contains("http://"),
        "a stable code, no internal address: {}",
        ev.text
    );
    let p3 = app.create_card_payment("cb-3", 100).await;
    app.pay(&p3, "KB", CARD, None).await.assert_error(503, "circuit_open");
    assert_eq!(app.get(&format!("/v1/payments/{p3}")).await.body["status"], "PENDING");
    assert_eq!(circuit_of(&app).await, "open");

    // Open: fail fast, nothing sent, the payment stays PENDING.
    let sim = settle_card::sim::start(tokio::net::TcpListener::bind(addr).await.expect("rebind"), Knobs::calm());
    let p4 = app.create_card_payment("cb-4", 100).await;
    for _ in 0..5 {
        let t = Instant::now();
        let r = app.pay(&p4, "KB", CARD, Some("cb-4")).await;
        r.assert_error(503, "circuit_open");
        assert!(t.elapsed() < Duration::from_millis(500), "fails fast");
    }
    assert_eq!(app.get(&format!("/v1/payments/{p4}")).await.body["status"], "PENDING");
    let stats = app.client.get(format!("{}/admin/stats", sim.url())).send().await.unwrap().json::<settle_card::sim::Stats>().await.unwrap();
    assert_eq!((stats.charge_requests, stats.get_requests), (0, 0), "no traffic reached the gateway while open");

    // After the open wait (3 s): half-open probes go through and close the circuit.
    let state = eventually(Duration::from_secs(15), "the circuit half-opens after its open wait", async || {
        let state = circuit_of(&app).await;
        (state != "open").then_some(state)
    })
    .await;
    assert_eq!(state, "half_open");
    let r = app.pay(&p4, "KB", CARD, Some("cb-4")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let p5 = app.create_card_payment("cb-5", 100).await;
    assert_eq!(app.pay(&p5, "KB", CARD, None).await.status, 202);
    assert_eq!(circuit_of(&app).await, "closed");
    // The payment refused while the gateway was down is paid now.
    assert_eq!(app.pay(&p2, "KB", CARD, None).await.status, 202);
    let statuses = app.wait_final(&[p1, p2, p4, p5], Duration::from_secs(20)).await;
    assert!(statuses.iter().all(|s| s == "COMPLETED"), "{statuses:?}");
    app.finish().await;
    sim.stop().await;
}

/// The circuit of the test gateway (the demo key's) as /health reports it.
pub async fn circuit_of(app: &TestApp) -> String {
    let h = app.request(Method::GET, "/health", None, None, &[]).await;
    h.body["testGateway"]["circuit"].as_str().unwrap_or_default().to_owned()
}

mod two_reconcilers {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::two_instances_reconcile_each_payment_once(Variant { db: Db::Postgres, cache: Cache::Redis }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql() {
        super::two_instances_reconcile_each_payment_once(Variant { db: Db::Mysql, cache: Cache::Redis }).await
    }
}

/// Two Settle instances on one database, both running the reconciler, and a gateway whose callbacks are all
/// lost (and whose answers are sometimes lost after recording): the reconcilers settle every payment, each
/// exactly once.
async fn two_instances_reconcile_each_payment_once(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs =
        Knobs { callback_drop_rate: 1.0, fail_after_record_rate: 0.3, success_rate: 0.6, processing_ms: [100, 600], seed: Some(7), ..Knobs::calm() };
    setup.settings.card.reconcile_after = Duration::from_millis(0);
    let Some(a) = TestApp::spawn_with(setup).await else {
        return;
    };
    let mut setup_b = a.setup.clone();
    setup_b.card.gateway_url = Some(a.gateway_url.clone());
    let b = TestApp::start(setup_b, a.db.clone()).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let app = if i % 2 == 0 { &a } else { &b };
        let id = app.create_card_payment(&format!("two-{i}"), 100 + i).await;
        let r = app.pay(&id, "HYUNDAI", CARD, None).await;
        assert!(r.status == 202 || r.status == 402, "{}", r.text);
        ids.push(id);
    }
    let statuses = a.wait_final(&ids, Duration::from_secs(60)).await;
    assert!(statuses.iter().all(|s| s == "COMPLETED" || s == "FAILED"), "{statuses:?}");
    let txs = a.sim_transactions().await;
    for id in &ids {
        let ev = a.get(&format!("/v1/payments/{id}/events")).await.body;
        let terminal = ev["data"].as_array().unwrap().iter().filter(|e| e["eventType"] == "CONFIRMED" || e["eventType"] == "FAILED").count();
        assert_eq!(terminal, 1, "{id} settled exactly once: {ev}");
        let mine: Vec<_> = txs.iter().filter(|t| &t.order_id == id).collect();
        assert!(mine.len() <= 1, "{id} charged twice");
        let completed = a.get(&format!("/v1/payments/{id}")).await.body["status"] == "COMPLETED";
        assert_eq!(completed, mine.iter().any(|t| t.status == GatewayStatus::Success), "{id}");
    }
    assert_eq!(a.sim_stats().await.callbacks_sent, 0, "no callback helped");
    let holder = settle_store::leases::holder(&a.ctx.db, settle_app::card::LEASE, settle_store::now_ms()).await.unwrap();
    assert!(holder.as_deref() == Some(a.ctx.instance_id.as_str()) || holder.as_deref() == Some(b.ctx.instance_id.as_str()));
    let mut b = b;
    b.shutdown().await;
    a.finish().await;
}

/// The gateway never answers (the client times out): the outcome is unknown, so the charge is not retried;
/// the payment stays PROCESSING without a key until the reconciler, asking by order id and finding nothing
/// past the deadline, fails it. Then, with the gateway answering again, a timeout on an accepted charge is
/// resolved the other way: the reconciler finds the transaction by order id and completes the payment.
async fn a_charge_without_an_answer_is_settled_by_the_reconciler(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { hang_rate: 1.0, ..Knobs::calm() };
    setup.card.config.request_timeout = Duration::from_millis(300);
    setup.settings.card.reconcile_after = Duration::from_millis(0);
    setup.settings.card.not_recorded_deadline = Duration::from_secs(2);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    let id = app.create_card_payment("hang-1", 700).await;
    let r = app.pay(&id, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "PROCESSING");
    assert!(r.body.get("externalPaymentKey").is_none(), "outcome unknown: no key");
    assert_eq!(app.sim_stats().await.charge_requests, 1, "an unknown outcome is never retried");
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(20)).await, ["FAILED"]);
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert!(p["failureMessage"].as_str().unwrap().contains("never recorded"), "{p}");
    assert!(app.sim_transactions().await.is_empty(), "nothing was charged");

    // Accepted at the gateway but the answer is lost (recorded, then 500): the order lookup finds it.
    let knobs = Knobs { fail_after_record_rate: 1.0, callback_drop_rate: 1.0, ..Knobs::calm() };
    app.client.put(format!("{}/admin/knobs", app.gateway_url)).json(&knobs).send().await.unwrap();
    let id2 = app.create_card_payment("lost-answer", 700).await;
    let r = app.pay(&id2, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.body["externalPaymentKey"].is_string(), "found by order id after the 500: {}", r.text);
    assert_eq!(app.wait_final(std::slice::from_ref(&id2), Duration::from_secs(20)).await, ["COMPLETED"]);
    assert_eq!(app.sim_transactions().await.iter().filter(|t| t.order_id == id2).count(), 1);
    app.finish().await;
}

/// The request times out (504) while the gateway is still being asked: the charge goes on by itself, its
/// outcome is recorded, and a retry with the same Idempotency-Key gets that outcome instead of a second charge.
async fn a_request_timeout_never_abandons_a_charge(v: Variant) {
    let mut setup = Setup::new(v);
    setup.request_timeout = Some(Duration::from_secs(1));
    setup.card.knobs = Knobs { latency_ms: [2000, 2000], ..Knobs::calm() };
    setup.card.config.request_timeout = Duration::from_secs(5);
    // The callback's confirming read is slow too and is cut by the same 1 s bound: the reconciler settles it.
    setup.settings.card.reconcile_after = Duration::from_secs(1);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    let id = app.create_card_payment("slow-gateway", 900).await;
    let r = app.pay(&id, "SAMSUNG", CARD, Some("slow-1")).await;
    r.assert_error(504, "request_timeout");
    // The charge finishes behind the timeout (the gateway answers 2 s after it was asked): recorded with the
    // gateway's key. Polled, not slept for: on a loaded machine the answer and its record come later.
    let recorded = within(Duration::from_secs(15), async || {
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        p["externalPaymentKey"].is_string().then_some(p)
    })
    .await;
    let p = match recorded {
        Some(p) => p,
        None => app.get(&format!("/v1/payments/{id}")).await.body,
    };
    assert!(p["externalPaymentKey"].is_string(), "the accepted charge was recorded after the timeout: {p}");
    // ...then COMPLETED.
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(20)).await, ["COMPLETED"]);
    let again = app.pay(&id, "SAMSUNG", CARD, Some("slow-1")).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(again.body["externalPaymentKey"].is_string());
    assert_eq!(app.sim_stats().await.charge_requests, 1, "charged once");
    app.finish().await;
}
