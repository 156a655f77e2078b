use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::Method;

use crate::helpers::*;

mod database_outage {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::database_outage_is_a_503_and_recovers(Variant { db: Db::Postgres, cache: Cache::Redis }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql() {
        super::database_outage_is_a_503_and_recovers(Variant { db: Db::Mysql, cache: Cache::Memory }).await
    }
}

mod sessions_ended {
    use crate::helpers::{Cache, Db, Variant};
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        super::sessions_the_server_ended_are_replaced(Variant { db: Db::Postgres, cache: Cache::Memory }).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn mysql() {
        super::sessions_the_server_ended_are_replaced(Variant { db: Db::Mysql, cache: Cache::Memory }).await
    }
}

/// The server ends every session of Settle's pool while the connections are hot (a failover, a restart, an
/// operator's pg_terminate_backend or KILL): no request is answered 500; reads are answered; a write is answered
/// 201, or 503 `database_unavailable` with Retry-After, and retried under its Idempotency-Key it makes exactly one
/// payment.
async fn sessions_the_server_ended_are_replaced(v: Variant) {
    use settle_store::ConnectionTrait;
    let Some(app) = TestApp::spawn(v).await else { return };
    app.create_payment("before").await;
    let mut refused = 0;
    for round in 0..3 {
        // Several connections in the pool, used just now.
        futures::future::join_all((0..8).map(|_| app.get("/v1/payments?limit=5"))).await;
        let admin = settle_store::connect(&app.db.url, 1).await.unwrap();
        let sessions = match v.db {
            Db::Postgres => "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            _ => "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
        };
        let ended = admin.query_all_raw(settle_store::Statement::from_string(admin.get_database_backend(), sessions)).await.unwrap();
        assert!(ended.len() >= 2, "Settle's pool had sessions to end: {}", ended.len());
        if v.db == Db::Mysql {
            for row in ended {
                let id: i64 = row.try_get_by_index(0).unwrap();
                admin.execute_unprepared(&format!("KILL CONNECTION {id}")).await.unwrap();
            }
        }
        admin.close().await.unwrap();
        // Reads first in one round, writes first in the others.
        if round == 1 {
            reads(&app).await;
        }
        for i in 0..4 {
            let order = format!("ended-{round}-{i}");
            let body = TestApp::chain_payment(&order).to_string();
            let mut tries = 0;
            loop {
                tries += 1;
                let r = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("Idempotency-Key", &order)]).await;
                if r.status == 201 {
                    break;
                }
                r.assert_error(503, "database_unavailable");
                assert!(r.header("retry-after").is_some());
                refused += 1;
                assert!(tries < 5, "still refused after {tries} tries: {}", r.text);
            }
        }
        reads(&app).await;
    }
    // A write on a session that ended may have committed before the end (nobody can tell), so it is answered 503
    // and never run again unseen; but the pool tests its connections once it saw one end: one refusal per failover.
    assert!(refused <= 2, "{refused} writes refused over two failovers met by a write");
    let list = app.get("/v1/payments?limit=100").await;
    let mut orders: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|p| p["orderId"].as_str().unwrap()).collect();
    orders.sort_unstable();
    let mut expected: Vec<String> = (0..3).flat_map(|r| (0..4).map(move |i| format!("ended-{r}-{i}"))).collect();
    expected.push("before".into());
    expected.sort_unstable();
    assert_eq!(orders, expected, "one payment per order, whatever was refused ({refused} writes answered 503)");
    app.finish().await;
}

/// Reads answered after the sessions under them ended: read again on another connection.
async fn reads(app: &TestApp) {
    for _ in 0..3 {
        let r = app.get("/v1/payments?limit=100").await;
        assert_eq!(r.status, 200, "a read after the sessions ended: {}", r.text);
    }
}

crate::per_db!(a_create_whose_last_insert_fails_writes_nothing);

