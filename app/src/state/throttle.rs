//! How often a part of the page may be redrawn: once per `period` of **market time**, at the
//! first animation frame after a market frame that is due.
//!
//! The period is counted on the market's own clock (each frame's `ts`, stamped by the server),
//! from the newest market frame drawn, not on the page's clock from the animation frame it was
//! drawn in. Counted on the page's clock, a feed at the period itself (a 10 Hz market, a 100 ms
//! period) locks to whatever phase its first draw had: once a draw came a frame after its tick
//! (the page loading, a draw for something else), every later tick arrived a little before the
//! period was over and waited a frame for it, in a frame of its own apart from the chart drawn
//! as the tick arrived, for good (a budget or a window of recent draws on the page's clock did
//! no better). On the market's clock a 10 Hz feed is due at every tick, whatever frames it lands
//! on and however the network delays it, and a 200 Hz one at every twentieth: ten draws a
//! second of market time either way.
//!
//! What changes without a tick (a book reloaded) is drawn with the next tick that is due, or,
//! when no tick is on its way to being drawn, once `period` has passed on the page's clock.

/// How much less than a period of market time may separate two ticks drawn: frames stamped a
/// period apart may be a millisecond short of it.
const TICK_SLACK_MS: f64 = 1.0;
/// How much sooner than a period on the page's clock what changed without a tick may be drawn:
/// half a 60 Hz frame.
const FRAME_SLACK_MS: f64 = 8.0;

#[derive(Clone, Copy, Debug)]
pub struct Throttle {
    period: f64,
    dirty: bool,
    /// The market time of the newest tick marked, and of the newest tick drawn.
    newest: f64,
    drawn_tick: f64,
    /// When (page clock) it last drew.
    drawn: f64,
}

impl Throttle {
    pub fn new(period: f64) -> Self {
        Throttle {
            period,
            dirty: false,
            newest: f64::NEG_INFINITY,
            drawn_tick: f64::NEG_INFINITY,
            drawn: f64::NEG_INFINITY,
        }
    }

    /// When (page clock, ms) it last drew.
    pub fn drawn(&self) -> f64 {
        self.drawn
    }

    /// Something changed: with a tick stamped `ts` (market time, ms), or without one (`None`).
    /// Draw it when due.
    pub fn mark(&mut self, ts: Option<f64>) {
        self.dirty = true;
        if let Some(ts) = ts {
            if ts < self.drawn_tick {
                // A market clock that went back (the server restarted): count afresh.
                self.drawn_tick = f64::NEG_INFINITY;
                self.newest = f64::NEG_INFINITY;
            }
            self.newest = self.newest.max(ts);
        }
    }

    /// Whether to draw now (`Some(true)`, and it is then clean), later (`Some(false)`: ask
    /// again at a later frame), or not at all (`None`: nothing changed). `now`: page clock, ms.
    pub fn due(&mut self, now: f64) -> Option<bool> {
        if !self.dirty {
            return None;
        }
        let ticking = self.newest > self.drawn_tick;
        let due = if ticking {
            self.newest - self.drawn_tick >= self.period - TICK_SLACK_MS
        } else {
            now - self.drawn >= self.period - FRAME_SLACK_MS
        };
        if due {
            if ticking {
                self.drawn_tick = self.newest;
            }
            self.drawn = now;
            self.dirty = false;
        }
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: f64 = 1000.0 / 60.0;

    /// Animation frames from 0 for `ms`; each arrival is (page time, the tick's market time if
    /// it is one). Returns the draws' times and, per arrival, how long after it its draw came.
    fn run(ms: f64, arrivals: &[(f64, Option<f64>)]) -> (Vec<f64>, Vec<f64>) {
        let mut t = Throttle::new(100.0);
        let (mut draws, mut waits, mut pending) = (Vec::new(), Vec::new(), Vec::new());
        let mut next = 0;
        let mut frame = 0.0;
        while frame < ms {
            while next < arrivals.len() && arrivals[next].0 <= frame {
                pending.push(arrivals[next].0);
                t.mark(arrivals[next].1);
                next += 1;
            }
            if t.due(frame) == Some(true) {
                draws.push(frame);
                waits.extend(pending.drain(..).map(|a| frame - a));
            }
            frame += FRAME;
        }
        (draws, waits)
    }

    /// Ticks every `every` ms of market time for ten seconds, arriving `phase` ms later and
    /// wavering by a few ms (the network).
    fn ticks(every: f64, phase: f64) -> Vec<(f64, Option<f64>)> {
        (0..(10_000.0 / every) as usize)
            .map(|k| {
                let ts = 1_796_630_000_000.0 + every * k as f64;
                (phase + every * k as f64 + [0.0, 3.0, -2.0, 4.5, 1.0][k % 5], Some(ts))
            })
            .collect()
    }

    #[test]
    fn a_feed_at_the_period_is_drawn_as_it_arrives_whatever_its_phase() {
        for phase in [5.0, 20.0, 41.3, 58.0, 83.0, 99.1] {
            let (draws, waits) = run(10_000.0, &ticks(100.0, phase));
            assert!(draws.len() >= 99, "phase {phase}: {} draws", draws.len());
            let late = waits.iter().filter(|w| **w > FRAME).count();
            assert_eq!(late, 0, "phase {phase}: {late} ticks waited past their frame");
        }
    }

    #[test]
    fn a_draw_for_something_else_does_not_put_the_ticks_off() {
        let mut arrivals = ticks(100.0, 20.0);
        arrivals.push((236.0, None)); // the book reloaded, a frame after a tick
        arrivals.push((5_010.0, None));
        arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (_, waits) = run(10_000.0, &arrivals);
        // Only the two changes without a tick wait (for the next tick), and no more than that.
        assert_eq!(waits.iter().filter(|w| **w > FRAME).count(), 2, "{waits:?}");
        assert!(waits.iter().all(|w| *w <= 100.0 + FRAME), "{waits:?}");
    }

    #[test]
    fn a_faster_feed_is_drawn_ten_times_a_second() {
        let (draws, waits) = run(10_000.0, &ticks(5.0, 2.0));
        assert!((99..=101).contains(&draws.len()), "{} draws", draws.len());
        // In every second, ten (one more at most, as the network wavers).
        for w in draws.windows(12) {
            assert!(w[11] - w[0] > 1_000.0, "{w:?}");
        }
        assert!(
            waits.iter().all(|w| *w <= 100.0 + FRAME),
            "nothing waits more than a period"
        );
        for every in [50.0, 66.7, 83.3] {
            let (draws, _) = run(10_000.0, &ticks(every, 2.0));
            assert!(draws.len() <= 101, "every {every} ms: {} draws", draws.len());
        }
    }

    #[test]
    fn without_ticks_changes_are_drawn_a_period_apart() {
        let arrivals: Vec<(f64, Option<f64>)> = (0..300).map(|k| (k as f64 * 10.0, None)).collect();
        let (draws, _) = run(3_000.0, &arrivals);
        for pair in draws.windows(2) {
            assert!(pair[1] - pair[0] >= 6.0 * FRAME - 0.1, "{pair:?}");
        }
        assert!(draws.len() >= 29, "{} draws", draws.len());
    }

    #[test]
    fn a_market_clock_that_goes_back_is_counted_afresh() {
        let mut t = Throttle::new(100.0);
        t.mark(Some(50_000.0));
        assert_eq!(t.due(0.0), Some(true));
        t.mark(Some(1_000.0)); // a restarted server's first tick
        assert_eq!(t.due(17.0), Some(true));
        t.mark(Some(1_005.0));
        assert_eq!(t.due(34.0), Some(false));
    }
}
