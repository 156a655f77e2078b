//! Refunds of CHAIN payments on anvil: the gateway (version 3) pays the payer back from the recipient's allowance for
//! terms Settle and the recipient signed, Settle's relayer sends it (the merchant pays no gas), the watcher decides it
//! at a confirmed block. Nobody but the recipient can authorize a refund out of its allowance; a short allowance
//! takes the recipient's permit too. The contract refuses a refund id twice and a sum above what was paid; a reorg of
//! the refund's block refunds nothing twice.

use std::time::Duration;

use serde_json::{Value, json};
use settle_chain::{
    Address, Bytes, PrivateKeySigner, U256,
    alloy_sol::SolCall,
    contracts::{RefundTerms, approveCall, getFeeCall, getRefundedCall, refundCall},
    deploy, eip712,
    rpc::{Rpc, is_revert},
};

use crate::{
    chain::{Anvil, key, mine, relayed, submit_gasless, wait_for},
    chain_faults::{Fault, mine_until_completed, payer, setup_on},
    helpers::{RECIPIENT, TOKEN, TestApp},
};

/// A Settle on `anvil`, contracts deployed.
async fn app_on(anvil: &Anvil, tweak: impl FnOnce(&mut settle_app::chain::ChainSpec)) -> TestApp {
    deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    TestApp::spawn_with(setup_on(&anvil.url, tweak)).await.unwrap()
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

/// The gateway's `refund` call for `refund_id`, its terms signed by `server` (the chain's signer is anvil's first key)
/// and, when given, by `recipient`.
fn signed_call(server: &PrivateKeySigner, recipient: Option<&PrivateKeySigner>, refund_id: &str, payment: &str, amount: u64) -> Bytes {
    let terms = RefundTerms {
        refundId: settle_app::chain::refunds::key_of(refund_id).unwrap(),
        paymentId: payment.parse().unwrap(),
        amount: U256::from(amount),
        feeReturned: U256::ZERO,
        deadline: crate::chain::now_secs() + 3600,
    };
    let domain = eip712::gateway_domain(31337, crate::chain::DEV_GATEWAY.parse().unwrap(), eip712::GATEWAY_VERSION);
    let sign = |k: &PrivateKeySigner| Bytes::from(eip712::sign_struct(k, &domain, &terms).unwrap().as_bytes().to_vec());
    let (server_signature, recipient_signature) = (sign(server), recipient.map(sign).unwrap_or_default());
    refundCall { terms, serverSignature: server_signature, recipientSignature: recipient_signature }.abi_encode().into()
}

/// The recipient's authorization of a refund, as its wallet gives it: the refund's typed data, its terms signed by
/// `signer` (and the permit when one is offered), submitted. The typed data and submit's answer.
async fn authorize(app: &TestApp, refund_id: &str, signer: &PrivateKeySigner) -> (Value, crate::helpers::Resp) {
    let td = app.get(&format!("/v1/refunds/{refund_id}/typed-data")).await;
    assert_eq!(td.status, 200, "{}", td.text);
    let body = eip712::sign_refund_authorization(signer, &td.body).unwrap();
    let r = app.post(&format!("/v1/refunds/{refund_id}/submit"), &body).await;
    (td.body, r)
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

/// A partial refund: recorded REQUIRES_ACTION until the recipient signs its terms (an Idempotency-Key retry is the same
/// refund); a signature of anyone else is refused, and so is the offered transaction sent by anyone else; the
/// recipient's signature has the relayer carry it out (the merchant pays no gas). The rest with an allowance too
/// short: refused before anything is sent until the recipient's permit comes with it. The payer gets back exactly
/// what was paid, the recipient gives exactly that, and the contract refuses a refund id twice, a sum above the paid
/// amount, terms Settle did not sign and terms the recipient did not sign.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_payment_is_refunded_in_parts_with_the_recipients_signature() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    // The gateway's version is read from its eip712Domain() (EIP-5267), not configured.
    let app = app_on(&anvil, |spec| spec.gateway_version = None).await;
    let (id, p) = paid(&app, &anvil, "refund-parts").await;
    approve(&rpc, 1000).await;
    // Settle's own addresses never receive a payment (its signer's signature would then authorize refunds out of it).
    let mut own = TestApp::chain_payment("refund-own");
    own["recipientAddress"] = json!(key(0).address().to_checksum(None));
    let r = app.post("/v1/payments", &own).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["param"], "recipientAddress");
    let recipient = key(1).address();
    let gateway: Address = crate::chain::DEV_GATEWAY.parse().unwrap();
    let (payer_before, recipient_before) = (balance(&rpc, p.address()).await, balance(&rpc, recipient).await);
    let eth_before = rpc.balance(recipient).await.unwrap();

    let first = refund(&app, &id, json!({"amount": "400"}), "refund-parts-1").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["rail"], "CHAIN");
    assert_eq!(first.body["status"], "REQUIRES_ACTION");
    assert_eq!(first.body["failureCode"], "recipient_signature_required");
    let first_id = first.body["refundId"].as_str().unwrap().to_owned();
    let again = refund(&app, &id, json!({"amount": "400"}), "refund-parts-1").await;
    assert_eq!(again.body["refundId"], first_id.as_str(), "a retry is the same refund");
    // Someone else (another merchant naming this address as its payment's recipient) cannot authorize it...
    let (td, r) = authorize(&app, &first_id, &key(3)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "invalid_signature", "{}", r.text);
    assert!(td["permit"].is_null(), "the allowance covers it: {td}");
    // ...nor send the offered transaction itself: only the recipient may.
    let data: Bytes = td["transaction"]["data"].as_str().unwrap().parse().unwrap();
    let by_other = rpc.eth_call(Some(key(3).address()), gateway, &data).await.unwrap_err();
    assert!(by_other.revert_data().map(|d| settle_chain::contracts::revert_reason(d)).unwrap_or_default().contains("NotAuthorizedByRecipient"));
    assert!(rpc.eth_call(Some(recipient), gateway, &data).await.is_ok(), "the recipient may send it itself");
    assert_eq!(app.get(&format!("/v1/refunds/{first_id}")).await.body["status"], "REQUIRES_ACTION");
    let td = app.get(&format!("/v1/refunds/{first_id}/typed-data")).await.body;
    let mut body = eip712::sign_refund_authorization(&key(1), &td).unwrap();
    // Terms with a deadline typed-data did not give are never signed by Settle: one that would never expire (it
    // passed the check as a negative number of milliseconds before), one that overflows, one a day too late.
    for deadline in [json!(u64::MAX), json!(10_000_000_000_000_000u64), json!(td["deadline"].as_u64().unwrap() + 86_400)] {
        let r = app
            .post(&format!("/v1/refunds/{first_id}/submit"), &json!({"deadline": deadline, "recipientSignature": body["recipientSignature"]}))
            .await;
        assert_eq!(r.status, 400, "{deadline}: {}", r.text);
        assert_eq!(r.body["error"]["param"], "deadline", "{}", r.text);
    }
    // A wallet that signs with v = 0 or 1 (the contract takes 27 or 28): Settle sends it as the contract takes it.
    let sig = body["recipientSignature"].as_str().unwrap().to_owned();
    let v = u8::from_str_radix(&sig[sig.len() - 2..], 16).unwrap();
    body["recipientSignature"] = json!(format!("{}{:02x}", &sig[..sig.len() - 2], v - 27));
    let r = app.post(&format!("/v1/refunds/{first_id}/submit"), &body).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "PENDING");
    mine_until_refund(&app, &rpc, &first_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(400));
    assert_eq!(balance(&rpc, recipient).await, recipient_before - U256::from(400));
    assert_eq!(rpc.balance(recipient).await.unwrap(), eth_before, "the merchant paid no gas");

    // The rest (1100) with 600 allowed.
    let rest = refund(&app, &id, json!({}), "refund-parts-2").await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["amount"], "1100");
    let rest_id = rest.body["refundId"].as_str().unwrap().to_owned();
    // While it waits, nothing more can be refunded.
    let over = refund(&app, &id, json!({"amount": "1"}), "refund-parts-3").await;
    assert_eq!(over.status, 409, "{}", over.text);
    let td = app.get(&format!("/v1/refunds/{rest_id}/typed-data")).await;
    assert_eq!(td.status, 200, "{}", td.text);
    assert_eq!(td.body["allowance"], "600");
    assert_eq!(td.body["owner"], recipient.to_checksum(None));
    assert_eq!(td.body["permit"]["message"]["value"], "1700", "the allowance raised by the refund's amount");
    // The terms signed without the permit: it would revert (the allowance), refused before anything is sent.
    let terms = eip712::sign_refund_terms(&key(1), &td.body["refundTerms"]).unwrap();
    let signed = format!("0x{}", hex::encode(terms.as_bytes()));
    let r = app.post(&format!("/v1/refunds/{rest_id}/submit"), &json!({"deadline": td.body["deadline"], "recipientSignature": signed})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "simulation_failed", "{}", r.text);
    // A deadline typed-data did not give is refused.
    let later = td.body["deadline"].as_u64().unwrap() + 3600;
    let r = app.post(&format!("/v1/refunds/{rest_id}/submit"), &json!({"deadline": later, "recipientSignature": signed})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(app.get(&format!("/v1/refunds/{rest_id}")).await.body["status"], "REQUIRES_ACTION");
    let (_, r) = authorize(&app, &rest_id, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &rest_id, "SUCCEEDED").await;

    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(1500), "the payer got back exactly what was paid");
    assert_eq!(balance(&rpc, recipient).await, recipient_before - U256::from(1500));
    assert_eq!(rpc.balance(recipient).await.unwrap(), eth_before, "the merchant paid no gas");
    let payment = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(payment["amountRefunded"], "1500", "{payment}");
    assert_eq!(payment["refundStatus"], "full", "{payment}");
    let out = rpc.eth_call(None, gateway, &getRefundedCall { paymentId: id.parse().unwrap() }.abi_encode().into()).await.unwrap();
    assert_eq!(getRefundedCall::abi_decode_returns(&out).unwrap().refunded, U256::from(1500));
    let nothing_left = refund(&app, &id, json!({}), "refund-parts-4").await;
    assert_eq!(nothing_left.status, 409, "{}", nothing_left.text);

    // The contract: a refund id twice, a sum above the paid amount, terms Settle or the recipient did not sign.
    let replay = refused(&rpc, &signed_call(&key(0), Some(&key(1)), &first_id, &id, 400)).await;
    assert!(replay.as_deref().is_some_and(|r| r.contains("AlreadyRefunded")), "{replay:?}");
    let fresh = "re_0193a1b2c3d47e5f8a9b0c1d2e3f4a5b";
    let over = refused(&rpc, &signed_call(&key(0), Some(&key(1)), fresh, &id, 1)).await;
    assert!(over.as_deref().is_some_and(|r| r.contains("RefundExceedsPaid")), "{over:?}");
    let (other, _) = paid(&app, &anvil, "refund-unsigned").await;
    let forged = refused(&rpc, &signed_call(&PrivateKeySigner::random(), Some(&key(1)), fresh, &other, 1)).await;
    assert!(forged.as_deref().is_some_and(|r| r.contains("InvalidSignature")), "{forged:?}");
    let unauthorized = refused(&rpc, &signed_call(&key(0), None, fresh, &other, 1)).await;
    assert!(unauthorized.as_deref().is_some_and(|r| r.contains("NotAuthorizedByRecipient")), "{unauthorized:?}");
    let someone_else = refused(&rpc, &signed_call(&key(0), Some(&key(3)), fresh, &other, 1)).await;
    assert!(someone_else.as_deref().is_some_and(|r| r.contains("NotAuthorizedByRecipient")), "{someone_else:?}");
    assert!(refused(&rpc, &signed_call(&key(0), Some(&key(1)), fresh, &other, 1)).await.is_none(), "signed by both, it would pay");
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
    let (_, r) = authorize(&app, &refund_id, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
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

/// A payment's first refund, with no allowance at all: the recipient's permit comes with its signature and the
/// relayer carries both out in one transaction (the permit path's gas: it ran out at 200,000 before).
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
    let (td, r) = authorize(&app, &refund_id, &key(1)).await;
    assert_eq!(td["allowance"], "0");
    assert_eq!(td["permit"]["message"]["value"], "1500");
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &refund_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(1500));
    // Nothing to sign or submit once it is over.
    assert_eq!(app.get(&format!("/v1/refunds/{refund_id}/typed-data")).await.status, 409);
    let r =
        app.post(&format!("/v1/refunds/{refund_id}/submit"), &json!({"deadline": 1, "recipientSignature": format!("0x{}", "00".repeat(65))})).await;
    assert_eq!(r.status, 409, "{}", r.text);
    app.finish().await;
}

