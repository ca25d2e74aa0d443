//! Browser-only glue between the SSE stream and the [`Board`]: where ticks enter the page.
//!
//! The stream is read with `fetch` and parsed by [`crate::sse::Parser`] rather than through
//! `EventSource` (or leptos-use's wrapper of it), because the page needs what EventSource hides:
//! keep-alive comments (so `Stale` means "nothing at all arrived", not "the market was quiet"),
//! the `Last-Event-ID` it resumes from, and its own reconnection policy (backoff with jitter,
//! forever). Written by hand in this one module for that reason.
//!
//! Data is stored into the board's signals *untracked* as it arrives; once per animation frame
//! the rows and chart that changed are notified, so the page renders at most once per frame
//! whatever the tick rate. Pausing stops the notifications, not the data.

use crate::candles::{CandleSeries, Interval};
use crate::chart::VISIBLE_CANDLES;
use crate::dashboard::{Board, Connection, LinkStats};
use crate::json::{self, FromJson};
use crate::protocol::{
    EVENT_RESYNC, EVENT_SNAPSHOT, EVENT_TICK, EventId, History, PollBatch, Snapshot, TickFrame, WireEvent,
};
use crate::sse::{Item, Parser};
use crate::view::Transport;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// How far back the latency and rate readouts look.
const STATS_WINDOW_MS: f64 = 5_000.0;
/// Upper bound of the reconnection delay.
const MAX_BACKOFF_MS: f64 = 30_000.0;
/// How long a row stays tinted after its last move.
const FLASH_MS: f64 = 450.0;

struct Live {
    board: Board,
    /// Id of the last event applied: where the next connection resumes.
    last_id: Option<String>,
    /// Rows stored since the last render.
    dirty: Vec<bool>,
    chart_dirty: bool,
    frame_scheduled: bool,
    /// Per row: the price when last rendered (for the tick direction), the cumulative volume
    /// (to turn quotes into trade sizes for candles), and when its flash ends.
    rendered: Vec<f64>,
    volume: Vec<u64>,
    flash_until: Vec<f64>,
    /// (arrival time, latency) of recent ticks, in ms.
    samples: VecDeque<(f64, f64)>,
    /// When anything (event or keep-alive) last arrived.
    last_activity: f64,
    /// Bumped to make the connection loop drop its stream and subscribe afresh.
    generation: u32,
    /// Ends the current connection (aborts the fetch, closes the WebSocket).
    cancel: Option<Box<dyn Fn()>>,
    failures: u32,
    /// While the chart's history is loading: ticks of the chart symbol, replayed after it.
    chart_backlog: Option<Vec<(u64, i64, f64, u64)>>,
    /// Animation frames in which something was rendered.
    renders: u64,
    /// Bytes received on the wire (payload, after HTTP framing), events received, connections
    /// or polls opened, and reconnections: the Transports view compares these.
    wire_bytes: u64,
    events: u64,
    opened: u64,
    reconnects: u64,
    /// Only the main dashboard writes the URL.
    sync_url: bool,
}

type Shared = Rc<RefCell<Live>>;

/// Connects the board to the stream, resuming after the server-rendered snapshot `from`.
pub fn start(board: Board, from: Option<EventId>, sync_url: bool) {
    let n = board.instruments.with_value(Vec::len);
    let rendered = board
        .rows
        .with_value(|rows| rows.iter().map(|r| r.quote.with_untracked(|q| q.price)).collect());
    let volume = board
        .rows
        .with_value(|rows| rows.iter().map(|r| r.quote.with_untracked(|q| q.volume)).collect());
    let live: Shared = Rc::new(RefCell::new(Live {
        board,
        last_id: from.map(|id| id.to_string()),
        dirty: vec![false; n],
        chart_dirty: false,
        frame_scheduled: false,
        rendered,
        volume,
        flash_until: vec![0.0; n],
        samples: VecDeque::new(),
        last_activity: js_sys::Date::now(),
        generation: 0,
        cancel: None,
        failures: 0,
        chart_backlog: None,
        renders: 0,
        wire_bytes: 0,
        events: 0,
        opened: 0,
        reconnects: 0,
        sync_url,
    }));

    spawn_local(run(live.clone()));
    follow_view(&live);

    // Resuming shows everything that arrived while paused, at once.
    {
        let live = live.clone();
        Effect::new(move |_| {
            if !board.paused.get() {
                schedule_frame(&live);
            }
        });
    }
    let timer = {
        let live = live.clone();
        set_interval_with_handle(move || housekeeping(&live), Duration::from_millis(250)).ok()
    };
    let keep = StoredValue::new_local(Some(live));
    on_cleanup(move || {
        if let Some(handle) = timer {
            handle.clear();
        }
        keep.update_value(|live| {
            if let Some(live) = live.take() {
                let mut l = live.borrow_mut();
                l.generation = u32::MAX;
                if let Some(cancel) = l.cancel.take() {
                    cancel();
                }
            }
        });
    });
}

