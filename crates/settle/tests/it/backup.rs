//! Backups: a SQLite database with payments, events, outbox, orders, sagas, webhooks and audit rows is backed up,
//! restored onto PostgreSQL, MySQL and SQLite, and backed up again from each: every table reads back the same,
//! and Settle serves the restored data (payments readable, SSE resumes after the last seq). A backup taken while
//! writers run is one consistent state. A damaged backup is refused before anything is written.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use serde_json::json;
use settle_app::backup::{self, BackupError, Quiet, Trust};
use settle_store::ConnectionTrait;

use crate::{card::CARD, helpers::*, sse};

/// Every table file of a backup, by name.
fn files(dir: &std::path::Path) -> BTreeMap<String, String> {
    let m = backup::verify(dir, Trust::default()).expect("a valid backup").manifest;
    m.tables.iter().map(|t| (t.name.clone(), std::fs::read_to_string(dir.join(&t.file)).unwrap())).collect()
}

async fn seed(app: &TestApp) {
    let p = app.create_payment("bk-chain-1").await;
    let id = p["paymentId"].as_str().unwrap();
    assert_eq!(app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await.status, 200);
    let card = app.create_card_payment("bk-card-1", 12000).await;
    let r = app.pay(&card, "KB", CARD, Some("bk-pay-1")).await;
    assert!(r.status.is_success(), "{}", r.text);
    for (path, body) in [
        ("/v1/items", json!({"itemId": "sword", "name": "Sword", "price": 1500, "stock": 5})),
        ("/v1/users", json!({"userId": "kim", "name": "Kim \u{1F600} \"quoted\"", "points": 10000})),
        ("/v1/coupons", json!({"couponId": "welcome", "name": "Welcome", "discount": 300})),
    ] {
        assert_eq!(app.post(path, &body).await.status, 201);
    }
    let issued = app.post("/v1/coupons/welcome/issue", &json!({"userId": "kim"})).await.body;
    let body = json!({"userId": "kim", "items": [{"itemId": "sword", "quantity": 2}], "issuedCouponId": issued["issuedCouponId"], "usePoints": 100,
        "card": {"cardType": "KB", "cardNo": CARD}});
    let r = app.post("/v1/orders", &body).await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app.post("/v1/webhook-endpoints", &json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Every card payment final (the order's completes on the gateway's callback) before the backup.
    let list = app.get("/v1/payments?limit=100").await.body;
    let cards: Vec<String> =
        list["data"].as_array().unwrap().iter().filter(|p| p["rail"] == "CARD").map(|p| p["paymentId"].as_str().unwrap().to_owned()).collect();
    assert_eq!(cards.len(), 2);
    assert!(app.wait_final(&cards, Duration::from_secs(20)).await.iter().all(|s| s == "COMPLETED"));
    let _ = card;
    app.drain_outbox().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_backup_restores_onto_every_backend_and_serves() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    let Some(app) = TestApp::spawn_with(setup.clone()).await else { return };
    seed(&app).await;
    let dir = TempDir::new();
    let out = dir.0.join("b1");
    let m = backup::backup(&app.ctx.db, &out, None, &Quiet).await.unwrap();
    assert_eq!(m.source_backend, "sqlite");
    let rows = |name: &str| m.tables.iter().find(|t| t.name == name).unwrap().rows;
    for t in ["payments", "payment_events", "outbox", "orders", "saga_states", "webhook_endpoints", "audit_log", "shop_users", "leases"] {
        assert!(rows(t) > 0, "{t} is empty in the backup: {m:?}");
    }
    let original = files(&out);
    let last_seq = settle_store::outbox::max_seq(&app.ctx.db).await.unwrap();
    let payment: serde_json::Value = app.get("/v1/payments?limit=100").await.body;
    app.finish().await;

    for kind in [Db::Postgres, Db::Mysql, Db::Sqlite] {
        let Some(target) = TestDb::create(kind).await else { continue };
        let db = settle_store::connect(&target.url, 4).await.unwrap();
        let r = backup::restore(&db, &out, false, Trust::default(), &Quiet).await.unwrap();
        assert_eq!(r.rows, m.tables.iter().filter(|t| t.name != "leases").map(|t| t.rows).sum::<u64>());
        // The restored database backs up to the same rows, byte for byte.
        let again = dir.0.join(format!("again-{kind:?}"));
        backup::backup(&db, &again, None, &Quiet).await.unwrap();
        let restored = files(&again);
        for (name, text) in &original {
            // Leases are not restored: their holders are gone, and workers would wait for them.
            if name == "leases" {
                assert_eq!(restored[name], "", "{kind:?}: no lease restored");
                continue;
            }
            assert!(restored[name] == *text, "{kind:?}: table {name} differs after the restore");
        }
        // Without --force a second restore is refused and changes nothing.
        let e = backup::restore(&db, &out, false, Trust::default(), &Quiet).await.unwrap_err();
        assert!(e.to_string().contains("not empty"), "{e}");
        db.close().await.unwrap();

        // Settle serves it: the payments read back the same, SSE resumes after the last seq, a new payment
        // gets the next seq and an id the restored rows do not hold.
        let mut s = setup.clone();
        s.variant.db = kind;
        let served = TestApp::start(s, Arc::new(target)).await;
        assert_eq!(served.get("/v1/payments?limit=100").await.body, payment, "{kind:?}");
        let mut events = sse::open(&served, Some(&last_seq.to_string())).await;
        let p = served.create_payment("after-restore").await;
        let e = sse::next(&mut events).await;
        assert_eq!(
            (e.seq, e.event.as_str(), e.data["data"]["paymentId"].as_str()),
            (last_seq + 1, "payment.created", p["paymentId"].as_str()),
            "{kind:?}"
        );
        drop(events);
        served.db.drop_now().await;
        served.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_writers_run_is_consistent() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Postgres, cache: Cache::Memory }).await else { return };
    let app = Arc::new(app);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Creates acknowledged so far, across the writers.
    let created = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (app, stop, created) = (app.clone(), stop.clone(), created.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = app.post("/v1/payments", &TestApp::chain_payment(&format!("w{w}-{n}"))).await;
                    assert_eq!(r.status, 201, "{}", r.text);
                    n += 1;
                    created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                n
            })
        })
        .collect();
    let created_more_than = |n: u64| (created.load(std::sync::atomic::Ordering::Relaxed) > n).then_some(());
    // The writers are under way before the backup starts, and go on after it ends.
    eventually(Duration::from_secs(30), "the writers create payments", async || created_more_than(8)).await;
    let dir = TempDir::new();
    let m = backup::backup(&app.ctx.db, &dir.0.join("b"), None, &Quiet).await.unwrap();
    let in_backup = m.tables.iter().find(|t| t.name == "payments").unwrap().rows;
    eventually(Duration::from_secs(30), "the writers create payments after the backup", async || created_more_than(in_backup)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: u64 = futures::future::join_all(writers).await.into_iter().map(|r| r.unwrap()).sum();
    assert!(in_backup > 0 && in_backup < written, "the backup ran while writes went on: {in_backup} of {written}");

    let Some(target) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&target.url, 2).await.unwrap();
    backup::restore(&db, &dir.0.join("b"), false, Trust::default(), &Quiet).await.unwrap();
    // Each create wrote its payment, its CREATED event and its outbox row in one transaction: the backup holds
    // all three of each payment or none.
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let row = db.query_one_raw(settle_store::Statement::from_string(settle_store::DbBackend::Sqlite, sql)).await.unwrap().unwrap();
            row.try_get_by_index::<i64>(0).unwrap() as u64
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM payments").await, in_backup);
    assert_eq!(count("SELECT COUNT(*) FROM outbox WHERE topic = 'payment.created'").await, in_backup);
    assert_eq!(count("SELECT COUNT(*) FROM payment_events WHERE event_type = 'CREATED'").await, in_backup);
    assert_eq!(count("SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = o.aggregate_id)").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.created'").await, in_backup);
    app.db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_damaged_backup_is_refused_before_anything_is_written() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    app.create_payment("dmg-1").await;
    app.create_payment("dmg-2").await;
    let dir = TempDir::new();
    let good = dir.0.join("good");
    backup::backup(&app.ctx.db, &good, None, &Quiet).await.unwrap();
    // Into a directory that is not empty: refused.
    let e = backup::backup(&app.ctx.db, &good, None, &Quiet).await.unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");

    let copy = |name: &str| copy_backup(&good, dir.0.join(name));
    let cases: Vec<(std::path::PathBuf, &str)> = vec![
        {
            // One amount changed: the checksum tells.
            let d = copy("amount");
            let p = d.join("payments.ndjson");
            std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replacen("\"1500\"", "\"9500\"", 1)).unwrap();
            (d, "SHA-256")
        },
        {
            let d = copy("missing");
            std::fs::remove_file(d.join("outbox.ndjson")).unwrap();
            (d, "outbox.ndjson")
        },
        {
            let d = copy("manifest");
            std::fs::write(d.join("manifest.json"), "{\"formatVersion\": 99}").unwrap();
            (d, "manifest")
        },
        {
            let d = copy("version");
            let p = d.join("manifest.json");
            std::fs::write(&p, std::fs::read_to_string(&p).unwrap().replace("\"formatVersion\": 1", "\"formatVersion\": 2")).unwrap();
            (d, "format 2")
        },
    ];
    let Some(target) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&target.url, 2).await.unwrap();
    for (d, says) in cases {
        let e = backup::verify(&d, Trust::default()).unwrap_err();
        assert!(matches!(e, BackupError::Invalid(_) | BackupError::Io { .. }) && e.to_string().contains(says), "{}: {e}", d.display());
        backup::restore(&db, &d, true, Trust::default(), &Quiet).await.unwrap_err();
    }
    // Nothing was written: the target is still empty, so a restore without --force goes through.
    backup::restore(&db, &good, false, Trust::default(), &Quiet).await.unwrap();
    // With --force a restore replaces what is there (twice gives the same).
    backup::restore(&db, &good, true, Trust::default(), &Quiet).await.unwrap();
    let n = settle_store::backup::tables().into_iter().find(|t| t.name == "payments").unwrap().count(&db).await.unwrap();
    assert_eq!(n, 2);
    app.finish().await;
}

