//! The SSE client: `fetch` and the stream's reader, parsed by [`Parser`], resuming with
//! `Last-Event-ID`.

use super::Shared;
use super::established;
use super::share::{Unit, receive};
use crate::wire::sse::{Item, Parser};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Reads one SSE connection to its end. Returns whether it was established.
pub(super) async fn read(live: &Shared, url: &str, last_id: Option<&str>) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(abort) = web_sys::AbortController::new() else {
        return false;
    };
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(&abort.signal()));
    init.set_cache(web_sys::RequestCache::NoStore);
    // An anonymous stream needs no cookies, and a request without credentials goes on a
    // connection of its own rather than one left idle by the page's assets: the server serves
    // such a stream directly on its socket, at a fraction of the memory (see
    // server/src/net/conn.rs). A signed-in user's stream carries their session, for their own
    // events.
    let signed_in = live.borrow().board.account.with_untracked(Option::is_some);
    init.set_credentials(if signed_in {
        web_sys::RequestCredentials::SameOrigin
    } else {
        web_sys::RequestCredentials::Omit
    });
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
            let unit = match item {
                Item::Event { event, id, data } => Unit::Sse { event, id, data },
                Item::Comment | Item::Retry(_) => Unit::Alive,
            };
            receive(live, unit);
        }
    }
    true
}
