//! Live events of SSE streams, written by one fan-out task per runtime worker instead of a
//! task per client.
//!
//! Why: with a task per client, every frame woke 1 000 tasks at 10 Hz, and each wake-up (the
//! broadcast's notify, the run queue, a `select!` over shutdown, read readiness and a keep-alive
//! timer, then the write) cost about a fifth of the server's CPU per event, and so a fifth of the
//! time it takes to get a frame to the last client (BENCHMARKS.md, "One fan-out task"). A group
//! wakes once per frame and, for each member, takes the ready events of the member's own
//! [`Subscription`] with [`Subscription::try_next`] and writes each with one non-blocking
//! `write` of one contiguous buffer, encoded once per frame for all the members it suits
//! ([`Encoded`]). Each member keeps its own subscription (cursor, selection, lag and resync), so a
//! client gets exactly the events its own task would have sent it.
//!
//! Members that joined less than [`PROBATION`] ago are served after the others in every pass:
//! a crowd of new streams arriving at once (a flood of clients that never read, or just a busy
//! minute) cannot delay the ticks of those already watching; the newcomers get theirs a pass
//! later in the same frame.
//!
//! A member whose socket cannot take a whole event is handed back to its connection's task
//! with the bytes that did not fit ([`Member::pending`]); that task waits until the socket
//! drains, catches up and rejoins. A slow client never holds up a group, and no client's bytes
//! are dropped. The connection's task also watches for the client hanging up, which ends the
//! membership at the group's next pass.

use super::{KEEP_ALIVE, Out, Quiet, encode_event, keepalive_ticks};
use crate::hub::{Event, EventKind, Frame, Hub, Subscription};
use crate::metrics::ClientGuard;
use app::wire::protocol::EventId;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::{Notify, mpsc, oneshot};
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
    returned: bool,
}

impl Joined {
    /// The member, once its group hands it back (its socket is full); `None` if the group
    /// dropped it (a failed write, or shutdown).
    pub(super) async fn handed_back(&mut self) -> Option<Member> {
        let member = (&mut self.back).await.ok();
        self.returned = true;
        member
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

/// One direct stream, as its group holds it.
pub(super) struct Member {
    /// Where its bytes go: its socket, or hyper's body for a stream on a reused connection.
    pub out: Out,
    pub subscription: Subscription,
    pub client: ClientGuard,
    pub quiet: Quiet,
    /// Bytes to write before anything else: the response head at first, then the rest of an
    /// event the socket could not take whole.
    pub pending: Vec<u8>,
}

/// A member in its group, with the way back to its connection's task.
struct Seat {
    member: Member,
    back: oneshot::Sender<Member>,
    joined: Instant,
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
        // A send fails only once the group has stopped (shutdown): dropping the seat then
        // fails the receiver, and the connection ends.
        let _ = group.joins.send(Seat {
            member,
            back,
            joined: Instant::now(),
        });
        Joined {
            back: receiver,
            left: group.left.clone(),
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
                    encoded: Encoded::default(),
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
    /// The last event encoded, shared by the members that get the same one.
    encoded: Encoded,
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
    /// Its socket is full: back to its connection's task, with the unwritten bytes.
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
                () = shutdown.cancelled() => return,
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
                    for tier in [ESTABLISHED, NEW] {
                        self.pass(tier, 0, false, Self::keep_alive).await;
                    }
                }
                // A pass drops the seats whose connection has ended.
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
    async fn pass(&mut self, tier: usize, start: usize, wrap: bool, visit: fn(&mut Encoded, &mut Member) -> Outcome) {
        let len = self.seats[tier].len();
        let start = start.min(len);
        let wrapped = if wrap { 0..start } else { 0..0 };
        for i in (start..len).chain(wrapped) {
            let seat = &mut self.seats[tier][i];
            let outcome = if seat.back.is_closed() {
                // Its connection's task has ended: the client hung up or the server is stopping.
                Outcome::Drop
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
                self.hub.metrics().sse_direct_stalls.inc();
                let _ = seat.back.send(seat.member);
            }
        }
    }

    /// Writes every event the member's subscription has ready.
    fn serve(encoded: &mut Encoded, member: &mut Member) -> Outcome {
        while let Some(event) = member.subscription.try_next() {
            member.quiet.event();
            member.client.delivered();
            match write_event(&member.out, encoded.of(&event)) {
                Ok(None) => {}
                Ok(Some(rest)) => {
                    member.pending = rest;
                    return Outcome::HandBack;
                }
                Err(_) => return Outcome::Drop,
            }
        }
        Outcome::Keep
    }

    /// A keep-alive comment if the member's stream has been quiet since the previous tick.
    fn keep_alive(_: &mut Encoded, member: &mut Member) -> Outcome {
        if !member.quiet.tick() {
            return Outcome::Keep;
        }
        match member.out.try_write(KEEP_ALIVE) {
            Ok(n) if n == KEEP_ALIVE.len() => Outcome::Keep,
            Ok(n) => {
                member.pending = KEEP_ALIVE[n..].to_vec();
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

/// The SSE bytes of the last event a group wrote, kept while its members get the same event.
///
/// Why: every member subscribed to all symbols gets the very same event of a frame (same id,
/// same shared payload), so the group encodes it once per frame instead of formatting a head for
/// every member, and writes it as one buffer instead of a three-part `writev` (head, payload,
/// end), which the kernel takes a little faster (BENCHMARKS.md, "The kernel's floor"). A member
/// with its own selection of symbols has its own payload, encoded into the same buffer.
#[derive(Default)]
struct Encoded {
    /// What `bytes` encode: the kind and id, and the payload (held, so its address cannot be
    /// reused by another payload while it is the key).
    key: Option<(EventKind, EventId, Arc<str>)>,
    bytes: Vec<u8>,
}

impl Encoded {
    /// `event` as SSE bytes: the buffer as it is if it already holds `event`, else re-encoded.
    fn of(&mut self, event: &Event) -> &[u8] {
        let same = self
            .key
            .as_ref()
            .is_some_and(|(kind, id, data)| *kind == event.kind && *id == event.id && Arc::ptr_eq(data, &event.data));
        if !same {
            self.bytes.clear();
            encode_event(event, &mut self.bytes);
            self.key = Some((event.kind, event.id, event.data.clone()));
        }
        &self.bytes
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

#[cfg(test)]
mod tests {
    use super::{Encoded, EventId, EventKind, next_start};
    use crate::hub::Event;
    use std::sync::Arc;

    /// The buffer is reused only for the very same event: members with their own selection get
    /// their own payload even when their event has the frame's id, and a shared payload that
    /// comes back after one of theirs is encoded again.
    #[test]
    fn an_encoded_event_is_reused_only_for_the_same_event() {
        let event = |kind, seq, data: &Arc<str>| Event {
            kind,
            id: EventId::new(0x7e57, seq),
            data: data.clone(),
        };
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
                encoded.of(&event),
                super::super::event_bytes(&event).as_slice(),
                "{event:?}"
            );
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
