//! Assembles a node from its [`Config`]: the market, the hub, the bus link for its role, and the
//! router that serves them. The binary and the multi-node tests start nodes the same way.
//!
//! | `MARKET_BUS` | `ROLE`      | runs                                                       |
//! |--------------|-------------|------------------------------------------------------------|
//! | unset        | `all`       | generator → hub in memory (the default, nothing to install) |
//! | set          | `all`       | generator → Redis → hub, in one process                    |
//! | set          | `generator` | generator → Redis; serves `/healthz` and `/metrics` only    |
//! | set          | `edge`      | Redis → hub; serves the dashboard and every transport       |

use crate::alerting::{AlertDesk, Alerting};
use crate::bus::{self, BusStatus, WriterSetup};
use crate::config::{Config, Limits, Role};
use crate::feed::Publish;
use crate::feed::generator::Generator;
use crate::feed::market::Market;
use crate::http::api::{health_response, metrics_response};
use crate::http::{AppState, router};
use crate::hub::{CandleStore, Hub, HubConfig};
use crate::metrics::Metrics;
use crate::transport::Transports;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::prelude::LeptosOptions;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A started node: its router, and what tests look into.
pub struct Node {
    pub app: Router,
    /// What [`crate::net::serve`] needs to serve SSE streams on their own connections.
    pub streams: Option<Transports>,
    pub hub: Option<Arc<Hub>>,
    pub bus: Option<Arc<BusStatus>>,
    /// Set if a task the node cannot do without (generator, bus writer, bus follower) stopped.
    pub failure: Failure,
}

/// The name of the first essential task that stopped on its own, if one did.
#[derive(Clone, Debug, Default)]
pub struct Failure(Arc<OnceLock<&'static str>>);

impl Failure {
    pub fn get(&self) -> Option<&'static str> {
        self.0.get().copied()
    }
}

/// Runs `task`, which should only end when `shutdown` is cancelled. If it ends before that, or
/// panics, the node cannot go on serving a live market: crash-only, it records the failure and
/// shuts the node down, and the binary exits non-zero so that a supervisor restarts it (clients
/// resume exactly, or get a `resync`, when they reconnect). Returns the watcher.
fn supervise(
    name: &'static str,
    task: impl Future<Output = ()> + Send + 'static,
    shutdown: &CancellationToken,
    failure: &Failure,
) -> tokio::task::JoinHandle<()> {
    let handle = tokio::spawn(task);
    let (shutdown, failure) = (shutdown.clone(), failure.clone());
    tokio::spawn(async move {
        let outcome = handle.await;
        if shutdown.is_cancelled() {
            return;
        }
        match outcome {
            Err(err) if err.is_panic() => tracing::error!("the {name} panicked; stopping the node"),
            _ => tracing::error!("the {name} stopped on its own; stopping the node"),
        }
        let _ = failure.0.set(name);
        shutdown.cancel();
    })
}

