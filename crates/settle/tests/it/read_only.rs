//! Read-only degraded mode: by configuration, by the admin, and by the database refusing writes (PostgreSQL
//! with `default_transaction_read_only`, as a standby in recovery answers). Writes answer 503 `read_only` with
//! Retry-After; reads and /health keep serving and say why.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use settle_store::ConnectionTrait;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn configured_and_admin_read_only_refuse_writes_and_serve_reads() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.settings.read_only = true;
    let Some(mut app) = TestApp::spawn_with(setup.clone()).await else { return };
    let r = app.post("/payments/create", &TestApp::chain_payment("ro-1")).await;
    r.assert_error(503, "read_only");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.get("/payments?limit=1").await.status, 200);
    assert_eq!(app.get("/health").await.body["readOnly"], "configured");
    app.shutdown().await;

    setup.settings.read_only = false;
    let app = TestApp::start(setup, app.db.clone()).await;
    assert!(app.get("/health").await.body.get("readOnly").is_none());
    app.create_payment("ro-2").await;
    let toggle = |on: bool| {
        let app = &app;
        async move { app.request(Method::POST, "/admin/read-only", Some(ADMIN_TOKEN), Some(&json!({"enabled": on}).to_string()), &[]).await }
    };
    app.request(Method::POST, "/admin/read-only", Some(&app.key), Some(&json!({"enabled": true}).to_string()), &[])
        .await
        .assert_error(401, "unauthorized");
    let r = toggle(true).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["readOnly"], "admin");
    app.post("/payments/create", &TestApp::chain_payment("ro-3")).await.assert_error(503, "read_only");
    assert_eq!(app.get("/payments?limit=5").await.body["data"].as_array().unwrap().len(), 1);
    let r = toggle(false).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("readOnly").is_none(), "{}", r.text);
    app.create_payment("ro-3").await;
    app.finish().await;
}

/// Runs `sql` on the PostgreSQL server as its administrator (database `test`).
async fn pg_admin(sql: &str) {
    let url = std::env::var("SETTLE_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let db = settle_store::connect(&url, 1).await.unwrap();
    db.writes().execute_unprepared(sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_that_refuses_writes_turns_settle_read_only_until_it_accepts_them_again() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis });
    setup.settings.read_only_probe = Duration::from_millis(500);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    app.create_payment("before").await;
    let name = app.db.url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    // As a standby in recovery answers: every new session is read-only; the open ones are ended.
    let end_sessions = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
    pg_admin(&format!("ALTER DATABASE \"{name}\" SET default_transaction_read_only = on")).await;
    pg_admin(&end_sessions).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.post("/payments/create", &TestApp::chain_payment("during")).await;
        if r.status == 503 && r.body["error"]["code"] == "read_only" {
            assert!(r.header("retry-after").is_some());
            break;
        }
        // A request on a connection that was just ended may answer 503 database_unavailable once.
        assert!(r.status == 503, "a write was taken by a read-only database: {}", r.text);
        assert!(tokio::time::Instant::now() < deadline, "never read-only: {}", r.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("/health").await.body["readOnly"], "detected");
    assert_eq!(app.get("/payments?limit=5").await.body["data"].as_array().unwrap().len(), 1, "reads go on");
    // Writable again: within the probe interval writes go through.
    pg_admin(&format!("ALTER DATABASE \"{name}\" RESET default_transaction_read_only")).await;
    pg_admin(&end_sessions).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.post("/payments/create", &TestApp::chain_payment("after")).await;
        if r.status == 201 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never writable again: {}", r.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app.get("/health").await.body.get("readOnly").is_none());
    app.finish().await;
}
