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
use std::collections::{BinaryHeap, HashMap};

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
    EnteringChannel { low: i64, high: i64 },
    ExitingChannel { low: i64, high: i64 },
}

impl Condition {
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

fn add(list: &mut Vec<(i64, AlertId)>, entry: (i64, AlertId)) {
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
            add(self.list(list), (level, spec.id));
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
    /// Scratch for a trade's candidates.
    candidates: Vec<AlertId>,
}

impl Alerts {
    /// An engine for a universe of `symbols` instruments.
    pub fn new(symbols: usize) -> Self {
        Alerts {
            symbols: (0..symbols).map(|_| SymbolIndex::default()).collect(),
            alerts: HashMap::new(),
            parked: BinaryHeap::new(),
            expiring: BinaryHeap::new(),
            candidates: Vec::new(),
        }
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
        self.symbols[spec.symbol].insert(&spec);
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

    /// Forgets an alert (deleted, or ended elsewhere).
    pub fn remove(&mut self, id: AlertId) {
        if let Some(alert) = self.alerts.remove(&id)
            && alert.parked_until.is_none()
            && alert.state == State::Active
        {
            self.symbols[alert.spec.symbol].remove(&alert.spec);
        }
    }

    /// Pauses (`true`) or resumes an alert.
    pub fn pause(&mut self, id: AlertId, paused: bool) {
        let Some(alert) = self.alerts.get_mut(&id) else { return };
        match (alert.state, paused) {
            (State::Active, true) => {
                if alert.parked_until.is_none() {
                    self.symbols[alert.spec.symbol].remove(&alert.spec);
                }
                alert.state = State::Paused;
            }
            (State::Paused, false) => {
                alert.state = State::Active;
                if alert.parked_until.is_none() {
                    self.symbols[alert.spec.symbol].insert(&alert.spec);
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
        candidates.clear();
        index.candidates(prev, last, &mut candidates);
        for &id in &candidates {
            let Some(alert) = self.alerts.get_mut(&id) else {
                continue;
            };
            if !alert.spec.condition.fires(prev, last) {
                continue; // a channel whose edge was crossed without entering or leaving it
            }
            let spec = alert.spec;
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
            let ended = match spec.frequency {
                _ if stop => Some(State::Stopped),
                Frequency::Once => Some(State::Triggered),
                Frequency::EveryTime => None,
                Frequency::OncePerMinute => {
                    alert.parked_until = Some(ts + 60_000);
                    None
                }
                Frequency::OncePerBar { interval_ms } => {
                    let interval = interval_ms.max(1);
                    alert.parked_until = Some((ts.div_euclid(interval) + 1) * interval);
                    None
                }
            };
            if let Some(state) = ended {
                self.symbols[symbol].remove(&spec);
                self.alerts.remove(&id);
                out.push(Outcome::Ended {
                    id,
                    owner: spec.owner,
                    state,
                });
            } else if let Some(until) = alert.parked_until {
                self.symbols[symbol].remove(&spec);
                self.parked.push(Reverse((until, id)));
            }
        }
        self.candidates = candidates;
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
                self.symbols[alert.spec.symbol].insert(&alert.spec);
            }
        }
    }

    /// What the engine holds on the heap, from its containers' capacities (an estimate: the
    /// allocator's own overhead is not counted).
    pub fn heap_bytes(&self) -> usize {
        let alerts = self.alerts.capacity() * (std::mem::size_of::<(AlertId, Alert)>() + 1);
        let fired = self.alerts.values().filter(|a| a.fired.is_some()).count() * std::mem::size_of::<Firings>();
        let queues = (self.parked.capacity() + self.expiring.capacity()) * std::mem::size_of::<(i64, AlertId)>();
        alerts + fired + queues + self.symbols.iter().map(SymbolIndex::heap_bytes).sum::<usize>()
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
                let w = rng.random_range(0..40);
                let condition = match rng.random_range(0..7) {
                    0 => Condition::Crossing(l),
                    1 => Condition::CrossingUp(l),
                    2 => Condition::CrossingDown(l),
                    3 => Condition::GreaterThan(l),
                    4 => Condition::LessThan(l),
                    5 => Condition::EnteringChannel { low: l, high: l + w },
                    _ => Condition::ExitingChannel { low: l, high: l + w },
                };
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
                let w = rng.random_range(0..30);
                let condition = match rng.random_range(0..7) {
                    0 => Condition::Crossing(l),
                    1 => Condition::CrossingUp(l),
                    2 => Condition::CrossingDown(l),
                    3 => Condition::GreaterThan(l),
                    4 => Condition::LessThan(l),
                    5 => Condition::EnteringChannel { low: l, high: l + w },
                    _ => Condition::ExitingChannel { low: l, high: l + w },
                };
                let frequency = match rng.random_range(0..5) {
                    0 => Frequency::Once,
                    1 => Frequency::OncePerMinute,
                    2 => Frequency::OncePerBar { interval_ms: 5_000 },
                    3 => Frequency::OncePerBar { interval_ms: 60_000 },
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
                    if r.until > ts || !r.spec.condition.fires(price, next) {
                        continue;
                    }
                    expected.push(Outcome::Fired {
                        id,
                        owner: 7,
                        price: next,
                        prev: price,
                        seq,
                        ts,
                    });
                    r.fired.push(ts);
                    let recent = r.fired.iter().filter(|t| ts - **t < STOP_WINDOW_MS).count();
                    let ended = match r.spec.frequency {
                        _ if recent > STOP_AFTER => Some(State::Stopped),
                        Frequency::Once => Some(State::Triggered),
                        Frequency::EveryTime => None,
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