crate::per_db!(an_event_is_written_with_its_id);

/// Every event is written with its id, a created payment's too (one statement on PostgreSQL): the relay never
/// has to make one as it publishes (on PostgreSQL it did, one UPDATE per created payment).
async fn an_event_is_written_with_its_id(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(tdb) = TestDb::create(v.db).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let row = card_row("written-with-its-id");
    settle_store::payments::insert_published(&db, &row, &serde_json::json!({}), None).await.unwrap();
    let ids = db.query_all_raw(settle_store::Statement::from_string(db.get_database_backend(), "SELECT event_id FROM outbox")).await.unwrap();
    let ids: Vec<Option<String>> = ids.iter().map(|r| r.try_get_by_index(0).unwrap()).collect();
    assert_eq!(ids.len(), 1);
    let id = ids[0].as_deref().expect("the event's id, made with its row");
    assert!(matches!(settle_store::outbox::event_id_form(id), Some(settle_store::outbox::EventIdForm::Made(_))), "{id}");
    let _ = db.close().await;
    tdb.drop_now().await;
}

/// A restore of an older backup issues seqs again, never event ids: the event made after it has an id no receiver
/// has seen, so a webhook receiver deduping on `webhook-id` takes it, NATS (deduping on `Nats-Msg-Id`) holds it,
/// and a stream or a poller resuming with an id the restore lost gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_made_after_a_restore_of_an_older_backup_has_an_id_never_issued() {
    use crate::{
        nats::OwnNats,
        webhooks::{Behaviour, Receiver},
    };
    use settle_store::outbox;
    if OwnNats::binary().is_none() {
        unavailable("nats-server", "is not installed");
        return;
    }
    let nats_dir = TempDir::new();
    let nats = OwnNats::start(crate::nats::free_port(), &nats_dir.0).unwrap();
    let rx = Receiver::start(Behaviour::Ok).await;
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Memory });
    setup.settings.webhooks.allow_hosts = vec!["127.0.0.1".into()];
    setup.settings.webhooks.poll = Duration::from_millis(100);
    setup.settings.nats = Some(settle_app::nats::NatsSettings { url: nats.url(), stream: "SETTLE".into(), test_events: true });
    // The demo key is a test key: its events reach this bus because the setup asks for test events.
    let Some(mut app) = TestApp::spawn_with(setup).await else { return };
    crate::webhooks::endpoint(&app, &rx.url, &["payment.*"]).await;
    app.create_payment("before-backup").await;
    app.drain_outbox().await;
    let dir = TempDir::new();
    backup::backup(&app.ctx.db, &dir.0.join("b"), None, &Quiet).await.unwrap();
    let backup_seq = outbox::max_seq(&app.ctx.db).await.unwrap();
    for n in ["later-1", "later-2"] {
        app.create_payment(n).await;
    }
    app.drain_outbox().await;
    // Every event made so far, delivered everywhere before the restore.
    let before = outbox::read_all_after(&app.ctx.db, 0, 1000).await.unwrap();
    let issued: Vec<String> = before.iter().filter_map(outbox::event_id_of).collect();
    let payments = before.iter().filter(|r| r.topic.starts_with("payment.")).count();
    assert_eq!(rx.wait_succeeded(payments, Duration::from_secs(30)).await.len(), payments, "webhooks before the restore");
    assert_eq!(crate::scale_out::nats_stream_ids(&nats.url(), issued.len()).await, issued, "NATS before the restore");
    let lost = issued.last().unwrap().clone();
    let lost_seq = before.last().unwrap().seq.unwrap();

    // The older backup is restored; Settle starts on it.
    app.shutdown().await;
    let db = settle_store::connect(&app.db.url, 2).await.unwrap();
    backup::restore(&db, &dir.0.join("b"), true, Trust::default(), &Quiet).await.unwrap();
    db.close().await.unwrap();
    app = TestApp::start(app.setup.clone(), app.db.clone()).await;
    assert_eq!(outbox::max_seq(&app.ctx.db).await.unwrap(), backup_seq);
    // A stream client that had the last event before the restore resumes with its id.
    let mut stream = sse::open(&app, Some(&lost)).await;
    let p = app.create_payment("after-restore").await;
    app.drain_outbox().await;
    let row = outbox::read_all_after(&app.ctx.db, backup_seq, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.aggregate_id == p["paymentId"].as_str().unwrap())
        .unwrap();
    let id = outbox::event_id_of(&row).unwrap();
    assert_eq!(row.seq, Some(backup_seq + 1), "the seq is issued again ({lost_seq} was the last before the restore)");
    assert!(!issued.contains(&id), "{id} was issued before the restore");

    // Webhooks: a receiver deduping on webhook-id takes it (it had never seen the id).
    let hooks = rx.wait_succeeded(payments + 1, Duration::from_secs(30)).await;
    assert!(hooks.contains_key(&id), "the event made after the restore was not delivered: {hooks:?}");
    for g in rx.got().iter().filter(|g| g.id() == id) {
        assert_eq!(serde_json::from_str::<serde_json::Value>(&g.body).unwrap()["id"], id.as_str());
    }
    // NATS holds it, after everything it held (the restored events sent again under their ids are dropped).
    let mut want = issued.clone();
    want.push(id.clone());
    assert_eq!(crate::scale_out::nats_stream_ids(&nats.url(), want.len()).await, want, "NATS after the restore");
    // SSE: the stream resuming after the lost id gets the new event; what comes before it are events it had.
    loop {
        let e = sse::next(&mut stream).await;
        if e.id == id {
            break;
        }
        assert!(issued.contains(&e.id), "{e:?} is neither one the client had nor the new one");
    }
    drop(stream);
    // The events API the same way.
    let page = app.get(&format!("/v1/events?after={lost}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.body["data"].as_array().unwrap().iter().any(|e| e["id"] == id.as_str()), "{}", page.text);
    let r = app.get("/v1/events?after=evt_zz").await;
    assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some("after"));
    app.finish().await;
}

