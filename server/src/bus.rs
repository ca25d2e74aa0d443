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
//! - `tickertape:epoch`, the running generator's epoch: seconds since 1970 at its start, or
//!   one more than the previous epoch, whichever is larger.
//!
//! The generator side ([`Publisher`] + [`write_loop`]) never waits for Redis: frames queue in
//! memory (at most `HISTORY_FRAMES` of them) while Redis is away and are written, in order, when
//! it is back, so edges continue seamlessly; if the queue overflowed, edges see the gap and
//! resync their clients. The edge side ([`join`] + [`follow_loop`]) backfills the hub from the
//! stream at start-up, then follows it with `XREAD BLOCK`, applying each frame to the hub;
//! whatever cannot continue seamlessly (a new epoch, frames trimmed away) becomes a
//! [`Hub::reset`] from the checkpoint, which the hub turns into `resync` events.

use crate::generator::Publish;
use crate::hub::{Applied, FrameRecord, Hub, HubConfig, Trade};
use crate::metrics::Metrics;
use app::protocol::{EventId, Instrument, Quote, Snapshot};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const KEY_PREFIX: &str = "tickertape:";
const FRAMES: &str = "tickertape:frames";
const CHECKPOINT: &str = "tickertape:checkpoint";
const EPOCH: &str = "tickertape:epoch";
/// How long one `XREAD` blocks before it asks again (and notices a dead connection).
const BLOCK: Duration = Duration::from_secs(1);
/// Most entries one `XREAD` returns.
const READ_BATCH: usize = 1024;
/// Longest pause between two attempts to reach Redis.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the generator rewrites the checkpoint, at most.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checks a `MARKET_BUS` value without connecting.
pub fn parse_url(text: &str) -> Result<Client, String> {
    let accepted = "MARKET_BUS must be a Redis URL, redis://HOST:PORT or redis://[:PASSWORD@]HOST:PORT/DB \
                    (e.g. redis://127.0.0.1:6379)";
    if !text.starts_with("redis://") {
        return Err(format!("{accepted}; got {text:?}"));
    }
    Client::open(text).map_err(|e| format!("{accepted}; {e}"))
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
    error: Option<String>,
    last_written: Option<EventId>,
}

/// What `/healthz` says about the bus.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BusHealth {
    pub address: String,
    pub connected: bool,
    pub error: Option<String>,
    /// The newest frame this generator has in Redis.
    #[serde(skip)]
    pub last_written: Option<EventId>,
}

impl BusHealth {
    /// Connected and following, with nothing wrong.
    pub fn healthy(&self) -> bool {
        self.connected && self.error.is_none()
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
        st.error = Some(format!("{what}: {err}"));
        self.metrics.bus_connected.set(0);
    }

    /// A problem that is not the connection's (kept until the next success).
    fn problem(&self, message: String) {
        if self.set_error(&message) {
            tracing::error!(bus = %self.address, "{message}");
        }
    }

    /// Connected, but there is no market on the bus yet.
    fn waiting(&self) {
        let message = format!("waiting for a generator (no {CHECKPOINT} yet)");
        if self.set_error(&message) {
            tracing::info!(bus = %self.address, "{message}");
        }
    }

    /// Records `message` as the current error; true if it is news (so worth a log line).
    fn set_error(&self, message: &str) -> bool {
        let mut st = self.lock();
        let news = st.error.as_deref() != Some(message);
        st.error = Some(message.to_string());
        news
    }

