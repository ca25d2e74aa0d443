//! The statistics a market is judged by: the "stylized facts" of asset returns (R. Cont,
//! *Quantitative Finance* 2001), measured on candles the way a quant would measure a real tape.
//! The market test (`server/tests/market.rs`) asserts them on what the server serves, and
//! `make scenario N=market` prints them (`server/examples/market.rs`).
//!
//! Pure arithmetic over candles: no HTTP, no clock.

use super::market::trading_seconds_per_year;
use app::wire::protocol::{AssetClass, Candle};

/// One instrument's candles at one interval, oldest first, and what is needed to read them.
#[derive(Clone, Debug)]
pub struct Series {
    pub symbol: String,
    pub class: AssetClass,
    /// Sizes are integers in units of 10^-size_decimals.
    pub size_decimals: u8,
    /// The candles' width, seconds.
    pub interval_secs: f64,
    pub candles: Vec<Candle>,
}

impl Series {
    /// Log returns from each candle's close to the next's.
    pub fn returns(&self) -> Vec<f64> {
        self.candles
            .windows(2)
            .map(|w| (w[1].close as f64 / w[0].close as f64).ln())
            .collect()
    }

    /// [`Series::returns`], each with the span it covers: the start times of the two candles.
    fn timed_returns(&self) -> Vec<((i64, i64), f64)> {
        self.candles
            .windows(2)
            .map(|w| ((w[0].t, w[1].t), (w[1].close as f64 / w[0].close as f64).ln()))
            .collect()
    }

    /// Each candle's volume after the first (aligned with [`Series::returns`]), in whole units.
    pub fn volumes(&self) -> Vec<f64> {
        let unit = 10f64.powi(i32::from(self.size_decimals));
        self.candles.iter().skip(1).map(|c| c.volume as f64 / unit).collect()
    }

    /// Everything this module measures of one instrument.
    pub fn facts(&self) -> Facts {
        let r = self.returns();
        let abs: Vec<f64> = r.iter().map(|x| x.abs()).collect();
        let volumes = self.volumes();
        let per_year = trading_seconds_per_year(self.class) / self.interval_secs;
        let elapsed = self.candles.len() as f64 * self.interval_secs;
        let total: f64 =
            self.candles.iter().map(|c| c.volume as f64).sum::<f64>() / 10f64.powi(i32::from(self.size_decimals));
        let (first, last) = match (self.candles.first(), self.candles.last()) {
            (Some(first), Some(last)) => (first.open as f64, last.close as f64),
            _ => (1.0, 1.0),
        };
        Facts {
            symbol: self.symbol.clone(),
            class: self.class,
            annual_vol: std_dev(&r) * per_year.sqrt(),
            session_change: last / first - 1.0,
            excess_kurtosis: excess_kurtosis(&r),
            clustering: (1..=CLUSTERING_LAGS).map(|lag| autocorrelation(&abs, lag)).sum::<f64>()
                / CLUSTERING_LAGS as f64,
            autocorrelation: autocorrelation(&r, 1),
            volume_per_day: total / elapsed * super::market::trading_seconds_per_day(self.class),
            volume_activity: correlation(&volumes, &abs),
        }
    }
}

/// The lags, in candles, over which volatility clustering is averaged.
pub const CLUSTERING_LAGS: usize = 5;

/// What [`Series::facts`] measures.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    pub symbol: String,
    pub class: AssetClass,
    /// Standard deviation of the log returns, annualised over the class's trading year.
    pub annual_vol: f64,
    /// From the first candle's open to the last candle's close, as a fraction (0.05 is +5 %).
    pub session_change: f64,
    /// Excess kurtosis of the log returns: 0 for a normal law, above for fat tails.
    pub excess_kurtosis: f64,
    /// Mean autocorrelation of the absolute returns over lags 1 to [`CLUSTERING_LAGS`]:
    /// above 0 when busy candles follow busy ones.
    pub clustering: f64,
    /// Lag-1 autocorrelation of the returns themselves: near 0 when they are unpredictable.
    pub autocorrelation: f64,
    /// Volume per real trading day of the class (6.5 h for stocks, 24 h otherwise), in whole
    /// units (shares, coins, base currency).
    pub volume_per_day: f64,
    /// Correlation of each candle's volume with its absolute return.
    pub volume_activity: f64,
}

/// The correlation of two instruments' returns, over the spans both have a return for, matched
/// by time: a candle that one series has and the other lacks (a quiet minute, or one more
/// minute served to a later request) drops that span from both rather than shifting one series
/// against the other.
pub fn co_movement(a: &Series, b: &Series) -> f64 {
    let (ra, rb) = (a.timed_returns(), b.timed_returns());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < ra.len() && j < rb.len() {
        match ra[i].0.cmp(&rb[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                x.push(ra[i].1);
                y.push(rb[j].1);
                i += 1;
                j += 1;
            }
        }
    }
    correlation(&x, &y)
}

