//! Cancelling a paid order, whole or some of its lines: what a cancellation gives back to the card, to the user's
//! points, and whether the coupon comes back.
//!
//! An order was paid `couponDiscount + usedPoints + paidAmount == totalAmount`. A cancellation of some lines, worth
//! `value` at their unit prices, gives back that value less the coupon's share of it (the coupon's discount spread
//! over the order by value, rounded down), split between card and points in the order's own proportion (the card's
//! part rounded down), and never more of either than earlier cancellations left. The cancellation that takes the
//! last lines gives back everything left, so however an order is cancelled, in one go or line by line, the user
//! ends with exactly what they paid. (The coupon comes back when the order is CANCELLED: when every line is
//! cancelled by cancellations that SUCCEEDED.)

use std::fmt;

use crate::DomainError;

crate::names::names! {
    /// A cancellation: `PENDING` while its card refund is under way (its lines are held), then `SUCCEEDED` (points,
    /// coupon and stock given back with it) or `FAILED` (the refund failed: nothing was given back, the lines are
    /// free to cancel again).
    pub enum CancellationStatus ("cancellation status") {
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
    }
}

impl CancellationStatus {
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }

    /// Whether its lines and amounts count as taken (every status but FAILED).
    pub fn holds(self) -> bool {
        self != Self::Failed
    }
}

/// How an order was paid, in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paid {
    pub total: i64,
    pub coupon_discount: i64,
    pub used_points: i64,
    pub paid_amount: i64,
}

/// What the order's earlier cancellations (those not FAILED) took back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Taken {
    pub card: i64,
    pub points: i64,
}

/// What one cancellation gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    /// Refunded to the card.
    pub card: i64,
    /// Given back as points.
    pub points: i64,
}

/// What a cancellation of lines worth `value` gives back; `last`: it takes every line still left. Amounts are never
/// negative and never more than `paid` less `taken`.
pub fn share(paid: &Paid, taken: Taken, value: i64, last: bool) -> Share {
    let card_left = (paid.paid_amount - taken.card).max(0);
    let points_left = (paid.used_points - taken.points).max(0);
    if last {
        return Share { card: card_left, points: points_left };
    }
    let coupon_share = if paid.total > 0 { (paid.coupon_discount as i128 * value as i128 / paid.total as i128) as i64 } else { 0 };
    let net = (value - coupon_share).clamp(0, card_left + points_left);
    let money = paid.paid_amount as i128 + paid.used_points as i128;
    let mut card = if money > 0 { (net as i128 * paid.paid_amount as i128 / money) as i64 } else { 0 }.min(card_left);
    let mut points = net - card;
    if points > points_left {
        points = points_left;
        card = net - points;
    }
    Share { card, points }
}

/// The public id of a cancellation: `oc_` and a UUIDv7 in simple form.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CancellationId(String);

impl CancellationId {
    pub fn generate() -> Self {
        Self(format!("oc_{}", uuid::Uuid::now_v7().simple()))
    }

    pub fn parse(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let hex = s.strip_prefix("oc_").ok_or_else(|| DomainError::invalid(field, "must be oc_ followed by 32 hex digits"))?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(field, "must be oc_ followed by 32 hex digits"));
        }
        Ok(Self(format!("oc_{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CancellationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_sword_of_two_gives_back_its_half_less_the_coupons_share() {
        // 2 swords at 15,000: 3,000 coupon, 5,000 points, 22,000 card.
        let paid = Paid { total: 30_000, coupon_discount: 3_000, used_points: 5_000, paid_amount: 22_000 };
        let first = share(&paid, Taken::default(), 15_000, false);
        // 15,000 less 1,500 of the coupon = 13,500, split 22:5 (card rounded down).
        assert_eq!(first, Share { card: 11_000, points: 2_500 });
        let second = share(&paid, Taken { card: first.card, points: first.points }, 15_000, true);
        assert_eq!(second, Share { card: 11_000, points: 2_500 });
    }

    #[test]
    fn an_order_paid_by_the_coupon_alone_gives_back_no_money() {
        let paid = Paid { total: 1_000, coupon_discount: 1_000, used_points: 0, paid_amount: 0 };
        assert_eq!(share(&paid, Taken::default(), 500, false), Share { card: 0, points: 0 });
        assert_eq!(share(&paid, Taken::default(), 500, true), Share { card: 0, points: 0 });
    }

    proptest! {
        /// However an order is cancelled, line by line in any grouping, nothing is given back twice, nothing is
        /// negative, and the last cancellation leaves the user with exactly what they paid.
        #[test]
        fn cancellations_give_back_exactly_what_was_paid(
            prices in proptest::collection::vec(1i64..50_000, 1..6),
            coupon_pct in 0i64..=100,
            points_pct in 0i64..=100,
            cuts in proptest::collection::vec(1usize..4, 1..6),
        ) {
            let total: i64 = prices.iter().sum();
            let coupon_discount = total * coupon_pct / 100;
            let used_points = (total - coupon_discount) * points_pct / 100;
            let paid = Paid { total, coupon_discount, used_points, paid_amount: total - coupon_discount - used_points };
            let mut taken = Taken::default();
            let mut left = prices.clone();
            let mut cuts = cuts.into_iter().cycle();
            while !left.is_empty() {
                let n = cuts.next().unwrap().min(left.len());
                let value: i64 = left.drain(..n).sum();
                let s = share(&paid, taken, value, left.is_empty());
                prop_assert!(s.card >= 0 && s.points >= 0);
                prop_assert!(s.card + s.points <= value, "{s:?} for lines worth {value}");
                taken.card += s.card;
                taken.points += s.points;
                prop_assert!(taken.card <= paid.paid_amount && taken.points <= paid.used_points);
            }
            prop_assert_eq!(taken, Taken { card: paid.paid_amount, points: paid.used_points });
        }
    }
}
