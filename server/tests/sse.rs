//! The SSE stream against a real server on port 0, read by a real SSE client.

mod support;

use app::wire::protocol::{Snapshot, TickFrame};
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
    // each. The slow one reads nothing: once the socket buffers on both sides are full (the
    // server caps its send buffer; the client's side holds a few hundred KB at most), its
    // subscription falls behind.
    let must_exceed = 4 * tickertape_server::config::Limits::default().send_buffer + (1 << 20);
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

    // The slow reader drains what was buffered, in order, then gets a resync that brings it to
    // live (one more, earlier, where the client's buffers let it progress and fall behind
    // again), and continues live after it.
    let mut previous = 0;
    let resync_seq = loop {
        let e = next(&mut slow).await;
        if e.event == "resync" && seq_of(&e) >= last - 64 {
            break seq_of(&e);
        }
        assert!(e.event == "tick" || e.event == "resync", "{e:?}");
        assert!(seq_of(&e) > previous || e.event == "resync", "in order");
        previous = seq_of(&e);
    };
    assert!(server.hub.metrics().lagged.get() >= 1);
    let more = server.step(5);
    let tail = until_seq(&mut slow, more).await;
    assert!(tail.iter().all(|e| e.event == "tick" && seq_of(e) > resync_seq));
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
    let stopped = tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("server stops within 1 s")
        .unwrap()
        .unwrap();
    // Not by giving up at the drain deadline: every connection had finished.
    assert_eq!(stopped, tickertape_server::net::Stopped::Drained);
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

/// Reads a response head from `tcp` with a real parser; returns (status, headers, body bytes
/// already read).
async fn read_response_head(tcp: &mut tokio::net::TcpStream) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut chunk))
            .await
            .expect("response in time")
            .unwrap();
        assert!(n > 0, "connection closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut slots);
        if let httparse::Status::Complete(len) = resp.parse(&buf).unwrap() {
            let headers = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            return (resp.code.unwrap(), headers, buf[len..].to_vec());
        }
    }
}

