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
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use std::convert::Infallible;
use std::time::Duration;

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
        Some((Ok::<_, Infallible>(to_sse(&event)), (subscription, client)))
    });
    let preamble = stream::once(async { Ok(Event::default().retry(RETRY).comment("tickertape")) });
    let body = preamble
        .chain(events)
        .take_until(app.shutdown.clone().cancelled_owned());

    let sse = Sse::new(body).keep_alive(KeepAlive::new().interval(app.keepalive));
    // Cache-Control: no-cache and the content type come from axum's Sse; this header stops
    // reverse proxies (nginx) from buffering the stream.
    Ok(([("x-accel-buffering", "no")], sse).into_response())
}

fn to_sse(event: &HubEvent) -> Event {
    Event::default()
        .event(event.kind.name())
        .id(event.id.to_string())
        .data(&*event.data)
}
