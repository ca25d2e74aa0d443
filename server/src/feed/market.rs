//! The simulated market: where a tick is born. Pure domain code (no web types, no clock, no
//! task): [`Market::step`] advances every instrument by one frame from a seeded RNG, so the same
//! seed and settings replay the identical sequence of frames.
//!
//! Prices are integer multiples of 10^-decimals (price units) from the generator to the screen:
//! they are exact multiples of the tick size, travel as integers on the wire, and print without
//! binary-float noise (`187.42`, never `187.42000000000002`). Only the random walk itself is
//! computed in floating point, and its result is rounded onto the tick grid at once.
//!
//! # What the prices do, and why
//! A market a trader believes has the statistical signature of real ones (the "stylized facts"
//! of R. Cont, *Quantitative Finance* 2001), so the walk is more than Gaussian steps:
//! - **Real volatility**: each instrument's is set as a real annual figure (TSLA 55 %, JNJ 16 %,
//!   EUR-USD 7 %) and turned into a per-second one with its market's real trading year
//!   ([`trading_seconds_per_year`]). A chart's autoscaling makes a real tape's moves visible, so
//!   nothing is exaggerated.
//! - **Volatility clustering and fat tails**: each instrument's and each market factor's
//!   volatility is a log-normal Ornstein–Uhlenbeck process (calm and busy stretches that last
//!   about half an hour), and rare jumps (news) carry part of the variance.
//! - **Co-movement**: every asset class has a market factor (a Brownian path) that its
//!   instruments load on: equities correlate about 0.3, coins about 0.6, and the currency pairs
//!   share the dollar's moves with signs (EUR-USD and GBP-USD together, USD-JPY against them).
//! - **Volume that means something**: each instrument trades its real daily volume in its own
//!   units (shares, coins, base currency), more when its volatility is high.
//!
//! The regimes, factors and jumps (the market's *latent* state) advance on a fixed grid of
//! simulated time from their own random stream, so the same seed gives the same regimes at any
//! `TICK_RATE_HZ`: the tick rate changes how many trades sample the path, not how much it moves
//! per second. Each trade's own move is drawn for the exact time since the instrument's last
//! trade.

use crate::config::{Decimal, SymbolSetting};
use app::wire::book::{BOOK_LEVELS, Book, BookUpdate, Level, Side};
use app::wire::protocol::{AssetClass, Instrument, Quote};
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
    /// Size decimals; sizes and volumes are integers in units of 10^-size_decimals (4 for
    /// bitcoin: a trade of 0.0125 BTC is 125).
    pub size_decimals: u8,
    /// Tick size, in price units (10^-decimals).
    pub tick_units: i64,
    /// Opening price of the session, in price units.
    pub open_units: i64,
    /// Average volatility of the log price per √second of trading (see
    /// [`InstrumentSpec::annual_vol`]).
    pub vol_per_sqrt_sec: f64,
    /// Loading on its asset class's market factor, from −1 to 1: the share β² of its diffusive
    /// variance that it shares with the class (its sign says which way it moves with it).
    pub beta: f64,
    /// Drift of the log price per second.
    pub drift_per_sec: f64,
    /// Probability that the instrument trades in a given frame: activity is irregular.
    pub activity: f64,
    /// The narrowest spread, in ticks (≥ 1); a frame's is this or twice it.
    pub spread_ticks: i64,
    /// Typical volume of one trading day ([`trading_seconds_per_day`]), in whole units
    /// (shares, coins, base currency).
    pub daily_volume: f64,
}

impl InstrumentSpec {
    /// An instrument opening at `open_units` (price units, snapped to the tick grid), with its
    /// class's typical parameters.
    fn new(symbol: &str, name: &str, class: AssetClass, open_units: i64, decimals: u8, tick_units: i64) -> Self {
        let (annual, beta, activity, spread_ticks, daily_volume) = match class {
            AssetClass::Equity => (0.30, 0.6, 0.35, 1, 10e6),
            AssetClass::Crypto => (0.60, 0.85, 0.6, 2, 1e6),
            AssetClass::Fx => (0.08, 0.0, 0.5, 1, 10e9),
        };
        let open_units = on_grid(open_units, tick_units);
        InstrumentSpec {
            symbol: symbol.to_string(),
            name: name.to_string(),
            class,
            decimals,
            size_decimals: 0,
            tick_units,
            open_units,
            vol_per_sqrt_sec: 0.0,
            beta,
            drift_per_sec: 0.0,
            activity,
            spread_ticks,
            daily_volume,
        }
        .annual_vol(annual)
    }

    /// Sets the volatility per √second of trading that annualises to `annual` over the class's
    /// trading year: 0.25 is 25 % a year.
    pub fn annual_vol(mut self, annual: f64) -> Self {
        self.vol_per_sqrt_sec = annual / trading_seconds_per_year(self.class).sqrt();
        self
    }

