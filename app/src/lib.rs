//! Tickertape's web application: the wire protocol, the page's state and the Leptos dashboard.
//!
//! The same crate is compiled twice: with `ssr` into the server, which renders the first page
//! with real prices, and with `hydrate` into WebAssembly, which takes that page over in the
//! browser and keeps it live from the stream.
//!
//! Dependencies point one way: [`wire`] (protocol, JSON, SSE parsing) ← [`state`] (candles, URL
//! view, first-page data, the board of signals) ← `live` (the browser's feed clients) and
//! [`ui`] (the components). The server uses `wire` and `state` only, plus [`App`] and [`shell`]
//! to render.

// Leptos views are deeply nested types; the default limit is too low for the dashboard.
#![recursion_limit = "256"]

#[cfg(feature = "hydrate")]
mod live;
pub mod state;
pub mod ui;
pub mod wire;

pub use ui::{App, shell};

/// Entry point of the WASM bundle: attaches the dashboard to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}

/// A seeded xorshift generator for the tests' random inputs: reproducible, and no dependency.
#[cfg(test)]
pub(crate) fn test_rng(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
