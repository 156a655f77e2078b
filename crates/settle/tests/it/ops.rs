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
    app.request(Method::GET, "/admin/db", Some(&app.key), None, &[]).await.assert_error(401, "unauthorized");
    let r = app.request(Method::GET, "/admin/db", Some(ADMIN_TOKEN), None, &[]).await;
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
    // /metrics: the pool at every scrape; table sizes from the janitor's run at start.
    let m = app.request(Method::GET, "/metrics", None, None, &[]).await.text;
    assert!(m.contains("settle_db_pool_connections{state=\"in_use\"}"), "no pool gauge");
    assert!(m.contains("settle_db_pool_max_connections 10"), "no pool maximum");
    assert!(m.contains("settle_table_rows{table=\"payments\"}"), "no table gauge");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settle_db_stats_prints_the_tables_as_json() {
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
}
