//! Idempotency-Key with Stripe semantics, one mechanism for every mutating route: [`once`].
//!
//! [`once`] claims the key for this request in a short transaction of its own (an IN_FLIGHT record naming a
//! random owner token). A second request with the key and the same request waits (up to `idempotency_wait`,
//! reading the record, never re-inserting it) for the first to finish and then replays its stored response;
//! with another request, 422; still running after the wait, 409. The work writes its response with
//! [`Claim::complete_in`] inside its business transaction, and only while the claim is still its owner's, so
//! the change and its record commit together and a claim taken over after it stalled can never be completed
//! by its first owner. Work whose answer comes after its commit (an order, then its card charge) binds the key
//! to what it made with [`Claim::bind_in`] in that commit instead, and completes later.
//!
//! A failure, or a request dropped midway (client gone, timeout), releases the claim: one that changed nothing
//! goes, so a retry runs afresh at once rather than after `idempotency_stale`; a bound one is handed to the next
//! request with the key at once (after `idempotency_stale` when its process died), which finds
//! [`Claim::resumes`] set and answers from that resource instead of making another: an order retried after its
//! answer could not be recorded is the same order, charged once.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use hmac::{Hmac, Mac};
use settle_store::{ConnectionTrait, Db, idempotency as store};
use sha2::Sha256;

use crate::{AppError, Context};

/// An Idempotency-Key and the fingerprint of the request that carried it.
#[derive(Clone, Debug)]
pub struct IdemKey {
    pub key: String,
    /// The fingerprint under the merchant's current fingerprint key: what a new record stores.
    pub fingerprint: String,
    /// The fingerprints under every key still accepted (the current first): a record made before a master-key
    /// rotation, or before the keys were derived from it, still matches its retry.
    pub accepted: Vec<String>,
}

impl IdemKey {
    /// Checks the header value and fingerprints the request (method, path and body, with JSON object keys in
    /// canonical order so that whitespace and key order do not count as a different request).
    ///
    /// The fingerprint is an HMAC keyed with the merchant's fingerprint keys ([`fingerprint_secrets`]), derived from
    /// the master keys, which are not in the database: a body may hold a card number, and whoever holds a copy of
    /// the database must not be able to test guesses against a stored fingerprint. A card number is never fed to it
    /// as it is: every `cardNo` value is replaced by a keyed digest of its digits first. A retry sent with a rotated
    /// API key is still the same request.
    pub fn new<S: AsRef<[u8]>>(key: &str, secrets: &[S], method: &str, path: &str, body: &[u8]) -> Result<Self, AppError> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters"));
        }
        // No body is the empty object, as the routes read it.
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
        let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
        let mut accepted = Vec::with_capacity(secrets.len());
        for secret in secrets {
            let secret = secret.as_ref();
            let canonical = match &parsed {
                Some(v) => {
                    let mut v = v.clone();
                    digest_card_numbers(&mut v, secret)?;
                    v.to_string().into_bytes()
                }
                None => body.to_vec(),
            };
            accepted.push(fingerprint(secret, method, path, &canonical)?);
        }
        // A record an earlier Settle made (its body fingerprinted as it was, card number included) under the
        // merchant's stored secret, which is the last of the list: still matched, for the 24 h such records live.
        if let (Some(last), Some(v)) = (secrets.last(), &parsed) {
            accepted.push(fingerprint(last.as_ref(), method, path, v.to_string().as_bytes())?);
        }
        let fingerprint = accepted.first().cloned().ok_or_else(|| AppError::internal(std::io::Error::other("no fingerprint key")))?;
        Ok(Self { key: key.to_owned(), fingerprint, accepted })
    }

    /// Whether a stored fingerprint is this request's (under any accepted key).
    pub fn matches(&self, stored: &str) -> bool {
        self.accepted.iter().any(|f| f == stored)
    }
}

