//! A chain's configuration: parsed once at start from its spec (settle.toml `[[chains]]`, secrets from the
//! environment), every field checked and named when wrong.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use settle_chain::{Address, PrivateKeySigner, rpc::Rpc};

/// How many times a stuck transaction is replaced at its nonce, unless a chain says otherwise.
pub const DEFAULT_MAX_REPLACEMENTS: u64 = 5;

/// A chain as written in settle.toml.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    pub chain_id: u64,
    /// RPC URLs in order of preference (failover).
    pub rpc_urls: Vec<String>,
    pub gateway: String,
    pub forwarder: String,
    /// The gateway's EIP-712 version ("1" before refunds, "2" with them, "3" returning fees). Absent: read from the gateway's
    /// `eip712Domain()` (EIP-5267) the first time terms are signed, and kept.
    pub gateway_version: Option<String>,
    /// Blocks on top of a payment's block before it is COMPLETED (default 2).
    pub confirmations: Option<u64>,
    /// Settle's key signing payment terms (hex). A secret: prefer SETTLE_CHAIN_<ID>_SIGNER_KEY.
    pub signer_key: Option<String>,
    /// The relayer's key (hex), paying the gas of gasless payments. A secret: prefer SETTLE_CHAIN_<ID>_RELAYER_KEY.
    pub relayer_key: Option<String>,
    /// Most gas a forwarded payment may ask for (default 400000).
    pub max_gas: Option<u64>,
    /// How often the watcher looks for new blocks, in milliseconds (default 2000).
    pub poll_ms: Option<u64>,
    /// Below this relayer balance (wei), /health warns (default 50000000000000000, 0.05 ETH).
    pub low_balance_wei: Option<u64>,
    /// Blocks a relayed transaction may stay unmined before it is replaced with higher fees (default 3).
    pub bump_after_blocks: Option<u64>,
    /// How much a replacement raises the fees, in percent (10 to 100, default 13; nodes ask for at least 10).
    pub fee_bump_percent: Option<u64>,
    /// Replacements at most per nonce (1 to 20, default 5); then the transaction waits and /health says so.
    pub max_replacements: Option<u64>,
    /// The most a relayed transaction offers per gas, in gwei (default 1000).
    pub max_fee_gwei: Option<u64>,
    /// Blocks per `eth_getLogs` (default 500); a node that answers "range too large" gets halves.
    pub logs_range: Option<u64>,
    /// A test network (anvil, a testnet): only test-mode payments use it, and live ones never do (default false).
    #[serde(default)]
    pub test_network: bool,
    pub tokens: Vec<TokenSpec>,
    /// Gateways this chain used before `gateway` (each with its forwarder): Settle keeps following, cancelling and
    /// refunding the payments made on them, and makes new payments on `gateway` only.
    #[serde(default)]
    pub previous_gateways: Vec<PreviousGateway>,
    /// What the hosted checkout asks a payer's wallet to add when it lacks the chain (`wallet_addEthereumChain`,
    /// EIP-3085): its name and public RPC URLs, never `rpc_urls` (a node's URL may hold a key). Absent: the page
    /// asks the payer to add the chain to the wallet.
    #[serde(default)]
    pub wallet: Option<WalletChain>,
}

/// A chain as a payer's wallet adds it (EIP-3085).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletChain {
    /// The chain's name, as wallets show it.
    pub name: String,
    /// Public RPC URLs (https; http only on localhost).
    pub rpc_urls: Vec<String>,
    /// Block explorers (https).
    #[serde(default)]
    pub explorer_urls: Vec<String>,
    /// The native currency's symbol (default ETH; 18 decimals).
    pub currency_symbol: Option<String>,
}

