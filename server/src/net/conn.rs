//! The connection layer: a fresh connection whose first request opens the SSE stream is served
//! directly on the socket ([`sse::serve_direct`]), one whose first request is a poll is served
//! here for as long as its requests are polls ([`serve_polls`]); every other connection goes to
//! hyper and the axum router.
//!
//! Why: hyper keeps an 8 KiB read buffer and an 8 KiB write buffer (its minimum) for the life of
//! every HTTP/1 connection, and a streaming response keeps its connection future, the router's
//! response future and chunk framing alive with it. For a dashboard's one long-lived stream that
//! is most of what a connection costs (37 KB each, measured; see BENCHMARKS.md). A stream served
//! here holds its subscription, a keep-alive timer and a few hundred bytes of state, writes each
//! event with one `write` of bytes encoded once per frame, and delimits its body by
//! closing the connection (`connection: close`, no chunk framing).
//!
//! Every connection is read until its first request head is complete (parsed by `httparse`,
//! hyper's own parser). Only a plain `GET /api/stream` that passes the stream's checks
//! ([`sse::open`]), or a plain HTTP/1.1 keep-alive `GET /api/poll` that passes the poll's
//! ([`poll::Ask::check`]), stays here. A poll holds hyper's two 8 KiB buffers and its
//! connection state for nothing but one small request and one answer, and its connection is
//! idle between polls, so polls cost a fraction here of what they cost through hyper
//! (BENCHMARKS.md, "Every transport in one run"). Anything else, including a stream or poll
//! request that fails a check, is handed to hyper together with the bytes already read, so
//! errors, other methods and every other route behave exactly as the router defines them. A
//! stream requested on a reused keep-alive connection reaches the same SSE code through the
//! router ([`sse::stream`]): same events, same ids, chunked by hyper; a poll there, the same
//! answer ([`poll::poll`]).

use crate::config::Limits;
use crate::metrics::Transport;
use crate::security::Policy;
use crate::socket::{Rewind, Slot, close_gently};
use crate::transport::Transports;
use crate::transport::feed::Feed;
use crate::transport::{poll, sse};
use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// A request head longer than this is left to hyper (which answers 431 when it is too long).
const MAX_HEAD: usize = 16 * 1024;
/// The most headers parsed here; a request with more is left to hyper.
const MAX_HEADERS: usize = 64;

/// Serves one accepted connection until it ends. With `streams`, its first request head is read
/// here (within `limits.header_timeout`) and a plain `GET` of the stream is served on the socket;
/// everything else, and every connection of a node without streams, goes to hyper.
pub(super) async fn serve_connection(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    slot: Slot,
    app: Router,
    streams: Option<Transports>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    // Two steps. The first (the head being read, its deadline) is boxed, so its state is freed
    // when it ends, and a stream that runs for hours keeps only its own.
    match Box::pin(first_request(tcp, streams, &limits, &shutdown)).await {
        Next::Stream(tcp, streams, feed, request_bytes) => {
            sse::serve_direct(tcp, streams, feed, request_bytes).await;
            drop(slot);
        }
        Next::Polls(tcp, buffer, streams, ask) => {
            // Boxed as hyper's branch is, for the same reason.
            let rest = Box::pin(serve_polls(tcp, buffer, streams, ask, &limits, &shutdown)).await;
            if let Some((tcp, buffer)) = rest {
                let io = Rewind::new(tcp, buffer, limits.write_timeout, slot);
                Box::pin(serve_http(io, peer, app, &limits, &shutdown)).await;
            }
        }
        // Boxed: hyper's connection state is kilobytes, and inline it would make every direct
        // stream's task that large too (a task is as large as its largest branch).
        Next::Http(tcp, head) => {
            let io = Rewind::new(tcp, head, limits.write_timeout, slot);
            Box::pin(serve_http(io, peer, app, &limits, &shutdown)).await;
        }
        Next::Closed => {}
    }
}

/// What a connection's first request leads to. Matched as soon as it is made, so the variants'
/// sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Next {
    /// A plain `GET` of the stream that passed its checks: served here, on the socket.
    Stream(TcpStream, Transports, Feed, usize),
    /// A poll that passed its checks: this connection's polls are served here, with the bytes
    /// already read (the poll's head first).
    Polls(TcpStream, Vec<u8>, Transports, poll::Ask),
    /// Anything else: hyper's, with the bytes already read.
    Http(TcpStream, Vec<u8>),
    /// Nothing to serve: the client left, the head timed out (and was answered), or shutdown.
    Closed,
}

