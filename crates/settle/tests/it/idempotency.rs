use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use settle_app::idempotency::{self, Claim, IdemKey, Outcome, Reply, Start};

use crate::{helpers::*, matrix, per_db};

matrix!(fifty_concurrent_creates_with_one_key_make_one_payment, key_reuse_rules);
per_db!(
    a_takeover_read_before_a_bind_never_erases_it,
    a_copy_of_the_database_cannot_test_card_number_guesses,
    a_retry_with_a_rotated_api_key_replays,
    a_taken_over_claim_is_never_completed_by_its_first_owner,
    a_create_under_a_lost_claim_writes_nothing,
    a_dropped_request_frees_its_key_and_waiters_only_read
);

async fn fifty_concurrent_creates_with_one_key_make_one_payment(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let app = Arc::new(app);
    let body = TestApp::chain_payment("idem-1").to_string();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "key-one")]).await
        }));
    }
    let mut responses = Vec::new();
    for t in tasks {
        responses.push(t.await.unwrap());
    }
    for r in &responses {
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let first = &responses[0].text;
    assert!(responses.iter().all(|r| &r.text == first), "all 50 bodies are identical");
    let replayed = responses.iter().filter(|r| r.header("idempotent-replayed") == Some("true")).count();
    assert_eq!(replayed, 49, "one original, 49 replays");
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1, "exactly one payment");
    let list = app.get("/v1/payments?orderId=idem-1").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    let id = responses[0].body["paymentId"].as_str().unwrap();
    let ev = app.get(&format!("/v1/payments/{id}/events")).await;
    assert_eq!(ev.body["data"].as_array().unwrap().len(), 1, "one CREATED event");
    Arc::into_inner(app).unwrap().finish().await;
}

async fn key_reuse_rules(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.idempotency_wait = std::time::Duration::from_millis(0);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let body = TestApp::chain_payment("idem-2").to_string();
    let send = |b: String, key: &'static str| {
        let app = &app;
        async move { app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&b), &[("idempotency-key", key)]).await }
    };
    let first = send(body.clone(), "k2").await;
    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);

    // Same key, same body (keys in another order, other whitespace): the stored response, replayed.
    let reordered = {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut pairs: Vec<_> = v.as_object().unwrap().iter().collect();
        pairs.reverse();
        format!("{{ {} }}", pairs.iter().map(|(k, v)| format!("\"{k}\" : {v}")).collect::<Vec<_>>().join(" , "))
    };
    let again = send(reordered, "k2").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text);

    // Same key, another body: 422.
    let other = TestApp::chain_payment("idem-other").to_string();
    send(other, "k2").await.assert_error(422, "idempotency_key_reused");

    // The same key on another endpoint is another request too.
    let id = first.body["paymentId"].as_str().unwrap();
    let r = app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[("idempotency-key", "k2")]).await;
    r.assert_error(422, "idempotency_key_reused");

    // Keys are per merchant: another merchant's identical key is independent.
    let other_key = app.other_merchant("Other").await;
    let r = app.request(Method::POST, "/v1/payments", Some(&other_key), Some(&body), &[("idempotency-key", "k2")]).await;
    assert_eq!(r.status, 201);
    assert_ne!(r.body["paymentId"], first.body["paymentId"]);

    // Still in flight (claimed by a request that has not finished): 409.
    let held = claim(&app, "k3", "/v1/payments", &body).await;
    send(body.clone(), "k3").await.assert_error(409, "idempotency_in_flight");
    drop(held);

    // A failed request (duplicate order) keeps no record: a retry runs again and gets the same answer.
    let dup = send(body.clone(), "k4").await;
    dup.assert_error(409, "duplicate_order");
    send(body.clone(), "k4").await.assert_error(409, "duplicate_order");

    // Cancel with a key replays its 200.
    let c1 = app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[("idempotency-key", "c1")]).await;
    let c2 = app.request(Method::POST, &format!("/v1/payments/{id}/cancel"), Some(&app.key), Some("{}"), &[("idempotency-key", "c1")]).await;
    assert_eq!((c1.status.as_u16(), c2.status.as_u16()), (200, 200));
    assert_eq!(c2.header("idempotent-replayed"), Some("true"));
    assert_eq!(c1.text, c2.text);
    let ev = app.get(&format!("/v1/payments/{id}/events")).await;
    assert_eq!(ev.body["data"].as_array().unwrap().len(), 2, "CREATED and one CANCELLED");
    let _ = json!(null);
    app.finish().await;
}

