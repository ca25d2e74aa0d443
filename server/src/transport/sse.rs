//! Server-Sent Events: `GET /api/stream?symbols=..&last_event_id=..`.
//!
//! Validates everything before streaming (a bad request gets a 400 JSON body, never a broken
//! stream), then forwards the hub's events: `retry:` once, then `snapshot` | replayed `tick`s,
//! then live `tick`s and `resync`s, with a comment keep-alive when the stream is quiet. The
//! stream ends when the client goes away or the server shuts down.
//!
//! A stream is served one of two ways, with byte-identical events: directly on its socket when
//! it is a connection's first request ([`serve_direct`], picked by [`crate::conn`]), or by the
//! router's handler ([`stream`]) on a connection that already served something else.

mod fanout;

use crate::AppState;
use crate::api::{ApiError, StreamParams, check_query_len, resume_point};
use crate::hub::{Event as HubEvent, Hub, Subscription};
use crate::metrics::Transport;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use fanout::{Fanout, Member};
use futures_util::{Stream, StreamExt, stream};
use std::convert::Infallible;
use std::io::{self, Write as _};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_stream::wrappers::IntervalStream;
use tokio_util::sync::CancellationToken;

/// Where the stream is served.
pub const PATH: &str = "/api/stream";
/// How long a browser waits before reconnecting after the stream drops.
pub const RETRY: Duration = Duration::from_millis(1_000);
/// Sent when the stream has been quiet for a keep-alive period: an empty comment.
const KEEP_ALIVE: &[u8] = b":\n\n";
/// Ends every event.
const EVENT_END: &[u8] = b"\n\n";
/// The headers both ways of serving send; the direct way adds `connection: close` and `date`.
/// `x-accel-buffering: no` stops reverse proxies (nginx) from buffering the stream.
const HEADERS: [(&str, &str); 3] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("x-accel-buffering", "no"),
];

/// What a direct stream needs of the app: small, so each direct stream's task stays small.
#[derive(Clone)]
pub struct Streams {
    pub hub: Arc<Hub>,
    pub shutdown: CancellationToken,
    fanout: Arc<Fanout>,
}

impl From<&AppState> for Streams {
    fn from(app: &AppState) -> Self {
        Streams {
            hub: app.hub.clone(),
            shutdown: app.shutdown.clone(),
            fanout: Arc::new(Fanout::new(app.hub.clone(), app.shutdown.clone(), app.keepalive)),
        }
    }
}

/// Checks a stream request and subscribes. Both ways of serving call it, so both refuse the
/// same requests with the same errors.
pub fn open(hub: &Arc<Hub>, headers: &HeaderMap, uri: &Uri) -> Result<Subscription, ApiError> {
    check_query_len(uri.query())?;
    let Query(params) = Query::<StreamParams>::try_from_uri(uri)?;
    let selection = hub.select(params.symbols.as_deref())?;
    let from = resume_point(headers, &params)?;
    Ok(hub.subscribe(from, selection))
}

/// The stream's first bytes: the reconnection delay and a comment naming the server.
fn preamble() -> String {
    format!("retry: {}\n:tickertape\n\n", RETRY.as_millis())
}

/// Appends `event` as SSE bytes to `out`. The payload is JSON on one line (serde_json never
/// writes a raw newline), so one `data:` field carries it.
fn encode_event(event: &HubEvent, out: &mut Vec<u8>) {
    // Writing to a `Vec` cannot fail.
    let _ = write!(out, "event: {}\nid: {}\ndata: ", event.kind.name(), event.id);
    out.extend_from_slice(event.data.as_bytes());
    out.extend_from_slice(EVENT_END);
}

/// One event as SSE bytes, in one buffer.
fn event_bytes(event: &HubEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + event.data.len());
    encode_event(event, &mut out);
    out
}

/// The router's handler, for a stream requested on a connection that served something before.
pub async fn stream(State(app): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let subscription = open(&app.hub, &headers, &uri)?;
    let client = app.hub.metrics().client(Transport::Sse);
    let events = stream::unfold((subscription, client), |(mut subscription, client)| async move {
        let event = subscription.next().await;
        client.delivered();
        Some((Some(event_bytes(&event)), (subscription, client)))
    });
    let body = stream::once(std::future::ready(preamble().into_bytes()))
        .chain(with_keepalive(events, app.keepalive))
        .map(Ok::<_, Infallible>)
        .take_until(app.shutdown.clone().cancelled_owned());
    Ok((HEADERS, Body::from_stream(body)).into_response())
}

/// Adds a keep-alive comment when `events` (which yields `Some(bytes)`) has been quiet.
///
/// axum's `KeepAlive` re-arms a timer on every event; with thousands of clients at 10 Hz that
/// is tens of thousands of timer-wheel updates a second (see BENCHMARKS.md). Here a coarse
/// interval ticks every half period, and a tick that follows another without an event between
/// them sends a comment: silence never exceeds one period, and events cost no timer work.
fn with_keepalive(events: impl Stream<Item = Option<Vec<u8>>>, period: Duration) -> impl Stream<Item = Vec<u8>> {
    let ticks = IntervalStream::new(keepalive_ticks(period)).map(|_| None);
    let mut quiet = Quiet::default();
    stream::select(events, ticks).filter_map(move |item| {
        std::future::ready(match item {
            Some(event) => {
                quiet.event();
                Some(event)
            }
            None => quiet.tick().then(|| KEEP_ALIVE.to_vec()),
        })
    })
}

