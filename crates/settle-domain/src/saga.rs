//! Where a purchase saga stands: `IN_PROGRESS` while its steps run (or its payment is decided), then
//! `COMPLETED`; a refused step ends it `FAILED` and a failed payment `COMPENSATED`, through `COMPENSATING`
//! while the steps are undone. `PENDING` is a saga not yet started.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::payment::UnknownName;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(
    feature = "sea-orm",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String", from_str = "SagaStatus::from_stored", to_str = "SagaStatus::as_stored")
)]
pub enum SagaStatus {
    Pending,
    InProgress,
    Completed,
    Failed,
    Compensating,
    Compensated,
}

impl SagaStatus {
    pub const ALL: [SagaStatus; 6] = [Self::Pending, Self::InProgress, Self::Completed, Self::Failed, Self::Compensating, Self::Compensated];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Compensating => "COMPENSATING",
            Self::Compensated => "COMPENSATED",
        }
    }

    /// Whether the saga is over (nothing more will change).
    pub fn is_ended(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Compensated)
    }

    /// Reads a stored status (a column).
    pub fn from_stored(s: &str) -> Result<Self, UnknownName> {
        s.parse().map_err(|()| UnknownName { kind: "saga status", value: s.to_owned() })
    }

    fn as_stored(&self) -> &'static str {
        self.as_str()
    }
}

impl FromStr for SagaStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or(())
    }
}

impl fmt::Display for SagaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
