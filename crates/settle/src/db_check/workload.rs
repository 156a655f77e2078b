//! The scripted workload: a Settle served on the reference database, replaying what a merchant, its shop and an
//! operator do with every request's statements recorded; and the N+1 patterns and loose writes those show.

use std::collections::BTreeMap;

use super::Report;
use crate::Config;

/// A statement run more often than this in one request is an N+1 pattern.
const REPEAT_LIMIT: usize = 5;

/// Replays a small scripted workload through a Settle served on the reference database (the in-process card
/// simulator, a chain that needs no node to sign terms) with every request's statements recorded.
pub(super) async fn workload(cfg: &Config, url: &str) -> anyhow::Result<Vec<settle_api::RequestTrace>> {
    let sink: settle_api::StatementSink = Default::default();
    let admin = format!("check-{}", settle_store::now_ms());
    let mut c = cfg.clone();
    c.database_url = url.to_owned();
    c.database_ca_file = cfg.database_ca_file.clone();
    c.redis_url = None;
    c.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    c.db_max_connections = 4;
    // A gateway of its own that answers at once and declines above 20,000: the script's second order is declined
    // and compensated, every time.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let knobs = settle_card::sim::Knobs { decline_above: Some(20_000), ..settle_card::sim::Knobs::calm() };
    let sim = settle_card::sim::start(listener, knobs);
    // The script uses the demo key, a test key: its payments go to the test gateway.
    c.gateway_url = Some(sim.url());
    c.test_gateway_url = Some(sim.url());
    c.app.nats = None;
    c.app.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    c.chains = vec![settle_app::chain::settings::dev_chain("http://127.0.0.1:9")];
    c.api.admin_token = Some(admin.clone().into());
    c.api.rate_limit = None;
    c.api.statement_sink = Some(sink.clone());
    // The reference database is the check's own, seeded with the demo merchant by the seed check.
    c.allow_demo_key = true;
    let app = Box::pin(crate::App::build(&c, crate::BuildOptions { migrate: false, demo: false, local_master_key: false })).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let run = script(&base, &admin).await;
    let _ = stop.send(());
    let _ = server.await;
    sim.stop().await;
    run?;
    let traces = sink.lock().map(|t| t.clone()).unwrap_or_default();
    Ok(traces)
}

