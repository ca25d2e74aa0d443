//! The fan-out hub: where a tick is fanned out. It owns the sequence numbers, the epoch, the
//! history ring and the live broadcast channel; transports (SSE, WebSocket, long polling) are
//! thin adapters over [`Hub::subscribe`].
//!
//! Frames reach it in one of two ways: [`Hub::publish`] numbers frames itself (the embedded,
//! single-process node), or [`Hub::apply`] takes frames numbered elsewhere (an edge node fed
//! by the market bus, see [`crate::bus`]), with [`Hub::reset`] to start over from a checkpoint
//! when the feed cannot continue seamlessly (a new generator epoch, frames that are gone).
//!
//! Guarantees:
//! - **Encode once.** A frame is serialised to JSON once, when it is published. Subscribers of
//!   every symbol share those bytes; a filtered subscriber splices the pre-encoded quotes it
//!   selected, without serialising anything again.
//! - **No gap between replay and live.** Publishing (ring push + broadcast send) and
//!   subscribing (channel subscribe + ring read) happen under one lock, so each frame is either
//!   in what a new subscriber replays or in its channel, never both and never neither.
//! - **Slow consumers never block the producer.** The live channel holds `live_buffer` frames;
//!   a subscriber that falls further behind gets `Lagged` from tokio's broadcast channel, which
//!   we turn into a `resync` snapshot (and count), then it carries on live. Memory stays bounded
//!   and the lag is never a silent gap.
//! - **No silent discontinuity.** Every subscriber checks that live frames follow each other
//!   within one epoch; after a [`Hub::reset`] (or anything else that breaks the chain) it sends
//!   a `resync` snapshot instead of a gap.

use crate::metrics::Metrics;
use app::candles::{CandleSeries, Interval};
use app::protocol::{EVENT_RESYNC, EVENT_SNAPSHOT, EVENT_TICK, EventId, History, Instrument, Quote, Snapshot};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

/// Candles kept per symbol and interval for `/api/history` (12 minutes of 1 s candles).
pub const CANDLE_CAP: usize = 720;

/// Sizes of the hub's buffers.
#[derive(Clone, Copy, Debug)]
pub struct HubConfig {
    /// Frames kept for resuming clients.
    pub history_frames: usize,
    /// Frames the live channel holds for the slowest subscriber before it is resynced.
    pub live_buffer: usize,
}

/// What a subscriber receives. `data` is JSON, shared where it can be.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub id: EventId,
    pub data: Arc<str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Snapshot,
    Tick,
    Resync,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Snapshot => EVENT_SNAPSHOT,
            EventKind::Tick => EVENT_TICK,
            EventKind::Resync => EVENT_RESYNC,
        }
    }
}

/// One instrument's trade in a frame, as the generator reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// The instrument's index in the universe.
    #[serde(rename = "i")]
    pub index: usize,
    #[serde(rename = "q")]
    pub quote: Quote,
    /// Volume traded in this frame.
    #[serde(rename = "n")]
    pub quantity: u64,
}

/// A frame numbered by the generator, as it travels between nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    pub epoch: u64,
    pub seq: u64,
    pub ts: i64,
    pub trades: Vec<Trade>,
}

/// Why [`Hub::apply`] could not take a frame: it does not follow the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame {got} does not follow {last}")]
pub struct Discontinuity {
    pub last: EventId,
    pub got: EventId,
}

/// What [`Hub::apply`] did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Published,
    /// Already had it (a feed that re-reads after reconnecting): ignored.
    Duplicate,
}

/// Why [`Hub::reset`] refused a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResetError {
    #[error("the checkpoint has no id")]
    NoId,
    #[error("the checkpoint's instruments differ from this node's ({0}); restart the node to follow them")]
    Universe(String),
}

/// A published frame: its JSON (`{"seq":..,"ts":..,"quotes":[..]}`) and where each quote sits
/// in it, so filtered subscribers can splice their subset without re-encoding.
#[derive(Debug)]
pub struct Frame {
    pub epoch: u64,
    pub seq: u64,
    pub ts: i64,
    json: Arc<str>,
    /// (instrument index, byte range of its quote object in `json`), in universe order.
    pieces: Vec<(usize, std::ops::Range<usize>)>,
}

