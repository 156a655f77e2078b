//! The chain rail on real anvil nodes (from the npm package `@foundry-rs/anvil-linux-amd64`, installed by
//! scripts/test into crates/settle-chain/contracts/node_modules).

use std::{process::Child, time::Duration};

use settle_chain::{
    Address, B256, PrivateKeySigner, U256,
    alloy_sol::{SolCall, SolStruct},
    contracts::{self, ForwardRequest, ForwardRequestData, PaymentTerms, Permit},
    deploy, eip712,
    rpc::Rpc,
};

/// anvil's well-known development keys (funded with 10,000 ETH each).
pub const DEV_KEYS: [&str; 4] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

/// Where `settle chain deploy --with-test-token` puts the contracts on a fresh anvil (README, `serve --demo`).
pub const DEV_FORWARDER: &str = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
pub const DEV_GATEWAY: &str = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";

pub fn key(i: usize) -> PrivateKeySigner {
    DEV_KEYS[i].parse().unwrap()
}

/// An anvil node of the test's own, on a free port, stopped (by its PID) on drop.
pub struct Anvil {
    child: Child,
    pub url: String,
    pub chain_id: u64,
}

impl Anvil {
    fn binary() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../settle-chain/contracts/node_modules/.bin/anvil")
    }

    /// Starts anvil (cancun, as the contracts are compiled for); None (skipped) when it is not installed.
    pub async fn start(chain_id: u64, extra: &[&str]) -> Option<Self> {
        let bin = Self::binary();
        if !bin.exists() {
            assert!(std::env::var("CI").is_err(), "anvil is required in CI: run npm ci in crates/settle-chain/contracts");
            eprintln!("SKIPPED: anvil is not installed (npm ci in crates/settle-chain/contracts)");
            return None;
        }
        // A free port is only free until someone takes it: when our anvil lost the race (it exited) or another
        // test's node answers (another chain id), start again on another port. Two tests must never share a node.
        for _ in 0..10 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let child = std::process::Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--chain-id", &chain_id.to_string(), "--hardfork", "cancun", "--silent"])
                .args(extra)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn anvil");
            let mut anvil = Self { child, url: format!("http://127.0.0.1:{port}"), chain_id };
            let rpc = anvil.rpc();
            // Some(true) once our node answers; Some(false) when it exited or another node answers; None: no answer.
            let ours = crate::helpers::within(Duration::from_secs(5), async || {
                if anvil.child.try_wait().ok().flatten().is_some() {
                    return Some(false);
                }
                let id = rpc.chain_id().await.ok()?;
                let block = rpc.block_number().await.unwrap_or(u64::MAX);
                Some(id == chain_id && block == 0 && anvil.child.try_wait().ok().flatten().is_none())
            })
            .await;
            if ours == Some(true) {
                return Some(anvil);
            }
            drop(anvil);
        }
        panic!("anvil did not start");
    }

    pub fn rpc(&self) -> Rpc {
        Rpc::new(std::slice::from_ref(&self.url), Duration::from_secs(5)).unwrap()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The contracts alone: a payer holding no ETH pays with two signatures (a permit and a forward request), a
/// relayer sends them, the fee goes to the treasury; the same request cannot be replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contracts_take_a_gasless_payment_with_a_permit() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let (deployer, signer, relayer, treasury) = (key(0), key(1), key(2), key(3).address());
    let d = deploy::deploy(&rpc, &deployer, signer.address(), treasury, true).await.unwrap();
    let token = d.test_token.unwrap();
    assert_eq!(
        d,
        settle_chain::deploy::Deployment {
            chain_id: 31337,
            forwarder: DEV_FORWARDER.parse().unwrap(),
            gateway: DEV_GATEWAY.parse().unwrap(),
            test_token: Some(crate::helpers::TOKEN.parse().unwrap())
        },
        "the development chain's addresses"
    );
    let payer = PrivateKeySigner::random();
    let recipient = Address::repeat_byte(0x42);
    deploy::mint(&rpc, &deployer, token, payer.address(), U256::from(1_000_000)).await.unwrap();

    let terms =
        PaymentTerms { paymentId: B256::repeat_byte(9), token, amount: U256::from(1000), recipient, feeBps: 250, deadline: now_secs() + 1800 };
    let server_sig = eip712::sign_terms(&signer, &eip712::gateway_domain(anvil.chain_id, d.gateway, eip712::GATEWAY_VERSION), &terms).unwrap();
    let permit =
        Permit { owner: payer.address(), spender: d.gateway, value: terms.amount, nonce: U256::ZERO, deadline: U256::from(now_secs() + 1800) };
    let psig = eip712::sign_struct(&payer, &eip712::token_domain(deploy::TEST_TOKEN_NAME.into(), anvil.chain_id, token), &permit).unwrap();
    let data = contracts::payWithPermitCall {
        terms: terms.clone(),
        serverSignature: server_sig,
        permitDeadline: permit.deadline,
        v: 27 + u8::from(psig.v()),
        r: psig.r().into(),
        s: psig.s().into(),
    }
    .abi_encode();
    let req = ForwardRequest {
        from: payer.address(),
        to: d.gateway,
        value: U256::ZERO,
        gas: U256::from(300_000),
        nonce: U256::ZERO,
        deadline: settle_chain::primitives::aliases::U48::from(now_secs() + 600),
        data: data.into(),
    };
    let fdomain = eip712::forwarder_domain(anvil.chain_id, d.forwarder);
    let sig = eip712::sign_struct(&payer, &fdomain, &req).unwrap();
    assert_eq!(eip712::recover(&req.eip712_signing_hash(&fdomain), &sig.as_bytes()), Ok(payer.address()));
    let exec = contracts::executeCall {
        request: ForwardRequestData {
            from: req.from,
            to: req.to,
            value: req.value,
            gas: req.gas,
            deadline: req.deadline,
            data: req.data.clone(),
            signature: sig.as_bytes().to_vec().into(),
        },
    }
    .abi_encode();
    if let Err(e) = rpc.eth_call(Some(relayer.address()), d.forwarder, &exec.clone().into()).await {
        panic!("the forwarded payment does not simulate: {}", e.revert_data().map(|d| contracts::revert_reason(d)).unwrap_or_else(|| e.to_string()));
    }
    deploy::send_and_wait(&rpc, &relayer, Some(d.forwarder), exec.clone().into(), 500_000).await.unwrap();

    assert_eq!(deploy::balance_of(&rpc, token, recipient).await.unwrap(), U256::from(975));
    assert_eq!(deploy::balance_of(&rpc, token, treasury).await.unwrap(), U256::from(25));
    assert_eq!(deploy::balance_of(&rpc, token, payer.address()).await.unwrap(), U256::from(999_000));
    assert_eq!(rpc.balance(payer.address()).await.unwrap(), U256::ZERO, "the payer never held ETH");
    let paid = rpc.eth_call(None, d.gateway, &contracts::getPaymentCall { paymentId: terms.paymentId }.abi_encode().into()).await.unwrap();
    let paid = contracts::getPaymentCall::abi_decode_returns(&paid).unwrap();
    assert_eq!(paid.payer, payer.address());
    // Replaying the same request: the forwarder's nonce moved on.
    let replay = rpc.eth_call(Some(relayer.address()), d.forwarder, &exec.into()).await.unwrap_err();
    assert!(replay.revert_data().is_some(), "{replay}");
}

