//! The network edge: accepting connections within the node's limits, serving each (a connection
//! whose first request opens the SSE stream on its own socket, every other through hyper, see
//! [`conn`]), and shutting down with a bounded drain.
//!
//! Every wait here has a deadline and every resource a bound, each a documented setting
//! ([`Limits`], from [`crate::config`]): a request head must arrive within `HEADER_TIMEOUT_SECS` (on the direct path and
//! in hyper, whose timer this module installs; `axum::serve` installs none), at most
//! `MAX_CONNECTIONS` connections are served at once, and each socket's kernel send buffer is
//! capped at `SEND_BUFFER_KB`. A connection over the limit is answered `503` with `Retry-After`
//! and a JSON reason, without stalling the accept loop for anyone else; with
//! `MAX_CONNECTIONS_PER_ADDRESS` set, one past an address's share gets `429` the same way.

pub mod conn;

use crate::config::Limits;
use crate::socket::Slot;
use crate::transport::Transports;
use axum::Router;
use conn::Refusal;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for connections to finish after every stream has ended.
pub const DRAIN: Duration = Duration::from_millis(800);

/// Refused connections being answered at once, at most; past it a refused connection is closed
/// without an answer, so a flood cannot grow the refusals' tasks without bound.
const MAX_REFUSING: usize = 1024;

/// A listener on `addr` whose kernel accept queue holds `backlog` connections (capped by the
/// kernel at `net.core.somaxconn`; tokio's `bind` asks for 1 024, which a flood of connects
/// overflows: the kernel then drops handshakes the server never sees).
pub fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind`: a restarted server can listen at once, despite old connections
    // in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// How serving ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished within [`DRAIN`].
    Drained,
    /// [`DRAIN`] passed with `open` connections still open; they end with the process.
    DeadlinePassed { open: usize },
}

/// Serves `app` until `shutdown` is cancelled, then drains for at most [`DRAIN`]. With
/// `streams`, a connection that opens the SSE stream first is served on its own (see [`conn`]);
/// pass the transports the router was built with.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    streams: Option<Transports>,
    limits: Limits,
    shutdown: CancellationToken,
) -> io::Result<Stopped> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let policy = streams.as_ref().map(|t| t.policy.clone()).unwrap_or_default();
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let addresses = limits.per_address.map(|max| Arc::new(PerAddress::new(max)));
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
        };
        let share = match &addresses {
            Some(addresses) => match addresses.take(peer.ip()) {
                Some(share) => Some(share),
                None => {
                    refuse(tcp, Refusal::PerAddress(addresses.max), &refusing, &policy);
                    continue;
                }
            },
            None => None,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refuse(tcp, Refusal::Full(limits.max_connections), &refusing, &policy);
            continue;
        };
        tune(&tcp, &limits);
        let (app, streams, shutdown) = (app.clone(), streams.clone(), shutdown.clone());
        let slot = Slot::new((permit, share));
        tokio::spawn(conn::serve_connection(tcp, peer, slot, app, streams, limits, shutdown));
    }
    // Every stream ends on shutdown and hyper finishes what is under way; wait for the
    // connections to go, but not for ever.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, connections.acquire_many(all)).await.is_ok() {
        return Ok(Stopped::Drained);
    }
    let open = limits.max_connections - connections.available_permits();
    tracing::warn!(open, "drain deadline passed; closing the remaining connections");
    Ok(Stopped::DeadlinePassed { open })
}

/// Answers a refused connection on its own task, unless [`MAX_REFUSING`] are being answered
/// already: then it is closed without an answer.
fn refuse(tcp: TcpStream, why: Refusal, refusing: &Arc<Semaphore>, policy: &crate::security::Policy) {
    if let Ok(slot) = refusing.clone().try_acquire_owned() {
        let policy = policy.clone();
        tokio::spawn(async move {
            conn::refuse(&tcp, why, &policy).await;
            drop(slot);
        });
    }
}

/// Open connections per client address, for `MAX_CONNECTIONS_PER_ADDRESS`. Only addresses
/// with a connection open are kept, so the map is bounded by `MAX_CONNECTIONS`.
struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's share; given back when dropped.
struct Share {
    addresses: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn new(max: usize) -> Self {
        PerAddress {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A place for one more connection from `ip`, or `None` if it has `max` open.
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Share> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Share {
            addresses: self.clone(),
            ip,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut open = self.addresses.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A tick is a small write that must leave at once (`TCP_NODELAY`), and a client that stops
/// reading may hold at most `send_buffer` bytes in the kernel (the default would let one hold
/// megabytes).
fn tune(tcp: &TcpStream, limits: &Limits) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(%err, "could not set TCP_NODELAY");
    }
    if let Err(err) = socket2::SockRef::from(tcp).set_send_buffer_size(limits.send_buffer) {
        tracing::debug!(%err, "could not cap the send buffer");
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