/// The HMAC of a request (method, path, canonical body) under `secret`, in hex.
fn fingerprint(secret: &[u8], method: &str, path: &str, canonical: &[u8]) -> Result<String, AppError> {
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(AppError::internal)?;
    h.update(method.as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(canonical);
    Ok(hex::encode(h.finalize().into_bytes()))
}

/// Replaces every `cardNo` string in `v` (at any depth) by a keyed digest of its digits.
fn digest_card_numbers(v: &mut serde_json::Value, secret: &[u8]) -> Result<(), AppError> {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "cardNo"
                    && let serde_json::Value::String(pan) = x
                {
                    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(AppError::internal)?;
                    h.update(b"settle/card-number\0");
                    h.update(pan.chars().filter(char::is_ascii_digit).collect::<String>().as_bytes());
                    *x = serde_json::Value::String(format!("pan:{}", hex::encode(h.finalize().into_bytes())));
                } else {
                    digest_card_numbers(x, secret)?;
                }
            }
        }
        serde_json::Value::Array(a) => {
            for x in a {
                digest_card_numbers(x, secret)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The merchant's fingerprint keys, the one that makes new fingerprints first. With `SETTLE_MASTER_KEY`: one
/// derived from each master key (HMAC of the merchant's id under the key; none is in the database), then the
/// secret stored on the merchant by an earlier Settle, if it has one (accepted for its records' last 24 h, never
/// used for new ones). Without a master key: the secret stored on the merchant (made on first use); whoever holds
/// the database holds that one too, and Settle says so at start. Cached for good.
pub async fn fingerprint_secrets(ctx: &Context, merchant_id: &str) -> Result<Arc<[Arc<[u8]>]>, AppError> {
    if let Some(s) = ctx.fingerprint_secrets.get(merchant_id).await {
        return Ok(s);
    }
    let mut secrets: Vec<Arc<[u8]>> = Vec::new();
    if let Some(keys) = ctx.settings.keyring.as_deref() {
        secrets.extend(keys.derive(&format!("settle/idempotency-fingerprint/v1/{merchant_id}")).into_iter().map(|k| Arc::from(&k[..])));
        let m = settle_store::merchants::find(&ctx.db, merchant_id).await?.ok_or(AppError::Unauthenticated)?;
        if let Some(old) = m.idem_secret {
            secrets.push(hex::decode(&old).map_err(AppError::internal)?.into());
        }
    } else {
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut fresh);
        let stored =
            settle_store::merchants::fingerprint_secret(&ctx.db, merchant_id, &hex::encode(fresh)).await?.ok_or(AppError::Unauthenticated)?;
        secrets.push(hex::decode(&stored).map_err(AppError::internal)?.into());
    }
    let secrets: Arc<[Arc<[u8]>]> = secrets.into();
    ctx.fingerprint_secrets.insert(merchant_id.to_owned(), secrets.clone()).await;
    Ok(secrets)
}

/// What a mutating request came to. The edge chooses how to say it (an HTTP status); the application only
/// decides which it is, and a replay gives back the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The change was made.
    Done,
    /// Something new was made (a payment, an order).
    Created,
    /// Taken on; the result comes later (a card charge the gateway has not decided).
    Accepted,
    /// Refused by the payment's rail (a declined card, a compensated order).
    Declined,
}

impl Outcome {
    /// Its stored form (an idempotency record's `response_status`).
    pub fn code(self) -> i32 {
        match self {
            Self::Done => 1,
            Self::Created => 2,
            Self::Accepted => 3,
            Self::Declined => 4,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        [Self::Done, Self::Created, Self::Accepted, Self::Declined].into_iter().find(|o| o.code() == code)
    }
}

/// A response as sent (and as stored for replays): its outcome and its JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub outcome: Outcome,
    pub body: String,
    pub replayed: bool,
}

/// What [`start`] decided.
pub enum Start {
    /// Run the request under this claim.
    Run(Claim),
    /// Send this stored response again.
    Replay(Reply),
}