/// Refunds the recipient never authorizes end FAILED `expired` once a confirmed block is past their terms'
/// deadline (their amount free again), however many are open: the watcher looks at them a page at a time (105 here,
/// more than one page), so none is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unauthorized_refunds_expire_a_page_at_a_time_and_free_their_amount() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, |_| {}).await;
    let (a, _) = paid(&app, &anvil, "refund-expire-a").await;
    let (b, _) = paid(&app, &anvil, "refund-expire-b").await;
    for (payment, count) in [(&a, 100), (&b, 5)] {
        for i in 0..count {
            let r = refund(&app, payment, json!({"amount": "1"}), &format!("expire-{payment}-{i}")).await;
            assert_eq!(r.status, 201, "{}", r.text);
            assert_eq!(r.body["status"], "REQUIRES_ACTION");
        }
    }
    assert_eq!(refund(&app, &b, json!({"amount": "1496"}), "expire-b-over").await.status, 409, "the open refunds hold their amount");
    let _: Value = rpc.call("evm_increaseTime", json!([86_400 + 300])).await.unwrap();
    mine(&rpc, 3).await;
    let statuses = async |payment: &str| -> Vec<String> {
        let list = app.get(&format!("/v1/payments/{payment}/refunds")).await.body;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}/{}", r["status"].as_str().unwrap(), r["failureCode"].as_str().unwrap_or("")))
            .collect()
    };
    let all_expired = crate::helpers::within(Duration::from_secs(90), async || {
        let (sa, sb) = (statuses(&a).await, statuses(&b).await);
        (sa.len() == 100 && sb.len() == 5 && sa.iter().chain(&sb).all(|s| s == "FAILED/expired")).then_some(())
    })
    .await;
    assert!(all_expired.is_some(), "{:?} {:?}", statuses(&a).await, statuses(&b).await);
    let payment = app.get(&format!("/v1/payments/{b}")).await.body;
    assert_eq!(payment["amountRefunded"], "0", "{payment}");
    let again = refund(&app, &b, json!({}), "expire-b-again").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["amount"], "1500", "the expired refunds' amount is free again");
    app.finish().await;
}

