//! Transports: thin adapters that carry the hub's events to clients over one protocol each.
//! All three carry the same events (`snapshot`, `tick`, `resync`), the same ids and the same
//! JSON payloads, and resume by the same rules (see `hub.rs`).

pub mod poll;
pub mod sse;
pub mod ws;

use crate::hub::Event;
use std::fmt::Write;

/// One event as a JSON object, `{"type":"tick","id":"…","data":{…}}`, for the transports that
/// frame events themselves (WebSocket messages, long-poll batches). `data` is the hub's shared
/// payload, spliced in without re-encoding.
pub fn event_json(event: &Event) -> String {
    let mut json = String::with_capacity(event.data.len() + 48);
    let _ = write!(json, r#"{{"type":"{}","id":"{}","data":"#, event.kind.name(), event.id);
    json.push_str(&event.data);
    json.push('}');
    json
}
