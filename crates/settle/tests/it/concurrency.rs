use std::sync::Arc;

use reqwest::Method;
use settle_store::ConnectionTrait;

use crate::{helpers::*, matrix, per_db};

matrix!(fifty_concurrent_cancels_have_one_winner);
per_db!(requests_their_clients_abandon_finish_whole_and_leave_no_transaction_open, a_lease_fence_lets_only_the_holder_write);

/// The fence of a lease holder's writes: true only for the holder whose lease has not lapsed, twice in the same
/// millisecond too (MySQL counts an unchanged row as unaffected); false for another instance and after the lease
/// lapsed or passed on; a takeover waits for the holder's fenced transaction, so what it wrote committed first.
async fn a_lease_fence_lets_only_the_holder_write(v: Variant) {
    use settle_store::leases;
    let Some(app) = TestApp::spawn(v).await else { return };
    let db = &app.ctx.db;
    let now = settle_store::now_ms();
    assert!(leases::try_acquire(db, "fence-test", "a", 60_000, now).await.unwrap());
    let txn = settle_store::begin(db).await.unwrap();
    assert!(leases::fence(&txn, "fence-test", "a", now).await.unwrap());
    assert!(leases::fence(&txn, "fence-test", "a", now).await.unwrap(), "the same millisecond again");
    assert!(!leases::fence(&txn, "fence-test", "b", now).await.unwrap());
    assert!(!leases::fence(&txn, "fence-test", "a", now + 60_001).await.unwrap(), "a lapsed lease fences nothing");
    // Another instance, the lease lapsed (as far as its clock says), tries to take it while the holder's fenced
    // transaction is open: it waits for that transaction.
    let (db2, later) = (db.clone(), now + 60_001);
    let takeover = spawn_polled(async move { leases::try_acquire(&db2, "fence-test", "b", 60_000, later).await.unwrap() }).await;
    // It had its chance: on SQLite its first poll queued it for the write turn the fenced transaction holds; on
    // PostgreSQL and MySQL the database shows it waiting for the lease row's lock.
    let lock_waits = match v.db {
        Db::Sqlite => None,
        Db::Postgres => Some(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE%leases%'",
        ),
        Db::Mysql => Some(
            "SELECT count(*) FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
             WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()",
        ),
    };
    if let Some(sql) = lock_waits {
        eventually(std::time::Duration::from_secs(10), "the takeover waits for the lease row's lock", async || {
            let row = db.query_one_raw(settle_store::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
            (row.try_get_by_index::<i64>(0).unwrap() > 0).then_some(())
        })
        .await;
    }
    assert!(!takeover.is_finished(), "a takeover went through while the holder's fenced write was open");
    txn.commit().await.unwrap();
    assert!(takeover.await.unwrap(), "the lapsed lease is taken once the holder's write committed");
    let txn = settle_store::begin(db).await.unwrap();
    assert!(!leases::fence(&txn, "fence-test", "a", later).await.unwrap(), "the former holder's fence fails");
    assert!(leases::fence(&txn, "fence-test", "b", later).await.unwrap());
    drop(txn);
    app.finish().await;
}

async fn fifty_concurrent_cancels_have_one_winner(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let id = app.create_payment("race-1").await["paymentId"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move { app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&app.key), None, &[]).await }));
    }
    let mut ok = 0;
    let mut conflict = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status.as_u16() {
            200 => ok += 1,
            409 => {
                r.assert_error(409, "invalid_state");
                conflict += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert_eq!((ok, conflict), (1, 49));
    let ev = app.get(&format!("/v1/payments/{id}/events")).await;
    let cancelled = ev.body["data"].as_array().unwrap().iter().filter(|e| e["eventType"] == "CANCEL_REQUESTED").count();
    assert_eq!(cancelled, 1, "exactly one CANCEL_REQUESTED event");
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["version"], 2);
    app.drain_outbox().await;
    let rows = settle_store::outbox::read_after(&app.ctx.db, DEMO_TENANT, 0, 100).await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.topic == "payment.cancelling").count(), 1, "one payment.cancelling in the outbox");
    Arc::into_inner(app).unwrap().finish().await;
}

