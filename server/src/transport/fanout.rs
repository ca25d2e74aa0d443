//! Live events of SSE streams and WebSockets, written by one fan-out task per runtime worker
//! instead of a task per client.
//!
//! Why: with a task per client, every frame woke 1 000 tasks at 10 Hz, and each wake-up (the
//! broadcast's notify, the run queue, a `select!` over shutdown, read readiness and a keep-alive
//! timer, then the write) cost about a fifth of the server's CPU per event, and so a fifth of the
//! time it takes to get a frame to the last client (BENCHMARKS.md, "One fan-out task"). A group
//! wakes once per frame and, for each member, takes the ready events of the member's own
//! [`Feed`] with [`Feed::try_next`] and writes each with one non-blocking
//! `write` of one contiguous buffer, encoded once per frame for all the members it suits
//! ([`Encoded`]). Each member keeps its own subscription (cursor, selection, lag and resync), so a
//! client gets exactly the events its own task would have sent it.
//!
//! SSE streams and WebSockets are members alike; only their [`Framing`] differs (an SSE event,
//! or a WebSocket text message framed by `tungstenite`), and each framing has its own encoded
//! buffer, so a group that serves both still encodes each event once per framing.
//!
//! Members that joined less than [`PROBATION`] ago are served after the others in every pass:
//! a crowd of new streams arriving at once (a flood of clients that never read, or just a busy
//! minute) cannot delay the ticks of those already watching; the newcomers get theirs a pass
//! later in the same frame.
//!
//! A member whose socket cannot take a whole event is handed back to its connection's task
//! with the bytes that did not fit ([`Member::pending`]); that task waits until the socket
//! drains, catches up and rejoins. A slow client never holds up a group, and no client's bytes
//! are dropped. The connection's task also watches its client: a hang-up ends the membership at
//! the group's next pass, and a WebSocket message gets the member back ([`Joined::recall`]) so
//! that the task can answer it without two writers on one socket.
use super::feed::Feed;
use super::{sse, ws};
use crate::hub::{Event, Frame, Hub};
use crate::metrics::ClientGuard;
use prometheus_client::metrics::counter::Counter;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

/// How long a new member is served after the established ones (see the module's docs): longer
/// than a stream that never reads takes to fill its socket, so such a stream is cut (after
/// `WRITE_TIMEOUT_SECS`) without ever being served ahead of anyone.
const PROBATION: Duration = Duration::from_secs(10);

/// Seats a group visits between two yields, so one long pass does not starve the worker's other
/// tasks (accepting connections, the generator, other requests).
const SEATS_PER_YIELD: usize = 256;

/// The fan-out groups of a node. They start with the first member.
pub(crate) struct Fanout {
    hub: Arc<Hub>,
    shutdown: CancellationToken,
    keepalive: Duration,
    groups: OnceLock<Vec<GroupHandle>>,
    next: AtomicUsize,
}

/// How members reach a group.
struct GroupHandle {
    joins: mpsc::UnboundedSender<Seat>,
    /// Told when a member's connection ends, so the group lets go of its socket at once.
    left: Arc<Notify>,
}

/// A member's place in a group, held by its connection's task.
pub(super) struct Joined {
    back: oneshot::Receiver<Member>,
    left: Arc<Notify>,
    recalled: Arc<AtomicBool>,
    returned: bool,
}

impl Joined {
    /// The member, once its group hands it back (its socket is full, it was recalled, or the
    /// server is stopping); `None` if the group dropped it (a failed write).
    pub(super) async fn handed_back(&mut self) -> Option<Member> {
        let member = (&mut self.back).await.ok();
        self.returned = true;
        member
    }

    /// Asks the group for the member back at its next pass (see [`Joined::handed_back`]).
    pub(super) fn recall(&self) {
        self.recalled.store(true, Ordering::Relaxed);
        self.left.notify_one();
    }
}

