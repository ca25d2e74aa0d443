//! Drawing on `<canvas>`: a [`Scene`] is worked out in plain Rust from what a chart shows (so
//! its geometry is unit-tested without a browser), then replayed on the canvas's 2D context.
//!
//! Why canvas: the SVG charts were hundreds of elements the browser restyled and laid out at
//! every frame of a busy market. A canvas is one element; drawing it costs script and raster
//! only. Three rules keep that cheap, as in lightweight-charts and uPlot:
//! - **one path per colour per pass**: every up candle goes into one path that is filled once,
//!   not a fill per candle ([`Scene::pass`] merges passes of one ink and paint);
//! - **layers**: what changes at different times is on different canvases (the crosshair on its
//!   own), so moving the mouse never redraws a candle;
//! - **drawn when shown data changed**, from an effect that runs at most once per animation
//!   frame (the feed renders once per frame), in **device pixels** (the canvas's backing store
//!   is its CSS size times `devicePixelRatio`, and edges are snapped to whole pixels), so lines
//!   are sharp at any ratio.
//!
//! And **lines one pixel wide**. Without a GPU, Chrome rasterises a canvas with Skia on the CPU
//! when it hands the frame to the compositor, and Skia strokes lines up to one pixel wide on a
//! fast path: nineteen 60-point sparklines on one 80×860 canvas took 0.2 ms at 1 px, 2.0–2.6 ms
//! at anything from 1.25 to 3 px (headless Chromium here, `end2end/bench/stroke-cost.mjs`). At
//! 1.5 px the sparklines were the page's costliest draw. The indicators, RSI and the sparklines
//! are one CSS pixel wide, as trading screens draw them by default; the line chart's price line
//! stays two (it is the settled layer, drawn about once a second).

use leptos::prelude::*;

/// A colour of the theme, resolved by [`Palette`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ink {
    Up,
    Down,
    Accent,
    Grid,
    Muted,
    /// The translucent fill under a depth curve.
    UpWash,
    DownWash,
    /// An indicator's line colour, by the indicator's slot.
    Study(u8),
}

/// How a pass's path is painted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Paint {
    /// Filled, at this opacity.
    Fill(f64),
    /// Stroked this many device pixels wide, dashed or not.
    Stroke { width: f64, dashed: bool },
}

impl Paint {
    /// A solid line `width` device pixels wide.
    pub const fn line(width: f64) -> Self {
        Paint::Stroke { width, dashed: false }
    }
}

/// One step of a path, in device pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seg {
    Rect([f64; 4]),
    Move(f64, f64),
    Line(f64, f64),
    Close,
}

/// One path painted once: every shape of one ink and paint in a scene.
#[derive(Clone, Debug, PartialEq)]
pub struct Pass {
    pub ink: Ink,
    pub paint: Paint,
    pub path: Vec<Seg>,
}

impl Pass {
    /// A whole-pixel rectangle (`x`, `y`, width, height in device pixels; never thinner than one).
    pub fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64) {
        let (l, r) = (x0.min(x1).round(), x0.max(x1).round());
        let (t, b) = (y0.min(y1).round(), y0.max(y1).round());
        self.path.push(Seg::Rect([l, t, (r - l).max(1.0), (b - t).max(1.0)]));
    }

    /// A polyline through `points`, broken where a point is not finite (an indicator's warm-up).
    pub fn polyline(&mut self, points: impl IntoIterator<Item = (f64, f64)>) {
        let mut pen_down = false;
        for (x, y) in points {
            if !(x.is_finite() && y.is_finite()) {
                pen_down = false;
                continue;
            }
            self.path.push(if pen_down { Seg::Line(x, y) } else { Seg::Move(x, y) });
            pen_down = true;
        }
    }

    /// A horizontal line across `[x0, x1]` at `y`, snapped so that it covers whole pixels.
    pub fn hline(&mut self, x0: f64, x1: f64, y: f64) {
        let y = self.snap(y);
        self.path.push(Seg::Move(x0, y));
        self.path.push(Seg::Line(x1, y));
    }

    /// A vertical line across `[y0, y1]` at `x`, snapped so that it covers whole pixels.
    pub fn vline(&mut self, x: f64, y0: f64, y1: f64) {
        let x = self.snap(x);
        self.path.push(Seg::Move(x, y0));
        self.path.push(Seg::Line(x, y1));
    }

    /// Where a line of this pass's width is sharp near `v`: on a pixel's centre for an odd width
    /// (one pixel either side of 1.5 would blur), on a pixel's edge for an even one.
    fn snap(&self, v: f64) -> f64 {
        let width = match self.paint {
            Paint::Stroke { width, .. } => width.round() as i64,
            Paint::Fill(_) => 1,
        };
        if width % 2 == 1 { v.floor() + 0.5 } else { v.round() }
    }
}

