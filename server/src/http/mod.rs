//! The HTTP face of a node: [`router`] builds the whole app (transports, REST API, server-rendered
//! pages and the site's files) from an [`AppState`], so tests can bind it to port 0 and talk to
//! it over real HTTP.

pub mod api;
pub mod assets;
mod page;

pub use page::page_data;

use crate::bus::BusStatus;
use crate::config::Role;
use crate::hub::Hub;
use crate::transport::{self, Transports};
use app::state::view::ViewState;
use axum::Router;
use axum::extract::FromRef;
use axum::http::request::Parts;
use axum::routing::{any, get};
use leptos::prelude::{LeptosOptions, provide_context, use_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The hub, the shutdown signal and the keep-alive period, as the transports take them.
    pub transports: Transports,
    /// This node's role (see [`crate::node`]).
    pub role: Role,
    /// The link to the market bus, when the node has one.
    pub bus: Option<Arc<BusStatus>>,
    /// The site's WASM, JS and CSS, compressed once at the best levels.
    pub assets: Arc<assets::Assets>,
}

impl AppState {
    /// A node serving `hub` on its own (no market bus): the embedded node, and the tests'.
    pub fn new(leptos_options: LeptosOptions, hub: Arc<Hub>, shutdown: CancellationToken, keepalive: Duration) -> Self {
        AppState {
            assets: Arc::new(assets::Assets::new(&leptos_options)),
            leptos_options,
            transports: Transports::new(hub, shutdown, keepalive),
            role: Role::All,
            bus: None,
        }
    }

    /// The same node in `role` on a market bus, whose link is `bus`.
    pub fn on_bus(self, role: Role, bus: Arc<BusStatus>) -> Self {
        AppState {
            role,
            bus: Some(bus),
            ..self
        }
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.transports.hub
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Transports {
    fn from_ref(state: &AppState) -> Self {
        state.transports.clone()
    }
}

/// The whole application: API, SSE stream, server-rendered pages and static files.
pub fn router(state: AppState) -> Router {
    // The long-lived transports stay outside the compression layer: nothing of theirs is ever
    // compressed, and a wrapper per event and connection is cost without benefit.
    let streams = Router::new()
        .route(transport::sse::PATH, get(transport::sse::stream))
        .route("/api/ws", get(transport::ws::ws));
    let api = Router::new()
        .route("/poll", get(transport::poll::poll))
        .route("/symbols", get(api::symbols))
        .route("/snapshot", get(api::snapshot))
        .route("/history", get(api::history))
        .route("/{*rest}", any(api::not_found));

    let routes = generate_route_list(app::App);
    let hub = state.hub().clone();
    let keepalive_ms = state.transports.keepalive.as_millis() as u64;
    // Each page render gets the current market for the requested view, so the first HTML
    // already shows real prices, sparklines and the chart.
    let page_context = move || {
        let query = use_context::<Parts>()
            .and_then(|p| p.uri.query().map(str::to_string))
            .unwrap_or_default();
        provide_context(page_data(&hub, ViewState::from_query(&query), keepalive_ms));
    };
    let options = state.leptos_options.clone();

    Router::new()
        .nest("/api", api)
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .leptos_routes_with_context(&state, routes, page_context, move || app::shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        // Pages, JS, CSS, WASM and JSON are compressed (brotli or gzip, as the client accepts).
        // Events must leave the moment they are written, never when a compressor's buffer fills:
        // the streams are merged in after this layer (and its default predicate would skip
        // `text/event-stream` anyway).
        // The site's build output, compressed once at the best levels, goes out as it is (the
        // compression layer leaves a response with a `content-encoding` alone).
        .layer(axum::middleware::from_fn_with_state(
            state.assets.clone(),
            assets::serve,
        ))
        .layer(CompressionLayer::new())
        .merge(streams)
        .with_state(state)
}
