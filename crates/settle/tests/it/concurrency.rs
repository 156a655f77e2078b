use std::sync::Arc;

use reqwest::Method;
use settle_store::ConnectionTrait;

use crate::{helpers::*, matrix, per_db};

matrix!(fifty_concurrent_cancels_have_one_winner);
per_db!(requests_their_clients_abandon_finish_whole_and_leave_no_transaction_open);

async fn fifty_concurrent_cancels_have_one_winner(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let id = app.create_payment("race-1").await["paymentId"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move { app.request(Method::POST, &format!("/payments/{id}/cancel"), Some(&app.key), None, &[]).await }));
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
    let ev = app.get(&format!("/payments/{id}/events")).await;
    let cancelled = ev.body["data"].as_array().unwrap().iter().filter(|e| e["eventType"] == "CANCELLED").count();
    assert_eq!(cancelled, 1, "exactly one CANCELLED event");
    assert_eq!(app.get(&format!("/payments/{id}")).await.body["version"], 2);
    app.drain_outbox().await;
    let rows = settle_store::outbox::read_after(&app.ctx.db, "mch_demo", 0, 100).await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.topic == "payment.cancelled").count(), 1, "one payment.cancelled in the outbox");
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
                    .post(format!("{}/payments/create", app.base))
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
        let r = app
            .request(Method::POST, "/payments/create", Some(&app.key), Some(&TestApp::chain_payment(&format!("after-{i}")).to_string()), &[])
            .await;
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

/// SQLite: write transactions take turns in process, in arrival order, instead of contending for the database's
/// one write lock; when the queue is full the next is refused at once with a retryable error (503 with
/// Retry-After at the edge), and the queue empties as turns pass. Then 64 concurrent creates through the API all
/// succeed, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_take_turns_and_a_full_queue_is_refused() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let db = settle_store::Db::with_write_queue(app.ctx.db.pool().clone(), 2);
    let held = settle_store::begin(&db).await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..2 {
        let (db, r, order) = (db.clone(), card_row(&format!("turn-{i}")), order.clone());
        waiters.push(tokio::spawn(async move {
            let id = settle_store::payments::insert_published(&db, &r, "{}", None).await.unwrap();
            order.lock().unwrap().push(i);
            id
        }));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(waiters.iter().all(|w| !w.is_finished()), "both wait for the turn");
    let refused = settle_store::begin(&db).await;
    assert!(matches!(refused, Err(settle_store::StoreError::Retryable(_))), "the third is refused at once");
    held.commit().await.unwrap();
    for w in waiters {
        assert!(w.await.unwrap().is_some());
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1], "turns in arrival order");
    settle_store::begin(&db).await.expect("the queue emptied").commit().await.unwrap();
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 2);

    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move { app.post("/payments/create", &TestApp::chain_payment(&format!("many-{i}"))).await }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 201, "{}", r.text);
    }
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 66);
    Arc::into_inner(app).unwrap().finish().await;
}