/// A create's writes are all or nothing whatever their form (one statement on PostgreSQL, one batch of statements
/// on SQLite, statements one by one on MySQL): the database refusing the last of them (the outbox row, here by a
/// trigger) leaves no payment and no event; accepted again, the create writes all. Among concurrent creates (on
/// SQLite committed together in groups, each in its own savepoint) the refused ones leave nothing and every other
/// is written whole.
async fn a_create_whose_last_insert_fails_writes_nothing(v: Variant) {
    use settle_store::ConnectionTrait;
    if !v.available().await {
        return;
    }
    let Some(tdb) = TestDb::create(v.db).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let refused = serde_json::json!({ "refused": true });
    let (refuse, allow): (&[&str], &str) = match v.db {
        Db::Sqlite => (
            &["CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox WHEN NEW.payload LIKE '%refused%' BEGIN SELECT RAISE(ABORT, 'refused'); END"],
            "DROP TRIGGER refuse_outbox",
        ),
        Db::Postgres => (
            &[
                "CREATE FUNCTION refuse_outbox() RETURNS trigger AS $$ BEGIN IF NEW.payload LIKE '%refused%' THEN RAISE EXCEPTION 'refused'; \
                 END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox()",
            ],
            "DROP TRIGGER refuse_outbox ON outbox",
        ),
        Db::Mysql => (
            &["CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW BEGIN IF NEW.payload LIKE '%refused%' THEN \
               SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'; END IF; END"],
            "DROP TRIGGER refuse_outbox",
        ),
    };
    for sql in refuse {
        db.writes().execute_unprepared(sql).await.unwrap();
    }
    let count = async |sql: &str| -> i64 {
        let r = db.query_one_raw(settle_store::Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap().unwrap();
        r.try_get_by_index(0).unwrap()
    };
    let counts = async || {
        (count("SELECT count(*) FROM payments").await, count("SELECT count(*) FROM payment_events").await, count("SELECT count(*) FROM outbox").await)
    };
    let row = card_row("refused-outbox");
    assert!(settle_store::payments::insert_published(&db, &row, &refused, None).await.is_err(), "the outbox row was refused");
    assert_eq!(counts().await, (0, 0, 0), "nothing of it stays");

    // On SQLite all of them wait for the turn a held transaction has, so that they are committed in groups.
    let held = settle_store::begin(&db).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (db, r) = (db.clone(), card_row(&format!("mixed-{i}")));
        let payload = if i % 2 == 1 { refused.clone() } else { serde_json::json!({}) };
        tasks.push(spawn_polled(async move { settle_store::payments::insert_published(&db, &r, &payload, None).await }).await);
    }
    held.commit().await.unwrap();
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.await.unwrap();
        if i % 2 == 1 {
            assert!(out.is_err(), "create {i} was refused: {out:?}");
        } else {
            assert!(matches!(out, Ok(Some(_))), "create {i} was written: {out:?}");
        }
    }
    assert_eq!(counts().await, (12, 12, 12), "exactly the accepted creates");
    let whole = "SELECT count(*) FROM payments p JOIN payment_events e ON e.payment_id = p.payment_id \
                 JOIN outbox o ON o.aggregate_id = p.payment_id WHERE p.order_id LIKE 'mixed-%'";
    assert_eq!(count(whole).await, 12, "each with its event and outbox row");
    if let Some((groups, members)) = db.write_groups() {
        assert!(members > groups, "SQLite committed them in groups: {groups} groups of {members} writes");
    }

    db.writes().execute_unprepared(allow).await.unwrap();
    settle_store::payments::insert_published(&db, &row, &refused, None).await.unwrap().expect("written");
    assert_eq!(counts().await, (13, 13, 13));
    let _ = db.close().await;
    tdb.drop_now().await;
}

/// The answer to an Idempotency-Key's claim is lost after the claim committed (the connection cut just after the
/// server took the insert): the request still goes through (the claim is found to be its own) or is answered 503,
/// and a retry under the same key is never refused 409 for the key being held (it was, for the stale period: 60 s,
/// each retry waiting 10 s first). One payment in the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_whose_answer_was_lost_does_not_hold_its_key() {
    let v = Variant { db: Db::Postgres, cache: Cache::Memory };
    if !v.available().await {
        return;
    }
    let Some(real) = TestDb::create(v.db).await else { return };
    let key = "claim-answer-lost-1";
    // The first statement that carries the key is the claim's insert.
    let proxy = losing_answer(real.server_addr().expect("server address"), vec![key.as_bytes().to_vec()]).await;
    let mut db = real.via(proxy);
    // In the clear, so the proxy sees the statement.
    db.url.push_str(if db.url.contains('?') { "&sslmode=disable" } else { "?sslmode=disable" });
    let app = TestApp::start(Setup::new(v), Arc::new(db)).await;
    let body = TestApp::chain_payment("claim-answer-lost").to_string();
    let mut answers = Vec::new();
    for _ in 0..4 {
        let r = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("Idempotency-Key", key)]).await;
        answers.push(r.status.as_u16());
        if r.status == 201 {
            break;
        }
        r.assert_error(503, "database_unavailable");
    }
    assert_eq!(answers.last(), Some(&201), "answers: {answers:?}");
    let listed = app.get("/v1/payments?orderId=claim-answer-lost").await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1), "{}", listed.text);
    app.finish().await;
}