impl Frame {
    fn encode(epoch: u64, seq: u64, ts: i64, trades: &[Trade]) -> Frame {
        let mut json = format!(r#"{{"seq":{seq},"ts":{ts},"quotes":["#);
        let mut pieces = Vec::with_capacity(trades.len());
        for (n, t) in trades.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            let start = json.len();
            // Serialising a plain struct of strings and numbers into a String cannot fail.
            json.push_str(&serde_json::to_string(&t.quote).expect("quote serialises"));
            pieces.push((t.index, start..json.len()));
        }
        json.push_str("]}");
        Frame {
            epoch,
            seq,
            ts,
            json: json.into(),
            pieces,
        }
    }

    /// The tick payload for `selection`, or `None` when none of its instruments moved.
    fn payload(&self, selection: &Selection) -> Option<Arc<str>> {
        let mask = match &selection.mask {
            None if self.pieces.is_empty() => return None,
            None => return Some(self.json.clone()),
            Some(mask) => mask,
        };
        let chosen: Vec<_> = self.pieces.iter().filter(|(i, _)| mask[*i]).collect();
        if chosen.is_empty() {
            return None;
        }
        if chosen.len() == self.pieces.len() {
            return Some(self.json.clone());
        }
        let mut json = String::with_capacity(64 + chosen.iter().map(|(_, r)| r.len() + 1).sum::<usize>());
        json.push_str(&self.json[..self.pieces[0].1.start]);
        for (n, (_, range)) in chosen.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            json.push_str(&self.json[range.clone()]);
        }
        json.push_str("]}");
        Some(json.into())
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

/// Which instruments a subscriber wants: all, or a mask over the universe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    mask: Option<Arc<[bool]>>,
}

impl Selection {
    pub fn all() -> Self {
        Selection { mask: None }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.mask.as_ref().is_none_or(|m| m[index])
    }
}

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

struct State {
    epoch: u64,
    seq: u64,
    ts: i64,
    quotes: Vec<Quote>,
    history: VecDeque<Arc<Frame>>,
    candles: Vec<[CandleSeries; 3]>,
}

/// The single fan-out point of the process. Share it as `Arc<Hub>`.
pub struct Hub {
    config: HubConfig,
    /// See [`Hub::with_resume_lead`].
    resume_lead: u64,
    instruments: Arc<[Instrument]>,
    index: HashMap<String, usize>,
    live: broadcast::Sender<Arc<Frame>>,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// A hub for `instruments` whose current quotes are `quotes` (same order), before frame 1.
    pub fn new(
        epoch: u64,
        instruments: Vec<Instrument>,
        quotes: Vec<Quote>,
        config: HubConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        assert_eq!(instruments.len(), quotes.len(), "one quote per instrument");
        let (live, _) = broadcast::channel(config.live_buffer.max(1));
        let candles = quotes
            .iter()
            .map(|_| Interval::ALL.map(|i| CandleSeries::new(i, CANDLE_CAP)))
            .collect();
        Hub {
            config,
            resume_lead: 0,
            index: instruments
                .iter()
                .enumerate()
                .map(|(i, ins)| (ins.symbol.clone(), i))
                .collect(),
            instruments: instruments.into(),
            live,
            state: Mutex::new(State {
                epoch,
                seq: 0,
                ts: 0,
                quotes,
                history: VecDeque::new(),
                candles,
            }),
            metrics,
        }
    }

    /// Lets clients resume from ids up to `frames` ahead of this hub, by waiting for them: for
    /// an edge node, whose peers on the same bus may have applied a frame or two more when a
    /// client moves over. (A hub that numbers its own frames never issued a later id: it
    /// resyncs such a client.)
    pub fn with_resume_lead(mut self, frames: u64) -> Self {
        self.resume_lead = frames;
        self
    }

    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that matters
        // more than stopping the feed would, so recover the guard.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The id of the last published frame.
    pub fn last_id(&self) -> EventId {
        let st = self.lock();
        EventId::new(st.epoch, st.seq)
    }

    /// Frames held for resuming clients now.
    pub fn history_len(&self) -> usize {
        self.lock().history.len()
    }

    /// Most frames held for resuming clients.
    pub fn history_capacity(&self) -> usize {
        self.config.history_frames
    }

