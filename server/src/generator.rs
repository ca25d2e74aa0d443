//! Drives the market: steps it on its own task at the configured rate, independent of how many
//! clients are connected, and publishes each frame: straight to the hub in the embedded node,
//! to the market bus ([`crate::bus`]) when nodes are split.

use crate::hub::{Hub, Trade};
use crate::market::Market;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Advances `market` one frame and returns its trades, as the hub publishes them.
pub fn next_trades(market: &mut Market) -> Vec<Trade> {
    market
        .step()
        .into_iter()
        .map(|(index, quantity)| Trade {
            index,
            quote: market.quote(index),
            quantity,
        })
        .collect()
}

/// Where the generator's frames go.
pub trait Publish: Send + 'static {
    /// Takes the next frame (stamped `ts`, ms since the Unix epoch); returns its seq.
    fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64;
}

impl Publish for Arc<Hub> {
    fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64 {
        Hub::publish(self, ts, trades)
    }
}

/// The market and where its frames go.
pub struct Generator<P = Arc<Hub>> {
    market: Market,
    sink: P,
}

impl<P: Publish> Generator<P> {
    pub fn new(market: Market, sink: P) -> Self {
        Generator { market, sink }
    }

    /// Produces and publishes one frame stamped `ts` (ms since the Unix epoch); returns its seq.
    pub fn step(&mut self, ts: i64) -> u64 {
        self.sink.publish(ts, next_trades(&mut self.market))
    }

    /// Steps at `rate_hz` until `shutdown`. A frame that is late (the process was starved) is
    /// skipped rather than bursted, so clients never see a pile-up of stale frames.
    pub async fn run(mut self, rate_hz: f64, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_hz));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = interval.tick() => {
                    self.step(chrono::Utc::now().timestamp_millis());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubConfig;
    use crate::market::default_universe;
    use crate::metrics::Metrics;

    fn generator() -> (Generator, Arc<Hub>) {
        let market = Market::new(default_universe(), 5, 10.0);
        let config = HubConfig {
            history_frames: 100,
            live_buffer: 16,
        };
        let hub = Arc::new(Hub::new(
            1,
            market.instruments(),
            market.quotes(),
            config,
            Arc::new(Metrics::default()),
        ));
        (Generator::new(market, hub.clone()), hub)
    }

    #[test]
    fn each_step_publishes_one_numbered_frame() {
        let (mut g, hub) = generator();
        assert_eq!(g.step(1_000), 1);
        assert_eq!(g.step(1_100), 2);
        let snap = hub.snapshot(&Default::default());
        assert_eq!((snap.seq, snap.ts), (2, 1_100));
    }

    #[tokio::test(start_paused = true)]
    async fn runs_at_the_configured_rate_until_cancelled() {
        let (g, hub) = generator();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(g.run(10.0, shutdown.clone()));
        // The first tick fires at once, then one every 100 ms of (paused, simulated) time.
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        assert_eq!(hub.last_id().seq, 11);
        shutdown.cancel();
        task.await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(hub.last_id().seq, 11, "no frame after cancel");
    }
}
