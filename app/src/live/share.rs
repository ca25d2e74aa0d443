//! One stream per browser, shared by all its dashboard tabs.
//!
//! Browsers open at most six HTTP/1.1 connections to a site, and a tab's stream holds one for
//! as long as it lives: without sharing, a seventh tab never connects. So the tabs elect one
//! holder with the Web Locks API (the lock [`LOCK`]; the browser grants it to the next tab in
//! line the moment its holder closes or crashes), the holder runs the connection loop, and
//! every unit it reads (an SSE event, a WebSocket message, a poll answer, a keep-alive) is
//! posted as it came to the other tabs on a `BroadcastChannel`, in order. Every tab, the
//! holder included, then applies the units itself, so a tab that takes the stream over has
//! seen exactly what the others have and resumes from the same id.
//!
//! What the stream selects is the union of what the tabs want ([`Wants`]): each tab announces
//! its symbols and depth symbol (`hello`), the holder connects with the union and says so
//! (`union`). A tab applies the stream only while it is *covered*: the union holds its wants and
//! its state is exact at the position it applied last. A tab that is not (just opened, or its
//! selection grew) keeps what arrives aside, waits for a union that holds it, then catches up
//! with one long poll of its own selection (from its first render's id, or afresh with a
//! snapshot when its selection grew) and applies what it kept after it. Events are applied at
//! most once per tab: a market event only past the tab's last market position, a private one
//! only past its last private position, so the replays of a resumed or caught-up stream are
//! skipped.
//!
//! The holder says it is alive at least every [`HEARTBEAT_MS`]; a visible tab that hears
//! nothing for [`STEAL_VISIBLE_MS`] (the holder froze or hung with the lock held) steals the
//! lock, and the old holder steps down when it wakes. The transport and who is signed in are
//! the browser's: a change in one tab is posted to the others.
//!
//! Without Web Locks or BroadcastChannel each tab keeps its own connection, as before; so does
//! the Transports view, which compares three.

use super::apply::{fetch_text, handle};
use super::{Live, Shared, resubscribe};
use crate::state::board::{Connection, Sharing};
use crate::state::view::Transport;
use crate::state::wants::{MAX_DEPTH, Wants};
use crate::wire::json;
use crate::wire::protocol::{EventId, Incoming, PollBatch, WireEvent};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// The Web Lock the holder of the stream keeps.
const LOCK: &str = "tickertape-stream";
/// The channel the tabs talk on.
const CHANNEL: &str = "tickertape";
/// The holder posts something at least this often.
pub(super) const HEARTBEAT_MS: f64 = 250.0;
/// A visible tab takes the stream over after this long without a word from its holder (with
/// the quarter-second housekeeping and the lock's grant, within a second with room to spare:
/// 750 ms once took just over a second in a loaded test run); a hidden one (whose timers the browser
/// slows down) waits [`STEAL_HIDDEN_MS`].
const STEAL_VISIBLE_MS: f64 = 600.0;
const STEAL_HIDDEN_MS: f64 = 10_000.0;
/// A tab that just opened waits this much longer before it doubts the holder.
const STARTUP_GRACE_MS: f64 = 2_000.0;
/// The holder repeats what its stream carries at least this often.
const TELL_UNION_MS: f64 = 1_000.0;
/// Events kept aside while a tab catches up; past it, the tab starts afresh from a snapshot.
const MAX_KEPT: usize = 4_096;
/// Other tabs a tab keeps track of (a tab that crashes never says goodbye).
const MAX_MEMBERS: usize = 64;

/// The WebSocket command that makes a connection carry `wants`.
fn set_command(wants: &Wants) -> String {
    let symbols = wants
        .symbols
        .as_deref()
        .map_or_else(|| "null".to_string(), super::account::quote_all);
    format!(
        r#"{{"op":"set","symbols":{symbols},"depth":{}}}"#,
        super::account::quote_all(&wants.depth)
    )
}

/// What came off the wire, as the holder forwards it to the other tabs.
pub(super) enum Unit {
    /// An SSE event.
    Sse { event: String, id: String, data: String },
    /// An SSE comment (a keep-alive).
    Alive,
    /// A WebSocket message.
    Wire(String),
    /// A long poll's answer.
    Batch(String),
}

