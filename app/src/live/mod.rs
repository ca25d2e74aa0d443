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

pub(crate) mod account;
pub(crate) mod alerts;
mod apply;
mod poll;
mod share;
mod sse;
mod stats;
mod ws;

pub(crate) use share::session_changed;

use crate::state::board::{Board, Connection};
use crate::state::throttle::Throttle;
use crate::state::view::Transport;
use crate::state::wants::Wants;
use crate::wire::protocol::Interval;
use crate::wire::protocol::{EventId, StreamId, WireReport};
use apply::{load_chart, schedule_frame};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// How often the Transports view asks the server what each transport carried.
const WIRE_EVERY: Duration = Duration::from_secs(2);

/// While the calling view lives, every [`WIRE_EVERY`]: each transport's bytes on the wire per
/// event (in [`Transport::ALL`]'s order), from the server's own accounting (`/api/wire`) over
/// the last interval; a transport that delivered nothing meanwhile keeps its last figure.
pub fn watch_wire(rates: RwSignal<[Option<f64>; 3]>) {
    let last: Rc<RefCell<Option<WireReport>>> = Rc::default();
    let sample = move || {
        let last = last.clone();
        spawn_local(async move {
            let Some(report) = apply::fetch_json::<WireReport>("/api/wire").await else {
                return;
            };
            let mut last = last.borrow_mut();
            let before = rates.get_untracked();
            let mut now = [None; 3];
            for (i, transport) in Transport::ALL.into_iter().enumerate() {
                now[i] = report.per_event(last.as_ref(), transport.as_str()).or(before[i]);
            }
            rates.set(now);
            *last = Some(report);
        });
    };
    sample();
    let timer = set_interval_with_handle(sample, WIRE_EVERY).ok();
    on_cleanup(move || {
        if let Some(handle) = timer {
            handle.clear();
        }
    });
}

/// How far back the latency and rate readouts look.
pub(super) const STATS_WINDOW_MS: f64 = 5_000.0;
/// Upper bound of the reconnection delay.
const MAX_BACKOFF_MS: f64 = 30_000.0;
/// How long a row stays tinted after its last move.
pub(super) const FLASH_MS: f64 = 450.0;
/// The period of the redraws of the parts of the page drawn at most ten times a second:
/// the watchlist's rows (prices, changes, bid, ask, volume and their tint), the sparklines, and
/// the book, the depth chart and the tape. Ten a second is the rate trading screens refresh such
/// tables at, and exchanges publish depth to screens at (Binance's fastest depth stream is every
/// 100 ms). Text in a table is what the browser lays out and paints: at every animation frame of
/// a 200 Hz market the rows, and the book (which re-forms around the new touch at each trade),
/// each took more of the main thread than the rest of the page (BENCHMARKS.md, "Page cost" and
/// "Page cost against lightweight-charts"). They share one clock, counted in market time
/// ([`Throttle`]), so that the browser lays out and paints once for all of them, not in frames of
/// their own; the readouts and the end of a tint go with them while the market streams. The
/// chart and its last price still redraw at every frame; every tick is applied as it arrives,
/// only the drawing waits.
pub(super) const SLOW_RENDER_MS: f64 = 100.0;

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
    /// Sends a message on the current connection (a WebSocket's; `false`: it could not).
    pub(super) send: Option<Sender>,
    pub(super) failures: u32,
    /// While the chart's history is loading: ticks of the chart symbol, replayed after it.
    pub(super) chart_backlog: Option<Vec<(u64, i64, i64, u64)>>,
    /// While the book or the tape is loading: each tick's book updates and prints (with its
    /// seq), applied after it.
    pub(super) depth_backlog: Option<Vec<apply::DepthTick>>,
    /// The book, the depth chart or the tape changed since they were drawn.
    pub(super) depth_dirty: bool,
    /// The redraws of the rows, the sparklines and the depth panel (`SLOW_RENDER_MS`).
    pub(super) slow: Throttle,
    /// Readouts and flash ends waiting for the next of those redraws.
    readouts: Option<stats::Readouts>,
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
    /// Where this tab's state is exact: events at or before it are not applied again.
    pub(super) applied: Applied,
    /// The tab's part in its browser's shared stream (`None`: a connection of its own).
    pub(super) share: Option<share::Share>,
}

