//! The chain rail against a hostile node: an RPC fault proxy of the suite's own in front of a real anvil answers
//! as providers do under trouble ("txpool is full", "already known", "insufficient funds", delays), per method; time
//! and blocks are moved with anvil's own calls. Each test is a failure found against Settle, kept as an invariant.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use settle_chain::{Address, Bytes, PrivateKeySigner, U256, deploy, tx::Fees};

use crate::{
    chain::{Anvil, key, mine, relayed, status_of, submit_gasless, wait_for},
    helpers::*,
};

/// What the proxy does to a call of one method.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// Answers this error without passing the call on.
    Refuse(&'static str),
    /// Passes the call on, then answers this error instead of the node's answer (a load-balanced provider whose
    /// other node already had the transaction).
    ForwardThenRefuse(&'static str),
    /// `eth_getLogs` over more than this many blocks answers a provider's "too many results" error.
    RefuseRangeOver(u64),
    /// Passes the call on, then runs the hook (when it gives one for this call) before answering what the node said.
    Then(Hook),
    /// Asks the node at this block instead of "latest" (a node lagging behind the chain).
    LatestAt(u64),
    /// Answers this result without passing the call on.
    Answer(Value),
    /// Passes the call on at once and answers this much later (a slow path back from an overloaded node: what it
    /// answers is as of when it was asked).
    Delay(Duration),
}

/// What runs between a call and its answer; None: nothing, for this call.
type HookFn = dyn Fn(&Value) -> Option<futures::future::BoxFuture<'static, ()>> + Send + Sync;

/// A [`HookFn`], shared.
#[derive(Clone)]
pub(crate) struct Hook(Arc<HookFn>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

struct Rule {
    method: &'static str,
    fault: Fault,
    /// How many more calls it applies to (None: all).
    left: Option<usize>,
}

#[derive(Default)]
struct ProxyState {
    rules: Vec<Rule>,
    calls: HashMap<String, usize>,
}

/// A JSON-RPC proxy in front of a node: calls pass through unless a rule says otherwise.
pub(crate) struct RpcProxy {
    pub url: String,
    state: Arc<Mutex<ProxyState>>,
    task: tokio::task::JoinHandle<()>,
}

impl RpcProxy {
    pub(crate) async fn start(upstream: &str) -> Self {
        let upstream = upstream.to_owned();
        let state: Arc<Mutex<ProxyState>> = Default::default();
        let http = reqwest::Client::new();
        let st = state.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let (http, upstream, st) = (http.clone(), upstream.clone(), st.clone());
                async move {
                    let method = body["method"].as_str().unwrap_or_default().to_owned();
                    let fault = {
                        let mut s = st.lock().unwrap();
                        *s.calls.entry(method.clone()).or_default() += 1;
                        let rule = s.rules.iter_mut().find(|r| r.method == method && r.left != Some(0));
                        rule.map(|r| {
                            if let Some(n) = r.left.as_mut() {
                                *n -= 1;
                            }
                            r.fault.clone()
                        })
                    };
                    let error = |message: &str| json!({"jsonrpc": "2.0", "id": body["id"], "error": {"code": -32000, "message": message}});
                    let forward = || async { http.post(&upstream).json(&body).send().await.unwrap().json::<Value>().await.unwrap() };
                    axum::Json(match fault {
                        None => forward().await,
                        Some(Fault::Refuse(m)) => error(m),
                        Some(Fault::ForwardThenRefuse(m)) => {
                            forward().await;
                            error(m)
                        }
                        Some(Fault::Then(hook)) => {
                            let answer = forward().await;
                            if let Some(run) = (hook.0)(&body) {
                                run.await;
                            }
                            answer
                        }
                        Some(Fault::Answer(v)) => json!({"jsonrpc": "2.0", "id": body["id"], "result": v}),
                        Some(Fault::LatestAt(n)) => {
                            let mut body = body.clone();
                            if let Some(params) = body["params"].as_array_mut()
                                && params.last().is_some_and(|p| p == "latest")
                            {
                                *params.last_mut().unwrap() = json!(format!("0x{n:x}"));
                            }
                            http.post(&upstream).json(&body).send().await.unwrap().json::<Value>().await.unwrap()
                        }
                        Some(Fault::Delay(d)) => {
                            let answer = forward().await;
                            tokio::time::sleep(d).await;
                            answer
                        }
                        Some(Fault::RefuseRangeOver(n)) => {
                            let block = |k: &str| {
                                u64::from_str_radix(body["params"][0][k].as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
                            };
                            if block("toBlock").saturating_sub(block("fromBlock")) + 1 > n {
                                error("query returned more than 10000 results")
                            } else {
                                forward().await
                            }
                        }
                    })
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state, task }
    }

    /// Applies `fault` to the next `times` calls of `method` (None: every call), after the rules already set.
    pub(crate) fn fault(&self, method: &'static str, fault: Fault, times: Option<usize>) {
        self.state.lock().unwrap().rules.push(Rule { method, fault, left: times });
    }

    pub(crate) fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    pub(crate) fn calls(&self, method: &str) -> usize {
        self.state.lock().unwrap().calls.get(method).copied().unwrap_or(0)
    }
}

impl Drop for RpcProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Settle on `rpc_url` (anvil, or a proxy in front of it) with the development contracts deployed on `anvil`,
/// two confirmations, the watcher and relayer polling fast; `tweak` changes the chain's settings.
pub(crate) async fn app_on(anvil: &Anvil, rpc_url: &str, tweak: impl FnOnce(&mut settle_app::chain::ChainSpec)) -> TestApp {
    deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    TestApp::spawn_with(setup_on(rpc_url, tweak)).await.unwrap()
}

/// [`app_on`]'s setup, contracts not deployed.
pub(crate) fn setup_on(rpc_url: &str, tweak: impl FnOnce(&mut settle_app::chain::ChainSpec)) -> Setup {
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    let mut spec = settle_app::chain::settings::dev_chain(rpc_url);
    spec.confirmations = Some(2);
    spec.poll_ms = Some(100);
    tweak(&mut spec);
    setup.chains = vec![spec];
    setup.settings.relay_wait = Duration::from_secs(60);
    setup.request_timeout = Some(Duration::from_secs(90));
    setup
}

/// A payer holding test tokens and no ETH.
pub(crate) async fn payer(anvil: &Anvil) -> PrivateKeySigner {
    let p = PrivateKeySigner::random();
    deploy::mint(&anvil.rpc(), &key(0), crate::helpers::TOKEN.parse().unwrap(), p.address(), U256::from(10_000)).await.unwrap();
    p
}

/// A counter's value in /metrics (0 when absent).
async fn counter(app: &TestApp, name: &str) -> f64 {
    let text = app.request(reqwest::Method::GET, "/metrics", None, None, &[]).await.text;
    text.lines().filter(|l| l.starts_with(name) && !l.starts_with('#')).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

async fn chain_health(app: &TestApp) -> Value {
    app.request(reqwest::Method::GET, "/health", None, None, &[]).await.body["chains"][0].clone()
}

/// Keeps mining until the payment is COMPLETED (the watcher needs its confirmations).
pub(crate) async fn mine_until_completed(app: &TestApp, anvil: &Anvil, id: &str) {
    mine_until(app, anvil, id, "COMPLETED").await;
}

/// A relayer that cannot pay for gas: the node refuses its transaction for insufficient funds. Before, each refusal
/// was answered by a replacement with higher fees at once (60 rows at the 1000 gwei cap within a second, then a
/// jammed relayer). Now: sending pauses, /health says so (lowBalance, sendingPaused, degraded), nothing is replaced,
/// a second payer's relay waits unsent; once the relayer is funded the same transaction goes out and both complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relayer_short_of_funds_pauses_and_never_raises_its_fees() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let relayer = PrivateKeySigner::random();
    let set_balance = |wei: u128| {
        let rpc = anvil.rpc();
        let address = relayer.address();
        async move {
            let _: Value = rpc.call("anvil_setBalance", json!([address, format!("0x{wei:x}")])).await.unwrap();
        }
    };
    set_balance(500_000_000_000_000).await; // 0.0005 ETH: less than one relay's gas at its max fee
    let relayer_hex = format!("0x{}", hex::encode(relayer.to_bytes()));
    let app = app_on(&anvil, &anvil.url, |spec| spec.relayer_key = Some(relayer_hex.clone())).await;
    let txs = || async { settle_store::relay::all_txs(&app.ctx.db, 31337, &relayer.address().to_checksum(None)).await.unwrap() };

    let first = submit_gasless(&app, "short-1", &payer(&anvil).await).await;
    wait_for("the node's refusal pauses sending", Duration::from_secs(30), || async { chain_health(&app).await["sendingPaused"].is_string() }).await;
    // Blocks pass (more than the stuck period) and the relayer keeps stepping: nothing is replaced.
    mine(&rpc, 5).await;
    let refusals = counter(&app, "settle_chain_relayer_insufficient_funds_total").await;
    wait_for("the relayer steps on", Duration::from_secs(30), || async {
        counter(&app, "settle_chain_relayer_insufficient_funds_total").await >= refusals + 3.0
    })
    .await;
    let second = submit_gasless(&app, "short-2", &payer(&anvil).await).await;
    let at = counter(&app, "settle_chain_relayer_insufficient_funds_total").await;
    wait_for("the relayer steps on", Duration::from_secs(30), || async {
        counter(&app, "settle_chain_relayer_insufficient_funds_total").await >= at + 2.0
    })
    .await;
    let sent = txs().await;
    assert_eq!(sent.len(), 1, "one transaction, never replaced while the relayer cannot pay: {sent:?}");
    let waiting = settle_store::relay::requests(&app.ctx.db, 31337, "PENDING", 10).await.unwrap();
    assert_eq!(waiting.len(), 1, "the second relay waits unsent while sending is paused");
    let h = chain_health(&app).await;
    assert_eq!((h["status"].as_str(), h["lowBalance"].as_bool()), (Some("degraded"), Some(true)), "{h}");
    assert!(h["reason"].as_str().unwrap().contains("fund"), "{h}");

    // Funded: the same transaction goes out, then the waiting one; both payments complete.
    set_balance(100_000_000_000_000_000).await;
    mine_until_completed(&app, &anvil, &first).await;
    mine_until_completed(&app, &anvil, &second).await;
    wait_for("the relayer records both mined", Duration::from_secs(30), || async { txs().await.iter().filter(|t| t.status == "MINED").count() == 2 })
        .await;
    let after = txs().await;
    assert_eq!(after.len(), 2, "one transaction per nonce: {after:?}");
    assert_eq!(
        (after[0].tx_hash.as_str(), after[0].max_fee.as_str()),
        (sent[0].tx_hash.as_str(), sent[0].max_fee.as_str()),
        "the first is the same transaction"
    );
    let h = chain_health(&app).await;
    assert!(h["sendingPaused"].is_null() && h["status"] == "ok", "{h}");
    assert_eq!(counter(&app, "settle_chain_fee_bumps_total").await, 0.0);
    app.finish().await;
}

/// A node that is busy ("txpool is full") and then answers "already known" for what it took, as a load-balanced
/// provider does: the relayer sends the same bytes again, never a replacement (before, a refused rebroadcast was
/// replaced at once with higher fees).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_or_forgetful_node_gets_the_same_transaction_again_never_a_replacement() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let proxy = RpcProxy::start(&anvil.url).await;
    proxy.fault("eth_sendRawTransaction", Fault::Refuse("txpool is full"), Some(4));
    proxy.fault("eth_sendRawTransaction", Fault::ForwardThenRefuse("already known"), None);
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    // The payers' tokens are minted with the relayer's key: before any relay, so as not to take its nonces.
    let payers = [payer(&anvil).await, payer(&anvil).await];
    let mut ids = Vec::new();
    for (n, p) in payers.iter().enumerate() {
        ids.push(submit_gasless(&app, &format!("busy-{n}"), p).await);
    }
    // No block is mined until the node holds both (asked directly, not through the proxy): blocks mined while it
    // refused would leave a transaction unmined for the chain's bump_after_blocks, which is replaced, rightly.
    let rpc = anvil.rpc();
    wait_for("the node holds both relays", Duration::from_secs(60), || async {
        let txs = relayed(&app).await;
        let mut held = 0;
        for t in &txs {
            let known: Value = rpc.call("eth_getTransactionByHash", json!([t.tx_hash])).await.unwrap_or(Value::Null);
            held += usize::from(!known.is_null());
        }
        txs.len() == 2 && held == 2
    })
    .await;
    for id in &ids {
        mine_until_completed(&app, &anvil, id).await;
    }
    wait_for("the relayer records both mined", Duration::from_secs(30), || async {
        relayed(&app).await.iter().filter(|t| t.status == "MINED").count() == 2
    })
    .await;
    let txs = relayed(&app).await;
    assert_eq!(txs.len(), 2, "one transaction per nonce, each sent again as it was: {txs:?}");
    assert!(proxy.calls("eth_sendRawTransaction") >= 5, "the busy node was asked again");
    assert_eq!(counter(&app, "settle_chain_fee_bumps_total").await, 0.0);
    app.finish().await;
}

/// A relay the node would not take until its forward request's deadline had passed is never sent with its
/// payload (it could only revert, at the payer's cost of a retry and the relayer's gas): a 0-value transfer takes
/// its nonce, the request fails, the payment goes back to PENDING (nothing was paid), and no nonce is left open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_whose_deadline_passed_is_withdrawn_not_sent() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    proxy.fault("eth_sendRawTransaction", Fault::Refuse("txpool is full"), None);
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    let id = submit_gasless(&app, "late", &payer(&anvil).await).await;
    wait_for("the relay is recorded", Duration::from_secs(30), || async { !relayed(&app).await.is_empty() }).await;
    let original = relayed(&app).await[0].clone();
    // The chain's clock passes the forward request's deadline (at most 15 minutes ahead) while the node refuses, and
    // not the payment's own (30 minutes): passing both let the watcher expire the payment first, a race with the
    // withdrawal this test is about.
    let _: Value = rpc.call("evm_increaseTime", json!([1200])).await.unwrap();
    mine(&rpc, 1).await;
    // The node takes transactions again only once the relayer has judged the relay on the chain's new time (its
    // request is being withdrawn): a broadcast it decided on before the time passed was refused meanwhile, and one
    // cut between its check and its send cannot slip through.
    wait_for("the relay is being withdrawn", Duration::from_secs(60), || async {
        !settle_store::relay::requests(&app.ctx.db, 31337, settle_store::relay::WITHDRAWING, 10).await.unwrap().is_empty()
    })
    .await;
    proxy.clear();
    wait_for("the nonce is filled", Duration::from_secs(60), || async {
        relayed(&app).await.iter().any(|t| t.nonce == original.nonce && t.status == "MINED")
    })
    .await;
    let at_nonce: Vec<_> = relayed(&app).await.into_iter().filter(|t| t.nonce == original.nonce).collect();
    let mined: Vec<_> = at_nonce.iter().filter(|t| t.status == "MINED").collect();
    assert_eq!(mined.len(), 1, "{at_nonce:?}");
    assert!(mined[0].relay_request_id.is_none(), "the payload was sent after its deadline: {at_nonce:?}");
    let failed = settle_store::relay::requests(&app.ctx.db, 31337, "FAILED", 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].last_error.as_deref().unwrap_or_default().contains("withdrawn"), "{failed:?}");
    assert_ne!(status_of(&app, &id).await, "COMPLETED");
    let events = app.get(&format!("/v1/payments/{id}/events")).await.body;
    assert!(events.to_string().contains("relay_expired"), "{events}");
    let recipient: Address = crate::helpers::RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, crate::helpers::TOKEN.parse().unwrap(), recipient).await.unwrap(), U256::ZERO);
    // The nonce is taken: nothing of the relayer's waits behind it.
    assert!(rpc.nonce(key(0).address(), "latest").await.unwrap() as i64 > original.nonce);
    app.finish().await;
}

