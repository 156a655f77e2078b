//! Refunds of CHAIN payments on anvil: the gateway (version 2) pays the payer back from the recipient's allowance,
//! Settle's relayer sends it (the merchant pays no gas), the watcher decides it at a confirmed block. A short
//! allowance makes the refund REQUIRES_ACTION; the merchant's signed permit carries it out. The contract refuses a
//! refund id twice and a sum above what was paid; a reorg of the refund's block refunds nothing twice.

use std::time::Duration;

use serde_json::{Value, json};
use settle_chain::{
    Address, Bytes, PrivateKeySigner, U256,
    alloy_sol::SolCall,
    contracts::{RefundTerms, approveCall, getRefundedCall, refundCall},
    deploy, eip712,
    rpc::{Rpc, is_revert},
};

use crate::{
    chain::{Anvil, key, mine, relayed, submit_gasless, wait_for},
    chain_faults::{mine_until_completed, payer, setup_on},
    helpers::{RECIPIENT, TOKEN, TestApp},
};

/// A Settle on `anvil` (contracts deployed) with refunds of CHAIN payments on (SETTLE_CHAIN_REFUNDS).
async fn app_on(anvil: &Anvil, tweak: impl FnOnce(&mut settle_app::chain::ChainSpec)) -> TestApp {
    deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let mut setup = setup_on(&anvil.url, tweak);
    setup.settings.chain_refunds = true;
    TestApp::spawn_with(setup).await.unwrap()
}

fn token() -> Address {
    TOKEN.parse().unwrap()
}

/// The recipient (the merchant: anvil's second account) allows the gateway `value` of the token.
async fn approve(rpc: &Rpc, value: u64) {
    assert_eq!(key(1).address(), RECIPIENT.parse::<Address>().unwrap());
    let call = approveCall { spender: crate::chain::DEV_GATEWAY.parse().unwrap(), value: U256::from(value) }.abi_encode();
    deploy::send_and_wait(rpc, &key(1), Some(token()), call.into(), 100_000).await.unwrap();
}

async fn balance(rpc: &Rpc, who: Address) -> U256 {
    deploy::balance_of(rpc, token(), who).await.unwrap()
}

/// A paid (COMPLETED) gasless payment and its payer.
async fn paid(app: &TestApp, anvil: &Anvil, order: &str) -> (String, PrivateKeySigner) {
    let p = payer(anvil).await;
    let id = submit_gasless(app, order, &p).await;
    mine_until_completed(app, anvil, &id).await;
    (id, p)
}

/// Mines a block at a time until the refund is `want`; its JSON.
async fn mine_until_refund(app: &TestApp, rpc: &Rpc, refund_id: &str, want: &str) -> Value {
    let path = format!("/v1/refunds/{refund_id}");
    let found = crate::helpers::within(Duration::from_secs(90), async || {
        let r = app.get(&path).await.body;
        if r["status"] == want {
            return Some(r);
        }
        mine(rpc, 1).await;
        None
    })
    .await;
    match found {
        Some(r) => r,
        None => panic!("{refund_id} never became {want}: {}\n{}", app.get(&path).await.text, crate::chain::chain_state(app).await),
    }
}

async fn refund(app: &TestApp, payment: &str, body: Value, key: &str) -> crate::helpers::Resp {
    app.request(
        reqwest::Method::POST,
        &format!("/v1/payments/{payment}/refunds"),
        Some(&app.key),
        Some(&body.to_string()),
        &[("idempotency-key", key)],
    )
    .await
}

/// Refund terms for `refund_id` signed by `signer` (the chain's signer is anvil's first key).
fn signed_call(signer: &PrivateKeySigner, refund_id: &str, payment: &str, amount: u64) -> Bytes {
    let terms = RefundTerms {
        refundId: settle_app::chain::refunds::key_of(refund_id).unwrap(),
        paymentId: payment.parse().unwrap(),
        amount: U256::from(amount),
        deadline: crate::chain::now_secs() + 3600,
    };
    let domain = eip712::gateway_domain(31337, crate::chain::DEV_GATEWAY.parse().unwrap(), eip712::GATEWAY_VERSION);
    let sig = eip712::sign_struct(signer, &domain, &terms).unwrap();
    refundCall { terms, serverSignature: Bytes::from(sig.as_bytes().to_vec()) }.abi_encode().into()
}

/// The contract's answer to `data` sent by anyone (anvil's fourth account): its revert reason, or None when it would
/// succeed.
async fn refused(rpc: &Rpc, data: &Bytes) -> Option<String> {
    match rpc.eth_call(Some(key(3).address()), crate::chain::DEV_GATEWAY.parse().unwrap(), data).await {
        Ok(_) => None,
        Err(e) => {
            assert!(is_revert(&e), "{e}");
            Some(e.revert_data().map(|d| settle_chain::contracts::revert_reason(d)).unwrap_or_else(|| e.message()))
        }
    }
}

