//! Tickertape's server. A tick is born in [`feed`] (the seeded market and the generator that
//! steps it), fanned out by [`hub`] (sequence numbers, history, the live channel), carried by
//! [`transport`] (SSE, WebSocket, long polling) and served by [`net`] and [`http`]; [`bus`] joins
//! nodes over Redis, and [`node`] assembles a node for its role from [`config`].
//!
//! Dependencies point one way, from the bottom up:
//! `config`, `metrics`, `security`, `socket`, `feed` ← `hub` ← `request` ← `transport`, `bus` ← `http`, `net` ←
//! `node`.

pub mod accounts;
pub mod alerting;
pub mod alerts;
pub mod bus;
pub mod config;
pub mod feed;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod net;
pub mod node;
pub mod private;
pub mod request;
pub mod security;
pub mod socket;
pub mod store;
pub mod transport;

/// A seeded xorshift generator for fuzzed inputs (the unit and integration tests, and the
/// `hostile` example): reproducible, and no dependency. `next(n)` is below `n` (or 0 when `n`
/// is 0). Not for the market, whose randomness is `rand`'s.
pub fn xorshift(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    }
}
