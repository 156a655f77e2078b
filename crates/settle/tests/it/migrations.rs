use crate::{helpers::*, per_db};

per_db!(migrates_up_to_latest_and_down_to_empty, ids_that_differ_only_by_case_are_different_on_every_backend);

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

/// Every pooled SQLite connection runs in WAL mode with `synchronous=FULL` (a PRAGMA sent through the pool
/// would reach one connection only): four transactions held at once, on four connections, each read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_sqlite_connection_is_durable() {
    use settle_store::{ConnectionTrait, TransactionTrait};
    let Some(tdb) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&tdb.url, 4).await.expect("connect");
    let mut held = Vec::new();
    for _ in 0..4 {
        let txn = db.begin().await.expect("a transaction on its own connection");
        let pragma = |sql: &'static str| {
            let txn = &txn;
            async move {
                let row = txn.query_one_raw(settle_store::Statement::from_string(settle_store::DbBackend::Sqlite, sql)).await.unwrap().unwrap();
                row.try_get_by_index::<String>(0).or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string())).unwrap()
            }
        };
        assert_eq!(pragma("PRAGMA synchronous").await, "2", "FULL");
        assert_eq!(pragma("PRAGMA journal_mode").await, "wal");
        held.push(txn);
    }
    drop(held);
    let _ = db.close().await;
    tdb.drop_now().await;
}

/// Order ids, idempotency keys and shop ids compare byte for byte on every backend: MySQL's default collation
/// would make `Case-1` and `case-1` one order (a false `duplicate_order`) and one user. On MySQL every column of
/// every table is checked to be `utf8mb4_bin`, so a table added later without it fails here.
async fn ids_that_differ_only_by_case_are_different_on_every_backend(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let card = |order: &str| serde_json::json!({"orderId": order, "amount": "1000", "currency": "KRW", "rail": "CARD"});
    assert_eq!(app.post("/v1/payments", &card("Case-1")).await.status, 201);
    let r = app.post("/v1/payments", &card("case-1")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    for user in ["Kim", "kim"] {
        let r = app.post("/v1/users", &serde_json::json!({"userId": user, "name": user, "points": 1})).await;
        assert_eq!(r.status, 201, "{user}: {}", r.text);
    }
    let body = card("keyed").to_string();
    let a = app.request(reqwest::Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "Key-A")]).await;
    let other = card("keyed-2").to_string();
    let b = app.request(reqwest::Method::POST, "/v1/payments", Some(&app.key), Some(&other), &[("idempotency-key", "key-a")]).await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (201, 201), "{}", b.text);
    assert_ne!(a.body["paymentId"], b.body["paymentId"]);
    if v.db == Db::Mysql {
        use settle_store::ConnectionTrait;
        let sql = "SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLLATION_NAME) FROM information_schema.COLUMNS \
                   WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL AND COLLATION_NAME <> 'utf8mb4_bin' AND TABLE_NAME <> 'seaql_migrations'";
        let rows = app.ctx.db.query_all_raw(settle_store::Statement::from_string(settle_store::DbBackend::MySql, sql)).await.unwrap();
        let bad: Vec<String> = rows.iter().filter_map(|r| r.try_get_by_index::<String>(0).ok()).collect();
        assert!(bad.is_empty(), "columns not compared byte for byte: {bad:?}");
    }
    app.finish().await;
}

