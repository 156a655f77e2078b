//! `settle chain`: the contracts deployed to a development chain, each configured chain's state, and the
//! development helpers that pay, sign and mint with a local key.

use super::{
    ChainAction, Format,
    output::{say, text_lines, usage},
};
use crate::{Config, startup};

pub(super) async fn chain_command(cfg: &Config, action: ChainAction, format: Option<Format>) -> anyhow::Result<()> {
    use settle_chain::{Address, PrivateKeySigner, rpc::Rpc};
    match action {
        ChainAction::Deploy { rpc, deployer_key, signer_key, treasury, with_test_token } => {
            let deployer: PrivateKeySigner = deployer_key.trim().parse().map_err(|_| anyhow::anyhow!("--deployer-key is not a hex private key"))?;
            let (signer, generated): (PrivateKeySigner, bool) = match signer_key {
                Some(k) => (k.trim().parse().map_err(|_| anyhow::anyhow!("--signer-key is not a hex private key"))?, false),
                None => (PrivateKeySigner::random(), true),
            };
            let treasury: Address = match treasury {
                Some(t) => t.parse().map_err(|_| anyhow::anyhow!("--treasury {t} is not an address"))?,
                None => deployer.address(),
            };
            let client = Rpc::new(std::slice::from_ref(&rpc), std::time::Duration::from_secs(10)).map_err(|e| anyhow::anyhow!("--rpc: {e}"))?;
            let d = settle_chain::deploy::deploy(&client, &deployer, signer.address(), treasury, with_test_token)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("# settle chain deploy: chain {} (signer {}, treasury {})", d.chain_id, signer.address(), treasury);
            println!("[[chains]]");
            println!("chain_id = {}", d.chain_id);
            println!("rpc_urls = [\"{rpc}\"]");
            println!("gateway = \"{}\"", d.gateway);
            println!("forwarder = \"{}\"", d.forwarder);
            println!("confirmations = 2");
            if with_test_token {
                println!("test_network = true  # a test token: only test keys pay here");
            } else {
                println!("# test_network = true  # for a testnet: only test keys pay here (leave it out for a live chain)");
            }
            println!("# replacing an earlier gateway of this chain? Keep its payments followed, cancelled and refunded:");
            println!("# [[chains.previous_gateways]]");
            println!("# gateway = \"0x...\"    # the earlier gateway and its forwarder");
            println!("# forwarder = \"0x...\"");
            println!("# signer_key and relayer_key: set SETTLE_CHAIN_{id}_SIGNER_KEY and SETTLE_CHAIN_{id}_RELAYER_KEY", id = d.chain_id);
            if generated {
                // The one time this key is shown: the gateway pays only terms it signs.
                println!(
                    "# a new signer key was made (shown once, keep it secret): SETTLE_CHAIN_{id}_SIGNER_KEY=0x{key}",
                    id = d.chain_id,
                    key = hex::encode(signer.to_bytes())
                );
            }
            println!(
                "# the gateway's owner is the deployer ({}); ownership moves in two steps (transferOwnership, acceptOwnership)",
                deployer.address()
            );
            if let Some(t) = d.test_token {
                println!(
                    "tokens = [{{ address = \"{t}\", symbol = \"{}\", decimals = {} }}]",
                    settle_chain::deploy::TEST_TOKEN_SYMBOL,
                    settle_chain::deploy::TEST_TOKEN_DECIMALS
                );
            }
            Ok(())
        }
        ChainAction::Pay { rpc, key, mint } => {
            let payer: PrivateKeySigner = key.trim().parse().map_err(|_| anyhow::anyhow!("--key is not a hex private key"))?;
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)?;
            let p: serde_json::Value = serde_json::from_str(&input).map_err(|e| anyhow::anyhow!("stdin: not the JSON of a payment: {e}"))?;
            let t = &p["terms"];
            let field = |v: &serde_json::Value, name: &str| v.as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("stdin: {name} is missing"));
            let terms = settle_chain::contracts::PaymentTerms {
                paymentId: field(&t["paymentId"], "terms.paymentId")?.parse().map_err(|_| anyhow::anyhow!("terms.paymentId"))?,
                token: field(&t["token"], "terms.token")?.parse().map_err(|_| anyhow::anyhow!("terms.token"))?,
                amount: settle_chain::U256::from_str_radix(&field(&t["amount"], "terms.amount")?, 10).map_err(|_| anyhow::anyhow!("terms.amount"))?,
                recipient: field(&t["recipient"], "terms.recipient")?.parse().map_err(|_| anyhow::anyhow!("terms.recipient"))?,
                feeBps: t["feeBps"].as_u64().and_then(|f| u16::try_from(f).ok()).ok_or_else(|| anyhow::anyhow!("stdin: terms.feeBps"))?,
                deadline: t["deadline"].as_u64().ok_or_else(|| anyhow::anyhow!("stdin: terms.deadline"))?,
            };
            let gateway: Address = field(&p["gatewayAddress"], "gatewayAddress")?.parse().map_err(|_| anyhow::anyhow!("gatewayAddress"))?;
            let sig: settle_chain::Bytes = hex::decode(field(&p["serverSignature"], "serverSignature")?.trim_start_matches("0x"))
                .map_err(|_| anyhow::anyhow!("stdin: serverSignature is not hex"))?
                .into();
            let client = Rpc::new(std::slice::from_ref(&rpc), std::time::Duration::from_secs(10)).map_err(|e| anyhow::anyhow!("--rpc: {e}"))?;
            let minter = mint.then(|| payer.clone());
            let r = settle_chain::deploy::pay_directly(&client, &payer, gateway, terms, sig, minter.as_ref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::json!({"txHash": format!("{:#x}", r.transaction_hash), "blockNumber": r.block_number.to::<u64>()}));
            Ok(())
        }
        ChainAction::Sign { key } => {
            use settle_chain::eip712::{CheckoutSigned, sign_checkout_step};
            let payer: PrivateKeySigner = key.trim().parse().map_err(|_| anyhow::anyhow!("--key is not a hex private key"))?;
            let mut input = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)?;
            let td: serde_json::Value =
                serde_json::from_str(&input).map_err(|e| anyhow::anyhow!("stdin: not the JSON of GET /payments/{{id}}/typed-data: {e}"))?;
            if td.get("error").is_some() {
                anyhow::bail!("stdin is an error answer, not typed data: {td}");
            }
            // A refund's typed data (GET /v1/refunds/{id}/typed-data): the recipient's authorization, as submit takes it.
            if td.get("refundTerms").is_some() {
                let body = settle_chain::eip712::sign_refund_authorization(&payer, &td).map_err(|e| anyhow::anyhow!("stdin: {e}"))?;
                println!("{body}");
                return Ok(());
            }
            match sign_checkout_step(&payer, &td).map_err(|e| anyhow::anyhow!("stdin: {e}"))? {
                CheckoutSigned::Permit { signature, deadline } => {
                    println!("permitSignature=0x{}&permitDeadline={deadline}", hex::encode(signature.as_bytes()))
                }
                CheckoutSigned::Request { request, signature } => {
                    println!("{}", serde_json::json!({"request": request, "signature": format!("0x{}", hex::encode(signature.as_bytes()))}))
                }
            }
            Ok(())
        }
        ChainAction::Mint { rpc, key, token, to, amount } => {
            let minter: PrivateKeySigner = key.trim().parse().map_err(|_| anyhow::anyhow!("--key is not a hex private key"))?;
            let token: Address = token.parse().map_err(|_| anyhow::anyhow!("--token is not an address"))?;
            let to: Address = to.parse().map_err(|_| anyhow::anyhow!("--to is not an address"))?;
            let client = Rpc::new(std::slice::from_ref(&rpc), std::time::Duration::from_secs(10)).map_err(|e| anyhow::anyhow!("--rpc: {e}"))?;
            settle_chain::deploy::mint(&client, &minter, token, to, settle_chain::U256::from(amount)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let balance = settle_chain::deploy::balance_of(&client, token, to).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::json!({"to": to.to_checksum(None), "balance": balance.to_string()}));
            Ok(())
        }
        ChainAction::Status => {
            if cfg.chains.is_empty() {
                return Err(usage("no chain is configured: add the [[chains]] block `settle chain deploy` prints to settle.toml"));
            }
            let db = startup::open_database(cfg).await?;
            settle_store::migration::up(&db).await?;
            for spec in &cfg.chains {
                let chain = settle_app::chain::Chain::from_spec(spec).map_err(|e| anyhow::anyhow!("{e}"))?;
                let cursor = settle_store::chain::cursor(&db, chain.chain_id as i64).await?;
                let relayer = chain.relayer.address();
                let head = chain.rpc.block_number().await.map(|n| n.to_string()).unwrap_or_else(|e| format!("unreachable ({e})"));
                let latest = chain.rpc.nonce(relayer, "latest").await.map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
                let pending = chain.rpc.nonce(relayer, "pending").await.map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
                let balance = chain.rpc.balance(relayer).await.map(|b| b.to_string()).unwrap_or_else(|_| "?".into());
                let db_nonce = settle_store::relay::next_nonce(&db, chain.chain_id as i64, &relayer.to_checksum(None)).await?;
                let line = serde_json::json!({
                    "chainId": chain.chain_id,
                    "head": head,
                    "watcherCursor": cursor.map(|c| c.block_number),
                    "relayer": relayer.to_checksum(None),
                    "relayerNextNonceInDatabase": db_nonce,
                    "relayerNonceLatest": latest,
                    "relayerNoncePending": pending,
                    "relayerBalanceWei": balance,
                });
                // JSON: one object per line (a chain at a time, as it answers); text: key: value lines.
                match format {
                    Some(Format::Text) => say(&format!("{}\n", text_lines(&line, &format!("chain{}", chain.chain_id))))?,
                    Some(Format::Sarif) => return Err(usage("--format sarif is for `settle db check` only")),
                    _ => say(&format!("{line}\n"))?,
                }
            }
            Ok(())
        }
    }
}
