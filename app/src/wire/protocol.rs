//! The wire protocol of the stream: event ids, quotes, tick frames and snapshots.
//!
//! These types are shared verbatim by the server (which encodes them) and the browser (which
//! decodes them), so the two sides cannot drift. Nothing here knows about HTTP or the DOM.
//!
//! **Numbers are exact.** Every price is an integer count of the instrument's price unit,
//! 10^-`decimals` (AAPL's `18984` with `decimals` 2 is 189.84); volumes are integer quantities.
//! No float stands between the generator and the screen, so nothing is rounded on the way.

use crate::wire::book::{BookUpdate, Print};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Most symbols a universe may hold (and so the most one request can select).
pub const MAX_SYMBOLS: usize = 100;

/// Most symbols a stream may follow in depth (`depth=`): a book is about 20 times a quote's
/// bytes. 16, because a browser's tabs share one stream (each tab shows one book): sixteen tabs
/// on sixteen symbols still fit.
pub const MAX_DEPTH_SYMBOLS: usize = 16;
/// Longest symbol, in bytes.
pub const MAX_SYMBOL_LEN: usize = 12;

/// Whether `s` is a well-formed symbol: 1 to [`MAX_SYMBOL_LEN`] of `A-Z a-z 0-9 - .`.
pub fn is_symbol(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SYMBOL_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Name of the SSE event that opens a fresh subscription: the full state of the selection.
pub const EVENT_SNAPSHOT: &str = "snapshot";
/// Name of the SSE event carrying one frame of price changes.
pub const EVENT_TICK: &str = "tick";
/// Name of the SSE event that replaces the client's state when it cannot be resumed exactly.
pub const EVENT_RESYNC: &str = "resync";

/// Identifies one frame of one server run: `<epoch>-<seq>` on the wire, epoch in hex.
///
/// The epoch changes on every server start, so an id from an earlier run is recognised as
/// foreign (and answered with a resync) instead of being confused with a frame of this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    pub epoch: u64,
    pub seq: u64,
}

impl EventId {
    pub fn new(epoch: u64, seq: u64) -> Self {
        Self { epoch, seq }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}-{}", self.epoch, self.seq)
    }
}

/// Why a string is not an [`EventId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Quoted by hand, as `IntervalError`.
#[error("malformed event id \"{0}\": expected <epoch hex>-<seq>[~<n>], e.g. \"1f3a9c-42\"")]
pub struct EventIdError(pub String);

impl FromStr for EventId {
    type Err = EventIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || EventIdError(s.chars().take(64).collect());
        let (epoch, seq) = s.split_once('-').ok_or_else(err)?;
        let hex_ok = !epoch.is_empty() && epoch.len() <= 16 && epoch.bytes().all(|b| b.is_ascii_hexdigit());
        let dec_ok = !seq.is_empty() && seq.len() <= 20 && seq.bytes().all(|b| b.is_ascii_digit());
        if !hex_ok || !dec_ok {
            return Err(err());
        }
        Ok(EventId {
            epoch: u64::from_str_radix(epoch, 16).map_err(|_| err())?,
            seq: seq.parse().map_err(|_| err())?,
        })
    }
}

/// In the OpenAPI document: a string, as on the wire.
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for EventId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("<epoch hex>-<seq>: one frame of one server run"))
            .examples([serde_json::json!("1f3a9c-42")])
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for EventId {}

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where a stream resumes: the market's [`EventId`] and, on a signed-in user's stream, the
/// number of the last of the user's own events it carried, as `<epoch>-<seq>~<private>`. Every
/// event of such a stream carries both, so the one id a client keeps (SSE's `Last-Event-ID`)
/// resumes both exactly. An anonymous stream's ids have no `~` part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    pub market: EventId,
    pub private: Option<u64>,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.private {
            Some(p) => write!(f, "{}~{p}", self.market),
            None => write!(f, "{}", self.market),
        }
    }
}

impl FromStr for StreamId {
    type Err = EventIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (market, private) = match s.split_once('~') {
            Some((market, private)) => {
                let ok = !private.is_empty() && private.len() <= 20 && private.bytes().all(|b| b.is_ascii_digit());
                let private = ok
                    .then(|| private.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| EventIdError(s.chars().take(64).collect()))?;
                (market, Some(private))
            }
            None => (s, None),
        };
        let market = market
            .parse::<EventId>()
            .map_err(|_| EventIdError(s.chars().take(64).collect()))?;
        Ok(StreamId { market, private })
    }
}

