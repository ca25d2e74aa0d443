//! The browser's side of accounts: signing in and out, and saving what the user arranges
//! (watchlists, the view) through the REST endpoints. What comes back arrives on the stream as
//! an `account` event ([`apply`]), in this tab and every other tab and device of the user.

use crate::state::account::{follow, saved_view};
use crate::state::board::Board;
use crate::state::view::ViewState;
use crate::wire::account::{Account, AccountState};
use crate::wire::json;
use crate::wire::protocol::ApiErrorBody;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// How long the view must stay unchanged before it is saved to the account.
const SAVE_VIEW_AFTER_MS: i32 = 800;

/// What [`send`] fails with when no answer came.
const UNREACHABLE: &str = "the server cannot be reached";

/// Sends a JSON request; the answer's text, or the server's reason (or what failed) as an error.
pub async fn send(method: &str, url: &str, body: Option<String>) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_cache(web_sys::RequestCache::NoStore);
    if let Ok(headers) = web_sys::Headers::new() {
        let _ = headers.set("Content-Type", "application/json");
        init.set_headers(&headers);
    }
    if let Some(body) = body {
        init.set_body(&body.into());
    }
    let failed = |_| UNREACHABLE.to_string();
    let resp: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(failed)?
        .dyn_into()
        .map_err(failed)?;
    let text = match resp.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    }
    .unwrap_or_default();
    if resp.ok() {
        Ok(text)
    } else {
        Err(json::from_str::<ApiErrorBody>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| format!("the server answered {}", resp.status())))
    }
}

/// A JSON string literal.
pub(super) fn quote(text: &str) -> String {
    json::string(text)
}

/// A JSON array of strings.
pub(super) fn quote_all(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(","))
}

/// A path segment, percent-encoded.
fn segment(name: &str) -> String {
    js_sys::encode_uri_component(name).as_string().unwrap_or_default()
}

