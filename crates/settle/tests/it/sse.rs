use std::{sync::Arc, time::Duration};

use futures::StreamExt;

use crate::{helpers::*, matrix};

matrix!(sse_resumes_exactly_after_last_event_id);

#[derive(Debug, Clone)]
pub(crate) struct Sse {
    /// The SSE id: the event's id.
    pub id: String,
    /// The event's seq, from its data.
    pub seq: i64,
    pub event: String,
    pub data: serde_json::Value,
}

/// Opens /events and returns a receiver of parsed events.
pub(crate) async fn open(app: &TestApp, last: Option<&str>) -> tokio::sync::mpsc::Receiver<Sse> {
    open_path(app, "/v1/events/stream", &app.key, last).await
}

/// Opens an event stream at `path` with `key` and returns a receiver of parsed events (an event without an SSE id
/// has the id ""); the receiver ends when the stream does.
pub(crate) async fn open_path(app: &TestApp, path: &str, key: &str, last: Option<&str>) -> tokio::sync::mpsc::Receiver<Sse> {
    let mut rb = app.client.get(format!("{}{path}", app.base)).bearer_auth(key);
    if let Some(l) = last {
        rb = rb.header("last-event-id", l);
    }
    let res = rb.send().await.expect("sse");
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (tx, rx) = tokio::sync::mpsc::channel(1000);
    tokio::spawn(async move {
        let mut stream = res.bytes_stream();
        let mut buf = String::new();
        // Reads until the stream ends or the receiver is dropped (which closes the connection).
        while let Some(Ok(chunk)) = tokio::select! { c = stream.next() => c, _ = tx.closed() => None } {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
                let seq = data["seq"].as_i64().unwrap_or(-1);
                // A frame of comments alone (a heartbeat) is no event.
                if (id.is_some() || !event.is_empty()) && tx.send(Sse { id: id.unwrap_or_default(), seq, event, data }).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

pub(crate) async fn next(rx: &mut tokio::sync::mpsc::Receiver<Sse>) -> Sse {
    tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.expect("an event in time").expect("stream open")
}

async fn sse_resumes_exactly_after_last_event_id(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let other = app.other_merchant("Other").await;

    // Writers commit concurrently all along: the demo merchant and another one.
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let app = app.clone();
            let other = other.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    let key = if w == 2 { other.as_str() } else { app.key.as_str() };
                    let body = TestApp::chain_payment(&format!("sse-{w}-{i}")).to_string();
                    let r = app.request(reqwest::Method::POST, "/v1/payments", Some(key), Some(&body), &[]).await;
                    assert_eq!(r.status, 201);
                    if i % 3 == 0 && w != 2 {
                        let id = r.body["paymentId"].as_str().unwrap();
                        app.request(reqwest::Method::POST, &format!("/v1/payments/{id}/cancel"), Some(key), None, &[]).await;
                    }
                    // Pacing, not a wait: the writes go on while the first stream reads.
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            })
        })
        .collect();

    // Read k events from the beginning, then disconnect.
    let mut first = open(&app, Some("0")).await;
    let k = 7;
    let mut seen = Vec::new();
    for _ in 0..k {
        seen.push(next(&mut first).await);
    }
    drop(first);
    let last = seen.last().unwrap().id.clone();

    for w in writers {
        w.await.unwrap();
    }
    app.drain_outbox().await;

    // Every event of this merchant, by seq, from the database.
    let all = settle_store::outbox::read_after(&app.ctx.db, DEMO_TENANT, 0, 10_000).await.unwrap();
    let expected: Vec<i64> = all.iter().map(|r| r.seq.unwrap()).collect();
    assert_eq!(expected.len(), 20 + 8, "20 created and 8 cancelled events");
    assert_eq!(seen.iter().map(|e| e.seq).collect::<Vec<_>>(), expected[..k].to_vec(), "the first k events in seq order");

    // Reconnect after event k, by its id (as a browser's EventSource does): exactly the rest, no gap, no repeat.
    let mut second = open(&app, Some(&last)).await;
    let mut rest = Vec::new();
    while rest.len() < expected.len() - k {
        rest.push(next(&mut second).await);
    }
    assert_eq!(rest.iter().map(|e| e.seq).collect::<Vec<_>>(), expected[k..].to_vec());
    // Each SSE id is the event's id, the one its webhooks carry; its data is the event as the events API lists it.
    let ids: Vec<String> = all.iter().map(|r| settle_store::outbox::event_id_of(r).unwrap()).collect();
    assert_eq!(seen.iter().chain(&rest).map(|e| e.id.clone()).collect::<Vec<_>>(), ids);
    for e in seen.iter().chain(&rest) {
        assert_eq!(e.data["id"], e.id.as_str());
        assert!(matches!(settle_store::outbox::event_id_form(&e.id), Some(settle_store::outbox::EventIdForm::Made(_))), "{e:?}");
    }
    // The same resume by seq.
    let mut third = open(&app, Some(&seen.last().unwrap().seq.to_string())).await;
    assert_eq!(next(&mut third).await.seq, expected[k]);
    drop(third);
    assert!(tokio::time::timeout(Duration::from_millis(700), second.recv()).await.is_err(), "nothing more, no repeat");
    for e in seen.iter().chain(&rest) {
        assert!(e.event == "payment.created" || e.event == "payment.cancelling", "{e:?}");
        assert_eq!(e.data["type"], e.event.as_str());
        assert_eq!(e.data["data"]["merchantId"], "mch_demo", "only the caller's events");
    }

    // Seqs are gap-free across merchants.
    let mut every: Vec<i64> = Vec::new();
    for m in [DEMO_TENANT] {
        every.extend(settle_store::outbox::read_after(&app.ctx.db, m, 0, 10_000).await.unwrap().iter().map(|r| r.seq.unwrap()));
    }
    let max = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    assert_eq!(max, 20 + 8 + 10, "one seq per event, gap-free: 28 for the demo merchant, 10 for the other");
    Arc::into_inner(app).unwrap().finish().await;
}