/// The workload: what a merchant, its shop and an operator do, once each.
async fn script(base: &str, admin: &str) -> anyhow::Result<()> {
    use serde_json::json;
    settle_card::tls::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let key = settle_app::merchants::DEMO_API_KEY;
    // Every request must succeed, but for the answers it names (a decline, a refund of a payment not final yet): a
    // route the script gets wrong (a 404) would leave its statements untraced, and the check would pass unseen.
    let call_allowing = |method: reqwest::Method, path: String, token: &str, body: Option<serde_json::Value>, allowed: &'static [u16]| {
        let mut rb = http.request(method.clone(), format!("{base}{path}")).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        async move {
            let r = rb.send().await?;
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            if !status.is_success() && !allowed.contains(&status.as_u16()) {
                anyhow::bail!("the workload's {method} {path} answered {status}: {v}");
            }
            anyhow::Ok(v)
        }
    };
    let call = |method: reqwest::Method, path: String, token: &str, body: Option<serde_json::Value>| call_allowing(method, path, token, body, &[]);
    use reqwest::Method as M;
    call(M::POST, "/v1/merchants".into(), admin, Some(json!({"name": "Checked shop"}))).await?;
    let token = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let recipient = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    // Each list holds more rows than a statement may repeat in one request (REPEAT_LIMIT), so an N+1 shows.
    const ROWS: usize = REPEAT_LIMIT + 3;
    let mut chain = Vec::new();
    for i in 0..ROWS {
        let p = call(
            M::POST,
            "/v1/payments".into(),
            key,
            Some(json!({"orderId": format!("check-{i}"), "amount": "1500", "currency": "USDC",
            "chainId": 31337, "tokenAddress": token, "recipientAddress": recipient})),
        )
        .await?;
        chain.push(p["paymentId"].as_str().unwrap_or_default().to_owned());
    }
    let card =
        call(M::POST, "/v1/payments".into(), key, Some(json!({"orderId": "check-card", "amount": "12000", "currency": "KRW", "rail": "CARD"})))
            .await?;
    let card = card["paymentId"].as_str().unwrap_or_default().to_owned();
    call(M::POST, format!("/v1/payments/{card}/card"), key, Some(json!({"cardType": "KB", "cardNo": "4111-1111-1111-1111"}))).await?;
    call(M::POST, format!("/v1/payments/{}/cancel", chain[0]), key, Some(json!({}))).await?;
    for path in [
        "/v1/payments?limit=100".to_owned(),
        format!("/v1/payments/{}", chain[1]),
        format!("/payments/{}/status", chain[1]),
        format!("/v1/payments/{card}/events"),
        "/v1/events?limit=100".to_owned(),
    ] {
        call(M::GET, path, key, None).await?;
    }
    call(M::POST, "/v1/users".into(), key, Some(json!({"userId": "check-user", "name": "Kim", "points": 10000}))).await?;
    call(M::POST, "/v1/items".into(), key, Some(json!({"itemId": "check-item", "name": "Sword", "price": 5000, "stock": 100}))).await?;
    call(M::POST, "/v1/coupons".into(), key, Some(json!({"couponId": "check-coupon", "name": "Welcome", "discount": 300}))).await?;
    let issued = call(M::POST, "/v1/coupons/check-coupon/issue".into(), key, Some(json!({"userId": "check-user"}))).await?;
    let order = call(
        M::POST,
        "/v1/orders".into(),
        key,
        Some(json!({"userId": "check-user", "items": [{"itemId": "check-item", "quantity": 3}],
        "issuedCouponId": issued["issuedCouponId"], "usePoints": 100, "card": {"cardType": "KB", "cardNo": "4111-1111-1111-1111"}})),
    )
    .await?;
    if let Some(id) = order["order"]["orderId"].as_str() {
        call(M::GET, format!("/v1/orders/{id}"), key, None).await?;
    }
    for _ in 1..ROWS {
        let body = json!({"userId": "check-user", "items": [{"itemId": "check-item", "quantity": 1}], "card": {"cardType": "KB", "cardNo": "4111-1111-1111-1111"}});
        call(M::POST, "/v1/orders".into(), key, Some(body)).await?;
    }
    // Declined by the gateway: every step given back.
    let declined = call_allowing(
        M::POST,
        "/v1/orders".into(),
        key,
        Some(json!({"userId": "check-user", "items": [{"itemId": "check-item", "quantity": 5}],
        "usePoints": 100, "card": {"cardType": "KB", "cardNo": "4111-1111-1111-1111"}})),
        &[402],
    )
    .await?;
    if declined["error"]["order"]["saga"]["status"] != "COMPENSATED" {
        anyhow::bail!("the workload's declined order was not compensated: {declined}");
    }
    // Refunds of the card payment charged above (a 409 if it is not COMPLETED yet is an answer too), and their lists.
    for _ in 0..ROWS {
        call_allowing(M::POST, format!("/v1/payments/{card}/refunds"), key, Some(json!({"amount": "100"})), &[409]).await?;
    }
    call_allowing(M::POST, format!("/v1/payments/{card}/refunds"), key, Some(json!({})), &[409]).await?;
    call(M::GET, format!("/v1/payments/{card}/refunds"), key, None).await?;
    call(M::GET, "/v1/refunds?limit=100".into(), key, None).await?;
    call(M::GET, "/v1/sagas?limit=100".into(), key, None).await?;
    call(M::GET, "/v1/sagas/stats".into(), key, None).await?;
    call(M::GET, "/sagas".into(), key, None).await?;
    call(M::GET, "/sagas/stats".into(), key, None).await?;
    let mut endpoints = Vec::new();
    for i in 0..ROWS {
        let ep =
            call(M::POST, "/v1/webhook-endpoints".into(), key, Some(json!({"url": format!("http://127.0.0.1:9/hook-{i}"), "events": ["payment.*"]})))
                .await?;
        endpoints.push(ep["id"].as_str().unwrap_or_default().to_owned());
    }
    let ep = endpoints[0].clone();
    call(M::PATCH, format!("/v1/webhook-endpoints/{ep}"), key, Some(json!({"description": "checked"}))).await?;
    call(M::POST, format!("/v1/webhook-endpoints/{ep}/rotate-secret"), key, Some(json!({}))).await?;
    call(M::GET, "/v1/webhook-endpoints".into(), key, None).await?;
    call(M::GET, format!("/v1/webhook-endpoints/{ep}/deliveries?limit=100"), key, None).await?;
    let k = call(M::POST, "/v1/api-keys".into(), key, Some(json!({}))).await?;
    for _ in 1..ROWS {
        call(M::POST, "/v1/api-keys".into(), key, Some(json!({}))).await?;
    }
    call(M::GET, "/v1/api-keys".into(), key, None).await?;
    call(M::DELETE, format!("/v1/api-keys/{}", k["id"].as_str().unwrap_or_default()), key, None).await?;
    call(M::GET, "/v1/audit-log?limit=100".into(), key, None).await?;
    call(M::GET, "/v1/admin/db".into(), admin, None).await?;
    call(M::GET, "/v1/admin/dead-letters".into(), admin, None).await?;
    Ok(())
}