/// Reads the first request head (within `limits.header_timeout`) when the node serves streams,
/// and decides where the connection goes.
async fn first_request(
    mut tcp: TcpStream,
    streams: Option<Transports>,
    limits: &Limits,
    shutdown: &CancellationToken,
) -> Next {
    let mut head = Vec::new();
    if let Some(streams) = streams {
        let read = tokio::select! {
            () = shutdown.cancelled() => return Next::Closed,
            () = tokio::time::sleep(limits.header_timeout) => {
                Box::pin(refuse(&tcp, Refusal::HeadTimeout(limits.header_timeout), &streams.policy)).await;
                return Next::Closed;
            }
            request = read_head(&mut tcp, &mut head) => request,
        };
        match read {
            None => return Next::Closed,
            Some(Head::Stream { uri, headers }) => {
                if let Ok(feed) = sse::open(&streams, &headers, &uri).await {
                    return Next::Stream(tcp, streams, feed, head.len());
                }
                // A stream request that failed a check: the router answers it (same checks, so
                // the same 4xx).
            }
            Some(Head::Poll { uri, headers, .. }) => {
                if let Ok(ask) = poll::Ask::check(&streams, &headers, &uri) {
                    return Next::Polls(tcp, head, streams, ask);
                }
            }
            Some(_) => {}
        }
    }
    Next::Http(tcp, head)
}

/// Serves a connection with hyper until it ends. hyper gets a timer, so its header timeout
/// applies: a request head, and the wait for the next one on an idle keep-alive connection, must
/// complete within `limits.header_timeout` or the connection closes. On shutdown the connection
/// finishes the response under way and closes.
async fn serve_http(
    io: Rewind,
    peer: std::net::SocketAddr,
    app: Router,
    limits: &Limits,
    shutdown: &CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    // Every request carries its connection's claim (see [`crate::socket::Tap`]): a transport's
    // handler claims the connection's bytes for its transport.
    let tap = io.tap().clone();
    let app = tower::ServiceExt::map_request(app, move |mut request: axum::http::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(tap.request());
        request.extensions_mut().insert(crate::request::ClientAddr(peer.ip()));
        request
    });
    let service = TowerToHyperService::new(app);
    let connection = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Reads a request head into `head` (after any bytes already there: a pipelined request);
/// `None` if the client closed or failed before sending anything worth answering.
async fn read_head(tcp: &mut TcpStream, head: &mut Vec<u8>) -> Option<Head> {
    if !head.is_empty() {
        match parse(head) {
            Head::Partial if head.len() < MAX_HEAD => {}
            Head::Partial => return Some(Head::Other),
            done => return Some(done),
        }
    }
    head.reserve(1024);
    loop {
        if head.capacity() - head.len() < 256 {
            head.reserve(1024);
        }
        match tcp.read_buf(head).await {
            Ok(0) if head.is_empty() => return None,
            // Closed mid-head: hyper decides what that means.
            Ok(0) => return Some(Head::Other),
            Ok(_) => {}
            Err(_) => return None,
        }
        match parse(head) {
            Head::Partial if head.len() < MAX_HEAD => continue,
            Head::Partial => return Some(Head::Other),
            done => return Some(done),
        }
    }
}

/// Why a connection is refused before any request is served.
#[derive(Clone, Copy, Debug)]
pub(super) enum Refusal {
    /// The server already serves `MAX_CONNECTIONS` connections.
    Full(usize),
    /// The client's address already has `MAX_CONNECTIONS_PER_ADDRESS` connections open.
    PerAddress(usize),
    /// The first request head did not arrive within `HEADER_TIMEOUT_SECS`.
    HeadTimeout(Duration),
}

impl Refusal {
    /// The whole answer: status, `Retry-After` where it helps, the headers every response
    /// carries, and a JSON reason.
    fn response(self, policy: &Policy) -> String {
        let (status, retry, reason) = match self {
            Refusal::Full(max) => (
                "503 Service Unavailable",
                "retry-after: 5\r\n",
                format!("the server is at its connection limit (MAX_CONNECTIONS={max}); retry later"),
            ),
            Refusal::PerAddress(max) => (
                "429 Too Many Requests",
                "retry-after: 5\r\n",
                format!(
                    "this address already has {max} connections open (MAX_CONNECTIONS_PER_ADDRESS={max}); close one or retry later"
                ),
            ),
            Refusal::HeadTimeout(after) => (
                "408 Request Timeout",
                "",
                format!(
                    "the request head did not arrive within {} s (HEADER_TIMEOUT_SECS)",
                    after.as_secs()
                ),
            ),
        };
        let body = format!(r#"{{"error":"{reason}"}}"#);
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{retry}{}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            policy.head_lines(),
            body.len()
        )
    }
}