/// Keeps the URL, the subscription and the chart in step with the view.
fn follow_view(live: &Shared) {
    let board = live.borrow().board;
    let sync_url = live.borrow().sync_url;
    let live = live.clone();
    Effect::new(
        move |previous: Option<(Option<Vec<String>>, Transport, String, Interval)>| {
            let view = board.view.get();
            if sync_url && let Some(window) = web_sys::window() {
                let query = view.to_query();
                let url = if query.is_empty() { "/".to_string() } else { query };
                if let Ok(history) = window.history() {
                    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
                }
            }
            let symbol = board.chart_symbol_untracked();
            let current = (view.symbols.clone(), view.transport, symbol.clone(), view.interval);
            if let Some((symbols, transport, old_symbol, old_interval)) = previous {
                if symbols != view.symbols {
                    resubscribe(&live, true);
                } else if transport != view.transport {
                    resubscribe(&live, false);
                }
                if old_symbol != symbol || old_interval != view.interval {
                    load_chart(&live, symbol, view.interval);
                }
            }
            current
        },
    );
}

/// Drops the current connection; the loop reconnects at once with the current view. With
/// `fresh`, it starts from a new snapshot (the selection changed); without, it resumes where it
/// was (only the transport changed).
fn resubscribe(live: &Shared, fresh: bool) {
    let mut l = live.borrow_mut();
    l.generation = l.generation.wrapping_add(1);
    if fresh {
        l.last_id = None;
    }
    if let Some(cancel) = l.cancel.take() {
        cancel();
    }
}

