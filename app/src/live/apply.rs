//! Applies what arrives to the board: quotes, sparklines, the chart and the book are stored
//! *untracked*, then the rows, chart and book that changed are notified once per animation
//! frame. Also the chart's backfill from `/api/history`, and the book's and tape's from
//! `/api/book` and `/api/trades`, each joined to the stream by `seq` without a gap or double
//! count.

use super::{FLASH_MS, Shared};
use crate::state::board::Connection;
use crate::state::candles::CandleSeries;
use crate::wire::book::{BookAt, BookUpdate, Print, Trades};
use crate::wire::json;
use crate::wire::protocol::{History, Incoming, Interval, StreamId};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
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

/// One tick's book updates and prints of the depth symbol, held while the book or tape loads.
pub(crate) struct DepthTick {
    seq: u64,
    books: Vec<BookUpdate>,
    prints: Vec<Print>,
}

/// Fetches the depth symbol's tape (`/api/trades`) and, with `book`, its book (`/api/book`,
/// after a checksum mismatch), then applies what the stream brought meanwhile on top, by seq.
pub(super) fn load_depth(live: &Shared, book: bool) {
    let board = live.borrow().board;
    let symbol = board.depth.with_untracked(|d| d.symbol.clone());
    if symbol.is_empty() || live.borrow().depth_backlog.is_some() {
        return; // depth is off, or a load under way will apply what arrives
    }
    live.borrow_mut().depth_backlog = Some(Vec::new());
    let live = live.clone();
    spawn_local(async move {
        let trades: Option<Trades> = fetch_json(&format!(
            "/api/trades?symbol={symbol}&limit={}",
            crate::state::page::TAPE_ROWS
        ))
        .await;
        let whole: Option<BookAt> = match book {
            true => fetch_json(&format!("/api/book?symbol={symbol}")).await,
            false => None,
        };
        if board.depth.with_untracked(|d| d.symbol != symbol) {
            return; // the user moved on while this loaded; a newer load owns the backlog
        }
        let mut l = live.borrow_mut();
        let backlog = l.depth_backlog.take().unwrap_or_default();
        board.depth.update_untracked(|depth| {
            let book_seq = whole.as_ref().map(|b| b.seq);
            if let Some(b) = whole {
                depth.replace(&BookUpdate {
                    symbol: b.symbol,
                    bids: b.bids,
                    asks: b.asks,
                    checksum: b.checksum,
                });
            }
            let tape_seq = trades.as_ref().map(|t| t.seq);
            if let Some(t) = &trades {
                depth.reprint(&t.trades);
            }
            for tick in backlog {
                if book_seq.is_none_or(|seq| tick.seq > seq) {
                    tick.books.iter().for_each(|u| {
                        depth.apply(u);
                    });
                }
                if tape_seq.is_none_or(|seq| tick.seq > seq) {
                    depth.print(tick.prints);
                }
            }
        });
        l.depth_dirty = true;
        l.slow.mark(None);
        let resync = !board.depth.with_untracked(|d| d.synced);
        drop(l);
        schedule_frame(&live);
        if resync {
            load_depth(&live, true); // still wrong (or the fetch failed): once more
        }
    });
}

/// How long a REST read may take before the page gives up on it (and tries again where it
/// needs the answer).
const FETCH_DEADLINE_MS: u32 = 30_000;

pub(super) async fn fetch_json<T: miniserde::Deserialize>(url: &str) -> Option<T> {
    json::from_str(&fetch_text(url, true, FETCH_DEADLINE_MS).await?).ok()
}

/// The body of a successful `GET url` (never from the cache; `cookies`: with the session's),
/// given up after `deadline_ms`.
pub(super) async fn fetch_text(url: &str, cookies: bool, deadline_ms: u32) -> Option<String> {
    let window = web_sys::window()?;
    let init = web_sys::RequestInit::new();
    init.set_cache(web_sys::RequestCache::NoStore);
    // `AbortSignal.timeout`, where the browser has it (looked up: web-sys gates it).
    let signal = js_sys::Reflect::get(&js_sys::global(), &"AbortSignal".into())
        .ok()
        .and_then(|class| {
            let timeout = js_sys::Reflect::get(&class, &"timeout".into()).ok()?;
            timeout
                .dyn_into::<js_sys::Function>()
                .ok()?
                .call1(&class, &deadline_ms.into())
                .ok()
        })
        .and_then(|signal| signal.dyn_into::<web_sys::AbortSignal>().ok());
    if let Some(signal) = &signal {
        init.set_signal(Some(signal));
    }
    if !cookies {
        init.set_credentials(web_sys::RequestCredentials::Omit);
    }
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    if !resp.ok() {
        return None;
    }
    JsFuture::from(resp.text().ok()?).await.ok()?.as_string()
}

