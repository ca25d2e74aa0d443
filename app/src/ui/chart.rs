//! The charts, drawn as SVG by hand: the main [`PriceChart`] (candles or line, axes, crosshair,
//! last-price marker) and the watchlist's [`Sparkline`].
//!
//! Why not a chart crate: leptos-chartistry (the maintained Leptos option) draws lines and bars
//! but not candlesticks, and a generic chart re-lays out far more than a live market screen
//! needs per frame. These components draw in a fixed 0–1000 coordinate space stretched to the
//! container (so they are responsive without measuring it) and put text in HTML overlays
//! positioned in percent (so labels never stretch).

use super::format::{self, Fixed, fixed};
use crate::state::board::ChartData;
use crate::state::page::VISIBLE_CANDLES;
use crate::state::view::ChartMode;
use crate::wire::protocol::Candle;
use leptos::either::Either;
use leptos::prelude::*;

/// Narrowest time window of the main chart, in candles.
const MIN_WINDOW: usize = 30;
/// Width and height of the drawing space.
const W: f64 = 1000.0;
const H: f64 = 1000.0;
/// `W` and `H` as attribute values (see [`Fixed`] for why not `f64`s).
const W_ATTR: &str = "1000";
const H_ATTR: &str = "1000";

/// About `target` round prices covering `[min, max]` (price units), 1, 2 or 5 times a power of
/// ten units apart: exact, so every label prints the price it stands at.
pub fn nice_ticks(min: i64, max: i64, target: usize) -> Vec<i64> {
    if max <= min || target == 0 {
        return Vec::new();
    }
    let raw = ((max - min) / target as i64).max(1);
    let mut mag = 1i64;
    while mag <= raw / 10 {
        mag *= 10;
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10 * mag);
    let first = min.div_euclid(step) + i64::from(min.rem_euclid(step) != 0);
    let last = max.div_euclid(step);
    (first..=last).map(|i| i * step).collect()
}

/// Time ticks (ms since the Unix epoch) at a round step giving about `target` ticks.
pub fn time_ticks(t0: i64, t1: i64, target: usize) -> Vec<i64> {
    const STEPS: [i64; 13] = [
        1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
    ];
    if t1 <= t0 || target == 0 {
        return Vec::new();
    }
    let raw = (t1 - t0) / target as i64;
    let step = STEPS.into_iter().find(|s| *s >= raw).unwrap_or(3_600_000);
    let first = (t0 + step - 1).div_euclid(step) * step;
    (0..).map(|i| first + i * step).take_while(|t| *t <= t1).collect()
}

/// `HH:MM:SS` in UTC (the server and every viewer agree on it; the axis says "UTC").
pub fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Maps prices and times onto the drawing space.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Frame {
    t0: i64,
    t1: i64,
    /// The price range shown, in price units.
    lo: i64,
    hi: i64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        (t - self.t0) as f64 / (self.t1 - self.t0).max(1) as f64 * W
    }
    fn y(&self, p: i64) -> f64 {
        H - (p - self.lo) as f64 / (self.hi - self.lo).max(1) as f64 * H
    }

    /// The price at `fy` (0 at the top, 1 at the bottom), to the nearest price unit.
    fn price_at(&self, fy: f64) -> i64 {
        self.hi - (fy * (self.hi - self.lo) as f64).round() as i64
    }
}

