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
use crate::state::view::ChartMode;
use crate::state::viewport::{Extent, Viewport, ZOOM_STEP};
use crate::wire::protocol::Candle;
use leptos::either::Either;
use leptos::prelude::*;

/// Narrowest time window of the main chart, in candles.
const MIN_WINDOW: usize = 30;
/// The share of the plot's height the tallest volume bar takes.
const VOLUME_SHARE: f64 = 0.2;
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

/// Steps the time axis may use, from a second to a week.
const TIME_STEPS: [i64; 20] = [
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    DAY,
    2 * DAY,
    7 * DAY,
];
const DAY: i64 = 86_400_000;

/// Time ticks (ms since the Unix epoch) at a round step giving about `target` ticks, and the step.
pub fn time_ticks(t0: i64, t1: i64, target: usize) -> (Vec<i64>, i64) {
    if t1 <= t0 || target == 0 {
        return (Vec::new(), TIME_STEPS[0]);
    }
    let raw = (t1 - t0) / target as i64;
    let step = TIME_STEPS.into_iter().find(|s| *s >= raw).unwrap_or(7 * DAY);
    let first = (t0 + step - 1).div_euclid(step) * step;
    ((0..).map(|i| first + i * step).take_while(|t| *t <= t1).collect(), step)
}

/// A time-axis label for a tick `step` ms apart: the date for days, hours and minutes for
/// minutes, down to seconds below that (UTC, as the axis says).
pub fn axis_label(ms: i64, step: i64) -> String {
    if step >= DAY {
        let (_, m, d) = civil(ms);
        format!("{m:02}-{d:02}")
    } else if step >= 60_000 {
        clock(ms)[..5].to_string()
    } else {
        clock(ms)
    }
}

/// `HH:MM:SS` in UTC (the server and every viewer agree on it; the axis says "UTC").
pub fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `MM-DD HH:MM:SS` in UTC.
pub fn date_clock(ms: i64) -> String {
    let (_, m, d) = civil(ms);
    format!("{m:02}-{d:02} {}", clock(ms))
}

/// The UTC calendar date (year, month, day) holding `ms` (Howard Hinnant's civil_from_days).
fn civil(ms: i64) -> (i64, u32, u32) {
    let z = ms.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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

    /// The horizontal scale and offset from candle coordinates (see [`Anchor`]) onto the
    /// drawing space.
    fn x_scale(&self, anchor: Anchor, step: i64) -> (f64, f64) {
        let width = (self.t1 - self.t0).max(1) as f64;
        (W * step as f64 / width, (anchor.t - self.t0) as f64 / width * W)
    }

    /// The SVG transform from candle coordinates (see [`Anchor`]) onto the drawing space.
    fn transform(&self, anchor: Anchor, step: i64) -> String {
        let (sx, tx) = self.x_scale(anchor, step);
        let sy = H / (self.hi - self.lo).max(1) as f64;
        let ty = H - (anchor.price - self.lo) as f64 * sy;
        format!(
            "matrix({} 0 0 {} {} {})",
            Fixed(sx, 6),
            Fixed(sy, 6),
            Fixed(tx, 3),
            Fixed(ty, 3)
        )
    }
}

/// The origin of candle coordinates: a candle is drawn at `x = (t - anchor.t) / step` and
/// `y = anchor.price - price`, and one transform ([`Frame::transform`]) maps them onto the chart.
/// So a candle's elements depend only on the candle: zooming, panning or a new high move the
/// transform, not the candles, and a tick re-renders only the candle it changed. The anchor
/// sits near the data (browsers compute transforms in single precision) and moves rarely: at a
/// 4 096-candle boundary, or when the price leaves its leading two digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Anchor {
    t: i64,
    price: i64,
}

impl Anchor {
    fn near(t: i64, price: i64, step: i64) -> Self {
        let block = step * 4_096;
        let mut unit = 1i64;
        while price.abs() / unit >= 100 {
            unit *= 10;
        }
        Anchor {
            t: t.div_euclid(block) * block,
            price: price.div_euclid(unit) * unit,
        }
    }
}

