//! Hosted checkout sessions: a merchant opens a PENDING payment to its payer (`POST /v1/checkout-sessions`) with
//! redirect URLs on the hosts it registered; the session id opens that one payment (reading it, paying it by card on
//! the payer's side) and nothing else; once the payment is COMPLETED the way back carries a signature the merchant
//! verifies with its checkout secret, and a forged one does not verify.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

async fn allow_hosts(app: &TestApp, hosts: &[&str]) {
    let changes =
        settle_app::merchants::MerchantChanges { redirect_hosts: Some(hosts.iter().map(|h| (*h).to_owned()).collect()), ..Default::default() };
    let m = settle_app::merchants::update(&app.ctx, "mch_demo", changes).await.unwrap();
    assert_eq!(m.redirect_hosts.len(), hosts.len());
}

async fn session(app: &TestApp, body: &Value, key: &str) -> Resp {
    app.request(Method::POST, "/v1/checkout-sessions", Some(&app.key), Some(&body.to_string()), &[("idempotency-key", key)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_session_opens_one_payment_to_its_payer_and_signs_the_way_back() {
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let created = app
        .post("/v1/payments", &json!({"orderId": "cs-card", "amount": "9000", "currency": "KRW", "rail": "CARD", "metadata": {"margin": "31%"}}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let card = created.body["paymentId"].as_str().unwrap().to_owned();
    let other = app.create_card_payment("cs-other", 100).await;
    let body = json!({"paymentId": card, "successUrl": "https://shop.example/paid?order=7", "cancelUrl": "https://shop.example/cart"});
    // No host registered yet: refused, naming the field; nothing recorded.
    assert_eq!(session(&app, &body, "cs-1").await.assert_error(400, "parameter_invalid").as_deref(), Some("successUrl"));
    allow_hosts(&app, &["shop.example", "localhost"]).await;
    let r = session(&app, &body, "cs-2").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cs_") && r.body["url"].as_str().unwrap().ends_with(&format!("/checkout/{id}")), "{}", r.text);
    assert_eq!(session(&app, &body, "cs-2").await.body["id"], id.as_str(), "a retry with the same key is the same session");

    // Bad input: 400 naming the field; another merchant's or unknown payment: 404.
    let bad = [
        ("successUrl", json!({"successUrl": "http://shop.example/paid"})),
        ("cancelUrl", json!({"cancelUrl": "https://evil.example/"})),
        ("successUrl", json!({"successUrl": "/paid"})),
        ("locale", json!({"locale": "fr"})),
    ];
    for (i, (field, change)) in bad.into_iter().enumerate() {
        let mut b = body.clone();
        b.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
        assert_eq!(session(&app, &b, &format!("cs-bad-{i}")).await.assert_error(400, "parameter_invalid").as_deref(), Some(field), "{b}");
    }
    let mut unknown = body.clone();
    unknown["paymentId"] = json!(format!("0x{}", "ab".repeat(32)));
    session(&app, &unknown, "cs-unknown").await.assert_error(404, "payment_not_found");
    let local = json!({"paymentId": other, "successUrl": "http://localhost:8080/paid", "cancelUrl": "http://localhost:8080/cart", "locale": "ko"});
    assert_eq!(session(&app, &local, "cs-local").await.status, 201, "http on localhost");

    // What the page reads with the session id alone.
    let page = app.request(Method::GET, &format!("/v1/checkout/{id}"), None, None, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let got = (page.body["merchantName"].as_str(), page.body["amount"].as_str(), page.body["rail"].as_str(), page.body["status"].as_str());
    assert_eq!(got, (Some("Demo Shop"), Some("9000"), Some("CARD"), Some("PENDING")), "{}", page.text);
    assert_eq!((page.body["cancelUrl"].as_str(), page.body["expired"].as_bool()), (Some("https://shop.example/cart"), Some(false)));
    let nobody = format!("/v1/checkout/cs_{}", "0".repeat(32));
    app.request(Method::GET, &nobody, None, None, &[]).await.assert_error(404, "not_found");

    // The session id opens its payment, and nothing else.
    let own = app.request(Method::GET, &format!("/v1/payments/{card}"), Some(id.as_str()), None, &[]).await;
    assert_eq!((own.status.as_u16(), own.body["status"].as_str()), (200, Some("PENDING")), "{}", own.text);
    assert_eq!(own.body["metadata"], json!({}), "the merchant's metadata is not the payer's: {}", own.text);
    app.request(Method::GET, &format!("/v1/payments/{other}"), Some(id.as_str()), None, &[]).await.assert_error(401, "unauthorized");
    app.request(Method::GET, "/v1/payments", Some(id.as_str()), None, &[]).await.assert_error(401, "unauthorized");
    app.request(Method::GET, &format!("/v1/checkout/{id}/return"), None, None, &[]).await.assert_error(409, "invalid_state");

    // An expired session reads its payment and pays nothing.
    let expired =
        session(&app, &json!({"paymentId": other, "successUrl": "https://shop.example/p", "cancelUrl": "https://shop.example/c"}), "cs-exp").await;
    let expired = expired.body["id"].as_str().unwrap().to_owned();
    let sql = format!("UPDATE checkout_sessions SET expires_at = 1 WHERE session_id = '{expired}'");
    settle_store::ConnectionTrait::execute_unprepared(app.ctx.db.writes(), &sql).await.unwrap();
    let card_body = json!({"cardType": "SAMSUNG", "cardNo": "4111-1111-1111-1111"}).to_string();
    let late = app.request(Method::POST, &format!("/v1/payments/{other}/card"), Some(expired.as_str()), Some(&card_body), &[]).await;
    late.assert_error(409, "invalid_state");
    assert_eq!(app.request(Method::GET, &format!("/v1/payments/{other}"), Some(expired.as_str()), None, &[]).await.status, 200);
    assert_eq!(app.get(&format!("/v1/payments/{other}")).await.body["status"], "PENDING", "nothing was charged");

    // The payer pays by card on Settle's side, with the session id: the merchant's server never sees the number.
    let paid = app.request(Method::POST, &format!("/v1/payments/{card}/card"), Some(id.as_str()), Some(&card_body), &[]).await;
    assert_eq!(paid.status, 202, "{}", paid.text);
    assert_eq!(paid.body["metadata"], json!({}), "the payer's answer holds none of the merchant's metadata: {}", paid.text);
    eventually(std::time::Duration::from_secs(20), "the card payment completes", async || {
        (app.get(&format!("/v1/payments/{card}")).await.body["status"] == "COMPLETED").then_some(())
    })
    .await;

    // The way back, signed: it verifies with the merchant's checkout secret, and a forged one does not.
    let back = app.request(Method::GET, &format!("/v1/checkout/{id}/return"), None, None, &[]).await;
    assert_eq!(back.status, 200, "{}", back.text);
    let url = reqwest::Url::parse(back.body["url"].as_str().unwrap()).unwrap();
    assert_eq!((url.host_str(), url.path()), (Some("shop.example"), "/paid"));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!((q["order"].as_str(), q["session_id"].as_str(), q["payment_id"].as_str()), ("7", id.as_str(), card.as_str()));
    let secret = app.get("/v1/checkout-secret").await.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    // A test key's secret (the demo key is one) is its mode's: it never tells the live one.
    let live = settle_app::checkout::secret(&app.ctx, "mch_demo").await.unwrap();
    assert_ne!(live, secret, "test and live modes sign with different keys");
    assert_eq!(app.get("/v1/checkout-secret").await.body["secret"], secret.as_str(), "the same secret every time");
    let ts: i64 = q["timestamp"].parse().unwrap();
    assert_eq!(settle_app::checkout::signature(&secret, &id, &card, ts).as_deref(), Some(q["signature"].as_str()));
    assert_ne!(settle_app::checkout::signature(&secret, &id, &other, ts).as_deref(), Some(q["signature"].as_str()), "another payment's is forged");
    // The page's QR library is the vendored one, byte for byte (assets/checkout/vendor/SHA256SUMS); the
    // embeddable button's script is served to pages of any origin.
    let vendored = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../settle-api/assets/checkout/vendor");
    let sums = std::fs::read_to_string(vendored.join("SHA256SUMS")).unwrap();
    let (sum, name) = sums.trim().split_once("  ").unwrap();
    let served = app.client.get(format!("{}/checkout/assets/{name}", app.base)).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(served.as_ref(), std::fs::read(vendored.join(name)).unwrap().as_slice(), "{name} is served as vendored");
    assert_eq!(hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &served))), sum, "{name}: SHA256SUMS");
    let embed = app.client.get(format!("{}/v1/checkout.js", app.base)).send().await.unwrap();
    assert_eq!(embed.headers()["cross-origin-resource-policy"], "cross-origin");
    assert!(embed.text().await.unwrap().contains("Settle = Object.assign"));
    // A merchant's read of the session; a session for a COMPLETED payment is refused.
    let read = app.get(&format!("/v1/checkout-sessions/{id}")).await;
    assert_eq!((read.status.as_u16(), read.body["paymentId"].as_str()), (200, Some(card.as_str())), "{}", read.text);
    session(&app, &body, "cs-after").await.assert_error(409, "invalid_state");
    app.finish().await;
}

crate::per_db!(a_session_that_creates_its_payment_creates_it_once_when_the_step_after_fails);

/// A session may create its payment (`payment`, the fields of `POST /v1/payments`). When the session's recording
/// fails after the payment committed, the retry with the same Idempotency-Key finds that payment: one payment, one
/// session. Bad payment fields are 400 naming the field and create nothing; the longest Idempotency-Key works too
/// (the payment's key derived from it fits the column on every backend).
async fn a_session_that_creates_its_payment_creates_it_once_when_the_step_after_fails(v: Variant) {
    let Some(app) = TestApp::spawn(v).await else { return };
    allow_hosts(&app, &["shop.example"]).await;
    let payment = json!({"orderId": "cs-new", "amount": "12000", "currency": "KRW", "rail": "CARD", "metadata": {"cart": "7"}});
    let body = json!({"payment": payment, "successUrl": "https://shop.example/paid", "cancelUrl": "https://shop.example/cart"});
    let count = async |sql: &str| {
        let backend = settle_store::ConnectionTrait::get_database_backend(app.ctx.db.writes());
        let stmt = settle_store::Statement::from_string(backend, sql.to_owned());
        let row = settle_store::ConnectionTrait::query_one_raw(app.ctx.db.writes(), stmt).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    let exec = async |sql: &str| settle_store::ConnectionTrait::execute_unprepared(app.ctx.db.writes(), sql).await.unwrap();

    // Bad input: 400 naming the field, nothing created.
    let mut bad = body.clone();
    bad["payment"]["amount"] = json!("12.5");
    assert_eq!(session(&app, &bad, "cs-new-bad").await.assert_error(400, "parameter_invalid").as_deref(), Some("amount"));
    let mut both = body.clone();
    both["paymentId"] = json!(format!("0x{}", "ab".repeat(32)));
    assert_eq!(session(&app, &both, "cs-new-both").await.assert_error(400, "parameter_invalid").as_deref(), Some("payment"));
    let neither = json!({"successUrl": "https://shop.example/paid", "cancelUrl": "https://shop.example/cart"});
    assert_eq!(session(&app, &neither, "cs-new-none").await.status, 400);
    assert_eq!(count("SELECT COUNT(*) FROM payments WHERE order_id = 'cs-new'").await, 0);

    // The session's recording fails after the payment committed (its table is away): an error, and the payment stays.
    exec("ALTER TABLE checkout_sessions RENAME TO checkout_sessions_away").await;
    let failed = session(&app, &body, "cs-new-1").await;
    exec("ALTER TABLE checkout_sessions_away RENAME TO checkout_sessions").await;
    assert!(failed.status.is_server_error(), "{} {}", failed.status, failed.text);
    assert_eq!(count("SELECT COUNT(*) FROM payments WHERE order_id = 'cs-new'").await, 1);

    // The retry: the same payment, now with its session; once more, the same session.
    let r = session(&app, &body, "cs-new-1").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let again = session(&app, &body, "cs-new-1").await;
    assert_eq!((again.body["id"].as_str(), again.body["paymentId"].as_str()), (r.body["id"].as_str(), r.body["paymentId"].as_str()));
    assert_eq!(count("SELECT COUNT(*) FROM payments WHERE order_id = 'cs-new'").await, 1, "one payment");
    assert_eq!(count("SELECT COUNT(*) FROM checkout_sessions WHERE payment_id IN (SELECT payment_id FROM payments WHERE order_id = 'cs-new')").await, 1, "one session");
    let paid = app.get(&format!("/v1/payments/{}", r.body["paymentId"].as_str().unwrap())).await;
    assert_eq!((paid.body["amount"].as_str(), paid.body["metadata"]["cart"].as_str()), (Some("12000"), Some("7")), "{}", paid.text);
    // The page reads it.
    let page = app.request(Method::GET, &format!("/v1/checkout/{}", r.body["id"].as_str().unwrap()), None, None, &[]).await;
    assert_eq!((page.body["amount"].as_str(), page.body["status"].as_str()), (Some("12000"), Some("PENDING")), "{}", page.text);
    // The longest key a client may send.
    let mut long = body.clone();
    long["payment"]["orderId"] = json!("cs-new-long");
    let r = session(&app, &long, &"k".repeat(255)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(session(&app, &long, &"k".repeat(255)).await.body["id"], r.body["id"]);
    app.finish().await;
}

/// A payment's stream (`GET /v1/payments/{id}/stream`), as the payer's page reads it with its session: the payment
/// as it stands (without the merchant's metadata), then each change, ending once it is final. Another payment's
/// session is refused; one payment has at most three streams on an instance, and payment streams have a budget of
/// their own: however many a merchant's payers open, the merchant's own event stream still opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payments_stream_follows_it_for_its_payer_until_it_is_final() {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    setup.settings.sse_max_streams = 3;
    setup.settings.sse_max_per_merchant = 1;
    let Some(app) = TestApp::spawn_with(setup).await else { return };
    allow_hosts(&app, &["shop.example"]).await;
    let mut ids = Vec::new();
    for (i, order) in ["stream-1", "stream-2"].into_iter().enumerate() {
        let payment = json!({"orderId": order, "amount": "5000", "currency": "KRW", "rail": "CARD", "metadata": {"cart": "9"}});
        let body = json!({"payment": payment, "successUrl": "https://shop.example/paid", "cancelUrl": "https://shop.example/cart"});
        let r = session(&app, &body, &format!("stream-{i}")).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push((r.body["paymentId"].as_str().unwrap().to_owned(), r.body["id"].as_str().unwrap().to_owned()));
    }
    let ((payment, session_id), (other, other_session)) = (ids[0].clone(), ids[1].clone());
    let path = format!("/v1/payments/{payment}/stream");
    app.request(Method::GET, &path, Some(other_session.as_str()), None, &[]).await.assert_error(401, "unauthorized");
    app.request(Method::GET, &path, None, None, &[]).await.assert_error(401, "unauthorized");

    let mut rx = crate::sse::open_path(&app, &path, &session_id, None).await;
    let first = crate::sse::next(&mut rx).await;
    assert_eq!((first.event.as_str(), first.data["payment"]["status"].as_str()), ("payment", Some("PENDING")), "{:?}", first.data);
    assert_eq!(first.data["payment"]["metadata"], json!({}), "the payer's stream holds none of the merchant's metadata");
    // Three streams of one payment; the fourth is refused, and so is another payment's once the instance's payment
    // streams (3 here) are taken; the merchant's own event stream still opens (its budget is apart).
    let more = [crate::sse::open_path(&app, &path, &session_id, None).await, crate::sse::open_path(&app, &path, &session_id, None).await];
    app.request(Method::GET, &path, Some(session_id.as_str()), None, &[]).await.assert_error(429, "too_many_streams");
    let other_path = format!("/v1/payments/{other}/stream");
    app.request(Method::GET, &other_path, Some(other_session.as_str()), None, &[]).await.assert_error(429, "too_many_streams");
    let merchants = crate::sse::open(&app, None).await;
    app.request(Method::GET, "/v1/events/stream", Some(&app.key), None, &[]).await.assert_error(429, "too_many_streams");
    drop((more, merchants));

    // Paid: the stream says each change, and ends after the final one.
    let card = json!({"cardType": "KB", "cardNo": "4111-1111-1111-1111"}).to_string();
    let paid = app.request(Method::POST, &format!("/v1/payments/{payment}/card"), Some(session_id.as_str()), Some(&card), &[]).await;
    assert_eq!(paid.status, 202, "{}", paid.text);
    let mut seen = vec!["PENDING".to_owned()];
    while seen.last().map(String::as_str) != Some("COMPLETED") {
        let e = crate::sse::next(&mut rx).await;
        seen.push(e.data["payment"]["status"].as_str().unwrap_or_default().to_owned());
    }
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "each event is a change: {seen:?}");
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.expect("the stream ends");
    assert!(end.is_none(), "nothing after the final status: {end:?}");

    // The merchant's key reads the whole payment, and a final payment's stream is one event.
    let mut rx = crate::sse::open_path(&app, &path, &app.key, None).await;
    let only = crate::sse::next(&mut rx).await;
    assert_eq!((only.data["payment"]["status"].as_str(), only.data["payment"]["metadata"]["cart"].as_str()), (Some("COMPLETED"), Some("9")));
    assert!(tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await.expect("the stream ends").is_none());
    app.finish().await;
}

/// Anvil's fifth dev account (unlocked: anvil signs for it), the hosted page's payer.
const PAYER: &str = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

/// The hosted page in Debian's Chromium (tests/browser/checkout.mjs), keyboard only: a payer holding tokens and no
/// ETH pays a CHAIN payment with a wallet that starts on another network and whose first signature request it
/// rejects; a CARD payment is paid on the page after a bad number is refused there. Both end COMPLETED and send the
/// payer back to the merchant with a signature that verifies; the payer still holds no ETH (Settle paid the gas).
/// A payment above the payer's balance, an expired session and a declined card are explained and charge nothing.
/// The embeddable button (`/v1/checkout.js`) on the merchant's page, in a popup and in an overlay iframe, resolves
/// with the signed way back; the page is framed only by, and talks only to, an origin on the merchant's hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payer_pays_on_the_hosted_page_with_a_wallet_and_by_card_in_chromium() {
    use settle_chain::{U256, deploy};
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("SETTLE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() || !browser_dir.join("node_modules/playwright-core").exists() {
        unavailable("chromium and playwright-core", "are not installed (scripts/test installs them)");
        return;
    }
    let Some(anvil) = crate::chain::Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let key = crate::chain::key;
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let mut setup = crate::chain_faults::setup_on(&anvil.url, |_| {});
    setup.card.knobs = settle_card::sim::Knobs { decline_above: Some(50_000), ..settle_card::sim::Knobs::calm() };
    let app = TestApp::spawn_with(setup).await.unwrap();
    let payer: settle_chain::Address = PAYER.parse().unwrap();
    deploy::mint(&rpc, &key(0), TOKEN.parse().unwrap(), payer, U256::from(10_000)).await.unwrap();
    let _: Value = rpc.call("anvil_setBalance", json!([PAYER, "0x0"])).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let origin = format!("http://127.0.0.1:{port}");
    allow_hosts(&app, &["127.0.0.1"]).await;
    let chain_payment = app.create_payment("hosted-chain").await["paymentId"].as_str().unwrap().to_owned();
    let mut short = TestApp::chain_payment("hosted-short");
    short["amount"] = json!("1000000");
    let short = app.post("/v1/payments", &short).await.body["paymentId"].as_str().unwrap().to_owned();
    let mut payments = serde_json::Map::new();
    payments.insert("chain".into(), json!(chain_payment));
    payments.insert("short".into(), json!(short));
    for (name, amount) in [("card", 9000), ("expired", 9000), ("declined", 60_000), ("popup", 7000), ("overlay", 8000)] {
        payments.insert(name.into(), json!(app.create_card_payment(&format!("hosted-{name}"), amount).await));
    }
    let mut sessions = serde_json::Map::new();
    payments.insert("korean".into(), json!(short));
    for (name, payment) in &payments {
        let locale = if name == "korean" { json!("ko") } else { json!(null) };
        let body = json!({"paymentId": payment, "successUrl": format!("{origin}/paid"), "cancelUrl": format!("{origin}/cart"), "locale": locale});
        let r = session(&app, &body, &format!("hosted-{name}")).await;
        assert_eq!(r.status, 201, "{}", r.text);
        sessions.insert(name.clone(), r.body["id"].clone());
    }
    let sql = format!("UPDATE checkout_sessions SET expires_at = 1 WHERE session_id = '{}'", sessions["expired"].as_str().unwrap());
    settle_store::ConnectionTrait::execute_unprepared(app.ctx.db.writes(), &sql).await.unwrap();
    // The page may be framed by, and tells its outcome to, a merchant page on the merchant's hosts only.
    let framed = |origin: &str| {
        let url = format!("{}/checkout/{}?embed=overlay&origin={origin}", app.base, sessions["overlay"].as_str().unwrap());
        async move { reqwest::get(url).await.unwrap().headers()["content-security-policy"].to_str().unwrap().to_owned() }
    };
    assert!(framed(&origin).await.ends_with(&format!("frame-ancestors {origin}")));
    assert!(framed("https://evil.example").await.ends_with("frame-ancestors 'none'"));
    let evil = format!("/v1/checkout/{}?origin=https://evil.example", sessions["overlay"].as_str().unwrap());
    assert_eq!(app.request(Method::GET, &evil, None, None, &[]).await.body.get("embedOrigin"), None);
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join("checkout.mjs"))
        .args([&app.base, &Value::Object(sessions.clone()).to_string(), &anvil.url, PAYER, &origin])
        .arg(&artifacts)
        .env("SETTLE_CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(150), run).await.expect("the browser test ends").expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    let secret = app.get("/v1/checkout-secret").await.body["secret"].as_str().unwrap().to_owned();
    for (field, name) in [("chainReturn", "chain"), ("cardReturn", "card"), ("popup", "popup"), ("overlay", "overlay")] {
        let (session_id, payment) = (sessions[name].as_str().unwrap(), payments[name].as_str().unwrap());
        let url = match &summary[field] {
            // The embeddable button's promise: completed, with the signed way back.
            Value::Object(r) => {
                assert_eq!(
                    (r["status"].as_str(), r["sessionId"].as_str(), r["paymentId"].as_str()),
                    (Some("completed"), Some(session_id), Some(payment))
                );
                r["returnUrl"].as_str()
            }
            v => v.as_str(),
        };
        let url = reqwest::Url::parse(url.unwrap_or_else(|| panic!("no {field}: {summary}"))).unwrap();
        assert_eq!(url.path(), "/paid", "{url}");
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!((q["session_id"].as_str(), q["payment_id"].as_str()), (session_id, payment), "{url}");
        let ts: i64 = q["timestamp"].parse().unwrap();
        assert_eq!(settle_app::checkout::signature(&secret, session_id, payment, ts).as_deref(), Some(q["signature"].as_str()), "{url}");
        assert_eq!(app.get(&format!("/v1/payments/{payment}")).await.body["status"], "COMPLETED");
    }
    for (name, status) in [("short", "PENDING"), ("expired", "PENDING"), ("declined", "FAILED")] {
        assert_eq!(app.get(&format!("/v1/payments/{}", payments[name].as_str().unwrap())).await.body["status"], status, "{name}");
    }
    let eth: Value = rpc.call("eth_getBalance", json!([PAYER, "latest"])).await.unwrap();
    assert_eq!(eth, json!("0x0"), "the payer paid no gas");
    assert_eq!(deploy::balance_of(&rpc, TOKEN.parse().unwrap(), payer).await.unwrap(), U256::from(10_000 - 1500));
    app.finish().await;
}
