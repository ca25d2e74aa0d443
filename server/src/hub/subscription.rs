//! One subscriber's cursor over the hub: where it starts (snapshot, replay or resync), then live
//! frames, with lag and discontinuities turned into a `resync`.

use super::frame::Frame;
use super::selection::Selection;
use super::{Event, EventKind, Hub};
use app::wire::protocol::EventId;
use app::wire::protocol::Snapshot;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

/// Where a new subscription starts, decided from its resume point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A fresh client: a snapshot, then live frames.
    Snapshot,
    /// Replay the frames after `after` from history, then live frames.
    Replay { after: u64 },
    /// The resume point is a little ahead of this hub (another edge of the same bus got there
    /// first): skip live frames up to `until` as they arrive, then carry on from there.
    Ahead { until: u64 },
    /// The resume point cannot be honoured exactly: a resync snapshot, then live frames.
    Resync,
}

/// Decides how to start a subscription resuming from `from`, given this run's `epoch`, the
/// oldest frame still in history (`oldest`, if any), the last published sequence number, and
/// how many frames ahead of `last` a resume point may be (`lead`: 0 where ids come from this
/// hub, so a later one was never issued).
pub fn decide_start(from: Option<EventId>, epoch: u64, oldest: Option<u64>, last: u64, lead: u64) -> Start {
    let Some(from) = from else {
        return Start::Snapshot;
    };
    if from.epoch != epoch {
        return Start::Resync;
    }
    if from.seq > last {
        return if from.seq - last <= lead {
            Start::Ahead { until: from.seq }
        } else {
            Start::Resync
        };
    }
    // Every frame after `from` must still be in the ring (none when `from` is the last one).
    let complete = from.seq == last || oldest.is_some_and(|oldest| oldest <= from.seq + 1);
    if complete {
        Start::Replay { after: from.seq }
    } else {
        Start::Resync
    }
}

/// What a subscription's live receiver gave.
pub(super) enum Live {
    Frame(Arc<Frame>),
    Lagged,
}

/// One subscriber's view of the feed: an initial snapshot or replay, then live frames, with
/// lag turned into a resync. Dropping it unsubscribes.
pub struct Subscription {
    pub(super) hub: Arc<Hub>,
    pub(super) selection: Selection,
    pub(super) rx: broadcast::Receiver<Arc<Frame>>,
    pub(super) initial: Option<Event>,
    /// Frames still to replay from history, fetched a batch at a time (see [`Replay`]).
    pub(super) replay: Option<Replay>,
    /// The epoch of what was sent so far.
    pub(super) epoch: u64,
    /// Frames up to this seq are accounted for (sent, filtered out, queued for replay, or
    /// covered by a snapshot); the next live frame must be `seen + 1`.
    pub(super) seen: u64,
}

/// The part of history a resuming subscriber still has to replay: frames `next..=until` of its
/// epoch. They are taken from the hub's history a batch at a time, as the subscriber is served,
/// so that subscribing costs the same whatever the history's length: a storm of clients resuming
/// from old ids does no work in proportion to the history under the hub's lock.
pub(super) struct Replay {
    pub(super) next: u64,
    pub(super) until: u64,
    batch: VecDeque<Arc<Frame>>,
}

/// Frames taken from history per visit to the hub's lock.
const REPLAY_BATCH: usize = 64;

impl Replay {
    pub(super) fn new(after: u64, until: u64) -> Self {
        Replay {
            next: after + 1,
            until,
            batch: VecDeque::new(),
        }
    }
}

/// A snapshot taken under the hub's lock: the encoded event data of the whole market at this
/// frame when another subscriber has already encoded it (a reconnect storm, or every client
/// resynced by the same frame), else a copy of the selected quotes, encoded after the lock is
/// released by [`snapshot_event`].
pub(super) enum Taken {
    Encoded(EventId, Arc<str>),
    /// The snapshot at that id, and whether it is the whole market's (then cached once encoded).
    Copied(EventId, Snapshot, bool),
}

impl Hub {
    /// Takes the snapshot of `selection` at the current frame (`st` is the locked state).
    pub(super) fn take_snapshot_locked(&self, st: &super::State, selection: &Selection) -> Taken {
        let id = EventId::new(st.epoch, st.seq);
        let whole = selection.is_whole_market();
        if whole {
            let cache = self.encoded_snapshot.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, data)) = cache.as_ref().filter(|(at, _)| *at == id) {
                return Taken::Encoded(*at, data.clone());
            }
        }
        Taken::Copied(id, self.snapshot_locked(st, selection), whole)
    }

    /// The event for a taken snapshot, encoded at most once per frame for the whole market.
    pub(super) fn snapshot_event(&self, taken: Taken, kind: EventKind) -> Event {
        match taken {
            Taken::Encoded(id, data) => Event::market(kind, id, data),
            Taken::Copied(id, snapshot, whole) => {
                let data: Arc<str> = serde_json::to_string(&snapshot).expect("snapshot serialises").into();
                if whole {
                    *self.encoded_snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some((id, data.clone()));
                }
                Event::market(kind, id, data)
            }
        }
    }
}