/// A partial refund through the relayer (the merchant pays no gas; an Idempotency-Key retry is the same refund); the
/// rest with an allowance too short: REQUIRES_ACTION with what is missing, then the merchant's signed permit carries
/// it out. The payer gets back exactly what was paid, the recipient gives exactly that, and the contract refuses a
/// refund id twice and a sum above the paid amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_payment_is_refunded_in_parts_and_a_short_allowance_waits_on_the_merchant() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    // The gateway's version is read from its eip712Domain() (EIP-5267), not configured.
    let app = app_on(&anvil, |spec| spec.gateway_version = None).await;
    let (id, p) = paid(&app, &anvil, "refund-parts").await;
    approve(&rpc, 1000).await;
    let recipient = key(1).address();
    let (payer_before, recipient_before) = (balance(&rpc, p.address()).await, balance(&rpc, recipient).await);
    let eth_before = rpc.balance(recipient).await.unwrap();

    let first = refund(&app, &id, json!({"amount": "400"}), "refund-parts-1").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["rail"], "CHAIN");
    assert_eq!(first.body["status"], "PENDING");
    let first_id = first.body["refundId"].as_str().unwrap().to_owned();
    let again = refund(&app, &id, json!({"amount": "400"}), "refund-parts-1").await;
    assert_eq!(again.body["refundId"], first_id.as_str(), "a retry is the same refund");
    mine_until_refund(&app, &rpc, &first_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(400));
    assert_eq!(balance(&rpc, recipient).await, recipient_before - U256::from(400));
    assert_eq!(rpc.balance(recipient).await.unwrap(), eth_before, "the merchant paid no gas");

    // The rest (1100) with 600 allowed: the relayer cannot send it, and the merchant is told what is missing.
    let rest = refund(&app, &id, json!({}), "refund-parts-2").await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["amount"], "1100");
    let rest_id = rest.body["refundId"].as_str().unwrap().to_owned();
    let waiting = mine_until_refund(&app, &rpc, &rest_id, "REQUIRES_ACTION").await;
    assert_eq!(waiting["failureCode"], "insufficient_allowance", "{waiting}");
    // While it waits, nothing more can be refunded.
    let over = refund(&app, &id, json!({"amount": "1"}), "refund-parts-3").await;
    assert_eq!(over.status, 409, "{}", over.text);

    let td = app.get(&format!("/v1/refunds/{rest_id}/typed-data")).await;
    assert_eq!(td.status, 200, "{}", td.text);
    assert_eq!(td.body["allowance"], "600");
    assert_eq!(td.body["owner"], recipient.to_checksum(None));
    assert_eq!(td.body["transaction"]["to"], crate::chain::DEV_GATEWAY);
    let eip712::CheckoutSigned::Permit { signature, deadline } = eip712::sign_checkout_step(&key(1), &td.body).unwrap() else {
        panic!("a permit is offered: {}", td.text)
    };
    let value = td.body["permit"]["message"]["value"].as_str().unwrap().to_owned();
    assert_eq!(value, "1700", "the allowance raised by the refund's amount");
    // A signature that is not the recipient's is refused before anything is sent.
    let forged = json!({"permit": {"value": value, "deadline": deadline.to_string(), "signature": format!("0x{}", hex::encode([7u8; 65]))}});
    let r = app.post(&format!("/v1/refunds/{rest_id}/submit"), &forged).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/refunds/{rest_id}")).await.body["status"], "REQUIRES_ACTION");
    let body = json!({"permit": {"value": value, "deadline": deadline.to_string(), "signature": format!("0x{}", hex::encode(signature.as_bytes()))}});
    let r = app.post(&format!("/v1/refunds/{rest_id}/submit"), &body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "PENDING");
    mine_until_refund(&app, &rpc, &rest_id, "SUCCEEDED").await;

    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(1500), "the payer got back exactly what was paid");
    assert_eq!(balance(&rpc, recipient).await, recipient_before - U256::from(1500));
    assert_eq!(rpc.balance(recipient).await.unwrap(), eth_before, "the merchant paid no gas");
    let payment = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(payment["amountRefunded"], "1500", "{payment}");
    assert_eq!(payment["refundStatus"], "full", "{payment}");
    let gateway: Address = crate::chain::DEV_GATEWAY.parse().unwrap();
    let out = rpc.eth_call(None, gateway, &getRefundedCall { paymentId: id.parse().unwrap() }.abi_encode().into()).await.unwrap();
    assert_eq!(getRefundedCall::abi_decode_returns(&out).unwrap().refunded, U256::from(1500));
    let nothing_left = refund(&app, &id, json!({}), "refund-parts-4").await;
    assert_eq!(nothing_left.status, 409, "{}", nothing_left.text);

    // The contract: a refund id twice, a sum above the paid amount, terms Settle did not sign.
    let replay = refused(&rpc, &signed_call(&key(0), &first_id, &id, 400)).await;
    assert!(replay.as_deref().is_some_and(|r| r.contains("AlreadyRefunded")), "{replay:?}");
    let fresh = "re_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b";
    let over = refused(&rpc, &signed_call(&key(0), fresh, &id, 1)).await;
    assert!(over.as_deref().is_some_and(|r| r.contains("RefundExceedsPaid")), "{over:?}");
    let (other, _) = paid(&app, &anvil, "refund-unsigned").await;
    let forged = refused(&rpc, &signed_call(&PrivateKeySigner::random(), fresh, &other, 1)).await;
    assert!(forged.as_deref().is_some_and(|r| r.contains("InvalidSignature")), "{forged:?}");
    assert!(refused(&rpc, &signed_call(&key(0), fresh, &other, 1)).await.is_none(), "the same terms signed by Settle would pay");
    app.finish().await;
}