/// Tells the client why, in one non-blocking write (the answer is far smaller than any socket
/// buffer), then closes: the client's unread request may make the close a reset, so the answer
/// goes first and the read side is drained briefly.
pub(super) async fn refuse(tcp: &TcpStream, why: Refusal, policy: &Policy) {
    let _ = tcp.try_write(why.response(policy).as_bytes());
    close_gently(tcp).await;
}

/// The first request head, as far as this layer cares.
#[derive(Debug)]
enum Head {
    /// Not complete yet.
    Partial,
    /// A plain `GET` of the stream.
    Stream { uri: Uri, headers: HeaderMap },
    /// A plain HTTP/1.1 keep-alive `GET` of a poll, whose head is `len` bytes long.
    Poll { uri: Uri, headers: HeaderMap, len: usize },
    /// Anything else (or unparsable): the router's.
    Other,
}

fn parse(buf: &[u8]) -> Head {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Head::Partial,
        Ok(httparse::Status::Complete(len)) => stream_request(&req, len).unwrap_or(Head::Other),
        Err(_) => Head::Other,
    }
}

/// A plain `GET` of the stream or of a poll (see [`Head`]).
fn stream_request(req: &httparse::Request<'_, '_>, len: usize) -> Option<Head> {
    if req.method != Some("GET") {
        return None;
    }
    let uri: Uri = req.path?.parse().ok()?;
    let path = uri.path();
    if (path != sse::PATH && path != poll::PATH) || uri.scheme().is_some() {
        return None;
    }
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for header in req.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
        headers.append(name, HeaderValue::from_bytes(header.value).ok()?);
    }
    // A body, an upgrade or an expectation: not a plain stream request; hyper handles those.
    let has_body = headers.contains_key("transfer-encoding")
        || headers.get("content-length").is_some_and(|v| v.as_bytes() != b"0");
    if has_body || headers.contains_key("upgrade") || headers.contains_key("expect") {
        return None;
    }
    if path == sse::PATH {
        return Some(Head::Stream { uri, headers });
    }
    // A connection that is to close after its answer (HTTP/1.0, `Connection: close`): hyper's.
    let closes = headers
        .get_all("connection")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("close")));
    if req.version != Some(1) || closes {
        return None;
    }
    Some(Head::Poll { uri, headers, len })
}

/// Serves a connection's polls, one after another, for as long as its requests are polls that
/// pass their checks (the first one has, as `ask`). Returns the connection with the bytes read
/// but not served when a request is anything else, for hyper to serve; `None` when the
/// connection is done (the client left, a head or a write timed out, or shutdown).
///
/// Each answer is one `write`. The wait for the next head is bounded by `HEADER_TIMEOUT_SECS`,
/// as hyper bounds an idle keep-alive connection's; a head left incomplete then gets a `408`.
async fn serve_polls(
    mut tcp: TcpStream,
    mut buffer: Vec<u8>,
    t: Transports,
    mut ask: poll::Ask,
    limits: &Limits,
    shutdown: &CancellationToken,
) -> Option<(TcpStream, Vec<u8>)> {
    let mut poller = poll::Poller::default();
    let wire = t.hub.metrics().wire(Transport::Poll);
    loop {
        // The poll's head is served now; what follows it (a pipelined request) stays.
        let Head::Poll { len, .. } = parse(&buffer) else {
            return Some((tcp, buffer));
        };
        buffer.drain(..len);
        wire.received.inc_by(len as u64);
        let answer = tokio::select! {
            answer = poller.answer(&t, ask) => answer,
            () = hung_up(&tcp) => return None,
        };
        let response = answer.response(&t);
        let written = tokio::time::timeout(limits.write_timeout, tcp.write_all(&response)).await;
        if !matches!(written, Ok(Ok(()))) {
            return None;
        }
        wire.sent.inc_by(response.len() as u64);
        let next = tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(limits.header_timeout) => {
                if !buffer.is_empty() {
                    Box::pin(refuse(&tcp, Refusal::HeadTimeout(limits.header_timeout), &t.policy)).await;
                }
                return None;
            }
            next = read_head(&mut tcp, &mut buffer) => next,
        };
        ask = match next? {
            Head::Poll { uri, headers, .. } => match poll::Ask::check(&t, &headers, &uri) {
                Ok(ask) => ask,
                Err(_) => return Some((tcp, buffer)),
            },
            _ => return Some((tcp, buffer)),
        };
    }
}

