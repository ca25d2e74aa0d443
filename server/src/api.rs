//! The REST endpoints, request parameters shared by the transports, and the API's error type.

use crate::AppState;
use crate::hub::SelectError;
use app::candles::Interval;
use app::protocol::{ApiErrorBody, EventId, EventIdError, History, Instrument, Snapshot};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 2048;
/// Most candles one `/api/history` call returns (and its default).
pub const MAX_HISTORY_LIMIT: usize = crate::hub::CANDLE_CAP;

/// Everything a request can get wrong; each maps to a 4xx with a short JSON reason.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Symbols(#[from] SelectError),
    #[error("query string too long: at most {MAX_QUERY_LEN} bytes")]
    QueryTooLong,
    #[error("{0}")]
    BadQuery(String),
    #[error("Last-Event-ID: {0}")]
    BadLastEventId(EventIdError),
    #[error("last_event_id: {0}")]
    BadLastEventIdParam(EventIdError),
    #[error("no such endpoint")]
    NotFound,
    #[error("none of the accepted encodings is available: br, gzip or identity")]
    NotAcceptable,
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadQuery(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        (
            status,
            Json(ApiErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

/// Refuses oversized query strings before anything parses them.
pub fn check_query_len(raw: Option<&str>) -> Result<(), ApiError> {
    match raw {
        Some(q) if q.len() > MAX_QUERY_LEN => Err(ApiError::QueryTooLong),
        _ => Ok(()),
    }
}

/// An optional integer query parameter: `default` when absent or empty, else within `range`.
pub fn int_param(
    name: &str,
    text: Option<&str>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ApiError> {
    match text {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            ApiError::BadQuery(format!(
                "{name} must be an integer from {} to {}",
                range.start(),
                range.end()
            ))
        }),
    }
}

/// Parameters of the streaming endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct StreamParams {
    pub symbols: Option<String>,
    pub last_event_id: Option<String>,
}

/// The resume point of a streaming request: the `Last-Event-ID` header (what a browser's
/// EventSource sends when it reconnects) wins over the `last_event_id` query parameter (what a
/// page that already holds data sends on its first connection).
pub fn resume_point(headers: &HeaderMap, params: &StreamParams) -> Result<Option<EventId>, ApiError> {
    if let Some(value) = headers.get("last-event-id") {
        let text = value
            .to_str()
            .map_err(|_| ApiError::BadLastEventId(EventIdError("<non-ASCII>".into())))?;
        if !text.is_empty() {
            return text.parse().map(Some).map_err(ApiError::BadLastEventId);
        }
    }
    match params.last_event_id.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(ApiError::BadLastEventIdParam),
    }
}

pub async fn symbols(State(app): State<AppState>) -> Json<Vec<Instrument>> {
    Json(app.hub.instruments().to_vec())
}

#[derive(Debug, Deserialize)]
pub struct SnapshotParams {
    symbols: Option<String>,
}

pub async fn snapshot(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    params: Result<Query<SnapshotParams>, QueryRejection>,
) -> Result<Json<Snapshot>, ApiError> {
    check_query_len(raw.as_deref())?;
    let Query(params) = params?;
    let selection = app.hub.select(params.symbols.as_deref())?;
    Ok(Json(app.hub.snapshot(&selection)))
}

#[derive(Debug, Deserialize)]
pub struct HistoryParams {
    symbol: Option<String>,
    interval: Option<String>,
    limit: Option<String>,
}

pub async fn history(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Json<History>, ApiError> {
    check_query_len(raw.as_deref())?;
    let Query(params) = params?;
    let symbol = params
        .symbol
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadQuery("symbol is required, e.g. ?symbol=AAPL".into()))?;
    let interval = match params.interval.as_deref() {
        None | Some("") => Interval::S1,
        Some(text) => text
            .parse()
            .map_err(|e: app::candles::IntervalError| ApiError::BadQuery(e.to_string()))?,
    };
    let limit = int_param(
        "limit",
        params.limit.as_deref(),
        MAX_HISTORY_LIMIT as u64,
        1..=MAX_HISTORY_LIMIT as u64,
    )?;
    let history = app
        .hub
        .history(&symbol, interval, limit as usize)
        .ok_or_else(|| ApiError::Symbols(SelectError::Unknown(symbol.chars().take(32).collect())))?;
    Ok(Json(history))
}

/// `200 {"status":"ok",..}` while the node is serving a live market; `503` with
/// `"status":"degraded"` while an edge has lost the market bus (its clients stay connected and
/// get the missed frames, or a `resync`, once it is back).
pub async fn healthz(State(app): State<AppState>) -> Response {
    let id = app.hub.last_id();
    let bus = app.bus.as_ref().map(|b| b.health());
    let healthy = bus.as_ref().is_none_or(|b| b.healthy());
    let age_ms = (chrono::Utc::now().timestamp_millis() - app.hub.last_ts()).max(0);
    let body = serde_json::json!({
        "role": if app.bus.is_some() { app.role.name() } else { "embedded" },
        "epoch": format!("{:x}", id.epoch),
        "seq": id.seq,
        "last_frame_age_ms": age_ms,
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
    metrics_response(app.hub.metrics())
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