#[component]
pub fn PriceChart(data: RwSignal<ChartData>, mode: Signal<ChartMode>) -> impl IntoView {
    // Index of the hovered candle among the visible ones (crosshair), if any.
    let hover = RwSignal::new(None::<(usize, f64)>);
    let layout = Memo::new(move |_| {
        data.with(|d| {
            let candles = d.series.tail(VISIBLE_CANDLES);
            let step = d.series.interval().millis();
            // The newest candle sits at the right edge. The window is VISIBLE_CANDLES wide, or
            // narrower (down to MIN_WINDOW) while there is less history, so a fresh chart fills.
            let window = candles.len().clamp(MIN_WINDOW, VISIBLE_CANDLES) as i64;
            let t1 = candles.last().map_or(step, |c| c.t + step);
            let t0 = t1 - step * window;
            let lo = candles.iter().map(|c| c.low).min();
            let hi = candles.iter().map(|c| c.high).max();
            let (lo, hi) = match (lo, hi) {
                (Some(lo), Some(hi)) => {
                    let pad = ((hi - lo) * 8 / 100).max(hi.abs() / 10_000).max(1);
                    (lo - pad, hi + pad)
                }
                _ => (0, 1),
            };
            (candles, Frame { t0, t1, lo, hi }, step, d.decimals, d.last)
        })
    });

    let body = move || {
        let (candles, f, step, _, _) = layout.get();
        // Each candle owns a slot one interval wide; its body fills 70 % of it.
        let slot = f.x(f.t0 + step);
        let bw = (slot * 0.7).max(1.0);
        match mode.get() {
            ChartMode::Line => {
                let points = candles
                    .iter()
                    .map(|c| format!("{},{}", Fixed(f.x(c.t + step / 2), 1), Fixed(f.y(c.close), 1)))
                    .collect::<Vec<_>>()
                    .join(" ");
                Either::Left(view! { <polyline class="line" points=points vector-effect="non-scaling-stroke"/> })
            }
            ChartMode::Candles => Either::Right(
                candles
                    .iter()
                    .map(|c| {
                        let cx = f.x(c.t + step / 2);
                        let (top, bottom) = (f.y(c.open.max(c.close)), f.y(c.open.min(c.close)));
                        let x = fixed(cx, 1);
                        let class = if c.close >= c.open { "candle up" } else { "candle down" };
                        view! {
                            <g class=class>
                                <line x1=x.clone() x2=x y1=fixed(f.y(c.high), 1) y2=fixed(f.y(c.low), 1) vector-effect="non-scaling-stroke"/>
                                <rect x=fixed(cx - bw / 2.0, 1) width=fixed(bw, 1) y=fixed(top, 1) height=fixed((bottom - top).max(1.5), 1)/>
                            </g>
                        }
                    })
                    .collect_view(),
            ),
        }
    };

    let price_labels = move || {
        let (_, f, _, d, _) = layout.get();
        nice_ticks(f.lo, f.hi, 6)
            .into_iter()
            .map(|p| {
                let top = format!("top:{}%", Fixed(f.y(p) / H * 100.0, 2));
                view! { <span class="ylabel" style=top>{format::price(p, d)}</span> }
            })
            .collect_view()
    };
    let grid = move || {
        let (_, f, _, _, _) = layout.get();
        let h = nice_ticks(f.lo, f.hi, 6)
            .into_iter()
            .map(|p| {
                let y = fixed(f.y(p), 1);
                view! { <line class="grid" x1=0 x2=W_ATTR y1=y.clone() y2=y vector-effect="non-scaling-stroke"/> }
            })
            .collect_view();
        let v = time_ticks(f.t0, f.t1, 6)
            .into_iter()
            .map(|t| {
                let x = fixed(f.x(t), 1);
                view! { <line class="grid" x1=x.clone() x2=x y1=0 y2=H_ATTR vector-effect="non-scaling-stroke"/> }
            })
            .collect_view();
        (h, v)
    };
    let time_labels = move || {
        let (_, f, _, _, _) = layout.get();
        time_ticks(f.t0, f.t1, 6)
            .into_iter()
            // A label at the very right edge would run into the "UTC" unit.
            .filter(|t| f.x(*t) < W * 0.93)
            .map(|t| {
                let left = format!("left:{}%", Fixed(f.x(t) / W * 100.0, 2));
                view! { <span class="xlabel" style=left>{clock(t)}</span> }
            })
            .collect_view()
    };
    let last_marker = move || {
        let (_, f, _, d, last) = layout.get();
        last.filter(|p| *p >= f.lo && *p <= f.hi).map(|p| {
            let y = f.y(p);
            let top = format!("top:{}%", Fixed(y / H * 100.0, 2));
            let y = fixed(y, 1);
            view! {
                <svg class="overlay" viewBox="0 0 1000 1000" preserveAspectRatio="none" aria-hidden="true">
                    <line class="last-line" x1=0 x2=W_ATTR y1=y.clone() y2=y vector-effect="non-scaling-stroke"/>
                </svg>
                <span class="last-tag" style=top data-testid="chart-last">{format::price(p, d)}</span>
            }
        })
    };

    let on_move = move |ev: leptos::ev::PointerEvent| {
        let (candles, f, _, _, _) = layout.get_untracked();
        let Some(target) = event_target_rect(&ev) else {
            return;
        };
        let (fx, fy) = target;
        let t = f.t0 + ((f.t1 - f.t0) as f64 * fx) as i64;
        let idx = candles.iter().rposition(|c| c.t <= t);
        hover.set(idx.map(|i| (i, fy)));
    };
    let crosshair = move || {
        let (candles, f, step, d, _) = layout.get();
        let (i, fy) = hover.get()?;
        let c: Candle = *candles.get(i)?;
        let x = f.x(c.t + step / 2);
        let y = fy * H;
        let left_pct = x / W * 100.0;
        let price = f.price_at(fy);
        let side = if left_pct > 60.0 {
            "right:calc(100% - "
        } else {
            "left:calc("
        };
        let tip_style = format!("{side}{}% + 12px)", Fixed(left_pct, 2));
        let (x, y) = (fixed(x, 1), fixed(y, 1));
        Some(view! {
            <svg class="overlay" viewBox="0 0 1000 1000" preserveAspectRatio="none" aria-hidden="true">
                <line class="cross" x1=x.clone() x2=x y1=0 y2=H_ATTR vector-effect="non-scaling-stroke"/>
                <line class="cross" x1=0 x2=W_ATTR y1=y.clone() y2=y vector-effect="non-scaling-stroke"/>
            </svg>
            <span class="ylabel cross-tag" style=format!("top:{}%", Fixed(fy * 100.0, 2))>{format::price(price, d)}</span>
            <div class="tooltip" style=tip_style role="tooltip" data-testid="chart-tooltip">
                <div class="tt-time">{clock(c.t)} " UTC"</div>
                <dl>
                    <dt>"O"</dt><dd>{format::price(c.open, d)}</dd>
                    <dt>"H"</dt><dd>{format::price(c.high, d)}</dd>
                    <dt>"L"</dt><dd>{format::price(c.low, d)}</dd>
                    <dt>"C"</dt><dd>{format::price(c.close, d)}</dd>
                    <dt>"V"</dt><dd>{format::volume(c.volume)}</dd>
                </dl>
            </div>
        })
    };
    let candle_count = move || layout.with(|(c, ..)| c.len());

    view! {
        <div class="chart" data-testid="price-chart" data-mode=move || mode.get().as_str() data-candles=candle_count>
            <div
                class="plot"
                on:pointermove=on_move
                on:pointerleave=move |_| hover.set(None)
                role="img"
                aria-label=move || data.with(|d| format!("{} price chart", d.symbol))
            >
                <svg viewBox="0 0 1000 1000" preserveAspectRatio="none" aria-hidden="true">
                    {grid}
                    <g class="series">{body}</g>
                </svg>
                {last_marker}
                {crosshair}
            </div>
            <div class="yaxis" aria-hidden="true">{price_labels}</div>
            <div class="xaxis" aria-hidden="true">{time_labels} <span class="utc">"UTC"</span></div>
        </div>
    }
}