/// Returns when the client has closed its side while its poll waits. Bytes it sends meanwhile
/// (its next request, pipelined) are left unread, for after the answer.
async fn hung_up(tcp: &TcpStream) {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> &'static str {
        match parse(raw.as_bytes()) {
            Head::Partial => "partial",
            Head::Stream { .. } => "stream",
            Head::Poll { .. } => "poll",
            Head::Other => "other",
        }
    }

    #[test]
    fn only_a_plain_get_of_the_stream_or_a_poll_stays_here() {
        assert_eq!(kind("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"), "stream");
        assert_eq!(kind("GET /api/poll?after=1-2 HTTP/1.1\r\nHost: x\r\n\r\n"), "poll");
        assert_eq!(kind("GET /api/poll HTTP/1.0\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/poll HTTP/1.1\r\nConnection: close\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/poll HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"), "poll");
        assert_eq!(kind("POST /api/poll HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/polls HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/stream?symbols=AAPL HTTP/1.0\r\n\r\n"), "stream");
        assert_eq!(kind("GET /api/stream HTTP/1.1\r\nHost: x\r\n"), "partial");
        assert_eq!(kind("GET /api/str"), "partial");
        assert_eq!(kind("POST /api/stream HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("HEAD /api/stream HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/streams HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/stream/ HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("GET / HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/stream HTTP/1.1\r\nContent-Length: 3\r\n\r\n"), "other");
        assert_eq!(kind("GET /api/stream HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), "stream");
        assert_eq!(
            kind("GET /api/stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "other"
        );
        assert_eq!(kind("GET /api/stream HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"), "other");
        assert_eq!(
            kind("GET /api/stream HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"),
            "other"
        );
        assert_eq!(kind("GET http://x/api/stream HTTP/1.1\r\n\r\n"), "other");
        assert_eq!(kind("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "other");
        assert_eq!(kind("\x16\x03\x01\x02\x00"), "other");
    }

    #[test]
    fn too_many_headers_are_left_to_hyper() {
        let mut raw = String::from("GET /api/stream HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            raw.push_str(&format!("x-h{i}: v\r\n"));
        }
        raw.push_str("\r\n");
        assert_eq!(kind(&raw), "other");
    }

    /// Damaged and random heads (bytes replaced, inserted, cut; pure noise) never panic the
    /// parser, and nothing but a plain `GET` of the stream or of a poll is ever served here.
    #[test]
    fn damaged_heads_never_panic_and_only_stream_and_poll_gets_stay() {
        let stream =
            b"GET /api/stream?symbols=AAPL,MSFT&last_event_id=1f-2 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1f-9\r\n\r\n";
        let poll = b"GET /api/poll?symbols=AAPL&after=1f-2&timeout_ms=5 HTTP/1.1\r\nHost: x\r\n\r\n";
        let pieces = b"\r\n :/?&=%GETPOST\x00\xff-1";
        let mut next = crate::xorshift(0x2545_F491_4F6C_DD1Du64);
        for round in 0..20_000 {
            let mut head = if round % 4 == 0 {
                (0..next(200)).map(|_| next(256) as u8).collect::<Vec<u8>>()
            } else if round % 4 == 1 {
                poll.to_vec()
            } else {
                stream.to_vec()
            };
            for _ in 0..1 + next(4) {
                if head.is_empty() {
                    break;
                }
                let at = next(head.len());
                match next(3) {
                    0 => head[at] = pieces[next(pieces.len())],
                    1 => head.insert(at, pieces[next(pieces.len())]),
                    _ => head.truncate(at),
                }
            }
            // Empty lines before a request line are allowed (RFC 9112 §2.2).
            let start = head.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(0);
            let (line, path) = match parse(&head) {
                Head::Stream { uri, .. } => (&b"GET /api/stream"[..], uri.path().to_string()),
                Head::Poll { uri, len, .. } => {
                    // The head ends at a line end: what follows it is the next request's.
                    assert!(len <= head.len() && head[len - 1] == b'\n');
                    (&b"GET /api/poll"[..], uri.path().to_string())
                }
                _ => continue,
            };
            assert!(head[start..].starts_with(line), "{:?}", String::from_utf8_lossy(&head));
            assert!(path == sse::PATH || path == poll::PATH);
        }
    }
}
