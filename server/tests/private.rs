//! The private channel over real HTTP: a signed-in user's own `account` events on the same
//! connection as the market, on SSE, WebSocket and long polling; only to that user; resumed
//! exactly with the one id a client keeps; a resync beyond what the server keeps; and sign-out
//! ending the session's streams within a second. On both stores.

mod support;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{EPOCH, Events, PATIENCE, Postgres, TestServer, Ws, send, session, sqlite_url};
use tickertape_server::accounts::Accounts;
use tickertape_server::store::{Store, parse_database_url};

async fn server(url: &str) -> TestServer {
    let store = Store::connect(&parse_database_url(url).unwrap()).await.unwrap();
    TestServer::with_accounts(Accounts::new(store, Duration::from_secs(3600), false)).await
}

async fn put_list(base: &str, cookie: &str, name: &str, symbols: &[&str]) {
    let resp = send(
        base,
        reqwest::Method::PUT,
        &format!("/api/watchlists/{name}"),
        json!({ "symbols": symbols }),
        cookie,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
}

/// An SSE stream with the session `cookie` (none: anonymous), resuming after `last`.
async fn sse(server: &TestServer, cookie: Option<&str>, last: Option<&str>) -> Events {
    let mut req = reqwest::Client::new().get(server.url("/api/stream"));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    if let Some(id) = last {
        req = req.header("Last-Event-ID", id);
    }
    let resp = tokio::time::timeout(PATIENCE, req.send()).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    Box::pin(resp.bytes_stream().eventsource())
}

async fn ws(server: &TestServer, cookie: &str, last: Option<&str>) -> Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut url = server.url("/api/ws").replacen("http://", "ws://", 1);
    if let Some(id) = last {
        url.push_str(&format!("?last_event_id={id}"));
    }
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(COOKIE, cookie.parse().unwrap());
    let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(req))
        .await
        .unwrap()
        .unwrap();
    ws
}

/// One long poll with `cookie` after `after`: its events (checked as the page reads them) and
/// the next id.
async fn poll(server: &TestServer, cookie: &str, after: Option<&str>, timeout_ms: u64) -> (Vec<Value>, String) {
    let mut url = server.url(&format!("/api/poll?timeout_ms={timeout_ms}"));
    if let Some(after) = after {
        url.push_str(&format!("&after={after}"));
    }
    let resp = tokio::time::timeout(PATIENCE, reqwest::Client::new().get(url).header(COOKIE, cookie).send())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let events = body["events"].as_array().unwrap().clone();
    for event in &events {
        support::page_reads(&event.to_string());
    }
    (events, body["next"].as_str().unwrap().to_string())
}

/// What a test keeps of an event: its name, id and data.
#[derive(Clone, Debug)]
struct Seen {
    kind: String,
    id: String,
    data: Value,
}

impl Seen {
    /// The market frame of its id.
    fn seq(&self) -> u64 {
        let market = self.id.split('~').next().unwrap();
        let (epoch, seq) = market.split_once('-').unwrap();
        assert_eq!(u64::from_str_radix(epoch, 16).unwrap(), EPOCH, "{}", self.id);
        seq.parse().unwrap()
    }

    /// The private part of its id.
    fn private(&self) -> Option<u64> {
        self.id.split_once('~').map(|(_, p)| p.parse().unwrap())
    }
}

/// A stream under test, on any transport.
#[allow(clippy::large_enum_variant)]
enum Client {
    Sse(Events),
    Ws(Ws),
    /// The session and where to poll after.
    Poll(String, Option<String>),
}