    /// The volatility a year of this instrument's market adds up to, from its per-second one.
    pub fn annualised_vol(&self) -> f64 {
        self.vol_per_sqrt_sec * trading_seconds_per_year(self.class).sqrt()
    }

    #[cfg(test)]
    fn with_vol(mut self, vol_per_sqrt_sec: f64) -> Self {
        self.vol_per_sqrt_sec = vol_per_sqrt_sec;
        self
    }

    fn daily(mut self, volume: f64, size_decimals: u8) -> Self {
        self.daily_volume = volume;
        self.size_decimals = size_decimals;
        self
    }

    fn loading(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// Parameters for a symbol the default universe does not know: a mid-volatility equity
    /// quoted in cents, opening at `open` (100.00 when not given).
    pub fn custom(symbol: &str, open: Option<Decimal>) -> Self {
        let open_units = open.map_or(10_000, |o| units(o, 2));
        Self::new(symbol, symbol, AssetClass::Equity, open_units, 2, 1)
    }

    /// Returns a copy that opens at `open` instead (kept on the instrument's tick grid).
    pub fn opening_at(&self, open: Decimal) -> Self {
        InstrumentSpec {
            open_units: on_grid(units(open, self.decimals), self.tick_units),
            ..self.clone()
        }
    }

    pub fn instrument(&self) -> Instrument {
        Instrument {
            symbol: self.symbol.clone(),
            name: self.name.clone(),
            class: self.class,
            decimals: self.decimals,
            size_decimals: self.size_decimals,
            tick: self.tick_units,
        }
    }

    /// Volume per second of trading, in size units.
    fn volume_per_sec(&self) -> f64 {
        self.daily_volume * 10f64.powi(i32::from(self.size_decimals)) / trading_seconds_per_day(self.class)
    }
}

/// Seconds of trading in a real year of `class`'s market: equities 252 sessions of 6.5 hours,
/// currencies 252 days of 24 hours, crypto 365 days of 24 hours. An annual volatility is the
/// per-second one times the square root of this.
pub fn trading_seconds_per_year(class: AssetClass) -> f64 {
    match class {
        AssetClass::Equity => 252.0 * 6.5 * 3600.0,
        AssetClass::Fx => 252.0 * 24.0 * 3600.0,
        AssetClass::Crypto => 365.0 * 24.0 * 3600.0,
    }
}

/// Seconds of a real trading day of `class`'s market (6.5 hours for equities, 24 for the
/// others): what a daily volume is spread over.
pub fn trading_seconds_per_day(class: AssetClass) -> f64 {
    match class {
        AssetClass::Equity => 6.5 * 3600.0,
        AssetClass::Fx | AssetClass::Crypto => 24.0 * 3600.0,
    }
}

/// `open` in units of 10^-`decimals`.
fn units(open: Decimal, decimals: u8) -> i64 {
    i64::try_from(open.units(decimals)).unwrap_or(i64::MAX / 2)
}

/// `units` rounded to the nearest multiple of `tick`, at least one tick.
fn on_grid(units: i64, tick: i64) -> i64 {
    ((units + tick / 2) / tick).max(1) * tick
}

/// The instruments of `SYMBOLS` (known symbols keep their parameters, others are
/// [`InstrumentSpec::custom`]), or the [`default_universe`] without it.
pub fn universe(settings: Option<&[SymbolSetting]>) -> Vec<InstrumentSpec> {
    let known = default_universe();
    let Some(settings) = settings else {
        return known;
    };
    settings
        .iter()
        .map(|s| match (known.iter().find(|k| k.symbol == s.symbol), s.open) {
            (Some(k), Some(open)) => k.opening_at(open),
            (Some(k), None) => k.clone(),
            (None, open) => InstrumentSpec::custom(&s.symbol, open),
        })
        .collect()
}

/// The default universe: large-cap stocks, crypto pairs and FX pairs at realistic levels, each
/// with a real annual volatility, factor loading and daily volume (US consolidated volume for
/// the stocks, a large venue's for the coins and currencies; orders of magnitude of 2024-25).
pub fn default_universe() -> Vec<InstrumentSpec> {
    use AssetClass::*;
    let stock = |symbol, name, open, vol, daily: f64| {
        InstrumentSpec::new(symbol, name, Equity, open, 2, 1)
            .annual_vol(vol)
            .daily(daily, 0)
    };
    vec![
        stock("AAPL", "Apple", 18_984, 0.25, 55e6),
        stock("MSFT", "Microsoft", 42_153, 0.24, 20e6),
        stock("NVDA", "NVIDIA", 12_492, 0.50, 250e6),
        stock("AMZN", "Amazon", 18_613, 0.32, 40e6),
        stock("GOOGL", "Alphabet", 17_140, 0.30, 25e6),
        stock("META", "Meta Platforms", 50_231, 0.38, 12e6),
        stock("TSLA", "Tesla", 24_850, 0.55, 95e6),
        stock("JPM", "JPMorgan Chase", 20_177, 0.22, 9e6),
        stock("V", "Visa", 27_610, 0.20, 7e6),
        stock("XOM", "Exxon Mobil", 11_462, 0.24, 15e6),
        stock("JNJ", "Johnson & Johnson", 15_520, 0.16, 7e6),
        stock("WMT", "Walmart", 6845, 0.18, 17e6),
        InstrumentSpec::new("BTC-USD", "Bitcoin", Crypto, 6_425_000, 2, 1)
            .annual_vol(0.50)
            .daily(25e3, 4),
        InstrumentSpec::new("ETH-USD", "Ether", Crypto, 341_250, 2, 1)
            .annual_vol(0.65)
            .daily(300e3, 3),
        InstrumentSpec::new("SOL-USD", "Solana", Crypto, 14_872, 2, 1)
            .annual_vol(0.80)
            .daily(3e6, 2),
        InstrumentSpec::new("DOGE-USD", "Dogecoin", Crypto, 12_345, 5, 1)
            .annual_vol(0.90)
            .daily(1.5e9, 0),
        // The factor is the dollar: the pairs quoted against it move with it, the one quoted in
        // it against them.
        InstrumentSpec::new("EUR-USD", "Euro / US Dollar", Fx, 108_500, 5, 1)
            .annual_vol(0.07)
            .daily(50e9, 0)
            .loading(-0.8),
        InstrumentSpec::new("GBP-USD", "Pound / US Dollar", Fx, 127_050, 5, 1)
            .annual_vol(0.08)
            .daily(15e9, 0)
            .loading(-0.75),
        InstrumentSpec::new("USD-JPY", "US Dollar / Yen", Fx, 151_500, 3, 1)
            .annual_vol(0.10)
            .daily(30e9, 0)
            .loading(0.6),
    ]
}

/// Live state of one instrument.
#[derive(Clone, Debug)]
struct State {
    spec: InstrumentSpec,
    /// Where the random walk is, exactly (price units): the walk is never rounded, so moves
    /// smaller than a tick add up as they would in a real market.
    fair: f64,
    /// The walk on the tick grid: the middle of the touch the book re-forms around each frame.
    mid: i64,
    /// Last traded price.
    price: i64,
    high: i64,
    low: i64,
    volume: u64,
    book: Book,
    /// The book before this instrument's last frame, so the frame's changes can be told.
    before: Book,
    /// The prints of this instrument's last frame: price, size.
    prints: Vec<(i64, u64)>,
    side: Side,
    /// Best bid and ask after the last frame.
    touch: (i64, i64),
    /// The size unit of the book's resting orders: a fifth of a typical live trade.
    lot: u64,
    /// Typical volume per second, in size units.
    volume_rate: f64,
    /// The market's clock at this instrument's last trade (seconds), and where its factor and
    /// its jumps stood then: a trade moves the price by what they did since.
    last_t: f64,
    factor_mark: f64,
    jump_mark: f64,
}

impl State {
    /// An instrument at its open, in a market of `dt` seconds between frames.
    fn new(spec: InstrumentSpec, dt: f64, book_rng: &mut ChaCha8Rng) -> Self {
        let p = spec.open_units;
        let volume_rate = spec.volume_per_sec();
        // A live trade comes every dt / activity seconds on average.
        let lot = ((volume_rate * dt / spec.activity / 5.0).round() as u64).max(1);
        let mut book = Book::default();
        let tick = spec.tick_units;
        let (bid, ask) = touch(p, spec.spread_ticks * tick, tick);
        reform(&mut book.bids, bid, -tick, tick, lot, book_rng);
        reform(&mut book.asks, ask, tick, tick, lot, book_rng);
        State {
            fair: p as f64,
            lot,
            volume_rate,
            last_t: 0.0,
            factor_mark: 0.0,
            jump_mark: 0.0,
            mid: p,
            price: p,
            high: p,
            low: p,
            volume: 0,
            before: book.clone(),
            book,
            prints: Vec::new(),
            side: Side::Buy,
            touch: (p, p),
            spec,
        }
        .with_touch()
    }

