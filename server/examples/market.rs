//! The market's statistical signature, per instrument: annualised volatility, the session's
//! change, fat tails, clustering, co-movement and volume (see `tickertape_server::feed::facts`).
//!
//! ```text
//! # what a running server serves (1-minute candles of its simulated past)
//! cargo run --release -p tickertape-server --example market -- --url http://127.0.0.1:3000
//! # or the seeded market simulated here, the way a server simulates its past, for many seeds
//! cargo run --release -p tickertape-server --example market -- --seeds 1-20 --hours 8
//! ```
//! `make scenario N=market` starts a server and runs the first; BENCHMARKS.md has the output.

use app::wire::protocol::{AssetClass, History, Instrument, Interval};
use clap::Parser;
use tickertape_server::feed::facts::{Facts, Series, co_movement, mean, mean_pairwise_correlation};
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::hub::CandleStore;

#[derive(Parser, Debug)]
#[command(about = "Tickertape market statistics")]
struct Args {
    /// A running server to read (`/api/symbols`, then `/api/history?interval=1m` per symbol).
    #[arg(long)]
    url: Option<String>,
    /// Seeds to simulate here instead, `A-B` or one number.
    #[arg(long, default_value = "1-10")]
    seeds: String,
    /// Hours of past to simulate per seed.
    #[arg(long, default_value_t = 8)]
    hours: u64,
    /// Frames per second of the simulation.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if let Some(url) = &args.url {
        let series = fetch(url).await?;
        println!("1-minute candles served by {url}");
        print_table(&[series]);
        return Ok(());
    }
    let (from, to) = match args.seeds.split_once('-') {
        Some((a, b)) => (a.parse()?, b.parse()?),
        None => (args.seeds.parse()?, args.seeds.parse()?),
    };
    let runs: Vec<Vec<Series>> = (from..=to).map(|seed| simulate(seed, args.hours, args.rate)).collect();
    println!(
        "{} seeds ({from}-{to}), {} h of past at {} Hz each, 1-minute candles: medians over the seeds (min-max)",
        runs.len(),
        args.hours,
        args.rate
    );
    print_table(&runs);
    Ok(())
}

/// What a server with this seed serves as its past: its 1-minute candles.
fn simulate(seed: u64, hours: u64, rate: f64) -> Vec<Series> {
    let specs = default_universe();
    let mut market = Market::new(specs.clone(), seed, rate);
    let mut store = CandleStore::new(market.len());
    market.simulate_past(hours * 3600, rate, 1_700_000_000_000, |i, ts, price, qty| {
        store.push(i, ts, price, qty)
    });
    market
        .instruments()
        .into_iter()
        .enumerate()
        .map(|(i, ins)| series(&ins, store.tail(i, Interval::M1, Interval::M1.kept())))
        .collect()
}

fn series(ins: &Instrument, candles: Vec<app::wire::protocol::Candle>) -> Series {
    Series {
        symbol: ins.symbol.clone(),
        class: ins.class,
        size_decimals: ins.size_decimals,
        interval_secs: 60.0,
        candles,
    }
}

async fn fetch(url: &str) -> Result<Vec<Series>, Box<dyn std::error::Error>> {
    let instruments: Vec<Instrument> = reqwest::get(format!("{url}/api/symbols")).await?.json().await?;
    let mut out = Vec::new();
    for ins in &instruments {
        let history: History = reqwest::get(format!("{url}/api/history?symbol={}&interval=1m", ins.symbol))
            .await?
            .json()
            .await?;
        out.push(series(ins, history.candles));
    }
    Ok(out)
}

/// The median of `values` and their range, as `median (min-max)` at `decimals`, scaled.
fn spread(values: &mut [f64], scale: f64, decimals: usize) -> String {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2] * scale;
    if values.len() == 1 {
        return format!("{median:.decimals$}");
    }
    let (lo, hi) = (values[0] * scale, values[values.len() - 1] * scale);
    format!("{median:.decimals$} ({lo:.decimals$}..{hi:.decimals$})")
}

fn print_table(runs: &[Vec<Series>]) {
    let facts: Vec<Vec<Facts>> = runs.iter().map(|r| r.iter().map(Series::facts).collect()).collect();
    println!(
        "{:<9} {:<7} {:>20} {:>22} {:>18} {:>18} {:>20} {:>16} {:>18}",
        "symbol",
        "class",
        "annual vol %",
        "session change %",
        "excess kurtosis",
        "|r| autocorr 1-5",
        "r autocorr 1",
        "volume/day",
        "volume~|r| corr"
    );
    for (i, first) in facts[0].iter().enumerate() {
        let column = |f: &dyn Fn(&Facts) -> f64| facts.iter().map(|run| f(&run[i])).collect::<Vec<_>>();
        println!(
            "{:<9} {:<7} {:>20} {:>22} {:>18} {:>18} {:>20} {:>16} {:>18}",
            first.symbol,
            format!("{:?}", first.class).to_lowercase(),
            spread(&mut column(&|f| f.annual_vol), 100.0, 1),
            spread(&mut column(&|f| f.session_change), 100.0, 2),
            spread(&mut column(&|f| f.excess_kurtosis), 1.0, 1),
            spread(&mut column(&|f| f.clustering), 1.0, 2),
            spread(&mut column(&|f| f.autocorrelation), 1.0, 2),
            human(mean(&column(&|f| f.volume_per_day))),
            spread(&mut column(&|f| f.volume_activity), 1.0, 2),
        );
    }
    println!("\nco-movement of 1-minute returns (mean pairwise correlation; medians over the runs):");
    for (class, name) in [(AssetClass::Equity, "stocks"), (AssetClass::Crypto, "coins")] {
        let mut per_run: Vec<f64> = runs
            .iter()
            .map(|run| mean_pairwise_correlation(&of_class(run, class)))
            .collect();
        println!("  {name:<8} {}", spread(&mut per_run, 1.0, 2));
    }
    let fx: Vec<&Series> = runs[0].iter().filter(|s| s.class == AssetClass::Fx).collect();
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        if let (Some(x), Some(y)) = (fx.get(a), fx.get(b)) {
            let mut per_run: Vec<f64> = runs
                .iter()
                .map(|run| {
                    let find = |s: &str| run.iter().find(|r| r.symbol == s);
                    match (find(&x.symbol), find(&y.symbol)) {
                        (Some(a), Some(b)) => co_movement(a, b),
                        _ => 0.0,
                    }
                })
                .collect();
            println!(
                "  {:<18} {}",
                format!("{}/{}", x.symbol, y.symbol),
                spread(&mut per_run, 1.0, 2)
            );
        }
    }
}

fn of_class(run: &[Series], class: AssetClass) -> Vec<&Series> {
    run.iter().filter(|s| s.class == class).collect()
}

/// `1.2M`, `340k`, `25.0k` and so on.
fn human(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.1}B", x / 1e9),
        x if x >= 1e6 => format!("{:.1}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.1}"),
    }
}
