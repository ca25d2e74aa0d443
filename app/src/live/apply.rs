//! Applies what arrives to the board: quotes, sparklines and the chart are stored *untracked*,
//! then the rows and chart that changed are notified once per animation frame. Also the chart's
//! backfill from `/api/history`, joined to the stream by `seq` without a gap or double count.

use super::{FLASH_MS, Shared};
use crate::state::board::Connection;
use crate::state::candles::CandleSeries;
use crate::wire::json;
use crate::wire::protocol::{History, Incoming, Interval};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Replaces the chart with `symbol` at `interval`, backfilled from `/api/history` with all the
/// server keeps at that interval. With `keep`, the chart stays as it is until the history
/// arrives (the first page's chart, deepened after hydration), viewport included.
pub(super) fn load_chart(live: &Shared, symbol: String, interval: Interval, keep: bool) {
    let board = live.borrow().board;
    if !keep {
        board.chart.set(board.empty_chart(&symbol, interval));
    }
    if symbol.is_empty() {
        return;
    }
    live.borrow_mut().chart_backlog = Some(Vec::new());
    let live = live.clone();
    spawn_local(async move {
        let url = format!(
            "/api/history?symbol={symbol}&interval={interval}&limit={}",
            interval.kept()
        );
        let history: Option<History> = fetch_json(&url).await;
        if board
            .chart
            .with_untracked(|c| c.symbol != symbol || c.series.interval() != interval)
        {
            return; // the user moved on while this loaded; the newer load owns the backlog
        }
        let mut l = live.borrow_mut();
        let backlog = l.chart_backlog.take().unwrap_or_default();
        board.chart.update(|chart| {
            if let Some(h) = &history {
                chart.series = CandleSeries::from_candles(interval, interval.kept(), h.candles.iter().copied());
            }
            let after = history.as_ref().map_or(0, |h| h.seq);
            for (seq, ts, price, qty) in backlog {
                if seq > after {
                    chart.series.push(ts, price, qty);
                    chart.last = Some(price);
                }
            }
        });
        l.chart_dirty = false;
    });
}

async fn fetch_json<T: miniserde::Deserialize>(url: &str) -> Option<T> {
    let window = web_sys::window()?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url)).await.ok()?.dyn_into().ok()?;
    if !resp.ok() {
        return None;
    }
    let text = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
    json::from_str(&text).ok()
}

/// Applies one event (any event, a keep-alive included, proves the connection alive).
pub(super) fn handle(live: &Shared, incoming: Incoming) {
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    l.last_activity = now;
    if matches!(
        l.board.connection.get_untracked(),
        Connection::Stale | Connection::Reconnecting | Connection::Connecting
    ) {
        l.board.connection.set(Connection::Live);
    }
    match incoming {
        Incoming::Alive => return,
        Incoming::Snapshot { id, snapshot, resync } => {
            l.events += 1;
            for q in snapshot.quotes {
                let Some(i) = l.board.index_of(&q.symbol) else {
                    continue;
                };
                let Some(row) = l.board.row(i) else { continue };
                l.volume[i] = q.volume;
                row.quote.update_untracked(|old| *old = q);
                l.dirty[i] = true;
            }
            l.last_id = Some(id);
            drop(l);
            if resync {
                // Trades were skipped: rebuild the chart from the server's candles.
                let board = live.borrow().board;
                let (symbol, interval) = board.chart.with_untracked(|c| (c.symbol.clone(), c.series.interval()));
                load_chart(live, symbol, interval, false);
            }
        }
        Incoming::Tick { id, frame } => {
            l.events += 1;
            l.samples.push_back((now, now - frame.ts as f64));
            let chart_symbol = l.board.chart.with_untracked(|c| c.symbol.clone());
            for q in frame.quotes {
                let Some(i) = l.board.index_of(&q.symbol) else {
                    continue;
                };
                let Some(row) = l.board.row(i) else { continue };
                let qty = q.volume.saturating_sub(l.volume[i]);
                l.volume[i] = q.volume;
                let price = q.price;
                row.spark.update_untracked(|s| {
                    s.push(frame.ts, price, qty);
                });
                if q.symbol == chart_symbol {
                    if let Some(backlog) = l.chart_backlog.as_mut() {
                        backlog.push((frame.seq, frame.ts, price, qty));
                    } else {
                        l.board.chart.update_untracked(|c| {
                            c.series.push(frame.ts, price, qty);
                            c.last = Some(price);
                        });
                        l.chart_dirty = true;
                    }
                }
                row.quote.update_untracked(|old| old.apply(&q));
                l.dirty[i] = true;
            }
            l.last_id = Some(id);
            drop(l);
        }
    }
    schedule_frame(live);
}

/// Renders what changed at the next animation frame (once per frame; not while paused).
pub(super) fn schedule_frame(live: &Shared) {
    {
        let mut l = live.borrow_mut();
        if l.frame_scheduled || l.board.paused.get_untracked() {
            return;
        }
        l.frame_scheduled = true;
    }
    let live = live.clone();
    request_animation_frame(move || render(&live));
}

fn render(live: &Shared) {
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    l.frame_scheduled = false;
    if l.board.paused.get_untracked() {
        return;
    }
    // A render counter for the page-cost measurement (end2end/tests/perf.spec.ts).
    l.renders += 1;
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"__tickertapeRenders".into(), &(l.renders as f64).into());
    }
    let board = l.board;
    for i in 0..l.dirty.len() {
        if !std::mem::take(&mut l.dirty[i]) {
            continue;
        }
        let Some(row) = board.row(i) else { continue };
        let price = row.quote.with_untracked(|q| q.price);
        let dir = (price > l.rendered[i]) as i8 - (price < l.rendered[i]) as i8;
        l.rendered[i] = price;
        row.quote.notify();
        row.spark.notify();
        if dir != 0 {
            if row.tick.get_untracked() != dir {
                row.tick.set(dir);
            }
            if row.flash.get_untracked() != dir {
                row.flash.set(dir);
            }
            l.flash_until[i] = now + FLASH_MS;
        }
    }
    if std::mem::take(&mut l.chart_dirty) {
        board.chart.notify();
    }
}
