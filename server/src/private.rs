//! The private channel: each signed-in user's own events, carried on the same connection as the
//! market (one connection per tab), with the market's guarantees: ordered, resumed exactly, and
//! an explicit resync beyond what is kept.
//!
//! Transport-free and store-free, like the hub. A user's events are numbered by the store (the
//! account's revision, bumped in the transaction that makes the change, so numbers are global
//! across nodes and never reused); [`Channels::publish`] files each in the user's [`Log`], which
//! keeps the newest [`KEPT`]. A stream of that user holds a [`Cursor`]: the number of the last
//! event it carried. Its fan-out group asks it for the next event at every pass (every market
//! frame), so a change reaches every tab of the user within one frame, without a task or a
//! wake-up per stream: a cursor whose user has nothing new costs one atomic load.
//!
//! Exactness: a cursor takes events strictly in order. An event it lacks (still on its way from
//! another node, lost, or older than the log keeps) is waited for at most [`GAP_WAIT`]; then the
//! cursor jumps to the newest position with the user's newest `account` event, sent as a resync.
//! Account events carry the whole state (see [`app::wire::account`]), so that one is all a client
//! needs of them; of the notifications it skipped, the resync tells it to read its inbox again
//! (`/api/notifications`, which keeps them for days). A fresh stream starts the same way, with the
//! account's state at the newest position.
//!
//! Sessions: a cursor belongs to one session; [`Channels::end_session`] (sign-out) stops every
//! cursor of that session at once and wakes the connections holding them, which then close.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Events kept per user for resuming streams.
pub const KEPT: usize = 64;
/// Users whose logs a node keeps at most; past it, those with no open stream go first, oldest
/// first.
pub const USERS_KEPT: usize = 10_000;
/// Sessions with streams a node tracks before it first sweeps out those whose streams ended.
const SESSIONS_SWEPT_FROM: usize = 1_024;
/// How long a cursor waits for an event it lacks before it resyncs to the newest.
pub const GAP_WAIT: Duration = Duration::from_secs(1);

/// One private event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateEvent {
    /// The user's event number: increasing, never reused.
    pub seq: u64,
    /// The SSE event name (`account`).
    pub kind: &'static str,
    /// JSON.
    pub data: Arc<str>,
}

/// What one node tells the others of its users (through the market bus): an event its store
/// committed, or a session that ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relayed {
    Event {
        user: i64,
        event: PrivateEvent,
    },
    /// The hash of the session's id.
    Ended {
        session: String,
    },
    /// An alert was created, changed or deleted in the store: the node that evaluates alerts
    /// reads it again (see `alerting`).
    Alert {
        id: i64,
    },
}

/// What a cursor hands its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub event: PrivateEvent,
    /// The cursor skipped events (or had none to resume from): the event stands for them all.
    pub resync: bool,
}

/// One user's newest events.
#[derive(Default)]
pub struct Log {
    /// The newest event's number (0: none known yet), readable without the lock.
    latest: AtomicU64,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    events: VecDeque<PrivateEvent>,
    /// The newest `account` event, kept even once it leaves `events`: what a resync carries.
    account: Option<PrivateEvent>,
}

/// The kind of event that carries the user's whole state.
const ACCOUNT: &str = app::wire::account::EVENT_ACCOUNT;

impl Log {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Files `event` in order; an event already held, or older than what is kept, is ignored.
    fn insert(&self, event: PrivateEvent) {
        let mut kept = self.lock();
        if event.kind == ACCOUNT && kept.account.as_ref().is_none_or(|a| a.seq < event.seq) {
            kept.account = Some(event.clone());
        }
        let events = &mut kept.events;
        if events.iter().any(|e| e.seq == event.seq) {
            return;
        }
        if events.len() >= KEPT && events.front().is_some_and(|e| e.seq > event.seq) {
            return;
        }
        let at = events.partition_point(|e| e.seq < event.seq);
        events.insert(at, event);
        while events.len() > KEPT {
            events.pop_front();
        }
        if let Some(newest) = events.back() {
            self.latest.fetch_max(newest.seq, Ordering::Release);
        }
    }