/// What kind of market an instrument trades in; it decides the defaults of unknown symbols
/// and lets the UI group or label rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AssetClass {
    #[serde(rename = "equity")]
    Equity,
    #[serde(rename = "crypto")]
    Crypto,
    #[serde(rename = "fx")]
    Fx,
}

/// Static facts about one instrument, sent once (in snapshots and `/api/symbols`), never per tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Instrument {
    pub symbol: String,
    pub name: String,
    pub class: AssetClass,
    /// Prices are integers in units of 10^-decimals.
    pub decimals: u8,
    /// Sizes (of book levels and trades) are integers in units of 10^-size_decimals.
    pub size_decimals: u8,
    /// Smallest price increment, in price units.
    pub tick: i64,
}

/// The state of one instrument after a frame: last trade, best bid/ask, session figures. Prices
/// are in the instrument's price units (see the module's documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Quote {
    pub symbol: String,
    /// Last traded price.
    pub price: i64,
    pub bid: i64,
    pub ask: i64,
    /// Cumulative quantity traded this session.
    pub volume: u64,
    /// Session open, high and low, so the UI can show change and range.
    pub open: i64,
    pub high: i64,
    pub low: i64,
}

impl Quote {
    /// `price - open`, in price units.
    pub fn change(&self) -> i64 {
        self.price - self.open
    }

    /// The change since the open in hundredths of a percent (basis points), rounded half away
    /// from zero: `+0.67 %` is `67`. Integer arithmetic, so server and page agree exactly.
    pub fn change_bp(&self) -> i64 {
        if self.open <= 0 {
            return 0;
        }
        let scaled = i128::from(self.change()) * 10_000;
        let open = i128::from(self.open);
        let rounded = (scaled.abs() + open / 2) / open;
        (if scaled < 0 { -rounded } else { rounded }) as i64
    }
}

impl Quote {
    /// Takes what a `tick` says of this instrument.
    pub fn apply(&mut self, update: &QuoteUpdate) {
        self.price = update.price;
        self.bid = update.bid;
        self.ask = update.ask;
        self.volume = update.volume;
        if let Some(open) = update.open {
            self.open = open;
        }
        if let Some(high) = update.high {
            self.high = high;
        }
        if let Some(low) = update.low {
            self.low = low;
        }
    }
}

/// What one frame changes of an instrument's [`Quote`], as a `tick` carries it: the last
/// price, the best bid and ask and the session's volume always; `open` never (it is fixed for
/// the session, and snapshots carry it); `high` and `low` only in the frames that move them.
/// They are the session's running extremes of `price`, so a frame moves one only to its own
/// price: the server sends `high` when it equals `price`, `low` likewise.
///
/// A client applies it to the quote it holds ([`Quote::apply`]), and always holds the right
/// one: a stream starts with a snapshot, a resumed one replays every frame since, and anything
/// else is a `resync`. Leaving out what did not change takes events from about 1 000 to about
/// 680 bytes for the default universe.
///
/// (Serialised by hand below, leaving out absent fields: miniserde's derive, which the page
/// reads it with, takes no `skip_serializing_if`, and reads a missing field as `None`.)
#[derive(Clone, Debug, PartialEq, Deserialize, miniserde::Deserialize)]
pub struct QuoteUpdate {
    pub symbol: String,
    pub price: i64,
    pub bid: i64,
    pub ask: i64,
    pub volume: u64,
    pub open: Option<i64>,
    pub high: Option<i64>,
    pub low: Option<i64>,
}

impl Serialize for QuoteUpdate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let optional = [("open", self.open), ("high", self.high), ("low", self.low)];
        let present = optional.iter().filter(|(_, v)| v.is_some()).count();
        let mut out = serializer.serialize_struct("QuoteUpdate", 5 + present)?;
        out.serialize_field("symbol", &self.symbol)?;
        out.serialize_field("price", &self.price)?;
        out.serialize_field("bid", &self.bid)?;
        out.serialize_field("ask", &self.ask)?;
        out.serialize_field("volume", &self.volume)?;
        for (name, value) in optional {
            match value {
                Some(v) => out.serialize_field(name, &v)?,
                None => out.skip_field(name)?,
            }
        }
        out.end()
    }
}

