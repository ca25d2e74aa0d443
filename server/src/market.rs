//! The simulated market: where a tick is born. Pure domain code (no web types, no clock, no
//! task): [`Market::step`] advances every instrument by one frame from a seeded RNG, so the same
//! seed and settings replay the identical sequence of frames.
//!
//! Prices are kept as integer multiples of 10^-decimals, so they are exact multiples of the
//! tick size and print without binary-float noise (`187.42`, never `187.42000000000002`).

use app::protocol::{AssetClass, Instrument, Quote};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Parameters of one simulated instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentSpec {
    pub symbol: String,
    pub name: String,
    pub class: AssetClass,
    /// Price decimals; prices are integers in units of 10^-decimals.
    pub decimals: u8,
    /// Tick size, in price units (10^-decimals).
    pub tick_units: i64,
    /// Opening price of the session, in price units.
    pub open_units: i64,
    /// Volatility of the log price per √second. Roughly five times a real intraday tape, so a
    /// chart visibly moves within a minute.
    pub vol_per_sqrt_sec: f64,
    /// Drift of the log price per second.
    pub drift_per_sec: f64,
    /// Probability that the instrument trades in a given frame: activity is irregular.
    pub activity: f64,
    /// Half spread, in ticks (≥ 1, so bid < price < ask).
    pub half_spread_ticks: i64,
    /// Typical trade size, in the instrument's units (shares, coins, base currency).
    pub lot: u64,
}

impl InstrumentSpec {
    fn new(symbol: &str, name: &str, class: AssetClass, open: f64, decimals: u8, tick_units: i64) -> Self {
        let (vol, activity, half_spread_ticks, lot) = match class {
            AssetClass::Equity => (0.0006, 0.35, 1, 100),
            AssetClass::Crypto => (0.0012, 0.6, 2, 1),
            AssetClass::Fx => (0.00012, 0.5, 1, 100_000),
        };
        let scale = 10f64.powi(decimals as i32);
        let open_units = ((open * scale / tick_units as f64).round() as i64).max(1) * tick_units;
        InstrumentSpec {
            symbol: symbol.to_string(),
            name: name.to_string(),
            class,
            decimals,
            tick_units,
            open_units,
            vol_per_sqrt_sec: vol,
            drift_per_sec: 0.0,
            activity,
            half_spread_ticks,
            lot,
        }
    }

    fn with_vol(mut self, vol: f64) -> Self {
        self.vol_per_sqrt_sec = vol;
        self
    }

    /// Parameters for a symbol the default universe does not know: a mid-volatility equity
    /// quoted in cents, opening at `open` (100.00 when not given).
    pub fn custom(symbol: &str, open: Option<f64>) -> Self {
        Self::new(symbol, symbol, AssetClass::Equity, open.unwrap_or(100.0), 2, 1)
    }

    /// Returns a copy that opens at `open` instead (kept on the instrument's tick grid).
    pub fn opening_at(&self, open: f64) -> Self {
        let mut spec = Self::new(
            &self.symbol,
            &self.name,
            self.class,
            open,
            self.decimals,
            self.tick_units,
        );
        spec.vol_per_sqrt_sec = self.vol_per_sqrt_sec;
        spec
    }

    pub fn instrument(&self) -> Instrument {
        Instrument {
            symbol: self.symbol.clone(),
            name: self.name.clone(),
            class: self.class,
            tick_size: self.tick_units as f64 / self.scale(),
            decimals: self.decimals,
        }
    }

    fn scale(&self) -> f64 {
        10f64.powi(self.decimals as i32)
    }
}