/// Everything one render of the chart needs, derived from the chart's data and viewport.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    /// The candles in view, oldest first.
    candles: Vec<Candle>,
    frame: Frame,
    step: i64,
    decimals: u8,
    size_decimals: u8,
    last: Option<i64>,
    anchor: Anchor,
    /// The history the viewport moves through (none before the first candle).
    extent: Option<Extent>,
    /// Candle slots across the chart.
    slots: usize,
    live: bool,
}

impl Layout {
    fn of(d: &ChartData) -> Self {
        let step = d.series.interval().millis();
        let extent = match (d.series.iter().next(), d.series.last()) {
            (Some(first), Some(last)) => Some(Extent {
                oldest: first.t,
                newest: last.t,
                step,
            }),
            _ => None,
        };
        let (candles, t1, slots) = match extent {
            Some(extent) => {
                let (from, to) = d.viewport.window(extent);
                let candles: Vec<Candle> = d.series.iter().filter(|c| c.t >= from && c.t <= to).copied().collect();
                // Following live with less history than the span: the chart narrows (down to
                // MIN_WINDOW slots) so a fresh chart fills instead of hugging the right edge.
                let slots = if d.viewport.is_live() {
                    candles.len().max(MIN_WINDOW.min(d.viewport.span))
                } else {
                    d.viewport.span
                };
                (candles, to + step, slots)
            }
            None => (Vec::new(), step, MIN_WINDOW),
        };
        let t0 = t1 - step * slots as i64;
        let (lo, hi) = match (
            candles.iter().map(|c| c.low).min(),
            candles.iter().map(|c| c.high).max(),
        ) {
            (Some(lo), Some(hi)) => {
                let pad = ((hi - lo) * 8 / 100).max(hi.abs() / 10_000).max(1);
                (lo - pad, hi + pad)
            }
            _ => (0, 1),
        };
        let anchor = d
            .series
            .last()
            .map_or(Anchor { t: 0, price: 0 }, |c| Anchor::near(c.t, c.close, step));
        Layout {
            candles,
            frame: Frame { t0, t1, lo, hi },
            step,
            decimals: d.decimals,
            size_decimals: d.size_decimals,
            last: d.last,
            anchor,
            extent,
            slots,
            live: d.viewport.is_live(),
        }
    }
}

/// One candle in candle coordinates (see [`Anchor`]): the wick, and the body (a line when open
/// and close are equal, so it never vanishes).
fn candle_view(c: Candle, anchor: Anchor, step: i64) -> impl IntoView {
    let x = (c.t - anchor.t) / step;
    let y = |p: i64| anchor.price - p;
    let class = if c.close >= c.open { "candle up" } else { "candle down" };
    let (top, bottom) = (y(c.open.max(c.close)), y(c.open.min(c.close)));
    let mid = format!("{x}.5");
    let body = if top == bottom {
        Either::Left(view! {
            <line x1=format!("{x}.15") x2=format!("{x}.85") y1=top y2=top vector-effect="non-scaling-stroke"/>
        })
    } else {
        Either::Right(view! { <rect x=format!("{x}.15") width="0.7" y=top height=bottom - top/> })
    };
    view! {
        <g class=class data-testid="candle" data-t=c.t>
            <line x1=mid.clone() x2=mid y1=y(c.high) y2=y(c.low) vector-effect="non-scaling-stroke"/>
            {body}
        </g>
    }
}

/// A volume bar: its candle's time, volume and direction, and the layout's anchor and step.
type Bar = (i64, u64, bool, i64, i64);

fn bar(c: &Candle, l: &Layout) -> Bar {
    (c.t, c.volume, c.close >= c.open, l.anchor.t, l.step)
}

/// One volume bar in candle coordinates (x as the candles, y = volume).
fn bar_view((t, volume, up, anchor, step): Bar) -> impl IntoView {
    let x = (t - anchor) / step;
    view! { <rect class=if up { "vol up" } else { "vol down" } x=format!("{x}.15") width="0.7" y="0" height=volume/> }
}