/// A CHAIN payment is created only for a configured chain and token, with the token's symbol as currency and
/// a bounded expiry; its terms are signed by the chain's signer key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_payments_are_created_only_for_configured_chains_and_tokens() {
    use crate::helpers::*;
    let Some(app) = TestApp::spawn(Variant { db: Db::Sqlite, cache: Cache::Memory }).await else { return };
    let ok = TestApp::chain_payment("c-ok");
    for (field, value, param) in [
        ("chainId", serde_json::json!(1), "chainId"),
        ("tokenAddress", serde_json::json!("0x0000000000000000000000000000000000000001"), "tokenAddress"),
        ("currency", serde_json::json!("DAI"), "currency"),
        ("expiresInSecs", serde_json::json!(5), "expiresInSecs"),
        ("expiresInSecs", serde_json::json!(100_000_000), "expiresInSecs"),
    ] {
        let mut body = ok.clone();
        body[field] = value;
        let r = app.post("/v1/payments", &body).await;
        assert_eq!(r.assert_error(400, "parameter_invalid").as_deref(), Some(param), "{field}: {}", r.text);
    }
    assert_eq!(settle_store::payments::count(&app.ctx.db).await.unwrap(), 0, "nothing created");
    let mut body = ok.clone();
    body["expiresInSecs"] = serde_json::json!(600);
    let p = app.post("/v1/payments", &body).await;
    assert_eq!(p.status, 201, "{}", p.text);
    let deadline = p.body["terms"]["deadline"].as_u64().unwrap();
    assert!((now_secs() + 590..=now_secs() + 610).contains(&deadline));
    // The signature is the chain signer's, over exactly these terms.
    let terms = terms_of(&p.body);
    let hash = terms.eip712_signing_hash(&eip712::gateway_domain(31337, DEV_GATEWAY.parse().unwrap(), eip712::GATEWAY_VERSION));
    let sig = hex::decode(p.body["serverSignature"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    assert_eq!(eip712::recover(&hash, &sig), Ok(key(0).address()));
    app.finish().await;
}

/// Settle on a real chain: the development chain's contracts on anvil, the watcher polling fast, the first
/// RPC URL dead (failover), two confirmations.
pub(crate) async fn chain_app(anvil: &Anvil) -> crate::helpers::TestApp {
    use crate::helpers::*;
    let rpc = anvil.rpc();
    // The treasury is anvil's third account (the second is the tests' recipient).
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    let mut spec = settle_app::chain::settings::dev_chain(&anvil.url);
    spec.rpc_urls.insert(0, "http://127.0.0.1:9".into());
    spec.confirmations = Some(2);
    spec.poll_ms = Some(100);
    setup.chains = vec![spec];
    // The suite shares two cores with everything else: waits are generous, never asserted as speed.
    setup.settings.relay_wait = Duration::from_secs(60);
    setup.request_timeout = Some(Duration::from_secs(90));
    TestApp::spawn_with(setup).await.unwrap()
}

/// The signed terms of a payment, from its JSON.
pub(crate) fn terms_of(payment: &serde_json::Value) -> PaymentTerms {
    let t = &payment["terms"];
    PaymentTerms {
        paymentId: t["paymentId"].as_str().unwrap().parse().unwrap(),
        token: t["token"].as_str().unwrap().parse().unwrap(),
        amount: U256::from_str_radix(t["amount"].as_str().unwrap(), 10).unwrap(),
        recipient: t["recipient"].as_str().unwrap().parse().unwrap(),
        feeBps: t["feeBps"].as_u64().unwrap() as u16,
        deadline: t["deadline"].as_u64().unwrap(),
    }
}

/// Pays a payment's terms directly from `payer` (who holds ETH; the test token is minted to it first).
pub(crate) async fn pay_directly(rpc: &Rpc, payer: &PrivateKeySigner, created: &serde_json::Value) -> Result<settle_chain::rpc::Receipt, String> {
    let sig = hex::decode(created["serverSignature"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    // Minted with the gas of anvil's second account: the relayer's key (the first) is left alone.
    deploy::pay_directly(rpc, payer, DEV_GATEWAY.parse().unwrap(), terms_of(created), sig.into(), Some(&key(1))).await
}

pub(crate) async fn status_of(app: &crate::helpers::TestApp, id: &str) -> String {
    app.get(&format!("/v1/payments/{id}")).await.body["status"].as_str().unwrap_or_default().to_owned()
}

pub(crate) async fn wait_status(app: &crate::helpers::TestApp, id: &str, want: &str, limit: Duration) {
    // Bounds are generous: the suite shares two cores with everything else.
    let limit = limit.max(Duration::from_secs(30));
    // A plain closure, not an async one: this runs inside spawned tasks.
    if crate::helpers::within_fn(limit, || async move { (status_of(app, id).await == want).then_some(()) }).await.is_none() {
        panic!("{id} never became {want}: {}\n{}", app.get(&format!("/v1/payments/{id}")).await.text, chain_state(app).await);
    }
}

/// Mines a block at a time until the payment is `want` (the watcher needs its confirmations); panics after `limit`
/// with the payment and what Settle knows of its chains.
pub(crate) async fn mine_until_status(app: &crate::helpers::TestApp, rpc: &Rpc, id: &str, want: &str, limit: Duration) {
    let reached = crate::helpers::within(limit, async || {
        if status_of(app, id).await == want {
            return Some(());
        }
        mine(rpc, 1).await;
        None
    })
    .await;
    if reached.is_none() {
        panic!(
            "{id} never became {want}: {}\n{}relayed: {:?}",
            app.get(&format!("/v1/payments/{id}")).await.text,
            chain_state(app).await,
            relayed(app).await
        );
    }
}

/// Runs the watcher of 31337 on this instance until it finds nothing more to do: a whole pass over the chain as it
/// stands, the sign (before asserting that something did not happen) that the watcher had its chance.
pub(crate) async fn watch_once(app: &crate::helpers::TestApp) {
    let chain = app.ctx.chains.get(31337).expect("chain 31337").clone();
    app.drive(&settle_app::chain::watcher::Watcher::new(app.ctx.clone(), chain)).await;
}

/// What Settle knows of its chains, for a failure's message: /health and the relayer's open work.
pub(crate) async fn chain_state(app: &crate::helpers::TestApp) -> String {
    let health = app.request(reqwest::Method::GET, "/health", None, None, &[]).await.text;
    let relayer = key(0).address().to_checksum(None);
    let mut out = format!("health: {health}\n");
    for chain in app.setup.chains.iter().map(|c| c.chain_id as i64) {
        for status in ["PENDING", "SENT"] {
            let rr = settle_store::relay::requests(&app.ctx.db, chain, status, 100).await.unwrap_or_default();
            out += &format!(
                "chain {chain} {status} requests: {:?}\n",
                rr.iter().map(|r| (&r.payment_id, &r.tx_hash, &r.last_error)).collect::<Vec<_>>()
            );
        }
        let txs = settle_store::relay::all_txs(&app.ctx.db, chain, &relayer).await.unwrap_or_default();
        let open: Vec<_> = txs.iter().filter(|t| t.status != "MINED").map(|t| (t.nonce, &t.status, &t.tx_hash, &t.relay_request_id)).collect();
        out += &format!("chain {chain}: {} transactions; not mined: {open:?}\n", txs.len());
    }
    out
}

pub(crate) async fn mine(rpc: &Rpc, blocks: u64) {
    let _: serde_json::Value = rpc.call("anvil_mine", serde_json::json!([blocks])).await.unwrap();
}

/// A payment made directly on chain, without Settle relaying it, is seen (PROCESSING), and COMPLETED only at
/// its confirmations, with the payer, transaction and block recorded; the recipient holds the money.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_direct_payment_completes_at_its_confirmations() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let created = app.create_payment("direct-1").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let payer = key(3);
    let receipt = pay_directly(&rpc, &payer, &created).await.unwrap();
    wait_status(&app, &id, "PROCESSING", Duration::from_secs(10)).await;
    // The watcher has looked at the chain with the payment's block as its head.
    watch_once(&app).await;
    assert_eq!(status_of(&app, &id).await, "PROCESSING", "one confirmation is not two");
    mine(&rpc, 1).await;
    wait_status(&app, &id, "COMPLETED", Duration::from_secs(10)).await;
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["txHash"], format!("{:#x}", receipt.transaction_hash));
    assert_eq!(p["blockNumber"], receipt.block_number.to::<u64>());
    assert_eq!(p["payer"].as_str().unwrap().to_ascii_lowercase(), format!("{:#x}", payer.address()));
    let ev = app.get(&format!("/v1/payments/{id}/events")).await.body;
    let types: Vec<&str> = ev["data"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(types, ["CREATED", "SUBMITTED", "CONFIRMED"]);
    let recipient: Address = crate::helpers::RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, crate::helpers::TOKEN.parse().unwrap(), recipient).await.unwrap(), U256::from(1500));
    app.finish().await;
}

/// A reorg before the confirmations (anvil snapshot / revert) takes the payment's block away: the watcher
/// rewinds, the payment goes back to PENDING (never COMPLETED); paid again on the new chain, it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reorg_before_the_confirmations_never_completes_a_payment() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let created = app.create_payment("reorged").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let payer = key(3);
    // Mint and approve before the snapshot, so only the pay is taken away.
    let snapshot: U256 = rpc.call("evm_snapshot", serde_json::json!([])).await.unwrap();
    pay_directly(&rpc, &payer, &created).await.unwrap();
    wait_status(&app, &id, "PROCESSING", Duration::from_secs(10)).await;
    let reverted: bool = rpc.call("evm_revert", serde_json::json!([snapshot])).await.unwrap();
    assert!(reverted);
    mine(&rpc, 5).await;
    // Its transaction left the canonical chain: back to PENDING, with an event saying why (before, it stayed
    // PROCESSING with a txHash that no longer existed, and the checkout refused the payer's retry).
    wait_status(&app, &id, "PENDING", Duration::from_secs(30)).await;
    let events = app.get(&format!("/v1/payments/{id}/events")).await.body;
    assert!(events.to_string().contains("\"reorged\""), "{events}");
    let m = app.request(reqwest::Method::GET, "/metrics", None, None, &[]).await.text;
    assert!(m.contains("settle_chain_reorgs_total"), "the watcher saw the reorg");
    // Paid on the canonical chain, it completes.
    pay_directly(&rpc, &payer, &created).await.unwrap();
    mine(&rpc, 1).await;
    wait_status(&app, &id, "COMPLETED", Duration::from_secs(10)).await;
    app.finish().await;
}

/// A payment whose deadline passed unpaid becomes EXPIRED, and the contract refuses to be paid late.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unpaid_payment_expires_and_a_late_payment_reverts() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let mut body = crate::helpers::TestApp::chain_payment("expires");
    body["expiresInSecs"] = serde_json::json!(60);
    let created = app.post("/v1/payments", &body).await.body;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let _: serde_json::Value = rpc.call("evm_increaseTime", serde_json::json!([120])).await.unwrap();
    mine(&rpc, 2).await;
    wait_status(&app, &id, "EXPIRED", Duration::from_secs(10)).await;
    let err = pay_directly(&rpc, &key(3), &created).await.unwrap_err();
    assert!(err.contains("reverted"), "{err}");
    assert_eq!(status_of(&app, &id).await, "EXPIRED");
    app.finish().await;
}

