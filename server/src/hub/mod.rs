//! The fan-out hub: where a tick is fanned out. It owns the sequence numbers, the epoch, the
//! history ring and the live broadcast channel; transports (SSE, WebSocket, long polling) are
//! thin adapters over [`Hub::subscribe`].
//!
//! Frames reach it in one of two ways: [`Hub::publish`] numbers frames itself (the embedded,
//! single-process node), or [`Hub::apply`] takes frames numbered elsewhere (an edge node fed
//! by the market bus), with [`Hub::reset`] to start over from a checkpoint
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
//!
//! The parts: [`frame`] (a frame's wire encoding), [`selection`] (which symbols a subscriber
//! wants), [`subscription`] (one subscriber's cursor), [`candles`] (the candle store behind
//! `/api/history` and the first page).

mod candles;
mod frame;
mod selection;
mod subscription;
#[cfg(test)]
mod tests;

pub use frame::Frame;
pub use selection::{SelectError, Selection};
use subscription::Replay;
pub use subscription::{Start, Subscription, decide_start};

use crate::feed::{FrameRecord, Publish, Trade};
use crate::metrics::Metrics;
use app::wire::book::{Book, BookAt, BookUpdate, Print, Trades};
use app::wire::protocol::Interval;
use app::wire::protocol::{
    EVENT_RESYNC, EVENT_SNAPSHOT, EVENT_TICK, EventId, History, Instrument, Quote, Snapshot, StreamId,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

pub use candles::{CandleStore, MAX_KEPT};
pub use selection::MAX_DEPTH_SYMBOLS;

/// Prints kept per instrument for `/api/trades` (the newest).
pub const TAPE_KEPT: usize = 200;

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
    /// On a signed-in user's stream, the last of the user's own events it carried (with this
    /// one): the `~<n>` of the event's id on the wire (see [`StreamId`]). The hub leaves it
    /// `None`; the transports set it.
    pub private: Option<u64>,
    pub data: Arc<str>,
}

impl Event {
    /// A market event of the hub's (no private part).
    pub fn market(kind: EventKind, id: EventId, data: Arc<str>) -> Self {
        Event {
            kind,
            id,
            private: None,
            data,
        }
    }

    /// The id the client sees: the market's, and the private position on a signed-in stream.
    pub fn stream_id(&self) -> StreamId {
        StreamId {
            market: self.id,
            private: self.private,
        }
    }

    /// The very same event: same kind, same id and the same shared payload (not merely equal
    /// text). What the transports key their encoded bytes on, so that bytes encoded once serve
    /// every client that gets this event; a held key also keeps the payload's address from being
    /// reused by another.
    pub fn is(&self, other: &Event) -> bool {
        self.kind == other.kind
            && self.id == other.id
            && self.private == other.private
            && Arc::ptr_eq(&self.data, &other.data)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Snapshot,
    Tick,
    Resync,
    /// One of a signed-in user's own events, of this name (the hub never makes one: the
    /// transports interleave them, see [`crate::private`]).
    Private(&'static str),
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Snapshot => EVENT_SNAPSHOT,
            EventKind::Tick => EVENT_TICK,
            EventKind::Resync => EVENT_RESYNC,
            EventKind::Private(name) => name,
        }
    }
}

/// Why [`Hub::apply`] could not take a frame: it does not follow the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frame {got} does not follow {last}")]
pub struct Discontinuity {
    pub last: EventId,
    pub got: EventId,
}