/// Starts the node's tasks (they end when `shutdown` is cancelled) and returns its router.
/// An edge waits here until it has joined the bus; `None` if shut down meanwhile.
pub async fn start(
    config: &Config,
    limits: &Limits,
    leptos_options: LeptosOptions,
    accounts: Option<crate::accounts::Accounts>,
    shutdown: CancellationToken,
) -> Option<Node> {
    let metrics = Arc::new(Metrics::default());
    let failure = Failure::default();
    let hub_config = HubConfig {
        history_frames: config.history_frames as usize,
        live_buffer: config.live_buffer(),
    };
    let state = |hub: Arc<Hub>| {
        let mut state = AppState::new(leptos_options.clone(), hub, shutdown.clone(), config.keepalive());
        let policy = config
            .policy()
            .with_live_reload(crate::security::live_reload_port(&leptos_options));
        state.transports = state.transports.clone().with_limits(limits).with_policy(policy);
        state.stale_after = Some(config.stale_after());
        state.with_accounts(accounts.clone())
    };
    let node = |state: AppState, bus: Option<Arc<BusStatus>>, failure: &Failure| Node {
        app: router(state.clone()),
        streams: Some(state.transports.clone()),
        hub: Some(state.hub().clone()),
        bus,
        failure: failure.clone(),
    };

    // Price alerts are evaluated where the market is made (see `alerting`).
    let desk = |market: &Market| {
        let desk = new_desk(accounts.as_ref()?, market.instruments(), config, &metrics);
        supervise(
            "alerts writer",
            desk.clone().run(INBOX_PURGE_EVERY, shutdown.clone()),
            &shutdown,
            &failure,
        );
        Some(desk)
    };
    let Some(url) = &config.market_bus else {
        let (market, candles) = market(config).await;
        let epoch = rand::random::<u32>() as u64;
        tracing::info!(
            epoch = format!("{epoch:x}"),
            "embedded market: generator and hub in this process"
        );
        let hub = Arc::new(Hub::for_market(epoch, &market, hub_config, metrics.clone()).with_candles(candles));
        let alerts = desk(&market);
        spawn_generator(market, hub.clone(), alerts.clone(), config, &shutdown, &failure);
        let mut state = state(hub);
        state.alerts = alerts;
        return Some(node(state, None, &failure));
    };

    let client = match bus::client(url) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!("{err}");
            return None;
        }
    };
    let status = Arc::new(BusStatus::new(&client, metrics.clone()));
    tracing::info!(bus = %status.address, role = config.role.name(), "joining the market bus");
    // Private events and alert changes between nodes: the generator's notifications reach the
    // edges' streams, and alerts made through an edge reach the generator's engine.
    if let Some(accounts) = &accounts {
        let (writer, follower) = bus::relay(client.clone(), accounts, shutdown.clone());
        supervise("private relay writer", writer, &shutdown, &failure);
        supervise("private relay follower", follower, &shutdown, &failure);
    }
    let mut alerts = None;
    if config.role != Role::Edge {
        let (market, candles) = market(config).await;
        let setup = WriterSetup {
            instruments: market.instruments(),
            quotes: market.quotes(),
            books: market.books(),
            history_frames: hub_config.history_frames,
            candles,
        };
        let (publisher, writer) = bus::publisher(client.clone(), setup, status.clone(), shutdown.clone());
        supervise("bus writer", writer, &shutdown, &failure);
        alerts = desk(&market);
        spawn_generator(market, publisher, alerts.clone(), config, &shutdown, &failure);
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
            failure,
        });
    }
    let hub = bus::join(&client, hub_config, &status, &shutdown).await?;
    // An edge serves the alert endpoints too; the generator evaluates what they change.
    if alerts.is_none()
        && let Some(accounts) = &accounts
    {
        alerts = Some(new_desk(accounts, hub.instruments().to_vec(), config, &metrics));
    }
    let follow = bus::follow_loop(client, hub.clone(), status.clone(), shutdown.clone());
    supervise("bus follower", follow, &shutdown, &failure);
    let mut state = state(hub).on_bus(config.role, status.clone());
    state.alerts = alerts;
    Some(node(state, Some(status), &failure))
}

/// What a node on a bus answers, to every request, until it has joined: `503` and
/// `{"status":"joining","role":..}`.
pub fn joining_router(role: Role) -> Router {
    Router::new().fallback(move || async move {
        let body = serde_json::json!({ "status": "joining", "role": role.name() });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    })
}

/// Frames per second of the simulated past, at most: finer would only cost start-up time (the
/// finest candles are a second wide).
const PAST_HZ: f64 = 10.0;