/// Claims `key` for a request to `path` with `body`, as the demo merchant, the way a request does.
async fn claim(app: &TestApp, key: &str, path: &str, body: &str) -> Claim {
    try_claim(app, key, path, body).await.unwrap()
}

/// [`claim`], or the error `idempotency::start` answers (the key in flight).
async fn try_claim(app: &TestApp, key: &str, path: &str, body: &str) -> Result<Claim, settle_app::AppError> {
    let secret = idempotency::fingerprint_secrets(&app.ctx, DEMO_TENANT).await.unwrap();
    let k = IdemKey::new(key, &secret, "POST", path, body.as_bytes()).unwrap();
    match idempotency::start(&app.ctx, DEMO_TENANT, Some(k)).await? {
        Start::Run(c) => Ok(c),
        Start::Replay(_) => panic!("{key} was already used"),
    }
}

/// Fingerprints are keyed by the merchant's server-side secret, not by the API key: a merchant that rotates its
/// key mid-retry gets its stored response, not 422.
async fn a_retry_with_a_rotated_api_key_replays(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    let body = TestApp::chain_payment("idem-rotate").to_string();
    let first = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "rot-1")]).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let new_key = format!("sk_{}", "ab".repeat(32));
    let hash = settle_app::merchants::hash_key(&new_key);
    settle_store::merchants::add_key(&app.ctx.db, DEMO_TENANT, &hash, &new_key[..8], settle_store::now_ms()).await.unwrap();
    let again = app.request(Method::POST, "/v1/payments", Some(&new_key), Some(&body), &[("idempotency-key", "rot-1")]).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text);
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1, "one payment");
    // Another body under the key is still another request.
    let other = TestApp::chain_payment("idem-rotate-2").to_string();
    app.request(Method::POST, "/v1/payments", Some(&new_key), Some(&other), &[("idempotency-key", "rot-1")])
        .await
        .assert_error(422, "idempotency_key_reused");
    app.finish().await;
}

/// An app whose claims go stale after 300 ms, the body of a create for `order`, and two claims on `key` for it: the
/// first stalled past that and the second took it over.
async fn taken_over(v: Variant, key: &str, order: &str) -> Option<(TestApp, String, Claim, Claim)> {
    let mut setup = Setup::new(v);
    setup.settings.idempotency_stale = std::time::Duration::from_millis(300);
    setup.settings.idempotency_wait = std::time::Duration::from_millis(0);
    let app = TestApp::spawn_with(setup).await?;
    let body = TestApp::chain_payment(order).to_string();
    let first = claim(&app, key, "/v1/payments", &body).await;
    // In flight while the first claim is fresh; taken over once it is stale.
    let second = eventually(std::time::Duration::from_secs(10), "the stalled claim is taken over", async || {
        match try_claim(&app, key, "/v1/payments", &body).await {
            Ok(c) => Some(c),
            Err(settle_app::AppError::IdempotencyInFlight) => None,
            Err(e) => panic!("claiming {key}: {e}"),
        }
    })
    .await;
    Some((app, body, first, second))
}