/// Cursors from a lost timeline never skip new events: an `evt_<seq>` of an event published before ids were made
/// with the row, that this database does not hold, resumes no later than the first event with a made id; a seq past
/// the newest resumes from the newest; an id made "in the future" counts as now (and reads by the index).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_from_a_lost_timeline_never_skips_new_events() {
    use settle_store::outbox;
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    for n in 0..5 {
        app.create_payment(&format!("legacy-{n}")).await;
    }
    app.drain_outbox().await;
    // These five were published before ids were made with the row: evt_1..evt_5.
    app.ctx.db.writes().execute_unprepared("UPDATE outbox SET event_id = NULL").await.unwrap();
    let fresh = [app.create_payment("fresh-1").await, app.create_payment("fresh-2").await];
    app.drain_outbox().await;
    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|e| e["data"]["paymentId"].as_str().unwrap().to_owned()).collect()
    };
    let want: Vec<String> = fresh.iter().map(|p| p["paymentId"].as_str().unwrap().to_owned()).collect();
    // evt_6 and evt_8 were issued in a timeline a restore removed; 6 and 7 are now events with made ids.
    for lost in ["evt_6", "evt_8"] {
        let r = app.get(&format!("/v1/events?after={lost}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got = ids(&r.body);
        assert!(want.iter().all(|w| got.contains(w)), "after={lost} skipped new events: {}", r.text);
    }
    // A held legacy id resumes exactly after it.
    let r = app.get("/v1/events?after=evt_5").await;
    assert_eq!(ids(&r.body), want);
    // An id made "in the future" resumes from now, a minute back (so here: every event): nothing skipped.
    let r = app.get("/v1/events?after=evt_ffffffffffff7fffbfffffffffffffff").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = ids(&r.body);
    assert!(want.iter().all(|w| got.contains(w)), "{}", r.text);
    // The last `after` of a repeated one counts, read once.
    let many = std::iter::repeat_n("after=evt_ffffffffffff7fffbfffffffffffffff", 50).collect::<Vec<_>>().join("&");
    let r = app.get(&format!("/v1/events?{many}&after=evt_5")).await;
    assert_eq!(ids(&r.body), want);
    assert_eq!(outbox::max_seq(&app.ctx.db).await.unwrap(), 7);
    // A seq past the newest (from a timeline that reached 99) resumes from the newest: the next event comes.
    let mut stream = sse::open(&app, Some("99")).await;
    let next = app.create_payment("after-99").await;
    let e = sse::next(&mut stream).await;
    assert_eq!((e.seq, e.data["data"]["paymentId"].as_str()), (8, next["paymentId"].as_str()));
    drop(stream);
    app.finish().await;
}

/// A copy of the backup `from` at `to`.
fn copy_backup(from: &std::path::Path, to: std::path::PathBuf) -> std::path::PathBuf {
    std::fs::create_dir_all(&to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
    to
}

/// Edits a backup's payments file and its manifest, with the file's checksum recomputed as whoever edits a
/// backup would.
fn edit_payments(dir: &std::path::Path, rows: impl FnOnce(String) -> String, manifest: impl FnOnce(&mut serde_json::Value)) {
    use sha2::Digest;
    let p = dir.join("payments.ndjson");
    let text = rows(std::fs::read_to_string(&p).unwrap());
    std::fs::write(&p, &text).unwrap();
    let m = dir.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    for t in v["tables"].as_array_mut().unwrap() {
        if t["name"] == "payments" {
            t["sha256"] = hex::encode(sha2::Sha256::digest(text.as_bytes())).into();
        }
    }
    manifest(&mut v);
    std::fs::write(&m, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// A backup is its owner's alone (0700 directory, 0600 files, whatever the umask: it holds merchants' secrets), and
/// signed under the master key: whoever edits a row and recomputes the manifest's checksum passes an integrity
/// check but not the signature, so `verify` and `restore` refuse it; a backup whose signature was removed is
/// refused too unless accepted as unsigned; a rotated master key still verifies what the old one signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_is_its_owners_alone_and_its_signature_catches_an_edit() {
    use settle_app::crypto::Keyring;
    use std::os::unix::fs::PermissionsExt;
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    app.create_payment("sig-1").await;
    let (old_key, new_key) = (Keyring::generate(), Keyring::generate());
    let keys = Keyring::parse(&old_key).unwrap();
    let dir = TempDir::new();
    let good = dir.0.join("nested").join("good");
    backup::backup(&app.ctx.db, &good, Some(&keys), &Quiet).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&good), 0o700, "the backup's directory");
    assert_eq!(mode(&dir.0.join("nested")), 0o700, "a directory made for it");
    for f in std::fs::read_dir(&good).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    fn trust(k: &Keyring) -> Trust<'_> {
        Trust { keys: Some(k), unsigned: false }
    }
    let v = backup::verify(&good, trust(&keys)).unwrap();
    assert!(v.authenticated);
    assert_eq!(v.manifest.settle_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    // Rotated: the new key seals, the old one still verifies.
    let rotated = Keyring::parse(&format!("{new_key},{old_key}")).unwrap();
    assert!(backup::verify(&good, trust(&rotated)).unwrap().authenticated);
    // Without a master key a signed backup is refused, unless its integrity alone is asked for (and said so).
    let e = backup::verify(&good, Trust::default()).unwrap_err();
    assert!(e.to_string().contains("SETTLE_MASTER_KEY is not set"), "{e}");
    let integrity = Trust { keys: None, unsigned: true };
    assert!(!backup::verify(&good, integrity).unwrap().authenticated);

    let copy = |name: &str| copy_backup(&good, dir.0.join(name));
    // An amount changed and the manifest's checksum recomputed, as whoever edits a backup would.
    let edited = copy("edited");
    edit_payments(&edited, |text| text.replacen("\"1500\"", "\"9500\"", 1), |_| {});
    assert!(backup::verify(&edited, integrity).is_ok(), "its integrity holds");
    let Some(unkeyed) = TestDb::create(Db::Sqlite).await else { return };
    let unkeyed = settle_store::connect(&unkeyed.url, 2).await.unwrap();
    let e = backup::restore(&unkeyed, &edited, false, Trust::default(), &Quiet).await.unwrap_err();
    assert!(e.to_string().contains("SETTLE_MASTER_KEY is not set"), "without a key, the edited backup is refused too: {e}");
    let e = backup::verify(&edited, trust(&keys)).unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    let e = backup::verify(&good, trust(&Keyring::parse(&new_key).unwrap())).unwrap_err();
    assert!(e.to_string().contains("does not match"), "another master key: {e}");
    // The signature removed: refused, unless accepted as unsigned.
    std::fs::remove_file(edited.join("manifest.sig")).unwrap();
    let e = backup::verify(&edited, trust(&keys)).unwrap_err();
    assert!(e.to_string().contains("not signed"), "{e}");
    assert!(!backup::verify(&edited, Trust { keys: Some(&keys), unsigned: true }).unwrap().authenticated);

    // A restore checks the same, and writes nothing when refused.
    let Some(target) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&target.url, 2).await.unwrap();
    let e = backup::restore(&db, &edited, false, trust(&keys), &Quiet).await.unwrap_err();
    assert!(e.to_string().contains("not signed"), "{e}");
    assert!(backup::restore(&db, &good, false, trust(&keys), &Quiet).await.unwrap().authenticated);
    let amounts = settle_store::backup::tables().into_iter().find(|t| t.name == "payments").unwrap().read(&db, None, 10).await.unwrap();
    assert_eq!(amounts.iter().map(|r| r["amount"].as_str().unwrap()).collect::<Vec<_>>(), ["1500"]);

    // Not into a link, nor into a directory another user owns (who could replace the files once written).
    let link = dir.0.join("link");
    std::os::unix::fs::symlink(dir.0.join("elsewhere"), &link).unwrap();
    std::fs::create_dir(dir.0.join("elsewhere")).unwrap();
    let e = backup::backup(&app.ctx.db, &link, Some(&keys), &Quiet).await.unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");
    let theirs = dir.0.join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    if std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_ok() {
        let e = backup::backup(&app.ctx.db, &theirs, Some(&keys), &Quiet).await.unwrap_err();
        assert!(e.to_string().contains("another user"), "{e}");
    }
    app.finish().await;
}

