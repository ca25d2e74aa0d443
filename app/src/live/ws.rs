//! The WebSocket client: one session per connection, resuming with `last_event_id`.

use super::share::{Unit, receive};
use super::{Shared, established};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A WebSocket session for `selection` (query parameters), resuming after `last_id`. Returns
/// whether it opened.
pub(super) async fn read(live: &Shared, selection: &[String], last_id: Option<&str>) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let location = window.location();
    let scheme = if location.protocol().ok().as_deref() == Some("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().unwrap_or_default();
    let mut params = selection.to_vec();
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
            receive(&live, Unit::Wire(text));
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
    {
        let socket = socket.clone();
        live.borrow_mut().send = Some(Box::new(move |text| socket.send_with_str(text).is_ok()));
    }
    let _ = JsFuture::from(closed).await;
    live.borrow_mut().send = None;
    socket.set_onopen(None);
    socket.set_onmessage(None);
    socket.set_onclose(None);
    socket.set_onerror(None);
    let _ = socket.close();
    opened.get()
}