/// What one canvas shows: its passes in painting order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    pub passes: Vec<Pass>,
}

impl Scene {
    /// The pass of `ink` and `paint`, made when first asked for: shapes of one colour and paint
    /// share one path whatever order they are added in.
    pub fn pass(&mut self, ink: Ink, paint: Paint) -> &mut Pass {
        let i = match self.passes.iter().position(|p| p.ink == ink && p.paint == paint) {
            Some(i) => i,
            None => {
                self.passes.push(Pass {
                    ink,
                    paint,
                    path: Vec::new(),
                });
                self.passes.len() - 1
            }
        };
        &mut self.passes[i]
    }

    /// The rectangles of the pass of `ink` and `paint` (none when it has none).
    #[cfg(test)]
    pub fn rects(&self, ink: Ink, paint: Paint) -> Vec<[f64; 4]> {
        self.passes
            .iter()
            .filter(|p| p.ink == ink && p.paint == paint)
            .flat_map(|p| &p.path)
            .filter_map(|s| match s {
                Seg::Rect(r) => Some(*r),
                _ => None,
            })
            .collect()
    }
}

/// A canvas's drawing surface in device pixels, and the ratio to CSS pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Surface {
    pub w: f64,
    pub h: f64,
    pub dpr: f64,
}

impl Surface {
    /// One CSS pixel's width in device pixels, whole (so hairlines stay sharp).
    pub fn px(&self) -> f64 {
        self.dpr.round().max(1.0)
    }
}

/// The theme's colours as canvas styles. They repeat `style/main.css`'s custom properties: a
/// canvas cannot take `var(--up)`, and reading computed styles at every frame would cost the
/// style recalculation canvas is here to avoid.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub struct Palette {
    dark: bool,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
impl Palette {
    pub fn new(dark: bool) -> Self {
        Palette { dark }
    }

    pub fn css(&self, ink: Ink) -> &'static str {
        let (light, dark) = match ink {
            Ink::Up => ("#087a3a", "#3ccf78"),
            Ink::Down => ("#c0252c", "#ff6b6b"),
            Ink::Accent => ("#2457d6", "#7ea6ff"),
            Ink::Grid => ("#edf0f4", "#1c2532"),
            Ink::Muted => ("#505a69", "#9ba5b4"),
            Ink::UpWash => ("rgba(8,122,58,0.14)", "rgba(60,207,120,0.16)"),
            Ink::DownWash => ("rgba(192,37,44,0.13)", "rgba(255,107,107,0.16)"),
            Ink::Study(i) => STUDY_INKS[usize::from(i) % STUDY_INKS.len()],
        };
        if self.dark { dark } else { light }
    }
}

/// Indicator line colours (light, dark), by slot; also the legend's swatches (`main.css`).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const STUDY_INKS: [(&str, &str); 5] = [
    ("#d97706", "#fbbf24"),
    ("#7c3aed", "#c4b5fd"),
    ("#0e7490", "#67e8f9"),
    ("#64748b", "#a5b4c8"),
    ("#be185d", "#f9a8d4"),
];

/// Which layer a draw was of, for the page-cost counters (`window.__tickertapeDraws`).
#[derive(Clone, Copy, Debug)]
pub enum Layer {
    /// The main chart's settled candles.
    Chart,
    /// Its live candle.
    Live,
    /// The price axis's last-price tag.
    Axis,
    Crosshair,
    Rsi,
    Depth,
    Spark,
}

impl Layer {
    #[cfg(feature = "hydrate")]
    const ALL: [Layer; 7] = [
        Layer::Chart,
        Layer::Live,
        Layer::Axis,
        Layer::Crosshair,
        Layer::Rsi,
        Layer::Depth,
        Layer::Spark,
    ];

    #[cfg(feature = "hydrate")]
    fn name(self) -> &'static str {
        match self {
            Layer::Chart => "chart",
            Layer::Live => "live",
            Layer::Axis => "axis",
            Layer::Crosshair => "crosshair",
            Layer::Rsi => "rsi",
            Layer::Depth => "depth",
            Layer::Spark => "spark",
        }
    }
}

