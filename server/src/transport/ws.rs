//! WebSocket: `GET /api/ws?symbols=..&depth=..&last_event_id=..`, the two-way transport.
//!
//! Parameters are checked before the upgrade (a bad request gets the same 400 JSON as the other
//! transports). After it, the server sends one text message per event,
//! `{"type":"snapshot"|"tick"|"resync","id":"…","data":{…}}`, with the same resume and resync
//! rules as SSE. The client may change its subscription without reconnecting:
//! `{"op":"subscribe","symbols":["TSLA"]}`, `{"op":"unsubscribe","symbols":["AAPL"]}` or
//! `{"op":"set","symbols":["AAPL","MSFT"]}` (`null` = all); `subscribe` and `set` may name the
//! depth symbols too, as `depth=` does (`"depth":["AAPL"]`; without it, depth keeps the symbols
//! still selected). The answer is a `snapshot` of the new selection, after which ticks follow
//! it. A message the server cannot use gets `{"type":"error","error":"…"}` and the connection
//! stays open.
//!
//! Every keep-alive period the server sends a ping and a `{"type":"heartbeat"}` message.
//!
//! Close codes: 4001 when the session of a signed-in stream ends (sign-out), 1001 when the server shuts down, 1003 for a binary message, 1008 when the peer
//! stopped answering pings (two keep-alive periods of silence) or sent more than
//! `WS_MESSAGES_PER_SEC` messages in a second (every command is answered with a snapshot, and a
//! flood must not cost the others), 1009 for a message over [`MAX_MESSAGE_BYTES`],
//! 1007 for text that is not UTF-8, 1002 for a broken frame.
//!
//! How it is served. The handshake is `tungstenite`'s (it checks the request and derives the
//! accept key); once hyper has sent the `101`, the connection's socket is taken back from hyper
//! and the WebSocket runs on it as an SSE stream does: live events are written by the fan-out
//! groups ([`super::fanout`]), each event framed once per group as a text message (the frame
//! header is `tungstenite`'s), and the connection's own task only reads what the client sends,
//! with `tungstenite` parsing (and unmasking) its frames. Why: a task per WebSocket that woke for
//! every frame, and tungstenite's own buffers, cost 1.75 times SSE's CPU per event and 13 KB per
//! connection (BENCHMARKS.md, "WebSocket on the fan-out groups").

use super::Transports;
use super::fanout::{Framing, Member, Out};
use super::feed::{Feed, session_ended};
use crate::hub::Event;
use crate::metrics::Transport;
use crate::request::{ApiError, Params, StreamParams, check_origin, resume_point};
use crate::socket::{Claim, Rewind, close_gently};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use prometheus_client::metrics::counter::Counter;
use serde::Deserialize;
use std::io::{self, Read, Write as _};
use std::pin::pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame, FrameHeader};
use tungstenite::protocol::{Message, Role, WebSocketConfig, WebSocketContext};

/// Sent every keep-alive period: `{"type":"heartbeat"}`.
pub const HEARTBEAT: &str = r#"{"type":"heartbeat"}"#;

/// Largest message a client may send.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;

/// The close code and reason of a signed-in user's WebSocket when their session ends (sign-out):
/// the page reconnects, anonymously.
pub const SIGNED_OUT: (u16, &str) = (4001, "signed out");

/// How long the last bytes and the close frame may take to leave when a WebSocket ends.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How many bytes of the client's messages are read at a time: they are small commands.
const READ_BUFFER: usize = 512;

#[utoipa::path(get, path = "/api/ws", tag = "streams", params(StreamParams),
    responses(
        (status = 101, description = "A WebSocket: one `{\"type\",\"id\",\"data\"}` message per event, the same events as SSE; commands `subscribe`, `unsubscribe`, `set`"),
        (status = 400, description = "Not a WebSocket upgrade, an unknown symbol, a malformed id or query", body = app::wire::protocol::ApiErrorBody),
        (status = 403, description = "From an origin not in ALLOWED_ORIGINS", body = app::wire::protocol::ApiErrorBody)))]
