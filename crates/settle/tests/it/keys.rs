//! API keys a merchant rotates itself, and merchants deleted softly: a revoked key or a deleted merchant's key
//! fails authentication at once on the instance that made the change and on every other instance within a
//! follower interval; the janitor deletes revoked keys after their grace period.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Polls until `key` gets `status` from `GET /payments` on `app` (or 10 s pass); returns the last status.
async fn until_status(app: &TestApp, key: &str, status: u16) -> u16 {
    let mut last = 0;
    let seen = within(Duration::from_secs(10), async || {
        last = app.request(Method::GET, "/v1/payments?limit=1", Some(key), None, &[]).await.status.as_u16();
        (last == status).then_some(last)
    })
    .await;
    seen.unwrap_or(last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_keys_and_deleted_merchants_fail_on_every_instance() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis });
    setup.settings.deleted_grace = Duration::ZERO;
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    // A second instance on the same database, which has authenticated the keys before they change.
    let other = TestApp::start(app.setup.clone(), app.db.clone()).await;
    let demo = app.key.clone();
    let r = app.post("/v1/api-keys", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let new_key = r.body["apiKey"].as_str().unwrap().to_owned();
    let new_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["keyPrefix"], &new_key[..12]);
    for inst in [&app, &other] {
        for k in [&demo, &new_key] {
            assert_eq!(until_status(inst, k, 200).await, 200);
        }
    }
    let list = app.get("/v1/api-keys").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2, "{}", list.text);
    assert!(!list.text.contains(&new_key) && !list.text.contains(&demo), "a key in a listing: {}", list.text);
    let demo_id = list.body["data"][0]["id"].as_str().unwrap().to_owned();

    // Revoked with the new key: the old one fails here at once, and on the other instance soon after.
    let r = app.request(Method::DELETE, &format!("/v1/api-keys/{demo_id}"), Some(&new_key), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let here = app.request(Method::GET, "/v1/payments?limit=1", Some(&demo), None, &[]).await;
    here.assert_error(401, "unauthorized");
    assert_eq!(until_status(&other, &demo, 401).await, 401, "the other instance still takes a revoked key");
    assert_eq!(until_status(&other, &new_key, 200).await, 200);
    // The last active key stays; another merchant cannot touch this one's keys.
    app.request(Method::DELETE, &format!("/v1/api-keys/{new_id}"), Some(&new_key), None, &[]).await.assert_error(409, "invalid_state");
    let r = app.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(&json!({"name": "Leaving shop"}).to_string()), &[]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let (mid, their_key) = (r.body["merchantId"].as_str().unwrap().to_owned(), r.body["apiKey"].as_str().unwrap().to_owned());
    app.request(Method::DELETE, &format!("/v1/api-keys/{new_id}"), Some(&their_key), None, &[]).await.assert_error(404, "not_found");
    app.request(Method::DELETE, "/v1/api-keys/nonsense", Some(&new_key), None, &[]).await.assert_error(404, "not_found");
    assert_eq!(until_status(&other, &their_key, 200).await, 200);

    // The admin deletes that merchant: its key fails on both instances; it is gone for administration too.
    let r = app.request(Method::DELETE, &format!("/v1/merchants/{mid}"), Some(ADMIN_TOKEN), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(until_status(&app, &their_key, 401).await, 401);
    assert_eq!(until_status(&other, &their_key, 401).await, 401);
    app.request(Method::DELETE, &format!("/v1/merchants/{mid}"), Some(ADMIN_TOKEN), None, &[]).await.assert_error(404, "not_found");
    let r = app.request(Method::PATCH, &format!("/v1/merchants/{mid}"), Some(ADMIN_TOKEN), Some(&json!({"feeBps": 1}).to_string()), &[]).await;
    r.assert_error(404, "not_found");

    // The janitor deletes the revoked key once its grace period (here none) is over; the active one stays.
    let purged = settle_app::janitor::Janitor::new(app.ctx.clone()).purge(settle_store::now_ms() + 1).await.unwrap();
    assert_eq!(purged.api_keys, 1, "{purged:?}");
    let list = app.request(Method::GET, "/v1/api-keys", Some(&new_key), None, &[]).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1, "{}", list.text);
    assert_eq!(list.body["data"][0]["id"], new_id.as_str());
    let mut other = other;
    other.shutdown().await;
    app.finish().await;
}

