//! Encryption at rest of the secrets Settle must read back (webhook signing secrets), with AES-256-GCM under the
//! master keys of `SETTLE_MASTER_KEY`.
//!
//! A sealed value is `enc:v2:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`, sealed for the row that holds it
//! (its id is the associated data; `enc:v1:` values, from before, have only the key id); the key id is the first 8
//! hex digits of the key's SHA-256, so a value names the key that opens it and keys need no names of their own.
//! The master keys also key what must not be in the database: [`Keyring::derive`].
//! The first key of the list seals; every key of the list opens, so a new key is put first and the old one kept
//! after it until `settle keys rotate` has sealed everything again under the new one. A value without the
//! prefix is one stored before encryption was configured: it is read as is, and the next rotation seals it.

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

/// Sealed before values were bound to their row: the additional data is the key id alone (opened, never made).
const PREFIX_V1: &str = "enc:v1:";
/// Sealed for one row: the additional data is the key id and the row's context (a webhook endpoint's id), so a
/// sealed value copied into another row does not open there.
const PREFIX: &str = "enc:v2:";

/// Why a sealed value does not open.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed under key {0}, which SETTLE_MASTER_KEY does not hold")]
    UnknownKey(String),
    #[error("a sealed value is damaged or was sealed under another key")]
    Damaged,
}

struct Key {
    id: String,
    key: LessSafeKey,
    /// The key itself, for the keys derived from it ([`Keyring::derive`]).
    raw: [u8; 32],
}

/// The master keys: the first seals, all open.
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("ids", &self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>()).finish()
    }
}

impl Keyring {
    /// Parses `SETTLE_MASTER_KEY`: comma-separated base64 keys of 32 bytes, the sealing one first.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, k) in spec.split(',').map(str::trim).filter(|k| !k.is_empty()).enumerate() {
            let raw = B64.decode(k).map_err(|_| format!("key {} is not base64", i + 1))?;
            if raw.len() != 32 {
                return Err(format!("key {} must be 32 bytes (base64 of 32 random bytes; `settle keys generate` makes one)", i + 1));
            }
            let id = hex::encode(&Sha256::digest(&raw)[..4]);
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| "not an AES-256 key".to_owned())?);
            let raw: [u8; 32] = raw.try_into().map_err(|_| "not an AES-256 key".to_owned())?;
            keys.push(Key { id, key, raw });
        }
        if keys.is_empty() {
            return Err("holds no key".into());
        }
        Ok(Self { keys })
    }

    /// A fresh key, as `SETTLE_MASTER_KEY` takes it.
    pub fn generate() -> String {
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
        B64.encode(b)
    }

    /// A key for `purpose` derived from each master key (HMAC-SHA256 of the purpose under the key), the current
    /// one's first: secrets Settle needs that must not be in the database (request fingerprints).
    pub fn derive(&self, purpose: &str) -> Vec<[u8; 32]> {
        use hmac::{Hmac, Mac};
        self.keys
            .iter()
            .map(|k| {
                let mut h = <Hmac<Sha256> as Mac>::new_from_slice(&k.raw).expect("HMAC takes a key of any length");
                h.update(purpose.as_bytes());
                h.finalize().into_bytes().into()
            })
            .collect()
    }

    /// [`Self::derive`], each derived key with the id of the master key it comes from.
    pub fn derive_with_ids(&self, purpose: &str) -> Vec<(&str, [u8; 32])> {
        self.keys.iter().map(|k| k.id.as_str()).zip(self.derive(purpose)).collect()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Seals `plain` under the current key, bound to `context` (the id of the row it is stored in).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let k = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        let mut buf = plain.as_bytes().to_vec();
        // Sealing with a valid key and a fresh nonce cannot fail for inputs this small.
        let _ = k.key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(bound(&k.id, context)), &mut buf);
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}:{}", k.id, B64.encode(out))
    }

    /// Opens a stored value sealed for `context` (one without the prefix is returned as is; one sealed before
    /// values were bound to their row opens without it).
    pub fn open(&self, stored: &str, context: &str) -> Result<String, CryptoError> {
        let (rest, bound_to) = match (stored.strip_prefix(PREFIX), stored.strip_prefix(PREFIX_V1)) {
            (Some(rest), _) => (rest, Some(context)),
            (None, Some(rest)) => (rest, None),
            (None, None) => return Ok(stored.to_owned()),
        };
        let (id, data) = rest.split_once(':').ok_or(CryptoError::Damaged)?;
        let k = self.keys.iter().find(|k| k.id == id).ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))?;
        let raw = B64.decode(data).map_err(|_| CryptoError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(CryptoError::Damaged);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Damaged)?;
        let mut buf = sealed.to_vec();
        let aad = match bound_to {
            Some(c) => bound(&k.id, c),
            None => k.id.as_bytes().to_vec(),
        };
        let plain = k.key.open_in_place(nonce, Aad::from(aad), &mut buf).map_err(|_| CryptoError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Damaged)
    }

    /// Whether `stored` is sealed under the current key already (and bound to its row: a value sealed before that is sealed again).
    pub fn is_current(&self, stored: &str) -> bool {
        stored.strip_prefix(PREFIX).and_then(|r| r.split_once(':')).is_some_and(|(id, _)| id == self.current_id())
    }
}

