//! Chart indicators over a [`CandleSeries`], computed incrementally: each candle's value is
//! computed once when its close is final, and a tick only recomputes the live candle's value
//! from state kept through the candle before it (a running sum, the previous average), never
//! the window. A backfill (a series rebuilt from `/api/history`) recomputes everything once;
//! the stream that follows it goes on from there, so the values across the join are those a
//! batch computation over the whole series gives (the tests check it against one).
//!
//! Prices are the wire's exact integers; sums over them are kept as integers (`i128` where a
//! square or a price times a volume could pass `i64`), so an SMA, a Bollinger band or a VWAP
//! computed incrementally is bit for bit the one computed from scratch. The recursive ones (EMA,
//! RSI) follow one recursion in one order whichever way they are fed.
//!
//! Pure state, no view: the chart draws [`Study::values`]. A value is `NaN` where the indicator
//! is not defined yet (its warm-up), which a chart skips.

use super::candles::CandleSeries;
use crate::wire::protocol::Candle;
use std::collections::VecDeque;

/// What to compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Simple moving average of the closes over `period` candles.
    Sma { period: usize },
    /// Exponential moving average of the closes, `alpha = 2 / (period + 1)`, seeded with the
    /// first close (as TradingView's `ta.ema`); defined from the `period`-th candle.
    Ema { period: usize },
    /// Volume-weighted average of the typical price `(high + low + close) / 3`, anchored at each
    /// UTC day's first candle.
    Vwap,
    /// The SMA and `k` population standard deviations of the closes either side: lines
    /// `[middle, upper, lower]`.
    Bollinger { period: usize, k: f64 },
    /// Wilder's relative strength index of the closes (0–100), each average seeded with the
    /// mean of the first `period` moves.
    Rsi { period: usize },
}

impl Kind {
    /// Candles in its window (1 for VWAP, which has none).
    fn period(&self) -> usize {
        match *self {
            Kind::Sma { period } | Kind::Ema { period } | Kind::Bollinger { period, .. } | Kind::Rsi { period } => {
                period.max(1)
            }
            Kind::Vwap => 1,
        }
    }

    /// Lines per candle: three for Bollinger bands, else one.
    pub fn lines(&self) -> usize {
        match self {
            Kind::Bollinger { .. } => 3,
            _ => 1,
        }
    }

    /// Its name in the URL's `ind` list: `sma20`, `ema50`, `vwap`, `bb20-2` (or `bb20-2.5`),
    /// `rsi14`. Integer formatting only: the page's WASM carries no float formatter.
    pub fn token(&self) -> String {
        match *self {
            Kind::Sma { period } => format!("sma{period}"),
            Kind::Ema { period } => format!("ema{period}"),
            Kind::Vwap => "vwap".to_string(),
            Kind::Bollinger { period, k } => format!("bb{period}-{}", tenths(k)),
            Kind::Rsi { period } => format!("rsi{period}"),
        }
    }

    /// Its name on the page: `SMA 20`, `BB 20 2`.
    pub fn label(&self) -> String {
        match *self {
            Kind::Sma { period } => format!("SMA {period}"),
            Kind::Ema { period } => format!("EMA {period}"),
            Kind::Vwap => "VWAP".to_string(),
            Kind::Bollinger { period, k } => format!("BB {period} {}", tenths(k)),
            Kind::Rsi { period } => format!("RSI {period}"),
        }
    }