pub async fn ws(
    State(app): State<Transports>,
    Params(params): Params<StreamParams>,
    claim: Option<Extension<Claim>>,
    mut request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    check_origin(&app.policy, headers)?;
    let selection = params.selection(&app.hub)?;
    let from = resume_point(headers, &params)?;
    let accepted = tungstenite::handshake::server::create_response_with_body(&request, Body::empty)
        .map_err(|e| ApiError::BadQuery(format!("expected a WebSocket upgrade: {e}")))?;
    let upgrade = hyper::upgrade::on(&mut request);
    let feed = Feed::open(&app, request.headers(), selection, from).await;
    // The handshake's bytes count for WebSockets; after it, the session counts its own.
    if let Some(Extension(claim)) = claim {
        claim.claim(app.hub.metrics().wire(Transport::Ws));
    }
    tokio::spawn(async move {
        // Resolves once hyper has written the 101 (a write it bounds by WRITE_TIMEOUT_SECS), or
        // fails with the connection.
        let Ok(upgraded) = upgrade.await else { return };
        // Every connection hyper serves is a `Rewind` ([`crate::socket`]).
        let Ok(parts) = upgraded.downcast::<TokioIo<Rewind>>() else {
            tracing::error!("a WebSocket upgrade on a connection that is not a Rewind");
            return;
        };
        let hyper::upgrade::Parts { io, read_buf, .. } = parts;
        let (tcp, mut read, slot) = io.into_inner().into_parts();
        read.extend_from_slice(&read_buf);
        // hyper's read buffer (8 KiB) would otherwise live as long as the session.
        drop(read_buf);
        session(tcp, read, feed, app).await;
        drop(slot);
    });
    Ok(accepted)
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

/// What wakes a WebSocket's task while its fan-out group holds it. Matched as soon as it is made,
/// so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Wake {
    /// The group handed the member back (its socket is full), or dropped it (`None`).
    Back(Option<Member>),
    /// Something the task must act on, with the member back.
    Act(Act),
}

/// What the task does with the member back from its group.
enum Act {
    /// Answer, or end as, what the client sent.
    Client(Heard),
    /// Close the connection: the code and reason.
    Close(u16, &'static str),
}

/// Runs a WebSocket on its socket until either side ends it. `read` holds what the client sent
/// after its handshake that hyper had already read.
async fn session(tcp: TcpStream, read: Vec<u8>, feed: Feed, app: Transports) {
    let tcp = Arc::new(tcp);
    let client = app.hub.metrics().client(Transport::Ws);
    let wire = app.hub.metrics().wire(Transport::Ws);
    let mut signed_out = pin!(session_ended(feed.session_watch()));
    let mut member = Member::new(Out::Socket(tcp.clone(), wire.sent), Framing::Ws, feed, client);
    let mut inbound = Inbound::new(tcp.clone(), read, app.ws_messages_per_sec, wire.received);
    let silence = app.keepalive * 2;
    let mut stopped = pin!(app.shutdown.cancelled());
    let mut deadline = pin!(tokio::time::sleep(silence));
    let close = loop {
        // Boxed when it runs: the task spends its life waiting, and should not carry a write's
        // state meanwhile.
        let caught_up = tokio::select! {
            biased;
            () = &mut stopped => break Some((1001, "server shutting down")),
            () = &mut signed_out => break Some(SIGNED_OUT),
            caught_up = Box::pin(member.catch_up(app.write_timeout)) => caught_up,
        };
        if caught_up.is_err() {
            // The client has not read for WRITE_TIMEOUT_SECS, or its socket failed: nothing more
            // can reach it.
            return;
        }
        let mut joined = app.fanout.join(member);
        let wake = loop {
            tokio::select! {
                biased;
                () = &mut stopped => break Wake::Act(Act::Close(1001, "server shutting down")),
                () = &mut signed_out => break Wake::Act(Act::Close(SIGNED_OUT.0, SIGNED_OUT.1)),
                back = joined.handed_back() => break Wake::Back(back),
                heard = inbound.next() => {
                    // Anything the client sends shows it is there.
                    deadline.as_mut().reset(Instant::now() + silence);
                    if !matches!(heard, Heard::Alive) {
                        break Wake::Act(Act::Client(heard));
                    }
                }
                () = &mut deadline => break Wake::Act(Act::Close(1008, "no pong")),
            }
        };
        let act = match wake {
            Wake::Back(Some(back)) => {
                member = back;
                continue;
            }
            // A write failed.
            Wake::Back(None) => return,
            Wake::Act(act) => act,
        };
        // Written to by one writer at a time: the group gives the member back first.
        joined.recall();
        member = match joined.handed_back().await {
            Some(member) => member,
            None => return,
        };
        match act {
            Act::Close(code, reason) => break Some((code, reason)),
            Act::Client(Heard::Command(text)) => match command(&app, &mut member.feed, &text) {
                Ok(event) => encode_event(&event, &mut member.pending),
                Err(reason) => {
                    let reply = serde_json::json!({ "type": "error", "error": reason }).to_string();
                    encode_text(&reply, &mut member.pending);
                }
            },
            Act::Client(Heard::Reply) => member.pending.append(&mut inbound.outbox),
            Act::Client(Heard::Closed) => {
                // tungstenite's answer to the client's close is in the outbox.
                member.pending.append(&mut inbound.outbox);
                break None;
            }
            Act::Client(Heard::Refused(code, reason)) => break Some((code, reason)),
            Act::Client(Heard::Alive | Heard::Gone) => return,
        }
    };
    // The rest of an event the socket had not taken, then the close frame, then a close that
    // lets the client read them.
    if let Some((code, reason)) = close {
        encode_close(code, reason, &mut member.pending);
    }
    if tokio::time::timeout(CLOSE_WAIT, member.write_pending(CLOSE_WAIT))
        .await
        .is_ok()
    {
        close_gently(&tcp).await;
    }
}

/// What the client's side of the connection gave.
enum Heard {
    /// A pong (or a ping answered later): it is alive, nothing to do.
    Alive,
    /// A text message: a command.
    Command(String),
    /// tungstenite queued an answer (a pong) in the outbox.
    Reply,
    /// The client sent a close frame; the answer is in the outbox.
    Closed,
    /// A message the server refuses: the close code and reason.
    Refused(u16, &'static str),
    /// The connection ended or failed.
    Gone,
}

/// The client's side of a WebSocket: tungstenite's state for reading its frames (partial
/// frames included), and the bytes tungstenite wants to send back (pongs, a close reply),
/// which the task writes once its group has handed the member back.
struct Inbound {
    tcp: Arc<TcpStream>,
    context: WebSocketContext,
    outbox: Vec<u8>,
    /// The start of the current one-second window and the messages read in it.
    window: (Instant, u32),
    /// Most messages in one window.
    per_sec: u32,
    /// Counts the bytes read (what hyper read of the handshake counted on its connection).
    received: Counter,
}

impl Inbound {
    fn new(tcp: Arc<TcpStream>, read: Vec<u8>, per_sec: u32, received: Counter) -> Self {
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        Inbound {
            tcp,
            context: WebSocketContext::from_partially_read(read, Role::Server, Some(config)),
            outbox: Vec::new(),
            window: (Instant::now(), 0),
            per_sec,
            received,
        }
    }