    pub fn health(&self) -> BusHealth {
        let st = self.lock();
        BusHealth {
            address: self.address.clone(),
            connected: st.connected,
            error: st.error.clone(),
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

// ---------------------------------------------------------------------------------------------
// Generator side

/// A frame numbered by the generator, on its way to Redis.
struct Outgoing {
    seq: u64,
    ts: i64,
    trades: Vec<Trade>,
}

/// The generator's end of the bus: numbers frames and hands them to [`write_loop`]. Never blocks.
pub struct Publisher {
    seq: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl Publish for Publisher {
    fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64 {
        self.seq += 1;
        // The writer only stops at shutdown, after the generator.
        let _ = self.tx.send(Outgoing {
            seq: self.seq,
            ts,
            trades,
        });
        self.seq
    }
}

/// What the writer knows of the market, to write checkpoints.
pub struct WriterSetup {
    pub instruments: Vec<Instrument>,
    pub quotes: Vec<Quote>,
    /// Stream length to keep (`MAXLEN ~`), and most frames queued while Redis is away.
    pub history_frames: usize,
}

/// Creates the generator's publisher and the task that writes its frames to Redis.
pub fn publisher(
    client: Client,
    setup: WriterSetup,
    status: Arc<BusStatus>,
    shutdown: CancellationToken,
) -> (Publisher, impl Future<Output = ()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Publisher { seq: 0, tx },
        write_loop(client, setup, rx, status, shutdown),
    )
}

/// Writes queued frames to the stream, one transaction per batch, with a checkpoint when due.
async fn write_loop(
    client: Client,
    setup: WriterSetup,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    status: Arc<BusStatus>,
    shutdown: CancellationToken,
) {
    let mut w = Writer {
        instruments: setup.instruments,
        quotes: setup.quotes,
        cap: setup.history_frames,
        pending: VecDeque::new(),
        seq: 0,
        ts: 0,
        status,
    };
    let mut epoch: Option<u64> = None;
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff(0);
    let mut retry_at = Instant::now();
    let mut checkpoint_due = true;
    let mut last_checkpoint = (Instant::now(), 0u64);

    loop {
        // Wait for a frame unless there is something to write now.
        if conn.is_none() || (w.pending.is_empty() && !checkpoint_due) {
            let wake = conn.is_none().then_some(tokio::time::Instant::from_std(retry_at));
            tokio::select! {
                () = shutdown.cancelled() => return,
                frame = rx.recv() => match frame {
                    Some(frame) => w.take(frame),
                    None => return,
                },
                () = async { tokio::time::sleep_until(wake.unwrap()).await }, if wake.is_some() => {}
            }
        }
        while let Ok(frame) = rx.try_recv() {
            w.take(frame);
        }

        let Some(c) = conn.as_mut() else {
            if Instant::now() < retry_at {
                continue;
            }
            let attempt = async {
                let mut c = connect(&client).await?;
                let top = stream_top(&mut c).await?;
                let e = start_epoch(&mut c, epoch, top).await?;
                Ok::<_, redis::RedisError>((c, e, top))
            };
            match attempt.await {
                Ok((_, e, _)) if epoch.is_some_and(|mine| e != mine) => {
                    w.status.problem(format!(
                        "another generator (epoch {e:x}) has taken over the bus; this one stops publishing"
                    ));
                    return;
                }
                Ok((c, e, top)) => {
                    if epoch.is_none() {
                        tracing::info!(epoch = format!("{e:x}"), "generator epoch");
                    }
                    epoch = Some(e);
                    // Frames Redis already holds (a write whose answer was lost) are not rewritten.
                    w.pending
                        .retain(|f| top.is_none_or(|top| (e, f.seq) > (top.epoch, top.seq)));
                    conn = Some(c);
                    checkpoint_due = true;
                    backoff.reset();
                    w.status.up();
                }
                Err(err) => {
                    w.status.down("cannot publish to Redis", &err);
                    retry_at = Instant::now() + backoff.next();
                }
            }
            continue;
        };
        let epoch = epoch.expect("known once connected");
        let checkpoint = checkpoint_due
            || (!w.pending.is_empty()
                && (last_checkpoint.0.elapsed() >= CHECKPOINT_EVERY
                    || (w.seq - last_checkpoint.1) as usize >= w.cap / 2));
        match w.write(c, epoch, checkpoint).await {
            Ok(()) => {
                if checkpoint {
                    checkpoint_due = false;
                    last_checkpoint = (Instant::now(), w.seq);
                }
            }
            Err(err) => {
                w.status.down("cannot write to Redis", &err);
                conn = None;
                retry_at = Instant::now() + backoff.next();
            }
        }
    }
}

/// The generator's writer state: the frames not yet in Redis and the quotes after the newest.
struct Writer {
    instruments: Vec<Instrument>,
    quotes: Vec<Quote>,
    cap: usize,
    pending: VecDeque<Outgoing>,
    seq: u64,
    ts: i64,
    status: Arc<BusStatus>,
}

impl Writer {
    /// Queues a frame; past `cap` queued frames the oldest is dropped (edges will resync).
    fn take(&mut self, frame: Outgoing) {
        for t in &frame.trades {
            self.quotes[t.index] = t.quote.clone();
        }
        (self.seq, self.ts) = (frame.seq, frame.ts);
        self.pending.push_back(frame);
        if self.pending.len() > self.cap {
            self.pending.pop_front();
            self.status.metrics.bus_frames_dropped.inc();
        }
    }

    /// Writes every queued frame (and the checkpoint at the newest) in one transaction.
    async fn write(&mut self, c: &mut MultiplexedConnection, epoch: u64, checkpoint: bool) -> redis::RedisResult<()> {
        let mut tx = redis::pipe();
        tx.atomic();
        for frame in &self.pending {
            let entry = EntryRef {
                ts: frame.ts,
                trades: &frame.trades,
            };
            tx.cmd("XADD")
                .arg(FRAMES)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.cap)
                .arg(entry_id(EventId::new(epoch, frame.seq)))
                .arg("f")
                .arg(serde_json::to_vec(&entry).expect("a frame serialises"))
                .ignore();
        }
        if checkpoint {
            let snapshot = Snapshot {
                id: Some(EventId::new(epoch, self.seq)),
                seq: self.seq,
                ts: self.ts,
                instruments: self.instruments.clone(),
                quotes: self.quotes.clone(),
            };
            tx.cmd("SET")
                .arg(CHECKPOINT)
                .arg(serde_json::to_vec(&snapshot).expect("a snapshot serialises"))
                .ignore();
        }
        tx.query_async::<()>(c).await?;
        self.pending.clear();
        self.status.lock().last_written = Some(EventId::new(epoch, self.seq));
        Ok(())
    }
}

#[derive(Serialize)]
struct EntryRef<'a> {
    ts: i64,
    trades: &'a [Trade],
}

/// The epoch of this generator. A new generator takes seconds since 1970 or one more than the
/// last generator's, whichever is larger (ids must keep increasing), and stores it. One that
/// reconnects keeps its own, stores it again if Redis lost it, and returns a newer one if
/// another generator has started since (the caller then stops).
/// `top` is the newest entry of the stream (see [`stream_top`]).
async fn start_epoch(
    conn: &mut MultiplexedConnection,
    current: Option<u64>,
    top: Option<EventId>,
) -> redis::RedisResult<u64> {
    let stored: Option<u64> = redis::cmd("GET").arg(EPOCH).query_async(conn).await?;
    let epoch = match current {
        Some(mine) => match stored.filter(|s| *s > mine) {
            Some(newer) => return Ok(newer),
            None => mine,
        },
        None => {
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            now.max(stored.max(top.map(|id| id.epoch)).map_or(0, |p| p + 1))
        }
    };
    let _: () = redis::cmd("SET").arg(EPOCH).arg(epoch).query_async(conn).await?;
    Ok(epoch)
}

/// The id of the newest entry of the stream.
async fn stream_top(conn: &mut MultiplexedConnection) -> redis::RedisResult<Option<EventId>> {
    let reply: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(FRAMES)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(reply.ids.first().and_then(|e| parse_entry_id(&e.id)))
}

// ---------------------------------------------------------------------------------------------
// Edge side

/// The checkpoint and the newest frames of its epoch, read in one transaction.
async fn fetch_tail(
    conn: &mut MultiplexedConnection,
    count: usize,
) -> Result<Option<(Snapshot, Vec<FrameRecord>)>, String> {
    let (checkpoint, tail): (Option<Vec<u8>>, StreamRangeReply) = redis::pipe()
        .atomic()
        .cmd("GET")
        .arg(CHECKPOINT)
        .cmd("XREVRANGE")
        .arg(FRAMES)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    let Some(checkpoint) = checkpoint else {
        return Ok(None);
    };
    let checkpoint: Snapshot =
        serde_json::from_slice(&checkpoint).map_err(|e| format!("unreadable checkpoint in {CHECKPOINT}: {e}"))?;
    let epoch = checkpoint.id.map(|id| id.epoch);
    let mut frames = Vec::with_capacity(tail.ids.len());
    for entry in tail.ids.iter().rev() {
        let record = decode(entry)?;
        if Some(record.epoch) == epoch {
            frames.push(record);
        }
    }
    Ok(Some((checkpoint, frames)))
}

/// Joins the bus as an edge: waits for the generator's checkpoint (retrying with backoff while
/// Redis or the generator is not there yet), then builds a hub backfilled from the stream.
pub async fn join(
    client: &Client,
    config: HubConfig,
    status: &Arc<BusStatus>,
    shutdown: &CancellationToken,
) -> Option<Arc<Hub>> {
    let mut backoff = Backoff(0);
    loop {
        let attempt = async {
            let mut conn = connect(client).await.map_err(|e| e.to_string())?;
            status.up();
            fetch_tail(&mut conn, config.history_frames).await
        };
        match attempt.await {
            Ok(Some((checkpoint, frames))) => {
                // Peers on the bus may be a little ahead of this node when a client moves over.
                let hub = Hub::new(
                    checkpoint.id.map_or(0, |id| id.epoch),
                    checkpoint.instruments.clone(),
                    checkpoint.quotes.clone(),
                    config,
                    status.metrics.clone(),
                )
                .with_resume_lead(config.live_buffer as u64);
                match hub.reset(checkpoint, frames) {
                    Ok(()) => {
                        let id = hub.last_id();
                        tracing::info!(last = %id, held = hub.history_len(), "edge backfilled from the stream");
                        return Some(Arc::new(hub));
                    }
                    Err(err) => status.problem(format!("bad checkpoint in {CHECKPOINT}: {err}")),
                }
            }
            Ok(None) => status.waiting(),
            Err(err) => status.down("cannot read the market from Redis", &err),
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(backoff.next()) => {}
        }
    }
}

/// Follows the stream into `hub` until shutdown: applies each new frame; starts over from the
/// checkpoint when the chain breaks; reconnects with backoff when Redis goes away.
pub async fn follow_loop(client: Client, hub: Arc<Hub>, status: Arc<BusStatus>, shutdown: CancellationToken) {
    let mut backoff = Backoff(0);
    let mut conn: Option<MultiplexedConnection> = None;
    let mut broken = false;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let Some(c) = conn.as_mut() else {
            match connect(&client).await {
                Ok(c) => {
                    conn = Some(c);
                    backoff.reset();
                    status.up();
                }
                Err(err) => {
                    status.down("cannot reach Redis", &err);
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff.next()) => {}
                    }
                }
            }
            continue;
        };
        if broken {
            match fetch_tail(c, hub.history_capacity()).await {
                Ok(Some((checkpoint, frames))) => match hub.reset(checkpoint, frames) {
                    Ok(()) => {
                        broken = false;
                        status.metrics.bus_resets.inc();
                        tracing::info!(last = %hub.last_id(), "edge started over from the checkpoint");
                    }
                    Err(err) => {
                        status.problem(err.to_string());
                        pause(&shutdown, MAX_BACKOFF).await;
                    }
                },
                Ok(None) => {
                    status.waiting();
                    pause(&shutdown, backoff.next()).await;
                }
                Err(err) => {
                    status.down("cannot read the market from Redis", &err);
                    conn = None;
                }
            }
            continue;
        }
        let after = entry_id(hub.last_id());
        let mut read = redis::cmd("XREAD");
        read.arg("COUNT")
            .arg(READ_BATCH)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(FRAMES)
            .arg(&after);
        let reply = tokio::select! {
            () = shutdown.cancelled() => return,
            reply = read.query_async::<Option<StreamReadReply>>(c) => reply,
        };
        match reply {
            Ok(None) => {
                // A quiet second: make sure no newer generator has started (whose ids could even
                // sort before ours, were its clock behind).
                status.up();
                match redis::cmd("GET").arg(EPOCH).query_async::<Option<u64>>(c).await {
                    Ok(Some(epoch)) if epoch != hub.epoch() => {
                        tracing::info!(epoch = format!("{epoch:x}"), "a new generator epoch");
                        broken = true;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        status.down("lost the stream", &err);
                        conn = None;
                    }
                }
            }
            Ok(reply) => {
                status.up();
                let entries = reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids);
                for entry in entries {
                    match decode(&entry).map(|record| hub.apply(record)) {
                        Ok(Ok(Applied::Published | Applied::Duplicate)) => {}
                        Ok(Err(gap)) => {
                            tracing::info!(%gap, "the stream does not continue this node's frames");
                            broken = true;
                            break;
                        }
                        Err(err) => {
                            status.problem(err);
                            broken = true;
                            break;
                        }
                    }
                }
            }
            Err(err) => {
                status.down("lost the stream", &err);
                conn = None;
            }
        }
    }
}

async fn pause(shutdown: &CancellationToken, d: Duration) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(d) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_named() {
        assert!(parse_url("redis://127.0.0.1:6379").is_ok());
        assert!(parse_url("redis://:secret@localhost:6380/2").is_ok());
        for bad in ["", "127.0.0.1:6379", "http://x:1", "redis://", "redis://host:notaport"] {
            let err = parse_url(bad).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(err.starts_with("MARKET_BUS must be a Redis URL"), "{err}");
        }
    }

    #[test]
    fn entry_ids_are_event_ids() {
        let id = EventId::new(1_764_300_000, 42);
        assert_eq!(entry_id(id), "1764300000-42");
        assert_eq!(parse_entry_id("1764300000-42"), Some(id));
        assert_eq!(parse_entry_id("x-1"), None);
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
}