    /// Notes the book's best levels as the touch.
    fn with_touch(mut self) -> Self {
        self.touch = (
            self.book.best_bid().map_or(self.price, Level::price),
            self.book.best_ask().map_or(self.price, Level::price),
        );
        self
    }

    fn quote(&self) -> Quote {
        Quote {
            symbol: self.spec.symbol.clone(),
            price: self.price,
            bid: self.touch.0,
            ask: self.touch.1,
            volume: self.volume,
            open: self.spec.open_units,
            high: self.high,
            low: self.low,
        }
    }

    fn checksum(&self) -> u32 {
        self.book.checksum(self.spec.decimals, self.spec.size_decimals)
    }

    /// One frame's trade: the book re-forms around the walk's new touch (`bid`, `ask`), a few
    /// resting orders come and go, and an aggressor takes `quantity` from the side it hits, a
    /// print per level; the levels it emptied are refilled further out. Returns the quantity
    /// printed (all of it, unless the side ran dry at the lowest price).
    fn trade(&mut self, bid: i64, ask: i64, quantity: u64, side: Side, rng: &mut ChaCha8Rng) -> u64 {
        let (tick, lot) = (self.spec.tick_units, self.lot);
        self.before.clone_from(&self.book);
        reform(&mut self.book.bids, bid, -tick, tick, lot, rng);
        reform(&mut self.book.asks, ask, tick, tick, lot, rng);
        // Resting orders come and go behind the touch.
        for _ in 0..rng.random_range(0..=2) {
            let side = if rng.random_bool(0.5) {
                &mut self.book.bids
            } else {
                &mut self.book.asks
            };
            let k = rng.random_range(1..BOOK_LEVELS);
            if let Some(level) = side.get_mut(k) {
                level.1 = fresh_size(lot, k, rng);
            }
        }
        let (taken, step) = match side {
            Side::Buy => (&mut self.book.asks, tick),
            Side::Sell => (&mut self.book.bids, -tick),
        };
        self.prints.clear();
        let mut left = quantity;
        while left > 0 {
            let Some(level) = taken.first_mut() else { break };
            let size = left.min(level.1);
            self.prints.push((level.0, size));
            level.1 -= size;
            left -= size;
            if level.1 == 0 {
                taken.remove(0);
            }
        }
        // Levels refilled: the side stands again at `BOOK_LEVELS`, from where it was taken to.
        let last = self.prints.last().map_or(self.price, |p| p.0);
        let from = taken.first().map_or(last, |l| l.0);
        reform(taken, from, step, tick, lot, rng);
        self.touch = (
            self.book.best_bid().map_or(last, Level::price),
            self.book.best_ask().map_or(last, Level::price),
        );
        self.printed(side, last, quantity - left)
    }

