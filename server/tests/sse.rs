//! The SSE stream against a real server on port 0, read by a real SSE client.

mod support;

use app::protocol::{Snapshot, TickFrame};
use futures_util::StreamExt;
use std::time::Duration;
use support::*;
use tickertape_server::hub::HubConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_first_then_ticks_with_ids() {
    let mut server = TestServer::start().await;
    server.step(3);
    let resp = reqwest::get(server.url("/api/stream")).await.unwrap();
    let headers = resp.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let mut raw = resp.bytes_stream();
    let first = tokio::time::timeout(PATIENCE, raw.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("retry: 1000"),
        "retry is sent once at the start"
    );
    drop(raw);

    let mut events = open(&server.url("/api/stream"), None).await;
    let snap = next(&mut events).await;
    assert_eq!((snap.event.as_str(), snap.id.as_str()), ("snapshot", "7e57-3"));
    let snapshot: Snapshot = serde_json::from_str(&snap.data).unwrap();
    assert_eq!(snapshot.quotes.len(), server.hub.instruments().len());
    assert_eq!(snapshot.instruments.len(), snapshot.quotes.len());

    let last = server.step(20);
    let ticks = until_seq(&mut events, last).await;
    let mut prev = 3;
    for tick in &ticks {
        assert_eq!(tick.event, "tick");
        let frame: TickFrame = serde_json::from_str(&tick.data).unwrap();
        assert_eq!(seq_of(tick), frame.seq);
        assert!(frame.seq > prev, "ids strictly increase");
        assert!(!frame.quotes.is_empty(), "frames where nothing moved are skipped");
        prev = frame.seq;
    }
    assert_eq!(prev, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symbol_filter_selects_quotes() {
    let mut server = TestServer::start().await;
    let mut events = open(&server.url("/api/stream?symbols=AAPL,eur-usd"), None).await;
    let snapshot: Snapshot = serde_json::from_str(&next(&mut events).await.data).unwrap();
    let symbols: Vec<_> = snapshot.quotes.iter().map(|q| q.symbol.as_str()).collect();
    assert_eq!(symbols, ["AAPL", "EUR-USD"]);
    // Wait for a frame that moved one of them, by reading the unfiltered stream alongside.
    let mut all = open(&server.url("/api/stream"), None).await;
    next(&mut all).await;
    let last = server.step(100);
    let all_ticks = until_seq(&mut all, last).await;
    let expected: Vec<String> = all_ticks
        .iter()
        .filter(|e| {
            let f: TickFrame = serde_json::from_str(&e.data).unwrap();
            f.quotes.iter().any(|q| q.symbol == "AAPL" || q.symbol == "EUR-USD")
        })
        .map(|e| e.id.clone())
        .collect();
    assert!(!expected.is_empty() && expected.len() < all_ticks.len());
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let e = next(&mut events).await;
        let f: TickFrame = serde_json::from_str(&e.data).unwrap();
        assert!(f.quotes.iter().all(|q| q.symbol == "AAPL" || q.symbol == "EUR-USD"));
        got.push(e.id);
    }
    assert_eq!(got, expected);
}

/// A client that drops and resumes with Last-Event-ID receives exactly what a continuously
/// connected client received over the same span: no loss, no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_last_event_id_loses_and_duplicates_nothing() {
    let mut server = TestServer::start().await;
    let mut steady = open(&server.url("/api/stream"), None).await;
    next(&mut steady).await;
    let mut flaky = open(&server.url("/api/stream"), None).await;
    next(&mut flaky).await;

    let cut = server.step(10);
    let before = until_seq(&mut flaky, cut).await;
    let resume_from = before.last().unwrap().id.clone();
    drop(flaky); // disconnect

    let last = server.step(25); // frames published while it is away
    let mut resumed = open(&server.url("/api/stream"), Some(&resume_from)).await;
    let last = last.max(server.step(5)); // and after it is back
    let got = until_seq(&mut resumed, last).await;
    let steady_all = until_seq(&mut steady, last).await;
    let expected: Vec<_> = steady_all
        .iter()
        .filter(|e| seq_of(e) > cut)
        .map(|e| (e.id.clone(), e.data.clone()))
        .collect();
    let got: Vec<_> = got.iter().map(|e| (e.id.clone(), e.data.clone())).collect();
    assert_eq!(got, expected);
    assert!(got.iter().all(|(id, _)| id.starts_with("7e57-")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_query_parameter() {
    let mut server = TestServer::start().await;
    server.step(5);
    let mut events = open(&server.url("/api/stream?last_event_id=7e57-2"), None).await;
    let first = next(&mut events).await;
    assert_eq!(first.event, "tick", "no snapshot when resuming");
    assert!(seq_of(&first) > 2);
    // The header wins over the parameter (a browser reconnecting keeps the original URL).
    let mut events = open(&server.url("/api/stream?last_event_id=7e57-1"), Some("7e57-4")).await;
    assert!(seq_of(&next(&mut events).await) > 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_past_history_or_from_another_epoch_resyncs() {
    let mut server = TestServer::with(
        HubConfig {
            history_frames: 10,
            live_buffer: 64,
        },
        Duration::from_secs(15),
    )
    .await;
    let mut last = server.step(40);
    for from in ["7e57-3", "abc-39", "7e57-99"] {
        let mut events = open(&server.url("/api/stream"), Some(from)).await;
        let first = next(&mut events).await;
        assert_eq!((first.event.as_str(), seq_of(&first)), ("resync", last), "from {from}");
        let snapshot: Snapshot = serde_json::from_str(&first.data).unwrap();
        assert_eq!(snapshot.id.unwrap().to_string(), first.id);
        assert_eq!(snapshot.quotes.len(), server.hub.instruments().len());
        let next_seq = server.step(3);
        let after = until_seq(&mut events, next_seq).await;
        assert!(after.iter().all(|e| e.event == "tick" && seq_of(e) > last));
        last = next_seq;
    }
}

/// A reader that stops reading falls behind the live channel and gets a resync, while a normal
/// reader on the same hub receives every frame without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_is_resynced_and_normal_reader_is_unaffected() {
    let mut server = TestServer::with(
        HubConfig {
            history_frames: 100,
            live_buffer: 64,
        },
        Duration::from_secs(15),
    )
    .await;
    let mut slow = open_slow(server.addr, "/api/stream").await;
    next(&mut slow).await;
    let mut normal = open(&server.url("/api/stream"), None).await;
    next(&mut normal).await;

    // Publish in batches smaller than the live buffer and let the normal reader catch up after
    // each. The slow one reads nothing: once the socket buffers on both sides are full (at most
    // the kernel's maximum send buffer plus a few KB), its subscription falls behind.
    let must_exceed = 2 * max_send_buffer() + (1 << 20);
    let mut seen = Vec::new();
    let (mut last, mut bytes) = (0, 0);
    while bytes < must_exceed {
        last = server.step(32);
        let batch = until_seq(&mut normal, last).await;
        bytes += batch.iter().map(|e| e.data.len()).sum::<usize>();
        seen.extend(batch);
    }
    assert!(
        seen.iter().all(|e| e.event == "tick"),
        "the normal reader never needed a resync"
    );
    let seqs: Vec<u64> = seen.iter().map(seq_of).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));

    // The slow reader drains what was buffered, then gets a resync and continues live after it.
    let resync_seq = loop {
        let e = next(&mut slow).await;
        if e.event == "resync" {
            break seq_of(&e);
        }
        assert_eq!(e.event, "tick");
    };
    assert!(resync_seq >= last - 64, "the resync is recent: {resync_seq} vs {last}");
    assert_eq!(server.hub.metrics().lagged.get(), 1);
    let more = server.step(5);
    let tail = until_seq(&mut slow, more).await;
    assert!(tail.iter().all(|e| e.event == "tick" && seq_of(e) > resync_seq));
}

/// The kernel's largest TCP send buffer (autotuning limit), or 4 MiB where it cannot be read.
fn max_send_buffer() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// With nothing to send, the stream still carries a comment every keep-alive period, so
/// proxies keep it open and clients can tell a quiet market from a dead connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_comment_when_quiet() {
    let server = TestServer::with(
        HubConfig {
            history_frames: 10,
            live_buffer: 64,
        },
        Duration::from_secs(1),
    )
    .await;
    let resp = reqwest::get(server.url("/api/stream")).await.unwrap();
    let mut raw = resp.bytes_stream();
    let mut text = String::new();
    let found = tokio::time::timeout(PATIENCE, async {
        // The snapshot arrives first; a line holding just ":" is the keep-alive comment.
        while !text.lines().any(|l| l == ":") {
            let chunk = raw.next().await.expect("stream open").expect("bytes");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    });
    found.await.expect("a keep-alive comment within the patience window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_stream_promptly() {
    let mut server = TestServer::start().await;
    server.step(1);
    // Thousands of streams where the file-descriptor limit allows (each costs two here).
    let count = open_files_limit().saturating_sub(256).min(4_000) / 2;
    let mut streams = Vec::new();
    for _ in 0..count {
        let mut s = open(&server.url("/api/stream"), None).await;
        next(&mut s).await;
        streams.push(s);
    }
    let clients = format!("tickertape_clients{{transport=\"Sse\"}} {count}");
    assert!(server.hub.metrics().render().contains(&clients), "{count} streams open");
    server.shutdown.cancel();
    let task = server.task.take().unwrap();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("server stops within 1 s")
        .unwrap()
        .unwrap();
    for mut s in streams {
        let end = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(_)) = s.next().await {}
        });
        end.await.expect("each stream ends");
    }
}

/// The soft limit on open files of this process (Linux), or 1024.
fn open_files_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse()
                .ok()
        })
        .unwrap_or(1024)
}