    /// The next thing the client's side gives. Cancel-safe: what was read stays in
    /// tungstenite's buffer until a call takes it.
    async fn next(&mut self) -> Heard {
        let mut alive = false;
        loop {
            if !self.outbox.is_empty() {
                return Heard::Reply;
            }
            let mut io = Io {
                tcp: &self.tcp,
                outbox: &mut self.outbox,
                received: &self.received,
            };
            let message = match self.context.read(&mut io) {
                Ok(message) => message,
                Err(tungstenite::Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => {
                    if alive {
                        return Heard::Alive;
                    }
                    if self.tcp.readable().await.is_err() {
                        return Heard::Gone;
                    }
                    continue;
                }
                Err(err) => return refusal(err).map_or(Heard::Gone, |(code, reason)| Heard::Refused(code, reason)),
            };
            let now = Instant::now();
            if now.duration_since(self.window.0) >= Duration::from_secs(1) {
                self.window = (now, 0);
            }
            self.window.1 += 1;
            if self.window.1 > self.per_sec {
                return Heard::Refused(1008, "too many messages in a second (WS_MESSAGES_PER_SEC)");
            }
            match message {
                Message::Text(text) => return Heard::Command(text.as_str().to_owned()),
                Message::Binary(_) => return Heard::Refused(1003, "binary messages are not supported"),
                Message::Close(_) => {
                    let _ = self.context.flush(&mut io);
                    return Heard::Closed;
                }
                // tungstenite queues the pong itself; the next read puts it in the outbox.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => alive = true,
            }
        }
    }
}

/// tungstenite's view of the socket: it reads from the socket without waiting (a `WouldBlock`
/// leaves its state as it was) and writes into the outbox, never to the socket itself.
struct Io<'a> {
    tcp: &'a TcpStream,
    outbox: &'a mut Vec<u8>,
    received: &'a Counter,
}

impl Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.try_read(buf)?;
        self.received.inc_by(n as u64);
        Ok(n)
    }
}

impl io::Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbox.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The close code and reason for a message the server could not read, if the protocol has one:
/// 1009 for a message over [`MAX_MESSAGE_BYTES`], 1007 for text that is not UTF-8, 1002 for a
/// broken frame. (A connection that simply failed gets no close frame: nobody would read it.)
fn refusal(err: tungstenite::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::{CapacityError, Error, ProtocolError};
    match err {
        Error::Capacity(CapacityError::MessageTooLong { .. }) => Some((1009, "message too big: at most 4096 bytes")),
        Error::Capacity(_) => Some((1009, "message too big")),
        Error::Utf8(_) => Some((1007, "text message is not valid UTF-8")),
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        Error::Protocol(_) => Some((1002, "WebSocket protocol error")),
        _ => None,
    }
}

