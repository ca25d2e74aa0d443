//! Assembles a node from its [`Config`]: the market, the hub, the bus link for its role, and the
//! router that serves them. The binary and the multi-node tests start nodes the same way.
//!
//! | `MARKET_BUS` | `ROLE`      | runs                                                       |
//! |--------------|-------------|------------------------------------------------------------|
//! | unset        | `all`       | generator → hub in memory (the default, nothing to install) |
//! | set          | `all`       | generator → Redis → hub, in one process                    |
//! | set          | `generator` | generator → Redis; serves `/healthz` and `/metrics` only    |
//! | set          | `edge`      | Redis → hub; serves the dashboard and every transport       |

use crate::assets::Assets;
use crate::bus::{self, BusStatus, WriterSetup};
use crate::config::{Config, Role};
use crate::generator::{Generator, Publish};
use crate::hub::{Hub, HubConfig};
use crate::market::Market;
use crate::metrics::Metrics;
use crate::transport::sse::Streams;
use crate::{AppState, router};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A started node: its router, and what tests look into.
pub struct Node {
    pub app: Router,
    /// What [`crate::serve`] needs to serve SSE streams on their own connections.
    pub streams: Option<Streams>,
    pub hub: Option<Arc<Hub>>,
    pub bus: Option<Arc<BusStatus>>,
    /// The site's compressed assets, on a node that serves the site.
    pub assets: Option<Arc<Assets>>,
}

/// Starts the node's tasks (they end when `shutdown` is cancelled) and returns its router.
/// An edge waits here until it has joined the bus; `None` if shut down meanwhile.
pub async fn start(config: &Config, leptos_options: LeptosOptions, shutdown: CancellationToken) -> Option<Node> {
    let metrics = Arc::new(Metrics::default());
    let hub_config = HubConfig {
        history_frames: config.history_frames as usize,
        live_buffer: config.live_buffer(),
    };
    let assets = Arc::new(Assets::new(&leptos_options));
    let state = |hub: Arc<Hub>, bus: Option<Arc<BusStatus>>| AppState {
        assets: assets.clone(),
        leptos_options: leptos_options.clone(),
        hub,
        shutdown: shutdown.clone(),
        keepalive: config.keepalive(),
        role: config.role,
        bus,
    };

    let Some(url) = &config.market_bus else {
        let market = market(config);
        let epoch = rand::random::<u32>() as u64;
        tracing::info!(
            epoch = format!("{epoch:x}"),
            "embedded market: generator and hub in this process"
        );
        let hub = Arc::new(Hub::new(
            epoch,
            market.instruments(),
            market.quotes(),
            hub_config,
            metrics,
        ));
        spawn_generator(market, hub.clone(), config, &shutdown);
        let state = state(hub.clone(), None);
        return Some(Node {
            app: router(state.clone()),
            streams: Some(Streams::from(&state)),
            hub: Some(hub),
            bus: None,
            assets: Some(assets),
        });
    };

    let client = url.0.clone();
    let status = Arc::new(BusStatus::new(&client, metrics.clone()));
    tracing::info!(bus = %status.address, role = config.role.name(), "joining the market bus");
    if config.role != Role::Edge {
        let market = market(config);
        let setup = WriterSetup {
            instruments: market.instruments(),
            quotes: market.quotes(),
            history_frames: hub_config.history_frames,
        };
        let (publisher, writer) = bus::publisher(client.clone(), setup, status.clone(), shutdown.clone());
        tokio::spawn(writer);
        spawn_generator(market, publisher, config, &shutdown);
    }
    if config.role == Role::Generator {
        let app = Router::new()
            .route("/healthz", get(generator_health))
            .route("/metrics", get(generator_metrics))
            .with_state(GeneratorState {
                bus: status.clone(),
                metrics,
            });
        return Some(Node {
            app,
            streams: None,
            hub: None,
            bus: Some(status),
            assets: None,
        });
    }
    let hub = bus::join(&client, hub_config, &status, &shutdown).await?;
    tokio::spawn(bus::follow_loop(client, hub.clone(), status.clone(), shutdown.clone()));
    let state = state(hub.clone(), Some(status.clone()));
    Some(Node {
        app: router(state.clone()),
        streams: Some(Streams::from(&state)),
        hub: Some(hub),
        bus: Some(status),
        assets: Some(assets),
    })
}

/// What a node on a bus answers, to every request, until it has joined: `503` and
/// `{"status":"joining","role":..}`.
pub fn joining_router(role: Role) -> Router {
    Router::new().fallback(move || async move {
        let body = serde_json::json!({ "status": "joining", "role": role.name() });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    })
}

fn market(config: &Config) -> Market {
    let seed = config.market_seed.unwrap_or_else(rand::random);
    let market = Market::new(config.universe(), seed, config.tick_rate_hz);
    tracing::info!(
        seed,
        symbols = market.len(),
        rate_hz = config.tick_rate_hz,
        "market ready (replay it with MARKET_SEED={seed})"
    );
    market
}

fn spawn_generator(market: Market, sink: impl Publish, config: &Config, shutdown: &CancellationToken) {
    tokio::spawn(Generator::new(market, sink).run(config.tick_rate_hz, shutdown.clone()));
}

#[derive(Clone)]
struct GeneratorState {
    bus: Arc<BusStatus>,
    metrics: Arc<Metrics>,
}

async fn generator_metrics(State(state): State<GeneratorState>) -> impl IntoResponse {
    crate::api::metrics_response(&state.metrics)
}

async fn generator_health(State(state): State<GeneratorState>) -> impl IntoResponse {
    let bus = state.bus.health();
    let body = serde_json::json!({
        "role": Role::Generator.name(),
        "last": bus.last_written.map(|id| id.to_string()),
        "bus": bus,
    });
    crate::api::health_response(bus.healthy(), body)
}