/// The source a route's work is in, for a finding's location.
fn route_file(route: &str) -> &'static str {
    let r = route.trim_start_matches('/');
    let r = r.strip_prefix("v1/").unwrap_or(r);
    if r.starts_with("payments") {
        "crates/settle-app/src/payments/mod.rs"
    } else if r.starts_with("webhook-deliveries") {
        "crates/settle-app/src/webhooks/deliveries.rs"
    } else if r.starts_with("webhook") {
        "crates/settle-app/src/webhooks/endpoints.rs"
    } else if r.starts_with("events") {
        "crates/settle-app/src/webhooks/events.rs"
    } else if ["users", "items", "coupons"].iter().any(|p| r.starts_with(p)) {
        "crates/settle-app/src/shop.rs"
    } else if ["orders", "purchase"].iter().any(|p| r.starts_with(p)) {
        "crates/settle-app/src/orders/place.rs"
    } else if r.starts_with("saga") {
        "crates/settle-app/src/orders/views.rs"
    } else if r.starts_with("audit") {
        "crates/settle-app/src/audit.rs"
    } else {
        "crates/settle-app/src/merchants.rs"
    }
}

/// N+1 patterns and writes outside a transaction, per request of the workload.
pub(super) fn statements(report: &mut Report, traces: &[settle_api::RequestTrace]) {
    for t in traces {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &t.statements {
            *counts.entry(s.sql.as_str()).or_default() += 1;
        }
        for (sql, n) in counts.into_iter().filter(|(_, n)| *n > REPEAT_LIMIT) {
            let short: String = sql.chars().take(160).collect();
            report.push("SETTLE012", format!("{} {} ran one statement {n} times: {short}", t.method, t.route), (route_file(&t.route), None));
        }
        let loose: Vec<&settle_app::audit::Traced> = t.statements.iter().filter(|s| s.writes() && !s.in_transaction).collect();
        if loose.len() > 1 {
            let list: Vec<String> = loose.iter().map(|s| s.sql.chars().take(80).collect()).collect();
            report.push(
                "SETTLE013",
                format!("{} {} made {} writes outside a transaction: {}", t.method, t.route, loose.len(), list.join(" | ")),
                (route_file(&t.route), None),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use settle_app::audit::Traced;

    use super::*;
    use crate::db_check::Summary;

    fn trace(statements: &[(&str, bool)]) -> settle_api::RequestTrace {
        settle_api::RequestTrace {
            method: "POST".into(),
            route: "/v1/orders".into(),
            status: 201,
            statements: statements.iter().map(|(s, t)| Traced { sql: (*s).into(), in_transaction: *t }).collect(),
        }
    }

    fn ids(r: &Report) -> Vec<&str> {
        r.findings.iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn repeated_statements_and_loose_writes_are_found() {
        let mut r = Report { backend: "sqlite".into(), findings: Vec::new(), summary: Summary::default() };
        let select = "SELECT * FROM items WHERE item_id = $1";
        // Five of a statement, and writes inside a transaction or one alone: nothing.
        statements(&mut r, &[trace(&[(select, false); 5]), trace(&[("INSERT INTO a VALUES ($1)", true), ("UPDATE b SET c = $1", true)])]);
        statements(&mut r, &[trace(&[("INSERT INTO a VALUES ($1)", false), ("SELECT 1", false)])]);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        // Six: an N+1; two writes outside a transaction (one a WITH ... INSERT): half a change is possible.
        statements(&mut r, &[trace(&[(select, false); 6])]);
        statements(&mut r, &[trace(&[("WITH p AS (SELECT 1) INSERT INTO a SELECT * FROM p", false), ("delete from b", false)])]);
        assert_eq!(ids(&r), ["SETTLE012", "SETTLE013"]);
        assert!(r.findings[0].message.contains("6 times") && r.findings[1].message.contains("2 writes"), "{:?}", r.findings);
        assert_eq!(r.findings[0].file, "crates/settle-app/src/orders/place.rs");
    }

    /// Every route's location is a file of the repository (a module split must move them along).
    #[test]
    fn every_route_file_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for route in [
            "/v1/payments/x",
            "/v1/webhook-endpoints",
            "/v1/webhook-deliveries/x/retry",
            "/v1/events",
            "/v1/users",
            "/v1/orders",
            "/purchase",
            "/saga/x",
            "/sagas",
            "/v1/audit-log",
            "/v1/api-keys",
        ] {
            let file = route_file(route);
            assert!(root.join(file).is_file(), "{route}: {file}");
        }
    }
}