/// A drag or pinch in progress on the chart.
#[derive(Clone, Debug, Default)]
struct Gesture {
    /// Pointers down: (id, x in px).
    pointers: Vec<(i32, f64)>,
    /// The viewport when the gesture started, and where it started: the first pointer's x
    /// (drag), or the two pointers' distance (pinch).
    start: Option<(Viewport, f64)>,
}

#[component]
pub fn PriceChart(
    data: RwSignal<ChartData>,
    mode: Signal<ChartMode>,
    /// The signed-in user's alerts on this symbol, drawn at their levels.
    #[prop(optional, into)]
    alerts: Option<Signal<Vec<AlertLevel>>>,
    /// What the user does with them: drags one to a new level, or adds one at the crosshair.
    #[prop(optional)]
    on_alert: Option<Callback<AlertEdit>>,
    /// Whether the crosshair offers to add an alert (someone is signed in).
    #[prop(optional, into)]
    can_alert: Option<Signal<bool>>,
) -> impl IntoView {
    // Index of the hovered candle among the visible ones (crosshair), if any.
    let hover = RwSignal::new(None::<(usize, f64)>);
    // The alert being dragged, and where to.
    let dragging = RwSignal::new(None::<(u64, i64)>);
    let layout = Memo::new(move |_| data.with(Layout::of));
    let gesture = StoredValue::new(Gesture::default());
    let set_viewport = move |change: &dyn Fn(Viewport, Extent) -> Viewport| {
        let Some(extent) = layout.with_untracked(|l| l.extent) else {
            return;
        };
        data.update(|d| d.viewport = change(d.viewport, extent));
    };

    // Every candle but the newest, as a memo: it changes when a candle closes or the view moves,
    // not at every tick, so the keyed list of up to 500 candles is diffed about once a second
    // instead of at every animation frame (that diff was the page's largest script cost at
    // 200 Hz); the live candle is a list of its own.
    let settled = Memo::new(move |_| {
        layout.with(|l| {
            let n = l.candles.len().saturating_sub(1);
            l.candles[..n]
                .iter()
                .map(|c| (*c, l.anchor, l.step))
                .collect::<Vec<_>>()
        })
    });
    let settled_bars = Memo::new(move |_| {
        layout.with(|l| {
            let n = l.candles.len().saturating_sub(1);
            l.candles[..n].iter().map(|c| bar(c, l)).collect::<Vec<_>>()
        })
    });
    let body = move || match mode.get() {
        ChartMode::Line => Either::Left(view! {
            <polyline
                class="line"
                points=move || layout.with(|l| {
                    l.candles
                        .iter()
                        .map(|c| format!("{}.5,{}", (c.t - l.anchor.t) / l.step, l.anchor.price - c.close))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                vector-effect="non-scaling-stroke"
            />
        }),
        ChartMode::Candles => Either::Right(view! {
            <For
                each=move || settled.get()
                key=|(c, anchor, step)| (c.t, c.open, c.high, c.low, c.close, *anchor, *step)
                children=|(c, anchor, step)| candle_view(c, anchor, step)
            />
            <For
                each=move || layout.with(|l| l.candles.last().map(|c| (*c, l.anchor, l.step)))
                key=|(c, anchor, step)| (c.t, c.open, c.high, c.low, c.close, *anchor, *step)
                children=|(c, anchor, step)| candle_view(c, anchor, step)
            />
        }),
    };
    let transform = move || layout.with(|l| l.frame.transform(l.anchor, l.step));
    // Volume under the candles: bars in candle coordinates (x as the candles, y = volume), keyed
    // like them, scaled by their own transform into the bottom fifth of the plot.
    let volume_transform = move || {
        layout.with(|l| {
            let most = l.candles.iter().map(|c| c.volume).max().unwrap_or(0).max(1) as f64;
            let (sx, tx) = l.frame.x_scale(l.anchor, l.step);
            format!(
                "matrix({} 0 0 {} {} {})",
                Fixed(sx, 6),
                Fixed(-VOLUME_SHARE * H / most, 9),
                Fixed(tx, 3),
                H_ATTR
            )
        })
    };
    let volume_bars = move || {
        view! {
            <For each=move || settled_bars.get() key=|bar| *bar children=bar_view/>
            <For each=move || layout.with(|l| l.candles.last().map(|c| bar(c, l))) key=|bar| *bar children=bar_view/>
        }
    };

    let price_labels = move || {
        let l = layout.get();
        nice_ticks(l.frame.lo, l.frame.hi, 6)
            .into_iter()
            .map(|p| {
                let top = format!("top:{}%", Fixed(l.frame.y(p) / H * 100.0, 2));
                view! { <span class="ylabel" style=top>{format::price(p, l.decimals)}</span> }
            })
            .collect_view()
    };
    let grid = move || {
        let f = layout.with(|l| l.frame);
        let h = nice_ticks(f.lo, f.hi, 6)
            .into_iter()
            .map(|p| {
                let y = fixed(f.y(p), 1);
                view! { <line class="grid" x1=0 x2=W_ATTR y1=y.clone() y2=y vector-effect="non-scaling-stroke"/> }
            })
            .collect_view();
        let v = time_ticks(f.t0, f.t1, 6)
            .0
            .into_iter()
            .map(|t| {
                let x = fixed(f.x(t), 1);
                view! { <line class="grid" x1=x.clone() x2=x y1=0 y2=H_ATTR vector-effect="non-scaling-stroke"/> }
            })
            .collect_view();
        (h, v)
    };
    let time_labels = move || {
        let f = layout.with(|l| l.frame);
        let (ticks, step) = time_ticks(f.t0, f.t1, 6);
        ticks
            .into_iter()
            // A label at the very right edge would run into the "UTC" unit.
            .filter(|t| f.x(*t) < W * 0.93)
            .map(|t| {
                let left = format!("left:{}%", Fixed(f.x(t) / W * 100.0, 2));
                view! { <span class="xlabel" style=left>{axis_label(t, step)}</span> }
            })
            .collect_view()
    };
    let last_marker = move || {
        let (f, d, last) = layout.with(|l| (l.frame, l.decimals, l.last));
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
    // Read by four attributes and the text: worked out once per layout.
    let range = Memo::new(move |_| {
        layout.with(|l| {
            let (from, to) = (l.frame.t0, l.frame.t1);
            let text = format!(
                "{} – {} UTC · {} candles",
                date_clock(from),
                date_clock(to),
                l.candles.len()
            );
            (from, to, text, l.live)
        })
    });

    let on_move = move |ev: leptos::ev::PointerEvent| {
        let Some((fx, fy, width)) = pointer_in_target(&ev) else {
            return;
        };
        let x = fx * width;
        let moved = gesture.try_update_value(|g| {
            if let Some(p) = g.pointers.iter_mut().find(|p| p.0 == ev.pointer_id()) {
                p.1 = x;
            }
            match (g.pointers.as_slice(), g.start) {
                // Dragging right brings older candles into view.
                ([(_, x)], Some((start, x0))) => Some(Pan((x - x0) / width, start)),
                ([(_, a), (_, b)], Some((start, d0))) => Some(Pinch(d0 / (a - b).abs().max(8.0), start)),
                _ => None,
            }
        });
        match moved.flatten() {
            Some(Pan(fraction, start)) => {
                let slots = layout.with_untracked(|l| l.slots) as f64;
                set_viewport(&|_, extent| start.pan((fraction * slots).round() as i64, extent));
                hover.set(None);
            }
            Some(Pinch(factor, start)) => {
                set_viewport(&|_, _| start.zoom(factor));
                hover.set(None);
            }
            None => {
                let (candles, f) = layout.with_untracked(|l| (l.candles.clone(), l.frame));
                let t = f.t0 + ((f.t1 - f.t0) as f64 * fx) as i64;
                let idx = candles.iter().rposition(|c| c.t <= t);
                hover.set(idx.map(|i| (i, fy)));
            }
        }
    };
    let on_down = move |ev: leptos::ev::PointerEvent| {
        let Some((fx, _, width)) = pointer_in_target(&ev) else {
            return;
        };
        capture_pointer(&ev);
        let viewport = data.with_untracked(|d| d.viewport);
        gesture.update_value(|g| {
            g.pointers.retain(|p| p.0 != ev.pointer_id());
            g.pointers.push((ev.pointer_id(), fx * width));
            g.start = match g.pointers.as_slice() {
                [(_, x)] => Some((viewport, *x)),
                [(_, a), (_, b)] => Some((viewport, (a - b).abs().max(8.0))),
                _ => None,
            };
        });
    };
    let on_up = move |ev: leptos::ev::PointerEvent| {
        gesture.update_value(|g| {
            g.pointers.retain(|p| p.0 != ev.pointer_id());
            // A pinch that loses a finger does not turn into a drag.
            g.start = None;
        });
    };
    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        ev.prevent_default();
        let factor = if ev.delta_y() > 0.0 { ZOOM_STEP } else { 1.0 / ZOOM_STEP };
        set_viewport(&|v, _| v.zoom(factor));
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let nudge = (layout.with_untracked(|l| l.slots) / 10).max(1) as i64;
        let change: &dyn Fn(Viewport, Extent) -> Viewport = match ev.key().as_str() {
            "ArrowLeft" => &move |v, e| v.pan(nudge, e),
            "ArrowRight" => &move |v, e| v.pan(-nudge, e),
            "+" | "=" => &|v, _| v.zoom(1.0 / ZOOM_STEP),
            "-" | "_" => &|v, _| v.zoom(ZOOM_STEP),
            "End" => &|v, _| v.live(),
            _ => return,
        };
        ev.prevent_default();
        set_viewport(change);
    };

    let crosshair = move || {
        let (c, f, step, d, sd) = layout.with(|l| {
            let (i, _) = hover.get()?;
            Some((*l.candles.get(i)?, l.frame, l.step, l.decimals, l.size_decimals))
        })?;
        let (_, fy) = hover.get()?;
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
            <span class="ylabel cross-tag" style=format!("top:{}%", Fixed(fy * 100.0, 2))>
                {format::price(price, d)}
                {on_alert.filter(|_| can_alert.is_some_and(|c| c.get())).map(|add| view! {
                    <button
                        type="button"
                        class="add-alert"
                        data-testid="chart-add-alert"
                        title="Add an alert at this price"
                        on:pointerdown=|ev| ev.stop_propagation()
                        on:click=move |_| add.run(AlertEdit::Add { price })
                    >
                        "+ alert"
                    </button>
                })}
            </span>
            <div class="tooltip" style=tip_style role="tooltip" data-testid="chart-tooltip">
                <div class="tt-time">{date_clock(c.t)} " UTC"</div>
                <dl>
                    <dt>"O"</dt><dd>{format::price(c.open, d)}</dd>
                    <dt>"H"</dt><dd>{format::price(c.high, d)}</dd>
                    <dt>"L"</dt><dd>{format::price(c.low, d)}</dd>
                    <dt>"C"</dt><dd>{format::price(c.close, d)}</dd>
                    <dt>"V"</dt><dd>{format::volume(c.volume, sd)}</dd>
                </dl>
            </div>
        })
    };
    let candle_count = move || layout.with(|l| l.candles.len());
    // Each alert as a line at its level (the dragged one where it is being dragged to). Keyed,
    // so a line stays the same element while the market moves the chart under it and while it
    // is dragged (a new element would lose the pointer it captured).
    let alert_line = move |a: AlertLevel| {
        let id = a.id;
        let shown = move || match dragging.get() {
            Some((dragged, price)) if dragged == id => price,
            _ => a.price,
        };
        let top = move || {
            let f = layout.with(|l| l.frame);
            format!("top:{}%", Fixed(f.y(shown()) / H * 100.0, 2))
        };
        let outside = move || {
            let f = layout.with(|l| l.frame);
            let p = shown();
            p < f.lo || p > f.hi
        };
        let label = move || format::price(shown(), layout.with(|l| l.decimals));
        let grab = move |ev: leptos::ev::PointerEvent| {
            ev.stop_propagation();
            if a.movable {
                capture_pointer(&ev);
                dragging.set(Some((id, a.price)));
            }
        };
        let drag_to = move |ev: leptos::ev::PointerEvent| {
            if dragging.with_untracked(|d| d.is_some_and(|(dragged, _)| dragged == id))
                && let Some(fy) = pointer_in_parent(&ev)
            {
                ev.stop_propagation();
                let price = layout.with_untracked(|l| l.frame.price_at(fy));
                dragging.set(Some((id, price)));
            }
        };
        let drop_at = move |ev: leptos::ev::PointerEvent| {
            ev.stop_propagation();
            if let Some((dragged, price)) = dragging.get_untracked()
                && dragged == id
            {
                dragging.set(None);
                if price != a.price
                    && let Some(edit) = on_alert
                {
                    edit.run(AlertEdit::Move { id, price });
                }
            }
        };
        view! {
            <div
                class="alert-line"
                class:paused=a.paused
                class:movable=a.movable
                data-testid="alert-line"
                data-id=id.to_string()
                data-price=move || shown().to_string()
                hidden=outside
                style=top
                title=if a.movable { "Drag to move this alert" } else { "An alert's level" }
                on:pointerdown=grab
                on:pointermove=drag_to
                on:pointerup=drop_at
                on:pointercancel=move |_| dragging.set(None)
            >
                <span class="alert-tag">"🔔 " {label}</span>
            </div>
        }
    };
    let alert_lines = move || {
        view! {
            <For each=move || alerts.map(|a| a.get()).unwrap_or_default() key=|a| *a children=alert_line/>
        }
    };

    view! {
        <div class="chart" data-testid="price-chart" data-mode=move || mode.get().as_str() data-candles=candle_count>
            <div
                class="plot"
                tabindex="0"
                on:pointermove=on_move
                on:pointerdown=on_down
                on:pointerup=on_up
                on:pointercancel=on_up
                on:pointerleave=move |_| hover.set(None)
                on:wheel=on_wheel
                on:keydown=on_key
                role="img"
                aria-label=move || data.with(|d| format!("{} price chart: drag or use the arrow keys to move through time, the wheel or + and − to zoom", d.symbol))
            >
                <svg viewBox="0 0 1000 1000" preserveAspectRatio="none" aria-hidden="true">
                    {grid}
                    <g class="volume" data-testid="volume-bars" transform=volume_transform>{volume_bars}</g>
                    <g class="series" transform=transform>{body}</g>
                </svg>
                {last_marker}
                {alert_lines}
                {crosshair}
                <div
                    class="chart-range"
                    data-testid="chart-range"
                    data-from=move || range.with(|r| r.0)
                    data-to=move || range.with(|r| r.1)
                    data-live=move || range.with(|r| r.3.to_string())
                >
                    {move || range.with(|r| r.2.clone())}
                </div>
            </div>
            <div class="yaxis" aria-hidden="true">{price_labels}</div>
            <div class="xaxis" aria-hidden="true">{time_labels} <span class="utc">"UTC"</span></div>
        </div>
    }
}