/// Anyone may send the relayer's public `execute` calldata first: the payment is made by their transaction and
/// the relayer's reverts. Before, the payment's history read SUBMITTED, REVERTED ("nothing was paid"), SUBMITTED,
/// CONFIRMED; now the relayer asks the contract at the receipt's block and leaves the paid payment PROCESSING
/// until the watcher completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_beaten_by_a_copy_of_its_calldata_is_not_reported_reverted() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, &anvil.url, |_| {}).await;
    let payer = payer(&anvil).await;
    let _: Value = rpc.call("evm_setAutomine", json!([false])).await.unwrap();
    let id = submit_gasless(&app, "front-run", &payer).await;
    wait_for("the relay is in the pool", Duration::from_secs(30), || async {
        match relayed(&app).await.first() {
            Some(t) => rpc.knows_transaction(t.tx_hash.parse().unwrap()).await.unwrap_or(false),
            None => false,
        }
    })
    .await;
    let rr = settle_store::relay::requests(&app.ctx.db, 31337, "SENT", 10).await.unwrap().remove(0);
    let request: Value = serde_json::from_str(rr.request.as_deref().unwrap()).unwrap();
    let calldata: Bytes = request["execute"].as_str().unwrap().parse().unwrap();
    // Another account sends the same calldata with a higher tip: it is mined first in the same block.
    let front = key(1);
    let nonce = rpc.nonce(front.address(), "pending").await.unwrap();
    let fees = Fees { max_fee_per_gas: 500_000_000_000, max_priority_fee_per_gas: 100_000_000_000 };
    let forwarder: Address = crate::chain::DEV_FORWARDER.parse().unwrap();
    let signed = settle_chain::tx::sign_1559(&front, 31337, nonce, Some(forwarder), U256::ZERO, calldata, 600_000, fees).unwrap();
    rpc.send_raw(&signed.raw).await.unwrap();
    mine(&rpc, 1).await;
    let theirs = rpc.receipt(signed.hash).await.unwrap().expect("mined");
    assert_eq!(theirs.status, U256::from(1), "the copy paid");
    let _: Value = rpc.call("evm_setAutomine", json!([true])).await.unwrap();
    mine_until_completed(&app, &anvil, &id).await;
    wait_for("the relayer reads its receipt", Duration::from_secs(30), || async { relayed(&app).await.iter().any(|t| t.status == "MINED") }).await;
    let ours = rpc.receipt(relayed(&app).await[0].tx_hash.parse().unwrap()).await.unwrap().expect("mined");
    assert_eq!(ours.status, U256::ZERO, "the relayer's own transaction reverted");
    let events = app.get(&format!("/v1/payments/{id}/events")).await.body;
    let kinds: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert!(!kinds.contains(&"REVERTED"), "a paid payment was reported reverted: {events}");
    assert_eq!(kinds.iter().filter(|k| **k == "SUBMITTED").count(), 1, "{events}");
    assert_eq!(*kinds.last().unwrap(), "CONFIRMED", "{events}");
    app.finish().await;
}

