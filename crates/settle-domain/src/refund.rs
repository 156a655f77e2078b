//! Refunds: money of a completed payment given back, whole or in parts. A refund is `PENDING` from the moment it is
//! recorded (its amount is then reserved against the payment), and ends `SUCCEEDED` or `FAILED` (the reservation
//! given back); a chain refund waiting on the merchant's allowance is `REQUIRES_ACTION`. The sum of a payment's
//! refunds that are not `FAILED` never exceeds what was paid.

use std::fmt;

use crate::{Amount, DomainError};

crate::names::names! {
    pub enum RefundStatus ("refund status") {
        Pending => "PENDING",
        RequiresAction => "REQUIRES_ACTION",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
    }
}

impl RefundStatus {
    /// Whether the refund is over (nothing more will change).
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }

    /// Whether its amount counts against what may still be refunded (every status but FAILED).
    pub fn holds_amount(self) -> bool {
        self != Self::Failed
    }

    /// Parses a status as a query names it (any case).
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        s.to_ascii_uppercase().parse().map_err(|()| DomainError::invalid(field, "must be PENDING, REQUIRES_ACTION, SUCCEEDED or FAILED"))
    }
}

crate::names::names! {
    /// Why the merchant refunds (Stripe's reasons).
    pub enum RefundReason ("refund reason") {
        Duplicate => "duplicate",
        Fraudulent => "fraudulent",
        RequestedByCustomer => "requested_by_customer",
        /// Settle's own: a CHAIN payment paid after it ended CANCELLED or EXPIRED, refunded automatically.
        PaidAfterFinal => "paid_after_final",
    }
}

impl RefundReason {
    /// A merchant's reason: `paid_after_final` is Settle's own (its automatic refunds), never a merchant's.
    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        match s.parse() {
            Ok(r) if r != Self::PaidAfterFinal => Ok(r),
            _ => Err(DomainError::invalid(field, "must be duplicate, fraudulent or requested_by_customer")),
        }
    }
}

/// A payment's refund status as its view shows it: nothing refunded, part of it, or all of it.
pub fn payment_refund_status(paid: &str, refunded: &str) -> &'static str {
    match (Amount::parse("amount", paid), Amount::parse("amountRefunded", refunded)) {
        (_, Ok(r)) if r.is_zero() => "none",
        (Ok(p), Ok(r)) if r >= p => "full",
        (_, Err(_)) => "none",
        _ => "partial",
    }
}

/// The public id of a refund: `re_` and a UUIDv7 in simple form (ordered by creation).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RefundId(String);