    /// The kind a [`Kind::token`] names, if it is one within the limits ([`PERIODS`],
    /// [`BAND_WIDTHS`] in tenths).
    pub fn parse(token: &str) -> Option<Kind> {
        let period = |digits: &str| {
            digits
                .parse::<usize>()
                .ok()
                .filter(|p| PERIODS.contains(p) && !digits.starts_with('0'))
        };
        let t = token.trim().to_ascii_lowercase();
        if t == "vwap" {
            return Some(Kind::Vwap);
        }
        if let Some(rest) = t.strip_prefix("sma") {
            return period(rest).map(|period| Kind::Sma { period });
        }
        if let Some(rest) = t.strip_prefix("ema") {
            return period(rest).map(|period| Kind::Ema { period });
        }
        if let Some(rest) = t.strip_prefix("rsi") {
            return period(rest).map(|period| Kind::Rsi { period });
        }
        let rest = t.strip_prefix("bb")?;
        let (p, k) = rest.split_once('-').unwrap_or((rest, "2"));
        let (whole, tenth) = k.split_once('.').unwrap_or((k, "0"));
        let k10 = match (whole.parse::<u32>(), tenth) {
            (Ok(w), d) if d.len() == 1 && d.as_bytes()[0].is_ascii_digit() => {
                w * 10 + u32::from(d.as_bytes()[0] - b'0')
            }
            _ => return None,
        };
        BAND_WIDTHS.contains(&k10).then_some(())?;
        Some(Kind::Bollinger {
            period: period(p)?,
            k: f64::from(k10) / 10.0,
        })
    }
}

/// The periods an indicator may have, in candles.
pub const PERIODS: std::ops::RangeInclusive<usize> = 2..=200;
/// Bollinger bands' widths, in tenths of a standard deviation.
pub const BAND_WIDTHS: std::ops::RangeInclusive<u32> = 5..=40;
/// Indicators on one chart at most.
pub const MAX_STUDIES: usize = 6;

/// `k` to a tenth, as `2` or `2.5`.
fn tenths(k: f64) -> String {
    let t = (k * 10.0).round() as i64;
    if t % 10 == 0 {
        format!("{}", t / 10)
    } else {
        format!("{}.{}", t / 10, t % 10)
    }
}

/// The indicators a URL's `ind` value names, valid ones only, each once, at most
/// [`MAX_STUDIES`], in their order.
pub fn parse_list(list: &str) -> Vec<Kind> {
    list.split(',').filter_map(Kind::parse).fold(Vec::new(), |mut acc, k| {
        if !acc.contains(&k) && acc.len() < MAX_STUDIES {
            acc.push(k);
        }
        acc
    })
}

/// The `ind` value for `kinds`.
pub fn list_string(kinds: &[Kind]) -> String {
    kinds.iter().map(Kind::token).collect::<Vec<_>>().join(",")
}

/// One candle's value: `lines()` entries used, `NaN` while undefined.
pub type Value = [f64; 3];

const NONE: Value = [f64::NAN; 3];

/// The state of an indicator through the last candle whose close is final.
#[derive(Clone, Debug)]
enum State {
    /// The window's last `period - 1` final closes, and their sum.
    Window {
        closes: VecDeque<i64>,
        sum: i128,
        squares: i128,
    },
    Ema {
        last: Option<f64>,
        count: usize,
    },
    Vwap {
        day: i64,
        pv: i128,
        volume: i128,
    },
    Rsi {
        prev: Option<i64>,
        moves: usize,
        gain: f64,
        loss: f64,
    },
}

/// An indicator kept in step with one candle series.
#[derive(Clone, Debug)]
pub struct Study {
    kind: Kind,
    state: State,
    /// One value per candle of the series, oldest first.
    values: VecDeque<Value>,
    /// The start of the candle the last value is for (its close may still change).
    last_t: Option<i64>,
    /// The [`CandleSeries::generation`] the values are of.
    generation: u64,
}

impl Study {
    pub fn new(kind: Kind) -> Self {
        Study {
            kind,
            state: Self::fresh(kind),
            values: VecDeque::new(),
            last_t: None,
            generation: 0,
        }
    }

