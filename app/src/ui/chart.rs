//! The charts, drawn on canvas: the main [`PriceChart`] (candles or line, volume, grid,
//! indicators with RSI in a pane of its own, last-price marker, crosshair); the watchlist's
//! sparklines are [`super::sparks`]. [`super::canvas`] says why canvas and how a draw stays cheap.
//!
//! Why not a chart crate: leptos-chartistry (the maintained Leptos option) draws lines and bars
//! but not candlesticks, and a generic chart redraws far more than a live market screen needs
//! per frame. Geometry is worked out in plain Rust ([`chart_scene`] and friends, unit-tested);
//! text stays HTML, positioned in percent (axis labels, the last price's tag, the crosshair's
//! tooltip, alert lines), and changes only when its text or place does. Nothing per candle is
//! laid out: the candles in view are also a hidden table (`display: none`, refreshed at most
//! ten times a second) for tests and for anyone who cannot see the canvas, with a text summary
//! the plot is described by.

use super::canvas::{Ink, Layer, Paint, Scene, Seg, Surface, dark_theme, paint, paint_tag, use_surface};
use super::format::{self, Fixed};
use crate::state::board::ChartData;
use crate::state::indicators::{Kind, Study, Value};
use crate::state::view::ChartMode;
use crate::state::viewport::{Extent, Viewport, ZOOM_STEP};
use crate::wire::protocol::Candle;
use leptos::prelude::*;

/// Narrowest time window of the main chart, in candles.
const MIN_WINDOW: usize = 30;
/// The share of the plot's height the tallest volume bar takes.
const VOLUME_SHARE: f64 = 0.2;

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

/// Maps prices and times onto a drawing `w` wide and `h` high (device pixels).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Frame {
    t0: i64,
    t1: i64,
    /// The price range shown, in price units.
    lo: i64,
    hi: i64,
}

impl Frame {
    /// Where `t` is across the chart, from 0 (left) to 1 (right).
    fn fx(&self, t: i64) -> f64 {
        (t - self.t0) as f64 / (self.t1 - self.t0).max(1) as f64
    }
    /// Where price `p` is down the chart, from 0 (top) to 1 (bottom); fractional prices (an
    /// average) too.
    fn fy(&self, p: f64) -> f64 {
        (self.hi as f64 - p) / (self.hi - self.lo).max(1) as f64
    }

    /// The price at `fy` (0 at the top, 1 at the bottom), to the nearest price unit.
    fn price_at(&self, fy: f64) -> i64 {
        self.hi - (fy * (self.hi - self.lo) as f64).round() as i64
    }
}

/// Everything one draw of the chart needs, derived from the chart's data and viewport.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    /// The candles in view, oldest first.
    candles: Vec<Candle>,
    /// The series' index of the first of them (where the indicators' values for them start).
    offset: usize,
    /// The series' [`CandleSeries::generation`](crate::state::candles::CandleSeries::generation):
    /// a rebuilt series (a backfill) has new candles where the old ones were.
    generation: u64,
    frame: Frame,
    step: i64,
    decimals: u8,
    size_decimals: u8,
    last: Option<i64>,
    /// The history the viewport moves through (none before the first candle).
    extent: Option<Extent>,
    /// Candle slots across the chart.
    slots: usize,
    live: bool,
}

impl Layout {
    /// The layout of `d`, its price range fitting the candles in view and `studies`' values for
    /// them (bands and averages are never cut off; RSI has its own scale). `studies` are synced
    /// with `d.series`.
    fn of(d: &ChartData, studies: &[Study]) -> Self {
        let step = d.series.interval().millis();
        let extent = match (d.series.iter().next(), d.series.last()) {
            (Some(first), Some(last)) => Some(Extent {
                oldest: first.t,
                newest: last.t,
                step,
            }),
            _ => None,
        };
        let (candles, offset, t1, slots) = match extent {
            Some(extent) => {
                let (from, to) = d.viewport.window(extent);
                let offset = d.series.iter().take_while(|c| c.t < from).count();
                let candles: Vec<Candle> = d
                    .series
                    .iter()
                    .skip(offset)
                    .take_while(|c| c.t <= to)
                    .copied()
                    .collect();
                // Following live with less history than the span: the chart narrows (down to
                // MIN_WINDOW slots) so a fresh chart fills instead of hugging the right edge.
                let slots = if d.viewport.is_live() {
                    candles.len().max(MIN_WINDOW.min(d.viewport.span))
                } else {
                    d.viewport.span
                };
                (candles, offset, to + step, slots)
            }
            None => (Vec::new(), 0, step, MIN_WINDOW),
        };
        let t0 = t1 - step * slots as i64;
        let (mut low, mut high) = (
            candles.iter().map(|c| c.low).min(),
            candles.iter().map(|c| c.high).max(),
        );
        for study in studies.iter().filter(|s| !matches!(s.kind(), Kind::Rsi { .. })) {
            let values = study.values();
            if values.len() < offset + candles.len() {
                continue;
            }
            for v in values
                .range(offset..offset + candles.len())
                .flat_map(|v| &v[..study.kind().lines()])
            {
                if v.is_finite() {
                    low = low.map(|l| l.min(v.floor() as i64));
                    high = high.map(|h| h.max(v.ceil() as i64));
                }
            }
        }
        let (lo, hi) = match (low, high) {
            (Some(lo), Some(hi)) => {
                let pad = ((hi - lo) * 8 / 100).max(hi.abs() / 10_000).max(1);
                (lo - pad, hi + pad)
            }
            _ => (0, 1),
        };
        Layout {
            candles,
            offset,
            generation: d.series.generation(),
            frame: Frame { t0, t1, lo, hi },
            step,
            decimals: d.decimals,
            size_decimals: d.size_decimals,
            last: d.last,
            extent,
            slots,
            live: d.viewport.is_live(),
        }
    }