/// A claim that stalls past `idempotency_stale` is taken over; its first owner can then no longer complete it,
/// so the second owner's response is the one every retry gets.
async fn a_taken_over_claim_is_never_completed_by_its_first_owner(v: Variant) {
    let Some((app, body, first, second)) = taken_over(v, "tk-1", "idem-takeover").await else { return };
    let answer = |b: &str| Reply { outcome: Outcome::Created, body: b.to_owned(), replayed: false };

    let txn = settle_store::begin(&app.ctx.db).await.unwrap();
    second.complete_in(&txn, &answer(r#"{"by":"second"}"#)).await.unwrap();
    txn.commit().await.unwrap();
    second.committed();

    let txn = settle_store::begin(&app.ctx.db).await.unwrap();
    let late = first.complete_in(&txn, &answer(r#"{"by":"first"}"#)).await;
    assert!(matches!(late, Err(settle_app::AppError::IdempotencyInFlight)), "the first owner lost its claim: {late:?}");
    drop(txn);
    // The first owner gives its claim back, as dropping it does (in a task of its own), and that is done: it leaves
    // the second owner's record alone.
    first.release().await;
    drop(first);

    let r = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "tk-1")]).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (201, r#"{"by":"second"}"#), "the second owner's response stands");
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 0, "the test wrote no payment");
    app.finish().await;
}

/// A create's one write (the payment, its event, its outbox row, the record's answer: one statement on PostgreSQL,
/// one transaction elsewhere) under a claim another request has taken over writes nothing at all; under the
/// owner's claim it writes all four.
async fn a_create_under_a_lost_claim_writes_nothing(v: Variant) {
    let Some((app, _, first, second)) = taken_over(v, "lw-1", "idem-lost").await else { return };
    let reply = |b: &str| Reply { outcome: Outcome::Created, body: b.to_owned(), replayed: false };
    let written = |id: String| {
        let app = &app;
        async move {
            app.drain_outbox().await;
            let events = settle_store::payments::events(&app.ctx.db, &id).await.unwrap().len();
            let outbox = settle_store::outbox::read_after(&app.ctx.db, DEMO_TENANT, 0, 1000).await.unwrap();
            (events, outbox.iter().filter(|r| r.aggregate_id == id).count())
        }
    };

    let late = card_row("lost-claim-1");
    let (late_reply, late_id) = (reply(r#"{"by":"first"}"#), late.payment_id.clone());
    let out = settle_store::payments::insert_published(&app.ctx.db, &late, &serde_json::json!({}), first.completion(&late_reply)).await.unwrap();
    assert_eq!(out, None, "the first owner lost its claim");
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 0, "no payment");
    assert_eq!(written(late_id).await, (0, 0), "no event, no outbox row");
    assert_eq!(record(&app, "lw-1").await.expect("record").state, settle_store::idempotency::IN_FLIGHT, "the record is the second owner's");

    let mine = card_row("lost-claim-2");
    let (my_reply, my_id) = (reply(r#"{"by":"second"}"#), mine.payment_id.clone());
    let out = settle_store::payments::insert_published(&app.ctx.db, &mine, &serde_json::json!({}), second.completion(&my_reply)).await.unwrap();
    assert!(out.is_some(), "the owner's write goes through");
    second.committed();
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1);
    assert_eq!(written(my_id).await, (1, 1), "its event and its outbox row");
    let done = record(&app, "lw-1").await.expect("record");
    assert_eq!((done.state.as_str(), done.response_body.as_deref()), (settle_store::idempotency::DONE, Some(r#"{"by":"second"}"#)));
    drop(first);
    app.finish().await;
}

/// A request dropped midway (its client gone) gives its key back at once, not after `idempotency_stale`; and a
/// request waiting on a key held by another reads the record while it waits, never re-inserting it.
async fn a_dropped_request_frees_its_key_and_waiters_only_read(v: Variant) {
    let mut setup = Setup::new(v);
    setup.settings.idempotency_wait = std::time::Duration::from_millis(600);
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let body = TestApp::chain_payment("idem-drop").to_string();
    let send = || app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "dr-1")]);

    let held = claim(&app, "dr-1", "/v1/payments", &body).await;
    let first_id = record(&app, "dr-1").await.expect("claimed").id;
    // Held for the whole wait: 409 after waiting, having only read the record.
    send().await.assert_error(409, "idempotency_in_flight");
    drop(held);
    eventually(std::time::Duration::from_secs(5), "a dropped claim is released at once", async || record(&app, "dr-1").await.is_none().then_some(()))
        .await;
    let r = send().await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1);
    if v.db == Db::Postgres {
        // Each INSERT, failed or not, takes a sequence value: the waiter tried once (its claim), then only read;
        // the retry's claim took the next.
        let id = record(&app, "dr-1").await.expect("completed").id;
        assert_eq!(id, first_id + 2, "the waiter inserted the key {} times", id - first_id - 1);
    }
    app.finish().await;
}

/// SQLite: a failed request gives its key back even when the write queue is full at that moment. The release is
/// refused (retryable) while the write turn is held and the queue's one place taken, waits, and goes through once
/// they empty; a retry of the request then runs afresh and makes the one payment. Were the refusal taken as final,
/// the key would stay held and refuse every retry 409 until it went stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_is_given_back_through_a_full_write_queue() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.sqlite_writer = Some(settle_store::connect::WriterSettings { queue: 1, group: 1, ..Default::default() });
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    let body = TestApp::chain_payment("idem-full-queue").to_string();
    // The app's workers write too, through the same queue of one: the test's own writes are tried until they are not
    // refused.
    let wait = std::time::Duration::from_secs(10);
    let held = eventually(wait, "the claim", async || match try_claim(&app, "fq-1", "/v1/payments", &body).await {
        Ok(c) => Some(c),
        Err(settle_app::AppError::Retryable(_)) => None,
        Err(e) => panic!("claiming: {e}"),
    })
    .await;

    // The write turn held, and the queue's one place taken: by this waiter, or by a worker's write before it (then
    // this one is refused, and the queue is full all the same). Another write is refused at once: the sign it is full.
    let turn = eventually(wait, "the write turn", async || match settle_store::begin(&app.ctx.db).await {
        Ok(t) => Some(t),
        Err(settle_store::StoreError::Retryable(_)) => None,
        Err(e) => panic!("beginning: {e}"),
    })
    .await;
    let db = app.ctx.db.clone();
    let waiter = spawn_polled(async move { settle_store::begin(&db).await.map(drop) }).await;
    let refused = settle_store::begin(&app.ctx.db).await;
    assert!(matches!(refused, Err(settle_store::StoreError::Retryable(_))), "the queue is full: {:?}", refused.map(drop));

    // The request failed: its key is given back, as `idempotency::once` does. Its first try was refused in its first poll.
    let release = spawn_polled(async move { held.release().await }).await;
    assert!(!release.is_finished(), "the refused release waits to try again");
    assert!(record(&app, "fq-1").await.is_some(), "the key is still held while the queue is full");
    turn.commit().await.unwrap();
    let _ = waiter.await.unwrap();
    release.await.unwrap();
    assert!(record(&app, "fq-1").await.is_none(), "the key was given back once the queue emptied");

    let r = unless_busy(|| app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "fq-1")])).await;
    assert_eq!(r.status, 201, "a retry runs afresh: {}", r.text);
    assert_eq!(r.header("idempotent-replayed"), None);
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 1, "one payment");
    app.finish().await;
}

