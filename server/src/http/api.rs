//! The REST endpoints: symbols, snapshot, candle history, order books, trades, health and
//! metrics.

use super::AppState;
use crate::hub::{MAX_KEPT, SelectError, TAPE_KEPT};
use crate::metrics::Transport;
use crate::request::{ApiError, Params, int_param};
use app::wire::book::{BookAt, Trades};
use app::wire::protocol::Interval;
use app::wire::protocol::{ApiErrorBody, History, Instrument, Snapshot, WireCount, WireReport};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Most candles one `/api/history` call returns (and its default): all a server keeps at the
/// finest interval.
pub const MAX_HISTORY_LIMIT: usize = MAX_KEPT;

/// `GET /api/wire`: each transport's events and bytes since start-up ([`WireReport`]).
#[utoipa::path(get, path = "/api/wire", tag = "market",
    responses((status = 200, description = "Each transport's events and bytes on the wire since start-up", body = WireReport)))]
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

/// `GET /api/symbols`: the universe.
#[utoipa::path(get, path = "/api/symbols", tag = "market",
    responses((status = 200, description = "Every instrument of the market", body = Vec<Instrument>)))]
pub async fn symbols(State(app): State<AppState>) -> Json<Vec<Instrument>> {
    Json(app.hub().instruments().to_vec())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotParams {
    /// Comma-separated symbols (all when absent).
    symbols: Option<String>,
    /// Symbols (among `symbols`) whose whole books come too.
    depth: Option<String>,
}

/// `GET /api/snapshot?symbols=&depth=`: the latest quote of every selected instrument.
#[utoipa::path(get, path = "/api/snapshot", tag = "market", params(SnapshotParams),
    responses(
        (status = 200, description = "The selected instruments' latest quotes (and books), at one frame", body = Snapshot),
        (status = 400, description = "An unknown symbol or a malformed query", body = ApiErrorBody)))]
pub async fn snapshot(
    State(app): State<AppState>,
    Params(params): Params<SnapshotParams>,
) -> Result<Json<Snapshot>, ApiError> {
    let hub = app.hub();
    let selection = hub.with_depth(hub.select(params.symbols.as_deref())?, params.depth.as_deref())?;
    Ok(Json(hub.snapshot(&selection)))
}

/// Parameters of the endpoints about one symbol.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SymbolParams {
    /// The symbol (required).
    symbol: Option<String>,
    /// `/api/history` only: `1s` (default), `5s`, `1m`, `5m`, `15m` or `1h`.
    interval: Option<String>,
    /// How many: `/api/trades` 1–200 (default 50), `/api/history` 1–3600 (default 3600).
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
#[utoipa::path(get, path = "/api/book", tag = "market", params(SymbolParams),
    responses(
        (status = 200, description = "The symbol's whole book and its checksum", body = BookAt),
        (status = 400, description = "No or an unknown symbol", body = ApiErrorBody)))]
pub async fn book(State(app): State<AppState>, Params(params): Params<SymbolParams>) -> Result<Json<BookAt>, ApiError> {
    let symbol = params.symbol()?;
    app.hub().book(&symbol).map(Json).ok_or_else(|| unknown(&symbol))
}

/// `GET /api/trades?symbol=&limit=`: the symbol's newest prints (newest first; `limit` 1 to
/// 200, default 50) as of frame `seq`.
#[utoipa::path(get, path = "/api/trades", tag = "market", params(SymbolParams),
    responses(
        (status = 200, description = "The symbol's newest prints, newest first", body = Trades),
        (status = 400, description = "No or an unknown symbol, or a limit out of range", body = ApiErrorBody)))]
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

/// `GET /api/history?symbol=&interval=&limit=`: the symbol's newest candles.
#[utoipa::path(get, path = "/api/history", tag = "market", params(SymbolParams),
    responses(
        (status = 200, description = "The symbol's newest candles at the interval, oldest first", body = History),
        (status = 400, description = "No or an unknown symbol, an unknown interval, or a limit out of range", body = ApiErrorBody)))]
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
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "Serving a live market: `{\"status\":\"ok\",…}`", body = Object),
        (status = 503, description = "Degraded (an edge that lost the bus, a stale feed): `{\"status\":\"degraded\",…}`", body = Object)))]
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

/// `GET /api/openapi.json`: the OpenAPI 3.1 document of every endpoint, generated from the
/// handlers and their types.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi(State(app): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], app.openapi.to_string()).into_response()
}

/// `GET /metrics`: Prometheus's text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The node's metrics, in Prometheus's text format", content_type = "text/plain", body = String)))]
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