impl WalletChain {
    fn check(&self, chain: u64) -> Result<(), String> {
        let local = |u: &str| {
            ["http://localhost", "http://127.0.0.1"].iter().any(|p| u.strip_prefix(p).is_some_and(|r| r.is_empty() || r.starts_with([':', '/'])))
        };
        let url_ok = |u: &String| u.len() <= 500 && (u.starts_with("https://") || local(u)) && !u.contains(char::is_whitespace);
        if self.name.trim().is_empty() || self.name.len() > 64 {
            return Err(format!("chains[{chain}].wallet.name must be 1 to 64 characters"));
        }
        if self.rpc_urls.is_empty() || !self.rpc_urls.iter().all(url_ok) {
            return Err(format!("chains[{chain}].wallet.rpc_urls must list https URLs (http only on localhost)"));
        }
        if !self.explorer_urls.iter().all(|u| u.len() <= 500 && u.starts_with("https://")) {
            return Err(format!("chains[{chain}].wallet.explorer_urls must be https URLs"));
        }
        if self.currency_symbol.as_ref().is_some_and(|c| c.is_empty() || c.len() > 6 || !c.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(format!("chains[{chain}].wallet.currency_symbol must be 1 to 6 letters or digits"));
        }
        Ok(())
    }
}

/// A gateway a chain used before its current one.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousGateway {
    pub gateway: String,
    pub forwarder: String,
    /// Its EIP-712 version ("1", "2" or "3"); absent: read from the gateway.
    pub gateway_version: Option<String>,
}

/// A token payments may be made in.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub address: String,
    pub symbol: String,
    pub decimals: u8,
}

/// A configured token.
#[derive(Clone, Debug)]
pub struct Token {
    pub address: Address,
    pub symbol: String,
    pub decimals: u8,
}

/// A configured chain, ready to use.
#[derive(Clone)]
pub struct Chain {
    pub chain_id: u64,
    pub gateway: Address,
    pub forwarder: Address,
    /// The gateway's EIP-712 version, configured or read once from the gateway ([`Chain::gateway_version`]).
    pub version: Arc<tokio::sync::OnceCell<String>>,
    pub confirmations: u64,
    pub signer: PrivateKeySigner,
    pub relayer: PrivateKeySigner,
    pub max_gas: u64,
    pub poll: Duration,
    pub tokens: Vec<Token>,
    pub rpc: Arc<Rpc>,
    pub rpc_urls: Vec<String>,
    pub low_balance_wei: u128,
    pub bump_after_blocks: i64,
    pub fee_bump_percent: u128,
    pub max_replacements: usize,
    /// Wei per gas.
    pub max_fee: u128,
    pub logs_range: u64,
    /// Only test-mode payments use it; live ones never do.
    pub test_network: bool,
    /// The gateways (and their forwarders) the chain used before `gateway`, followed for the payments made on them.
    pub previous: Vec<Contracts>,
    /// What the watcher and the relayer last saw (for /health, without a chain call per request).
    pub state: Arc<std::sync::Mutex<ChainState>>,
    /// What a payer's wallet is asked to add when it lacks the chain.
    pub wallet: Option<WalletChain>,
}

/// A chain's state as its workers last saw it.
#[derive(Clone, Debug, Default)]
pub struct ChainState {
    pub head: Option<u64>,
    pub cursor: Option<u64>,
    pub relayer_balance_wei: Option<u128>,
    pub pending_relays: usize,
    /// The node refused a relayed transaction for insufficient funds: sending waits for the relayer to be funded.
    pub funds_short: Option<FundsShort>,
    /// The oldest relayed transaction not yet mined.
    pub stuck: Option<Stuck>,
}

/// A refusal for insufficient funds: when, and the balance then (sending resumes once the balance is higher).
#[derive(Clone, Debug)]
pub struct FundsShort {
    pub since_ms: i64,
    pub balance_wei: Option<u128>,
    /// What the refused transaction may cost (its gas limit at its max fee): a balance this high resumes sending.
    pub needed_wei: Option<u128>,
    pub reason: String,
}

/// The relayer's oldest unmined transaction: its nonce, how many blocks since it (or its last replacement) was
/// sent, how many replacements it had, and whether it may be replaced again.
#[derive(Clone, Copy, Debug)]
pub struct Stuck {
    pub nonce: i64,
    pub blocks: i64,
    pub replacements: usize,
    /// Every replacement allowed was made, or the fee cap was reached: only funds, lower fees or an operator help.
    pub exhausted: bool,
}

