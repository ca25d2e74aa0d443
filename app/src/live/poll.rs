//! The long-polling client: polls until a poll fails, each from the `next` id of the last.

use super::share::{Unit, receive};
use super::{Shared, established};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Long polling for `selection` (query parameters) until a poll fails. Returns whether any poll
/// succeeded.
pub(super) async fn read(live: &Shared, selection: &[String]) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let mut any = false;
    loop {
        let (after, keepalive, generation) = {
            let l = live.borrow();
            (l.last_id.clone(), l.board.keepalive_ms, l.generation)
        };
        let mut params = vec![format!("timeout_ms={keepalive}")];
        params.extend_from_slice(selection);
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
        any = true;
        established(live);
        live.borrow_mut().wire_bytes += text.len() as u64;
        // Its events, then the server's word on where to continue (also when it was empty).
        if !receive(live, Unit::Batch(text)) {
            return any; // not a poll's answer
        }
    }
}
