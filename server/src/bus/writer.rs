//! The generator's end of the bus: [`Publisher`] numbers frames without ever waiting, and the
//! write loop writes them to Redis in order (with a checkpoint about once a second), queueing
//! at most `HISTORY_FRAMES` of them while Redis is away.

use super::*;
use crate::feed::Publish;
use app::wire::book::{Book, BookUpdate};
use app::wire::protocol::{Instrument, Quote, Snapshot};
use std::collections::VecDeque;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
    /// Every instrument's whole book before the first frame.
    pub books: Vec<BookUpdate>,
    /// Stream length to keep (`MAXLEN ~`), and most frames queued while Redis is away.
    pub history_frames: usize,
    /// The candles before the first frame (the market's simulated past).
    pub candles: CandleStore,
}

/// How often the candles are rewritten at most (and at least every `history_frames / 2`
/// frames, so the stream still holds every frame after them).
const CANDLES_EVERY: Duration = Duration::from_secs(60);

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
        books: setup.books.iter().map(Book::from_update).collect(),
        cap: setup.history_frames,
        pending: VecDeque::new(),
        seq: 0,
        ts: 0,
        candles: setup.candles,
        status,
    };
    let mut epoch: Option<u64> = None;
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff(0);
    let mut retry_at = Instant::now();
    let mut checkpoint_due = true;
    let mut last_checkpoint = (Instant::now(), 0u64);
    // The candles go with the first checkpoint after every connect, then when due.
    let mut candles_due = true;
    let mut last_candles = (Instant::now(), 0u64);

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
                    candles_due = true;
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
        let due = |last: (Instant, u64), every: Duration| {
            !w.pending.is_empty() && (last.0.elapsed() >= every || (w.seq - last.1) as usize >= w.cap / 2)
        };
        let candles = candles_due || due(last_candles, CANDLES_EVERY);
        let checkpoint = checkpoint_due || candles || due(last_checkpoint, CHECKPOINT_EVERY);
        match w.write(c, epoch, checkpoint, candles).await {
            Ok(()) => {
                if checkpoint {
                    checkpoint_due = false;
                    last_checkpoint = (Instant::now(), w.seq);
                }
                if candles {
                    candles_due = false;
                    last_candles = (Instant::now(), w.seq);
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
    /// The books at `seq`, for checkpoints.
    books: Vec<Book>,
    cap: usize,
    pending: VecDeque<Outgoing>,
    seq: u64,
    ts: i64,
    /// The candles at `seq`.
    candles: CandleStore,
    status: Arc<BusStatus>,
}

impl Writer {
    /// Queues a frame; past `cap` queued frames the oldest is dropped (edges will resync).
    fn take(&mut self, frame: Outgoing) {
        for t in &frame.trades {
            self.quotes[t.index] = t.quote.clone();
            self.books[t.index].apply(&t.book);
            self.candles.push_trade(t, frame.ts);
        }
        (self.seq, self.ts) = (frame.seq, frame.ts);
        self.pending.push_back(frame);
        if self.pending.len() > self.cap {
            self.pending.pop_front();
            self.status.metrics.bus_frames_dropped.inc();
        }
    }

    /// Writes every queued frame (and the checkpoint, and the candles, at the newest) in one
    /// transaction.
    async fn write(
        &mut self,
        c: &mut MultiplexedConnection,
        epoch: u64,
        checkpoint: bool,
        candles: bool,
    ) -> redis::RedisResult<()> {
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
                books: self
                    .books
                    .iter()
                    .zip(&self.instruments)
                    .map(|(book, i)| book.whole_of(i))
                    .collect(),
            };
            tx.cmd("SET")
                .arg(CHECKPOINT)
                .arg(serde_json::to_vec(&snapshot).expect("a snapshot serialises"))
                .ignore();
        }
        if candles {
            tx.cmd("SET")
                .arg(CANDLES)
                .arg(encode_candles(EventId::new(epoch, self.seq), &self.candles))
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
