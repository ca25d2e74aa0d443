//! The REST endpoints: symbols, snapshot, candle history, order books, trades, health and
//! metrics.

use super::AppState;
use crate::hub::{MAX_KEPT, SelectError, TAPE_KEPT};
use crate::metrics::Transport;
use crate::request::{ApiError, Params, int_param};
use app::wire::book::{BookAt, Trades};
use app::wire::protocol::Interval;
use app::wire::protocol::{History, Instrument, Snapshot, WireCount, WireReport};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Most candles one `/api/history` call returns (and its default): all a server keeps at the
/// finest interval.
pub const MAX_HISTORY_LIMIT: usize = MAX_KEPT;

/// `GET /api/wire`: each transport's events and bytes since start-up ([`WireReport`]).
pub async fn wire(State(app): State<AppState>) -> Json<WireReport> {
    let transports = app
        .hub()
        .metrics()
        .wire_totals()
        .into_iter()
        .map(|(transport, totals)| WireCount {
            transport: match transport {
                Transport::Sse => "sse",
                Transport::Ws => "ws",
                Transport::Poll => "poll",
            }
            .to_string(),
            events: totals.events,
            sent: totals.sent,
            received: totals.received,
        })
        .collect();
    Json(WireReport { transports })
}

pub async fn symbols(State(app): State<AppState>) -> Json<Vec<Instrument>> {
    Json(app.hub().instruments().to_vec())
}

#[derive(Debug, Deserialize)]
pub struct SnapshotParams {
    symbols: Option<String>,
    depth: Option<String>,
}

pub async fn snapshot(
    State(app): State<AppState>,
    Params(params): Params<SnapshotParams>,
) -> Result<Json<Snapshot>, ApiError> {
    let hub = app.hub();
    let selection = hub.with_depth(hub.select(params.symbols.as_deref())?, params.depth.as_deref())?;
    Ok(Json(hub.snapshot(&selection)))
}

/// Parameters of the endpoints about one symbol.
#[derive(Debug, Deserialize)]
pub struct SymbolParams {
    symbol: Option<String>,
    interval: Option<String>,
    limit: Option<String>,
}

impl SymbolParams {
    /// The symbol asked for, as the universe spells it; it must be there.
    fn symbol(&self) -> Result<String, ApiError> {
        self.symbol
            .as_deref()
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::BadQuery("symbol is required, e.g. ?symbol=AAPL".into()))
    }
}

/// The refusal for a symbol the universe does not have.
fn unknown(symbol: &str) -> ApiError {
    ApiError::Symbols(SelectError::Unknown(symbol.chars().take(32).collect()))
}

/// `GET /api/book?symbol=`: the symbol's whole book (20 levels a side, best first) and its
/// checksum, at frame `seq`.
pub async fn book(State(app): State<AppState>, Params(params): Params<SymbolParams>) -> Result<Json<BookAt>, ApiError> {
    let symbol = params.symbol()?;
    app.hub().book(&symbol).map(Json).ok_or_else(|| unknown(&symbol))
}

/// `GET /api/trades?symbol=&limit=`: the symbol's newest prints (newest first; `limit` 1 to
/// 200, default 50) as of frame `seq`.
pub async fn trades(
    State(app): State<AppState>,
    Params(params): Params<SymbolParams>,
) -> Result<Json<Trades>, ApiError> {
    let symbol = params.symbol()?;
    let limit = int_param("limit", params.limit.as_deref(), 50, 1..=TAPE_KEPT as u64)?;
    app.hub()
        .trades(&symbol, limit as usize)
        .map(Json)
        .ok_or_else(|| unknown(&symbol))
}

pub async fn history(
    State(app): State<AppState>,
    Params(params): Params<SymbolParams>,
) -> Result<Json<History>, ApiError> {
    let symbol = params.symbol()?;
    let interval = match params.interval.as_deref() {
        None | Some("") => Interval::S1,
        Some(text) => text
            .parse()
            .map_err(|e: app::wire::protocol::IntervalError| ApiError::BadQuery(e.to_string()))?,
    };
    let limit = int_param(
        "limit",
        params.limit.as_deref(),
        MAX_HISTORY_LIMIT as u64,
        1..=MAX_HISTORY_LIMIT as u64,
    )?;
    let history = app
        .hub()
        .history(&symbol, interval, limit as usize)
        .ok_or_else(|| unknown(&symbol))?;
    Ok(Json(history))
}

/// `200 {"status":"ok",..}` while the node is serving a live market; `503` with
/// `"status":"degraded"` while an edge has lost the market bus (its clients stay connected and
/// get the missed frames, or a `resync`, once it is back).
pub async fn healthz(State(app): State<AppState>) -> Response {
    let id = app.hub().last_id();
    let bus = app.bus.as_ref().map(|b| b.health());
    let age_ms = (chrono::Utc::now().timestamp_millis() - app.hub().last_ts()).max(0);
    // A market that stopped moving is not healthy, whatever the reason (a stuck generator, a
    // bus that stopped delivering).
    let stale = app.stale_after.is_some_and(|limit| age_ms as u128 > limit.as_millis());
    let healthy = !stale && bus.as_ref().is_none_or(|b| b.healthy());
    let body = serde_json::json!({
        "role": if app.bus.is_some() { app.role.name() } else { "embedded" },
        "epoch": format!("{:x}", id.epoch),
        "seq": id.seq,
        "last_frame_age_ms": age_ms,
        "stale": stale,
        "bus": bus,
    });
    health_response(healthy, body)
}

/// `200` with `"status":"ok"` added to `body` (a JSON object) when `healthy`, else `503` with
/// `"status":"degraded"`.
pub fn health_response(healthy: bool, mut body: serde_json::Value) -> Response {
    let (status, word) = if healthy {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    body["status"] = word.into();
    (status, Json(body)).into_response()
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    metrics_response(app.hub().metrics())
}

/// The Prometheus text of `metrics`.
pub fn metrics_response(metrics: &crate::metrics::Metrics) -> impl IntoResponse + use<> {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}
