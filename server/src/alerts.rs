//! Price alerts, evaluated where the market is made: the engine only (issue 26, begun).
//!
//! Pure domain code, like `feed/market.rs`: no SQL, no HTTP, no clock. The owner feeds it every
//! trade of a frame (`on_trade`: the symbol's previous and last price, exact integers on the
//! instrument's tick grid) and the frame's time (`tick`), and it answers with the alerts that
//! fired and those whose state changed. What is not here yet: the store, the inbox, the REST
//! endpoints, delivery on the private channel, the page, and the candle conditions
//! (`moving_up_pct`, `moving_down_pct`, `once_per_bar_close`).
//!
//! **Cheap when nothing fires.** A frame's cost must not grow with the number of alerts, only
//! with the number that fire. Each symbol keeps its alerts' levels in sorted vectors, one per
//! kind of test, so the alerts a move fires are one contiguous range found by binary search:
//! - `crossing_up` at `L` fires when `prev < L ≤ last`: the range `(prev, last]` of the rising
//!   levels;
//! - `crossing_down` fires when `prev > L ≥ last`: the range `[last, prev)` of the falling ones;
//!   `crossing` is in both (a move goes one way, so it fires at most once);
//! - `greater_than` holds while `last > L`: the levels below `last`; `less_than`, those above;
//! - a channel `[low, high]` is entered or left only when a move crosses one of its edges, so
//!   the channels are indexed by each edge and only those whose edge was crossed are looked at.
//!
//! An alert that may not fire again yet (`once_per_minute`, `once_per_bar`) leaves the index
//! until it may, kept in a queue by time; so does one that is paused. A `greater_than` that
//! holds frame after frame therefore costs nothing between its firings.
//!
//! **Bounded.** An alert that fires more than [`STOP_AFTER`] times in [`STOP_WINDOW_MS`] is
//! stopped (a misplaced `every_time` level in a choppy market must not flood its owner).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// An alert's id, unique across users.
pub type AlertId = u64;

/// More firings than this within [`STOP_WINDOW_MS`] stop an alert.
pub const STOP_AFTER: usize = 15;
pub const STOP_WINDOW_MS: i64 = 3 * 60 * 1000;

/// What an alert watches in its symbol's last price (prices in the instrument's integer units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    Crossing(i64),
    CrossingUp(i64),
    CrossingDown(i64),
    GreaterThan(i64),
    LessThan(i64),
    EnteringChannel {
        low: i64,
        high: i64,
    },
    ExitingChannel {
        low: i64,
        high: i64,
    },
    /// The last price is at least `bp` hundredths of a percent above the close `bars` candles
    /// of `interval_ms` before the one forming.
    MovingUp {
        bp: i64,
        bars: u32,
        interval_ms: i64,
    },
    /// … below it.
    MovingDown {
        bp: i64,
        bars: u32,
        interval_ms: i64,
    },
}

/// The most candles back a moving condition may look.
pub const MAX_BARS: u32 = 100;

impl Condition {
    /// Whether a last price of `last` against the reference close `reference` fires a moving
    /// condition (integers only: `(last − reference) / reference ≥ bp / 10 000`).
    pub fn fires_moving(self, reference: i64, last: i64) -> bool {
        let (reference, last) = (i128::from(reference), i128::from(last));
        match self {
            _ if reference <= 0 => false,
            Condition::MovingUp { bp, .. } => (last - reference) * 10_000 >= i128::from(bp) * reference,
            Condition::MovingDown { bp, .. } => (reference - last) * 10_000 >= i128::from(bp) * reference,
            _ => false,
        }
    }

    /// Whether a move from `prev` to `last` fires it: the reference semantics the index must
    /// agree with (and the README states).
    pub fn fires(self, prev: i64, last: i64) -> bool {
        let inside = |p: i64, low: i64, high: i64| low <= p && p <= high;
        match self {
            Condition::CrossingUp(l) => prev < l && l <= last,
            Condition::CrossingDown(l) => prev > l && l >= last,
            Condition::Crossing(l) => (prev < l && l <= last) || (prev > l && l >= last),
            Condition::GreaterThan(l) => last > l,
            Condition::LessThan(l) => last < l,
            Condition::EnteringChannel { low, high } => inside(last, low, high) && !inside(prev, low, high),
            Condition::ExitingChannel { low, high } => !inside(last, low, high) && inside(prev, low, high),
            // Against a candle's close, not the previous trade: see `fires_moving`.
            Condition::MovingUp { .. } | Condition::MovingDown { .. } => false,
        }
    }
}

