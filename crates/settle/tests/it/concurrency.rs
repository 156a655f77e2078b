use std::sync::Arc;

use reqwest::Method;

use crate::{helpers::*, matrix};

matrix!(fifty_concurrent_cancels_have_one_winner);

async fn fifty_concurrent_cancels_have_one_winner(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let id = app.create_payment("race-1").await["paymentId"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            app.request(Method::POST, &format!("/payments/{id}/cancel"), Some(&app.key), None, &[]).await
        }));
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