/// The `payment.paid_after_final` event of `payment`, once published.
async fn paid_after_final(app: &TestApp, rpc: &Rpc, payment: &str) -> Value {
    let found = crate::helpers::within(Duration::from_secs(60), async || {
        let rows = settle_store::outbox::read_all_after(&app.ctx.db, 0, 10_000).await.unwrap();
        if let Some(row) = rows.iter().find(|r| r.topic == "payment.paid_after_final" && r.aggregate_id == payment) {
            return Some(serde_json::from_str::<Value>(&row.payload).unwrap());
        }
        mine(rpc, 1).await;
        None
    })
    .await;
    match found {
        Some(event) => event,
        None => panic!("{payment} was never reported paid after final\n{}", crate::chain::chain_state(app).await),
    }
}

/// A CHAIN payment CANCELLED at a confirmed block, then paid in a fork deeper than the confirmations that took the
/// cancellation away (the payer's token balance once it paid).
async fn paid_after_its_cancel(app: &TestApp, rpc: &Rpc, order: &str) -> (String, U256) {
    let created = app.create_payment(order).await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    let snapshot: U256 = rpc.call("evm_snapshot", json!([])).await.unwrap();
    let r = app.post(&format!("/v1/payments/{id}/cancel"), &json!({})).await;
    assert_eq!(r.body["status"], "CANCELLING", "{}", r.text);
    crate::chain::mine_until_status(app, rpc, &id, "CANCELLED", Duration::from_secs(60)).await;
    let reverted: bool = rpc.call("evm_revert", json!([snapshot])).await.unwrap();
    assert!(reverted);
    crate::chain::pay_directly(rpc, &key(3), &created).await.unwrap();
    (id, balance(rpc, key(3).address()).await)
}

