//! The market a trader would believe, measured on what the server serves (`/api/history`): real
//! volatility, sessions that move as real days do, fat tails, clustering, co-movement and
//! volume that means something (`tickertape_server::feed::facts` says how each is measured);
//! and a tick rate that changes how many trades there are, not how much the price moves.

mod support;

use app::wire::protocol::{AssetClass, History, Instrument};
use std::collections::HashMap;
use support::{TestServer, tickertape, url_after};
use tickertape_server::feed::facts::{
    Facts, Series, co_movement, excess_kurtosis, mean, mean_pairwise_correlation, std_dev,
};
use tickertape_server::feed::market::{InstrumentSpec, Market, default_universe};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Every instrument's candles at `interval` from a running server.
async fn served(base: &str, interval: &str, interval_secs: f64) -> Vec<Series> {
    let client = reqwest::Client::new();
    let instruments: Vec<Instrument> = client
        .get(format!("{base}/api/symbols"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for ins in instruments {
        let url = format!("{base}/api/history?symbol={}&interval={interval}", ins.symbol);
        let history: History = client.get(url).send().await.unwrap().json().await.unwrap();
        out.push(Series {
            symbol: ins.symbol,
            class: ins.class,
            size_decimals: ins.size_decimals,
            interval_secs,
            candles: history.candles,
        });
    }
    out
}

/// The 1-minute candles of a fresh server's eight hours of past (`PAST_HOURS=8`).
async fn past_of(seed: u64) -> Vec<Series> {
    let mut child = tickertape()
        .env("PAST_HOURS", "8")
        .env("MARKET_SEED", seed.to_string())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = url_after(&mut lines, "live at ").await;
    let series = served(&base, "1m", 60.0).await;
    child.kill().await.unwrap();
    series
}

fn spec(symbol: &str) -> InstrumentSpec {
    default_universe().into_iter().find(|s| s.symbol == symbol).unwrap()
}

fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    x[x.len() / 2]
}

/// Each instrument's facts, by symbol.
fn by_symbol(facts: &[Facts]) -> HashMap<&str, &Facts> {
    facts.iter().map(|f| (f.symbol.as_str(), f)).collect()
}

/// Checks one server's past; every failure names the seed and what was measured. Returns the
/// mean pairwise correlations of the stocks and of the coins.
fn check_stylized_facts(seed: u64, series: &[Series]) -> (f64, f64) {
    assert_eq!(series.len(), default_universe().len());
    for s in series {
        assert!(
            s.candles.len() >= 480,
            "seed {seed}: {} has {} 1-minute candles",
            s.symbol,
            s.candles.len()
        );
    }
    let facts: Vec<Facts> = series.iter().map(Series::facts).collect();
    let of_class = |class| facts.iter().filter(move |f| f.class == class);

    // Volatility at real levels, per instrument: near its real annual figure, and within its
    // market's range.
    for f in &facts {
        let target = spec(&f.symbol).annualised_vol();
        let (lo, hi) = match f.class {
            AssetClass::Equity => (0.10, 0.75),
            AssetClass::Crypto => (0.30, 1.25),
            AssetClass::Fx => (0.03, 0.15),
        };
        assert!(
            (lo..=hi).contains(&f.annual_vol) && (0.6..=1.5).contains(&(f.annual_vol / target)),
            "seed {seed}: {} annualised volatility {:.1} % (real: {:.0} %)",
            f.symbol,
            f.annual_vol * 100.0,
            target * 100.0
        );
    }
    // A session moves as a real day does.
    for (class, most, all) in [
        (AssetClass::Equity, 0.05, 0.12),
        (AssetClass::Crypto, 0.10, 0.15),
        (AssetClass::Fx, 0.01, 0.015),
    ] {
        let changes: Vec<f64> = of_class(class).map(|f| f.session_change.abs()).collect();
        let within = changes.iter().filter(|c| **c <= most).count();
        assert!(
            within * 4 >= changes.len() * 3 && changes.iter().all(|c| *c <= all),
            "seed {seed}: {class:?} sessions moved {changes:.3?}"
        );
    }
    // Fat tails: every instrument's returns, standardised and pooled, and the median of each
    // class.
    let pooled: Vec<f64> = series
        .iter()
        .flat_map(|s| {
            let r = s.returns();
            let (m, sd) = (mean(&r), std_dev(&r));
            r.into_iter().map(move |x| (x - m) / sd)
        })
        .collect();
    assert!(
        excess_kurtosis(&pooled) > 2.0,
        "seed {seed}: pooled excess kurtosis {:.2}",
        excess_kurtosis(&pooled)
    );
    for class in [AssetClass::Equity, AssetClass::Crypto, AssetClass::Fx] {
        let k = median(of_class(class).map(|f| f.excess_kurtosis).collect());
        assert!(k > 1.0, "seed {seed}: median excess kurtosis of {class:?} {k:.2}");
    }
    // Volatility clusters, while returns stay unpredictable: near 0 at lag 1, a little below
    // it as on a real tape, where a minute's last trade is more often at the bid after a fall
    // and at the ask after a rise (the bid-ask bounce).
    let clustering = mean(&facts.iter().map(|f| f.clustering).collect::<Vec<_>>());
    assert!(clustering > 0.05, "seed {seed}: |r| autocorrelation {clustering:.3}");
    let lag1: Vec<f64> = facts.iter().map(|f| f.autocorrelation).collect();
    assert!(
        mean(&lag1).abs() < 0.1 && lag1.iter().all(|r| r.abs() < 0.3),
        "seed {seed}: lag-1 autocorrelations {lag1:.2?}"
    );
    // Co-movement: stocks together, coins more so, the currency pairs with the dollar.
    let of = |class| series.iter().filter(|s| s.class == class).collect::<Vec<_>>();
    let stocks = mean_pairwise_correlation(&of(AssetClass::Equity));
    let coins = mean_pairwise_correlation(&of(AssetClass::Crypto));
    // One session's correlation wanders with its regimes (a calm factor beside busy names
    // decorrelates them): each seed within a wide band, their mean in the typical range.
    assert!(
        (0.1..=0.6).contains(&stocks),
        "seed {seed}: stocks correlate {stocks:.2}"
    );
    assert!((0.25..=0.9).contains(&coins), "seed {seed}: coins correlate {coins:.2}");
    let pair = |a: &str, b: &str| {
        let s = |name: &str| series.iter().find(|x| x.symbol == name).unwrap();
        co_movement(s(a), s(b))
    };
    let (eur_gbp, eur_jpy, gbp_jpy) = (
        pair("EUR-USD", "GBP-USD"),
        pair("EUR-USD", "USD-JPY"),
        pair("GBP-USD", "USD-JPY"),
    );
    assert!(
        eur_gbp > 0.25 && eur_jpy < -0.15 && gbp_jpy < -0.15,
        "seed {seed}: EUR/GBP {eur_gbp:.2}, EUR/JPY {eur_jpy:.2}, GBP/JPY {gbp_jpy:.2}"
    );
    // Volume in its real order of magnitude and units, and higher when the price is busy.
    let f = by_symbol(&facts);
    for (symbol, lo, hi) in [
        ("NVDA", 100e6, 600e6),
        ("TSLA", 40e6, 250e6),
        ("AAPL", 20e6, 150e6),
        ("JNJ", 2e6, 20e6),
        ("WMT", 5e6, 40e6),
        ("BTC-USD", 5e3, 100e3),
        ("DOGE-USD", 300e6, 5e9),
        ("EUR-USD", 10e9, 200e9),
    ] {
        let v = f[symbol].volume_per_day;
        assert!((lo..=hi).contains(&v), "seed {seed}: {symbol} trades {v:.0} a day");
    }
    for (busy, quiet) in [("NVDA", "JNJ"), ("NVDA", "WMT"), ("TSLA", "JNJ")] {
        assert!(
            f[busy].volume_per_day > 3.0 * f[quiet].volume_per_day,
            "seed {seed}: {busy} against {quiet}"
        );
    }
    let activity: Vec<f64> = facts.iter().map(|f| f.volume_activity).collect();
    assert!(
        mean(&activity) > 0.2 && activity.iter().all(|c| *c > 0.0),
        "seed {seed}: volume against |return| {activity:.2?}"
    );
    (stocks, coins)
}

/// Three servers, each with its own seed's eight hours of past, measured as a quant would. (The
/// past ends at the server's start, so where the minutes fall, and the figures' last digits,
/// change from run to run.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_past_has_the_signature_of_a_real_market() {
    let seeds = [1, 2, 3];
    let pasts = futures_util::future::join_all(seeds.map(past_of)).await;
    let correlations: Vec<(f64, f64)> = seeds
        .into_iter()
        .zip(&pasts)
        .map(|(seed, series)| check_stylized_facts(seed, series))
        .collect();
    let stocks = mean(&correlations.iter().map(|c| c.0).collect::<Vec<_>>());
    let coins = mean(&correlations.iter().map(|c| c.1).collect::<Vec<_>>());
    assert!((0.2..=0.5).contains(&stocks), "stocks correlate {stocks:.2} on average");
    assert!((0.45..=0.85).contains(&coins), "coins correlate {coins:.2} on average");
}