/// A provider that refuses `eth_getLogs` over more than 20 blocks ("query returned more than 10000 results"): the
/// watcher halves its range until the node answers, and the payment completes (before, every read was refused and
/// no payment was ever seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_refuses_wide_log_ranges_is_read_in_smaller_ones() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    proxy.fault("eth_getLogs", Fault::RefuseRangeOver(20), None);
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    // More blocks than one read may cover, before and after the payment.
    mine(&rpc, 60).await;
    let created = app.create_payment("narrow-logs").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    crate::chain::pay_directly(&rpc, &key(3), &created).await.unwrap();
    mine_until_completed(&app, &anvil, &id).await;
    assert!(counter(&app, "settle_chain_logs_range_reduced_total").await >= 1.0);
    app.finish().await;
}

/// A COMPLETED payment whose block a reorg deeper than its confirmations takes away: reported as a
/// `payment.reorged` event (with whether the contract still shows it paid: here not) and a metric; before, the
/// watcher kept the applied log and said nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_completed_payment_whose_block_is_reorged_away_is_reported() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, &anvil.url, |_| {}).await;
    let created = app.create_payment("deep-reorg").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let snapshot: U256 = rpc.call("evm_snapshot", json!([])).await.unwrap();
    crate::chain::pay_directly(&rpc, &key(3), &created).await.unwrap();
    mine_until_completed(&app, &anvil, &id).await;
    let reverted: bool = rpc.call("evm_revert", json!([snapshot])).await.unwrap();
    assert!(reverted);
    mine(&rpc, 8).await;
    let reorged = within(Duration::from_secs(30), async || {
        let page = app.get("/v1/events?type=payment.reorged").await.body;
        page["data"].as_array().and_then(|d| d.first()).cloned()
    })
    .await;
    let Some(event) = reorged else { panic!("no payment.reorged event: {}", crate::chain::chain_state(&app).await) };
    assert_eq!(event["data"]["paymentId"], id.as_str(), "{event}");
    assert_eq!(event["data"]["stillPaid"], false, "{event}");
    assert_eq!(status_of(&app, &id).await, "COMPLETED", "a final status is not undone; the merchant is told");
    assert!(counter(&app, "settle_chain_completed_reorged_total").await >= 1.0);
    app.finish().await;
}