mod two_instances {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::two_instances_publish_one_gap_free_sequence(Variant { db: Db::Sqlite, cache: Cache::Memory }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::two_instances_publish_one_gap_free_sequence(Variant { db: Db::Postgres, cache: Cache::Redis }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql() {
        super::two_instances_publish_one_gap_free_sequence(Variant { db: Db::Mysql, cache: Cache::Redis }).await
    }
}

/// Two Settle instances on one database, both running the outbox relay: the lease lets one publish at a time,
/// every event gets exactly one seq, the sequence has no gap, and a stream on either instance sees it all.
async fn two_instances_publish_one_gap_free_sequence(v: Variant) {
    let Some(a) = TestApp::spawn(v).await else { return };
    let b = TestApp::start(a.setup.clone(), a.db.clone()).await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut stream_b = open(&b, Some("0")).await;
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .flat_map(|(n, app)| (0..2).map(move |w| (n, w, app.clone())))
        .map(|(n, w, app)| {
            tokio::spawn(async move {
                for i in 0..15 {
                    app.create_payment(&format!("multi-{n}-{w}-{i}")).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    a.drain_outbox().await;
    let rows = settle_store::outbox::read_after(&a.ctx.db, DEMO_TENANT, 0, 10_000).await.unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq.unwrap()).collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<i64>>(), "60 events, seqs 1..=60, no gap, no repeat");
    let holder = settle_store::leases::holder(&a.ctx.db, settle_app::outbox::LEASE, settle_store::now_ms()).await.unwrap();
    assert!(holder.as_deref() == Some(a.ctx.instance_id.as_str()) || holder.as_deref() == Some(b.ctx.instance_id.as_str()));
    let mut got = Vec::new();
    while got.len() < 60 {
        got.push(next(&mut stream_b).await.seq);
    }
    assert_eq!(got, seqs, "instance B streams every event, in order, whoever published it");
    drop(stream_b);
    let b = Arc::into_inner(b).unwrap();
    let mut b = b;
    b.shutdown().await;
    Arc::into_inner(a).unwrap().finish().await;
}

/// The metric `name` as /metrics reports it (0 when absent).
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.request(reqwest::Method::GET, "/metrics", None, None, &[]).await.text;
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

/// The follower's database reads and the streams' catch-up reads so far.
async fn reads(app: &TestApp) -> (f64, f64) {
    (metric(app, "settle_follower_reads_total").await, metric(app, "settle_sse_catchup_reads_total").await)
}

/// Streams are capped per merchant and per instance (429 `too_many_streams`), send heartbeat comments while
/// there is nothing to send, and cost the database nothing while idle: with 40 streams open, no stream reads
/// the database and the follower's reads do not grow with their number; each stream still gets its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn streams_are_capped_send_heartbeats_and_cost_no_queries_while_idle() {
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Memory });
    setup.settings.sse_max_streams = 45;
    setup.settings.sse_max_per_merchant = 40;
    setup.settings.sse_heartbeat = Duration::from_millis(300);
    setup.rate_limit = None;
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let other = app.other_merchant("Other").await;
    let events = format!("{}/v1/events/stream", app.base);

    // A raw stream shows the heartbeat comment.
    let res = app.client.get(&events).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), body.next()).await.expect("a heartbeat in time").unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&first), ": heartbeat\n\n");
    drop(body);

    // Quiet before the first window: every row published and read by the follower (nothing left to wake it).
    app.drain_outbox().await;
    let published = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    eventually(Duration::from_secs(10), "the follower reads every published row", async || (app.ctx.fanout.head() >= Some(published)).then_some(()))
        .await;
    // Two windows of equal length, without streams and with 45, compare the follower's rate of reads: the window is
    // the measure here, not a wait for something to happen.
    let (f0, _) = reads(&app).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (f1, _) = reads(&app).await;

    let mut streams = Vec::new();
    for _ in 0..40 {
        streams.push(open(&app, None).await);
    }
    let r = app.client.get(&events).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(r.status(), 429, "the merchant's 41st stream");
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "too_many_streams", "{e}");
    // Another merchant may still open streams, up to the instance's cap.
    let mut others = Vec::new();
    for _ in 0..5 {
        let r = app.client.get(&events).bearer_auth(&other).send().await.unwrap();
        assert_eq!(r.status(), 200);
        others.push(r);
    }
    let r = app.client.get(&events).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), 429, "the instance's 46th stream");
    // Each of the other merchant's streams is served and idle (past any catch-up read): it sends its heartbeat.
    for r in &mut others {
        let beat = tokio::time::timeout(Duration::from_secs(5), r.chunk()).await.expect("a heartbeat in time").unwrap();
        assert!(beat.as_deref().is_some_and(|b| b.starts_with(b": heartbeat\n")), "{beat:?}");
    }

    let (f2, c2) = reads(&app).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (f3, c3) = reads(&app).await;
    assert_eq!((c2, c3), (0.0, 0.0), "no stream read the database");
    assert!(f3 - f2 <= (f1 - f0) + 3.0, "the follower reads as often with 45 streams as with none: {} vs {}", f3 - f2, f1 - f0);

    // Every stream gets the next event, once (so each has run its loop: still no read of the database).
    let id = app.create_payment("fanout-1").await["paymentId"].as_str().unwrap().to_owned();
    for s in &mut streams {
        let ev = next(s).await;
        assert_eq!((ev.event.as_str(), ev.data["data"]["paymentId"].as_str()), ("payment.created", Some(id.as_str())));
    }
    assert_eq!(reads(&app).await.1, 0.0, "no stream read the database");
    // Closing streams frees their places, once the server sees a closed connection at its next write (a heartbeat).
    drop(streams);
    drop(others);
    let mut again = Vec::new();
    eventually(Duration::from_secs(10), "the closed streams' places are freed", async || {
        while again.len() < 40 {
            let r = app.client.get(&events).bearer_auth(&app.key).send().await.unwrap();
            if r.status() == 429 {
                return None;
            }
            assert_eq!(r.status(), 200);
            again.push(r);
        }
        Some(())
    })
    .await;
    app.finish().await;
}