impl Drop for Joined {
    /// The connection ends while its group holds the stream: the group drops it now rather than
    /// at its next frame or keep-alive.
    fn drop(&mut self) {
        if !self.returned {
            self.left.notify_one();
        }
    }
}

/// One stream, as its group holds it.
pub(super) struct Member {
    /// Where its bytes go: its socket, or hyper's body for an SSE stream on a reused connection.
    pub out: Out,
    pub framing: Framing,
    /// Its events: the market, and on a signed-in stream the user's own.
    pub feed: Feed,
    pub client: ClientGuard,
    pub quiet: Quiet,
    /// Bytes to write before anything else: the response head at first, then the rest of an
    /// event the socket could not take whole, or a WebSocket's answer to its client.
    pub pending: Vec<u8>,
}

impl Member {
    pub(super) fn new(out: Out, framing: Framing, feed: Feed, client: ClientGuard) -> Self {
        Member {
            out,
            framing,
            feed,
            client,
            quiet: Quiet::default(),
            pending: Vec::new(),
        }
    }

    /// Writes what is pending, then whatever the subscription has ready (a snapshot, a replay),
    /// in writes of up to [`CATCH_UP_BYTES`], each waiting at most `timeout` for the client. A
    /// write cut short (an error, or the future dropped) leaves exactly the unwritten bytes in
    /// [`Member::pending`], so whatever is written next starts at an event's boundary.
    pub(super) async fn catch_up(&mut self, timeout: Duration) -> io::Result<()> {
        loop {
            while self.pending.len() < CATCH_UP_BYTES {
                let Some(event) = self.feed.try_next() else {
                    break;
                };
                self.quiet.event();
                self.client.delivered();
                self.framing.encode(&event, &mut self.pending);
            }
            if self.pending.is_empty() {
                return Ok(());
            }
            self.write_pending(timeout).await?;
        }
    }

    /// Writes what is pending, each write waiting at most `timeout` for the client; cut short,
    /// it leaves exactly the unwritten bytes pending.
    pub(super) async fn write_pending(&mut self, timeout: Duration) -> io::Result<()> {
        while !self.pending.is_empty() {
            self.out.writable(timeout).await?;
            match self.out.try_write(&self.pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => drop(self.pending.drain(..n)),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
        }
        // A catch-up's buffer can be large (a snapshot with books); a member keeps none: most
        // of a stream's life is spent with nothing pending, and a thousand idle buffers of a few
        // KB each were most of what a connection cost.
        self.pending = Vec::new();
        Ok(())
    }
}

/// How many bytes of a catch-up (a snapshot, a replay) go out in one write.
const CATCH_UP_BYTES: usize = 16 * 1024;

/// How a member's events are put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// `event:`/`id:`/`data:` lines ([`sse::encode_event`]).
    Sse,
    /// One WebSocket text message per event ([`ws::encode_event`]).
    Ws,
}

impl Framing {
    pub(super) fn encode(self, event: &Event, out: &mut Vec<u8>) {
        match self {
            Framing::Sse => sse::encode_event(event, out),
            Framing::Ws => ws::encode_event(event, out),
        }
    }
}

/// A member in its group, with the way back to its connection's task.
struct Seat {
    member: Member,
    back: oneshot::Sender<Member>,
    joined: Instant,
    /// Set by [`Joined::recall`].
    recalled: Arc<AtomicBool>,
}