/// A gateway of a chain, its forwarder and its EIP-712 version (read once).
#[derive(Clone, Debug)]
pub struct Contracts {
    pub gateway: Address,
    pub forwarder: Address,
    pub version: Arc<tokio::sync::OnceCell<String>>,
}

/// A configured gateway version: "1", "2" or "3" (absent: read from the gateway).
fn version_cell(chain: u64, field: &str, v: &Option<String>) -> Result<Arc<tokio::sync::OnceCell<String>>, String> {
    Ok(Arc::new(match v {
        None => tokio::sync::OnceCell::new(),
        Some(v) if matches!(v.as_str(), "1" | "2" | "3") => tokio::sync::OnceCell::new_with(Some(v.clone())),
        Some(v) => return Err(format!("chains[{chain}].{field} must be \"1\", \"2\" or \"3\" (it is {v:?})")),
    }))
}

impl Chain {
    /// Updates what the workers saw.
    pub fn observe(&self, f: impl FnOnce(&mut ChainState)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn observed(&self) -> ChainState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl std::fmt::Debug for Chain {
    /// Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.chain_id)
            .field("gateway", &self.gateway)
            .field("forwarder", &self.forwarder)
            .field("signer", &self.signer.address())
            .field("relayer", &self.relayer.address())
            .finish_non_exhaustive()
    }
}

fn address(chain: u64, field: &str, v: &str) -> Result<Address, String> {
    v.parse().map_err(|_| format!("chains[{chain}].{field}: {v} is not an address"))
}

fn key(chain: u64, field: &str, v: Option<&str>) -> Result<PrivateKeySigner, String> {
    let v = v.ok_or_else(|| format!("chains[{chain}].{field} (or SETTLE_CHAIN_{chain}_{}) is required", field.to_ascii_uppercase()))?;
    // The key's text is never part of an error.
    v.trim().parse().map_err(|_| format!("chains[{chain}].{field} is not a hex private key"))
}

/// A setting within `min..=max` (absent: `default`).
fn bounded(chain: u64, field: &str, v: Option<u64>, default: u64, min: u64, max: u64) -> Result<u64, String> {
    match v {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(format!("chains[{chain}].{field} must be {min} to {max} (it is {v})")),
    }
}

impl Chain {
    /// Checks a spec; every error names its field (and never shows a key).
    pub fn from_spec(s: &ChainSpec) -> Result<Self, String> {
        let id = s.chain_id;
        if id == 0 {
            return Err("chains: chain_id is required".into());
        }
        if s.rpc_urls.is_empty() || s.rpc_urls.iter().any(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
            return Err(format!("chains[{id}].rpc_urls must list http(s) URLs"));
        }
        let mut previous: Vec<Contracts> = Vec::new();
        let current = address(id, "gateway", &s.gateway)?;
        for p in &s.previous_gateways {
            let gateway = address(id, "previous_gateways.gateway", &p.gateway)?;
            if gateway == current || previous.iter().any(|c| c.gateway == gateway) {
                return Err(format!("chains[{id}].previous_gateways: {gateway} is listed twice (or is the current gateway)"));
            }
            previous.push(Contracts {
                gateway,
                forwarder: address(id, "previous_gateways.forwarder", &p.forwarder)?,
                version: version_cell(id, "previous_gateways.gateway_version", &p.gateway_version)?,
            });
        }
        if let Some(w) = &s.wallet {
            w.check(id)?;
        }
        let mut tokens = Vec::new();
        for t in &s.tokens {
            if t.symbol.is_empty() || t.symbol.len() > 10 || !t.symbol.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("chains[{id}].tokens: symbol {} must be 1 to 10 letters or digits", t.symbol));
            }
            tokens.push(Token { address: address(id, "tokens.address", &t.address)?, symbol: t.symbol.clone(), decimals: t.decimals });
        }
        Ok(Self {
            chain_id: id,
            gateway: address(id, "gateway", &s.gateway)?,
            forwarder: address(id, "forwarder", &s.forwarder)?,
            version: version_cell(id, "gateway_version", &s.gateway_version)?,
            confirmations: s.confirmations.unwrap_or(2),
            signer: key(id, "signer_key", s.signer_key.as_deref())?,
            relayer: key(id, "relayer_key", s.relayer_key.as_deref())?,
            max_gas: s.max_gas.unwrap_or(400_000),
            poll: Duration::from_millis(s.poll_ms.unwrap_or(2000).max(50)),
            tokens,
            rpc: Arc::new(Rpc::new(&s.rpc_urls, Duration::from_secs(5)).map_err(|e| format!("chains[{id}]: {e}"))?),
            rpc_urls: s.rpc_urls.clone(),
            low_balance_wei: u128::from(s.low_balance_wei.unwrap_or(50_000_000_000_000_000)),
            bump_after_blocks: bounded(id, "bump_after_blocks", s.bump_after_blocks, 3, 1, 10_000)? as i64,
            fee_bump_percent: u128::from(bounded(id, "fee_bump_percent", s.fee_bump_percent, 13, 10, 100)?),
            max_replacements: bounded(id, "max_replacements", s.max_replacements, DEFAULT_MAX_REPLACEMENTS, 1, 20)? as usize,
            max_fee: u128::from(bounded(id, "max_fee_gwei", s.max_fee_gwei, 1000, 1, 1_000_000)?) * 1_000_000_000,
            logs_range: bounded(id, "logs_range", s.logs_range, 500, 1, 100_000)?,
            test_network: s.test_network,
            previous,
            state: Default::default(),
            wallet: s.wallet.clone(),
        })
    }

    /// Every gateway of the chain: the current one first, then the ones it replaced.
    pub fn gateways(&self) -> Vec<Address> {
        std::iter::once(self.gateway).chain(self.previous.iter().map(|c| c.gateway)).collect()
    }

    /// Whether `address` is one of Settle's own on this chain: its signer, relayer, or a gateway or forwarder it uses
    /// or used.
    pub fn is_own(&self, address: Address) -> bool {
        [self.signer.address(), self.relayer.address()].contains(&address) || self.is_contract(address)
    }

    /// Whether `address` is a gateway or forwarder this chain uses or used.
    pub fn is_contract(&self, address: Address) -> bool {
        address == self.gateway || address == self.forwarder || self.previous.iter().any(|c| c.gateway == address || c.forwarder == address)
    }

    /// The gateway of a payment made before Settle stored a payment's gateway: with no previous gateway listed, the
    /// current one (as Settle always judged them). Otherwise the listed gateway (the current one tried first) whose
    /// EIP-712 domain its signature recovers to this chain's signer for, or to that gateway's own signer (a key Settle
    /// rotated since: the gateway still takes the terms); failing that, the listed gateway that shows it paid. Never
    /// placed by default: a payment no listed gateway accounts for is unplaceable (409: its gateway may be one
    /// dropped from the list), and a gateway that cannot be read makes it unplaceable for now (503).
    async fn place(&self, row: &settle_store::payments::PaymentRow) -> Result<Chain, crate::AppError> {
        use settle_chain::alloy_sol::SolCall;
        use settle_chain::contracts::{getPaymentCall, signerCall};
        if self.previous.is_empty() {
            return Ok(self.clone());
        }
        let candidates: Vec<Chain> = std::iter::once(self.clone()).chain(self.previous.iter().map(|c| self.using(c))).collect();
        let mut unreadable = false;
        for candidate in &candidates {
            let Ok(domain) = candidate.gateway_domain().await else {
                unreadable = true;
                continue;
            };
            let Some(signer) = super::cancel::terms_signer(&domain, row) else { continue };
            if signer == self.signer.address() {
                return Ok(candidate.clone());
            }
            match candidate.rpc.eth_call(None, candidate.gateway, &signerCall {}.abi_encode().into()).await {
                Ok(out) if signerCall::abi_decode_returns(&out).is_ok_and(|s| s == signer) => return Ok(candidate.clone()),
                Ok(_) => {}
                Err(_) => unreadable = true,
            }
        }
        let pid: settle_chain::B256 =
            row.payment_id.parse().map_err(|_| crate::AppError::InvalidState("the payment's stored id is not 32 bytes".into()))?;
        let call: settle_chain::Bytes = getPaymentCall { paymentId: pid }.abi_encode().into();
        for candidate in &candidates {
            match candidate.rpc.eth_call(None, candidate.gateway, &call).await {
                Ok(out) if getPaymentCall::abi_decode_returns(&out).is_ok_and(|p| !p.payer.is_zero()) => return Ok(candidate.clone()),
                Ok(_) => {}
                Err(_) => unreadable = true,
            }
        }
        if unreadable {
            return Err(crate::AppError::ChainUnavailable);
        }
        Err(crate::AppError::InvalidState(format!(
            "no gateway chain {} lists took or holds this payment's terms (made before Settle stored a payment's gateway): list its gateway in the chain's previous_gateways",
            self.chain_id
        )))
    }

    /// This chain with `c` as its gateway and forwarder.
    fn using(&self, c: &Contracts) -> Chain {
        let mut chain = self.clone();
        chain.gateway = c.gateway;
        chain.forwarder = c.forwarder;
        chain.version = c.version.clone();
        chain
    }

    /// This chain as the payment `row` uses it: its `gateway`, `forwarder` and version are those of the gateway the
    /// payment's terms were signed for. 409 when that gateway is neither the chain's gateway nor one of its
    /// `previous_gateways`: nothing is asked of another contract. A payment made before Settle stored its gateway
    /// is placed by [`Self::place`].
    pub async fn for_payment(&self, row: &settle_store::payments::PaymentRow) -> Result<Chain, crate::AppError> {
        let Some(stored) = row.gateway_address.as_deref() else { return self.place(row).await };
        let gateway: Address = stored.parse().map_err(|_| crate::AppError::InvalidState("the payment's stored gateway is not an address".into()))?;
        if gateway == self.gateway {
            return Ok(self.clone());
        }
        match self.previous.iter().find(|c| c.gateway == gateway) {
            Some(c) => Ok(self.using(c)),
            None => Err(crate::AppError::InvalidState(format!(
                "the payment was made on gateway {stored}, which chain {} no longer lists: add it to the chain's previous_gateways",
                self.chain_id
            ))),
        }
    }

    /// [`Self::for_payment`] for a worker's step over many payments: None when the payment's gateway cannot be told
    /// now (a node did not answer: logged, tried again next step) or is not listed any more (logged as an error and
    /// counted in `settle_chain_unknown_gateway_total`): the payment is left as it is, never judged by another
    /// contract.
    pub async fn for_payment_or_skip(&self, row: &settle_store::payments::PaymentRow) -> Option<Chain> {
        match self.for_payment(row).await {
            Ok(chain) => Some(chain),
            Err(crate::AppError::ChainUnavailable) => {
                tracing::warn!(chain = self.chain_id, payment_id = %row.payment_id, "the payment's gateway could not be told (a node did not answer); next step");
                None
            }
            Err(e) => {
                metrics::counter!("settle_chain_unknown_gateway_total", "chain" => self.chain_id.to_string()).increment(1);
                tracing::error!(chain = self.chain_id, payment_id = %row.payment_id, error = %e, "a payment of a gateway this chain no longer lists: left as it is");
                None
            }
        }
    }

    /// The gateway's EIP-712 version: as configured, or read from its `eip712Domain()` (EIP-5267) once and kept
    /// (every gateway Settle deployed has it). A node that does not answer, or an answer that is not this gateway's
    /// domain, is an error and nothing is kept: terms signed for another version would never be payable.
    pub async fn gateway_version(&self) -> Result<String, settle_chain::rpc::RpcError> {
        use settle_chain::alloy_sol::SolCall;
        use settle_chain::contracts::eip712DomainCall;
        let read = async {
            let call = eip712DomainCall {}.abi_encode();
            let out = self.rpc.eth_call(None, self.gateway, &call.into()).await?;
            let unreadable = || settle_chain::rpc::RpcError::Unavailable("the gateway's eip712Domain() is not a SettleGateway's domain here".into());
            let d = eip712DomainCall::abi_decode_returns(&out).map_err(|_| unreadable())?;
            if d.name != "SettleGateway" || d.verifyingContract != self.gateway || d.chainId != settle_chain::U256::from(self.chain_id) {
                return Err(unreadable());
            }
            Ok(d.version)
        };
        self.version.get_or_try_init(|| read).await.cloned()
    }

    /// The gateway's EIP-712 domain ([`Self::gateway_version`]); a node that does not answer is a 503.
    pub async fn gateway_domain(&self) -> Result<settle_chain::alloy_sol::Eip712Domain, crate::AppError> {
        let version = self.gateway_version().await.map_err(|e| {
            tracing::warn!(chain = self.chain_id, error = %e, "the gateway's EIP-712 version could not be read");
            crate::AppError::ChainUnavailable
        })?;
        Ok(settle_chain::eip712::gateway_domain(self.chain_id, self.gateway, &version))
    }

    /// Whether the gateway takes refunds (version "2" or later); a node that does not answer is a 503.
    pub async fn refunds_on_chain(&self) -> Result<bool, crate::AppError> {
        Ok(self.gateway_domain().await?.version.as_deref() != Some("1"))
    }

    /// The configured token at `address`.
    pub fn token(&self, address: &Address) -> Option<&Token> {
        self.tokens.iter().find(|t| &t.address == address)
    }
}

