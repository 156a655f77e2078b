//! Handlers, grouped by resource.

pub mod events;
pub mod health;
pub mod merchants;
pub mod orders;
pub mod meta;
pub mod payments;
