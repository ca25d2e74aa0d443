//! The connection limits against clients that misbehave, over real sockets: heads that never
//! finish, idle keep-alive connections, more connections than allowed. (The heavy versions,
//! thousands of sockets at once, are `make scenario` runs; see BENCHMARKS.md.)

mod support;

use std::time::{Duration, Instant};
use support::*;
use tickertape_server::config::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_secs(1);

fn limits(max_connections: usize) -> Limits {
    Limits {
        header_timeout: SHORT,
        max_connections,
        write_timeout: SHORT,
        ..Limits::default()
    }
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(tcp: &mut TcpStream) -> (String, Instant) {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut got))
        .await
        .expect("the server closes the connection in time");
    (String::from_utf8_lossy(&got).into_owned(), Instant::now())
}

#[tokio::test]
async fn a_head_that_never_completes_is_answered_408_and_closed_within_the_timeout() {
    let server = TestServer::with_limits(limits(64)).await;
    for partial in [
        &b""[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"GET /api/stream HTTP/1.1\r\nX-Slow: ",
    ] {
        let started = Instant::now();
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(partial).await.unwrap();
        let (answer, closed) = until_closed(&mut tcp).await;
        let waited = closed - started;
        assert!(
            waited >= SHORT && waited < SHORT * 3,
            "{partial:?}: closed after {waited:?}"
        );
        assert!(answer.starts_with("HTTP/1.1 408 "), "{partial:?}: {answer}");
        assert!(
            answer.contains(r#""error":"the request head did not arrive within 1 s"#),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = TestServer::with_limits(limits(64)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    // Served by hyper now: it keeps the connection for a next request, within the timeout only.
    let (_, closed) = until_closed(&mut tcp).await;
    let idle = closed - answered;
    assert!(idle >= SHORT / 2 && idle < SHORT * 3, "closed after {idle:?} idle");
}

#[tokio::test]
async fn past_max_connections_a_client_gets_503_with_retry_after_and_a_reason() {
    let server = TestServer::with_limits(limits(3)).await;
    // Two streams and a WebSocket hold the three connections (a WebSocket keeps its place after
    // hyper hands its socket over).
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(open(&server.url("/api/stream"), None).await);
    }
    for events in &mut held {
        next(events).await;
    }
    let mut ws = ws_open(&server.url("/api/ws")).await;
    ws_next(&mut ws).await.unwrap();
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /api/symbols HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = until_closed(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\nretry-after: 5\r\n"),
        "{answer}"
    );
    assert!(answer.contains("MAX_CONNECTIONS=3"), "{answer}");
    // The streams were not disturbed, and a connection that ends frees its place.
    let mut server = server;
    let last = server.step(2);
    for events in &mut held {
        until_seq(events, last).await;
    }
    ws_until_seq(&mut ws, last).await;
    drop(ws);
    until_a_new_connection_is_served(&server, PATIENCE, "the freed place is never given back").await;
}

/// A client that connects with a tiny receive window, sends `request`, and never reads.
async fn non_reader(server: &TestServer, request: &[u8]) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(server.addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    tcp
}

/// Steps the market until the server finds a stream's socket (or hyper's body) full, then
/// returns when that happened.
async fn step_until_stalled(server: &mut TestServer) -> Instant {
    for _ in 0..20_000 {
        server.step(1);
        if server.hub.metrics().fanout_stalls.get() > 0 {
            return Instant::now();
        }
        tokio::task::yield_now().await;
    }
    panic!("the stream never filled its socket");
}

/// Returns when the server no longer counts a connected client of `transport`. The market
/// keeps moving meanwhile, so the stalled stream always has something it cannot write.
async fn until_no_client(server: &mut TestServer, transport: &str, case: &str) -> Instant {
    let deadline = Instant::now() + PATIENCE;
    let none = format!("tickertape_clients{{transport=\"{transport}\"}} 0");
    loop {
        if server.hub.metrics().render().contains(&none) {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{case}: the stalled stream is never cut");
        server.step(1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_client_stops_reading_is_cut_after_the_write_timeout() {
    // A connection's first request (served on the socket), a stream behind another request
    // on the same connection (served through hyper), and a WebSocket.
    for (transport, request) in [
        ("Sse", &b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"[..]),
        (
            "Sse",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            "Ws",
            b"GET /api/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        ),
    ] {
        let mut server = TestServer::with_limits(limits(64)).await;
        let _client = non_reader(&server, request).await;
        let stalled = step_until_stalled(&mut server).await;
        let cut = until_no_client(&mut server, transport, &String::from_utf8_lossy(request)).await;
        let waited = cut - stalled;
        assert!(
            waited >= SHORT / 2 && waited < SHORT * 4,
            "cut {waited:?} after the socket filled"
        );
    }
}

/// Sends one request on `tcp` (kept open) and returns the answer's head and body.
async fn ask(tcp: &mut TcpStream, path: &str) -> String {
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        // Enough for the answers asked here: a head and a short body, or a refusal then the end.
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            let complete = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>())
                    })
                    .and_then(Result::ok);
                length.is_some_and(|len| body.len() >= len)
            });
            if n == 0 || complete {
                return;
            }
        }
    })
    .await
    .expect("an answer in time");
    String::from_utf8_lossy(&got).into_owned()
}

/// A connection to `server` from `source` (any loopback address works on Linux).
async fn connect_from(server: &TestServer, source: [u8; 4]) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((source, 0).into()).unwrap();
    socket.connect(server.addr).await.unwrap()
}