/// Signs in (or up, with `create`); on success the page takes the account's lists and view, and
/// the stream reconnects with the new session.
pub async fn sign_in(board: Board, create: bool, username: String, password: String) -> Result<(), String> {
    let url = if create { "/api/signup" } else { "/api/login" };
    let body = format!(r#"{{"username":{},"password":{}}}"#, quote(&username), quote(&password));
    send("POST", url, Some(body)).await?;
    let me = send("GET", "/api/me", None).await?;
    let account = json::from_str::<Account>(&me).map_err(|_| "the server's answer is unreadable".to_string())?;
    let opening = crate::state::account::opening_view(&account.watchlists, account.view.as_ref());
    let active = account.watchlists.first().map(|l| l.name.clone());
    board.account.set(Some(account));
    board.active_list.set(active.clone());
    if active.is_some() {
        board.update_view(|v| {
            let screen = v.screen;
            *v = ViewState { screen, ..opening };
        });
    }
    board.session.update(|n| *n = n.wrapping_add(1));
    super::session_changed();
    Ok(())
}

/// Who is signed in changed in another tab of this browser (the cookie is theirs too): asks the
/// server who it is now and follows, as [`sign_in`] and [`sign_out`] do.
pub async fn refresh(board: Board) {
    let account = match send("GET", "/api/me", None).await {
        Ok(me) => json::from_str::<Account>(&me).ok(),
        Err(e) if e == UNREACHABLE => return, // not known now; the stream's own end will tell
        Err(_) => None,
    };
    let same = board
        .account
        .with_untracked(|a| a.as_ref().map(|a| &a.username) == account.as_ref().map(|a| &a.username));
    if same {
        return;
    }
    let active = account
        .as_ref()
        .and_then(|a| a.watchlists.first().map(|l| l.name.clone()));
    let opening = account
        .as_ref()
        .map(|a| crate::state::account::opening_view(&a.watchlists, a.view.as_ref()));
    board.account.set(account);
    board.active_list.set(active.clone());
    if let (Some(_), Some(opening)) = (active, opening) {
        board.update_view(|v| {
            let screen = v.screen;
            *v = ViewState { screen, ..opening };
        });
    }
    board.session.update(|n| *n = n.wrapping_add(1));
}

/// Signs out: the server ends the session (and closes its streams); the page carries on
/// anonymously with what it shows.
pub async fn sign_out(board: Board) -> Result<(), String> {
    send("POST", "/api/logout", None).await?;
    board.account.set(None);
    board.active_list.set(None);
    board.session.update(|n| *n = n.wrapping_add(1));
    super::session_changed();
    Ok(())
}

/// Saves `symbols` as the user's list `name` (made if new), renaming it to `rename` if given.
pub async fn save_list(name: String, rename: Option<String>, symbols: Vec<String>) -> Result<(), String> {
    let rename = rename
        .map(|r| format!(r#","rename":{}"#, quote(&r)))
        .unwrap_or_default();
    let body = format!(r#"{{"symbols":{}{rename}}}"#, quote_all(&symbols));
    send("PUT", &format!("/api/watchlists/{}", segment(&name)), Some(body))
        .await
        .map(drop)
}

pub async fn delete_list(name: String) -> Result<(), String> {
    send("DELETE", &format!("/api/watchlists/{}", segment(&name)), None)
        .await
        .map(drop)
}

/// A user's state that arrived on the stream: the lists are theirs as they now stand, and the
/// view follows its list (edited or deleted elsewhere).
pub fn apply(board: Board, state: AccountState) {
    let active = board.active_list.get_untracked();
    board.account.update(|account| {
        if let Some(account) = account {
            account.watchlists = state.watchlists.clone();
            account.view = state.view.clone();
        }
    });
    match follow(active.as_deref(), &state.watchlists) {
        Some((name, symbols)) => {
            if active.as_deref() != Some(name.as_str()) {
                board.active_list.set(Some(name));
            }
            if board.view.with_untracked(|v| v.symbols.as_ref() != Some(&symbols)) {
                board.update_view(|v| v.symbols = Some(symbols));
            }
        }
        None if active.is_some() => board.active_list.set(None),
        None => {}
    }
}

/// While the page lives and someone is signed in: the view (chart symbol, interval, mode,
/// depth, transport) is saved to the account once it has been left alone for a moment.
pub fn save_view_while_signed_in(board: Board) {
    let pending: Rc<Cell<Option<i32>>> = Rc::default();
    Effect::new(move |previous: Option<String>| {
        let signed_in = board.account.with(Option::is_some);
        // The JSON it would save is also what tells whether it changed.
        let key = board.view.with(|v| view_json(&saved_view(v, &theme())));
        let changed = previous.as_ref().is_some_and(|p| *p != key);
        if signed_in
            && changed
            && let Some(window) = web_sys::window()
        {
            if let Some(timer) = pending.take() {
                window.clear_timeout_with_handle(timer);
            }
            let body = key.clone();
            let callback = wasm_bindgen::closure::Closure::once_into_js(move || {
                spawn_local(async move {
                    let _ = send("PUT", "/api/view", Some(body)).await;
                });
            });
            pending.set(
                window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), SAVE_VIEW_AFTER_MS)
                    .ok(),
            );
        }
        key
    });
}

/// The theme the user chose on this device (`system` without a choice).
fn theme() -> String {
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("tickertape-theme").ok().flatten())
        .filter(|t| t == "light" || t == "dark")
        .unwrap_or_else(|| "system".into())
}

/// A saved view as JSON (the page links no JSON writer: see `wire/json.rs`).
fn view_json(view: &crate::wire::account::SavedView) -> String {
    format!(
        r#"{{"symbol":{},"interval":{},"mode":{},"depth":{},"theme":{},"transport":{}}}"#,
        view.symbol.as_deref().map_or_else(|| "null".to_string(), quote),
        quote(&view.interval),
        quote(&view.mode),
        view.depth,
        quote(&view.theme),
        quote(&view.transport)
    )
}
