//! The /v1 conventions as a client meets them: cursor pages in both directions, an unknown query parameter named
//! in a 400, unversioned paths that are not the seeds' gone, and the gasless checkout's Idempotency-Key when the
//! step after the commit fails.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use settle_chain::{PrivateKeySigner, U256, deploy};

use crate::{
    chain::{Anvil, key},
    helpers::*,
    per_db,
};

per_db!(lists_page_both_ways_by_cursor, unknown_query_parameters_are_named_and_old_paths_are_gone, concurrent_key_creates_never_pass_the_cap);

/// Twenty concurrent `POST /v1/api-keys`: the merchant never holds more than its 10 active keys (each create counts
/// under the merchant's lock), and every refused one is a 409 that made nothing.
async fn concurrent_key_creates_never_pass_the_cap(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.post("/v1/api-keys", &json!({})).await.status.as_u16() })
        })
        .collect();
    let (mut made, mut full) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            201 => made += 1,
            409 => full += 1,
            // SQLite's one writer may turn one away under this contention: it made nothing either.
            503 => {}
            s => panic!("a create answered {s}"),
        }
    }
    let active = settle_store::merchants::keys(&app.ctx.db, DEMO_TENANT).await.unwrap().iter().filter(|k| k.revoked_at.is_none()).count();
    assert_eq!(active, 1 + made, "every 201 made one key, nothing else did");
    assert!(active <= 10 && full > 0, "never past the cap: {active} active, {full} refused");
    std::sync::Arc::into_inner(app).unwrap().finish().await;
}

fn ids(page: &Value, field: &str) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|p| p[field].as_str().unwrap().to_owned()).collect()
}

