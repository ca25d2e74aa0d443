//! Which stretch of the history the main chart shows, and how zooming and panning move it. Pure
//! arithmetic on candle start times, so the rules are tested here and the chart only draws.
//!
//! A viewport is `span` candle slots ending with the candle that starts at `end`, or with the
//! newest candle while it follows the live market (`end: None`). Zooming keeps the right edge
//! where it is; panning moves it through the history and back to live when it reaches the
//! newest candle. Live updates never move a panned viewport: the user's place is kept.

use crate::state::page::VISIBLE_CANDLES;

/// Fewest candle slots the chart shows when zoomed in.
pub const MIN_SPAN: usize = 10;
/// Most candle slots the chart shows when zoomed out.
pub const MAX_SPAN: usize = 500;
/// How much one zoom step changes the span.
pub const ZOOM_STEP: f64 = 1.25;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewport {
    /// Candle slots across the chart.
    pub span: usize,
    /// Start time of the rightmost candle (ms since 1970); `None`: the newest, following live.
    pub end: Option<i64>,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            span: VISIBLE_CANDLES,
            end: None,
        }
    }
}

/// The history a viewport moves through: the first and last candle's start times and the
/// candle width, all in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub oldest: i64,
    pub newest: i64,
    pub step: i64,
}

impl Viewport {
    pub fn is_live(&self) -> bool {
        self.end.is_none()
    }

    /// The start times of the first and last candle slot shown.
    pub fn window(&self, extent: Extent) -> (i64, i64) {
        let end = self.end.unwrap_or(extent.newest).min(extent.newest);
        (end - (self.span as i64 - 1) * extent.step, end)
    }

    /// Zoomed by `factor` (above 1: more candles, zoomed out), the right edge kept.
    pub fn zoom(self, factor: f64) -> Self {
        let span = (self.span as f64 * factor).round() as usize;
        // A step always changes the span, even where rounding would swallow it.
        let span = match span.cmp(&self.span) {
            std::cmp::Ordering::Equal if factor > 1.0 => span + 1,
            std::cmp::Ordering::Equal if factor < 1.0 => span.saturating_sub(1),
            _ => span,
        };
        Viewport {
            span: span.clamp(MIN_SPAN, MAX_SPAN),
            ..self
        }
    }

    /// Moved `candles` slots into the past (negative: toward live), within the history: it
    /// stops with `MIN_SPAN` candles still shown at the oldest end, and follows live again once
    /// it reaches the newest candle.
    pub fn pan(self, candles: i64, extent: Extent) -> Self {
        let end = self.end.unwrap_or(extent.newest) - candles * extent.step;
        let earliest = (extent.oldest + (MIN_SPAN as i64 - 1) * extent.step).min(extent.newest);
        let end = end.max(earliest);
        Viewport {
            end: (end < extent.newest).then_some(end),
            ..self
        }
    }

    /// Back to the newest candle, following live, at the same zoom.
    pub fn live(self) -> Self {
        Viewport { end: None, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXTENT: Extent = Extent {
        oldest: 0,
        newest: 999_000,
        step: 1_000,
    };

    #[test]
    fn live_shows_the_newest_candles() {
        let v = Viewport::default();
        assert!(v.is_live());
        assert_eq!(v.window(EXTENT), (999_000 - 89_000, 999_000));
    }

    #[test]
    fn zoom_keeps_the_right_edge_and_stays_within_bounds() {
        let v = Viewport::default().pan(100, EXTENT);
        let out = v.zoom(ZOOM_STEP);
        assert_eq!((out.span, out.end), (113, v.end));
        let mut v = Viewport::default();
        for _ in 0..50 {
            v = v.zoom(ZOOM_STEP);
        }
        assert_eq!(v.span, MAX_SPAN);
        for _ in 0..50 {
            v = v.zoom(1.0 / ZOOM_STEP);
        }
        assert_eq!(v.span, MIN_SPAN);
        assert_eq!(
            Viewport { span: 11, end: None }.zoom(1.01).span,
            12,
            "a step always moves"
        );
    }

    #[test]
    fn pan_moves_through_history_and_back_to_live() {
        let v = Viewport::default().pan(30, EXTENT);
        assert_eq!(v.end, Some(969_000));
        assert_eq!(v.window(EXTENT), (969_000 - 89_000, 969_000));
        // Far into the past: stops with MIN_SPAN candles of history still in view.
        assert_eq!(v.pan(10_000, EXTENT).end, Some(9_000));
        // Back past the newest candle: live again.
        assert!(v.pan(-30, EXTENT).is_live());
        assert!(v.pan(-500, EXTENT).is_live());
        assert!(v.live().is_live());
        // A panned viewport stays put when new candles arrive.
        let later = Extent {
            newest: 1_500_000,
            ..EXTENT
        };
        assert_eq!(v.window(later), v.window(EXTENT));
    }

    #[test]
    fn a_short_history_cannot_be_panned_past_its_start() {
        let short = Extent {
            oldest: 990_000,
            newest: 999_000,
            step: 1_000,
        };
        assert!(Viewport::default().pan(5, short).is_live(), "nothing older to show");
    }
}
