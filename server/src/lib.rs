//! Tickertape's server: the simulated market ([`market`]), the fan-out hub ([`hub`]), and the
//! transports and endpoints over it ([`transport`], [`api`]). [`router`] builds the whole app,
//! so tests can bind it to port 0 and talk to it over real HTTP.

pub mod api;
pub mod assets;
pub mod bus;
pub mod config;
pub mod conn;
pub mod generator;
pub mod hub;
pub mod market;
pub mod metrics;
pub mod node;
pub mod transport;

use app::chart::VISIBLE_CANDLES;
use app::dashboard::{PageData, SPARK_SECONDS, Spark};
use app::view::ViewState;
use axum::Router;
use axum::extract::FromRef;
use axum::http::request::Parts;
use axum::routing::{any, get};
use hub::Hub;
use leptos::prelude::{LeptosOptions, provide_context, use_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;

/// How long shutdown waits for connections to finish after every stream has ended.
pub const DRAIN: Duration = Duration::from_millis(800);

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Arc<Hub>,
    /// Cancelled on Ctrl-C / SIGTERM: every open stream ends.
    pub shutdown: CancellationToken,
    /// Quiet time after which an SSE stream gets a keep-alive comment.
    pub keepalive: Duration,
    /// This node's role (see [`node`]).
    pub role: config::Role,
    /// The link to the market bus, when the node has one.
    pub bus: Option<Arc<bus::BusStatus>>,
    /// The site's WASM, JS and CSS, compressed once at the best levels.
    pub assets: Arc<assets::Assets>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
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
    let hub = state.hub.clone();
    let keepalive_ms = state.keepalive.as_millis() as u64;
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

/// The data the dashboard's first render needs for `view`.
pub fn page_data(hub: &Hub, view: ViewState, keepalive_ms: u64) -> PageData {
    let instruments = hub.instruments();
    let watched = view.watched(instruments);
    let chart_symbol = app::dashboard::Board::chart_symbol(&view, &watched, instruments);
    let chart = (!chart_symbol.is_empty()).then_some((chart_symbol.as_str(), view.interval));
    let page = hub.page(SPARK_SECONDS, chart, VISIBLE_CANDLES * 2);
    PageData {
        sparks: page.sparks.iter().map(|c| Spark::from_candles(c)).collect(),
        snapshot: page.snapshot,
        chart: page.chart,
        view,
        keepalive_ms,
    }
}

/// Serves `app` until `shutdown` is cancelled, then drains for at most [`DRAIN`]. With
/// `streams`, a connection that opens the SSE stream first is served on its own (see [`conn`]);
/// pass the same state the router was built from.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    streams: Option<transport::sse::Streams>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = conn::Listener::new(listener, streams);
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN).await;
    };
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => result,
        () = deadline => {
            tracing::warn!("drain deadline passed; closing the remaining connections");
            Ok(())
        }
    }
}