/// What a pointer move does while pointers are down.
enum Move {
    /// Drag: the pointer moved this fraction of the chart's width since the gesture began.
    Pan(f64, Viewport),
    /// Pinch: the span scales by this factor from the gesture's start.
    Pinch(f64, Viewport),
}
use Move::{Pan, Pinch};

/// The pointer's position inside the event's current target, as fractions of its size, and
/// the target's width in px.
fn pointer_in_target(ev: &leptos::ev::PointerEvent) -> Option<(f64, f64, f64)> {
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
        Some((fx, fy, r.width()))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// An alert as the chart draws it: its level, and whether it may be dragged (a channel's edges
/// may not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlertLevel {
    pub id: u64,
    pub price: i64,
    pub paused: bool,
    pub movable: bool,
}

/// What the user did with the chart's alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertEdit {
    /// Dragged alert `id` to `price`.
    Move { id: u64, price: i64 },
    /// Asked for a new alert at the crosshair's `price`.
    Add { price: i64 },
}

/// The pointer's height in the event's target's parent (the plot), as a fraction of it.
fn pointer_in_parent(ev: &leptos::ev::PointerEvent) -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let el = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
        let r = el.parent_element()?.get_bounding_client_rect();
        (r.height() > 0.0).then(|| ((ev.client_y() as f64 - r.top()) / r.height()).clamp(0.0, 1.0))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        None
    }
}