/// This request's hold on its Idempotency-Key (or nothing, for a request without one). Clones share the
/// hold; when the last one goes without the response committed, the claim is released in the background.
#[derive(Clone, Default)]
pub struct Claim(Option<Arc<Held>>);

struct Held {
    db: Db,
    merchant_id: String,
    key: String,
    owner: String,
    /// What an earlier holder of the key bound it to: this request answers from it.
    resumes: Option<String>,
    /// The response committed, or the claim released: nothing is left to give back.
    settled: AtomicBool,
}

impl Claim {
    /// No key: completing records nothing.
    pub fn none() -> Self {
        Self(None)
    }

    /// Records `reply` for the key, inside the caller's business transaction. When the claim is no longer this
    /// request's (taken over after it stalled past `idempotency_stale`), 409 `idempotency_in_flight`: the
    /// caller's transaction must roll back, and a retry replays the new owner's response.
    pub async fn complete_in(&self, conn: &impl ConnectionTrait, reply: &Reply) -> Result<(), AppError> {
        let Some(h) = &self.0 else { return Ok(()) };
        if store::complete(conn, &h.merchant_id, &h.key, &h.owner, reply.outcome.code(), &reply.body).await? { Ok(()) } else { Err(self.lost()) }
    }

    /// [`Self::complete_in`] in a write of its own, for an answer read after the business transaction committed (a
    /// resource the key was bound to, as it stands now); returns the reply.
    pub async fn complete(&self, db: &settle_store::Db, reply: Reply) -> Result<Reply, AppError> {
        if self.holds_key() {
            let txn = settle_store::begin(db).await?;
            self.complete_in(&txn, &reply).await?;
            txn.commit().await.map_err(settle_store::StoreError::from)?;
            self.committed();
        }
        Ok(reply)
    }

    /// Binds the key to `resource` (`order:ord_…`), what the request made, inside the business transaction that
    /// made it; a retry then answers from it whatever happens after the commit. When the claim is no longer this
    /// request's, 409 `idempotency_in_flight` and the caller's transaction must roll back.
    pub async fn bind_in(&self, conn: &impl ConnectionTrait, resource: &str) -> Result<(), AppError> {
        let Some(h) = &self.0 else { return Ok(()) };
        if store::bind(conn, &h.merchant_id, &h.key, &h.owner, resource).await? { Ok(()) } else { Err(self.lost()) }
    }

    /// The resource an earlier request with this key bound and did not answer for (it failed, or its process
    /// died, after its commit): answer from it, never make another.
    pub fn resumes(&self) -> Option<&str> {
        self.0.as_ref().and_then(|h| h.resumes.as_deref())
    }

    /// What the store needs to complete the record with `reply` in a write of its own making (None without a key);
    /// when that write reports the claim lost, answer [`Self::lost`].
    pub fn completion<'a>(&'a self, reply: &'a Reply) -> Option<settle_store::payments::Completion<'a>> {
        self.0.as_ref().map(|h| settle_store::payments::Completion {
            merchant_id: &h.merchant_id,
            key: &h.key,
            owner: &h.owner,
            status: reply.outcome.code(),
            body: &reply.body,
        })
    }

    /// The claim was taken over before its request finished: its write rolled back, and the answer is 409.
    pub fn lost(&self) -> AppError {
        metrics::counter!("settle_idempotency_lost_claims_total").increment(1);
        tracing::warn!(merchant_id = %self.0.as_ref().map_or("", |h| h.merchant_id.as_str()), "an Idempotency-Key claim was taken over before its request finished; rolled back");
        AppError::IdempotencyInFlight
    }

    /// Whether a key is held (a request without one records nothing).
    pub fn holds_key(&self) -> bool {
        self.0.is_some()
    }

    /// The transaction that ran [`Self::complete_in`] committed: nothing to release.
    pub fn committed(&self) {
        if let Some(h) = &self.0 {
            h.settled.store(true, Ordering::Release);
        }
    }

