//! The scale-out chaos run. Three `settle serve` processes on 127.0.0.1, .2 and .3 share PostgreSQL, Redis and a
//! NATS server of the test's own; a client spreads card payments (against the PG simulator at seed 004's defaults:
//! 40 % failed requests, 1-5 s to a result), gasless chain payments on anvil and orders (with a card) over them,
//! while one instance at a time is SIGKILLed and restarted every few seconds. Then, with all three up again:
//! - every payment and order the client was told about (a 2xx) exists, and every payment and saga is final;
//! - no payment has two successful charges at the gateway, and a payment is COMPLETED exactly when it has one;
//! - the relayer's nonces are contiguous and all mined;
//! - the outbox seq has no gap; an SSE client (reconnecting with Last-Event-ID) saw every event exactly once, the
//!   webhook endpoint every event at least once, the NATS stream every event exactly once;
//! - no lease was held by two instances at once, from the lease log (`settle::lease` lines of every instance).
//!
//! `scripts/chaos` runs it for minutes (SETTLE_CHAOS_SECS, SETTLE_CHAOS_CLIENTS); the suite runs a short one.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use settle_chain::{Address, PrivateKeySigner, U256, deploy, eip712};

use crate::{
    chain::{Anvil, key, mine},
    helpers::*,
    nats::{OwnNats, free_port},
    webhooks::{Behaviour, Receiver},
};

const ADMIN: &str = "chaos-admin-token-0123456789";
const CARD: &str = "4111-1111-1111-1111";
const KEY: &str = settle_app::merchants::DEMO_API_KEY;

/// The three instances: their directories (each its own log), addresses and processes.
struct Cluster {
    dirs: Vec<TempDir>,
    addrs: Vec<String>,
    procs: Vec<Option<Process>>,
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    fn start(&mut self, i: usize) {
        let mut env = self.env.clone();
        env.push(("SETTLE_LISTEN", self.addrs[i].clone()));
        self.procs[i] = Some(Process::start(&self.dirs[i], &["serve", "--no-migrate"], &env, "listening on"));
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.procs[i].take() {
            p.kill();
        }
    }

    fn bases(&self) -> Vec<String> {
        self.addrs.iter().map(|a| format!("http://{a}")).collect()
    }
}

/// One HTTP answer, or None when no instance answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

/// The client: each call goes to the next instance, and to another when one does not answer (a killed instance);
/// a write carries its Idempotency-Key, so sending it again is safe.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    bases: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
}

