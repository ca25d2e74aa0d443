//! Transports: thin adapters that carry the hub's events to clients over one protocol each.
//! All three carry the same events (`snapshot`, `tick`, `resync`, and on a signed-in user's
//! stream their own `account` events, [`feed`]), the same ids and the same JSON payloads, and
//! resume by the same rules (see [`crate::hub`] and [`crate::private`]). Requests are checked by
//! [`crate::request`] before anything streams.

mod fanout;
pub mod feed;
pub mod poll;
pub mod sse;
pub mod ws;

use crate::accounts::Accounts;
use crate::config::Limits;
use crate::hub::{Event, Hub};
use crate::security::Policy;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the transports need of a node, shared by every connection: small, so a direct SSE
/// stream's task stays small.
#[derive(Clone)]
pub struct Transports {
    pub hub: Arc<Hub>,
    /// Cancelled on Ctrl-C / SIGTERM: every open stream and socket ends.
    pub shutdown: CancellationToken,
    /// Quiet time after which a stream gets a keep-alive (SSE comment, WebSocket heartbeat).
    pub keepalive: Duration,
    /// How long a write may wait for a client that does not read before the stream ends.
    pub write_timeout: Duration,
    /// Messages a WebSocket client may send in one second.
    pub ws_messages_per_sec: u32,
    /// The headers every response carries, and the origins that may open streams.
    pub policy: Arc<Policy>,
    /// The fan-out groups that write live events to SSE streams and WebSockets.
    fanout: Arc<fanout::Fanout>,
    /// The last poll answer encoded, shared by the pollers that get the same one.
    poll_answers: Arc<poll::Answers>,
    /// Who a stream's session cookie belongs to, and their private channels (`None`: every
    /// stream is anonymous).
    pub accounts: Option<Accounts>,
}

impl Transports {
    pub fn new(hub: Arc<Hub>, shutdown: CancellationToken, keepalive: Duration) -> Self {
        let fanout = Arc::new(fanout::Fanout::new(hub.clone(), shutdown.clone(), keepalive));
        Transports {
            hub,
            shutdown,
            keepalive,
            write_timeout: Limits::default().write_timeout,
            ws_messages_per_sec: Limits::default().ws_messages_per_sec,
            policy: Arc::default(),
            fanout,
            poll_answers: Arc::default(),
            accounts: None,
        }
    }

    /// The same, with signed-in users' streams carrying their own events from `accounts`.
    pub fn with_accounts(self, accounts: Option<Accounts>) -> Self {
        Transports { accounts, ..self }
    }

    /// The same, under `policy`.
    pub fn with_policy(self, policy: Policy) -> Self {
        Transports {
            policy: Arc::new(policy),
            ..self
        }
    }

    /// The same, with the per-connection limits of `limits`: writes that wait at most
    /// `write_timeout` for a client, and WebSocket clients held to `ws_messages_per_sec`.
    pub fn with_limits(self, limits: &Limits) -> Self {
        Transports {
            write_timeout: limits.write_timeout,
            ws_messages_per_sec: limits.ws_messages_per_sec,
            ..self
        }
    }
}

/// One event as a JSON object, `{"type":"tick","id":"…","data":{…}}`, for the transports that
/// frame events themselves (WebSocket messages, long-poll batches). `data` is the hub's shared
/// payload, spliced in without re-encoding.
pub fn event_json(event: &Event) -> String {
    let mut json = String::with_capacity(event.data.len() + 48);
    let _ = write!(
        json,
        r#"{{"type":"{}","id":"{}","data":"#,
        event.kind.name(),
        event.stream_id()
    );
    json.push_str(&event.data);
    json.push('}');
    json
}