impl Unit {
    /// The events it carries, and the stream position after it (`None` for the events: it is
    /// not what it should be).
    fn decode(&self) -> (Option<Vec<Incoming>>, Option<String>) {
        match self {
            Unit::Sse { event, id, data } => {
                let incoming = Incoming::from_sse(event, id.clone(), data).unwrap_or(Incoming::Alive);
                let position = incoming.id().map(str::to_string);
                (Some(vec![incoming]), position)
            }
            Unit::Alive => (Some(vec![Incoming::Alive]), None),
            Unit::Wire(text) => match json::from_str::<WireEvent>(text) {
                Ok(event) => {
                    let incoming = Incoming::from_wire(event);
                    let position = incoming.id().map(str::to_string);
                    (Some(vec![incoming]), position)
                }
                Err(_) => (None, None),
            },
            Unit::Batch(text) => match json::from_str::<PollBatch>(text) {
                Ok(batch) => (
                    Some(batch.events.into_iter().map(Incoming::from_wire).collect()),
                    Some(batch.next),
                ),
                Err(_) => (None, None),
            },
        }
    }

    fn post(&self, channel: &web_sys::BroadcastChannel) {
        match self {
            Unit::Sse { event, id, data } => post(channel, &["e", event, id, data]),
            Unit::Alive => post(channel, &["a"]),
            Unit::Wire(text) => post(channel, &["w", text]),
            Unit::Batch(text) => post(channel, &["b", text]),
        }
    }
}

fn post(channel: &web_sys::BroadcastChannel, parts: &[&str]) {
    let message: js_sys::Array = parts.iter().map(|p| JsValue::from_str(p)).collect();
    let _ = channel.post_message(&message);
}

/// A tab's part in the sharing.
pub(crate) struct Share {
    channel: web_sys::BroadcastChannel,
    /// This tab's name on the channel.
    tab: String,
    pub(super) leading: bool,
    /// Bumped at every change of role: the connection loop of an older one ends.
    pub(super) term: u32,
    /// The other tabs and what they want.
    members: Vec<(String, Wants)>,
    /// What the holder's stream carries, as last announced.
    union: Option<Wants>,
    /// What the holder's current connection was opened with (while holding), and whether the
    /// other tabs were told.
    pub(super) connected: Option<Wants>,
    pub(super) announced: bool,
    /// What a WebSocket `set` asked the holder's connection to carry, until its snapshot comes.
    pending: Option<Wants>,
    /// What this tab's state is exact for (at its last applied position).
    synced: Wants,
    /// Whether the stream is applied as it comes (see the module's docs).
    covered: bool,
    catching_up: bool,
    /// What arrived while not covered, applied after the catch-up; bumped `dropped` when it
    /// overflowed (a catch-up under way then starts over).
    kept: Vec<Incoming>,
    dropped: u32,
    /// When the holder was last heard from, when this tab last posted (while holding), and when
    /// its housekeeping last ran.
    heard: f64,
    said: f64,
    ticked: f64,
    /// Cancels this tab's place in the lock's queue (to steal it instead).
    queued: Option<web_sys::AbortController>,
    /// Numbers lock requests, so a rejection is matched to the request it ends.
    requests: u32,
    held: Option<u32>,
    /// Ends the held lock's request: hands the lock on.
    release: Option<js_sys::Function>,
    /// When the holder last told the others what its stream carries.
    told: f64,
    stealing: bool,
    /// Kept alive while the page lives: the channel's listener.
    _listener: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

/// Whether this browser can share a stream between tabs.
fn supported() -> Option<JsValue> {
    let window = web_sys::window()?;
    let has_channel = js_sys::Reflect::has(&window, &"BroadcastChannel".into()).unwrap_or(false);
    let locks = js_sys::Reflect::get(&window.navigator(), &"locks".into()).ok()?;
    (has_channel && locks.is_object()).then_some(locks)
}

/// Joins the browser's shared stream: returns `false` (and the tab keeps its own connection)
/// where the browser cannot share one.
pub(super) fn start(live: &Shared) -> bool {
    if supported().is_none() {
        return false;
    }
    let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) else {
        return false;
    };
    let listener = {
        let live = live.clone();
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let parts: Vec<String> = js_sys::Array::from(&e.data())
                .iter()
                .filter_map(|p| p.as_string())
                .collect();
            on_message(&live, &parts);
        })
    };
    channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
    CHANNEL_OF_TAB.with_borrow_mut(|c| *c = Some(channel.clone()));
    let tab = format!("{:x}", (js_sys::Math::random() * 2f64.powi(52)) as u64);
    let now = js_sys::Date::now();
    {
        let mut l = live.borrow_mut();
        let synced = Wants::of(&l.board);
        l.board.sharing.set(Sharing::Through);
        l.share = Some(Share {
            channel,
            tab,
            leading: false,
            term: 0,
            members: Vec::new(),
            union: None,
            connected: None,
            announced: false,
            pending: None,
            synced,
            covered: false,
            catching_up: false,
            kept: Vec::new(),
            dropped: 0,
            // A new tab gives the holder time to hear of it and answer before doubting it.
            heard: now + STARTUP_GRACE_MS,
            said: now,
            ticked: now,
            queued: None,
            requests: 0,
            held: None,
            release: None,
            told: now,
            stealing: false,
            _listener: listener,
        });
    }
    hello(live, true);
    request_lock(live, false);
    if let Some(window) = web_sys::window() {
        // Leaving: the others forget this tab's wants, and the next in line gets the stream at
        // once rather than when the browser tears the page down. Coming back from the
        // back/forward cache: a new member, which missed what came meanwhile.
        let leave = {
            let live = live.clone();
            Closure::<dyn FnMut()>::new(move || leave(&live))
        };
        let back = {
            let live = live.clone();
            Closure::<dyn FnMut(web_sys::PageTransitionEvent)>::new(move |e: web_sys::PageTransitionEvent| {
                if e.persisted() {
                    if let Some(s) = live.borrow_mut().share.as_mut() {
                        s.covered = false;
                    }
                    hello(&live, true);
                    request_lock(&live, false);
                }
            })
        };
        let _ = window.add_event_listener_with_callback("pagehide", leave.as_ref().unchecked_ref());
        let _ = window.add_event_listener_with_callback("pageshow", back.as_ref().unchecked_ref());
        leave.forget(); // both live as long as the page
        back.forget();
    }
    true
}