impl Client {
    /// Events up to and including the market frame `seq` (and the private events that come
    /// with it); `None` once the server closed the stream.
    async fn until(&mut self, server: &TestServer, seq: u64) -> Option<Vec<Seen>> {
        let mut out: Vec<Seen> = Vec::new();
        loop {
            if out.iter().any(|e| e.kind != "account" && e.seq() >= seq) {
                return Some(out);
            }
            match self {
                Client::Sse(events) => {
                    let item = tokio::time::timeout(PATIENCE, events.next())
                        .await
                        .expect("an event in time");
                    let Some(Ok(event)) = item else { return None };
                    if event.event.is_empty() || event.event == "message" {
                        continue;
                    }
                    out.push(Seen {
                        data: serde_json::from_str(&event.data).unwrap(),
                        kind: event.event,
                        id: event.id,
                    });
                }
                Client::Ws(ws) => {
                    let message = support::ws_next(ws).await?;
                    out.push(Seen {
                        kind: message["type"].as_str().unwrap().to_string(),
                        id: message["id"].as_str().unwrap().to_string(),
                        data: message["data"].clone(),
                    });
                }
                Client::Poll(cookie, after) => {
                    let (events, next) = poll(server, cookie, after.as_deref(), 5_000).await;
                    *after = Some(next);
                    out.extend(events.into_iter().map(|e| Seen {
                        kind: e["type"].as_str().unwrap().to_string(),
                        id: e["id"].as_str().unwrap().to_string(),
                        data: e["data"].clone(),
                    }));
                }
            }
        }
    }
}

/// The `account` events among `events`.
fn accounts(events: &[Seen]) -> Vec<&Seen> {
    events.iter().filter(|e| e.kind == "account").collect()
}

/// Alice's change reaches each of her streams (SSE, WebSocket, long poll) with the frame that
/// follows it, whole, and on the same connection as the market; Bob's stream and an anonymous one
/// never carry it; REST calls see and change only the caller's own lists.
async fn isolation(url: &str) {
    let mut server = server(url).await;
    let base = server.base.clone();
    let alice = session(&base, "alice").await;
    let bob = session(&base, "bob").await;
    let mut clients = vec![
        ("alice sse", Client::Sse(sse(&server, Some(&alice), None).await)),
        ("alice ws", Client::Ws(ws(&server, &alice, None).await)),
        ("alice poll", Client::Poll(alice.clone(), None)),
        ("bob sse", Client::Sse(sse(&server, Some(&bob), None).await)),
        ("anonymous sse", Client::Sse(sse(&server, None, None).await)),
    ];
    let first = server.step(1);
    for (who, client) in &mut clients {
        let events = client.until(&server, first).await.expect(who);
        assert_eq!(accounts(&events).len(), 0, "{who}: nothing changed yet");
    }
    put_list(&base, &alice, "Tech", &["TSLA", "AAPL"]).await;
    let frame = server.step(1);
    for (who, client) in &mut clients {
        let events = client.until(&server, frame).await.expect(who);
        let private = accounts(&events);
        if who.starts_with("alice") {
            assert_eq!(private.len(), 1, "{who}: {events:?}");
            let event = private[0];
            assert_eq!(
                event.data,
                json!({"watchlists": [{"name": "Tech", "symbols": ["TSLA", "AAPL"]}], "view": null}),
                "{who}"
            );
            assert_eq!(event.private(), Some(1), "{who}: {}", event.id);
            assert_eq!(
                event.seq(),
                first,
                "{who}: with the last market id it has: {}",
                event.id
            );
            let tick = events.iter().find(|e| e.kind == "tick").unwrap();
            assert_eq!(
                tick.private(),
                Some(1),
                "{who}: and the market's ids carry it on: {}",
                tick.id
            );
        } else {
            assert!(private.is_empty(), "{who}: {private:?}");
            // Bob's stream is at his own position, 0 (none of his events yet); an anonymous
            // one has none.
            let position = if who.starts_with("bob") { Some(0) } else { None };
            assert!(events.iter().all(|e| e.private() == position), "{who}: {events:?}");
        }
    }
    // Bob sees and changes only his own.
    let theirs = send(
        &base,
        reqwest::Method::DELETE,
        "/api/watchlists/Tech",
        json!(null),
        &bob,
    )
    .await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let lists: Value = reqwest::Client::new()
        .get(format!("{base}/api/watchlists"))
        .header(COOKIE, &bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lists, json!([]));
    // Bob's change reaches Bob only.
    put_list(&base, &bob, "FX", &["EUR-USD"]).await;
    let frame = server.step(1);
    for (who, client) in &mut clients {
        let events = client.until(&server, frame).await.expect(who);
        assert_eq!(
            accounts(&events).len(),
            usize::from(who.starts_with("bob")),
            "{who}: {events:?}"
        );
    }
}

