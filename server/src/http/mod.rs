//! The HTTP face of a node: [`router`] builds the whole app (transports, REST API, server-rendered
//! pages and the site's files) from an [`AppState`], so tests can bind it to port 0 and talk to
//! it over real HTTP.

pub mod accounts;
pub mod alerts;
pub mod api;
mod page;

pub use page::page_data;

use crate::bus::BusStatus;
use crate::config::Role;
use crate::hub::Hub;
use crate::security::Policy;
use crate::transport::{self, Transports};
use app::state::view::ViewState;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::any;
use leptos::nonce::use_nonce;
use leptos::prelude::{LeptosOptions, provide_context, use_context};
use leptos_axum::{LeptosRoutes, ResponseOptions, generate_route_list};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::services::ServeDir;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Shared by every handler: one `Arc`, so that the clone axum makes for every request (and
/// every extractor of `State`) is one counter's increment, not one per field (about thirty
/// `Arc`s, with the page options' strings: 7 % of a small request's CPU, BENCHMARKS.md "The
/// floor of a REST call"). Set-up changes it through `DerefMut` before it is shared.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
#[derive(Clone)]
pub struct Shared {
    pub leptos_options: LeptosOptions,
    /// The hub, the shutdown signal and the keep-alive period, as the transports take them.
    pub transports: Transports,
    /// This node's role (see [`crate::node`]).
    pub role: Role,
    /// The link to the market bus, when the node has one.
    pub bus: Option<Arc<BusStatus>>,
    /// `/healthz` turns `503` when the newest frame is older than this (`None`: never).
    pub stale_after: Option<Duration>,
    /// Sign-up, sign-in and sessions (`None`: the account endpoints answer `503`).
    pub accounts: Option<crate::accounts::Accounts>,
    /// Price alerts and the inbox (`None`: their endpoints answer `503`).
    pub alerts: Option<Arc<crate::alerting::AlertDesk>>,
    /// The paths the app renders as pages (filled by [`router`]): where a signed-in user's
    /// state is looked up before the render.
    pub page_paths: Arc<[String]>,
    /// The OpenAPI document of every endpoint, as JSON (made by [`router`] from the handlers).
    pub openapi: Arc<str>,
}

/// The document's head; its paths come from the handlers' `#[utoipa::path]` (see [`router`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tickertape",
        description = "A live market-data dashboard's API: the market (REST, and the same events over Server-Sent Events, WebSocket and long polling), accounts, and a signed-in user's own state, pushed on the same streams."
    ),
    tags(
        (name = "market", description = "The simulated market now: instruments, quotes, books, prints, candles"),
        (name = "streams", description = "The market's events, and a signed-in user's own, live: three transports, one protocol"),
        (name = "accounts", description = "Sign-up, sign-in, and what a user owns (JSON bodies of at most 16 KB; changes only from allowed origins, as application/json)"),
        (name = "alerts", description = "Price alerts the server evaluates at every frame, and the inbox of their notifications (the same rules as the account endpoints)"),
        (name = "operations", description = "Health, metrics and this document")
    )
)]
struct ApiDoc;

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    /// Copies the state if it is already shared (never, in practice: it is set up before the
    /// router takes it).
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

impl AppState {
    /// A node serving `hub` on its own (no market bus): the embedded node, and the tests'.
    pub fn new(leptos_options: LeptosOptions, hub: Arc<Hub>, shutdown: CancellationToken, keepalive: Duration) -> Self {
        AppState(Arc::new(Shared {
            leptos_options,
            transports: Transports::new(hub, shutdown, keepalive),
            role: Role::All,
            bus: None,
            stale_after: None,
            accounts: None,
            alerts: None,
            page_paths: Arc::from(Vec::new()),
            openapi: Arc::from(""),
        }))
    }

    /// The same node with `accounts`: the account endpoints, and signed-in users' own events on
    /// their streams.
    pub fn with_accounts(mut self, accounts: Option<crate::accounts::Accounts>) -> Self {
        self.transports = self.transports.clone().with_accounts(accounts.clone());
        self.accounts = accounts;
        self
    }