/// Clients that give up mid-request (a load generator stopping, a phone losing signal) never cut a request off
/// halfway through its database transaction: each create is whole or absent, no pooled connection is left inside
/// a transaction (holding its locks), and the server goes on answering.
async fn requests_their_clients_abandon_finish_whole_and_leave_no_transaction_open(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    for round in 0..8u64 {
        let mut tasks = Vec::new();
        for i in 0..32u64 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                // Gives up after 1 to 16 ms: mid-transaction for many of them.
                let client = reqwest::Client::builder().timeout(std::time::Duration::from_millis(1 + (i * 7 + round) % 16)).build().unwrap();
                let body = TestApp::chain_payment(&format!("abandon-{round}-{i}")).to_string();
                let _ = client
                    .post(format!("{}/v1/payments", app.base))
                    .bearer_auth(&app.key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    // The abandoned requests' writes run to their end in tasks of their own, and nothing tells when the last has
    // ended; a transaction left open stays open, so this pause only gives the last of them time to end.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    if v.db == Db::Postgres {
        let open = app
            .ctx
            .db
            .query_one_raw(settle_store::Statement::from_string(
                settle_store::DbBackend::Postgres,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(open, 0, "connections left inside a transaction");
    }
    // The server answers, and every payment is whole: its CREATED event and its outbox row.
    for i in 0..10 {
        let r =
            app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&TestApp::chain_payment(&format!("after-{i}")).to_string()), &[]).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let count = |sql: &'static str| {
        let app = app.clone();
        async move {
            let backend = app.ctx.db.get_database_backend();
            app.ctx.db.query_one_raw(settle_store::Statement::from_string(backend, sql)).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
        }
    };
    let payments = count("SELECT count(*) FROM payments").await;
    let events = count("SELECT count(*) FROM payment_events WHERE event_type = 'CREATED'").await;
    let outbox = count("SELECT count(*) FROM outbox WHERE topic = 'payment.created'").await;
    assert!(payments >= 10, "{payments}");
    assert_eq!((events, outbox), (payments, payments), "every payment has its event and its outbox row");
    Arc::into_inner(app).unwrap().finish().await;
}

/// SQLite: write transactions take turns in process instead of contending for the database's
/// one write lock; when the queue is full the next is refused at once with a retryable error (503 with
/// Retry-After at the edge), and the queue empties as turns pass. Then 64 concurrent creates through the API all
/// succeed, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_take_turns_and_a_full_queue_is_refused() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    // Its own writer on the app's pool, each write committed alone (groups are the next test's).
    let db = app.ctx.db.clone().with_writer(settle_store::connect::WriterSettings { queue: 2, group: 1, ..Default::default() });
    let held = settle_store::begin(&db).await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..2 {
        let (db, r, order) = (db.clone(), card_row(&format!("turn-{i}")), order.clone());
        // Each is queued for the turn once it returns.
        let waiter = spawn_polled(async move {
            let id = settle_store::payments::insert_published(&db, &r, &serde_json::json!({}), None).await.unwrap();
            order.lock().unwrap().push(i);
            id
        });
        waiters.push(waiter.await);
    }
    assert!(waiters.iter().all(|w| !w.is_finished()), "both wait for the turn");
    let refused = settle_store::begin(&db).await;
    assert!(matches!(refused, Err(settle_store::StoreError::Retryable(_))), "the third is refused at once");
    // A single statement that writes is refused alike, as retryable (a 503 with Retry-After), not a 500.
    let refused = settle_store::orders::set_offset(&db, "refused", 1, settle_store::now_ms()).await;
    assert!(matches!(refused, Err(settle_store::StoreError::Retryable(_))), "{refused:?}");
    held.commit().await.unwrap();
    for w in waiters {
        assert!(w.await.unwrap().is_some());
    }
    assert_eq!(order.lock().unwrap().len(), 2);
    assert_eq!(db.write_groups(), Some((3, 3)), "each committed alone (the held one too)");
    // A statement that writes outside a transaction takes its turn too, instead of contending for SQLite's lock in
    // the busy handler: it waits while a transaction holds the turn, and commits as a group of its own.
    let held = settle_store::begin(&db).await.unwrap();
    let alone = {
        let db = db.clone();
        spawn_polled(async move { settle_store::orders::set_offset(&db, "turn-test", 7, settle_store::now_ms()).await }).await
    };
    assert!(!alone.is_finished(), "it waits for the turn");
    held.commit().await.unwrap();
    alone.await.unwrap().unwrap();
    assert_eq!(db.write_groups(), Some((6, 6)), "the held one, then the UPDATE and the INSERT of set_offset");
    assert_eq!(settle_store::orders::offset(&db, "turn-test").await.unwrap(), 7);
    settle_store::begin(&db).await.expect("the queue emptied").commit().await.unwrap();
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 2);

    // Writes go through the writer alone: the pool that reads cannot write.
    let direct = app.ctx.db.pool().execute_unprepared("DELETE FROM outbox").await;
    assert!(direct.is_err_and(|e| e.to_string().contains("readonly")), "the read pool is read-only");

    // The group's wait bounds a group: with none, a write that commits while others wait commits alone; with a
    // long one, the writes that waited join the held one's group.
    for (wait, groups) in [(std::time::Duration::ZERO, 4), (std::time::Duration::from_secs(3600), 1)] {
        let db = app.ctx.db.clone().with_writer(settle_store::connect::WriterSettings { group_wait: wait, ..Default::default() });
        let held = settle_store::begin(&db).await.unwrap();
        let mut waiters = Vec::new();
        for i in 0..3 {
            let (db, r) = (db.clone(), card_row(&format!("wait-{}-{i}", wait.as_secs())));
            // Queued for the turn once it returns: all three wait when the held one commits.
            waiters.push(
                spawn_polled(async move { settle_store::payments::insert_published(&db, &r, &serde_json::json!({}), None).await.unwrap() }).await,
            );
        }
        held.commit().await.unwrap();
        for w in waiters {
            assert!(w.await.unwrap().is_some());
        }
        let (g, m) = db.write_groups().unwrap();
        assert_eq!(m, 4);
        assert_eq!(g, groups, "group wait {wait:?}");
    }
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 8);

    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move { app.post("/v1/payments", &TestApp::chain_payment(&format!("many-{i}"))).await }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 72);
    Arc::into_inner(app).unwrap().finish().await;
}