/// Every table Settle keeps is in a backup (the cluster's switches and the migration records excepted: a restore
/// leaves the first as they are and writes the others as it migrates); dead letters were left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_table_is_backed_up() {
    let Some(tdb) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let mut kept = settle_store::migration::tables(db.pool()).await.unwrap();
    kept.retain(|t| !["seaql_migrations", "migration_compatibility", "cluster_flags"].contains(&t.as_str()));
    let mut backed_up: Vec<String> = settle_store::backup::tables().iter().map(|t| t.name.to_owned()).collect();
    backed_up.sort();
    assert_eq!(backed_up, kept);
}

/// `verify` and `restore` agree on a backup of another schema, and say which Settle restores it: one written by
/// a newer Settle (a migration this build does not know, rows with a column it does not have) is not called
/// damaged but newer, naming its writer's version; an older one is restored by its writer, then upgraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_and_restore_agree_on_a_backup_of_another_schema() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    app.create_payment("schema-1").await;
    let dir = TempDir::new();
    let good = dir.0.join("good");
    backup::backup(&app.ctx.db, &good, None, &Quiet).await.unwrap();
    let Some(target) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&target.url, 2).await.unwrap();
    let names = settle_store::migration::names();
    for (name, schema, says) in [("newer", "m9999_from_the_future", "newer"), ("older", names[names.len() - 2].as_str(), "older")] {
        let d = copy_backup(&good, dir.0.join(name));
        // Its payments have a column this build lacks (the newer) and its manifest says who wrote it.
        edit_payments(
            &d,
            |text| text.replace("{\"id\":", "{\"a_later_column\":1,\"id\":"),
            |m| {
                m["schemaVersion"] = schema.into();
                m["settleVersion"] = "9.9.9".into();
            },
        );
        let verified = backup::verify(&d, Trust::default()).unwrap_err().to_string();
        let restored = backup::restore(&db, &d, false, Trust::default(), &Quiet).await.unwrap_err().to_string();
        assert_eq!(verified, restored, "{name}: verify and restore say the same");
        assert!(verified.contains(says) && verified.contains("Settle 9.9.9") && verified.contains(schema), "{name}: {verified}");
        assert!(!verified.contains("damaged") && !verified.contains("no column"), "{name}: {verified}");
    }
    assert_eq!(settle_store::migration::tables(db.pool()).await.unwrap(), Vec::<String>::new(), "nothing was written");
    app.finish().await;
}