/// The README's walk-through with the real binary: `settle chain deploy` on a fresh anvil prints the
/// development chain's block (the addresses `serve --demo` expects); a created payment piped into
/// `settle chain pay --mint` is paid, and Settle completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chain_deploy_and_pay_commands_as_the_readme_runs_them() {
    use std::io::Write;
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let dir = crate::helpers::TempDir::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["chain", "deploy", "--rpc", &anvil.url, "--deployer-key", DEV_KEYS[0], "--signer-key", DEV_KEYS[0], "--with-test-token"])
        .current_dir(&dir.0)
        .env("SETTLE_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("[[chains]]") && text.contains(DEV_GATEWAY) && text.contains(DEV_FORWARDER) && text.contains(crate::helpers::TOKEN),
        "{text}"
    );
    assert!(!text.contains(&DEV_KEYS[0][2..]), "no key given is printed");
    assert!(text.contains("confirmations = 2") && !text.contains("a new signer key"), "{text}");
    // Without --signer-key a signer apart from the deployer (who owns the gateway) is made and shown once.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["chain", "deploy", "--rpc", &anvil.url, "--deployer-key", DEV_KEYS[0]])
        .current_dir(&dir.0)
        .env("SETTLE_LOG", "warn")
        .output()
        .unwrap();
    let text2 = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{text2}");
    let made = text2.lines().find_map(|l| l.split("SIGNER_KEY=").nth(1)).expect("the new signer key, once");
    let made: PrivateKeySigner = made.trim().parse().expect("a key");
    assert_ne!(made.address(), key(0).address());
    assert!(text2.contains(&format!("(signer {}", made.address())), "{text2}");

    let mut setup = crate::helpers::Setup::new(crate::helpers::Variant { db: crate::helpers::Db::Sqlite, cache: crate::helpers::Cache::Memory });
    let mut spec = settle_app::chain::settings::dev_chain(&anvil.url);
    spec.poll_ms = Some(100);
    setup.chains = vec![spec];
    let app = crate::helpers::TestApp::spawn_with(setup).await.unwrap();
    let created = app.create_payment("readme-chain").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["chain", "pay", "--rpc", &anvil.url, "--mint", "--key", DEV_KEYS[3]])
        .current_dir(&dir.0)
        .env("SETTLE_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(created.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let paid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    wait_status(&app, &id, "COMPLETED", Duration::from_secs(10)).await;
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["txHash"], paid["txHash"]);
    // `settle chain status` with the deploy's block in settle.toml and the keys in the environment.
    let block = text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    std::fs::write(dir.0.join("settle.toml"), block).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["chain", "status"])
        .current_dir(&dir.0)
        .env("SETTLE_LOG", "warn")
        .env("SETTLE_CHAIN_31337_SIGNER_KEY", DEV_KEYS[0])
        .env("SETTLE_CHAIN_31337_RELAYER_KEY", DEV_KEYS[0])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["chainId"], 31337);
    assert!(status["head"].as_str().is_some_and(|h| h.parse::<u64>().is_ok()), "{status}");
    assert!(status["relayerBalanceWei"].as_str().is_some_and(|b| b != "?"), "{status}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&DEV_KEYS[0][2..]), "no key is printed");

    // The gasless walk-through: a fresh key with no ETH gets test tokens, signs the permit and then the
    // forward request with `settle chain sign`, and the checkout submits them to /relay.
    let settle_cmd = |args: &[&str], stdin: Option<&str>| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
            .args(args)
            .current_dir(&dir.0)
            .env("SETTLE_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "settle {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let payer: PrivateKeySigner = README_PAYER_KEY.parse().unwrap();
    assert_eq!(payer.address().to_checksum(None), README_PAYER, "the README's payer address is its key's");
    let minted: serde_json::Value = serde_json::from_str(&settle_cmd(
        &["chain", "mint", "--rpc", &anvil.url, "--key", DEV_KEYS[0], "--to", README_PAYER, "--amount", "1500"],
        None,
    ))
    .unwrap();
    assert_eq!(minted["balance"], "1500");
    let created = app.create_payment("readme-gasless").await;
    let (id, secret) = (created["paymentId"].as_str().unwrap(), created["clientSecret"].as_str().unwrap());
    let td = app.request(reqwest::Method::GET, &format!("/v1/payments/{id}/typed-data?payer={README_PAYER}"), Some(secret), None, &[]).await;
    let query = settle_cmd(&["chain", "sign", "--key", README_PAYER_KEY], Some(&td.text));
    assert!(query.starts_with("permitSignature=0x") && query.contains("&permitDeadline="), "{query}");
    let td = app.request(reqwest::Method::GET, &format!("/v1/payments/{id}/typed-data?payer={README_PAYER}&{query}"), Some(secret), None, &[]).await;
    let signed = settle_cmd(&["chain", "sign", "--key", README_PAYER_KEY], Some(&td.text));
    let r = app.request(reqwest::Method::POST, &format!("/v1/payments/{id}/relay"), Some(secret), Some(&signed), &[]).await;
    assert_eq!((r.status.as_u16(), r.body["payment"]["status"].as_str()), (200, Some("COMPLETED")), "{}", r.text);
    assert_eq!(rpc_balance(&anvil, README_PAYER).await, U256::ZERO, "the payer paid with signatures alone");
    // A key that is not the payer's, or an error answer, is refused with a clear message.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["chain", "sign", "--key", DEV_KEYS[1]])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(td.text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not this key's address"));
    app.finish().await;
}

/// The README's gasless payer: a fresh development key (never funded with ETH) and its address.
const README_PAYER_KEY: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const README_PAYER: &str = "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A";

/// An address's ETH balance.
async fn rpc_balance(anvil: &Anvil, address: &str) -> U256 {
    anvil.rpc().balance(address.parse().unwrap()).await.unwrap()
}

/// A wallet's side of the gasless checkout: fetch typed data with the client secret, sign the permit, fetch the
/// forward request that uses it, sign that. Returns the body for `POST /gasless`.
pub(crate) async fn sign_checkout(app: &crate::helpers::TestApp, created: &serde_json::Value, payer: &PrivateKeySigner) -> serde_json::Value {
    sign_checkout_at(&app.client, &app.base, created, payer).await
}

/// [`sign_checkout`] against a Settle at `base`.
pub(crate) async fn sign_checkout_at(
    client: &reqwest::Client,
    base: &str,
    created: &serde_json::Value,
    payer: &PrivateKeySigner,
) -> serde_json::Value {
    let get = |path: String, secret: &str| {
        let secret = secret.to_owned();
        async move { crate::helpers::request_at(client, base, reqwest::Method::GET, &path, Some(&secret), None, &[]).await }
    };
    let id = created["paymentId"].as_str().unwrap();
    let secret = created["clientSecret"].as_str().unwrap();
    let path = format!("/v1/payments/{id}/typed-data?payer={}", payer.address());
    let td = get(path.clone(), secret).await;
    assert_eq!(td.status, 200, "{}", td.text);
    let eip712::CheckoutSigned::Permit { signature, deadline } = eip712::sign_checkout_step(payer, &td.body).unwrap() else {
        panic!("the test token asks for a permit first: {}", td.text)
    };
    let path = format!("{path}&permitSignature=0x{}&permitDeadline={deadline}", hex::encode(signature.as_bytes()));
    let td = get(path, secret).await;
    assert_eq!(td.status, 200, "{}", td.text);
    assert!(td.body["permit"].is_null());
    let eip712::CheckoutSigned::Request { request, signature } = eip712::sign_checkout_step(payer, &td.body).unwrap() else {
        panic!("the forward request comes once the permit is signed: {}", td.text)
    };
    assert_eq!(request, td.body["request"]);
    serde_json::json!({"request": request, "signature": format!("0x{}", hex::encode(signature.as_bytes()))})
}

fn request_of(r: &serde_json::Value) -> ForwardRequest {
    ForwardRequest {
        from: r["from"].as_str().unwrap().parse().unwrap(),
        to: r["to"].as_str().unwrap().parse().unwrap(),
        value: U256::from_str_radix(r["value"].as_str().unwrap(), 10).unwrap(),
        gas: U256::from_str_radix(r["gas"].as_str().unwrap(), 10).unwrap(),
        nonce: U256::from_str_radix(r["nonce"].as_str().unwrap(), 10).unwrap(),
        deadline: settle_chain::primitives::aliases::U48::from(r["deadline"].as_str().unwrap().parse::<u64>().unwrap()),
        data: r["data"].as_str().unwrap().parse().unwrap(),
    }
}

/// The whole gasless flow: a payer holding tokens and no ETH signs a permit and a forward request through the
/// checkout routes (with the client secret only); Settle verifies, relays and pays the gas; the watcher
/// completes the payment at its confirmations. Balances are checked on chain; the payer never held ETH.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payer_without_eth_pays_with_two_signatures() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let created = app.create_payment("gasless-1").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let payer = PrivateKeySigner::random();
    let token: Address = crate::helpers::TOKEN.parse().unwrap();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(5000)).await.unwrap();
    let body = sign_checkout(&app, &created, &payer).await;
    let r = app
        .request(reqwest::Method::POST, &format!("/v1/payments/{id}/gasless"), created["clientSecret"].as_str(), Some(&body.to_string()), &[])
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.body["relayRequestId"].as_str().unwrap().starts_with("rr_"));
    assert_eq!(status_of(&app, &id).await, "PROCESSING");
    // The relayer's transaction mines a block; one more gives the second confirmation.
    mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(10)).await;
    let recipient: Address = crate::helpers::RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, token, recipient).await.unwrap(), U256::from(1500));
    assert_eq!(deploy::balance_of(&rpc, token, payer.address()).await.unwrap(), U256::from(3500));
    assert_eq!(rpc.balance(payer.address()).await.unwrap(), U256::ZERO, "the payer never held ETH");
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["payer"].as_str().unwrap().to_ascii_lowercase(), format!("{:#x}", payer.address()));
    // The relayer used one nonce, recorded in the database, and its transaction is the one that mined (the
    // payment completes from the chain's log; the relayer records its receipt on its own pass).
    wait_for("the relay's receipt is recorded", Duration::from_secs(30), || async { relayed(&app).await.iter().all(|t| t.status != "SENT") }).await;
    let txs = settle_store::relay::all_txs(&app.ctx.db, 31337, &key(0).address().to_checksum(None)).await.unwrap();
    assert_eq!(txs.len(), 1, "{txs:?}");
    assert_eq!(txs[0].status, "MINED");
    assert_eq!(Some(txs[0].tx_hash.clone()), p["txHash"].as_str().map(str::to_owned));
    // /health shows the chain as its workers saw it.
    let h = app.request(reqwest::Method::GET, "/health", None, None, &[]).await.body;
    let c = &h["chains"][0];
    assert_eq!(c["chainId"], 31337, "{h}");
    assert!(c["head"].as_u64().is_some() && c["watcherCursor"].as_u64().is_some(), "{h}");
    assert_eq!(c["lowBalance"], false, "{h}");
    assert!(c["relayerBalanceWei"].as_str().is_some(), "{h}");
    // The client secret opens this payment's checkout and nothing else.
    let other = app.create_payment("gasless-2").await;
    let r = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/payments/{}/typed-data?payer={}", other["paymentId"].as_str().unwrap(), payer.address()),
            created["clientSecret"].as_str(),
            None,
            &[],
        )
        .await;
    r.assert_error(401, "unauthorized");
    app.request(reqwest::Method::GET, "/v1/payments", created["clientSecret"].as_str(), None, &[]).await.assert_error(401, "unauthorized");
    // It reads its own payment's status (the payer's page), without what is the merchant's alone.
    let secret = created["clientSecret"].as_str();
    let own = app.request(reqwest::Method::GET, &format!("/v1/payments/{id}"), secret, None, &[]).await;
    assert_eq!((own.status.as_u16(), own.body["status"].as_str()), (200, Some("COMPLETED")), "{}", own.text);
    assert_eq!(own.body["metadata"], serde_json::json!({}), "{}", own.text);
    let path = format!("/v1/payments/{}", other["paymentId"].as_str().unwrap());
    app.request(reqwest::Method::GET, &path, secret, None, &[]).await.assert_error(401, "unauthorized");
    app.finish().await;
}

