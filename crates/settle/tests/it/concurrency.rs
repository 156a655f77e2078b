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
