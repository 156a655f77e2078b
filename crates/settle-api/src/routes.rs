//! Handlers, grouped by resource.

pub mod checkout;
pub mod checkout_page;
pub mod dashboard;
pub mod events;
pub mod health;
pub mod merchants;
pub mod meta;
pub mod orders;
pub mod payments;
pub mod refunds;
pub mod seed;
pub mod webhooks;