/// Every tampered request is refused before any gas is spent: a bad signature (401), another signer, a stale
/// nonce, an expired deadline, another amount / recipient / token in the terms, another `to`, a value, too much
/// gas (400), a payment already paid (409); the relayer's nonce and balance do not move.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tampered_gasless_request_is_refused_before_any_gas_is_spent() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let relayer = key(0).address();
    let created = app.create_payment("tampered").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let payer = PrivateKeySigner::random();
    let token: Address = crate::helpers::TOKEN.parse().unwrap();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(5000)).await.unwrap();
    let good = sign_checkout(&app, &created, &payer).await;
    let (nonce_before, balance_before) = (rpc.nonce(relayer, "latest").await.unwrap(), rpc.balance(relayer).await.unwrap());
    let fdomain = eip712::forwarder_domain(31337, DEV_FORWARDER.parse().unwrap());
    let resign = |r: &serde_json::Value, signer: &PrivateKeySigner| {
        let sig = eip712::sign_struct(signer, &fdomain, &request_of(r)).unwrap();
        serde_json::json!({"request": r, "signature": format!("0x{}", hex::encode(sig.as_bytes()))})
    };
    let gateway_terms = || terms_of(&created);
    let sig = hex::decode(created["serverSignature"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let with_data = |terms: PaymentTerms| {
        let mut r = good["request"].clone();
        r["data"] = serde_json::json!(format!("0x{}", hex::encode(contracts::payCall { terms, serverSignature: sig.clone().into() }.abi_encode())));
        resign(&r, &payer)
    };
    let mut cases: Vec<(&str, serde_json::Value, u16, &str)> = Vec::new();
    let mut bad_sig = good.clone();
    bad_sig["signature"] = serde_json::json!(format!("0x{}", "11".repeat(65)));
    cases.push(("garbage signature", bad_sig, 400, "invalid_signature"));
    cases.push(("signed by another key", resign(&good["request"], &PrivateKeySigner::random()), 400, "invalid_signature"));
    let mut r = good["request"].clone();
    r["nonce"] = serde_json::json!("7");
    cases.push(("stale nonce", resign(&r, &payer), 400, "terms_mismatch"));
    let mut r = good["request"].clone();
    r["deadline"] = serde_json::json!((now_secs() - 10).to_string());
    cases.push(("expired", resign(&r, &payer), 400, "request_expired"));
    let mut t = gateway_terms();
    t.amount = U256::from(1);
    cases.push(("other amount", with_data(t), 400, "terms_mismatch"));
    let mut t = gateway_terms();
    t.recipient = Address::repeat_byte(0x66);
    cases.push(("other recipient", with_data(t), 400, "terms_mismatch"));
    let mut t = gateway_terms();
    t.token = Address::repeat_byte(0x77);
    cases.push(("other token", with_data(t), 400, "terms_mismatch"));
    let mut r = good["request"].clone();
    r["to"] = serde_json::json!(crate::helpers::TOKEN);
    cases.push(("other to", resign(&r, &payer), 400, "terms_mismatch"));
    let mut r = good["request"].clone();
    r["value"] = serde_json::json!("1");
    cases.push(("a value", resign(&r, &payer), 400, "terms_mismatch"));
    let mut r = good["request"].clone();
    r["gas"] = serde_json::json!("30000000");
    cases.push(("too much gas", resign(&r, &payer), 400, "terms_mismatch"));
    for (what, body, status, code) in cases {
        let r = app
            .request(reqwest::Method::POST, &format!("/v1/payments/{id}/gasless"), created["clientSecret"].as_str(), Some(&body.to_string()), &[])
            .await;
        r.assert_error(status, code);
        assert_eq!(status_of(&app, &id).await, "PENDING", "{what}: nothing changed");
    }
    // Paid directly meanwhile: the gasless request no longer simulates.
    let other = app.create_payment("paid-elsewhere").await;
    let body = sign_checkout(&app, &other, &payer).await;
    pay_directly(&rpc, &key(3), &other).await.unwrap();
    let r = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/payments/{}/gasless", other["paymentId"].as_str().unwrap()),
            other["clientSecret"].as_str(),
            Some(&body.to_string()),
            &[],
        )
        .await;
    assert!(r.status == 400 || r.status == 409, "{}", r.text);
    let (nonce_after, balance_after) = (rpc.nonce(relayer, "latest").await.unwrap(), rpc.balance(relayer).await.unwrap());
    assert_eq!((nonce_after, balance_after), (nonce_before, balance_before), "the relayer sent nothing and spent nothing");
    assert_eq!(settle_store::relay::all_txs(&app.ctx.db, 31337, &relayer.to_checksum(None)).await.unwrap().len(), 0, "nothing relayed");
    app.finish().await;
}

/// Settle on two chains at once (two anvils, different chain ids, the development contracts on both).
async fn two_chain_app(a: &Anvil, b: &Anvil) -> crate::helpers::TestApp {
    use crate::helpers::*;
    let mut setup = Setup::new(Variant { db: Db::Postgres, cache: Cache::Redis });
    if !setup.variant.available().await {
        setup.variant = Variant { db: Db::Sqlite, cache: Cache::Memory };
    }
    setup.chains.clear();
    for anvil in [a, b] {
        deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(1).address(), true).await.unwrap();
        let mut spec = settle_app::chain::settings::dev_chain(&anvil.url);
        spec.chain_id = anvil.chain_id;
        spec.confirmations = Some(2);
        spec.poll_ms = Some(100);
        setup.chains.push(spec);
    }
    setup.settings.relay_wait = Duration::from_secs(60);
    setup.request_timeout = Some(Duration::from_secs(90));
    TestApp::spawn_with(setup).await.unwrap()
}