/// A payment paid after Settle ended it (a reorg deeper than the confirmations took its cancellation away, and the
/// payer paid in the new fork): it stays CANCELLED (what Settle reported stays reported), `payment.paid_after_final`
/// names the refund of the whole amount Settle started, waiting on the recipient's signature like any CHAIN refund;
/// signed, the payer gets everything back. With the merchant's `refundLatePayments` off, the same payment is only
/// reported, and the merchant can refund it itself; a payment Settle ended that the chain shows unpaid is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_paid_after_it_was_cancelled_is_refunded_in_full() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, |spec| spec.confirmations = Some(2)).await;
    approve(&rpc, 3000).await;
    let (id, payer_paid) = paid_after_its_cancel(&app, &rpc, "late-refunded").await;
    let event = paid_after_final(&app, &rpc, &id).await;
    let refund_id = event["data"]["refundId"].as_str().unwrap_or_else(|| panic!("no refund started: {event}")).to_owned();
    assert_eq!(event["data"]["status"], "CANCELLED", "{event}");
    let made = app.get(&format!("/v1/refunds/{refund_id}")).await.body;
    assert_eq!(
        (made["status"].as_str(), made["amount"].as_str(), made["reason"].as_str(), made["failureCode"].as_str()),
        (Some("REQUIRES_ACTION"), Some("1500"), Some("paid_after_final"), Some("recipient_signature_required")),
        "{made}"
    );
    assert_eq!(refund(&app, &id, json!({"amount": "1"}), "late-more").await.status, 409, "the whole amount is held");
    let (_, r) = authorize(&app, &refund_id, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &refund_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, key(3).address()).await, payer_paid + U256::from(1500), "the payer has everything back");
    let payment = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!(
        (payment["status"].as_str(), payment["amountRefunded"].as_str(), payment["refundStatus"].as_str()),
        (Some("CANCELLED"), Some("1500"), Some("full")),
        "{payment}"
    );

    // Turned off: only reported; the merchant refunds it itself.
    let off = settle_app::merchants::MerchantChanges { refund_late_payments: Some(false), ..Default::default() };
    assert!(!settle_app::merchants::update(&app.ctx, "mch_demo", off).await.unwrap().refund_late_payments);
    let (id, _) = paid_after_its_cancel(&app, &rpc, "late-reported").await;
    let event = paid_after_final(&app, &rpc, &id).await;
    assert!(event["data"]["refundId"].is_null(), "{event}");
    assert!(app.get(&format!("/v1/payments/{id}/refunds")).await.body["data"].as_array().unwrap().is_empty());
    let r = refund(&app, &id, json!({}), "late-by-hand").await;
    assert_eq!((r.status.as_u16(), r.body["amount"].as_str()), (201, Some("1500")), "{}", r.text);

    // Ended unpaid, and unpaid on chain: nothing to refund.
    let created = app.create_payment("late-unpaid").await;
    let unpaid = created["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(app.post(&format!("/v1/payments/{unpaid}/cancel"), &json!({})).await.body["status"], "CANCELLING");
    crate::chain::mine_until_status(&app, &rpc, &unpaid, "CANCELLED", Duration::from_secs(60)).await;
    let r = refund(&app, &unpaid, json!({}), "late-unpaid").await;
    assert_eq!(r.status, 409, "{}", r.text);
    app.finish().await;
}

