//! OHLCV candle aggregation from trades, shared by the server (which keeps recent candles for
//! `/api/history`) and the browser (which builds the live candle from ticks), so a backfilled
//! chart and its live continuation are computed by the same code and meet without a seam. The
//! [`Candle`] and [`Interval`] themselves are wire types.

use crate::wire::protocol::{Candle, Interval};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next [`CandleSeries::generation`].
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// A bounded, gap-free run of candles of one interval, oldest first.
///
/// Buckets without trades are filled with flat zero-volume candles at the previous close, so the
/// time axis is continuous; at most `cap` candles are kept, so memory is bounded over hours.
#[derive(Clone, Debug)]
pub struct CandleSeries {
    interval: Interval,
    cap: usize,
    candles: VecDeque<Candle>,
    /// Which series this is: a new one (another symbol, another backfill) has another number,
    /// so what follows it incrementally (the indicators) knows to start over.
    generation: u64,
}

/// Equal candles at the same interval and cap, whichever series they came from.
impl PartialEq for CandleSeries {
    fn eq(&self, other: &Self) -> bool {
        (self.interval, self.cap, &self.candles) == (other.interval, other.cap, &other.candles)
    }
}

impl CandleSeries {
    pub fn new(interval: Interval, cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            interval,
            cap,
            candles: VecDeque::with_capacity(cap.min(4096)),
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// This series' number, distinct from every other series made by [`CandleSeries::new`] or
    /// [`CandleSeries::from_candles`] in this process (a clone keeps it).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Rebuilds a series from candles received from `/api/history` (oldest first).
    pub fn from_candles(interval: Interval, cap: usize, candles: impl IntoIterator<Item = Candle>) -> Self {
        let mut series = Self::new(interval, cap);
        for c in candles {
            if series.candles.back().is_none_or(|last| c.t > last.t) {
                series.fill_to(interval.bucket(c.t));
                if series.candles.back().is_some_and(|last| last.t == c.t) {
                    series.candles.pop_back();
                }
                series.candles.push_back(c);
            }
        }
        series.trim();
        series
    }

    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// Adds one trade of `volume` at `price` at time `ts`. Returns `false` (and changes nothing)
    /// for a trade older than the current candle, which an in-order feed never produces.
    pub fn push(&mut self, ts: i64, price: i64, volume: u64) -> bool {
        let bucket = self.interval.bucket(ts);
        match self.candles.back_mut() {
            Some(last) if bucket == last.t => {
                last.high = last.high.max(price);
                last.low = last.low.min(price);
                last.close = price;
                last.volume += volume;
            }
            Some(last) if bucket < last.t => return false,
            _ => {
                self.fill_to(bucket);
                self.candles.push_back(Candle {
                    volume,
                    ..Candle::flat(bucket, price)
                });
                self.trim();
            }
        }
        true
    }

    /// Moves the time axis forward to `ts` without a trade: buckets up to and including the one
    /// holding `ts` are filled with flat candles at the last close.
    pub fn advance_to(&mut self, ts: i64) {
        let bucket = self.interval.bucket(ts);
        if self.candles.back().is_some_and(|last| bucket > last.t) {
            self.fill_to(bucket);
            let close = self.candles.back().map(|c| c.close).unwrap_or_default();
            self.candles.push_back(Candle::flat(bucket, close));
            self.trim();
        }
    }

    /// Pushes flat candles for every bucket strictly between the last candle and `bucket`.
    /// A gap longer than the cap only materialises the last `cap` of its buckets.
    fn fill_to(&mut self, bucket: i64) {
        let Some(last) = self.candles.back().copied() else {
            return;
        };
        let step = self.interval.millis();
        let missing = ((bucket - last.t) / step - 1).max(0) as usize;
        let skipped = missing.saturating_sub(self.cap);
        if skipped > 0 {
            self.candles.clear();
        }
        let mut t = last.t + step * (1 + skipped as i64);
        while t < bucket {
            self.candles.push_back(Candle::flat(t, last.close));
            t += step;
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.candles.len() > self.cap {
            self.candles.pop_front();
        }
    }

    pub fn last(&self) -> Option<&Candle> {
        self.candles.back()
    }

    pub fn len(&self) -> usize {
        self.candles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candles.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Candle> + ExactSizeIterator {
        self.candles.iter()
    }

    /// The newest `n` candles, oldest first.
    pub fn tail(&self, n: usize) -> Vec<Candle> {
        self.candles
            .iter()
            .skip(self.candles.len().saturating_sub(n))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_699_999_980_000; // a whole minute

    #[test]
    fn trades_in_one_bucket_make_one_candle() {
        let mut s = CandleSeries::new(Interval::S1, 10);
        s.push(T0 + 10, 100, 5);
        s.push(T0 + 500, 103, 1);
        s.push(T0 + 999, 99, 2);
        s.push(T0 + 998, 101, 1);
        assert_eq!(
            s.tail(10),
            vec![Candle {
                t: T0,
                open: 100,
                high: 103,
                low: 99,
                close: 101,
                volume: 9
            }]
        );
    }

    #[test]
    fn bucket_boundary_starts_a_new_candle() {
        let mut s = CandleSeries::new(Interval::S5, 10);
        s.push(T0 + 4_999, 10, 1);
        s.push(T0 + 5_000, 11, 1);
        let c = s.tail(10);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].t, c[1].t), (T0, T0 + 5_000));
        assert_eq!(c[1].open, 11);
    }

    #[test]
    fn gaps_are_filled_with_flat_candles_at_last_close() {
        let mut s = CandleSeries::new(Interval::S1, 10);
        s.push(T0, 10, 1);
        s.push(T0 + 300, 12, 1);
        s.push(T0 + 3_100, 9, 4);
        let c = s.tail(10);
        assert_eq!(
            c.iter().map(|c| c.t).collect::<Vec<_>>(),
            vec![T0, T0 + 1_000, T0 + 2_000, T0 + 3_000]
        );
        assert_eq!(
            c[1],
            Candle {
                t: T0 + 1_000,
                open: 12,
                high: 12,
                low: 12,
                close: 12,
                volume: 0
            }
        );
        assert_eq!(c[3].open, 9);
        assert_eq!(c[3].volume, 4);
    }

    #[test]
    fn a_gap_longer_than_the_cap_keeps_only_cap_candles() {
        let mut s = CandleSeries::new(Interval::S1, 5);
        s.push(T0, 10, 1);
        s.push(T0 + 3_600_000, 20, 1);
        let c = s.tail(100);
        assert_eq!(c.len(), 5);
        assert_eq!(c.last().unwrap().t, T0 + 3_600_000);
        assert!(c.windows(2).all(|w| w[1].t - w[0].t == 1_000));
        assert_eq!(c[0].close, 10);
    }

    #[test]
    fn old_trades_are_refused() {
        let mut s = CandleSeries::new(Interval::M1, 5);
        assert!(s.push(T0 + 60_000, 10, 1));
        assert!(!s.push(T0 + 59_999, 11, 1));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn advance_moves_the_axis_without_trades() {
        let mut s = CandleSeries::new(Interval::S1, 10);
        s.advance_to(T0); // nothing to extend yet
        assert!(s.is_empty());
        s.push(T0, 10, 1);
        s.advance_to(T0 + 2_500);
        let c = s.tail(10);
        assert_eq!(c.len(), 3);
        assert_eq!(c[2], Candle::flat(T0 + 2_000, 10));
        s.advance_to(T0 + 2_600);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn cap_bounds_memory() {
        let mut s = CandleSeries::new(Interval::S1, 60);
        for i in 0..10_000 {
            s.push(T0 + i * 1_000, 1 + i, 1);
        }
        assert_eq!(s.len(), 60);
        assert_eq!(s.last().unwrap().t, T0 + 9_999 * 1_000);
    }

    #[test]
    fn negative_timestamps_bucket_downwards() {
        assert_eq!(Interval::S5.bucket(-1), -5_000);
    }

    #[test]
    fn from_candles_restores_and_fills() {
        let a = Candle {
            t: T0,
            open: 1,
            high: 2,
            low: 0,
            close: 2,
            volume: 3,
        };
        let b = Candle { t: T0 + 2_000, ..a };
        let s = CandleSeries::from_candles(Interval::S1, 10, [a, b, a]);
        assert_eq!(s.len(), 3);
        assert_eq!(s.tail(3)[1], Candle::flat(T0 + 1_000, 2));
    }

    #[test]
    fn interval_parses() {
        assert_eq!("5s".parse::<Interval>(), Ok(Interval::S5));
        assert!("2s".parse::<Interval>().is_err());
        assert_eq!(serde_json::to_string(&Interval::M1).unwrap(), "\"1m\"");
    }
}