/// Many payers on two chains pay at once through `POST /relay` (each payer's payments in order, as its forwarder
/// nonce requires): every payment COMPLETED, each relayer's nonces contiguous with exactly one mined
/// transaction per nonce, no relayed transaction reverted: 200 payments from 20 payers (SETTLE_CHAIN_LOAD sets
/// another count; scripts/bench runs it in release mode for the figures).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_payers_on_two_chains_pay_gaslessly_at_once() {
    let Some(a) = Anvil::start(31337, &[]).await else { return };
    let b = Anvil::start(31338, &[]).await.unwrap();
    let app = std::sync::Arc::new(two_chain_app(&a, &b).await);
    let total: usize = std::env::var("SETTLE_CHAIN_LOAD").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let payers_n = (total / 4).clamp(2, 20);
    let per_payer = total.div_ceil(payers_n);
    let token: Address = crate::helpers::TOKEN.parse().unwrap();
    let payers: Vec<(PrivateKeySigner, u64)> =
        (0..payers_n).map(|i| (PrivateKeySigner::random(), if i % 2 == 0 { a.chain_id } else { b.chain_id })).collect();
    for (p, chain) in &payers {
        let rpc = if *chain == a.chain_id { a.rpc() } else { b.rpc() };
        deploy::mint(&rpc, &key(0), token, p.address(), U256::from(1500 * per_payer as u64)).await.unwrap();
    }
    // Blocks keep coming (for the confirmations) while the payers pay.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let miners: Vec<_> = [a.rpc(), b.rpc()]
        .into_iter()
        .map(|rpc| {
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                while !*stop.borrow() {
                    mine(&rpc, 1).await;
                    tokio::select! { _ = tokio::time::sleep(Duration::from_millis(250)) => {}, _ = stop.changed() => {} }
                }
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = payers
        .into_iter()
        .enumerate()
        .map(|(i, (payer, chain))| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for j in 0..per_payer {
                    let t0 = std::time::Instant::now();
                    let mut body = crate::helpers::TestApp::chain_payment(&format!("load-{i}-{j}"));
                    body["chainId"] = serde_json::json!(chain);
                    let created = app.post("/v1/payments", &body).await;
                    assert_eq!(created.status, 201, "{}", created.text);
                    let id = created.body["paymentId"].as_str().unwrap().to_owned();
                    let signed = sign_checkout(&app, &created.body, &payer).await;
                    // Every fourth payment through /relay (which waits), the rest through /gasless and a wait
                    // here: each payer's next request needs the previous one mined (its forwarder nonce).
                    let secret = created.body["clientSecret"].as_str();
                    if j % 4 == 0 {
                        let r = app.request(reqwest::Method::POST, &format!("/v1/payments/{id}/relay"), secret, Some(&signed.to_string()), &[]).await;
                        assert_eq!(r.status, 200, "{}", r.text);
                        assert_eq!(r.body["payment"]["status"], "COMPLETED");
                    } else {
                        let r =
                            app.request(reqwest::Method::POST, &format!("/v1/payments/{id}/gasless"), secret, Some(&signed.to_string()), &[]).await;
                        assert_eq!(r.status, 202, "{}", r.text);
                        wait_status(&app, &id, "COMPLETED", Duration::from_secs(90)).await;
                    }
                    ids.push((id, t0.elapsed()));
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    let _ = stop_tx.send(true);
    for m in miners {
        let _ = m.await;
    }
    // Figures for scripts/bench (nothing here is asserted about speed).
    let elapsed = started.elapsed();
    let mut lat: Vec<Duration> = ids.iter().map(|(_, d)| *d).collect();
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)].as_millis();
    eprintln!(
        "CHAIN-BENCH {} gasless payments on two chains in {:.1} s: {:.1} confirmed/s, create to COMPLETED p50 {} ms p95 {} ms",
        ids.len(),
        elapsed.as_secs_f64(),
        ids.len() as f64 / elapsed.as_secs_f64(),
        pct(50),
        pct(95)
    );
    let ids: Vec<String> = ids.into_iter().map(|(id, _)| id).collect();
    for id in &ids {
        assert_eq!(status_of(&app, id).await, "COMPLETED");
    }
    let relayer = key(0).address().to_checksum(None);
    for chain in [a.chain_id, b.chain_id] {
        wait_for("nothing left in flight", Duration::from_secs(30), || async {
            settle_store::relay::all_txs(&app.ctx.db, chain as i64, &relayer).await.unwrap().iter().all(|t| t.status != "SENT")
        })
        .await;
        let txs = settle_store::relay::all_txs(&app.ctx.db, chain as i64, &relayer).await.unwrap();
        let mined: Vec<i64> = txs.iter().filter(|t| t.status == "MINED").map(|t| t.nonce).collect();
        let first = mined.first().copied().unwrap_or(0);
        assert_eq!(mined, (first..first + mined.len() as i64).collect::<Vec<_>>(), "chain {chain}: one mined transaction per nonce, none skipped");
    }
    let app = std::sync::Arc::into_inner(app).unwrap();
    app.finish().await;
}

/// Submits a signed gasless checkout for a new payment; returns its id.
pub(crate) async fn submit_gasless(app: &crate::helpers::TestApp, order: &str, payer: &PrivateKeySigner) -> String {
    let created = app.create_payment(order).await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let body = sign_checkout(app, &created, payer).await;
    let r = app
        .request(reqwest::Method::POST, &format!("/v1/payments/{id}/gasless"), created["clientSecret"].as_str(), Some(&body.to_string()), &[])
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    id
}

/// The relayer's transactions on 31337.
pub(crate) async fn relayed(app: &crate::helpers::TestApp) -> Vec<settle_store::relay::RelayTxRow> {
    settle_store::relay::all_txs(&app.ctx.db, 31337, &key(0).address().to_checksum(None)).await.unwrap()
}

pub(crate) async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, limit: Duration, mut check: impl FnMut() -> F) {
    crate::helpers::eventually(limit, what, async || check().await.then_some(())).await
}

/// A relayed transaction dropped from the node's pool is broadcast again (the same transaction, the same
/// nonce) and confirmed; a transaction stuck under a base fee above its max fee is replaced at its nonce with
/// higher fees, and exactly one transaction per nonce is mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_and_stuck_relays_are_rebroadcast_and_replaced() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let payer = PrivateKeySigner::random();
    let token: Address = crate::helpers::TOKEN.parse().unwrap();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(10_000)).await.unwrap();
    let _: serde_json::Value = rpc.call("evm_setAutomine", serde_json::json!([false])).await.unwrap();

    // Dropped.
    let id = submit_gasless(&app, "dropped", &payer).await;
    wait_for("the relay is sent", Duration::from_secs(10), || async { !relayed(&app).await.is_empty() }).await;
    let first = relayed(&app).await[0].clone();
    let _: serde_json::Value = rpc.call("anvil_dropTransaction", serde_json::json!([first.tx_hash])).await.unwrap();
    wait_for("the dropped transaction is back in the pool", Duration::from_secs(10), || async {
        rpc.knows_transaction(first.tx_hash.parse().unwrap()).await.unwrap_or(false)
    })
    .await;
    mine(&rpc, 3).await;
    wait_status(&app, &id, "COMPLETED", Duration::from_secs(10)).await;
    // The watcher may complete the payment from its log before the relayer reads its receipt: the relayer's
    // record follows on its next pass.
    wait_for("the relayer records its transaction mined", Duration::from_secs(10), || async {
        relayed(&app).await.iter().any(|t| t.status == "MINED")
    })
    .await;
    let txs = relayed(&app).await;
    assert_eq!(txs.len(), 1, "the same transaction, rebroadcast: {txs:?}");
    assert_eq!(txs[0].status, "MINED");

    // Stuck: the next blocks' base fee is far above what the relay offered.
    let id = submit_gasless(&app, "stuck", &payer).await;
    wait_for("the relay is sent", Duration::from_secs(10), || async { relayed(&app).await.len() == 2 }).await;
    let stuck = relayed(&app).await[1].clone();
    let _: serde_json::Value = rpc.call("anvil_setNextBlockBaseFeePerGas", serde_json::json!(["0xe8d4a51000"])).await.unwrap(); // 1000 gwei
    // More blocks than its stuck period (`bump_after_blocks`, 3), counted from the head it was sent at.
    mine(&rpc, 4).await;
    wait_for("the stuck relay is replaced", Duration::from_secs(10), || async {
        relayed(&app).await.iter().filter(|t| t.nonce == stuck.nonce).count() >= 2
    })
    .await;
    mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(15)).await;
    wait_for("the relayer records the replacement mined", Duration::from_secs(10), || async {
        relayed(&app).await.iter().any(|t| t.nonce == stuck.nonce && t.status == "MINED")
    })
    .await;
    let at_nonce: Vec<_> = relayed(&app).await.into_iter().filter(|t| t.nonce == stuck.nonce).collect();
    assert_eq!(at_nonce.iter().filter(|t| t.status == "MINED").count(), 1, "exactly one transaction per nonce mined: {at_nonce:?}");
    assert!(at_nonce.iter().all(|t| t.status == "MINED" || t.status == "REPLACED"), "{at_nonce:?}");
    let m = app.request(reqwest::Method::GET, "/metrics", None, None, &[]).await.text;
    assert!(m.contains("settle_chain_rebroadcasts_total") && m.contains("settle_chain_fee_bumps_total"));
    app.finish().await;
}