/// A mined relay transaction that a reorg takes out of the chain (and the node forgets): the relayer sees its
/// nonce open again and sends the same transaction again, so no nonce gap is left and the payment completes (before,
/// a nonce recorded as mined was never looked at again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mined_relay_a_reorg_removes_is_sent_again() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, &anvil.url, |spec| spec.confirmations = Some(4)).await;
    let payer = payer(&anvil).await;
    let snapshot: U256 = rpc.call("evm_snapshot", json!([])).await.unwrap();
    let id = submit_gasless(&app, "reorged-relay", &payer).await;
    wait_for("the relayer records its transaction mined", Duration::from_secs(30), || async {
        relayed(&app).await.iter().any(|t| t.status == "MINED")
    })
    .await;
    let first = relayed(&app).await[0].clone();
    let reverted: bool = rpc.call("evm_revert", json!([snapshot])).await.unwrap();
    assert!(reverted);
    assert!(rpc.receipt(first.tx_hash.parse().unwrap()).await.unwrap().is_none(), "the reorg took the transaction away");
    mine(&rpc, 1).await;
    mine_until_completed(&app, &anvil, &id).await;
    let txs = relayed(&app).await;
    assert_eq!(txs.iter().filter(|t| t.status == "MINED").count(), 1, "{txs:?}");
    let next = settle_store::relay::next_nonce(&app.ctx.db, 31337, &key(0).address().to_checksum(None)).await.unwrap().unwrap();
    assert_eq!(rpc.nonce(key(0).address(), "latest").await.unwrap() as i64, next, "no nonce left open");
    app.finish().await;
}