impl Client {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<&Value>, idem: Option<&str>) -> Option<Answer> {
        // Every instance twice, from the next one on: a killed instance refuses at once and only one is ever down, so
        // the next is tried straight away (there is nothing to wait for).
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.bases.len() * 2 {
            let base = &self.bases[(start + i) % self.bases.len()];
            let mut rb = self.http.request(method.clone(), format!("{base}{path}")).bearer_auth(token).timeout(Duration::from_secs(30));
            if let Some(b) = body {
                rb = rb.json(b);
            }
            if let Some(k) = idem {
                rb = rb.header("idempotency-key", k);
            }
            if let Ok(r) = rb.send().await {
                let status = r.status().as_u16();
                let body = r.json().await.unwrap_or(Value::Null);
                return Some(Answer { status, body });
            }
        }
        None
    }

    /// Sends a write until it gets an answer that is not "try again" (a 5xx, 409 in flight, 429, or no answer), or
    /// `deadline` passes.
    async fn write(&self, path: &str, body: &Value, idem: &str, deadline: tokio::time::Instant) -> Option<Answer> {
        loop {
            if let Some(a) = self.call(Method::POST, path, KEY, Some(body), Some(idem)).await
                && !(a.status >= 500 || a.status == 429 || (a.status == 409 && a.body["error"]["code"] == "idempotency_in_flight"))
            {
                return Some(a);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            // The answer itself is the signal (a breaker's open wait or a stale in-flight key passing): paced, since
            // this runs in spawned tasks, where `within` with an async closure trips rust-lang/rust#139475.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// What the client was told.
#[derive(Default)]
struct Acked {
    card: Vec<String>,
    chain: Vec<String>,
    orders: Vec<String>,
    /// Every Idempotency-Key an order was sent with (answered or not), and the order it answered.
    order_keys: Vec<(String, Option<String>)>,
    /// Writes still unanswered at the end (the run's bound passed while an instance kept failing).
    unanswered: usize,
}

/// The checkout's two signatures, through whichever instance answers.
async fn sign_checkout(c: &Client, created: &Value, payer: &PrivateKeySigner) -> Option<Value> {
    let id = created["paymentId"].as_str()?;
    let secret = created["clientSecret"].as_str()?;
    let path = format!("/v1/payments/{id}/typed-data?payer={}", payer.address());
    let td = c.call(Method::GET, &path, secret, None, None).await.filter(|a| a.status == 200)?;
    let eip712::CheckoutSigned::Permit { signature, deadline } = eip712::sign_checkout_step(payer, &td.body).ok()? else { return None };
    let path = format!("{path}&permitSignature=0x{}&permitDeadline={deadline}", hex::encode(signature.as_bytes()));
    let td = c.call(Method::GET, &path, secret, None, None).await.filter(|a| a.status == 200)?;
    let eip712::CheckoutSigned::Request { request, signature } = eip712::sign_checkout_step(payer, &td.body).ok()? else { return None };
    Some(json!({"request": request, "signature": format!("0x{}", hex::encode(signature.as_bytes()))}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_lose_one_at_a_time_and_nothing_is_lost() {
    let secs: u64 = std::env::var("SETTLE_CHAOS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let clients: usize = std::env::var("SETTLE_CHAOS_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    if !(Variant { db: Db::Postgres, cache: Cache::Redis }).available().await {
        return;
    }
    let Some(_) = OwnNats::binary() else {
        unavailable("nats-server", "is not installed");
        return;
    };
    let Some(anvil) = Anvil::start(31337, &["--block-time", "1"]).await else { return };
    let rpc = anvil.rpc();
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let nats_dir = TempDir::new();
    let nats = OwnNats::start(free_port(), &nats_dir.0).unwrap();
    let db = TestDb::create(Db::Postgres).await.unwrap();
    let sim = settle_card::sim::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), settle_card::sim::Knobs::default());
    let receiver = Receiver::start(Behaviour::Ok).await;

    // Migrate and seed once; then three instances on 127.0.0.1-3.
    let dirs: Vec<TempDir> = (0..3).map(|_| TempDir::new()).collect();
    let addrs: Vec<String> = (1..=3).map(|i| format!("127.0.0.{i}:{}", free_port())).collect();
    let chain_toml = format!(
        "[[chains]]\nchain_id = 31337\nrpc_urls = [\"{}\"]\ngateway = \"{}\"\nforwarder = \"{}\"\nconfirmations = 1\npoll_ms = 200\ntest_network = true\n\
         tokens = [{{ address = \"{TOKEN}\", symbol = \"USDC\", decimals = 6 }}]\n",
        anvil.url,
        crate::chain::DEV_GATEWAY,
        crate::chain::DEV_FORWARDER
    );
    for d in &dirs {
        std::fs::write(d.0.join("settle.toml"), &chain_toml).unwrap();
    }
    let env: Vec<(&'static str, String)> = vec![
        ("DATABASE_URL", db.url.clone()),
        ("REDIS_URL", redis_url()),
        ("SETTLE_NATS_URL", nats.url()),
        // The clients use the demo key, a test key: its events reach this bus because it asks for test events.
        ("SETTLE_NATS_TEST_EVENTS", "true".to_owned()),
        // The clients use the demo merchant's key on these plain `serve` instances.
        ("SETTLE_ALLOW_DEMO_KEY", "true".into()),
        ("SETTLE_PG_URL", sim.url()),
        ("SETTLE_PG_TEST_URL", sim.url()),
        ("SETTLE_CALLBACK_URL", format!("http://{}/v1/payments/callback", addrs[0])),
        ("SETTLE_ADMIN_TOKEN", ADMIN.into()),
        ("SETTLE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1".into()),
        ("SETTLE_WEBHOOK_TIMEOUT_MS", "2000".into()),
        ("SETTLE_WEBHOOK_RETRY_SCHEDULE", "1s,2s,3s".into()),
        ("SETTLE_CB_OPEN_WAIT_SECS", "2".into()),
        ("SETTLE_RECONCILE_AFTER_SECS", "2".into()),
        ("SETTLE_RECONCILE_DEADLINE_SECS", "45".into()),
        // The gateway fails 40 % of lookups too: the reconciler asks again within seconds, not minutes.
        ("SETTLE_RECONCILE_BACKOFF_SECS", "1,2,3".into()),
        ("SETTLE_IDEMPOTENCY_STALE_SECS", "12".into()),
        ("SETTLE_REQUEST_TIMEOUT_SECS", "10".into()),
        ("SETTLE_RELAY_WAIT_SECS", "5".into()),
        ("SETTLE_RATE_LIMIT_PER_SEC", "100000".into()),
        ("SETTLE_RATE_LIMIT_BURST", "100000".into()),
        ("SETTLE_CHAIN_31337_SIGNER_KEY", crate::chain::DEV_KEYS[0].into()),
        ("SETTLE_CHAIN_31337_RELAYER_KEY", crate::chain::DEV_KEYS[0].into()),
        ("SETTLE_LOG_FORMAT", "json".into()),
        ("SETTLE_LOG", "warn,settle::lease=debug".into()),
    ];
    for args in [&["migrate", "up"][..], &["seed"][..]] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
            .args(args)
            .current_dir(&dirs[0].0)
            .env("DATABASE_URL", &db.url)
            .env("SETTLE_LOG", "warn")
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let mut cluster = Cluster { dirs, addrs, procs: (0..3).map(|_| None).collect(), env };
    for i in 0..3 {
        cluster.start(i);
    }
    let client = Client { http: reqwest::Client::new(), bases: Arc::new(cluster.bases()), next: Default::default() };
    let deadline_far = tokio::time::Instant::now() + Duration::from_secs(600);

    // Before any event: the webhook endpoint, the shop's user and item.
    let ep = client.write("/v1/webhook-endpoints", &json!({"url": receiver.url, "events": ["*"]}), "chaos-ep", deadline_far).await.unwrap();
    assert_eq!(ep.status, 201, "{:?}", ep.body);
    for (path, body) in [
        ("/v1/users", json!({"userId": "chaos-user", "name": "Kim", "points": 100_000_000})),
        ("/v1/items", json!({"itemId": "chaos-item", "name": "Sword", "price": 1000, "stock": 1_000_000})),
    ] {
        let a = client.write(path, &body, &format!("chaos-{path}"), deadline_far).await.unwrap();
        assert_eq!(a.status, 201, "{path}: {:?}", a.body);
    }
    // Payers of the chain payments, funded with the test token.
    let token: Address = TOKEN.parse().unwrap();
    let payers: Vec<PrivateKeySigner> = (0..clients).map(|_| PrivateKeySigner::random()).collect();
    for p in &payers {
        deploy::mint(&rpc, &key(0), token, p.address(), U256::from(1_000_000_000u64)).await.unwrap();
    }

    // The SSE client: one stream at a time, from whichever instance answers, resuming after the last id it saw.
    // Each event seen: its SSE id (the event id) and its seq (from its data).
    let sse_seen: Arc<Mutex<Vec<(String, i64)>>> = Default::default();
    let (sse_stop, sse_stopped) = tokio::sync::watch::channel(false);
    let sse = {
        let (seen, mut stop, c) = (sse_seen.clone(), sse_stopped, client.clone());
        tokio::spawn(async move {
            while !*stop.borrow() {
                let last = seen.lock().unwrap().last().map(|(id, _)| id.clone());
                let base = &c.bases[c.next.fetch_add(1, Ordering::Relaxed) % c.bases.len()];
                let mut rb = c.http.get(format!("{base}/v1/events/stream")).bearer_auth(KEY);
                if let Some(l) = last {
                    rb = rb.header("last-event-id", l);
                }
                // A killed instance (or one not serving yet): a short pause against spinning, then the next one.
                let Some(res) = rb.send().await.ok().filter(|r| r.status() == 200) else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let mut stream = res.bytes_stream();
                let mut buf = String::new();
                loop {
                    let next = tokio::select! {
                        n = stream.next() => n,
                        _ = stop.changed() => break,
                    };
                    let Some(Ok(chunk)) = next else { break };
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buf.find("\n\n") {
                        let frame: String = buf.drain(..end + 2).collect();
                        let id = frame.lines().find_map(|l| l.strip_prefix("id:")).map(|v| v.trim().to_owned());
                        let data = frame
                            .lines()
                            .find_map(|l| l.strip_prefix("data:"))
                            .and_then(|v| serde_json::from_str::<serde_json::Value>(v.trim()).ok());
                        if let (Some(id), Some(seq)) = (id, data.and_then(|d| d["seq"].as_i64())) {
                            seen.lock().unwrap().push((id, seq));
                        }
                    }
                }
            }
        })
    };

    // The clients: card payments, orders and chain payments, each write retried with its key until answered.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Acked>> = Default::default();
    let tasks: Vec<_> = (0..clients)
        .map(|t| {
            let (c, stop, acked, payer) = (client.clone(), stop.clone(), acked.clone(), payers[t].clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    // Once the run is over, a flow in progress still gets its answers (bounded).
                    let grace = tokio::time::Instant::now() + Duration::from_secs(120);
                    match n % 3 {
                        0 => {
                            let body =
                                json!({"orderId": format!("card-{t}-{n}"), "amount": (1000 + n).to_string(), "currency": "KRW", "rail": "CARD"});
                            let Some(a) = c.write("/v1/payments", &body, &format!("create-{t}-{n}"), grace).await else {
                                acked.lock().unwrap().unanswered += 1;
                                continue;
                            };
                            assert_eq!(a.status, 201, "{:?}", a.body);
                            let id = a.body["paymentId"].as_str().unwrap().to_owned();
                            acked.lock().unwrap().card.push(id.clone());
                            let card = json!({"cardType": "KB", "cardNo": CARD});
                            match c.write(&format!("/v1/payments/{id}/card"), &card, &format!("charge-{t}-{n}"), grace).await {
                                // A first send that reached an instance killed after the payment turned PROCESSING is
                                // answered with the payment, as it stands, by the retry (its key is bound to it).
                                Some(a) => assert!([202, 402].contains(&a.status), "{:?}", a.body),
                                None => acked.lock().unwrap().unanswered += 1,
                            }
                        }
                        1 => {
                            let body = json!({"userId": "chaos-user", "items": [{"itemId": "chaos-item", "quantity": 1}], "usePoints": 100,
                                "card": {"cardType": "KB", "cardNo": CARD}});
                            let key = format!("order-{t}-{n}");
                            match c.write("/v1/orders", &body, &key, grace).await {
                                Some(a) if [201, 402].contains(&a.status) => {
                                    let placed = if a.status == 402 { &a.body["error"]["order"] } else { &a.body };
                                    let order = placed["order"]["orderId"].as_str().unwrap().to_owned();
                                    let mut acked = acked.lock().unwrap();
                                    acked.orders.push(order.clone());
                                    acked.order_keys.push((key, Some(order)));
                                }
                                Some(a) => panic!("order: {} {:?}", a.status, a.body),
                                None => {
                                    let mut acked = acked.lock().unwrap();
                                    acked.unanswered += 1;
                                    acked.order_keys.push((key, None));
                                }
                            }
                        }
                        _ => {
                            let body = TestApp::chain_payment(&format!("chain-{t}-{n}"));
                            let Some(created) = c.write("/v1/payments", &body, &format!("chain-{t}-{n}"), grace).await else {
                                acked.lock().unwrap().unanswered += 1;
                                continue;
                            };
                            assert_eq!(created.status, 201, "{:?}", created.body);
                            let id = created.body["paymentId"].as_str().unwrap().to_owned();
                            acked.lock().unwrap().chain.push(id.clone());
                            let secret = created.body["clientSecret"].as_str().unwrap().to_owned();
                            // Signed and sent until the gasless route takes it, then followed until paid (a payer pays
                            // one payment at a time: its permit and forwarder nonces are per payer). A payment back to
                            // PENDING (its relay reverted, nothing paid) is signed again; one never paid is cancelled,
                            // so that it is final too.
                            let mut paid = false;
                            while tokio::time::Instant::now() < grace {
                                let status = c.call(Method::GET, &format!("/payments/{id}/status"), KEY, None, None).await;
                                match status.as_ref().and_then(|a| a.body["status"].as_str()) {
                                    Some("COMPLETED") => {
                                        paid = true;
                                        break;
                                    }
                                    Some("PENDING") => {
                                        if let Some(signed) = sign_checkout(&c, &created.body, &payer).await {
                                            c.call(Method::POST, &format!("/v1/payments/{id}/gasless"), &secret, Some(&signed), None).await;
                                        }
                                    }
                                    _ => {}
                                }
                                // The client's pace between looks (the status answer is the signal; a spawned task
                                // cannot use `within`, see `Client::write`).
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                            if !paid {
                                c.write(&format!("/v1/payments/{id}/cancel"), &json!({}), &format!("cancel-{t}-{n}"), grace).await;
                            }
                        }
                    }
                }
            })
        })
        .collect();

    // The chaos: every few seconds one instance is SIGKILLed, and started again a second later.
    let started = tokio::time::Instant::now();
    let mut kills = 0;
    let mut victim = 0usize;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(2500 + (kills % 3) * 700)).await;
        victim = (victim + 1 + (kills as usize % 2)) % 3;
        cluster.kill(victim);
        kills += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| cluster.start(victim));
    }
    stop.store(true, Ordering::Relaxed);
    eprintln!("chaos: {kills} kills in {secs} s; waiting for the clients' last answers");
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!("chaos: clients done after {:?}", started.elapsed());
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(!acked.card.is_empty() && !acked.orders.is_empty() && !acked.chain.is_empty(), "every kind of payment was made");

    // Everything final: payments, sagas; the outbox drained.
    let store = settle_store::connect(&db.url, 2).await.unwrap();
    let all: Vec<String> = acked.card.iter().chain(&acked.chain).cloned().collect();
    let read = async || {
        let mut s = BTreeMap::new();
        for id in &all {
            let row = settle_store::payments::find_any(&store, id).await.unwrap();
            s.insert(id.clone(), row.map(|r| r.status.as_str().to_owned()).unwrap_or_else(|| "MISSING".into()));
        }
        s
    };
    let all_final = within(Duration::from_secs(120), async || {
        let s = read().await;
        if s.values().all(|v| ["COMPLETED", "FAILED", "CANCELLED", "EXPIRED"].contains(&v.as_str())) {
            return Some(s);
        }
        mine(&rpc, 1).await;
        None
    })
    .await;
    let statuses = match all_final {
        Some(s) => s,
        None => read().await,
    };
    let not_final: Vec<_> = statuses.iter().filter(|(_, v)| !["COMPLETED", "FAILED", "CANCELLED", "EXPIRED"].contains(&v.as_str())).collect();
    if !not_final.is_empty() {
        let mut why = Vec::new();
        for (id, status) in &not_final {
            let row = settle_store::payments::find_any(&store, id).await.unwrap().unwrap();
            let events = client.call(Method::GET, &format!("/v1/payments/{id}/events"), KEY, None, None).await.map(|a| a.body);
            let txs: Value = client.http.get(format!("{}/admin/transactions", sim.url())).send().await.unwrap().json().await.unwrap();
            let mine: Vec<&Value> = txs.as_array().unwrap().iter().filter(|t| t["orderId"] == id.as_str()).collect();
            why.push(format!("{id} {status} {:?} order {} events {events:?} gateway {mine:?}", row.rail, row.order_id));
        }
        panic!("payments not final:\n{}", why.join("\n"));
    }
    eprintln!("chaos: payments final after {:?}", started.elapsed());
    let mut sagas = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for o in &acked.orders {
        // The saga's status as last seen (final, or where it stood when the deadline passed).
        let mut last = String::new();
        within(deadline.saturating_duration_since(tokio::time::Instant::now()), async || {
            let a = client.call(Method::GET, &format!("/v1/orders/{o}"), KEY, None, None).await.unwrap();
            assert_eq!(a.status, 200, "order {o} acknowledged but not found: {:?}", a.body);
            last = a.body["saga"]["status"].as_str().unwrap_or_default().to_owned();
            ["COMPLETED", "COMPENSATED"].contains(&last.as_str()).then_some(())
        })
        .await;
        sagas.insert(o.clone(), last);
    }
    assert!(sagas.values().all(|s| s == "COMPLETED" || s == "COMPENSATED"), "sagas not final: {sagas:?}");
    eprintln!("chaos: sagas final after {:?}", started.elapsed());
    eventually(Duration::from_secs(30), "the outbox drains", async || (settle_store::outbox::backlog(&store).await.unwrap().0 == 0).then_some(()))
        .await;
    let max_seq = settle_store::outbox::max_seq(&store).await.unwrap();
    let published = settle_store::outbox::read_all_after(&store, 0, 1_000_000).await.unwrap();
    let seqs: Vec<i64> = published.iter().filter_map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=max_seq).collect::<Vec<_>>(), "the outbox seq has a gap");
    // Every event's id, in seq order: what SSE, webhooks and NATS carry.
    let event_ids: Vec<String> = published.iter().filter_map(settle_store::outbox::event_id_of).collect();

    // The gateway: no payment charged twice; COMPLETED exactly when charged once.
    let txs: Vec<settle_card::wire::Transaction> =
        client.http.get(format!("{}/admin/transactions", sim.url())).send().await.unwrap().json().await.unwrap();
    let mut card_payments: Vec<String> = acked.card.clone();
    for o in &acked.orders {
        let a = client.call(Method::GET, &format!("/v1/orders/{o}"), KEY, None, None).await.unwrap();
        if let Some(p) = a.body["payment"]["paymentId"].as_str() {
            card_payments.push(p.to_owned());
        }
    }
    let mut charged_twice = Vec::new();
    for id in &card_payments {
        let ok = txs.iter().filter(|t| &t.order_id == id && t.status == settle_card::wire::GatewayStatus::Success).count();
        if ok > 1 {
            charged_twice.push(id.clone());
        }
        let status = settle_store::payments::find_any(&store, id).await.unwrap().map(|r| r.status.as_str().to_owned()).unwrap_or_default();
        assert_eq!(status == "COMPLETED", ok == 1, "{id}: {status} with {ok} successful charges");
    }
    assert!(charged_twice.is_empty(), "charged twice: {charged_twice:?}");

    // No Idempotency-Key produced two orders: every order the chaos user has is the one order its key is bound to,
    // and an answered key answered that order.
    let mut placed = BTreeSet::new();
    let mut after = String::new();
    loop {
        let a = client.call(Method::GET, &format!("/v1/sagas?userId=chaos-user&limit=100{after}"), KEY, None, None).await.unwrap();
        let data = a.body["data"].as_array().unwrap();
        placed.extend(data.iter().map(|s| s["orderId"].as_str().unwrap().to_owned()));
        match data.last() {
            Some(last) if a.body["hasMore"] == true => after = format!("&startingAfter={}", last["transactionId"].as_str().unwrap()),
            _ => break,
        }
    }
    let mut bound = BTreeSet::new();
    for (key, answered) in &acked.order_keys {
        let rec = settle_store::idempotency::find(&store, DEMO_TENANT, key).await.unwrap();
        let order = rec.and_then(|r| r.resource).and_then(|r| r.strip_prefix("order:").map(str::to_owned));
        if let Some(answered) = answered {
            assert_eq!(order.as_ref(), Some(answered), "key {key} answered an order other than the one it made");
        }
        if let Some(o) = order {
            assert!(bound.insert(o.clone()), "two keys made order {o}");
        }
    }
    // An order no key is bound to is one whose key was given back: refused by its saga, or compensated because its
    // charge could not be sent. It must have been given back whole, with nothing charged; every other order is the
    // one order of one key.
    assert!(bound.is_subset(&placed), "a key is bound to an order that does not exist: {:?}", bound.difference(&placed).collect::<Vec<_>>());
    for o in placed.difference(&bound) {
        let a = client.call(Method::GET, &format!("/v1/orders/{o}"), KEY, None, None).await.unwrap();
        let pid = a.body["payment"]["paymentId"].as_str().unwrap_or("none").to_owned();
        let charged = txs.iter().filter(|t| t.order_id == pid && t.status == settle_card::wire::GatewayStatus::Success).count();
        let saga = a.body["saga"]["status"].as_str().unwrap_or_default();
        assert!(
            a.body["order"]["status"] == "CANCELLED" && (saga == "COMPENSATED" || saga == "FAILED") && charged == 0,
            "order {o} is no key's and was not given back whole ({charged} charges): {}",
            a.body
        );
    }

    // The relayer: contiguous nonces, every one mined.
    let relayer = key(0).address();
    let rtx = settle_store::relay::all_txs(&store, 31337, &relayer.to_checksum(None)).await.unwrap();
    let nonces: BTreeSet<i64> = rtx.iter().map(|t| t.nonce).collect();
    let first = *nonces.first().unwrap_or(&0);
    assert_eq!(nonces.iter().copied().collect::<Vec<_>>(), (first..first + nonces.len() as i64).collect::<Vec<_>>(), "relayer nonces have a gap");
    eventually(Duration::from_secs(30), "the relayer's transactions are mined", async || {
        if (rpc.nonce(relayer, "latest").await.unwrap() as i64) >= first + nonces.len() as i64 {
            return Some(());
        }
        mine(&rpc, 1).await;
        None
    })
    .await;

    // The relayer's spending: at most the allowed replacements at any nonce, no relay mined twice, and the gas its
    // mined transactions burned per confirmed relay within a small multiple of one relay's own.
    let mut per_nonce: BTreeMap<i64, usize> = BTreeMap::new();
    let mut mined_per_request: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &rtx {
        *per_nonce.entry(t.nonce).or_default() += 1;
        if t.status == "MINED"
            && let Some(r) = &t.relay_request_id
        {
            *mined_per_request.entry(r).or_default() += 1;
        }
    }
    let allowed = 1 + settle_app::chain::settings::DEFAULT_MAX_REPLACEMENTS as usize;
    assert!(per_nonce.values().all(|n| *n <= allowed), "more than {allowed} transactions at a nonce: {per_nonce:?}");
    assert!(mined_per_request.values().all(|n| *n == 1), "a relay mined twice: {mined_per_request:?}");
    let (mut burned, mut relay_gas) = (0u128, Vec::new());
    for t in rtx.iter().filter(|t| t.status == "MINED") {
        let r: Value = rpc.call("eth_getTransactionReceipt", json!([t.tx_hash])).await.unwrap();
        let hex = |k: &str| u128::from_str_radix(r[k].as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap();
        burned += hex("gasUsed") * hex("effectiveGasPrice");
        if r["status"] == "0x1" && t.relay_request_id.is_some() {
            relay_gas.push(hex("gasUsed") * hex("effectiveGasPrice"));
        }
    }
    relay_gas.sort();
    let confirmed = settle_store::relay::requests(&store, 31337, settle_store::relay::CONFIRMED, 10_000).await.unwrap().len() as u128;
    if let Some(median) = relay_gas.get(relay_gas.len() / 2) {
        assert!(
            burned <= confirmed.max(1) * median * 2,
            "the relayer burned {burned} wei for {confirmed} confirmed relays (one costs about {median})"
        );
    }
    eprintln!("chaos: gateway and relayer checked after {:?}", started.elapsed());
    // Every event: SSE exactly once, webhooks at least once, NATS exactly once.
    // Falls through to the asserts below, which show what the SSE client saw.
    within(Duration::from_secs(60), async || (sse_seen.lock().unwrap().last().map_or(0, |(_, seq)| *seq) >= max_seq).then_some(())).await;
    let _ = sse_stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), sse).await;
    let sse_ids = sse_seen.lock().unwrap().clone();
    assert_eq!(sse_ids.iter().map(|(_, seq)| *seq).collect::<Vec<_>>(), (1..=max_seq).collect::<Vec<_>>(), "SSE: every event exactly once, in order");
    assert_eq!(sse_ids.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), event_ids, "SSE: each event under its id");
    let hooks = receiver.wait_succeeded(max_seq as usize, Duration::from_secs(90)).await;
    let missing: Vec<&String> = event_ids.iter().filter(|id| !hooks.contains_key(*id)).collect();
    assert!(missing.is_empty(), "webhooks never delivered: {missing:?}");
    let redelivered = hooks.values().filter(|n| **n > 1).count();
    let nats_ids = nats_stream_ids(&nats.url(), max_seq as usize).await;
    let unique: BTreeSet<&String> = nats_ids.iter().collect();
    assert_eq!(unique.len(), nats_ids.len(), "NATS: an event twice in the stream");
    assert_eq!(nats_ids, event_ids, "NATS: every event once, in order");

    // No lease held by two instances at once.
    let leases = lease_intervals(&cluster.dirs);
    let mut overlaps = Vec::new();
    for (name, spans) in &leases {
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                if a.0 != b.0 && a.1 <= b.2 && b.1 <= a.2 {
                    overlaps.push(format!("{name}: {} [{}, {}] and {} [{}, {}]", a.0, a.1, a.2, b.0, b.1, b.2));
                }
            }
        }
    }
    assert!(overlaps.is_empty(), "a lease held twice: {overlaps:?}");
    let takeovers: usize = leases.values().map(|s| s.len().saturating_sub(1)).sum();
    assert!(leases.contains_key("outbox-relay") && takeovers > 0, "the lease log shows the leases changing hands: {leases:?}");

    println!(
        "\nscale-out chaos run: {secs} s, {clients} clients, {kills} SIGKILLs\n\
         | what | count |\n|---|---|\n\
         | card payments acknowledged (all final) | {} |\n| chain payments acknowledged (all final) | {} |\n\
         | orders acknowledged (sagas final) | {} |\n| writes unanswered at the bound | {} |\n\
         | gateway transactions / charged twice | {} / 0 |\n| relayer nonces (contiguous, mined) / most at one nonce | {} / {} |\n\
         | events (seq gap-free) | {max_seq} |\n| SSE events seen (exactly once) | {} |\n\
         | webhook events delivered / redelivered | {} / {redelivered} |\n| NATS messages (exactly once) | {} |\n\
         | lease holds / takeovers (never two holders) | {} / {takeovers} |",
        acked.card.len(),
        acked.chain.len(),
        acked.orders.len(),
        acked.unanswered,
        txs.len(),
        nonces.len(),
        per_nonce.values().max().copied().unwrap_or(0),
        sse_ids.len(),
        hooks.len(),
        nats_ids.len(),
        leases.values().map(Vec::len).sum::<usize>(),
    );
    for i in 0..3 {
        cluster.kill(i);
    }
    db.drop_now().await;
}