impl QuoteUpdate {
    /// What a `tick` says of `quote`, the instrument's state after a frame in which it traded.
    pub fn of(quote: &Quote) -> Self {
        QuoteUpdate {
            symbol: quote.symbol.clone(),
            price: quote.price,
            bid: quote.bid,
            ask: quote.ask,
            volume: quote.volume,
            open: None,
            high: (quote.high == quote.price).then_some(quote.high),
            low: (quote.low == quote.price).then_some(quote.low),
        }
    }

    /// The whole quote, when every field is there (as in a snapshot).
    pub fn whole(self) -> Option<Quote> {
        Some(Quote {
            symbol: self.symbol,
            price: self.price,
            bid: self.bid,
            ask: self.ask,
            volume: self.volume,
            open: self.open?,
            high: self.high?,
            low: self.low?,
        })
    }
}

/// One generator frame as a `tick` event: only the selected instruments that traded in it.
/// A stream that asked for depth (`depth=`) also gets, for those of its depth symbols that
/// traded, the levels of their books the frame changed and the frame's prints; the others never
/// see the two members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct TickFrame {
    pub seq: u64,
    /// Generation time, milliseconds since the Unix epoch.
    pub ts: i64,
    pub quotes: Vec<QuoteUpdate>,
    pub books: Option<Vec<BookUpdate>>,
    pub trades: Option<Vec<Print>>,
}

/// The full state of a selection at one frame: the payload of `snapshot` and `resync` events
/// and of `GET /api/snapshot`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Snapshot {
    /// Id of the last frame included; resume from here.
    pub id: Option<EventId>,
    pub seq: u64,
    pub ts: i64,
    pub instruments: Vec<Instrument>,
    pub quotes: Vec<Quote>,
    /// The whole books of the stream's depth symbols (of every instrument in the market bus's
    /// checkpoints); empty without depth.
    pub books: Vec<BookUpdate>,
}

/// Candle width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Interval {
    #[serde(rename = "1s")]
    S1,
    #[serde(rename = "5s")]
    S5,
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
}

impl Interval {
    pub const ALL: [Interval; 6] = [
        Interval::S1,
        Interval::S5,
        Interval::M1,
        Interval::M5,
        Interval::M15,
        Interval::H1,
    ];

    pub fn millis(self) -> i64 {
        match self {
            Interval::S1 => 1_000,
            Interval::S5 => 5_000,
            Interval::M1 => 60_000,
            Interval::M5 => 300_000,
            Interval::M15 => 900_000,
            Interval::H1 => 3_600_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::S1 => "1s",
            Interval::S5 => "5s",
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::H1 => "1h",
        }
    }

    /// Candles a server keeps per symbol at this interval: fine intervals a shorter window than
    /// coarse ones, so memory stays bounded (15 min of 1 s candles, 1 h of 5 s, 10 h of 1 m,
    /// 2 days of 5 m, 5 days of 15 m, 30 days of 1 h; 3 996 candles of 48 bytes per symbol).
    pub fn kept(self) -> usize {
        match self {
            Interval::S1 => 900,
            Interval::S5 => 720,
            Interval::M1 => 600,
            Interval::M5 => 576,
            Interval::M15 => 480,
            Interval::H1 => 720,
        }
    }

    /// Start of the bucket holding `ts` (ms since the Unix epoch).
    pub fn bucket(self, ts: i64) -> i64 {
        ts.div_euclid(self.millis()) * self.millis()
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not an [`Interval`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
// Quoted by hand: `{0:?}` would ship Debug escaping and its Unicode tables to the page.
#[error("unknown interval \"{0}\": expected 1s, 5s, 1m, 5m, 15m or 1h")]
pub struct IntervalError(pub String);

impl FromStr for Interval {
    type Err = IntervalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| IntervalError(s.chars().take(16).collect()))
    }
}

/// One bucket of trades. `t` is the bucket start in ms since the Unix epoch; prices are in the
/// instrument's price units, like a quote's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Candle {
    pub t: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
}

