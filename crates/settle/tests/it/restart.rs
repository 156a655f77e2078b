use serde_json::json;

use crate::{helpers::*, matrix};

matrix!(restart_keeps_every_payment_and_event);

async fn restart_keeps_every_payment_and_event(v: Variant) {
    let Some(mut app) = TestApp::spawn(v).await else { return };
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(app.create_payment(&format!("keep-{i}")).await["paymentId"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        assert_eq!(app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await.status, 200);
    }
    let before = app.get("/v1/payments?limit=100").await.body;
    app.drain_outbox().await;
    let seq_before = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    app.shutdown().await;

    // A new process on the same database.
    let app = TestApp::start(app.setup.clone(), app.db.clone()).await;
    let after = app.get("/v1/payments?limit=100").await.body;
    assert_eq!(after, before, "every payment, unchanged");
    for (i, id) in ids.iter().enumerate() {
        let ev = app.get(&format!("/v1/payments/{id}/events")).await.body;
        let n = ev["data"].as_array().unwrap().len();
        assert_eq!(n, if i < 2 { 2 } else { 1 }, "history of {id}");
        let st = app.get(&format!("/payments/{id}/status")).await.body;
        assert_eq!(st["status"], if i < 2 { "CANCELLING" } else { "PENDING" });
    }
    assert_eq!(settle_store::outbox::max_seq(&app.ctx.db).await.unwrap(), seq_before);
    // New work continues the sequence without a gap.
    app.create_payment("after-restart").await;
    app.drain_outbox().await;
    assert_eq!(settle_store::outbox::max_seq(&app.ctx.db).await.unwrap(), seq_before + 1);
    // The duplicate rule survives the restart.
    app.post("/v1/payments", &TestApp::chain_payment("keep-0")).await.assert_error(409, "duplicate_order");
    app.finish().await;
}
