//! Browser-only glue between the feed and the [`Board`]: where ticks enter the page.
//!
//! One client per transport ([`sse`], [`ws`], [`poll`]) turns what arrives into the SSE
//! parser's [`Item`]s; [`apply`] stores them into the board and renders once per animation
//! frame; [`stats`] keeps the readouts, the badge and the time axis moving. This file owns the
//! connection loop: connect, read, back off, resume.
//!
//! The SSE stream is read with `fetch` and parsed by [`crate::wire::sse::Parser`] rather than through
//! `EventSource` (or leptos-use's wrapper of it), because the page needs what EventSource hides:
//! keep-alive comments (so `Stale` means "nothing at all arrived", not "the market was quiet"),
//! the `Last-Event-ID` it resumes from, and its own reconnection policy (backoff with jitter,
//! forever). Written by hand in this one module for that reason.
//!
//! Data is stored into the board's signals *untracked* as it arrives; once per animation frame
//! the rows and chart that changed are notified, so the page renders at most once per frame
//! whatever the tick rate. Pausing stops the notifications, not the data.

mod apply;
mod poll;
mod sse;
mod stats;
mod ws;

use crate::state::board::{Board, Connection};
use crate::state::view::Transport;
use crate::wire::protocol::EventId;
use crate::wire::protocol::Interval;
use apply::{load_chart, schedule_frame};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// How far back the latency and rate readouts look.
pub(super) const STATS_WINDOW_MS: f64 = 5_000.0;
/// Upper bound of the reconnection delay.
const MAX_BACKOFF_MS: f64 = 30_000.0;
/// How long a row stays tinted after its last move.
pub(super) const FLASH_MS: f64 = 450.0;

pub(super) struct Live {
    pub(super) board: Board,
    /// Id of the last event applied: where the next connection resumes.
    pub(super) last_id: Option<String>,
    /// Rows stored since the last render.
    pub(super) dirty: Vec<bool>,
    pub(super) chart_dirty: bool,
    pub(super) frame_scheduled: bool,
    /// Per row: the price when last rendered (for the tick direction), the cumulative volume
    /// (to turn quotes into trade sizes for candles), and when its flash ends.
    pub(super) rendered: Vec<i64>,
    pub(super) volume: Vec<u64>,
    pub(super) flash_until: Vec<f64>,
    /// (arrival time, latency) of recent ticks, in ms.
    pub(super) samples: VecDeque<(f64, f64)>,
    /// When anything (event or keep-alive) last arrived.
    pub(super) last_activity: f64,
    /// Bumped to make the connection loop drop its stream and subscribe afresh.
    pub(super) generation: u32,
    /// Ends the current connection (aborts the fetch, closes the WebSocket).
    pub(super) cancel: Option<Box<dyn Fn()>>,
    pub(super) failures: u32,
    /// While the chart's history is loading: ticks of the chart symbol, replayed after it.
    pub(super) chart_backlog: Option<Vec<(u64, i64, i64, u64)>>,
    /// Animation frames in which something was rendered.
    pub(super) renders: u64,
    /// Bytes received on the wire (payload, after HTTP framing), events received, connections
    /// or polls opened, and reconnections: the Transports view compares these.
    pub(super) wire_bytes: u64,
    pub(super) events: u64,
    pub(super) opened: u64,
    pub(super) reconnects: u64,
    /// Only the main dashboard writes the URL.
    pub(super) sync_url: bool,
}

pub(super) type Shared = Rc<RefCell<Live>>;

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
        set_interval_with_handle(move || stats::housekeeping(&live), Duration::from_millis(250)).ok()
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
                    load_chart(&live, symbol, view.interval, false);
                }
            } else if !symbol.is_empty() {
                // The first page carries the newest candles; the rest of the history follows.
                load_chart(&live, symbol, view.interval, true);
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
                sse::read(&live, &url, last_id.as_deref()).await
            }
            Transport::Ws => ws::read(&live, symbols.as_deref(), last_id.as_deref()).await,
            Transport::Poll => poll::read(&live, symbols.as_deref()).await,
        };
        let delay = {
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
            ceiling * (0.5 + 0.5 * js_sys::Math::random())
        };
        let _ = sleep_ms(delay).await;
    }
}

/// Marks a connection as established.
pub(super) fn established(live: &Shared) {
    let mut l = live.borrow_mut();
    l.opened += 1;
    l.last_activity = js_sys::Date::now();
    l.board.connection.set(Connection::Live);
}

fn sleep_ms(ms: f64) -> JsFuture {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    JsFuture::from(promise)
}