/// SQLite commits the write transactions that wait together, each in its own savepoint, and every caller still
/// gets exactly the answer it would have had alone: in one burst, 26 new payments (201), 10 more for an order id
/// that exists (409 duplicate_order), 2 for one new order id (one 201, one 409), 10 replays of an Idempotency-Key
/// (201, replayed, the first answer's body) and 14 cancels of one payment (one 200, 13 409 invalid_state). The
/// database holds exactly the successful writes, each with its event and outbox row; and writes were grouped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_group_commit_gives_each_request_its_own_answer() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let to_cancel = app.create_payment("gc-cancel").await["paymentId"].as_str().unwrap().to_owned();
    app.create_payment("gc-dup").await;
    let replay = TestApp::chain_payment("gc-replay").to_string();
    let first = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&replay), &[("idempotency-key", "gc-k")]).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let before = settle_store::payments::count(&app.ctx.db).await.unwrap();
    let (groups_before, members_before) = app.ctx.db.write_groups().expect("SQLite groups its writes");

    let app = Arc::new(app);
    let mut tasks = Vec::new();
    let mut spawn = |kind: &'static str, method: Method, path: String, body: Option<String>, key: Option<&'static str>| {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
            (kind, app.request(method, &path, Some(&app.key), body.as_deref(), &headers).await)
        }));
    };
    for i in 0..60 {
        match i % 6 {
            0 => spawn("dup", Method::POST, "/v1/payments".into(), Some(TestApp::chain_payment("gc-dup").to_string()), None),
            1 => spawn("replay", Method::POST, "/v1/payments".into(), Some(replay.clone()), Some("gc-k")),
            2 | 3 if i < 40 => spawn("cancel", Method::POST, format!("/v1/payments/{to_cancel}/cancel"), None, None),
            _ => spawn("new", Method::POST, "/v1/payments".into(), Some(TestApp::chain_payment(&format!("gc-new-{i}")).to_string()), None),
        }
    }
    for _ in 0..2 {
        spawn("same", Method::POST, "/v1/payments".into(), Some(TestApp::chain_payment("gc-same").to_string()), None);
    }
    let mut counts = std::collections::BTreeMap::<(&str, u16), usize>::new();
    let mut new_ids = Vec::new();
    for t in tasks {
        let (kind, r) = t.await.unwrap();
        match (kind, r.status.as_u16()) {
            ("new" | "same", 201) => new_ids.push(r.body["paymentId"].as_str().unwrap().to_owned()),
            ("dup" | "same", 409) => {
                r.assert_error(409, "duplicate_order");
            }
            ("replay", 201) => {
                assert_eq!(r.text, first.text, "a replay answers the first answer");
                assert_eq!(r.header("idempotent-replayed"), Some("true"));
            }
            ("cancel", 200) => {}
            ("cancel", 409) => {
                r.assert_error(409, "invalid_state");
            }
            (k, s) => panic!("{k}: unexpected {s}: {}", r.text),
        }
        *counts.entry((kind, r.status.as_u16())).or_default() += 1;
    }
    let expected: std::collections::BTreeMap<(&str, u16), usize> = [
        (("cancel", 200), 1),
        (("cancel", 409), 13),
        (("dup", 409), 10),
        (("new", 201), 26),
        (("replay", 201), 10),
        (("same", 201), 1),
        (("same", 409), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);

    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), before + 27, "exactly the successful creates");
    app.drain_outbox().await;
    let rows = settle_store::outbox::read_after(&app.ctx.db, DEMO_TENANT, 0, 10_000).await.unwrap();
    for id in &new_ids {
        assert_eq!(settle_store::payments::events(&app.ctx.db, id).await.unwrap().len(), 1, "its CREATED event");
        assert_eq!(rows.iter().filter(|r| &r.aggregate_id == id).count(), 1, "its outbox row");
    }
    let cancelled = settle_store::payments::events(&app.ctx.db, &to_cancel).await.unwrap();
    assert_eq!(cancelled.iter().filter(|e| e.event_type == "CANCEL_REQUESTED").count(), 1, "one CANCEL_REQUESTED event");
    let (groups, members) = app.ctx.db.write_groups().unwrap();
    assert!(
        members - members_before > groups - groups_before,
        "writes were committed together: {} in {} groups",
        members - members_before,
        groups - groups_before
    );
    Arc::into_inner(app).unwrap().finish().await;
}

