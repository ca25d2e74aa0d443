//! Transports: thin adapters that carry the hub's events to clients over one protocol each.

pub mod sse;