impl Subscription {
    /// The next event. Never ends by itself: the caller stops on shutdown or disconnect.
    pub async fn next(&mut self) -> Event {
        loop {
            if let Some(event) = self.try_next() {
                return event;
            }
            let live = match self.rx.recv().await {
                Ok(frame) => Live::Frame(frame),
                Err(RecvError::Lagged(_)) => Live::Lagged,
                // The hub (and its sender) lives as long as any subscription: never closed.
                Err(RecvError::Closed) => std::future::pending().await,
            };
            if let Some(event) = self.accept(live) {
                return event;
            }
        }
    }

    /// The next event if one is ready, without waiting (and without registering to be woken:
    /// a fan-out task calls this for thousands of subscriptions per frame).
    pub fn try_next(&mut self) -> Option<Event> {
        if let Some(event) = self.initial.take() {
            return Some(event);
        }
        while let Some(replay) = &mut self.replay {
            if replay.batch.is_empty() {
                if replay.next > replay.until {
                    self.replay = None;
                    break;
                }
                match self
                    .hub
                    .history_from(self.epoch, replay.next, replay.until, REPLAY_BATCH)
                {
                    Some(batch) => replay.batch = batch,
                    // Gone from history meanwhile (a long replay behind a fast market): the
                    // exact resume is no longer possible.
                    None => {
                        self.replay = None;
                        return Some(self.resync());
                    }
                }
            }
            if let Some(frame) = replay.batch.pop_front() {
                replay.next = frame.seq + 1;
                if let Some(event) = self.tick(&frame) {
                    return Some(event);
                }
            }
        }
        loop {
            let live = match self.rx.try_recv() {
                Ok(frame) => Live::Frame(frame),
                Err(TryRecvError::Lagged(_)) => Live::Lagged,
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            };
            if let Some(event) = self.accept(live) {
                return Some(event);
            }
        }
    }

    /// Turns what the live channel gave into an event, if it makes one.
    fn accept(&mut self, live: Live) -> Option<Event> {
        match live {
            Live::Frame(frame) if frame.epoch == self.epoch && frame.seq <= self.seen => None,
            Live::Frame(frame) if frame.epoch == self.epoch && frame.seq == self.seen + 1 => {
                self.seen = frame.seq;
                self.tick(&frame)
            }
            // A new epoch or a gap (the hub was reset): never pass it on silently.
            Live::Frame(_) => Some(self.resync()),
            Live::Lagged => {
                self.hub.metrics.lagged.inc();
                Some(self.resync())
            }
        }
    }

    /// A `resync` snapshot of the current state; the frames it covers are then skipped.
    fn resync(&mut self) -> Event {
        let st = self.hub.lock();
        let taken = self.hub.take_snapshot_locked(&st, &self.selection);
        self.epoch = st.epoch;
        self.seen = st.seq;
        drop(st);
        self.hub.metrics.resyncs.inc();
        self.hub.snapshot_event(taken, EventKind::Resync)
    }

    /// Switches to `selection` without resubscribing: returns a `snapshot` of the new selection
    /// at the current frame; frames up to it are then skipped (the snapshot covers them).
    pub fn reselect(&mut self, selection: Selection) -> Event {
        self.selection = selection;
        self.replay = None;
        self.initial = None;
        let st = self.hub.lock();
        let taken = self.hub.take_snapshot_locked(&st, &self.selection);
        self.epoch = st.epoch;
        self.seen = st.seq;
        drop(st);
        self.hub.snapshot_event(taken, EventKind::Snapshot)
    }

    fn tick(&self, frame: &Frame) -> Option<Event> {
        let data = frame.payload(&self.selection)?;
        Some(Event::market(
            EventKind::Tick,
            EventId::new(frame.epoch, frame.seq),
            data,
        ))
    }

    /// Takes every event available without waiting (for long polling and tests).
    pub fn drain_ready(&mut self) -> Vec<Event> {
        self.take_ready(usize::MAX)
    }

    /// Takes up to `max` events available without waiting; the rest stay for the next call.
    pub fn take_ready(&mut self, max: usize) -> Vec<Event> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.try_next() {
                Some(event) => out.push(event),
                None => break,
            }
        }
        out
    }

    /// The hub it follows.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The current selection.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }
}