/// The default universe: large-cap stocks, crypto pairs and FX pairs at realistic levels.
pub fn default_universe() -> Vec<InstrumentSpec> {
    use AssetClass::*;
    vec![
        InstrumentSpec::new("AAPL", "Apple", Equity, 189.84, 2, 1),
        InstrumentSpec::new("MSFT", "Microsoft", Equity, 421.53, 2, 1),
        InstrumentSpec::new("NVDA", "NVIDIA", Equity, 124.92, 2, 1).with_vol(0.0011),
        InstrumentSpec::new("AMZN", "Amazon", Equity, 186.13, 2, 1),
        InstrumentSpec::new("GOOGL", "Alphabet", Equity, 171.40, 2, 1),
        InstrumentSpec::new("META", "Meta Platforms", Equity, 502.31, 2, 1).with_vol(0.0008),
        InstrumentSpec::new("TSLA", "Tesla", Equity, 248.50, 2, 1).with_vol(0.0014),
        InstrumentSpec::new("JPM", "JPMorgan Chase", Equity, 201.77, 2, 1).with_vol(0.0004),
        InstrumentSpec::new("V", "Visa", Equity, 276.10, 2, 1).with_vol(0.0004),
        InstrumentSpec::new("XOM", "Exxon Mobil", Equity, 114.62, 2, 1).with_vol(0.0005),
        InstrumentSpec::new("JNJ", "Johnson & Johnson", Equity, 155.20, 2, 1).with_vol(0.0003),
        InstrumentSpec::new("WMT", "Walmart", Equity, 68.45, 2, 1).with_vol(0.0004),
        InstrumentSpec::new("BTC-USD", "Bitcoin", Crypto, 64_250.00, 2, 1),
        InstrumentSpec::new("ETH-USD", "Ether", Crypto, 3_412.50, 2, 1).with_vol(0.0015),
        InstrumentSpec::new("SOL-USD", "Solana", Crypto, 148.72, 2, 1).with_vol(0.002),
        InstrumentSpec::new("DOGE-USD", "Dogecoin", Crypto, 0.12345, 5, 1).with_vol(0.0025),
        InstrumentSpec::new("EUR-USD", "Euro / US Dollar", Fx, 1.08500, 5, 1),
        InstrumentSpec::new("GBP-USD", "Pound / US Dollar", Fx, 1.27050, 5, 1),
        InstrumentSpec::new("USD-JPY", "US Dollar / Yen", Fx, 151.500, 3, 1),
    ]
}

/// Live state of one instrument.
#[derive(Clone, Debug)]
struct State {
    spec: InstrumentSpec,
    price: i64,
    bid: i64,
    ask: i64,
    high: i64,
    low: i64,
    volume: u64,
}

impl State {
    fn new(spec: InstrumentSpec) -> Self {
        let p = spec.open_units;
        let half = spec.half_spread_ticks * spec.tick_units;
        State {
            price: p,
            bid: (p - half).max(spec.tick_units),
            ask: p + half,
            high: p,
            low: p,
            volume: 0,
            spec,
        }
    }

    fn quote(&self) -> Quote {
        let s = self.spec.scale();
        let change = self.price - self.spec.open_units;
        Quote {
            symbol: self.spec.symbol.clone(),
            price: self.price as f64 / s,
            bid: self.bid as f64 / s,
            ask: self.ask as f64 / s,
            volume: self.volume,
            open: self.spec.open_units as f64 / s,
            high: self.high as f64 / s,
            low: self.low as f64 / s,
            change: change as f64 / s,
            change_pct: (change as f64 / self.spec.open_units as f64 * 10_000.0).round() / 100.0,
        }
    }
}

/// A seeded, replayable market of several instruments advancing one frame at a time.
pub struct Market {
    rng: ChaCha8Rng,
    /// Seconds between frames.
    dt: f64,
    states: Vec<State>,
}

impl Market {
    /// A market of `specs` advancing `tick_rate_hz` frames per simulated second.
    pub fn new(specs: Vec<InstrumentSpec>, seed: u64, tick_rate_hz: f64) -> Self {
        Market {
            rng: ChaCha8Rng::seed_from_u64(seed),
            dt: 1.0 / tick_rate_hz,
            states: specs.into_iter().map(State::new).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    pub fn instruments(&self) -> Vec<Instrument> {
        self.states.iter().map(|s| s.spec.instrument()).collect()
    }

    /// Current quote of every instrument, in universe order.
    pub fn quotes(&self) -> Vec<Quote> {
        self.states.iter().map(State::quote).collect()
    }

    /// Advances one frame. Returns the indices (universe order) of the instruments that traded
    /// in it, with the quantity each traded; the others kept their quote.
    pub fn step(&mut self) -> Vec<(usize, u64)> {
        let dt = self.dt;
        let mut moved = Vec::new();
        for (i, st) in self.states.iter_mut().enumerate() {
            let spec = &st.spec;
            if !self.rng.random_bool(spec.activity) {
                continue;
            }
            // The variance of the skipped frames accrues to the next trade, so volatility per
            // second does not depend on activity or tick rate.
            let horizon = dt / spec.activity;
            let mut r = spec.drift_per_sec * horizon + spec.vol_per_sqrt_sec * horizon.sqrt() * normal(&mut self.rng);
            if self.rng.random_bool(0.002) {
                // A rare jump of 5 to 15 typical moves, either way: news hits the tape.
                let size = self.rng.random_range(5.0..15.0) * spec.vol_per_sqrt_sec * horizon.sqrt();
                r += if self.rng.random_bool(0.5) { size } else { -size };
            }
            let tick = spec.tick_units;
            let target = st.price as f64 * r.exp();
            st.price = (((target / tick as f64).round() as i64) * tick).max(tick);
            let half = tick * spec.half_spread_ticks * self.rng.random_range(1..=2);
            st.bid = (st.price - half).max(tick).min(st.price);
            st.ask = st.price + half;
            if st.bid == st.price {
                // At the minimum price the bid cannot go lower; keep the spread by lifting the ask.
                st.ask = st.price + tick.max(half);
                st.bid = st.price;
            }
            st.high = st.high.max(st.price);
            st.low = st.low.min(st.price);
            let qty = spec.lot * self.rng.random_range(1..=20u64);
            st.volume += qty;
            moved.push((i, qty));
        }
        moved
    }

    pub fn quote(&self, index: usize) -> Quote {
        self.states[index].quote()
    }
}

/// A standard normal sample (Box–Muller), to avoid a dependency for one distribution.
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, frames: usize) -> Vec<Vec<Quote>> {
        let mut m = Market::new(default_universe(), seed, 10.0);
        (0..frames)
            .map(|_| m.step().into_iter().map(|(i, _)| m.quote(i)).collect())
            .collect()
    }