/// How often an alert may fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    /// Then it is `Triggered`.
    Once,
    /// At most once in each bar of `interval_ms` (bars aligned to the epoch, as candles are).
    OncePerBar {
        interval_ms: i64,
    },
    OncePerMinute,
    EveryTime,
    /// Evaluated only when a candle of `interval_ms` closes, on its close (`last`) against the
    /// close before (`prev`): at most once a bar.
    OncePerBarClose {
        interval_ms: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Paused,
    Triggered,
    Expired,
    Stopped,
}

/// An alert as the engine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub id: AlertId,
    pub owner: i64,
    pub symbol: usize,
    pub condition: Condition,
    pub frequency: Frequency,
    /// Ends the alert (ms since the epoch).
    pub expires: Option<i64>,
}

/// What the engine reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The alert fired at a move from `prev` to `price` (frame `seq`, time `ts`).
    Fired {
        id: AlertId,
        owner: i64,
        price: i64,
        prev: i64,
        seq: u64,
        ts: i64,
    },
    /// The alert ended: `Triggered` (after its one firing), `Expired` or `Stopped`.
    Ended { id: AlertId, owner: i64, state: State },
}

struct Alert {
    spec: Spec,
    state: State,
    /// While out of the index until it may fire again: from when.
    parked_until: Option<i64>,
    /// The times of its recent firings (at most `STOP_AFTER + 1`), kept once it has fired.
    fired: Option<Box<Firings>>,
}

/// The newest firings' times, in a ring.
struct Firings {
    times: [i64; STOP_AFTER + 1],
    len: usize,
    next: usize,
}

impl Firings {
    /// Records a firing at `ts`; whether there are now more than [`STOP_AFTER`] in the window.
    fn record(&mut self, ts: i64) -> bool {
        self.times[self.next] = ts;
        self.next = (self.next + 1) % self.times.len();
        self.len = (self.len + 1).min(self.times.len());
        // Full, the oldest kept is the one `next` points at.
        self.len == self.times.len() && ts - self.times[self.next] < STOP_WINDOW_MS
    }
}

/// One symbol's index: each kind of test's levels, sorted, with the alert they belong to.
#[derive(Default)]
struct SymbolIndex {
    /// `crossing_up` and `crossing`.
    rising: Vec<(i64, AlertId)>,
    /// `crossing_down` and `crossing`.
    falling: Vec<(i64, AlertId)>,
    greater: Vec<(i64, AlertId)>,
    less: Vec<(i64, AlertId)>,
    /// Channels (entering and exiting) by their low and by their high edge.
    lows: Vec<(i64, AlertId)>,
    highs: Vec<(i64, AlertId)>,
}

fn add_entry(list: &mut Vec<(i64, AlertId)>, entry: (i64, AlertId)) {
    let at = list.partition_point(|e| *e < entry);
    list.insert(at, entry);
}

fn take(list: &mut Vec<(i64, AlertId)>, entry: (i64, AlertId)) {
    if let Ok(at) = list.binary_search(&entry) {
        list.remove(at);
    }
}

/// The entries of `list` whose level is in `low..=high`.
fn between(list: &[(i64, AlertId)], low: i64, high: i64) -> &[(i64, AlertId)] {
    let start = list.partition_point(|e| e.0 < low);
    let end = list.partition_point(|e| e.0 <= high);
    &list[start..end.max(start)]
}

/// Which of a symbol's sorted lists.
#[derive(Clone, Copy)]
enum List {
    Rising,
    Falling,
    Greater,
    Less,
    Lows,
    Highs,
}

/// Where an alert's levels go in its symbol's index: one list, or two.
fn entries(condition: Condition) -> [Option<(List, i64)>; 2] {
    match condition {
        Condition::Crossing(l) => [Some((List::Rising, l)), Some((List::Falling, l))],
        Condition::CrossingUp(l) => [Some((List::Rising, l)), None],
        Condition::CrossingDown(l) => [Some((List::Falling, l)), None],
        Condition::GreaterThan(l) => [Some((List::Greater, l)), None],
        Condition::LessThan(l) => [Some((List::Less, l)), None],
        Condition::EnteringChannel { low, high } | Condition::ExitingChannel { low, high } => {
            [Some((List::Lows, low)), Some((List::Highs, high))]
        }
        Condition::MovingUp { .. } | Condition::MovingDown { .. } => [None, None],
    }
}

/// Where an alert waits in the engine: by its levels in its symbol's index (evaluated at each
/// trade), in a bar-close index (evaluated when a candle closes), or in a moving group.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Trades(usize),
    Closes(usize, i64),
    Moving(MovingKey),
}

/// The moving alerts of one symbol, interval, look-back and direction: sorted by their
/// threshold, so a move fires a prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct MovingKey {
    symbol: usize,
    interval_ms: i64,
    bars: u32,
    up: bool,
}

