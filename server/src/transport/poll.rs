//! Long polling: `GET /api/poll?symbols=..&depth=..&after=<id>&timeout_ms=..`.
//!
//! Each request is a short-lived subscription resuming after `after`: it answers at once with
//! what is already there (at most [`MAX_EVENTS`]), otherwise waits for the next event or the
//! timeout. The answer says which id to poll after next, so nothing falls between two polls;
//! an `after` outside the history or from another run gets a `resync`, as on the other
//! transports.

use super::Transports;
use super::event_json;
use crate::metrics::Transport;
use crate::request::{ApiError, Params, check_origin, int_param};
use app::wire::protocol::EventId;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::time::Duration;

/// Default wait when nothing is available.
pub const DEFAULT_TIMEOUT_MS: u64 = 25_000;
/// Longest wait a client may ask for.
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// Most events in one answer; a client further behind polls again at once.
pub const MAX_EVENTS: usize = 500;

#[derive(Debug, Deserialize)]
pub struct PollParams {
    symbols: Option<String>,
    depth: Option<String>,
    after: Option<String>,
    timeout_ms: Option<String>,
}

pub async fn poll(
    State(app): State<Transports>,
    headers: HeaderMap,
    Params(params): Params<PollParams>,
) -> Result<Response, ApiError> {
    check_origin(&app.policy, &headers)?;
    let selection = app
        .hub
        .with_depth(app.hub.select(params.symbols.as_deref())?, params.depth.as_deref())?;
    let after: Option<EventId> = match params.after.as_deref() {
        None | Some("") => None,
        Some(text) => Some(text.parse().map_err(|e| ApiError::BadQuery(format!("after: {e}")))?),
    };
    let timeout = int_param(
        "timeout_ms",
        params.timeout_ms.as_deref(),
        DEFAULT_TIMEOUT_MS,
        0..=MAX_TIMEOUT_MS,
    )?;

    let client = app.hub.metrics().client(Transport::Poll);
    let mut subscription = app.hub.subscribe(after, selection);
    let mut events = subscription.take_ready(MAX_EVENTS);
    if events.is_empty() && timeout > 0 {
        tokio::select! {
            event = subscription.next() => events.push(event),
            () = tokio::time::sleep(Duration::from_millis(timeout)) => {}
            () = app.shutdown.cancelled() => {}
        }
        events.extend(subscription.take_ready(MAX_EVENTS - events.len()));
    }
    let next = events
        .last()
        .map(|e| e.id)
        .or(after)
        .unwrap_or_else(|| app.hub.last_id());

    let mut body = String::from(r#"{"events":["#);
    for (n, event) in events.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&event_json(event));
        client.delivered();
    }
    body.push_str(&format!(r#"],"next":"{next}"}}"#));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
