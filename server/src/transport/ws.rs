//! WebSocket: `GET /api/ws?symbols=..&last_event_id=..`, the two-way transport.
//!
//! Parameters are checked before the upgrade (a bad request gets the same 400 JSON as the other
//! transports). After it, the server sends one text message per event,
//! `{"type":"snapshot"|"tick"|"resync","id":"…","data":{…}}`, with the same resume and resync
//! rules as SSE. The client may change its subscription without reconnecting:
//! `{"op":"subscribe","symbols":["TSLA"]}`, `{"op":"unsubscribe","symbols":["AAPL"]}` or
//! `{"op":"set","symbols":["AAPL","MSFT"]}` (`null` = all); `subscribe` and `set` may name the
//! depth symbols too, as `depth=` does (`"depth":["AAPL"]`; without it, depth keeps the symbols
//! still selected). The answer is a `snapshot` of the new selection, after which ticks follow it. A message the server cannot use gets
//! `{"type":"error","error":"…"}` and the connection stays open.
//!
//! Every keep-alive period the server sends a ping and a `{"type":"heartbeat"}` message.
//!
//! Close codes: 1001 when the server shuts down, 1003 for a binary message, 1008 when the peer
//! stopped answering pings (two keep-alive periods of silence), 1009 for a message over
//! [`MAX_MESSAGE_BYTES`], 1007 for text that is not UTF-8, 1002 for a broken frame.

use super::Transports;
use super::event_json;
use crate::hub::Subscription;
use crate::metrics::Transport;
use crate::request::{ApiError, Params, StreamParams, check_origin, resume_point};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::time::Instant;

/// Sent every keep-alive period: `{"type":"heartbeat"}`.
pub const HEARTBEAT: &str = r#"{"type":"heartbeat"}"#;

/// Largest message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

pub async fn ws(
    State(app): State<Transports>,
    headers: HeaderMap,
    Params(params): Params<StreamParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&app.policy, &headers)?;
    let selection = params.selection(&app.hub)?;
    let from = resume_point(&headers, &params)?;
    let upgrade =
        upgrade.map_err(|e| ApiError::BadQuery(format!("expected a WebSocket upgrade: {}", e.body_text())))?;
    let subscription = app.hub.subscribe(from, selection);
    // tungstenite's 128 KiB default read and write buffers were most of a connection's memory
    // (136 KB per idle socket, see BENCHMARKS.md); clients send only small commands, and every
    // event is flushed as it is written.
    Ok(upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| session(socket, subscription, app)))
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
enum Command {
    Subscribe {
        symbols: Vec<String>,
        depth: Option<Vec<String>>,
    },
    Unsubscribe {
        symbols: Vec<String>,
    },
    Set {
        symbols: Option<Vec<String>>,
        depth: Option<Vec<String>>,
    },
}

async fn session(mut socket: WebSocket, mut subscription: Subscription, app: Transports) {
    let client = app.hub.metrics().client(Transport::Ws);
    let mut heartbeat = tokio::time::interval(app.keepalive);
    heartbeat.tick().await; // the first tick is immediate
    let mut last_heard = Instant::now();
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            biased;
            () = app.shutdown.cancelled() => {
                let _ = socket.send(close(1001, "server shutting down")).await;
                break;
            }
            incoming = socket.recv() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => {
                        // Tell the client why, where the protocol has a code for it.
                        if let Some((code, reason)) = refusal(err) {
                            let _ = socket.send(close(code, reason)).await;
                        }
                        break;
                    }
                    None => break,
                };
                last_heard = Instant::now();
                let reply = match message {
                    Message::Text(text) => match command(&app, &mut subscription, text.as_str()) {
                        Ok(event) => event_json(&event),
                        Err(reason) => serde_json::json!({ "type": "error", "error": reason }).to_string(),
                    },
                    Message::Binary(_) => {
                        let _ = socket.send(close(1003, "binary messages are not supported")).await;
                        break;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                if socket.send(Message::Text(reply.into())).await.is_err() {
                    break;
                }
            }
            event = subscription.next() => {
                if socket.send(Message::Text(event_json(&event).into())).await.is_err() {
                    break;
                }
                client.delivered();
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > app.keepalive * 2 {
                    let _ = socket.send(close(1008, "no pong")).await;
                    break;
                }
                // A ping for the protocol, and a `heartbeat` message for the page (browsers
                // answer pings silently), so a quiet selection is not mistaken for a dead link.
                if socket.send(Message::Ping(Default::default())).await.is_err()
                    || socket.send(Message::Text(HEARTBEAT.into())).await.is_err()
                {
                    break;
                }
            }
        }
    }
}

/// The close code and reason for a message the server could not read, if the protocol has one:
/// 1009 for a message over [`MAX_MESSAGE_BYTES`], 1007 for text that is not UTF-8, 1002 for a
/// broken frame. (A connection that simply failed gets no close frame: nobody would read it.)
fn refusal(err: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::{CapacityError, Error};
    match *err.into_inner().downcast::<Error>().ok()? {
        Error::Capacity(CapacityError::MessageTooLong { .. }) => Some((1009, "message too big: at most 4096 bytes")),
        Error::Capacity(_) => Some((1009, "message too big")),
        Error::Utf8(_) => Some((1007, "text message is not valid UTF-8")),
        Error::Protocol(_) => Some((1002, "WebSocket protocol error")),
        _ => None,
    }
}

/// Applies a client command; the answer is a snapshot of the new selection.
fn command(app: &Transports, subscription: &mut Subscription, text: &str) -> Result<crate::hub::Event, String> {
    let command: Command = serde_json::from_str(text).map_err(|e| {
        let reason = format!("bad message: {e}; expected e.g. {{\"op\":\"subscribe\",\"symbols\":[\"AAPL\"]}}");
        // At most 200 bytes, cut at a character boundary (the error may quote the client's text).
        let mut end = reason.len().min(200);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason[..end].to_string()
    })?;
    let hub = &app.hub;
    let current = subscription.selection();
    let (selection, depth) = match command {
        Command::Subscribe { symbols, depth } => (hub.reselect(current, &symbols, &[]), depth),
        Command::Unsubscribe { symbols } => (hub.reselect(current, &[], &symbols), None),
        Command::Set { symbols, depth } => (
            hub.select(symbols.map(|s| s.join(",")).as_deref())
                .map(|new| current.keeping_depth(new)),
            depth,
        ),
    };
    let selection = match depth {
        Some(depth) => selection.and_then(|s| hub.depth_of(s, &depth)),
        None => selection,
    }
    .map_err(|e| e.to_string())?;
    Ok(subscription.reselect(selection))
}