/// The treasury (anvil's third account, where fees go) allows the gateway `value` of the token.
async fn treasury_approves(rpc: &Rpc, value: u64) {
    let call = approveCall { spender: crate::chain::DEV_GATEWAY.parse().unwrap(), value: U256::from(value) }.abi_encode();
    deploy::send_and_wait(rpc, &key(2), Some(token()), call.into(), 100_000).await.unwrap();
}

/// The fee a payment paid and how much of it its refunds gave back, as the gateway counts them.
async fn fee_at_gateway(rpc: &Rpc, payment: &str) -> (U256, U256) {
    let call = getFeeCall { paymentId: payment.parse().unwrap() }.abi_encode();
    let out = rpc.eth_call(None, crate::chain::DEV_GATEWAY.parse().unwrap(), &call.into()).await.unwrap();
    let f = getFeeCall::abi_decode_returns(&out).unwrap();
    (f.fee, f.feeReturned)
}

/// A merchant charging 2.5% that returns fees (`returnFeeOnRefund`): each refund's share of the fee (floored) is
/// signed into its terms and paid by the treasury, the recipient pays the rest, and the shares of two partial refunds
/// sum to exactly the fee paid. While the treasury's allowance is short the submit is refused (409, naming the
/// treasury) and nothing is sent. By default (the setting off) the treasury keeps the fee and the recipient pays the
/// whole refund. The contract refuses terms returning more fee than the payment paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merchant_that_returns_fees_has_the_treasury_pay_its_share_back() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, |_| {}).await;
    let fee = settle_app::merchants::MerchantChanges {
        fee: Some(settle_domain::FeeBps::new("feeBps", 250).unwrap()),
        return_fee_on_refund: Some(true),
        ..Default::default()
    };
    assert!(settle_app::merchants::update(&app.ctx, "mch_demo", fee).await.unwrap().return_fee_on_refund);
    approve(&rpc, 10_000).await;
    let (id, p) = paid(&app, &anvil, "fee-back").await;
    assert_eq!(fee_at_gateway(&rpc, &id).await, (U256::from(37), U256::ZERO), "1500 at 2.5%, floored");
    let (treasury, recipient) = (key(2).address(), key(1).address());
    let start = (balance(&rpc, p.address()).await, balance(&rpc, recipient).await, balance(&rpc, treasury).await);

    // 1000 of it: 25 of fee back. The treasury has not approved the gateway: refused before anything is sent.
    let r = refund(&app, &id, json!({"amount": "1000"}), "fee-back-1").await;
    assert_eq!((r.status.as_u16(), r.body["feeReturned"].as_str()), (201, Some("25")), "{}", r.text);
    let first = r.body["refundId"].as_str().unwrap().to_owned();
    let sent_before = relayed(&app).await.len();
    let (td, r) = authorize(&app, &first, &key(1)).await;
    assert_eq!((td["feeReturned"].as_str(), td["refundTerms"]["message"]["feeReturned"].as_str()), (Some("25"), Some("25")), "{td}");
    assert_eq!(td["refundTerms"]["domain"]["version"], "3", "{td}");
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains(&treasury.to_checksum(None)), "the answer names the treasury: {}", r.text);
    assert_eq!(relayed(&app).await.len(), sent_before, "nothing was sent");
    let waiting = app.get(&format!("/v1/refunds/{first}")).await.body;
    assert_eq!(
        (waiting["status"].as_str(), waiting["failureCode"].as_str()),
        (Some("REQUIRES_ACTION"), Some("treasury_allowance_required")),
        "{waiting}"
    );

    // The operator approves the gateway from the treasury: the refund goes through.
    treasury_approves(&rpc, 1000).await;
    let (_, r) = authorize(&app, &first, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &first, "SUCCEEDED").await;

    // The rest (500): 12 of fee back (12.5, floored); the two shares are the whole fee.
    let r = refund(&app, &id, json!({}), "fee-back-2").await;
    assert_eq!((r.status.as_u16(), r.body["amount"].as_str(), r.body["feeReturned"].as_str()), (201, Some("500"), Some("12")), "{}", r.text);
    let second = r.body["refundId"].as_str().unwrap().to_owned();
    let (_, r) = authorize(&app, &second, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &second, "SUCCEEDED").await;
    assert_eq!(fee_at_gateway(&rpc, &id).await, (U256::from(37), U256::from(37)));
    assert_eq!(balance(&rpc, p.address()).await, start.0 + U256::from(1500), "the payer has everything back");
    assert_eq!(balance(&rpc, recipient).await, start.1 - U256::from(1463), "the recipient gave back what it received");
    assert_eq!(balance(&rpc, treasury).await, start.2 - U256::from(37), "the treasury gave back the fee");
    let payment = app.get(&format!("/v1/payments/{id}")).await.body;
    assert_eq!((payment["amountRefunded"].as_str(), payment["refundStatus"].as_str()), (Some("1500"), Some("full")), "{payment}");

    // Terms returning more than the fee are refused by the contract, even signed by Settle and the recipient.
    let (id3, _) = paid(&app, &anvil, "fee-back-over").await;
    treasury_approves(&rpc, 10_000).await;
    let terms = RefundTerms {
        refundId: settle_app::chain::refunds::key_of("re_00000000000000000000000000000fee").unwrap(),
        paymentId: id3.parse().unwrap(),
        amount: U256::from(100),
        feeReturned: U256::from(38),
        deadline: crate::chain::now_secs() + 3600,
    };
    let domain = eip712::gateway_domain(31337, crate::chain::DEV_GATEWAY.parse().unwrap(), eip712::GATEWAY_VERSION);
    let sign = |k: &PrivateKeySigner| Bytes::from(eip712::sign_struct(k, &domain, &terms).unwrap().as_bytes().to_vec());
    let data: Bytes = refundCall { terms: terms.clone(), serverSignature: sign(&key(0)), recipientSignature: sign(&key(1)) }.abi_encode().into();
    assert_eq!(refused(&rpc, &data).await.as_deref(), Some("FeeReturnExceedsFee(FeeReturnExceedsFee)"));

    // Off (the default): the treasury keeps the fee, the recipient pays the whole refund.
    let off = settle_app::merchants::MerchantChanges { return_fee_on_refund: Some(false), ..Default::default() };
    settle_app::merchants::update(&app.ctx, "mch_demo", off).await.unwrap();
    let r = refund(&app, &id3, json!({}), "fee-kept").await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body.get("feeReturned").is_none(), "{}", r.text);
    let kept = r.body["refundId"].as_str().unwrap().to_owned();
    // The recipient gave back all it received above: it needs the whole 1500 now, fee included.
    deploy::mint(&rpc, &key(0), token(), recipient, U256::from(100)).await.unwrap();
    let treasury_before = balance(&rpc, treasury).await;
    let (td, r) = authorize(&app, &kept, &key(1)).await;
    assert_eq!((td["feeReturned"].as_str(), r.status.as_u16()), (Some("0"), 202), "{td} {}", r.text);
    mine_until_refund(&app, &rpc, &kept, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, treasury).await, treasury_before, "the treasury kept the fee");
    assert_eq!(fee_at_gateway(&rpc, &id3).await, (U256::from(37), U256::ZERO));
    app.finish().await;
}

