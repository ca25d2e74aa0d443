//! The browser's side of alerts (issue 26): loading the user's alerts and inbox, the REST calls
//! of the Alerts panel and the inbox, and what a `notification` or `read` event does: the bell's
//! count, a toast, and a browser notification while the tab is hidden.

use super::account::{quote, send};
use crate::state::board::Board;
use crate::wire::account::Account;
use crate::wire::alerts::{Alert, Notification, ReadMark};
use crate::wire::json;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Inbox pages the page reads at most when it loads (500 entries each).
const MAX_PAGES: usize = 4;

/// Loads the user's alerts and inbox (at start, after sign-in, and after a resync that may have
/// skipped notifications); an anonymous page empties them.
pub fn load(board: Board) {
    spawn_local(async move {
        if board.account.with_untracked(Option::is_none) {
            board.alerts.set(Vec::new());
            board.inbox.update(|i| i.replace(Vec::new(), 0));
            return;
        }
        reload_alerts(board).await;
        let mut items: Vec<Notification> = Vec::new();
        let mut after = 0;
        for _ in 0..MAX_PAGES {
            let Ok(text) = send("GET", &format!("/api/notifications?after={after}&limit=500"), None).await else {
                return;
            };
            let Ok(page) = json::from_str::<Vec<Notification>>(&text) else {
                return;
            };
            let full = page.len() == 500;
            after = page.last().map_or(after, |n| n.id);
            items.extend(page);
            if !full {
                break;
            }
        }
        let unread = match send("GET", "/api/me", None).await {
            Ok(me) => json::from_str::<Account>(&me).map(|a| a.unread).unwrap_or_default(),
            Err(_) => items.iter().filter(|n| !n.read).count() as u64,
        };
        board.inbox.update(|i| i.replace(items, unread));
    });
}

/// Reads the user's alerts again (their states and counts change as they fire).
pub async fn reload_alerts(board: Board) {
    if let Ok(text) = send("GET", "/api/alerts", None).await
        && let Ok(alerts) = json::from_str::<Vec<Alert>>(&text)
    {
        board.alerts.set(alerts);
    }
}

/// A `notification` event: into the inbox (once), a toast, the alert's new state, and a
/// browser notification when the tab is hidden and the user allowed them.
pub fn notified(board: Board, entry: Notification) {
    let mut new = false;
    board.inbox.update(|i| new = i.add(entry.clone()));
    if !new {
        return;
    }
    spawn_local(reload_alerts(board));
    if sound_on() {
        beep();
    }
    let hidden = web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
    if hidden && web_sys::Notification::permission() == web_sys::NotificationPermission::Granted {
        let options = web_sys::NotificationOptions::new();
        options.set_body(&describe(board, &entry));
        options.set_tag(&format!("tickertape-{}", entry.id));
        let _ = web_sys::Notification::new_with_options(&format!("{} alert", entry.symbol), &options);
    }
}

/// A `read` event, from this tab or another.
pub fn marked(board: Board, mark: ReadMark) {
    board.inbox.update(|i| i.read(&mark));
}

/// A notification in words: `AAPL crossing up 189.50 (from 189.49)`.
pub fn describe(board: Board, entry: &Notification) -> String {
    let decimals = board
        .instruments
        .with_value(|list| list.iter().find(|i| i.symbol == entry.symbol).map_or(2, |i| i.decimals));
    let price = |p| crate::ui::format::price(p, decimals);
    if entry.kind == "stopped" {
        return format!("{}: alert stopped, it fired too often", entry.symbol);
    }
    format!(
        "{} {} {} (from {})",
        entry.symbol,
        crate::state::alerts::condition_label(&entry.condition),
        price(entry.price),
        price(entry.prev)
    )
}

/// Creates an alert from the panel's form (`body`: its JSON).
pub async fn create(board: Board, body: String) -> Result<(), String> {
    send("POST", "/api/alerts", Some(body)).await?;
    reload_alerts(board).await;
    Ok(())
}