/// Replaces the chart with `symbol` at `interval`, backfilled from `/api/history`.
fn load_chart(live: &Shared, symbol: String, interval: Interval) {
    let board = live.borrow().board;
    board.chart.set(board.empty_chart(&symbol, interval));
    if symbol.is_empty() {
        return;
    }
    live.borrow_mut().chart_backlog = Some(Vec::new());
    let live = live.clone();
    spawn_local(async move {
        let url = format!(
            "/api/history?symbol={symbol}&interval={interval}&limit={}",
            VISIBLE_CANDLES * 2
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
                chart.series = CandleSeries::from_candles(interval, VISIBLE_CANDLES * 2, h.candles.iter().copied());
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

async fn fetch_json<T: FromJson>(url: &str) -> Option<T> {
    let window = web_sys::window()?;
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str(url)).await.ok()?.dyn_into().ok()?;
    if !resp.ok() {
        return None;
    }
    let text = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
    json::from_str(&text).ok()
}

/// The connection loop: connect, read until the connection ends or fails, back off, resume.
async fn run(live: Shared) {
    let mut attempts = 0u64;
    loop {
        let (generation, transport, symbols, last_id) = {
            let l = live.borrow();
            if l.generation == u32::MAX {
                return;
            }
            let view = l.board.view.with_untracked(|v| (v.transport, v.symbols.clone()));
            (
                l.generation,
                view.0,
                view.1.map(|list| list.join(",")),
                l.last_id.clone(),
            )
        };
        if attempts > 0 {
            live.borrow_mut().reconnects += 1;
        }
        attempts += 1;
        let opened = match transport {
            Transport::Sse => {
                let url = match &symbols {
                    Some(list) => format!("/api/stream?symbols={list}"),
                    None => "/api/stream".to_string(),
                };
                read_sse(&live, &url, last_id.as_deref()).await
            }
            Transport::Ws => read_ws(&live, symbols.as_deref(), last_id.as_deref()).await,
            Transport::Poll => read_poll(&live, symbols.as_deref()).await,
        };
        let mut l = live.borrow_mut();
        l.cancel = None;
        if l.generation == u32::MAX {
            return;
        }
        if l.generation != generation {
            continue; // a new subscription was asked for: no backoff
        }
        l.failures = if opened { 1 } else { l.failures.saturating_add(1) };
        l.board.connection.set(Connection::Reconnecting);
        // Exponential backoff with full jitter spreads a crowd of clients after a restart.
        let ceiling = (500.0 * 2f64.powi(l.failures.min(16) as i32 - 1)).min(MAX_BACKOFF_MS);
        let delay = ceiling * (0.5 + 0.5 * js_sys::Math::random());
        drop(l);
        let _ = sleep_ms(delay).await;
    }
}

/// Marks a connection as established.
fn established(live: &Shared) {
    let mut l = live.borrow_mut();
    l.opened += 1;
    l.last_activity = js_sys::Date::now();
    l.board.connection.set(Connection::Live);
}

/// A WebSocket or long-polling event as the SSE parser would have produced it.
fn item(event: WireEvent) -> Item {
    match event.data {
        Some(data) => Item::Event {
            event: event.kind,
            id: event.id,
            data,
        },
        // `heartbeat` (and anything without data): proof of life only.
        None => Item::Comment,
    }
}

/// A WebSocket session, resuming after `last_id`. Returns whether it opened.
async fn read_ws(live: &Shared, symbols: Option<&str>, last_id: Option<&str>) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let location = window.location();
    let scheme = if location.protocol().ok().as_deref() == Some("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().unwrap_or_default();
    let mut params = Vec::new();
    if let Some(list) = symbols {
        params.push(format!("symbols={list}"));
    }
    if let Some(id) = last_id {
        params.push(format!("last_event_id={id}"));
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    let Ok(socket) = web_sys::WebSocket::new(&format!("{scheme}://{host}/api/ws{query}")) else {
        return false;
    };

    let opened = Rc::new(std::cell::Cell::new(false));
    let done: Rc<RefCell<Option<js_sys::Function>>> = Rc::new(RefCell::new(None));
    let closed = js_sys::Promise::new(&mut |resolve, _| *done.borrow_mut() = Some(resolve));
    let finish = {
        let done = done.clone();
        move || {
            if let Some(resolve) = done.borrow_mut().take() {
                let _ = resolve.call0(&JsValue::NULL);
            }
        }
    };
    let on_open = {
        let (live, opened) = (live.clone(), opened.clone());
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            opened.set(true);
            established(&live);
        })
    };
    let on_message = {
        let live = live.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            live.borrow_mut().wire_bytes += text.len() as u64;
            if let Ok(event) = json::from_str::<WireEvent>(&text) {
                handle(&live, item(event));
            }
        })
    };
    let on_end = {
        let finish = finish.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| finish())
    };
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_end.as_ref().unchecked_ref()));
    socket.set_onerror(Some(on_end.as_ref().unchecked_ref()));
    {
        let socket = socket.clone();
        live.borrow_mut().cancel = Some(Box::new(move || {
            let _ = socket.close();
            finish();
        }));
    }
    let _ = JsFuture::from(closed).await;
    socket.set_onopen(None);
    socket.set_onmessage(None);
    socket.set_onclose(None);
    socket.set_onerror(None);
    let _ = socket.close();
    opened.get()
}

