//! The audit log: every change a merchant's key, the admin or the CLI makes is recorded in the change's own
//! transaction, with who, from where and the request id; a change that rolls back leaves nothing; merchants see
//! only their own entries; no route changes an entry.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

crate::per_db!(changes_are_audited_with_actor_request_and_address, a_rolled_back_change_leaves_no_audit_row);

/// Every entry of the merchant's log, newest first, read page by page through `startingAfter`.
async fn whole_log(app: &TestApp, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/audit-log?limit=2&startingAfter={a}"),
            None => "/v1/audit-log?limit=2".to_owned(),
        };
        let r = app.request(Method::GET, &path, Some(key), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.body["data"].as_array().unwrap().clone();
        assert!(page.len() <= 2);
        after = page.last().map(|e| e["id"].as_str().unwrap().to_owned());
        out.extend(page);
        if r.body["hasMore"] != true {
            return out;
        }
    }
}

async fn changes_are_audited_with_actor_request_and_address(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    // The merchant works in live mode here (its merchant.created entry is in the live log): a live chain.
    setup.chains[0].test_network = false;
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    // The admin creates a merchant: audited as the admin's, on that merchant.
    let r = app.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(&json!({"name": "Audited shop"}).to_string()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (mid, key) = (r.body["merchantId"].as_str().unwrap().to_owned(), r.body["apiKey"].as_str().unwrap().to_owned());
    let admin_request = r.header("x-request-id").unwrap().to_owned();
    let call = |m: Method, path: String, body: Value| {
        let (app, key) = (&app, key.clone());
        async move { app.request(m, &path, Some(&key), Some(&body.to_string()), &[]).await }
    };
    let keys = app.request(Method::GET, "/v1/api-keys", Some(&key), None, &[]).await;
    let key_id = keys.body["data"][0]["id"].as_str().unwrap().to_owned();

    // A payment created and canceled, a webhook endpoint, a shop user: each an entry.
    let r = call(Method::POST, "/v1/payments".into(), TestApp::chain_payment("audit-1")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pid = r.body["paymentId"].as_str().unwrap().to_owned();
    let create_request = r.header("x-request-id").unwrap().to_owned();
    let secret_of_payment = r.body["clientSecret"].as_str().unwrap_or_default().to_owned();
    let r = call(Method::POST, format!("/v1/payments/{pid}/cancel"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cancel_request = r.header("x-request-id").unwrap().to_owned();
    let r = call(Method::POST, "/v1/webhook-endpoints".into(), json!({"url": "http://127.0.0.1:9/hook", "events": ["payment.*"]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (endpoint, secret) = (r.body["id"].as_str().unwrap().to_owned(), r.body["secret"].as_str().unwrap().to_owned());
    let r = call(Method::POST, "/v1/users".into(), json!({"userId": "kim", "name": "Kim", "points": 500})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Refused changes and reads leave nothing.
    call(Method::POST, format!("/v1/payments/{pid}/cancel"), json!({})).await.assert_error(409, "invalid_state");
    call(Method::POST, "/v1/users".into(), json!({"userId": "kim", "name": "Kim", "points": 500})).await.assert_error(409, "invalid_state");
    app.request(Method::GET, &format!("/v1/payments/{pid}"), Some(&key), None, &[]).await;

    let log = whole_log(&app, &key).await;
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user.created", "webhook_endpoint.created", "payment.cancelling", "payment.created", "merchant.created"], "{log:#?}");
    let entry = |action: &str| log.iter().find(|e| e["action"] == action).unwrap().clone();
    let created = entry("payment.created");
    assert_eq!(created["targetId"], pid.as_str());
    assert_eq!(created["actor"], json!({"type": "merchant", "id": key_id}));
    assert_eq!(created["requestId"], create_request.as_str());
    assert_eq!(created["clientAddress"], "127.0.0.1");
    assert_eq!(created["changes"]["status"], "PENDING");
    assert_eq!(created["changes"]["amount"], "1500");
    assert_eq!(created["digest"].as_str().unwrap().len(), 64);
    let canceled = entry("payment.cancelling");
    assert_eq!((canceled["requestId"].as_str(), canceled["changes"]["status"].as_str()), (Some(cancel_request.as_str()), Some("CANCELLING")));
    let merchant = entry("merchant.created");
    assert_eq!(merchant["actor"], json!({"type": "admin"}));
    assert_eq!((merchant["targetId"].as_str(), merchant["requestId"].as_str()), (Some(mid.as_str()), Some(admin_request.as_str())));
    assert_eq!(entry("webhook_endpoint.created")["targetId"], endpoint.as_str());
    // No key, webhook secret or checkout secret in any entry.
    let text = serde_json::to_string(&log).unwrap();
    assert!(!secret_of_payment.is_empty());
    for s in [key.as_str(), secret.as_str(), ADMIN_TOKEN, secret_of_payment.as_str()] {
        assert!(!text.contains(s), "a secret in the audit log: {text}");
    }

    // Filters: by action, by target.
    let r = app.request(Method::GET, "/v1/audit-log?action=payment.cancelling", Some(&key), None, &[]).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = app.request(Method::GET, &format!("/v1/audit-log?targetId={pid}"), Some(&key), None, &[]).await;
    let acts: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(acts, ["payment.cancelling", "payment.created"], "{}", r.text);
    app.request(Method::GET, "/v1/audit-log?startingAfter=nope", Some(&key), None, &[]).await.assert_error(400, "parameter_invalid");
    app.request(Method::GET, "/v1/audit-log?limit=0", Some(&key), None, &[]).await.assert_error(400, "parameter_invalid");
    // Another merchant sees none of it; the log has no route that changes it.
    let r = app.request(Method::GET, "/v1/audit-log", Some(&app.key), None, &[]).await;
    assert!(r.body["data"].as_array().unwrap().iter().all(|e| e["targetId"] != pid.as_str() && e["targetId"] != mid.as_str()), "{}", r.text);
    for m in [Method::DELETE, Method::PATCH, Method::PUT, Method::POST] {
        let r = app.request(m.clone(), "/v1/audit-log", Some(&key), Some("{}"), &[]).await;
        assert_eq!(r.status, 405, "{m}: {}", r.text);
    }
    let first = log.last().unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.request(Method::DELETE, &format!("/v1/audit-log/{first}"), Some(&key), None, &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(whole_log(&app, &key).await.len(), log.len());
    app.finish().await;
}

async fn a_rolled_back_change_leaves_no_audit_row(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let db = &app.ctx.db;
    let count = || async { settle_store::audit::list(db, "mch_rollback", None, None, settle_store::Cursor::First, 100).await.unwrap().0.len() };
    let scope = settle_app::audit::Scope::new(Some("req-1".into()), Some("127.0.0.1".into()), settle_app::audit::Actor::new("cli", None));
    settle_app::audit::within(scope, async {
        // Rolled back, and dropped unfinished: no row either way.
        let txn = settle_store::begin(db).await.unwrap();
        let payload = json!({"type": "test.changed", "data": {"status": "X"}});
        settle_store::outbox::enqueue(&txn, "mch_rollback", "test.changed", "t1", &payload, 1).await.unwrap();
        settle_store::audit::record(&txn, Some("mch_rollback"), "test.recorded", "t1", &json!({"a": 1})).await.unwrap();
        txn.rollback().await.unwrap();
        {
            let txn = settle_store::begin(db).await.unwrap();
            settle_store::audit::record(&txn, Some("mch_rollback"), "test.recorded", "t2", &json!({"a": 2})).await.unwrap();
        }
        assert_eq!(count().await, 0, "a rolled-back change left an audit row");
        // Committed: the event and the explicit record, both.
        let txn = settle_store::begin(db).await.unwrap();
        settle_store::outbox::enqueue(&txn, "mch_rollback", "test.changed", "t3", &payload, 1).await.unwrap();
        settle_store::audit::record(&txn, Some("mch_rollback"), "test.recorded", "t3", &json!({"a": 3})).await.unwrap();
        txn.commit().await.unwrap();
    })
    .await;
    let (rows, _) = settle_store::audit::list(db, "mch_rollback", None, None, settle_store::Cursor::First, 100).await.unwrap();
    let got: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r.action.as_str(), r.target_id.as_str(), r.actor_type.as_str())).collect();
    assert_eq!(got, [("test.recorded", "t3", "cli"), ("test.changed", "t3", "cli")]);
    assert_eq!(rows[1].changes, r#"{"status":"X"}"#);
    // Outside a scope (a worker) nothing is recorded.
    let txn = settle_store::begin(db).await.unwrap();
    settle_store::audit::record(&txn, Some("mch_rollback"), "test.recorded", "t4", &json!({})).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(count().await, 2);
    // The janitor deletes entries past SETTLE_AUDIT_RETENTION_DAYS (365 by default), and only those.
    let janitor = settle_app::janitor::Janitor::new(app.ctx.clone());
    assert_eq!(janitor.purge(settle_store::now_ms() + 364 * 86_400_000).await.unwrap().audit, 0);
    assert_eq!(count().await, 2);
    assert!(janitor.purge(settle_store::now_ms() + 366 * 86_400_000).await.unwrap().audit >= 2);
    assert_eq!(count().await, 0);
    app.finish().await;
}
