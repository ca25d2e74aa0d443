//! A reconnect storm against the hub: while the market publishes at 10 Hz, thousands of clients
//! resume from the oldest id the history holds (the most replay work there is), and every
//! publish is timed. What it shows: how long a tick waits for the hub's lock while the storm
//! runs (BENCHMARKS.md, "Hostile clients").
//!
//! `cargo run --release -p tickertape-server --example storm -- [clients] [history]`

use app::wire::protocol::EventId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tickertape_server::feed::generator::next_trades;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::hub::{Hub, HubConfig, Selection};
use tickertape_server::metrics::Metrics;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let clients = args.next().unwrap_or(5_000);
    let history = args.next().unwrap_or(1_200);
    let mut market = Market::new(default_universe(), 1, 10.0);
    let config = HubConfig {
        history_frames: history,
        live_buffer: 50,
    };
    let hub = Arc::new(Hub::for_market(1, &market, config, Arc::new(Metrics::default())));
    for _ in 0..history {
        hub.publish(0, next_trades(&mut market));
    }

    let quiet = publish_for(&hub, &mut market, Duration::from_secs(2));
    let storming = Arc::new(AtomicBool::new(true));
    let reconnects = Arc::new(AtomicUsize::new(0));
    // Two threads (the machine's two cores), each keeping half the clients subscribed and
    // reconnecting them one after another, as fast as it can, for as long as the ticks are timed.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (hub, storming, reconnects) = (hub.clone(), storming.clone(), reconnects.clone());
            std::thread::spawn(move || {
                let mut held = Vec::with_capacity(clients / 2);
                let mut k = 0;
                while storming.load(Ordering::Relaxed) {
                    // The oldest frame still held: a full replay, as a client back from a long
                    // disconnect asks for.
                    let id = hub.last_id();
                    let oldest = id.seq.saturating_sub(hub.history_len() as u64) + 1;
                    let mut sub = hub.subscribe(Some(EventId::new(id.epoch, oldest)), Selection::all());
                    // A connection's first write: what its task takes before the fan-out does.
                    let _ = sub.take_ready(8);
                    if held.len() < clients / 2 {
                        held.push(sub);
                    } else {
                        let slot = k % held.len();
                        held[slot] = sub;
                        k += 1;
                    }
                    reconnects.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let storm = publish_for(&hub, &mut market, Duration::from_secs(5));
    storming.store(false, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    println!(
        "history {history} frames, {clients} clients, {} reconnects resuming from the oldest frame in 5 s",
        reconnects.load(Ordering::Relaxed)
    );
    println!("publish (lock wait + publish), quiet: {quiet}");
    println!("publish (lock wait + publish), storm: {storm}");
}

/// Publishes at 10 Hz for `duration`; the durations of the publishes as "p50 / p99 / max µs,
/// late ticks".
fn publish_for(hub: &Hub, market: &mut Market, duration: Duration) -> String {
    let period = Duration::from_millis(100);
    let start = Instant::now();
    let mut took = Vec::new();
    let mut late = 0;
    let mut due = start;
    while start.elapsed() < duration {
        due += period;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let trades = next_trades(market);
        let t = Instant::now();
        hub.publish(0, trades);
        let spent = t.elapsed();
        if spent > period {
            late += 1;
        }
        took.push(spent.as_micros());
    }
    took.sort_unstable();
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
    format!(
        "p50 {} / p99 {} / max {} µs over {} ticks, {late} delayed by more than a tick period",
        at(0.5),
        at(0.99),
        at(1.0),
        took.len()
    )
}