/// The page goes away (or into the back/forward cache): says so, and hands the stream on.
fn leave(live: &Shared) {
    let mut l = live.borrow_mut();
    let board = l.board;
    let Some(s) = l.share.as_mut() else { return };
    post(&s.channel, &["bye", &s.tab]);
    if let Some(queued) = s.queued.take() {
        queued.abort();
    }
    if let Some(release) = s.release.take() {
        let _ = release.call0(&JsValue::NULL);
    }
    s.held = None;
    s.leading = false;
    s.connected = None;
    s.term = s.term.wrapping_add(1);
    board.sharing.set(Sharing::Through);
    if let Some(cancel) = l.cancel.take() {
        cancel();
    }
}

/// Leaves the sharing for good: this tab opens a connection of its own, from a snapshot.
fn go_alone(live: &Shared) {
    leave(live);
    let mut l = live.borrow_mut();
    if let Some(s) = l.share.take() {
        s.channel.set_onmessage(None);
        s.channel.close();
    }
    CHANNEL_OF_TAB.with_borrow_mut(|c| *c = None);
    l.board.sharing.set(Sharing::Own);
    l.last_id = None;
    drop(l);
    spawn_local(super::run(live.clone(), None));
}

/// Tells the other tabs what this one wants (`reply`: and asks them to say what they want).
fn hello(live: &Shared, reply: bool) {
    let l = live.borrow();
    let Some(s) = l.share.as_ref() else { return };
    let [symbols, depth] = Wants::of(&l.board).encode();
    post(
        &s.channel,
        &["hello", &s.tab, &symbols, &depth, if reply { "1" } else { "" }],
    );
}

/// What the stream must carry: this tab's wants widened by every other tab's.
pub(super) fn union(l: &Live) -> Wants {
    let mut union = Wants::of(&l.board);
    if let Some(s) = l.share.as_ref() {
        for (_, wants) in &s.members {
            union.widen(wants);
        }
    }
    union
}