fn place_of(spec: &Spec) -> Place {
    match (spec.condition, spec.frequency) {
        (Condition::MovingUp { bars, interval_ms, .. } | Condition::MovingDown { bars, interval_ms, .. }, _) => {
            Place::Moving(MovingKey {
                symbol: spec.symbol,
                interval_ms: interval_ms.max(1),
                bars,
                up: matches!(spec.condition, Condition::MovingUp { .. }),
            })
        }
        (_, Frequency::OncePerBarClose { interval_ms }) => Place::Closes(spec.symbol, interval_ms.max(1)),
        _ => Place::Trades(spec.symbol),
    }
}

/// One symbol's closes at one interval, as its trades make them: the bucket forming and its
/// last price, and the closes of the newest buckets that had trades (a bucket without any
/// closes where the one before did).
struct Series {
    bucket: Option<i64>,
    last: i64,
    closes: VecDeque<(i64, i64)>,
}

impl Series {
    /// The close of bucket `bucket` (that of the newest traded bucket at or before it).
    fn close_of(&self, bucket: i64) -> Option<i64> {
        self.closes.iter().rev().find(|(b, _)| *b <= bucket).map(|(_, c)| *c)
    }
}

impl SymbolIndex {
    fn list(&mut self, list: List) -> &mut Vec<(i64, AlertId)> {
        match list {
            List::Rising => &mut self.rising,
            List::Falling => &mut self.falling,
            List::Greater => &mut self.greater,
            List::Less => &mut self.less,
            List::Lows => &mut self.lows,
            List::Highs => &mut self.highs,
        }
    }

    fn insert(&mut self, spec: &Spec) {
        for (list, level) in entries(spec.condition).into_iter().flatten() {
            add_entry(self.list(list), (level, spec.id));
        }
    }

    fn remove(&mut self, spec: &Spec) {
        for (list, level) in entries(spec.condition).into_iter().flatten() {
            take(self.list(list), (level, spec.id));
        }
    }

    /// The alerts a move from `prev` to `last` may fire (each at most once; a channel's is then
    /// checked against its own bounds).
    fn candidates(&self, prev: i64, last: i64, out: &mut Vec<AlertId>) {
        let ids = |slice: &[(i64, AlertId)], out: &mut Vec<AlertId>| out.extend(slice.iter().map(|e| e.1));
        // (Prices are far from the ends of i64; the bounds saturate all the same.)
        if last > prev {
            ids(between(&self.rising, prev.saturating_add(1), last), out);
        } else if last < prev {
            ids(between(&self.falling, last, prev.saturating_sub(1)), out);
        }
        if last > i64::MIN {
            ids(between(&self.greater, i64::MIN, last - 1), out);
        }
        if last < i64::MAX {
            ids(between(&self.less, last + 1, i64::MAX), out);
        }
        // A channel's state changes only if the move crossed one of its edges (an edge at the
        // price either side counts: the bounds are inclusive).
        let (lo, hi) = (prev.min(last), prev.max(last));
        if lo != hi {
            let start = out.len();
            ids(between(&self.lows, lo, hi), out);
            ids(between(&self.highs, lo, hi), out);
            // A channel whose both edges were crossed is listed twice.
            let channels = &mut out[start..];
            channels.sort_unstable();
            let mut kept = start;
            for i in start..out.len() {
                if i == start || out[i] != out[kept - 1] {
                    out[kept] = out[i];
                    kept += 1;
                }
            }
            out.truncate(kept);
        }
    }

    fn heap_bytes(&self) -> usize {
        [
            &self.rising,
            &self.falling,
            &self.greater,
            &self.less,
            &self.lows,
            &self.highs,
        ]
        .iter()
        .map(|l| l.capacity() * std::mem::size_of::<(i64, AlertId)>())
        .sum()
    }
}

/// Every active alert of the market, indexed for the frame's evaluation.
pub struct Alerts {
    symbols: Vec<SymbolIndex>,
    alerts: HashMap<AlertId, Alert>,
    /// Alerts out of the index until a time (they may fire again then), and expiries.
    parked: BinaryHeap<Reverse<(i64, AlertId)>>,
    expiring: BinaryHeap<Reverse<(i64, AlertId)>>,
    /// `once_per_bar_close` alerts, by symbol and interval.
    at_close: HashMap<(usize, i64), SymbolIndex>,
    /// Moving alerts, by group: (threshold in basis points, id), sorted.
    moving: HashMap<MovingKey, Vec<(i64, AlertId)>>,
    /// The closes the two need, by symbol and interval (kept once asked for).
    series: HashMap<(usize, i64), Series>,
    /// Scratch for a trade's candidates: the alert, and the move it is judged on.
    candidates: Vec<(AlertId, i64, i64)>,
    scratch: Vec<AlertId>,
}