/// A canvas element that follows its CSS size: its backing store is resized to the CSS size
/// times the device pixel ratio whenever either changes (a `ResizeObserver`), and `surface`
/// says what it is, `None` until it is laid out (and always on the server).
pub fn use_surface(canvas: NodeRef<leptos::html::Canvas>) -> ReadSignal<Option<Surface>> {
    let (surface, set_surface) = signal(None::<Surface>);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let observer = StoredValue::new_local(None::<(web_sys::ResizeObserver, Closure<dyn FnMut(js_sys::Array)>)>);
        Effect::new(move |_| {
            let Some(el) = canvas.get() else { return };
            let el2 = el.clone();
            let on_resize = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
                let Ok(entry) = entries.get(0).dyn_into::<web_sys::ResizeObserverEntry>() else {
                    return;
                };
                let rect = entry.content_rect();
                let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(0.5);
                let (w, h) = ((rect.width() * dpr).round(), (rect.height() * dpr).round());
                if w < 1.0 || h < 1.0 {
                    set_surface.set(None);
                    return;
                }
                el2.set_width(w as u32);
                el2.set_height(h as u32);
                set_surface.set(Some(Surface { w, h, dpr }));
            });
            if let Ok(ro) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
                ro.observe(&el);
                observer.update_value(|o| {
                    if let Some((old, _)) = o.take() {
                        old.disconnect();
                    }
                    *o = Some((ro, on_resize));
                });
            }
        });
        on_cleanup(move || {
            observer.try_update_value(|o| {
                if let Some((ro, _)) = o.take() {
                    ro.disconnect();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (canvas, set_surface);
    surface
}

/// `canvas`'s 2D context, the canvas cleared (none before it is mounted).
#[cfg(feature = "hydrate")]
fn cleared(canvas: NodeRef<leptos::html::Canvas>) -> Option<web_sys::CanvasRenderingContext2d> {
    use wasm_bindgen::JsCast;
    let el = canvas.get_untracked()?;
    let ctx = el
        .get_context("2d")
        .ok()
        .flatten()?
        .unchecked_into::<web_sys::CanvasRenderingContext2d>();
    ctx.clear_rect(0.0, 0.0, f64::from(el.width()), f64::from(el.height()));
    Some(ctx)
}

/// Replays `scene` on `canvas` (cleared first) and counts the draw under `layer`.
pub fn paint(canvas: NodeRef<leptos::html::Canvas>, scene: &Scene, dark: bool, layer: Layer) {
    #[cfg(feature = "hydrate")]
    {
        let Some(ctx) = cleared(canvas) else { return };
        let palette = Palette::new(dark);
        for pass in &scene.passes {
            if pass.path.is_empty() {
                continue;
            }
            ctx.begin_path();
            for seg in &pass.path {
                match *seg {
                    Seg::Rect([x, y, w, h]) => ctx.rect(x, y, w, h),
                    Seg::Move(x, y) => ctx.move_to(x, y),
                    Seg::Line(x, y) => ctx.line_to(x, y),
                    Seg::Close => ctx.close_path(),
                }
            }
            let style = palette.css(pass.ink);
            match pass.paint {
                Paint::Fill(alpha) => {
                    ctx.set_global_alpha(alpha);
                    ctx.set_fill_style_str(style);
                    ctx.fill();
                    ctx.set_global_alpha(1.0);
                }
                Paint::Stroke { width, dashed } => {
                    ctx.set_line_width(width);
                    let dash = js_sys::Array::new();
                    if dashed {
                        dash.push(&(4.0 * width).into());
                        dash.push(&(3.0 * width).into());
                    }
                    let _ = ctx.set_line_dash(&dash);
                    ctx.set_stroke_style_str(style);
                    ctx.stroke();
                }
            }
        }
        count_draw(layer);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (canvas, scene, dark, layer);
}

/// The font of a price tag drawn on canvas: the page's (`main.css`), at `px` pixels.
#[cfg(feature = "hydrate")]
fn tag_font(px: f64) -> String {
    format!(
        "600 {}px ui-sans-serif, system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif",
        px.round() as i64
    )
}

/// The width of `text` in the tag's font at `px`, measured again only when its shape changes
/// (its length, or a sign or separator moving): the price changes at every frame, its digits
/// are all as wide as each other (the UI fonts' figures are tabular), and `measureText` was
/// the costliest call of a frame's tag.
#[cfg(feature = "hydrate")]
fn tag_width(ctx: &web_sys::CanvasRenderingContext2d, px: f64, text: &str) -> f64 {
    thread_local! {
        static LAST: std::cell::RefCell<(f64, String, f64)> = const { std::cell::RefCell::new((0.0, String::new(), 0.0)) };
    }
    let shape = |t: &str| {
        t.chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect::<String>()
    };
    LAST.with_borrow_mut(|(at, key, width)| {
        let now = shape(text);
        if *at != px || *key != now {
            *width = ctx.measure_text(&now).map_or(0.0, |m| m.width());
            (*at, *key) = (px, now);
        }
        *width
    })
}

/// Draws (or, with `None`, clears) a price tag on `canvas`: `text` on the accent colour, its
/// right edge at the canvas's, centred on `fy` (0 at the top, 1 at the bottom), as the price
/// axis's last-price marker. A canvas, so that a price moving at every frame costs no style,
/// layout or paint of an element.
pub fn paint_tag(
    canvas: NodeRef<leptos::html::Canvas>,
    s: Surface,
    tag: Option<(f64, &str)>,
    dark: bool,
    layer: Layer,
) {
    #[cfg(feature = "hydrate")]
    {
        let Some(ctx) = cleared(canvas) else { return };
        if let Some((fy, text)) = tag {
            let palette = Palette::new(dark);
            let (font, pad, height) = (12.0 * s.dpr, 6.0 * s.dpr, 18.0 * s.dpr);
            ctx.set_font(&tag_font(font));
            let width = tag_width(&ctx, font, text) + 2.0 * pad;
            let (x, y) = ((s.w - width).max(0.0).round(), (fy * s.h - height / 2.0).round());
            ctx.begin_path();
            let _ = ctx.round_rect_with_f64(x, y, width.round(), height.round(), 4.0 * s.dpr);
            ctx.set_fill_style_str(palette.css(Ink::Accent));
            ctx.fill();
            ctx.set_fill_style_str(if dark { "#151b24" } else { "#ffffff" });
            ctx.set_text_baseline("middle");
            let _ = ctx.fill_text(text, x + pad, y + height / 2.0);
        }
        count_draw(layer);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (canvas, s, tag, dark, layer);
}

/// Counts a canvas draw in `window.__tickertapeDraws[layer]` (read by `perf.spec.ts`). The
/// counts object and its keys are made once: this runs at every frame, for every layer drawn.
#[cfg(feature = "hydrate")]
fn count_draw(layer: Layer) {
    use wasm_bindgen::JsValue;
    struct Counts {
        object: js_sys::Object,
        keys: Vec<JsValue>,
        counts: [f64; Layer::ALL.len()],
    }
    thread_local! {
        static COUNTS: std::cell::RefCell<Option<Counts>> = const { std::cell::RefCell::new(None) };
    }
    COUNTS.with_borrow_mut(|c| {
        let c = c.get_or_insert_with(|| {
            let object = js_sys::Object::new();
            if let Some(window) = web_sys::window() {
                let _ = js_sys::Reflect::set(&window, &JsValue::from_str("__tickertapeDraws"), &object);
            }
            Counts {
                object,
                keys: Layer::ALL.iter().map(|l| JsValue::from_str(l.name())).collect(),
                counts: [0.0; Layer::ALL.len()],
            }
        });
        let i = layer as usize;
        c.counts[i] += 1.0;
        let _ = js_sys::Reflect::set(&c.object, &c.keys[i], &JsValue::from_f64(c.counts[i]));
    });
}

/// Whether the page shows the dark theme (`None` until hydrated), shared by the theme switch and
/// every canvas, which redraws in the theme's colours when it changes.
#[derive(Clone, Copy)]
pub struct DarkTheme(pub RwSignal<Option<bool>>);

/// The page's [`DarkTheme`] signal (made here if no ancestor provided one).
pub fn dark_theme() -> RwSignal<Option<bool>> {
    use_context::<DarkTheme>().map(|d| d.0).unwrap_or_else(|| {
        let s = RwSignal::new(None);
        provide_context(DarkTheme(s));
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_path_per_ink_and_paint() {
        let mut s = Scene::default();
        for i in 0..10 {
            let ink = if i % 2 == 0 { Ink::Up } else { Ink::Down };
            s.pass(ink, Paint::Fill(1.0))
                .rect(f64::from(i), 0.0, f64::from(i) + 0.6, 5.0);
        }
        s.pass(Ink::Up, Paint::Fill(0.3)).rect(0.0, 0.0, 1.0, 1.0);
        assert_eq!(s.passes.len(), 3, "two fills at full opacity and one translucent");
        assert_eq!(s.rects(Ink::Up, Paint::Fill(1.0)).len(), 5);
    }

    #[test]
    fn rects_snap_to_whole_pixels_and_never_vanish() {
        let mut p = Scene::default();
        let pass = p.pass(Ink::Up, Paint::Fill(1.0));
        pass.rect(10.4, 20.6, 10.45, 20.61);
        pass.rect(3.6, 9.2, 1.2, 2.7);
        assert_eq!(
            p.rects(Ink::Up, Paint::Fill(1.0)),
            vec![[10.0, 21.0, 1.0, 1.0], [1.0, 3.0, 3.0, 6.0]]
        );
    }

    #[test]
    fn polylines_break_where_undefined() {
        let mut s = Scene::default();
        let pass = s.pass(Ink::Study(0), Paint::line(1.0));
        pass.polyline([(0.0, f64::NAN), (1.0, 1.0), (2.0, 2.0), (3.0, f64::NAN), (4.0, 4.0)]);
        assert_eq!(
            pass.path,
            vec![Seg::Move(1.0, 1.0), Seg::Line(2.0, 2.0), Seg::Move(4.0, 4.0)]
        );
    }
}
