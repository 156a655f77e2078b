//! Where a purchase saga stands: `IN_PROGRESS` while its steps run (or its payment is decided), then
//! `COMPLETED`; a refused step ends it `FAILED` and a failed payment `COMPENSATED`, through `COMPENSATING`
//! while the steps are undone. `PENDING` is a saga not yet started.

crate::names::names! {
    pub enum SagaStatus ("saga status") {
        Pending => "PENDING",
        InProgress => "IN_PROGRESS",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Compensating => "COMPENSATING",
        Compensated => "COMPENSATED",
    }
}

impl SagaStatus {
    /// Whether the saga is over (nothing more will change).
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Compensated)
    }
}

crate::names::names! {
    /// Where a saga stands within its run (`currentStep`), and the steps whose results are recorded. A step
    /// is recorded DONE when it did its work and COMPENSATED when it was undone; `PAYMENT` (the card's outcome
    /// is awaited), `COMPENSATE`, `CANCEL_ORDER` (the choreography's last compensation) and `DONE` are stages,
    /// never recorded.
    pub enum SagaStep ("saga step") {
        CheckUser => "CHECK_USER",
        ReserveStock => "RESERVE_STOCK",
        UseCoupon => "USE_COUPON",
        DeductPoints => "DEDUCT_POINTS",
        CreatePayment => "CREATE_PAYMENT",
        ChargeCard => "CHARGE_CARD",
        CancelOrder => "CANCEL_ORDER",
        Payment => "PAYMENT",
        Compensate => "COMPENSATE",
        Done => "DONE",
    }
}

crate::names::names! {
    /// What a recorded step did.
    pub enum StepOutcome ("step outcome") {
        Done => "DONE",
        Compensated => "COMPENSATED",
    }
}

crate::names::names! {
    /// An order: `PLACED`, then `PAID` or `CANCELLED`.
    pub enum OrderStatus ("order status") {
        Placed => "PLACED",
        Paid => "PAID",
        Cancelled => "CANCELLED",
    }
}

crate::names::names! {
    /// A shop user: only an `ACTIVE` one can order.
    pub enum UserStatus ("user status") {
        Active => "ACTIVE",
        Suspended => "SUSPENDED",
    }
}

crate::names::names! {
    /// An issued coupon: `AVAILABLE` until an order uses it (and again if that order is compensated).
    pub enum CouponStatus ("coupon status") {
        Available => "AVAILABLE",
        Used => "USED",
    }
}