/// Pauses or resumes one.
pub async fn set_state(board: Board, id: u64, state: &str) -> Result<(), String> {
    let body = format!(r#"{{"state":{}}}"#, quote(state));
    send("PATCH", &format!("/api/alerts/{id}"), Some(body)).await?;
    reload_alerts(board).await;
    Ok(())
}

pub async fn delete(board: Board, id: u64) -> Result<(), String> {
    send("DELETE", &format!("/api/alerts/{id}"), None).await?;
    reload_alerts(board).await;
    Ok(())
}

/// Marks one entry read, or all up to the newest; every tab hears of it as a `read` event.
pub async fn mark_read(board: Board, one: Option<u64>) -> Result<(), String> {
    let body = match one {
        Some(id) => format!(r#"{{"ids":[{id}]}}"#),
        None => match board.inbox.with_untracked(|i| i.newest()) {
            Some(newest) => format!(r#"{{"up_to":{newest}}}"#),
            None => return Ok(()),
        },
    };
    let text = send("POST", "/api/notifications/read", Some(body)).await?;
    if let Ok(mark) = json::from_str::<ReadMark>(&text) {
        marked(board, mark);
    }
    Ok(())
}

/// Asks for permission to show browser notifications (only ever on the user's click).
pub fn ask_permission() {
    if let Ok(promise) = web_sys::Notification::request_permission() {
        spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}

/// What the user did on the chart: an alert dragged to a new level (shown there at once), or a
/// new `crossing` alert at the crosshair's price; levels snap to the instrument's tick.
pub async fn edit_from_chart(board: Board, edit: crate::ui::chart::AlertEdit) -> Result<(), String> {
    use crate::ui::chart::AlertEdit;
    let symbol = board.chart.with_untracked(|c| c.symbol.clone());
    let tick = board
        .instruments
        .with_value(|list| list.iter().find(|i| i.symbol == symbol).map_or(1, |i| i.tick.max(1)));
    let snap = |price: i64| (price / tick).max(1) * tick;
    match edit {
        AlertEdit::Move { id, price } => {
            let price = snap(price);
            board.alerts.update(|list| {
                if let Some(alert) = list.iter_mut().find(|a| a.id == id) {
                    alert.price = Some(price);
                }
            });
            send(
                "PATCH",
                &format!("/api/alerts/{id}"),
                Some(format!(r#"{{"price":{price}}}"#)),
            )
            .await?;
        }
        AlertEdit::Add { price } => {
            let body = format!(
                r#"{{"symbol":{},"condition":"crossing","price":{},"frequency":"once"}}"#,
                quote(&symbol),
                snap(price)
            );
            send("POST", "/api/alerts", Some(body)).await?;
        }
    }
    reload_alerts(board).await;
    Ok(())
}

/// Where the sound's choice is kept, per browser.
const SOUND_KEY: &str = "tickertape-sound";

/// Whether this browser's user asked for a sound at each notification.
pub fn sound_on() -> bool {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(SOUND_KEY).ok().flatten())
        .is_some_and(|v| v == "on")
}

pub fn set_sound(on: bool) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(SOUND_KEY, if on { "on" } else { "off" });
    }
    if on {
        beep(); // what it will sound like (and the click lets the page play sound)
    }
}

/// A short two-tone chime, made here as a WAV (no file to fetch, no float maths linked). Each one
/// asked to play is counted in `window.__tickertapeSounds` for the end-to-end tests (headless
/// Chromium plays nothing).
fn beep() {
    let uri = format!("data:audio/wav;base64,{}", base64(&chime()));
    if let Ok(audio) = web_sys::HtmlAudioElement::new_with_src(&uri)
        && let Ok(playing) = audio.play()
    {
        super::apply::count_in_page("__tickertapeSounds");
        // A browser that cannot play it (no audio device, a headless one) only stays silent.
        spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(playing).await;
        });
    }
}

/// 8 kHz, 8-bit mono: 90 ms of a square wave near 880 Hz, then 90 ms near 1 320 Hz, fading.
fn chime() -> Vec<u8> {
    const RATE: u32 = 8_000;
    let mut samples = Vec::with_capacity(1_440);
    for (period, count) in [(9usize, 720usize), (6, 720)] {
        for i in 0..count {
            let level = 48 * (count - i) / count; // a linear fade, in integers
            let high = (i / (period / 2)) % 2 == 0;
            samples.push(if high { 128 + level as u8 } else { 128 - level as u8 });
        }
    }
    let len = samples.len() as u32;
    let mut wav = Vec::with_capacity(44 + samples.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&RATE.to_le_bytes()); // bytes a second
    wav.extend_from_slice(&1u16.to_le_bytes()); // block
    wav.extend_from_slice(&8u16.to_le_bytes()); // bits
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&len.to_le_bytes());
    wav.extend_from_slice(&samples);
    wav
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Saves what the panel's form holds for alert `id` (`body`: the changed fields' JSON).
pub async fn update(board: Board, id: u64, body: String) -> Result<(), String> {
    send("PATCH", &format!("/api/alerts/{id}"), Some(body)).await?;
    reload_alerts(board).await;
    Ok(())
}