    /// A frame's trade without a book (the simulated past): the whole quantity prints at the
    /// touch, at the ask for a buyer, at the bid for a seller. A book is formed once the past
    /// ends ([`State::form_book`]).
    fn trade_at_touch(&mut self, bid: i64, ask: i64, quantity: u64, side: Side) -> u64 {
        let price = match side {
            Side::Buy => ask,
            Side::Sell => bid,
        };
        self.prints.clear();
        self.prints.push((price, quantity));
        self.touch = (bid, ask);
        self.printed(side, price, quantity)
    }

    /// Books what printed: the last price, the session's range and volume.
    fn printed(&mut self, side: Side, last: i64, quantity: u64) -> u64 {
        self.side = side;
        self.price = last;
        self.high = self.high.max(last);
        self.low = self.low.min(last);
        self.volume += quantity;
        quantity
    }

    /// Re-forms the book around the touch (after the past, which kept none).
    fn form_book(&mut self, rng: &mut ChaCha8Rng) {
        let (tick, lot) = (self.spec.tick_units, self.lot);
        reform(&mut self.book.bids, self.touch.0, -tick, tick, lot, rng);
        reform(&mut self.book.asks, self.touch.1, tick, tick, lot, rng);
        self.before.clone_from(&self.book);
    }
}

/// The best bid and ask `spread` apart around `mid` (all on the `tick` grid): a one-tick spread
/// has its bid at `mid`; at the lowest price, one tick, the ask is lifted to keep the spread.
fn touch(mid: i64, spread: i64, tick: i64) -> (i64, i64) {
    let bid = (mid - spread / tick / 2 * tick).max(tick);
    (bid, bid + spread)
}

/// Re-forms a side of a book at `BOOK_LEVELS` contiguous levels from `best`, `step` apart
/// (negative for bids), down to the lowest price of one `tick`: levels that stay keep their
/// size, new ones get a fresh one of some `lot`s.
fn reform(side: &mut Vec<Level>, best: i64, step: i64, tick: i64, lot: u64, rng: &mut ChaCha8Rng) {
    let old = std::mem::take(side);
    for k in 0..BOOK_LEVELS {
        let price = best + step * k as i64;
        if price < tick {
            break;
        }
        let size = match old.iter().find(|l| l.0 == price) {
            Some(l) => l.1,
            None => fresh_size(lot, k, rng),
        };
        side.push(Level(price, size));
    }
}

/// The size of a new resting order `k` levels from the touch: deeper levels hold more.
fn fresh_size(lot: u64, k: usize, rng: &mut ChaCha8Rng) -> u64 {
    lot * rng.random_range(1..=12u64) * (1 + k as u64 / 4)
}

/// Seconds of simulated time between two moves of the market factors; the volatility regimes
/// and jumps move every [`REGIME_EVERY`] of them (each second).
const FACTOR_STEP_SECS: f64 = 0.1;
const REGIME_EVERY: u64 = 10;
/// Standard deviation of the log of a volatility around its mean: the busiest stretches of a
/// session move several times as fast as its calmest.
const VOL_OF_VOL: f64 = 0.5;
/// How long a volatility regime lasts: the mean-reversion time of the log volatility, seconds.
const REGIME_SECS: f64 = 1800.0;
/// Jumps (news) per instrument and second: one an hour on average.
const JUMPS_PER_SEC: f64 = 1.0 / 3600.0;
/// The share of an instrument's variance its jumps carry; its diffusion carries the rest.
const JUMP_SHARE: f64 = 0.15;
/// Dispersion of trade sizes: the standard deviation of a size's logarithm.
const SIZE_DISPERSION: f64 = 0.7;

/// The index of an asset class's market factor.
fn class_index(class: AssetClass) -> usize {
    match class {
        AssetClass::Equity => 0,
        AssetClass::Crypto => 1,
        AssetClass::Fx => 2,
    }
}

/// A volatility multiplier from its log level `x`, scaled so that its square averages 1 over
/// the stationary law of `x` (normal, standard deviation [`VOL_OF_VOL`]).
fn vol_level(x: f64) -> f64 {
    (x - VOL_OF_VOL * VOL_OF_VOL).exp()
}

/// The market's latent state, moved on a fixed grid of simulated time from a random stream of
/// its own (so it is the same at every tick rate): each asset class's factor and its
/// volatility regime, and each instrument's own regime and jumps.
#[derive(Clone, Debug)]
struct Latent {
    rng: ChaCha8Rng,
    /// Factor steps taken: the latent clock reads `steps × FACTOR_STEP_SECS`.
    steps: u64,
    /// Per class ([`class_index`]): where its factor stands (a Brownian path of unit variance
    /// per second, in the regime's time), and its regime's log volatility.
    factor: [f64; 3],
    factor_vol: [f64; 3],
    /// Per instrument: its own regime's log volatility, the sum of its jumps (log price), and
    /// the size of one (the standard deviation of a jump's log move).
    vol: Vec<f64>,
    jumps: Vec<f64>,
    jump_size: Vec<f64>,
}

impl Latent {
    /// Regimes drawn from their long-run law, factors and jumps at 0.
    fn new(specs: &[InstrumentSpec], mut rng: ChaCha8Rng) -> Self {
        let mut regime = || VOL_OF_VOL * normal(&mut rng);
        let factor_vol = [regime(), regime(), regime()];
        let vol = specs.iter().map(|_| regime()).collect();
        Latent {
            rng,
            steps: 0,
            factor: [0.0; 3],
            factor_vol,
            vol,
            jumps: vec![0.0; specs.len()],
            jump_size: specs
                .iter()
                .map(|s| s.vol_per_sqrt_sec * (JUMP_SHARE / JUMPS_PER_SEC).sqrt())
                .collect(),
        }
    }