/// The dashboard's refund of a CHAIN payment in Debian's Chromium (tests/browser/chain_refund.mjs): asked for from
/// the payment's page, signed by the recipient's wallet (the page's EIP-1193 provider, signing with anvil's key of the
/// recipient) with the token's permit (no allowance given), submitted, sent by Settle's relayer and followed to
/// SUCCEEDED on the page; the payer has exactly the refund back and the recipient gave exactly that.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_signs_a_chain_refund_with_the_recipients_wallet_in_chromium() {
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("SETTLE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() || !browser_dir.join("node_modules/playwright-core").exists() {
        crate::helpers::unavailable("chromium and playwright-core", "are not installed (scripts/test installs them)");
        return;
    }
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let app = app_on(&anvil, |_| {}).await;
    let (id, p) = paid(&app, &anvil, "dash-chain-refund").await;
    let (payer_before, recipient_before) = (balance(&rpc, p.address()).await, balance(&rpc, key(1).address()).await);
    let run = tokio::process::Command::new("node")
        .arg(browser_dir.join("chain_refund.mjs"))
        .args([&app.base, &app.key, &id, &anvil.url, &key(1).address().to_checksum(None)])
        .env("SETTLE_CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(150), run).await.expect("the browser test ends").expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(stdout.trim()).expect("a JSON summary");
    let refund_id = summary["refundId"].as_str().unwrap();
    let made = app.get(&format!("/v1/refunds/{refund_id}")).await.body;
    assert_eq!((made["status"].as_str(), made["amount"].as_str()), (Some("SUCCEEDED"), Some("400")), "{made}");
    assert_eq!(balance(&rpc, p.address()).await, payer_before + U256::from(400));
    assert_eq!(balance(&rpc, key(1).address()).await, recipient_before - U256::from(400));
    app.finish().await;
}