/// A merchant's fee (basis points, set when the merchant is created) is signed into its payments' terms, and
/// the contract sends it to the treasury.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merchant_fee_goes_to_the_treasury() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let r = app
        .request(
            reqwest::Method::POST,
            "/v1/merchants",
            Some(crate::helpers::ADMIN_TOKEN),
            Some(&serde_json::json!({"name": "Fee Shop", "feeBps": 250}).to_string()),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["feeBps"], 250);
    let key_of_merchant = r.body["testApiKey"].as_str().unwrap().to_owned();
    let bad = app
        .request(
            reqwest::Method::POST,
            "/v1/merchants",
            Some(crate::helpers::ADMIN_TOKEN),
            Some(&serde_json::json!({"name": "Greedy", "feeBps": 10001}).to_string()),
            &[],
        )
        .await;
    assert_eq!(bad.assert_error(400, "parameter_invalid").as_deref(), Some("feeBps"));
    let created = app
        .request(
            reqwest::Method::POST,
            "/v1/payments",
            Some(&key_of_merchant),
            Some(&crate::helpers::TestApp::chain_payment("with-fee").to_string()),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["terms"]["feeBps"], 250);
    // The fee changes for payments created from now on; the one above keeps the fee it was signed with.
    let merchant_id = r.body["merchantId"].as_str().unwrap().to_owned();
    let patch = |id: String, token: Option<&'static str>, body: serde_json::Value| {
        let app = &app;
        async move { app.request(reqwest::Method::PATCH, &format!("/v1/merchants/{id}"), token, Some(&body.to_string()), &[]).await }
    };
    let admin = Some(crate::helpers::ADMIN_TOKEN);
    let changed = patch(merchant_id.clone(), admin, serde_json::json!({"feeBps": 100})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!((changed.body["merchantId"].as_str(), changed.body["feeBps"].as_u64()), (Some(merchant_id.as_str()), Some(100)));
    assert!(changed.body.get("apiKey").is_none());
    assert_eq!(
        patch(merchant_id.clone(), admin, serde_json::json!({"feeBps": 10001})).await.assert_error(400, "parameter_invalid").as_deref(),
        Some("feeBps")
    );
    assert_eq!(
        patch(merchant_id.clone(), admin, serde_json::json!({"feeBps": -1})).await.assert_error(400, "parameter_invalid").as_deref(),
        Some("feeBps")
    );
    assert_eq!(patch(merchant_id.clone(), admin, serde_json::json!({"fee": 1})).await.status, 400);
    // The automatic refund of late payments: on by default, changed alone (the fee stays); an empty change is refused.
    assert_eq!(changed.body["refundLatePayments"], true);
    let off = patch(merchant_id.clone(), admin, serde_json::json!({"refundLatePayments": false})).await;
    assert_eq!((off.body["refundLatePayments"].as_bool(), off.body["feeBps"].as_u64()), (Some(false), Some(100)), "{}", off.text);
    assert_eq!(patch(merchant_id.clone(), admin, serde_json::json!({})).await.assert_error(400, "parameter_invalid").as_deref(), Some("feeBps"));
    assert_eq!(patch(merchant_id.clone(), admin, serde_json::json!({"refundLatePayments": "no"})).await.status, 400);
    assert_eq!(off.body["returnFeeOnRefund"], false, "fees are kept by default: {}", off.text);
    let back = patch(merchant_id.clone(), admin, serde_json::json!({"returnFeeOnRefund": true})).await;
    assert_eq!((back.body["returnFeeOnRefund"].as_bool(), back.body["refundLatePayments"].as_bool()), (Some(true), Some(false)), "{}", back.text);
    patch("mch_nobody".into(), admin, serde_json::json!({"feeBps": 1})).await.assert_error(404, "not_found");
    patch(merchant_id.clone(), None, serde_json::json!({"feeBps": 0})).await.assert_error(401, "unauthorized");
    patch(merchant_id.clone(), Some("sk_not_the_admin"), serde_json::json!({"feeBps": 0})).await.assert_error(401, "unauthorized");
    let after = app
        .request(
            reqwest::Method::POST,
            "/v1/payments",
            Some(&key_of_merchant),
            Some(&crate::helpers::TestApp::chain_payment("after-fee-change").to_string()),
            &[],
        )
        .await;
    assert_eq!(after.status, 201, "{}", after.text);
    assert_eq!(after.body["terms"]["feeBps"], 100);
    let path = format!("/v1/payments/{}", created.body["paymentId"].as_str().unwrap());
    assert_eq!(app.request(reqwest::Method::GET, &path, Some(&key_of_merchant), None, &[]).await.body["terms"]["feeBps"], 250);

    pay_directly(&rpc, &key(3), &created.body).await.unwrap();
    let token: Address = crate::helpers::TOKEN.parse().unwrap();
    let recipient: Address = crate::helpers::RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, token, recipient).await.unwrap(), U256::from(1500 - 37));
    assert_eq!(deploy::balance_of(&rpc, token, key(2).address()).await.unwrap(), U256::from(37), "1500 × 2.5 %, rounded down, to the treasury");
    pay_directly(&rpc, &key(3), &after.body).await.unwrap();
    assert_eq!(deploy::balance_of(&rpc, token, recipient).await.unwrap(), U256::from(1500 - 37 + 1500 - 15));
    assert_eq!(deploy::balance_of(&rpc, token, key(2).address()).await.unwrap(), U256::from(37 + 15), "then 1 %");
    app.finish().await;
}

/// The status read is cache-first; on a miss for a PENDING chain payment it asks the contract (the source of
/// truth): paid on chain, the payment is recorded PROCESSING before it is reported, even while the watcher has
/// not looked yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_status_miss_asks_the_contract() {
    use crate::helpers::*;
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let variant = Variant { db: Db::Sqlite, cache: Cache::Redis };
    if !variant.available().await {
        return;
    }
    deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let mut setup = Setup::new(variant);
    let mut spec = settle_app::chain::settings::dev_chain(&anvil.url);
    spec.poll_ms = Some(600_000); // the watcher looks once at start, then not for ten minutes
    setup.chains = vec![spec];
    let app = TestApp::spawn_with(setup).await.unwrap();
    wait_for("the watcher's look at start", Duration::from_secs(30), || async {
        settle_store::chain::cursor(&app.ctx.db, 31337).await.unwrap().is_some()
    })
    .await;
    let created = app.create_payment("status-miss").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    pay_directly(&anvil.rpc(), &key(3), &created).await.unwrap();
    let s = app.get(&format!("/payments/{id}/status")).await.body;
    assert_eq!(s["status"], "PENDING", "a cache hit answers what was recorded");
    // The cached entry goes (eviction, TTL): the next read misses and asks the contract.
    app.ctx.cache.evict(&id).await;
    let s = app.get(&format!("/payments/{id}/status")).await.body;
    assert_eq!(s["status"], "PROCESSING", "{s}");
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["payer"].as_str().unwrap().to_ascii_lowercase(), format!("{:#x}", key(3).address()), "{p}");
    let ev = app.get(&format!("/v1/payments/{id}/events")).await.text;
    assert!(ev.contains("getPayment"), "{ev}");
    app.finish().await;
}

