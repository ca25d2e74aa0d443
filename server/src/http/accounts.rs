//! The account endpoints: `POST /api/signup`, `POST /api/login`, `POST /api/logout`,
//! `GET /api/me`. JSON in and out, bodies at most [`MAX_BODY`] bytes. A state-changing request
//! must come from an allowed origin (the rule the streams have) with `Content-Type:
//! application/json`, else `403`: a cross-site form or script cannot forge one.

use super::AppState;
use crate::accounts::{Account, AccountError, Accounts, SavedView, User, Watchlist, session_from_cookies};
use crate::request::ClientAddr;
use app::wire::protocol::ApiErrorBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Refusals several account endpoints share, for the OpenAPI document (see each handler's
/// `#[utoipa::path]`). Never built: the handlers answer [`Refused`].
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
#[response(
    status = 403,
    description = "From another origin, or not `Content-Type: application/json`"
)]
pub(super) struct Forged(ApiErrorBody);

#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
#[response(status = 413, description = "A body over 16 KB")]
pub(super) struct TooLarge(ApiErrorBody);

#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
#[response(status = 503, description = "The store is unavailable (with `Retry-After`)")]
pub(super) struct Unavailable(ApiErrorBody);

/// The largest request body the account endpoints read.
pub const MAX_BODY: usize = 16 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
struct Credentials {
    username: String,
    password: String,
}

/// Who is signed in.
#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    username: String,
}

/// A refusal: its status and `{"error": reason}`.
pub struct Refused(pub(super) StatusCode, pub(super) String, pub(super) Option<u64>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(ApiErrorBody { error: self.1 })).into_response();
        if let Some(secs) = self.2 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<AccountError> for Refused {
    fn from(err: AccountError) -> Self {
        let status = match err {
            AccountError::Invalid(_) => StatusCode::BAD_REQUEST,
            AccountError::Taken => StatusCode::CONFLICT,
            AccountError::NotFound(_) => StatusCode::NOT_FOUND,
            AccountError::WrongCredentials | AccountError::SignedOut => StatusCode::UNAUTHORIZED,
            AccountError::Throttled(_) | AccountError::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
            AccountError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let retry = match &err {
            AccountError::Throttled(wait) | AccountError::TooMany(_, wait) => Some(wait.as_secs().max(1)),
            AccountError::Unavailable => Some(5),
            _ => None,
        };
        Refused(status, err.to_string(), retry)
    }
}

fn forbidden(why: &str) -> Refused {
    Refused(StatusCode::FORBIDDEN, why.to_string(), None)
}

/// The node's accounts, or `503` on a node that has none.
pub(super) fn accounts(app: &AppState) -> Result<&Accounts, Refused> {
    app.accounts.as_ref().ok_or_else(|| {
        Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "accounts are not served by this node".into(),
            None,
        )
    })
}

/// A state-changing request must be JSON from an allowed origin (see the module's doc).
fn check_forgery(app: &AppState, headers: &HeaderMap) -> Result<(), Refused> {
    if let Err(origin) = app.transports.policy.check_origin(headers) {
        return Err(forbidden(&format!(
            "origin {origin} may not change anything here (ALLOWED_ORIGINS)"
        )));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(forbidden(
            "a request that changes something must be Content-Type: application/json",
        ))
    }
}

/// The body as `T`; a body over [`MAX_BODY`] (refused by the router's limit) is `413`.
pub(super) fn parse<T: for<'de> Deserialize<'de>>(body: Result<Bytes, BytesRejection>) -> Result<T, Refused> {
    let body = body.map_err(|e| {
        let status = e.status();
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body too large: at most {MAX_BODY} bytes")
        } else {
            format!("cannot read the request body: {}", e.body_text())
        };
        Refused(status, why, None)
    })?;
    serde_json::from_slice(&body).map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"), None))
}

