//! Market depth for the chart's symbol: the order book ladder (price, size, cumulative size,
//! bars; spread and mid), the depth chart (cumulative bids and asks) and the tape of prints
//! (time & sales).
//!
//! The ladder has a fixed slot per level, each reading its own memo, so a frame that changes
//! three levels rewrites three rows; the tape has a fixed slot per row too (the newest print
//! first), so a redraw rewrites the text of the slots whose print changed, and the newest three
//! are tinted in their aggressor's colour without a fade: no strobing, whatever the rate. The
//! feed notifies the panel at most 10 times a second (`SLOW_RENDER_MS` in `live/mod.rs` says
//! why).

use super::canvas::{Ink, Layer, Paint, Scene, Seg, Surface, dark_theme, paint, use_surface};
use super::format::{self, Units};
use crate::state::board::Board;
use crate::state::depth::Depth;
use crate::state::page::TAPE_ROWS;
use crate::wire::book::Side;
use leptos::either::Either;
use leptos::prelude::*;

/// Levels a side the ladder shows (the ten the checksum covers).
pub const LADDER_LEVELS: usize = 10;

#[component]
pub(super) fn DepthPanel(board: Board) -> impl IntoView {
    let depth = board.depth;
    // A memo, so the panel's body is built when depth turns on or off, not at every update.
    let on = Memo::new(move |_| depth.with(|d| !d.symbol.is_empty()));
    let toggle = move |_| board.update_view(|v| v.depth = !v.depth);
    let shown = move || board.view.with(|v| v.depth);
    let status = Memo::new(move |_| {
        depth.with(|d| {
            let state = if d.synced { "ok" } else { "syncing" };
            let label = if d.mismatches == 0 {
                "checksum ✓".to_string()
            } else {
                format!(
                    "checksum: {} mismatch{}",
                    d.mismatches,
                    if d.mismatches == 1 { "" } else { "es" }
                )
            };
            (state, label, d.mismatches, d.checked)
        })
    });
    let title = move || {
        status.with(|s| {
            format!(
                "Every book update is checked against the server's CRC32 checksum: {} checked, {} wrong (a wrong one refetches the book)",
                s.3, s.2
            )
        })
    };
    view! {
        <section class="panel depth-panel" aria-labelledby="depth-title">
            <div class="panel-head">
                <h2 id="depth-title">"Market depth" <span class="name">{move || depth.with(|d| d.symbol.clone())}</span></h2>
                {move || on.get().then(|| view! {
                    <span
                        class="checksum"
                        data-testid="book-checksum"
                        data-state=move || status.with(|s| s.0)
                        data-mismatches=move || status.with(|s| s.2.to_string())
                        data-checked=move || status.with(|s| s.3.to_string())
                        title=title
                    >
                        {move || status.with(|s| s.1.clone())}
                    </span>
                })}
                <button class="btn depth-toggle" data-testid="depth-toggle" aria-pressed=move || shown().to_string() on:click=toggle>
                    {move || if shown() { "Hide depth" } else { "Show depth" }}
                </button>
            </div>
            {move || if on.get() {
                Either::Left(view! {
                    <div class="depth-body">
                        <OrderBook depth/>
                        <TradesTape depth/>
                        <DepthChart depth/>
                    </div>
                })
            } else {
                Either::Right(view! { <p class="depth-off">"Depth is off: the stream carries quotes only."</p> })
            }}
        </section>
    }
}