/// Applies a client command; the answer is a snapshot of the new selection.
fn command(app: &Transports, feed: &mut Feed, text: &str) -> Result<Event, String> {
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
    let current = feed.market().selection();
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
    Ok(feed.reselect(selection))
}

/// Appends a text message's frame header for a payload of `len` bytes (server frames are not
/// masked).
fn text_header(len: usize, out: &mut Vec<u8>) {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    // Writing to a `Vec` cannot fail.
    let _ = header.format(len as u64, out);
}

/// Appends `text` as one text message.
fn encode_text(text: &str, out: &mut Vec<u8>) {
    text_header(text.len(), out);
    out.extend_from_slice(text.as_bytes());
}

/// Appends `event` as one text message, `{"type":…,"id":…,"data":…}` ([`event_json`]), with the
/// hub's shared payload copied in once.
pub(super) fn encode_event(event: &Event, out: &mut Vec<u8>) {
    // The JSON before the payload: at most 97 bytes (`resync`, and an id of 16 hex digits, a
    // dash, 20 digits, a tilde and 20 digits).
    let mut prefix = io::Cursor::new([0u8; 128]);
    let _ = write!(
        prefix,
        r#"{{"type":"{}","id":"{}","data":"#,
        event.kind.name(),
        event.stream_id()
    );
    let prefix = &prefix.get_ref()[..prefix.position() as usize];
    text_header(prefix.len() + event.data.len() + 1, out);
    out.extend_from_slice(prefix);
    out.extend_from_slice(event.data.as_bytes());
    out.push(b'}');
}

/// Appends a close frame.
fn encode_close(code: u16, reason: &str, out: &mut Vec<u8>) {
    let frame = Frame::close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }));
    let _ = frame.format(out);
}

/// What a keep-alive period sends: a ping, then a `heartbeat` message for the page (browsers
/// answer pings silently), so a quiet selection is not mistaken for a dead link.
pub(super) fn heartbeat() -> &'static [u8] {
    static BYTES: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let mut bytes = Vec::new();
        let _ = Frame::ping(Vec::new()).format(&mut bytes);
        encode_text(HEARTBEAT, &mut bytes);
        bytes
    });
    &BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::EventKind;
    use crate::transport::event_json;
    use app::wire::protocol::EventId;
    use tungstenite::protocol::frame::coding::Control;

    /// Reads every frame of `bytes` back with tungstenite (as a client would) into text.
    fn frames(bytes: &[u8]) -> Vec<Frame> {
        let mut cursor = io::Cursor::new(bytes);
        let mut out = Vec::new();
        while let Some((header, len)) = FrameHeader::parse(&mut cursor).unwrap() {
            let at = cursor.position() as usize;
            let payload = bytes[at..at + len as usize].to_vec();
            cursor.set_position((at + len as usize) as u64);
            out.push(Frame::from_payload(header, payload.into()));
        }
        assert_eq!(cursor.position() as usize, bytes.len(), "no bytes left over");
        out
    }

    /// An event is one final, unmasked text frame carrying exactly [`event_json`], whatever
    /// its length (7-bit, 16-bit and 64-bit lengths).
    #[test]
    fn events_are_one_text_frame_of_their_json() {
        for (kind, len) in [
            (EventKind::Tick, 10),
            (EventKind::Snapshot, 200),
            (EventKind::Resync, 70_000),
        ] {
            let event = Event {
                kind,
                id: EventId::new(u64::MAX, u64::MAX),
                private: Some(u64::MAX),
                data: format!(r#"{{"pad":"{}"}}"#, "x".repeat(len)).into(),
            };
            let mut bytes = Vec::new();
            encode_event(&event, &mut bytes);
            let frames = frames(&bytes);
            assert_eq!(frames.len(), 1);
            let header = frames[0].header();
            assert!(header.is_final && header.mask.is_none());
            assert_eq!(header.opcode, OpCode::Data(Data::Text));
            assert_eq!(frames[0].to_text().unwrap(), event_json(&event));
        }
    }

    #[test]
    fn a_heartbeat_is_a_ping_then_the_heartbeat_message() {
        let beat = frames(heartbeat());
        assert_eq!(beat.len(), 2);
        assert_eq!(beat[0].header().opcode, OpCode::Control(Control::Ping));
        assert_eq!(beat[1].to_text().unwrap(), HEARTBEAT);
        let mut bytes = Vec::new();
        encode_close(1008, "no pong", &mut bytes);
        let close = frames(&bytes);
        assert_eq!(close[0].header().opcode, OpCode::Control(Control::Close));
        assert_eq!(&close[0].payload()[..2], &1008u16.to_be_bytes());
        assert_eq!(&close[0].payload()[2..], b"no pong");
    }
}