    pub fn latest(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }

    /// Whether the log knows the user's state (an `account` event), so a stream can start.
    pub fn has_account(&self) -> bool {
        self.lock().account.is_some()
    }
}

/// What the store says of a user when a stream opens on a node whose log may lack them: the
/// newest `account` event and the number of the newest event of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    pub account: PrivateEvent,
    pub latest: u64,
}

/// A session's open streams: ended at sign-out.
#[derive(Default)]
pub struct SessionWatch {
    ended: AtomicBool,
    notify: Notify,
}

impl SessionWatch {
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Returns once the session has ended.
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.ended() {
                return;
            }
            notified.await;
        }
    }

    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

struct Entry {
    log: Arc<Log>,
    touched: Instant,
}

#[derive(Default)]
struct Inner {
    users: HashMap<i64, Entry>,
    /// Session (the hash of its id) → the watches of its open streams.
    sessions: HashMap<String, Vec<Weak<SessionWatch>>>,
    /// `sessions` is swept of sessions without an open stream when it grows past this (then set
    /// to twice what remains): it holds about as many sessions as have streams open, not every
    /// session that ever had one.
    sweep_at: usize,
}

/// Every user's log on this node, and the sessions with open streams. Share it as `Arc`.
#[derive(Default)]
pub struct Channels {
    inner: Mutex<Inner>,
}

impl Channels {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `user`'s log, if this node has one.
    pub fn log(&self, user: i64) -> Option<Arc<Log>> {
        self.lock().users.get(&user).map(|e| e.log.clone())
    }

    /// `user`'s log, made (empty) if this node has none.
    fn log_or_new(&self, user: i64) -> Arc<Log> {
        let mut inner = self.lock();
        if let Some(entry) = inner.users.get_mut(&user) {
            entry.touched = Instant::now();
            return entry.log.clone();
        }
        if inner.users.len() >= USERS_KEPT {
            evict(&mut inner.users);
        }
        let log = Arc::new(Log::default());
        inner.users.insert(
            user,
            Entry {
                log: log.clone(),
                touched: Instant::now(),
            },
        );
        log
    }

    /// Files one of `user`'s events (from this node's store writes or another node's, through
    /// the bus); every stream of the user carries it at its next pass.
    pub fn publish(&self, user: i64, event: PrivateEvent) {
        self.log_or_new(user).insert(event);
    }

    /// A cursor on `user`'s events for a stream of `session` that last carried `after` (none:
    /// a fresh stream, which gets the newest event first). `current` is the user's newest event
    /// as the store has it, when it could be read: it seeds a log that lacks it.
    pub fn cursor(&self, user: i64, session: &str, after: Option<u64>, current: Option<Seed>) -> Cursor {
        let log = self.log_or_new(user);
        if let Some(Seed { account, latest }) = current {
            // The store is the truth: a client ahead of it (another user's id, a restored
            // database) is resynced at once rather than after a wait.
            let ahead = after.is_some_and(|a| a > latest);
            log.insert(account);
            // Events up to `latest` exist even if this log never saw them (notifications of
            // before a restart): a stream that has them all waits for the next one.
            log.latest.fetch_max(latest, Ordering::AcqRel);
            if ahead {
                let mut cursor = self.watched(session, log, None);
                (cursor.at, cursor.resync_first) = (None, true);
                return cursor;
            }
        }
        self.watched(session, log, after)
    }

