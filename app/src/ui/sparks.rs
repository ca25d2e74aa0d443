//! The watchlist's sparklines: a minute of prices per row as a small line, green when the minute
//! ended higher than it began.
//!
//! All of them are drawn on **one canvas**, laid over the sparkline column, not one canvas per
//! row. The browser hands every canvas to its compositor at every frame it commits, whether it
//! changed or not: nineteen small canvases cost the page's main thread about as much in that
//! commit as the chart's four large layers (BENCHMARKS.md, "Page cost against
//! lightweight-charts"). Each row keeps an empty slot of the line's size ([`SparkSlot`], with
//! its trend for tests and styles); the sheet ([`SparkSheet`]) reads where the slots are when
//! the table is laid out anew (it resized, or its rows were reordered, added or removed) and
//! draws every row's line at its slot, one path per colour, at most ten times a second (the
//! feed throttles it).

use super::canvas::{Ink, Layer, Paint, Scene, Surface, dark_theme, paint, use_surface};
use super::format::Fixed;
use crate::state::board::Board;
use leptos::prelude::*;

/// Where the sheet sits in the table's wrapper, and where each row's line goes on it, in CSS
/// pixels: what [`SparkSheet`] measures from the slots.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Sheet {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
    /// The board's row index, and its slot's top and height from the sheet's top.
    pub slots: Vec<(usize, f64, f64)>,
}

/// A row's place for its sparkline (drawn by the [`SparkSheet`]), with the minute's trend.
#[component]
pub(super) fn SparkSlot(board: Board, index: usize) -> impl IntoView {
    let trend = Memo::new(move |_| {
        board
            .row(index)
            .map_or("flat", |row| row.spark.with(|s| trend_of(s.iter().map(|c| c.close))))
    });
    view! { <span class="spark" data-testid="sparkline" data-trend=move || trend.get() aria-hidden="true"></span> }
}

/// The one canvas every row's sparkline is drawn on, over the slots of the table in `wrap`
/// (a positioned element around it), for the rows in `order`.
#[component]
pub(super) fn SparkSheet(board: Board, wrap: NodeRef<leptos::html::Div>, order: Memo<Vec<usize>>) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let surface = use_surface(canvas);
    let dark = dark_theme();
    let sheet = RwSignal::new(Sheet::default());
    #[cfg(feature = "hydrate")]
    watch_slots(board, wrap, order, sheet);
    #[cfg(not(feature = "hydrate"))]
    let _ = (wrap, order);
    Effect::new(move |_| {
        let Some(s) = surface.get() else { return };
        let dark = dark.get().unwrap_or(false);
        let scene = sheet.with(|sheet| {
            let mut scene = Scene::default();
            let mut closes = Vec::new();
            for &(i, top, height) in &sheet.slots {
                let Some(row) = board.row(i) else { continue };
                closes.clear();
                row.spark.with(|sp| closes.extend(sp.iter().map(|c| c.close)));
                spark_into(&mut scene, &closes, top * s.dpr, height * s.dpr, s);
            }
            scene
        });
        paint(canvas, &scene, dark, Layer::Spark);
    });
    // (Through `Fixed`: std's float printing would add kilobytes to the WASM.)
    let px = |v: f64| format!("{}px", Fixed(v, 2));
    // Which rows the sheet draws, top to bottom (for tests: it must follow a re-sort).
    let rows = move || {
        sheet.with(|s| {
            board.instruments.with_value(|ins| {
                s.slots
                    .iter()
                    .map(|&(i, ..)| ins[i].symbol.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
    };
    view! {
        <canvas
            class="spark-sheet"
            data-testid="spark-sheet"
            data-rows=rows
            aria-hidden="true"
            node_ref=canvas
            style:left=move || sheet.with(|s| px(s.left))
            style:top=move || sheet.with(|s| px(s.top))
            style:width=move || sheet.with(|s| px(s.width))
            style:height=move || sheet.with(|s| px(s.height))
        ></canvas>
    }
}

/// Keeps `sheet` on the slots: measured when the page is hydrated, when the table changes size
/// (a `ResizeObserver`, whose callback comes after layout, so reading is free) and at the frame
/// after its rows change order (a re-sort, a row added or removed).
#[cfg(feature = "hydrate")]
fn watch_slots(board: Board, wrap: NodeRef<leptos::html::Div>, order: Memo<Vec<usize>>, sheet: RwSignal<Sheet>) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let measure = move || {
        if let Some(el) = wrap.get_untracked() {
            let now = measure_slots(&el, board);
            if sheet.try_with_untracked(|s| *s != now) == Some(true) {
                sheet.set(now);
            }
        }
    };
    let observer = StoredValue::new_local(None::<(web_sys::ResizeObserver, Closure<dyn FnMut()>)>);
    Effect::new(move |_| {
        let Some(el) = wrap.get() else { return };
        let Some(table) = el.first_element_child() else { return };
        let on_resize = Closure::<dyn FnMut()>::new(measure);
        if let Ok(ro) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
            ro.observe(&table);
            observer.update_value(|o| {
                if let Some((old, _)) = o.replace((ro, on_resize)) {
                    old.disconnect();
                }
            });
        }
    });
    Effect::new(move |_| {
        order.track();
        request_animation_frame(measure);
    });
    on_cleanup(move || {
        observer.try_update_value(|o| {
            if let Some((ro, _)) = o.take() {
                ro.disconnect();
            }
        });
    });
}

/// Where the slots under `wrap` are, relative to it (scrolled content included); an empty
/// sheet when they are hidden (narrow screens hide the column).
#[cfg(feature = "hydrate")]
fn measure_slots(wrap: &web_sys::HtmlDivElement, board: Board) -> Sheet {
    use wasm_bindgen::JsCast;
    let Ok(list) = wrap.query_selector_all(".spark") else {
        return Sheet::default();
    };
    let base = wrap.get_bounding_client_rect();
    let origin_x = base.left() + f64::from(wrap.client_left()) - f64::from(wrap.scroll_left());
    let origin_y = base.top() + f64::from(wrap.client_top()) - f64::from(wrap.scroll_top());
    let mut found = Vec::new();
    for k in 0..list.length() {
        let Some(el) = list.item(k).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) else {
            continue;
        };
        let r = el.get_bounding_client_rect();
        let symbol = el
            .closest("tr")
            .ok()
            .flatten()
            .and_then(|tr| tr.get_attribute("data-symbol"));
        let (Some(index), true) = (symbol.and_then(|s| board.index_of(&s)), r.width() >= 1.0) else {
            continue;
        };
        found.push((index, r.left() - origin_x, r.top() - origin_y, r.width(), r.height()));
    }
    let (Some(first), Some(last)) = (found.first(), found.last()) else {
        return Sheet::default();
    };
    let (left, top, width) = (first.1, first.2, first.3);
    Sheet {
        left,
        top,
        width,
        height: last.2 + last.4 - top,
        slots: found.iter().map(|&(i, _, y, _, h)| (i, y - top, h)).collect(),
    }
}

/// `up` when the last close is above the first, `down` below, else `flat`.
pub(super) fn trend_of(mut closes: impl DoubleEndedIterator<Item = i64>) -> &'static str {
    let first = closes.next();
    let last = closes.next_back().or(first);
    match (first, last) {
        (Some(a), Some(b)) if b > a => "up",
        (Some(a), Some(b)) if b < a => "down",
        _ => "flat",
    }
}