/// Everything that came off the holder's connection, or from the channel, goes through here:
/// forwarded (by the holder), its position kept for a resume, then applied, or kept aside
/// while the tab catches up. Returns whether the unit was readable.
pub(super) fn receive(live: &Shared, unit: Unit) -> bool {
    let (Some(events), position) = unit.decode() else {
        return false;
    };
    let now = js_sys::Date::now();
    let mut l = live.borrow_mut();
    l.last_activity = now;
    if let Some(position) = position {
        l.last_id = Some(position);
    }
    let (mut refused, mut took) = (false, false);
    if let Some(s) = l.share.as_mut() {
        if s.leading && s.pending.is_some() {
            if events.iter().any(|e| matches!(e, Incoming::Snapshot { .. })) {
                // The `set` took: what follows carries the wider selection; say so first.
                s.connected = s.pending.take();
                s.union = s.connected.clone();
                tell_union(s);
                took = true;
            } else if matches!(&unit, Unit::Wire(text) if text.starts_with(r#"{"type":"error""#)) {
                s.pending = None;
                refused = true;
            }
        }
        // Alone, the holder posts nothing: a tab that opens says so first, and catches up on
        // what came before.
        if s.leading && !s.members.is_empty() {
            unit.post(&s.channel);
            s.said = now;
        }
        if !s.covered {
            s.kept
                .extend(events.into_iter().filter(|e| !matches!(e, Incoming::Alive)));
            if s.kept.len() > MAX_KEPT {
                // Too far behind to replay: the catch-up will start afresh from a snapshot.
                s.kept.clear();
                s.dropped = s.dropped.wrapping_add(1);
                s.synced = Wants {
                    symbols: Some(Vec::new()),
                    depth: Vec::new(),
                };
            }
            drop(l);
            if refused {
                resubscribe(live, false); // the server would not widen it: a new connection
            }
            if took {
                widen(live); // what tabs asked for while the `set` was answered
            }
            // (The stream may now carry what this tab wants: the holder's own `set` took.)
            check_cover(live);
            return true;
        }
    }
    drop(l);
    for incoming in events {
        handle(live, incoming);
    }
    if refused {
        resubscribe(live, false);
    }
    if took {
        widen(live); // what tabs asked for while the `set` was answered
    }
    true
}

/// The holder's connection opened with `connected`: the tabs learn what it carries.
pub(super) fn announce(live: &Shared) {
    {
        let mut l = live.borrow_mut();
        let Some(s) = l.share.as_mut() else { return };
        let Some(connected) = s.connected.clone().filter(|_| s.leading && !s.announced) else {
            return;
        };
        s.announced = true;
        tell_union(s);
        s.said = s.told;
        s.union = Some(connected);
    }
    widen(live); // tabs that came while it was opening
    check_cover(live);
}

/// The holder's connection failed: the other tabs show it too.
pub(super) fn reconnecting(l: &Live) {
    if let Some(s) = l.share.as_ref().filter(|s| s.leading) {
        post(&s.channel, &["reconnecting"]);
    }
}

/// If this tab is not covered and the stream now carries what it wants, catches it up.
fn check_cover(live: &Shared) {
    let after = {
        let mut l = live.borrow_mut();
        let wants = Wants::of(&l.board);
        let resume_point = l.applied.market.map(|m| m.to_string());
        let at_applied = l.last_id.as_deref().map(market_part) == resume_point.as_deref();
        let Some(s) = l.share.as_mut() else { return };
        if s.covered || s.catching_up || !s.union.as_ref().is_some_and(|u| u.covers(&wants)) {
            return;
        }
        let exact = s.synced.covers(&wants);
        if exact && s.leading && s.kept.is_empty() && at_applied {
            // The holder's own stream resumed from where this tab's state is exact.
            s.covered = true;
            s.synced = wants;
            return;
        }
        s.catching_up = true;
        // From the last applied position while the state is exact for what the tab wants;
        // afresh (a snapshot) when the selection grew.
        if exact { resume_point } else { None }
    };
    spawn_local(catch_up(live.clone(), after));
}

/// One long poll of this tab's own selection, from `after` (or a snapshot), then what was kept
/// aside meanwhile.
async fn catch_up(live: Shared, after: Option<String>) {
    let wants = Wants::of(&live.borrow().board);
    let dropped = live.borrow().share.as_ref().map(|s| s.dropped);
    let mut params = wants.query();
    params.push(format!("timeout_ms={}", live.borrow().board.keepalive_ms));
    if let Some(after) = &after {
        params.push(format!("after={after}"));
    }
    // Market data only: this tab's private events come on the shared stream.
    // It waits at most the keep-alive period on the server; a stalled link gets 10 s more.
    let deadline = u32::try_from(live.borrow().board.keepalive_ms)
        .unwrap_or(u32::MAX)
        .saturating_add(10_000);
    let text = fetch_text(&format!("/api/poll?{}", params.join("&")), false, deadline).await;
    let batch = text.and_then(|t| json::from_str::<PollBatch>(&t).ok());
    let Some(batch) = batch else {
        // The server is unreachable for now: the holder's connection will say so; try again.
        if let Some(s) = live.borrow_mut().share.as_mut() {
            s.catching_up = false;
        }
        super::sleep_ms(1_000.0).await.ok();
        check_cover(&live);
        return;
    };
    let still = Wants::of(&live.borrow().board) == wants && live.borrow().share.as_ref().map(|s| s.dropped) == dropped;
    for event in batch.events {
        handle(&live, Incoming::from_wire(event));
    }
    let kept = {
        let mut l = live.borrow_mut();
        if let Ok(next) = market_part(&batch.next).parse::<EventId>() {
            l.applied.market = Some(l.applied.market.map_or(next, |m| market_max(m, next)));
        }
        if l.board.connection.get_untracked() != Connection::Live {
            l.board.connection.set(Connection::Live);
        }
        let Some(s) = l.share.as_mut() else { return };
        s.catching_up = false;
        s.synced = wants;
        if !still {
            drop(l);
            check_cover(&live); // the view changed meanwhile: once more for the new one
            return;
        }
        s.covered = true;
        std::mem::take(&mut s.kept)
    };
    for incoming in kept {
        handle(&live, incoming);
    }
}

/// The later of two market positions (a new epoch is later).
fn market_max(a: EventId, b: EventId) -> EventId {
    if a.epoch != b.epoch || b.seq > a.seq { b } else { a }
}

/// The market's part of a stream id (`<epoch>-<seq>`, without a signed-in stream's `~<n>`).
pub(super) fn market_part(id: &str) -> &str {
    id.split_once('~').map_or(id, |(market, _)| market)
}

/// Holding the stream: if it must carry more than its connection does (a tab's selection grew,
/// or a tab joined), widens it: over a WebSocket with one `set` on the open connection,
/// otherwise with a new connection, resuming. Not while a connection is being opened or a `set`
/// is answered: once it is, this is asked again.
fn widen(live: &Shared) {
    let command = {
        let mut l = live.borrow_mut();
        if !l
            .share
            .as_ref()
            .is_some_and(|s| s.leading && s.announced && s.pending.is_none())
        {
            return;
        }
        let union = union(&l);
        let Some(s) = l.share.as_mut() else { return };
        if s.connected.as_ref().is_some_and(|c| c.covers(&union)) {
            return;
        }
        let command = set_command(&union);
        s.pending = Some(union);
        command
    };
    let sent = {
        let l = live.borrow();
        l.send.as_ref().is_some_and(|send| send(&command))
    };
    if !sent {
        if let Some(s) = live.borrow_mut().share.as_mut() {
            s.pending = None;
        }
        resubscribe(live, false);
    }
}

/// This tab's view changed what it needs from the stream.
pub(super) fn wants_changed(live: &Shared) {
    {
        let mut l = live.borrow_mut();
        let wants = Wants::of(&l.board);
        let Some(s) = l.share.as_mut() else { return };
        if s.synced.covers(&wants) {
            s.synced = wants; // it shrank: the state is still exact for what is left
        } else {
            s.covered = false;
        }
    }
    hello(live, false);
    widen(live);
    check_cover(live);
}

/// The transport changed in this tab: every tab follows.
pub(super) fn transport_changed(live: &Shared, transport: Transport) {
    if let Some(s) = live.borrow().share.as_ref() {
        post(&s.channel, &["transport", transport.as_str()]);
    }
}

thread_local! {
    /// This tab's channel, for what is posted from outside the connection's state.
    static CHANNEL_OF_TAB: std::cell::RefCell<Option<web_sys::BroadcastChannel>> =
        const { std::cell::RefCell::new(None) };
}

/// Someone signed in or out in this tab: the others ask the server who it is now.
pub(crate) fn session_changed() {
    CHANNEL_OF_TAB.with_borrow(|channel| {
        if let Some(channel) = channel {
            post(channel, &["session"]);
        }
    });
}

fn on_message(live: &Shared, parts: &[String]) {
    let part = |i: usize| parts.get(i).map_or("", String::as_str);
    let now = js_sys::Date::now();
    let leading = match live.borrow_mut().share.as_mut() {
        Some(s) => {
            if !s.leading && matches!(part(0), "e" | "a" | "w" | "b" | "union" | "beat" | "reconnecting") {
                s.heard = now;
            }
            s.leading
        }
        None => return,
    };
    match part(0) {
        // The holder's stream. A tab that holds the stream itself (the lock was just taken
        // over) has its own.
        "e" | "a" | "w" | "b" if leading => {}
        "e" => {
            let (event, id, data) = (part(1).to_string(), part(2).to_string(), part(3).to_string());
            receive(live, Unit::Sse { event, id, data });
        }
        "a" => {
            receive(live, Unit::Alive);
        }
        "w" => {
            receive(live, Unit::Wire(part(1).to_string()));
        }
        "b" => {
            receive(live, Unit::Batch(part(1).to_string()));
        }
        "hello" => {
            let wants = Wants::decode(part(2), part(3));
            {
                let mut l = live.borrow_mut();
                let Some(s) = l.share.as_mut() else { return };
                s.members.retain(|(tab, _)| tab != part(1));
                if s.members.len() >= MAX_MEMBERS {
                    s.members.remove(0); // the longest unheard of: most likely a tab that crashed
                }
                s.members.push((part(1).to_string(), wants.clone()));
                if s.connected.as_ref().is_some_and(|c| c.covers(&wants)) {
                    tell_union(s); // already carried: the new tab may catch up at once
                }
            }
            if part(4) == "1" {
                hello(live, false);
            }
            widen(live);
        }
        "bye" => {
            if let Some(s) = live.borrow_mut().share.as_mut() {
                s.members.retain(|(tab, _)| tab != part(1));
            }
        }
        "union" if !leading => {
            let union = Wants::decode(part(1), part(2));
            let missing = {
                let mut l = live.borrow_mut();
                let wants = Wants::of(&l.board);
                let quotes = Wants {
                    symbols: wants.symbols.clone(),
                    depth: Vec::new(),
                };
                if union.depth.len() >= MAX_DEPTH && union.covers(&quotes) && !union.covers(&wants) {
                    // Every depth place of the stream is taken by other tabs: this one's book
                    // cannot ride on it.
                    drop(l);
                    go_alone(live);
                    return;
                }
                let Some(s) = l.share.as_mut() else { return };
                s.union = Some(union.clone());
                let missing = !union.covers(&wants);
                if missing {
                    // What follows lacks some of this tab's symbols: keep it aside until the
                    // holder widens the stream, then catch up from here.
                    s.covered = false;
                }
                missing
            };
            if missing {
                hello(live, false); // the holder may not know this tab yet
            }
            check_cover(live);
        }
        "reconnecting" if !leading => {
            live.borrow().board.connection.set(Connection::Reconnecting);
        }
        "transport" => {
            let board = live.borrow().board;
            if let Some(t) = Transport::parse(part(1))
                && board.view.with_untracked(|v| v.transport != t)
            {
                board.update_view(|v| v.transport = t);
            }
        }
        "session" => {
            let board = live.borrow().board;
            spawn_local(super::account::refresh(board));
        }
        _ => {}
    }
}

/// While the holder's connection is open: tells the others what it carries (a tab that missed
/// the announcement learns it here).
fn tell_union(s: &mut Share) {
    if let Some(connected) = s.connected.as_ref().filter(|_| s.leading && s.announced) {
        let [symbols, depth] = connected.encode();
        post(&s.channel, &["union", &symbols, &depth]);
        s.told = js_sys::Date::now();
    }
}

/// Every quarter second: the holder says it is alive; a tab that has not heard from it for too
/// long takes the stream over.
pub(super) fn housekeeping(live: &Shared) {
    let now = js_sys::Date::now();
    let steal = {
        let mut l = live.borrow_mut();
        let Some(s) = l.share.as_mut() else { return };
        if s.leading {
            if now - s.told >= TELL_UNION_MS {
                tell_union(s);
            }
            if now - s.said >= HEARTBEAT_MS {
                post(&s.channel, &["beat"]);
                s.said = now;
            }
            false
        } else {
            let visible = web_sys::window()
                .and_then(|w| w.document())
                .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            // A hidden tab's timers run about once a second.
            let late = if visible { 2.0 * HEARTBEAT_MS } else { 2_500.0 };
            if now - s.ticked > late {
                // This tab did not run either (the browser was busy, or the machine asleep):
                // the holder's silence proves nothing, give it a fresh window.
                s.heard = s.heard.max(now);
            }
            s.ticked = now;
            let limit = if visible { STEAL_VISIBLE_MS } else { STEAL_HIDDEN_MS };
            !s.stealing && now - s.heard > limit
        }
    };
    if steal {
        request_lock(live, true);
    }
}

/// Asks for the lock: in line (`steal` false), or at once, taking it from a holder that went
/// silent.
fn request_lock(live: &Shared, steal: bool) {
    let Some(locks) = supported() else { return };
    let options = js_sys::Object::new();
    let number = {
        let mut l = live.borrow_mut();
        let Some(s) = l.share.as_mut() else { return };
        s.requests = s.requests.wrapping_add(1);
        if steal {
            s.stealing = true;
            if let Some(queued) = s.queued.take() {
                queued.abort();
            }
            let _ = js_sys::Reflect::set(&options, &"steal".into(), &JsValue::TRUE);
        } else if let Ok(abort) = web_sys::AbortController::new() {
            let _ = js_sys::Reflect::set(&options, &"signal".into(), &abort.signal());
            s.queued = Some(abort);
        }
        s.requests
    };
    let granted = {
        let live = live.clone();
        Closure::once_into_js(move |_lock: JsValue| -> js_sys::Promise {
            lead(&live, number);
            // Held until the page goes (or another tab steals it).
            js_sys::Promise::new(&mut |resolve, _| {
                if let Some(s) = live.borrow_mut().share.as_mut() {
                    s.release = Some(resolve);
                }
            })
        })
    };
    // Called at most once; kept for the page's life (a few per tab, one per change of role).
    let ended = {
        let live = live.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_error: JsValue| step_down(&live, number))
    };
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let Some(request) = request
        && let Ok(promise) = request.call3(&locks, &LOCK.into(), &options, &granted)
        && let Ok(promise) = promise.dyn_into::<js_sys::Promise>()
    {
        let _ = promise.catch(&ended);
    }
    ended.forget();
}