/// The seeded market, and the candles of its simulated past (`PAST_HOURS`; none with 0).
async fn market(config: &Config) -> (Market, CandleStore) {
    let seed = config.market_seed.unwrap_or_else(rand::random);
    let universe = crate::feed::market::universe(config.symbols.as_ref().map(|u| u.0.as_slice()));
    let mut market = Market::new(universe, seed, config.tick_rate_hz);
    let mut candles = CandleStore::new(market.len());
    let seconds = config.past_hours * 3600;
    if seconds > 0 {
        let started = std::time::Instant::now();
        let (hz, end) = (config.tick_rate_hz.min(PAST_HZ), chrono::Utc::now().timestamp_millis());
        // Half a second of CPU for 8 hours: off the async workers.
        (market, candles) = tokio::task::spawn_blocking(move || {
            market.simulate_past(seconds, hz, end, |i, ts, price, qty| candles.push(i, ts, price, qty));
            (market, candles)
        })
        .await
        .expect("simulating the past does not panic");
        tracing::info!(
            hours = config.past_hours,
            took_ms = started.elapsed().as_millis() as u64,
            "simulated the market's past"
        );
    }
    tracing::info!(
        seed,
        symbols = market.len(),
        rate_hz = config.tick_rate_hz,
        "market ready (replay it with MARKET_SEED={seed})"
    );
    (market, candles)
}

/// The alert endpoints' desk over `instruments`, with the configured limits.
fn new_desk(
    accounts: &crate::accounts::Accounts,
    instruments: Vec<app::wire::protocol::Instrument>,
    config: &Config,
    metrics: &Metrics,
) -> Arc<AlertDesk> {
    Arc::new(
        AlertDesk::new(
            accounts.clone(),
            instruments,
            config.max_alerts_per_user as usize,
            Duration::from_secs(config.inbox_retention_days * 86_400),
        )
        .with_metrics(metrics),
    )
}

/// How often notifications past `INBOX_RETENTION_DAYS` are deleted.
const INBOX_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Steps `market` into `sink`, with the alerts of `alerts` evaluated at every frame.
fn spawn_generator(
    market: Market,
    sink: impl Publish,
    alerts: Option<Arc<AlertDesk>>,
    config: &Config,
    shutdown: &CancellationToken,
    failure: &Failure,
) {
    let rate = config.tick_rate_hz;
    match alerts {
        Some(desk) => {
            let last = market.quotes().iter().map(|q| q.price).collect();
            let generator = Generator::new(market, Alerting::new(sink, desk, last)).run(rate, shutdown.clone());
            supervise("generator", generator, shutdown, failure);
        }
        None => {
            let generator = Generator::new(market, sink).run(rate, shutdown.clone());
            supervise("generator", generator, shutdown, failure);
        }
    }
}

#[derive(Clone)]
struct GeneratorState {
    bus: Arc<BusStatus>,
    metrics: Arc<Metrics>,
}

async fn generator_metrics(State(state): State<GeneratorState>) -> impl IntoResponse {
    metrics_response(&state.metrics)
}

async fn generator_health(State(state): State<GeneratorState>) -> impl IntoResponse {
    let bus = state.bus.health();
    let body = serde_json::json!({
        "role": Role::Generator.name(),
        "last": bus.last_written.map(|id| id.to_string()),
        "bus": bus,
    });
    health_response(bus.healthy(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_essential_task_that_panics_or_ends_stops_the_node_and_is_named() {
        for (name, task) in [
            (
                "panicker",
                Box::pin(async { panic!("boom") as () }) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
            ),
            ("quitter", Box::pin(async {})),
        ] {
            let (shutdown, failure) = (CancellationToken::new(), Failure::default());
            supervise(name, task, &shutdown, &failure).await.unwrap();
            assert!(shutdown.is_cancelled(), "the node is stopped");
            assert_eq!(failure.get(), Some(name));
        }
    }

    #[tokio::test]
    async fn a_task_that_ends_at_shutdown_is_no_failure() {
        let (shutdown, failure) = (CancellationToken::new(), Failure::default());
        let stop = shutdown.clone();
        let watcher = supervise("generator", async move { stop.cancelled().await }, &shutdown, &failure);
        shutdown.cancel();
        watcher.await.unwrap();
        assert_eq!(failure.get(), None);
    }
}