crate::per_db!(a_backup_pages_by_key);

/// A backup reads a table page after page by its key (never by OFFSET, which costs more each page): tables larger
/// than a page, keyed by text (mixed case, prefixes of one another) and by number, come out whole, each row once,
/// in key order as the database orders it, and restore the same.
async fn a_backup_pages_by_key(v: Variant) {
    if !v.available().await {
        return;
    }
    let Some(tdb) = TestDb::create(v.db).await else { return };
    let db = settle_store::connect(&tdb.url, 2).await.unwrap();
    settle_store::migration::up(&db).await.unwrap();
    let tables = settle_store::backup::tables();
    let table = |name: &str| tables.iter().find(|t| t.name == name).unwrap();
    let n = 2_345;
    let offsets: Vec<serde_json::Map<String, serde_json::Value>> = (0..n)
        .map(|i| {
            let name = match i % 3 {
                0 => format!("c-{i}"),
                1 => format!("C-{i}"),
                _ => format!("c-{i}-"),
            };
            json!({"consumer": name, "seq": i, "updated_at": 0}).as_object().unwrap().clone()
        })
        .collect();
    let events: Vec<serde_json::Map<String, serde_json::Value>> = (0..n)
        .map(|i| {
            json!({"id": i * 7 + 1, "merchant_id": DEMO_TENANT, "topic": "t", "aggregate_id": format!("a{i}"), "payload": "{}", "created_at": 0})
                .as_object()
                .unwrap()
                .clone()
        })
        .collect();
    let outbox_columns = &table("outbox").columns;
    let events: Vec<_> = events
        .into_iter()
        .map(|mut r| {
            for c in outbox_columns {
                r.entry(c.name.clone()).or_insert(serde_json::Value::Null);
            }
            r
        })
        .collect();
    for chunk in offsets.chunks(200) {
        table("consumer_offsets").write(db.writes(), chunk).await.unwrap();
    }
    for chunk in events.chunks(200) {
        table("outbox").write(db.writes(), chunk).await.unwrap();
    }
    let dir = TempDir::new();
    let m = backup::backup(&db, &dir.0.join("b"), None, &Quiet).await.unwrap();
    let files = files(&dir.0.join("b"));
    for name in ["consumer_offsets", "outbox"] {
        let rows: Vec<serde_json::Value> = files[name].lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), n as usize, "{name}: every row");
        assert_eq!(m.tables.iter().find(|t| t.name == name).unwrap().rows, n as u64);
        // In the database's own key order, each once: the whole table read in one query gives the same.
        let all = table(name).read(&db, None, 10 * n as u64).await.unwrap();
        let all: Vec<serde_json::Value> = all.into_iter().map(serde_json::Value::Object).collect();
        assert_eq!(rows, all, "{name}: paged by key reads as the whole table");
    }
    let _ = db.close().await;
    tdb.drop_now().await;
}