impl Alerts {
    /// An engine for a universe of `symbols` instruments.
    pub fn new(symbols: usize) -> Self {
        Alerts {
            symbols: (0..symbols).map(|_| SymbolIndex::default()).collect(),
            alerts: HashMap::new(),
            parked: BinaryHeap::new(),
            expiring: BinaryHeap::new(),
            at_close: HashMap::new(),
            moving: HashMap::new(),
            series: HashMap::new(),
            candidates: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Puts an alert in (`add`) or takes it out of the index it is evaluated from.
    fn place(&mut self, spec: &Spec, add: bool) {
        match place_of(spec) {
            Place::Trades(symbol) => match add {
                true => self.symbols[symbol].insert(spec),
                false => self.symbols[symbol].remove(spec),
            },
            Place::Closes(symbol, interval) => {
                self.series_of(symbol, interval);
                let index = self.at_close.entry((symbol, interval)).or_default();
                match add {
                    true => index.insert(spec),
                    false => index.remove(spec),
                }
            }
            Place::Moving(key) => {
                self.series_of(key.symbol, key.interval_ms);
                let bp = match spec.condition {
                    Condition::MovingUp { bp, .. } | Condition::MovingDown { bp, .. } => bp,
                    _ => 0,
                };
                let list = self.moving.entry(key).or_default();
                match add {
                    true => add_entry(list, (bp, spec.id)),
                    false => take(list, (bp, spec.id)),
                }
            }
        }
    }

    fn series_of(&mut self, symbol: usize, interval: i64) -> &mut Series {
        self.series.entry((symbol, interval)).or_insert_with(|| Series {
            bucket: None,
            last: 0,
            closes: VecDeque::new(),
        })
    }

    /// Active alerts (indexed or waiting to fire again), paused ones included.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Adds an active alert (replacing one of the same id). An unknown symbol is ignored.
    pub fn insert(&mut self, spec: Spec) {
        if spec.symbol >= self.symbols.len() {
            return;
        }
        self.remove(spec.id);
        self.place(&spec, true);
        if let Some(at) = spec.expires {
            self.expiring.push(Reverse((at, spec.id)));
        }
        self.alerts.insert(
            spec.id,
            Alert {
                spec,
                state: State::Active,
                parked_until: None,
                fired: None,
            },
        );
    }

    /// An alert the engine holds: what it watches, and whether it is active or paused.
    pub fn get(&self, id: AlertId) -> Option<(Spec, State)> {
        self.alerts.get(&id).map(|a| (a.spec, a.state))
    }

    /// Forgets an alert (deleted, or ended elsewhere).
    pub fn remove(&mut self, id: AlertId) {
        if let Some(alert) = self.alerts.remove(&id)
            && alert.parked_until.is_none()
            && alert.state == State::Active
        {
            self.place(&alert.spec, false);
        }
    }

    /// Pauses (`true`) or resumes an alert.
    pub fn pause(&mut self, id: AlertId, paused: bool) {
        let Some(alert) = self.alerts.get_mut(&id) else { return };
        let (spec, indexed) = (alert.spec, alert.parked_until.is_none());
        match (alert.state, paused) {
            (State::Active, true) => {
                alert.state = State::Paused;
                if indexed {
                    self.place(&spec, false);
                }
            }
            (State::Paused, false) => {
                alert.state = State::Active;
                if indexed {
                    self.place(&spec, true);
                }
            }
            _ => {}
        }
    }

    /// A trade of `symbol` in frame `seq` at `ts`, the price moving from `prev` to `last`:
    /// appends the firings and the ends it causes to `out`.
    pub fn on_trade(&mut self, symbol: usize, prev: i64, last: i64, seq: u64, ts: i64, out: &mut Vec<Outcome>) {
        let Some(index) = self.symbols.get(symbol) else { return };
        let mut candidates = std::mem::take(&mut self.candidates);
        let mut scratch = std::mem::take(&mut self.scratch);
        candidates.clear();
        scratch.clear();
        index.candidates(prev, last, &mut scratch);
        candidates.extend(scratch.iter().map(|&id| (id, prev, last)));
        if !self.series.is_empty() {
            self.at_candles(symbol, last, ts, &mut candidates, &mut scratch);
        }
        for &(id, prev, last) in &candidates {
            let Some(alert) = self.alerts.get_mut(&id) else {
                continue;
            };
            let spec = alert.spec;
            let fires = match place_of(&spec) {
                // Judged on the reference close, carried in `prev`.
                Place::Moving(_) => spec.condition.fires_moving(prev, last),
                _ => spec.condition.fires(prev, last),
            };
            if !fires {
                continue; // a channel whose edge was crossed without entering or leaving it
            }
            out.push(Outcome::Fired {
                id,
                owner: spec.owner,
                price: last,
                prev,
                seq,
                ts,
            });
            let stop = alert
                .fired
                .get_or_insert_with(|| {
                    Box::new(Firings {
                        times: [0; STOP_AFTER + 1],
                        len: 0,
                        next: 0,
                    })
                })
                .record(ts);
            let next_bar = |interval: i64| (ts.div_euclid(interval.max(1)) + 1) * interval.max(1);
            let ended = match spec.frequency {
                _ if stop => Some(State::Stopped),
                Frequency::Once => Some(State::Triggered),
                Frequency::EveryTime | Frequency::OncePerBarClose { .. } => None,
                Frequency::OncePerMinute => {
                    alert.parked_until = Some(ts + 60_000);
                    None
                }
                Frequency::OncePerBar { interval_ms } => {
                    alert.parked_until = Some(next_bar(interval_ms));
                    None
                }
            };
            if let Some(state) = ended {
                self.place(&spec, false);
                self.alerts.remove(&id);
                out.push(Outcome::Ended {
                    id,
                    owner: spec.owner,
                    state,
                });
            } else if let Some(until) = alert.parked_until {
                self.place(&spec, false);
                self.parked.push(Reverse((until, id)));
            }
        }
        self.candidates = candidates;
        self.scratch = scratch;
    }

    /// What a trade of `symbol` at `last` (time `ts`) does to the candles the engine follows: a
    /// candle that closed fires its bar-close alerts (its close against the one before), and
    /// the move since each moving group's reference close fires a prefix of the group.
    fn at_candles(
        &mut self,
        symbol: usize,
        last: i64,
        ts: i64,
        candidates: &mut Vec<(AlertId, i64, i64)>,
        scratch: &mut Vec<AlertId>,
    ) {
        for (&(s, interval), series) in self.series.iter_mut().filter(|((s, _), _)| *s == symbol) {
            let bucket = ts.div_euclid(interval);
            if let Some(forming) = series.bucket
                && bucket > forming
            {
                // The candle `forming` closed at the last price before this trade.
                let before = series.close_of(forming - 1);
                series.closes.push_back((forming, series.last));
                if series.closes.len() > MAX_BARS as usize + 1 {
                    series.closes.pop_front();
                }
                if let (Some(before), Some(index)) = (before, self.at_close.get(&(s, interval))) {
                    scratch.clear();
                    index.candidates(before, series.last, scratch);
                    candidates.extend(scratch.iter().map(|&id| (id, before, series.last)));
                }
            }
            series.bucket = Some(bucket);
            series.last = last;
        }
        for (key, list) in self.moving.iter().filter(|(k, _)| k.symbol == symbol) {
            let Some(series) = self.series.get(&(symbol, key.interval_ms)) else {
                continue;
            };
            let bucket = ts.div_euclid(key.interval_ms);
            let Some(reference) = series.close_of(bucket - i64::from(key.bars)).filter(|r| *r > 0) else {
                continue; // not that many candles followed yet
            };
            let moved = if key.up { last - reference } else { reference - last };
            // Every threshold at or under the move, in basis points (rounded down: the exact
            // test is made again on each).
            let reached = (i128::from(moved) * 10_000 / i128::from(reference)).clamp(0, i128::from(i64::MAX)) as i64;
            let end = list.partition_point(|e| e.0 <= reached);
            candidates.extend(list[..end].iter().map(|&(_, id)| (id, reference, last)));
        }
    }

    /// The frame's time: alerts that may fire again go back into the index, expired ones end.
    pub fn tick(&mut self, now: i64, out: &mut Vec<Outcome>) {
        while let Some(Reverse((at, id))) = self.expiring.peek().copied()
            && at <= now
        {
            self.expiring.pop();
            if let Some(alert) = self.alerts.get(&id)
                && alert.spec.expires == Some(at)
            {
                let owner = alert.spec.owner;
                self.remove(id);
                out.push(Outcome::Ended {
                    id,
                    owner,
                    state: State::Expired,
                });
            }
        }
        while let Some(Reverse((at, id))) = self.parked.peek().copied()
            && at <= now
        {
            self.parked.pop();
            let Some(alert) = self.alerts.get_mut(&id) else {
                continue;
            };
            if alert.parked_until != Some(at) {
                continue;
            }
            alert.parked_until = None;
            if alert.state == State::Active {
                let spec = alert.spec;
                self.place(&spec, true);
            }
        }
    }

    /// What the engine holds on the heap, from its containers' capacities (an estimate: the
    /// allocator's own overhead is not counted).
    pub fn heap_bytes(&self) -> usize {
        let alerts = self.alerts.capacity() * (std::mem::size_of::<(AlertId, Alert)>() + 1);
        let fired = self.alerts.values().filter(|a| a.fired.is_some()).count() * std::mem::size_of::<Firings>();
        let queues = (self.parked.capacity() + self.expiring.capacity()) * std::mem::size_of::<(i64, AlertId)>();
        let entry = std::mem::size_of::<(i64, AlertId)>();
        let moving: usize = self.moving.values().map(|l| l.capacity() * entry).sum();
        let closes: usize = self.at_close.values().map(SymbolIndex::heap_bytes).sum();
        let series = self.series.len() * (MAX_BARS as usize + 1) * entry;
        alerts
            + fired
            + queues
            + moving
            + closes
            + series
            + self.symbols.iter().map(SymbolIndex::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn spec(id: AlertId, condition: Condition, frequency: Frequency) -> Spec {
        Spec {
            id,
            owner: 7,
            symbol: 0,
            condition,
            frequency,
            expires: None,
        }
    }

    /// A random condition on price levels at `l` (channels up to `width` wide): crossing, up,
    /// down, above, below, entering or exiting.
    fn level_condition(rng: &mut StdRng, l: i64, width: i64) -> Condition {
        let w = rng.random_range(0..width);
        match rng.random_range(0..7) {
            0 => Condition::Crossing(l),
            1 => Condition::CrossingUp(l),
            2 => Condition::CrossingDown(l),
            3 => Condition::GreaterThan(l),
            4 => Condition::LessThan(l),
            5 => Condition::EnteringChannel { low: l, high: l + w },
            _ => Condition::ExitingChannel { low: l, high: l + w },
        }
    }

    fn fired(out: &[Outcome]) -> Vec<AlertId> {
        let mut ids: Vec<AlertId> = out
            .iter()
            .filter_map(|o| match o {
                Outcome::Fired { id, .. } => Some(*id),
                Outcome::Ended { .. } => None,
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn the_stated_semantics_at_the_edges() {
        use Condition::*;
        assert!(CrossingUp(100).fires(99, 100)); // prev < L ≤ last
        assert!(!CrossingUp(100).fires(100, 101));
        assert!(CrossingDown(100).fires(101, 100)); // prev > L ≥ last
        assert!(!CrossingDown(100).fires(100, 99));
        assert!(Crossing(100).fires(99, 100) && Crossing(100).fires(101, 100));
        assert!(GreaterThan(100).fires(0, 101) && !GreaterThan(100).fires(0, 100));
        assert!(LessThan(100).fires(200, 99) && !LessThan(100).fires(200, 100));
        let (low, high) = (100, 110);
        assert!(EnteringChannel { low, high }.fires(99, 100));
        assert!(EnteringChannel { low, high }.fires(111, 110));
        assert!(!EnteringChannel { low, high }.fires(99, 111)); // jumped over it
        assert!(ExitingChannel { low, high }.fires(110, 111));
        assert!(!ExitingChannel { low, high }.fires(100, 110));
    }

    /// The index finds exactly what scanning every alert with [`Condition::fires`] finds, over
    /// random walks and random alerts of every kind (`every_time`, so none leaves the index).
    #[test]
    fn the_index_agrees_with_a_scan_of_every_alert() {
        let mut rng = StdRng::seed_from_u64(26);
        for round in 0..50 {
            let mut engine = Alerts::new(1);
            let mut all = Vec::new();
            for id in 0..200 {
                let l = rng.random_range(900..1100);
                let condition = level_condition(&mut rng, l, 40);
                all.push((id, condition));
                engine.insert(spec(id, condition, Frequency::EveryTime));
            }
            let mut price = 1000i64;
            for step in 0..100u64 {
                let next = price + rng.random_range(-25..=25);
                let mut out = Vec::new();
                // Far apart in time, so the stop rule never applies.
                engine.on_trade(0, price, next, step, step as i64 * STOP_WINDOW_MS, &mut out);
                let mut expected: Vec<AlertId> = all
                    .iter()
                    .filter(|(_, c)| c.fires(price, next))
                    .map(|(id, _)| *id)
                    .collect();
                expected.sort_unstable();
                assert_eq!(fired(&out), expected, "round {round}, step {step}: {price} → {next}");
                price = next;
            }
        }
    }

    /// The semantics written out the slow way, one alert at a time: for every condition and
    /// frequency, over random walks and random times, the engine's firings and ends are exactly
    /// these (the property test of issue 26).
    #[test]
    fn the_engine_agrees_with_a_brute_force_reference() {
        struct Reference {
            spec: Spec,
            ended: Option<State>,
            until: i64,
            fired: Vec<i64>,
        }
        let mut rng = StdRng::seed_from_u64(2026);
        for round in 0..30 {
            let mut engine = Alerts::new(1);
            let mut reference = Vec::new();
            for id in 0..150 {
                let l = rng.random_range(950..1050);
                let (bp, bars) = (rng.random_range(1..200), rng.random_range(1..=5));
                let interval_ms = [5_000, 60_000][rng.random_range(0..2)];
                let condition = match rng.random_range(0..9) {
                    7 => Condition::MovingUp { bp, bars, interval_ms },
                    8 => Condition::MovingDown { bp, bars, interval_ms },
                    _ => level_condition(&mut rng, l, 30),
                };
                let moving = matches!(condition, Condition::MovingUp { .. } | Condition::MovingDown { .. });
                let frequency = match rng.random_range(0..6) {
                    0 => Frequency::Once,
                    1 => Frequency::OncePerMinute,
                    2 => Frequency::OncePerBar { interval_ms: 5_000 },
                    3 => Frequency::OncePerBar { interval_ms: 60_000 },
                    4 if !moving => Frequency::OncePerBarClose { interval_ms },
                    _ => Frequency::EveryTime,
                };
                let expires = rng.random_bool(0.3).then(|| rng.random_range(0..600_000));
                let spec = Spec {
                    expires,
                    ..spec(id, condition, frequency)
                };
                engine.insert(spec);
                reference.push(Reference {
                    spec,
                    ended: None,
                    until: i64::MIN,
                    fired: Vec::new(),
                });
            }
            let (mut price, mut ts) = (1000i64, 0i64);
            // Every trade so far (time, price): the candles the reference reads its closes from.
            let mut trades: Vec<(i64, i64)> = Vec::new();
            // The close of the candle of `interval` holding `bucket`: the last trade at or before it.
            let close_of = |trades: &[(i64, i64)], interval: i64, bucket: i64| {
                trades
                    .iter()
                    .rev()
                    .find(|(t, _)| t.div_euclid(interval) <= bucket)
                    .map(|(_, p)| *p)
            };
            for seq in 0..1500u64 {
                let next = price + rng.random_range(-12..=12);
                ts += rng.random_range(50..2_000);
                let mut out = Vec::new();
                engine.tick(ts, &mut out);
                engine.on_trade(0, price, next, seq, ts, &mut out);
                let mut expected = Vec::new();
                for r in reference.iter_mut().filter(|r| r.ended.is_none()) {
                    let id = r.spec.id;
                    if r.spec.expires.is_some_and(|at| at <= ts) {
                        r.ended = Some(State::Expired);
                        expected.push(Outcome::Ended {
                            id,
                            owner: 7,
                            state: State::Expired,
                        });
                        continue;
                    }
                    if r.until > ts {
                        continue;
                    }
                    // The two prices it is judged on: the trade before and this one; for a moving
                    // condition, the reference close and this trade; at a bar's close, that close
                    // and the one before.
                    let judged = match (r.spec.condition, r.spec.frequency) {
                        (
                            Condition::MovingUp { bp, bars, interval_ms }
                            | Condition::MovingDown { bp, bars, interval_ms },
                            _,
                        ) => {
                            let up = matches!(r.spec.condition, Condition::MovingUp { .. });
                            let reference =
                                close_of(&trades, interval_ms, ts.div_euclid(interval_ms) - i64::from(bars));
                            reference
                                .filter(|&reference| {
                                    let moved = if up { next - reference } else { reference - next };
                                    reference > 0 && moved * 10_000 >= bp * reference
                                })
                                .map(|reference| (reference, next))
                        }
                        (condition, Frequency::OncePerBarClose { interval_ms }) => {
                            let closed = trades.last().map(|(t, _)| t.div_euclid(interval_ms));
                            match closed {
                                Some(closed) if closed < ts.div_euclid(interval_ms) => {
                                    close_of(&trades, interval_ms, closed - 1)
                                        .filter(|&before| condition.fires(before, price))
                                        .map(|before| (before, price))
                                }
                                _ => None,
                            }
                        }
                        (condition, _) => condition.fires(price, next).then_some((price, next)),
                    };
                    let Some((prev, last)) = judged else { continue };
                    expected.push(Outcome::Fired {
                        id,
                        owner: 7,
                        price: last,
                        prev,
                        seq,
                        ts,
                    });
                    r.fired.push(ts);
                    let recent = r.fired.iter().filter(|t| ts - **t < STOP_WINDOW_MS).count();
                    let ended = match r.spec.frequency {
                        _ if recent > STOP_AFTER => Some(State::Stopped),
                        Frequency::Once => Some(State::Triggered),
                        Frequency::EveryTime | Frequency::OncePerBarClose { .. } => None,
                        Frequency::OncePerMinute => {
                            r.until = ts + 60_000;
                            None
                        }
                        Frequency::OncePerBar { interval_ms } => {
                            r.until = (ts / interval_ms + 1) * interval_ms;
                            None
                        }
                    };
                    if let Some(state) = ended {
                        r.ended = Some(state);
                        expected.push(Outcome::Ended { id, owner: 7, state });
                    }
                }
                // The engine's order within a frame is its own: compare as sets.
                let key = |o: &Outcome| format!("{o:?}");
                let mut got: Vec<String> = out.iter().map(key).collect();
                let mut want: Vec<String> = expected.iter().map(key).collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "round {round}, frame {seq}: {price} → {next} at {ts}");
                trades.push((ts, next));
                price = next;
            }
        }
    }

    #[test]
    fn once_triggers_and_leaves_the_index() {
        let mut engine = Alerts::new(1);
        engine.insert(spec(1, Condition::CrossingUp(100), Frequency::Once));
        let mut out = Vec::new();
        engine.on_trade(0, 99, 100, 1, 0, &mut out);
        assert_eq!(
            out,
            vec![
                Outcome::Fired {
                    id: 1,
                    owner: 7,
                    price: 100,
                    prev: 99,
                    seq: 1,
                    ts: 0
                },
                Outcome::Ended {
                    id: 1,
                    owner: 7,
                    state: State::Triggered
                }
            ]
        );
        out.clear();
        engine.on_trade(0, 99, 101, 2, 1, &mut out);
        assert!(out.is_empty());
        assert!(engine.is_empty());
    }

    #[test]
    fn once_per_minute_and_per_bar_wait_out_of_the_index() {
        let mut engine = Alerts::new(1);
        engine.insert(spec(1, Condition::GreaterThan(100), Frequency::OncePerMinute));
        engine.insert(spec(
            2,
            Condition::GreaterThan(100),
            Frequency::OncePerBar { interval_ms: 5_000 },
        ));
        let mut out = Vec::new();
        engine.on_trade(0, 101, 102, 1, 1_000, &mut out);
        assert_eq!(fired(&out), vec![1, 2]);
        for (ts, expected) in [
            (4_999, vec![]),
            (5_000, vec![2]),
            (60_999, vec![2]),
            (61_000, vec![1]),
            (65_000, vec![2]),
        ] {
            out.clear();
            engine.tick(ts, &mut out);
            engine.on_trade(0, 102, 103, 2, ts, &mut out);
            assert_eq!(fired(&out), expected, "at {ts}");
        }
    }

    #[test]
    fn pause_expiry_and_the_stop_rule() {
        let mut engine = Alerts::new(1);
        engine.insert(spec(1, Condition::Crossing(100), Frequency::EveryTime));
        engine.insert(Spec {
            expires: Some(10_000),
            ..spec(2, Condition::Crossing(100), Frequency::EveryTime)
        });
        engine.pause(1, true);
        let mut out = Vec::new();
        engine.on_trade(0, 99, 100, 1, 0, &mut out);
        assert_eq!(fired(&out), vec![2]);
        out.clear();
        engine.tick(10_000, &mut out);
        assert_eq!(
            out,
            vec![Outcome::Ended {
                id: 2,
                owner: 7,
                state: State::Expired
            }]
        );
        engine.pause(1, false);
        // Sixteen crossings within three minutes: the sixteenth stops it.
        let mut ended = None;
        for i in 0..16 {
            out.clear();
            let (prev, last) = if i % 2 == 0 { (99, 100) } else { (101, 100) };
            engine.on_trade(0, prev, last, i, 20_000 + i as i64 * 1_000, &mut out);
            assert_eq!(fired(&out), vec![1], "firing {i}");
            ended = out.iter().find_map(|o| match o {
                Outcome::Ended { state, .. } => Some(*state),
                _ => None,
            });
            assert_eq!(ended.is_some(), i == 15);
        }
        assert_eq!(ended, Some(State::Stopped));
        assert!(engine.is_empty());
    }

    #[test]
    fn a_hundred_thousand_alerts_hold_at_most_200_bytes_each() {
        let mut engine = Alerts::new(20);
        let mut rng = StdRng::seed_from_u64(1);
        for id in 0..100_000 {
            let l = rng.random_range(10_000..20_000);
            engine.insert(Spec {
                symbol: (id % 20) as usize,
                ..spec(id, Condition::Crossing(l), Frequency::OncePerMinute)
            });
        }
        let per_alert = engine.heap_bytes() / engine.len();
        assert!(per_alert <= 200, "{per_alert} bytes per alert");
    }
}
