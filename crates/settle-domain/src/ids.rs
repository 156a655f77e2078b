//! Identifiers.

use std::fmt;

use rand::RngCore;

use crate::DomainError;

/// The public id of a payment: `0x` + 64 lower-case hex digits, usable as an on-chain `bytes32`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PaymentId(String);

impl PaymentId {
    /// A fresh random id (256 bits from the OS-seeded thread RNG).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("0x{}", hex::encode(bytes)))
    }

    /// Whether `s` is an id as Settle writes it (`0x` and 64 lowercase hex digits): what [`Self::parse`] returns
    /// unchanged.
    pub fn is_canonical(s: &str) -> bool {
        s.strip_prefix("0x").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    }

    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let hex = s.strip_prefix("0x").ok_or_else(|| DomainError::invalid(field, "must be 0x followed by 64 hex digits"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(field, "must be 0x followed by 64 hex digits"));
        }
        Ok(Self(format!("0x{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A merchant's own order reference: 1 to 255 printable ASCII characters without spaces.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct OrderId(String);

impl OrderId {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DomainError::invalid(field, "must be 1 to 255 printable ASCII characters without spaces"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse() {
        let id = PaymentId::generate();
        assert_eq!(id.as_str().len(), 66);
        assert_eq!(PaymentId::parse("p", id.as_str()).unwrap(), id);
        assert!(PaymentId::parse("p", "0x1234").is_err());
        assert!(PaymentId::parse("p", &"0".repeat(66)).is_err());
        // Canonical: exactly what parse gives back unchanged.
        assert!(PaymentId::is_canonical(id.as_str()));
        let upper = format!("0x{}", id.as_str()[2..].to_ascii_uppercase());
        assert_eq!(PaymentId::parse("p", &upper).unwrap(), id);
        assert!(!PaymentId::is_canonical(&upper) || upper == id.as_str());
        assert!(!PaymentId::is_canonical("0x1234") && !PaymentId::is_canonical(&"0".repeat(66)));
    }

    #[test]
    fn order_ids() {
        assert!(OrderId::parse("o", "order-1").is_ok());
        assert!(OrderId::parse("o", "").is_err());
        assert!(OrderId::parse("o", "a b").is_err());
        assert!(OrderId::parse("o", &"x".repeat(256)).is_err());
    }
}
