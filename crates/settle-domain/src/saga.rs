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
