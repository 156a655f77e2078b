//! `settle listen --forward-to URL`: a merchant's events, as a running Settle streams them (`GET /v1/events/stream`),
//! forwarded to a URL on this machine signed as Settle signs its webhooks (Standard Webhooks), with a secret of this
//! session's, so that an integrator develops a receiver without a public address.

use std::{io::Write, time::Duration};

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
    /// The signing secret (whsec_ and the base64 of at least 24 bytes); default: a new one, printed at start.
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

/// A frame of the stream larger than this is not an event of Settle's: the stream is dropped and opened again.
const MAX_FRAME: usize = 4 << 20;
/// Tries of one forward (the receiver down or answering 5xx) before it is reported and the stream goes on.
const FORWARD_TRIES: u32 = 4;

/// A line of stdout; false once nobody reads it (a closed pipe ends the session).
fn out(v: &impl serde::Serialize) -> bool {
    let line = serde_json::to_string(v).unwrap_or_default();
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}").and_then(|()| o.flush()).is_ok()
}

/// Streams and forwards until interrupted; reconnects (resuming after the last event with `Last-Event-ID`) when
/// the stream ends or the server is away. A key Settle refuses ends it.
pub(super) async fn listen(a: ListenArgs) -> anyhow::Result<()> {
    settle_card::tls::ensure_crypto_provider();
    let forward: reqwest::Url = a.forward_to.parse().map_err(|e| usage(format!("--forward-to: {e}")))?;
    if !matches!(forward.scheme(), "http" | "https") {
        return Err(usage("--forward-to must be an http or https URL"));
    }
    let given = a.secret.is_some();
    let secret = a.secret.clone().unwrap_or_else(settle_app::webhooks::new_secret);
    if secret.strip_prefix("whsec_").is_none_or(|k| k.len() < 32) || settle_app::webhooks::sign(&secret, "x", 0, "").is_none() {
        return Err(usage("--secret must be whsec_ and the base64 of at least 24 bytes"));
    }
    let patterns = if a.events.is_empty() {
        Vec::new()
    } else {
        settle_app::webhooks::parse_patterns("--events", &a.events).map_err(|e| usage(e.to_string()))?
    };
    let stream_url = format!("{}/v1/events/stream", a.url.trim_end_matches('/'));
    // A dead connection shows as no heartbeat (every 15 s by default) for a minute.
    let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).read_timeout(Duration::from_secs(60)).build()?;
    // As Settle's own sender: no redirects followed, no proxy between it and a receiver on this machine.
    let send_client = reqwest::Client::builder().timeout(Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none()).no_proxy().build()?;
    let first = serde_json::json!({"listening": a.url, "forwardTo": a.forward_to, "secret": if given { None } else { Some(&secret) }});
    if !out(&first) {
        return Ok(());
    }
    eprintln!("Forwarding {}'s events to {}, signed with the session's secret; Ctrl-C stops", a.url, a.forward_to);
    let mut last: Option<String> = None;
    let mut pause = Duration::from_millis(250);
    let run = async {
        loop {
            let mut req = client.get(&stream_url).bearer_auth(&a.api_key);
            if let Some(l) = &last {
                req = req.header("last-event-id", l);
            }
            let res = match req.send().await {
                Ok(r) if matches!(r.status().as_u16(), 401 | 403 | 404) => {
                    anyhow::bail!("{stream_url} answered {}: {}", r.status(), r.text().await.unwrap_or_default());
                }
                Ok(r)
                    if r.status().is_success()
                        && r.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/event-stream")) =>
                {
                    r
                }
                Ok(r) => {
                    eprintln!("{stream_url} answered {} (not an event stream); trying again in {} ms", r.status(), pause.as_millis());
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
            if !out(&serde_json::json!({"connected": stream_url, "after": last})) {
                return Ok(());
            }
            let mut res = res;
            // Bytes, decoded a whole frame at a time: a chunk may end inside a character.
            let mut buf: Vec<u8> = Vec::new();
            let mut framed = false;
            let ended = loop {
                let chunk = match res.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break "the event stream ended".to_owned(),
                    Err(e) => break format!("the event stream broke: {e}"),
                };
                buf.extend(chunk.iter().filter(|b| **b != b'\r'));
                while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let frame: Vec<u8> = buf.drain(..end + 2).collect();
                    framed = true;
                    let frame = String::from_utf8_lossy(&frame);
                    let (mut id, mut data) = (None, Vec::new());
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = Some(v.trim().to_owned());
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push(v.strip_prefix(' ').unwrap_or(v));
                        }
                    }
                    let Some(id) = id else { continue }; // a heartbeat
                    // What a webhook delivery carries: the event without the stream's seq.
                    let mut event = serde_json::from_str::<serde_json::Value>(&data.join("\n")).unwrap_or_default();
                    if let Some(o) = event.as_object_mut() {
                        o.remove("seq");
                    }
                    let kind = event["type"].as_str().unwrap_or_default().to_owned();
                    if patterns.is_empty() || patterns.iter().any(|p| settle_app::webhooks::matches(p, &kind)) {
                        let line = forward_one(&send_client, &forward, &secret, &id, &kind, &event.to_string()).await;
                        if !out(&line) {
                            return Ok(());
                        }
                    }
                    last = Some(id);
                }
                if buf.len() > MAX_FRAME {
                    break format!("a frame of more than {MAX_FRAME} bytes");
                }
            };
            eprintln!("{ended}; reconnecting after {}", last.as_deref().unwrap_or("the start of this session"));
            if !framed {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        }
    };
    tokio::select! {
        r = run => r,
        () = crate::startup::shutdown_signal() => Ok(()),
    }
}

/// POSTs one event to `to`, signed, tried again a few times while the receiver is away or answers 5xx; what came of
/// the last try.
async fn forward_one<'a>(client: &reqwest::Client, to: &reqwest::Url, secret: &str, id: &'a str, kind: &'a str, body: &str) -> Forwarded<'a> {
    let mut pause = Duration::from_millis(500);
    let mut tries = 0;
    loop {
        tries += 1;
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
        let done = match sent {
            Ok(r) if !r.status().is_server_error() => Forwarded { id, kind, status: Some(r.status().as_u16()), error: None },
            Ok(r) if tries >= FORWARD_TRIES => Forwarded { id, kind, status: Some(r.status().as_u16()), error: None },
            Err(e) if tries >= FORWARD_TRIES => Forwarded { id, kind, status: None, error: Some(e.to_string()) },
            _ => {
                tokio::time::sleep(pause).await;
                pause *= 2;
                continue;
            }
        };
        return done;
    }
}