/// The mean of the pairwise [`co_movement`]s of `series`.
pub fn mean_pairwise_correlation(series: &[&Series]) -> f64 {
    let mut sum = 0.0;
    let mut pairs = 0;
    for (i, a) in series.iter().enumerate() {
        for b in &series[i + 1..] {
            sum += co_movement(a, b);
            pairs += 1;
        }
    }
    if pairs == 0 { 0.0 } else { sum / pairs as f64 }
}

pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

/// Population standard deviation.
pub fn std_dev(x: &[f64]) -> f64 {
    let m = mean(x);
    mean(&x.iter().map(|v| (v - m) * (v - m)).collect::<Vec<_>>()).sqrt()
}

/// Pearson correlation of two equally long samples (0 when either is constant).
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Autocorrelation of `x` at `lag`, with the whole sample's mean and variance.
pub fn autocorrelation(x: &[f64], lag: usize) -> f64 {
    if x.len() <= lag {
        return 0.0;
    }
    let m = mean(x);
    let var: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    if var == 0.0 {
        return 0.0;
    }
    let cov: f64 = x.windows(lag + 1).map(|w| (w[0] - m) * (w[lag] - m)).sum();
    cov / var
}

/// Excess kurtosis (the fourth standardised moment minus 3).
pub fn excess_kurtosis(x: &[f64]) -> f64 {
    let m = mean(x);
    let var = mean(&x.iter().map(|v| (v - m).powi(2)).collect::<Vec<_>>());
    if var == 0.0 {
        return 0.0;
    }
    mean(&x.iter().map(|v| (v - m).powi(4)).collect::<Vec<_>>()) / (var * var) - 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(closes: &[(i64, i64)]) -> Series {
        Series {
            symbol: "X".into(),
            class: AssetClass::Equity,
            size_decimals: 0,
            interval_secs: 60.0,
            candles: closes
                .iter()
                .map(|&(minute, close)| Candle::flat(minute * 60_000, close))
                .collect(),
        }
    }

    /// Two series fetched a minute boundary apart: the later one has one more candle. Matched
    /// by time they are the same market; matched by position (their common tail) they were
    /// shifted a minute against each other and looked unrelated.
    #[test]
    fn co_movement_matches_returns_by_time() {
        let path = [100, 103, 101, 106, 104, 110, 107, 111];
        let a = minutes(&path.iter().enumerate().map(|(m, &c)| (m as i64, c)).collect::<Vec<_>>());
        let mut later = a.clone();
        later.candles.push(Candle::flat(8 * 60_000, 90));
        assert!((co_movement(&a, &later) - 1.0).abs() < 1e-12);
        // A quiet minute (no candle) drops its spans from both, not just from one.
        let mut quiet = a.clone();
        quiet.candles.remove(3);
        assert!((co_movement(&a, &quiet) - 1.0).abs() < 1e-12);
        assert!((mean_pairwise_correlation(&[&a, &later, &quiet]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_statistics_are_the_textbooks() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(mean(&x), 2.5);
        assert!((std_dev(&x) - 1.25f64.sqrt()).abs() < 1e-12);
        assert!((correlation(&x, &[2.0, 4.0, 6.0, 8.0]) - 1.0).abs() < 1e-12);
        assert!((correlation(&x, &[8.0, 6.0, 4.0, 2.0]) + 1.0).abs() < 1e-12);
        assert_eq!(correlation(&x, &[1.0; 4]), 0.0);
        // Alternating signs: lag 1 perfectly negative.
        let alt = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0];
        assert!((autocorrelation(&alt, 1) + 5.0 / 6.0).abs() < 1e-12);
        // Two point masses have the lowest kurtosis there is (1, excess −2).
        assert!((excess_kurtosis(&alt) + 2.0).abs() < 1e-12);
        // One outlier among many small values: fat tails.
        let mut spike = vec![0.0; 99];
        spike.push(10.0);
        assert!(excess_kurtosis(&spike) > 90.0);
    }

    #[test]
    fn facts_of_a_series_read_its_candles() {
        let candle = |t, open, close, volume| Candle {
            t,
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            volume,
        };
        let series = Series {
            symbol: "X".into(),
            class: AssetClass::Crypto,
            size_decimals: 2,
            interval_secs: 60.0,
            candles: vec![
                candle(0, 100, 100, 500),
                candle(60_000, 100, 110, 1_000),
                candle(120_000, 110, 99, 1_500),
            ],
        };
        let f = series.facts();
        assert!((f.session_change + 0.01).abs() < 1e-12);
        // Three minutes of 30 coins, over a crypto day of 1 440 minutes.
        assert!((f.volume_per_day - 30.0 * 480.0).abs() < 1e-9);
        assert_eq!(series.volumes(), [10.0, 15.0]);
        let r = series.returns();
        assert!((r[0] - 1.1f64.ln()).abs() < 1e-12 && (r[1] - 0.9f64.ln()).abs() < 1e-12);
        let minutes_a_year = 365.0 * 24.0 * 60.0;
        assert!((f.annual_vol - std_dev(&r) * f64::sqrt(minutes_a_year)).abs() < 1e-9);
    }
}