    fn watched(&self, session: &str, log: Arc<Log>, at: Option<u64>) -> Cursor {
        let watch = Arc::new(SessionWatch::default());
        let mut inner = self.lock();
        if inner.sessions.len() >= inner.sweep_at {
            inner.sessions.retain(|_, watches| {
                watches.retain(|w| w.strong_count() > 0);
                !watches.is_empty()
            });
            inner.sweep_at = (inner.sessions.len() * 2).max(SESSIONS_SWEPT_FROM);
        }
        let watches = inner.sessions.entry(session.to_string()).or_default();
        watches.retain(|w| w.strong_count() > 0);
        watches.push(Arc::downgrade(&watch));
        // A fresh stream starts at the position the user is at now: with nothing yet, it takes
        // every event in order from the first; else the state at that position comes first.
        let now_at = log.latest();
        let (at, start) = match at {
            None if now_at == 0 => (Some(0), 0),
            at => (at, now_at),
        };
        Cursor {
            log,
            watch,
            at,
            start,
            resync_first: false,
            gap_since: None,
        }
    }

    /// Ends every open stream of `session` (its hash): their cursors carry nothing more, and
    /// their connections are woken to close.
    pub fn end_session(&self, session: &str) {
        let watches = self.lock().sessions.remove(session).unwrap_or_default();
        for watch in watches.iter().filter_map(Weak::upgrade) {
            watch.end();
        }
    }

    /// Users with a log on this node.
    pub fn users(&self) -> usize {
        self.lock().users.len()
    }
}

/// Makes room for one more log: the oldest-touched user without an open stream goes (or the
/// oldest of all, when every user has one).
fn evict(users: &mut HashMap<i64, Entry>) {
    let idle = users
        .iter()
        .filter(|(_, e)| Arc::strong_count(&e.log) == 1)
        .min_by_key(|(_, e)| e.touched)
        .or_else(|| users.iter().min_by_key(|(_, e)| e.touched))
        .map(|(&user, _)| user);
    if let Some(user) = idle {
        users.remove(&user);
    }
}

/// One stream's place in its user's events.
pub struct Cursor {
    log: Arc<Log>,
    watch: Arc<SessionWatch>,
    /// The last event carried (`None`: nothing yet; the newest comes first).
    at: Option<u64>,
    /// Whether the first event is a resync (the client's own position meant nothing here).
    resync_first: bool,
    /// The user's newest event when the cursor was made: where a fresh stream starts.
    start: u64,
    /// Since when the next event has been missing while a later one is there.
    gap_since: Option<Instant>,
}

impl Cursor {
    /// The last event carried.
    pub fn at(&self) -> Option<u64> {
        self.at
    }

    /// The session's watch: ended at sign-out.
    pub fn watch(&self) -> &Arc<SessionWatch> {
        &self.watch
    }

    /// The next event to carry, if one is ready (see the module's docs).
    pub fn try_next(&mut self) -> Option<Delivery> {
        // The clock is read only when an event is missing: every stream asks at every frame,
        // and nearly always there is nothing new.
        self.try_next_with(Instant::now)
    }

    #[cfg(test)]
    fn try_next_at(&mut self, now: Instant) -> Option<Delivery> {
        self.try_next_with(|| now)
    }