impl Fanout {
    pub(crate) fn new(hub: Arc<Hub>, shutdown: CancellationToken, keepalive: Duration) -> Self {
        Fanout {
            hub,
            shutdown,
            keepalive,
            groups: OnceLock::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// Hands `member` (caught up, nothing pending) to a group, which writes its live events
    /// from now on. The receiver yields it back if its socket fills up; it fails if the group
    /// dropped it (a failed write, or shutdown).
    pub(super) fn join(&self, member: Member) -> Joined {
        debug_assert!(member.pending.is_empty());
        let groups = self.groups.get_or_init(|| self.spawn_groups());
        let group = &groups[self.next.fetch_add(1, Ordering::Relaxed) % groups.len()];
        let (back, receiver) = oneshot::channel();
        let recalled = Arc::new(AtomicBool::new(false));
        // A send fails only once the group has stopped (shutdown): dropping the seat then
        // fails the receiver, and the connection ends.
        let _ = group.joins.send(Seat {
            member,
            back,
            joined: Instant::now(),
            recalled: recalled.clone(),
        });
        Joined {
            back: receiver,
            left: group.left.clone(),
            recalled,
            returned: false,
        }
    }

    /// One group per runtime worker, so direct streams use every core the server was given.
    fn spawn_groups(&self) -> Vec<GroupHandle> {
        let workers = tokio::runtime::Handle::current().metrics().num_workers().max(1);
        (0..workers)
            .map(|_| {
                let (joins, receiver) = mpsc::unbounded_channel();
                let left = Arc::new(Notify::new());
                let group = Group {
                    hub: self.hub.clone(),
                    frames: self.hub.live_frames(),
                    joins: receiver,
                    left: left.clone(),
                    seats: [Vec::new(), Vec::new()],
                    encoded: Default::default(),
                    visited: 0,
                    start: 0,
                    leaving: Vec::new(),
                };
                tokio::spawn(group.run(self.shutdown.clone(), self.keepalive));
                GroupHandle { joins, left }
            })
            .collect()
    }
}

struct Group {
    hub: Arc<Hub>,
    /// Wakes the group on every live frame; the members' subscriptions carry the frames.
    frames: broadcast::Receiver<Arc<Frame>>,
    joins: mpsc::UnboundedReceiver<Seat>,
    left: Arc<Notify>,
    /// The established members ([`ESTABLISHED`]), then those on [`PROBATION`] ([`NEW`]), each
    /// served in that order.
    seats: [Vec<Seat>; 2],
    /// The last event encoded in each framing, shared by the members that get the same one.
    encoded: Encoders,
    /// Seats visited since the last yield.
    visited: usize,
    /// Where the last frame's pass started: each pass starts elsewhere (see [`next_start`]).
    start: usize,
    /// Seats a pass hands back or drops, removed when it ends.
    leaving: Vec<(usize, Outcome)>,
}

/// The two tiers of a group's seats.
const ESTABLISHED: usize = 0;
const NEW: usize = 1;

/// What a pass did with a seat.
enum Outcome {
    Keep,
    /// Back to its connection's task: its socket is full (with the unwritten bytes), or the
    /// task recalled it.
    HandBack,
    /// Its client or connection is gone.
    Drop,
}

impl Group {
    async fn run(mut self, shutdown: CancellationToken, keepalive: Duration) {
        let mut ticks = keepalive_ticks(keepalive);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    // Every member goes back to its task, which says goodbye as its transport
                    // does (a WebSocket's close 1001) after what its socket still owes.
                    for seat in self.seats.iter_mut().flat_map(|tier| tier.drain(..)) {
                        let _ = seat.back.send(seat.member);
                    }
                    return;
                }
                joined = self.joins.recv() => {
                    let Some(seat) = joined else { return };
                    let from = self.seats[NEW].len();
                    self.seats[NEW].push(seat);
                    while let Ok(seat) = self.joins.try_recv() {
                        self.seats[NEW].push(seat);
                    }
                    // Events may have come since they caught up.
                    self.pass(NEW, from, false, Self::serve).await;
                }
                woken = self.frames.recv() => {
                    // The hub outlives its groups; closed only if that ever changes.
                    if matches!(woken, Err(RecvError::Closed)) {
                        return;
                    }
                    // Every frame up to now is in the members' subscriptions, so one pass
                    // serves them all; a frame that comes during the pass wakes the group again.
                    while matches!(self.frames.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
                    self.start = next_start(self.start, self.seats[ESTABLISHED].len());
                    self.pass(ESTABLISHED, self.start, true, Self::serve).await;
                    self.pass(NEW, 0, false, Self::serve).await;
                    self.promote();
                }
                _ = ticks.tick() => {
                    // WebSockets get a ping every other tick: once per keep-alive period.
                    self.encoded.beat = !self.encoded.beat;
                    for tier in [ESTABLISHED, NEW] {
                        self.pass(tier, 0, false, Self::keep_alive).await;
                    }
                }
                // A pass drops the seats whose connection has ended and hands back those
                // recalled.
                () = self.left.notified() => {
                    for tier in [ESTABLISHED, NEW] {
                        self.pass(tier, 0, false, |_, _| Outcome::Keep).await;
                    }
                }
            }
        }
    }