impl Candle {
    pub fn flat(t: i64, price: i64) -> Self {
        Candle {
            t,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0,
        }
    }
}

/// Recent candles of one symbol: the answer of `GET /api/history`, used to backfill charts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct History {
    pub symbol: String,
    pub interval: Interval,
    /// The last frame the candles include: a client applies only ticks after it, so the
    /// backfill and the live stream meet without a gap or a double count.
    pub seq: u64,
    pub candles: Vec<Candle>,
}

/// One event as the WebSocket and long-polling transports frame it:
/// `{"type":"tick","id":"…","data":{…}}`. `id` and `data` may be missing or `null` (a
/// `{"type":"heartbeat"}` has neither). The server writes these frames by hand
/// (`transport/ws.rs`, `transport/poll.rs`); the page reads them with this.
#[derive(Clone, Debug, PartialEq, miniserde::Deserialize)]
pub struct WireEvent {
    /// The event's name: what `event:` says in SSE.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub data: Option<Payload>,
}

/// The `data` of any event: a [`Snapshot`] (`snapshot`, `resync`) or a [`TickFrame`] (`tick`),
/// whose members it unites, so the page decodes an event in one pass whatever its kind (a
/// WebSocket message or a poll answer carries it inside the event's object).
#[derive(Clone, Debug, PartialEq, miniserde::Deserialize)]
pub struct Payload {
    /// A snapshot's [`EventId`], or a notification's number.
    pub id: Option<PayloadId>,
    /// A market event's: always there.
    pub seq: Option<u64>,
    pub ts: Option<i64>,
    pub instruments: Option<Vec<Instrument>>,
    pub quotes: Option<Vec<QuoteUpdate>>,
    pub books: Option<Vec<BookUpdate>>,
    pub trades: Option<Vec<Print>>,
    /// An `account` event's ([`crate::wire::account::AccountState`]).
    pub watchlists: Option<Vec<crate::wire::account::Watchlist>>,
    pub view: Option<crate::wire::account::SavedView>,
    /// On an `account` event: the client had missed some, and this one stands for them all.
    pub resync: Option<bool>,
    /// A `notification` event's ([`crate::wire::alerts::Notification`]; `id`, `seq`, `ts`
    /// above).
    pub alert: Option<u64>,
    pub kind: Option<String>,
    pub symbol: Option<String>,
    pub condition: Option<String>,
    pub price: Option<i64>,
    pub prev: Option<i64>,
    pub note: Option<String>,
    pub read: Option<bool>,
    /// A `read` event's ([`crate::wire::alerts::ReadMark`]).
    pub up_to: Option<u64>,
    pub ids: Option<Vec<u64>>,
    pub unread: Option<u64>,
}

/// The `id` member of an event's data: a snapshot's [`EventId`] (a string) or an inbox
/// entry's number.
#[derive(Clone, Debug, PartialEq)]
pub enum PayloadId {
    Event(EventId),
    Number(u64),
}

impl PayloadId {
    pub fn event(self) -> Option<EventId> {
        match self {
            PayloadId::Event(id) => Some(id),
            PayloadId::Number(_) => None,
        }
    }

    pub fn number(self) -> Option<u64> {
        match self {
            PayloadId::Number(n) => Some(n),
            PayloadId::Event(_) => None,
        }
    }
}

/// One answer of `GET /api/poll`: the events after the asked id, and where to poll next.
#[derive(Clone, Debug, PartialEq, miniserde::Deserialize)]
pub struct PollBatch {
    pub events: Vec<WireEvent>,
    pub next: String,
}

/// An event as the page applies it, decoded, whichever transport brought it.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// `snapshot` (a fresh start) or `resync` (the client's state is replaced).
    Snapshot {
        id: String,
        snapshot: Snapshot,
        resync: bool,
    },
    Tick {
        id: String,
        frame: TickFrame,
    },
    /// The signed-in user's state, whole (`account`).
    Account {
        id: String,
        state: crate::wire::account::AccountState,
        resync: bool,
    },
    /// A new entry of the signed-in user's inbox (`notification`).
    Notification {
        id: String,
        entry: crate::wire::alerts::Notification,
    },
    /// Inbox entries marked read (`read`).
    Read {
        id: String,
        mark: crate::wire::alerts::ReadMark,
    },
    /// A keep-alive, a heartbeat, or an event the page does not use: proof of life only.
    Alive,
}

