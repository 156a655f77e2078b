//! `settle db check` on each backend: clean after `migrate up` (what CI gates on), then the drift an operator's hand
//! makes (a dropped index, an extra column, a stray table without a key), a pending migration and a long-open
//! transaction, each found with its rule id and location. The SARIF is validated against the SARIF 2.1.0 schema
//! (`tests/schemas/sarif-2.1.0-rtm.5.json`, vendored from the npm package @microsoft/jest-sarif, MIT).

use std::{path::Path, process::Command};

use serde_json::Value;
use settle_store::ConnectionTrait;

use crate::helpers::*;

crate::per_db!(a_migrated_database_is_clean_and_drift_is_found);

/// Runs `settle` with `DATABASE_URL` in `dir`; gives its exit code and stdout.
fn settle(dir: &TempDir, url: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(args)
        .current_dir(&dir.0)
        .env("DATABASE_URL", url)
        .env_remove("REDIS_URL")
        .env("SETTLE_LOG", "debug")
        .output()
        .expect("run settle");
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Validates a SARIF file against the vendored schema with Python's jsonschema (scripts/test installs it).
fn validate_sarif(file: &Path) {
    let python = std::env::var("SETTLE_SCHEMATHESIS")
        .map(|st| Path::new(&st).with_file_name("python").display().to_string())
        .unwrap_or_else(|_| "python3".into());
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/sarif-2.1.0-rtm.5.json");
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))\n\
                  errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)\n\
                  [print(e.message, list(e.path)) for e in errors]\n\
                  sys.exit(1 if errors else 0)";
    match Command::new(&python).arg("-c").arg(script).arg(&schema).arg(file).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("No module named") => {
            unavailable("jsonschema (Python)", "is not installed (scripts/test installs it)");
        }
        Ok(o) => panic!("the SARIF is not valid SARIF 2.1.0: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            unavailable("python3", &format!("cannot run: {e}"));
        }
    }
}

