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

criterion_group!(hub_benches, benches);
criterion_main!(hub_benches);