impl Incoming {
    /// The event `kind` with `id` and its decoded `data`. An event without data, or of a kind
    /// the page does not use, is [`Incoming::Alive`].
    pub fn new(kind: &str, id: String, data: Option<Payload>) -> Self {
        let Some(Payload {
            id: snapshot_id,
            seq,
            ts,
            instruments,
            quotes,
            books,
            trades,
            watchlists,
            view,
            resync,
            alert,
            kind: entry_kind,
            symbol,
            condition,
            price,
            prev,
            note,
            read,
            up_to,
            ids,
            unread,
        }) = data
        else {
            return Incoming::Alive;
        };
        if kind == crate::wire::alerts::EVENT_NOTIFICATION {
            let entry = (|| {
                Some(crate::wire::alerts::Notification {
                    id: snapshot_id?.number()?,
                    alert: alert?,
                    kind: entry_kind?,
                    symbol: symbol?,
                    condition: condition?,
                    price: price?,
                    prev: prev?,
                    seq: seq?,
                    ts: ts?,
                    note: note?,
                    read: read?,
                })
            })();
            return match entry {
                Some(entry) => Incoming::Notification { id, entry },
                None => Incoming::Alive,
            };
        }
        if kind == crate::wire::alerts::EVENT_READ {
            return match unread {
                Some(unread) => Incoming::Read {
                    id,
                    mark: crate::wire::alerts::ReadMark { up_to, ids, unread },
                },
                None => Incoming::Alive,
            };
        }
        let snapshot_id = snapshot_id.and_then(PayloadId::event);
        if kind == crate::wire::account::EVENT_ACCOUNT {
            return match watchlists {
                Some(watchlists) => Incoming::Account {
                    id,
                    state: crate::wire::account::AccountState { watchlists, view },
                    resync: resync.unwrap_or(false),
                },
                None => Incoming::Alive,
            };
        }
        // A market event without its frame's number or time is not one.
        let (Some(seq), Some(ts), Some(quotes)) = (seq, ts, quotes) else {
            return Incoming::Alive;
        };
        match kind {
            EVENT_SNAPSHOT | EVENT_RESYNC => Incoming::Snapshot {
                snapshot: Snapshot {
                    id: snapshot_id,
                    seq,
                    ts,
                    instruments: instruments.unwrap_or_default(),
                    // A snapshot's quotes are whole; one that is not is left out.
                    quotes: quotes.into_iter().filter_map(QuoteUpdate::whole).collect(),
                    books: books.unwrap_or_default(),
                },
                id,
                resync: kind == EVENT_RESYNC,
            },
            EVENT_TICK => Incoming::Tick {
                id,
                frame: TickFrame {
                    seq,
                    ts,
                    quotes,
                    books,
                    trades,
                },
            },
            _ => Incoming::Alive,
        }
    }

    /// An SSE event: its name, id and `data:` text (`None` if the data is not a payload).
    pub fn from_sse(kind: &str, id: String, data: &str) -> Option<Self> {
        let payload = crate::wire::json::from_str::<Payload>(data).ok()?;
        Some(Self::new(kind, id, Some(payload)))
    }

    /// A WebSocket message or one event of a poll answer.
    pub fn from_wire(event: WireEvent) -> Self {
        Self::new(&event.kind, event.id.unwrap_or_default(), event.data)
    }

    /// The event's id: its position in the stream (`None` for a keep-alive).
    pub fn id(&self) -> Option<&str> {
        match self {
            Incoming::Snapshot { id, .. }
            | Incoming::Tick { id, .. }
            | Incoming::Account { id, .. }
            | Incoming::Notification { id, .. }
            | Incoming::Read { id, .. } => Some(id.as_str()).filter(|id| !id.is_empty()),
            Incoming::Alive => None,
        }
    }
}

/// `GET /api/wire`: what each transport has carried since the server started, counted by the
/// server where it reads and writes its clients' sockets: every byte on the wire above TCP
/// (HTTP heads, chunk and WebSocket framing, keep-alives, and for long polling every request
/// and answer), not only the events' text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WireReport {
    pub transports: Vec<WireCount>,
}

