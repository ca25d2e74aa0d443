//! Fuzzed input from outside, with a fixed seed and a bounded count: query strings on every
//! endpoint (through the real router) and WebSocket messages (over a real socket). No input may
//! get a 5xx, panic, or break the connection it came on.

mod support;

use futures_util::SinkExt;
use support::*;
use tickertape_server::config::Limits;
use tickertape_server::xorshift;
use tower::ServiceExt;

/// A query string built from the endpoints' own parameter names and values, damaged.
fn fuzzed_query(next: &mut impl FnMut(usize) -> usize) -> String {
    const KEYS: [&str; 9] = [
        "symbols",
        "symbol",
        "last_event_id",
        "after",
        "timeout_ms",
        "interval",
        "limit",
        "x",
        "",
    ];
    const VALUES: [&str; 16] = [
        "AAPL",
        "aapl,MSFT",
        "NOPE",
        "7e57-1",
        "7e57-99999999999999999999",
        "zz",
        "0",
        "1s",
        "5s",
        "-1",
        "99999999999",
        "%",
        "%zz",
        "%E2%82",
        "é",
        "",
    ];
    let mut query = String::new();
    for _ in 0..next(6) {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(KEYS[next(KEYS.len())]);
        if next(4) > 0 {
            query.push('=');
            for _ in 0..1 + next(3) {
                query.push_str(VALUES[next(VALUES.len())]);
                if next(3) == 0 {
                    query.push(',');
                }
            }
        }
    }
    if next(50) == 0 {
        query.push_str(&"A,".repeat(1_500));
    }
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzed_queries_never_get_a_5xx() {
    let mut server = TestServer::start().await;
    server.step(3);
    let app = server.app.clone();
    let mut next = xorshift(0x5DEE_CE66_D1CE_4E5B);
    let paths = [
        "/api/stream",
        "/api/poll",
        "/api/snapshot",
        "/api/history",
        "/api/ws",
        "/api/symbols",
        "/",
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..2_000 {
        let path = paths[next(paths.len())];
        let mut query = fuzzed_query(&mut next);
        if path == "/api/poll" {
            query.push_str("&timeout_ms=0");
        }
        let uri = format!("{path}?{query}");
        let Ok(request) = axum::http::Request::get(&uri)
            .header("host", "x")
            .body(axum::body::Body::empty())
        else {
            continue; // not even a URI: hyper would refuse it before the router
        };
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        assert!(status < 500, "{uri} got {status}");
        if status >= 400 {
            let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap();
            let reason: serde_json::Value =
                serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{uri}: no JSON reason"));
            assert!(
                reason["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{uri}: {reason}"
            );
        }
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert!(
        statuses.contains_key(&200) && statuses.contains_key(&400),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn fuzzed_websocket_messages_get_an_answer_and_never_break_the_connection() {
    use tokio_tungstenite::tungstenite::Message;
    // As fast as the replies come, past the default message rate.
    let server = TestServer::with_limits(Limits {
        ws_messages_per_sec: 10_000,
        ..Limits::default()
    })
    .await;
    let mut ws = ws_open(&server.url("/api/ws")).await;
    ws_next(&mut ws).await.unwrap();
    let mut next = xorshift(0x1234_5678_9ABC_DEF1);
    let parts = [
        "{",
        "}",
        "[",
        "]",
        "\"op\"",
        ":",
        ",",
        "\"subscribe\"",
        "\"set\"",
        "\"unsubscribe\"",
        "\"symbols\"",
        "\"AAPL\"",
        "\"NOPE\"",
        "null",
        "1",
        "\"é\"",
        "\\u0000",
        "\"",
    ];
    let valid = r#"{"op":"subscribe","symbols":["AAPL"]}"#;
    let (mut errors, mut snapshots) = (0, 0);
    for round in 0..300 {
        let message: String = if round % 3 == 0 {
            let mut m = valid.to_string();
            let at = next(m.len());
            m.truncate(at);
            m
        } else {
            (0..1 + next(12)).map(|_| parts[next(parts.len())]).collect()
        };
        ws.send(Message::text(message.clone())).await.unwrap();
        let reply = ws_next(&mut ws)
            .await
            .unwrap_or_else(|| panic!("{message:?} closed the connection"));
        match reply["type"].as_str() {
            Some("error") => errors += 1,
            Some("snapshot") => snapshots += 1,
            other => panic!("{message:?} got {other:?}"),
        }
    }
    assert!(errors > 0, "{errors} errors, {snapshots} snapshots");
    ws.send(Message::text(valid)).await.unwrap();
    assert_eq!(ws_next(&mut ws).await.unwrap()["type"], "snapshot", "still usable");
}
