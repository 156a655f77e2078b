//! Signing a delivery as the Standard Webhooks specification defines, with an endpoint's secret (and its previous
//! one during a rotation).

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use hmac::{Hmac, Mac};
use rand::RngCore;
use settle_store::webhooks as store;
use sha2::Sha256;

use crate::crypto::{self, CryptoError, Keyring};

/// A fresh endpoint secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("whsec_{}", B64.encode(b))
}

/// One `v1,<base64>` signature of `id.timestamp.body` with `secret` (`whsec_...`); None for a malformed secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header of an endpoint: the current secret's signature, and during a rotation's
/// overlap the previous secret's too, space-separated. The secrets are opened with the master keys.
pub(super) fn signatures(
    keys: Option<&Keyring>,
    ep: &store::EndpointRow,
    id: &str,
    timestamp: i64,
    body: &str,
    now_ms: i64,
) -> Result<String, CryptoError> {
    let mut out: Vec<String> = sign(&crypto::open(keys, &ep.secret, &ep.endpoint_id)?, id, timestamp, body).into_iter().collect();
    if let (Some(prev), Some(until)) = (&ep.previous_secret, ep.previous_secret_until)
        && until > now_ms
        && let Some(s) = sign(&crypto::open(keys, prev, &ep.endpoint_id)?, id, timestamp, body)
    {
        out.push(s);
    }
    Ok(out.join(" "))
}