#[tokio::test]
async fn past_its_share_an_address_gets_429_and_other_addresses_are_served() {
    let server = TestServer::with_limits(Limits {
        per_address: Some(2),
        ..limits(64)
    })
    .await;
    let mut first = connect_from(&server, [127, 0, 0, 1]).await;
    let mut second = connect_from(&server, [127, 0, 0, 1]).await;
    for tcp in [&mut first, &mut second] {
        let answer = ask(tcp, "/api/symbols").await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }
    let mut third = connect_from(&server, [127, 0, 0, 1]).await;
    let answer = ask(&mut third, "/api/symbols").await;
    assert!(answer.starts_with("HTTP/1.1 429 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\nretry-after: 5\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains(r#"{"error":"this address already has 2 connections open (MAX_CONNECTIONS_PER_ADDRESS=2)"#),
        "{answer}"
    );
    // Another address has its own share.
    let mut other = connect_from(&server, [127, 0, 0, 2]).await;
    assert!(ask(&mut other, "/api/symbols").await.starts_with("HTTP/1.1 200 "));
    // A connection that ends gives its place back.
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut again = connect_from(&server, [127, 0, 0, 1]).await;
        if ask(&mut again, "/api/symbols").await.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(Instant::now() < deadline, "the place is never given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The connection that stayed was served throughout.
    assert!(ask(&mut second, "/api/symbols").await.starts_with("HTTP/1.1 200 "));
}

#[tokio::test]
async fn the_listen_backlog_reaches_the_kernel() {
    // Nobody accepts: connects complete only while the kernel's queue has room. The queue
    // takes backlog + 1; with a small backlog the rest wait for a SYN retransmit (1 s), with the
    // default they all complete at once.
    for (backlog, connects, expect_all) in [(16, 40, false), (4096, 40, true)] {
        let listener = tickertape_server::net::listen("127.0.0.1:0".parse().unwrap(), backlog).unwrap();
        let addr = listener.local_addr().unwrap();
        let attempts =
            (0..connects).map(|_| tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)));
        let done = futures_util::future::join_all(attempts).await;
        let connected = done.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        if expect_all {
            assert_eq!(connected, connects, "backlog {backlog}");
        } else {
            assert!(
                connected <= backlog as usize + 1,
                "backlog {backlog}: {connected} connected"
            );
        }
    }
}