/// Pages of 2 over 5 items, newest first: forward with `startingAfter` to the end (`hasMore` false), back with
/// `endingBefore` to the start; every item seen once, in order. The same on payments, sagas and the audit log
/// (with a filter).
async fn lists_page_both_ways_by_cursor(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let mut payments = Vec::new();
    for n in 0..5 {
        payments.push(app.create_payment(&format!("page-{n}")).await["paymentId"].as_str().unwrap().to_owned());
    }
    for _ in 0..5 {
        let r = app.post("/purchase", &json!({"userId": "user-123", "itemId": "item-potion", "quantity": 1})).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let sagas: Vec<String> = ids(&app.get("/v1/sagas?limit=100").await.body, "transactionId").into_iter().rev().collect();
    assert_eq!(sagas.len(), 5);
    for n in 0..5 {
        let r = app.post("/v1/users", &json!({"userId": format!("pager-{n}"), "name": "Pager", "points": 0})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let audits: Vec<String> = ids(&app.get("/v1/audit-log?action=user.created&limit=100").await.body, "id").into_iter().rev().collect();
    assert_eq!(audits.len(), 5);
    for (list, field, made) in
        [("/v1/payments?", "paymentId", &payments), ("/v1/sagas?", "transactionId", &sagas), ("/v1/audit-log?action=user.created&", "id", &audits)]
    {
        let newest_first: Vec<String> = made.iter().rev().cloned().collect();
        let page = |q: String| {
            let app = &app;
            async move {
                let r = app.get(&format!("{list}limit=2{q}")).await;
                assert_eq!(r.status, 200, "{list}{q}: {}", r.text);
                (ids(&r.body, field), r.body["hasMore"].as_bool().unwrap())
            }
        };
        let (a, more) = page(String::new()).await;
        assert_eq!((a.as_slice(), more), (&newest_first[0..2], true), "{list}: the first page");
        let (b, more) = page(format!("&startingAfter={}", a[1])).await;
        assert_eq!((b.as_slice(), more), (&newest_first[2..4], true), "{list}: the second page");
        let (c, more) = page(format!("&startingAfter={}", b[1])).await;
        assert_eq!((c.as_slice(), more), (&newest_first[4..5], false), "{list}: the last page");
        // Back: the page before the last one's first item, then the one before that, which is the first.
        let (back, more) = page(format!("&endingBefore={}", c[0])).await;
        assert_eq!((back.as_slice(), more), (&newest_first[2..4], true), "{list}: the page before the last");
        let (back, more) = page(format!("&endingBefore={}", back[0])).await;
        assert_eq!((back.as_slice(), more), (&newest_first[0..2], false), "{list}: back at the start");
        // Both cursors at once, or one naming nothing of the caller's: 400 naming it.
        let r = app.get(&format!("{list}startingAfter={}&endingBefore={}", a[0], a[1])).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("endingBefore"));
        let stranger = match field {
            "paymentId" => settle_domain::PaymentId::generate().to_string(),
            "transactionId" => "saga_nothing".into(),
            _ => "nothing".into(),
        };
        let r = app.get(&format!("{list}endingBefore={stranger}")).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("endingBefore"));
        // The default page is 10.
        assert_eq!(ids(&app.get(list.trim_end_matches(['?', '&'])).await.body, field).len(), 5);
    }
    app.finish().await;
}

/// A /v1 route refuses a query parameter it does not take, naming it (a misspelt filter would otherwise list
/// everything); the seed's paths stay lenient; the old unversioned paths that are not the seeds' answer 404.
async fn unknown_query_parameters_are_named_and_old_paths_are_gone(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let p = app.create_payment("query").await["paymentId"].as_str().unwrap().to_owned();
    for (path, param) in [
        ("/v1/payments?stauts=FAILED".to_owned(), "stauts"),
        ("/v1/payments?status=FAILED&page=2".to_owned(), "page"),
        (format!("/v1/payments/{p}?expand=events"), "expand"),
        ("/v1/sagas?dateFrom=2026-01-01T00:00:00Z".to_owned(), "dateFrom"),
        ("/v1/events?type=payment.*&since=1".to_owned(), "since"),
        ("/v1/webhook-endpoints?limit=5".to_owned(), "limit"),
        ("/v1/audit-log?actor=me".to_owned(), "actor"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some(param), "{path}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(param), "{}", r.text);
    }
    // A POST too: the query of a create is not read, so it is refused rather than ignored.
    let r = app.post("/v1/payments?dryRun=true", &TestApp::chain_payment("query-2")).await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("dryRun"));
    assert_eq!(app.get("/v1/payments?orderId=query-2").await.body["data"], json!([]), "nothing was created");
    // HEAD is checked as its GET; a method the route does not have is its 405; the gateway's callback takes the
    // query its configured URL may carry.
    let head = app.request(Method::HEAD, "/v1/payments?limit=1", Some(&app.key), None, &[]).await;
    assert_eq!(head.status, 200);
    let put = app.request(Method::PUT, "/v1/payments?limit=1", Some(&app.key), Some("{}"), &[]).await;
    put.assert_error(405, "method_not_allowed");
    let cb = app.request(Method::POST, "/v1/payments/callback?source=gateway", None, Some("{}"), &[]).await;
    assert_eq!(cb.assert_error(400, "parameter_missing").as_deref(), Some("transactionKey"), "the body is read, not the query");
    // A name is compared as sent: an escaped spelling of a parameter is not that parameter.
    let r = app.get("/v1/payments?%73tatus=FAILED").await;
    r.assert_error(400, "parameter_invalid");
    // The seed's paths keep their leniency.
    assert_eq!(app.get("/sagas?sort=desc").await.status, 200);
    assert_eq!(app.get(&format!("/payments/{p}/status?fresh=1")).await.status, 200);
    // Settle's own pre-1.0 paths are gone; the seed's are not.
    for path in [format!("/payments/{p}"), "/payments".into(), "/webhook-endpoints".into(), "/events/list".into(), "/orders/x".into()] {
        app.get(&path).await.assert_error(404, "not_found");
    }
    app.finish().await;
}

/// Settle on SQLite over `anvil` with the contracts deployed, 2 confirmations, and a relay wait of 2 s (so that a
/// test can make the wait end first by mining nothing).
pub(crate) async fn relay_app(anvil: &Anvil) -> TestApp {
    deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    let mut spec = settle_app::chain::settings::dev_chain(&anvil.url);
    spec.confirmations = Some(2);
    spec.poll_ms = Some(100);
    setup.chains = vec![spec];
    setup.settings.relay_wait = Duration::from_secs(2);
    TestApp::spawn_with(setup).await.unwrap()
}

/// The gasless checkout under an Idempotency-Key, when the step after the commit fails and when the wait for
/// the chain ends first:
/// - the answer cannot be recorded: the relay request rolls back with it (the payment stays PENDING, nothing is
///   sent), and the retry relays it;
/// - a retry of an answered key answers the same relay request (replayed), and a second submission without the
///   key is refused (409): one relay, one transaction;
/// - `POST /v1/payments/{id}/relay` whose wait ends first answers 202 with the relay and the payment PROCESSING;
///   its retry relays nothing again and, once mined, answers 200 with the payment COMPLETED.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_gasless_checkout_is_idempotent_when_the_step_after_the_commit_fails() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = relay_app(&anvil).await;
    let token: settle_chain::Address = TOKEN.parse().unwrap();
    let relayer = key(0).address().to_checksum(None);
    let with_key = async |path: &str, k: &str, body: &Value| {
        app.request(Method::POST, path, Some(&app.key), Some(&body.to_string()), &[("idempotency-key", k)]).await
    };

    // gasless: the answer cannot be recorded, so nothing is.
    let payer = PrivateKeySigner::random();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(10_000)).await.unwrap();
    let created = app.create_payment("gasless-idem").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let body = crate::chain::sign_checkout(&app, &created, &payer).await;
    let path = format!("/v1/payments/{id}/gasless");
    crate::after_commit::fail_completions(&app, true).await;
    let first = with_key(&path, "gasless-1", &body).await;
    crate::after_commit::fail_completions(&app, false).await;
    assert!(first.status.as_u16() >= 500, "the answer could not be recorded: {}", first.text);
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["status"], "PENDING", "the relay request rolled back with the answer");
    let retry = with_key(&path, "gasless-1", &body).await;
    assert_eq!(retry.status, 202, "{}", retry.text);
    let relay_id = retry.body["relayRequestId"].as_str().unwrap().to_owned();
    let again = with_key(&path, "gasless-1", &body).await;
    assert_eq!((again.status.as_u16(), again.body["relayRequestId"].as_str()), (202, Some(relay_id.as_str())), "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    app.post(&path, &body).await.assert_error(409, "invalid_state");
    crate::chain::mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(30)).await;
    let txs = settle_store::relay::all_txs(&app.ctx.db, 31337, &relayer).await.unwrap();
    assert_eq!(txs.len(), 1, "one transaction for the one relay: {txs:?}");

    // relay, by the payer (its client secret): the wait ends first (no block is mined), 202; the retry relays nothing
    // again; mined, 200. The payer's keys are its payment's own: the merchant used "relay-1" to create the payment,
    // and the payer's "relay-1" is another key (not a 422 that would tell the payer what the merchant sent).
    let payer = PrivateKeySigner::random();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(10_000)).await.unwrap();
    let created = with_key("/v1/payments", "relay-1", &TestApp::chain_payment("relay-idem")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.body;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let secret = created["clientSecret"].as_str().unwrap().to_owned();
    let body = crate::chain::sign_checkout(&app, &created, &payer).await;
    let path = format!("/v1/payments/{id}/relay");
    let with_key = async |path: &str, k: &str, body: &Value| {
        app.request(Method::POST, path, Some(&secret), Some(&body.to_string()), &[("idempotency-key", k)]).await
    };
    let _: Value = rpc.call("evm_setAutomine", json!([false])).await.unwrap();
    let waited = with_key(&path, "relay-1", &body).await;
    assert_eq!(waited.status, 202, "still on its way when the wait ended: {}", waited.text);
    assert_eq!(waited.body["payment"]["status"], "PROCESSING", "{}", waited.text);
    let relay_id = waited.body["relayRequestId"].as_str().unwrap().to_owned();
    let waited_again = with_key(&path, "relay-1", &body).await;
    assert_eq!((waited_again.status.as_u16(), waited_again.body["relayRequestId"].as_str()), (202, Some(relay_id.as_str())));
    crate::chain::mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(30)).await;
    let done = with_key(&path, "relay-1", &body).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!((done.body["relayRequestId"].as_str(), done.body["payment"]["status"].as_str()), (Some(relay_id.as_str()), Some("COMPLETED")));
    assert!(done.body["payment"]["txHash"].is_string(), "{}", done.text);
    let txs = settle_store::relay::all_txs(&app.ctx.db, 31337, &relayer).await.unwrap();
    assert_eq!(txs.len(), 2, "one transaction per relay, none for a retry: {txs:?}");
    app.finish().await;
}