/// The additional data of a value sealed under key `id` for `context`.
fn bound(id: &str, context: &str) -> Vec<u8> {
    format!("{id}|{context}").into_bytes()
}

/// Whether a stored value is sealed (under any key).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX) || stored.starts_with(PREFIX_V1)
}

/// Opens a stored value sealed for `context` with the keyring, if there is one; without one, a sealed value cannot
/// be read.
pub fn open(keys: Option<&Keyring>, stored: &str, context: &str) -> Result<String, CryptoError> {
    match keys {
        Some(k) => k.open(stored, context),
        None if is_sealed(stored) => Err(CryptoError::UnknownKey(stored.split(':').nth(2).unwrap_or_default().to_owned())),
        None => Ok(stored.to_owned()),
    }
}

/// Seals a value for `context` when there is a keyring; without one it is stored as is.
pub fn seal(keys: Option<&Keyring>, plain: &str, context: &str) -> String {
    keys.map_or_else(|| plain.to_owned(), |k| k.seal(plain, context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses_what_it_should() {
        let (a, b) = (Keyring::generate(), Keyring::generate());
        let one = Keyring::parse(&a).unwrap();
        let sealed = one.seal("whsec_secret", "we_1");
        assert!(sealed.starts_with(&format!("enc:v2:{}:", one.current_id())), "{sealed}");
        assert!(!sealed.contains("whsec_secret"));
        assert_ne!(one.seal("whsec_secret", "we_1"), sealed, "a fresh nonce each time");
        assert_eq!(one.open(&sealed, "we_1").unwrap(), "whsec_secret");
        assert_eq!(one.open("whsec_plain", "we_1").unwrap(), "whsec_plain", "a value stored before encryption reads as is");
        // Bound to its row: copied into another, it does not open.
        assert!(matches!(one.open(&sealed, "we_2"), Err(CryptoError::Damaged)));
        // A new key first: it seals, and the old one still opens what it sealed.
        let both = Keyring::parse(&format!("{b},{a}")).unwrap();
        assert_eq!(both.open(&sealed, "we_1").unwrap(), "whsec_secret");
        assert!(!both.is_current(&sealed) && both.is_current(&both.seal("x", "we_1")));
        // Only the new key: the old value names a key it does not hold.
        let new_only = Keyring::parse(&b).unwrap();
        assert!(matches!(new_only.open(&sealed, "we_1"), Err(CryptoError::UnknownKey(_))));
        // Tampering is detected.
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(one.open(&String::from_utf8(bytes).unwrap(), "we_1").is_err());
        for bad in ["", "AAAA", "not base64!", &B64.encode([0u8; 16])] {
            assert!(Keyring::parse(bad).is_err(), "{bad:?}");
        }
        assert!(open(None, &sealed, "we_1").is_err());
        assert_eq!(seal(None, "x", "we_1"), "x");
    }

    #[test]
    fn a_value_sealed_before_row_binding_still_opens_and_is_not_current() {
        let one = Keyring::parse(&Keyring::generate()).unwrap();
        // As the previous format sealed it: the key id alone as additional data.
        let k = &one.keys[0];
        let nonce = [7u8; NONCE_LEN];
        let mut buf = b"whsec_old".to_vec();
        k.key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(k.id.as_bytes()), &mut buf).unwrap();
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&buf);
        let v1 = format!("enc:v1:{}:{}", k.id, B64.encode(raw));
        assert_eq!(one.open(&v1, "we_any").unwrap(), "whsec_old");
        assert!(!one.is_current(&v1), "settle keys rotate binds it to its row");
        assert!(is_sealed(&v1));
    }
}
