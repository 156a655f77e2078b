//! Idempotency-Key with Stripe semantics, around a business transaction.
//!
//! [`start`] claims the key in a short transaction of its own. A second request with the key and the same
//! request waits (up to `idempotency_wait`) for the first to finish and then replays its stored response; with
//! another request body it gets 422; if the first is still running after the wait, 409. The service writes the
//! response with [`complete_in`] inside its business transaction, so the change and its record commit
//! together; on an error before that it calls [`abandon`] so a retry runs afresh.

use std::time::Duration;

use hmac::{Hmac, Mac};
use settle_store::{ConnectionTrait, idempotency as store};
use sha2::Sha256;

use crate::{AppError, Context};

/// An Idempotency-Key and the fingerprint of the request that carried it.
#[derive(Clone, Debug)]
pub struct IdemKey {
    pub key: String,
    pub fingerprint: String,
}

impl IdemKey {
    /// Checks the header value and fingerprints the request (method, path and body, with JSON object keys in
    /// canonical order so that whitespace and key order do not count as a different request).
    ///
    /// The fingerprint is an HMAC keyed with the caller's API key, which Settle never stores: a body may hold a
    /// card number, and a plain hash of one could be reversed by trying every number.
    pub fn new(key: &str, api_key: &str, method: &str, path: &str, body: &[u8]) -> Result<Self, AppError> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters"));
        }
        let canonical = serde_json::from_slice::<serde_json::Value>(body).map(|v| v.to_string().into_bytes()).unwrap_or_else(|_| body.to_vec());
        let mut h = <Hmac<Sha256> as Mac>::new_from_slice(api_key.as_bytes()).map_err(AppError::internal)?;
        h.update(method.as_bytes());
        h.update(b" ");
        h.update(path.as_bytes());
        h.update(b"\n");
        h.update(&canonical);
        Ok(Self { key: key.to_owned(), fingerprint: hex::encode(h.finalize().into_bytes()) })
    }
}

/// A response as sent (and as stored for replays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// What [`start`] decided.
pub enum Start {
    /// Run the request (the key, if any, is claimed).
    Run,
    /// Send this stored response again.
    Replay(Reply),
}

pub async fn start(ctx: &Context, merchant_id: &str, key: Option<&IdemKey>) -> Result<Start, AppError> {
    let Some(k) = key else { return Ok(Start::Run) };
    let s = &ctx.settings;
    let deadline = tokio::time::Instant::now() + s.idempotency_wait;
    let mut pause = Duration::from_millis(5);
    loop {
        let now = settle_store::now_ms();
        let claim = store::claim(
            &ctx.db,
            merchant_id,
            &k.key,
            &k.fingerprint,
            now,
            s.idempotency_ttl.as_millis() as i64,
            s.idempotency_stale.as_millis() as i64,
        )
        .await?;
        let row = match claim {
            store::Claim::Claimed => return Ok(Start::Run),
            store::Claim::Existing(row) => row,
        };
        if row.request_hash != k.fingerprint {
            return Err(AppError::IdempotencyMismatch);
        }
        if row.state == store::DONE {
            metrics::counter!("settle_idempotent_replays_total").increment(1);
            return Ok(Start::Replay(Reply {
                status: row.response_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
                body: row.response_body.unwrap_or_default(),
                replayed: true,
            }));
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Err(AppError::IdempotencyInFlight);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Records the response of a claimed key; call inside the business transaction.
pub async fn complete_in(conn: &impl ConnectionTrait, merchant_id: &str, key: Option<&IdemKey>, reply: &Reply) -> Result<(), AppError> {
    if let Some(k) = key {
        store::complete(conn, merchant_id, &k.key, reply.status, &reply.body).await?;
    }
    Ok(())
}

/// Releases a claimed key after a request failed without changing anything.
pub async fn abandon(ctx: &Context, merchant_id: &str, key: Option<&IdemKey>) {
    if let Some(k) = key
        && let Err(e) = store::release(&ctx.db, merchant_id, &k.key).await
    {
        tracing::warn!(error = %e, "could not release an idempotency key; it frees itself when stale");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_layout_and_depend_on_the_api_key() {
        let a = IdemKey::new("k", "sk_1", "POST", "/p", br#"{"a":1,"b":"x"}"#).unwrap();
        let b = IdemKey::new("k", "sk_1", "POST", "/p", br#"{ "b" : "x", "a" : 1 }"#).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "same request, other layout");
        let c = IdemKey::new("k", "sk_1", "POST", "/p", br#"{"a":2,"b":"x"}"#).unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
        let d = IdemKey::new("k", "sk_2", "POST", "/p", br#"{"a":1,"b":"x"}"#).unwrap();
        assert_ne!(a.fingerprint, d.fingerprint, "keyed: not a plain hash of the body");
        assert!(IdemKey::new("", "sk", "POST", "/p", b"{}").is_err());
    }
}
