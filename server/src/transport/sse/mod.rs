//! Server-Sent Events: `GET /api/stream?symbols=..&last_event_id=..`.
//!
//! Validates everything before streaming (a bad request gets a 400 JSON body, never a broken
//! stream), then forwards the hub's events: `retry:` once, then `snapshot` | replayed `tick`s,
//! then live `tick`s and `resync`s, with a comment keep-alive when the stream is quiet. The
//! stream ends when the client goes away or the server shuts down.
//!
//! One implementation, two ways in. A stream that is its connection's first request is written
//! straight to its socket (picked by [`crate::net`]: no hyper buffers, no chunk framing); a stream
//! requested on a connection that already served something else goes through the router
//! ([`stream`]), and hyper writes it, chunked. Either way [`serve`] runs the stream and the
//! fan-out groups ([`super::fanout`]) write its live events: only the [`Out`] they write to differs
//! (the socket, or a bounded channel that is hyper's response body), so framing, keep-alive,
//! resume and back-pressure are the same code and the same bytes.

use super::Transports;
use super::fanout::{Framing, Member, Out};
use super::feed::{Feed, session_ended};
use crate::hub::Event as HubEvent;
use crate::metrics::{ClientGuard, Transport};
use crate::request::{ApiError, Params, StreamParams, check_origin, resume_point};
use crate::security::Policy;
use crate::socket::Claim;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::convert::Infallible;
use std::io::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Where the stream is served.
pub const PATH: &str = "/api/stream";
/// How long a browser waits before reconnecting after the stream drops.
pub const RETRY: Duration = Duration::from_millis(1_000);
/// Sent when the stream has been quiet for a keep-alive period: an empty comment.
pub(super) const KEEP_ALIVE: &[u8] = b":\n\n";
/// Ends every event.
const EVENT_END: &[u8] = b"\n\n";
/// The headers both ways of serving send; the direct way adds `connection: close` and `date`.
/// `x-accel-buffering: no` stops reverse proxies (nginx) from buffering the stream.
const HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// Chunks a stream served through hyper may have queued for its connection: hyper takes the
/// next one only when the socket has taken the previous ones, so a full queue is a full socket.
const BODY_CHUNKS: usize = 8;

/// Checks a stream request and subscribes. Both ways of serving call it, so both refuse the
/// same requests with the same errors.
pub async fn open(t: &Transports, headers: &HeaderMap, uri: &Uri) -> Result<Feed, ApiError> {
    check_origin(&t.policy, headers)?;
    let Params(params) = Params::<StreamParams>::from_uri(uri)?;
    let selection = params.selection(&t.hub)?;
    let from = resume_point(headers, &params)?;
    Ok(Feed::open(t, headers, selection, from).await)
}

/// The stream's first bytes: the reconnection delay and a comment naming the server.
fn preamble() -> String {
    format!("retry: {}\n:tickertape\n\n", RETRY.as_millis())
}

/// Appends `event` as SSE bytes to `out`. The payload is JSON on one line (serde_json never
/// writes a raw newline), so one `data:` field carries it.
pub(super) fn encode_event(event: &HubEvent, out: &mut Vec<u8>) {
    // Writing to a `Vec` cannot fail.
    let _ = write!(out, "event: {}\nid: {}\ndata: ", event.kind.name(), event.stream_id());
    out.extend_from_slice(event.data.as_bytes());
    out.extend_from_slice(EVENT_END);
}

/// One event as SSE bytes, in one buffer.
#[cfg(test)]
pub(super) fn event_bytes(event: &HubEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + event.data.len());
    encode_event(event, &mut out);
    out
}

/// The router's handler, for a stream requested on a connection that served something before:
/// [`serve`] writes the events into a bounded channel that hyper sends as the response body.
#[utoipa::path(get, path = "/api/stream", tag = "streams",
    params(StreamParams, ("Last-Event-ID" = Option<String>, Header, description = "The last id the client has: the stream resumes after it")),
    responses(
        (status = 200, description = "Server-Sent Events: `snapshot`, `tick`, `resync`, and on a signed-in user's stream (the `tt_session` cookie) their own `account` events", content_type = "text/event-stream", body = String),
        (status = 400, description = "An unknown symbol, a malformed id or query", body = app::wire::protocol::ApiErrorBody),
        (status = 403, description = "From an origin not in ALLOWED_ORIGINS", body = app::wire::protocol::ApiErrorBody)))]