    /// Moves the members whose probation is over among the established ones.
    fn promote(&mut self) {
        let mut i = 0;
        while i < self.seats[NEW].len() {
            if self.seats[NEW][i].joined.elapsed() >= PROBATION {
                let seat = self.seats[NEW].swap_remove(i);
                self.seats[ESTABLISHED].push(seat);
            } else {
                i += 1;
            }
        }
    }

    /// Applies `visit` to the seats of `tier` from `start` to the last (and, with `wrap`, on
    /// from the first up to `start`: every seat), then hands back or drops them as it says.
    async fn pass(&mut self, tier: usize, start: usize, wrap: bool, visit: fn(&mut Encoders, &mut Member) -> Outcome) {
        let len = self.seats[tier].len();
        let start = start.min(len);
        let wrapped = if wrap { 0..start } else { 0..0 };
        for i in (start..len).chain(wrapped) {
            let seat = &mut self.seats[tier][i];
            let outcome = if seat.back.is_closed() {
                // Its connection's task has ended: the client hung up or the server is stopping.
                Outcome::Drop
            } else if seat.recalled.load(Ordering::Relaxed) {
                Outcome::HandBack
            } else {
                visit(&mut self.encoded, &mut seat.member)
            };
            if !matches!(outcome, Outcome::Keep) {
                self.leaving.push((i, outcome));
            }
            self.visited += 1;
            if self.visited >= SEATS_PER_YIELD {
                self.visited = 0;
                tokio::task::yield_now().await;
            }
        }
        // Highest index first, so that each `swap_remove` moves a seat that stays.
        self.leaving.sort_unstable_by_key(|&(i, _)| std::cmp::Reverse(i));
        for (i, outcome) in self.leaving.drain(..) {
            let seat = self.seats[tier].swap_remove(i);
            if let Outcome::HandBack = outcome {
                if !seat.member.pending.is_empty() {
                    self.hub.metrics().fanout_stalls.inc();
                }
                let _ = seat.back.send(seat.member);
            }
        }
    }

    /// Writes every event the member's feed has ready: one event (the usual case) straight from
    /// its encoded bytes; several (a signed-in user's own event and the frame's tick, say) copied
    /// into one buffer and written together, a `write` for them all rather than one each.
    fn serve(encoded: &mut Encoders, member: &mut Member) -> Outcome {
        let mut next = member.feed.try_next();
        while let Some(event) = next.take() {
            member.quiet.event();
            member.client.delivered();
            next = member.feed.try_next();
            let written = match &next {
                None => write_event(&member.out, encoded.of(member.framing, &event)),
                Some(_) => {
                    let mut batch = std::mem::take(&mut encoded.batch);
                    batch.clear();
                    batch.extend_from_slice(encoded.of(member.framing, &event));
                    while batch.len() < BATCH_BYTES
                        && let Some(more) = next.take()
                    {
                        member.quiet.event();
                        member.client.delivered();
                        batch.extend_from_slice(encoded.of(member.framing, &more));
                        next = member.feed.try_next();
                    }
                    let written = write_event(&member.out, &batch);
                    encoded.batch = batch;
                    written
                }
            };
            match written {
                Ok(None) => {}
                Ok(Some(rest)) => {
                    member.pending = rest;
                    // An event taken but not written yet goes after the rest.
                    if let Some(event) = next {
                        member.framing.encode(&event, &mut member.pending);
                    }
                    return Outcome::HandBack;
                }
                Err(_) => return Outcome::Drop,
            }
        }
        Outcome::Keep
    }

