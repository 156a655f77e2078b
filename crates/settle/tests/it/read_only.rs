//! Read-only degraded mode: by configuration, by the admin, and by the database refusing writes (PostgreSQL
//! with `default_transaction_read_only`, as a standby in recovery answers; MariaDB with `read_only`, on a server of
//! the test's own; SQLite answering SQLITE_READONLY). Writes answer 503 `read_only` with
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
    let r = app.post("/v1/payments", &TestApp::chain_payment("ro-1")).await;
    r.assert_error(503, "read_only");
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.get("/v1/payments?limit=1").await.status, 200);
    assert_eq!(app.get("/health").await.body["readOnly"], "configured");
    app.shutdown().await;

    setup.settings.read_only = false;
    let app = TestApp::start(setup, app.db.clone()).await;
    assert!(app.get("/health").await.body.get("readOnly").is_none());
    app.create_payment("ro-2").await;
    let toggle = |on: bool| {
        let app = &app;
        async move { app.request(Method::POST, "/v1/admin/read-only", Some(ADMIN_TOKEN), Some(&json!({"enabled": on}).to_string()), &[]).await }
    };
    app.request(Method::POST, "/v1/admin/read-only", Some(&app.key), Some(&json!({"enabled": true}).to_string()), &[])
        .await
        .assert_error(401, "unauthorized");
    let r = toggle(true).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["readOnly"], "admin");
    app.post("/v1/payments", &TestApp::chain_payment("ro-3")).await.assert_error(503, "read_only");
    assert_eq!(app.get("/v1/payments?limit=5").await.body["data"].as_array().unwrap().len(), 1);
    let r = toggle(false).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("readOnly").is_none(), "{}", r.text);
    app.create_payment("ro-3").await;
    app.finish().await;
}

/// The admin's read-only switch holds for the cluster: set on one instance, the other refuses writes too (within a
/// second or so: its follower reads the switch), /health says so on both, it holds across a restart, and switching
/// it off on either lets both write again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_read_only_switch_holds_on_every_instance_and_across_a_restart() {
    let setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis });
    let Some(a) = TestApp::spawn_with(setup.clone()).await else { return };
    let mut b = TestApp::start(setup.clone(), a.db.clone()).await;
    let toggle = |app: &TestApp, on: bool| {
        let (client, base) = (app.client.clone(), app.base.clone());
        async move {
            request_at(&client, &base, Method::POST, "/v1/admin/read-only", Some(ADMIN_TOKEN), Some(&json!({"enabled": on}).to_string()), &[]).await
        }
    };
    let refused_on = |app: &TestApp, order: &'static str| {
        let (client, base, key) = (app.client.clone(), app.base.clone(), app.key.clone());
        async move {
            let body = TestApp::chain_payment(order).to_string();
            request_at(&client, &base, Method::POST, "/v1/payments", Some(&key), Some(&body), &[]).await
        }
    };
    assert_eq!(toggle(&a, true).await.status, 200);
    refused_on(&a, "cluster-ro-a").await.assert_error(503, "read_only");
    // The other instance: refuses writes once its follower has read the switch (a positive signal: its /health).
    eventually(Duration::from_secs(15), "instance B applies the switch", async || (b.get("/health").await.body["readOnly"] == "admin").then_some(()))
        .await;
    refused_on(&b, "cluster-ro-b").await.assert_error(503, "read_only");
    // Restarted, an instance refuses writes from its first request.
    b.shutdown().await;
    let mut b = TestApp::start(setup.clone(), a.db.clone()).await;
    assert_eq!(b.get("/health").await.body["readOnly"], "admin");
    refused_on(&b, "cluster-ro-b2").await.assert_error(503, "read_only");
    // Off on B: A takes writes again within the bound.
    assert_eq!(toggle(&b, false).await.status, 200);
    b.create_payment("cluster-rw-b").await;
    eventually(Duration::from_secs(15), "instance A applies the switch off", async || {
        a.get("/health").await.body.get("readOnly").is_none().then_some(())
    })
    .await;
    a.create_payment("cluster-rw-a").await;
    b.shutdown().await;
    a.finish().await;
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
    // Writable again: within the probe interval writes go through.
    let writable = async {
        pg_admin(&format!("ALTER DATABASE \"{name}\" RESET default_transaction_read_only")).await;
        pg_admin(&end_sessions).await;
    };
    refused_then_accepted(&app, writable).await;
    app.finish().await;
}