/// A backup (and `db stats`) runs under the permissions operators grant it on PostgreSQL: a role that may only
/// SELECT, and a session that may not write at all (a standby's `default_transaction_read_only`). A backup used to
/// run `CREATE TABLE IF NOT EXISTS` for the migration ledger and failed under both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_role_backs_up_on_postgres() {
    use settle_store::ConnectionTrait;
    let Some(app) = TestApp::spawn(Variant { db: Db::Postgres, cache: Cache::Memory }).await else { return };
    app.create_payment("ro-1").await;
    let (role, ro_url) = read_only_role(&app.ctx.db, &app.db.url, "backup").await;
    let ro = settle_store::connect(&ro_url, 2).await.unwrap();
    // It may read, and may not write.
    let write = ro.execute_unprepared("CREATE TABLE ro_probe (id INT)").await;
    assert!(write.is_err(), "the role cannot write");
    let dir = TempDir::new();
    let m = backup::backup(&ro, &dir.0.join("b"), None, &Quiet).await.expect("a read-only role backs up");
    assert_eq!(m.tables.iter().find(|t| t.name == "payments").unwrap().rows, 1);
    backup::verify(&dir.0.join("b"), Trust::default()).unwrap();
    // `settle db stats` reads under it too.
    let ctx = settle_app::Context::new(ro.clone(), settle_app::cache::PaymentCache::memory(), Default::default());
    let stats = ctx.db_stats().await.expect("a read-only role reads the database's statistics");
    assert!(stats.tables.iter().any(|t| t.name == "payments"), "{stats:?}");
    drop(ctx);
    ro.close().await.unwrap();
    drop_role(&app.ctx.db, &role).await;
    app.finish().await;
}