/// The rule ids of a SARIF report's results, with their levels.
fn results(sarif: &Value) -> Vec<(String, String, String)> {
    sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["ruleId"].as_str().unwrap().to_owned(), r["level"].as_str().unwrap().to_owned(), r["message"]["text"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn a_migrated_database_is_clean_and_drift_is_found(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(target) = TestDb::create(v.db).await else { return };
    let dir = TempDir::new();
    let url = target.url.clone();
    assert_eq!(settle(&dir, &url, &["migrate", "up"]).0, 0);

    // Clean: exit 0, nothing found, in every format; stdout is only the report (logs go to stderr).
    let (code, out, err) = settle(&dir, &url, &["db", "check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("0 errors, 0 warnings, 0 notes\n") && out.lines().count() == 1, "{out}");
    let (code, out, _) = settle(&dir, &url, &["db", "check", "--format", "json"]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!((report["summary"]["errors"].as_u64(), report["summary"]["tables"].as_u64()), (Some(0), Some(37)), "{report}");
    // The scripted workload ran (payments, a charge, orders, one declined and compensated, webhooks, keys) with
    // every statement traced, and found no request repeating a statement or writing outside a transaction.
    let (requests, statements) = (report["summary"]["requests"].as_u64().unwrap(), report["summary"]["statements"].as_u64().unwrap());
    assert!(requests >= 30 && statements > 3 * requests, "{report}");
    let sarif_file = dir.0.join("clean.sarif");
    assert_eq!(settle(&dir, &url, &["db", "check", "--format", "sarif", "--output", sarif_file.to_str().unwrap()]).0, 0);
    validate_sarif(&sarif_file);
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif_file).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(results(&sarif).is_empty(), "{sarif}");
    assert!(sarif["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len() >= 13);

    // Drift by hand: a dropped index, an extra column, a stray table without a primary key; and a migration a newer
    // Settle applied, a finding of its own that no longer turns the drift comparison off.
    let db = settle_store::connect(&url, 1).await.unwrap();
    let drop_index = if v.db == Db::Mysql { "DROP INDEX payments_merchant_order_id ON payments" } else { "DROP INDEX payments_merchant_order_id" };
    for sql in [
        drop_index,
        "ALTER TABLE payments ADD COLUMN extra_col INTEGER",
        "CREATE TABLE stray (a INTEGER)",
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m9999_newer', 0)",
    ] {
        db.writes().execute_unprepared(sql).await.unwrap();
    }
    let sarif_file = dir.0.join("drift.sarif");
    let (code, _, err) = settle(&dir, &url, &["db", "check", "--format", "sarif", "--output", sarif_file.to_str().unwrap()]);
    assert_eq!(code, 1, "error-level findings exit 1: {err}");
    assert!(err.contains("error-level finding"), "{err}");
    validate_sarif(&sarif_file);
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif_file).unwrap()).unwrap();
    let found = results(&sarif);
    let has = |rule: &str, level: &str, text: &str| found.iter().any(|(r, l, m)| r == rule && l == level && m.contains(text));
    assert!(has("SETTLE005", "error", "index payments_merchant_order_id on payments (merchant_id, order_id) is missing"), "{found:#?}");
    assert!(has("SETTLE007", "error", "payments is looked up by (merchant_id, order_id)"), "{found:#?}");
    assert!(has("SETTLE004", "error", "payments.extra_col is not declared"), "{found:#?}");
    assert!(has("SETTLE003", "warning", "table stray is not Settle's"), "{found:#?}");
    assert!(has("SETTLE006", "error", "table stray has no primary key"), "{found:#?}");
    assert!(found.iter().any(|(r, _, m)| r == "SETTLE002" && m.contains("m9999_newer")), "{found:#?}");
    // Every result points at a file of this repository, with a line where one is known.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for r in sarif["runs"][0]["results"].as_array().unwrap() {
        let loc = &r["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(root.join(uri).is_file(), "{uri} is not a file of the repository");
        if let Some(line) = loc["region"]["startLine"].as_u64() {
            assert!(line as usize <= std::fs::read_to_string(root.join(uri)).unwrap().lines().count());
        }
    }
    // An index's finding points at the migration that made it (m0019), not at its table's (m0002).
    let index = sarif["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "SETTLE005").unwrap();
    let at = &index["locations"][0]["physicalLocation"];
    assert_eq!(at["artifactLocation"]["uri"], "crates/settle-store/src/migration/m0019_payment_details.rs", "{index}");
    let line = at["region"]["startLine"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(root.join("crates/settle-store/src/migration/m0019_payment_details.rs")).unwrap();
    assert!(text.lines().nth(line - 1).unwrap().contains("\"payments_merchant_order_id\""), "line {line}");
    let lookup = sarif["runs"][0]["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "SETTLE007").unwrap();
    assert_eq!(lookup["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "crates/settle-store/src/payments.rs");
    // The text report says the same, one line each.
    let (code, out, _) = settle(&dir, &url, &["db", "check"]);
    assert_eq!(code, 1);
    assert!(out.lines().any(|l| l.starts_with("error SETTLE005 index payments_merchant_order_id")), "{out}");

    // Put right; then a migration rolled back is pending, and nothing else is reported.
    let create_index = "CREATE INDEX payments_merchant_order_id ON payments (merchant_id, order_id)";
    for sql in
        [create_index, "ALTER TABLE payments DROP COLUMN extra_col", "DROP TABLE stray", "DELETE FROM seaql_migrations WHERE version = 'm9999_newer'"]
    {
        db.writes().execute_unprepared(sql).await.unwrap();
    }
    assert_eq!(settle(&dir, &url, &["db", "check"]).0, 0);
    // Back to m0014: every migration from m0015 (the janitor's index) on is pending again.
    let after_m0014 = settle_store::migration::names().iter().skip_while(|n| !n.starts_with("m0015")).count();
    assert_eq!(settle(&dir, &url, &["migrate", "down", &after_m0014.to_string()]).0, 0);
    let (code, out, _) = settle(&dir, &url, &["db", "check", "--format", "json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&out).unwrap();
    // Errors only: the workload's request warnings (SETTLE012, a statement repeated in one request) depend on what
    // earlier checks of this same database left open; a card callback that settles several refunds at once repeats
    // its per-refund statements (seen once in CI).
    let rules: Vec<&str> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["level"] == "error").map(|f| f["ruleId"].as_str().unwrap()).collect();
    // The migrations rolled back are pending; m0015 made the janitor's index, m0018 the event id's and the
    // publishing time's, m0026 a payment's chain logs', m0027 the saga sweep's, m0028 three retention lookups': their
    // lookups are reported as unindexed too.
    let mut want = vec!["SETTLE001"; after_m0014];
    want.extend(["SETTLE007"; 8]);
    assert_eq!(rules, want, "{report}");
    assert_eq!(settle(&dir, &url, &["migrate", "up"]).0, 0);

    // A transaction held open (PostgreSQL and MySQL report other sessions' transactions): a warning, exit 0.
    if v.db != Db::Sqlite {
        let holder = settle_store::connect(&url, 1).await.unwrap();
        let txn = settle_store::TransactionTrait::begin(holder.pool()).await.unwrap();
        txn.execute_unprepared("UPDATE leases SET owner = owner").await.unwrap();
        let own_id = if v.db == Db::Postgres { "SELECT CAST(pg_backend_pid() AS BIGINT)" } else { "SELECT CAST(CONNECTION_ID() AS SIGNED)" };
        let own = txn.query_one_raw(settle_store::Statement::from_string(txn.get_database_backend(), own_id)).await.unwrap().unwrap();
        let own = own.try_get_by_index::<i64>(0).unwrap().to_string();
        txn.query_one_raw(settle_store::Statement::from_string(txn.get_database_backend(), "SELECT COUNT(*) FROM payments")).await.unwrap();
        // The server itself counts this transaction as open longer than the threshold (as `db check` asks it).
        eventually(std::time::Duration::from_secs(30), "the transaction is older than 1 s", async || {
            settle_store::schema::long_sessions(db.pool(), 1).await.unwrap().iter().any(|s| s.id == own).then_some(())
        })
        .await;
        let (code, out, err) = settle(&dir, &url, &["db", "check", "--long-transaction-secs", "1"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.lines().any(|l| l.starts_with("warning SETTLE010 session")), "{out}");
        txn.rollback().await.unwrap();
    }
    db.close().await.unwrap();
    target.drop_now().await;
}

/// `settle db check` under a role that may only read (PostgreSQL): it cannot make its reference on the live
/// server, so it checks the rest and says what it did not (warning SETTLE014, exit 0); given
/// SETTLE_DB_CHECK_REFERENCE_URL (a role that may create a schema) it checks everything, and the database is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn db_check_runs_under_a_read_only_role() {
    let Some(target) = TestDb::create(Db::Postgres).await else { return };
    let dir = TempDir::new();
    assert_eq!(settle(&dir, &target.url, &["migrate", "up"]).0, 0);
    let admin = settle_store::connect(&target.url, 1).await.unwrap();
    let (role, ro_url) = read_only_role(&admin, &target.url, "check").await;
    let (code, out, err) = settle(&dir, &ro_url, &["db", "check", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let rules: Vec<(&str, &str)> =
        report["findings"].as_array().unwrap().iter().map(|f| (f["ruleId"].as_str().unwrap(), f["level"].as_str().unwrap())).collect();
    assert_eq!(rules, [("SETTLE014", "warning")], "{report}");
    let o = Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["db", "check", "--format", "json"])
        .current_dir(&dir.0)
        .env("DATABASE_URL", &ro_url)
        .env("SETTLE_DB_CHECK_REFERENCE_URL", &target.url)
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert!(report["findings"].as_array().unwrap().is_empty(), "{report}");
    assert!(report["summary"]["requests"].as_u64().unwrap() >= 30, "the workload ran: {report}");
    drop_role(&admin, &role).await;
    let _ = admin.close().await;
    target.drop_now().await;
}