/// A node that cannot simulate right now (a provider's "request rate limited", a lagging or pruned backend) decides
/// nothing: the relay is neither withdrawn nor failed, and it is sent once the node answers (before, any node error
/// to the simulation withdrew the relay and put its payment back to PENDING).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_cannot_simulate_now_decides_nothing() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let proxy = RpcProxy::start(&anvil.url).await;
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    let payer = payer(&anvil).await;
    proxy.fault("eth_sendRawTransaction", Fault::Refuse("txpool is full"), None);
    let id = submit_gasless(&app, "rate-limited", &payer).await;
    wait_for("the relay is recorded", Duration::from_secs(30), || async { !relayed(&app).await.is_empty() }).await;
    proxy.fault("eth_call", Fault::Refuse("daily request count exceeded, request rate limited"), None);
    let asked = proxy.calls("eth_call");
    wait_for("the relayer asks again", Duration::from_secs(30), || async { proxy.calls("eth_call") >= asked + 3 }).await;
    let sent = settle_store::relay::requests(&app.ctx.db, 31337, "SENT", 10).await.unwrap();
    assert_eq!(sent.len(), 1, "the relay is still being sent: {}", crate::chain::chain_state(&app).await);
    assert_eq!(status_of(&app, &id).await, "PROCESSING");
    proxy.clear();
    mine_until_completed(&app, &anvil, &id).await;
    wait_for("the relayer records its transaction mined", Duration::from_secs(30), || async {
        relayed(&app).await.iter().any(|t| t.status == "MINED")
    })
    .await;
    let txs = relayed(&app).await;
    assert_eq!(txs.len(), 1, "the payload itself, never a filler: {txs:?}");
    assert!(txs[0].relay_request_id.is_some());
    app.finish().await;
}

/// Keeps mining until the payment has `status`.
async fn mine_until(app: &TestApp, anvil: &Anvil, id: &str, status: &str) {
    crate::chain::mine_until_status(app, &anvil.rpc(), id, status, Duration::from_secs(60)).await;
}

async fn event_types(app: &TestApp, id: &str) -> Vec<String> {
    let events = app.get(&format!("/v1/payments/{id}/events")).await.body;
    events["data"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap().to_owned()).collect()
}

/// A cancelled CHAIN payment holds on chain: the cancel answers CANCELLING, Settle's signed cancellation goes to the
/// gateway, the payment is CANCELLED once the gateway refuses its terms at a confirmed block, and a payer who then
/// pays with the old terms is refused by the contract: no money moves (before, the payment was CANCELLED at once
/// and the terms stayed payable until their deadline: paid after the cancel, money moved, status CANCELLED).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_chain_payment_can_no_longer_be_paid() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, &anvil.url, |_| {}).await;
    let created = app.create_payment("cancel-holds").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some("CANCELLING")), "{}", r.text);
    mine_until(&app, &anvil, &id, "CANCELLED").await;
    let paid = crate::chain::pay_directly(&rpc, &key(3), &created).await;
    assert!(paid.is_err(), "the contract took a cancelled payment: {paid:?}");
    let recipient: Address = crate::helpers::RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, crate::helpers::TOKEN.parse().unwrap(), recipient).await.unwrap(), U256::ZERO);
    mine(&rpc, 3).await;
    let head = rpc.block_number().await.unwrap();
    wait_for("the watcher reads the new blocks", Duration::from_secs(30), || async { cursor(&app).await + 1 >= head }).await;
    assert_eq!(status_of(&app, &id).await, "CANCELLED");
    assert_eq!(event_types(&app, &id).await, ["CREATED", "CANCEL_REQUESTED", "CANCELLED"]);
    assert_eq!(counter(&app, "settle_chain_paid_after_final_total").await, 0.0);
    app.finish().await;
}