    /// Generation time of the last frame (ms since the Unix epoch; 0 before the first).
    pub fn last_ts(&self) -> i64 {
        self.lock().ts
    }

    /// Resolves a comma-separated symbol list (`None` or empty: all).
    pub fn select(&self, symbols: Option<&str>) -> Result<Selection, SelectError> {
        let Some(list) = symbols.filter(|s| !s.trim().is_empty()) else {
            return Ok(Selection::all());
        };
        let mut mask = vec![false; self.instruments.len()];
        for (n, raw) in list.split(',').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
            if n >= crate::config::MAX_SYMBOLS {
                return Err(SelectError::TooMany {
                    max: crate::config::MAX_SYMBOLS,
                });
            }
            mask[self.lookup(raw)?] = true;
        }
        Ok(Selection {
            mask: Some(mask.into()),
        })
    }

    /// The universe index of a symbol as a client wrote it (trimmed, any case).
    fn lookup(&self, raw: &str) -> Result<usize, SelectError> {
        let symbol = raw.trim().to_ascii_uppercase();
        self.index
            .get(&symbol)
            .copied()
            .ok_or_else(|| SelectError::Unknown(raw.chars().take(32).collect()))
    }

    /// `current` with the symbols of `add` added and those of `remove` taken away.
    pub fn reselect(&self, current: &Selection, add: &[String], remove: &[String]) -> Result<Selection, SelectError> {
        if add.len() + remove.len() > crate::config::MAX_SYMBOLS {
            return Err(SelectError::TooMany {
                max: crate::config::MAX_SYMBOLS,
            });
        }
        let mut mask: Vec<bool> = (0..self.instruments.len()).map(|i| current.contains(i)).collect();
        for (list, value) in [(add, true), (remove, false)] {
            for raw in list {
                mask[self.lookup(raw)?] = value;
            }
        }
        Ok(Selection {
            mask: Some(mask.into()),
        })
    }

    /// Publishes one frame of trades (in universe order) generated at `ts`, numbered next in
    /// this hub's epoch; returns its seq.
    pub fn publish(&self, ts: i64, trades: Vec<Trade>) -> u64 {
        let mut st = self.lock();
        let seq = st.seq + 1;
        self.push_locked(&mut st, seq, ts, trades);
        seq
    }

    /// Takes a frame numbered by the generator: it must be the next of the current epoch. One
    /// already held is a [`Applied::Duplicate`]; anything else is a [`Discontinuity`] (the
    /// caller then starts over with [`Hub::reset`]).
    pub fn apply(&self, record: FrameRecord) -> Result<Applied, Discontinuity> {
        let mut st = self.lock();
        if record.epoch == st.epoch && record.seq <= st.seq {
            return Ok(Applied::Duplicate);
        }
        if record.epoch != st.epoch || record.seq != st.seq + 1 {
            return Err(Discontinuity {
                last: EventId::new(st.epoch, st.seq),
                got: EventId::new(record.epoch, record.seq),
            });
        }
        self.push_locked(&mut st, record.seq, record.ts, record.trades);
        Ok(Applied::Published)
    }

    /// Starts over from `checkpoint` (the quotes at its id) and `frames`, the newest frames of
    /// its epoch in order (the ones after the checkpoint move the quotes on). History keeps the
    /// contiguous run of `frames` that ends with the newest; candles take every frame this hub
    /// had not seen. Subscribers notice the break at the next frame and get a `resync`.
    pub fn reset(&self, checkpoint: Snapshot, frames: Vec<FrameRecord>) -> Result<(), ResetError> {
        let id = checkpoint.id.ok_or(ResetError::NoId)?;
        let same = checkpoint.instruments.len() == self.instruments.len()
            && checkpoint
                .instruments
                .iter()
                .zip(self.instruments.iter())
                .all(|(a, b)| a.symbol == b.symbol);
        if !same || checkpoint.quotes.len() != self.instruments.len() {
            let symbols: Vec<&str> = checkpoint.instruments.iter().map(|i| i.symbol.as_str()).collect();
            return Err(ResetError::Universe(symbols.join(",")));
        }
        let frames: Vec<FrameRecord> = frames.into_iter().filter(|f| f.epoch == id.epoch).collect();
        // The contiguous run that ends with the newest frame.
        let start = (1..frames.len())
            .rev()
            .find(|&k| frames[k].seq != frames[k - 1].seq + 1)
            .unwrap_or(0);
        let mut st = self.lock();
        let (old_epoch, old_seq) = (st.epoch, st.seq);
        st.epoch = id.epoch;
        st.seq = id.seq;
        st.ts = checkpoint.ts;
        st.quotes = checkpoint.quotes;
        st.history.clear();
        for record in &frames[start..] {
            let frame = Arc::new(Frame::encode(record.epoch, record.seq, record.ts, &record.trades));
            let new = record.epoch != old_epoch || record.seq > old_seq;
            for t in &record.trades {
                if new {
                    for series in &mut st.candles[t.index] {
                        series.push(record.ts, t.quote.price, t.quantity);
                    }
                }
                if record.seq > id.seq {
                    st.quotes[t.index] = t.quote.clone();
                }
            }
            if record.seq > st.seq {
                st.seq = record.seq;
                st.ts = record.ts;
            }
            st.history.push_back(frame);
        }
        // Resuming needs every frame up to the current one: a history that stops short of the
        // checkpoint cannot be replayed from.
        if st.history.back().is_some_and(|f| f.seq != st.seq) {
            st.history.clear();
        }
        self.trim_history_locked(&mut st);
        Ok(())
    }

    /// Keeps history within `history_frames` (dropping the oldest) and reports its size.
    fn trim_history_locked(&self, st: &mut State) {
        while st.history.len() > self.config.history_frames {
            st.history.pop_front();
        }
        self.metrics.history.set(st.history.len() as i64);
    }

    fn push_locked(&self, st: &mut State, seq: u64, ts: i64, trades: Vec<Trade>) {
        let frame = Arc::new(Frame::encode(st.epoch, seq, ts, &trades));
        for t in trades {
            for series in &mut st.candles[t.index] {
                series.push(ts, t.quote.price, t.quantity);
            }
            st.quotes[t.index] = t.quote;
        }
        st.seq = seq;
        st.ts = ts;
        st.history.push_back(frame.clone());
        self.trim_history_locked(st);
        self.metrics.frames.inc();
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(frame);
    }

    fn snapshot_locked(&self, st: &State, selection: &Selection) -> Snapshot {
        let chosen = |i: &usize| selection.contains(*i);
        Snapshot {
            id: Some(EventId::new(st.epoch, st.seq)),
            seq: st.seq,
            ts: st.ts,
            instruments: (0..self.instruments.len())
                .filter(chosen)
                .map(|i| self.instruments[i].clone())
                .collect(),
            quotes: (0..st.quotes.len())
                .filter(chosen)
                .map(|i| st.quotes[i].clone())
                .collect(),
        }
    }

    /// The latest quote of every selected instrument, and the id it is current at.
    pub fn snapshot(&self, selection: &Selection) -> Snapshot {
        self.snapshot_locked(&self.lock(), selection)
    }

    /// The newest `limit` candles of `symbol`, and the frame they are current at.
    pub fn history(&self, symbol: &str, interval: Interval, limit: usize) -> Option<History> {
        self.history_locked(&self.lock(), symbol, interval, limit)
    }

    fn history_locked(&self, st: &State, symbol: &str, interval: Interval, limit: usize) -> Option<History> {
        let i = *self.index.get(symbol)?;
        let k = Interval::ALL.iter().position(|x| *x == interval)?;
        let candles = st.candles[i][k].tail(limit);
        Some(History {
            symbol: symbol.to_string(),
            interval,
            seq: st.seq,
            candles,
        })
    }

    /// Everything the first page needs, taken at one frame so it all agrees: the snapshot of
    /// every instrument, the last `spark_len` 1-second candles of each, and the newest
    /// `chart_limit` candles of `chart` (symbol, interval), if known.
    pub fn page(&self, spark_len: usize, chart: Option<(&str, Interval)>, chart_limit: usize) -> PageState {
        let st = self.lock();
        let snapshot = self.snapshot_locked(&st, &Selection::all());
        let sparks = st.candles.iter().map(|c| c[0].tail(spark_len)).collect();
        let chart = chart.and_then(|(symbol, interval)| self.history_locked(&st, symbol, interval, chart_limit));
        PageState {
            snapshot,
            sparks,
            chart,
        }
    }

    /// A receiver that wakes on every live frame: a task serving many subscriptions waits on
    /// this one and then takes each subscription's events with [`Subscription::try_next`].
    pub fn live_frames(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.live.subscribe()
    }

    /// Subscribes to the feed for `selection`, resuming after `from` when it can.
    pub fn subscribe(self: &Arc<Self>, from: Option<EventId>, selection: Selection) -> Subscription {
        let st = self.lock();
        let rx = self.live.subscribe();
        let oldest = st.history.front().map(|f| f.seq);
        let start = decide_start(from, st.epoch, oldest, st.seq, self.resume_lead);
        let mut sub = Subscription {
            hub: self.clone(),
            selection,
            rx,
            initial: None,
            replay: VecDeque::new(),
            epoch: st.epoch,
            seen: st.seq,
        };
        match start {
            Start::Snapshot => sub.initial = Some(sub.encode_snapshot(&st, EventKind::Snapshot)),
            Start::Resync => sub.initial = Some(sub.encode_snapshot(&st, EventKind::Resync)),
            Start::Ahead { until } => sub.seen = until,
            Start::Replay { after } => {
                let skip = st.history.iter().take_while(|f| f.seq <= after).count();
                sub.replay = st.history.iter().skip(skip).cloned().collect();
            }
        }
        drop(st);
        if start == Start::Resync {
            self.metrics.resyncs.inc();
        }
        sub
    }
}