/// A chain moved to a new gateway (a second deployment; the first listed in `previous_gateways`) keeps what was made
/// on the first: a payment PENDING at the switch is still paid through the first gateway's forwarder and completed
/// from its log, a payment paid before is refunded through the first gateway, a cancel is sent to it; new payments
/// are made on the new one; a payment made before Settle stored a payment's gateway is placed by its signature. A
/// Settle that no longer lists the first gateway refuses to act on its payments (409) rather than ask the new gateway
/// about them, and never completes or expires one; listed again, one paid there meanwhile completes (its block's logs
/// read again: the watcher had passed it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chain_moved_to_a_new_gateway_keeps_the_payments_made_on_the_old_one() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    // The first gateway is of version 2 (its refund terms have no fee returned), at the development addresses.
    let v2 = deploy::deploy_with(&rpc, &key(0), &settle_chain::contracts::GATEWAY_V2, key(0).address(), key(2).address(), true).await.unwrap();
    assert_eq!(v2.gateway, crate::chain::DEV_GATEWAY.parse::<Address>().unwrap());
    let mut first = TestApp::spawn_with(setup_on(&anvil.url, |spec| spec.gateway_version = None)).await.unwrap();
    approve(&rpc, 1500).await;
    let (paid_old, payer_old) = paid(&first, &anvil, "move-paid").await;
    let pending = first.create_payment("move-pending").await;
    let cancelled = first.create_payment("move-cancel").await;
    let left = first.create_payment("move-left").await;
    assert_eq!(pending["gatewayAddress"], crate::chain::DEV_GATEWAY, "{pending}");
    // The paid one as a payment made before Settle stored a payment's gateway: its signature tells.
    let unstored = format!("UPDATE payments SET gateway_address = NULL WHERE payment_id = '{paid_old}'");
    settle_store::ConnectionTrait::execute_unprepared(first.ctx.db.writes(), &unstored).await.unwrap();
    first.shutdown().await;

    let new = deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), false).await.unwrap();
    let moved = |spec: &mut settle_app::chain::ChainSpec| {
        spec.gateway = new.gateway.to_checksum(None);
        spec.forwarder = new.forwarder.to_checksum(None);
        spec.previous_gateways = vec![settle_app::chain::PreviousGateway {
            gateway: crate::chain::DEV_GATEWAY.into(),
            forwarder: crate::chain::DEV_FORWARDER.into(),
            gateway_version: None,
        }];
    };
    let mut app = TestApp::start(setup_on(&anvil.url, moved), first.db.clone()).await;

    // Paid through the old gateway's forwarder after the switch, and completed from the old gateway's log.
    let id = pending["paymentId"].as_str().unwrap();
    let p = payer(&anvil).await;
    let body = crate::chain::sign_checkout(&app, &pending, &p).await;
    assert_eq!(body["request"]["to"], crate::chain::DEV_GATEWAY, "{body}");
    let r = app
        .request(reqwest::Method::POST, &format!("/v1/payments/{id}/gasless"), pending["clientSecret"].as_str(), Some(&body.to_string()), &[])
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_completed(&app, &anvil, id).await;

    // Refunded through the old gateway, with its version's terms, even for a merchant that returns fees (version 2
    // cannot: the recipient pays it all).
    let on = settle_app::merchants::MerchantChanges { return_fee_on_refund: Some(true), ..Default::default() };
    settle_app::merchants::update(&app.ctx, "mch_demo", on).await.unwrap();
    let before = balance(&rpc, payer_old.address()).await;
    let r = refund(&app, &paid_old, json!({"amount": "700"}), "move-refund").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refundId"].as_str().unwrap().to_owned();
    let (td, r) = authorize(&app, &refund_id, &key(1)).await;
    assert_eq!(td["transaction"]["to"], crate::chain::DEV_GATEWAY, "{td}");
    assert_eq!(td["refundTerms"]["domain"]["version"], "2", "{td}");
    assert!(td["refundTerms"]["message"].get("feeReturned").is_none(), "{td}");
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &refund_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, payer_old.address()).await, before + U256::from(700));

    // Cancelled on the old gateway: its terms there are what a payer could still use.
    let cid = cancelled["paymentId"].as_str().unwrap();
    let r = app.post(&format!("/v1/payments/{cid}/cancel"), &json!({})).await;
    assert_eq!(r.body["status"], "CANCELLING", "{}", r.text);
    crate::chain::mine_until_status(&app, &rpc, cid, "CANCELLED", Duration::from_secs(60)).await;
    assert!(crate::chain::pay_directly(&rpc, &key(3), &cancelled).await.is_err(), "the old gateway refuses the cancelled terms");

    // New payments are made on the new gateway, and complete there.
    let fresh = app.create_payment("move-new").await;
    assert_eq!(fresh["gatewayAddress"], new.gateway.to_checksum(None), "{fresh}");
    let fid = fresh["paymentId"].as_str().unwrap();
    let body = crate::chain::sign_checkout(&app, &fresh, &payer(&anvil).await).await;
    let r = app
        .request(reqwest::Method::POST, &format!("/v1/payments/{fid}/gasless"), fresh["clientSecret"].as_str(), Some(&body.to_string()), &[])
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_completed(&app, &anvil, fid).await;
    app.shutdown().await;

    // The old gateway dropped from the settings: its payments are refused, never judged by the new gateway, and one
    // paid there meanwhile is neither completed nor expired.
    let forgot = |spec: &mut settle_app::chain::ChainSpec| {
        spec.gateway = new.gateway.to_checksum(None);
        spec.forwarder = new.forwarder.to_checksum(None);
    };
    let mut app = TestApp::start(setup_on(&anvil.url, forgot), first.db.clone()).await;
    let r = refund(&app, &paid_old, json!({"amount": "1"}), "move-forgotten").await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("previous_gateways"), "{}", r.text);
    let lid = left["paymentId"].as_str().unwrap().to_owned();
    crate::chain::pay_directly(&rpc, &key(3), &left).await.unwrap();
    let _: Value = rpc.call("evm_increaseTime", json!([3600])).await.unwrap();
    mine(&rpc, 4).await;
    let head = rpc.block_number().await.unwrap();
    wait_for("the watcher reads the new blocks", Duration::from_secs(30), || async {
        settle_store::chain::cursor(&app.ctx.db, 31337).await.unwrap().map_or(0, |c| c.block_number as u64) + 1 >= head
    })
    .await;
    crate::chain::watch_once(&app).await;
    assert_eq!(crate::chain::status_of(&app, &lid).await, "PENDING", "neither completed nor expired by a gateway it was not made on");
    app.shutdown().await;

    // Listed again: the payment the watcher passed over completes, its block's logs read again.
    let app = TestApp::start(setup_on(&anvil.url, moved), first.db.clone()).await;
    mine_until_completed(&app, &anvil, &lid).await;
    app.finish().await;
}

