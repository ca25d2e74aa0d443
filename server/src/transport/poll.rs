//! Long polling: `GET /api/poll?symbols=..&depth=..&after=<id>&timeout_ms=..`.
//!
//! Each request resumes after `after`: it is answered at once with what is already there (at
//! most [`MAX_EVENTS`]), otherwise after the next event or the timeout. The answer says which id
//! to poll after next, so nothing falls between two polls; an `after` outside the history or
//! from another run gets a `resync`, as on the other transports.
//!
//! One implementation, two ways in, as for SSE. A connection whose first request is a poll is
//! served by the connection layer ([`crate::net`]) without hyper, for as long as its requests
//! are polls: it reads each head, asks [`Poller::answer`], and writes [`Answer::response`] with
//! one `write`. Any other request (and a poll that fails a check) hands the connection to hyper,
//! whose router answers polls through [`poll`], with the same checks and the same answers.
//!
//! Why it is cheap (BENCHMARKS.md, "Long polling"):
//! - A connection's polls share one subscription ([`Poller`]): a poll that resumes exactly where
//!   the connection's previous one ended, with the same selection, continues it. Nothing a poll
//!   does grows with the history, and the hub's lock is not taken.
//! - Every poller waiting for the same event with the same selection gets the same bytes: the
//!   whole response (head and body) is encoded once per event ([`Answers`]) and written as it is.

use super::feed::{Feed, session_ended};
use super::{Transports, event_json};
use crate::hub::{Event, Selection};
use crate::metrics::Transport;
use crate::request::{ApiError, Params, check_origin, int_param};
use crate::socket::Claim;
use app::wire::protocol::StreamId;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where polls are served.
pub const PATH: &str = "/api/poll";
/// Default wait when nothing is available.
pub const DEFAULT_TIMEOUT_MS: u64 = 25_000;
/// Longest wait a client may ask for.
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// Most events in one answer; a client further behind polls again at once.
pub const MAX_EVENTS: usize = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PollParams {
    /// Comma-separated symbols (all when absent).
    symbols: Option<String>,
    /// Symbols (among `symbols`) whose books and prints come too.
    depth: Option<String>,
    /// The `next` of the previous answer (none: start with a snapshot).
    after: Option<String>,
    /// How long to wait for an event, 0–60000 ms (default 25000).
    timeout_ms: Option<String>,
}

/// A checked poll: refusals happen here, before anything waits.
pub struct Ask {
    selection: Selection,
    after: Option<StreamId>,
    timeout: Duration,
    /// The request's headers: whose session it carries is looked up when a poll needs a new
    /// feed (a poll that continues the connection's previous one does not ask the store).
    headers: HeaderMap,
}

impl Ask {
    pub fn check(t: &Transports, headers: &HeaderMap, uri: &Uri) -> Result<Ask, ApiError> {
        check_origin(&t.policy, headers)?;
        let Params(params) = Params::<PollParams>::from_uri(uri)?;
        let selection = t
            .hub
            .with_depth(t.hub.select(params.symbols.as_deref())?, params.depth.as_deref())?;
        let after: Option<StreamId> = match params.after.as_deref() {
            None | Some("") => None,
            Some(text) => Some(text.parse().map_err(|e| ApiError::BadQuery(format!("after: {e}")))?),
        };
        let timeout = int_param(
            "timeout_ms",
            params.timeout_ms.as_deref(),
            DEFAULT_TIMEOUT_MS,
            0..=MAX_TIMEOUT_MS,
        )?;
        Ok(Ask {
            selection,
            after,
            timeout: Duration::from_millis(timeout),
            headers: headers.clone(),
        })
    }
}

/// The subscription a connection's polls share (see the module's docs).
#[derive(Default)]
pub struct Poller {
    kept: Option<Kept>,
}

struct Kept {
    feed: Feed,
    /// Where the last answer told the client to poll after.
    next: StreamId,
}

/// One poll's answer.
pub struct Answer {
    events: Vec<Event>,
    next: StreamId,
}