async fn record(app: &TestApp, key: &str) -> Option<settle_store::idempotency::IdempotencyRow> {
    settle_store::idempotency::find(&app.ctx.db, DEMO_TENANT, key).await.unwrap()
}

/// What a copy of the database (or of a backup) holds must not let anyone test card-number guesses against a
/// stored fingerprint. With `SETTLE_MASTER_KEY`, the fingerprint keys are derived from it and no secret the database
/// holds reproduces a fingerprint: a brute force over the 10^6 numbers sharing the card's BIN and last four finds
/// nothing. Without one (the key is in the database, and Settle warns at start) the same search finds the card,
/// which is why a production deploy sets it. The recorded answer of a chain payment's create holds its client
/// secret sealed, and a replay opens it again.
async fn a_copy_of_the_database_cannot_test_card_number_guesses(v: Variant) {
    use hmac::Mac;
    for master in [true, false] {
        let mut setup = Setup::new(v);
        if master {
            setup.settings.keyring = Some(Arc::new(settle_app::crypto::Keyring::parse(&settle_app::crypto::Keyring::generate()).unwrap()));
        }
        let Some(app) = TestApp::spawn_with(setup).await else { return };
        let id = app.create_card_payment("brute-force", 15_000).await;
        let r = app.pay(&id, "SAMSUNG", crate::card::CARD, Some("bf-key")).await;
        assert!(r.status.is_success() || r.status == 402, "{}", r.text);
        // Everything the database holds: the fingerprint, every secret on the merchant, the card's last four.
        let stored = settle_store::idempotency::find(&app.ctx.db, DEMO_TENANT, "bf-key").await.unwrap().unwrap().request_hash;
        let merchant = settle_store::merchants::find(&app.ctx.db, DEMO_TENANT).await.unwrap().unwrap();
        let last4 = settle_store::payments::find_any(&app.ctx.db, &id).await.unwrap().unwrap().card_last4.unwrap();
        let secrets: Vec<Vec<u8>> = merchant.idem_secret.iter().map(|s| hex::decode(s).unwrap()).collect();
        let path = format!("POST /v1/payments/{id}/card\n");
        let mut found = None;
        let mut tries = 0u64;
        for secret in &secrets {
            let outer = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap();
            for middle in 0..1_000_000u32 {
                let pan = format!("411111{middle:06}{last4}");
                let mut d = outer.clone();
                d.update(b"settle/card-number\0");
                d.update(pan.as_bytes());
                let canonical = format!(r#"{{"cardNo":"pan:{}","cardType":"SAMSUNG"}}"#, hex::encode(d.finalize().into_bytes()));
                let mut f = outer.clone();
                f.update(path.as_bytes());
                f.update(canonical.as_bytes());
                tries += 1;
                if hex::encode(f.finalize().into_bytes()) == stored {
                    found = Some(pan);
                    break;
                }
            }
        }
        if master {
            assert_eq!(found, None, "the card was found from the database alone after {tries} tries");
            assert!(merchant.idem_secret.is_none(), "no fingerprint secret is stored with a master key");
            // A chain payment's recorded answer holds its client secret sealed; the replay answers it open.
            let body = TestApp::chain_payment("bf-chain").to_string();
            let first = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "bf-chain")]).await;
            let secret = first.body["clientSecret"].as_str().unwrap().to_owned();
            let rec = settle_store::idempotency::find(&app.ctx.db, DEMO_TENANT, "bf-chain").await.unwrap().unwrap();
            assert!(!rec.response_body.unwrap_or_default().contains(&secret), "the recorded answer holds the client secret");
            let again = app.request(Method::POST, "/v1/payments", Some(&app.key), Some(&body), &[("idempotency-key", "bf-chain")]).await;
            assert_eq!((again.header("idempotent-replayed"), again.body["clientSecret"].as_str()), (Some("true"), Some(secret.as_str())));
        } else {
            assert_eq!(found.as_deref(), Some("4111111111111111"), "keyed by a secret in the database, the card is found ({tries} tries)");
        }
        app.finish().await;
    }
}