/// Applies one event (any event, a keep-alive included, proves the connection alive), unless
/// the tab applied it already: a market event at or before its last market position, a private
/// one at or before its last private position (a resumed or caught-up stream replays some).
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
        Incoming::Account { id, state, resync } => {
            if !l.applied.admits_private(&id, resync) {
                return;
            }
            l.events += 1;
            count_in_page("__tickertapeAccountEvents");
            let board = l.board;
            drop(l);
            super::account::apply(board, state);
            if resync {
                // Notifications may be among what was skipped: the inbox is read again.
                super::alerts::load(board);
            }
            return;
        }
        Incoming::Notification { id, entry } => {
            if !l.applied.admits_private(&id, false) {
                return;
            }
            l.events += 1;
            let board = l.board;
            drop(l);
            super::alerts::notified(board, entry);
            return;
        }
        Incoming::Read { id, mark } => {
            if !l.applied.admits_private(&id, false) {
                return;
            }
            l.events += 1;
            let board = l.board;
            drop(l);
            super::alerts::marked(board, mark);
            return;
        }
        Incoming::Snapshot { id, snapshot, resync } => {
            // A resync replaces everything, wherever it is.
            let at = match resync {
                true => id.parse::<StreamId>().ok(),
                false => l.applied.admits(&id, true),
            };
            let Some(at) = at else { return };
            l.applied.market = Some(at.market);
            l.events += 1;
            count_in_page("__tickertapeSnapshots");
            l.slow.mark(Some(snapshot.ts as f64));
            for q in snapshot.quotes {
                let Some(i) = l.board.index_of(&q.symbol) else {
                    continue;
                };
                let Some(row) = l.board.row(i) else { continue };
                l.volume[i] = q.volume;
                row.quote.update_untracked(|old| *old = q);
                l.dirty[i] = true;
            }
            let depth_symbol = l.board.depth.with_untracked(|d| d.symbol.clone());
            let whole = snapshot.books.iter().find(|b| b.symbol == depth_symbol);
            if let Some(whole) = whole {
                l.board.depth.update_untracked(|d| d.replace(whole));
                l.depth_dirty = true;
            }
            let refresh_tape = whole.is_some();
            drop(l);
            if refresh_tape {
                // The snapshot carries the book; the tape comes from `/api/trades`.
                load_depth(live, false);
            }
            if resync {
                // Trades were skipped: rebuild the chart from the server's candles.
                let board = live.borrow().board;
                let (symbol, interval) = board.chart.with_untracked(|c| (c.symbol.clone(), c.series.interval()));
                load_chart(live, symbol, interval, false);
            }
        }
        Incoming::Tick { id, frame } => {
            let Some(at) = l.applied.admits(&id, false) else { return };
            l.applied.market = Some(at.market);
            record_seq(at.market.seq);
            l.events += 1;
            l.samples.push_back((now, now - frame.ts as f64));
            // The parts drawn ten times a second count their period on the market's clock.
            l.slow.mark(Some(frame.ts as f64));
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
            // The depth symbol's book changes and prints (a stream carries no others).
            let (mut books, mut prints) = (frame.books.unwrap_or_default(), frame.trades.unwrap_or_default());
            l.board.depth.with_untracked(|d| {
                books.retain(|b| b.symbol == d.symbol);
                prints.retain(|p| p.symbol == d.symbol);
            });
            let mut wrong = false;
            if !books.is_empty() || !prints.is_empty() {
                if let Some(backlog) = l.depth_backlog.as_mut() {
                    backlog.push(DepthTick {
                        seq: frame.seq,
                        books,
                        prints,
                    });
                } else {
                    l.board.depth.update_untracked(|d| {
                        for update in &books {
                            wrong |= !d.apply(update);
                        }
                        d.print(prints);
                    });
                    l.depth_dirty = true;
                }
            }
            drop(l);
            if wrong {
                // The book is not the server's: fetch it again (the count shows in the view).
                load_depth(live, true);
            }
        }
    }
    schedule_frame(live);
}

/// Counts in a number on `window` (for the end-to-end tests).
pub(super) fn count_in_page(name: &str) {
    let Some(window) = web_sys::window() else { return };
    let before = js_sys::Reflect::get(&window, &name.into())
        .ok()
        .and_then(|v| v.as_f64());
    let _ = js_sys::Reflect::set(&window, &name.into(), &(before.unwrap_or(0.0) + 1.0).into());
}

/// Keeps the sequence numbers of the last ticks applied in `window.__tickertapeSeqs` (at most
/// 4 096), so the end-to-end tests can see that none was missed or applied twice.
fn record_seq(seq: u64) {
    let Some(window) = web_sys::window() else { return };
    let seqs = match js_sys::Reflect::get(&window, &"__tickertapeSeqs".into()) {
        Ok(v) if js_sys::Array::is_array(&v) => v.unchecked_into::<js_sys::Array>(),
        _ => {
            let seqs = js_sys::Array::new();
            let _ = js_sys::Reflect::set(&window, &"__tickertapeSeqs".into(), &seqs);
            seqs
        }
    };
    seqs.push(&(seq as f64).into());
    if seqs.length() > 4_096 {
        // `splice` inserts its item: the oldest 1 024 out, then that item.
        seqs.splice(0, 1_024, &JsValue::UNDEFINED);
        seqs.shift();
    }
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
    // The parts drawn at a lower rate, together; not yet due, they are looked at again next
    // frame, so their last change is drawn even if nothing else arrives.
    let mut later = false;
    if let Some(due) = l.slow.due(now) {
        later = !due;
        if due {
            // First what housekeeping left for this redraw: a row that moved again since its
            // tint ended is tinted anew just below.
            if let Some(readouts) = l.readouts.take() {
                readouts.show(board);
            }
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
            if std::mem::take(&mut l.depth_dirty) {
                board.depth.notify();
            }
            board.redraws.update(|n| *n = n.wrapping_add(1));
        }
    }
    if std::mem::take(&mut l.chart_dirty) {
        board.chart.notify();
    }
    if later {
        drop(l);
        schedule_frame(live);
    }
}
