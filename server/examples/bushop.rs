//! What the Redis hop adds: the time from the generator handing a frame over to a subscriber of
//! the hub receiving it, in microseconds, in the embedded node (an in-memory hand-over) and
//! through a market bus (generator → Redis Stream → edge → hub), measured in one process with
//! the node's own code paths, so the difference is the hop.
//!
//! ```text
//! redis-server --port 6390 --save "" --appendonly no &
//! cargo run --release -p tickertape-server --example bushop -- --bus redis://127.0.0.1:6390
//! ```
//! (`make scenario N=bus-hop` runs it.) The load generator's latency is in whole milliseconds
//! (events carry `ts` in ms), too coarse for a hop of a fraction of one.

use clap::Parser;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tickertape_server::bus::{self, BusStatus, WriterSetup};
use tickertape_server::feed::Publish;
use tickertape_server::feed::generator::next_trades;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::hub::{CandleStore, EventKind, Hub, HubConfig, Selection};
use tickertape_server::metrics::Metrics;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(about = "Latency of the Redis hop between generator and edge")]
struct Args {
    /// The Redis to use (its tickertape:* keys are overwritten).
    #[arg(long)]
    bus: String,
    /// Frames per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Frames to measure.
    #[arg(long, default_value_t = 3000)]
    frames: u64,
}

/// Handed-over times by seq, shared by the publishing side and the receiving side.
type Sent = Arc<Mutex<HashMap<u64, Instant>>>;

/// Publishes frames `first..first + frames` into `sink` at `rate` Hz, noting when each was
/// handed over (before the hand-over, so a fast receiver cannot miss the note).
async fn drive(mut sink: impl Publish, market: &mut Market, rate: f64, first: u64, frames: u64, sent: Sent) {
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    for seq in first..first + frames {
        interval.tick().await;
        let trades = next_trades(market);
        sent.lock().unwrap().insert(seq, Instant::now());
        let published = sink.publish(chrono::Utc::now().timestamp_millis(), trades);
        assert_eq!(published, seq);
    }
}

/// Receives ticks from `hub` until `last` and records each one's delay after hand-over.
async fn receive(hub: Arc<Hub>, last: u64, sent: Sent) -> Histogram<u64> {
    let mut sub = hub.subscribe(None, Selection::all());
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    loop {
        let event = sub.next().await;
        let now = Instant::now();
        if event.kind != EventKind::Tick {
            continue;
        }
        if let Some(at) = sent.lock().unwrap().remove(&event.id.seq) {
            histogram.record(now.duration_since(at).as_micros() as u64).unwrap();
        }
        if event.id.seq >= last {
            return histogram;
        }
    }
}

fn line(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<22} n {:>6} | p50 {:>6} µs | p99 {:>6} µs | p99.9 {:>6} µs | max {:>6} µs",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = redis::Client::open(args.bus.as_str()).unwrap_or_else(|e| panic!("{e}"));
    let config = HubConfig {
        history_frames: 2000,
        live_buffer: 1024,
    };
    let metrics = Arc::new(Metrics::default());

    // Embedded: the generator publishes straight into the hub.
    let mut market = Market::new(default_universe(), 1, args.rate);
    let hub = Arc::new(Hub::for_market(1, &market, config, metrics.clone()));
    let sent: Sent = Arc::default();
    let rx = tokio::spawn(receive(hub.clone(), args.frames, sent.clone()));
    drive(hub.clone(), &mut market, args.rate, 1, args.frames, sent).await;
    let embedded = rx.await.unwrap();

    // Through Redis: the generator's writer, an edge following the stream, a subscriber of it.
    let shutdown = CancellationToken::new();
    let status = Arc::new(BusStatus::new(&client, metrics.clone()));
    let mut market = Market::new(default_universe(), 1, args.rate);
    let setup = WriterSetup {
        instruments: market.instruments(),
        quotes: market.quotes(),
        books: market.books(),
        history_frames: config.history_frames,
        candles: CandleStore::new(market.len()),
    };
    let (mut publisher, writer) = bus::publisher(client.clone(), setup, status.clone(), shutdown.clone());
    tokio::spawn(writer);
    // Frame 1 opens the epoch, so the edge has a checkpoint to join at.
    let first = next_trades(&mut market);
    publisher.publish(chrono::Utc::now().timestamp_millis(), first);
    let edge = bus::join(&client, config, &status, &shutdown).await.expect("joined");
    tokio::spawn(bus::follow_loop(client, edge.clone(), status, shutdown.clone()));
    let sent: Sent = Arc::default();
    let rx = tokio::spawn(receive(edge, args.frames + 1, sent.clone()));
    drive(publisher, &mut market, args.rate, 2, args.frames, sent).await;
    let hop = rx.await.unwrap();
    shutdown.cancel();

    println!("{} frames at {} Hz, hand-over to subscriber:", args.frames, args.rate);
    line("embedded (in memory)", &embedded);
    line("through Redis", &hop);
    println!(
        "added by the hop        p50 {} µs | p99 {} µs",
        hop.value_at_quantile(0.5) as i64 - embedded.value_at_quantile(0.5) as i64,
        hop.value_at_quantile(0.99) as i64 - embedded.value_at_quantile(0.99) as i64
    );
}