    fn try_next_with(&mut self, now: impl Fn() -> Instant) -> Option<Delivery> {
        if self.watch.ended() {
            return None;
        }
        let latest = self.log.latest();
        if latest == 0 || self.at == Some(latest) {
            return None;
        }
        let kept = self.log.lock();
        let events = &kept.events;
        // The newest position, with the user's state: the newest event if it is an account
        // event, else the newest account event renumbered to it (see the module's docs).
        let newest = |resync: bool| {
            let event = match (events.back(), &kept.account) {
                (Some(e), _) if e.kind == ACCOUNT && e.seq >= latest => e.clone(),
                (_, Some(account)) => PrivateEvent {
                    seq: latest,
                    ..account.clone()
                },
                (Some(e), None) => e.clone(),
                (None, None) => return None,
            };
            Some(Delivery { event, resync })
        };
        let delivery = match self.at {
            // A fresh stream: the state at its start (what came after follows in order); a
            // client ahead of the store: the state now.
            None if !self.resync_first && self.start > 0 => {
                let event = match &kept.account {
                    Some(account) => PrivateEvent {
                        seq: self.start,
                        ..account.clone()
                    },
                    None => events.iter().find(|e| e.seq >= self.start)?.clone(),
                };
                Some(Delivery { event, resync: false })
            }
            None => newest(self.resync_first),
            Some(at) => match events.iter().find(|e| e.seq == at + 1) {
                Some(next) => Some(Delivery {
                    event: next.clone(),
                    resync: false,
                }),
                None => {
                    let now = now();
                    let since = *self.gap_since.get_or_insert(now);
                    let trimmed = events.front().is_some_and(|e| e.seq > at + 1) && at < latest;
                    (trimmed || now.duration_since(since) >= GAP_WAIT)
                        .then(|| newest(true))
                        .flatten()
                }
            },
        }?;
        drop(kept);
        self.gap_since = None;
        self.at = Some(delivery.event.seq);
        Some(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(seq: u64) -> Seed {
        Seed {
            account: event(seq),
            latest: seq,
        }
    }

    fn notification(seq: u64) -> PrivateEvent {
        PrivateEvent {
            seq,
            kind: "notification",
            data: format!("{{\"id\":{seq}}}").into(),
        }
    }

    /// Notifications are numbered among the account events; a stream that starts, or resyncs,
    /// gets the user's state (the newest account event) at the newest position, never a lone
    /// notification standing for what it skipped.
    #[test]
    fn a_start_or_a_resync_carries_the_account_at_the_newest_position() {
        let channels = Channels::default();
        channels.publish(1, event(1));
        channels.publish(1, notification(2));
        let now = Instant::now();
        let mut fresh = channels.cursor(1, "s", None, None);
        let first = fresh.try_next_at(now).unwrap();
        assert_eq!((first.event.seq, first.event.kind, first.resync), (2, "account", false));
        assert_eq!(&*first.event.data, "{\"n\":1}");
        channels.publish(1, notification(3));
        assert_eq!(fresh.try_next_at(now).unwrap().event, notification(3));
        // Past what is kept: the resync is the account, at the newest number.
        for seq in 4..(5 + KEPT as u64) {
            channels.publish(1, notification(seq));
        }
        let mut behind = channels.cursor(1, "s", Some(3), None);
        let resync = behind.try_next_at(now).unwrap();
        assert_eq!(
            (resync.event.seq, resync.event.kind, resync.resync),
            (4 + KEPT as u64, "account", true)
        );
        // A store that knows of events this log never saw (before a restart): a stream that has
        // them all waits for the next one, and one ahead of the store resyncs.
        let restarted = Channels::default();
        let seed = Seed {
            account: event(5),
            latest: 9,
        };
        let mut current = restarted.cursor(2, "s", Some(9), Some(seed.clone()));
        assert_eq!(current.try_next_at(now), None);
        restarted.publish(2, notification(10));
        assert_eq!(current.try_next_at(now).unwrap().event, notification(10));
        let mut ahead = restarted.cursor(2, "s", Some(11), Some(seed));
        let resync = ahead.try_next_at(now).unwrap();
        assert_eq!(
            (resync.event.seq, resync.event.kind, resync.resync),
            (10, "account", true)
        );
    }

    fn event(seq: u64) -> PrivateEvent {
        PrivateEvent {
            seq,
            kind: "account",
            data: format!("{{\"n\":{seq}}}").into(),
        }
    }

    fn seqs(cursor: &mut Cursor, now: Instant) -> Vec<(u64, bool)> {
        std::iter::from_fn(|| cursor.try_next_at(now))
            .map(|d| (d.event.seq, d.resync))
            .collect()
    }

    #[test]
    fn a_cursor_carries_every_event_after_its_own_once_in_order() {
        let channels = Channels::default();
        for seq in 1..=3 {
            channels.publish(7, event(seq));
        }
        let now = Instant::now();
        let mut resumed = channels.cursor(7, "s", Some(1), None);
        assert_eq!(seqs(&mut resumed, now), [(2, false), (3, false)]);
        assert_eq!(seqs(&mut resumed, now), []);
        // Out of order from the bus: 5 waits for 4, then both go in order.
        channels.publish(7, event(5));
        assert_eq!(seqs(&mut resumed, now), []);
        channels.publish(7, event(4));
        channels.publish(7, event(4));
        assert_eq!(seqs(&mut resumed, now), [(4, false), (5, false)]);
        // A fresh stream gets the newest first, then what follows.
        let mut fresh = channels.cursor(7, "t", None, None);
        assert_eq!(seqs(&mut fresh, now), [(5, false)]);
        channels.publish(7, event(6));
        assert_eq!(seqs(&mut fresh, now), [(6, false)]);
        // Another user's events never reach it.
        channels.publish(8, event(7));
        assert_eq!(seqs(&mut fresh, now), []);
    }

    #[test]
    fn a_gap_waits_then_resyncs_to_the_newest() {
        let channels = Channels::default();
        channels.publish(1, event(1));
        let mut cursor = channels.cursor(1, "s", Some(1), None);
        channels.publish(1, event(3));
        let t0 = Instant::now();
        assert_eq!(seqs(&mut cursor, t0), [], "2 may still come");
        assert_eq!(seqs(&mut cursor, t0 + GAP_WAIT / 2), []);
        assert_eq!(seqs(&mut cursor, t0 + GAP_WAIT), [(3, true)]);
        // Beyond what is kept: at once.
        for seq in 4..=(4 + KEPT as u64) {
            channels.publish(1, event(seq));
        }
        let mut old = channels.cursor(1, "s", Some(2), None);
        assert_eq!(seqs(&mut old, t0), [(4 + KEPT as u64, true)]);
    }

    #[test]
    fn the_store_seeds_a_log_and_resyncs_a_client_ahead_of_it() {
        let channels = Channels::default();
        let now = Instant::now();
        // A node that restarted: the log is empty, the store says 9.
        let mut behind = channels.cursor(1, "s", Some(4), Some(seed(9)));
        assert_eq!(seqs(&mut behind, now), [(9, true)]);
        let mut current = channels.cursor(1, "s", Some(9), Some(seed(9)));
        assert_eq!(seqs(&mut current, now), []);
        let mut ahead = channels.cursor(1, "s", Some(12), Some(seed(9)));
        assert_eq!(seqs(&mut ahead, now), [(9, true)]);
    }

    #[tokio::test]
    async fn ending_a_session_stops_its_cursors_and_wakes_their_streams() {
        let channels = Arc::new(Channels::default());
        channels.publish(1, event(1));
        let mut mine = channels.cursor(1, "mine", None, None);
        let mut other = channels.cursor(1, "other", None, None);
        let watch = mine.watch().clone();
        let woken = tokio::spawn(async move { watch.wait().await });
        tokio::task::yield_now().await;
        channels.end_session("mine");
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mine.try_next(), None, "nothing after sign-out");
        assert_eq!(
            other.try_next().map(|d| d.event.seq),
            Some(1),
            "another session carries on"
        );
    }

    #[test]
    fn sessions_whose_streams_ended_are_forgotten() {
        let channels = Channels::default();
        let open = channels.cursor(1, "open", None, None);
        for n in 0..3 * SESSIONS_SWEPT_FROM {
            drop(channels.cursor(1, &format!("gone {n}"), None, None));
        }
        let tracked = channels.lock().sessions.len();
        assert!(tracked <= SESSIONS_SWEPT_FROM, "{tracked}");
        assert!(channels.lock().sessions.contains_key("open"));
        channels.end_session("open");
        assert!(open.watch().ended());
    }

    #[test]
    fn logs_are_bounded() {
        let channels = Channels::default();
        let kept = channels.cursor(0, "s", None, None);
        for user in 1..=(USERS_KEPT as i64 + 5) {
            channels.publish(user, event(1));
        }
        assert_eq!(channels.users(), USERS_KEPT);
        assert!(channels.log(0).is_some(), "a user with an open stream is kept");
        drop(kept);
        let log = channels.log(1).map(|l| l.lock().events.len());
        assert_eq!(log, None, "the oldest idle user went first");
    }
}