/// Long polling until a poll fails. Returns whether any poll succeeded.
async fn read_poll(live: &Shared, symbols: Option<&str>) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let mut any = false;
    loop {
        let (after, keepalive, generation) = {
            let l = live.borrow();
            (l.last_id.clone(), l.board.keepalive_ms, l.generation)
        };
        let mut params = vec![format!("timeout_ms={keepalive}")];
        if let Some(list) = symbols {
            params.push(format!("symbols={list}"));
        }
        if let Some(id) = after {
            params.push(format!("after={id}"));
        }
        let Ok(abort) = web_sys::AbortController::new() else {
            return any;
        };
        let init = web_sys::RequestInit::new();
        init.set_signal(Some(&abort.signal()));
        init.set_cache(web_sys::RequestCache::NoStore);
        live.borrow_mut().cancel = Some(Box::new(move || abort.abort()));
        let url = format!("/api/poll?{}", params.join("&"));
        let Ok(resp) = JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await else {
            return any;
        };
        let Ok(resp) = resp.dyn_into::<web_sys::Response>() else {
            return any;
        };
        if !resp.ok() {
            return any;
        }
        let Some(text) = (match resp.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        }) else {
            return any;
        };
        if live.borrow().generation != generation {
            return any;
        }
        let Ok(batch) = json::from_str::<PollBatch>(&text) else {
            return any;
        };
        if !any {
            any = true;
        }
        established(live);
        live.borrow_mut().wire_bytes += text.len() as u64;
        for event in batch.events {
            handle(live, item(event));
        }
        // The server's word on where to continue (also when the answer was empty).
        live.borrow_mut().last_id = Some(batch.next);
    }
}

/// Reads one SSE connection to its end. Returns whether it was established.
async fn read_sse(live: &Shared, url: &str, last_id: Option<&str>) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(abort) = web_sys::AbortController::new() else {
        return false;
    };
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&abort.signal()));
    init.set_cache(web_sys::RequestCache::NoStore);
    // No cookies are needed, and a request without credentials goes on a connection of its own
    // rather than one left idle by the page's assets: the server serves such a stream directly
    // on its socket, at a fraction of the memory (see server/src/conn.rs).
    init.set_credentials(web_sys::RequestCredentials::Omit);
    if let Ok(headers) = web_sys::Headers::new() {
        let _ = headers.set("Accept", "text/event-stream");
        if let Some(id) = last_id {
            let _ = headers.set("Last-Event-ID", id);
        }
        init.set_headers(&headers);
    }
    live.borrow_mut().cancel = Some(Box::new(move || abort.abort()));
    let Ok(resp) = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await else {
        return false;
    };
    let Ok(resp) = resp.dyn_into::<web_sys::Response>() else {
        return false;
    };
    let Some(reader) = resp
        .ok()
        .then(|| resp.body())
        .flatten()
        .and_then(|b| b.get_reader().dyn_into::<web_sys::ReadableStreamDefaultReader>().ok())
    else {
        return false;
    };
    established(live);
    let mut parser = Parser::new();
    let mut pending_bytes: Vec<u8> = Vec::new();
    let mut items = Vec::new();
    loop {
        let Ok(chunk) = JsFuture::from(reader.read()).await else {
            break;
        };
        if js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true)
        {
            break;
        }
        let Ok(bytes) = js_sys::Reflect::get(&chunk, &"value".into()) else {
            break;
        };
        let bytes = js_sys::Uint8Array::new(&bytes);
        live.borrow_mut().wire_bytes += bytes.length() as u64;
        pending_bytes.extend(bytes.to_vec());
        // Decode the valid UTF-8 prefix; keep a split multi-byte character for the next chunk.
        let valid = match std::str::from_utf8(&pending_bytes) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text: String = String::from_utf8_lossy(&pending_bytes[..valid]).into_owned();
        pending_bytes.drain(..valid);
        parser.push(&text, &mut items);
        for item in items.drain(..) {
            handle(live, item);
        }
    }
    true
}

fn handle(live: &Shared, item: Item) {
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    l.last_activity = now;
    if matches!(
        l.board.connection.get_untracked(),
        Connection::Stale | Connection::Reconnecting | Connection::Connecting
    ) {
        l.board.connection.set(Connection::Live);
    }
    let Item::Event { event, id, data } = item else {
        return;
    };
    l.events += 1;
    match event.as_str() {
        EVENT_SNAPSHOT | EVENT_RESYNC => {
            let Ok(snapshot) = json::from_str::<Snapshot>(&data) else {
                return;
            };
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
            let resync = event == EVENT_RESYNC;
            drop(l);
            if resync {
                // Trades were skipped: rebuild the chart from the server's candles.
                let board = live.borrow().board;
                let (symbol, interval) = board.chart.with_untracked(|c| (c.symbol.clone(), c.series.interval()));
                load_chart(live, symbol, interval);
            }
        }
        EVENT_TICK => {
            let Ok(frame) = json::from_str::<TickFrame>(&data) else {
                return;
            };
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
                row.quote.update_untracked(|old| *old = q);
                l.dirty[i] = true;
            }
            l.last_id = Some(id);
            drop(l);
        }
        _ => return,
    }
    schedule_frame(live);
}

