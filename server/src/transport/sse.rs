//! Server-Sent Events: `GET /api/stream?symbols=..&last_event_id=..`.
//!
//! Validates everything before streaming (a bad request gets a 400 JSON body, never a broken
//! stream), then forwards the hub's events: `retry:` once, then `snapshot` | replayed `tick`s,
//! then live `tick`s and `resync`s, with a comment keep-alive when the stream is quiet. The
//! stream ends when the client goes away or the server shuts down.

use crate::AppState;
use crate::api::{ApiError, StreamParams, check_query_len, resume_point};
use crate::hub::Event as HubEvent;
use crate::metrics::Transport;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt, stream};
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::IntervalStream;

/// How long a browser waits before reconnecting after the stream drops.
pub const RETRY: Duration = Duration::from_millis(1_000);

pub async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    params: Result<Query<StreamParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_query_len(&raw)?;
    let Query(params) = params?;
    let selection = app.hub.select(params.symbols.as_deref())?;
    let from = resume_point(&headers, &params)?;

    let subscription = app.hub.subscribe(from, selection);
    let client = app.hub.metrics().client(Transport::Sse);
    let events = stream::unfold((subscription, client), |(mut subscription, client)| async move {
        let event = subscription.next().await;
        client.delivered();
        Some((Some(to_sse(&event)), (subscription, client)))
    });
    let preamble = stream::once(async { Event::default().retry(RETRY).comment("tickertape") });
    let body = preamble
        .chain(with_keepalive(events, app.keepalive))
        .map(Ok::<_, Infallible>)
        .take_until(app.shutdown.clone().cancelled_owned());

    // Cache-Control: no-cache and the content type come from axum's Sse; this header stops
    // reverse proxies (nginx) from buffering the stream.
    Ok(([("x-accel-buffering", "no")], Sse::new(body)).into_response())
}

/// Adds a comment keep-alive when `events` (which yields `Some(event)`) has been quiet.
///
/// axum's `KeepAlive` re-arms a timer on every event; with thousands of clients at 10 Hz that
/// is tens of thousands of timer-wheel updates a second (see BENCHMARKS.md). Here a coarse
/// interval ticks every half period, and a tick that follows another without an event between
/// them sends a comment: silence never exceeds one period, and events cost no timer work.
fn with_keepalive(events: impl Stream<Item = Option<Event>>, period: Duration) -> impl Stream<Item = Event> {
    let half = period / 2;
    let ticks = IntervalStream::new(tokio::time::interval_at(tokio::time::Instant::now() + half, half)).map(|_| None);
    stream::select(events, ticks)
        .scan(false, |sent, item| {
            let out = match item {
                Some(event) => {
                    *sent = true;
                    Some(event)
                }
                None => {
                    let quiet = !std::mem::replace(sent, false);
                    quiet.then_some(Event::DEFAULT_KEEP_ALIVE)
                }
            };
            std::future::ready(Some(out))
        })
        .filter_map(std::future::ready)
}

fn to_sse(event: &HubEvent) -> Event {
    Event::default()
        .event(event.kind.name())
        .id(event.id.to_string())
        .data(&*event.data)
}
