//! SeaORM entities, one module per table. Times are UTC epoch milliseconds (BIGINT) on every backend.

pub mod api_key;
pub mod chain_block;
pub mod chain_cursor;
pub mod chain_log;
pub mod consumer_offset;
pub mod coupon;
pub mod gateway_void;
pub mod idempotency_key;
pub mod inbox;
pub mod issued_coupon;
pub mod item;
pub mod lease;
pub mod merchant;
pub mod notification;
pub mod order;
pub mod order_item;
pub mod outbox;
pub mod payment;
pub mod payment_event;
pub mod relay_request;
pub mod relay_tx;
pub mod relayer_nonce;
pub mod saga_state;
pub mod saga_step_result;
pub mod shop_user;
pub mod transaction_log;
