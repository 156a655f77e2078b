//! The card rail when things go wrong in the ways a review and runs of the real binary found: a breaker that
//! must not wedge, answers that are not declines, double charges that must be voided, a gateway behind TLS,
//! no gateway at all, and a shutdown in the middle of a charge.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::json;
use settle_card::sim::Knobs;

use crate::{
    card::{CARD, books_agree, circuit_of, history, wait_books_agree},
    helpers::*,
    per_db,
};

per_db!(double_charges_and_late_successes_are_voided_through_the_gateway);

mod one_db {
    use crate::helpers::{Cache, Db, Variant};
    const SQLITE: Variant = Variant { db: Db::Sqlite, cache: Cache::Memory };
    const POSTGRES: Variant = Variant { db: Db::Postgres, cache: Cache::Redis };

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cancelled_callbacks_never_wedge_a_half_open_circuit() {
        super::cancelled_callbacks_never_wedge_a_half_open_circuit(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_half_open_circuit_fails_no_payment_it_did_not_send() {
        super::a_half_open_circuit_fails_no_payment_it_did_not_send(POSTGRES).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn only_refusals_about_the_card_are_declines() {
        super::only_refusals_about_the_card_are_declines(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_unknown_gateway_status_is_asked_again_with_backoff() {
        super::an_unknown_gateway_status_is_asked_again_with_backoff(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_transaction_that_disagrees_is_flagged_not_applied() {
        super::a_transaction_that_disagrees_is_flagged_not_applied(POSTGRES).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn without_a_gateway_the_card_rail_is_off() {
        super::without_a_gateway_the_card_rail_is_off(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn charges_go_through_an_https_gateway_with_its_ca() {
        super::charges_go_through_an_https_gateway_with_its_ca(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn settle_runs_on_postgres_over_tls() {
        super::settle_runs_on_postgres_over_tls(POSTGRES).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_cache_runs_on_redis_over_tls() {
        super::the_cache_runs_on_redis_over_tls(Variant { db: Db::Sqlite, cache: Cache::Redis }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn shutdown_waits_for_a_running_charge_or_records_it_unknown() {
        super::shutdown_waits_for_a_running_charge_or_records_it_unknown(SQLITE).await
    }
}

pub async fn set_knobs(app: &TestApp, knobs: &Knobs) {
    let r = app.client.put(format!("{}/admin/knobs", app.gateway_url)).json(knobs).send().await.unwrap();
    assert!(r.status().is_success());
}

async fn metrics(app: &TestApp) -> String {
    app.request(Method::GET, "/metrics", None, None, &[]).await.text
}

/// A small breaker (4 calls, 2 probes, 1 s open) against a simulator at a fixed address the test can stop.
pub async fn breaker_setup(v: Variant) -> (Setup, std::net::SocketAddr, settle_card::sim::SimHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sim = settle_card::sim::start(listener, Knobs::calm());
    let mut setup = Setup::new(v);
    setup.card.gateway_url = Some(format!("http://{addr}"));
    let c = &mut setup.card.config;
    c.breaker.window_size = 4;
    c.breaker.minimum_calls = 4;
    c.breaker.half_open_calls = 2;
    c.breaker.open_wait = Duration::from_secs(1);
    c.charge_retries = 0;
    c.backoff_base = Duration::from_millis(10);
    // No final checks or reconciliation probing the gateway behind the test's back.
    setup.settings.card.final_check_after = Duration::from_secs(600);
    setup.settings.card.reconcile_after = Duration::from_secs(600);
    (setup, addr, sim)
}

/// Opens the circuit: the gateway is down and four charges fail to connect (each payment stays PENDING).
async fn open_the_circuit(app: &TestApp, sim: settle_card::sim::SimHandle) {
    sim.stop().await;
    for i in 0..4 {
        let id = app.create_card_payment(&format!("down-{i}"), 100).await;
        let r = app.pay(&id, "KB", CARD, None).await;
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["status"], "PENDING");
    }
    assert_eq!(circuit_of(app).await, "open");
}

/// The circuit's state once its open wait (1 s) has passed: polled on /health (which takes no probe) until it
/// is no longer open.
async fn half_opened(app: &TestApp) -> String {
    eventually(Duration::from_secs(10), "the circuit leaves OPEN after its open wait", async || {
        let state = circuit_of(app).await;
        (state != "open").then_some(state)
    })
    .await
}

/// Seen on the real binary: with the circuit half-open, callbacks whose callers hang up while Settle asks the
/// gateway left the breaker HALF_OPEN for good. Callbacks now read as side calls: while the circuit is not
/// closed they are answered at once (503 `circuit_open`, the gateway sends them again), take no probe place,
/// and the charges' probes close the circuit.
async fn cancelled_callbacks_never_wedge_a_half_open_circuit(v: Variant) {
    let (setup, addr, sim) = breaker_setup(v).await;
    let Some(app) = TestApp::spawn_with(setup).await else {
        sim.stop().await;
        return;
    };
    let paid = app.create_card_payment("paid", 100).await;
    let r = app.pay(&paid, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let key = r.body["externalPaymentKey"].as_str().unwrap().to_owned();
    open_the_circuit(&app, sim).await;

    // The gateway comes back, slow; the circuit half-opens; callbacks from impatient callers are answered at
    // once without a gateway call and take no probe.
    let sim = settle_card::sim::start(tokio::net::TcpListener::bind(addr).await.unwrap(), Knobs { latency_ms: [1500, 1500], ..Knobs::calm() });
    assert_eq!(half_opened(&app).await, "half_open");
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    for _ in 0..2 {
        let body = json!({"transactionKey": key, "orderId": paid, "status": "SUCCESS"});
        let r = impatient.post(format!("{}/v1/payments/callback", app.base)).json(&body).send().await.expect("answered at once");
        assert_eq!(r.status(), 503);
    }
    assert_eq!(circuit_of(&app).await, "half_open", "no probe was taken");
    let healthy = app.client.put(format!("{}/admin/knobs", sim.url())).json(&Knobs::calm()).send().await.unwrap();
    assert!(healthy.status().is_success());
    for i in 0..2 {
        let id = app.create_card_payment(&format!("probe-{i}"), 100).await;
        assert_eq!(app.pay(&id, "KB", CARD, None).await.status, 202, "the probes are the charges'");
    }
    assert_eq!(circuit_of(&app).await, "closed");
    let id = app.create_card_payment("after", 100).await;
    assert_eq!(app.pay(&id, "KB", CARD, None).await.status, 202, "charges go through again without a restart");
    app.finish().await;
    sim.stop().await;
}

/// "May I call?" and taking the permit are one step, before the payment changes: with the circuit half-open
/// and 25 concurrent charges, the probes go out and every other charge is a 503 with its payment PENDING and
/// nothing sent. None is FAILED.
async fn a_half_open_circuit_fails_no_payment_it_did_not_send(v: Variant) {
    let (setup, addr, sim) = breaker_setup(v).await;
    let Some(app) = TestApp::spawn_with(setup).await else {
        sim.stop().await;
        return;
    };
    open_the_circuit(&app, sim).await;
    let sim = settle_card::sim::start(tokio::net::TcpListener::bind(addr).await.unwrap(), Knobs { latency_ms: [1000, 1000], ..Knobs::calm() });
    assert_eq!(half_opened(&app).await, "half_open");
    let app = Arc::new(app);
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(app.create_card_payment(&format!("half-{i}"), 100).await);
    }
    let answers: Vec<(String, u16, String)> = futures::future::join_all(ids.iter().map(|id| {
        let app = app.clone();
        async move {
            let r = app.pay(id, "KB", CARD, None).await;
            (id.clone(), r.status.as_u16(), r.text)
        }
    }))
    .await;
    let accepted = answers.iter().filter(|(_, s, _)| *s == 202).count();
    assert!((1..=2).contains(&accepted), "the two probes went out: {answers:?}");
    for (id, status, text) in &answers {
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        match status {
            202 => assert_eq!(p["status"], "PROCESSING", "{p}"),
            503 => {
                assert!(text.contains("circuit_open"), "{text}");
                assert_eq!(p["status"], "PENDING", "refused before anything changed: {p}");
                assert_eq!(history(&app, id).await, ["CREATED"], "nothing was tried");
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    let stats = app.client.get(format!("{}/admin/stats", sim.url())).send().await.unwrap().json::<settle_card::sim::Stats>().await.unwrap();
    assert_eq!(stats.charge_requests as usize, accepted, "only the probes reached the gateway");
    Arc::into_inner(app).unwrap().finish().await;
    sim.stop().await;
}

/// 401/403 are Settle's misconfiguration (503 `gateway_misconfigured`, PENDING, counted against the breaker);
/// 408/429/5xx are unknown outcomes, retried only when two lookups find nothing (503 `gateway_unavailable`,
/// PENDING); 400 is a decline (402 FAILED). The same payment is paid once the gateway behaves.
async fn only_refusals_about_the_card_are_declines(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { decline_above: Some(1_000_000), ..Knobs::calm() };
    setup.card.config.charge_retries = 1;
    setup.card.config.backoff_base = Duration::from_millis(10);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    let id = app.create_card_payment("not-a-decline", 100).await;
    let mut requests = 0;
    for (status, code, attempts) in [
        (401, "gateway_misconfigured", 1),
        (403, "gateway_misconfigured", 1),
        (408, "gateway_unavailable", 2),
        (429, "gateway_unavailable", 2),
        (503, "gateway_unavailable", 2),
    ] {
        set_knobs(&app, &Knobs { force_status: Some(status), ..Knobs::calm() }).await;
        app.pay(&id, "KB", CARD, None).await.assert_error(503, code);
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        assert_eq!(p["status"], "PENDING", "{status} is not a decline: {p}");
        requests += attempts;
        assert_eq!(app.sim_stats().await.charge_requests, requests, "{status}: retried only after two empty lookups");
    }
    assert!(metrics(&app).await.contains(r#"outcome="misconfigured""#), "counted as gateway failures");
    set_knobs(&app, &Knobs { decline_above: Some(1_000_000), ..Knobs::calm() }).await;
    let r = app.pay(&id, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(10)).await, ["COMPLETED"]);
    let h = history(&app, &id).await;
    assert_eq!(h.iter().filter(|t| *t == "REVERTED").count(), 5, "{h:?}");
    let big = app.create_card_payment("declined", 5_000_000).await;
    let r = app.pay(&big, "KB", CARD, None).await;
    r.assert_error(402, "card_declined");
    assert_eq!(r.body["error"]["payment"]["status"], "FAILED");
    app.finish().await;
}

/// A status Settle does not know (here REVIEW while the gateway processes) is logged, counted and asked about
/// again with backoff; the reconciler never spins on the row. The payment completes when the gateway does.
async fn an_unknown_gateway_status_is_asked_again_with_backoff(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { unknown_status_rate: 1.0, processing_ms: [4000, 4000], callback_drop_rate: 1.0, ..Knobs::calm() };
    setup.settings.card.reconcile_after = Duration::ZERO;
    setup.settings.card.backoff = vec![Duration::from_secs(1)];
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    let id = app.create_card_payment("review", 100).await;
    let paid = Instant::now();
    assert_eq!(app.pay(&id, "KB", CARD, None).await.status, 202);
    // Asked about again and again (the reconciler had its chances to spin), about once a second (the backoff): a
    // loop would have made three reads within moments, the backoff takes two pauses of 1 s for them.
    let gets = eventually(Duration::from_secs(15), "the gateway is asked about the payment three times", async || {
        let gets = app.sim_stats().await.get_requests;
        (gets >= 3).then_some(gets)
    })
    .await;
    let took = paid.elapsed();
    assert!(took >= Duration::from_millis(1500), "asked about once a second, not in a loop: {gets} reads in {took:?}");
    assert!(metrics(&app).await.contains("settle_card_unknown_gateway_status_total"));
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["status"], "PROCESSING");
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(15)).await, ["COMPLETED"]);
    app.finish().await;
}

/// Every read carries X-USER-ID (the simulator scopes reads by user: without it nothing would be confirmed). A
/// transaction whose amount disagrees with the payment is not applied: the payment is flagged for an operator.
async fn a_transaction_that_disagrees_is_flagged_not_applied(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { misreport_amount: true, ..Knobs::calm() };
    setup.settings.card.reconcile_after = Duration::from_secs(30);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    let id = app.create_card_payment("misreported", 1000).await;
    assert_eq!(app.pay(&id, "KB", CARD, None).await.status, 202);
    let p = eventually(Duration::from_secs(10), "the callback's confirmation flags it", async || {
        let p = app.get(&format!("/v1/payments/{id}")).await.body;
        p.get("flagReason").is_some().then_some(p)
    })
    .await;
    assert_eq!(p["status"], "PROCESSING", "not applied: {p}");
    assert!(p["flagReason"].as_str().unwrap().contains("amount 1001"), "{p}");
    assert!(history(&app, &id).await.contains(&"FLAGGED".to_owned()));
    assert!(metrics(&app).await.contains("settle_card_mismatches_total"));
    // Reads without the user find nothing at this gateway.
    let key = app.get(&format!("/v1/payments/{id}")).await.body["externalPaymentKey"].as_str().unwrap().to_owned();
    let anon = app.client.get(format!("{}/api/v1/payments/{key}", app.gateway_url)).send().await.unwrap();
    assert_eq!(anon.status(), 400);
    app.finish().await;
}

/// Money Settle may not keep is voided through the gateway by a durable job: a second transaction recorded for
/// one charge (VOIDED_DUPLICATE), and a success for a payment the reconciler had failed (VOIDED_LATE_SUCCESS).
/// An order lookup right after an error answer is trusted as "not recorded" only when a second one, later,
/// agrees. At the end the gateway holds exactly one un-voided SUCCESS per COMPLETED payment and none for any
/// other.
async fn double_charges_and_late_successes_are_voided_through_the_gateway(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.knobs = Knobs { duplicate_record_rate: 1.0, ..Knobs::calm() };
    setup.card.config.request_timeout = Duration::from_millis(300);
    setup.settings.card.reconcile_after = Duration::ZERO;
    setup.settings.card.not_recorded_deadline = Duration::from_secs(2);
    setup.settings.card.backoff = vec![Duration::from_millis(500)];
    setup.settings.card.final_check_after = Duration::from_secs(1);
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };

    // Recorded twice for one charge.
    let dup = app.create_card_payment("recorded-twice", 100).await;
    assert_eq!(app.pay(&dup, "KB", CARD, None).await.status, 202);
    assert_eq!(app.wait_final(std::slice::from_ref(&dup), Duration::from_secs(10)).await, ["COMPLETED"]);
    wait_books_agree(&app, std::slice::from_ref(&dup), Duration::from_secs(20)).await;
    assert!(history(&app, &dup).await.contains(&"VOIDED_DUPLICATE".to_owned()));
    assert_eq!(app.sim_transactions().await.iter().filter(|t| t.order_id == dup).count(), 2, "the gateway did record two");

    // The request hangs and nothing shows at the gateway until after the deadline: FAILED, then the late
    // transaction succeeds and is voided.
    set_knobs(&app, &Knobs { hang_rate: 1.0, hang_record_after_ms: Some(3500), ..Knobs::calm() }).await;
    let late = app.create_card_payment("late-success", 100).await;
    let r = app.pay(&late, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.wait_final(std::slice::from_ref(&late), Duration::from_secs(10)).await, ["FAILED"]);
    let voided = within(Duration::from_secs(20), async || {
        let txs = app.sim_transactions().await;
        txs.iter().any(|t| t.order_id == late && t.status == settle_card::wire::GatewayStatus::Unknown("CANCELLED".into())).then_some(())
    })
    .await;
    assert!(voided.is_some(), "the late transaction is voided: {:?}", app.sim_transactions().await);
    wait_books_agree(&app, &[dup.clone(), late.clone()], Duration::from_secs(20)).await;
    assert!(history(&app, &late).await.contains(&"VOIDED_LATE_SUCCESS".to_owned()), "{:?}", history(&app, &late).await);
    assert_eq!(app.sim_transactions().await.iter().filter(|t| t.order_id == late).count(), 1);

    // Recorded, answered 500, and visible to lookups only 150 ms later: the second lookup finds it; no retry.
    set_knobs(&app, &Knobs { fail_after_record_rate: 1.0, lookup_lag_ms: 150, ..Knobs::calm() }).await;
    let before = app.sim_stats().await.charge_requests;
    let lagged = app.create_card_payment("lagged-lookup", 100).await;
    let r = app.pay(&lagged, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.body["externalPaymentKey"].is_string(), "{}", r.text);
    assert_eq!(app.sim_stats().await.charge_requests, before + 1, "not charged again");
    assert_eq!(app.sim_transactions().await.iter().filter(|t| t.order_id == lagged).count(), 1);
    assert_eq!(app.wait_final(std::slice::from_ref(&lagged), Duration::from_secs(10)).await, ["COMPLETED"]);

    let all = [dup, late, lagged];
    wait_books_agree(&app, &all, Duration::from_secs(20)).await;
    books_agree(&app, &all).await.unwrap();
    let m = metrics(&app).await;
    assert!(m.contains("settle_card_voids_total") && m.contains(r#"reason="DUPLICATE""#) && m.contains(r#"reason="LATE_SUCCESS""#), "{m}");
    let rows = settle_store::voids::of_payment(&app.ctx.db, &all[0]).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "VOIDED");
    app.finish().await;
}

/// Without SETTLE_PG_URL the live card rail is off: a live charge answers 400 `feature_not_enabled` (a permanent
/// fault of the configuration: no Retry-After) and nothing is recorded; a callback for a live payment is never
/// confirmed with the test gateway; /health says so. Test payments have the in-process simulator, and /health says
/// that too.
async fn without_a_gateway_the_card_rail_is_off(v: Variant) {
    let mut setup = Setup::new(v);
    setup.card.off = true;
    let Some(app) = TestApp::spawn_with(setup.clone()).await else {
        return;
    };
    let live = app.new_merchant("live").await.0;
    let r = app
        .request(
            Method::POST,
            "/v1/payments",
            Some(&live),
            Some(&json!({"orderId": "no-gateway", "amount": "100", "currency": "KRW", "rail": "CARD"}).to_string()),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["paymentId"].as_str().unwrap().to_owned();
    let pay = json!({"cardType": "KB", "cardNo": CARD}).to_string();
    let r = app.request(Method::POST, &format!("/v1/payments/{id}/card"), Some(&live), Some(&pay), &[("idempotency-key", "k1")]).await;
    r.assert_error(400, "feature_not_enabled");
    assert!(r.header("retry-after").is_none());
    let after = app.request(Method::GET, &format!("/v1/payments/{id}/events"), Some(&live), None, &[]).await;
    assert_eq!(after.body["data"].as_array().unwrap().len(), 1, "CREATED only: {}", after.text);
    let cb = json!({"transactionKey": "TX-1", "orderId": id}).to_string();
    app.request(Method::POST, "/v1/payments/callback", None, Some(&cb), &[]).await.assert_error(400, "feature_not_enabled");
    let h = app.request(Method::GET, "/health", None, None, &[]).await.body;
    assert_eq!((h["gateway"]["mode"].as_str(), h["testGateway"]["mode"].as_str()), (Some("not_configured"), Some("simulator")), "{h}");
    app.finish().await;

    setup.card.off = false;
    setup.card.in_process = true;
    let app = TestApp::spawn_with(setup).await.unwrap();
    let h = app.request(Method::GET, "/health", None, None, &[]).await.body;
    assert_eq!((h["gateway"]["mode"].as_str(), h["testGateway"]["mode"].as_str()), (Some("not_configured"), Some("simulator")), "{h}");
    app.finish().await;
}

/// The simulator serves HTTPS with a certificate from a CA made for the run; Settle, given that CA in
/// SETTLE_PG_CA_FILE, charges through it. Without the CA the certificate is refused: nothing is charged and
/// the payment stays PENDING.
async fn charges_go_through_an_https_gateway_with_its_ca(v: Variant) {
    let ca = settle_card::tls::LocalCa::generate().unwrap();
    let dir = TempDir::new();
    let ca_file = dir.0.join("pg-ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let sim = settle_card::sim::start_tls(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), Knobs::calm(), &ca);
    assert!(sim.url().starts_with("https://"));
    let mut setup = Setup::new(v);
    setup.card.gateway_url = Some(sim.url());
    setup.card.config.ca_file = Some(ca_file.clone());
    let Some(app) = TestApp::spawn_with(setup.clone()).await else {
        sim.stop().await;
        return;
    };
    let id = app.create_card_payment("over-tls", 100).await;
    let r = app.pay(&id, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(10)).await, ["COMPLETED"]);
    app.finish().await;

    setup.card.config.ca_file = None;
    let app = TestApp::spawn_with(setup).await.unwrap();
    let id = app.create_card_payment("untrusted", 100).await;
    app.pay(&id, "KB", CARD, None).await.assert_error(503, "gateway_unavailable");
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["status"], "PENDING");
    app.finish().await;
    sim.stop().await;
}

/// `DATABASE_URL=postgres://...?sslmode=require` works (rustls is compiled in) and the session is encrypted;
/// the card smoke path runs on it.
async fn settle_runs_on_postgres_over_tls(v: Variant) {
    let mut setup = Setup::new(v);
    setup.db_url_suffix = Some("?sslmode=require".into());
    let Some(app) = TestApp::spawn_with(setup).await else {
        return;
    };
    assert_eq!(settle_store::tls_in_use(&app.ctx.db).await.unwrap(), Some(true), "the session is encrypted");
    let id = app.create_card_payment("tls-db", 100).await;
    assert_eq!(app.pay(&id, "KB", CARD, None).await.status, 202);
    assert_eq!(app.wait_final(std::slice::from_ref(&id), Duration::from_secs(10)).await, ["COMPLETED"]);
    app.finish().await;
}

/// A Redis of the test's own, serving TLS only (a certificate from a CA made for the run), stopped by its PID.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    _dir: TempDir,
}

impl TlsRedis {
    async fn start(ca: &settle_card::tls::LocalCa) -> Option<Self> {
        let dir = TempDir::new();
        let (cert, key, ca_file) = (dir.0.join("redis.crt"), dir.0.join("redis.key"), dir.0.join("ca.pem"));
        std::fs::write(&cert, &ca.server_chain_pem).unwrap();
        std::fs::write(&key, &ca.server_key_pem).unwrap();
        std::fs::write(&ca_file, &ca.ca_pem).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let spawned = std::process::Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--tls-auth-clients",
                "no",
            ])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&ca_file)
            .arg("--dir")
            .arg(&dir.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = spawned else {
            assert!(std::env::var("CI").is_err(), "redis-server is required in CI");
            eprintln!("SKIPPED: redis-server is not installed");
            return None;
        };
        let redis = Self { child, port, _dir: dir };
        eventually(Duration::from_secs(5), &format!("the TLS Redis starts on {port}"), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok().map(drop)
        })
        .await;
        Some(redis)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `REDIS_URL=rediss://...` with SETTLE_REDIS_CA_FILE: the cache works over TLS (not degraded, status reads
/// hit it).
async fn the_cache_runs_on_redis_over_tls(v: Variant) {
    let ca = settle_card::tls::LocalCa::generate().unwrap();
    let Some(redis) = TlsRedis::start(&ca).await else { return };
    let dir = TempDir::new();
    let ca_file = dir.0.join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let mut setup = Setup::new(v);
    setup.redis_url = Some(format!("rediss://127.0.0.1:{}/", redis.port));
    setup.redis_ca_file = Some(ca_file.display().to_string());
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let id = app.create_payment("cached-over-tls").await["paymentId"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/payments/{id}/status")).await.body["status"], "PENDING");
    }
    let h = app.request(Method::GET, "/health", None, None, &[]).await.body;
    assert_eq!(h["cache"]["status"], "ok", "{h}");
    assert!(metrics(&app).await.contains(r#"settle_cache_requests_total{result="hit"}"#));
    app.finish().await;
    drop(redis);
}

/// A charge outlives its request (a 504): shutdown waits for it before closing the pool, so its answer is
/// recorded; one still running when the drain bound ends is recorded as an unknown outcome for the reconciler.
async fn shutdown_waits_for_a_running_charge_or_records_it_unknown(v: Variant) {
    let mut setup = Setup::new(v);
    setup.request_timeout = Some(Duration::from_secs(1));
    setup.card.knobs = Knobs { latency_ms: [2000, 2000], ..Knobs::calm() };
    setup.card.config.request_timeout = Duration::from_secs(10);
    let Some(mut app) = TestApp::spawn_with(setup.clone()).await else {
        return;
    };
    let id = app.create_card_payment("running-at-shutdown", 100).await;
    app.pay(&id, "KB", CARD, None).await.assert_error(504, "request_timeout");
    app.shutdown().await;
    let db = settle_store::connect(&app.db.url, 1).await.unwrap();
    let row = settle_store::payments::find_any(&db, &id).await.unwrap().unwrap();
    assert!(row.external_payment_key.is_some(), "the charge finished before the pool closed: {row:?}");
    let _ = db.close().await;

    // A charge longer than the drain bound.
    setup.shutdown_timeout = Some(Duration::from_secs(1));
    setup.card.knobs = Knobs { latency_ms: [5000, 5000], ..Knobs::calm() };
    let mut app2 = TestApp::spawn_with(setup).await.unwrap();
    let id2 = app2.create_card_payment("abandoned", 100).await;
    app2.pay(&id2, "KB", CARD, None).await.assert_error(504, "request_timeout");
    app2.shutdown().await;
    let db = settle_store::connect(&app2.db.url, 1).await.unwrap();
    let row = settle_store::payments::find_any(&db, &id2).await.unwrap().unwrap();
    assert_eq!(row.status.as_str(), "PROCESSING");
    let events = settle_store::payments::events(&db, &id2).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.event_type, "OUTCOME_UNKNOWN", "{events:?}");
    assert!(last.event_data.as_deref().unwrap_or_default().contains("shutdown"));
    let _ = db.close().await;
    app.finish().await;
    app2.finish().await;
}

/// `POST /payments/callback` is unauthenticated. A key other than the one Settle recorded for the payment is
/// answered 404 without a gateway read, a final payment's own key without one too; and a flood of callbacks
/// that do need a read (a payment with no key yet) takes only the callbacks' own few places, so a real charge
/// made meanwhile still gets its place in the gateway's bulkhead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_flood_never_starves_charges() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Memory });
    setup.card.knobs = Knobs { latency_ms: [300, 300], ..Knobs::calm() };
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let app = Arc::new(app);
    // A paid payment: its recorded key, and others.
    let paid = app.create_card_payment("cb-paid", 1000).await;
    let r = app.pay(&paid, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let key = r.body["externalPaymentKey"].as_str().unwrap().to_owned();
    wait_books_agree(&app, std::slice::from_ref(&paid), Duration::from_secs(20)).await;
    let gets = app.sim_stats().await.get_requests;
    let cb = |key: String, order: String| {
        let app = app.clone();
        async move {
            let body = json!({"transactionKey": key, "orderId": order}).to_string();
            app.request(Method::POST, "/v1/payments/callback", None, Some(&body), &[]).await
        }
    };
    let r = cb("not-a-key-settle-got".into(), paid.clone()).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = cb(key.clone(), paid.clone()).await;
    assert_eq!((r.status.as_u16(), r.body["result"].as_str()), (200, Some("noop")), "{}", r.text);
    assert_eq!(app.sim_stats().await.get_requests, gets, "no gateway read for either");
    // A flood for a payment with no key yet, while a real charge is made.
    let waiting = app.create_card_payment("cb-waiting", 1000).await;
    let flood: Vec<_> = (0..60).map(|i| tokio::spawn(cb(format!("flood-{i}"), waiting.clone()))).collect();
    let charged = app.create_card_payment("cb-charged", 1000).await;
    let r = app.pay(&charged, "KB", CARD, None).await;
    assert_eq!(r.status, 202, "the charge got its place: {}", r.text);
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for t in flood {
        *codes.entry(t.await.unwrap().status.as_u16()).or_default() += 1;
    }
    assert!(codes.keys().all(|c| [404, 503].contains(c)), "{codes:?}");
    assert!(codes.get(&503).copied().unwrap_or(0) > 0, "the callbacks' places ran out: {codes:?}");
    Arc::into_inner(app).unwrap().finish().await;
}
