//! Browser-only glue between the SSE stream and the [`Board`]: where ticks enter the page.
//!
//! Written against `web_sys::EventSource` directly rather than leptos-use's `use_event_source`
//! because the page needs three things that helper does not give: the id of every event (to
//! resume exactly), a first connection that resumes from the server-rendered snapshot
//! (`?last_event_id=`), and its own reconnection policy once the browser gives up.
//!
//! Incoming quotes are coalesced per symbol and written to the board once per animation frame,
//! so the page renders at most once per frame whatever the tick rate.

use crate::dashboard::{Board, Connection};
use crate::protocol::{
    EVENT_RESYNC, EVENT_SNAPSHOT, EVENT_TICK, EventId, Quote, Snapshot, TickFrame,
};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// How far back the latency and rate readouts look.
const STATS_WINDOW_MS: f64 = 5_000.0;
/// Upper bound of the reconnection delay.
const MAX_BACKOFF_MS: f64 = 30_000.0;

/// An open EventSource and the JS callbacks it holds; dropping it closes the connection.
struct Feed {
    source: EventSource,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.source.close();
    }
}

struct Live {
    board: Board,
    /// Id of the last event applied: the resume point of the next connection.
    last_id: Option<String>,
    /// Quotes received since the last animation frame, latest per symbol.
    pending: HashMap<String, Quote>,
    frame_scheduled: bool,
    /// (arrival time, latency) of recent ticks, both in ms.
    samples: VecDeque<(f64, f64)>,
    feed: Option<Feed>,
    /// Consecutive failed connections, for the backoff.
    failures: u32,
}

type Shared = Rc<RefCell<Live>>;

/// Connects the board to `/api/stream`, resuming after the server-rendered snapshot `from`.
pub fn start(board: Board, from: Option<EventId>) {
    let live: Shared = Rc::new(RefCell::new(Live {
        board,
        last_id: from.map(|id| id.to_string()),
        pending: HashMap::new(),
        frame_scheduled: false,
        samples: VecDeque::new(),
        feed: None,
        failures: 0,
    }));
    connect(&live);

    let stats = {
        let live = live.clone();
        set_interval_with_handle(move || update_stats(&live), Duration::from_millis(1_000)).ok()
    };
    let keep = StoredValue::new_local(Some(live));
    on_cleanup(move || {
        if let Some(handle) = stats {
            handle.clear();
        }
        // Dropping the feed closes the connection and breaks the Rc cycle through its handlers.
        keep.update_value(|live| {
            if let Some(live) = live.take() {
                live.borrow_mut().feed = None;
            }
        });
    });
}

fn connect(live: &Shared) {
    let url = match &live.borrow().last_id {
        Some(id) => format!("/api/stream?last_event_id={id}"),
        None => "/api/stream".to_string(),
    };
    let Ok(source) = EventSource::new(&url) else {
        schedule_reconnect(live);
        return;
    };
    let mut handlers = Vec::new();
    let mut on = |name: &str, f: Box<dyn FnMut(web_sys::Event)>| {
        let closure = Closure::wrap(f);
        let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
        handlers.push(closure);
    };
    {
        let live = live.clone();
        on(
            "open",
            Box::new(move |_| {
                let mut l = live.borrow_mut();
                l.failures = 0;
                l.board.connection.set(Connection::Live);
            }),
        );
    }
    {
        let live = live.clone();
        let source = source.clone();
        on(
            "error",
            Box::new(move |_| {
                live.borrow().board.connection.set(Connection::Reconnecting);
                // CONNECTING: the browser retries by itself, sending Last-Event-ID.
                // CLOSED: it gave up (e.g. a non-SSE answer while the server restarts); we retry.
                if source.ready_state() == EventSource::CLOSED {
                    live.borrow_mut().feed = None;
                    schedule_reconnect(&live);
                }
            }),
        );
    }
    for name in [EVENT_SNAPSHOT, EVENT_RESYNC] {
        let live = live.clone();
        on(
            name,
            Box::new(move |e| {
                let Some((id, data)) = message(&e) else {
                    return;
                };
                if let Ok(snapshot) = serde_json::from_str::<Snapshot>(&data) {
                    let mut l = live.borrow_mut();
                    l.pending.clear();
                    l.pending
                        .extend(snapshot.quotes.into_iter().map(|q| (q.symbol.clone(), q)));
                    l.last_id = Some(id);
                    drop(l);
                    schedule_frame(&live);
                }
            }),
        );
    }
    {
        let live = live.clone();
        on(
            EVENT_TICK,
            Box::new(move |e| {
                let Some((id, data)) = message(&e) else {
                    return;
                };
                if let Ok(frame) = serde_json::from_str::<TickFrame>(&data) {
                    let now = js_sys::Date::now();
                    let mut l = live.borrow_mut();
                    l.samples.push_back((now, now - frame.ts as f64));
                    l.pending
                        .extend(frame.quotes.into_iter().map(|q| (q.symbol.clone(), q)));
                    l.last_id = Some(id);
                    drop(l);
                    schedule_frame(&live);
                }
            }),
        );
    }
    live.borrow_mut().feed = Some(Feed {
        source,
        _handlers: handlers,
    });
}

/// The id and data of an SSE message event.
fn message(e: &web_sys::Event) -> Option<(String, String)> {
    let e = e.dyn_ref::<MessageEvent>()?;
    Some((e.last_event_id(), e.data().as_string()?))
}

/// Writes the pending quotes to the board at the next animation frame (once per frame).
fn schedule_frame(live: &Shared) {
    if std::mem::replace(&mut live.borrow_mut().frame_scheduled, true) {
        return;
    }
    let live = live.clone();
    request_animation_frame(move || {
        let (board, pending) = {
            let mut l = live.borrow_mut();
            l.frame_scheduled = false;
            (l.board.clone(), std::mem::take(&mut l.pending))
        };
        if board.connection.get_untracked() != Connection::Live {
            board.connection.set(Connection::Live);
        }
        board.apply(pending.into_values());
    });
}

fn schedule_reconnect(live: &Shared) {
    let failures = {
        let mut l = live.borrow_mut();
        l.failures = l.failures.saturating_add(1);
        l.failures
    };
    // Exponential backoff with full jitter: spreads a crowd of clients after a server restart.
    let ceiling = (500.0 * 2f64.powi(failures.min(16) as i32)).min(MAX_BACKOFF_MS);
    let delay = ceiling * (0.5 + 0.5 * js_sys::Math::random());
    let live = live.clone();
    set_timeout(move || connect(&live), Duration::from_millis(delay as u64));
}

fn update_stats(live: &Shared) {
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    while l
        .samples
        .front()
        .is_some_and(|(t, _)| now - t > STATS_WINDOW_MS)
    {
        l.samples.pop_front();
    }
    let mut lat: Vec<f64> = l.samples.iter().map(|(_, ms)| *ms).collect();
    lat.sort_by(f64::total_cmp);
    let median = (!lat.is_empty()).then(|| lat[lat.len() / 2].max(0.0));
    l.board.latency_ms.set(median);
    // Over the span actually observed, so a page open for two seconds does not under-report.
    let span = l.samples.front().map_or(STATS_WINDOW_MS, |(t, _)| {
        (now - t).clamp(1_000.0, STATS_WINDOW_MS)
    });
    l.board.event_rate.set(lat.len() as f64 / (span / 1000.0));
}
