//! Card input. A card number is checked once at the edge (format and Luhn) and never stored or logged:
//! only its type and last four digits travel further. Its `Debug` masks all but the last four.

use std::{fmt, str::FromStr};

use crate::DomainError;

/// The card companies the gateway accepts.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CardType {
    Samsung,
    Kb,
    Hyundai,
}

impl CardType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Samsung => "SAMSUNG",
            Self::Kb => "KB",
            Self::Hyundai => "HYUNDAI",
        }
    }

    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        s.parse().map_err(|_| DomainError::invalid(field, "must be SAMSUNG, KB or HYUNDAI"))
    }
}

impl FromStr for CardType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "SAMSUNG" => Ok(Self::Samsung),
            "KB" => Ok(Self::Kb),
            "HYUNDAI" => Ok(Self::Hyundai),
            _ => Err(()),
        }
    }
}

/// A card number in the gateway's `xxxx-xxxx-xxxx-xxxx` form that passes the Luhn check.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let groups: Vec<&str> = s.split('-').collect();
        let shaped = groups.len() == 4 && groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_digit()));
        if !shaped {
            return Err(DomainError::invalid(field, "must be 16 digits as xxxx-xxxx-xxxx-xxxx"));
        }
        let digits: String = groups.concat();
        if !luhn(&digits) {
            return Err(DomainError::invalid(field, "is not a valid card number (check digit)"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The number as the gateway wants it. Send it only to the gateway.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(****-****-****-{})", self.last4())
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers() {
        let c = CardNumber::parse("cardNo", "4111-1111-1111-1111").unwrap();
        assert_eq!(c.last4(), "1111");
        assert_eq!(format!("{c:?}"), "CardNumber(****-****-****-1111)");
        assert!(!format!("{c:?}").contains("4111-1111"));
        for bad in ["4111-1111-1111-1112", "4111111111111111", "4111-1111-1111-111a", "abcd-efgh-ijkl-mnop", "4111-1111-1111", ""] {
            assert!(CardNumber::parse("cardNo", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn card_types() {
        assert_eq!(CardType::parse("cardType", "KB").unwrap(), CardType::Kb);
        assert!(CardType::parse("cardType", "VISA").is_err());
    }
}
