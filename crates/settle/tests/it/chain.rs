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
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--chain-id", &chain_id.to_string(), "--hardfork", "cancun", "--silent"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn anvil");
        let anvil = Self { child, url: format!("http://127.0.0.1:{port}"), chain_id };
        let rpc = anvil.rpc();
        for _ in 0..100 {
            if rpc.chain_id().await.is_ok() {
                return Some(anvil);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("anvil did not start on {port}");
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
    let payer = PrivateKeySigner::random();
    let recipient = Address::repeat_byte(0x42);
    deploy::mint(&rpc, &deployer, token, payer.address(), U256::from(1_000_000)).await.unwrap();

    let terms =
        PaymentTerms { paymentId: B256::repeat_byte(9), token, amount: U256::from(1000), recipient, feeBps: 250, deadline: now_secs() + 1800 };
    let server_sig = eip712::sign_terms(&signer, &eip712::gateway_domain(anvil.chain_id, d.gateway), &terms).unwrap();
    let permit =
        Permit { owner: payer.address(), spender: d.gateway, value: terms.amount, nonce: U256::ZERO, deadline: U256::from(now_secs() + 1800) };
    let psig = eip712::sign_struct(&payer, &eip712::token_domain("Settle Test Dollar".into(), anvil.chain_id, token), &permit).unwrap();
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