    /// An SSE stream gets a keep-alive comment if it has been quiet since the previous tick; a
    /// WebSocket gets a ping and a `heartbeat` message once per keep-alive period, whatever it
    /// was sent meanwhile (its client's pong shows the link is alive).
    fn keep_alive(encoded: &mut Encoders, member: &mut Member) -> Outcome {
        let quiet = member.quiet.tick();
        let bytes = match member.framing {
            Framing::Sse if quiet => sse::KEEP_ALIVE,
            Framing::Ws if encoded.beat => ws::heartbeat(),
            _ => return Outcome::Keep,
        };
        match member.out.try_write(bytes) {
            Ok(n) if n == bytes.len() => Outcome::Keep,
            Ok(n) => {
                member.pending = bytes[n..].to_vec();
                Outcome::HandBack
            }
            // Bytes are still queued, so the stream is not idle at the TCP level.
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Outcome::Keep,
            Err(_) => Outcome::Drop,
        }
    }
}

/// Where a frame's pass starts, given where the previous one did: a sixty-fourth of the ring
/// further on, so the start goes round every 64 frames.
///
/// Why: a pass writes its members one after another, so the last ones get each frame up to a
/// pass later than the first (about 70 ms with 10 000 clients on one core). Were every pass to
/// start at the same seat, the same clients would be last every time: with 10 000 clients, the
/// best-served client's median latency was 0 ms and the worst's 70-80. Creeping the start round
/// the ring gives every client the same median (31-38 ms; `loadgen` reports each client's own
/// median, BENCHMARKS.md "Fairness"). It creeps rather than jumps because a client's interval
/// between two events then stays close to the tick's; a jump of 0.618 of the ring per pass was
/// as fair but measured 13 % more CPU per event in three A/B pairs.
fn next_start(previous: usize, seats: usize) -> usize {
    if seats == 0 {
        return 0;
    }
    (previous + (seats / 64).max(1)) % seats
}

/// The last event a group encoded in each framing, and whether this keep-alive tick is a
/// WebSocket's ping.
#[derive(Default)]
struct Encoders {
    sse: Encoded,
    ws: Encoded,
    /// Events with a private part (a signed-in user's streams), encoded apart so that they never
    /// displace the shared bytes of the others (see [`Stamped`]).
    stamped: Stamped,
    /// Where several ready events of one member are gathered for one write.
    batch: Vec<u8>,
    beat: bool,
}

impl Encoders {
    fn of(&mut self, framing: Framing, event: &Event) -> &[u8] {
        if event.private.is_some() {
            return self.stamped.of(framing, event);
        }
        match framing {
            Framing::Sse => self.sse.of(framing, event),
            Framing::Ws => self.ws.of(framing, event),
        }
    }
}

/// The bytes of the last event a group wrote in one framing, kept while its members get the
/// same event.
///
/// Why: every member subscribed to all symbols gets the very same event of a frame (same id,
/// same shared payload), so the group encodes it once per frame instead of formatting a head for
/// every member, and writes it as one buffer instead of a three-part `writev` (head, payload,
/// end), which the kernel takes a little faster (BENCHMARKS.md, "The kernel's floor"). A member
/// with its own selection of symbols has its own payload, encoded into the same buffer.
#[derive(Default)]
struct Encoded {
    /// What `bytes` encode ([`Event::is`]).
    key: Option<Event>,
    bytes: Vec<u8>,
}

