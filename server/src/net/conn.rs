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

use crate::transport::Transports;
use crate::transport::sse;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A request head longer than this is left to hyper (which answers 431 when it is too long).
const MAX_HEAD: usize = 16 * 1024;
/// The most headers parsed here; a request with more is left to hyper.
const MAX_HEADERS: usize = 64;

/// What `axum::serve` accepts from: TCP connections, minus the ones whose stream is served here.
pub struct Listener {
    tcp: TcpListener,
    streams: Option<Transports>,
    to_hyper: mpsc::UnboundedSender<(Rewind, SocketAddr)>,
    for_hyper: mpsc::UnboundedReceiver<(Rewind, SocketAddr)>,
}

impl Listener {
    /// Without `streams` (a node that serves no stream) every connection goes straight to hyper.
    pub fn new(tcp: TcpListener, streams: Option<Transports>) -> Self {
        let (to_hyper, for_hyper) = mpsc::unbounded_channel();
        Listener {
            tcp,
            streams,
            to_hyper,
            for_hyper,
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Rewind;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Rewind, SocketAddr) {
        loop {
            tokio::select! {
                // The sender lives in `self`, so the channel never closes.
                Some(conn) = self.for_hyper.recv() => return conn,
                accepted = self.tcp.accept() => match accepted {
                    Ok((tcp, addr)) => {
                        // A tick is a small write that must leave at once.
                        if let Err(err) = tcp.set_nodelay(true) {
                            tracing::debug!(%err, "could not set TCP_NODELAY");
                        }
                        match &self.streams {
                            None => return (Rewind::new(tcp, Vec::new()), addr),
                            Some(streams) => {
                                tokio::spawn(first_request(tcp, addr, streams.clone(), self.to_hyper.clone()));
                            }
                        }
                    }
                    Err(err) => accept_failed(err).await,
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// As axum's own listener: a connection that failed before it was accepted is skipped; anything
/// else (out of file descriptors, say) is logged and accepting pauses for a second rather than
/// spinning.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(%err, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Reads the connection's first request head; serves it here if it opens a stream, else hands
/// the connection (and the bytes read) to hyper.
async fn first_request(
    mut tcp: TcpStream,
    addr: SocketAddr,
    streams: Transports,
    to_hyper: mpsc::UnboundedSender<(Rewind, SocketAddr)>,
) {
    let mut head = Vec::with_capacity(1024);
    let request = loop {
        if head.capacity() - head.len() < 256 {
            head.reserve(1024);
        }
        let read = tokio::select! {
            () = streams.shutdown.cancelled() => return,
            read = tcp.read_buf(&mut head) => read,
        };
        match read {
            Ok(0) if head.is_empty() => return,
            // Closed mid-head: hyper decides what that means.
            Ok(0) => break Head::Other,
            Ok(_) => {}
            Err(_) => return,
        }
        match parse(&head) {
            Head::Partial if head.len() < MAX_HEAD => continue,
            Head::Partial => break Head::Other,
            done => break done,
        }
    };
    if let Head::Stream { uri, headers } = request
        && let Ok(subscription) = sse::open(&streams.hub, &headers, &uri)
    {
        // Nothing of the request is kept while the stream runs.
        drop((head, uri, headers));
        return sse::serve_direct(tcp, streams, subscription).await;
    }
    // The router answers it, a stream request that failed a check included (same checks, so
    // the same 4xx). If the server is shutting down, the receiver is gone and so is the
    // connection.
    let _ = to_hyper.send((Rewind::new(tcp, head), addr));
}

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

/// A connection handed to hyper: the bytes already read come first, then the socket.
pub struct Rewind {
    prefix: Vec<u8>,
    read: usize,
    tcp: TcpStream,
}

impl Rewind {
    fn new(tcp: TcpStream, prefix: Vec<u8>) -> Self {
        Rewind { prefix, read: 0, tcp }
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
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
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
}