/// Why [`Hub::apply`] refused a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It does not follow the last frame: the caller starts over with [`Hub::reset`].
    #[error(transparent)]
    Gap(#[from] Discontinuity),
    /// It names instruments this node does not have, or not in universe order: it came from
    /// outside (the market bus) damaged, or from a generator with another universe.
    #[error("frame {0}: {1}")]
    Invalid(EventId, String),
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

struct State {
    epoch: u64,
    seq: u64,
    ts: i64,
    quotes: Vec<Quote>,
    history: VecDeque<Arc<Frame>>,
    candles: CandleStore,
    /// Every instrument's book, kept by applying each frame's changes.
    books: Vec<Book>,
    /// Every instrument's newest prints, oldest first, at most [`TAPE_KEPT`].
    tape: Vec<VecDeque<Print>>,
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
    /// The whole market's snapshot, encoded, at the frame it was taken (see
    /// [`Hub::take_snapshot_locked`]). Locked after `state` when both are.
    encoded_snapshot: Mutex<Option<(EventId, Arc<str>)>>,
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
        let candles = CandleStore::new(quotes.len());
        let n = quotes.len();
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
                books: vec![Book::default(); n],
                tape: vec![VecDeque::new(); n],
            }),
            encoded_snapshot: Mutex::new(None),
            metrics,
        }
    }

    /// A hub for `market` as it stands: its instruments, quotes and books.
    pub fn for_market(
        epoch: u64,
        market: &crate::feed::market::Market,
        config: HubConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Hub::new(epoch, market.instruments(), market.quotes(), config, metrics).with_books(&market.books())
    }

    /// Starts the charts from `candles` (the market's simulated past, see
    /// [`crate::feed::market::Market::simulate_past`]) instead of empty ones.
    pub fn with_candles(self, candles: CandleStore) -> Self {
        assert_eq!(
            candles.instruments(),
            self.instruments.len(),
            "one series per instrument"
        );
        self.lock().candles = candles;
        self
    }

    /// Starts every instrument's book from `books` (whole books, universe order), as the
    /// market holds them before its first frame.
    pub fn with_books(self, books: &[BookUpdate]) -> Self {
        assert_eq!(books.len(), self.instruments.len(), "one book per instrument");
        self.lock().books = books.iter().map(Book::from_update).collect();
        self
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
    pub fn apply(&self, record: FrameRecord) -> Result<Applied, Refused> {
        self.check(&record)?;
        let mut st = self.lock();
        if record.epoch == st.epoch && record.seq <= st.seq {
            return Ok(Applied::Duplicate);
        }
        if record.epoch != st.epoch || record.seq != st.seq + 1 {
            return Err(Refused::Gap(Discontinuity {
                last: EventId::new(st.epoch, st.seq),
                got: EventId::new(record.epoch, record.seq),
            }));
        }
        self.push_locked(&mut st, record.seq, record.ts, record.trades);
        Ok(Applied::Published)
    }

    /// Checks a frame numbered elsewhere before it can touch this hub: every trade names an
    /// instrument of this universe, by index and symbol, in universe order.
    pub fn check(&self, record: &FrameRecord) -> Result<(), Refused> {
        let invalid = |why: String| Err(Refused::Invalid(EventId::new(record.epoch, record.seq), why));
        let mut previous = None;
        for t in &record.trades {
            let Some(instrument) = self.instruments.get(t.index) else {
                return invalid(format!(
                    "a trade of instrument {}, of {} here",
                    t.index,
                    self.instruments.len()
                ));
            };
            if instrument.symbol != t.quote.symbol {
                return invalid(format!(
                    "instrument {} is {}, not {:.12}",
                    t.index, instrument.symbol, t.quote.symbol
                ));
            }
            if previous.is_some_and(|p| p >= t.index) {
                return invalid("trades out of universe order".into());
            }
            previous = Some(t.index);
        }
        Ok(())
    }

    /// Starts over from `checkpoint` (the quotes at its id) and `frames`, the newest frames of
    /// its epoch in order (the ones after the checkpoint move the quotes on). History keeps the
    /// contiguous run of `frames` that ends with the newest; candles take every frame this hub
    /// had not seen. Subscribers notice the break at the next frame and get a `resync`.
    pub fn reset(&self, checkpoint: Snapshot, frames: Vec<FrameRecord>) -> Result<(), ResetError> {
        self.reset_with_candles(checkpoint, frames, None)
    }

    /// As [`Hub::reset`], with the generator's candles as they were at frame `candles.0`: of
    /// the checkpoint's epoch, they replace this hub's, and take the trades of every later frame
    /// (so every edge holds the same charts, the market's simulated past included, however late
    /// it joined). Candles of another epoch are ignored.
    pub fn reset_with_candles(
        &self,
        checkpoint: Snapshot,
        frames: Vec<FrameRecord>,
        candles: Option<(EventId, CandleStore)>,
    ) -> Result<(), ResetError> {
        let id = checkpoint.id.ok_or(ResetError::NoId)?;
        let same = self.is_universe(checkpoint.instruments.iter().map(|i| i.symbol.as_str()));
        let quotes_match = self.is_universe(checkpoint.quotes.iter().map(|q| q.symbol.as_str()));
        if !same || !quotes_match {
            let symbols: Vec<&str> = checkpoint.instruments.iter().map(|i| i.symbol.as_str()).collect();
            return Err(ResetError::Universe(symbols.join(",")));
        }
        // Damaged frames are left out: the run they break ends there, and clients resync.
        let frames: Vec<FrameRecord> = frames
            .into_iter()
            .filter(|f| f.epoch == id.epoch && self.check(f).is_ok())
            .collect();
        // The contiguous run that ends with the newest frame.
        let start = (1..frames.len())
            .rev()
            .find(|&k| frames[k].seq != frames[k - 1].seq + 1)
            .unwrap_or(0);
        let candles =
            candles.filter(|(at, store)| at.epoch == id.epoch && store.instruments() == self.instruments.len());
        let mut st = self.lock();
        let (old_epoch, old_seq) = (st.epoch, st.seq);
        // Frames whose trades the candles do not hold yet: after the generator's candles, or
        // else the ones this hub has not seen.
        let candles_at = match candles {
            Some((at, store)) => {
                st.candles = store;
                Some(at.seq)
            }
            None => None,
        };
        st.epoch = id.epoch;
        st.seq = id.seq;
        st.ts = checkpoint.ts;
        st.quotes = checkpoint.quotes;
        // A checkpoint carries every book; one without (an older writer's) leaves them empty.
        st.books = if self.is_universe(checkpoint.books.iter().map(|b| b.symbol.as_str())) {
            checkpoint.books.iter().map(Book::from_update).collect()
        } else {
            vec![Book::default(); self.instruments.len()]
        };
        st.tape.iter_mut().for_each(VecDeque::clear);
        st.history.clear();
        for record in frames.into_iter().skip(start) {
            let new = match candles_at {
                Some(at) => record.seq > at,
                None => record.epoch != old_epoch || record.seq > old_seq,
            };
            for t in &record.trades {
                if new {
                    st.candles.push_trade(t, record.ts);
                }
                if record.seq > id.seq {
                    st.quotes[t.index] = t.quote.clone();
                    self.apply_book_locked(&mut st, t);
                }
                push_tape(&mut st.tape[t.index], t.tape(record.ts));
            }
            if record.seq > st.seq {
                st.seq = record.seq;
                st.ts = record.ts;
            }
            let frame = Frame::encode(record.epoch, record.seq, record.ts, record.trades);
            st.history.push_back(Arc::new(frame));
        }
        // Resuming needs every frame up to the current one: a history that stops short of the
        // checkpoint cannot be replayed from.
        if st.history.back().is_some_and(|f| f.seq != st.seq) {
            st.history.clear();
        }
        self.trim_history_locked(&mut st);
        Ok(())
    }

    /// Whether `symbols` are this hub's instruments, in universe order.
    fn is_universe<'a>(&self, symbols: impl ExactSizeIterator<Item = &'a str>) -> bool {
        symbols.len() == self.instruments.len() && symbols.zip(self.instruments.iter()).all(|(s, i)| s == i.symbol)
    }

    /// Keeps history within `history_frames` (dropping the oldest) and reports its size.
    fn trim_history_locked(&self, st: &mut State) {
        while st.history.len() > self.config.history_frames {
            st.history.pop_front();
        }
        self.metrics.history.set(st.history.len() as i64);
    }

    fn push_locked(&self, st: &mut State, seq: u64, ts: i64, trades: Vec<Trade>) {
        for t in &trades {
            st.candles.push_trade(t, ts);
            self.apply_book_locked(st, t);
            push_tape(&mut st.tape[t.index], t.tape(ts));
            st.quotes[t.index].clone_from(&t.quote);
        }
        let frame = Arc::new(Frame::encode(st.epoch, seq, ts, trades));
        if let Some(previous) = st.history.back() {
            previous.forget_shared();
        }
        st.seq = seq;
        st.ts = ts;
        st.history.push_back(frame.clone());
        self.trim_history_locked(st);
        self.metrics.frames.inc();
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(frame);
    }

    /// Applies a trade's book changes, and checks the book then has the checksum the market
    /// gave: a mismatch (a damaged feed) is counted in `/metrics` and logged.
    fn apply_book_locked(&self, st: &mut State, trade: &Trade) {
        let book = &mut st.books[trade.index];
        book.apply(&trade.book);
        let instrument = &self.instruments[trade.index];
        if book.checksum_of(instrument) != trade.book.checksum {
            self.metrics.book_mismatches.inc();
            tracing::warn!(symbol = %instrument.symbol, "order book checksum mismatch: the feed and this node disagree");
        }
    }

    /// The whole book of instrument `i`, with its checksum.
    fn book_locked(&self, st: &State, i: usize) -> BookUpdate {
        st.books[i].whole_of(&self.instruments[i])
    }

    /// The whole book of `symbol` and the frame it is current at.
    pub fn book(&self, symbol: &str) -> Option<BookAt> {
        let i = *self.index.get(symbol)?;
        let st = self.lock();
        let BookUpdate {
            symbol,
            bids,
            asks,
            checksum,
        } = self.book_locked(&st, i);
        Some(BookAt {
            seq: st.seq,
            symbol,
            bids,
            asks,
            checksum,
        })
    }

    /// The newest `limit` prints of `symbol`, newest first, and the frame they are current at.
    pub fn trades(&self, symbol: &str, limit: usize) -> Option<Trades> {
        let i = *self.index.get(symbol)?;
        let st = self.lock();
        Some(Trades {
            seq: st.seq,
            symbol: symbol.to_string(),
            trades: st.tape[i].iter().rev().take(limit).cloned().collect(),
        })
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
            books: selection.depth().iter().map(|&i| self.book_locked(st, i)).collect(),
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
        let candles = st.candles.tail(i, interval, limit);
        Some(History {
            symbol: symbol.to_string(),
            interval,
            seq: st.seq,
            candles,
        })
    }

    /// Everything the first page needs, taken at one frame so it all agrees: the snapshot of
    /// every instrument, the last `spark_len` 1-second candles of each, the newest
    /// `chart_limit` candles of `chart` (symbol, interval), if known, and the book and newest
    /// `tape_len` prints of `depth`, if asked and known.
    pub fn page(
        &self,
        spark_len: usize,
        chart: Option<(&str, Interval)>,
        chart_limit: usize,
        depth: Option<&str>,
        tape_len: usize,
    ) -> PageState {
        let st = self.lock();
        let snapshot = self.snapshot_locked(&st, &Selection::all());
        let sparks = st.candles.tails(Interval::S1, spark_len);
        let chart = chart.and_then(|(symbol, interval)| self.history_locked(&st, symbol, interval, chart_limit));
        let depth = depth.and_then(|symbol| self.index.get(symbol).copied());
        PageState {
            snapshot,
            sparks,
            chart,
            book: depth.map(|i| self.book_locked(&st, i)),
            trades: depth.map_or_else(Vec::new, |i| st.tape[i].iter().rev().take(tape_len).cloned().collect()),
        }
    }

    /// Up to `max` frames of history from `from` to `until` (inclusive) of `epoch`; `None` if
    /// the history no longer holds `from` (trimmed, or reset to another epoch). Constant time
    /// to find the first: history is a contiguous run of sequence numbers.
    pub(super) fn history_from(&self, epoch: u64, from: u64, until: u64, max: usize) -> Option<VecDeque<Arc<Frame>>> {
        let st = self.lock();
        let oldest = st.history.front()?.seq;
        if st.epoch != epoch || from < oldest {
            return None;
        }
        let skip = usize::try_from(from - oldest).ok()?;
        let take = usize::try_from(until.saturating_sub(from) + 1)
            .unwrap_or(usize::MAX)
            .min(max);
        let batch: VecDeque<Arc<Frame>> = st.history.iter().skip(skip).take(take).cloned().collect();
        (batch.front().map(|f| f.seq) == Some(from)).then_some(batch)
    }

    /// A receiver that wakes on every live frame: a task serving many subscriptions waits on
    /// this one and then takes each subscription's events with [`Subscription::try_next`].
    pub fn live_frames(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.live.subscribe()
    }

    /// Subscribes to the feed for `selection`, resuming after `from` when it can.
    pub fn subscribe(self: &Arc<Self>, from: Option<EventId>, selection: Selection) -> Subscription {
        // Under the lock only what keeps replay and live without gap or overlap, in time that
        // does not grow with the history: the live receiver, the decision, and for a snapshot
        // a copy of the selected quotes (encoded after the lock is released).
        let st = self.lock();
        let rx = self.live.subscribe();
        let oldest = st.history.front().map(|f| f.seq);
        let start = decide_start(from, st.epoch, oldest, st.seq, self.resume_lead);
        let snapshot =
            matches!(start, Start::Snapshot | Start::Resync).then(|| self.take_snapshot_locked(&st, &selection));
        let (epoch, seq) = (st.epoch, st.seq);
        drop(st);
        let mut sub = Subscription {
            hub: self.clone(),
            selection,
            rx,
            initial: None,
            replay: None,
            epoch,
            seen: seq,
        };
        match (start, snapshot) {
            (Start::Snapshot, Some(snapshot)) => sub.initial = Some(self.snapshot_event(snapshot, EventKind::Snapshot)),
            (Start::Resync, Some(snapshot)) => {
                sub.initial = Some(self.snapshot_event(snapshot, EventKind::Resync));
                self.metrics.resyncs.inc();
            }
            (Start::Ahead { until }, _) => sub.seen = until,
            (Start::Replay { after }, _) => sub.replay = Some(Replay::new(after, seq)),
            _ => {}
        }
        sub
    }
}

/// Keeps the newest [`TAPE_KEPT`] prints.
fn push_tape(tape: &mut VecDeque<Print>, prints: impl Iterator<Item = Print>) {
    tape.extend(prints);
    while tape.len() > TAPE_KEPT {
        tape.pop_front();
    }
}

/// See [`Hub::page`].
pub struct PageState {
    pub snapshot: Snapshot,
    /// 1-second candles per instrument, universe order.
    pub sparks: Vec<Vec<app::wire::protocol::Candle>>,
    pub chart: Option<History>,
    pub book: Option<BookUpdate>,
    /// Newest first.
    pub trades: Vec<Print>,
}

impl Publish for Arc<Hub> {
    fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64 {
        Hub::publish(self, ts, trades)
    }
}
