//! A generic OpenAPI fuzzer (Schemathesis) drives Settle from `/openapi.json` alone: every operation, a fixed
//! number of generated requests each (valid and invalid), then stateful sequences along the links it infers.
//! The run must find no server error, no status the document does not declare, no response that violates its
//! schema, and no invalid request accepted.

use std::time::Duration;

use crate::helpers::*;

/// The checks that must pass. `positive_data_acceptance` is left out: some valid-looking requests are refused on
/// business rules a schema cannot state (a Luhn check digit, a configured chain and token, a user that exists).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,\
response_headers_conformance,negative_data_rejection";

/// The fuzzer's command: `SETTLE_SCHEMATHESIS` (scripts/test installs it), or `st` on the PATH.
fn fuzzer() -> Option<String> {
    let st = std::env::var("SETTLE_SCHEMATHESIS").unwrap_or_else(|_| "st".into());
    match std::process::Command::new(&st).arg("--version").output() {
        Ok(o) if o.status.success() => Some(st),
        _ => {
            unavailable("schemathesis", "is not installed (scripts/test installs it; or set SETTLE_SCHEMATHESIS)");
            None
        }
    }
}

async fn fuzz(st: &str, app: &TestApp, token: &str, filter: [&str; 2]) {
    let out = tokio::process::Command::new(st)
        .args(["run", &format!("{}/openapi.json", app.base)])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS, "--max-examples", "30", "--seed", "7", "--workers", "1"])
        .args(["--generation-database", "none", "--no-color", "--request-timeout", "20"])
        .args(filter)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(600), out).await.expect("the fuzzer ends within 10 minutes").expect("the fuzzer runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary = report.lines().skip_while(|l| !l.contains("SUMMARY")).collect::<Vec<_>>().join("\n");
    println!("{summary}");
    assert!(out.status.success(), "the fuzzer found failures ({:?}):\n{report}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
}

// On every backend: PostgreSQL and MySQL enforce column lengths and refuse NUL characters where SQLite does not,
// so a request field whose bound is looser than its column's would show as a server error there.
crate::per_db!(a_generic_fuzzer_finds_no_server_error_undocumented_status_or_schema_violation);

async fn a_generic_fuzzer_finds_no_server_error_undocumented_status_or_schema_violation(v: Variant) {
    let Some(st) = fuzzer() else { return };
    let Some(app) = TestApp::spawn(v).await else { return };
    // The merchant's operations with its key, on /v1 and on the seed's paths; administration with the admin
    // token. The event streams (`GET /v1/events/stream`, the seed's `GET /events`, a payment's) stay open (each
    // request would last the fuzzer's timeout): the sse and checkout tests cover them.
    fuzz(&st, &app, &app.key, ["--exclude-path-regex", "^/(v1/merchants|v1/events/stream$|events$|v1/payments/[^/]+/stream$)"]).await;
    fuzz(&st, &app, ADMIN_TOKEN, ["--include-path-regex", "^/v1/merchants"]).await;
    app.finish().await;
}
