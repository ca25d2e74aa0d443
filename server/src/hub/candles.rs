//! The candle store: recent OHLCV candles of every instrument at every interval, built from the
//! frames the hub publishes, for `/api/history` and the first page's charts and sparklines.

use app::state::candles::CandleSeries;
use app::wire::protocol::{Candle, Interval};

/// Candles kept per symbol and interval for `/api/history` (12 minutes of 1 s candles).
pub const CANDLE_CAP: usize = 720;

/// One series per instrument and interval ([`Interval::ALL`] order), each bounded to
/// [`CANDLE_CAP`] candles.
pub(super) struct CandleStore {
    series: Vec<[CandleSeries; Interval::ALL.len()]>,
}

impl CandleStore {
    pub(super) fn new(instruments: usize) -> Self {
        CandleStore {
            series: (0..instruments)
                .map(|_| Interval::ALL.map(|i| CandleSeries::new(i, CANDLE_CAP)))
                .collect(),
        }
    }

    /// Adds a trade of instrument `index` at `price` (ms timestamp `ts`) to all its series.
    pub(super) fn push(&mut self, index: usize, ts: i64, price: i64, quantity: u64) {
        for series in &mut self.series[index] {
            series.push(ts, price, quantity);
        }
    }

    /// The newest `limit` candles of instrument `index` at `interval`, oldest first.
    pub(super) fn tail(&self, index: usize, interval: Interval, limit: usize) -> Vec<Candle> {
        let k = Interval::ALL.iter().position(|x| *x == interval).unwrap_or(0);
        self.series[index][k].tail(limit)
    }

    /// The newest `limit` candles of every instrument at `interval`, universe order.
    pub(super) fn tails(&self, interval: Interval, limit: usize) -> Vec<Vec<Candle>> {
        (0..self.series.len()).map(|i| self.tail(i, interval, limit)).collect()
    }
}