/// SQLite refusing writes (SQLITE_READONLY: a read-only file or mount; here `PRAGMA query_only` on the writer's
/// connection, since the tests run as a user file permissions do not stop): Settle turns read-only, and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_file_that_refuses_writes_turns_settle_read_only_and_back() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.settings.read_only_probe = Duration::from_millis(500);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    app.create_payment("before").await;
    app.ctx.db.writes().execute_unprepared("PRAGMA query_only = ON").await.unwrap();
    refused_then_accepted(&app, async {
        app.ctx.db.writes().execute_unprepared("PRAGMA query_only = OFF").await.unwrap();
    })
    .await;
    app.finish().await;
}

/// MySQL/MariaDB with `read_only` set (as a replica is), on a server of the test's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_mysql_server_turns_settle_read_only_and_back() {
    if !(Variant { db: Db::Mysql, cache: Cache::Memory }).available().await {
        return;
    }
    let Some(server) = OwnMariaDb::start().await else { return };
    server.root("CREATE DATABASE settle").await;
    server.root("CREATE USER 'settle'@'%' IDENTIFIED BY 'settle-pw'").await;
    server.root("GRANT ALL ON settle.* TO 'settle'@'%'").await;
    let mut setup = Setup::new(Variant { db: Db::Mysql, cache: Cache::Memory });
    setup.settings.read_only_probe = Duration::from_millis(500);
    let db = TestDb::at(format!("mysql://settle:settle-pw@127.0.0.1:{}/settle", server.port), Db::Mysql);
    let app = TestApp::start(setup, std::sync::Arc::new(db)).await;
    app.create_payment("before").await;
    // The user Settle connects as has no READ ONLY ADMIN: the server refuses its writes (1290).
    server.root("SET GLOBAL read_only = 1").await;
    refused_then_accepted(&app, server.root("SET GLOBAL read_only = 0")).await;
    app.finish().await;
}

/// Writes answer 503 `read_only` (never taken) until `writable` runs; reads and /health go on; then writes pass.
async fn refused_then_accepted(app: &TestApp, writable: impl std::future::Future<Output = ()>) {
    let mut last = String::new();
    let refused = within(Duration::from_secs(15), async || {
        let r = app.post("/v1/payments", &TestApp::chain_payment("during")).await;
        assert!(r.status == 503, "a write was taken by a database refusing writes: {}", r.text);
        last = r.text.clone();
        (r.body["error"]["code"] == "read_only").then_some(r)
    })
    .await;
    let r = refused.unwrap_or_else(|| panic!("never read-only: {last}"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(app.get("/health").await.body["readOnly"], "detected");
    assert_eq!(app.get("/v1/payments?limit=5").await.body["data"].as_array().unwrap().len(), 1, "reads go on");
    writable.await;
    let mut last = String::new();
    let taken = within(Duration::from_secs(15), async || {
        let r = app.post("/v1/payments", &TestApp::chain_payment("after")).await;
        last = r.text;
        (r.status == 201).then_some(())
    })
    .await;
    assert!(taken.is_some(), "never writable again: {last}");
    assert!(app.get("/health").await.body.get("readOnly").is_none());
    let n = app.get("/v1/payments?limit=5").await.body["data"].as_array().unwrap().len();
    assert_eq!(n, 2, "only the payments before and after: nothing written while refused");
}

/// A MariaDB server of the test's own (a fresh data directory, a free port), stopped by its PID on drop.
struct OwnMariaDb {
    port: u16,
    child: std::process::Child,
    _dir: TempDir,
}

impl OwnMariaDb {
    async fn start() -> Option<Self> {
        let dir = TempDir::new();
        let data = dir.0.join("data");
        let install = std::process::Command::new("mariadb-install-db")
            .args(["--no-defaults", "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root"])
            .arg(format!("--datadir={}", data.display()))
            .output();
        match install {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!("mariadb-install-db failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => {
                unavailable("mariadb-install-db", &format!("cannot run: {e}"));
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.0.join("sock").display()))
            .arg(format!("--pid-file={}", dir.0.join("pid").display()))
            .args(["--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=16M"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.0.join("log")).unwrap())
            .spawn()
            .expect("start mariadbd");
        let server = Self { port, child, _dir: dir };
        eventually(Duration::from_secs(30), "the test's MariaDB starts", async || {
            settle_store::connect(&server.root_url(), 1).await.is_ok().then_some(())
        })
        .await;
        Some(server)
    }

    fn root_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    async fn root(&self, sql: &str) {
        let db = settle_store::connect(&self.root_url(), 1).await.unwrap();
        db.writes().execute_unprepared(sql).await.unwrap();
        db.close().await.unwrap();
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