/// The rest of a close-delimited body (`first` already read) as SSE events.
fn events_from_socket(first: Vec<u8>, tcp: tokio::net::TcpStream) -> Events<std::io::Error> {
    use eventsource_stream::Eventsource;
    use tokio::io::AsyncReadExt;
    let rest = futures_util::stream::unfold(tcp, |mut tcp| async move {
        let mut chunk = vec![0; 4096];
        match tcp.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(chunk), tcp))
            }
            Err(err) => Some((Err(err), tcp)),
        }
    });
    Box::pin(
        futures_util::stream::once(async { Ok(first) })
            .chain(rest)
            .eventsource(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_on_a_fresh_connection_is_served_on_its_own_and_released_on_close() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::start().await;
    server.step(2);
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /api/stream?symbols=AAPL,MSFT HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 7e57-1\r\n\r\n")
        .await
        .unwrap();
    let (status, headers, body) = read_response_head(&mut tcp).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert_eq!(header(&headers, "x-accel-buffering"), Some("no"));
    // Served directly: the body ends with the connection, without chunk framing.
    assert_eq!(header(&headers, "connection"), Some("close"));
    assert_eq!(header(&headers, "transfer-encoding"), None);
    assert_eq!(header(&headers, "content-length"), None);
    assert!(header(&headers, "date").is_some_and(|d| d.ends_with(" GMT")));
    assert!(body.starts_with(b"retry: 1000\n:tickertape\n\n"), "{body:?}");

    // Resumed after 7e57-1: the replay, then live frames, each once and in order.
    let mut events = events_from_socket(body, tcp);
    server.step(30);
    let last = server.step_until_traded(&["AAPL", "MSFT"]);
    let ticks = until_seq(&mut events, last).await;
    assert!(ticks.iter().all(|t| t.event == "tick"));
    let seqs: Vec<u64> = ticks.iter().map(seq_of).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for tick in &ticks {
        let frame: TickFrame = serde_json::from_str(&tick.data).unwrap();
        assert!(frame.quotes.iter().all(|q| q.symbol == "AAPL" || q.symbol == "MSFT"));
    }
    let connected = "tickertape_clients{transport=\"Sse\"} 1";
    assert!(server.hub.metrics().render().contains(connected));

    // The client hangs up: the server notices without writing, and counts it.
    drop(events);
    let released = async {
        while !server
            .hub
            .metrics()
            .render()
            .contains("tickertape_clients{transport=\"Sse\"} 0")
        {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(PATIENCE, released)
        .await
        .expect("a closed connection is released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_on_a_reused_connection_carries_the_same_bytes() {
    use http_body_util::BodyExt;
    let mut server = TestServer::start().await;
    server.step(4);
    // One keep-alive connection: an API call first, then the stream (what a browser may do).
    let socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(socket))
        .await
        .unwrap();
    tokio::spawn(conn);
    let get = |path: &str| {
        hyper::Request::get(path)
            .header("host", "t")
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .unwrap()
    };
    let symbols = sender.send_request(get("/api/symbols")).await.unwrap();
    assert_eq!(symbols.status(), 200);
    symbols.into_body().collect().await.unwrap();
    // The connection takes the next request once it has finished the last one (without this
    // wait, a busy machine fails the send with "connection was not ready").
    sender.ready().await.unwrap();
    let routed = sender
        .send_request(get("/api/stream?last_event_id=7e57-2"))
        .await
        .unwrap();
    assert_eq!(routed.status(), 200);
    assert_eq!(routed.headers()["content-type"], "text/event-stream");
    assert_eq!(routed.headers()["transfer-encoding"], "chunked");
    assert!(!routed.headers().contains_key("connection"));
    let routed = routed
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let mut routed: Events<std::io::Error> = Box::pin(eventsource_stream::Eventsource::eventsource(routed));

    // The same request on a fresh connection, served directly.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"GET /api/stream?last_event_id=7e57-2 HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let (status, headers, body) = read_response_head(&mut tcp).await;
    assert_eq!((status, header(&headers, "connection")), (200, Some("close")));
    let mut direct = events_from_socket(body, tcp);

    let metrics = server.hub.metrics().render();
    assert!(
        metrics.contains("tickertape_connections_opened_total{transport=\"Sse\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("tickertape_sse_direct_streams_total 1"), "{metrics}");

    let last = server.step(25);
    let a = until_seq(&mut routed, last).await;
    let b = until_seq(&mut direct, last).await;
    let fields = |events: &[eventsource_stream::Event]| -> Vec<(String, String, String)> {
        events
            .iter()
            .map(|e| (e.event.clone(), e.id.clone(), e.data.clone()))
            .collect()
    };
    assert_eq!(fields(&a), fields(&b));
    assert_eq!(seq_of(&a[0]), 3, "resumed right after 7e57-2");
}

/// A direct stream whose client stops reading: once its socket is full, its fan-out group hands
/// it back to its own task, which finishes the half-written event when the client reads again
/// and rejoins. The client then gets every tick once, in order, with no resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_socket_stalls_only_its_stream_and_loses_nothing() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::with(
        HubConfig {
            history_frames: 100,
            // Room for everything published while the reader is stalled: no lag, no resync.
            live_buffer: 1 << 15,
        },
        Duration::from_secs(15),
    )
    .await;
    let first = server.step(1);
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut tcp = socket.connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /api/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (status, headers, body) = read_response_head(&mut tcp).await;
    assert_eq!((status, header(&headers, "connection")), (200, Some("close")));
    let mut normal = open(&server.url("/api/stream"), None).await;
    let mut expected = vec![next(&mut normal).await];

    // Publish while the stalled client reads nothing, until its group has handed it back. The
    // normal reader keeps up, so each batch has been through the fan-out when it is checked.
    let mut last = first;
    while server.hub.metrics().fanout_stalls.get() == 0 {
        assert!(last < (1 << 14), "the socket never filled");
        last = server.step(16);
        expected.extend(until_seq(&mut normal, last).await);
    }
    let last = server.step(40);
    expected.extend(until_seq(&mut normal, last).await);
    let got = until_seq(&mut events_from_socket(body, tcp), last).await;

    let fields = |events: &[eventsource_stream::Event]| -> Vec<(String, String, String)> {
        events
            .iter()
            .map(|e| (e.event.clone(), e.id.clone(), e.data.clone()))
            .collect()
    };
    assert_eq!(got[0].event, "snapshot");
    assert_eq!(seq_of(&got[0]), first);
    assert!(
        got.len() > 40,
        "{} events: the stall and the 40 frames after it",
        got.len()
    );
    assert_eq!(
        fields(&got),
        fields(&expected),
        "the same events as a reader that kept up"
    );
    assert_eq!(server.hub.metrics().resyncs.get(), 0);
}