/// Reads an SSE response until it ends (true) or `limit` passes (false).
async fn stream_ends(mut r: reqwest::Response, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, r.chunk()).await {
            Err(_) => return false,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => return true,
        }
    }
}

/// The event streams of a revoked key end, on the instance that revoked it and on another one (within a follower
/// interval), while a stream of the merchant's other key goes on; a deleted merchant's streams end too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_keys_event_streams_end_on_every_instance() {
    let setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis });
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let other = TestApp::start(app.setup.clone(), app.db.clone()).await;
    let r = app.post("/v1/api-keys", &json!({})).await;
    let (doomed, doomed_id) = (r.body["apiKey"].as_str().unwrap().to_owned(), r.body["id"].as_str().unwrap().to_owned());
    let open = |inst: &TestApp, key: &str| {
        let req = inst.client.get(format!("{}/v1/events/stream", inst.base)).bearer_auth(key).send();
        async move {
            let r = req.await.unwrap();
            assert_eq!(r.status(), 200);
            r
        }
    };
    let (here, there, kept) = (open(&app, &doomed).await, open(&other, &doomed).await, open(&other, &app.key).await);
    let r = app.request(Method::DELETE, &format!("/v1/api-keys/{doomed_id}"), Some(&app.key), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(stream_ends(here, Duration::from_secs(15)).await, "the revoking instance kept the revoked key's stream open");
    assert!(stream_ends(there, Duration::from_secs(15)).await, "another instance kept the revoked key's stream open");
    // The merchant's other key keeps its stream: it sees the next event.
    app.create_payment("after-revoke").await;
    let mut kept = kept;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut seen = String::new();
    while !seen.contains("payment.created") {
        let chunk = tokio::time::timeout_at(deadline, kept.chunk()).await.expect("the other key's stream went on").unwrap().expect("not ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    // A deleted merchant's streams end.
    let r = app.request(Method::POST, "/v1/merchants", Some(ADMIN_TOKEN), Some(&json!({"name": "Leaving"}).to_string()), &[]).await;
    let (mid, their_key) = (r.body["merchantId"].as_str().unwrap().to_owned(), r.body["apiKey"].as_str().unwrap().to_owned());
    let theirs = open(&other, &their_key).await;
    let r = app.request(Method::DELETE, &format!("/v1/merchants/{mid}"), Some(ADMIN_TOKEN), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(stream_ends(theirs, Duration::from_secs(15)).await, "a deleted merchant's stream stayed open");
    drop(other);
    app.finish().await;
}

/// A key lookup that began before a revocation was forgotten does not put the key back in the authentication
/// cache (it used to, for 60 s): the lookup's result is kept only if no forgetting happened while it ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lookup_racing_a_revocation_does_not_cache_the_key() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let r = app.post("/v1/api-keys", &json!({})).await;
    let (key, id) = (r.body["apiKey"].as_str().unwrap().to_owned(), r.body["id"].as_str().unwrap().to_owned());
    // The lookup reads the key while it is active ...
    let found = settle_app::merchants::look_up(&app.ctx, &key).await.unwrap();
    // ... the key is revoked (and forgotten) before the lookup caches what it read ...
    let r = app.request(Method::DELETE, &format!("/v1/api-keys/{id}"), Some(&app.key), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    settle_app::merchants::remember(&app.ctx, &key, found).await;
    // ... and the revoked key is not cached: it fails at once.
    assert_eq!(settle_app::merchants::known_merchant(&app.ctx, &key).await, None, "the revoked key was cached");
    assert_eq!(app.request(Method::GET, "/v1/payments?limit=1", Some(&key), None, &[]).await.status, 401);
    app.finish().await;
}