    /// Gives the key back even though it is bound, because what it was bound to was given back whole and nothing
    /// was charged (an order refused by its saga, or compensated when its charge could not be sent): a retry runs
    /// afresh instead of answering that refusal for 24 h.
    pub async fn forget(&self) {
        let Some(h) = &self.0 else { return };
        if h.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Err(e) = store::forget(&h.db, &h.merchant_id, &h.key, &h.owner).await {
            tracing::warn!(error = %e, "could not give back an idempotency key; a retry answers what it was bound to");
            h.release().await;
        }
    }

    /// Gives the key back now (the request failed without changing anything).
    pub async fn release(&self) {
        let Some(h) = &self.0 else { return };
        if h.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        h.release().await;
    }
}

impl Held {
    /// Gives the key back; while the database is unavailable (a session ended under the statement, a failover) or
    /// refuses the write for now (SQLite's write queue full), tried again a few times over about a second: it deletes only this owner's unfinished claim, so running it
    /// twice is harmless, and a key left held refuses every retry of its request 409 until it is stale.
    async fn release(&self) {
        for pause_ms in [50u64, 250, 1000, 0] {
            match store::release(&self.db, &self.merchant_id, &self.key, &self.owner).await {
                Ok(_) => return,
                // A full SQLite write queue too: it empties as turns pass.
                Err(e) if (e.is_unavailable() || matches!(e, settle_store::StoreError::Retryable(_))) && pause_ms > 0 => {
                    tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not release an idempotency key; it frees itself when stale");
                    return;
                }
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.settled.load(Ordering::Acquire) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let h = Held {
            db: self.db.clone(),
            merchant_id: std::mem::take(&mut self.merchant_id),
            key: std::mem::take(&mut self.key),
            owner: std::mem::take(&mut self.owner),
            resumes: None,
            settled: AtomicBool::new(true),
        };
        rt.spawn(async move { h.release().await });
    }
}

/// Runs `work` once per Idempotency-Key: replays a stored response, or claims the key and runs `work` with the
/// claim, which `work` completes in its business transaction. On an error the claim is released before the
/// error is answered, so an immediate retry runs afresh.
pub async fn once<F, Fut>(ctx: &Context, merchant_id: &str, key: Option<IdemKey>, work: F) -> Result<Reply, AppError>
where
    F: FnOnce(Claim) -> Fut,
    Fut: Future<Output = Result<Reply, AppError>>,
{
    let claim = match start(ctx, merchant_id, key).await? {
        Start::Replay(r) => return Ok(r),
        Start::Run(c) => c,
    };
    let res = work(claim.clone()).await;
    if res.is_err() {
        claim.release().await;
    }
    res
}

/// Claims `key` for a new request, or finds the response to replay (waiting while another request holds it).
pub async fn start(ctx: &Context, merchant_id: &str, key: Option<IdemKey>) -> Result<Start, AppError> {
    let Some(k) = key else { return Ok(Start::Run(Claim::none())) };
    let s = &ctx.settings;
    let owner = uuid::Uuid::new_v4().to_string();
    let deadline = tokio::time::Instant::now() + s.idempotency_wait;
    let mut pause = Duration::from_millis(5);
    // Insert (claim) only when no record is known to exist; while one is in flight, read it.
    let mut existing: Option<store::IdempotencyRow> = None;
    loop {
        let row = match existing.take() {
            Some(row) if !stale(ctx, &row) => row,
            _ => {
                let claim = store::claim(
                    &ctx.db,
                    merchant_id,
                    &k.key,
                    &k.fingerprint,
                    &k.accepted,
                    &owner,
                    settle_store::now_ms(),
                    s.idempotency_ttl.as_millis() as i64,
                    s.idempotency_stale.as_millis() as i64,
                )
                .await?;
                match claim {
                    store::Claim::Claimed { resource } => {
                        if resource.is_some() {
                            metrics::counter!("settle_idempotency_resumed_total").increment(1);
                        }
                        return Ok(Start::Run(Claim(Some(Arc::new(Held {
                            db: ctx.db.clone(),
                            merchant_id: merchant_id.to_owned(),
                            key: k.key,
                            owner,
                            resumes: resource,
                            settled: AtomicBool::new(false),
                        })))));
                    }
                    store::Claim::Existing(row) => row,
                }
            }
        };
        if !k.matches(&row.request_hash) {
            return Err(AppError::IdempotencyMismatch);
        }
        if row.state == store::DONE {
            metrics::counter!("settle_idempotent_replays_total").increment(1);
            let outcome = row
                .response_status
                .and_then(Outcome::from_code)
                .ok_or_else(|| AppError::InvalidState("this Idempotency-Key's stored response is unreadable; use a new key".into()))?;
            return Ok(Start::Replay(Reply { outcome, body: row.response_body.unwrap_or_default(), replayed: true }));
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Err(AppError::IdempotencyInFlight);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
        // Released (the holder failed): None, and the next round claims it.
        existing = store::find(&ctx.db, merchant_id, &k.key).await?;
    }
}

/// Whether an IN_FLIGHT record's owner stopped long enough ago to be taken over, or the record expired.
fn stale(ctx: &Context, row: &store::IdempotencyRow) -> bool {
    let now = settle_store::now_ms();
    row.expires_at < now || (row.state == store::IN_FLIGHT && row.locked_at < now - ctx.settings.idempotency_stale.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_layout_and_depend_on_the_secret() {
        let a = IdemKey::new("k", &[b"s1"], "POST", "/p", br#"{"a":1,"b":"x"}"#).unwrap();
        let b = IdemKey::new("k", &[b"s1"], "POST", "/p", br#"{ "b" : "x", "a" : 1 }"#).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "same request, other layout");
        let c = IdemKey::new("k", &[b"s1"], "POST", "/p", br#"{"a":2,"b":"x"}"#).unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
        let d = IdemKey::new("k", &[b"s2"], "POST", "/p", br#"{"a":1,"b":"x"}"#).unwrap();
        assert_ne!(a.fingerprint, d.fingerprint, "keyed: not a plain hash of the body");
        assert!(IdemKey::new("", &[b"s"], "POST", "/p", b"{}").is_err());
        // A record made under an older key still matches.
        let both = IdemKey::new("k", &[b"s2".as_slice(), b"s1".as_slice()], "POST", "/p", br#"{"a":1,"b":"x"}"#).unwrap();
        assert_eq!(both.fingerprint, d.fingerprint);
        assert!(both.matches(&a.fingerprint) && both.matches(&d.fingerprint) && !both.matches(&c.fingerprint));
    }

    #[test]
    fn a_card_number_is_digested_before_it_is_fingerprinted() {
        let one = IdemKey::new("k", &[b"s"], "POST", "/p", br#"{"card":{"cardType":"KB","cardNo":"4111-1111-1111-1111"}}"#).unwrap();
        let same = IdemKey::new("k", &[b"s"], "POST", "/p", br#"{"card":{"cardNo":"4111111111111111","cardType":"KB"}}"#).unwrap();
        assert_eq!(one.fingerprint, same.fingerprint, "the digits are what counts");
        let other = IdemKey::new("k", &[b"s"], "POST", "/p", br#"{"card":{"cardType":"KB","cardNo":"4111-1111-1111-1112"}}"#).unwrap();
        assert_ne!(one.fingerprint, other.fingerprint);
        let mut v = serde_json::json!({"cardNo": "4111111111111111", "x": [{"cardNo": "5500000000000004"}]});
        digest_card_numbers(&mut v, b"s").unwrap();
        assert!(!v.to_string().contains("4111111111111111") && !v.to_string().contains("5500000000000004"), "{v}");
    }
}
