//! EVM addresses.

use std::fmt;

use crate::DomainError;

/// A 20-byte EVM address, kept in lower-case `0x` + 40 hex form.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Address(String);

impl Address {
    /// Accepts `0x` + 40 hex digits in any case (the checksum case is not enforced).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let hex = s.strip_prefix("0x").ok_or_else(|| DomainError::invalid(field, "must start with 0x"))?;
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(field, "must be 0x followed by 40 hex digits"));
        }
        Ok(Self(format!("0x{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        let a = Address::parse("a", "0xAbCdEf0000000000000000000000000000000001").unwrap();
        assert_eq!(a.as_str(), "0xabcdef0000000000000000000000000000000001");
        for bad in ["", "0x", "abcdef0000000000000000000000000000000001", "0xzz", "0x00000000000000000000000000000000000000001"] {
            assert!(Address::parse("a", bad).is_err(), "{bad}");
        }
    }
}