    fn fresh(kind: Kind) -> State {
        match kind {
            Kind::Sma { .. } | Kind::Bollinger { .. } => State::Window {
                closes: VecDeque::new(),
                sum: 0,
                squares: 0,
            },
            Kind::Ema { .. } => State::Ema { last: None, count: 0 },
            Kind::Vwap => State::Vwap {
                day: i64::MIN,
                pv: 0,
                volume: 0,
            },
            Kind::Rsi { .. } => State::Rsi {
                prev: None,
                moves: 0,
                gain: 0.0,
                loss: 0.0,
            },
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// One value per candle of the series last synced, oldest first.
    pub fn values(&self) -> &VecDeque<Value> {
        &self.values
    }

    /// Brings the values in step with `series`: a tick in the live candle recomputes one value;
    /// new candles finalise the ones before them and add theirs; anything else (another series,
    /// rebuilt or of another symbol or interval, or a jump back) recomputes the whole series.
    pub fn sync(&mut self, series: &CandleSeries) {
        let Some(newest) = series.last() else {
            self.reset();
            return;
        };
        let step = series.interval().millis();
        let candles: Vec<&Candle> = series.iter().collect();
        // Where our live candle sits in the (gap-free) series, if it still does.
        let ours = self
            .last_t
            .filter(|_| self.generation == series.generation())
            .and_then(|t| {
                let back = (newest.t - t).checked_div(step)?;
                let i = candles.len().checked_sub(1 + usize::try_from(back).ok()?)?;
                (candles[i].t == t).then_some(i)
            });
        match ours {
            Some(i) => {
                // The candle we had live is final from here on if others follow it.
                self.values.pop_back();
                for c in &candles[i..candles.len() - 1] {
                    let v = self.value(c);
                    self.values.push_back(v);
                    self.commit(c);
                }
            }
            None => {
                self.reset();
                for c in &candles[..candles.len() - 1] {
                    let v = self.value(c);
                    self.values.push_back(v);
                    self.commit(c);
                }
            }
        }
        let live = self.value(newest);
        self.values.push_back(live);
        while self.values.len() > candles.len() {
            self.values.pop_front();
        }
        self.last_t = Some(newest.t);
        self.generation = series.generation();
    }

    fn reset(&mut self) {
        self.state = Self::fresh(self.kind);
        self.values.clear();
        self.last_t = None;
    }

    /// `c`'s value, from the state through the candle before it; changes nothing.
    fn value(&self, c: &Candle) -> Value {
        match (&self.state, self.kind) {
            (State::Window { closes, sum, squares }, Kind::Sma { period } | Kind::Bollinger { period, .. }) => {
                if closes.len() + 1 < period {
                    return NONE;
                }
                let x = i128::from(c.close);
                let (sum, squares, n) = (sum + x, squares + x * x, period as i128);
                let mean = sum as f64 / period as f64;
                match self.kind {
                    Kind::Bollinger { k, .. } => {
                        // n²·variance = n·Σx² − (Σx)², exact in integers.
                        let sd = ((n * squares - sum * sum) as f64).sqrt() / period as f64;
                        [mean, mean + k * sd, mean - k * sd]
                    }
                    _ => [mean; 3],
                }
            }
            (State::Ema { last, count }, Kind::Ema { period }) => {
                if count + 1 < period {
                    NONE
                } else {
                    [ema_next(*last, c.close, period); 3]
                }
            }
            (State::Vwap { day, pv, volume }, _) => {
                let (pv, volume) = if day_of(c.t) == *day { (*pv, *volume) } else { (0, 0) };
                let (pv, volume) = (pv + typical3(c) * i128::from(c.volume), volume + i128::from(c.volume));
                if volume == 0 {
                    NONE
                } else {
                    [pv as f64 / (3 * volume) as f64; 3]
                }
            }
            (
                State::Rsi {
                    prev,
                    moves,
                    gain,
                    loss,
                },
                Kind::Rsi { period },
            ) => {
                let Some(prev) = prev else { return NONE };
                if moves + 1 < period {
                    return NONE;
                }
                let (g, l) = rsi_step(*moves, (*gain, *loss), updown(*prev, c.close), period);
                [rsi(g, l); 3]
            }
            _ => NONE,
        }
    }

    /// Takes `c`, whose close is final, into the state.
    fn commit(&mut self, c: &Candle) {
        let period = self.kind.period();
        match &mut self.state {
            State::Window { closes, sum, squares } => {
                let x = i128::from(c.close);
                closes.push_back(c.close);
                *sum += x;
                *squares += x * x;
                while closes.len() >= period {
                    let old = i128::from(closes.pop_front().unwrap_or_default());
                    *sum -= old;
                    *squares -= old * old;
                }
            }
            State::Ema { last, count } => {
                *last = Some(ema_next(*last, c.close, period));
                *count += 1;
            }
            State::Vwap { day, pv, volume } => {
                if day_of(c.t) != *day {
                    (*day, *pv, *volume) = (day_of(c.t), 0, 0);
                }
                *pv += typical3(c) * i128::from(c.volume);
                *volume += i128::from(c.volume);
            }
            State::Rsi {
                prev,
                moves,
                gain,
                loss,
            } => {
                if let Some(p) = *prev {
                    (*gain, *loss) = rsi_step(*moves, (*gain, *loss), updown(p, c.close), period);
                    *moves += 1;
                }
                *prev = Some(c.close);
            }
        }
    }
}

const DAY_MS: i64 = 86_400_000;

fn day_of(t: i64) -> i64 {
    t.div_euclid(DAY_MS)
}

/// Three times the typical price, exact.
fn typical3(c: &Candle) -> i128 {
    i128::from(c.high) + i128::from(c.low) + i128::from(c.close)
}

/// The EMA after `close`, from the one before it (none: the first close seeds it).
fn ema_next(last: Option<f64>, close: i64, period: usize) -> f64 {
    let (alpha, x) = (2.0 / (period as f64 + 1.0), close as f64);
    last.map_or(x, |prev| alpha * x + (1.0 - alpha) * prev)
}

/// RSI's average gain and loss after one more move (`up`, `down`), `moves` moves before it:
/// plain sums while seeding, their mean at the `period`-th move, then Wilder's smoothing.
fn rsi_step(moves: usize, (gain, loss): (f64, f64), (up, down): (f64, f64), period: usize) -> (f64, f64) {
    let n = period as f64;
    match (moves + 1).cmp(&period) {
        std::cmp::Ordering::Less => (gain + up, loss + down),
        std::cmp::Ordering::Equal => ((gain + up) / n, (loss + down) / n),
        std::cmp::Ordering::Greater => ((gain * (n - 1.0) + up) / n, (loss * (n - 1.0) + down) / n),
    }
}

fn updown(prev: i64, close: i64) -> (f64, f64) {
    let d = (close - prev) as f64;
    (d.max(0.0), (-d).max(0.0))
}

fn rsi(gain: f64, loss: f64) -> f64 {
    if loss == 0.0 {
        if gain == 0.0 { 50.0 } else { 100.0 }
    } else {
        100.0 - 100.0 / (1.0 + gain / loss)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_round_trip_and_junk_is_dropped() {
        let list = "sma20,EMA50,vwap,bb20-2.5,rsi14,bb10";
        let kinds = parse_list(list);
        assert_eq!(
            kinds,
            vec![
                Kind::Sma { period: 20 },
                Kind::Ema { period: 50 },
                Kind::Vwap,
                Kind::Bollinger { period: 20, k: 2.5 },
                Kind::Rsi { period: 14 },
                Kind::Bollinger { period: 10, k: 2.0 },
            ]
        );
        assert_eq!(list_string(&kinds), "sma20,ema50,vwap,bb20-2.5,rsi14,bb10-2");
        assert_eq!(parse_list(&list_string(&kinds)), kinds);
        for junk in [
            "sma",
            "sma1",
            "sma201",
            "sma020",
            "ema-5",
            "bb20-9",
            "bb20-2.55",
            "bb20-x",
            "macd",
            "rsi1e3",
            "",
        ] {
            assert_eq!(Kind::parse(junk), None, "{junk}");
        }
        assert_eq!(
            parse_list("sma20,sma20,sma5,sma6,sma7,sma8,sma9,sma10").len(),
            MAX_STUDIES
        );
        assert_eq!(Kind::Bollinger { period: 20, k: 2.0 }.label(), "BB 20 2");
    }

    use super::*;
    use crate::wire::protocol::Interval;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    /// The textbook definitions, computed from scratch over the whole series at once.
    fn reference(kind: Kind, candles: &[Candle]) -> Vec<Value> {
        let closes: Vec<i64> = candles.iter().map(|c| c.close).collect();
        match kind {
            Kind::Sma { period } | Kind::Bollinger { period, .. } => (0..candles.len())
                .map(|i| {
                    if i + 1 < period {
                        return NONE;
                    }
                    let w: Vec<i128> = closes[i + 1 - period..=i].iter().map(|&x| i128::from(x)).collect();
                    let sum: i128 = w.iter().sum();
                    let mean = sum as f64 / period as f64;
                    match kind {
                        Kind::Bollinger { k, .. } => {
                            // The population variance, Σ(x − mean)² / n, in exact rationals:
                            // Σ(n·x − Σx)² / n³.
                            let n = period as i128;
                            let dev: i128 = w.iter().map(|x| (n * x - sum) * (n * x - sum)).sum();
                            let sd = (dev as f64 / n as f64).sqrt() / period as f64;
                            [mean, mean + k * sd, mean - k * sd]
                        }
                        _ => [mean; 3],
                    }
                })
                .collect(),
            Kind::Ema { period } => {
                let alpha = 2.0 / (period as f64 + 1.0);
                let mut ema: Option<f64> = None;
                closes
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let x = x as f64;
                        let e = ema.map_or(x, |prev| alpha * x + (1.0 - alpha) * prev);
                        ema = Some(e);
                        if i + 1 < period { NONE } else { [e; 3] }
                    })
                    .collect()
            }
            Kind::Vwap => (0..candles.len())
                .map(|i| {
                    let day = day_of(candles[i].t);
                    let session = candles[..=i].iter().filter(|c| day_of(c.t) == day);
                    let (pv, v) = session.fold((0i128, 0i128), |(pv, v), c| {
                        (pv + typical3(c) * i128::from(c.volume), v + i128::from(c.volume))
                    });
                    if v == 0 { NONE } else { [pv as f64 / (3 * v) as f64; 3] }
                })
                .collect(),
            Kind::Rsi { period } => {
                let n = period as f64;
                let moves: Vec<(f64, f64)> = closes.windows(2).map(|w| updown(w[0], w[1])).collect();
                let mut out = vec![NONE; candles.len()];
                if moves.len() >= period {
                    let mut g = moves[..period].iter().map(|m| m.0).sum::<f64>() / n;
                    let mut l = moves[..period].iter().map(|m| m.1).sum::<f64>() / n;
                    out[period] = [rsi(g, l); 3];
                    for (j, m) in moves.iter().enumerate().skip(period) {
                        g = (g * (n - 1.0) + m.0) / n;
                        l = (l * (n - 1.0) + m.1) / n;
                        out[j + 1] = [rsi(g, l); 3];
                    }
                }
                out
            }
        }
    }

    /// Equal, with `NaN` equal to itself; Bollinger's deviation within a few ulps (the
    /// reference sums squared deviations, the study the difference of two sums: both exact in
    /// integers, then one rounding each).
    fn same(kind: Kind, a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                x[..kind.lines()]
                    .iter()
                    .zip(&y[..kind.lines()])
                    .all(|(p, q)| (p.is_nan() && q.is_nan()) || p == q || (p - q).abs() <= 1e-12 * p.abs().max(1.0))
            })
    }

    const KINDS: [Kind; 6] = [
        Kind::Sma { period: 20 },
        Kind::Ema { period: 9 },
        Kind::Vwap,
        Kind::Bollinger { period: 20, k: 2.0 },
        Kind::Rsi { period: 14 },
        Kind::Sma { period: 1 },
    ];

    /// A backfill, then a stream of trades (several per candle, gaps with no trade at all,
    /// across a UTC midnight), synced after every trade: at every step the study equals the
    /// reference over the whole series.
    #[test]
    fn streamed_values_equal_the_batch_definition_across_the_backfill_join() {
        for seed in 0..20 {
            let mut rng = StdRng::seed_from_u64(seed);
            let interval = Interval::M1;
            let start = 19_000 * DAY_MS - 90 * 60_000;
            let mut price: i64 = 10_000;
            let mut backfill = Vec::new();
            for m in 0..60 {
                let o = price;
                price += rng.random_range(-40..=40);
                backfill.push(Candle {
                    t: start + m * 60_000,
                    open: o,
                    high: o.max(price) + rng.random_range(0..10),
                    low: o.min(price) - rng.random_range(0..10),
                    close: price,
                    volume: rng.random_range(0..5_000),
                });
            }
            let mut series = CandleSeries::from_candles(interval, 10_000, backfill);
            let mut studies: Vec<Study> = KINDS.iter().map(|&k| Study::new(k)).collect();
            let mut ts = start + 60 * 60_000;
            for step in 0..600 {
                for s in &mut studies {
                    s.sync(&series);
                }
                if step % 7 == 0 || step == 599 {
                    let all: Vec<Candle> = series.iter().copied().collect();
                    for s in &studies {
                        let got: Vec<Value> = s.values().iter().copied().collect();
                        assert!(
                            same(s.kind(), &got, &reference(s.kind(), &all)),
                            "seed {seed}, step {step}: {:?}",
                            s.kind()
                        );
                    }
                }
                ts += rng.random_range(0..25_000) + if rng.random_bool(0.02) { 300_000 } else { 0 };
                price = (price + rng.random_range(-30..=30)).max(1);
                series.push(ts, price, rng.random_range(0..300));
            }
            assert!(series.len() > 200, "the stream crossed many candles");
        }
    }

    /// A series rebuilt (another backfill, another interval) is recomputed from scratch; a
    /// series trimmed at its front keeps one value per candle.
    #[test]
    fn a_rebuilt_series_starts_over_and_a_trimmed_one_stays_aligned() {
        let candles = |n: i64, base: i64| (0..n).map(move |m| Candle::flat(m * 60_000, base + m % 7));
        let mut study = Study::new(Kind::Sma { period: 3 });
        study.sync(&CandleSeries::from_candles(Interval::M1, 100, candles(10, 100)));
        let other = CandleSeries::from_candles(Interval::M1, 100, candles(10, 500));
        study.sync(&other);
        let all: Vec<Candle> = other.iter().copied().collect();
        let got: Vec<Value> = study.values().iter().copied().collect();
        assert!(same(study.kind(), &got, &reference(study.kind(), &all)));
        let mut capped = CandleSeries::from_candles(Interval::M1, 10, candles(10, 100));
        study.sync(&capped);
        for m in 10..40 {
            capped.push(m * 60_000, 100, 1);
            study.sync(&capped);
            assert_eq!(study.values().len(), capped.len());
        }
        let five = CandleSeries::from_candles(Interval::M5, 10, candles(10, 100).map(|c| Candle { t: c.t * 5, ..c }));
        study.sync(&five);
        let got: Vec<Value> = study.values().iter().copied().collect();
        let all: Vec<Candle> = five.iter().copied().collect();
        assert!(same(study.kind(), &got, &reference(study.kind(), &all)));
        study.sync(&CandleSeries::new(Interval::M1, 10));
        assert!(study.values().is_empty());
    }
}