/// Another sender with the relayer's key takes the nonce of a relay in flight: Settle never sends at that nonce
/// again; it learns none of its transactions was mined there (DISPLACED) and sends the relay at a new nonce.
/// A nonce Settle recorded as taken but holds no transaction for (here: a database moved past the chain while
/// Settle was stopped) is filled with a 0-value transfer on taking the lease, so later relays are mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relayer_reconciles_its_nonces_with_the_chain() {
    use settle_store::ConnectionTrait;
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let mut app = chain_app(&anvil).await;
    let rpc = anvil.rpc();
    let payer = PrivateKeySigner::random();
    let token: Address = crate::helpers::TOKEN.parse().unwrap();
    let relayer = key(0).address();
    deploy::mint(&rpc, &key(0), token, payer.address(), U256::from(10_000)).await.unwrap();
    let _: serde_json::Value = rpc.call("evm_setAutomine", serde_json::json!([false])).await.unwrap();

    // Displaced: a transfer from the relayer's key, with far higher fees, replaces the relay in the pool.
    let id = submit_gasless(&app, "displaced", &payer).await;
    wait_for("the relay is sent", Duration::from_secs(20), || async { !relayed(&app).await.is_empty() }).await;
    let first = relayed(&app).await[0].clone();
    let fees = settle_chain::tx::Fees { max_fee_per_gas: 200_000_000_000, max_priority_fee_per_gas: 100_000_000_000 };
    let foreign =
        settle_chain::tx::sign_1559(&key(0), 31337, first.nonce as u64, Some(relayer), U256::ZERO, Default::default(), 21_000, fees).unwrap();
    rpc.send_raw(&foreign.raw).await.unwrap();
    mine(&rpc, 1).await;
    assert!(rpc.receipt(foreign.hash).await.unwrap().is_some(), "the other sender's transaction took the nonce");
    mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(60)).await;
    // The payment completes from the chain's log; the relayer records its receipt on its own pass.
    wait_for("the relay's receipt is recorded", Duration::from_secs(30), || async {
        mine(&rpc, 1).await;
        relayed(&app).await.iter().all(|t| t.status != "SENT")
    })
    .await;
    let txs = relayed(&app).await;
    let at_first: Vec<_> = txs.iter().filter(|t| t.nonce == first.nonce).collect();
    assert!(at_first.iter().all(|t| t.status == "DISPLACED"), "{txs:?}");
    let mined: Vec<_> = txs.iter().filter(|t| t.status == "MINED").collect();
    assert_eq!(mined.len(), 1, "{txs:?}");
    assert_eq!(mined[0].nonce, first.nonce + 1, "sent again at the next nonce: {txs:?}");
    assert_eq!(mined[0].relay_request_id, first.relay_request_id);
    let rr = settle_store::relay::find_request(&app.ctx.db, first.relay_request_id.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(rr.status, "CONFIRMED");
    assert_eq!(app.get(&format!("/v1/payments/{id}")).await.body["txHash"].as_str(), Some(mined[0].tx_hash.as_str()));
    let m = app.request(reqwest::Method::GET, "/metrics", None, None, &[]).await.text;
    assert!(m.contains("settle_chain_nonces_displaced_total"), "{m}");

    // A lost nonce: while Settle is stopped its database moves one past the chain.
    app.shutdown().await;
    let db = settle_store::connect(&app.db.url, 1).await.unwrap();
    db.execute_unprepared("UPDATE relayer_nonces SET next_nonce = next_nonce + 1").await.unwrap();
    let _ = db.close().await;
    let gap = rpc.nonce(relayer, "latest").await.unwrap() as i64;
    let app = crate::helpers::TestApp::start(app.setup.clone(), app.db.clone()).await;
    wait_for("the lost nonce is filled after taking the lease", Duration::from_secs(30), || async {
        relayed(&app).await.iter().any(|t| t.nonce == gap && t.relay_request_id.is_none())
    })
    .await;
    let id = submit_gasless(&app, "after-the-gap", &payer).await;
    mine_until_status(&app, &rpc, &id, "COMPLETED", Duration::from_secs(60)).await;
    wait_for("nothing left in flight", Duration::from_secs(30), || async {
        mine(&rpc, 1).await;
        relayed(&app).await.iter().all(|t| t.status != "SENT")
    })
    .await;
    let txs = relayed(&app).await;
    let filler: Vec<_> = txs.iter().filter(|t| t.nonce == gap).collect();
    assert!(filler.iter().all(|t| t.relay_request_id.is_none()) && filler.iter().filter(|t| t.status == "MINED").count() == 1, "{txs:?}");
    let tx: serde_json::Value =
        rpc.call("eth_getTransactionByHash", serde_json::json!([filler.iter().find(|t| t.status == "MINED").unwrap().tx_hash])).await.unwrap();
    assert_eq!((tx["to"].as_str().map(str::to_lowercase), tx["value"].as_str()), (Some(format!("{relayer:#x}")), Some("0x0")), "{tx}");
    // Every nonce up to the chain's count holds exactly one mined transaction, ours or the other sender's.
    let on_chain = rpc.nonce(relayer, "latest").await.unwrap() as i64;
    let next = settle_store::relay::next_nonce(&app.ctx.db, 31337, &relayer.to_checksum(None)).await.unwrap();
    assert_eq!(next, Some(on_chain), "the recorded nonce and the chain's agree");
    for n in first.nonce..on_chain {
        let mined = txs.iter().filter(|t| t.nonce == n && t.status == "MINED").count();
        assert_eq!(mined, usize::from(n != first.nonce), "nonce {n}: {txs:?}");
    }
    app.finish().await;
}

/// A JSON-RPC node in front of anvil that, like a real node under load, answers `eth_getLogs` for its newest
/// block before it has indexed that block's logs: logs of the head block are left out.
struct UnindexedHeadNode {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl UnindexedHeadNode {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream.to_owned();
        let http = reqwest::Client::new();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let (http, upstream) = (http.clone(), upstream.clone());
                async move {
                    let head = if body["method"] == "eth_getLogs" {
                        let r: serde_json::Value = http
                            .post(&upstream)
                            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}))
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        r["result"].as_str().map(str::to_owned)
                    } else {
                        None
                    };
                    let mut answer: serde_json::Value = http.post(&upstream).json(&body).send().await.unwrap().json().await.unwrap();
                    if let (Some(head), Some(logs)) = (head, answer["result"].as_array_mut()) {
                        logs.retain(|l| l["blockNumber"].as_str() != Some(head.as_str()));
                    }
                    axum::Json(answer)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, task }
    }
}

impl Drop for UnindexedHeadNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The watcher never puts the head block behind its cursor on the strength of one `eth_getLogs`: a node that
/// has not yet indexed its newest block's logs cannot make Settle miss a payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_log_the_node_had_not_indexed_at_its_head_is_still_seen() {
    use crate::helpers::*;
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let node = UnindexedHeadNode::start(&anvil.url).await;
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    let mut spec = settle_app::chain::settings::dev_chain(&node.url);
    spec.confirmations = Some(2);
    spec.poll_ms = Some(100);
    setup.chains = vec![spec];
    let app = TestApp::spawn_with(setup).await.unwrap();
    let created = app.create_payment("unindexed-head").await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let receipt = pay_directly(&rpc, &key(3), &created).await.unwrap();
    // The watcher reads while the payment's block is the head (and sees nothing), then blocks come.
    watch_once(&app).await;
    assert_eq!(status_of(&app, &id).await, "PENDING", "the node hid the log so far");
    mine(&rpc, 2).await;
    wait_status(&app, &id, "COMPLETED", Duration::from_secs(30)).await;
    let p = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(p["txHash"].as_str(), Some(format!("{:#x}", receipt.transaction_hash).as_str()));
    app.finish().await;
}

/// The settle.toml of a dev chain at `rpc_url` with Settle's contracts and the test token where
/// `settle chain deploy --with-test-token` puts them.
pub(crate) fn dev_settle_toml(rpc_url: &str) -> String {
    use crate::helpers::TOKEN;
    format!(
        "[[chains]]\nchain_id = 31337\nrpc_urls = [\"{rpc_url}\"]\ngateway = \"{DEV_GATEWAY}\"\nforwarder = \"{DEV_FORWARDER}\"\nconfirmations = 2\npoll_ms = 100\ntest_network = true\ntokens = [{{ address = \"{TOKEN}\", symbol = \"USDC\", decimals = 6 }}]\n"
    )
}

/// `settle serve` on the test's anvil (settle.toml in `dir`), with the development keys.
fn serve_chain(dir: &crate::helpers::TempDir) -> crate::helpers::Process {
    let env = [
        ("SETTLE_LISTEN", "127.0.0.1:0".to_owned()),
        ("SETTLE_LOG", "info".to_owned()),
        ("SETTLE_CHAIN_31337_SIGNER_KEY", DEV_KEYS[0].to_owned()),
        ("SETTLE_CHAIN_31337_RELAYER_KEY", DEV_KEYS[0].to_owned()),
        ("SETTLE_ALLOW_DEMO_KEY", "true".to_owned()),
    ];
    crate::helpers::Process::start(dir, &["serve"], &env, "Settle listening on ")
}