/// The last market and private positions a tab applied.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Applied {
    pub(super) market: Option<EventId>,
    pub(super) private: Option<u64>,
}

impl Applied {
    /// The market event at `id`, if it is to be applied: past the last market position (with
    /// `again`, also at it: a snapshot is the state there), or of a new epoch (the server
    /// restarted).
    pub(super) fn admits(&self, id: &str, again: bool) -> Option<StreamId> {
        let id: StreamId = id.parse().ok()?;
        match self.market {
            Some(a) if a.epoch == id.market.epoch && (id.market.seq < a.seq || (id.market.seq == a.seq && !again)) => {
                None
            }
            _ => Some(id),
        }
    }

    /// Whether the user's own event at `id` is to be applied (past the last private position,
    /// or a resync, which replaces whatever came before); records its position if so.
    pub(super) fn admits_private(&mut self, id: &str, resync: bool) -> bool {
        let Ok(id) = id.parse::<StreamId>() else { return false };
        let n = id.private.unwrap_or_default();
        if !resync && self.private.is_some_and(|p| n <= p) {
            return false;
        }
        self.private = Some(n);
        true
    }
}

pub(super) type Shared = Rc<RefCell<Live>>;

/// Sends a text message on a connection; `false` if it could not.
pub(super) type Sender = Box<dyn Fn(&str) -> bool>;

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
        send: None,
        failures: 0,
        chart_backlog: None,
        depth_backlog: None,
        depth_dirty: false,
        slow: Throttle::new(SLOW_RENDER_MS),
        readouts: None,
        renders: 0,
        wire_bytes: 0,
        events: 0,
        opened: 0,
        reconnects: 0,
        sync_url,
        applied: Applied {
            market: from,
            private: None,
        },
        share: None,
    }));

    // The main dashboard shares its browser's stream; the Transports view compares three
    // connections of its own.
    if !(sync_url && share::start(&live)) {
        spawn_local(run(live.clone(), None));
    }
    follow_view(&live);
    follow_session(&live);
    if sync_url {
        account::save_view_while_signed_in(board);
    }

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

/// What of the view the stream and the chart follow: the symbols, the transport, the chart's
/// symbol and interval, and whether depth is shown.
type Followed = (Option<Vec<String>>, Transport, String, Interval, bool);