/// Every message of the SETTLE stream, in order, by Nats-Msg-Id.
pub(crate) async fn nats_stream_ids(url: &str, want: usize) -> Vec<String> {
    use async_nats::jetstream::{self, consumer::pull};
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let stream = js.get_stream("SETTLE").await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut ids = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ids.len() < want && tokio::time::Instant::now() < deadline {
        let Ok(mut batch) = consumer.fetch().max_messages(500).expires(Duration::from_millis(500)).messages().await else { continue };
        while let Some(Ok(m)) = batch.next().await {
            ids.push(m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap_or_default());
        }
    }
    // Anything past the events (a message sent twice) shows in one more fetch.
    if let Ok(mut batch) = consumer.fetch().max_messages(100).expires(Duration::from_millis(500)).messages().await {
        while let Some(Ok(m)) = batch.next().await {
            ids.push(m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap_or_default());
        }
    }
    ids
}

/// Each lease's holds from the lease log: (instance, from, until) spans, a holder's consecutive renewals merged, a
/// release ending its span.
fn lease_intervals(dirs: &[TempDir]) -> BTreeMap<String, Vec<(String, i64, i64)>> {
    let mut out: BTreeMap<String, Vec<(String, i64, i64)>> = BTreeMap::new();
    for d in dirs {
        let log = std::fs::read_to_string(d.0.join("settle.log")).unwrap_or_default();
        for line in log.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            if v["target"] != "settle::lease" {
                continue;
            }
            let f = &v["fields"];
            let (Some(name), Some(instance)) = (f["lease"].as_str(), f["instance"].as_str()) else { continue };
            let spans = out.entry(name.to_owned()).or_default();
            let last = spans.iter_mut().rev().find(|s| s.0 == instance);
            match (f["message"].as_str(), last) {
                (Some("lease held"), Some(s)) if f["from"].as_i64().unwrap() <= s.2 => s.2 = s.2.max(f["until"].as_i64().unwrap()),
                (Some("lease held"), _) => spans.push((instance.to_owned(), f["from"].as_i64().unwrap(), f["until"].as_i64().unwrap())),
                (Some("lease released"), Some(s)) => s.2 = s.2.min(f["at"].as_i64().unwrap()),
                _ => {}
            }
        }
    }
    for spans in out.values_mut() {
        spans.sort_by_key(|s| s.1);
    }
    out
}