/// Settle is killed (SIGKILL) while relays are in flight and started again on the same database: no relayer
/// nonce is reused or skipped, every payment is COMPLETED exactly once (each payer charged once, the recipient
/// paid for each), and relays submitted after the restart continue the nonces.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settle_killed_mid_flight_reuses_and_skips_no_nonce() {
    use crate::helpers::{RECIPIENT, TOKEN, TempDir, request_at, within};
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let token: Address = TOKEN.parse().unwrap();
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let payers: Vec<PrivateKeySigner> = (0..30).map(|_| PrivateKeySigner::random()).collect();
    for p in &payers {
        deploy::mint(&rpc, &key(1), token, p.address(), U256::from(1500)).await.unwrap();
    }
    let dir = TempDir::new();
    std::fs::write(dir.0.join("settle.toml"), dev_settle_toml(&anvil.url)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_settle"))
        .args(["merchant", "create", "--name", "Killed Shop"])
        .current_dir(&dir.0)
        .env_remove("DATABASE_URL")
        .env("SETTLE_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merchant: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let api_key = merchant["testApiKey"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let db = settle_store::connect(&format!("sqlite://{}", dir.0.join("settle.db").display()), 1).await.unwrap();
    let relayer = key(0).address().to_checksum(None);
    let first_nonce = rpc.nonce(key(0).address(), "latest").await.unwrap() as i64;

    // Creates, signs and submits one gasless payment per payer; returns the ids.
    let pay = |base: String, payers: Vec<PrivateKeySigner>, tag: &'static str| {
        let (client, api_key) = (client.clone(), api_key.clone());
        async move {
            let mut ids = Vec::new();
            for (i, payer) in payers.iter().enumerate() {
                let mut body = crate::helpers::TestApp::chain_payment(&format!("{tag}-{i}"));
                body["recipientAddress"] = serde_json::json!(RECIPIENT);
                let created = request_at(&client, &base, reqwest::Method::POST, "/v1/payments", Some(&api_key), Some(&body.to_string()), &[]).await;
                assert_eq!(created.status, 201, "{}", created.text);
                let id = created.body["paymentId"].as_str().unwrap().to_owned();
                let signed = sign_checkout_at(&client, &base, &created.body, payer).await;
                let path = format!("/v1/payments/{id}/gasless");
                let r =
                    request_at(&client, &base, reqwest::Method::POST, &path, created.body["clientSecret"].as_str(), Some(&signed.to_string()), &[])
                        .await;
                assert_eq!(r.status, 202, "{}", r.text);
                ids.push(id);
            }
            ids
        }
    };

    // Blocks stop while the first 24 relays are submitted and sent; Settle is killed with them in the pool.
    let _: serde_json::Value = rpc.call("evm_setAutomine", serde_json::json!([false])).await.unwrap();
    let mut served = serve_chain(&dir);
    let mut ids = pay(served.base(), payers[..24].to_vec(), "before").await;
    wait_for("relays are in flight", Duration::from_secs(30), || async {
        settle_store::relay::all_txs(&db, 31337, &relayer).await.unwrap().len() >= 12
    })
    .await;
    served.kill();
    let sent_before_kill = settle_store::relay::all_txs(&db, 31337, &relayer).await.unwrap().len();
    mine(&rpc, 1).await; // What was broadcast is mined while Settle is down.

    // Started again on the same database (it waits out the dead instance's leases); blocks keep coming.
    let served = serve_chain(&dir);
    let base = served.base();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let miner = {
        let rpc = anvil.rpc();
        tokio::spawn(async move {
            while !*stop_rx.borrow() {
                mine(&rpc, 1).await;
                tokio::select! { _ = tokio::time::sleep(Duration::from_millis(300)) => {}, _ = stop_rx.changed() => {} }
            }
        })
    };
    ids.extend(pay(base.clone(), payers[24..].to_vec(), "after").await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    for id in &ids {
        let get = async || request_at(&client, &base, reqwest::Method::GET, &format!("/v1/payments/{id}"), Some(&api_key), None, &[]).await;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if within(left, async || (get().await.body["status"] == "COMPLETED").then_some(())).await.is_none() {
            let p = get().await;
            let txs = settle_store::relay::all_txs(&db, 31337, &relayer).await.unwrap();
            let mut requests = Vec::new();
            for status in ["PENDING", "SENT", "CONFIRMED", "FAILED", "CANCELLED"] {
                requests.extend(settle_store::relay::requests(&db, 31337, status, 100).await.unwrap());
            }
            let log = std::fs::read_to_string(dir.0.join("settle.log")).unwrap_or_default();
            panic!(
                "{id} never became COMPLETED: {}\nrequests: {:?}\ntxs: {:?}\nchain nonce {:?}\nlog:\n{}",
                p.text,
                requests.iter().map(|r| (&r.payment_id, &r.status, &r.tx_hash, &r.last_error)).collect::<Vec<_>>(),
                txs.iter().map(|t| (t.nonce, &t.status, &t.tx_hash, &t.relay_request_id)).collect::<Vec<_>>(),
                rpc.nonce(key(0).address(), "latest").await,
                log.lines().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    wait_for("nothing left in flight", Duration::from_secs(30), || async {
        settle_store::relay::all_txs(&db, 31337, &relayer).await.unwrap().iter().all(|t| t.status != "SENT")
    })
    .await;
    let _ = stop_tx.send(true);
    let _ = miner.await;

    // Nonces: one mined transaction per nonce from the first to the chain's count, each for one relay request,
    // the recorded next nonce equal to the chain's.
    let txs = settle_store::relay::all_txs(&db, 31337, &relayer).await.unwrap();
    assert!(sent_before_kill >= 12 && sent_before_kill < txs.len() + 1, "{sent_before_kill} sent before the kill");
    let on_chain = rpc.nonce(key(0).address(), "latest").await.unwrap() as i64;
    let mined: Vec<i64> = txs.iter().filter(|t| t.status == "MINED").map(|t| t.nonce).collect();
    assert_eq!(mined, (first_nonce..on_chain).collect::<Vec<_>>(), "one mined transaction per nonce, none skipped: {txs:?}");
    for n in first_nonce..on_chain {
        let requests: std::collections::HashSet<_> = txs.iter().filter(|t| t.nonce == n).map(|t| &t.relay_request_id).collect();
        assert_eq!(requests.len(), 1, "nonce {n} used for one request only: {txs:?}");
    }
    assert_eq!(settle_store::relay::next_nonce(&db, 31337, &relayer).await.unwrap(), Some(on_chain));
    let confirmed = settle_store::relay::requests(&db, 31337, "CONFIRMED", 1000).await.unwrap();
    if confirmed.len() != 30 {
        let mut others = Vec::new();
        for status in ["PENDING", "SENT", "FAILED", "CANCELLED"] {
            others.extend(settle_store::relay::requests(&db, 31337, status, 100).await.unwrap());
        }
        let log = std::fs::read_to_string(dir.0.join("settle.log")).unwrap_or_default();
        panic!(
            "every relay confirmed, none reverted: {} confirmed; others {:?}\ntxs {:?}\nlog:\n{}",
            confirmed.len(),
            others.iter().map(|r| (&r.relay_request_id, &r.payment_id, &r.status, &r.tx_hash, &r.last_error)).collect::<Vec<_>>(),
            txs.iter().map(|t| (t.nonce, &t.status, &t.tx_hash, &t.relay_request_id)).collect::<Vec<_>>(),
            log.lines().filter(|l| !l.contains("slow query")).take(100).collect::<Vec<_>>().join("\n")
        );
    }
    // Money: each payer charged once, the recipient paid for each payment.
    for p in &payers {
        assert_eq!(deploy::balance_of(&rpc, token, p.address()).await.unwrap(), U256::ZERO);
    }
    let recipient: Address = RECIPIENT.parse().unwrap();
    assert_eq!(deploy::balance_of(&rpc, token, recipient).await.unwrap(), U256::from(30 * 1500));
    let _ = db.close().await;
}

crate::per_db!(the_watcher_and_the_relayer_remember_a_block_at_once);

/// The watcher (reading logs) and the relayer (recording a receipt's log) remember the same block at the same
/// moment: neither fails, and one hash per block number is kept.
async fn the_watcher_and_the_relayer_remember_a_block_at_once(v: crate::helpers::Variant) {
    let Some(app) = crate::helpers::TestApp::spawn(v).await else { return };
    let app = std::sync::Arc::new(app);
    for number in 0..20i64 {
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move { settle_store::chain::remember_block(&app.ctx.db, 7, number, &format!("0x{number:02x}{i:062x}")).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap_or_else(|e| panic!("block {number}: {e}"));
        }
    }
    let kept = settle_store::chain::blocks_below(&app.ctx.db, 7, 100, 1000).await.unwrap();
    assert_eq!(kept.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (0..20).rev().collect::<Vec<_>>());
    std::sync::Arc::into_inner(app).unwrap().finish().await;
}

/// A chain whose RPC endpoints all stop answering is `degraded` in /health, with the reason, while the instance
/// stays ready and the card rail goes on; once an endpoint answers again the chain is `ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_whose_nodes_all_fail_is_degraded_in_health_and_the_card_rail_goes_on() {
    use crate::helpers::*;
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let upstream: std::net::SocketAddr = anvil.url.trim_start_matches("http://").parse().unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut setup = Setup::new(Variant { db: Db::Sqlite, cache: Cache::Memory });
    let mut spec = settle_app::chain::settings::dev_chain(&format!("http://{}", proxy.addr));
    spec.rpc_urls.insert(0, "http://127.0.0.1:9".into());
    spec.poll_ms = Some(100);
    setup.chains = vec![spec];
    let app = TestApp::spawn_with(setup).await.unwrap();
    // One endpoint answers (the other never does): the chain is ok and its head known.
    wait_for("the chain ok with a head", Duration::from_secs(30), || async {
        let h = health_of(&app).await;
        h["status"] == "ok" && h["chains"][0]["status"] == "ok" && h["chains"][0]["head"].is_u64()
    })
    .await;
    proxy.cut();
    wait_for("the chain degraded", Duration::from_secs(60), || async { health_of(&app).await["chains"][0]["status"] == "degraded" }).await;
    let h = app.request(reqwest::Method::GET, "/health", None, None, &[]).await;
    assert_eq!(h.status, 200, "{}", h.text);
    assert_eq!(h.body["status"], "degraded", "{}", h.text);
    let reason = h.body["chains"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("no RPC endpoint answers"), "{}", h.text);
    assert!(!reason.contains("127.0.0.1"), "no endpoint URL in the reason: {reason}");
    assert!(h.body["chains"][0]["unreachableSince"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", h.text);
    assert_eq!(app.request(reqwest::Method::GET, "/health/ready", None, None, &[]).await.status, 200, "still ready");
    // The card rail goes on meanwhile.
    let card = app.create_card_payment("card-while-chain-down", 1000).await;
    let r = app.pay(&card, "SAMSUNG", crate::card::CARD, Some("chain-down-card")).await;
    assert!(r.status == 200 || r.status == 202, "{}", r.text);
    let fin = app.wait_final(std::slice::from_ref(&card), Duration::from_secs(60)).await;
    assert!(fin[0] == "COMPLETED" || fin[0] == "FAILED", "the card payment reached a final state: {fin:?}");
    proxy.restore();
    wait_for("the chain ok again", Duration::from_secs(60), || async {
        let h = health_of(&app).await;
        h["status"] == "ok" && h["chains"][0]["status"] == "ok" && h["chains"][0].get("reason").is_none()
    })
    .await;
    app.finish().await;
}

async fn health_of(app: &crate::helpers::TestApp) -> serde_json::Value {
    app.request(reqwest::Method::GET, "/health", None, None, &[]).await.body
}