/// A refund mined in a block a reorg removes: the relayer sends it again, the watcher (deciding at a confirmed
/// block) never reported it before, and the payer is refunded exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_whose_block_a_reorg_removes_is_made_once() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, |spec| spec.confirmations = Some(4)).await;
    let (id, p) = paid(&app, &anvil, "refund-reorg").await;
    approve(&rpc, 1500).await;
    let payer_before = balance(&rpc, p.address()).await;
    let mined_before = relayed(&app).await.iter().filter(|t| t.status == "MINED").count();
    let snapshot: U256 = rpc.call("evm_snapshot", json!([])).await.unwrap();
    let r = refund(&app, &id, json!({"amount": "500"}), "refund-reorg-1").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refundId"].as_str().unwrap().to_owned();
    wait_for("the relayer records the refund mined", Duration::from_secs(30), || async {
        relayed(&app).await.iter().filter(|t| t.status == "MINED").count() > mined_before
    })
    .await;
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(500), "mined once");
    let reverted: bool = rpc.call("evm_revert", json!([snapshot])).await.unwrap();
    assert!(reverted);
    assert_eq!(balance(&rpc, p.address()).await, payer_before, "the reorg took the refund away");
    assert_eq!(app.get(&format!("/v1/refunds/{refund_id}")).await.body["status"], "PENDING", "never reported before its confirmations");
    mine(&rpc, 1).await;
    mine_until_refund(&app, &rpc, &refund_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(500), "refunded exactly once");
    let payment = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(payment["amountRefunded"], "500", "{payment}");
    app.finish().await;
}

/// A payment's first refund, with no allowance at all: REQUIRES_ACTION, then the recipient's permit alone carries it
/// out through the relayer (the permit path's gas: it ran out at 200,000 before).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_refund_with_no_allowance_is_made_with_the_recipients_permit() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, |_| {}).await;
    let (id, p) = paid(&app, &anvil, "refund-permit").await;
    let payer_before = balance(&rpc, p.address()).await;
    let r = refund(&app, &id, json!({}), "refund-permit-1").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refundId"].as_str().unwrap().to_owned();
    let waiting = mine_until_refund(&app, &rpc, &refund_id, "REQUIRES_ACTION").await;
    assert_eq!(waiting["failureCode"], "insufficient_allowance", "{waiting}");
    let td = app.get(&format!("/v1/refunds/{refund_id}/typed-data")).await;
    assert_eq!(td.status, 200, "{}", td.text);
    assert_eq!(td.body["allowance"], "0");
    let eip712::CheckoutSigned::Permit { signature, deadline } = eip712::sign_checkout_step(&key(1), &td.body).unwrap() else {
        panic!("a permit is offered: {}", td.text)
    };
    let value = td.body["permit"]["message"]["value"].as_str().unwrap().to_owned();
    assert_eq!(value, "1500");
    let body = json!({"permit": {"value": value, "deadline": deadline.to_string(), "signature": format!("0x{}", hex::encode(signature.as_bytes()))}});
    let r = app.post(&format!("/v1/refunds/{refund_id}/submit"), &body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &refund_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(1500));
    // Nothing to sign or submit once it is over.
    assert_eq!(app.get(&format!("/v1/refunds/{refund_id}/typed-data")).await.status, 409);
    assert_eq!(app.post(&format!("/v1/refunds/{refund_id}/submit"), &json!({})).await.status, 409);
    app.finish().await;
}