/// Every migration names the oldest build that runs on it (itself for a contract step), and the record of the
/// applied ones is written as they are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_migration_names_the_oldest_build_that_runs_on_it() {
    use settle_store::ConnectionTrait;
    let listed: Vec<String> = settle_store::migration::compatibility().iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(listed, settle_store::migration::names(), "one entry per migration, in order");
    assert!(settle_store::migration::compatibility().iter().all(|(n, from)| from <= n), "none runs on builds newer than itself");
    let Some(tdb) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let rows = db
        .query_all_raw(settle_store::Statement::from_string(
            settle_store::DbBackend::Sqlite,
            "SELECT version, runs_from FROM migration_compatibility ORDER BY version",
        ))
        .await
        .unwrap();
    let recorded: Vec<(String, String)> = rows.iter().map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap())).collect();
    let expected: Vec<(String, String)> = settle_store::migration::compatibility().iter().map(|(n, f)| ((*n).to_owned(), (*f).to_owned())).collect();
    assert_eq!(recorded, expected);
    // Recorded again (a second instance migrating at once, or after a partial record): the same rows, no error.
    db.writes().execute_unprepared("DELETE FROM migration_compatibility WHERE version > 'm0020'").await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let n = db.query_one_raw(settle_store::Statement::from_string(settle_store::DbBackend::Sqlite, "SELECT count(*) FROM migration_compatibility"));
    assert_eq!(n.await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap() as usize, expected.len());
    let _ = db.close().await;
}

/// A rolling restart across versions: a newer Settle migrated the database, and this build (standing for an older
/// release; the newer migrations are recorded fixtures) finds migrations it does not know. One whose oldest build
/// is this one or older (an expand step) lets it start and serve (with and without --no-migrate), applying
/// nothing; `migrate up` and `migrate down` refuse with a message, not "migration file is missing". Once there is
/// one that only newer builds run on (a contract step, or an expand step for a release after this one's successor)
/// or one the record does not hold, it refuses to start and names it. It used to refuse every newer migration with
/// "migration file of version ... is missing".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_older_build_runs_on_an_expand_step_and_refuses_a_contract_step() {
    use settle::{App, BuildOptions, Config};
    use settle_store::ConnectionTrait;
    let Some(tdb) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let newer = async |version: &str, runs_from: Option<&str>| {
        let sqlite = settle_store::DbBackend::Sqlite;
        let sql = "INSERT INTO seaql_migrations (version, applied_at) VALUES (?, 0)";
        db.writes().execute_raw(settle_store::Statement::from_sql_and_values(sqlite, sql, [version.into()])).await.unwrap();
        if let Some(from) = runs_from {
            let sql = "INSERT INTO migration_compatibility (version, runs_from) VALUES (?, ?)";
            db.writes().execute_raw(settle_store::Statement::from_sql_and_values(sqlite, sql, [version.into(), from.into()])).await.unwrap();
        }
    };
    let cfg = Config { database_url: tdb.url.clone(), listen: ([127, 0, 0, 1], 0).into(), db_max_connections: 4, ..Config::default() };
    let build = async |migrate: bool| App::build(&cfg, BuildOptions { migrate, demo: false, local_master_key: false }).await;
    let head = settle_store::migration::head();

    newer("m9001_newer_expand", Some(&head)).await;
    for migrate in [true, false] {
        let app = build(migrate).await.unwrap_or_else(|e| panic!("serves on an expand step (migrate: {migrate}): {e:#}"));
        drop(app);
    }
    for e in [settle_store::migration::up(&db).await.unwrap_err(), settle_store::migration::down(&db, 1).await.unwrap_err()] {
        let e = e.to_string();
        assert!(e.contains("newer Settle") && e.contains("m9001_newer_expand"), "{e}");
    }

    for (version, from) in [
        ("m9002_newer_contract", Some("m9002_newer_contract")),
        ("m9003_two_releases_on", Some("m9001_newer_expand")),
        ("m9004_newer_unrecorded", None),
    ] {
        newer(version, from).await;
        for migrate in [true, false] {
            let e = format!("{:#}", build(migrate).await.err().expect("refused"));
            assert!(e.contains(version) && e.contains("upgrade this instance"), "{e}");
            assert!(!e.contains("is missing"), "{e}");
        }
        // Taken out again: each is refused on its own account.
        db.writes()
            .execute_raw(settle_store::Statement::from_sql_and_values(
                settle_store::DbBackend::Sqlite,
                "DELETE FROM seaql_migrations WHERE version = ?",
                [version.into()],
            ))
            .await
            .unwrap();
    }
    let _ = db.close().await;
}