/// The lock was granted: this tab holds the stream.
fn lead(live: &Shared, number: u32) {
    let term = {
        let mut l = live.borrow_mut();
        let board = l.board;
        let Some(s) = l.share.as_mut() else { return };
        s.leading = true;
        s.stealing = false;
        s.held = Some(number);
        s.queued = None;
        s.term = s.term.wrapping_add(1);
        s.said = js_sys::Date::now();
        board.sharing.set(Sharing::Holding);
        // When this tab took the stream (for the end-to-end tests' hand-over).
        if let Some(window) = web_sys::window() {
            let _ = js_sys::Reflect::set(&window, &"__tickertapeHeldSince".into(), &s.said.into());
        }
        s.term
    };
    spawn_local(super::run(live.clone(), Some(term)));
}

/// A lock request ended without being held to the page's end: the lock was stolen from this
/// tab (it steps down and queues again), or a queued request was given up (nothing to do).
fn step_down(live: &Shared, number: u32) {
    let queue_again = {
        let mut l = live.borrow_mut();
        let board = l.board;
        let Some(s) = l.share.as_mut() else { return };
        if s.held != Some(number) {
            if s.stealing && s.requests == number {
                s.stealing = false; // the steal itself failed: try again later
            }
            return;
        }
        s.held = None;
        s.release = None;
        s.leading = false;
        s.connected = None;
        s.term = s.term.wrapping_add(1);
        s.heard = js_sys::Date::now();
        board.sharing.set(Sharing::Through);
        if let Some(cancel) = l.cancel.take() {
            cancel();
        }
        true
    };
    if queue_again {
        request_lock(live, false);
    }
}