pub async fn stream(
    State(t): State<Transports>,
    claim: Option<Extension<Claim>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let feed = open(&t, &headers, &uri).await?;
    if let Some(Extension(claim)) = claim {
        claim.claim(t.hub.metrics().wire(Transport::Sse));
    }
    // Counted now, with the answer, not when the task first runs.
    let client = t.hub.metrics().client(Transport::Sse);
    let (chunks, body) = mpsc::channel(BODY_CHUNKS);
    tokio::spawn(serve(Out::Body(chunks), t, feed, client, preamble().into_bytes()));
    let body = Body::from_stream(ReceiverStream::new(body).map(Ok::<_, Infallible>));
    Ok((HEADERS, body).into_response())
}

/// Serves a stream on its own connection (its first request, `request_bytes` long): the
/// response head is written here.
pub async fn serve_direct(tcp: TcpStream, t: Transports, feed: Feed, request_bytes: usize) {
    t.hub.metrics().sse_direct.inc();
    let client = t.hub.metrics().client(Transport::Sse);
    let wire = t.hub.metrics().wire(Transport::Sse);
    wire.received.inc_by(request_bytes as u64);
    let out = Out::Socket(Arc::new(tcp), wire.sent);
    let head = response_head(&t.policy);
    serve(out, t, feed, client, head.into_bytes()).await;
}

/// Runs a stream until the client goes away or the server shuts down, writing `first` (the
/// response head, or the preamble) before any event.
///
/// A direct stream's response has no chunk framing: its body ends when the connection closes,
/// so each event is one `write` of its SSE bytes, encoded once per frame for every stream that
/// gets the same event. This task writes what the subscription has ready (a snapshot, or a
/// replay), then hands the stream to a fan-out group ([`super::fanout`]), which writes its live events
/// without waking this task. Meanwhile this task only waits: for the client to hang up, for
/// shutdown, or for the group to hand the stream back because its [`Out`] is full, in which
/// case it finishes the write once the client reads, catches up and rejoins. A client that
/// stops reading only stalls itself, and the hub resyncs it if it falls behind.
async fn serve(out: Out, t: Transports, feed: Feed, client: ClientGuard, first: Vec<u8>) {
    let signed_out = session_ended(feed.session_watch());
    let mut member = Member::new(out.clone(), Framing::Sse, feed, client);
    member.pending = first;
    let mut stopped = pin!(t.shutdown.cancelled());
    // A signed-in stream ends when its session does (sign-out): the page reconnects anonymously.
    let mut signed_out = pin!(signed_out);
    loop {
        // Boxed when it runs: a stream spends its life waiting for its fan-out group, and its
        // task should not carry a write's state (timer included) meanwhile.
        let caught_up = tokio::select! {
            biased;
            () = &mut stopped => return,
            () = &mut signed_out => return,
            () = out.closed() => return,
            caught_up = Box::pin(member.catch_up(t.write_timeout)) => caught_up,
        };
        if caught_up.is_err() {
            return;
        }
        let mut joined = t.fanout.join(member);
        member = tokio::select! {
            biased;
            () = &mut stopped => return,
            () = &mut signed_out => return,
            () = out.closed() => return,
            back = joined.handed_back() => match back {
                Some(member) => member,
                // The group dropped it: a write failed.
                None => return,
            },
        };
    }
}

/// The direct response's head and the stream's preamble, written together.
fn response_head(policy: &Policy) -> String {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for (name, value) in HEADERS {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(policy.head_lines());
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    head.push_str(&format!("connection: close\r\ndate: {date}\r\n\r\n"));
    head.push_str(&preamble());
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::EventKind;
    use app::wire::protocol::EventId;

    #[test]
    fn events_are_framed_as_sse() {
        let event = HubEvent::market(EventKind::Tick, EventId::new(0x7e57, 42), r#"{"seq":42}"#.into());
        assert_eq!(
            String::from_utf8(event_bytes(&event)).unwrap(),
            "event: tick\nid: 7e57-42\ndata: {\"seq\":42}\n\n"
        );
        // On a signed-in stream every id carries the user's own position too.
        let account = HubEvent {
            private: Some(7),
            ..HubEvent::market(EventKind::Private("account"), EventId::new(0x7e57, 42), "{}".into())
        };
        assert_eq!(
            String::from_utf8(event_bytes(&account)).unwrap(),
            "event: account\nid: 7e57-42~7\ndata: {}\n\n"
        );
        let longest = HubEvent::market(EventKind::Resync, EventId::new(u64::MAX, u64::MAX), "{}".into());
        assert_eq!(
            event_bytes(&longest),
            format!("event: resync\nid: {:x}-{}\ndata: {{}}\n\n", u64::MAX, u64::MAX).as_bytes()
        );
    }

    #[test]
    fn preamble_carries_the_retry_delay() {
        assert_eq!(preamble(), "retry: 1000\n:tickertape\n\n");
        let head = response_head(&Policy::default());
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
        assert!(head.contains("\r\nconnection: close\r\n"));
        assert!(head.ends_with("\r\n\r\nretry: 1000\n:tickertape\n\n"));
    }
}