/// The database connection is cut (a proxy drops every connection and refuses new ones): requests that need
/// the database get 503 in the envelope, never a 500; /health is 503; once the network is back, Settle
/// reconnects by itself and nothing that was acknowledged is lost.
async fn database_outage_is_a_503_and_recovers(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(real) = TestDb::create(v.db).await else { return };
    let proxy = Proxy::start(real.server_addr().expect("server address")).await;
    let app = TestApp::start(Setup::new(v), Arc::new(real.via(proxy.addr))).await;
    let p1 = app.create_payment("before-outage").await;
    let id1 = p1["paymentId"].as_str().unwrap().to_owned();

    proxy.cut();
    let started = Instant::now();
    let r = app.post("/v1/payments", &TestApp::chain_payment("during-outage")).await;
    r.assert_error(503, "database_unavailable");
    assert!(r.header("retry-after").is_some());
    app.get(&format!("/v1/payments/{id1}")).await.assert_error(503, "database_unavailable");
    app.get("/v1/payments").await.assert_error(503, "database_unavailable");
    let h = app.request(Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 503, "{}", h.text);
    assert_eq!(h.body["database"]["status"], "unavailable");
    assert_eq!(app.request(Method::GET, "/health/ready", None, None, &[]).await.status, 503);
    assert_eq!(app.request(Method::GET, "/health/live", None, None, &[]).await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(60), "failures are bounded in time");

    proxy.restore();
    eventually(Duration::from_secs(10), "Settle reconnects by itself", async || {
        (app.request(Method::GET, "/health", None, None, &[]).await.status == 200).then_some(())
    })
    .await;
    let p2 = app.create_payment("after-outage").await;
    assert_eq!(app.get(&format!("/v1/payments/{id1}")).await.body, stored(&p1), "acknowledged before the outage, still there");
    let list = app.get("/v1/payments?limit=100").await;
    let orders: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|p| p["orderId"].as_str().unwrap()).collect();
    assert_eq!(orders, ["after-outage", "before-outage"], "the refused create left nothing behind");
    assert_eq!(p2["status"], "PENDING");
    app.finish().await;
}

/// An idle outbox relay only reads: while another connection holds SQLite's write lock (the database's only
/// one), the relay's pass with nothing to publish still answers at once instead of queueing for the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_relay_takes_no_write_lock() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    app.drain_outbox().await;
    let relay = settle_app::outbox::Relay::new(app.ctx.clone());
    relay.run_once().await.expect("takes the lease while nothing is locked");
    let other = settle_store::connect(&app.db.url, 1).await.unwrap();
    let writer = settle_store::begin(&other).await.expect("the write lock");
    let pass = tokio::time::timeout(Duration::from_secs(3), relay.run_once()).await;
    assert!(matches!(pass, Ok(Ok(settle_app::worker::Outcome::Idle))), "an idle pass waited for the write lock: {pass:?}");
    writer.rollback().await.unwrap();
    app.finish().await;
}

/// A transaction the database rolls back for contention (a serialization failure, SQLSTATE 40001, raised here by
/// a trigger on PostgreSQL the first times a payment is inserted) is run again inside Settle: rolled back once,
/// the create succeeds with one payment; rolled back every time, it is a 503 `database_busy` with Retry-After,
/// never a 409 or a 500, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_rolled_back_for_contention_is_tried_again_then_answered_503() {
    use settle_store::ConnectionTrait;
    let Some(app) = TestApp::spawn(Variant { db: Db::Postgres, cache: Cache::Memory }).await else { return };
    let db = &app.ctx.db;
    for sql in [
        "CREATE SEQUENCE contention_tries",
        "CREATE TABLE contention_limit (n BIGINT NOT NULL)",
        "INSERT INTO contention_limit VALUES (1)",
        "CREATE FUNCTION contention() RETURNS trigger AS $$ BEGIN \
           IF nextval('contention_tries') <= (SELECT n FROM contention_limit) THEN \
             RAISE EXCEPTION 'simulated contention' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER contention BEFORE INSERT ON payments FOR EACH ROW EXECUTE FUNCTION contention()",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    let card = |order: &str| serde_json::json!({"orderId": order, "amount": "1000", "currency": "KRW", "rail": "CARD"});
    let r = app.post("/v1/payments", &card("contended-once")).await;
    assert_eq!(r.status, 201, "rolled back once, then committed: {}", r.text);
    db.execute_unprepared("UPDATE contention_limit SET n = 1000000").await.unwrap();
    let r = app.post("/v1/payments", &card("contended-always")).await;
    assert_eq!((r.status.as_u16(), r.body["error"]["code"].as_str()), (503, Some("database_busy")), "{}", r.text);
    assert_eq!(r.header("retry-after"), Some("1"));
    let tries =
        db.query_one_raw(settle_store::Statement::from_string(settle_store::DbBackend::Postgres, "SELECT last_value FROM contention_tries")).await;
    let tries: i64 = tries.unwrap().unwrap().try_get_by_index(0).unwrap();
    assert_eq!(tries, 2 + 3, "one retry for the first create, three tries in all for the second");
    db.execute_unprepared("DROP TRIGGER contention ON payments").await.unwrap();
    let listed = app.get("/v1/payments?orderId=contended-always").await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(0), "nothing written: {}", listed.text);
    let listed = app.get("/v1/payments?orderId=contended-once").await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1), "{}", listed.text);
    app.finish().await;
}