#[tokio::test]
async fn private_events_reach_only_their_user_on_every_transport_sqlite() {
    isolation(&sqlite_url("private-isolation")).await;
}

#[tokio::test]
async fn private_events_reach_only_their_user_on_every_transport_postgres() {
    let pg = Postgres::start();
    isolation(&pg.url()).await;
}

/// A client that drops its connection at random and comes back with its last id gets every
/// private event once, in order, together with every market frame once, on each transport.
#[tokio::test]
async fn private_events_resume_exactly_across_random_disconnects() {
    let mut server = server(&sqlite_url("private-resume")).await;
    let base = server.base.clone();
    let alice = session(&base, "alice").await;
    let mut rng = 0x5eed_u64;
    let mut random = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut changes = 0u64;
    // Every tick, from a client that never leaves.
    let mut reference = Client::Sse(sse(&server, None, None).await);
    for transport in ["sse", "ws", "poll"] {
        let mut last: Option<String> = None;
        let mut privates: Vec<u64> = Vec::new();
        let mut frames: Vec<u64> = Vec::new();
        let start = changes;
        for round in 0..8 {
            let mut client = match transport {
                "sse" => Client::Sse(sse(&server, Some(&alice), last.as_deref()).await),
                "ws" => Client::Ws(ws(&server, &alice, last.as_deref()).await),
                _ => Client::Poll(alice.clone(), last.clone()),
            };
            // Connected (and caught up) before anything changes.
            let frame = server.step(1);
            let events = client.until(&server, frame).await.expect("open");
            take(transport, &events, &mut privates, &mut frames, &mut last);
            // Changes and frames while connected, then some while away.
            for _ in 0..(1 + random() % 3) {
                changes += 1;
                put_list(
                    &base,
                    &alice,
                    "Tech",
                    if changes.is_multiple_of(2) {
                        &["AAPL"]
                    } else {
                        &["TSLA"]
                    },
                )
                .await;
                let frame = server.step(1);
                let events = client.until(&server, frame).await.expect("open");
                take(transport, &events, &mut privates, &mut frames, &mut last);
            }
            drop(client);
            for _ in 0..(random() % 3) {
                changes += 1;
                put_list(&base, &alice, "Tech", &["MSFT"]).await;
                server.step(1 + (random() % 2) as usize);
            }
            let _ = round;
        }
        // What happened while away comes on the next connection: drain it.
        let mut client = match transport {
            "sse" => Client::Sse(sse(&server, Some(&alice), last.as_deref()).await),
            "ws" => Client::Ws(ws(&server, &alice, last.as_deref()).await),
            _ => Client::Poll(alice.clone(), last.clone()),
        };
        let frame = server.step(1);
        let events = client.until(&server, frame).await.unwrap();
        take(transport, &events, &mut privates, &mut frames, &mut last);
        let expected: Vec<u64> = if start == 0 {
            (1..=changes).collect()
        } else {
            // A transport's first connection is fresh: it starts from the newest event.
            (start..=changes).collect()
        };
        assert_eq!(privates, expected, "{transport}: every private event once, in order");
        let all: Vec<u64> = reference
            .until(&server, frame)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "tick")
            .map(Seen::seq)
            .collect();
        let from = frames[0];
        let expected: Vec<u64> = all.into_iter().filter(|&f| f >= from).collect();
        assert_eq!(frames, expected, "{transport}: every frame once, in order");
    }
}

/// Files what a resuming client got: private numbers (never a resync), the market frames of its
/// ticks, and its last id.
fn take(transport: &str, events: &[Seen], privates: &mut Vec<u64>, frames: &mut Vec<u64>, last: &mut Option<String>) {
    for event in events {
        match event.kind.as_str() {
            "account" => {
                assert_eq!(event.data.get("resync"), None, "{transport}: {event:?}");
                privates.push(event.private().unwrap());
            }
            "tick" => frames.push(event.seq()),
            _ => {}
        }
        *last = Some(event.id.clone());
    }
}