impl RefundId {
    pub fn generate() -> Self {
        Self(format!("re_{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let hex = s.strip_prefix("re_").ok_or_else(|| DomainError::invalid(field, "must be re_ followed by 32 hex digits"))?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(field, "must be re_ followed by 32 hex digits"));
        }
        Ok(Self(format!("re_{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefundId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `a + b`, exact; None above 2^256-1.
pub fn add(a: &Amount, b: &Amount) -> Option<Amount> {
    let (x, y) = (a.as_str().as_bytes(), b.as_str().as_bytes());
    let mut out = Vec::with_capacity(x.len().max(y.len()) + 1);
    let (mut i, mut j, mut carry) = (x.len(), y.len(), 0u8);
    while i > 0 || j > 0 || carry > 0 {
        let mut d = carry;
        if i > 0 {
            i -= 1;
            d += x[i] - b'0';
        }
        if j > 0 {
            j -= 1;
            d += y[j] - b'0';
        }
        out.push(b'0' + d % 10);
        carry = d / 10;
    }
    out.reverse();
    Amount::parse("amount", std::str::from_utf8(&out).ok()?).ok()
}

/// The share of a fee of `bps` basis points in `a`: `floor(a * bps / 10000)`, exact. The shares of a payment's
/// refunds never sum past the fee the payment paid (`floor(x) + floor(y) <= floor(x + y)`).
pub fn fee_share(a: &Amount, bps: u16) -> Amount {
    // a * bps, digit by digit (bps <= 10000 keeps every carry within u32), then drop the last four digits.
    let mut out = Vec::with_capacity(a.as_str().len() + 5);
    let mut carry = 0u32;
    for d in a.as_str().bytes().rev() {
        let v = u32::from(d - b'0') * u32::from(bps) + carry;
        out.push(b'0' + (v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        out.push(b'0' + (carry % 10) as u8);
        carry /= 10;
    }
    out.reverse();
    let digits = std::str::from_utf8(&out).unwrap_or("0");
    let whole = digits.get(..digits.len().saturating_sub(4)).unwrap_or("").trim_start_matches('0');
    if whole.is_empty() { Amount::from_u128(0) } else { Amount::parse("amount", whole).unwrap_or_else(|_| Amount::from_u128(0)) }
}

/// `a - b` when `b <= a`, else None.
pub fn sub(a: &Amount, b: &Amount) -> Option<Amount> {
    if b > a {
        return None;
    }
    let (x, y) = (a.as_str().as_bytes(), b.as_str().as_bytes());
    let mut out = Vec::with_capacity(x.len());
    let (mut i, mut j, mut borrow) = (x.len(), y.len(), 0i8);
    while i > 0 {
        i -= 1;
        let mut d = (x[i] - b'0') as i8 - borrow;
        if j > 0 {
            j -= 1;
            d -= (y[j] - b'0') as i8;
        }
        borrow = if d < 0 { 1 } else { 0 };
        if d < 0 {
            d += 10;
        }
        out.push(b'0' + d as u8);
    }
    out.reverse();
    Amount::parse("amount", std::str::from_utf8(&out).unwrap_or("0")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Amount {
        Amount::parse("a", s).unwrap()
    }

    #[test]
    fn exact_sums_and_differences() {
        assert_eq!(add(&a("999"), &a("1")).unwrap().as_str(), "1000");
        assert_eq!(add(&a("0"), &a("0")).unwrap().as_str(), "0");
        assert_eq!(sub(&a("1000"), &a("1")).unwrap().as_str(), "999");
        assert_eq!(sub(&a("1000"), &a("1000")).unwrap().as_str(), "0");
        assert!(sub(&a("5"), &a("6")).is_none());
        let big = crate::amount::MAX_AMOUNT;
        assert_eq!(sub(&a(big), &a(big)).unwrap().as_str(), "0");
        assert_eq!(add(&sub(&a(big), &a("1")).unwrap(), &a("1")).unwrap().as_str(), big);
        assert!(add(&a(big), &a("1")).is_none());
    }

    #[test]
    fn fee_shares_are_floored_and_never_sum_past_the_fee() {
        let a = |s: &str| Amount::parse("a", s).unwrap();
        assert_eq!(fee_share(&a("1000000"), 250).as_str(), "25000");
        assert_eq!(fee_share(&a("399"), 250).as_str(), "9");
        assert_eq!(fee_share(&a("39"), 250).as_str(), "0");
        assert_eq!(fee_share(&a("0"), 250).as_str(), "0");
        assert_eq!(fee_share(&a("12345"), 10000).as_str(), "12345");
        assert_eq!(fee_share(&a("12345"), 0).as_str(), "0");
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(fee_share(&a(max), 10000).as_str(), max);
        // Parts of 1001 at 333 bps: 33 (the whole) against 3 + 3 + ... of ten parts of 100 and one of 1.
        let whole = fee_share(&a("1001"), 333);
        let parts: u64 = (0..10).map(|_| fee_share(&a("100"), 333).to_u64().unwrap()).sum::<u64>() + fee_share(&a("1"), 333).to_u64().unwrap();
        assert!(parts <= whole.to_u64().unwrap(), "{parts} > {whole}");
    }

    #[test]
    fn refund_ids_and_statuses_parse() {
        let id = RefundId::generate();
        assert_eq!(RefundId::parse("id", id.as_str()).unwrap(), id);
        assert!(RefundId::parse("id", "re_xyz").is_err());
        assert_eq!(RefundStatus::parse("status", "succeeded").unwrap(), RefundStatus::Succeeded);
        assert!(RefundStatus::parse("status", "DONE").is_err());
        assert_eq!(payment_refund_status("100", "0"), "none");
        assert_eq!(payment_refund_status("100", "40"), "partial");
        assert_eq!(payment_refund_status("100", "100"), "full");
    }
}