/// Seconds over which [`per_second`] takes returns.
const RETURN_SECS: usize = 5;

/// Per instrument, from its 1-second candles (`/api/history?interval=1s`): its variance per
/// second over its volatility per second squared, and its volume.
async fn per_second(rate: f64, seconds: usize) -> Vec<(String, f64, f64)> {
    let frames = (rate * seconds as f64).round() as usize;
    let mut server = TestServer::with_market(Market::new(default_universe(), 77, rate), (1000.0 / rate) as i64).await;
    // Stepping holds this worker for seconds; the other serves the other rate's requests.
    tokio::task::block_in_place(|| server.step(frames));
    served(&server.base, "1s", 1.0)
        .await
        .into_iter()
        .map(|s| {
            // Returns over 5 seconds, so that the bid-ask bounce of the last trades (a tick or
            // two, as large as a second's move in the calmest instruments) weighs little.
            let closes: Vec<f64> = s.candles.iter().step_by(RETURN_SECS).map(|c| c.close as f64).collect();
            let r: Vec<f64> = closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
            let sigma = spec(&s.symbol).vol_per_sqrt_sec;
            let volume: f64 = s.volumes().iter().sum();
            let per_second = std_dev(&r).powi(2) / RETURN_SECS as f64;
            (s.symbol.clone(), per_second / (sigma * sigma), volume)
        })
        .collect()
}