/// See [`Hub::page`].
pub struct PageState {
    pub snapshot: Snapshot,
    /// 1-second candles per instrument, universe order.
    pub sparks: Vec<Vec<app::candles::Candle>>,
    pub chart: Option<History>,
}

/// Why a symbol list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("unknown symbol {0:?}; GET /api/symbols lists the known ones")]
    Unknown(String),
    #[error("too many symbols: at most {max} per request")]
    TooMany { max: usize },
}

/// What a subscription's live receiver gave.
enum Live {
    Frame(Arc<Frame>),
    Lagged,
}

/// One subscriber's view of the feed: an initial snapshot or replay, then live frames, with
/// lag turned into a resync. Dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<Hub>,
    selection: Selection,
    rx: broadcast::Receiver<Arc<Frame>>,
    initial: Option<Event>,
    replay: VecDeque<Arc<Frame>>,
    /// The epoch of what was sent so far.
    epoch: u64,
    /// Frames up to this seq are accounted for (sent, filtered out, queued for replay, or
    /// covered by a snapshot); the next live frame must be `seen + 1`.
    seen: u64,
}

impl Subscription {
    fn encode_snapshot(&self, st: &State, kind: EventKind) -> Event {
        let snapshot = self.hub.snapshot_locked(st, &self.selection);
        Event {
            kind,
            id: EventId::new(st.epoch, st.seq),
            data: serde_json::to_string(&snapshot).expect("snapshot serialises").into(),
        }
    }

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
        while let Some(frame) = self.replay.pop_front() {
            if let Some(event) = self.tick(&frame) {
                return Some(event);
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
        let event = self.encode_snapshot(&st, EventKind::Resync);
        self.epoch = st.epoch;
        self.seen = st.seq;
        drop(st);
        self.hub.metrics.resyncs.inc();
        event
    }

    /// Switches to `selection` without resubscribing: returns a `snapshot` of the new selection
    /// at the current frame; frames up to it are then skipped (the snapshot covers them).
    pub fn reselect(&mut self, selection: Selection) -> Event {
        self.selection = selection;
        self.replay.clear();
        self.initial = None;
        let st = self.hub.lock();
        self.epoch = st.epoch;
        self.seen = st.seq;
        self.encode_snapshot(&st, EventKind::Snapshot)
    }

    fn tick(&self, frame: &Frame) -> Option<Event> {
        let data = frame.payload(&self.selection)?;
        Some(Event {
            kind: EventKind::Tick,
            id: EventId::new(frame.epoch, frame.seq),
            data,
        })
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

    /// The current selection.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{Market, default_universe};
    use app::protocol::TickFrame;

    fn hub_with(history: usize, live: usize) -> (Arc<Hub>, Market) {
        let market = Market::new(default_universe(), 9, 10.0);
        let hub = Hub::new(
            0xabc,
            market.instruments(),
            market.quotes(),
            HubConfig {
                history_frames: history,
                live_buffer: live,
            },
            Arc::new(Metrics::default()),
        );
        (Arc::new(hub), market)
    }

    fn step(hub: &Hub, market: &mut Market, n: usize) {
        for _ in 0..n {
            hub.publish(1_700_000_000_000, crate::generator::next_trades(market));
        }
    }

    #[test]
    fn start_decisions() {
        let id = |e, s| Some(EventId::new(e, s));
        assert_eq!(decide_start(None, 1, Some(5), 10, 0), Start::Snapshot);
        assert_eq!(
            decide_start(id(2, 7), 1, Some(5), 10, 0),
            Start::Resync,
            "foreign epoch"
        );
        assert_eq!(
            decide_start(id(1, 11), 1, Some(5), 10, 0),
            Start::Resync,
            "from the future"
        );
        assert_eq!(decide_start(id(1, 7), 1, Some(5), 10, 0), Start::Replay { after: 7 });
        assert_eq!(
            decide_start(id(1, 4), 1, Some(5), 10, 0),
            Start::Replay { after: 4 },
            "oldest is the next frame"
        );
        assert_eq!(decide_start(id(1, 3), 1, Some(5), 10, 0), Start::Resync, "past history");
        assert_eq!(
            decide_start(id(1, 10), 1, Some(5), 10, 0),
            Start::Replay { after: 10 },
            "up to date"
        );
        assert_eq!(
            decide_start(id(1, 0), 1, None, 0, 0),
            Start::Replay { after: 0 },
            "nothing published yet"
        );
        assert_eq!(
            decide_start(id(1, 12), 1, Some(5), 10, 4),
            Start::Ahead { until: 12 },
            "an edge a little behind"
        );
        assert_eq!(
            decide_start(id(1, 15), 1, Some(5), 10, 4),
            Start::Resync,
            "too far ahead"
        );
    }

    #[tokio::test]
    async fn fresh_subscriber_gets_snapshot_then_live_ticks() {
        let (hub, mut market) = hub_with(100, 64);
        step(&hub, &mut market, 3);
        let mut sub = hub.subscribe(None, Selection::all());
        let first = sub.next().await;
        assert_eq!(first.kind, EventKind::Snapshot);
        assert_eq!(first.id, EventId::new(0xabc, 3));
        let snap: Snapshot = serde_json::from_str(&first.data).unwrap();
        assert_eq!(snap.quotes.len(), hub.instruments().len());
        step(&hub, &mut market, 5);
        let ticks = sub.drain_ready();
        assert!(ticks.iter().all(|e| e.kind == EventKind::Tick));
        let seqs: Vec<u64> = ticks.iter().map(|e| e.id.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]) && seqs.iter().all(|s| (4..=8).contains(s)),
            "{seqs:?}"
        );
    }

