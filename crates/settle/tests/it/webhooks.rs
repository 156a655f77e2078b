//! Outgoing webhooks, tried as a merchant would: a real receiver (an HTTP server on port 0) verifies every
//! delivery with an independent implementation of the Standard Webhooks signature (the `standardwebhooks`
//! crate), through failures, retries, a secret rotation, a hanging endpoint, refused addresses and a kill.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, per_db};

per_db!(webhooks_are_signed_retried_and_each_event_succeeds_once);

mod one_db {
    use crate::helpers::{Cache, Db, Variant};
    const SQLITE: Variant = Variant { db: Db::Sqlite, cache: Cache::Memory };
    const POSTGRES: Variant = Variant { db: Db::Postgres, cache: Cache::Redis };

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_hanging_endpoint_does_not_delay_another() {
        super::a_hanging_endpoint_does_not_delay_another(POSTGRES).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn private_addresses_and_redirects_are_refused() {
        super::private_addresses_and_redirects_are_refused(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_endpoint_fails_its_deliveries_then_is_disabled() {
        super::a_failing_endpoint_fails_its_deliveries_then_is_disabled(SQLITE).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_test_event_reaches_its_endpoint_only_signed() {
        super::a_test_event_reaches_its_endpoint_only_signed(POSTGRES).await
    }
}

/// `POST /v1/webhook-endpoints/{id}/test`: a signed `webhook_endpoint.test` event reaches that endpoint (its
/// receiver verifies it with the endpoint's secret) and no other, not even one subscribed to every event; it shows
/// in the endpoint's deliveries; a disabled endpoint is refused, another merchant's is not found.
async fn a_test_event_reaches_its_endpoint_only_signed(v: Variant) {
    let Some(app) = TestApp::spawn_with(webhook_setup(v)).await else { return };
    let (a, b) = (Receiver::start(Behaviour::Ok).await, Receiver::start(Behaviour::Ok).await);
    let (ep, secret) = endpoint(&app, &a.url, &["payment.*"]).await;
    let (other, _) = endpoint(&app, &b.url, &["*"]).await;
    let r = app.post(&format!("/v1/webhook-endpoints/{ep}/test"), &json!({})).await;
    assert_eq!((r.status.as_u16(), r.body["type"].as_str(), r.body["endpointId"].as_str()), (202, Some("webhook_endpoint.test"), Some(ep.as_str())));
    let got = a.wait_succeeded(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "one test event: {got:?}");
    let g = a.got().into_iter().find(|g| g.answered == 200).unwrap();
    verify(&secret, &g);
    let body: Value = serde_json::from_str(&g.body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["endpointId"].as_str()), (Some("webhook_endpoint.test"), Some(ep.as_str())), "{body}");
    // The other endpoint takes every event, and got none: a payment event reaches it, the test one never did.
    app.create_payment("after-the-test").await;
    b.wait_succeeded(1, Duration::from_secs(20)).await;
    assert!(b.got().iter().all(|g| !g.body.contains("webhook_endpoint.test")), "the test event reached another endpoint");
    let d = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries")).await;
    let tests = d.body["data"].as_array().unwrap().iter().filter(|d| d["eventType"] == "webhook_endpoint.test" && d["status"] == "SUCCEEDED").count();
    assert_eq!(tests, 1, "the test delivery is in the endpoint's deliveries: {}", d.text);
    // Disabled: refused, nothing sent. Not the caller's: 404.
    assert_eq!(
        app.request(Method::PATCH, &format!("/v1/webhook-endpoints/{other}"), Some(&app.key), Some(r#"{"enabled":false}"#), &[]).await.status,
        200
    );
    app.post(&format!("/v1/webhook-endpoints/{other}/test"), &json!({})).await.assert_error(409, "invalid_state");
    app.post("/v1/webhook-endpoints/we_0123456789abcdef0123456789abcdef/test", &json!({})).await.assert_error(404, "not_found");
    app.finish().await;
}

/// What the receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// 200 at once.
    Ok,
    /// 500 to the first `n` requests of each event id, then 200.
    FailFirst(usize),
    /// 500 always.
    Fail,
    /// Never answers (the request hangs until the sender gives up).
    Hang,
    /// 302 to another address.
    Redirect(&'static str),
}

/// A request the receiver got, and what it answered.
#[derive(Clone, Debug)]
pub struct Got {
    pub headers: HeaderMap,
    pub body: String,
    pub answered: u16,
}

impl Got {
    pub fn id(&self) -> String {
        self.headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct ReceiverState {
    behaviour: Option<Behaviour>,
    got: Vec<Got>,
    seen: HashMap<String, usize>,
    /// Requests that arrived (answered or not yet).
    arrived: usize,
    /// How long each answer waits.
    delay: Duration,
}

/// A webhook receiver: a real HTTP server on 127.0.0.1, port 0.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<ReceiverState>>,
    task: tokio::task::JoinHandle<()>,
}

async fn receive(State(st): State<Arc<Mutex<ReceiverState>>>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (behaviour, nth, delay) = {
        let mut s = st.lock().unwrap();
        s.arrived += 1;
        let (b, delay) = (s.behaviour.unwrap_or(Behaviour::Ok), s.delay);
        let n = s.seen.entry(id).or_default();
        *n += 1;
        (b, *n, delay)
    };
    tokio::time::sleep(delay).await;
    let (status, extra): (u16, Option<&str>) = match behaviour {
        Behaviour::Ok => (200, None),
        Behaviour::FailFirst(k) if nth <= k => (500, None),
        Behaviour::FailFirst(_) => (200, None),
        Behaviour::Fail => (500, None),
        Behaviour::Hang => {
            st.lock().unwrap().got.push(Got { headers, body, answered: 0 });
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::OK.into_response();
        }
        Behaviour::Redirect(to) => (302, Some(to)),
    };
    st.lock().unwrap().got.push(Got { headers, body, answered: status });
    let mut res = (StatusCode::from_u16(status).unwrap(), if status == 200 { "thanks" } else { "not now" }).into_response();
    if let Some(to) = extra {
        res.headers_mut().insert("location", to.parse().unwrap());
    }
    res
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState { behaviour: Some(behaviour), ..Default::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().route("/hook", post(receive)).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state, task }
    }

    pub fn set(&self, b: Behaviour) {
        self.state.lock().unwrap().behaviour = Some(b);
    }

    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }

    pub fn arrived(&self) -> usize {
        self.state.lock().unwrap().arrived
    }

    pub fn got(&self) -> Vec<Got> {
        self.state.lock().unwrap().got.clone()
    }

    /// The event ids answered 2xx, with how many times each.
    pub fn succeeded(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for g in self.got().iter().filter(|g| (200..300).contains(&g.answered)) {
            *out.entry(g.id()).or_default() += 1;
        }
        out
    }

    /// Waits until `n` distinct events were answered 2xx (or `limit` passes).
    pub async fn wait_succeeded(&self, n: usize, limit: Duration) -> BTreeMap<String, usize> {
        match within(limit, async || Some(self.succeeded()).filter(|s| s.len() >= n)).await {
            Some(s) => s,
            None => self.succeeded(),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Verifies a delivery as a receiver would, with the `standardwebhooks` crate.
#[track_caller]
pub fn verify(secret: &str, g: &Got) {
    let wh = standardwebhooks::Webhook::new(secret).expect("a Standard Webhooks secret");
    wh.verify(g.body.as_bytes(), &g.headers).unwrap_or_else(|e| panic!("delivery {} does not verify with {}…: {e:?}", g.id(), &secret[..10]));
}

/// The test settings: deliveries to 127.0.0.1, a compressed retry schedule.
fn webhook_setup(v: Variant) -> Setup {
    let mut setup = Setup::new(v);
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    setup.settings.webhooks.schedule = vec![Duration::from_millis(200), Duration::from_millis(300), Duration::from_millis(300)];
    setup.settings.webhooks.timeout = Duration::from_secs(2);
    setup.settings.webhooks.poll = Duration::from_millis(100);
    setup
}

/// Registers an endpoint for `events`; returns (id, secret).
pub async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let r = app.post("/v1/webhook-endpoints", &json!({"url": url, "events": events, "description": "test receiver"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (r.body["id"].as_str().unwrap().to_owned(), secret)
}

async fn webhooks_are_signed_retried_and_each_event_succeeds_once(v: Variant) {
    let Some(app) = TestApp::spawn_with(webhook_setup(v)).await else { return };
    // Two endpoints of the demo merchant, one of another merchant's; a receiver that fails twice per event.
    let rx = Receiver::start(Behaviour::FailFirst(2)).await;
    let only_cancels = Receiver::start(Behaviour::Ok).await;
    let (ep, secret) = endpoint(&app, &rx.url, &["payment.*"]).await;
    let (_, cancel_secret) = endpoint(&app, &only_cancels.url, &["payment.cancelling"]).await;
    let other_key = app.other_merchant("Other shop").await;
    let other = Receiver::start(Behaviour::Ok).await;
    let r = app
        .request(Method::POST, "/v1/webhook-endpoints", Some(&other_key), Some(&json!({"url": other.url, "events": ["*"]}).to_string()), &[])
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Merchant-scoped: another merchant neither sees nor changes the demo merchant's endpoint.
    let theirs = |m: Method, path: String| {
        let (app, key) = (&app, other_key.clone());
        async move { app.request(m, &path, Some(&key), None, &[]).await }
    };
    theirs(Method::GET, format!("/v1/webhook-endpoints/{ep}")).await.assert_error(404, "not_found");
    theirs(Method::DELETE, format!("/v1/webhook-endpoints/{ep}")).await.assert_error(404, "not_found");
    theirs(Method::POST, format!("/v1/webhook-endpoints/{ep}/rotate-secret")).await.assert_error(404, "not_found");
    theirs(Method::GET, format!("/v1/webhook-endpoints/{ep}/deliveries")).await.assert_error(404, "not_found");
    let theirs_list = app.request(Method::GET, "/v1/webhook-endpoints", Some(&other_key), None, &[]).await;
    assert_eq!(theirs_list.body["data"].as_array().unwrap().len(), 1, "{}", theirs_list.text);
    // The secret is shown once: never in a read.
    let listed = app.get("/v1/webhook-endpoints").await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2, "{}", listed.text);
    assert!(!listed.text.contains("whsec_"), "a secret in a listing: {}", listed.text);
    let one = app.get(&format!("/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(one.body["events"], json!(["payment.*"]));
    assert!(one.body.get("secret").is_none());

    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_payment(&format!("hook-{i}")).await["paymentId"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        assert_eq!(app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await.status, 200);
    }
    // 5 created + 2 cancelled: each succeeds exactly once, after two failures, with the same id and body.
    let done = rx.wait_succeeded(7, Duration::from_secs(30)).await;
    assert_eq!(done.len(), 7, "events delivered: {done:?}");
    assert!(done.values().all(|n| *n == 1), "an event succeeded more than once: {done:?}");
    // Every delivery recorded SUCCEEDED: none is due again, and every send recorded was seen by the receiver first.
    eventually(Duration::from_secs(10), "every delivery is recorded SUCCEEDED", async || {
        let d = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries?limit=100")).await.body;
        let all = d["data"].as_array()?;
        (all.len() == 7 && all.iter().all(|d| d["status"] == "SUCCEEDED")).then_some(())
    })
    .await;
    let got = rx.got();
    let mut by_id: BTreeMap<String, Vec<&Got>> = BTreeMap::new();
    for g in &got {
        verify(&secret, g);
        by_id.entry(g.id()).or_default().push(g);
    }
    assert_eq!(by_id.len(), 7);
    for (id, tries) in &by_id {
        assert_eq!(tries.iter().map(|g| g.answered).collect::<Vec<_>>(), [500, 500, 200], "{id}");
        assert!(tries.iter().all(|g| g.body == tries[0].body), "the body changed between attempts of {id}");
        let body: Value = serde_json::from_str(&tries[0].body).unwrap();
        assert_eq!(body["id"], id.as_str());
        assert!(body["type"].as_str().unwrap().starts_with("payment."));
        assert!(body["createdAt"].is_string() && body["data"]["paymentId"].is_string(), "{body}");
        assert_eq!(body["data"]["merchantId"], "mch_demo");
    }
    // The filtered endpoint got the two cancellations only; the other merchant's, none of these.
    let cancels = only_cancels.wait_succeeded(2, Duration::from_secs(10)).await;
    assert_eq!(cancels.len(), 2);
    for g in only_cancels.got() {
        verify(&cancel_secret, &g);
        assert!(g.body.contains("\"type\":\"payment.cancelling\""), "{}", g.body);
    }
    assert!(other.got().is_empty(), "another merchant's endpoint got the demo merchant's events");

    // The events API carries the same events, in seq order, filtered by type.
    let page = app.get("/v1/events?type=payment.*&limit=100").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let listed: Vec<&str> = page.body["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(listed.iter().copied().collect::<std::collections::BTreeSet<_>>(), by_id.keys().map(String::as_str).collect());
    let seqs: Vec<i64> = page.body["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "not in seq order: {seqs:?}");
    let after = app.get(&format!("/v1/events?type=payment.cancelling&after={}", seqs[4])).await;
    assert_eq!(after.body["data"].as_array().unwrap().len(), 2, "{}", after.text);
    // The deliveries, with their attempts.
    let d = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries?limit=100")).await;
    assert_eq!(d.status, 200, "{}", d.text);
    let deliveries = d.body["data"].as_array().unwrap();
    assert_eq!(deliveries.len(), 7);
    for dl in deliveries {
        assert_eq!(dl["status"], "SUCCEEDED", "{dl}");
        let codes: Vec<i64> = dl["attempts"].as_array().unwrap().iter().map(|a| a["statusCode"].as_i64().unwrap()).collect();
        assert_eq!(codes, [500, 500, 200], "{dl}");
        assert_eq!(dl["attempts"][2]["excerpt"], "thanks");
    }

    // Rotation: for a while every delivery carries both signatures; a receiver with either secret verifies it.
    let rot = app.post(&format!("/v1/webhook-endpoints/{ep}/rotate-secret"), &json!({})).await;
    assert_eq!(rot.status, 200, "{}", rot.text);
    let new_secret = rot.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert!(rot.body["previousSecretExpiresAt"].is_string(), "{}", rot.text);
    rx.set(Behaviour::Ok);
    app.create_payment("hook-after-rotation").await;
    let done = rx.wait_succeeded(8, Duration::from_secs(20)).await;
    assert_eq!(done.len(), 8);
    let last = rx.got().into_iter().rfind(|g| g.answered == 200 && !by_id.contains_key(&g.id())).unwrap();
    let sig = last.headers.get("webhook-signature").unwrap().to_str().unwrap().to_owned();
    assert_eq!(sig.split(' ').count(), 2, "two signatures during the rotation: {sig}");
    verify(&secret, &last);
    verify(&new_secret, &last);
    app.finish().await;
}

async fn a_hanging_endpoint_does_not_delay_another(v: Variant) {
    let mut setup = webhook_setup(v);
    setup.settings.webhooks.timeout = Duration::from_secs(8);
    setup.settings.webhooks.per_endpoint = 2;
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let hangs = Receiver::start(Behaviour::Hang).await;
    let fine = Receiver::start(Behaviour::Ok).await;
    let (hung_ep, _) = endpoint(&app, &hangs.url, &["payment.created"]).await;
    let (_, secret) = endpoint(&app, &fine.url, &["payment.created"]).await;
    for i in 0..8 {
        app.create_payment(&format!("hang-{i}")).await;
    }
    // Every event reaches the healthy endpoint while the hanging one's first sends still wait for an answer.
    let done = fine.wait_succeeded(8, Duration::from_secs(20)).await;
    assert_eq!(done.len(), 8, "{done:?}");
    for g in fine.got() {
        verify(&secret, &g);
    }
    let d = app.get(&format!("/v1/webhook-endpoints/{hung_ep}/deliveries?limit=100")).await.body;
    let attempted: Vec<&Value> = d["data"].as_array().unwrap().iter().filter(|d| d["attemptCount"].as_i64().unwrap() > 0).collect();
    assert!(attempted.iter().all(|d| d["attempts"].as_array().unwrap().is_empty()), "a hanging send finished already: {d}");
    assert!(hangs.got().len() <= 2, "more than per_endpoint sends at once to one endpoint: {}", hangs.got().len());
    // After the timeout, its attempts are recorded as failures without an answer, and retried.
    let first = eventually(Duration::from_secs(20), "a hanging send is recorded after the timeout", async || {
        let d = app.get(&format!("/v1/webhook-endpoints/{hung_ep}/deliveries?limit=100")).await.body;
        d["data"].as_array().unwrap().iter().flat_map(|d| d["attempts"].as_array().unwrap().iter()).next().cloned()
    })
    .await;
    assert!(first.get("statusCode").is_none() && first["error"].as_str().unwrap().contains("timeout"), "{first}");
    app.finish().await;
}

async fn private_addresses_and_redirects_are_refused(v: Variant) {
    let mut setup = webhook_setup(v);
    setup.settings.webhooks.allow_hosts = vec![];
    let Some(mut app) = TestApp::spawn_with(setup.clone()).await else { return };
    let rx = Receiver::start(Behaviour::Ok).await;
    let port = rx.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    // Not allow-listed: loopback and private addresses, plain http, a name that resolves to loopback.
    for url in [
        rx.url.clone(),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        "https://[::1]/hook".into(),
        "https://10.0.0.8/hook".into(),
        "https://169.254.169.254/latest/meta-data".into(),
        "ftp://example.com/hook".into(),
        "https://user:pw@example.com/hook".into(),
        "not a url".into(),
    ] {
        let r = app.post("/v1/webhook-endpoints", &json!({"url": url, "events": ["*"]})).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("url"), "{url}: {}", r.text);
    }
    for events in [json!([]), json!(["Payment.*"]), json!(["payment.*.x"]), json!("payment.*")] {
        let r = app.post("/v1/webhook-endpoints", &json!({"url": "https://example.com/hook", "events": events})).await;
        assert_eq!(r.status, 400, "{events}: {}", r.text);
    }
    assert_eq!(app.get("/v1/webhook-endpoints").await.body["data"], json!([]));

    // Allow-listed now: an endpoint on 127.0.0.1 is taken; then Settle restarts without the allow-list, and a
    // delivery to it is refused at send time (the receiver sees nothing).
    app.shutdown().await;
    let mut listed = setup.clone();
    listed.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    let app2 = TestApp::start(listed.clone(), app.db.clone()).await;
    let (ep, _) = endpoint(&app2, &rx.url, &["payment.created"]).await;
    // A name that resolves to loopback, stored as a merchant could not (the resolver refuses it at delivery).
    let now = settle_store::now_ms();
    settle_store::webhooks::create_endpoint(
        &app2.ctx.db,
        settle_store::webhooks::NewEndpoint {
            endpoint_id: "we_localhost",
            merchant_id: DEMO_TENANT,
            url: &format!("https://localhost:{port}/hook"),
            events: "[\"payment.created\"]",
            description: None,
            secret: &settle_app::webhooks::new_secret(),
        },
        now,
    )
    .await
    .unwrap();
    // A redirect is not followed: its target (also allow-listed) never hears of it.
    let target = Receiver::start(Behaviour::Ok).await;
    let target_url: &'static str = Box::leak(target.url.clone().into_boxed_str());
    let redirects = Receiver::start(Behaviour::Redirect(target_url)).await;
    let (redirect_ep, _) = endpoint(&app2, &redirects.url, &["payment.created"]).await;
    let mut app2 = app2;
    app2.shutdown().await;
    app.setup = setup.clone();
    let app3 = TestApp::start(setup, app.db.clone()).await;
    app3.create_payment("ssrf-1").await;
    let a = first_attempt(&app3, &ep).await;
    assert!(a.get("statusCode").is_none() && a["error"].as_str().unwrap().starts_with("refused: the url must be https"), "{a}");
    let a = first_attempt(&app3, "we_localhost").await;
    assert!(a.get("statusCode").is_none() && a["error"].as_str().unwrap().contains("not a public address"), "{a}");
    assert!(rx.got().is_empty(), "a refused endpoint was sent to");
    // The redirecting endpoint is allow-listed only in the second run: refused here as well. Run it allow-listed.
    let mut app3 = app3;
    app3.shutdown().await;
    let app4 = TestApp::start(listed, app.db.clone()).await;
    let a = attempt_where(&app4, &redirect_ep, |a| a.get("statusCode").is_some()).await;
    assert_eq!(a["statusCode"], 302, "{a}");
    assert!(a["error"].as_str().unwrap().contains("redirect"), "{a}");
    assert_eq!(redirects.got().len(), 1);
    assert!(target.got().is_empty(), "a redirect was followed");
    app4.finish().await;
}

/// The first attempt of an endpoint's newest delivery, once there is one.
async fn first_attempt(app: &TestApp, ep: &str) -> Value {
    attempt_where(app, ep, |_| true).await
}

/// The first attempt of an endpoint's newest delivery that `pred` takes, once there is one.
async fn attempt_where(app: &TestApp, ep: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(15), &format!("an attempt for {ep}"), async || {
        let d = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries")).await.body;
        d["data"][0]["attempts"].as_array().and_then(|a| a.iter().find(|a| pred(a))).cloned()
    })
    .await
}

async fn a_failing_endpoint_fails_its_deliveries_then_is_disabled(v: Variant) {
    let mut setup = webhook_setup(v);
    setup.settings.webhooks.schedule = vec![Duration::from_millis(100), Duration::from_millis(100)];
    setup.settings.webhooks.disable_after = Duration::from_secs(1);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let rx = Receiver::start(Behaviour::Fail).await;
    let watcher = Receiver::start(Behaviour::Ok).await;
    let (ep, _) = endpoint(&app, &rx.url, &["payment.*"]).await;
    let (_, _) = endpoint(&app, &watcher.url, &["webhook_endpoint.*"]).await;
    let first = app.create_payment("fail-1").await["paymentId"].as_str().unwrap().to_owned();
    // Three attempts (the first and two retries), then FAILED, kept.
    let failed = eventually(Duration::from_secs(15), "a FAILED delivery", async || {
        let d = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries?status=FAILED")).await.body;
        d["data"].as_array().and_then(|a| a.first()).cloned()
    })
    .await;
    assert_eq!(failed["attemptCount"], 3, "{failed}");
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 3);
    assert!(app.get(&format!("/v1/webhook-endpoints/{ep}")).await.body["enabled"].as_bool().unwrap());
    // Still failing once disable_after (1 s) has passed since its first failure (as recorded): the next failure
    // disables the endpoint, and an event says so.
    eventually(Duration::from_secs(10), "the endpoint has been failing for disable_after", async || {
        let since = settle_store::webhooks::endpoint(&app.ctx.db, DEMO_TENANT, &ep).await.unwrap()?.failing_since?;
        (settle_store::now_ms() - since >= 1000).then_some(())
    })
    .await;
    app.create_payment("fail-2").await;
    let e = eventually(Duration::from_secs(15), "the failing endpoint is disabled", async || {
        let e = app.get(&format!("/v1/webhook-endpoints/{ep}")).await.body;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    assert_eq!(e["disabledReason"], "failing", "{e}");
    // The event is listed once the outbox relay has published it.
    let events = eventually(Duration::from_secs(10), "the disabled event is published", async || {
        let events = app.get("/v1/events?type=webhook_endpoint.disabled").await.body;
        (!events["data"][0].is_null()).then_some(events)
    })
    .await;
    assert_eq!(events["data"][0]["data"]["endpointId"], ep.as_str(), "{events}");
    assert_eq!(watcher.wait_succeeded(1, Duration::from_secs(10)).await.len(), 1, "the disabled event was delivered");
    // Fixed and enabled again: the waiting delivery goes out, and the FAILED one is sent again on request.
    rx.set(Behaviour::Ok);
    let r =
        app.request(Method::PATCH, &format!("/v1/webhook-endpoints/{ep}"), Some(&app.key), Some(&json!({"enabled": true}).to_string()), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("disabledReason").is_none(), "{}", r.text);
    let retried = app.post(&format!("/v1/webhook-deliveries/{}/retry", failed["id"].as_str().unwrap()), &json!({})).await;
    assert_eq!(retried.status, 202, "{}", retried.text);
    let done = rx.wait_succeeded(2, Duration::from_secs(15)).await;
    assert_eq!(done.len(), 2, "{done:?}");
    // The receiver answered; Settle records each answer just after: waited on, not raced.
    eventually(Duration::from_secs(10), "both deliveries are recorded SUCCEEDED", async || {
        let d = app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries")).await.body;
        d["data"].as_array()?.iter().all(|d| d["status"] == "SUCCEEDED").then_some(())
    })
    .await;
    let _ = first;
    // Unknown ids are 404s; a delete takes the deliveries with it.
    app.get("/v1/webhook-endpoints/we_nope").await.assert_error(404, "not_found");
    app.post("/v1/webhook-deliveries/wd_nope/retry", &json!({})).await.assert_error(404, "not_found");
    let del = app.request(Method::DELETE, &format!("/v1/webhook-endpoints/{ep}"), Some(&app.key), None, &[]).await;
    assert_eq!(del.status, 204, "{}", del.text);
    app.get(&format!("/v1/webhook-endpoints/{ep}/deliveries")).await.assert_error(404, "not_found");
    app.finish().await;
}

/// `settle serve` killed while it sends: after a restart every event is delivered (some perhaps twice, with the
/// same webhook-id), none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_mid_delivery_loses_no_event() {
    settle_card::tls::ensure_crypto_provider();
    let dir = TempDir::new();
    let rx = Receiver::start(Behaviour::FailFirst(1)).await;
    // Slow answers: when Settle is killed, sends are under way.
    rx.set_delay(Duration::from_millis(300));
    let env = vec![
        ("SETTLE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1".to_owned()),
        ("SETTLE_WEBHOOK_TIMEOUT_MS", "1000".to_owned()),
        ("SETTLE_WEBHOOK_RETRY_SCHEDULE", "300ms,300ms,300ms,300ms".to_owned()),
        ("SETTLE_LISTEN", "127.0.0.1:0".to_owned()),
    ];
    let mut p = Process::start(&dir, &["serve", "--demo"], &env, "listening on");
    let mut base = p.base();
    let client = reqwest::Client::new();
    let key = settle_app::merchants::DEMO_API_KEY;
    let r = request_at(
        &client,
        &base,
        Method::POST,
        "/v1/webhook-endpoints",
        Some(key),
        Some(&json!({"url": rx.url, "events": ["payment.created"]}).to_string()),
        &[],
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let n = 30;
    let mut cut_off = 0;
    for i in 0..n {
        let body = TestApp::chain_payment(&format!("kill-{i}")).to_string();
        let r = request_at(&client, &base, Method::POST, "/v1/payments", Some(key), Some(&body), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        if i == n / 2 {
            // Mid-way through the deliveries of the first half (the check below fails the test if none is under way).
            within(Duration::from_secs(10), async || (rx.arrived() > rx.got().len()).then_some(())).await;
            cut_off = rx.arrived() - rx.got().len();
            p.kill();
            p = Process::start(&dir, &["serve", "--demo"], &env, "listening on");
            base = p.base();
        }
    }
    let done = rx.wait_succeeded(n, Duration::from_secs(40)).await;
    assert_eq!(done.len(), n, "events delivered after the kill: {done:?}");
    assert!(cut_off > 0, "no send was under way when Settle was killed");
    for g in rx.got() {
        verify(&secret, &g);
    }
    let events = request_at(&client, &base, Method::GET, "/v1/events?type=payment.created&limit=100", Some(key), None, &[]).await;
    let ids: std::collections::BTreeSet<String> =
        events.body["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, done.keys().cloned().collect(), "every event delivered is an event, and every event was delivered");
    p.kill();

    // `serve --demo` sealed the secret under a local key (settle.key). Plain `serve` without a key refuses to
    // start on this database; `settle keys rotate` moves the secret to a new key, which then suffices.
    let local = std::fs::read_to_string(dir.0.join("settle.key")).expect("serve --demo wrote settle.key");
    let run = |args: &'static [&'static str], env: Vec<(&'static str, String)>| {
        let dir = dir.0.clone();
        async move {
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_settle"));
            cmd.args(args).current_dir(dir).env_remove("DATABASE_URL").env_remove("SETTLE_MASTER_KEY").env("SETTLE_LOG", "warn").kill_on_drop(true);
            cmd.env("SETTLE_LISTEN", "127.0.0.1:0");
            for (k, v) in env {
                cmd.env(k, v);
            }
            tokio::time::timeout(Duration::from_secs(30), cmd.output()).await.expect("the command ends").expect("it runs")
        }
    };
    let out = run(&["serve"], vec![]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SETTLE_MASTER_KEY"), "{err}");
    let new_key = settle_app::crypto::Keyring::generate();
    let out = run(&["keys", "rotate"], vec![("SETTLE_MASTER_KEY", format!("{new_key},{}", local.trim()))]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l == "resealed: 1"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&["serve"], vec![("SETTLE_MASTER_KEY", local.trim().to_owned())]).await;
    assert!(!out.status.success(), "the old key alone no longer opens the secret");
    let mut p = Process::start(
        &dir,
        &["serve"],
        &[("SETTLE_MASTER_KEY", new_key), ("SETTLE_LISTEN", "127.0.0.1:0".into()), ("SETTLE_ALLOW_DEMO_KEY", "true".into())],
        "listening on",
    );
    p.kill();
}

/// Secrets are sealed at rest under the master key; a new key put first keeps the old secrets readable until
/// they are sealed again, after which the new key alone suffices.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoint_secrets_are_sealed_at_rest_and_survive_a_key_rotation() {
    use settle_app::crypto::Keyring;
    let (a, b) = (Keyring::generate(), Keyring::generate());
    let mut setup = webhook_setup(Variant { db: Db::Postgres, cache: Cache::Redis });
    setup.settings.keyring = Some(Arc::new(Keyring::parse(&a).unwrap()));
    let Some(mut app) = TestApp::spawn_with(setup.clone()).await else { return };
    let rx = Receiver::start(Behaviour::Ok).await;
    let (_, secret) = endpoint(&app, &rx.url, &["payment.created"]).await;
    let stored = settle_store::webhooks::all_secrets(&app.ctx.db).await.unwrap();
    let id_a = Keyring::parse(&a).unwrap().current_id().to_owned();
    assert!(stored[0].secret.starts_with(&format!("enc:v2:{id_a}:")), "{}", stored[0].secret);
    assert!(!stored[0].secret.contains(&secret[6..]), "the secret is stored in the clear");
    let mut made = 0;
    let mut pay_and_verify = async |app: &TestApp| {
        made += 1;
        app.create_payment(&format!("sealed-{made}")).await;
        assert_eq!(rx.wait_succeeded(made, Duration::from_secs(15)).await.len(), made);
        for g in rx.got() {
            verify(&secret, &g);
        }
    };
    pay_and_verify(&app).await;
    // The new key first, the old one after it: secrets sealed under the old one still open.
    app.shutdown().await;
    setup.settings.keyring = Some(Arc::new(Keyring::parse(&format!("{b},{a}")).unwrap()));
    app = TestApp::start(setup.clone(), app.db.clone()).await;
    pay_and_verify(&app).await;
    assert_eq!(settle_app::webhooks::reseal_all(&app.ctx).await.unwrap(), 1);
    assert_eq!(settle_app::webhooks::reseal_all(&app.ctx).await.unwrap(), 0, "nothing left to seal again");
    let id_b = Keyring::parse(&b).unwrap().current_id().to_owned();
    assert!(settle_store::webhooks::all_secrets(&app.ctx.db).await.unwrap()[0].secret.starts_with(&format!("enc:v2:{id_b}:")));
    // The new key alone now suffices; no key, or the old one alone, is refused before serving.
    app.shutdown().await;
    let db = settle_store::connect(&app.db.url, 2).await.unwrap();
    for keys in [None, Some(a.clone())] {
        let ring = keys.map(|k| Keyring::parse(&k).unwrap());
        let e = settle_app::webhooks::check_secrets(&db, ring.as_ref()).await.unwrap_err();
        assert!(e.contains("SETTLE_MASTER_KEY"), "{e}");
    }
    setup.settings.keyring = Some(Arc::new(Keyring::parse(&b).unwrap()));
    app = TestApp::start(setup, app.db.clone()).await;
    pay_and_verify(&app).await;
    app.finish().await;
}

/// `settle keys rotate` writes each endpoint with a compare-and-set on what it read: a secret rotated between the
/// read and the write is never overwritten with the one from before. A sealed secret is bound to its endpoint:
/// copied into another endpoint's row (by someone with write access to the table), it does not open there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reseal_never_overwrites_a_rotation_and_a_sealed_secret_opens_only_in_its_row() {
    use settle_app::crypto::Keyring;
    use settle_store::ConnectionTrait;
    let keys = Keyring::generate();
    let mut setup = webhook_setup(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.settings.keyring = Some(Arc::new(Keyring::parse(&keys).unwrap()));
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let rx = Receiver::start(Behaviour::Ok).await;
    let (id, _) = endpoint(&app, &rx.url, &["payment.created"]).await;
    let read = settle_store::webhooks::all_secrets(&app.ctx.db).await.unwrap().remove(0);
    // A rotation lands between the reseal's read and its write.
    let r = app.request(reqwest::Method::POST, &format!("/v1/webhook-endpoints/{id}/rotate-secret"), Some(&app.key), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.body["secret"].as_str().unwrap().to_owned();
    let ring = Keyring::parse(&keys).unwrap();
    let stale = (ring.seal("whsec_from_before", &id), None);
    let swapped = settle_store::webhooks::reseal_secrets(&app.ctx.db, read.id, (&read.secret, read.previous_secret.as_deref()), (&stale.0, stale.1))
        .await
        .unwrap();
    assert!(!swapped, "the write saw the rotation and changed nothing");
    let now = settle_store::webhooks::all_secrets(&app.ctx.db).await.unwrap().remove(0);
    assert_eq!(ring.open(&now.secret, &id).unwrap(), rotated, "the rotated secret stands");
    // Another endpoint, and this endpoint's sealed secret copied into its row: it does not open there.
    let (other, _) = endpoint(&app, &rx.url, &["payment.created"]).await;
    let db = app.ctx.db.writes();
    db.execute_raw(settle_store::Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE webhook_endpoints SET secret = ? WHERE endpoint_id = ?",
        [now.secret.clone().into(), other.clone().into()],
    ))
    .await
    .unwrap();
    let e = settle_app::webhooks::check_secrets(&app.ctx.db, Some(&ring)).await.unwrap_err();
    assert!(e.contains("does not open"), "{e}");
    app.finish().await;
}

/// Events past their retention are deleted, all but the newest (seqs never start over); the rest stay listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_past_their_retention_are_deleted_but_never_the_newest() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Mysql, cache: Cache::Redis }).await else { return };
    for i in 0..5 {
        app.create_payment(&format!("old-{i}")).await;
    }
    app.drain_outbox().await;
    let max = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    // Everything published so far is "old": all but the newest go.
    let cutoff = settle_store::now_ms() + 1;
    let mut purged = 0;
    loop {
        let n = settle_store::outbox::purge_published_before(&app.ctx.db, cutoff, i64::MAX, 2).await.unwrap();
        if n == 0 {
            break;
        }
        purged += n;
    }
    let left = app.get("/v1/events?limit=100").await.body;
    let seqs: Vec<i64> = left["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [max], "only the newest is kept");
    assert_eq!(purged as i64, max - 1);
    // New events continue the sequence.
    app.create_payment("new-1").await;
    app.drain_outbox().await;
    assert_eq!(settle_store::outbox::max_seq(&app.ctx.db).await.unwrap(), max + 1);
    app.finish().await;
}

/// `settle listen --forward-to`: a merchant's events from a running Settle, forwarded to a local receiver signed with
/// the session's secret (verified here with the Standard Webhooks library), only the types asked for. Its stdout is
/// the secret, a line per connection, then one line per event forwarded with the receiver's status; a key Settle
/// refuses ends it with an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settle_listen_forwards_a_merchants_events_signed() {
    use std::io::BufRead;
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let rx = Receiver::start(Behaviour::Ok).await;
    /// Stopped by its PID however the test ends.
    struct Listening(std::process::Child);
    impl Drop for Listening {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Listening(
        std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
            .args(["listen", "--forward-to", &rx.url, "--url", &app.base, "--events", "payment.created,payment.updated"])
            .env("SETTLE_API_KEY", &app.key)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    std::thread::spawn(move || {
        for l in out.lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&l).unwrap_or(Value::String(l)));
        }
    });
    let mut next = async || tokio::time::timeout(Duration::from_secs(15), lines.recv()).await.expect("a line in time").expect("listen runs");
    let first = next().await;
    let secret = first["secret"].as_str().expect("the session's secret first").to_owned();
    assert!(secret.starts_with("whsec_") && first["forwardTo"] == rx.url.as_str(), "{first}");
    assert!(next().await["connected"].is_string(), "connected before anything is made");
    let id = app.create_card_payment("listen-1", 1500).await;
    let r = app.post(&format!("/v1/payments/{id}"), &json!({"metadata": {"listened": "yes"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // One more wanted event after the cancellation: once it is forwarded, the cancellation was read and left out.
    let r = app.post(&format!("/v1/payments/{id}"), &json!({"description": "after the cancel"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let forwarded = [next().await, next().await, next().await];
    assert_eq!(
        forwarded.iter().map(|f| (f["type"].as_str().unwrap(), f["status"].as_u64())).collect::<Vec<_>>(),
        [("payment.created", Some(200)), ("payment.updated", Some(200)), ("payment.updated", Some(200))]
    );
    let got = rx.got();
    assert_eq!(got.len(), 3, "payment.cancelled was not asked for: {got:?}");
    for g in &got {
        verify(&secret, g);
        let event: Value = serde_json::from_str(&g.body).unwrap();
        assert_eq!(event["data"]["paymentId"], id.as_str(), "{event}");
    }
    assert_eq!(serde_json::from_str::<Value>(&got[1].body).unwrap()["data"]["metadata"]["listened"], "yes");
    for g in &got {
        // The body a webhook delivery carries: the stream's seq is not in it.
        let event: Value = serde_json::from_str(&g.body).unwrap();
        let mut fields: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
        fields.sort();
        assert_eq!(fields, ["createdAt", "data", "id", "livemode", "type"], "{event}");
    }
    drop(child);

    let refused = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_settle"))
            .args(["listen", "--forward-to", &rx.url, "--url", &app.base, "--api-key", "sk_nobody"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("a refused key ends listen")
    .unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("401"), "{refused:?}");
    app.finish().await;
}

/// One merchant's 16 endpoints that never answer (8 payments: 128 sends) hold at most 16 of the instance's 64 sends,
/// taken in turn with other merchants': another merchant's deliveries arrive while they hang (before, they waited
/// for the hanging sends' timeout, 30 s here). An endpoint that is failing gets a circuit: one send at a time, each
/// waiting the shorter failing timeout (2 s), not the whole timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_merchants_hanging_endpoints_never_hold_up_another() {
    let mut setup = webhook_setup(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.settings.webhooks.timeout = Duration::from_secs(30);
    setup.settings.webhooks.schedule = vec![Duration::from_secs(120)];
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let mut hanging = Vec::new();
    for _ in 0..16 {
        let rx = Receiver::start(Behaviour::Hang).await;
        endpoint(&app, &rx.url, &["payment.created"]).await;
        hanging.push(rx);
    }
    let arrived = |rxs: &[Receiver]| rxs.iter().map(Receiver::arrived).sum::<usize>();
    for i in 0..8 {
        app.create_payment(&format!("slow-{i}")).await;
    }
    eventually(Duration::from_secs(20), "the hanging endpoints take their share", async || (arrived(&hanging) >= 16).then_some(())).await;
    let (_, key) = app.new_merchant("Other shop").await;
    let post = async |path: &str, body: Value| {
        let r = app.request(Method::POST, path, Some(&key), Some(&body.to_string()), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    };
    let fine = Receiver::start(Behaviour::Ok).await;
    post("/v1/webhook-endpoints", json!({"url": fine.url, "events": ["payment.created"]})).await;
    for i in 0..3 {
        post("/v1/payments", TestApp::chain_payment(&format!("other-{i}"))).await;
    }
    let done = fine.wait_succeeded(3, Duration::from_secs(15)).await;
    assert_eq!(done.len(), 3, "the other merchant's deliveries arrive while the hanging ones wait: {done:?}");
    assert_eq!(arrived(&hanging), 16, "one merchant holds at most 16 sends at once");

    // The other merchant's endpoint starts failing, then hangs: one send at a time, each cut off after 2 s.
    let flaky = Receiver::start(Behaviour::Fail).await;
    let ep = post("/v1/webhook-endpoints", json!({"url": flaky.url, "events": ["payment.created"]})).await;
    let ep = ep["id"].as_str().unwrap().to_owned();
    post("/v1/payments", TestApp::chain_payment("flaky-0")).await;
    eventually(Duration::from_secs(15), "the endpoint failed once", async || (flaky.arrived() >= 1).then_some(())).await;
    flaky.set(Behaviour::Hang);
    eventually(Duration::from_secs(15), "the endpoint is failing", async || {
        let e = app.request(Method::GET, &format!("/v1/webhook-endpoints/{ep}/deliveries"), Some(&key), None, &[]).await.body;
        e["data"][0]["attempts"].as_array().is_some_and(|a| !a.is_empty()).then_some(())
    })
    .await;
    for i in 1..5 {
        post("/v1/payments", TestApp::chain_payment(&format!("flaky-{i}"))).await;
    }
    eventually(Duration::from_secs(15), "a send to the failing endpoint", async || (flaky.arrived() >= 2).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(flaky.arrived(), 2, "a failing endpoint gets one send at a time");
    let cut = eventually(Duration::from_secs(15), "a hanging send to the failing endpoint is cut off", async || {
        let d = app.request(Method::GET, &format!("/v1/webhook-endpoints/{ep}/deliveries?limit=10"), Some(&key), None, &[]).await.body;
        d["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["attempts"].as_array().unwrap().clone())
            .find(|a| a["error"].as_str().is_some_and(|e| e.contains("timeout")))
    })
    .await;
    assert!(cut["latencyMs"].as_i64().unwrap() < 10_000, "the failing timeout, not the 30 s one: {cut}");
    app.finish().await;
}
