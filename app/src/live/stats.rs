//! Every 250 ms: ends flashes, tells a silent stream (`Stale`) from a dead one, moves the
//! chart's time axis, and updates the latency, rate and link readouts. While the market streams,
//! what changes the page waits for the next of the ten-a-second redraws (`SLOW_RENDER_MS`), so
//! that the browser does not lay out and paint a frame for it alone.

use super::{STATS_WINDOW_MS, Shared};
use crate::state::board::{Connection, LinkStats};
use leptos::prelude::*;

/// Every 250 ms: end flashes, detect a silent stream, move the time axes, update the readouts.
pub(super) fn housekeeping(live: &Shared) {
    super::share::housekeeping(live);
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    let board = l.board;
    let mut flash_ends = Vec::new();
    for i in 0..l.flash_until.len() {
        if l.flash_until[i] != 0.0 && now >= l.flash_until[i] {
            l.flash_until[i] = 0.0;
            flash_ends.push(i);
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
    // Flashes that ended by the last round and are still waiting end with these.
    if let Some(waiting) = l.readouts.take() {
        flash_ends.extend(waiting.flash_ends);
    }
    let readouts = Readouts {
        flash_ends,
        last_id: l.last_id.clone(),
        latency: median,
        rate,
        link,
    };
    // Streaming (the rows were redrawn a moment ago): they go with the next redraw, which the
    // market brings. They do not bring one of their own: it would spend the redraws' budget and
    // put the market's next redraw off (`state::throttle`). Else, or if none came since the last
    // round, now.
    let streaming = !board.paused.get_untracked() && now - l.slow.drawn() < 2.0 * super::SLOW_RENDER_MS;
    if streaming {
        l.readouts = Some(readouts);
    } else {
        drop(l);
        readouts.show(board);
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

/// What housekeeping found for the page: flashes that ended (row indices) and the readouts.
pub(super) struct Readouts {
    flash_ends: Vec<usize>,
    last_id: Option<String>,
    latency: Option<f64>,
    rate: f64,
    link: LinkStats,
}

impl Readouts {
    /// Puts them on the page (only what changed is set).
    pub(super) fn show(self, board: crate::state::board::Board) {
        for i in self.flash_ends {
            if let Some(row) = board.row(i) {
                row.flash.set(0);
            }
        }
        if board.last_event.with_untracked(|id| *id != self.last_id) {
            board.last_event.set(self.last_id);
        }
        if board.latency_ms.get_untracked() != self.latency {
            board.latency_ms.set(self.latency);
        }
        if board.event_rate.get_untracked() != self.rate {
            board.event_rate.set(self.rate);
        }
        if board.link.with_untracked(|old| *old != self.link) {
            board.link.set(self.link);
        }
    }
}
