//! The API reference and the dashboard in Debian's Chromium, driven by playwright-core (tests/browser/docs.mjs; scripts/test installs
//! both): every tag renders, both bearer schemes are offered, "Try it out" on GET /health gets its 200, no console
//! error, no request leaves the Settle under test. A screenshot is kept in target/browser/docs.png.

use std::{path::Path, time::Duration};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_reference_renders_and_tries_out_in_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("SETTLE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        unavailable("chromium", "is not installed (scripts/test installs Debian's chromium)");
        return;
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        unavailable("playwright-core", "is not installed (scripts/test runs npm ci in crates/settle/tests/browser)");
        return;
    }
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("docs.png");
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join("docs.mjs"))
        .arg(&app.base)
        .arg(&shot)
        .env("SETTLE_CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run).await.expect("the browser test ends").expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    assert!(summary["tags"].as_array().unwrap().len() >= 6, "{summary}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "a screenshot");
    app.finish().await;
}

/// The dashboard: signed in by keyboard, a payment created through the API appears live, is opened and cancelled
/// from its page, the orders and health pages render; screenshots in target/browser/.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_shows_payments_live_and_cancels_one_in_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("SETTLE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() || !browser_dir.join("node_modules/playwright-core").exists() {
        unavailable("chromium and playwright-core", "are not installed (scripts/test installs them)");
        return;
    }
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .arg(&app.base)
        .arg(&app.key)
        .arg(&artifacts)
        .env("SETTLE_CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(150), run).await.expect("the browser test ends").expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    let id = summary["payment"].as_str().unwrap();
    let row = settle_store::payments::find_any(&app.ctx.db, id).await.unwrap().unwrap();
    assert_eq!(row.status.as_str(), "CANCELLED", "cancelled from the page, recorded");
    for shot in ["dashboard-payments.png", "dashboard-payment.png", "dashboard-health.png", "dashboard-phone.png"] {
        assert!(std::fs::metadata(artifacts.join(shot)).unwrap().len() > 5_000, "{shot}");
    }
    app.finish().await;
}
