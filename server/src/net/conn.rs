//! The connection layer: a fresh connection whose first request opens the SSE stream is served
//! directly on the socket ([`sse::serve_direct`]); every other connection goes to hyper and the
//! axum router.
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
//! ([`sse::open`]) stays here. Anything else, including a stream request that fails a check, is
//! handed to hyper together with the bytes already read, so errors, other methods and every
//! other route behave exactly as the router defines them. A stream requested on a reused
//! keep-alive connection reaches the same SSE code through the router ([`sse::stream`]): same
//! events, same ids, chunked by hyper.

use super::Slot;
use crate::config::Limits;
use crate::hub::Subscription;
use crate::security::Policy;
use crate::transport::Transports;
use crate::transport::sse;
use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
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
    slot: Slot,
    app: Router,
    streams: Option<Transports>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    // Two steps. The first (the head being read, its deadline) is boxed, so its state is freed
    // when it ends, and a stream that runs for hours keeps only its own.
    match Box::pin(first_request(tcp, streams, &limits, &shutdown)).await {
        Next::Stream(tcp, streams, subscription) => {
            sse::serve_direct(tcp, streams, subscription).await;
            drop(slot);
        }
        // Boxed: hyper's connection state is kilobytes, and inline it would make every direct
        // stream's task that large too (a task is as large as its largest branch).
        Next::Http(tcp, head) => {
            let io = Rewind::new(tcp, head, limits.write_timeout, slot);
            Box::pin(serve_http(io, app, &limits, &shutdown)).await;
        }
        Next::Closed => {}
    }
}

/// What a connection's first request leads to. Matched as soon as it is made, so the variants'
/// sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Next {
    /// A plain `GET` of the stream that passed its checks: served here, on the socket.
    Stream(TcpStream, Transports, Subscription),
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
                if let Ok(subscription) = sse::open(&streams, &headers, &uri) {
                    return Next::Stream(tcp, streams, subscription);
                }
                // A stream request that failed a check: the router answers it (same checks, so
                // the same 4xx).
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
async fn serve_http(io: Rewind, app: Router, limits: &Limits, shutdown: &CancellationToken) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
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

/// Reads the first request head into `head`; `None` if the client closed or failed before
/// sending anything worth answering.
async fn read_head(tcp: &mut TcpStream, head: &mut Vec<u8>) -> Option<Head> {
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

/// Ends a connection whose last bytes are written without resetting them away: the sending side
/// is shut, then what the client still sends is read and dropped until it closes, for at most
/// [`REFUSAL_LINGER`].
pub async fn close_gently(tcp: &TcpStream) {
    let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Write);
    let drain = async {
        let mut sink = [0u8; 1024];
        loop {
            if tcp.readable().await.is_err() {
                return;
            }
            match tcp.try_read(&mut sink) {
                // The client has read the answer and closed.
                Ok(0) => return,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, drain).await;
}

/// How long a refused connection is read (and its bytes dropped) after the answer, so that
/// closing it does not reset the answer away before the client reads it.
const REFUSAL_LINGER: Duration = Duration::from_millis(250);

/// The first request head, as far as this layer cares.
#[derive(Debug)]
enum Head {
    /// Not complete yet.
    Partial,
    /// A plain `GET` of the stream.
    Stream { uri: Uri, headers: HeaderMap },
    /// Anything else (or unparsable): the router's.
    Other,
}

fn parse(buf: &[u8]) -> Head {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Head::Partial,
        Ok(httparse::Status::Complete(_)) => stream_request(&req).unwrap_or(Head::Other),
        Err(_) => Head::Other,
    }
}

fn stream_request(req: &httparse::Request<'_, '_>) -> Option<Head> {
    if req.method != Some("GET") {
        return None;
    }
    let uri: Uri = req.path?.parse().ok()?;
    if uri.path() != sse::PATH || uri.scheme().is_some() {
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
    Some(Head::Stream { uri, headers })
}

/// A connection handed to hyper: the bytes already read come first, then the socket. Writes
/// that cannot progress for `write_timeout` fail, which ends the connection: hyper itself would
/// wait for ever on a client that stops reading (a page, an asset, a WebSocket, a chunked stream).
pub struct Rewind {
    prefix: Vec<u8>,
    read: usize,
    tcp: TcpStream,
    /// The connection's place among `MAX_CONNECTIONS`, released with the socket.
    slot: Slot,
    write_timeout: Duration,
    /// Armed while a write is pending; a write that completes disarms it.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Rewind {
    fn new(tcp: TcpStream, prefix: Vec<u8>, write_timeout: Duration, slot: Slot) -> Self {
        Rewind {
            prefix,
            read: 0,
            tcp,
            slot,
            write_timeout,
            stalled: None,
        }
    }

    /// The socket, and what hyper had not read yet of the bytes read before it (nothing, once
    /// it has parsed a request): a WebSocket takes its connection back after the upgrade.
    /// The connection's slot goes with the socket.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>, Slot) {
        let mut prefix = self.prefix;
        prefix.drain(..self.read);
        (self.tcp, prefix, self.slot)
    }

    /// Passes a write's outcome through, failing it once it has been pending for too long.
    fn deadline<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read for WRITE_TIMEOUT_SECS",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read < this.prefix.len() {
            let rest = &this.prefix[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            if this.read == this.prefix.len() {
                // Free it: hyper has its own buffer from here on.
                this.prefix = Vec::new();
                this.read = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.deadline(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.deadline(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> &'static str {
        match parse(raw.as_bytes()) {
            Head::Partial => "partial",
            Head::Stream { .. } => "stream",
            Head::Other => "other",
        }
    }

    #[test]
    fn only_a_plain_get_of_the_stream_stays_here() {
        assert_eq!(kind("GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"), "stream");
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
    /// parser, and nothing but a plain `GET` of the stream is ever served here.
    #[test]
    fn damaged_heads_never_panic_and_only_stream_gets_stay() {
        let valid =
            b"GET /api/stream?symbols=AAPL,MSFT&last_event_id=1f-2 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1f-9\r\n\r\n";
        let pieces = b"\r\n :/?&=%GETPOST\x00\xff-1";
        let mut next = crate::xorshift(0x2545_F491_4F6C_DD1Du64);
        for round in 0..20_000 {
            let mut head = if round % 4 == 0 {
                (0..next(200)).map(|_| next(256) as u8).collect::<Vec<u8>>()
            } else {
                valid.to_vec()
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
            if let Head::Stream { uri, .. } = parse(&head) {
                // Empty lines before a request line are allowed (RFC 9112 §2.2).
                let start = head.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(0);
                assert!(
                    head[start..].starts_with(b"GET /api/stream"),
                    "{:?}",
                    String::from_utf8_lossy(&head)
                );
                assert_eq!(uri.path(), sse::PATH);
            }
        }
    }
}