/// A payer's payment mined before the cancellation wins the race: the gateway refuses the cancellation, the
/// payment is COMPLETED (never CANCELLED with the money moved), the cancel's relay is withdrawn, and a cancel of
/// the paid payment answers 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_mined_before_its_cancellation_completes() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    let created = app.create_payment("cancel-race").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    // The node will not take the cancellation for now; the payer pays meanwhile.
    proxy.fault("eth_sendRawTransaction", Fault::Refuse("txpool is full"), None);
    let r = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(r.body["status"], "CANCELLING", "{}", r.text);
    crate::chain::pay_directly(&rpc, &key(3), &created).await.unwrap();
    proxy.clear();
    mine_until(&app, &anvil, &id, "COMPLETED").await;
    let types = event_types(&app, &id).await;
    assert!(!types.contains(&"CANCELLED".to_owned()), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("CONFIRMED"), "{types:?}");
    let recipient: Address = crate::helpers::RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, crate::helpers::TOKEN.parse().unwrap(), recipient).await.unwrap(), U256::from(1500));
    let r = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    wait_for("the cancellation's relay ends", Duration::from_secs(30), || async {
        settle_store::relay::requests(&app.ctx.db, 31337, "FAILED", 10).await.unwrap().len()
            + settle_store::relay::requests(&app.ctx.db, 31337, "CANCELLED", 10).await.unwrap().len()
            == 1
    })
    .await;
    app.finish().await;
}

/// Two instances on one database with a 1.5 s lease: the first, behind `proxy`, holds the relayer's lease (waited
/// for), the second talks to anvil directly. Then the first's node answers simulations 4 s late. `step_bound`: how
/// long a step keeps its lease renewed (None: the default).
pub(crate) async fn two_instances(anvil: &Anvil, proxy: &RpcProxy, step_bound: Option<Duration>) -> (TestApp, TestApp) {
    deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let setup = |url: &str| {
        let mut setup = setup_on(url, |_| {});
        setup.settings.lease_ttl = Duration::from_millis(1_500);
        if let Some(b) = step_bound {
            setup.settings.step_bound = b;
        }
        setup
    };
    let slow = TestApp::spawn_with(setup(&proxy.url)).await.unwrap();
    wait_for("the first instance holds the relayer's lease", Duration::from_secs(30), || async {
        settle_store::leases::holder(&slow.ctx.db, "relayer:31337", settle_store::now_ms()).await.unwrap().as_deref()
            == Some(slow.ctx.instance_id.as_str())
    })
    .await;
    let fast = TestApp::start(setup(&anvil.url), slow.db.clone()).await;
    proxy.fault("eth_call", Fault::Delay(Duration::from_secs(4)), None);
    (slow, fast)
}

/// Two instances' relayers on one database, the lease holder's step stuck on its node past the step bound (the lease
/// is renewed during a step only that long). The holder reads a pending relay and waits on its simulation; its lease
/// lapses; the other instance takes the lease and sends the relay. Before, the first then took the next nonce and sent the same relay again (recorded twice,
/// the second bound to revert, gas spent for nothing). Now every relayer write is fenced by the lease in its own
/// database transaction, and a relay is recorded only while it is still PENDING: one transaction, one nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relayers_on_one_database_send_a_relay_once() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let proxy = RpcProxy::start(&anvil.url).await;
    // A lease of 1.5 s, renewed during a step for 1 s at most: the holder's 4 s wait on its node outlasts it.
    let (slow, fast) = two_instances(&anvil, &proxy, Some(Duration::from_secs(1))).await;
    let rpc = anvil.rpc();
    let payer = payer(&anvil).await;
    let nonce_before = rpc.nonce(key(0).address(), "latest").await.unwrap();
    let id = submit_gasless(&fast, "two-relayers", &payer).await;
    let relayer = key(0).address().to_checksum(None);
    let txs = || async { settle_store::relay::all_txs(&fast.ctx.db, 31337, &relayer).await.unwrap() };
    wait_for("the other instance takes the lease and sends the relay", Duration::from_secs(60), || async { !txs().await.is_empty() }).await;
    // The slow holder's step goes on once its simulation answers: it must write nothing.
    wait_for("the first instance finds its lease lost, or sends again", Duration::from_secs(60), || async {
        counter(&slow, "settle_chain_relayer_lease_lost_total").await >= 1.0 || txs().await.len() > 1
    })
    .await;
    proxy.clear();
    mine_until_completed(&fast, &anvil, &id).await;
    let sent = txs().await;
    let brief: Vec<_> = sent.iter().map(|t| (t.nonce, &t.status, &t.relay_request_id)).collect();
    assert_eq!(sent.len(), 1, "one relay, one transaction: {brief:?}");
    assert_eq!(rpc.nonce(key(0).address(), "latest").await.unwrap(), nonce_before + 1, "one nonce used on chain");
    assert_eq!(event_types(&fast, &id).await, ["CREATED", "SUBMITTED", "CONFIRMED"]);
    fast.finish().await;
    slow.finish().await;
}

/// The watcher's cursor on 31337 (0 before its first read).
async fn cursor(app: &TestApp) -> u64 {
    settle_store::chain::cursor(&app.ctx.db, 31337).await.unwrap().map_or(0, |c| c.block_number as u64)
}