    /// The candle slot's left edge and width, in device pixels of a drawing `w` wide.
    fn slot(&self, t: i64, w: f64) -> (f64, f64) {
        let f = self.frame;
        (f.fx(t) * w, self.step as f64 / (f.t1 - f.t0).max(1) as f64 * w)
    }
}

/// What a draw of the main layer put on it, told to the tests as the canvas's attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Drawn {
    /// Candle bodies (0 in line mode).
    candles: usize,
    /// Points of the close line (0 in candle mode).
    line: usize,
    /// Volume bars, and the highest one's top as thousandths of the height from the top.
    volume: usize,
    volume_top: u32,
    /// Indicator lines with at least one point.
    studies: usize,
    /// Paths painted: one per colour and paint, however many candles.
    paths: usize,
}

impl Drawn {
    /// What two layers drew together.
    fn and(self, o: Drawn) -> Drawn {
        Drawn {
            candles: self.candles + o.candles,
            line: self.line + o.line,
            volume: self.volume + o.volume,
            volume_top: self.volume_top.min(o.volume_top),
            studies: self.studies.max(o.studies),
            paths: self.paths + o.paths,
        }
    }
}

/// Which of the market's two layers a scene is for. Lightweight-charts' lesson: redraw only what
/// changed. A tick changes the live (newest) candle; everything before it changes when a candle
/// closes, the view moves or the price range changes, about once a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// Both layers in one (the tests' reference).
    #[cfg_attr(not(test), allow(dead_code))]
    All,
    /// The grid and every candle but the newest, with their volume and indicator lines.
    Settled,
    /// The newest candle, its volume bar, the lines' last segment and the last price.
    Live,
}

impl Part {
    /// The candles (indices into the layout's) whose bodies and bars this part draws.
    fn candles(self, n: usize) -> std::ops::Range<usize> {
        match self {
            Part::All => 0..n,
            Part::Settled => 0..n.saturating_sub(1),
            Part::Live => n.saturating_sub(1)..n,
        }
    }

    /// The points its lines run through: the live part's join the settled part's last.
    fn points(self, n: usize) -> std::ops::Range<usize> {
        match self {
            Part::Live => n.saturating_sub(2)..n,
            other => other.candles(n),
        }
    }
}

/// The volume the tallest bar stands for: the busiest candle's in view (both layers agree).
fn most_volume(l: &Layout) -> u64 {
    l.candles.iter().map(|c| c.volume).max().unwrap_or(0).max(1)
}

/// The market's layers (see [`Part`]): grid, volume, candles or the close line, indicators and
/// the last price, in one path per colour. The indicators' values are `studies`' (synced with the
/// series the layout is of); RSI has a pane of its own ([`rsi_scene`]).
fn chart_scene(l: &Layout, mode: ChartMode, studies: &[Study], s: Surface, part: Part) -> (Scene, Drawn) {
    let mut scene = Scene::default();
    let mut drawn = Drawn {
        volume_top: 1000,
        ..Drawn::default()
    };
    let f = l.frame;
    let px = s.px();
    let y = |p: f64| f.fy(p) * s.h;
    let thin = Paint::line(px);
    let n = l.candles.len();
    let (bodies, points) = (&l.candles[part.candles(n)], part.points(n));
    // The study values of the part's points.
    let values_of = |study| in_view(l, study).map(|v| v.skip(points.start).take(points.len()).collect::<Vec<&Value>>());
    let centres = || {
        l.candles[points.clone()].iter().map(|c| {
            let (x, slot) = l.slot(c.t, s.w);
            x + slot / 2.0
        })
    };

    if part != Part::Live {
        let grid = scene.pass(Ink::Grid, thin);
        for p in nice_ticks(f.lo, f.hi, 6) {
            grid.hline(0.0, s.w, y(p as f64));
        }
        for t in time_ticks(f.t0, f.t1, 6).0 {
            grid.vline(f.fx(t) * s.w, 0.0, s.h);
        }
    }

    // Volume in the bottom fifth, the busiest candle in view reaching its top.
    let most = most_volume(l) as f64;
    let mut top = s.h;
    for c in bodies.iter().filter(|c| c.volume > 0) {
        let (x, slot) = l.slot(c.t, s.w);
        let ink = if c.close >= c.open { Ink::Up } else { Ink::Down };
        let bar_top = s.h - c.volume as f64 / most * VOLUME_SHARE * s.h;
        scene
            .pass(ink, Paint::Fill(0.3))
            .rect(x + 0.15 * slot, bar_top, x + 0.85 * slot, s.h);
        top = top.min(bar_top);
        drawn.volume += 1;
    }
    drawn.volume_top = (top / s.h * 1000.0).round() as u32;

    // Bollinger bands' wash goes under the candles, their lines over them.
    for (k, study) in studies.iter().enumerate() {
        if let (Kind::Bollinger { .. }, Some(values)) = (study.kind(), values_of(study)) {
            let points: Vec<(f64, f64, f64)> = centres()
                .zip(values)
                .filter(|(_, v)| v[1].is_finite() && v[2].is_finite())
                .map(|(x, v)| (x, y(v[1]), y(v[2])))
                .collect();
            if points.len() > 1 {
                let wash = scene.pass(Ink::Study(k as u8), Paint::Fill(0.08));
                wash.polyline(
                    points
                        .iter()
                        .map(|p| (p.0, p.1))
                        .chain(points.iter().rev().map(|p| (p.0, p.2))),
                );
                wash.path.push(Seg::Close);
            }
        }
    }

    match mode {
        ChartMode::Candles => {
            for c in bodies {
                let (x, slot) = l.slot(c.t, s.w);
                let ink = if c.close >= c.open { Ink::Up } else { Ink::Down };
                let pass = scene.pass(ink, Paint::Fill(1.0));
                let mid = x + slot / 2.0;
                // The wick, one CSS pixel wide, then the body (at least a pixel high, so a
                // candle that opened and closed at one price still shows).
                pass.rect(mid - px / 2.0, y(c.high as f64), mid + px / 2.0, y(c.low as f64));
                pass.rect(
                    x + 0.15 * slot,
                    y(c.open.max(c.close) as f64),
                    x + 0.85 * slot,
                    y(c.open.min(c.close) as f64),
                );
                drawn.candles += 1;
            }
        }
        ChartMode::Line => {
            scene.pass(Ink::Accent, Paint::line(2.0 * px)).polyline(
                centres()
                    .zip(&l.candles[points.clone()])
                    .map(|(x, c)| (x, y(c.close as f64))),
            );
            drawn.line = points.len();
        }
    }

    for (k, study) in studies.iter().enumerate() {
        let kind = study.kind();
        let Some(values) = values_of(study).filter(|_| !matches!(kind, Kind::Rsi { .. })) else {
            continue;
        };
        // One CSS pixel, as the trading screens' defaults: Skia rasterises strokes up to one
        // device pixel wide on a fast path, about ten times cheaper on the CPU than 1.5 pixels
        // (`super::canvas` has the measurement).
        let pass = scene.pass(Ink::Study(k as u8), Paint::line(px));
        let before = pass.path.len();
        for line in 0..kind.lines() {
            pass.polyline(centres().zip(&values).map(|(x, v)| (x, y(v[line]))));
        }
        drawn.studies += usize::from(pass.path.len() > before);
    }

    if let Some(p) = l.last.filter(|p| part != Part::Settled && *p >= f.lo && *p <= f.hi) {
        scene
            .pass(
                Ink::Accent,
                Paint::Stroke {
                    width: px,
                    dashed: true,
                },
            )
            .hline(0.0, s.w, y(p as f64));
    }
    scene.passes.retain(|p| !p.path.is_empty());
    drawn.paths = scene.passes.len();
    (scene, drawn)
}

