//! WebSocket and long polling against a real server, checked against SSE: one event model, one
//! resume model.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::*;
use tickertape_server::hub::HubConfig;
use tokio_tungstenite::tungstenite::Message;

fn seq(v: &Value) -> u64 {
    v["id"]
        .as_str()
        .and_then(|id| id.rsplit_once('-')?.1.parse().ok())
        .expect("an id")
}

/// For a seeded market, SSE, WebSocket and long polling deliver the identical frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_transports_deliver_identical_frames() {
    let mut server = TestServer::start().await;
    server.step(2);
    let symbols = "AAPL,BTC-USD";
    let mut sse_all = open(&server.url("/api/stream"), None).await;
    let mut sse = open(&server.url(&format!("/api/stream?symbols={symbols}")), None).await;
    let mut ws = ws_open(&server.url(&format!("/api/ws?symbols={symbols}"))).await;
    let (first_poll, _) = poll(&server.base, &format!("symbols={symbols}")).await;

    // All three open with the same snapshot.
    let sse_snapshot = as_json(&next(&mut sse).await);
    assert_eq!(sse_snapshot["type"], "snapshot");
    assert_eq!(ws_next(&mut ws).await.unwrap(), sse_snapshot);
    assert_eq!(first_poll, vec![sse_snapshot.clone()]);
    next(&mut sse_all).await;

    let last = server.step(150);
    // What the filter should let through, derived from the unfiltered stream.
    let expected: Vec<Value> = until_seq(&mut sse_all, last)
        .await
        .iter()
        .map(as_json)
        .filter(|e| {
            e["data"]["quotes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["symbol"] == "AAPL" || q["symbol"] == "BTC-USD")
        })
        .collect();
    let last_selected = seq(expected.last().unwrap());
    let filtered = |e: &Value| {
        let mut e = e.clone();
        let quotes = e["data"]["quotes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["symbol"] == "AAPL" || q["symbol"] == "BTC-USD")
            .cloned()
            .collect();
        e["data"]["quotes"] = Value::Array(quotes);
        e
    };
    let expected: Vec<Value> = expected.iter().map(filtered).collect();

    let via_sse: Vec<Value> = until_seq(&mut sse, last_selected).await.iter().map(as_json).collect();
    let via_ws = ws_until_seq(&mut ws, last_selected).await;
    let via_poll = poll_until_seq(
        &server.base,
        symbols,
        sse_snapshot["id"].as_str().unwrap().into(),
        last_selected,
    )
    .await;
    assert!(expected.len() > 10);
    assert_eq!(via_sse, expected);
    assert_eq!(via_ws, expected);
    assert_eq!(via_poll, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_resumes_without_loss_or_duplicate() {
    let mut server = TestServer::start().await;
    let mut steady = open(&server.url("/api/stream"), None).await;
    next(&mut steady).await;
    let mut ws = ws_open(&server.url("/api/ws")).await;
    assert_eq!(ws_next(&mut ws).await.unwrap()["type"], "snapshot");
    let cut = server.step(8);
    let before = ws_until_seq(&mut ws, cut).await;
    drop(ws);
    server.step(20);
    let resume = before.last().unwrap()["id"].as_str().unwrap().to_string();
    let mut ws = ws_open(&server.url(&format!("/api/ws?last_event_id={resume}"))).await;
    let last = server.step(5);
    let got = ws_until_seq(&mut ws, last).await;
    let expected: Vec<Value> = until_seq(&mut steady, last)
        .await
        .iter()
        .map(as_json)
        .filter(|e| seq(e) > cut)
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_resumes_without_loss_or_duplicate() {
    let mut server = TestServer::start().await;
    let mut steady = open(&server.url("/api/stream"), None).await;
    next(&mut steady).await;
    let (events, mut after) = poll(&server.base, "").await;
    assert_eq!(events[0]["type"], "snapshot");
    let mut got = Vec::new();
    // Polls at irregular moments, frames published in between: nothing lost, nothing twice.
    for batch in [3, 1, 7, 2, 10] {
        server.step(batch);
        let (events, next) = poll(&server.base, &format!("after={after}&timeout_ms=0")).await;
        got.extend(events);
        after = next;
    }
    let last = seq(got.last().unwrap());
    let expected: Vec<Value> = until_seq(&mut steady, last).await.iter().map(as_json).collect();
    assert_eq!(got, expected);

    // Nothing new: an empty answer at the timeout, same resume point.
    let (events, next) = poll(&server.base, &format!("after={after}&timeout_ms=0")).await;
    assert!(events.is_empty());
    assert_eq!(next, after);

    // A waiting poll answers as soon as a frame is published.
    let waiting = parked_poll(&server, after, 30000).await;
    let published = server.step(1);
    let (events, _) = waiting.await.unwrap();
    assert_eq!(seq(&events[0]), published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_or_foreign_resume_points_get_a_resync_on_every_transport() {
    let mut server = TestServer::with(
        HubConfig {
            history_frames: 10,
            live_buffer: 64,
        },
        std::time::Duration::from_secs(15),
    )
    .await;
    let last = server.step(30);
    for from in ["7e57-2", "beef-29"] {
        let (events, next) = poll(&server.base, &format!("after={from}")).await;
        assert_eq!(events.len(), 1);
        assert_eq!((events[0]["type"].as_str(), seq(&events[0])), (Some("resync"), last));
        assert_eq!(next, format!("7e57-{last}"));
        let mut ws = ws_open(&server.url(&format!("/api/ws?last_event_id={from}"))).await;
        let first = ws_next(&mut ws).await.unwrap();
        assert_eq!((first["type"].as_str(), seq(&first)), (Some("resync"), last));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscription_changes_mid_stream() {
    let mut server = TestServer::start().await;
    let mut ws = ws_open(&server.url("/api/ws?symbols=AAPL")).await;
    assert_eq!(
        ws_next(&mut ws).await.unwrap()["data"]["quotes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.step(20);

    ws.send(Message::text(r#"{"op":"subscribe","symbols":["TSLA","eth-usd"]}"#))
        .await
        .unwrap();
    // Ticks already queued for AAPL may come first; then the snapshot of the new selection.
    let snapshot = loop {
        let m = ws_next(&mut ws).await.unwrap();
        if m["type"] == "snapshot" {
            break m;
        }
        assert_eq!(m["type"], "tick");
    };
    let symbols: Vec<&str> = snapshot["data"]["quotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(symbols, ["AAPL", "TSLA", "ETH-USD"]);
    let last = server.step(60);
    let ticks = ws_until_seq(&mut ws, last).await;
    let mut seen = std::collections::HashSet::new();
    for t in &ticks {
        assert!(
            seq(t) > seq(&snapshot),
            "frames covered by the snapshot are not repeated"
        );
        for q in t["data"]["quotes"].as_array().unwrap() {
            seen.insert(q["symbol"].as_str().unwrap().to_string());
        }
    }
    assert!(seen.contains("TSLA") && seen.is_subset(&["AAPL", "TSLA", "ETH-USD"].map(String::from).into()));

    ws.send(Message::text(r#"{"op":"unsubscribe","symbols":["AAPL","TSLA"]}"#))
        .await
        .unwrap();
    let snapshot = ws_next(&mut ws).await.unwrap();
    assert_eq!(snapshot["data"]["quotes"].as_array().unwrap().len(), 1);

    // Bad messages get an error reply and the connection stays usable.
    for bad in [
        "not json",
        r#"{"op":"dance"}"#,
        r#"{"op":"subscribe","symbols":["NOPE"]}"#,
    ] {
        ws.send(Message::text(bad)).await.unwrap();
        let reply = ws_next(&mut ws).await.unwrap();
        assert_eq!(reply["type"], "error", "{bad}");
        assert!(reply["error"].as_str().unwrap().len() <= 200);
    }
    ws.send(Message::text(r#"{"op":"set","symbols":null}"#)).await.unwrap();
    let all = ws_next(&mut ws).await.unwrap();
    assert_eq!(
        all["data"]["quotes"].as_array().unwrap().len(),
        server.hub.instruments().len()
    );

    // Depth rides on the same commands: a book arrives whole with the snapshot, and stays while
    // its symbol stays selected; a depth symbol outside the selection is refused.
    let books = |m: &serde_json::Value| {
        m["data"]["books"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["symbol"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    ws.send(Message::text(
        r#"{"op":"set","symbols":["AAPL","MSFT"],"depth":["msft"]}"#,
    ))
    .await
    .unwrap();
    let deep = ws_next(&mut ws).await.unwrap();
    assert_eq!(
        (deep["type"].as_str(), books(&deep)),
        (Some("snapshot"), vec!["MSFT".to_string()])
    );
    assert_eq!(deep["data"]["books"][0]["bids"].as_array().unwrap().len(), 20);
    ws.send(Message::text(r#"{"op":"subscribe","symbols":["TSLA"]}"#))
        .await
        .unwrap();
    assert_eq!(books(&ws_next(&mut ws).await.unwrap()), ["MSFT"]);
    ws.send(Message::text(r#"{"op":"unsubscribe","symbols":["MSFT"]}"#))
        .await
        .unwrap();
    assert!(books(&ws_next(&mut ws).await.unwrap()).is_empty());
    ws.send(Message::text(r#"{"op":"set","symbols":["AAPL"],"depth":["TSLA"]}"#))
        .await
        .unwrap();
    let reply = ws_next(&mut ws).await.unwrap();
    assert_eq!(reply["type"], "error");
    assert!(reply["error"].as_str().unwrap().contains("not among"), "{reply}");

    // An error reply is cut at a character boundary, whatever the client wrote.
    ws.send(Message::text(format!(r#"{{"op":"x{}"}}"#, "é".repeat(150))))
        .await
        .unwrap();
    let reply = ws_next(&mut ws).await.unwrap();
    assert!(reply["error"].as_str().unwrap().len() <= 200);

    // A binary message closes with 1003.
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(ws_close_code(&mut ws).await, 1003);
}

#[tokio::test]
async fn an_oversized_websocket_message_is_refused_with_1009_and_a_reason() {
    use tokio_tungstenite::tungstenite::Message;
    let server = TestServer::start().await;
    for size in [5_000, 1_000_000] {
        let mut ws = ws_open(&server.url("/api/ws")).await;
        ws_next(&mut ws).await.unwrap();
        // A subscribe with thousands of symbols is such a message too.
        let symbols = vec!["\"AAPL\""; size / 7].join(",");
        let message = format!(r#"{{"op":"subscribe","symbols":[{symbols}]}}"#);
        let _ = ws.send(Message::text(message)).await;
        let (code, reason) = ws_close(&mut ws).await;
        assert_eq!(
            (code, reason.as_str()),
            (1009, "message too big: at most 4096 bytes"),
            "{size} bytes"
        );
    }
}

#[tokio::test]
async fn bad_inputs_are_refused_before_upgrade_or_poll() {
    let server = TestServer::start().await;
    for path in ["/api/ws?symbols=NOPE", "/api/ws?last_event_id=zz"] {
        let err = tokio_tungstenite::connect_async(server.url(path).replacen("http", "ws", 1))
            .await
            .unwrap_err();
        let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
            panic!("{path}: an HTTP refusal")
        };
        assert_eq!(resp.status(), 400, "{path}");
        let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
        assert!(body["error"].is_string());
    }
    let plain = reqwest::get(server.url("/api/ws")).await.unwrap();
    assert_eq!(plain.status(), 400, "a plain GET is not an upgrade");
    for query in ["after=nope", "timeout_ms=60001", "timeout_ms=-1", "symbols=NOPE"] {
        let resp = reqwest::get(server.url(&format!("/api/poll?{query}"))).await.unwrap();
        assert_eq!(resp.status(), 400, "{query}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_with_1001_and_ends_polls() {
    let mut server = TestServer::start().await;
    server.step(1);
    let mut ws = ws_open(&server.url("/api/ws")).await;
    ws_next(&mut ws).await.unwrap();
    let (_, after) = poll(&server.base, "").await;
    let waiting = parked_poll(&server, after, 60000).await;
    server.shutdown.cancel();
    let (events, _) = tokio::time::timeout(std::time::Duration::from_secs(1), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(events.is_empty());
    assert_eq!(ws_close_code(&mut ws).await, 1001);
}

/// A peer that stops answering pings is closed after two keep-alive periods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_websocket_peers_are_reaped() {
    let server = TestServer::with(
        HubConfig {
            history_frames: 10,
            live_buffer: 64,
        },
        std::time::Duration::from_secs(1),
    )
    .await;
    let mut ws = ws_open(&server.url("/api/ws")).await;
    ws_next(&mut ws).await.unwrap();
    let connected = "tickertape_clients{transport=\"Ws\"} 1";
    assert!(server.hub.metrics().render().contains(connected));
    // Stop reading: the client library answers pings only while it is read, like a hung peer.
    let reaped = tokio::time::timeout(PATIENCE, async {
        while server.hub.metrics().render().contains(connected) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    reaped.await.expect("the server closes a peer that stopped answering");
    // What the server sent before it gave up, then why, read from the socket itself: a WebSocket
    // client reading now would first answer the queued pings, into a closed connection.
    assert_eq!(raw_close_frame(&ws).await, (1008, "no pong".to_string()));
}

/// Reads the server's frames straight from the WebSocket's socket (server frames are not
/// masked) up to its close frame, and returns that frame's code and reason.
async fn raw_close_frame(ws: &Ws) -> (u16, String) {
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = ws.get_ref() else {
        panic!("a plain TCP WebSocket");
    };
    let mut bytes = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            tcp.readable().await.unwrap();
            match tcp.try_read(&mut buf) {
                Ok(0) | Err(_) if !bytes.is_empty() => return,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read_all)
        .await
        .expect("the socket ends in time");
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let opcode = bytes[at] & 0x0f;
        let (len, header) = match bytes[at + 1] & 0x7f {
            126 => (u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize, 4),
            127 => panic!("no frame here is that long"),
            n => (n as usize, 2),
        };
        let payload = &bytes[at + header..at + header + len];
        if opcode == 8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return (code, String::from_utf8_lossy(&payload[2..]).into_owned());
        }
        at += header + len;
    }
    panic!("no close frame in {} bytes", bytes.len());
}

/// The client's side of the protocol is honoured on the fan-out path too: a ping is answered
/// with a pong carrying its payload (between events), a command sent right behind it is
/// answered, and a client's close is answered with a close and the end of the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_pings_and_closes_from_the_client_are_answered() {
    let mut server = TestServer::start().await;
    let mut ws = ws_open(&server.url("/api/ws?symbols=AAPL")).await;
    ws_next(&mut ws).await.unwrap();
    server.step(5);
    ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    ws.send(Message::text(r#"{"op":"set","symbols":["MSFT"]}"#))
        .await
        .unwrap();
    let (mut pong, mut snapshot) = (None, None);
    while pong.is_none() || snapshot.is_none() {
        match tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time") {
            Some(Ok(Message::Pong(payload))) => pong = Some(payload.to_vec()),
            Some(Ok(Message::Text(text))) => {
                let event: Value = serde_json::from_str(text.as_str()).unwrap();
                if event["type"] == "snapshot" {
                    snapshot = Some(event["data"]["quotes"][0]["symbol"].clone());
                }
            }
            Some(Ok(_)) => {}
            other => panic!("the connection ended: {other:?}"),
        }
    }
    assert_eq!(pong.as_deref(), Some(&b"are you there"[..]));
    assert_eq!(snapshot, Some(Value::from("MSFT")));
    ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: 1000.into(),
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    assert_eq!(ws_close_code(&mut ws).await, 1000, "the server answers the close");
    let ended = tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time");
    assert!(matches!(ended, None | Some(Err(_))), "{ended:?}");
}

/// A client sending more messages in a second than `WS_MESSAGES_PER_SEC` is closed with 1008
/// and the reason, after its allowed commands were answered.
#[tokio::test]
async fn a_websocket_flooding_commands_is_closed_with_1008() {
    let server = TestServer::with_limits(tickertape_server::config::Limits {
        ws_messages_per_sec: 5,
        ..Default::default()
    })
    .await;
    let mut ws = ws_open(&server.url("/api/ws")).await;
    ws_next(&mut ws).await.unwrap();
    for _ in 0..20 {
        if ws
            .send(Message::text(r#"{"op":"set","symbols":["AAPL"]}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut snapshots = 0;
    let (code, reason) = loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time") {
            Some(Ok(Message::Text(text))) if text.as_str().contains(r#""type":"snapshot""#) => snapshots += 1,
            Some(Ok(Message::Close(Some(frame)))) => break (u16::from(frame.code), frame.reason.to_string()),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(
        (code, reason.as_str()),
        (1008, "too many messages in a second (WS_MESSAGES_PER_SEC)")
    );
    assert!((1..=5).contains(&snapshots), "{snapshots} commands answered");
}

/// Reads one HTTP/1.1 response with a `content-length` body from `tcp`, keeping what follows
/// it in `buffer`; returns its head (lower-cased names, without `date`) and body.
async fn response(tcp: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> (String, String) {
    let (head, body, _) = response_bytes(tcp, buffer).await;
    (head, body)
}

/// As [`response`], with the response's length on the wire.
async fn response_bytes(tcp: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) -> (String, String, usize) {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let text = String::from_utf8_lossy(buffer).into_owned();
            if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .expect("a content-length");
                if rest.len() >= length {
                    let body = rest[..length].to_string();
                    let used = head.len() + 4 + length;
                    buffer.drain(..used);
                    let head = head
                        .lines()
                        .map(str::to_ascii_lowercase)
                        .filter(|l| !l.starts_with("date: "))
                        .collect::<Vec<_>>()
                        .join("\n");
                    return (head, body, used);
                }
            }
            let mut chunk = [0u8; 8192];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed mid-answer: {text:?}");
            buffer.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(PATIENCE, read).await.expect("an answer in time")
}

/// A connection whose first request is a poll is served without hyper while its requests are
/// polls, and by hyper from its first other request: the same answers (head and body) both
/// ways, pipelined polls answered in order, the keep-alive connection kept throughout, and a
/// bad poll refused with the router's 400 wherever it comes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_on_one_connection_get_the_same_answers_with_or_without_hyper() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::start().await;
    let last = server.step(3);
    let poll = |after: u64| format!("GET /api/poll?after=7e57-{after}&timeout_ms=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut buffer = Vec::new();
    // Two polls in one write: the second waits behind the first.
    tcp.write_all(format!("{}{}", poll(1), poll(2)).as_bytes())
        .await
        .unwrap();
    let (_, first) = response(&mut tcp, &mut buffer).await;
    let (direct_head, second) = response(&mut tcp, &mut buffer).await;
    let first: Value = serde_json::from_str(&first).unwrap();
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(first["next"], format!("7e57-{last}"));
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    assert_eq!(second["events"].as_array().unwrap().len(), 1);
    assert_eq!(seq(&second["events"][0]), last);
    assert!(direct_head.starts_with("http/1.1 200 ok"), "{direct_head}");

    // Another request: hyper serves it and every later one on this connection.
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (health, _) = response(&mut tcp, &mut buffer).await;
    assert!(health.starts_with("http/1.1 200 ok"), "{health}");
    tcp.write_all(poll(2).as_bytes()).await.unwrap();
    let (hyper_head, again) = response(&mut tcp, &mut buffer).await;
    assert_eq!(
        serde_json::from_str::<Value>(&again).unwrap(),
        second,
        "the same answer"
    );
    let headers = |head: &str| {
        let mut lines: Vec<String> = head.lines().skip(1).map(String::from).collect();
        lines.sort();
        lines
    };
    assert_eq!(headers(&direct_head), headers(&hyper_head), "the same headers");

    // A bad poll gets the router's 400, first on a fresh connection or after polls.
    for polls_first in [false, true] {
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut buffer = Vec::new();
        if polls_first {
            tcp.write_all(poll(2).as_bytes()).await.unwrap();
            response(&mut tcp, &mut buffer).await;
        }
        tcp.write_all(b"GET /api/poll?after=nope HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = response(&mut tcp, &mut buffer).await;
        assert!(head.starts_with("http/1.1 400 "), "{head}");
        assert!(body.contains("after: "), "{body}");
        // The connection stays usable.
        tcp.write_all(poll(2).as_bytes()).await.unwrap();
        assert!(response(&mut tcp, &mut buffer).await.0.starts_with("http/1.1 200 ok"));
    }
}

/// A poll whose client hangs up while it waits gives its connection back at once, not when
/// its timeout ends.
#[tokio::test]
async fn a_waiting_poll_whose_client_leaves_frees_its_connection() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::with_limits(tickertape_server::config::Limits {
        max_connections: 1,
        ..Default::default()
    })
    .await;
    // The only connection the server takes: the poll's.
    let after = format!("7e57-{}", server.step(1));
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(format!("GET /api/poll?after={after}&timeout_ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let waiting = std::time::Instant::now() + PATIENCE;
    while server
        .hub
        .metrics()
        .render()
        .contains("tickertape_clients{transport=\"Poll\"} 0")
    {
        assert!(std::time::Instant::now() < waiting, "the poll never waits");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(tcp);
    until_a_new_connection_is_served(
        &server,
        std::time::Duration::from_secs(5),
        "the poll's connection is still held",
    )
    .await;
}

/// `/api/wire`'s totals for `transport`: (events, sent, received).
async fn wire(server: &TestServer, transport: &str) -> (u64, u64, u64) {
    let report: app::wire::protocol::WireReport = reqwest::get(server.url("/api/wire"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = report.transports.iter().find(|c| c.transport == transport).unwrap();
    (count.events, count.sent, count.received)
}

/// Reads from `tcp` until `done` says the bytes so far are complete; returns them all.
async fn read_until(tcp: &mut tokio::net::TcpStream, got: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(PATIENCE, async {
        while !done(got) {
            let mut chunk = [0u8; 8192];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("in time");
}

/// The server's own accounting of each transport's bytes (`/api/wire`) is exact: it equals
/// what the client wrote and read on the wire, heads and framing included, on every way in
/// (an SSE stream and polls on their own connection, a WebSocket, a poll behind another
/// request, which hyper serves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_counts_every_transports_bytes_on_the_wire() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::start().await;
    server.step(2);
    let count = |got: &[u8], needle: &str| String::from_utf8_lossy(got).matches(needle).count();

    // SSE on its own connection: the request, then the head, the snapshot and three ticks.
    let request = b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut got = Vec::new();
    read_until(&mut tcp, &mut got, |g| count(g, "event: snapshot") == 1).await;
    let mut last = 0;
    for _ in 0..3 {
        last = server.step(1);
    }
    read_until(&mut tcp, &mut got, |g| {
        count(g, &format!("id: 7e57-{last}\n")) == 1 && g.ends_with(b"\n\n")
    })
    .await;
    let (events, sent, received) = wire(&server, "sse").await;
    assert_eq!((sent, received), (got.len() as u64, request.len() as u64));
    assert_eq!(events, 1 + count(&got, "event: tick") as u64);
    drop(tcp);

    // A WebSocket: the handshake, the snapshot, a command and its answer.
    let handshake = b"GET /api/ws?symbols=AAPL HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(handshake).await.unwrap();
    let mut got = Vec::new();
    read_until(&mut tcp, &mut got, |g| count(g, r#""type":"snapshot""#) == 1).await;
    let command = br#"{"op":"set","symbols":["MSFT"]}"#;
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | command.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(command.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    read_until(&mut tcp, &mut got, |g| {
        count(g, r#""type":"snapshot""#) == 2 && g.ends_with(b"}}")
    })
    .await;
    let (_, sent, received) = wire(&server, "ws").await;
    assert_eq!(
        (sent, received),
        (got.len() as u64, (handshake.len() + frame.len()) as u64)
    );
    drop(tcp);

    // Two polls on their own connection, then one behind a request hyper serves first (whose
    // own bytes count for nobody).
    let poll = |after: u64| format!("GET /api/poll?after=7e57-{after}&timeout_ms=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut asked, mut answered) = (0, 0);
    let mut buffer = Vec::new();
    for after in [1, 2] {
        tcp.write_all(poll(after).as_bytes()).await.unwrap();
        asked += poll(after).len();
        answered += response_bytes(&mut tcp, &mut buffer).await.2;
    }
    let mut other = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut other_buffer = Vec::new();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    response(&mut other, &mut other_buffer).await;
    other.write_all(poll(2).as_bytes()).await.unwrap();
    asked += poll(2).len();
    answered += response_bytes(&mut other, &mut other_buffer).await.2;
    let (events, sent, received) = wire(&server, "poll").await;
    assert_eq!((sent, received), (answered as u64, asked as u64));
    // Polls after frames 1, 2 and 2 again of a market at frame `last`.
    assert_eq!(events, (last - 1) + 2 * (last - 2));
}
