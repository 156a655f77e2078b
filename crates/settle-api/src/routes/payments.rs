//! `/v1/payments`: create, read, update, status, list, history, cancel; and test mode's `/v1/test/payments`.

pub mod callback;
pub mod cancel;
pub mod card;
pub mod create;
pub mod events;
pub mod gasless;
pub mod get;
pub mod list;
pub mod simulate;
pub mod status;
pub mod stream;
pub mod update;
