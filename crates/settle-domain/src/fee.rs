//! A merchant's fee on chain payments, in basis points: parsed once where it enters, carried typed after.

use crate::DomainError;

/// A fee in basis points, 0 to 10,000 (100 %). Signed into a chain payment's terms and paid to the gateway's treasury.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct FeeBps(u16);

impl FeeBps {
    /// 100 %.
    pub const MAX: u16 = 10_000;

    /// A fee given as `field`.
    pub fn new(field: &'static str, bps: u16) -> Result<Self, DomainError> {
        if bps > Self::MAX {
            return Err(DomainError::invalid(field, format!("must be 0 to {}", Self::MAX)));
        }
        Ok(Self(bps))
    }

    /// A fee as the store keeps it; one outside the range is refused (never read as another, such as 0).
    pub fn from_stored(bps: i32) -> Result<Self, DomainError> {
        u16::try_from(bps)
            .ok()
            .filter(|b| *b <= Self::MAX)
            .map(Self)
            .ok_or_else(|| DomainError::invalid("fee_bps", format!("{bps} is not 0 to {}", Self::MAX)))
    }

    pub fn get(self) -> u16 {
        self.0
    }

    /// As the store keeps it.
    pub fn stored(self) -> i32 {
        i32::from(self.0)
    }
}

impl std::fmt::Display for FeeBps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_is_zero_to_ten_thousand_basis_points_given_or_stored() {
        assert_eq!(FeeBps::new("feeBps", 10_000).unwrap().get(), 10_000);
        assert!(FeeBps::new("feeBps", 10_001).is_err());
        assert_eq!(FeeBps::from_stored(250).unwrap().stored(), 250);
        for bad in [-1, 10_001, 70_000] {
            assert!(FeeBps::from_stored(bad).is_err(), "{bad}");
        }
    }
}