impl Encoded {
    /// `event` in `framing`: the buffer as it is if it already holds `event`, else re-encoded.
    fn of(&mut self, framing: Framing, event: &Event) -> &[u8] {
        if !self.key.as_ref().is_some_and(|key| key.is(event)) {
            self.bytes.clear();
            framing.encode(event, &mut self.bytes);
            self.key = Some(event.clone());
        }
        &self.bytes
    }
}

/// Most bytes gathered for one write of several events.
const BATCH_BYTES: usize = 64 * 1024;

/// The events of signed-in users' streams, encoded: a market event there carries the private
/// position in its id (`~<n>`), so it cannot share the anonymous streams' bytes; but every stream
/// at the same position gets the very same event (a user's tabs, and users whose accounts have
/// the same revision), so the bytes are kept per position while the event is the same.
#[derive(Default)]
struct Stamped {
    held: Vec<(Framing, Event, Vec<u8>)>,
}

/// Stamped events held at most (a pass over many users at many positions encodes the rest
/// afresh).
const STAMPED_HELD: usize = 64;

impl Stamped {
    fn of(&mut self, framing: Framing, event: &Event) -> &[u8] {
        if let Some(i) = self.held.iter().position(|(f, e, _)| *f == framing && e.is(event)) {
            return &self.held[i].2;
        }
        // Another frame: what was held is for a frame that is gone.
        if self.held.first().is_some_and(|(_, e, _)| e.id != event.id) || self.held.len() >= STAMPED_HELD {
            self.held.clear();
        }
        let mut bytes = Vec::with_capacity(event.data.len() + 96);
        framing.encode(event, &mut bytes);
        self.held.push((framing, event.clone(), bytes));
        &self.held[self.held.len() - 1].2
    }
}

/// Writes `bytes` with one non-blocking `write`: `None` if it all went, else the bytes that did
/// not fit.
fn write_event(out: &Out, bytes: &[u8]) -> io::Result<Option<Vec<u8>>> {
    match out.try_write(bytes) {
        Ok(n) if n == bytes.len() => Ok(None),
        Ok(n) => Ok(Some(bytes[n..].to_vec())),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Some(bytes.to_vec())),
        Err(err) => Err(err),
    }
}

/// Where a stream's bytes go.
#[derive(Clone)]
pub(super) enum Out {
    /// The client's socket, and the counter of the bytes written to it: a direct SSE stream, or
    /// a WebSocket.
    Socket(Arc<TcpStream>, Counter),
    /// hyper's response body, a chunk per write: a stream on a reused connection (whose bytes
    /// hyper's connection counts, [`crate::socket::Tap`]).
    Body(mpsc::Sender<Vec<u8>>),
}

impl Out {
    /// Writes what fits of `bytes` now, without waiting: `WouldBlock` when nothing does.
    pub(super) fn try_write(&self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Out::Socket(tcp, sent) => {
                let n = tcp.try_write(bytes)?;
                sent.inc_by(n as u64);
                Ok(n)
            }
            Out::Body(chunks) => match chunks.try_send(bytes.to_vec()) {
                Ok(()) => Ok(bytes.len()),
                Err(TrySendError::Full(_)) => Err(io::ErrorKind::WouldBlock.into()),
                Err(TrySendError::Closed(_)) => Err(io::ErrorKind::BrokenPipe.into()),
            },
        }
    }

    /// Waits until a write may make progress, at most `timeout`: a client that has not read
    /// for that long is cut (it resumes where it was when it reconnects).
    pub(super) async fn writable(&self, timeout: Duration) -> io::Result<()> {
        let ready = async {
            match self {
                Out::Socket(tcp, _) => tcp.writable().await,
                Out::Body(chunks) => match chunks.reserve().await {
                    // The slot is released with the permit; the one writer takes it next.
                    Ok(_permit) => Ok(()),
                    Err(_) => Err(io::ErrorKind::BrokenPipe.into()),
                },
            }
        };
        tokio::time::timeout(timeout, ready)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }

    /// Returns when the client has gone: it closed its side of the socket, or hyper dropped
    /// the body (the connection ended).
    pub(super) async fn closed(&self) {
        match self {
            Out::Socket(tcp, _) => hung_up(tcp).await,
            Out::Body(chunks) => chunks.closed().await,
        }
    }
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
pub(super) struct Quiet {
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

#[cfg(test)]
mod tests {
    use super::{Encoded, Framing, Stamped, next_start};
    use crate::hub::Event;
    use crate::hub::EventKind;
    use app::wire::protocol::EventId;
    use std::sync::Arc;

