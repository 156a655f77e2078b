//! Deploying the forwarder, the gateway and (on development chains) a test token: `settle chain deploy` and
//! the tests.

use std::time::Duration;

use alloy::{
    primitives::{Address, Bytes, U256},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolValue},
};

use crate::{
    contracts::{self, Artifact},
    rpc::Rpc,
    tx::sign_1559,
};

/// The test token's name (its EIP-712 domain name), symbol and decimals.
pub const TEST_TOKEN_NAME: &str = "Test USD Coin";
pub const TEST_TOKEN_SYMBOL: &str = "USDC";
pub const TEST_TOKEN_DECIMALS: u8 = 6;

/// Where the contracts went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub chain_id: u64,
    pub forwarder: Address,
    pub gateway: Address,
    /// The test token (USDC, 6 decimals), when asked for.
    pub test_token: Option<Address>,
}

/// Sends one transaction from `key` and waits for it to be mined successfully.
pub async fn send_and_wait(rpc: &Rpc, key: &PrivateKeySigner, to: Option<Address>, data: Bytes, gas: u64) -> Result<crate::rpc::Receipt, String> {
    let chain_id = rpc.chain_id().await.map_err(|e| e.to_string())?;
    let nonce = rpc.nonce(key.address(), "pending").await.map_err(|e| e.to_string())?;
    let fees = rpc.fees().await.map_err(|e| e.to_string())?;
    let tx = sign_1559(key, chain_id, nonce, to, U256::ZERO, data, gas, fees)?;
    rpc.send_raw(&tx.raw).await.map_err(|e| e.to_string())?;
    let receipt = rpc.wait_receipt(tx.hash, Duration::from_secs(60)).await.map_err(|e| e.to_string())?.ok_or("not mined within 60 s")?;
    if receipt.status != U256::from(1) {
        return Err(format!("transaction {} reverted", tx.hash));
    }
    Ok(receipt)
}

async fn create(rpc: &Rpc, key: &PrivateKeySigner, artifact: &Artifact, args: Vec<u8>) -> Result<Address, String> {
    let mut code = artifact.bytecode().to_vec();
    code.extend(args);
    let r = send_and_wait(rpc, key, None, Bytes::from(code), 6_000_000).await.map_err(|e| format!("deploying {}: {e}", artifact.name))?;
    r.contract_address.ok_or_else(|| format!("deploying {}: no contract address", artifact.name))
}

/// Deploys the forwarder and the gateway (owned by the deployer, paying terms `signer` signs, fees to
/// `treasury`), and a test token when asked.
pub async fn deploy(rpc: &Rpc, deployer: &PrivateKeySigner, signer: Address, treasury: Address, test_token: bool) -> Result<Deployment, String> {
    deploy_with(rpc, deployer, &contracts::GATEWAY, signer, treasury, test_token).await
}

/// [`deploy`] with the gateway `artifact`: the current one, or an earlier version (tests of a chain moving on).
pub async fn deploy_with(
    rpc: &Rpc,
    deployer: &PrivateKeySigner,
    artifact: &Artifact,
    signer: Address,
    treasury: Address,
    test_token: bool,
) -> Result<Deployment, String> {
    let chain_id = rpc.chain_id().await.map_err(|e| e.to_string())?;
    // The token first: on a fresh anvil with its first key, the addresses are always the same (the token at
    // 0x5FbDB2315678afecb367f032d93F642f64180aa3, the forwarder next, then the gateway).
    let test_token = if test_token {
        let args = (TEST_TOKEN_NAME.to_owned(), TEST_TOKEN_SYMBOL.to_owned(), U256::from(TEST_TOKEN_DECIMALS)).abi_encode_params();
        Some(create(rpc, deployer, &contracts::TEST_TOKEN, args).await?)
    } else {
        None
    };
    let forwarder = create(rpc, deployer, &contracts::FORWARDER, Vec::new()).await?;
    let gateway = create(rpc, deployer, artifact, (forwarder, signer, treasury, deployer.address()).abi_encode_params()).await?;
    Ok(Deployment { chain_id, forwarder, gateway, test_token })
}

/// Mints test tokens (a test token only: anyone may mint).
pub async fn mint(rpc: &Rpc, key: &PrivateKeySigner, token: Address, to: Address, amount: U256) -> Result<(), String> {
    let data = contracts::mintCall { to, amount }.abi_encode();
    send_and_wait(rpc, key, Some(token), data.into(), 200_000).await.map(|_| ())
}

/// A token balance.
pub async fn balance_of(rpc: &Rpc, token: Address, who: Address) -> Result<U256, String> {
    let out = rpc.eth_call(None, token, &contracts::balanceOfCall { account: who }.abi_encode().into()).await.map_err(|e| e.to_string())?;
    contracts::balanceOfCall::abi_decode_returns(&out).map_err(|e| e.to_string())
}

/// Pays terms directly from `payer` (who holds ETH for gas): mints the amount first when `mint_from` is given
/// (a test token only), approves the gateway, then calls `pay`. For development chains and tests; Settle's
/// own checkout is gasless.
pub async fn pay_directly(
    rpc: &Rpc,
    payer: &PrivateKeySigner,
    gateway: Address,
    terms: contracts::PaymentTerms,
    server_signature: Bytes,
    mint_from: Option<&PrivateKeySigner>,
) -> Result<crate::rpc::Receipt, String> {
    if let Some(minter) = mint_from {
        mint(rpc, minter, terms.token, payer.address(), terms.amount).await?;
    }
    let approve = contracts::approveCall { spender: gateway, value: terms.amount }.abi_encode();
    send_and_wait(rpc, payer, Some(terms.token), approve.into(), 100_000).await?;
    let pay = contracts::payCall { terms, serverSignature: server_signature }.abi_encode();
    send_and_wait(rpc, payer, Some(gateway), pay.into(), 300_000).await
}