/// A relayed refund whose recipient's allowance is spent before the node takes it is never sent to revert: the relayer
/// withdraws it (a 0-value transfer takes its nonce), the refund goes back to REQUIRES_ACTION `insufficient_allowance`
/// with the figures, and once the recipient approves and signs again it SUCCEEDS, the payer refunded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refund_whose_allowance_is_spent_before_it_is_sent_asks_the_recipient_again() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = crate::chain_faults::RpcProxy::start(&anvil.url).await;
    deploy::deploy(&rpc, &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let app = TestApp::spawn_with(setup_on(&proxy.url, |_| {})).await.unwrap();
    approve(&rpc, 1500).await;
    let (id, p) = paid(&app, &anvil, "spent-meanwhile").await;
    let before = balance(&rpc, p.address()).await;
    let r = refund(&app, &id, json!({"amount": "600"}), "spent-meanwhile").await;
    let refund_id = r.body["refundId"].as_str().unwrap().to_owned();
    // The node takes no transaction: the refund's is recorded, not broadcast.
    proxy.fault("eth_sendRawTransaction", Fault::Refuse("txpool is full"), None);
    let sent_before = relayed(&app).await.len();
    let (_, r) = authorize(&app, &refund_id, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    wait_for("the refund's transaction is recorded", Duration::from_secs(30), || async { relayed(&app).await.len() > sent_before }).await;
    approve(&rpc, 0).await;
    wait_for("the refund's relay is being withdrawn", Duration::from_secs(60), || async {
        !settle_store::relay::requests(&app.ctx.db, 31337, settle_store::relay::WITHDRAWING, 10).await.unwrap().is_empty()
    })
    .await;
    proxy.clear();
    let asked = mine_until_refund(&app, &rpc, &refund_id, "REQUIRES_ACTION").await;
    assert_eq!(asked["failureCode"], "insufficient_allowance", "{asked}");
    assert!(asked["failureMessage"].as_str().unwrap().contains("needs 600"), "{asked}");
    approve(&rpc, 600).await;
    let (_, r) = authorize(&app, &refund_id, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&app, &rpc, &refund_id, "SUCCEEDED").await;
    assert_eq!(balance(&rpc, p.address()).await, before + U256::from(600), "refunded once");
    app.finish().await;
}

/// Two instances on one database, the first one's node answering calls 4 s late (its relayer's lease, 1.5 s, lapses
/// mid-step): a refund authorized on either is sent by one relayer, in one transaction, and the payer is refunded
/// once; both instances then report it SUCCEEDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relayers_send_a_refund_once() {
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    let rpc = anvil.rpc();
    let proxy = crate::chain_faults::RpcProxy::start(&anvil.url).await;
    let (slow, fast) = crate::chain_faults::two_instances(&anvil, &proxy, Some(Duration::from_secs(1))).await;
    let (id, p) = paid(&fast, &anvil, "two-relayers-refund").await;
    approve(&rpc, 1500).await;
    let before = balance(&rpc, p.address()).await;
    let relayer = key(0).address().to_checksum(None);
    let txs = || async { settle_store::relay::all_txs(&fast.ctx.db, 31337, &relayer).await.unwrap() };
    let sent_before = txs().await.len();
    let r = refund(&fast, &id, json!({"amount": "900"}), "two-relayers-refund").await;
    assert_eq!(r.status, 201, "{}", r.text);
    let refund_id = r.body["refundId"].as_str().unwrap().to_owned();
    let (_, r) = authorize(&fast, &refund_id, &key(1)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    mine_until_refund(&fast, &rpc, &refund_id, "SUCCEEDED").await;
    proxy.clear();
    assert_eq!(balance(&rpc, p.address()).await, before + U256::from(900), "refunded once");
    let sent = txs().await;
    let brief: Vec<_> = sent.iter().map(|t| (t.nonce, &t.status, &t.relay_request_id)).collect();
    assert_eq!(sent.len(), sent_before + 1, "one transaction for the refund: {brief:?}");
    mine_until_refund(&slow, &rpc, &refund_id, "SUCCEEDED").await;
    fast.finish().await;
    slow.finish().await;
}
