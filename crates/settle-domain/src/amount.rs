//! Money: an exact non-negative integer in the currency's minor unit (KRW: won, USD: cents, a token: its base
//! unit). It travels as a decimal string and is never a float. On-chain amounts go up to 2^256-1, so the
//! value is kept as its canonical decimal digits, which every backend stores exactly.

use std::{cmp::Ordering, fmt};

use crate::DomainError;

/// 2^256 - 1, the largest amount Settle accepts (a uint256 on chain).
pub const MAX_AMOUNT: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

/// An exact amount in minor units, `0 ..= 2^256-1`, in canonical form (no sign, no leading zeros).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Amount(String);

impl Amount {
    /// Parses a decimal string of digits. Rejects signs, fractions, exponents, spaces, empty strings and
    /// values above 2^256-1. Leading zeros are accepted and dropped.
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        if s.is_empty() {
            return Err(DomainError::invalid(field, "must be a non-empty string of digits"));
        }
        if s.starts_with('-') {
            return Err(DomainError::invalid(field, "must not be negative"));
        }
        if s.contains('.') {
            return Err(DomainError::invalid(field, "must be an integer in minor units, without a fraction"));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::invalid(field, "must be a string of digits (minor units)"));
        }
        let trimmed = s.trim_start_matches('0');
        let canonical = if trimmed.is_empty() { "0" } else { trimmed };
        if cmp_digits(canonical, MAX_AMOUNT) == Ordering::Greater {
            return Err(DomainError::invalid(field, "must not exceed 2^256-1"));
        }
        Ok(Self(canonical.to_owned()))
    }

    /// An amount from a machine integer.
    pub fn from_u128(v: u128) -> Self {
        Self(v.to_string())
    }

    /// The canonical decimal digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Number of decimal digits (a backend with a digit limit checks this).
    pub fn digits(&self) -> usize {
        self.0.len()
    }

    pub fn is_zero(&self) -> bool {
        self.0 == "0"
    }

    /// The value as a u64 when it fits (card payments are bounded far below).
    pub fn to_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

fn cmp_digits(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.0, &other.0)
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

/// A currency or token symbol: 1 to 10 upper-case letters or digits (`KRW`, `USD`, `USDC`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Currency(String);

impl Currency {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let ok =
            (1..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) && s.as_bytes()[0].is_ascii_uppercase();
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(field, "must be 1 to 10 upper-case letters or digits, such as KRW or USDC"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_amounts() {
        for bad in ["", "-1", "1.5", "1e3", " 1", "0x10", "１", "+1"] {
            assert!(Amount::parse("amount", bad).is_err(), "{bad:?} accepted");
        }
        let over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(Amount::parse("amount", over).is_err());
        assert!(Amount::parse("amount", &format!("1{MAX_AMOUNT}")).is_err());
    }

    #[test]
    fn accepts_bounds_and_canonicalises() {
        assert_eq!(Amount::parse("amount", MAX_AMOUNT).unwrap().as_str(), MAX_AMOUNT);
        assert_eq!(Amount::parse("amount", "000").unwrap().as_str(), "0");
        assert_eq!(Amount::parse("amount", "0015").unwrap().as_str(), "15");
    }

    proptest! {
        #[test]
        fn u128_round_trips(v in any::<u128>()) {
            let a = Amount::parse("amount", &v.to_string()).unwrap();
            prop_assert_eq!(a.as_str(), v.to_string());
            prop_assert_eq!(a, Amount::from_u128(v));
        }

        #[test]
        fn order_matches_integers(a in any::<u128>(), b in any::<u128>()) {
            prop_assert_eq!(Amount::from_u128(a).cmp(&Amount::from_u128(b)), a.cmp(&b));
        }

        #[test]
        fn never_panics(s in ".{0,100}") {
            let _ = Amount::parse("amount", &s);
        }
    }
}