/// The ladder: asks above the spread (best lowest), bids below (best highest).
#[component]
fn OrderBook(depth: RwSignal<Depth>) -> impl IntoView {
    let spread = move || {
        depth.with(|d| {
            d.spread().map(|(spread, mid2)| {
                // Half of `mid2`, exactly: at one more decimal when it is odd (190.645).
                let mid = if mid2 % 2 == 0 {
                    format::price(mid2 / 2, d.decimals)
                } else {
                    Units(mid2 * 5, d.decimals + 1).to_string()
                };
                (format::price(spread, d.decimals), mid)
            })
        })
    };
    // The bars' scale: the deeper side's total, worked out once per update for every row.
    let scale = Memo::new(move |_| depth.with(|d| d.deepest().max(1)));
    let asks = (0..LADDER_LEVELS)
        .rev()
        .map(|k| view! { <LadderRow depth scale ask=true k/> })
        .collect_view();
    let bids = (0..LADDER_LEVELS)
        .map(|k| view! { <LadderRow depth scale ask=false k/> })
        .collect_view();
    view! {
        <table class="ladder" data-testid="order-book">
            <thead>
                <tr><th class="num">"Price"</th><th class="num">"Size"</th><th class="num">"Total"</th></tr>
            </thead>
            <tbody class="asks">{asks}</tbody>
            <tbody class="mid">
                <tr data-testid="spread">
                    <td colspan="3">
                        {move || match spread() {
                            Some((s, m)) => format!("Spread {s} · Mid {m}"),
                            None => "—".to_string(),
                        }}
                    </td>
                </tr>
            </tbody>
            <tbody class="bids">{bids}</tbody>
        </table>
    }
}

/// One slot of the ladder: the `k`-th level from the touch on one side (an empty row while the
/// side has fewer levels). The row stays; only the cells whose text changed are rewritten.
#[component]
fn LadderRow(depth: RwSignal<Depth>, scale: Memo<u64>, ask: bool, k: usize) -> impl IntoView {
    // The level as numbers: a cheap comparison per update, so only the rows whose level changed
    // format their text again.
    let level = Memo::new(move |_| depth.with(|d| d.level(ask, k)));
    let formats = move || depth.with_untracked(|d| (d.decimals, d.size_decimals));
    let price = move || level.get().map(|(l, _)| format::price(l.price(), formats().0));
    let size = move || {
        level
            .get()
            .map(|(l, _)| Units(l.size() as i64, formats().1).to_string())
    };
    let total = move || level.get().map(|(_, t)| Units(t as i64, formats().1).to_string());
    let width = move || {
        let total = level.get().map_or(0, |(_, t)| t);
        // Whole percent: finer would redraw bars for changes nobody sees.
        format!("--w:{}%", u128::from(total) * 100 / u128::from(scale.get().max(1)))
    };
    let present = move || level.with(Option::is_some);
    view! {
        <tr
            class=move || if present() { "level" } else { "level empty" }
            data-testid=move || present().then_some("book-level")
            data-side=if ask { "ask" } else { "bid" }
            data-price=price
            style=width
        >
            <td class="num price">{price}</td>
            <td class="num">{size}</td>
            <td class="num total">{total}</td>
        </tr>
    }
}

/// Cumulative size against price: bids stepping down to the left of the mid, asks up to the
/// right, over the 20 levels a side the book holds. A canvas, redrawn when the book is (at most
/// ten times a second); the levels drawn are told as `data-bids` and `data-asks`.
#[component]
fn DepthChart(depth: RwSignal<Depth>) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let surface = use_surface(canvas);
    let dark = dark_theme();
    Effect::new(move |_| {
        let Some(s) = surface.get() else { return };
        let dark = dark.get().unwrap_or(false);
        depth.with(|d| {
            paint(canvas, &depth_scene(d, s), dark, Layer::Depth);
            #[cfg(feature = "hydrate")]
            if let Some(el) = canvas.get_untracked() {
                let _ = el.set_attribute("data-bids", &d.book.bids.len().to_string());
                let _ = el.set_attribute("data-asks", &d.book.asks.len().to_string());
            }
        });
    });
    view! {
        <canvas
            class="depth-chart"
            data-testid="depth-chart"
            node_ref=canvas
            role="img"
            aria-label="Depth chart: cumulative size of bids and asks by price"
        ></canvas>
    }
}