    /// The buffer is reused only for the very same event: members with their own selection get
    /// their own payload even when their event has the frame's id, and a shared payload that
    /// comes back after one of theirs is encoded again.
    #[test]
    fn an_encoded_event_is_reused_only_for_the_same_event() {
        let event = |kind, seq, data: &Arc<str>| Event::market(kind, EventId::new(0x7e57, seq), data.clone());
        let shared: Arc<str> = r#"{"seq":5,"quotes":["all"]}"#.into();
        let own: Arc<str> = r#"{"seq":5,"quotes":["AAPL"]}"#.into();
        let same_text: Arc<str> = r#"{"seq":5,"quotes":["all"]}"#.into();
        let next: Arc<str> = r#"{"seq":6,"quotes":["all"]}"#.into();
        let mut encoded = Encoded::default();
        for event in [
            event(EventKind::Tick, 5, &shared),
            event(EventKind::Tick, 5, &shared),
            event(EventKind::Tick, 5, &own),
            event(EventKind::Tick, 5, &shared),
            event(EventKind::Tick, 5, &same_text),
            event(EventKind::Resync, 5, &shared),
            event(EventKind::Tick, 6, &next),
            event(EventKind::Tick, 6, &shared),
        ] {
            assert_eq!(
                encoded.of(Framing::Sse, &event),
                super::super::sse::event_bytes(&event).as_slice(),
                "{event:?}"
            );
        }
    }

    /// A signed-in stream's event is encoded with its private position, and those bytes serve
    /// every stream at that position, never another.
    #[test]
    fn stamped_events_are_shared_only_at_the_same_position() {
        let shared: Arc<str> = r#"{"seq":5}"#.into();
        let at = |private, seq| Event {
            private: Some(private),
            ..Event::market(EventKind::Tick, EventId::new(0x7e57, seq), shared.clone())
        };
        let mut stamped = Stamped::default();
        for event in [at(3, 5), at(3, 5), at(4, 5), at(3, 5), at(4, 6), at(3, 5)] {
            let bytes = stamped.of(Framing::Sse, &event).to_vec();
            assert_eq!(bytes, super::super::sse::event_bytes(&event), "{event:?}");
            let ws = stamped.of(Framing::Ws, &event).to_vec();
            let mut expected = Vec::new();
            super::super::ws::encode_event(&event, &mut expected);
            assert_eq!(ws, expected);
        }
    }

    /// Within one cycle of passes the starts visit the whole ring with no gap wider than one
    /// step, so every seat's position in the pass goes through every value: nobody is always
    /// last.
    #[test]
    fn pass_starts_creep_round_the_ring() {
        assert_eq!(next_start(0, 0), 0);
        assert_eq!(next_start(0, 1), 0);
        for seats in [2usize, 3, 10, 63, 64, 1_000, 10_007] {
            let step = (seats / 64).max(1);
            let mut start = 0;
            let mut starts = vec![0];
            for _ in 1..seats.div_ceil(step) {
                start = next_start(start, seats);
                starts.push(start);
            }
            starts.sort_unstable();
            starts.dedup();
            let widest = starts
                .windows(2)
                .map(|w| w[1] - w[0])
                .chain([seats - starts[starts.len() - 1]])
                .max();
            assert!(widest <= Some(step), "{seats} seats: a gap of {widest:?}");
        }
    }
}