/// `settle serve` on SQLite is killed (SIGKILL) while 32 clients create payments as fast as they can. After a
/// restart, every payment whose create was answered 201 is there, and nothing is partial: each payment has its
/// CREATED event and its outbox row, and there is no outbox row or event without its payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_killed_during_heavy_writes_keeps_every_acknowledged_payment() {
    settle_card::tls::ensure_crypto_provider();
    let dir = TempDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = [("SETTLE_LISTEN", format!("127.0.0.1:{port}")), ("SETTLE_RATE_LIMIT_PER_SEC", "0".to_owned())];
    let base = format!("http://127.0.0.1:{port}");
    let key = settle_app::merchants::DEMO_API_KEY;
    let client = reqwest::Client::new();
    let mut serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let tasks: Vec<_> = (0..32)
        .map(|t| {
            let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let body =
                        serde_json::json!({"orderId": format!("kill-{t}-{n}"), "amount": "1000", "currency": "KRW", "rail": "CARD"}).to_string();
                    let r = client
                        .post(format!("{base}/v1/payments"))
                        .bearer_auth(key)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let Ok(r) = r else { return }; // the kill
                    if r.status() == 201 {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        if let Some(id) = v["paymentId"].as_str() {
                            acked.lock().unwrap().push(id.to_owned());
                        }
                    }
                }
            })
        })
        .collect();
    // The fault schedule: 1.5 s of writes as fast as they go, then the kill in the middle of them.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    serve.kill();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 20, "the load ran: {} acknowledged", acked.len());

    let _serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on");
    for id in &acked {
        let r = request_at(&client, &base, Method::GET, &format!("/v1/payments/{id}"), Some(key), None, &[]).await;
        assert_eq!(r.status, 200, "acknowledged payment {id} is there: {}", r.text);
    }
    let db = settle_store::connect(&format!("sqlite://{}/settle.db", dir.0.display()), 2).await.unwrap();
    let payments = settle_store::payments::count(&db).await.unwrap();
    assert!(payments >= acked.len() as u64);
    eventually(std::time::Duration::from_secs(20), "the restarted relay publishes what waited", async || {
        (settle_store::outbox::backlog(&db).await.unwrap().0 == 0).then_some(())
    })
    .await;
    let rows = settle_store::outbox::read_after(&db, DEMO_TENANT, 0, 1_000_000).await.unwrap();
    let created: std::collections::HashSet<&str> = rows.iter().filter(|r| r.topic == "payment.created").map(|r| r.aggregate_id.as_str()).collect();
    assert_eq!(created.len() as u64, payments, "one payment.created outbox row per payment, none without its payment");
    for id in &created {
        let events = settle_store::payments::events(&db, id).await.unwrap();
        assert_eq!(events.first().map(|e| e.event_type.as_str()), Some("CREATED"), "{id} has its CREATED event");
    }
    db.close().await.unwrap();
}