/// A reorg between the watcher's logs read and its check of the range: the node answers the logs of the old fork
/// (none), and by the time the range's last block is read again the chain holds a new fork in which the payment
/// was made in that range. Before, the watcher read logs first and the block hash second, stored the new fork's
/// hash beside the old fork's (empty) logs and never read the range again: the payment stayed PENDING. Now the
/// range is put behind the cursor only when its last block is the same before and after the read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reorg_during_a_logs_read_never_skips_a_payment() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    let created = app.create_payment("reorg-during-read").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let fork_at = rpc.block_number().await.unwrap();
    wait_for("the watcher reads up to the head", Duration::from_secs(30), || async { cursor(&app).await + 1 >= fork_at }).await;
    let snapshot: Value = rpc.call("evm_snapshot", json!([])).await.unwrap();
    // The first read of a range past the fork point: the node answers it from the old fork, and the chain
    // reorganises before the watcher checks the range: the new fork has the payment in its first block.
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, paid) = (anvil.url.clone(), created.clone());
    let hook = Hook(Arc::new(move |body: &Value| {
        let to = u64::from_str_radix(body["params"][0]["toBlock"].as_str()?.trim_start_matches("0x"), 16).ok()?;
        if to <= fork_at || fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        let (url, paid, snapshot) = (url.clone(), paid.clone(), snapshot.clone());
        Some(Box::pin(async move {
            let rpc = settle_chain::rpc::Rpc::new(&[url], Duration::from_secs(5)).unwrap();
            let _: Value = rpc.call("evm_revert", json!([snapshot])).await.unwrap();
            crate::chain::pay_directly(&rpc, &key(3), &paid).await.unwrap();
            mine(&rpc, 4).await;
        }))
    }));
    proxy.fault("eth_getLogs", Fault::Then(hook), None);
    mine(&rpc, 3).await; // the old fork: three empty blocks
    mine_until_completed(&app, &anvil, &id).await;
    assert!(counter(&app, "settle_chain_reads_across_reorg_total").await >= 1.0, "the reorg during the read was seen");
    assert_eq!(event_types(&app, &id).await, ["CREATED", "SUBMITTED", "CONFIRMED"]);
    app.finish().await;
}

/// Expiry asked of a node lagging behind the chain: the payment was paid before its deadline, the watcher has not
/// read that block's logs yet, and the confirmed block is past the deadline. Before, the contract was asked at
/// "latest", which a lagging node (or another behind a load balancer) answers from before the payment: the paid
/// payment was EXPIRED. Now it is asked at the confirmed block itself, and the payment completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expiry_asked_of_a_lagging_node_never_expires_a_paid_payment() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    // One block per logs read, so expiry runs while the payment's block is still ahead of the cursor.
    let app = app_on(&anvil, &proxy.url, |spec| spec.logs_range = Some(1)).await;
    let created = app.create_payment("lagging-expiry").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let deadline = created["terms"]["deadline"].as_u64().unwrap();
    let before_payment = rpc.block_number().await.unwrap();
    wait_for("the watcher reads up to the head", Duration::from_secs(30), || async { cursor(&app).await + 1 >= before_payment }).await;
    // The watcher reads no logs for a while; blocks pass, the payer pays, the deadline passes.
    proxy.fault("eth_getLogs", Fault::Refuse("header not found"), None);
    mine(&rpc, 3).await;
    crate::chain::pay_directly(&rpc, &key(3), &created).await.unwrap();
    let _: Value = rpc.call("evm_setNextBlockTimestamp", json!([deadline + 60])).await.unwrap();
    mine(&rpc, 3).await;
    // The node now answers calls at "latest" from before the payment.
    proxy.clear();
    proxy.fault("eth_call", Fault::LatestAt(before_payment), None);
    mine_until_completed(&app, &anvil, &id).await;
    let types = event_types(&app, &id).await;
    assert_eq!(types, ["CREATED", "SUBMITTED", "CONFIRMED"]);
    assert_eq!(counter(&app, "settle_chain_paid_after_final_total").await, 0.0);
    app.finish().await;
}

/// The same two instances, the holder's node as slow, but its step within the bound: the lease is renewed while the
/// step waits (one RPC call with its retries can outlast the lease), so the holder keeps it, sends the relay once, and
/// the other instance never takes over mid-step. Before, a slow node made the holder lose its lease on every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_node_does_not_cost_the_relayer_its_lease() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let proxy = RpcProxy::start(&anvil.url).await;
    let (slow, fast) = two_instances(&anvil, &proxy, None).await;
    let holder = || async { settle_store::leases::holder(&slow.ctx.db, "relayer:31337", settle_store::now_ms()).await.unwrap() };
    let payer = payer(&anvil).await;
    let id = submit_gasless(&fast, "slow-node", &payer).await;
    let relayer = key(0).address().to_checksum(None);
    let txs = || async { settle_store::relay::all_txs(&fast.ctx.db, 31337, &relayer).await.unwrap() };
    wait_for("the holder sends the relay", Duration::from_secs(60), || async { !txs().await.is_empty() }).await;
    assert_eq!(holder().await.as_deref(), Some(slow.ctx.instance_id.as_str()), "the lease stayed with the holder");
    proxy.clear();
    mine_until_completed(&fast, &anvil, &id).await;
    assert_eq!(txs().await.len(), 1);
    assert_eq!(counter(&slow, "settle_chain_relayer_lease_lost_total").await, 0.0);
    fast.finish().await;
    slow.finish().await;
}