    /// Moves the latent state on to the last grid point at or before `t` (seconds).
    fn advance_to(&mut self, t: f64) {
        // The tolerance keeps a frame that lands on a grid point (10 Hz frames on a 0.1 s
        // grid) from missing it by a rounding error of the clock.
        while (self.steps + 1) as f64 * FACTOR_STEP_SECS <= t + 1e-9 {
            self.step();
        }
    }

    fn step(&mut self) {
        self.steps += 1;
        let root = FACTOR_STEP_SECS.sqrt();
        for (f, x) in self.factor.iter_mut().zip(&self.factor_vol) {
            *f += vol_level(*x) * root * normal(&mut self.rng);
        }
        if !self.steps.is_multiple_of(REGIME_EVERY) {
            return;
        }
        // The log volatilities are Ornstein–Uhlenbeck processes, stepped exactly.
        let dt = FACTOR_STEP_SECS * REGIME_EVERY as f64;
        let keep = (-dt / REGIME_SECS).exp();
        let shock = VOL_OF_VOL * (1.0 - keep * keep).sqrt();
        for x in self.factor_vol.iter_mut().chain(self.vol.iter_mut()) {
            *x = *x * keep + shock * normal(&mut self.rng);
        }
        for (j, size) in self.jumps.iter_mut().zip(&self.jump_size) {
            if self.rng.random_bool(JUMPS_PER_SEC * dt) {
                *j += size * normal(&mut self.rng);
            }
        }
    }
}

/// A seeded, replayable market of several instruments advancing one frame at a time.
pub struct Market {
    rng: ChaCha8Rng,
    /// The books' own random stream: what the books do never changes which instruments trade
    /// and how much (the main stream's draws), so those stay as they were before books existed.
    book_rng: ChaCha8Rng,
    /// Whether frames trade against the books (live), or at the touch (the simulated past,
    /// where hours of book keeping would slow the start for nothing anyone sees).
    books: bool,
    /// Seconds between frames.
    dt: f64,
    /// The market's clock: seconds of simulated time since it began (its past included).
    now: f64,
    latent: Latent,
    states: Vec<State>,
}

impl Market {
    /// A market of `specs` advancing `tick_rate_hz` frames per simulated second.
    pub fn new(specs: Vec<InstrumentSpec>, seed: u64, tick_rate_hz: f64) -> Self {
        let stream = |n| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(n);
            rng
        };
        let mut book_rng = stream(1);
        let dt = 1.0 / tick_rate_hz;
        Market {
            rng: ChaCha8Rng::seed_from_u64(seed),
            dt,
            now: 0.0,
            latent: Latent::new(&specs, stream(2)),
            states: specs
                .into_iter()
                .map(|spec| State::new(spec, dt, &mut book_rng))
                .collect(),
            book_rng,
            books: true,
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
    /// in it, with the quantity each traded; the others kept their quote and book.
    ///
    /// Which instruments trade, and how many draws each takes from the main stream, depends on
    /// nothing but that stream: a market with a past trades in the same instruments in its live
    /// frames as one without.
    pub fn step(&mut self) -> Vec<(usize, u64)> {
        self.now += self.dt;
        self.latent.advance_to(self.now);
        let latent = &self.latent;
        let diffusive = (1.0 - JUMP_SHARE).sqrt();
        let mut moved = Vec::new();
        for (i, st) in self.states.iter_mut().enumerate() {
            let spec = &st.spec;
            if !self.rng.random_bool(spec.activity) {
                continue;
            }
            // The move since the instrument's last trade: its share of its class factor's path,
            // its own diffusion over exactly that time in its regime, and any jump.
            let horizon = self.now - st.last_t;
            let c = class_index(spec.class);
            let (factor, own) = (vol_level(latent.factor_vol[c]), vol_level(latent.vol[i]));
            let beta = spec.beta.clamp(-1.0, 1.0);
            let idio = (1.0 - beta * beta).sqrt();
            let shared = beta * (latent.factor[c] - st.factor_mark);
            let diffusion = idio * own * horizon.sqrt() * normal(&mut self.rng);
            let jumps = latent.jumps[i] - st.jump_mark;
            let r = spec.drift_per_sec * horizon + spec.vol_per_sqrt_sec * diffusive * (shared + diffusion) + jumps;
            st.last_t = self.now;
            st.factor_mark = latent.factor[c];
            st.jump_mark = latent.jumps[i];
            let tick = spec.tick_units;
            st.fair *= r.exp();
            let mid = (((st.fair / tick as f64).round() as i64) * tick).max(tick);
            let (bid, ask) = touch(mid, tick * spec.spread_ticks * self.rng.random_range(1..=2), tick);
            // The instrument's typical volume over the time since its last trade, more in a busy
            // regime (the variance it is moving with, relative to its average), in sizes spread
            // log-normally about it.
            let busy = beta * beta * factor * factor + idio * idio * own * own;
            let dispersion = SIZE_DISPERSION * normal(&mut self.rng) - SIZE_DISPERSION * SIZE_DISPERSION / 2.0;
            let size = st.volume_rate * horizon * busy * dispersion.exp();
            let qty = (size.round() as u64).max(1);
            // Buyers lift offers when the price rises, sellers hit bids when it falls.
            let side = match mid.cmp(&st.mid) {
                std::cmp::Ordering::Greater => Side::Buy,
                std::cmp::Ordering::Less => Side::Sell,
                std::cmp::Ordering::Equal if self.book_rng.random_bool(0.5) => Side::Buy,
                std::cmp::Ordering::Equal => Side::Sell,
            };
            st.mid = mid;
            let printed = if self.books {
                st.trade(bid, ask, qty, side, &mut self.book_rng)
            } else {
                st.trade_at_touch(bid, ask, qty, side)
            };
            moved.push((i, printed));
        }
        moved
    }

    /// What the last frame did to the book of an instrument that traded in it: the levels it
    /// changed and the checksum after it.
    pub fn book_update(&self, index: usize) -> BookUpdate {
        let st = &self.states[index];
        st.before.changes_to(&st.book, &st.spec.symbol, st.checksum())
    }

    /// The aggressor's side in an instrument's last frame, and its prints: price, size.
    pub fn prints(&self, index: usize) -> (Side, Vec<Level>) {
        let st = &self.states[index];
        (
            st.side,
            st.prints.iter().map(|&(price, size)| Level(price, size)).collect(),
        )
    }

    /// Every instrument's whole book, universe order.
    pub fn books(&self) -> Vec<BookUpdate> {
        self.states
            .iter()
            .map(|st| st.book.whole(&st.spec.symbol, st.checksum()))
            .collect()
    }

    pub fn quote(&self, index: usize) -> Quote {
        self.states[index].quote()
    }

    /// Simulates the `seconds` before `end_ts` (ms since 1970) at `hz` frames per second and
    /// reports every print as `trade(index, ts, price, quantity)`, oldest first. The live market
    /// then starts where the past ended: prices, spreads and the session's high, low and
    /// volume (each quote's `open` stays where the past began, the session's open).
    ///
    /// The past draws from its own random stream, derived from the live one without advancing
    /// it, so the same seed gives the same past, and the live frames that follow trade in
    /// exactly the same instruments as without a past (replays rely on it: the load generator
    /// counts the frames a client must get from a market without one).
    pub fn simulate_past(&mut self, seconds: u64, hz: f64, end_ts: i64, mut trade: impl FnMut(usize, i64, i64, u64)) {
        let past_seed: u64 = self.rng.clone().random();
        let live_rng = std::mem::replace(&mut self.rng, ChaCha8Rng::seed_from_u64(past_seed));
        let live_dt = std::mem::replace(&mut self.dt, 1.0 / hz);
        self.books = false;
        let frames = (seconds as f64 * hz).round() as u64;
        for k in 0..frames {
            let ts = end_ts - ((frames - k) as f64 * 1000.0 / hz).round() as i64;
            for (i, _) in self.step() {
                for &(price, size) in &self.states[i].prints {
                    trade(i, ts, price, size);
                }
            }
        }
        self.rng = live_rng;
        self.dt = live_dt;
        self.books = true;
        for st in &mut self.states {
            st.form_book(&mut self.book_rng);
        }
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

    /// The past of a market: every trade it reports, and the quotes it leaves.
    fn past(seed: u64, seconds: u64, end_ts: i64) -> (Vec<(usize, i64, i64, u64)>, Market) {
        let mut m = Market::new(default_universe(), seed, 10.0);
        let mut trades = Vec::new();
        m.simulate_past(seconds, 10.0, end_ts, |i, ts, p, q| trades.push((i, ts, p, q)));
        (trades, m)
    }

    #[test]
    fn the_past_is_the_seeds_and_leaves_the_live_frames_trading_as_before() {
        let (a, mut after_a) = past(42, 600, 1_000_000_000);
        let (b, _) = past(42, 600, 1_000_000_000);
        assert_eq!(a, b, "same seed, same past");
        assert_ne!(a, past(43, 600, 1_000_000_000).0);
        // Ten minutes at 10 frames a second, oldest first, ending before `end_ts`.
        assert!(a.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(
            (a.first().unwrap().1, a.last().unwrap().1),
            (1_000_000_000 - 600_000, 1_000_000_000 - 100)
        );
        // The live market goes on from the past's last prices, with the session's volume.
        let last_price = |index| a.iter().rev().find(|t| t.0 == index).map(|t| t.2);
        let volume: u64 = a.iter().filter(|t| t.0 == 0).map(|t| t.3).sum();
        let q = after_a.quote(0);
        assert_eq!((Some(q.price), q.volume, q.open), (last_price(0), volume, 18_984));
        assert!(q.low <= q.price && q.price <= q.high);
        // The past keeps no book; one stands at every quote when it ends.
        for (i, book) in after_a.books().iter().enumerate() {
            let q = after_a.quote(i);
            assert_eq!(
                (book.bids[0].price(), book.asks[0].price()),
                (q.bid, q.ask),
                "{}",
                q.symbol
            );
            assert_eq!(book.asks.len(), BOOK_LEVELS);
        }
        // The same instruments trade in the live frames as with no past (their sizes follow
        // the volatility regimes the past left).
        let mut plain = Market::new(default_universe(), 42, 10.0);
        let traded = |m: &mut Market| m.step().into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        for _ in 0..500 {
            assert_eq!(traded(&mut after_a), traded(&mut plain));
        }
    }

    #[test]
    fn books_stand_at_the_quotes_and_trades_print_against_them() {
        let mut penny = InstrumentSpec::custom("PENNY", Decimal::parse("0.03")).with_vol(0.05);
        penny.activity = 1.0;
        let mut specs = default_universe();
        specs.push(penny);
        let mut m = Market::new(specs, 11, 10.0);
        let mut books: Vec<Book> = m.books().iter().map(Book::from_update).collect();
        let decimals: Vec<(u8, u8)> = m.instruments().iter().map(|i| (i.decimals, i.size_decimals)).collect();
        for _ in 0..5_000 {
            let volumes: Vec<u64> = m.quotes().iter().map(|q| q.volume).collect();
            for (i, quantity) in m.step() {
                let q = m.quote(i);
                let (side, prints) = m.prints(i);
                // Prints walk the side the aggressor hits, best level first; the session's
                // volume grows by exactly what printed.
                assert_eq!(prints.iter().map(|p| p.size()).sum::<u64>(), quantity);
                assert_eq!(q.volume, volumes[i] + quantity);
                assert!(prints.windows(2).all(|w| match side {
                    Side::Buy => w[0].price() < w[1].price(),
                    Side::Sell => w[0].price() > w[1].price(),
                }));
                assert_eq!(q.price, prints.last().unwrap().price(), "last is the last print");
                // The book a client keeps from the updates is the market's, and stands at the
                // quote: best bid and ask are the quote's.
                let update = m.book_update(i);
                books[i].apply(&update);
                assert_eq!(books[i].checksum(decimals[i].0, decimals[i].1), update.checksum);
                assert_eq!(
                    (
                        books[i].best_bid().unwrap().price(),
                        books[i].best_ask().unwrap().price()
                    ),
                    (q.bid, q.ask)
                );
                assert!(books[i].bids.len() <= BOOK_LEVELS && books[i].asks.len() == BOOK_LEVELS);
                assert!(books[i].bids.windows(2).all(|w| w[0].price() > w[1].price()));
                assert!(books[i].asks.windows(2).all(|w| w[0].price() < w[1].price()));
                assert!(books[i].bids.iter().chain(&books[i].asks).all(|l| l.size() > 0));
            }
        }
        let whole: Vec<Book> = m.books().iter().map(Book::from_update).collect();
        assert_eq!(books, whole);
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
        let mut penny = InstrumentSpec::custom("PENNY", Decimal::parse("0.02")).with_vol(0.05);
        penny.activity = 1.0;
        let mut specs = default_universe();
        specs.push(penny);
        let mut m = Market::new(specs, 7, 100.0);
        let ticks: Vec<i64> = m.instruments().iter().map(|i| i.tick).collect();
        for _ in 0..20_000 {
            for (i, qty) in m.step() {
                let q = m.quote(i);
                let tick = ticks[i];
                assert!(q.price > 0 && q.bid > 0, "{q:?}");
                assert!(q.bid <= q.price && q.price <= q.ask && q.bid < q.ask, "{q:?}");
                assert!(q.ask - q.bid >= tick, "spread of at least one tick: {q:?}");
                for p in [q.price, q.bid, q.ask] {
                    assert_eq!(p % tick, 0, "{p} is on the {tick} grid");
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
    fn prices_are_exact_integers_in_the_instruments_units() {
        let q = Market::new(default_universe(), 1, 10.0).quote(0);
        assert_eq!(serde_json::to_value(&q).unwrap()["price"].to_string(), "18984");
        let doge = default_universe().into_iter().find(|s| s.symbol == "DOGE-USD").unwrap();
        assert_eq!((doge.open_units, doge.decimals), (12_345, 5));
        // Custom symbols quote in cents: 1.085 is rounded half up onto the cent grid.
        let x = Market::new(vec![InstrumentSpec::custom("X", Decimal::parse("1.085"))], 1, 10.0).quote(0);
        assert_eq!(x.price, 109);
    }

    #[test]
    fn symbols_resolve_known_custom_and_priced() {
        let setting = |symbol: &str, open: Option<&str>| SymbolSetting {
            symbol: symbol.into(),
            open: open.and_then(Decimal::parse),
        };
        let u = universe(Some(&[
            setting("AAPL", None),
            setting("ACME", Some("42.5")),
            setting("NEW", None),
            setting("AAPL", Some("200")),
            setting("EUR-USD", Some("1.1")),
        ]));
        let opens: Vec<_> = u.iter().map(|s| (s.symbol.as_str(), s.open_units)).collect();
        assert_eq!(
            opens,
            [
                ("AAPL", 18_984),
                ("ACME", 4_250),
                ("NEW", 10_000),
                ("AAPL", 20_000),
                ("EUR-USD", 110_000)
            ]
        );
        assert_eq!(
            u[0].vol_per_sqrt_sec, u[3].vol_per_sqrt_sec,
            "a known symbol keeps its parameters"
        );
        assert_eq!(universe(None), default_universe());
    }
}
