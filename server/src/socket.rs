//! A client's socket as the connection layer ([`crate::net`]) and the transports share it: the
//! [`Rewind`] every connection is handed to hyper as (a WebSocket takes its socket back from it
//! after the upgrade), the [`Slot`] a connection holds among the server's connections, the
//! [`Tap`] that counts the bytes of a transport hyper serves, and a gentle close.

use crate::metrics::Wire;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connection's place among the server's connections (`MAX_CONNECTIONS`, and its address's
/// share), held for as long as its socket is open, whoever holds the socket: the connection's
/// task, or a WebSocket's after the upgrade. What it holds is the connection layer's business.
pub struct Slot {
    _held: Box<dyn Send + Sync>,
}

impl Slot {
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Slot { _held: Box::new(held) }
    }
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

/// A connection handed to hyper: the bytes already read come first, then the socket. Writes
/// that cannot progress for `write_timeout` fail, which ends the connection: hyper itself would
/// wait for ever on a client that stops reading (a page, an asset, a WebSocket, a chunked stream).
pub struct Rewind {
    prefix: Vec<u8>,
    read: usize,
    tcp: TcpStream,
    /// The connection's place among the server's connections, released with the socket.
    slot: Slot,
    /// Counts its bytes once a transport claims it.
    tap: Arc<Tap>,
    write_timeout: Duration,
    /// Armed while a write is pending; a write that completes disarms it.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Rewind {
    pub fn new(tcp: TcpStream, prefix: Vec<u8>, write_timeout: Duration, slot: Slot) -> Self {
        Rewind {
            prefix,
            read: 0,
            tcp,
            slot,
            tap: Arc::default(),
            write_timeout,
            stalled: None,
        }
    }

    /// What counts this connection's bytes (see [`Tap`]).
    pub fn tap(&self) -> &Arc<Tap> {
        &self.tap
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
        let before = buf.filled().len();
        let poll = self.as_mut().read_into(cx, buf);
        self.tap.read((buf.filled().len() - before) as u64);
        poll
    }
}

impl Rewind {
    fn read_into(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
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
        if let Poll::Ready(Ok(n)) = poll {
            self.tap.wrote(n as u64);
        }
        self.deadline(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = poll {
            self.tap.wrote(n as u64);
        }
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

/// Counts what a connection served by hyper reads and writes, for the transport that claims
/// it ([`Claim`]): nothing before, everything after (the claiming request's own head
/// included), for the rest of the connection. Pages and other requests on a connection no
/// transport has claimed are not counted.
#[derive(Default)]
pub struct Tap {
    wire: OnceLock<Wire>,
    /// Bytes read in all, and at the start of the request being served.
    read: AtomicU64,
    mark: AtomicU64,
}

impl Tap {
    fn read(&self, n: u64) {
        if let Some(wire) = self.wire.get() {
            wire.received.inc_by(n);
        }
        self.read.fetch_add(n, Ordering::Relaxed);
    }

    fn wrote(&self, n: u64) {
        if let Some(wire) = self.wire.get() {
            wire.sent.inc_by(n);
        }
    }

    /// Called as a request reaches the router: the request may claim the connection, and the
    /// bytes read since the previous request started (its head) then count too.
    pub fn request(self: &Arc<Self>) -> Claim {
        let read = self.read.load(Ordering::Relaxed);
        let head = read - self.mark.swap(read, Ordering::Relaxed);
        Claim {
            tap: self.clone(),
            head,
        }
    }
}

/// A request's way to claim its connection's bytes for a transport (a request extension).
#[derive(Clone)]
pub struct Claim {
    tap: Arc<Tap>,
    head: u64,
}

impl Claim {
    /// From now on the connection's bytes count for `wire`; a connection keeps the first
    /// transport that claims it.
    pub fn claim(&self, wire: Wire) {
        if self.tap.wire.set(wire.clone()).is_ok() {
            wire.received.inc_by(self.head);
        }
    }
}