/// Keeps the URL, the subscription and the chart in step with the view.
fn follow_view(live: &Shared) {
    let board = live.borrow().board;
    let sync_url = live.borrow().sync_url;
    let live = live.clone();
    Effect::new(move |previous: Option<Followed>| {
        let view = board.view.get();
        if sync_url && let Some(window) = web_sys::window() {
            let query = view.to_query();
            let url = if query.is_empty() { "/".to_string() } else { query };
            if let Ok(history) = window.history() {
                let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
            }
        }
        let symbol = board.chart_symbol_untracked();
        let current = (
            view.symbols.clone(),
            view.transport,
            symbol.clone(),
            view.interval,
            view.depth,
        );
        if let Some((symbols, transport, old_symbol, old_interval, old_depth)) = previous {
            let depth_changed = old_depth != view.depth || (view.depth && old_symbol != symbol);
            if depth_changed {
                // The new book comes whole with the new subscription's snapshot.
                board
                    .depth
                    .set(board.empty_depth(view.depth.then_some(symbol.as_str())));
                live.borrow_mut().depth_backlog = None;
            }
            let shared = live.borrow().share.is_some();
            if symbols != view.symbols || depth_changed {
                if shared {
                    share::wants_changed(&live);
                } else {
                    resubscribe(&live, true);
                }
            } else if transport != view.transport {
                if shared {
                    share::transport_changed(&live, view.transport);
                }
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
    });
}

/// Reconnects when who is signed in changes, so the stream carries the new session's events (or
/// none), resuming the market where it was; the new user's own events start afresh.
fn follow_session(live: &Shared) {
    let board = live.borrow().board;
    let live = live.clone();
    Effect::new(move |previous: Option<u32>| {
        let session = board.session.get();
        if previous != Some(session) {
            // Whoever is signed in now: their alerts and inbox (none when anonymous).
            alerts::load(board);
        }
        if previous.is_some_and(|p| p != session) {
            {
                let mut l = live.borrow_mut();
                l.last_id = l.last_id.take().map(|id| share::market_part(&id).to_string());
                l.applied.private = None;
            }
            resubscribe(&live, false);
        }
        session
    });
}

/// Drops the current connection; the loop reconnects at once with the current view. With
/// `fresh`, it starts from a new snapshot (the selection changed); without, it resumes where it
/// was (only the transport changed).
pub(super) fn resubscribe(live: &Shared, fresh: bool) {
    let mut l = live.borrow_mut();
    l.generation = l.generation.wrapping_add(1);
    if fresh {
        l.last_id = None;
    }
    if let Some(cancel) = l.cancel.take() {
        cancel();
    }
}

/// Whether the connection loop of `term` (`None`: a tab's own connection) should end: the page
/// is gone, or the tab no longer holds the shared stream it was started for.
fn ended(l: &Live, term: Option<u32>) -> bool {
    l.generation == u32::MAX || term.is_some_and(|t| l.share.as_ref().is_none_or(|s| !s.leading || s.term != t))
}

/// The connection loop: connect, read until the connection ends or fails, back off, resume.
/// `term`: the loop of a tab holding its browser's shared stream, which selects what all the
/// tabs want.
async fn run(live: Shared, term: Option<u32>) {
    let mut attempts = 0u64;
    loop {
        let (generation, transport, selection, last_id) = {
            let mut l = live.borrow_mut();
            if ended(&l, term) {
                return;
            }
            let transport = l.board.view.with_untracked(|v| v.transport);
            let wants = match term {
                Some(_) => share::union(&l),
                None => Wants::of(&l.board),
            };
            let selection = wants.query();
            if let Some(s) = l.share.as_mut() {
                s.connected = Some(wants);
                s.announced = false;
            }
            (l.generation, transport, selection, l.last_id.clone())
        };
        if attempts > 0 {
            live.borrow_mut().reconnects += 1;
        }
        attempts += 1;
        let opened = match transport {
            Transport::Sse => {
                let url = match selection.is_empty() {
                    false => format!("/api/stream?{}", selection.join("&")),
                    true => "/api/stream".to_string(),
                };
                sse::read(&live, &url, last_id.as_deref()).await
            }
            Transport::Ws => ws::read(&live, &selection, last_id.as_deref()).await,
            Transport::Poll => poll::read(&live, &selection).await,
        };
        let delay = {
            let mut l = live.borrow_mut();
            l.cancel = None;
            l.send = None;
            if ended(&l, term) {
                return;
            }
            if l.generation != generation {
                continue; // a new subscription was asked for: no backoff
            }
            l.failures = if opened { 1 } else { l.failures.saturating_add(1) };
            l.board.connection.set(Connection::Reconnecting);
            share::reconnecting(&l);
            // Exponential backoff with full jitter spreads a crowd of clients after a restart.
            let ceiling = (500.0 * 2f64.powi(l.failures.min(16) as i32 - 1)).min(MAX_BACKOFF_MS);
            ceiling * (0.5 + 0.5 * js_sys::Math::random())
        };
        let _ = sleep_ms(delay).await;
    }
}

/// Marks a connection as established (and, holding the shared stream, tells the other tabs
/// what it carries, before anything it brings).
pub(super) fn established(live: &Shared) {
    {
        let mut l = live.borrow_mut();
        l.opened += 1;
        l.last_activity = js_sys::Date::now();
        l.board.connection.set(Connection::Live);
    }
    share::announce(live);
}

pub(super) fn sleep_ms(ms: f64) -> JsFuture {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    JsFuture::from(promise)
}
