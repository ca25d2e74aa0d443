//! The alert and inbox endpoints (issue 26): `/api/alerts`, `/api/alerts/{id}`,
//! `/api/notifications`, `/api/notifications/read`. A signed-in user's own only (another user's
//! alert is `404`), with the account endpoints' rules: JSON bodies of at most 16 KB, and changes
//! only from an allowed origin as `application/json`.

use super::AppState;
use super::accounts::{Forged, Refused, TooLarge, Unavailable, accounts, changing, parse, user_of};
use crate::alerting::AlertDesk;
use app::wire::alerts::{Alert, AlertPatch, MarkRead, NewAlert, Notification, ReadMark};
use app::wire::protocol::ApiErrorBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::sync::Arc;

/// The node's alert desk, or `503` on a node without one.
fn desk(app: &AppState) -> Result<&Arc<AlertDesk>, Refused> {
    app.alerts.as_ref().ok_or_else(|| {
        Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "alerts are not served by this node".into(),
            None,
        )
    })
}

/// `POST /api/alerts`: `201` with the alert.
#[utoipa::path(post, path = "/api/alerts", tag = "alerts", request_body = NewAlert,
    responses(
        (status = 201, description = "The alert, active", body = Alert),
        (status = 400, description = "An unknown symbol or condition, a price off the tick grid, a missing level, or invalid JSON", body = ApiErrorBody),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 429, description = "MAX_ALERTS_PER_USER active alerts already, or 30 created in the last minute (with `Retry-After`)", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Alert>), Refused> {
    let desk = desk(&app)?;
    let (_, user) = changing(&app, &headers).await?;
    let new: NewAlert = parse(body)?;
    Ok((StatusCode::CREATED, Json(desk.create(&user, new).await?)))
}

/// `GET /api/alerts`: the user's alerts, oldest first, in every state.
#[utoipa::path(get, path = "/api/alerts", tag = "alerts",
    responses(
        (status = 200, description = "The user's alerts, oldest first", body = Vec<Alert>),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Unavailable))]
pub async fn list(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<Alert>>, Refused> {
    let desk = desk(&app)?;
    let user = user_of(accounts(&app)?, &headers).await?;
    Ok(Json(desk.list(&user).await?))
}

/// `PATCH /api/alerts/{id}`: changes the level, frequency, expiry, note or state.
#[utoipa::path(patch, path = "/api/alerts/{id}", tag = "alerts", params(("id" = u64, Path, description = "The alert's id")), request_body = AlertPatch,
    responses(
        (status = 200, description = "The alert as changed", body = Alert),
        (status = 400, description = "A field out of its values, or invalid JSON", body = ApiErrorBody),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 404, description = "The user has no such alert", body = ApiErrorBody),
        (status = 429, description = "Re-arming it would pass MAX_ALERTS_PER_USER", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn patch(
    State(app): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Alert>, Refused> {
    let desk = desk(&app)?;
    let (_, user) = changing(&app, &headers).await?;
    let patch: AlertPatch = parse(body)?;
    Ok(Json(desk.patch(&user, id, patch).await?))
}

/// `DELETE /api/alerts/{id}`: `204`.
#[utoipa::path(delete, path = "/api/alerts/{id}", tag = "alerts", params(("id" = u64, Path, description = "The alert's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 404, description = "The user has no such alert", body = ApiErrorBody),
        Forged, Unavailable))]
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<StatusCode, Refused> {
    let desk = desk(&app)?;
    let (_, user) = changing(&app, &headers).await?;
    desk.delete(&user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The inbox's page.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Entries after this id (default 0: from the oldest kept).
    after: Option<u64>,
    /// At most this many, 1 to 500 (default 100).
    limit: Option<u32>,
}

/// `GET /api/notifications?after=&limit=`: the user's inbox, oldest first.
#[utoipa::path(get, path = "/api/notifications", tag = "alerts", params(InboxQuery),
    responses(
        (status = 200, description = "Inbox entries after `after`, oldest first (kept INBOX_RETENTION_DAYS)", body = Vec<Notification>),
        (status = 400, description = "`limit` out of 1–500, or a parameter that is not a number", body = ApiErrorBody),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Unavailable))]
pub async fn notifications(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<InboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Notification>>, Refused> {
    let desk = desk(&app)?;
    let Query(query) = query.map_err(|e| Refused(StatusCode::BAD_REQUEST, e.body_text(), None))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Refused(
            StatusCode::BAD_REQUEST,
            format!("limit must be from 1 to 500, not {limit}"),
            None,
        ));
    }
    let user = user_of(accounts(&app)?, &headers).await?;
    Ok(Json(desk.notifications(&user, query.after.unwrap_or(0), limit).await?))
}

/// `POST /api/notifications/read {"up_to": id}` or `{"ids": [..]}`: every tab of the user gets a
/// `read` event.
#[utoipa::path(post, path = "/api/notifications/read", tag = "alerts", request_body = MarkRead,
    responses(
        (status = 200, description = "What was marked, and how many stay unread", body = ReadMark),
        (status = 400, description = "Neither `up_to` nor `ids`, more than 500 ids, or invalid JSON", body = ApiErrorBody),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn mark_read(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ReadMark>, Refused> {
    let desk = desk(&app)?;
    let (_, user) = changing(&app, &headers).await?;
    let MarkRead { up_to, ids } = parse(body)?;
    Ok(Json(desk.mark_read(&user, up_to, ids.unwrap_or_default()).await?))
}
