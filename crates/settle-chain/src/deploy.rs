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

/// Where the contracts went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub chain_id: u64,
    pub forwarder: Address,
    pub gateway: Address,
    /// The test token (TEST, 6 decimals), when asked for.
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
    let chain_id = rpc.chain_id().await.map_err(|e| e.to_string())?;
    let forwarder = create(rpc, deployer, &contracts::FORWARDER, Vec::new()).await?;
    let gateway = create(rpc, deployer, &contracts::GATEWAY, (forwarder, signer, treasury, deployer.address()).abi_encode_params()).await?;
    let test_token = if test_token {
        Some(
            create(rpc, deployer, &contracts::TEST_TOKEN, ("Settle Test Dollar".to_owned(), "TEST".to_owned(), U256::from(6u8)).abi_encode_params())
                .await?,
        )
    } else {
        None
    };
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