/// `study`'s values for the candles in view (none if it is not synced with their series).
fn in_view<'a>(l: &Layout, study: &'a Study) -> Option<std::collections::vec_deque::Iter<'a, Value>> {
    let v = study.values();
    (v.len() >= l.offset + l.candles.len()).then(|| v.range(l.offset..l.offset + l.candles.len()))
}

/// The RSI pane: its 30 and 70 levels and the line, on the candles' time axis.
fn rsi_scene(l: &Layout, rsi: &Study, ink: Ink, s: Surface) -> Scene {
    let mut scene = Scene::default();
    let y = |v: f64| (100.0 - v) / 100.0 * s.h;
    let levels = scene.pass(
        Ink::Muted,
        Paint::Stroke {
            width: s.px(),
            dashed: true,
        },
    );
    for level in [30.0, 70.0] {
        levels.hline(0.0, s.w, y(level));
    }
    if let Some(values) = in_view(l, rsi) {
        scene
            .pass(ink, Paint::line(s.px()))
            .polyline(l.candles.iter().zip(values).map(|(c, v)| {
                let (x, slot) = l.slot(c.t, s.w);
                (x + slot / 2.0, y(v[0]))
            }));
    }
    scene
}

/// The crosshair layer: a vertical line through the hovered candle (`fx`, its middle as a
/// fraction of the width) and a horizontal one at the pointer (`fy`).
fn crosshair_scene(at: Option<(f64, f64)>, s: Surface) -> Scene {
    let mut scene = Scene::default();
    if let Some((fx, fy)) = at {
        let pass = scene.pass(
            Ink::Muted,
            Paint::Stroke {
                width: s.px(),
                dashed: true,
            },
        );
        pass.vline(fx * s.w, 0.0, s.h);
        pass.hline(0.0, s.w, fy * s.h);
    }
    scene
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

/// How often at most the hidden candle table and the chart's text summary are brought up to
/// date: they are for tests and assistive technology, which need no more than ten a second.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const TABLE_MS: f64 = 100.0;

/// Refreshes the chart's table once `limit` ms have passed since it last was, if it is still
/// stale then; waits again if something refreshed it meanwhile.
#[cfg(feature = "hydrate")]
fn refresh_later(
    stale: StoredValue<bool>,
    pending: StoredValue<bool>,
    drawn_at: StoredValue<f64>,
    limit: f64,
    refresh: impl Fn() + Copy + 'static,
) {
    let Some(at) = drawn_at.try_get_value() else { return };
    let wait = (at + limit - js_sys::Date::now()).max(0.0);
    set_timeout(
        move || {
            let Some(true) = stale.try_get_value() else {
                pending.try_set_value(false);
                return;
            };
            match drawn_at.try_get_value() {
                Some(at) if js_sys::Date::now() - at >= limit => {
                    pending.try_set_value(false);
                    refresh();
                }
                Some(_) => refresh_later(stale, pending, drawn_at, limit, refresh),
                None => {}
            }
        },
        std::time::Duration::from_millis(wait.ceil() as u64),
    );
}

#[component]
pub fn PriceChart(
    data: RwSignal<ChartData>,
    mode: Signal<ChartMode>,
    /// The indicators drawn over the candles (RSI in a pane under them).
    #[prop(optional, into)]
    studies: Option<Signal<Vec<Kind>>>,
    /// The signed-in user's alerts on this symbol, drawn at their levels.
    #[prop(optional, into)]
    alerts: Option<Signal<Vec<AlertLevel>>>,
    /// What the user does with them: drags one to a new level, or adds one at the crosshair.
    #[prop(optional)]
    on_alert: Option<Callback<AlertEdit>>,
    /// Whether the crosshair offers to add an alert (someone is signed in).
    #[prop(optional, into)]
    can_alert: Option<Signal<bool>>,
    /// The page's ten-a-second redraws ([`Board::redraws`](crate::state::board::Board)): the
    /// hidden table refreshes in their frames rather than in one of its own.
    #[prop(optional, into)]
    redraws: Option<Signal<u32>>,
) -> impl IntoView {
    let kinds = Signal::derive(move || studies.map(|s| s.get()).unwrap_or_default());
    // Index of the hovered candle among the visible ones (crosshair), if any.
    let hover = RwSignal::new(None::<(usize, f64)>);
    // The alert being dragged, and where to.
    let dragging = RwSignal::new(None::<(u64, i64)>);
    // The indicators, kept in step with the series as the layout is worked out (their values
    // widen its price range).
    let computed = StoredValue::new(Vec::<Study>::new());
    let layout = Memo::new(move |_| {
        kinds.with(|kinds| {
            data.with(|d| {
                computed
                    .try_update_value(|studies| {
                        if studies.iter().map(Study::kind).ne(kinds.iter().copied()) {
                            *studies = kinds.iter().map(|k| Study::new(*k)).collect();
                        }
                        studies.iter_mut().for_each(|st| st.sync(&d.series));
                        Layout::of(d, studies)
                    })
                    .unwrap_or_else(|| Layout::of(d, &[]))
            })
        })
    });
    let gesture = StoredValue::new(Gesture::default());
    let set_viewport = move |change: &dyn Fn(Viewport, Extent) -> Viewport| {
        let Some(extent) = layout.with_untracked(|l| l.extent) else {
            return;
        };
        data.update(|d| d.viewport = change(d.viewport, extent));
    };

    // The layers: the settled market (redrawn when a candle closes, the view moves, the price
    // range, the volume scale, the indicators, the size or the theme change), the live candle
    // (redrawn at every frame it changes), and the crosshair (redrawn when the pointer moves to
    // another candle or price). The RSI pane is drawn with the live layer.
    let base = NodeRef::<leptos::html::Canvas>::new();
    let live = NodeRef::<leptos::html::Canvas>::new();
    let cross = NodeRef::<leptos::html::Canvas>::new();
    let rsi = NodeRef::<leptos::html::Canvas>::new();
    let (base_surface, live_surface) = (use_surface(base), use_surface(live));
    let (cross_surface, rsi_surface) = (use_surface(cross), use_surface(rsi));
    // The price axis's last-price tag, drawn with the live layer.
    let axis = NodeRef::<leptos::html::Canvas>::new();
    let axis_surface = use_surface(axis);
    let dark = dark_theme();
    let rsi_slot = Memo::new(move |_| kinds.with(|k| k.iter().position(|k| matches!(k, Kind::Rsi { .. }))));
    // What the settled layer shows: a tick in the live candle leaves it alone. (The candles
    // before the newest change only when the series is rebuilt, which bumps its generation.)
    let settled = Memo::new(move |_| {
        layout.with(|l| {
            let n = l.candles.len();
            let last_settled = n.checked_sub(2).map(|i| l.candles[i]);
            (l.frame, l.step, l.offset, n, l.generation, last_settled, most_volume(l))
        })
    });
    // What the canvases' attributes last said, per layer (rewritten only when it changes).
    let drawn = StoredValue::new((Drawn::default(), Drawn::default()));
    let told = StoredValue::new(None::<Drawn>);
    let tell_drawn = move || {
        let all = drawn.with_value(|(a, b)| a.and(*b));
        if told.get_value() != Some(all) {
            told.set_value(Some(all));
            tell(base, &all);
        }
    };
    Effect::new(move |_| {
        let Some(s) = base_surface.get() else { return };
        let (mode, dark) = (mode.get(), dark.get().unwrap_or(false));
        // Read, not only tracked: a memo never read has not subscribed to the layout.
        settled.with(|_| ());
        kinds.track();
        layout.with_untracked(|l| {
            computed.with_value(|studies| {
                let (scene, d) = chart_scene(l, mode, studies, s, Part::Settled);
                paint(base, &scene, dark, Layer::Chart);
                drawn.update_value(|(a, _)| *a = d);
            });
        });
        tell_drawn();
    });
    Effect::new(move |_| {
        let Some(s) = live_surface.get() else { return };
        let (mode, dark) = (mode.get(), dark.get().unwrap_or(false));
        let (rsi_at, rsi_s) = (rsi_slot.get(), rsi_surface.get());
        let axis_s = axis_surface.get();
        layout.with(|l| {
            if let Some(a) = axis_s {
                let f = l.frame;
                let text = l
                    .last
                    .filter(|p| *p >= f.lo && *p <= f.hi)
                    .map(|p| (f.fy(p as f64), format::price(p, l.decimals)));
                paint_tag(
                    axis,
                    a,
                    text.as_ref().map(|(fy, t)| (*fy, t.as_str())),
                    dark,
                    Layer::Axis,
                );
            }
            computed.with_value(|studies| {
                let (scene, d) = chart_scene(l, mode, studies, s, Part::Live);
                paint(live, &scene, dark, Layer::Live);
                drawn.update_value(|(_, b)| *b = d);
                if let (Some(k), Some(rs)) = (rsi_at, rsi_s)
                    && let Some(study) = studies.get(k)
                {
                    paint(rsi, &rsi_scene(l, study, Ink::Study(k as u8), rs), dark, Layer::Rsi);
                }
            });
        });
        tell_drawn();
    });
    // Where the crosshair's lines are, as fractions of the plot: a memo, so a pointer moving
    // within one candle and price redraws nothing.
    let cross_at = Memo::new(move |_| {
        let (i, fy) = hover.get()?;
        layout.with(|l| {
            let c = l.candles.get(i)?;
            let (x, slot) = l.slot(c.t, 1.0);
            Some((x + slot / 2.0, fy))
        })
    });
    Effect::new(move |_| {
        let Some(s) = cross_surface.get() else { return };
        let dark = dark.get().unwrap_or(false);
        paint(cross, &crosshair_scene(cross_at.get(), s), dark, Layer::Crosshair);
    });

    // The candles in view for the hidden table and the summary, at most every TABLE_MS.
    let table = RwSignal::new(layout.with_untracked(|l| l.candles.clone()));
    // The last price as text (the axis draws it on canvas), refreshed with the table.
    let last_of = move |l: &Layout| l.last.map(|p| format::price(p, l.decimals)).unwrap_or_default();
    let last_text = RwSignal::new(layout.with_untracked(last_of));
    #[cfg(feature = "hydrate")]
    {
        // Changed since it was last refreshed, when, and whether a timer is set.
        let stale = StoredValue::new(false);
        let drawn_at = StoredValue::new(f64::NEG_INFINITY);
        let pending = StoredValue::new(false);
        let refresh = move || {
            stale.try_set_value(false);
            drawn_at.try_set_value(js_sys::Date::now());
            if let Some((candles, last)) = layout.try_with_untracked(|l| (l.candles.clone(), last_of(l))) {
                table.try_set(candles);
                last_text.try_set(last);
            }
        };
        // With the page's redraws, the timer is only a fallback for when none comes (a paused
        // or quiet market): it waits twice as long.
        let limit = if redraws.is_some() { 2.0 * TABLE_MS } else { TABLE_MS };
        if let Some(redraws) = redraws {
            Effect::new(move |_| {
                redraws.track();
                if stale.get_value() {
                    refresh();
                }
            });
        }
        Effect::new(move |_| {
            layout.with(|_| ());
            stale.set_value(true);
            if js_sys::Date::now() - drawn_at.get_value() >= limit {
                refresh();
            } else if !pending.get_value() {
                pending.set_value(true);
                refresh_later(stale, pending, drawn_at, limit, refresh);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = redraws;
    let summary = move || {
        let (d, sd, symbol, interval) =
            data.with_untracked(|d| (d.decimals, d.size_decimals, d.symbol.clone(), d.series.interval()));
        table.with(|candles| {
            let (Some(first), Some(last)) = (candles.first(), candles.last()) else {
                return format!("{symbol}: no candles yet");
            };
            format!(
                "{symbol}, {interval} candles from {} to {} UTC; last open {}, high {}, low {}, close {}, volume {}",
                date_clock(first.t),
                date_clock(last.t),
                format::price(last.open, d),
                format::price(last.high, d),
                format::price(last.low, d),
                format::price(last.close, d),
                format::volume(last.volume, sd),
            )
        })
    };
    let candle_rows = move || {
        let (d, sd) = data.with_untracked(|d| (d.decimals, d.size_decimals));
        view! {
            <For
                each=move || table.get()
                key=|c| (c.t, c.open, c.high, c.low, c.close, c.volume)
                children=move |c| view! {
                    <tr data-testid="candle" data-t=c.t data-v=c.volume>
                        <td>{date_clock(c.t)}</td>
                        <td>{format::price(c.open, d)}</td>
                        <td>{format::price(c.high, d)}</td>
                        <td>{format::price(c.low, d)}</td>
                        <td>{format::price(c.close, d)}</td>
                        <td>{format::volume(c.volume, sd)}</td>
                    </tr>
                }
            />
        }
    };

    // What the labels and the range read of the layout: it changes about once a second while
    // following the market (a new candle, a new high or low), not at every tick, so the labels
    // are worked out (and their text formatted) only then.
    let frame = Memo::new(move |_| layout.with(|l| (l.frame, l.decimals, l.candles.len(), l.live)));
    let price_ticks = Memo::new(move |_| {
        let (f, decimals, ..) = frame.get();
        nice_ticks(f.lo, f.hi, 6)
            .into_iter()
            .map(|p| {
                (
                    format!("top:{}%", Fixed(f.fy(p as f64) * 100.0, 2)),
                    format::price(p, decimals),
                )
            })
            .collect::<Vec<_>>()
    });
    let price_labels = move || {
        price_ticks
            .get()
            .into_iter()
            .map(|(top, label)| view! { <span class="ylabel" style=top>{label}</span> })
            .collect_view()
    };
    let time_ticks_shown = Memo::new(move |_| {
        let f = frame.get().0;
        let (ticks, step) = time_ticks(f.t0, f.t1, 6);
        ticks
            .into_iter()
            // A label at the very right edge would run into the "UTC" unit.
            .filter(|t| f.fx(*t) < 0.93)
            .map(|t| (format!("left:{}%", Fixed(f.fx(t) * 100.0, 2)), axis_label(t, step)))
            .collect::<Vec<_>>()
    });
    let time_labels = move || {
        time_ticks_shown
            .get()
            .into_iter()
            .map(|(left, label)| view! { <span class="xlabel" style=left>{label}</span> })
            .collect_view()
    };
    // Read by four attributes and the text: worked out once per frame change.
    let range = Memo::new(move |_| {
        let (f, _, candles, live) = frame.get();
        let text = format!("{} – {} UTC · {} candles", date_clock(f.t0), date_clock(f.t1), candles);
        (f.t0, f.t1, text, live)
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
                let idx = layout.with_untracked(|l| {
                    let f = l.frame;
                    let t = f.t0 + ((f.t1 - f.t0) as f64 * fx) as i64;
                    l.candles.iter().rposition(|c| c.t <= t)
                });
                let at = idx.map(|i| (i, fy));
                if hover.get_untracked() != at {
                    hover.set(at);
                }
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
        let (c, f, d, sd) = layout.with(|l| {
            let (i, _) = hover.get()?;
            Some((*l.candles.get(i)?, l.frame, l.decimals, l.size_decimals))
        })?;
        let (fx, fy) = cross_at.get()?;
        let left_pct = fx * 100.0;
        let price = f.price_at(fy);
        let side = if left_pct > 60.0 {
            "right:calc(100% - "
        } else {
            "left:calc("
        };
        let tip_style = format!("{side}{}% + 12px)", Fixed(left_pct, 2));
        Some(view! {
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
    let candle_count = move || frame.with(|f| f.2);
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
            format!("top:{}%", Fixed(f.fy(shown() as f64) * 100.0, 2))
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
    let legend = move || {
        kinds
            .get()
            .into_iter()
            .enumerate()
            .map(|(k, kind)| view! { <li data-testid="indicator" data-kind=kind.token() data-slot=k>{kind.label()}</li> })
            .collect_view()
    };

    view! {
        <div
            class="chart"
            class:with-rsi=move || rsi_slot.get().is_some()
            data-testid="price-chart"
            data-mode=move || mode.get().as_str()
            data-candles=candle_count
        >
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
                aria-describedby="chart-summary"
            >
                <canvas class="layer" data-testid="chart-canvas" node_ref=base aria-hidden="true"></canvas>
                <canvas class="layer" data-testid="live-canvas" node_ref=live aria-hidden="true"></canvas>
                <canvas class="layer" data-testid="crosshair-canvas" node_ref=cross aria-hidden="true"></canvas>
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
                <ul class="legend" data-testid="indicator-legend">{legend}</ul>
            </div>
            <div class="yaxis" aria-hidden="true">
                {price_labels}
                <canvas class="layer" data-testid="axis-canvas" node_ref=axis aria-hidden="true"></canvas>
            </div>
            {move || rsi_slot.get().map(|k| view! {
                <div class="rsi-pane" data-testid="rsi-pane" data-slot=k>
                    <canvas class="layer" data-testid="rsi-canvas" node_ref=rsi aria-hidden="true"></canvas>
                    <span class="pane-name">"RSI"</span>
                </div>
                <div class="yaxis rsi-axis" aria-hidden="true">
                    <span class="ylabel" style="top:30%">"70"</span>
                    <span class="ylabel" style="top:70%">"30"</span>
                </div>
            })}
            <div class="xaxis" aria-hidden="true">{time_labels} <span class="utc">"UTC"</span></div>
            <p class="sr-only" id="chart-summary" data-testid="chart-summary">{summary}</p>
            <span class="sr-only" aria-hidden="true" data-testid="chart-last">{move || last_text.get()}</span>
            <table class="candle-table" data-testid="candle-table" hidden>
                <thead><tr><th>"Time (UTC)"</th><th>"Open"</th><th>"High"</th><th>"Low"</th><th>"Close"</th><th>"Volume"</th></tr></thead>
                <tbody>{candle_rows}</tbody>
            </table>
        </div>
    }
}

/// Tells the tests what the last draws of the market's two layers put on them, as the settled
/// canvas's attributes.
fn tell(canvas: NodeRef<leptos::html::Canvas>, drawn: &Drawn) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = canvas.get_untracked() {
        for (name, value) in [
            ("data-candles-drawn", drawn.candles as u32),
            ("data-line-points", drawn.line as u32),
            ("data-volume-bars", drawn.volume as u32),
            ("data-volume-top", drawn.volume_top),
            ("data-studies-drawn", drawn.studies as u32),
            ("data-paths", drawn.paths as u32),
        ] {
            let _ = el.set_attribute(name, &value.to_string());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (canvas, drawn);
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
        assert_eq!((f.fy(18_900.0), f.fy(18_700.0), f.fy(18_800.0)), (0.0, 1.0, 0.5));
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
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(1_700_000_000_000), "22:13:20");
        assert_eq!(clock(-1_000), "23:59:59");
    }

    fn candle(t: i64, open: i64, high: i64, low: i64, close: i64, volume: u64) -> Candle {
        Candle {
            t,
            open,
            high,
            low,
            close,
            volume,
        }
    }

    /// A layout of `n` one-second candles across `n` slots, each a unit higher.
    fn rising(n: usize) -> Layout {
        let step = 1_000;
        let candles: Vec<Candle> = (0..n as i64)
            .map(|i| candle(i * step, 100 + i, 102 + i, 99 + i, 101 + i, 10 + i as u64 % 7))
            .collect();
        Layout {
            frame: Frame {
                t0: 0,
                t1: n as i64 * step,
                lo: 90,
                hi: 100 + n as i64 + 10,
            },
            offset: 0,
            generation: 0,
            step,
            decimals: 2,
            size_decimals: 0,
            last: candles.last().map(|c| c.close),
            extent: None,
            slots: n,
            live: true,
            candles,
        }
    }

    /// `kinds` computed over the layout's candles, as the chart keeps them.
    fn studies_of(l: &Layout, kinds: &[Kind]) -> Vec<Study> {
        use crate::state::candles::CandleSeries;
        use crate::wire::protocol::Interval;
        let series = CandleSeries::from_candles(Interval::S1, 100, l.candles.clone());
        kinds
            .iter()
            .map(|k| {
                let mut study = Study::new(*k);
                study.sync(&series);
                study
            })
            .collect()
    }

    const SURFACE: Surface = Surface {
        w: 1000.0,
        h: 500.0,
        dpr: 2.0,
    };

    #[test]
    fn candles_are_one_path_per_colour_inside_their_slots() {
        let mut l = rising(50);
        // Every third candle falls.
        for c in l.candles.iter_mut().step_by(3) {
            std::mem::swap(&mut c.open, &mut c.close);
        }
        let (scene, drawn) = chart_scene(&l, ChartMode::Candles, &[], SURFACE, Part::All);
        assert_eq!(drawn.candles, 50);
        let (up, down) = (
            scene.rects(Ink::Up, Paint::Fill(1.0)),
            scene.rects(Ink::Down, Paint::Fill(1.0)),
        );
        // A wick and a body per candle, in one path per colour.
        assert_eq!((up.len(), down.len()), (2 * 33, 2 * 17));
        // Grid, volume up and down, candles up and down, the last price: six paths for 50
        // candles, as for 500.
        assert_eq!(drawn.paths, 6);
        assert_eq!(
            chart_scene(&rising(500), ChartMode::Candles, &[], SURFACE, Part::All)
                .1
                .paths,
            4,
            "no falling candle"
        );
        // Each body inside its own 20 px slot; wicks one CSS pixel (two device pixels) wide.
        for pair in up.chunks(2) {
            let (wick, body) = (pair[0], pair[1]);
            assert_eq!(wick[2], 2.0);
            let slot = (body[0] / 20.0).floor();
            assert!(
                body[0] >= slot * 20.0 && body[0] + body[2] <= (slot + 1.0) * 20.0,
                "{body:?}"
            );
            assert!(
                wick[1] <= body[1] && wick[1] + wick[3] >= body[1] + body[3],
                "the wick spans the body"
            );
            assert!(
                wick.iter().chain(&body).all(|v| v.fract() == 0.0),
                "whole device pixels"
            );
        }
    }

    #[test]
    fn the_live_layer_draws_the_newest_candle_and_the_settled_one_the_rest() {
        let l = rising(40);
        let studies = studies_of(&l, &[Kind::Ema { period: 5 }, Kind::Bollinger { period: 5, k: 2.0 }]);
        let scene = |part| chart_scene(&l, ChartMode::Candles, &studies, SURFACE, part);
        let ((all, all_drawn), (settled, settled_drawn), (live, live_drawn)) =
            (scene(Part::All), scene(Part::Settled), scene(Part::Live));
        for paint in [Paint::Fill(1.0), Paint::Fill(0.3)] {
            let mut both = settled.rects(Ink::Up, paint);
            both.extend(live.rects(Ink::Up, paint));
            assert_eq!(
                both,
                all.rects(Ink::Up, paint),
                "every candle and bar once, in one layer or the other"
            );
        }
        assert_eq!((settled_drawn.candles, live_drawn.candles), (39, 1));
        assert_eq!(settled_drawn.and(live_drawn).volume_top, all_drawn.volume_top);
        // The grid is settled; the last price is live.
        assert!(live.passes.iter().all(|p| p.ink != Ink::Grid) && settled.passes.iter().any(|p| p.ink == Ink::Grid));
        let dashed = |s: &Scene| {
            s.passes
                .iter()
                .any(|p| matches!(p.paint, Paint::Stroke { dashed: true, .. }))
        };
        assert!(dashed(&live) && !dashed(&settled));
        // The live segment of a line starts where the settled one ends.
        let ema = |s: &Scene| s.passes.iter().find(|p| p.ink == Ink::Study(0)).unwrap().path.clone();
        let (old, new) = (ema(&settled), ema(&live));
        assert_eq!(new.len(), 2);
        let (Seg::Line(x0, y0), Seg::Move(x1, y1)) = (old[old.len() - 1], new[0]) else {
            panic!("{old:?} {new:?}")
        };
        assert_eq!((x0, y0), (x1, y1));
    }

    #[test]
    fn volume_fills_the_bottom_fifth_at_most() {
        let l = rising(40);
        let (scene, drawn) = chart_scene(&l, ChartMode::Candles, &[], SURFACE, Part::All);
        let bars: Vec<[f64; 4]> = [Ink::Up, Ink::Down]
            .into_iter()
            .flat_map(|ink| scene.rects(ink, Paint::Fill(0.3)))
            .collect();
        assert_eq!(bars.len(), 40);
        assert_eq!(drawn.volume, 40);
        for b in &bars {
            assert_eq!(b[1] + b[3], SURFACE.h, "standing on the bottom");
            assert!(b[1] >= SURFACE.h * (1.0 - VOLUME_SHARE) - 0.5, "{b:?}");
        }
        let tallest = bars.iter().map(|b| b[3]).fold(0.0, f64::max);
        assert_eq!(tallest, SURFACE.h * VOLUME_SHARE);
        assert_eq!(drawn.volume_top, 800);
    }

    #[test]
    fn line_mode_draws_one_line_through_the_closes() {
        let l = rising(30);
        let (scene, drawn) = chart_scene(&l, ChartMode::Line, &[], SURFACE, Part::All);
        assert_eq!((drawn.candles, drawn.line), (0, 30));
        let line = scene
            .passes
            .iter()
            .find(|p| p.ink == Ink::Accent && !matches!(p.paint, Paint::Stroke { dashed: true, .. }))
            .unwrap();
        assert_eq!(line.path.len(), 30);
        assert!(matches!(line.path[0], Seg::Move(..)));
        // The last point is the last close, in the middle of its slot.
        let c = l.candles[29];
        let Seg::Line(x, y) = line.path[29] else { panic!() };
        assert_eq!(
            (x, y),
            (
                l.slot(c.t, SURFACE.w).0 + 1000.0 / 60.0,
                l.frame.fy(c.close as f64) * SURFACE.h
            )
        );
    }

    #[test]
    fn indicators_follow_their_candles_and_rsi_draws_in_its_pane() {
        let l = rising(60);
        let studies = studies_of(
            &l,
            &[
                Kind::Sma { period: 20 },
                Kind::Bollinger { period: 20, k: 2.0 },
                Kind::Rsi { period: 14 },
            ],
        );
        let (scene, drawn) = chart_scene(&l, ChartMode::Candles, &studies, SURFACE, Part::All);
        assert_eq!(drawn.studies, 2, "SMA and Bollinger over the candles, RSI in its pane");
        let sma = scene.passes.iter().find(|p| p.ink == Ink::Study(0)).unwrap();
        // Undefined for the first 19 candles: 41 points, the first a move.
        assert_eq!(sma.path.len(), 41);
        let Seg::Move(_, y) = sma.path[0] else { panic!() };
        // The 20th candle's SMA: closes 101..=120, mean 110.5.
        assert!((y - l.frame.fy(110.5) * SURFACE.h).abs() < 1e-9);
        // Bollinger: a wash and three lines, one path each.
        assert_eq!(scene.passes.iter().filter(|p| p.ink == Ink::Study(1)).count(), 2);
        let rsi = rsi_scene(&l, &studies[2], Ink::Study(2), SURFACE);
        let line = rsi.passes.iter().find(|p| p.ink == Ink::Study(2)).unwrap();
        assert_eq!(line.path.len(), 60 - 14, "defined from the 15th close");
        // Always rising: RSI 100, at the top.
        assert!(matches!(line.path[0], Seg::Move(_, y) if y == 0.0));
    }

    #[test]
    fn the_price_range_fits_the_bands_too() {
        use crate::state::candles::CandleSeries;
        use crate::wire::protocol::Interval;
        // Quiet for 40 candles, then a jump: the bands open wider than any candle.
        let candles: Vec<Candle> = (0..60)
            .map(|i| {
                let p = if i < 40 { 1_000 } else { 1_100 };
                candle(i * 1_000, p, p + 1, p - 1, p, 5)
            })
            .collect();
        let mut d = ChartData::new("X".into(), (2, 0), Interval::S1);
        d.series = CandleSeries::from_candles(Interval::S1, 100, candles);
        let mut studies = vec![
            Study::new(Kind::Bollinger { period: 20, k: 3.0 }),
            Study::new(Kind::Rsi { period: 14 }),
        ];
        studies.iter_mut().for_each(|s| s.sync(&d.series));
        let plain = Layout::of(&d, &[]);
        let fitted = Layout::of(&d, &studies);
        let (upper, lower) = in_view(&fitted, &studies[0])
            .unwrap()
            .fold((f64::MIN, f64::MAX), |(u, l), v| {
                (
                    if v[1].is_finite() { u.max(v[1]) } else { u },
                    if v[2].is_finite() { l.min(v[2]) } else { l },
                )
            });
        assert!(
            upper > plain.frame.hi as f64 && lower < plain.frame.lo as f64,
            "the bands leave the candles' range"
        );
        assert!(
            fitted.frame.hi as f64 >= upper && fitted.frame.lo as f64 <= lower,
            "{:?} {upper} {lower}",
            fitted.frame
        );
        assert!(fitted.frame.lo > 500, "RSI (0–100) is not on the price scale");
    }

    #[test]
    fn the_crosshair_is_a_layer_of_its_own() {
        assert!(crosshair_scene(None, SURFACE).passes.is_empty());
        let s = crosshair_scene(Some((0.5004, 0.2504)), SURFACE);
        assert_eq!(s.passes.len(), 1);
        // Two device pixels wide (a CSS pixel at ratio 2): on pixel edges, so it stays sharp.
        assert_eq!(
            s.passes[0].path,
            vec![
                Seg::Move(500.0, 0.0),
                Seg::Line(500.0, 500.0),
                Seg::Move(0.0, 125.0),
                Seg::Line(1000.0, 125.0)
            ]
        );
        let one = Surface { dpr: 1.0, ..SURFACE };
        assert_eq!(
            crosshair_scene(Some((0.5004, 0.2504)), one).passes[0].path[0],
            Seg::Move(500.5, 0.0),
            "one pixel wide: on its centre"
        );
    }
}
