//! The fan-out hub: where a tick is fanned out. It owns the sequence numbers, the epoch, the
//! history ring and the live broadcast channel; transports (SSE today) are thin adapters over
//! [`Hub::subscribe`].
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

use crate::metrics::Metrics;
use app::candles::{CandleSeries, Interval};
use app::protocol::{EVENT_RESYNC, EVENT_SNAPSHOT, EVENT_TICK, EventId, History, Instrument, Quote, Snapshot};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast::{self, error::RecvError};

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
pub struct Trade {
    pub index: usize,
    pub quote: Quote,
    pub quantity: u64,
}

/// A published frame: its JSON (`{"seq":..,"ts":..,"quotes":[..]}`) and where each quote sits
/// in it, so filtered subscribers can splice their subset without re-encoding.
#[derive(Debug)]
pub struct Frame {
    pub seq: u64,
    pub ts: i64,
    json: Arc<str>,
    /// (instrument index, byte range of its quote object in `json`), in universe order.
    pieces: Vec<(usize, std::ops::Range<usize>)>,
}

impl Frame {
    fn encode(seq: u64, ts: i64, trades: &[Trade]) -> Frame {
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
    /// The resume point cannot be honoured exactly: a resync snapshot, then live frames.
    Resync,
}

/// Decides how to start a subscription resuming from `from`, given this run's `epoch`, the
/// oldest frame still in history (`oldest`, if any) and the last published sequence number.
pub fn decide_start(from: Option<EventId>, epoch: u64, oldest: Option<u64>, last: u64) -> Start {
    let Some(from) = from else {
        return Start::Snapshot;
    };
    if from.epoch != epoch || from.seq > last {
        return Start::Resync;
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
    seq: u64,
    ts: i64,
    quotes: Vec<Quote>,
    history: VecDeque<Arc<Frame>>,
    candles: Vec<[CandleSeries; 3]>,
}

/// The single fan-out point of the process. Share it as `Arc<Hub>`.
pub struct Hub {
    epoch: u64,
    config: HubConfig,
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
            epoch,
            config,
            index: instruments
                .iter()
                .enumerate()
                .map(|(i, ins)| (ins.symbol.clone(), i))
                .collect(),
            instruments: instruments.into(),
            live,
            state: Mutex::new(State {
                seq: 0,
                ts: 0,
                quotes,
                history: VecDeque::new(),
                candles,
            }),
            metrics,
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
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
        EventId::new(self.epoch, self.lock().seq)
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

    /// Publishes one frame of trades (in universe order) generated at `ts`; returns its seq.
    pub fn publish(&self, ts: i64, trades: Vec<Trade>) -> u64 {
        let mut st = self.lock();
        let seq = st.seq + 1;
        let frame = Arc::new(Frame::encode(seq, ts, &trades));
        for t in trades {
            for series in &mut st.candles[t.index] {
                series.push(ts, t.quote.price, t.quantity);
            }
            st.quotes[t.index] = t.quote;
        }
        st.seq = seq;
        st.ts = ts;
        st.history.push_back(frame.clone());
        while st.history.len() > self.config.history_frames {
            st.history.pop_front();
        }
        self.metrics.history.set(st.history.len() as i64);
        self.metrics.frames.inc();
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(frame);
        seq
    }

    fn snapshot_locked(&self, st: &State, selection: &Selection) -> Snapshot {
        let chosen = |i: &usize| selection.contains(*i);
        Snapshot {
            id: Some(EventId::new(self.epoch, st.seq)),
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

    /// Subscribes to the feed for `selection`, resuming after `from` when it can.
    pub fn subscribe(self: &Arc<Self>, from: Option<EventId>, selection: Selection) -> Subscription {
        let st = self.lock();
        let rx = self.live.subscribe();
        let start = decide_start(from, self.epoch, st.history.front().map(|f| f.seq), st.seq);
        let mut sub = Subscription {
            hub: self.clone(),
            selection,
            rx,
            initial: None,
            replay: VecDeque::new(),
            covered: st.seq,
        };
        match start {
            Start::Snapshot => sub.initial = Some(sub.encode_snapshot(&st, EventKind::Snapshot)),
            Start::Resync => sub.initial = Some(sub.encode_snapshot(&st, EventKind::Resync)),
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

/// One subscriber's view of the feed: an initial snapshot or replay, then live frames, with
/// lag turned into a resync. Dropping it unsubscribes.
pub struct Subscription {
    hub: Arc<Hub>,
    selection: Selection,
    rx: broadcast::Receiver<Arc<Frame>>,
    initial: Option<Event>,
    replay: VecDeque<Arc<Frame>>,
    /// Frames up to this seq are already reflected in what was sent (by a snapshot); skip them.
    covered: u64,
}

impl Subscription {
    fn encode_snapshot(&self, st: &State, kind: EventKind) -> Event {
        let snapshot = self.hub.snapshot_locked(st, &self.selection);
        Event {
            kind,
            id: EventId::new(self.hub.epoch, st.seq),
            data: serde_json::to_string(&snapshot).expect("snapshot serialises").into(),
        }
    }

    /// The next event. Never ends by itself: the caller stops on shutdown or disconnect.
    pub async fn next(&mut self) -> Event {
        if let Some(event) = self.initial.take() {
            return event;
        }
        while let Some(frame) = self.replay.pop_front() {
            if let Some(event) = self.tick(&frame) {
                return event;
            }
        }
        loop {
            match self.rx.recv().await {
                Ok(frame) if frame.seq <= self.covered => continue,
                Ok(frame) => {
                    if let Some(event) = self.tick(&frame) {
                        return event;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let st = self.hub.lock();
                    let event = self.encode_snapshot(&st, EventKind::Resync);
                    self.covered = st.seq;
                    drop(st);
                    self.hub.metrics.lagged.inc();
                    self.hub.metrics.resyncs.inc();
                    return event;
                }
                // The hub (and its sender) lives as long as any subscription: never closed.
                Err(RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// Switches to `selection` without resubscribing: returns a `snapshot` of the new selection
    /// at the current frame; frames up to it are then skipped (the snapshot covers them).
    pub fn reselect(&mut self, selection: Selection) -> Event {
        self.selection = selection;
        self.replay.clear();
        self.initial = None;
        let st = self.hub.lock();
        self.covered = st.seq;
        self.encode_snapshot(&st, EventKind::Snapshot)
    }

    fn tick(&self, frame: &Frame) -> Option<Event> {
        let data = frame.payload(&self.selection)?;
        Some(Event {
            kind: EventKind::Tick,
            id: EventId::new(self.hub.epoch, frame.seq),
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
            match futures_util::FutureExt::now_or_never(self.next()) {
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
        assert_eq!(decide_start(None, 1, Some(5), 10), Start::Snapshot);
        assert_eq!(decide_start(id(2, 7), 1, Some(5), 10), Start::Resync, "foreign epoch");
        assert_eq!(
            decide_start(id(1, 11), 1, Some(5), 10),
            Start::Resync,
            "from the future"
        );
        assert_eq!(decide_start(id(1, 7), 1, Some(5), 10), Start::Replay { after: 7 });
        assert_eq!(
            decide_start(id(1, 4), 1, Some(5), 10),
            Start::Replay { after: 4 },
            "oldest is the next frame"
        );
        assert_eq!(decide_start(id(1, 3), 1, Some(5), 10), Start::Resync, "past history");
        assert_eq!(
            decide_start(id(1, 10), 1, Some(5), 10),
            Start::Replay { after: 10 },
            "up to date"
        );
        assert_eq!(
            decide_start(id(1, 0), 1, None, 0),
            Start::Replay { after: 0 },
            "nothing published yet"
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