/// The pointer's position inside the event's current target, as fractions of its size.
fn event_target_rect(ev: &leptos::ev::PointerEvent) -> Option<(f64, f64)> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let el = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
        let r = el.get_bounding_client_rect();
        if r.width() <= 0.0 || r.height() <= 0.0 {
            return None;
        }
        let fx = ((ev.client_x() as f64 - r.left()) / r.width()).clamp(0.0, 1.0);
        let fy = ((ev.client_y() as f64 - r.top()) / r.height()).clamp(0.0, 1.0);
        Some((fx, fy))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// A minute of prices as a small line; green when the minute ended higher than it began.
#[component]
pub fn Sparkline(points: Signal<Vec<i64>>) -> impl IntoView {
    let path = move || {
        points.with(|p| {
            let lo = p.iter().copied().min().unwrap_or(0);
            let hi = p.iter().copied().max().unwrap_or(0);
            let span = (hi - lo).max(1) as f64;
            let n = p.len().max(2) - 1;
            p.iter()
                .enumerate()
                .map(|(i, v)| {
                    format!(
                        "{},{}",
                        Fixed(i as f64 / n as f64 * 100.0, 1),
                        Fixed(28.0 - (v - lo) as f64 / span * 26.0, 1)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    let trend = move || {
        points.with(|p| match (p.first(), p.last()) {
            (Some(a), Some(b)) if b > a => "up",
            (Some(a), Some(b)) if b < a => "down",
            _ => "flat",
        })
    };
    view! {
        <svg class="spark" data-testid="sparkline" data-trend=trend viewBox="0 0 100 30" preserveAspectRatio="none" aria-hidden="true">
            <polyline points=path vector-effect="non-scaling-stroke"/>
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_inside() {
        assert_eq!(nice_ticks(0, 10, 5), vec![0, 2, 4, 6, 8, 10]);
        let t = nice_ticks(18_713, 18_891, 6);
        assert_eq!(t, vec![18_750, 18_800, 18_850]);
        assert_eq!(nice_ticks(-7, 7, 3), vec![-5, 0, 5]);
        assert_eq!(nice_ticks(3, 5, 6), vec![3, 4, 5], "never finer than one price unit");
        assert!(nice_ticks(1, 1, 5).is_empty());
        assert!(nice_ticks(2, 1, 5).is_empty());
    }

    #[test]
    fn prices_map_onto_the_drawing_and_back() {
        let f = Frame {
            t0: 0,
            t1: 1,
            lo: 18_700,
            hi: 18_900,
        };
        assert_eq!((f.y(18_900), f.y(18_700), f.y(18_800)), (0.0, H, H / 2.0));
        assert_eq!(
            (f.price_at(0.0), f.price_at(1.0), f.price_at(0.5)),
            (18_900, 18_700, 18_800)
        );
    }

    #[test]
    fn time_ticks_use_round_steps() {
        let t0 = 1_700_000_001_500;
        let ticks = time_ticks(t0, t0 + 90_000, 6);
        assert!(ticks.iter().all(|t| t % 15_000 == 0), "{ticks:?}");
        assert!(ticks.len() >= 5 && ticks.len() <= 7);
        assert!(time_ticks(5, 5, 3).is_empty());
    }

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(1_700_000_000_000), "22:13:20");
        assert_eq!(clock(-1_000), "23:59:59");
    }
}