/// The same seeded market at 10 and 100 frames a second: ten times the trades, the same
/// volatility and volume per second (the regimes, factors and jumps move in market time, so
/// both rates share them and only the trades' own noise differs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tick_rate_changes_trades_per_second_not_volatility_per_second() {
    let seconds = 600;
    let slow = per_second(10.0, seconds).await;
    let fast = per_second(100.0, seconds).await;
    let ratio = |pick: &dyn Fn(&(String, f64, f64)) -> f64, class: Option<AssetClass>| {
        let universe = default_universe();
        let sum = |rows: &[(String, f64, f64)]| -> f64 {
            rows.iter()
                .filter(|row| class.is_none_or(|c| universe.iter().any(|s| s.symbol == row.0 && s.class == c)))
                .map(pick)
                .sum()
        };
        sum(&fast) / sum(&slow)
    };
    let vol = ratio(&|row| row.1, None).sqrt();
    assert!(
        (0.85..=1.15).contains(&vol),
        "volatility per second at 100 Hz / 10 Hz: {vol:.3}"
    );
    for class in [AssetClass::Equity, AssetClass::Crypto, AssetClass::Fx] {
        let vol = ratio(&|row| row.1, Some(class)).sqrt();
        assert!(
            (0.8..=1.2).contains(&vol),
            "{class:?}: volatility per second at 100 Hz / 10 Hz: {vol:.3}"
        );
    }
    // Each instrument's volume at 100 Hz over its own at 10 Hz, averaged.
    let volume = ratio(&|row| row.2 / slow.iter().find(|s| s.0 == row.0).unwrap().2, None);
    assert!(
        (0.85..=1.15).contains(&volume),
        "volume per second at 100 Hz / 10 Hz: {volume:.3}"
    );
}
