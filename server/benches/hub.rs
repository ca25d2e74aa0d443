//! Micro-benchmarks of the hot path: generating a frame, encoding and publishing it, and
//! handing it to each subscriber. `cargo bench -p tickertape-server --bench hub`;
//! results in BENCHMARKS.md.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use tickertape_server::feed::generator::next_trades;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::hub::{Hub, HubConfig, Selection};
use tickertape_server::metrics::Metrics;

fn hub(market: &Market, live_buffer: usize) -> Arc<Hub> {
    let config = HubConfig {
        history_frames: 1200,
        live_buffer,
    };
    Arc::new(Hub::for_market(1, market, config, Arc::new(Metrics::default())))
}

fn benches(c: &mut Criterion) {
    let mut market = Market::new(default_universe(), 1, 10.0);
    c.bench_function("market_step (19 instruments)", |b| b.iter(|| black_box(market.step())));

    let mut market = Market::new(default_universe(), 1, 10.0);
    let hub1 = hub(&market, 256);
    let mut ts = 0;
    c.bench_function("publish: encode + history + candles + broadcast", |b| {
        b.iter_batched(
            || next_trades(&mut market),
            |t| {
                ts += 100;
                hub1.publish(ts, t)
            },
            BatchSize::SmallInput,
        )
    });

    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for (name, filter) in [
        ("all symbols (shared bytes)", None),
        ("2-symbol filter (spliced)", Some("AAPL,BTC-USD")),
    ] {
        let mut group = c.benchmark_group(format!("fan-out per subscriber, {name}"));
        const SUBSCRIBERS: usize = 1000;
        group.throughput(Throughput::Elements(SUBSCRIBERS as u64));
        let mut market = Market::new(default_universe(), 2, 10.0);
        let hub = hub(&market, 4096);
        let selection = hub.select(filter).unwrap_or_else(|_| Selection::all());
        let mut subs: Vec<_> = (0..SUBSCRIBERS)
            .map(|_| hub.subscribe(None, selection.clone()))
            .collect();
        for s in &mut subs {
            s.drain_ready();
        }
        let mut ts = 0;
        group.bench_function("1000 subscribers, one frame", |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    // Publish a frame where a selected symbol trades, outside the timing.
                    loop {
                        ts += 100;
                        let t = next_trades(&mut market);
                        let wanted = t.iter().any(|t| selection.contains(t.index));
                        hub.publish(ts, t);
                        if wanted {
                            break;
                        }
                        for s in &mut subs {
                            s.drain_ready();
                        }
                    }
                    let start = std::time::Instant::now();
                    rt.block_on(async {
                        for s in &mut subs {
                            black_box(s.next().await);
                        }
                    });
                    total += start.elapsed();
                }
                total
            })
        });
        group.finish();
    }
}

/// Issue 26's bar: a frame's evaluation with 100 000 active alerts over 20 symbols, when none
/// fires, at most 5 µs (median). Levels are multiples of 10 around each symbol's price
/// (crossings and channels, every kind the index holds), and each of the frame's 20 trades moves
/// between two prices with no level between them: every trade is looked up, nothing fires.
fn alert_benches(c: &mut Criterion) {
    use tickertape_server::alerts::{Alerts, Condition, Frequency, Spec};
    let mut engine = Alerts::new(20);
    for id in 0..100_000u64 {
        let symbol = (id % 20) as usize;
        let base = 10_000 * (symbol as i64 + 1);
        let level = base + 10 * ((id as i64 * 7919) % 2_000 - 1_000);
        let condition = match id % 5 {
            0 => Condition::Crossing(level),
            1 => Condition::CrossingUp(level),
            2 => Condition::CrossingDown(level),
            3 => Condition::EnteringChannel {
                low: level,
                high: level + 50,
            },
            _ => Condition::ExitingChannel {
                low: level,
                high: level + 50,
            },
        };
        engine.insert(Spec {
            id,
            owner: (id % 1_000) as i64,
            symbol,
            condition,
            frequency: Frequency::OncePerMinute,
            expires: None,
        });
    }
    let mut out = Vec::new();
    let mut seq = 0u64;
    c.bench_function("alerts: a frame of 20 trades, 100 000 alerts, none fires", |b| {
        b.iter(|| {
            seq += 1;
            let up = seq.is_multiple_of(2);
            for symbol in 0..20 {
                let base = 10_000 * (symbol as i64 + 1) + 3;
                let (prev, last) = if up { (base, base + 4) } else { (base + 4, base) };
                engine.on_trade(symbol, prev, last, seq, seq as i64 * 100, &mut out);
            }
            engine.tick(seq as i64 * 100, &mut out);
            assert!(out.is_empty());
        })
    });
    println!("alerts: {} bytes per alert (heap)", engine.heap_bytes() / engine.len());
}

criterion_group!(hub_benches, benches, alert_benches);
criterion_main!(hub_benches);