/// One row's line on the sheet, one CSS pixel wide (see [`super::canvas`] on stroke widths),
/// in the pass of its trend's colour: the points spread across
/// the sheet's width, the lowest and highest a pixel inside the band from `top` to
/// `top + height` (device pixels).
fn spark_into(scene: &mut Scene, p: &[i64], top: f64, height: f64, s: Surface) {
    let ink = match trend_of(p.iter().copied()) {
        "up" => Ink::Up,
        "down" => Ink::Down,
        _ => Ink::Muted,
    };
    let lo = p.iter().copied().min().unwrap_or(0);
    let hi = p.iter().copied().max().unwrap_or(0);
    let span = (hi - lo).max(1) as f64;
    let n = (p.len().max(2) - 1) as f64;
    let pad = 2.0 * s.px();
    scene
        .pass(ink, Paint::line(s.px()))
        .polyline(p.iter().enumerate().map(|(i, v)| {
            (
                i as f64 / n * s.w,
                top + pad + (hi - v) as f64 / span * (height - 2.0 * pad),
            )
        }));
}

#[cfg(test)]
mod tests {
    use super::super::canvas::Seg;
    use super::*;

    const SHEET: Surface = Surface {
        w: 160.0,
        h: 1000.0,
        dpr: 2.0,
    };

    fn ys(path: &[Seg]) -> Vec<f64> {
        path.iter()
            .map(|seg| match seg {
                Seg::Move(_, y) | Seg::Line(_, y) => *y,
                _ => f64::NAN,
            })
            .collect()
    }

    #[test]
    fn each_line_spans_its_own_band_in_its_trend_colour() {
        let mut scene = Scene::default();
        spark_into(&mut scene, &[5, 9, 1, 7], 0.0, 500.0, SHEET);
        spark_into(&mut scene, &[3, 1], 500.0, 52.0, SHEET);
        spark_into(&mut scene, &[2, 4, 6], 600.0, 52.0, SHEET);
        // One path per colour: the two rising lines share one.
        assert_eq!(scene.passes.len(), 2);
        assert_eq!(scene.passes[0].ink, Ink::Up);
        assert_eq!(scene.passes[1].ink, Ink::Down);
        assert_eq!(
            ys(&scene.passes[0].path),
            vec![250.0, 4.0, 496.0, 127.0, 648.0, 626.0, 604.0]
        );
        assert_eq!(ys(&scene.passes[1].path), vec![504.0, 548.0]);
        let xs: Vec<f64> = scene.passes[0]
            .path
            .iter()
            .map(|seg| match seg {
                Seg::Move(x, _) | Seg::Line(x, _) => *x,
                _ => f64::NAN,
            })
            .collect();
        assert_eq!(
            xs[..4],
            [0.0, 1.0 / 3.0 * 160.0, 2.0 / 3.0 * 160.0, 160.0],
            "across the sheet's width"
        );
        assert!(
            matches!(scene.passes[0].path[4], Seg::Move(0.0, _)),
            "each row starts its own line"
        );
    }

    #[test]
    fn trend_compares_last_with_first() {
        assert_eq!(trend_of([1, 5, 2].into_iter()), "up");
        assert_eq!(trend_of([3, 9, 1].into_iter()), "down");
        assert_eq!(trend_of([4].into_iter()), "flat");
        assert_eq!(trend_of(std::iter::empty()), "flat");
    }
}