    /// The same node in `role` on a market bus, whose link is `bus`.
    pub fn on_bus(mut self, role: Role, bus: Arc<BusStatus>) -> Self {
        self.role = role;
        self.bus = Some(bus);
        self
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
pub fn router(mut state: AppState) -> Router {
    // The transports stay outside the compression layer: nothing of theirs is ever compressed
    // (a wrapper per event and connection is cost without benefit), and a poll answers the same
    // bytes whether the connection layer or the router serves it.
    let (streams, streams_doc) = OpenApiRouter::new()
        .routes(routes!(transport::sse::stream))
        .routes(routes!(transport::ws::ws))
        .routes(routes!(transport::poll::poll))
        .split_for_parts();
    let (account_routes, accounts_doc) = OpenApiRouter::new()
        .routes(routes!(accounts::signup))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::watchlists))
        .routes(routes!(accounts::put_watchlist, accounts::delete_watchlist))
        .routes(routes!(accounts::put_view))
        .routes(routes!(alerts::create, alerts::list))
        .routes(routes!(alerts::patch, alerts::delete))
        .routes(routes!(alerts::notifications))
        .routes(routes!(alerts::mark_read))
        .layer(axum::extract::DefaultBodyLimit::max(accounts::MAX_BODY))
        .split_for_parts();
    let (rest, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::symbols))
        .routes(routes!(api::wire))
        .routes(routes!(api::snapshot))
        .routes(routes!(api::history))
        .routes(routes!(api::book))
        .routes(routes!(api::trades))
        .routes(routes!(api::openapi))
        .routes(routes!(api::healthz))
        .routes(routes!(api::metrics))
        .split_for_parts();
    doc.merge(accounts_doc);
    doc.merge(streams_doc);
    state.openapi = serde_json::to_string(&doc).unwrap_or_default().into();
    let api = rest.merge(account_routes).route("/api/{*rest}", any(api::not_found));

    let routes = generate_route_list(app::App);
    state.page_paths = routes.iter().map(|r| r.path().to_string()).collect();
    let hub = state.hub().clone();
    let keepalive_ms = state.transports.keepalive.as_millis() as u64;
    let policy = state.transports.policy.clone();
    // Each page render gets the current market for the requested view, so the first HTML
    // already shows real prices, sparklines and the chart; and a Content-Security-Policy that
    // allows exactly the inline scripts carrying this render's nonce.
    // A signed-in user's page opens on their saved view and first watchlist, unless the URL says
    // otherwise (a link reproduces its view, whoever opens it).
    let page_context = move || {
        let parts = use_context::<Parts>();
        let query = parts
            .as_ref()
            .and_then(|p| p.uri.query().map(str::to_string))
            .unwrap_or_default();
        let signed_in = parts
            .as_ref()
            .and_then(|p| p.extensions.get::<app::wire::account::Account>().cloned());
        let view = match &signed_in {
            Some(user) if query.is_empty() => page::view_of(user),
            _ => ViewState::from_query(&query),
        };
        let mut data = page_data(&hub, view, keepalive_ms);
        data.account = signed_in;
        provide_context(data);
        if let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>())
            && let Ok(csp) = HeaderValue::from_str(&policy.page_csp(&nonce))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, csp);
        }
    };
    let options = state.leptos_options.clone();
    let not_found = leptos_axum::file_and_error_handler::<AppState, _>(app::shell);

    Router::new()
        .merge(api)
        .leptos_routes_with_context(&state, routes, page_context, move || app::shell(options.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            accounts::signed_in_page,
        ))
        // The site's files (`site_root`: the WASM, JS and CSS under `pkg/`, the favicon), with
        // the `.br` and `.gz` copies the release build writes beside each (`cargo leptos build
        // --release --precompress`, brotli at quality 11) sent to clients that accept them, by
        // tower-http's `ServeDir` (which also answers conditional requests); any other path gets
        // the app's 404 page.
        //
        // Why files compressed at build time: compressing the WASM per request at the
        // compression layer's fast level sent 187 KB where brotli's best makes about 133 KB, and
        // cost the server tens of milliseconds of CPU per page load. A debug build (`cargo
        // leptos watch`) writes no copies, and cargo-leptos empties the site before every build,
        // so a copy is never older than its file.
        .fallback_service(
            ServeDir::new(&*state.leptos_options.site_root)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(not_found.with_state(state.clone())),
        )
        .layer(axum::middleware::map_response(vary_on_encoding))
        // Pages, JSON and any site file without a precompressed copy are compressed (brotli or
        // gzip, as the client accepts); a precompressed file goes out as it is (the layer leaves
        // a response with a `content-encoding` alone). Events must leave the moment they are
        // written, never when a compressor's buffer fills: the streams are merged in after this
        // layer (and its default predicate would skip `text/event-stream` anyway). Small answers
        // go as they are ([`COMPRESS_FROM`]).
        .layer(CompressionLayer::new().compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_FROM))))
        .merge(streams)
        // Last, so that it covers every route, the streams included.
        .layer(axum::middleware::map_response_with_state(
            state.transports.policy.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// The smallest response the compression layer compresses, in bytes.
///
/// Why: an answer under a kilobyte (an account change's `200`, `/healthz`, an error) fits in
/// one TCP segment either way, so compressing it saves the client nothing it would notice, and
/// costs the server an encoder set up and torn down per response (tower-http's default
/// compresses from 32 bytes, so a browser's 40-byte `PUT` answer was brotli'd).
pub const COMPRESS_FROM: u16 = 1024;

/// The headers every response carries (see [`crate::security`]).
async fn security_headers(State(policy): State<Arc<Policy>>, mut response: Response) -> Response {
    policy.apply(response.headers_mut());
    response
}

/// `Vary: accept-encoding` on a precompressed site file, which `ServeDir` leaves out: the answer
/// depends on the request's `Accept-Encoding`, and a shared cache must not hand a brotli copy to
/// a client that cannot read it. (What the compression layer compresses gets it from the layer.)
async fn vary_on_encoding(mut response: Response) -> Response {
    let headers = response.headers();
    if headers.contains_key(header::CONTENT_ENCODING) && !headers.contains_key(header::VARY) {
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}
