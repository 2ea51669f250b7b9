//! Email (SPEC §4 "Email"): messages are rendered from templates (text and
//! HTML parts), sealed and queued on the transactional outbox in the same
//! transaction as the change that sends them, and delivered by background
//! workers ([`worker`]) through a lettre transport ([`transport`]).
//!
//! Delivery is at-least-once with a stable Message-ID: the rendered bytes
//! are stored (encrypted, [`seal`]) on the outbox row, so every retry sends
//! the same message; a worker that dies mid-send may cause one duplicate
//! (the same Message-ID), never a lost message.

pub mod render;
pub mod seal;
pub mod transport;
pub mod worker;

pub use render::{Composer, Rendered};
