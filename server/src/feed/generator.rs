//! Drives the market: steps it on its own task at the configured rate, independent of how many
//! clients are connected, and publishes each frame to its [`Publish`] sink: the hub in the
//! embedded node, the market bus when nodes are split.

use super::market::Market;
use super::{Publish, Trade};
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Advances `market` one frame and returns its trades, as the hub publishes them.
pub fn next_trades(market: &mut Market) -> Vec<Trade> {
    market
        .step()
        .into_iter()
        .map(|(index, quantity)| {
            let (side, prints) = market.prints(index);
            Trade {
                index,
                quote: market.quote(index),
                quantity,
                book: market.book_update(index),
                side,
                prints,
            }
        })
        .collect()
}

/// The market and where its frames go.
pub struct Generator<P> {
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
    use crate::feed::market::default_universe;
    use std::sync::{Arc, Mutex};

    /// A published frame: its timestamp and trades.
    type Published = (i64, Vec<Trade>);

    /// Records what it is given, numbering frames as the hub does.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Published>>>);

    impl Publish for Recorder {
        fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64 {
            let mut frames = self.0.lock().unwrap();
            frames.push((ts, trades));
            frames.len() as u64
        }
    }

    fn generator() -> (Generator<Recorder>, Recorder) {
        let recorder = Recorder::default();
        let market = Market::new(default_universe(), 5, 10.0);
        (Generator::new(market, recorder.clone()), recorder)
    }

    #[test]
    fn each_step_publishes_one_frame_of_the_markets_trades() {
        let (mut g, recorder) = generator();
        assert_eq!(g.step(1_000), 1);
        assert_eq!(g.step(1_100), 2);
        let mut replay = Market::new(default_universe(), 5, 10.0);
        let frames = recorder.0.lock().unwrap().clone();
        assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), [1_000, 1_100]);
        for (_, trades) in frames {
            assert_eq!(trades, next_trades(&mut replay), "the seeded market's own frames");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn runs_at_the_configured_rate_until_cancelled() {
        let (g, recorder) = generator();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(g.run(10.0, shutdown.clone()));
        // The first tick fires at once, then one every 100 ms of (paused, simulated) time.
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        assert_eq!(recorder.0.lock().unwrap().len(), 11);
        shutdown.cancel();
        task.await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(recorder.0.lock().unwrap().len(), 11, "no frame after cancel");
    }
}
