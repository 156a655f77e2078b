//! `settle listen --forward-to URL`: a merchant's events, as a running Settle streams them (`GET /v1/events/stream`),
//! forwarded to a URL on this machine signed as Settle signs its webhooks (Standard Webhooks), with a secret of this
//! session's, so that an integrator develops a receiver without a public address.

use std::time::Duration;

use super::output::usage;

/// What `settle listen` was asked.
#[derive(clap::Args, Debug)]
pub struct ListenArgs {
    /// Where events are forwarded (http or https), such as http://127.0.0.1:4242/webhooks.
    #[arg(long)]
    pub forward_to: String,
    /// The Settle whose events are streamed.
    #[arg(long, env = "SETTLE_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// The merchant's API key.
    #[arg(long, env = "SETTLE_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// Event types to forward: types or prefixes (payment.*), comma-separated (default: every event).
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// The signing secret (whsec_...); default: a new one, printed at start.
    #[arg(long, env = "SETTLE_LISTEN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// One line of stdout per event forwarded (JSON), after a first line naming the session's secret and one per
/// connection of the stream.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Forwarded<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Streams and forwards until interrupted; reconnects (resuming after the last event with `Last-Event-ID`) when
/// the stream ends or the server is away. A key Settle refuses ends it.
pub(super) async fn listen(a: ListenArgs) -> anyhow::Result<()> {
    settle_card::tls::ensure_crypto_provider();
    let forward: reqwest::Url = a.forward_to.parse().map_err(|e| usage(format!("--forward-to: {e}")))?;
    if !matches!(forward.scheme(), "http" | "https") {
        return Err(usage("--forward-to must be an http or https URL"));
    }
    let secret = a.secret.clone().unwrap_or_else(settle_app::webhooks::new_secret);
    if settle_app::webhooks::sign(&secret, "x", 0, "").is_none() {
        return Err(usage("--secret must be a whsec_ secret (whsec_ and base64)"));
    }
    let patterns = if a.events.is_empty() {
        Vec::new()
    } else {
        settle_app::webhooks::parse_patterns("--events", &a.events).map_err(|e| usage(e.to_string()))?
    };
    let stream_url = format!("{}/v1/events/stream", a.url.trim_end_matches('/'));
    let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build()?;
    let send_client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    println!("{}", serde_json::json!({"listening": a.url, "forwardTo": a.forward_to, "secret": secret}));
    eprintln!("Forwarding {}'s events to {} signed with {}… (webhook-signature); Ctrl-C stops", a.url, a.forward_to, &secret[..10]);
    let mut last: Option<String> = None;
    let mut pause = Duration::from_millis(250);
    let run = async {
        loop {
            let mut req = client.get(&stream_url).bearer_auth(&a.api_key);
            if let Some(l) = &last {
                req = req.header("last-event-id", l);
            }
            let res = match req.send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) if matches!(r.status().as_u16(), 401 | 403 | 404) => {
                    anyhow::bail!("{stream_url} answered {}: {}", r.status(), r.text().await.unwrap_or_default());
                }
                Ok(r) => {
                    eprintln!("{stream_url} answered {}; trying again in {} ms", r.status(), pause.as_millis());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                    continue;
                }
                Err(e) => {
                    eprintln!("{stream_url}: {e}; trying again in {} ms", pause.as_millis());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            pause = Duration::from_millis(250);
            println!("{}", serde_json::json!({"connected": stream_url, "after": last}));
            let mut res = res;
            let mut buf = String::new();
            while let Ok(Some(chunk)) = res.chunk().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    let (mut id, mut data) = (None, String::new());
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = Some(v.trim().to_owned());
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        }
                    }
                    let Some(id) = id else { continue }; // a heartbeat
                    let kind =
                        serde_json::from_str::<serde_json::Value>(&data).ok().and_then(|v| v["type"].as_str().map(str::to_owned)).unwrap_or_default();
                    if patterns.is_empty() || patterns.iter().any(|p| settle_app::webhooks::matches(p, &kind)) {
                        let line = forward_one(&send_client, &forward, &secret, &id, &kind, &data).await;
                        println!("{}", serde_json::to_string(&line)?);
                    }
                    last = Some(id);
                }
            }
            eprintln!("the event stream ended; reconnecting after {}", last.as_deref().unwrap_or("the start of this session"));
        }
    };
    tokio::select! {
        r = run => r,
        () = crate::startup::shutdown_signal() => Ok(()),
    }
}

/// POSTs one event to `to`, signed; what came of it.
async fn forward_one<'a>(client: &reqwest::Client, to: &reqwest::Url, secret: &str, id: &'a str, kind: &'a str, body: &str) -> Forwarded<'a> {
    let ts = (settle_store::now_ms() / 1000).max(0);
    let Some(sig) = settle_app::webhooks::sign(secret, id, ts, body) else {
        return Forwarded { id, kind, status: None, error: Some("the secret cannot sign".into()) };
    };
    let sent = client
        .post(to.clone())
        .header("content-type", "application/json")
        .header("user-agent", concat!("settle-listen/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body.to_owned())
        .send()
        .await;
    match sent {
        Ok(r) => Forwarded { id, kind, status: Some(r.status().as_u16()), error: None },
        Err(e) => Forwarded { id, kind, status: None, error: Some(e.to_string()) },
    }
}
