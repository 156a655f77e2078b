//! NATS JetStream as the event bus: a durable pull consumer with explicit acks receives every event exactly once
//! and in seq order, across a Settle restart and a NATS restart. The test runs a nats-server of its own (another
//! port, its own store directory) and kills it by its PID; the shared server is left alone.

use std::{collections::BTreeSet, time::Duration};

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;

use crate::helpers::*;

/// A nats-server of this test's own, with JetStream storing in `dir`.
pub(crate) struct OwnNats {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl OwnNats {
    pub(crate) fn binary() -> Option<String> {
        ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .iter()
            .find(|p| std::path::Path::new(p).exists())
            .map(|p| (*p).to_owned())
    }

    pub(crate) fn start(port: u16, dir: &std::path::Path) -> Option<Self> {
        let bin = Self::binary()?;
        let mut child = std::process::Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        // Its log (on stderr) says when it takes clients; then it is drained, so the server never blocks on a full pipe.
        let log = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut ready = Some(ready_tx);
            for line in log.lines().map_while(Result::ok) {
                if line.contains("Server is ready")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        let me = Self { child, port, dir: dir.to_owned() };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => Some(me),
            Err(_) => panic!("nats-server did not start on {port}"),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The same server again on the same port and store.
    fn start_again(&mut self) {
        let again = Self::start(self.port, &self.dir).expect("nats-server again");
        *self = again;
    }

    /// SIGTERM, as an operator's restart stops it, and waits for it to exit.
    fn stop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Pulls until `want` messages arrived (or `limit` passes), acking each; returns their Nats-Msg-Ids in order.
async fn pull_ids(consumer: &jetstream::consumer::Consumer<pull::Config>, want: usize, limit: Duration) -> Vec<String> {
    let mut ids = Vec::new();
    // A fetch that fails (NATS away) is tried again.
    within(limit, async || {
        if let Ok(mut batch) = consumer.fetch().max_messages(100).expires(Duration::from_millis(500)).messages().await {
            while let Some(m) = batch.next().await {
                let Ok(m) = m else { break };
                let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap_or_default();
                assert!(m.subject.starts_with("settle.mch_") && m.subject.contains(".payment."), "{}", m.subject);
                let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                assert_eq!(body["livemode"], true, "NATS carries live events only: {body}");
                assert_eq!(body["id"], id.as_str(), "the body's id is the message id");
                m.double_ack().await.expect("ack, confirmed by the server");
                ids.push(id);
            }
        }
        (ids.len() >= want).then_some(())
    })
    .await;
    ids
}

/// Creates `n` live payments (NATS carries live events only), counting them in `made`; and a test payment each
/// time, which NATS never carries.
async fn create(app: &TestApp, made: &mut usize, n: usize) {
    let live = live_key(app).await;
    for _ in 0..n {
        let r = app
            .request(reqwest::Method::POST, "/v1/payments", Some(&live), Some(&TestApp::chain_payment(&format!("bus-{made}")).to_string()), &[])
            .await;
        assert_eq!((r.status.as_u16(), r.body["livemode"].as_bool()), (201, Some(true)), "{}", r.text);
        *made += 1;
    }
    app.create_card_payment(&format!("bus-test-{made}"), 100).await;
}

/// A live key of the bus's merchant, made once per database.
async fn live_key(app: &TestApp) -> String {
    static KEY: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    if let Some((_, k)) = KEY.lock().unwrap().iter().find(|(db, _)| *db == app.db.url) {
        return k.clone();
    }
    let key = app.new_merchant("bus").await.0;
    KEY.lock().unwrap().push((app.db.url.clone(), key.clone()));
    key
}

/// A setup whose chain is live (the bus's payments are live ones).
fn live_chain(mut setup: Setup) -> Setup {
    setup.chains[0].test_network = false;
    setup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_durable_consumer_gets_every_event_once_in_order_across_restarts() {
    let Some(_) = OwnNats::binary() else {
        unavailable("nats-server", "is not installed");
        return;
    };
    let store = TempDir::new();
    let mut server = OwnNats::start(free_port(), &store.0).unwrap();
    let mut setup = live_chain(Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis }));
    setup.settings.nats = Some(settle_app::nats::NatsSettings { url: server.url(), stream: "SETTLE".into(), test_events: false });
    let Some(mut app) = TestApp::spawn_with(setup).await else { return };
    let mut made = 0;
    create(&app, &mut made, 10).await;

    let client = async_nats::ConnectOptions::new().retry_on_initial_connect().connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let stream = match within(Duration::from_secs(10), async || js.get_stream("SETTLE").await.ok()).await {
        Some(s) => s,
        None => panic!("the stream was not created: {}", js.get_stream("SETTLE").await.err().map(|e| e.to_string()).unwrap_or_default()),
    };
    let consumer = stream
        .get_or_create_consumer(
            "orders-service",
            pull::Config { durable_name: Some("orders-service".into()), ack_policy: jetstream::consumer::AckPolicy::Explicit, ..Default::default() },
        )
        .await
        .unwrap();
    let mut ids = pull_ids(&consumer, 10, Duration::from_secs(15)).await;
    assert_eq!(ids.len(), 10, "{ids:?}");

    // Settle restarts: it goes on after the last event in the stream, sending none twice.
    app.shutdown().await;
    app = TestApp::start(app.setup.clone(), app.db.clone()).await;
    create(&app, &mut made, 10).await;
    ids.extend(pull_ids(&consumer, 10, Duration::from_secs(15)).await);
    assert_eq!(ids.len(), 20, "{ids:?}");

    // NATS restarts while payments are made: the backlog follows, in order.
    server.stop();
    create(&app, &mut made, 10).await;
    // The publisher meets the stopped server: a step of its own on this instance fails, and records nothing.
    let publisher = settle_app::nats::Publisher::new(app.ctx.clone(), app.setup.settings.nats.clone().expect("nats settings"));
    assert!(publisher.run_once().await.is_err(), "NATS is stopped");
    server.start_again();
    create(&app, &mut made, 5).await;
    ids.extend(pull_ids(&consumer, 15, Duration::from_secs(30)).await);
    // Nothing more arrives.
    ids.extend(pull_ids(&consumer, 1, Duration::from_secs(2)).await);

    let live = live_key(&app).await;
    let page = app.request(reqwest::Method::GET, "/v1/events?type=payment.*&limit=100", Some(&live), None, &[]).await.body;
    let events: Vec<String> = page["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(events.len(), made);
    assert_eq!(ids, events, "the consumer got exactly the events, in order");
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), made);

    // NATS killed outright (SIGKILL) mid-load: whatever a consumer then sees again is the server's redelivery of
    // acks it lost; the stream itself holds every event once, in seq order.
    let js = jetstream::new(async_nats::ConnectOptions::new().retry_on_initial_connect().connect(server.url()).await.unwrap());
    create(&app, &mut made, 5).await;
    server.kill();
    create(&app, &mut made, 5).await;
    server.start_again();
    create(&app, &mut made, 5).await;
    let mut stream = js.get_stream("SETTLE").await.unwrap();
    within(Duration::from_secs(30), async || (stream.info().await.map(|i| i.state.messages).unwrap_or(0) >= made as u64).then_some(())).await;
    let n = stream.info().await.unwrap().state.messages;
    assert_eq!(n, made as u64, "the stream holds each event once");
    let mut in_stream = Vec::new();
    for s in 1..=n {
        let m = stream.get_raw_message(s).await.unwrap();
        in_stream.push(m.headers.get("Nats-Msg-Id").unwrap().as_str().to_owned());
    }
    let live = live_key(&app).await;
    let page = app.request(reqwest::Method::GET, "/v1/events?type=payment.*&limit=100", Some(&live), None, &[]).await.body;
    let events: Vec<String> = page["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(in_stream, events, "the stream holds exactly the events, in order");
    app.finish().await;
}

/// A stream an operator purged (or whose messages all passed their age) still counts a last sequence but holds no
/// message: the publisher goes on from its stored place instead of failing on every pass (it did, and nothing more
/// reached NATS).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purged_stream_does_not_stop_the_publisher() {
    let Some(_) = OwnNats::binary() else {
        unavailable("nats-server", "is not installed");
        return;
    };
    let store = TempDir::new();
    let server = OwnNats::start(free_port(), &store.0).unwrap();
    let mut setup = live_chain(Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory }));
    setup.settings.nats = Some(settle_app::nats::NatsSettings { url: server.url(), stream: "SETTLE".into(), test_events: false });
    let Some(mut app) = TestApp::spawn_with(setup).await else { return };
    let mut made = 0;
    create(&app, &mut made, 3).await;
    let js = jetstream::new(async_nats::ConnectOptions::new().retry_on_initial_connect().connect(server.url()).await.unwrap());
    let count = |js: jetstream::Context| async move {
        match js.get_stream("SETTLE").await {
            Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        }
    };
    eventually(Duration::from_secs(30), "the first events reach NATS", async || (count(js.clone()).await >= 3).then_some(())).await;
    js.get_stream("SETTLE").await.unwrap().purge().await.unwrap();
    // Settle restarts: it reads where the (empty) stream stands.
    app.shutdown().await;
    app = TestApp::start(app.setup.clone(), app.db.clone()).await;
    create(&app, &mut made, 2).await;
    eventually(Duration::from_secs(30), "events reach NATS after the purge", async || (count(js.clone()).await >= 2).then_some(())).await;
    let mut stream = js.get_stream("SETTLE").await.unwrap();
    let (first, last) = {
        let info = stream.info().await.unwrap();
        (info.state.first_sequence, info.state.last_sequence)
    };
    let mut ids = Vec::new();
    for s in first..=last {
        ids.push(stream.get_raw_message(s).await.unwrap().headers.get("Nats-Msg-Id").unwrap().as_str().to_owned());
    }
    let live = live_key(&app).await;
    let page = app.request(reqwest::Method::GET, "/v1/events?type=payment.*&limit=100", Some(&live), None, &[]).await.body;
    let events: Vec<String> = page["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, events[3..].to_vec(), "the events made after the purge, once each");
    app.finish().await;
}