/// Both sides' areas: a step at each level, closed down to the axis, washed and outlined in the
/// side's colour. The x axis spans the book from the deepest bid to the deepest ask; the y axis
/// the deeper side's total.
fn depth_scene(d: &Depth, s: Surface) -> Scene {
    let mut scene = Scene::default();
    let (Some(low), Some(high)) = (d.book.bids.last(), d.book.asks.last()) else {
        return scene;
    };
    let (low, width) = (low.price(), (high.price() - low.price()).max(1));
    let scale = d.deepest().max(1);
    let x = |price: i64| (price - low) as f64 / width as f64 * s.w;
    let top = 4.0 * s.px();
    let y = |total: u64| s.h - total.min(scale) as f64 / scale as f64 * (s.h - top);
    for (levels, wash, ink) in [
        (&d.book.bids, Ink::UpWash, Ink::Up),
        (&d.book.asks, Ink::DownWash, Ink::Down),
    ] {
        let (Some(first), Some(last)) = (levels.first(), levels.last()) else {
            continue;
        };
        let mut points = vec![(x(first.price()), s.h)];
        let mut total = 0;
        for level in levels.iter() {
            points.push((x(level.price()), y(total)));
            total += level.size();
            points.push((x(level.price()), y(total)));
        }
        points.push((x(last.price()), s.h));
        let area = scene.pass(wash, Paint::Fill(1.0));
        area.polyline(points.iter().copied());
        area.path.push(Seg::Close);
        scene.pass(ink, Paint::line(s.px())).polyline(points);
    }
    scene
}

/// Time & sales: the newest prints first, in a fixed slot per row (as the ladder): a redraw
/// rewrites the text of the rows whose print changed. A fast market prints more between two
/// redraws than the tape holds, and a row per print (created, styled and laid out, then
/// removed) replaced the whole tape ten times a second.
#[component]
fn TradesTape(depth: RwSignal<Depth>) -> impl IntoView {
    let rows = (0..TAPE_ROWS).map(|k| view! { <TapeRow depth k/> }).collect_view();
    view! {
        <div class="tape-wrap">
            <table class="tape" data-testid="trades-tape">
                <thead>
                    <tr><th class="num">"Price"</th><th class="num">"Size"</th><th class="num">"Time"</th></tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// The `k`-th newest print's row (empty while the tape has fewer).
#[component]
fn TapeRow(depth: RwSignal<Depth>, k: usize) -> impl IntoView {
    // The print as numbers, so only a slot whose print changed formats its text again.
    let print = Memo::new(move |_| depth.with(|d| d.tape.get(k).map(|(n, p)| (*n, p.clone()))));
    let formats = move || depth.with_untracked(|d| (d.decimals, d.size_decimals));
    let side = move || {
        print.with(|p| {
            p.as_ref().map(|(_, p)| match p.side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            })
        })
    };
    let price = move || print.with(|p| p.as_ref().map(|(_, p)| format::price(p.price, formats().0)));
    let size = move || print.with(|p| p.as_ref().map(|(_, p)| Units(p.size as i64, formats().1).to_string()));
    let time = move || print.with(|p| p.as_ref().map(|(_, p)| clock(p.ts)));
    let present = move || print.with(Option::is_some);
    view! {
        <tr
            class=move || if present() { "print" } else { "print empty" }
            data-testid=move || present().then_some("trade-row")
            data-side=side
        >
            <td class="num price">{price}</td>
            <td class="num">{size}</td>
            <td class="num time">{time}</td>
        </tr>
    }
}

/// `HH:MM:SS.mmm` (UTC) of a timestamp in ms since the Unix epoch.
fn clock(ts: i64) -> String {
    let ms = ts.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_utc_with_milliseconds() {
        assert_eq!(clock(1_764_000_000_123), "16:00:00.123");
        assert_eq!(clock(0), "00:00:00.000");
    }
}