/// Ticks every half keep-alive period, first after half a period.
fn keepalive_ticks(period: Duration) -> tokio::time::Interval {
    let half = period / 2;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + half, half);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// Whether a keep-alive is due: a tick with no event since the previous tick.
#[derive(Default)]
struct Quiet {
    sent: bool,
}

impl Quiet {
    fn event(&mut self) {
        self.sent = true;
    }

    /// True when the stream has been quiet since the previous tick.
    fn tick(&mut self) -> bool {
        !std::mem::replace(&mut self.sent, false)
    }
}

/// Serves a stream on its own connection until the client goes away or the server shuts down.
///
/// The response has no chunk framing: its body ends when the connection closes, so each event
/// is one `write` of its SSE bytes, encoded once per frame for every stream that gets the same
/// event. This task writes the response head and whatever the subscription has ready (a
/// snapshot, or a replay), then hands the stream to a fan-out group ([`fanout`]), which writes
/// its live events without waking this task. Meanwhile this task only waits: for the client to
/// hang up, for shutdown, or for the group to hand the stream back because its socket is full,
/// in which case it finishes the write once the client reads, catches up and rejoins. A client
/// that stops reading only stalls itself, and the hub resyncs it if it falls behind.
pub async fn serve_direct(tcp: TcpStream, streams: Streams, subscription: Subscription) {
    streams.hub.metrics().sse_direct.inc();
    let tcp = Arc::new(tcp);
    let mut member = Member {
        tcp: tcp.clone(),
        subscription,
        client: streams.hub.metrics().client(Transport::Sse),
        quiet: Quiet::default(),
        pending: response_head().into_bytes(),
    };
    let mut stopped = pin!(streams.shutdown.cancelled());
    loop {
        let catch_up = async {
            write_all(&tcp, &member.pending).await?;
            member.pending.clear();
            while let Some(event) = member.subscription.try_next() {
                member.quiet.event();
                member.client.delivered();
                write_all(&tcp, &event_bytes(&event)).await?;
            }
            io::Result::Ok(())
        };
        let caught_up = tokio::select! {
            biased;
            () = &mut stopped => return,
            () = hung_up(&tcp) => return,
            caught_up = catch_up => caught_up,
        };
        if caught_up.is_err() {
            return;
        }
        let mut joined = streams.fanout.join(member);
        member = tokio::select! {
            biased;
            () = &mut stopped => return,
            () = hung_up(&tcp) => return,
            back = joined.handed_back() => match back {
                Some(member) => member,
                // The group dropped it: a write failed, or the server is stopping.
                None => return,
            },
        };
    }
}

/// The direct response's head and the stream's preamble, written together.
fn response_head() -> String {
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for (name, value) in HEADERS {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    head.push_str(&format!("connection: close\r\ndate: {date}\r\n\r\n"));
    head.push_str(&preamble());
    head
}

/// Returns when the client has closed its side (or the socket failed). The client sends nothing
/// after its request; bytes it sends anyway are read and dropped.
async fn hung_up(tcp: &TcpStream) {
    let mut sink = [0; 64];
    loop {
        if tcp.readable().await.is_err() {
            return;
        }
        loop {
            match tcp.try_read(&mut sink) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return,
            }
        }
    }
}

/// Writes all of `bytes` to a socket shared with a fan-out group (which only writes while it
/// holds the stream, never at the same time).
async fn write_all(tcp: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        tcp.writable().await?;
        match tcp.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::EventKind;
    use app::protocol::EventId;

    #[test]
    fn events_are_framed_as_sse() {
        let event = HubEvent {
            kind: EventKind::Tick,
            id: EventId::new(0x7e57, 42),
            data: r#"{"seq":42}"#.into(),
        };
        assert_eq!(
            String::from_utf8(event_bytes(&event)).unwrap(),
            "event: tick\nid: 7e57-42\ndata: {\"seq\":42}\n\n"
        );
        let longest = HubEvent {
            kind: EventKind::Resync,
            id: EventId::new(u64::MAX, u64::MAX),
            data: "{}".into(),
        };
        assert_eq!(
            event_bytes(&longest),
            format!("event: resync\nid: {:x}-{}\ndata: {{}}\n\n", u64::MAX, u64::MAX).as_bytes()
        );
    }

    #[test]
    fn preamble_carries_the_retry_delay() {
        assert_eq!(preamble(), "retry: 1000\n:tickertape\n\n");
        let head = response_head();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
        assert!(head.contains("\r\nconnection: close\r\n"));
        assert!(head.ends_with("\r\n\r\nretry: 1000\n:tickertape\n\n"));
    }
}