/// A client further behind than the server keeps gets one resync carrying the current state;
/// one whose id belongs to no event of this user (ahead of the store) too.
#[tokio::test]
async fn beyond_what_is_kept_a_private_resync_carries_the_state() {
    let mut server = server(&sqlite_url("private-resync")).await;
    let base = server.base.clone();
    let alice = session(&base, "alice").await;
    let mut client = Client::Sse(sse(&server, Some(&alice), None).await);
    put_list(&base, &alice, "Tech", &["AAPL"]).await;
    let frame = server.step(1);
    let events = client.until(&server, frame).await.unwrap();
    let last = events.last().unwrap().id.clone();
    assert!(last.ends_with("~1"), "{last}");
    drop(client);
    let kept = tickertape_server::private::KEPT as u64;
    for n in 0..kept + 5 {
        put_list(
            &base,
            &alice,
            "Tech",
            if n % 2 == 1 { &["MSFT"] } else { &["TSLA", "NVDA"] },
        )
        .await;
    }
    for last in [last.clone(), format!("{}~9999", last.split('~').next().unwrap())] {
        let mut client = Client::Sse(sse(&server, Some(&alice), Some(&last)).await);
        let frame = server.step(1);
        let events = client.until(&server, frame).await.unwrap();
        let private = accounts(&events);
        assert_eq!(private.len(), 1, "{last}: {events:?}");
        assert_eq!(private[0].data["resync"], true);
        assert_eq!(private[0].private(), Some(kept + 6));
        assert_eq!(
            private[0].data["watchlists"],
            json!([{"name": "Tech", "symbols": ["TSLA", "NVDA"]}])
        );
    }
}

/// Sign-out: every stream of that session stops carrying private events and is closed within a
/// second (a WebSocket with 4001, a waiting poll answered); the user's other session carries on.
#[tokio::test]
async fn signing_out_closes_the_sessions_streams_within_a_second() {
    let mut server = server(&sqlite_url("private-signout")).await;
    let base = server.base.clone();
    let leaving = session(&base, "alice").await;
    let staying = session(&base, "alice").await;
    assert_ne!(leaving, staying);
    let mut sse_leaving = sse(&server, Some(&leaving), None).await;
    let mut ws_leaving = ws(&server, &leaving, None).await;
    let mut other = Client::Sse(sse(&server, Some(&staying), None).await);
    let frame = server.step(1);
    other.until(&server, frame).await.unwrap();
    let (_, after) = poll(&server, &leaving, None, 0).await;
    let parked = {
        let (base, leaving) = (server.base.clone(), leaving.clone());
        tokio::spawn(async move {
            let url = format!("{base}/api/poll?timeout_ms=30000&after={after}");
            let started = Instant::now();
            let resp = reqwest::Client::new()
                .get(url)
                .header(COOKIE, leaving)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            started.elapsed()
        })
    };
    // The poll is held before sign-out.
    while !server
        .hub
        .metrics()
        .render()
        .contains("tickertape_clients{transport=\"Poll\"} 1")
    {
        tokio::task::yield_now().await;
    }
    let signed_out = Instant::now();
    let out = send(&base, reqwest::Method::POST, "/api/logout", json!(null), &leaving).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    // The SSE stream ends.
    let ended = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(_)) = sse_leaving.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the SSE stream is still open a second after sign-out");
    assert_eq!(
        support::ws_close(&mut ws_leaving).await,
        (4001, "signed out".to_string())
    );
    assert!(
        signed_out.elapsed() < Duration::from_secs(1),
        "{:?}",
        signed_out.elapsed()
    );
    let waited = tokio::time::timeout(Duration::from_secs(1), parked).await;
    assert!(waited.is_ok(), "the waiting poll is still held a second after sign-out");
    // The other session still gets its user's events.
    put_list(&base, &staying, "Tech", &["AAPL"]).await;
    let frame = server.step(1);
    assert_eq!(accounts(&other.until(&server, frame).await.unwrap()).len(), 1);
    // And the ended session's cookie opens only anonymous streams now.
    let mut anonymous = Client::Sse(sse(&server, Some(&leaving), None).await);
    put_list(&base, &staying, "Tech", &["MSFT"]).await;
    let frame = server.step(1);
    let events = anonymous.until(&server, frame).await.unwrap();
    assert!(accounts(&events).is_empty(), "{events:?}");
}
