use crate::{helpers::*, per_db};

per_db!(migrates_up_to_latest_and_down_to_empty);

async fn migrates_up_to_latest_and_down_to_empty(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(tdb) = TestDb::create(v.db).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.expect("connect");
    assert!(settle_store::migration::tables(&db).await.unwrap().is_empty(), "a fresh database is empty");

    settle_store::migration::up(&db).await.expect("up");
    let tables = settle_store::migration::tables(&db).await.unwrap();
    for t in ["api_keys", "idempotency_keys", "leases", "merchants", "outbox", "payment_events", "payments", "relay_requests"] {
        assert!(tables.iter().any(|x| x == t), "{t} missing after up: {tables:?}");
    }
    let status = settle_store::migration::status(&db).await.unwrap();
    assert!(status.iter().all(|(_, applied)| *applied), "{status:?}");
    // Up again is a no-op.
    settle_store::migration::up(&db).await.expect("up twice");

    settle_store::migration::down(&db, status.len() as u32).await.expect("down");
    let left = settle_store::migration::tables(&db).await.unwrap();
    assert_eq!(left, vec!["seaql_migrations".to_owned()], "only the migration ledger remains");
    assert!(settle_store::migration::status(&db).await.unwrap().iter().all(|(_, applied)| !*applied));

    // And back up: the ladder is repeatable.
    settle_store::migration::up(&db).await.expect("up again");
    let _ = db.close().await;
    tdb.drop_now().await;
}
