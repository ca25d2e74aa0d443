//! What a request may ask, and why it is refused: the query parameters and resume point every
//! transport and endpoint reads, and [`ApiError`], the one type of every refusal (a 4xx with a
//! short JSON reason). Transports and the REST endpoints both build on this module.

use crate::hub::SelectError;
use app::wire::protocol::{ApiErrorBody, EventIdError, StreamId};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Longest query string accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 2048;

/// The address of the client a request came from (the connection's peer), which the
/// connection layer puts in every request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

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
    #[error("origin {0} may not open streams here (ALLOWED_ORIGINS)")]
    ForeignOrigin(String),
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
            ApiError::ForeignOrigin(_) => StatusCode::FORBIDDEN,
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

/// An extractor: the request's query string, refused when longer than [`MAX_QUERY_LEN`] before
/// anything parses it, then parsed into `T`. Every endpoint and transport reads its parameters
/// through it, so all refuse a bad query the same way.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> Params<T> {
    pub fn from_uri(uri: &Uri) -> Result<Self, ApiError> {
        check_query_len(uri.query())?;
        let Query(params) = Query::<T>::try_from_uri(uri)?;
        Ok(Params(params))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::from_uri(&parts.uri)
    }
}

/// Refuses a browser request from an origin `policy` does not allow to open streams.
pub fn check_origin(policy: &crate::security::Policy, headers: &HeaderMap) -> Result<(), ApiError> {
    policy
        .check_origin(headers)
        .map_err(|origin| ApiError::ForeignOrigin(origin.chars().take(100).collect()))
}

/// Refuses oversized query strings before anything parses them.
fn check_query_len(raw: Option<&str>) -> Result<(), ApiError> {
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
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Comma-separated symbols (all when absent).
    pub symbols: Option<String>,
    /// Symbols (among `symbols`) whose books and prints the stream carries too.
    pub depth: Option<String>,
    /// Resume after this id (`<epoch>-<seq>`, with `~<n>` on a signed-in stream); SSE's
    /// `Last-Event-ID` header wins over it.
    pub last_event_id: Option<String>,
}

impl StreamParams {
    /// What the stream selects: its symbols (all when absent) and its depth symbols.
    pub fn selection(&self, hub: &crate::hub::Hub) -> Result<crate::hub::Selection, ApiError> {
        let selection = hub.select(self.symbols.as_deref())?;
        Ok(hub.with_depth(selection, self.depth.as_deref())?)
    }
}

/// The resume point of a streaming request: the `Last-Event-ID` header (what a browser's
/// EventSource sends when it reconnects) wins over the `last_event_id` query parameter (what a
/// page that already holds data sends on its first connection).
pub fn resume_point(headers: &HeaderMap, params: &StreamParams) -> Result<Option<StreamId>, ApiError> {
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