/// Every configured chain, by id.
#[derive(Clone, Debug, Default)]
pub struct Chains(pub Arc<Vec<Chain>>);

impl Chains {
    pub fn get(&self, chain_id: i64) -> Option<&Chain> {
        self.0.iter().find(|c| c.chain_id as i64 == chain_id)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// anvil's first development key: public knowledge, for local chains only.
pub const ANVIL_DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The development chain `serve --demo` uses: anvil (chain 31337) at 127.0.0.1:8545, with the contracts at
/// the addresses `settle chain deploy --with-test-token` gives them on a fresh anvil with its first key (the
/// test token USDC first, then the forwarder, then the gateway), signed and relayed with that key.
pub fn dev_chain(rpc_url: &str) -> ChainSpec {
    ChainSpec {
        chain_id: 31337,
        rpc_urls: vec![rpc_url.to_owned()],
        gateway: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0".into(),
        forwarder: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512".into(),
        // What this Settle's `chain deploy` deploys: the demo signs terms with no node running.
        gateway_version: Some(settle_chain::eip712::GATEWAY_VERSION.into()),
        confirmations: Some(1),
        signer_key: Some(ANVIL_DEV_KEY.into()),
        relayer_key: Some(ANVIL_DEV_KEY.into()),
        max_gas: None,
        poll_ms: Some(500),
        low_balance_wei: None,
        bump_after_blocks: None,
        fee_bump_percent: None,
        max_replacements: None,
        max_fee_gwei: None,
        logs_range: None,
        test_network: true,
        tokens: vec![TokenSpec { address: "0x5FbDB2315678afecb367f032d93F642f64180aa3".into(), symbol: "USDC".into(), decimals: 6 }],
        previous_gateways: Vec::new(),
        // A node on this machine (the demo's): a payer's browser here reaches it too.
        wallet: Some(WalletChain { name: "Anvil (Settle demo)".into(), rpc_urls: vec![rpc_url.to_owned()], ..Default::default() })
            .filter(|w| w.check(31337).is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_GATEWAY: &str = "0x0000000000000000000000000000000000000a01";
    const OLD_FORWARDER: &str = "0x0000000000000000000000000000000000000a02";

    fn spec(previous: Vec<PreviousGateway>) -> ChainSpec {
        ChainSpec { previous_gateways: previous, ..dev_chain("http://127.0.0.1:1") }
    }

    #[test]
    fn a_chain_for_wallets_to_add_has_public_https_urls() {
        assert!(dev_chain("http://127.0.0.1:8545").wallet.is_some(), "the demo's local node");
        assert!(dev_chain("http://anvil:8545").wallet.is_none(), "a node the payer's browser may not reach is not offered");
        let with = |w: WalletChain| Chain::from_spec(&ChainSpec { wallet: Some(w), ..dev_chain("http://127.0.0.1:1") });
        let good = WalletChain { name: "Base".into(), rpc_urls: vec!["https://rpc.example".into()], ..Default::default() };
        assert!(with(good.clone()).is_ok());
        for bad in [
            WalletChain { rpc_urls: vec!["http://rpc.example".into()], ..good.clone() },
            WalletChain { rpc_urls: vec!["http://localhost.evil.example".into()], ..good.clone() },
            WalletChain { rpc_urls: vec![], ..good.clone() },
            WalletChain { name: String::new(), ..good.clone() },
            WalletChain { explorer_urls: vec!["javascript:alert(1)".into()], ..good.clone() },
            WalletChain { currency_symbol: Some("E TH".into()), ..good.clone() },
        ] {
            let err = with(bad.clone()).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(err.starts_with("chains[31337].wallet."), "{err}");
        }
    }

    fn previous(gateway: &str, version: Option<&str>) -> PreviousGateway {
        PreviousGateway { gateway: gateway.into(), forwarder: OLD_FORWARDER.into(), gateway_version: version.map(Into::into) }
    }

    #[test]
    fn previous_gateways_are_settle_s_own_and_checked_by_field() {
        let chain = Chain::from_spec(&spec(vec![previous(OLD_GATEWAY, Some("1"))])).unwrap();
        let old: Address = OLD_GATEWAY.parse().unwrap();
        assert_eq!(chain.gateways(), vec![chain.gateway, old]);
        assert!(chain.is_contract(old) && chain.is_contract(OLD_FORWARDER.parse().unwrap()));
        assert!(chain.is_own(chain.signer.address()) && !chain.is_contract(chain.signer.address()));
        let bad = Chain::from_spec(&spec(vec![previous("0xnope", None)])).unwrap_err();
        assert!(bad.contains("previous_gateways.gateway"), "{bad}");
        let bad = Chain::from_spec(&spec(vec![previous(OLD_GATEWAY, Some("4"))])).unwrap_err();
        assert!(bad.contains("previous_gateways.gateway_version"), "{bad}");
        for twice in [vec![previous(OLD_GATEWAY, None), previous(OLD_GATEWAY, None)], vec![previous(&dev_chain("").gateway, None)]] {
            let bad = Chain::from_spec(&spec(twice)).unwrap_err();
            assert!(bad.contains("listed twice"), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_payment_is_followed_on_the_gateway_it_was_made_on() {
        let chain = Chain::from_spec(&spec(vec![previous(OLD_GATEWAY, Some("1"))])).unwrap();
        let row = |gateway: Option<&str>| {
            let mut row = settle_store::payments::NewPayment {
                payment_id: format!("0x{}", "11".repeat(32)),
                merchant_id: "mch_a".into(),
                order_id: "o".into(),
                rail: settle_domain::Rail::Chain,
                amount: "1".into(),
                currency: "USDC".into(),
                chain_id: Some(31337),
                token_address: None,
                recipient_address: None,
                chain_terms: None,
                details: Default::default(),
            }
            .row(0);
            row.gateway_address = gateway.map(Into::into);
            row
        };
        let old: Address = OLD_GATEWAY.parse().unwrap();
        let on_old = chain.for_payment(&row(Some(OLD_GATEWAY))).await.unwrap();
        assert_eq!((on_old.gateway, on_old.forwarder), (old, OLD_FORWARDER.parse().unwrap()));
        assert_eq!(on_old.gateway_version().await.unwrap(), "1", "the old gateway's own version");
        let current = chain.gateway.to_checksum(None);
        assert_eq!(chain.for_payment(&row(Some(&current))).await.unwrap().gateway, chain.gateway);
        let unknown = chain.for_payment(&row(Some("0x0000000000000000000000000000000000000b01"))).await.unwrap_err();
        assert!(unknown.to_string().contains("previous_gateways"), "{unknown}");
        // Made before the gateway was stored, its signature no listed gateway's, and no node to ask which shows it
        // paid: not placed (never the current gateway by default).
        assert!(matches!(chain.for_payment(&row(None)).await, Err(crate::AppError::ChainUnavailable)));
        // With no previous gateway listed, such a payment is the current gateway's, as it always was.
        let alone = Chain::from_spec(&spec(vec![])).unwrap();
        assert_eq!(alone.for_payment(&row(None)).await.unwrap().gateway, alone.gateway);
    }
}