/// The answer to a sign-up or sign-in: `{"username"}` and the session cookie.
fn signed_in(accounts: &Accounts, status: StatusCode, username: String, session: &str) -> Response {
    let mut response = (status, Json(Me { username })).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&accounts.cookie(session)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The session id the request's cookie carries.
fn session(headers: &HeaderMap) -> Option<&str> {
    session_from_cookies(headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()))
}

/// `POST /api/signup {"username","password"}`: `201 {"username"}` and the cookie.
#[utoipa::path(post, path = "/api/signup", tag = "accounts", request_body = Credentials,
    responses(
        (status = 201, description = "Signed up and in: the user, and the session cookie `tt_session`", body = Me),
        (status = 400, description = "An invalid username or password, or invalid JSON", body = ApiErrorBody),
        (status = 409, description = "The username is taken", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn signup(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refused> {
    let accounts = accounts(&app)?;
    check_forgery(&app, &headers)?;
    let c: Credentials = parse(body)?;
    let (user, session) = accounts.signup(&c.username, &c.password).await?;
    tracing::info!(user = user.id, "signed up");
    Ok(signed_in(accounts, StatusCode::CREATED, user.username, &session))
}

/// `POST /api/login {"username","password"}`: `200 {"username"}` and the cookie.
#[utoipa::path(post, path = "/api/login", tag = "accounts", request_body = Credentials,
    responses(
        (status = 200, description = "Signed in: the user, and a new session cookie", body = Me),
        (status = 400, description = "Invalid JSON", body = ApiErrorBody),
        (status = 401, description = "Wrong username or password (one body for both)", body = ApiErrorBody),
        (status = 429, description = "Too many failures for this username or address (with `Retry-After`)", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn login(
    State(app): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refused> {
    let accounts = accounts(&app)?;
    check_forgery(&app, &headers)?;
    let c: Credentials = parse(body)?;
    let from = client.map(|Extension(ClientAddr(ip))| ip);
    let (user, session) = accounts.login(&c.username, &c.password, from).await?;
    Ok(signed_in(accounts, StatusCode::OK, user.username, &session))
}

/// `POST /api/logout`: `204`, the session ended and its cookie removed.
#[utoipa::path(post, path = "/api/logout", tag = "accounts",
    responses(
        (status = 204, description = "Signed out: the session ends, its streams close, its cookie is removed"),
        Forged, Unavailable))]
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, Refused> {
    let accounts = accounts(&app)?;
    check_forgery(&app, &headers)?;
    if let Some(id) = session(&headers) {
        accounts.logout(id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&accounts.clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The request's signed-in user, or `401`.
pub(super) async fn user_of(accounts: &Accounts, headers: &HeaderMap) -> Result<User, Refused> {
    let id = session(headers).ok_or(AccountError::SignedOut)?;
    Ok(accounts.user_cached(id).await?)
}

/// The accounts and the signed-in user of a request that changes their state: `403` if it could
/// be forged, `401` without a session.
pub(super) async fn changing<'a>(app: &'a AppState, headers: &HeaderMap) -> Result<(&'a Accounts, User), Refused> {
    let accounts = accounts(app)?;
    check_forgery(app, headers)?;
    let user = user_of(accounts, headers).await?;
    Ok((accounts, user))
}

/// The symbols of the market this node serves.
fn universe(app: &AppState) -> Vec<String> {
    app.hub().instruments().iter().map(|i| i.symbol.clone()).collect()
}

/// `GET /api/me`: `200 {"username","watchlists","view","unread"}`, or `401`.
#[utoipa::path(get, path = "/api/me", tag = "accounts",
    responses(
        (status = 200, description = "Who is signed in, their watchlists and last view", body = Account),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Unavailable))]
pub async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Account>, Refused> {
    let accounts = accounts(&app)?;
    let id = session(&headers).ok_or(AccountError::SignedOut)?;
    Ok(Json(account_of(accounts, id).await?))
}

/// `GET /api/watchlists`: the user's watchlists, in their order.
#[utoipa::path(get, path = "/api/watchlists", tag = "accounts",
    responses(
        (status = 200, description = "The user's watchlists, in their order", body = Vec<Watchlist>),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Unavailable))]
pub async fn watchlists(State(app): State<AppState>, headers: HeaderMap) -> Result<Json<Vec<Watchlist>>, Refused> {
    let accounts = accounts(&app)?;
    let user = user_of(accounts, &headers).await?;
    Ok(Json(accounts.watchlists(&user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PutWatchlist {
    symbols: Vec<String>,
    /// A new name for the list (it keeps its place).
    rename: Option<String>,
}

/// `PUT /api/watchlists/{name} {"symbols":[…],"rename"?}`: creates or replaces it (renaming it
/// when asked); `200` with it.
#[utoipa::path(put, path = "/api/watchlists/{name}", tag = "accounts", params(("name" = String, Path, description = "The watchlist's name")), request_body = PutWatchlist,
    responses(
        (status = 200, description = "The list as saved (every stream of the user gets an `account` event)", body = Watchlist),
        (status = 400, description = "An unknown symbol, too many, a bad name, a rename to a taken name, or invalid JSON", body = ApiErrorBody),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn put_watchlist(
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Watchlist>, Refused> {
    let (accounts, user) = changing(&app, &headers).await?;
    let PutWatchlist { symbols, rename } = parse(body)?;
    Ok(Json(
        accounts
            .put_watchlist(&user, &name, rename.as_deref(), symbols, &universe(&app))
            .await?,
    ))
}

/// `DELETE /api/watchlists/{name}`: `204`, or `404` when the user has none of that name.
#[utoipa::path(delete, path = "/api/watchlists/{name}", tag = "accounts", params(("name" = String, Path, description = "The watchlist's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        (status = 404, description = "The user has no list of that name", body = ApiErrorBody),
        Forged, Unavailable))]
pub async fn delete_watchlist(
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, Refused> {
    let (accounts, user) = changing(&app, &headers).await?;
    accounts.delete_watchlist(&user, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/view {"symbol","interval","mode","depth","theme","transport"}`: `200` with it.
#[utoipa::path(put, path = "/api/view", tag = "accounts", request_body = SavedView,
    responses(
        (status = 200, description = "The view as saved", body = SavedView),
        (status = 400, description = "A field out of its values, or invalid JSON", body = ApiErrorBody),
        (status = 401, description = "Not signed in", body = ApiErrorBody),
        Forged, TooLarge, Unavailable))]
pub async fn put_view(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SavedView>, Refused> {
    let (accounts, user) = changing(&app, &headers).await?;
    let view: SavedView = parse(body)?;
    Ok(Json(accounts.put_view(&user, view, &universe(&app)).await?))
}

/// The user of session `id` and their state: what `/api/me` answers, and what their first page
/// is rendered with.
async fn account_of(accounts: &Accounts, id: &str) -> Result<Account, AccountError> {
    let user = accounts.user(id).await?;
    let state = accounts.state(&user).await?;
    let unread = accounts.store().unread(user.id).await?.max(0) as u64;
    Ok(Account {
        username: user.username,
        watchlists: state.watchlists,
        view: state.view,
        unread,
    })
}

/// How long a page render waits for the store before it renders the anonymous page instead (a
/// database that is down must not hold the market's first page).
const PAGE_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Middleware on the pages: a request with a session cookie gets its user's [`Account`] in
/// its extensions, where the page's render finds it (`page_context`). Nothing for an unknown or
/// expired session, a node without accounts, or a store that does not answer in time.
pub async fn signed_in_page(
    State(app): State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let page = request.method() == axum::http::Method::GET && app.page_paths.iter().any(|p| p == request.uri().path());
    if page
        && let (Some(accounts), Some(id)) = (app.accounts.as_ref(), session(request.headers()))
        && let Ok(Ok(signed_in)) = tokio::time::timeout(PAGE_LOOKUP_TIMEOUT, account_of(accounts, id)).await
    {
        request.extensions_mut().insert(signed_in);
    }
    next.run(request).await
}
