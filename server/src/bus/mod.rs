//! The market bus: one generator and any number of edge nodes joined by a Redis Stream, so a
//! popular screen can be served by several processes while every promise of the single node
//! holds (global ids, resume on any node, `resync` when the past is gone).
//!
//! What lives in Redis (all keys start with [`KEY_PREFIX`]):
//! - `tickertape:frames`, a stream with one entry per frame. The entry id **is** the event id:
//!   `<epoch>-<seq>` (epoch in decimal here, hex on the wire), so ids are global and increase
//!   across generator restarts. Field `f` holds `{"ts":..,"trades":[..]}`. `XADD ... MAXLEN ~`
//!   keeps it near `HISTORY_FRAMES` entries.
//! - `tickertape:checkpoint`, a [`Snapshot`] (instruments and every quote at one id), rewritten
//!   in the same transaction as a frame about once a second, so a node that joins (or has to
//!   start over) finds the quotes of instruments that have not traded lately.
//! - `tickertape:candles`, the generator's candles at one id (the market's simulated past and
//!   everything since), as `[t, open, high, low, close, volume]` rows per instrument and
//!   interval, rewritten with a checkpoint about once a minute (and every `HISTORY_FRAMES / 2`
//!   frames, so the stream always reaches back to it). An edge that joins takes them and the
//!   trades of every later frame: every node draws the same charts, however late it joined.
//! - `tickertape:private`, signed-in users' own events and sign-outs, relayed between the nodes
//!   that serve them ([`relay`]).
//! - `tickertape:epoch`, the running generator's epoch: seconds since 1970 at its start, or
//!   one more than the previous epoch, whichever is larger.
//!
//! The generator side ([`writer`]: [`Publisher`] and its write loop) never waits for Redis: frames queue in
//! memory (at most `HISTORY_FRAMES` of them) while Redis is away and are written, in order, when
//! it is back, so edges continue seamlessly; if the queue overflowed, edges see the gap and
//! resync their clients. The edge side ([`follower`]: [`join`] + [`follow_loop`]) backfills the hub from the
//! stream at start-up, then follows it with `XREAD BLOCK`, applying each frame to the hub;
//! whatever cannot continue seamlessly (a new epoch, frames trimmed away) becomes a
//! [`Hub::reset`] from the checkpoint, which the hub turns into `resync` events.

mod follower;
mod relay;
mod writer;

pub use follower::{follow_loop, join};
pub use relay::relay;
pub use writer::{Publisher, WriterSetup, publisher};

use crate::config::BusUrl;
use crate::feed::{FrameRecord, Trade};
use crate::hub::CandleStore;
use crate::metrics::Metrics;
use app::wire::protocol::{Candle, EventId};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply};
use redis::{AsyncConnectionConfig, Client};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY_PREFIX: &str = "tickertape:";
const FRAMES: &str = "tickertape:frames";
const CHECKPOINT: &str = "tickertape:checkpoint";
const EPOCH: &str = "tickertape:epoch";
const CANDLES: &str = "tickertape:candles";
/// How long one `XREAD` blocks before it asks again (and notices a dead connection).
const BLOCK: Duration = Duration::from_secs(1);
/// Most entries one `XREAD` returns.
const READ_BATCH: usize = 1024;
/// Longest pause between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the generator rewrites the checkpoint, at most.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The Redis client for a `MARKET_BUS` URL that the configuration has checked (no connection
/// is made yet).
pub fn client(url: &BusUrl) -> Result<Client, String> {
    Client::open(url.as_str()).map_err(|e| format!("MARKET_BUS: {e}"))
}

/// The health of this node's link to the bus, for `/healthz` and `/metrics`.
pub struct BusStatus {
    /// Where the bus is (host:port, never the password).
    pub address: String,
    state: Mutex<LinkState>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct LinkState {
    connected: bool,
    /// What is wrong, in full (for the logs), and its class (for `/healthz`).
    error: Option<(Trouble, String)>,
    last_written: Option<EventId>,
}

/// What kind of trouble the link is in: all that `/healthz` tells outsiders. The full message,
/// with addresses and Redis's own words, goes to the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trouble {
    /// Redis cannot be reached, or a command failed.
    Unreachable,
    /// Connected, but no generator has published a market yet.
    NoMarket,
    /// What is in Redis cannot be followed (another universe, a newer generator, bad data).
    Inconsistent,
}

/// What `/healthz` says about the bus.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BusHealth {
    pub connected: bool,
    /// The class of what is wrong, if anything.
    pub trouble: Option<Trouble>,
    /// The newest frame this generator has in Redis.
    #[serde(skip)]
    pub last_written: Option<EventId>,
}

