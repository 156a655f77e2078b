//! Database monitoring as an operator reads it: `GET /admin/db`, the pool and table gauges of `/metrics`, and
//! `settle db stats`.

use reqwest::Method;

use crate::{helpers::*, per_db};

per_db!(the_database_reports_its_pool_and_tables);

async fn the_database_reports_its_pool_and_tables(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    for i in 0..5 {
        app.create_payment(&format!("stats-{i}")).await;
    }
    app.request(Method::GET, "/v1/admin/db", Some(&app.key), None, &[]).await.assert_error(401, "unauthorized");
    let r = app.request(Method::GET, "/v1/admin/db", Some(ADMIN_TOKEN), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let backend = match v.db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
        Db::Mysql => "mysql",
    };
    assert_eq!(r.body["backend"], backend);
    let pool = &r.body["pool"];
    assert_eq!(pool["max"], 10, "{pool}");
    let (size, idle, in_use) = (pool["size"].as_u64().unwrap(), pool["idle"].as_u64().unwrap(), pool["inUse"].as_u64().unwrap());
    assert!(size >= 1 && idle + in_use == size, "{pool}");
    let tables = r.body["tables"].as_array().unwrap();
    let payments = tables.iter().find(|t| t["name"] == "payments").unwrap_or_else(|| panic!("no payments table: {}", r.text));
    match v.db {
        // Counted on SQLite; the planner's estimate elsewhere (0 until the table was analyzed), with its size.
        Db::Sqlite => assert_eq!(payments["rows"], 5, "{payments}"),
        _ => assert!(payments["bytes"].as_i64().unwrap() > 0, "{payments}"),
    }
    assert!(tables.iter().any(|t| t["name"] == "outbox") && tables.iter().any(|t| t["name"] == "webhook_deliveries"));
    // /metrics: the pool at every scrape; table sizes from the janitor's run at start (which may still be under way
    // on a loaded machine).
    let scrape = async || app.request(Method::GET, "/metrics", None, None, &[]).await.text;
    let m = match within(std::time::Duration::from_secs(20), async || Some(scrape().await).filter(|m| m.contains("settle_table_rows{"))).await {
        Some(m) => m,
        None => scrape().await,
    };
    assert!(m.contains("settle_db_pool_connections{state=\"in_use\"}"), "no pool gauge");
    assert!(m.contains("settle_db_pool_max_connections 10"), "no pool maximum");
    assert!(m.contains("settle_table_rows{table=\"payments\"}"), "no table gauge");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settle_db_stats_prints_the_tables_as_json() {
    settle_card::tls::ensure_crypto_provider();
    let dir = TempDir::new();
    let m = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["migrate", "up"])
        .current_dir(&dir.0)
        .env("DATABASE_URL", "sqlite://stats.db")
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["db", "stats"])
        .current_dir(&dir.0)
        .env("DATABASE_URL", "sqlite://stats.db")
        .env("SETTLE_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["backend"], "sqlite");
    assert!(v["tables"].as_array().unwrap().iter().any(|t| t["name"] == "payments" && t["rows"] == 0), "{v}");

    // A running Settle's view: its statements' latency, after some payments.
    let admin = "stats-admin-token-0123456789";
    let env = [
        ("DATABASE_URL", "sqlite://stats.db".to_owned()),
        ("SETTLE_LISTEN", "127.0.0.1:0".to_owned()),
        ("SETTLE_ADMIN_TOKEN", admin.to_owned()),
        ("SETTLE_LOG", "warn".to_owned()),
    ];
    let mut p = Process::start(&dir, &["serve", "--demo"], &env, "listening on");
    let client = reqwest::Client::new();
    for i in 0..30 {
        let body = serde_json::json!({"orderId": format!("stats-{i}"), "amount": "900", "currency": "KRW", "rail": "CARD"}).to_string();
        let r = request_at(&client, &p.base(), Method::POST, "/v1/payments", Some(settle_app::merchants::DEMO_API_KEY), Some(&body), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["db", "stats", "--server", &p.base()])
        .current_dir(&dir.0)
        .env("SETTLE_ADMIN_TOKEN", admin)
        .env("SETTLE_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let statements = v["statements"].as_array().unwrap();
    let insert =
        statements.iter().find(|s| s["sql"].as_str().unwrap().replace('"', "").contains("INSERT INTO payments ")).expect("the payments insert");
    assert!(insert["count"].as_u64().unwrap() >= 30 && insert["p95Ms"].as_f64().unwrap() >= insert["p50Ms"].as_f64().unwrap(), "{insert}");
    assert!(statements.iter().all(|s| !s["sql"].as_str().unwrap().contains("stats-")), "no bound value in a statement");
    p.kill();
}

/// A whole run logged at debug level, every crate included, never shows a card number, an API key, the admin
/// token, a webhook secret or the master key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_carry_no_card_number_key_or_secret() {
    settle_card::tls::ensure_crypto_provider();
    let dir = TempDir::new();
    let admin = "log-test-admin-token-0123456789";
    let master = settle_app::crypto::Keyring::generate();
    let env = [
        ("SETTLE_LOG", "trace,hyper=info,h2=info,rustls=info,tokio=info,runtime=info".to_owned()),
        ("SETTLE_LISTEN", "127.0.0.1:0".to_owned()),
        ("SETTLE_ADMIN_TOKEN", admin.to_owned()),
        ("SETTLE_MASTER_KEY", master.clone()),
        ("SETTLE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1".to_owned()),
    ];
    let mut p = Process::start(&dir, &["serve", "--demo"], &env, "listening on");
    let base = p.base();
    let client = reqwest::Client::new();
    let call = |method: Method, path: &str, key: &str, body: serde_json::Value| {
        let (client, base, path, key) = (client.clone(), base.clone(), path.to_owned(), key.to_owned());
        async move { request_at(&client, &base, method, &path, Some(&key), Some(&body.to_string()), &[]).await }
    };
    let m = call(Method::POST, "/v1/merchants", admin, serde_json::json!({"name": "Log shop"})).await;
    assert_eq!(m.status, 201, "{}", m.text);
    // The test key: `serve --demo` pays test cards on its in-process simulator (no live gateway here).
    let (live, key) = (m.body["apiKey"].as_str().unwrap().to_owned(), m.body["testApiKey"].as_str().unwrap().to_owned());
    let extra = call(Method::POST, "/v1/api-keys", &key, serde_json::json!({})).await.body["apiKey"].as_str().unwrap().to_owned();
    let rx = crate::webhooks::Receiver::start(crate::webhooks::Behaviour::Ok).await;
    let ep = call(Method::POST, "/v1/webhook-endpoints", &key, serde_json::json!({"url": rx.url, "events": ["*"]})).await;
    let secret = ep.body["secret"].as_str().unwrap().to_owned();
    let card = "4111-1111-1111-1111";
    let pay =
        call(Method::POST, "/v1/payments", &key, serde_json::json!({"orderId": "log-1", "amount": "900", "currency": "KRW", "rail": "CARD"})).await;
    let id = pay.body["paymentId"].as_str().unwrap().to_owned();
    // The demo's in-process gateway fails some calls on purpose: a careful merchant retries with the same key.
    eventually(std::time::Duration::from_secs(15), "the charge gets an answer", async || {
        let r = request_at(
            &client,
            &base,
            Method::POST,
            &format!("/v1/payments/{id}/card"),
            Some(&key),
            Some(&serde_json::json!({"cardType": "KB", "cardNo": card}).to_string()),
            &[("idempotency-key", "log-card-1")],
        )
        .await;
        match r.status.as_u16() {
            202 | 402 => Some(()),
            503 => None,
            other => panic!("unexpected {other}: {}", r.text),
        }
    })
    .await;
    // A bad key and a wrong admin token are logged too, if at all, without their values.
    call(Method::GET, "/v1/payments", "sk_not_a_real_key_0000000000000000", serde_json::Value::Null).await;
    call(Method::POST, "/v1/merchants", "wrong-admin-token-0123456789", serde_json::json!({"name": "x"})).await;
    rx.wait_succeeded(2, std::time::Duration::from_secs(15)).await;
    // Settle has recorded (and logged) those deliveries' answers, not only sent them.
    let deliveries = format!("/v1/webhook-endpoints/{}/deliveries", ep.body["id"].as_str().unwrap());
    eventually(std::time::Duration::from_secs(15), "two deliveries recorded as SUCCEEDED", async || {
        let r = call(Method::GET, &deliveries, &key, serde_json::Value::Null).await;
        let succeeded = r.body["data"].as_array().map_or(0, |d| d.iter().filter(|d| d["status"] == "SUCCEEDED").count());
        (succeeded >= 2).then_some(())
    })
    .await;
    p.kill();
    let log = std::fs::read_to_string(dir.0.join("settle.log")).unwrap();
    assert!(log.len() > 10_000, "the run logged little: {} bytes", log.len());
    let local_demo = settle_app::merchants::DEMO_API_KEY;
    for (what, s) in [
        ("card number", card.to_owned()),
        ("card number digits", card.replace('-', "")),
        ("API key", key.clone()),
        ("live API key", live.clone()),
        ("second API key", extra),
        ("demo API key", local_demo.to_owned()),
        ("unknown key", "sk_not_a_real_key_0000000000000000".to_owned()),
        ("admin token", admin.to_owned()),
        ("wrong admin token", "wrong-admin-token-0123456789".to_owned()),
        ("webhook secret", secret.clone()),
        ("webhook key", secret["whsec_".len()..].to_owned()),
        ("master key", master.clone()),
    ] {
        assert!(!log.contains(&s), "the log shows a {what}");
    }
}