/// `--encrypt`: the table files are sealed under a key derived from the master key, so a backup handed to someone
/// shows no merchant's data; it verifies and restores under the master key (a rotated one too) and under no other,
/// and a file swapped for another's does not open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_encrypted_backup_shows_nothing_and_restores_under_the_master_key() {
    use settle_app::crypto::Keyring;
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let id = app.create_payment("enc-1").await["paymentId"].as_str().unwrap().to_owned();
    let (old_key, new_key) = (Keyring::generate(), Keyring::generate());
    let keys = Keyring::parse(&old_key).unwrap();
    let dir = TempDir::new();
    let sealed = dir.0.join("sealed");
    let m = backup::backup_with(&app.ctx.db, &sealed, Some(&keys), true, &Quiet).await.unwrap();
    assert_eq!(m.encryption.as_ref().map(|e| e.key_id.as_str()), Some(keys.current_id()));
    for t in &m.tables {
        assert!(t.file.ends_with(".ndjson.enc"), "{}", t.file);
        let bytes = std::fs::read(sealed.join(&t.file)).unwrap();
        for seen in [id.as_bytes(), b"mch_demo", b"enc-1"] {
            assert!(!bytes.windows(seen.len()).any(|w| w == seen), "{} shows {}", t.file, String::from_utf8_lossy(seen));
        }
    }
    let trust = |k| Trust { keys: Some(k), unsigned: false };
    let rotated = Keyring::parse(&format!("{new_key},{old_key}")).unwrap();
    assert!(backup::verify(&sealed, trust(&rotated)).unwrap().authenticated);
    let e = backup::verify(&sealed, Trust { keys: None, unsigned: true }).unwrap_err();
    assert!(e.to_string().contains("SETTLE_MASTER_KEY"), "{e}");
    let stranger = Keyring::parse(&new_key).unwrap();
    assert!(backup::verify(&sealed, Trust { keys: Some(&stranger), unsigned: true }).is_err(), "another master key opens nothing");

    // One table's file swapped for another's (the manifest and its signature untouched): it does not open.
    let swapped = copy_backup(&sealed, dir.0.join("swapped"));
    std::fs::copy(sealed.join("outbox.ndjson.enc"), swapped.join("payment_events.ndjson.enc")).unwrap();
    let e = backup::verify(&swapped, trust(&keys)).unwrap_err();
    assert!(e.to_string().contains("payment_events.ndjson.enc"), "{e}");

    // A table of another encrypted backup under the same key, its file and manifest entry both, and the signature
    // removed (whoever mixes them in cannot sign): refused, even when unsigned backups are accepted.
    let other = dir.0.join("other");
    let m2 = backup::backup_with(&app.ctx.db, &other, Some(&keys), true, &Quiet).await.unwrap();
    let mixed = copy_backup(&sealed, dir.0.join("mixed"));
    std::fs::copy(other.join("payments.ndjson.enc"), mixed.join("payments.ndjson.enc")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(mixed.join("manifest.json")).unwrap()).unwrap();
    let entry = m2.tables.iter().find(|t| t.name == "payments").unwrap();
    for t in manifest["tables"].as_array_mut().unwrap() {
        if t["name"] == "payments" {
            t["sha256"] = entry.sha256.clone().into();
            t["rows"] = entry.rows.into();
        }
    }
    std::fs::write(mixed.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let e = backup::verify(&mixed, trust(&keys)).unwrap_err();
    assert!(e.to_string().contains("does not match"), "the signature catches it: {e}");
    std::fs::remove_file(mixed.join("manifest.sig")).unwrap();
    let e = backup::verify(&mixed, Trust { keys: Some(&keys), unsigned: true }).unwrap_err();
    assert!(e.to_string().contains("not signed"), "an encrypted backup is always signed: {e}");

    let Some(target) = TestDb::create(Db::Sqlite).await else { return };
    let db = settle_store::connect(&target.url, 2).await.unwrap();
    let r = backup::restore(&db, &sealed, false, trust(&rotated), &Quiet).await.unwrap();
    assert!(r.authenticated && r.rows > 0);
    // The same rows as a backup not encrypted: the manifest's checksums are of the rows themselves.
    let plain = backup::backup(&db, &dir.0.join("plain"), None, &Quiet).await.unwrap();
    let sum = |m: &backup::Manifest, name: &str| m.tables.iter().find(|t| t.name == name).map(|t| (t.rows, t.sha256.clone())).unwrap();
    for name in ["payments", "payment_events", "outbox", "merchants"] {
        assert_eq!(sum(&m, name), sum(&plain, name), "{name}");
    }
    app.finish().await;
}
