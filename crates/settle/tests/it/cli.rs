//! The `settle` binary as a user runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use crate::helpers::{TempDir, eventually};

fn settle(dir: &TempDir, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_settle"));
    c.args(args).current_dir(&dir.0).env_remove("DATABASE_URL").env_remove("REDIS_URL").env("SETTLE_LOG", "warn");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run settle")
}

fn stdout(o: &std::process::Output) -> String {
    assert!(o.status.success(), "settle failed: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn merchant_create_seed_and_migrate_commands() {
    let dir = TempDir::new();
    // The default database is settle.db in the working directory, created if absent.
    let out = stdout(&settle(&dir, &["merchant", "create", "--name", "Acme"], &[]));
    let m: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON");
    assert_eq!(m["name"], "Acme");
    assert!(m["merchantId"].as_str().unwrap().starts_with("mch_"));
    assert!(m["apiKey"].as_str().unwrap().starts_with("sk_"));
    assert!(dir.0.join("settle.db").exists());
    // Logs, at any level, go to stderr: stdout stays the command's data.
    let o = settle(&dir, &["merchant", "create", "--name", "Traced"], &[("SETTLE_LOG", "trace")]);
    let traced: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("stdout is only JSON with SETTLE_LOG=trace");
    assert_eq!(traced["name"], "Traced");
    assert!(!o.stderr.is_empty(), "the trace logs went to stderr");
    let id = m["merchantId"].as_str().unwrap();
    let changed: serde_json::Value =
        serde_json::from_str(stdout(&settle(&dir, &["merchant", "set-fee", "--merchant-id", id, "--fee-bps", "120"], &[])).trim()).unwrap();
    assert_eq!((changed["merchantId"].as_str(), changed["feeBps"].as_u64()), (Some(id), Some(120)));
    let o = settle(&dir, &["merchant", "set-fee", "--merchant-id", "mch_nobody", "--fee-bps", "1"], &[]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("merchant not found"), "{}", String::from_utf8_lossy(&o.stderr));
    let set = settle(&dir, &["merchant", "set", "--merchant-id", id, "--refund-late-payments", "false", "--return-fee-on-refund", "true"], &[]);
    let set: serde_json::Value = serde_json::from_str(stdout(&set).trim()).unwrap();
    let got = (set["feeBps"].as_u64(), set["refundLatePayments"].as_bool(), set["returnFeeOnRefund"].as_bool());
    assert_eq!(got, (Some(120), Some(false), Some(true)), "{set}");
    assert!(!settle(&dir, &["merchant", "set", "--merchant-id", id], &[]).status.success(), "nothing to change");
    // The CLI's changes are audited as the CLI's, with what changed; the refused one left nothing.
    let url = format!("sqlite://{}", dir.0.join("settle.db").display());
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = settle_store::connect(&url, 1).await.unwrap();
        settle_store::audit::list(&db, id, None, None, settle_store::Cursor::First, 10).await.unwrap().0
    });
    let got: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r.action.as_str(), r.actor_type.as_str(), r.changes.as_str())).collect();
    let late_off = r#"{"feeBps":120,"refundLatePayments":false,"returnFeeOnRefund":true,"was":{"feeBps":120,"refundLatePayments":true,"returnFeeOnRefund":false}}"#;
    assert_eq!(got[0], ("merchant.updated", "cli", late_off), "{rows:?}");
    let fee = r#"{"feeBps":120,"refundLatePayments":true,"returnFeeOnRefund":false,"was":{"feeBps":0,"refundLatePayments":true,"returnFeeOnRefund":false}}"#;
    assert_eq!(got[1], ("merchant.updated", "cli", fee), "{rows:?}");
    assert_eq!((got.len(), got[2].0, got[2].1), (3, "merchant.created", "cli"), "{rows:?}");

    let a = stdout(&settle(&dir, &["seed"], &[]));
    let b = stdout(&settle(&dir, &["seed"], &[]));
    assert_eq!(a, b, "seeding twice changes nothing");

    let status = stdout(&settle(&dir, &["migrate", "status"], &[]));
    let n = status.lines().count();
    assert!(n >= 5 && status.lines().all(|l| l.starts_with("applied ")), "{status}");
    stdout(&settle(&dir, &["migrate", "down", &n.to_string()], &[]));
    let status = stdout(&settle(&dir, &["migrate", "status"], &[]));
    assert_eq!(status.lines().filter(|l| l.starts_with("pending ")).count(), n, "{status}");
    // Serving without migrating refuses pending migrations, with one clear line.
    let o = settle(&dir, &["serve", "--no-migrate"], &[("SETTLE_LISTEN", "127.0.0.1:0")]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("pending migrations"));
    stdout(&settle(&dir, &["migrate", "up"], &[]));
    // The seeded demo key is printed in the README: a plain `serve` refuses to start while it authenticates (unless
    // told it is a local cluster), so a production database never takes it.
    stdout(&settle(&dir, &["seed"], &[]));
    let o = settle(&dir, &["serve"], &[("SETTLE_LISTEN", "127.0.0.1:0")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("demo merchant's public key") && err.contains("SETTLE_ALLOW_DEMO_KEY"), "{err}");
    let mut served = Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["serve"])
        .current_dir(&dir.0)
        .env_remove("DATABASE_URL")
        .envs([("SETTLE_LISTEN", "127.0.0.1:0"), ("SETTLE_ALLOW_DEMO_KEY", "true"), ("SETTLE_LOG", "warn")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(served.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    let _ = served.kill();
    let _ = served.wait();
}

#[test]
fn a_bad_setting_fails_at_start_with_one_line_naming_it() {
    let dir = TempDir::new();
    for (k, v) in [
        ("SETTLE_LISTEN", "not-an-address"),
        ("DATABASE_URL", "oracle://db"),
        ("SETTLE_LOG_FORMAT", "xml"),
        ("SETTLE_RATE_LIMIT_PER_SEC", "lots"),
        ("SETTLE_TRUSTED_PROXIES", "proxy.local"),
    ] {
        let o = settle(&dir, &["serve"], &[(k, v)]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(k), "{err}");
    }
    std::fs::write(dir.0.join("settle.toml"), "listen = \"127.0.0.1:0\"\nbogus = 1\n").unwrap();
    let o = settle(&dir, &["serve"], &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bogus"));
}

#[test]
fn serve_demo_answers_and_sigterm_exits_zero() {
    let dir = TempDir::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["serve", "--demo"])
        .current_dir(&dir.0)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("SETTLE_PG_URL")
        .env("SETTLE_LISTEN", "127.0.0.1:0")
        .env("SETTLE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut key = None;
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(k) = line.split("API key (local use only): ").nth(1) {
            key = Some(k.trim().to_owned());
        }
        if let Some(rest) = line.strip_prefix("Settle listening on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let (key, base) = (key.expect("demo key printed"), base.expect("address printed"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        settle_card::tls::ensure_crypto_provider();
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{base}/v1/payments"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"orderId": "cli-1", "amount": "1", "currency": "USDC", "chainId": 31337,
                "tokenAddress": crate::helpers::TOKEN, "recipientAddress": crate::helpers::RECIPIENT}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        // --demo gives working card payments to its test key, on the in-process simulator, and says so.
        let h: serde_json::Value = c.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(h["testGateway"]["mode"], "simulator", "{h}");
        let p: serde_json::Value = c
            .post(format!("{base}/v1/payments"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"orderId": "cli-card", "amount": "1500", "currency": "KRW", "rail": "CARD"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = p["paymentId"].as_str().unwrap();
        eventually(Duration::from_secs(10), "the demo card rail answers", async || {
            let r = c
                .post(format!("{base}/v1/payments/{id}/card"))
                .bearer_auth(&key)
                .header("idempotency-key", format!("cli-{id}"))
                .json(&serde_json::json!({"cardType": "KB", "cardNo": "4111-1111-1111-1111"}))
                .send()
                .await
                .unwrap();
            // The default simulator fails ~40 % of requests: a 503 (nothing charged) is retried like a merchant would.
            if r.status() == 202 || r.status() == 402 {
                return Some(());
            }
            assert_eq!(r.status(), 503);
            None
        })
        .await;
    });
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let s = rt.block_on(eventually(Duration::from_secs(20), "stops after SIGTERM", async || child.try_wait().unwrap()));
    assert!(s.success(), "exit status {s:?}");
}

#[test]
fn backup_verify_and_restore_commands() {
    let dir = TempDir::new();
    stdout(&settle(&dir, &["seed"], &[]));
    let out = stdout(&settle(&dir, &["backup", "--out", "b1"], &[("SETTLE_LOG", "trace")]));
    let b: serde_json::Value = serde_json::from_str(out.trim()).expect("stdout is the backup's summary, as JSON");
    assert!(b["tables"].as_u64().unwrap() >= 30 && b["rows"].as_u64().unwrap() > 0, "{b}");
    let v: serde_json::Value = serde_json::from_str(stdout(&settle(&dir, &["backup", "verify", "b1"], &[])).trim()).unwrap();
    assert_eq!((v["ok"].as_bool(), v["rows"].as_u64(), v["sourceBackend"].as_str()), (Some(true), b["rows"].as_u64(), Some("sqlite")));

    let target = [("DATABASE_URL", "sqlite://restored.db")];
    let r: serde_json::Value = serde_json::from_str(stdout(&settle(&dir, &["restore", "--from", "b1"], &target)).trim()).unwrap();
    assert_eq!(r["rows"], b["rows"]);
    // A target with data is refused without --force (exit 1, one line saying why), replaced with it.
    let o = settle(&dir, &["restore", "--from", "b1"], &target);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"), "{}", String::from_utf8_lossy(&o.stderr));
    stdout(&settle(&dir, &["restore", "--from", "b1", "--force"], &target));
    // The restores are audited as the CLI's, in the restored database.
    let url = format!("sqlite://{}", dir.0.join("restored.db").display());
    let rows = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = settle_store::connect(&url, 1).await.unwrap();
        settle_store::backup::tables().into_iter().find(|t| t.name == "audit_log").unwrap().read(&db, None, 100).await.unwrap()
    });
    let restored: Vec<_> = rows.iter().filter(|r| r["action"] == "backup.restored").collect();
    assert_eq!(restored.len(), 1, "the forced restore replaced the first one's row: {rows:?}");
    assert_eq!((restored[0]["actor_type"].as_str(), restored[0]["merchant_id"].is_null()), (Some("cli"), true));

    // A damaged backup fails verify with exit 1; usage errors exit 2.
    let p = dir.0.join("b1").join("merchants.ndjson");
    std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("Demo", "Dem0")).unwrap();
    let o = settle(&dir, &["backup", "verify", "b1"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SHA-256"), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(settle(&dir, &["restore"], &[]).status.code(), Some(2));
    // Into a directory that holds something: refused.
    assert_eq!(settle(&dir, &["backup", "--out", "b1"], &[]).status.code(), Some(1));
    // A mistyped SQLite path: refused, and neither a database nor a backup directory is made.
    let o = settle(&dir, &["backup", "--out", "b2"], &[("DATABASE_URL", "sqlite://mistyped.db")]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!dir.0.join("mistyped.db").exists() && !dir.0.join("b2").exists());
}

/// Every command that prints data, run with SETTLE_LOG=trace: stdout is only its output (JSON parses, text is
/// `key: value` lines), the logs are on stderr; exit codes are 0, 1 (a failure) and 2 (usage or configuration).
#[test]
fn data_commands_print_only_data_and_exit_with_documented_codes() {
    let dir = TempDir::new();
    let master = stdout(&settle(&dir, &["keys", "generate"], &[])).trim().to_owned();
    let env = [("SETTLE_LOG", "trace"), ("SETTLE_MASTER_KEY", master.as_str()), ("SETTLE_ADMIN_TOKEN", "cli-admin-token-0123456789")];
    let logged = std::cell::Cell::new(0usize);
    let json = |args: &[&str]| -> serde_json::Value {
        let o = settle(&dir, args, &env);
        let out = stdout(&o);
        logged.set(logged.get() + o.stderr.len());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: stdout is not only JSON ({e}): {out}"))
    };
    let text = |args: &[&str]| -> std::collections::HashMap<String, String> {
        let out = stdout(&settle(&dir, args, &env));
        out.lines()
            .map(|l| l.split_once(": ").map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap_or_else(|| panic!("{args:?}: not a key: value line: {l}")))
            .collect()
    };
    assert!(json(&["migrate", "up", "--format", "json"])["applied"].as_array().unwrap().len() >= 15);
    let status = json(&["migrate", "status", "--format", "json"]);
    assert!(status.as_array().unwrap().iter().all(|m| m["applied"] == true));
    assert_eq!(json(&["seed"])["merchantId"], "mch_demo");
    let m = json(&["merchant", "create", "--name", "Piped"]);
    let id = m["merchantId"].as_str().unwrap();
    assert!(text(&["merchant", "create", "--name", "Texted", "--format", "text"])["apiKey"].starts_with("sk_"));
    assert_eq!(json(&["merchant", "set-fee", "--merchant-id", id, "--fee-bps", "5"])["feeBps"], 5);
    assert_eq!(json(&["db", "stats"])["backend"], "sqlite");
    assert_eq!(json(&["db", "check", "--format", "json"])["summary"]["errors"], 0);
    assert_eq!(json(&["backup", "--out", "b"])["tables"].as_u64(), Some(35));
    assert_eq!(json(&["backup", "verify", "b"])["ok"], true);
    assert_eq!(text(&["backup", "verify", "b", "--format", "text"])["ok"], "true");
    assert_eq!(json(&["backup", "verify", "b"])["authenticated"], true, "signed under SETTLE_MASTER_KEY");
    assert_eq!(json(&["backup", "--out", "sealed", "--encrypt"])["encrypted"], true);
    assert_eq!(json(&["backup", "verify", "sealed"])["encrypted"], true);
    // Signed: without the master key it is refused, unless its integrity alone is asked for.
    let target = [("DATABASE_URL", "sqlite://restored.db"), ("SETTLE_LOG", "trace")];
    assert_eq!(settle(&dir, &["restore", "--from", "b"], &target).status.code(), Some(1));
    let restored = settle(&dir, &["restore", "--from", "b", "--unsigned"], &target);
    let restored: serde_json::Value = serde_json::from_str(&stdout(&restored)).unwrap();
    assert!(restored["rows"].as_u64().unwrap() > 0 && restored["authenticated"] == false, "{restored}");
    assert!(json(&["keys", "generate", "--format", "json"])["masterKey"].is_string());
    assert_eq!(json(&["keys", "rotate", "--format", "json"])["resealed"], 0);
    assert_eq!(text(&["keys", "rotate"])["resealed"], "0");
    assert!(logged.get() > 1000, "the trace logs went to stderr");

    // The configuration in effect, secrets redacted: a URL's password, the admin token, the master key.
    let secret_db = "postgres://settle:db-password-123@127.0.0.1/settle";
    let o = settle(&dir, &["config", "check", "--format", "json"], &[("DATABASE_URL", secret_db), env[1], env[2]]);
    let out = stdout(&o);
    let cfg: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((cfg["server"]["adminToken"].as_str(), cfg["secrets"]["masterKey"].as_str()), (Some("***"), Some("***")));
    for secret in ["db-password-123", "cli-admin-token-0123456789", master.as_str()] {
        assert!(!out.contains(secret) && !String::from_utf8_lossy(&o.stderr).contains(secret), "config check showed a secret");
    }
    assert!(text(&["config", "check"]).contains_key("database.url"));

    // Exit codes: 2 for usage and configuration, 1 for a failure.
    let code = |args: &[&str], env: &[(&str, &str)]| settle(&dir, args, env).status.code();
    assert_eq!(code(&["no-such-command"], &[]), Some(2));
    assert_eq!(code(&["seed", "--format", "sarif"], &[]), Some(2));
    assert_eq!(code(&["backup", "--out", "no-key", "--encrypt"], &[]), Some(2), "--encrypt without SETTLE_MASTER_KEY");
    // The same usage error for every migrate action (`up` applied the migrations and exited 0).
    for action in ["up", "status"] {
        assert_eq!(code(&["migrate", action, "--format", "sarif"], &[("DATABASE_URL", "sqlite://sarif.db")]), Some(2), "migrate {action}");
    }
    assert!(!dir.0.join("sarif.db").exists(), "refused before anything was done");
    let o = settle(&dir, &["config", "check"], &[("SETTLE_LISTEN", "not-an-address")]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim().lines().count(), 1, "one line naming the setting");
    assert_eq!(code(&["chain", "status"], &[]), Some(2), "no chain configured");
    assert_eq!(code(&["backup", "verify", "no-such-dir"], &[]), Some(1));
    assert_eq!(code(&["merchant", "set-fee", "--merchant-id", "mch_nobody", "--fee-bps", "1"], &[]), Some(1));

    // --version names the commit and the migrations; completions for the common shells.
    let v = stdout(&settle(&dir, &["--version"], &[]));
    assert!(v.contains(&format!("migrations up to {}", settle_store::migration::head())), "{v}");
    let git = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(env!("CARGO_MANIFEST_DIR")).output();
    if let Some(g) = git.ok().filter(|g| g.status.success()) {
        assert!(v.contains(&format!("commit {}", String::from_utf8_lossy(&g.stdout).trim())), "{v}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let c = stdout(&settle(&dir, &["completions", shell], &[]));
        assert!(c.contains("settle") && c.contains("backup") && c.lines().count() > 20, "{shell}");
    }
}