/// A failover to a node behind the watcher's cursor: it answers "no such block" for the cursor's block and every
/// block below that Settle remembers. Before, a missing block counted as a reorg, no remembered block matched, and
/// the watcher rewound to block 0: every log forgotten, every COMPLETED payment reported reorged. Now a missing block
/// is an error (the node is behind) and nothing is rewound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_behind_the_cursor_is_not_a_reorg() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    let created = app.create_payment("behind").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    crate::chain::pay_directly(&rpc, &key(3), &created).await.unwrap();
    mine_until_completed(&app, &anvil, &id).await;
    let before = proxy.calls("eth_getBlockByNumber");
    proxy.fault("eth_getBlockByNumber", Fault::Answer(Value::Null), None);
    wait_for("the watcher steps against the lagging node", Duration::from_secs(30), || async { proxy.calls("eth_getBlockByNumber") >= before + 5 })
        .await;
    proxy.clear();
    mine(&rpc, 2).await;
    let head = rpc.block_number().await.unwrap();
    wait_for("the watcher reads on", Duration::from_secs(30), || async { cursor(&app).await + 1 >= head }).await;
    assert_eq!(counter(&app, "settle_chain_reorgs_total").await, 0.0);
    assert_eq!(counter(&app, "settle_chain_completed_reorged_total").await, 0.0);
    assert_eq!(status_of(&app, &id).await, "COMPLETED");
    app.finish().await;
}

/// A reorg of the cursor's own block, after the relayer remembered the new fork's hash of it (it records its receipts'
/// blocks): before, the rewind searched the remembered blocks from the cursor's height down, found that block
/// "canonical" and resumed above it, so a payment made in the new fork below it was never read. Now the search is
/// strictly below the cursor (and never above it): the payment completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reorg_of_the_cursors_block_is_read_again_whoever_remembered_it() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = RpcProxy::start(&anvil.url).await;
    let app = app_on(&anvil, &proxy.url, |_| {}).await;
    let created = app.create_payment("cursor-reorg").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let fork_at = rpc.block_number().await.unwrap();
    let snapshot: Value = rpc.call("evm_snapshot", json!([])).await.unwrap();
    mine(&rpc, 10).await;
    wait_for("the watcher's cursor is well past the fork point", Duration::from_secs(30), || async { cursor(&app).await >= fork_at + 9 }).await;
    let at = cursor(&app).await as i64;
    // The watcher waits (its node does not answer) while the chain reorganises: the new fork has the payment in its
    // first block, and the relayer has remembered the new fork's hash at the cursor's height.
    proxy.fault("eth_blockNumber", Fault::Refuse("service unavailable"), None);
    let _: Value = rpc.call("evm_revert", json!([snapshot])).await.unwrap();
    let paid = crate::chain::pay_directly(&rpc, &key(3), &created).await.unwrap();
    assert!(paid.block_number.to::<i64>() < at, "the payment is below the cursor's height");
    mine(&rpc, 12).await;
    let new_hash = format!("{:#x}", rpc.block(Some(at as u64)).await.unwrap().unwrap().hash);
    settle_store::chain::remember_block(&app.ctx.db, 31337, at, &new_hash).await.unwrap();
    proxy.clear();
    mine_until_completed(&app, &anvil, &id).await;
    app.finish().await;
}

/// Payments the watcher leaves as they are never keep others from expiring: 100 payments past their deadline that no
/// listed gateway accounts for (made before Settle stored a payment's gateway, their signature unrecognizable, while
/// the chain lists an earlier gateway) fill a whole page of the expiry, and the payment after them still expires
/// (the expiry goes on page by page, as the look at open refunds does). Before the fix the expiry read the same 100
/// every step, and the last payment stayed PENDING forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_the_watcher_leaves_never_keep_the_others_from_expiring() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let listed = |spec: &mut settle_app::chain::ChainSpec| {
        spec.previous_gateways = vec![settle_app::chain::PreviousGateway {
            gateway: "0x000000000000000000000000000000000000dEaD".into(),
            forwarder: "0x000000000000000000000000000000000000bEEF".into(),
            gateway_version: Some("2".into()),
        }];
    };
    let app = TestApp::spawn_with(setup_on(&anvil.url, listed)).await.unwrap();
    let mut left = Vec::new();
    for i in 0..100 {
        left.push(app.create_payment(&format!("unplaceable-{i}")).await["paymentId"].as_str().unwrap().to_owned());
    }
    let last = app.create_payment("expires").await["paymentId"].as_str().unwrap().to_owned();
    // As made before the column: no gateway stored, and a signature no gateway's signer made.
    let bad = format!("0x{}", "11".repeat(65));
    for id in &left {
        let sql = format!("UPDATE payments SET gateway_address = NULL, server_signature = '{bad}' WHERE payment_id = '{id}'");
        settle_store::ConnectionTrait::execute_unprepared(app.ctx.db.writes(), &sql).await.unwrap();
    }
    let _: Value = rpc.call("evm_increaseTime", json!([3600])).await.unwrap();
    mine(&rpc, 4).await;
    for _ in 0..3 {
        crate::chain::watch_once(&app).await;
    }
    assert_eq!(status_of(&app, &last).await, "EXPIRED", "the payment after a page of unplaceable ones expires");
    for id in left.iter().step_by(33) {
        assert_eq!(status_of(&app, id).await, "PENDING", "an unplaceable payment is left as it is");
    }
    app.finish().await;
}