/// A retry that read a claim as stale (its request slow, not dead) before that request bound the key and committed
/// must not take the key over: its UPDATE, landing after the bind, would erase the binding and run the order again.
/// The takeover matches the row exactly as read (a bind moves `locked_at`; owner and resource are matched too).
async fn a_takeover_read_before_a_bind_never_erases_it(v: Variant) {
    use settle_store::idempotency as store;
    let Some(app) = TestApp::spawn(v).await else { return };
    let db = &app.ctx.db;
    let long_ago = settle_store::now_ms() - 3_600_000;
    let ttl = 86_400_000;
    let claimed = store::claim(db, DEMO_TENANT, "slow", "h", &["h".to_owned()], "owner-a", long_ago, ttl, 60_000).await.unwrap();
    assert!(matches!(claimed, store::Claim::Claimed { resource: None }));
    // The retry reads the claim: stale by its clock.
    let read = store::find(db, DEMO_TENANT, "slow").await.unwrap().unwrap();
    // The slow owner binds its order and commits.
    assert!(store::bind(db, DEMO_TENANT, "slow", "owner-a", "order:ord_first").await.unwrap());
    // The retry's takeover, from what it read, lands after: it must match nothing.
    assert!(!store::take_over(db, &read, None, "h", "owner-b", settle_store::now_ms(), ttl).await.unwrap(), "the bind was erased");
    let row = store::find(db, DEMO_TENANT, "slow").await.unwrap().unwrap();
    assert_eq!((row.owner.as_deref(), row.resource.as_deref()), (Some("owner-a"), Some("order:ord_first")));
    // Read again now, the claim is alive (the bind moved it): a retry waits, and takes it over only with its binding.
    let again = store::claim(db, DEMO_TENANT, "slow", "h", &["h".to_owned()], "owner-b", settle_store::now_ms(), ttl, 60_000).await.unwrap();
    assert!(matches!(again, store::Claim::Existing(_)), "a live bound claim is not taken over");
    app.finish().await;
}
