//! Drives the market: steps it on its own task at the configured rate, independent of how many
//! clients are connected, and publishes each frame to the hub.

use crate::hub::{Hub, Trade};
use crate::market::Market;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// The market and the hub it feeds.
pub struct Generator {
    market: Market,
    hub: Arc<Hub>,
}

impl Generator {
    pub fn new(market: Market, hub: Arc<Hub>) -> Self {
        Generator { market, hub }
    }

    /// Produces and publishes one frame stamped `ts` (ms since the Unix epoch); returns its seq.
    pub fn step(&mut self, ts: i64) -> u64 {
        let market = &mut self.market;
        let trades = market
            .step()
            .into_iter()
            .map(|(index, quantity)| Trade {
                index,
                quote: market.quote(index),
                quantity,
            })
            .collect();
        self.hub.publish(ts, trades)
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
