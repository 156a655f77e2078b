//! `settle refund create|list`: refunds through a running Settle's API, with a merchant's API key (the refund is
//! carried out by the server's rail; the CLI never talks to a gateway itself).

use std::time::Duration;

use super::{
    Format,
    output::{emit, usage},
};

/// Where the CLI finds Settle and whose refunds it manages.
#[derive(clap::Args, Debug)]
pub struct Server {
    /// The Settle to ask.
    #[arg(long, env = "SETTLE_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// The merchant's API key.
    #[arg(long, env = "SETTLE_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

#[derive(clap::Subcommand, Debug)]
pub enum RefundAction {
    /// Refund a COMPLETED payment: everything not yet refunded, or --amount.
    Create {
        #[command(flatten)]
        server: Server,
        /// The payment (0x + 64 hex).
        #[arg(long)]
        payment: String,
        /// Minor units; default: everything not yet refunded.
        #[arg(long)]
        amount: Option<String>,
        /// duplicate, fraudulent or requested_by_customer.
        #[arg(long)]
        reason: Option<String>,
        /// Sent as the Idempotency-Key (default: a new one, printed on failure so that a retry with it refunds once).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List refunds, newest first (one page).
    List {
        #[command(flatten)]
        server: Server,
        /// Only this payment's.
        #[arg(long)]
        payment: Option<String>,
        /// PENDING, REQUIRES_ACTION, SUCCEEDED or FAILED.
        #[arg(long)]
        status: Option<String>,
        /// 1 to 100.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// A new Idempotency-Key: the time in nanoseconds and this process's id (one per invocation).
fn new_key() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("cli-{nanos:x}-{:x}", std::process::id())
}

fn client() -> anyhow::Result<reqwest::Client> {
    settle_card::tls::ensure_crypto_provider();
    Ok(reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(60)).build()?)
}

/// Reads an answer: its JSON on success, Settle's error envelope as the error otherwise.
async fn answer(r: reqwest::Response) -> anyhow::Result<serde_json::Value> {
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let e = &body["error"];
    let msg = format!("Settle answered {status}: {} ({})", e["message"].as_str().unwrap_or("no message"), e["code"].as_str().unwrap_or("-"));
    Err(if status.is_client_error() { usage(msg) } else { anyhow::anyhow!(msg) })
}

pub(super) async fn refund(action: RefundAction, format: Option<Format>) -> anyhow::Result<()> {
    let http = client()?;
    match action {
        RefundAction::Create { server, payment, amount, reason, idempotency_key } => {
            let key = idempotency_key.unwrap_or_else(new_key);
            let mut body = serde_json::Map::new();
            if let Some(a) = amount {
                body.insert("amount".into(), a.into());
            }
            if let Some(r) = reason {
                body.insert("reason".into(), r.into());
            }
            let url = format!("{}/v1/payments/{}/refunds", server.url.trim_end_matches('/'), payment);
            let sent = http.post(&url).bearer_auth(&server.api_key).header("Idempotency-Key", &key).json(&body).send().await;
            let result = match sent {
                Ok(r) => answer(r).await,
                Err(e) => Err(anyhow::anyhow!("{e}")),
            };
            match result {
                Ok(v) => emit(&v, format, Format::Json),
                Err(e) if e.is::<super::output::UsageError>() => Err(e),
                Err(e) => Err(e.context(format!(
                    "the refund's outcome is not known: run the command again with --idempotency-key {key} (it never refunds twice)"
                ))),
            }
        }
        RefundAction::List { server, payment, status, limit } => {
            let mut q: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            if let Some(p) = payment {
                q.push(("paymentId", p));
            }
            if let Some(s) = status {
                q.push(("status", s));
            }
            let mut url =
                reqwest::Url::parse(&format!("{}/v1/refunds", server.url.trim_end_matches('/'))).map_err(|e| usage(format!("--url: {e}")))?;
            url.query_pairs_mut().extend_pairs(&q);
            let v = answer(http.get(url).bearer_auth(&server.api_key).send().await?).await?;
            emit(&v, format, Format::Json)
        }
    }
}