    #[tokio::test]
    async fn resume_replays_exactly_the_missed_frames() {
        let (hub, mut market) = hub_with(100, 64);
        let mut always = hub.subscribe(None, Selection::all());
        always.next().await;
        step(&hub, &mut market, 10);
        let seen = always.drain_ready();
        let cut = seen[2].id;
        let mut resumed = hub.subscribe(Some(cut), Selection::all());
        assert_eq!(resumed.drain_ready(), seen[3..].to_vec());
        step(&hub, &mut market, 4);
        assert_eq!(resumed.drain_ready(), always.drain_ready(), "then live, in step");
    }

    #[tokio::test]
    async fn resume_outside_history_or_epoch_resyncs() {
        let (hub, mut market) = hub_with(10, 64);
        step(&hub, &mut market, 30);
        for from in [EventId::new(0xabc, 5), EventId::new(0xdef, 29), EventId::new(0xabc, 31)] {
            let mut sub = hub.subscribe(Some(from), Selection::all());
            let ev = sub.drain_ready();
            assert_eq!(ev.len(), 1, "{from}: a single resync and nothing else");
            assert_eq!((ev[0].kind, ev[0].id), (EventKind::Resync, EventId::new(0xabc, 30)));
        }
        assert_eq!(hub.metrics.resyncs.get(), 3);
    }