/// Renders what changed at the next animation frame (once per frame; not while paused).
fn schedule_frame(live: &Shared) {
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

/// Every 250 ms: end flashes, detect a silent stream, move the time axes, update the readouts.
fn housekeeping(live: &Shared) {
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    let board = l.board;
    for i in 0..l.flash_until.len() {
        if l.flash_until[i] != 0.0 && now >= l.flash_until[i] {
            l.flash_until[i] = 0.0;
            if let Some(row) = board.row(i) {
                row.flash.set(0);
            }
        }
    }

    let keepalive = board.keepalive_ms as f64;
    let silent = now - l.last_activity;
    if board.connection.get_untracked() == Connection::Live && silent > 2.0 * keepalive {
        board.connection.set(Connection::Stale);
    }
    if board.connection.get_untracked() == Connection::Stale && silent > 4.0 * keepalive {
        // A connection this quiet is dead even if TCP has not noticed: reconnect and resume.
        if let Some(cancel) = l.cancel.take() {
            cancel();
        }
    }

    while l.samples.front().is_some_and(|(t, _)| now - t > STATS_WINDOW_MS) {
        l.samples.pop_front();
    }
    let mut lat: Vec<f64> = l.samples.iter().map(|(_, ms)| *ms).collect();
    lat.sort_by(f64::total_cmp);
    let median = (!lat.is_empty()).then(|| lat[lat.len() / 2].max(0.0));
    let p99 = (!lat.is_empty()).then(|| lat[(lat.len() * 99 / 100).min(lat.len() - 1)].max(0.0));
    let link = LinkStats {
        latency_p50: median,
        latency_p99: p99,
        bytes_per_event: (l.events > 0).then(|| l.wire_bytes as f64 / l.events as f64),
        opened: l.opened,
        reconnects: l.reconnects,
    };
    // Over the span actually observed, so a page open for two seconds does not under-report.
    let span = l
        .samples
        .front()
        .map_or(STATS_WINDOW_MS, |(t, _)| (now - t).clamp(1_000.0, STATS_WINDOW_MS));
    let rate = lat.len() as f64 / (span / 1000.0);
    let last_id = l.last_id.clone();
    drop(l);
    if board.last_event.with_untracked(|id| *id != last_id) {
        board.last_event.set(last_id);
    }
    if board.latency_ms.get_untracked() != median {
        board.latency_ms.set(median);
    }
    if board.event_rate.get_untracked() != rate {
        board.event_rate.set(rate);
    }
    if board.link.with_untracked(|old| *old != link) {
        board.link.set(link);
    }

    // The time axes advance even when nothing trades (server time ≈ now − latency).
    if !board.paused.get_untracked() {
        let server_now = (now - median.unwrap_or(0.0)) as i64;
        let moved = board.chart.with_untracked(|c| {
            c.series
                .last()
                .is_some_and(|last| c.series.interval().bucket(server_now) > last.t)
        });
        if moved {
            board.chart.update(|c| c.series.advance_to(server_now));
        }
    }
}

fn sleep_ms(ms: f64) -> JsFuture {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    JsFuture::from(promise)
}

/// Whether the page currently shows the dark theme (a remembered choice, else the system's).
pub fn theme_is_dark() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let chosen = window
        .document()
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("data-theme"));
    match chosen.as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => window
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .is_some_and(|m| m.matches()),
    }
}

/// Applies and remembers a theme choice.
pub fn set_theme(theme: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-theme", theme);
    }
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.set_item("tickertape-theme", theme);
    }
}
