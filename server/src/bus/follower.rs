//! The edge's end of the bus: [`join`] backfills a hub from the stream and the checkpoint, then
//! [`follow_loop`] follows the stream with `XREAD BLOCK`, applying each frame to the hub and
//! starting over from the checkpoint whenever the feed cannot continue seamlessly.

use super::*;
use crate::hub::{Applied, CandleStore, Hub, HubConfig, Refused};
use app::wire::protocol::{EventId, Snapshot};
use redis::streams::StreamReadReply;
use tokio_util::sync::CancellationToken;

/// What an edge starts over from: the checkpoint, the newest frames of its epoch, and the
/// generator's candles, read in one transaction.
struct Tail {
    checkpoint: Snapshot,
    frames: Vec<FrameRecord>,
    candles: Option<(EventId, CandleStore)>,
}

impl Tail {
    fn reset(self, hub: &Hub) -> Result<(), crate::hub::ResetError> {
        hub.reset_with_candles(self.checkpoint, self.frames, self.candles)
    }
}

async fn fetch_tail(conn: &mut MultiplexedConnection, count: usize) -> Result<Option<Tail>, String> {
    let (checkpoint, tail, candles): (Option<Vec<u8>>, StreamRangeReply, Option<Vec<u8>>) = redis::pipe()
        .atomic()
        .cmd("GET")
        .arg(CHECKPOINT)
        .cmd("XREVRANGE")
        .arg(FRAMES)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(count)
        .cmd("GET")
        .arg(CANDLES)
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
    // Charts without the past are better than no node: damaged candles are only logged.
    let candles = candles.and_then(|bytes| {
        decode_candles(&bytes, checkpoint.instruments.len())
            .map_err(|err| tracing::warn!("{err}; the charts start from the stream"))
            .ok()
    });
    Ok(Some(Tail {
        checkpoint,
        frames,
        candles,
    }))
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
            Ok(Some(tail)) => {
                // Peers on the bus may be a little ahead of this node when a client moves over.
                let hub = Hub::new(
                    tail.checkpoint.id.map_or(0, |id| id.epoch),
                    tail.checkpoint.instruments.clone(),
                    tail.checkpoint.quotes.clone(),
                    config,
                    status.metrics.clone(),
                )
                .with_resume_lead(config.live_buffer as u64);
                match tail.reset(&hub) {
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
                Ok(Some(tail)) => match tail.reset(&hub) {
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
        let read = read_after(FRAMES, &after);
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
                        Ok(Err(Refused::Gap(gap))) => {
                            tracing::info!(%gap, "the stream does not continue this node's frames");
                            broken = true;
                            break;
                        }
                        Ok(Err(refused @ Refused::Invalid(..))) => {
                            status.problem(refused.to_string());
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