/// Keeps a drag's pointer events coming to the chart while the pointer is outside it.
fn capture_pointer(ev: &leptos::ev::PointerEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(el) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// A minute of prices as a small line; green when the minute ended higher than it began.
///
/// Drawn in whole units of a 1000 × 300 space stretched to its box: every row redraws its line
/// at every animation frame of a busy market, and integers print without the fixed-point
/// formatter (that formatting was a tenth of the page's script at 200 Hz).
#[component]
pub fn Sparkline(points: Signal<Vec<i64>>) -> impl IntoView {
    let path = move || {
        points.with(|p| {
            use std::fmt::Write;
            let lo = p.iter().copied().min().unwrap_or(0);
            let hi = p.iter().copied().max().unwrap_or(0);
            let span = i128::from((hi - lo).max(1));
            let n = (p.len().max(2) - 1) as i64;
            let mut path = String::with_capacity(p.len() * 9);
            for (i, v) in p.iter().enumerate() {
                let y = 280 - i128::from(v - lo) * 260 / span;
                // Writing into a String cannot fail.
                let _ = write!(path, "{}{},{y}", if i == 0 { "" } else { " " }, i as i64 * 1000 / n);
            }
            path
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
        <svg class="spark" data-testid="sparkline" data-trend=trend viewBox="0 0 1000 300" preserveAspectRatio="none" aria-hidden="true">
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
        let (ticks, step) = time_ticks(t0, t0 + 90_000, 6);
        assert_eq!(step, 15_000);
        assert!(ticks.iter().all(|t| t % 15_000 == 0), "{ticks:?}");
        assert!(ticks.len() >= 5 && ticks.len() <= 7);
        assert!(time_ticks(5, 5, 3).0.is_empty());
        // Three weeks of hourly candles: a few labels, by date.
        let (ticks, step) = time_ticks(t0, t0 + 21 * DAY, 6);
        assert_eq!(step, 7 * DAY);
        assert!(ticks.len() <= 4, "{ticks:?}");
        assert_eq!(axis_label(1_700_000_000_000, step), "11-14");
        assert_eq!(axis_label(1_700_000_000_000, 3_600_000), "22:13");
        assert_eq!(axis_label(1_700_000_000_000, 15_000), "22:13:20");
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(1_700_000_000_000), (2023, 11, 14));
        assert_eq!(civil(951_782_400_000), (2000, 2, 29));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(date_clock(1_796_153_780_000), "12-01 19:36:20");
    }

    #[test]
    fn candle_coordinates_map_onto_the_frame() {
        let f = Frame {
            t0: 1_000_000,
            t1: 1_090_000,
            lo: 18_700,
            hi: 18_900,
        };
        let anchor = Anchor::near(1_085_000, 18_843, 1_000);
        assert_eq!(anchor.price, 18_000, "two leading digits");
        assert_eq!(anchor.t % 4_096_000, 0);
        // matrix(a 0 0 d e f): a candle at t, price p lands where Frame::x and Frame::y put it.
        let m: Vec<f64> = f
            .transform(anchor, 1_000)
            .trim_start_matches("matrix(")
            .trim_end_matches(')')
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        for (t, p) in [(1_000_000, 18_700), (1_045_000, 18_800), (1_089_000, 18_900)] {
            let (x, y) = (((t - anchor.t) / 1_000) as f64, (anchor.price - p) as f64);
            assert!((m[0] * x + m[4] - f.x(t)).abs() < 0.01, "x of {t}");
            assert!((m[3] * y + m[5] - f.y(p)).abs() < 0.01, "y of {p}");
        }
    }

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(1_700_000_000_000), "22:13:20");
        assert_eq!(clock(-1_000), "23:59:59");
    }
}