impl WireReport {
    /// `transport`'s bytes on the wire (sent and received) per event delivered since `before`
    /// (since the server started, without it); `None` when it delivered no event meanwhile.
    pub fn per_event(&self, before: Option<&WireReport>, transport: &str) -> Option<f64> {
        let find = |report: &WireReport| report.transports.iter().find(|c| c.transport == transport).cloned();
        let now = find(self)?;
        let then = before.and_then(find).unwrap_or(WireCount {
            transport: String::new(),
            events: 0,
            sent: 0,
            received: 0,
        });
        let events = now.events.checked_sub(then.events).filter(|&n| n > 0)?;
        let bytes = (now.sent + now.received).saturating_sub(then.sent + then.received);
        Some(bytes as f64 / events as f64)
    }
}

/// One transport's totals in a [`WireReport`]: `transport` is `sse`, `ws` or `poll`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WireCount {
    pub transport: String,
    pub events: u64,
    pub sent: u64,
    pub received: u64,
}

/// Body of every 4xx answer of the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes_per_event_are_taken_over_the_interval() {
        let report = |events, sent, received| WireReport {
            transports: vec![WireCount {
                transport: "ws".into(),
                events,
                sent,
                received,
            }],
        };
        let first = report(10, 9_000, 1_000);
        assert_eq!(first.per_event(None, "ws"), Some(1_000.0));
        assert_eq!(first.per_event(None, "sse"), None);
        let later = report(30, 13_000, 1_200);
        assert_eq!(later.per_event(Some(&first), "ws"), Some(4_200.0 / 20.0));
        assert_eq!(later.per_event(Some(&later), "ws"), None, "no event meanwhile");
        // A restarted server's counts start over: no figure rather than a wrong one.
        assert_eq!(first.per_event(Some(&later), "ws"), None);
    }

    fn quote(price: i64, open: i64) -> Quote {
        Quote {
            symbol: "X".into(),
            price,
            bid: price - 1,
            ask: price + 1,
            volume: 0,
            open,
            high: price.max(open),
            low: price.min(open),
        }
    }

    #[test]
    fn change_is_exact_and_rounds_half_away_from_zero() {
        assert_eq!(
            (quote(18_984, 18_984).change(), quote(18_984, 18_984).change_bp()),
            (0, 0)
        );
        assert_eq!(quote(10_067, 10_000).change_bp(), 67);
        assert_eq!(quote(9_933, 10_000).change_bp(), -67);
        // 1/8 % = 12.5 bp: half away from zero, either way.
        assert_eq!(quote(80_100, 80_000).change_bp(), 13);
        assert_eq!(quote(79_900, 80_000).change_bp(), -13);
        assert_eq!(quote(1, i64::MAX / 2).change_bp(), -10_000);
        assert_eq!(quote(5, 0).change_bp(), 0, "no open, no percentage");
    }

    #[test]
    fn symbols_are_checked() {
        for good in ["AAPL", "BTC-USD", "brk.b", "X", "ABCDEFGHIJKL"] {
            assert!(is_symbol(good), "{good}");
        }
        for bad in ["", "ABCDEFGHIJKLM", "A B", "A,B", "AÄ", "A/B"] {
            assert!(!is_symbol(bad), "{bad}");
        }
    }

    #[test]
    fn event_id_round_trips() {
        let id = EventId::new(0x1f3a9c, 42);
        assert_eq!(id.to_string(), "1f3a9c-42");
        assert_eq!("1f3a9c-42".parse::<EventId>(), Ok(id));
        assert_eq!("FFFFFFFFFFFFFFFF-0".parse::<EventId>(), Ok(EventId::new(u64::MAX, 0)));
    }

    #[test]
    fn event_id_rejects_malformed() {
        for bad in [
            "",
            "-",
            "abc",
            "abc-",
            "-12",
            "xyz-1",
            "1f-1.5",
            "1f-+1",
            "1f--1",
            "1f-1-2",
            "12345678901234567-1",
            "1-123456789012345678901",
            "1- 2",
            "1f-99999999999999999999",
        ] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn event_id_error_is_bounded() {
        let long = "z".repeat(10_000);
        let err = long.parse::<EventId>().unwrap_err();
        assert!(err.to_string().len() < 200);
    }

    #[test]
    fn event_id_serialises_as_string() {
        let json = serde_json::to_string(&EventId::new(255, 7)).unwrap();
        assert_eq!(json, "\"ff-7\"");
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), EventId::new(255, 7));
    }

    #[test]
    fn reads_websocket_and_poll_frames() {
        use crate::wire::json::from_str;
        let quote = r#"{"symbol":"AAPL","price":18984,"bid":18983,"ask":18985,"volume":7,"open":18900,"high":19000,"low":18800}"#;
        let tick = from_str::<WireEvent>(&format!(
            r#"{{"type":"tick","id":"1f-42","data":{{"seq":42,"ts":5,"quotes":[{quote}]}}}}"#
        ))
        .unwrap();
        let Incoming::Tick { id, frame } = Incoming::from_wire(tick.clone()) else {
            panic!("a tick: {tick:?}");
        };
        assert_eq!((id.as_str(), frame.seq, frame.ts), ("1f-42", 42, 5));
        assert_eq!(frame.quotes[0].price, 18_984);

        let instrument = r#"{"symbol":"AAPL","name":"Apple","class":"equity","decimals":2,"size_decimals":0,"tick":1}"#;
        let book = r#"{"symbol":"AAPL","bids":[[18983,300]],"asks":[[18985,100]],"checksum":7}"#;
        let resync = from_str::<WireEvent>(&format!(
            r#"{{"type":"resync","id":"1f-43","data":{{"id":"1f-43","seq":43,"ts":6,"instruments":[{instrument}],"quotes":[{quote}],"books":[{book}]}}}}"#
        ))
        .unwrap();
        let Incoming::Snapshot { snapshot, resync, .. } = Incoming::from_wire(resync) else {
            panic!("a snapshot");
        };
        assert!(resync);
        assert_eq!(snapshot.id, Some(EventId::new(0x1f, 43)));
        assert_eq!(snapshot.books[0].bids, [crate::wire::book::Level(18_983, 300)]);
        assert_eq!(snapshot.instruments[0].class, AssetClass::Equity);

        let heartbeat = from_str::<WireEvent>(r#"{"type":"heartbeat"}"#).unwrap();
        assert_eq!((heartbeat.id.as_deref(), &heartbeat.data), (None, &None));
        assert_eq!(Incoming::from_wire(heartbeat), Incoming::Alive);
        let nulls = from_str::<WireEvent>(r#"{"id":null,"data":null,"type":"x"}"#).unwrap();
        assert_eq!(Incoming::from_wire(nulls), Incoming::Alive);
        assert!(from_str::<WireEvent>(r#"{"id":"1f-1"}"#).is_err(), "no type");
        assert!(
            from_str::<WireEvent>(r#"{"type":"tick","data":{"seq":1.5,"ts":1,"quotes":[]}}"#).is_err(),
            "a fraction where an integer belongs"
        );

        let batch = from_str::<PollBatch>(&format!(
            r#"{{"events":[{},{{"type":"heartbeat"}}],"next":"1f-43"}}"#,
            r#"{"type":"tick","id":"1f-42","data":{"seq":42,"ts":1,"quotes":[]}}"#
        ))
        .unwrap();
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.next, "1f-43");
        let empty = from_str::<PollBatch>(r#"{"events":[],"next":"1f-43"}"#).unwrap();
        assert!(empty.events.is_empty());
        assert!(from_str::<PollBatch>(r#"{"events":[]}"#).is_err());
    }

    #[test]
    fn sse_data_is_decoded_by_the_events_name() {
        let data = r#"{"seq":2,"ts":9,"quotes":[]}"#;
        let tick = Incoming::from_sse("tick", "1f-2".into(), data);
        assert!(matches!(tick, Some(Incoming::Tick { ref frame, .. }) if frame.seq == 2));
        assert_eq!(Incoming::from_sse("news", "1f-2".into(), data), Some(Incoming::Alive));
        assert_eq!(Incoming::from_sse("tick", "1f-2".into(), "{"), None);
    }
}