    #[tokio::test]
    async fn filtered_ticks_hold_only_selected_symbols_and_skip_empty_frames() {
        let (hub, mut market) = hub_with(1000, 1000);
        let sel = hub.select(Some("aapl, BTC-USD")).unwrap();
        let mut sub = hub.subscribe(None, sel);
        let snap: Snapshot = serde_json::from_str(&sub.next().await.data).unwrap();
        assert_eq!(
            snap.quotes.iter().map(|q| q.symbol.as_str()).collect::<Vec<_>>(),
            ["AAPL", "BTC-USD"]
        );
        step(&hub, &mut market, 200);
        let ticks = sub.drain_ready();
        assert!(
            !ticks.is_empty() && ticks.len() < 200,
            "some frames had neither symbol moving"
        );
        for e in ticks {
            let frame: TickFrame = serde_json::from_str(&e.data).unwrap();
            assert_eq!(frame.seq, e.id.seq);
            assert!(!frame.quotes.is_empty());
            assert!(frame.quotes.iter().all(|q| q.symbol == "AAPL" || q.symbol == "BTC-USD"));
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_a_resync_and_carries_on() {
        let (hub, mut market) = hub_with(1000, 8);
        let mut slow = hub.subscribe(None, Selection::all());
        let mut fast = hub.subscribe(None, Selection::all());
        slow.next().await;
        fast.next().await;
        let mut fast_seen = Vec::new();
        for _ in 0..50 {
            step(&hub, &mut market, 1);
            fast_seen.extend(fast.drain_ready());
        }
        assert!(
            fast_seen.iter().all(|e| e.kind == EventKind::Tick),
            "the fast one is unaffected"
        );
        let first = slow.next().await;
        assert_eq!((first.kind, first.id.seq), (EventKind::Resync, 50));
        assert!(
            slow.drain_ready().is_empty(),
            "frames covered by the resync are skipped"
        );
        step(&hub, &mut market, 3);
        assert_eq!(slow.drain_ready(), fast.drain_ready());
        assert_eq!(hub.metrics.lagged.get(), 1);
    }

    #[test]
    fn history_is_bounded() {
        let (hub, mut market) = hub_with(10, 8);
        step(&hub, &mut market, 100);
        assert_eq!(hub.lock().history.len(), 10);
        assert_eq!(hub.lock().history.front().unwrap().seq, 91);
    }

    #[test]
    fn unknown_and_too_many_symbols_are_refused() {
        let (hub, _) = hub_with(10, 8);
        assert_eq!(hub.select(Some("AAPL,NOPE")), Err(SelectError::Unknown("NOPE".into())));
        let many = vec!["AAPL"; crate::config::MAX_SYMBOLS + 1].join(",");
        assert!(matches!(hub.select(Some(&many)), Err(SelectError::TooMany { .. })));
        assert_eq!(hub.select(Some(" ")), Ok(Selection::all()));
    }

    /// Frames numbered by a generator elsewhere, as an edge receives them.
    fn records(market: &mut Market, epoch: u64, seqs: std::ops::RangeInclusive<u64>) -> Vec<FrameRecord> {
        seqs.map(|seq| FrameRecord {
            epoch,
            seq,
            ts: 1_700_000_000_000 + seq as i64,
            trades: crate::generator::next_trades(market),
        })
        .collect()
    }

    #[tokio::test]
    async fn applied_frames_must_follow_on_and_duplicates_are_ignored() {
        let (hub, mut market) = hub_with(100, 64);
        let mut sub = hub.subscribe(None, Selection::all());
        sub.next().await;
        let frames = records(&mut market, 0xabc, 1..=5);
        for f in frames.iter().take(3).cloned() {
            assert_eq!(hub.apply(f), Ok(Applied::Published));
        }
        assert_eq!(hub.apply(frames[1].clone()), Ok(Applied::Duplicate));
        let gap = hub.apply(frames[4].clone()).unwrap_err();
        assert_eq!((gap.last, gap.got), (EventId::new(0xabc, 3), EventId::new(0xabc, 5)));
        let other_epoch = FrameRecord {
            epoch: 0xdef,
            ..frames[3].clone()
        };
        assert!(hub.apply(other_epoch).is_err());
        let seqs: Vec<u64> = sub.drain_ready().iter().map(|e| e.id.seq).collect();
        assert!(seqs.iter().all(|s| (1..=3).contains(s)) && !seqs.is_empty(), "{seqs:?}");
    }

    #[tokio::test]
    async fn an_edge_behind_a_resuming_client_waits_for_its_frames_instead_of_resyncing() {
        let market = Market::new(default_universe(), 9, 10.0);
        let config = HubConfig {
            history_frames: 100,
            live_buffer: 64,
        };
        let metrics = Arc::new(Metrics::default());
        let hub = Hub::new(0xabc, market.instruments(), market.quotes(), config, metrics).with_resume_lead(64);
        let hub = Arc::new(hub);
        let mut source = Market::new(default_universe(), 9, 10.0);
        let frames = records(&mut source, 0xabc, 1..=6);
        for f in frames.iter().take(3).cloned() {
            hub.apply(f).unwrap();
        }
        // The client already has frame 5 from a node that is two frames further.
        let mut sub = hub.subscribe(Some(EventId::new(0xabc, 5)), Selection::all());
        assert!(sub.drain_ready().is_empty(), "nothing to send yet, and no resync");
        for f in frames.iter().skip(3).cloned() {
            hub.apply(f).unwrap();
        }
        let events = sub.drain_ready();
        assert_eq!(
            events.iter().map(|e| (e.kind, e.id.seq)).collect::<Vec<_>>(),
            [(EventKind::Tick, 6)]
        );
        assert_eq!(hub.metrics.resyncs.get(), 0);
    }

    #[tokio::test]
    async fn a_reset_to_a_new_epoch_resyncs_subscribers_and_keeps_the_tail_for_resuming() {
        let (hub, mut market) = hub_with(100, 64);
        step(&hub, &mut market, 5);
        let mut sub = hub.subscribe(None, Selection::all());
        sub.next().await;
        // A new generator: its checkpoint at 0xbee-10, and frames 8..=12 of which 9 is gone.
        let mut fresh = Market::new(default_universe(), 9, 10.0);
        let checkpoint = Snapshot {
            id: Some(EventId::new(0xbee, 10)),
            seq: 10,
            ts: 1,
            instruments: hub.instruments().to_vec(),
            quotes: fresh.quotes(),
        };
        let mut frames = records(&mut fresh, 0xbee, 8..=12);
        frames.remove(1);
        let newest = frames.last().unwrap().trades.clone();
        hub.reset(checkpoint.clone(), frames.clone()).unwrap();
        assert_eq!(hub.last_id(), EventId::new(0xbee, 12));
        let snap = hub.snapshot(&Selection::all());
        for t in &newest {
            assert_eq!(snap.quotes[t.index], t.quote, "quotes move on past the checkpoint");
        }
        // History holds 10..=12, the run that ends with the newest: 9 is not claimed.
        assert_eq!(
            hub.subscribe(Some(EventId::new(0xbee, 9)), Selection::all())
                .drain_ready()
                .len(),
            3
        );
        assert_eq!(
            hub.subscribe(Some(EventId::new(0xbee, 8)), Selection::all())
                .drain_ready()[0]
                .kind,
            EventKind::Resync
        );

        // The existing subscriber notices at the next frame: one resync, then live again.
        let next = records(&mut fresh, 0xbee, 13..=13).remove(0);
        hub.apply(next).unwrap();
        let events = sub.drain_ready();
        assert_eq!(events[0].kind, EventKind::Resync);
        assert_eq!(events.len(), 1, "the resync is taken now, at 13, and covers it");
        assert_eq!(events[0].id, EventId::new(0xbee, 13));

        let mut wrong = checkpoint;
        wrong.instruments.pop();
        assert!(matches!(hub.reset(wrong, vec![]), Err(ResetError::Universe(_))));
    }

    #[test]
    fn candles_follow_trades() {
        let (hub, mut market) = hub_with(10, 8);
        step(&hub, &mut market, 50);
        let h = hub.history("AAPL", Interval::S1, 10).unwrap();
        assert_eq!(h.seq, 50);
        let c = h.candles;
        assert_eq!(c.len(), 1, "all frames were stamped in the same second");
        assert_eq!(c[0].close, hub.snapshot(&Selection::all()).quotes[0].price);
        assert!(hub.history("NOPE", Interval::S1, 10).is_none());
    }
}
