//! The candle store: recent OHLCV candles of every instrument at every interval, built from the
//! frames the hub publishes, for `/api/history` and the first page's charts and sparklines.

use app::state::candles::CandleSeries;
use app::wire::protocol::{Candle, Interval};

/// Most candles kept per symbol at any interval (see [`Interval::kept`]).
pub const MAX_KEPT: usize = 900;

/// One series per instrument and interval ([`Interval::ALL`] order), each bounded to
/// [`Interval::kept`] candles.
#[derive(Clone, Debug, PartialEq)]
pub struct CandleStore {
    series: Vec<[CandleSeries; Interval::ALL.len()]>,
}

impl CandleStore {
    pub fn new(instruments: usize) -> Self {
        CandleStore {
            series: (0..instruments)
                .map(|_| Interval::ALL.map(|i| CandleSeries::new(i, i.kept())))
                .collect(),
        }
    }

    pub fn instruments(&self) -> usize {
        self.series.len()
    }

    /// Adds every print of a frame's trade (stamped `ts`) to its instrument's series.
    pub fn push_trade(&mut self, trade: &crate::feed::Trade, ts: i64) {
        for print in &trade.prints {
            self.push(trade.index, ts, print.price(), print.size());
        }
    }

    /// Adds a trade of instrument `index` at `price` (ms timestamp `ts`) to all its series.
    pub fn push(&mut self, index: usize, ts: i64, price: i64, quantity: u64) {
        for series in &mut self.series[index] {
            series.push(ts, price, quantity);
        }
    }

    /// The newest `limit` candles of instrument `index` at `interval`, oldest first.
    pub fn tail(&self, index: usize, interval: Interval, limit: usize) -> Vec<Candle> {
        let k = Interval::ALL.iter().position(|x| *x == interval).unwrap_or(0);
        self.series[index][k].tail(limit)
    }

    /// Every candle, per instrument (universe order) and interval ([`Interval::ALL`] order),
    /// oldest first: what the market bus carries to edges that join later.
    pub fn to_rows(&self) -> Vec<Vec<Vec<Candle>>> {
        self.series
            .iter()
            .map(|per| per.iter().map(|s| s.iter().copied().collect()).collect())
            .collect()
    }

    /// The store [`CandleStore::to_rows`] describes, for `instruments` instruments; an error
    /// says what does not fit.
    pub fn from_rows(rows: Vec<Vec<Vec<Candle>>>, instruments: usize) -> Result<Self, String> {
        if rows.len() != instruments {
            return Err(format!("candles of {} instruments, not {instruments}", rows.len()));
        }
        let series = rows
            .into_iter()
            .map(|per| {
                let per: [Vec<Candle>; Interval::ALL.len()] = per
                    .try_into()
                    .map_err(|per: Vec<_>| format!("{} intervals, not {}", per.len(), Interval::ALL.len()))?;
                let mut k = 0;
                Ok(per.map(|candles| {
                    let interval = Interval::ALL[k];
                    k += 1;
                    CandleSeries::from_candles(interval, interval.kept(), candles)
                }))
            })
            .collect::<Result<_, String>>()?;
        Ok(CandleStore { series })
    }

    /// The newest `limit` candles of every instrument at `interval`, universe order.
    pub(super) fn tails(&self, interval: Interval, limit: usize) -> Vec<Vec<Candle>> {
        (0..self.series.len()).map(|i| self.tail(i, interval, limit)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_kept_is_the_most_any_interval_keeps() {
        assert_eq!(Interval::ALL.iter().map(|i| i.kept()).max(), Some(MAX_KEPT));
    }

    #[test]
    fn rows_rebuild_the_same_store_and_continue_the_same() {
        let mut store = CandleStore::new(2);
        let mut rng = crate::xorshift(9);
        let mut ts = 1_700_000_000_000;
        let mut trade = move || (rng(3_000) as i64, rng(2), 10_000 + rng(200) as i64, 1 + rng(50) as u64);
        for _ in 0..5_000 {
            let (dt, i, price, qty) = trade();
            ts += dt;
            store.push(i, ts, price, qty);
        }
        let mut copy = CandleStore::from_rows(store.to_rows(), 2).unwrap();
        assert_eq!(copy, store);
        // Whatever comes next lands the same in both.
        for _ in 0..500 {
            let (dt, i, price, qty) = trade();
            ts += dt;
            store.push(i, ts, price, qty);
            copy.push(i, ts, price, qty);
        }
        assert_eq!(copy, store);
        assert!(
            CandleStore::from_rows(store.to_rows(), 3)
                .unwrap_err()
                .contains("2 instruments")
        );
        let mut short = store.to_rows();
        short[1].pop();
        assert!(CandleStore::from_rows(short, 2).unwrap_err().contains("5 intervals"));
    }
}