impl BusHealth {
    /// Connected and following, with nothing wrong.
    pub fn healthy(&self) -> bool {
        self.connected && self.trouble.is_none()
    }
}

impl BusStatus {
    pub fn new(client: &Client, metrics: Arc<Metrics>) -> Self {
        BusStatus {
            address: client.get_connection_info().addr().to_string(),
            state: Mutex::new(LinkState::default()),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn up(&self) {
        let mut st = self.lock();
        if !st.connected {
            tracing::info!(bus = %self.address, "connected to the market bus");
        }
        st.connected = true;
        st.error = None;
        self.metrics.bus_connected.set(1);
    }

    fn down(&self, what: &str, err: &dyn std::fmt::Display) {
        let mut st = self.lock();
        if st.connected || st.error.is_none() {
            tracing::warn!(bus = %self.address, %err, "{what}; retrying");
        }
        if st.connected {
            self.metrics.bus_reconnects.inc();
        }
        st.connected = false;
        st.error = Some((Trouble::Unreachable, format!("{what}: {err}")));
        self.metrics.bus_connected.set(0);
    }

    /// A problem that is not the connection's (kept until the next success).
    fn problem(&self, message: String) {
        if self.set_error(Trouble::Inconsistent, &message) {
            tracing::error!(bus = %self.address, "{message}");
        }
    }

    /// Connected, but there is no market on the bus yet.
    fn waiting(&self) {
        let message = format!("waiting for a generator (no {CHECKPOINT} yet)");
        if self.set_error(Trouble::NoMarket, &message) {
            tracing::info!(bus = %self.address, "{message}");
        }
    }

    /// Records `message` as the current error; true if it is news (so worth a log line).
    fn set_error(&self, trouble: Trouble, message: &str) -> bool {
        let mut st = self.lock();
        let news = st.error.as_ref().is_none_or(|(_, m)| m != message);
        st.error = Some((trouble, message.to_string()));
        news
    }

    pub fn health(&self) -> BusHealth {
        let st = self.lock();
        BusHealth {
            connected: st.connected,
            trouble: st.error.as_ref().map(|(trouble, _)| *trouble),
            last_written: st.last_written,
        }
    }
}

async fn connect(client: &Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        // Longer than a blocking XREAD, so the read is never cut short.
        .set_response_timeout(Some(BLOCK + Duration::from_secs(2)));
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// `XREAD` of up to [`READ_BATCH`] entries of `stream` after entry `after`, blocking up to
/// [`BLOCK`] for the first.
fn read_after(stream: &str, after: &str) -> redis::Cmd {
    let mut read = redis::cmd("XREAD");
    read.arg("COUNT")
        .arg(READ_BATCH)
        .arg("BLOCK")
        .arg(BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(stream)
        .arg(after);
    read
}

/// Waits `d`, or less if the node shuts down meanwhile.
async fn pause(shutdown: &tokio_util::sync::CancellationToken, d: Duration) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(d) => {}
    }
}

/// Exponential backoff with jitter, 100 ms up to [`MAX_BACKOFF`].
struct Backoff(u32);

impl Backoff {
    fn next(&mut self) -> Duration {
        let base = Duration::from_millis(100)
            .saturating_mul(1 << self.0.min(6))
            .min(MAX_BACKOFF);
        self.0 += 1;
        base.mul_f64(0.5 + rand::random::<f64>() / 2.0)
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}

/// The stream entry id of a frame.
fn entry_id(id: EventId) -> String {
    format!("{}-{}", id.epoch, id.seq)
}

fn parse_entry_id(text: &str) -> Option<EventId> {
    let (epoch, seq) = text.split_once('-')?;
    Some(EventId::new(epoch.parse().ok()?, seq.parse().ok()?))
}

/// A stream entry's payload (written from an [`EntryRef`]).
#[derive(Deserialize)]
struct Entry {
    ts: i64,
    trades: Vec<Trade>,
}

/// One candle as `tickertape:candles` holds it: `[t, open, high, low, close, volume]`.
type CandleRow = (i64, i64, i64, i64, i64, u64);

/// The generator's candles at frame `id`, as `tickertape:candles` holds them.
#[derive(Serialize, Deserialize)]
struct CandlesRecord {
    id: EventId,
    rows: Vec<Vec<Vec<CandleRow>>>,
}

fn encode_candles(id: EventId, store: &CandleStore) -> Vec<u8> {
    let rows = store
        .to_rows()
        .into_iter()
        .map(|per| {
            per.into_iter()
                .map(|series| {
                    series
                        .into_iter()
                        .map(|c| (c.t, c.open, c.high, c.low, c.close, c.volume))
                        .collect()
                })
                .collect()
        })
        .collect();
    serde_json::to_vec(&CandlesRecord { id, rows }).expect("candles serialise")
}

fn decode_candles(bytes: &[u8], instruments: usize) -> Result<(EventId, CandleStore), String> {
    let record: CandlesRecord =
        serde_json::from_slice(bytes).map_err(|e| format!("unreadable candles in {CANDLES}: {e}"))?;
    let rows = record
        .rows
        .into_iter()
        .map(|per| {
            per.into_iter()
                .map(|series| {
                    series
                        .into_iter()
                        .map(|(t, open, high, low, close, volume)| Candle {
                            t,
                            open,
                            high,
                            low,
                            close,
                            volume,
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let store = CandleStore::from_rows(rows, instruments).map_err(|e| format!("candles in {CANDLES}: {e}"))?;
    Ok((record.id, store))
}

fn decode(entry: &StreamId) -> Result<FrameRecord, String> {
    let id = parse_entry_id(&entry.id).ok_or_else(|| format!("stream entry {:?} is not <epoch>-<seq>", entry.id))?;
    let bytes: Vec<u8> = entry
        .get("f")
        .ok_or_else(|| format!("stream entry {} has no field f", entry.id))?;
    let Entry { ts, trades } = serde_json::from_slice(&bytes).map_err(|e| format!("stream entry {}: {e}", entry.id))?;
    Ok(FrameRecord {
        epoch: id.epoch,
        seq: id.seq,
        ts,
        trades,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_are_event_ids() {
        let id = EventId::new(1_764_300_000, 42);
        assert_eq!(entry_id(id), "1764300000-42");
        assert_eq!(parse_entry_id("1764300000-42"), Some(id));
        assert_eq!(parse_entry_id("x-1"), None);
    }

    #[test]
    fn candles_travel_exactly_and_a_wrong_universe_is_named() {
        let mut store = CandleStore::new(2);
        for k in 0..3_000i64 {
            store.push(
                (k % 2) as usize,
                1_700_000_000_000 + k * 700,
                5_000 + k % 37,
                1 + (k % 5) as u64,
            );
        }
        let id = EventId::new(7, 42);
        let bytes = encode_candles(id, &store);
        assert_eq!(decode_candles(&bytes, 2), Ok((id, store)));
        assert!(decode_candles(&bytes, 3).unwrap_err().contains("2 instruments, not 3"));
        assert!(decode_candles(b"{", 2).unwrap_err().starts_with("unreadable candles"));
    }

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        let mut b = Backoff(0);
        let first = b.next();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let later: Vec<Duration> = (0..20).map(|_| b.next()).collect();
        assert!(later.iter().all(|d| *d <= MAX_BACKOFF));
        assert!(later.last().unwrap() >= &(MAX_BACKOFF / 2));
    }

    /// Entries as Redis may hand them back, damaged anywhere (id, field, payload), never panic
    /// the decoder or the hub they are then checked against.
    #[test]
    fn damaged_entries_never_panic() {
        use crate::feed::generator::next_trades;
        use crate::feed::market::{Market, default_universe};
        use crate::hub::{Hub, HubConfig};
        use redis::Value;
        use std::collections::HashMap;

        let mut market = Market::new(default_universe(), 3, 10.0);
        let config = HubConfig {
            history_frames: 10,
            live_buffer: 16,
        };
        let hub = Hub::for_market(1, &market, config, Arc::new(Metrics::default()));
        let trades = next_trades(&mut market);
        let valid = serde_json::to_vec(&serde_json::json!({ "ts": 5, "trades": trades })).unwrap();
        let pieces = b"{}[]\",:-09e.ntfx\\";
        let mut next = crate::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let (mut decoded, mut checked) = (0, 0);
        for round in 0..5_000 {
            let mut payload = valid.clone();
            for _ in 0..next(4) {
                let at = next(payload.len());
                match next(3) {
                    0 if !payload.is_empty() => payload[at] = pieces[next(pieces.len())],
                    1 => payload.insert(at, pieces[next(pieces.len())]),
                    _ => payload.truncate(at),
                }
            }
            let id = match round % 5 {
                0 => "1-x".to_string(),
                1 => format!("{}-{}", next(10), u64::MAX),
                _ => "1-1".to_string(),
            };
            let field = if round % 7 == 0 { "g" } else { "f" };
            let value = if round % 11 == 0 {
                Value::Int(3)
            } else {
                Value::BulkString(payload)
            };
            let entry = StreamId {
                id,
                map: HashMap::from([(field.to_string(), value)]),
                ..Default::default()
            };
            if let Ok(record) = decode(&entry) {
                decoded += 1;
                if hub.check(&record).is_ok() {
                    checked += 1;
                }
            }
        }
        assert!(
            decoded > 0 && checked > 0 && checked < 5_000,
            "{decoded} decoded, {checked} valid"
        );
    }
}