impl Poller {
    /// Answers `ask`: at once with what is ready, else with the next event, or nothing once the
    /// timeout passes or the server shuts down.
    pub async fn answer(&mut self, t: &Transports, ask: Ask) -> Answer {
        let kept = self.kept.take().filter(|kept| {
            ask.after == Some(kept.next)
                && *kept.feed.market().selection() == ask.selection
                && kept.feed.same_session(&ask.headers)
        });
        let mut feed = match kept {
            Some(kept) => kept.feed,
            None => Feed::open(t, &ask.headers, ask.selection, ask.after).await,
        };
        // Counted once its feed is open (its session's events included): from then on it is served.
        let client = t.hub.metrics().client(Transport::Poll);
        let mut events = feed.take_ready(MAX_EVENTS);
        if events.is_empty() && !ask.timeout.is_zero() {
            let signed_out = session_ended(feed.session_watch());
            tokio::select! {
                event = feed.next() => events.push(event),
                () = tokio::time::sleep(ask.timeout) => {}
                () = t.shutdown.cancelled() => {}
                // Sign-out answers a waiting poll at once; the next comes without the session.
                () = signed_out => {}
            }
            events.extend(feed.take_ready(MAX_EVENTS - events.len()));
        }
        for _ in &events {
            client.delivered();
        }
        let next = events
            .last()
            .map(Event::stream_id)
            .or(feed.position())
            .or(ask.after)
            .unwrap_or_else(|| StreamId {
                market: t.hub.last_id(),
                private: None,
            });
        self.kept = Some(Kept { feed, next });
        Answer { events, next }
    }
}

impl Answer {
    /// The JSON body: `{"events":[…],"next":"<id>"}`.
    fn body(&self) -> String {
        let mut body = String::from(r#"{"events":["#);
        for (n, event) in self.events.iter().enumerate() {
            if n > 0 {
                body.push(',');
            }
            body.push_str(&event_json(event));
        }
        let _ = write!(body, r#"],"next":"{}"}}"#, self.next);
        body
    }

    /// The whole HTTP/1.1 response, for a connection served without hyper: the same headers
    /// the router's answer carries, and the body. An answer of one event, the usual one, is
    /// encoded once for every poller that gets that very event.
    pub fn response(&self, t: &Transports) -> Arc<[u8]> {
        // A signed-in user's answers are their own.
        let [event] = self.events.as_slice() else {
            return self.encode(t);
        };
        if event.private.is_some() {
            return self.encode(t);
        }
        // A one-event answer's `next` is its event's id: the event says it all.
        let mut answers = t.poll_answers.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((held, bytes)) = answers.as_ref()
            && held.is(event)
        {
            return bytes.clone();
        }
        let bytes = self.encode(t);
        *answers = Some((event.clone(), bytes.clone()));
        bytes
    }

    fn encode(&self, t: &Transports) -> Arc<[u8]> {
        let body = self.body();
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\n{}content-length: {}\r\ndate: {date}\r\n\r\n",
            t.policy.head_lines(),
            body.len()
        );
        response.push_str(&body);
        Arc::from(response.into_bytes())
    }
}

/// The last one-event answer encoded, shared by the pollers that get the same event.
#[derive(Default)]
pub(super) struct Answers {
    last: Mutex<Option<(Event, Arc<[u8]>)>>,
}

/// The router's handler, for a poll on a connection that served something else first.
#[utoipa::path(get, path = "/api/poll", tag = "streams", params(PollParams),
    responses(
        (status = 200, description = "`{\"events\":[{\"type\",\"id\",\"data\"}…],\"next\":\"<id>\"}`: the events after `after` (at most 500), or none after the timeout", body = Object),
        (status = 400, description = "An unknown symbol, a malformed id, a timeout out of range", body = app::wire::protocol::ApiErrorBody),
        (status = 403, description = "From an origin not in ALLOWED_ORIGINS", body = app::wire::protocol::ApiErrorBody)))]
pub async fn poll(
    State(t): State<Transports>,
    claim: Option<Extension<Claim>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let ask = Ask::check(&t, &headers, &uri)?;
    if let Some(Extension(claim)) = claim {
        claim.claim(t.hub.metrics().wire(Transport::Poll));
    }
    let answer = Poller::default().answer(&t, ask).await;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        answer.body(),
    )
        .into_response())
}
