//! API keys a merchant rotates itself, and merchants deleted softly: a revoked key or a deleted merchant's key
//! fails authentication at once on the instance that made the change and on every other instance within a
//! follower interval; the janitor deletes revoked keys after their grace period.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Polls until `key` gets `status` from `GET /payments` on `app` (or 10 s pass); returns the last status.
async fn until_status(app: &TestApp, key: &str, status: u16) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = app.request(Method::GET, "/payments?limit=1", Some(key), None, &[]).await.status.as_u16();
        if s == status || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_keys_and_deleted_merchants_fail_on_every_instance() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis });
    setup.settings.deleted_grace = Duration::ZERO;
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    // A second instance on the same database, which has authenticated the keys before they change.
    let other = TestApp::start(app.setup.clone(), app.db.clone()).await;
    let demo = app.key.clone();
    let r = app.post("/api-keys", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_key = r.body["apiKey"].as_str().unwrap().to_owned();
    let new_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["keyPrefix"], &new_key[..8]);
    for inst in [&app, &other] {
        for k in [&demo, &new_key] {
            assert_eq!(until_status(inst, k, 200).await, 200);
        }
    }
    let list = app.get("/api-keys").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2, "{}", list.text);
    assert!(!list.text.contains(&new_key) && !list.text.contains(&demo), "a key in a listing: {}", list.text);
    let demo_id = list.body["data"][0]["id"].as_str().unwrap().to_owned();

    // Revoked with the new key: the old one fails here at once, and on the other instance soon after.
    let r = app.request(Method::DELETE, &format!("/api-keys/{demo_id}"), Some(&new_key), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let here = app.request(Method::GET, "/payments?limit=1", Some(&demo), None, &[]).await;
    here.assert_error(401, "unauthorized");
    assert_eq!(until_status(&other, &demo, 401).await, 401, "the other instance still takes a revoked key");
    assert_eq!(until_status(&other, &new_key, 200).await, 200);
    // The last active key stays; another merchant cannot touch this one's keys.
    app.request(Method::DELETE, &format!("/api-keys/{new_id}"), Some(&new_key), None, &[]).await.assert_error(409, "invalid_state");
    let r = app.request(Method::POST, "/merchants", Some(ADMIN_TOKEN), Some(&json!({"name": "Leaving shop"}).to_string()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (mid, their_key) = (r.body["merchantId"].as_str().unwrap().to_owned(), r.body["apiKey"].as_str().unwrap().to_owned());
    app.request(Method::DELETE, &format!("/api-keys/{new_id}"), Some(&their_key), None, &[]).await.assert_error(404, "not_found");
    app.request(Method::DELETE, "/api-keys/nonsense", Some(&new_key), None, &[]).await.assert_error(404, "not_found");
    assert_eq!(until_status(&other, &their_key, 200).await, 200);

    // The admin deletes that merchant: its key fails on both instances; it is gone for administration too.
    let r = app.request(Method::DELETE, &format!("/merchants/{mid}"), Some(ADMIN_TOKEN), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(until_status(&app, &their_key, 401).await, 401);
    assert_eq!(until_status(&other, &their_key, 401).await, 401);
    app.request(Method::DELETE, &format!("/merchants/{mid}"), Some(ADMIN_TOKEN), None, &[]).await.assert_error(404, "not_found");
    let r = app.request(Method::PATCH, &format!("/merchants/{mid}"), Some(ADMIN_TOKEN), Some(&json!({"feeBps": 1}).to_string()), &[]).await;
    r.assert_error(404, "not_found");

    // The janitor deletes the revoked key once its grace period (here none) is over; the active one stays.
    let purged = settle_app::janitor::Janitor::new(app.ctx.clone()).purge(settle_store::now_ms() + 1).await.unwrap();
    assert_eq!(purged.api_keys, 1, "{purged:?}");
    let list = app.request(Method::GET, "/api-keys", Some(&new_key), None, &[]).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "{}", list.text);
    assert_eq!(list.body["data"][0]["id"], new_id.as_str());
    let mut other = other;
    other.shutdown().await;
    app.finish().await;
}