    #[test]
    fn same_seed_replays_identical_frames() {
        assert_eq!(run(42, 500), run(42, 500));
        assert_ne!(run(42, 50), run(43, 50));
    }

    #[test]
    fn default_universe_is_sound() {
        let u = default_universe();
        assert!((12..=20).contains(&u.len()));
        let mut symbols: Vec<_> = u.iter().map(|s| &s.symbol).collect();
        symbols.sort();
        symbols.dedup();
        assert_eq!(symbols.len(), u.len(), "symbols are unique");
        for class in [AssetClass::Equity, AssetClass::Crypto, AssetClass::Fx] {
            assert!(u.iter().any(|s| s.class == class));
        }
    }

    #[test]
    fn prices_stay_positive_on_grid_with_a_spread() {
        // A violent, tiny-priced instrument stresses the floor and the spread rules.
        let mut penny = InstrumentSpec::custom("PENNY", Some(0.02)).with_vol(0.05);
        penny.activity = 1.0;
        let mut specs = default_universe();
        specs.push(penny);
        let mut m = Market::new(specs, 7, 100.0);
        let ticks: Vec<f64> = m.instruments().iter().map(|i| i.tick_size).collect();
        for _ in 0..20_000 {
            for (i, qty) in m.step() {
                let q = m.quote(i);
                let tick = ticks[i];
                assert!(q.price > 0.0 && q.bid > 0.0, "{q:?}");
                assert!(q.bid <= q.price && q.price <= q.ask && q.bid < q.ask, "{q:?}");
                assert!(q.ask - q.bid >= tick * 0.999, "spread of at least one tick: {q:?}");
                for p in [q.price, q.bid, q.ask] {
                    let n = p / tick;
                    assert!((n - n.round()).abs() < 1e-6, "{p} is on the {tick} grid");
                }
                assert!(q.low <= q.price && q.price <= q.high, "{q:?}");
                assert!(qty > 0);
            }
        }
    }

    #[test]
    fn activity_is_irregular_and_volume_accumulates() {
        let mut m = Market::new(default_universe(), 1, 10.0);
        let mut counts = Vec::new();
        for _ in 0..200 {
            counts.push(m.step().len());
        }
        assert!(
            counts.iter().any(|&c| c < m.len()),
            "not every symbol moves every frame"
        );
        assert!(counts.iter().any(|&c| c > 0));
        assert!(
            m.quotes().iter().all(|q| q.volume > 0),
            "over 200 frames every symbol traded"
        );
    }

    #[test]
    fn quotes_report_change_from_open() {
        let mut m = Market::new(default_universe(), 3, 10.0);
        for _ in 0..100 {
            m.step();
        }
        for q in m.quotes() {
            assert!((q.change - (q.price - q.open)).abs() < 1e-6, "{q:?}");
            let pct = (q.change / q.open * 100.0 * 100.0).round() / 100.0;
            assert!((q.change_pct - pct).abs() < 0.011, "{q:?}");
        }
    }

    #[test]
    fn prices_print_without_float_noise() {
        let q = Market::new(default_universe(), 1, 10.0).quote(0);
        assert_eq!(serde_json::to_value(&q).unwrap()["price"].to_string(), "189.84");
        let eur = Market::new(vec![InstrumentSpec::custom("X", Some(1.085))], 1, 10.0).quote(0);
        assert_eq!(eur.price.to_string(), "1.09"); // custom symbols quote in cents
    }
}
