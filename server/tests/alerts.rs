//! Price alerts over real HTTP (issue 26): a firing reaches every stream of its owner once, on
//! SSE, WebSocket and long polling, and nobody else's; it is resumed exactly; the inbox, the
//! alert's state and the read marks last across a restart; the API refuses what it must. On
//! both stores.

mod support;

use futures_util::StreamExt;
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Events, PATIENCE, Postgres, TestServer, Ws, send, session, sqlite_url};
use tickertape_server::accounts::Accounts;
use tickertape_server::store::{Store, parse_database_url};

const SYMBOL: &str = "AAPL";

async fn server(url: &str, max_per_user: usize) -> TestServer {
    let store = Store::connect(&parse_database_url(url).unwrap()).await.unwrap();
    TestServer::with_alerts(Accounts::new(store, Duration::from_secs(3600), false), max_per_user).await
}

async fn get_json(base: &str, path: &str, cookie: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn create(base: &str, cookie: &str, alert: Value) -> (StatusCode, Value) {
    let resp = send(base, Method::POST, "/api/alerts", alert, cookie).await;
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// An event as a test keeps it: name, id, data.
#[derive(Clone, Debug)]
struct Seen {
    kind: String,
    id: String,
    data: Value,
}

/// A stream of any transport.
#[allow(clippy::large_enum_variant)]
enum Client {
    Sse(Events),
    Ws(Ws),
    /// The session, and where to poll after.
    Poll(String, Option<String>),
}

impl Client {
    async fn open_sse(server: &TestServer, cookie: Option<&str>, last: Option<&str>) -> Client {
        let mut req = reqwest::Client::new().get(server.url("/api/stream"));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id);
        }
        let resp = tokio::time::timeout(PATIENCE, req.send()).await.unwrap().unwrap();
        assert_eq!(resp.status(), 200);
        Client::Sse(Box::pin(eventsource_stream::Eventsource::eventsource(
            resp.bytes_stream(),
        )))
    }

    async fn open_ws(server: &TestServer, cookie: &str) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = server.url("/api/ws").replacen("http://", "ws://", 1);
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert(COOKIE, cookie.parse().unwrap());
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(req))
            .await
            .unwrap()
            .unwrap();
        Client::Ws(ws)
    }

    /// What arrived, reading until the market frame `seq` (inclusive) has.
    async fn until(&mut self, server: &TestServer, seq: u64) -> Vec<Seen> {
        let mut out: Vec<Seen> = Vec::new();
        let at = |e: &Seen| {
            let market = e.id.split('~').next().unwrap();
            market.split_once('-').unwrap().1.parse::<u64>().unwrap()
        };
        loop {
            if out.iter().any(|e| e.kind == "tick" || e.kind == "snapshot") && out.iter().any(|e| at(e) >= seq) {
                return out;
            }
            match self {
                Client::Sse(events) => {
                    let item = tokio::time::timeout(PATIENCE, events.next())
                        .await
                        .expect("an event in time");
                    let event = item.expect("the stream is open").expect("an SSE event");
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
                    let message = support::ws_next(ws).await.expect("the socket is open");
                    out.push(Seen {
                        kind: message["type"].as_str().unwrap().to_string(),
                        id: message["id"].as_str().unwrap().to_string(),
                        data: message["data"].clone(),
                    });
                }
                Client::Poll(cookie, after) => {
                    let mut url = server.url("/api/poll?timeout_ms=5000");
                    if let Some(after) = after.as_deref() {
                        url.push_str(&format!("&after={after}"));
                    }
                    let resp = reqwest::Client::new()
                        .get(url)
                        .header(COOKIE, &*cookie)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                    let body: Value = resp.json().await.unwrap();
                    for event in body["events"].as_array().unwrap() {
                        support::page_reads(&event.to_string());
                        out.push(Seen {
                            kind: event["type"].as_str().unwrap().to_string(),
                            id: event["id"].as_str().unwrap().to_string(),
                            data: event["data"].clone(),
                        });
                    }
                    *after = Some(body["next"].as_str().unwrap().to_string());
                }
            }
        }
    }
}

fn notifications(events: &[Seen]) -> Vec<&Seen> {
    events.iter().filter(|e| e.kind == "notification").collect()
}

/// `symbol`'s price in each quote of `events` (snapshot and ticks), in order.
fn prices(events: &[Seen], symbol: &str) -> Vec<(u64, i64)> {
    events
        .iter()
        .filter(|e| e.kind == "tick" || e.kind == "snapshot")
        .flat_map(|e| {
            let seq = e.data["seq"].as_u64().unwrap();
            e.data["quotes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|q| q["symbol"] == symbol)
                .filter_map(move |q| q["price"].as_i64().map(|p| (seq, p)))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Steps the market a frame at a time until every client has a `notification` (or the
/// deadline passes); returns what each saw.
async fn step_until_notified(server: &mut TestServer, clients: &mut [(&str, Client)], owners: usize) -> Vec<Vec<Seen>> {
    let mut seen: Vec<Vec<Seen>> = clients.iter().map(|_| Vec::new()).collect();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let frame = server.step(1);
        for ((_, client), seen) in clients.iter_mut().zip(&mut seen) {
            seen.extend(client.until(server, frame).await);
        }
        let notified = seen.iter().filter(|s| !notifications(s).is_empty()).count();
        if notified >= owners {
            return seen;
        }
        assert!(Instant::now() < deadline, "no notification within {PATIENCE:?}");
        // The writer commits on its own task: give it a turn between frames.
        tokio::task::yield_now().await;
    }
}

/// Alice's alert fires once, at the first trade above its level: every stream of hers gets the
/// same `notification` once, with the frame, the two prices and her note; Bob's and an
/// anonymous stream get nothing. The alert is `triggered` with one firing; the inbox holds the
/// entry, unread; a stream resumed from before it gets it again, once; marking it read is a
/// `read` event on her streams and `unread: 0`.
async fn a_firing_reaches_its_owner_once_everywhere(url: &str) {
    let mut server = server(url, 200).await;
    let base = server.base.clone();
    let alice = session(&base, "alice").await;
    let bob = session(&base, "bob").await;
    let mut clients = vec![
        ("alice sse", Client::open_sse(&server, Some(&alice), None).await),
        ("alice ws", Client::open_ws(&server, &alice).await),
        ("alice poll", Client::Poll(alice.clone(), None)),
        ("bob sse", Client::open_sse(&server, Some(&bob), None).await),
        ("anonymous", Client::open_sse(&server, None, None).await),
    ];
    let first = server.step(1);
    let mut before: Vec<Vec<Seen>> = Vec::new();
    for (_, client) in &mut clients {
        before.push(client.until(&server, first).await);
    }
    // The lowest level on the grid: the next trade of AAPL is above it.
    let (status, alert) = create(
        &base,
        &alice,
        json!({"symbol": SYMBOL, "condition": "greater_than", "price": 1, "frequency": "once", "note": "up"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{alert}");
    assert_eq!(alert["state"], "active");
    let seen = step_until_notified(&mut server, &mut clients, 3).await;
    let mut entry = None;
    for (((who, _), seen), before) in clients.iter().zip(&seen).zip(&before) {
        let got = notifications(seen);
        if !who.starts_with("alice") {
            assert!(got.is_empty(), "{who}: {got:?}");
            continue;
        }
        assert_eq!(got.len(), 1, "{who}: {got:?}");
        let data = &got[0].data;
        assert_eq!(data["alert"], alert["id"], "{who}");
        assert_eq!(
            (data["symbol"].as_str(), data["kind"].as_str()),
            (Some(SYMBOL), Some("fired"))
        );
        assert_eq!(
            (data["note"].as_str(), data["read"].as_bool()),
            (Some("up"), Some(false))
        );
        // The frame and the prices are the market's own: the first trade after the alert.
        let path: Vec<(u64, i64)> = prices(before, SYMBOL).into_iter().chain(prices(seen, SYMBOL)).collect();
        let fired_at = data["seq"].as_u64().unwrap();
        let at = path
            .iter()
            .position(|(seq, _)| *seq == fired_at)
            .expect("the frame is in the stream");
        assert_eq!(data["price"].as_i64(), Some(path[at].1), "{who}: {path:?}");
        assert_eq!(data["prev"].as_i64(), Some(path[at - 1].1), "{who}: {path:?}");
        assert!(path[at].0 > first, "{who}: fired at a frame after the alert was made");
        match &entry {
            None => entry = Some(data.clone()),
            Some(e) => assert_eq!(e, data, "{who}: the same entry everywhere"),
        }
        // Numbered among her events: the id carries it.
        let n: u64 = got[0].id.split_once('~').unwrap().1.parse().unwrap();
        assert_eq!(data["id"].as_u64(), Some(n), "{who}");
    }
    let entry = entry.unwrap();
    // Nothing more fires (`once`).
    let later = server.step(5);
    for (who, client) in &mut clients {
        let events = client.until(&server, later).await;
        assert!(notifications(&events).is_empty(), "{who}: fired twice: {events:?}");
    }
    // The alert and the inbox, as the API tells them.
    let (status, alerts) = get_json(&base, "/api/alerts", &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alerts[0]["state"], "triggered", "{alerts}");
    assert_eq!(alerts[0]["fire_count"], 1);
    assert!(alerts[0]["last_fired"].is_string());
    assert_eq!(get_json(&base, "/api/alerts", &bob).await.1, json!([]));
    let (_, inbox) = get_json(&base, "/api/notifications", &alice).await;
    assert_eq!(inbox, json!([entry]));
    assert_eq!(get_json(&base, "/api/notifications", &bob).await.1, json!([]));
    assert_eq!(get_json(&base, "/api/me", &alice).await.1["unread"], 1);
    // A stream resumed from before the notification gets it once; from after it, not again.
    let seen_sse = &seen[0];
    let n = entry["id"].as_u64().unwrap();
    let before_it = seen_sse
        .iter()
        .rev()
        .find(|e| e.kind == "tick" && e.id.split_once('~').is_some_and(|(_, p)| p.parse::<u64>().unwrap() < n))
        .map(|e| e.id.clone())
        .unwrap_or_else(|| before[0].last().unwrap().id.clone());
    let mut resumed = Client::open_sse(&server, Some(&alice), Some(&before_it)).await;
    let frame = server.step(1);
    let replay = resumed.until(&server, frame).await;
    let again = notifications(&replay);
    assert_eq!(again.len(), 1, "{replay:?}");
    assert_eq!(again[0].data, entry);
    let after_it = again[0].id.clone();
    let mut past = Client::open_sse(&server, Some(&alice), Some(&after_it)).await;
    let frame = server.step(1);
    assert!(notifications(&past.until(&server, frame).await).is_empty());
    // Read: every stream of hers hears of it.
    let resp = send(
        &base,
        Method::POST,
        "/api/notifications/read",
        json!({"up_to": n}),
        &alice,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["unread"], 0);
    let frame = server.step(1);
    for (who, client) in clients.iter_mut().take(3) {
        let events = client.until(&server, frame).await;
        let read: Vec<_> = events.iter().filter(|e| e.kind == "read").collect();
        assert_eq!(read.len(), 1, "{who}: {events:?}");
        assert_eq!(read[0].data, json!({"up_to": n, "ids": null, "unread": 0}));
    }
    assert_eq!(get_json(&base, "/api/me", &alice).await.1["unread"], 0);
    assert_eq!(get_json(&base, "/api/notifications", &alice).await.1[0]["read"], true);
}

#[tokio::test]
async fn a_firing_reaches_its_owner_once_everywhere_on_sqlite() {
    a_firing_reaches_its_owner_once_everywhere(&sqlite_url("alerts-fire")).await;
}

#[tokio::test]
async fn a_firing_reaches_its_owner_once_everywhere_on_postgres() {
    let pg = Postgres::start();
    a_firing_reaches_its_owner_once_everywhere(&pg.url()).await;
}

/// What the API refuses, and with what: bad input `400` with the reason, no session `401`,
/// another's alert `404`, a forged request `403`, the caps `429` with `Retry-After`.
#[tokio::test]
async fn the_api_refuses_what_it_must() {
    let server = server(&sqlite_url("alerts-refusals"), 3).await;
    let base = server.base.clone();
    let alice = session(&base, "alice").await;
    let bob = session(&base, "bob").await;
    for (body, why) in [
        (
            json!({"symbol": "NOPE", "condition": "crossing", "price": 100, "frequency": "once"}),
            "unknown symbol",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "frequency": "once"}),
            "needs price",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "price": -5, "frequency": "once"}),
            "positive multiple",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "sideways", "price": 100, "frequency": "once"}),
            "condition must be one of",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "entering_channel", "low": 200, "high": 100, "frequency": "once"}),
            "low must be below high",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "price": 100, "frequency": "often"}),
            "frequency must be",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "price": 100, "frequency": "once_per_bar"}),
            "needs an interval",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "price": 100, "frequency": "once", "expires": "tomorrow"}),
            "RFC 3339",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "price": 100, "frequency": "once", "colour": "red"}),
            "unknown field",
        ),
    ] {
        let (status, body) = create(&base, &alice, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert!(body["error"].as_str().unwrap().contains(why), "{why}: {body}");
    }
    let moving = |more: Value| {
        let mut alert = json!({"symbol": SYMBOL, "condition": "moving_up_pct", "pct": 1, "bars": 3, "interval": "1m", "frequency": "once"});
        alert.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
        alert.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        alert
    };
    for (body, why) in [
        (moving(json!({"pct": null})), "needs pct"),
        (moving(json!({"pct": 1.234})), "two decimals"),
        (
            moving(json!({"condition": "moving_down_pct", "bars": 101})),
            "needs bars",
        ),
        (moving(json!({"interval": null})), "needs an interval"),
        (
            moving(json!({"frequency": "once_per_bar_close"})),
            "not once_per_bar_close",
        ),
        (
            moving(json!({"condition": "crossing", "price": 100, "bars": null, "interval": null})),
            "go only with moving",
        ),
        (
            json!({"symbol": SYMBOL, "condition": "crossing", "price": 100, "frequency": "once_per_bar_close"}),
            "needs an interval",
        ),
    ] {
        let (status, body) = create(&base, &alice, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
        assert!(body["error"].as_str().unwrap().contains(why), "{why}: {body}");
    }
    // Every condition and frequency the API names is taken.
    for good in [
        moving(json!({"pct": 1.5, "frequency": "once_per_bar"})),
        moving(
            json!({"condition": "moving_down_pct", "pct": 0.25, "bars": 1, "interval": "5s", "frequency": "every_time"}),
        ),
        json!({"symbol": SYMBOL, "condition": "exiting_channel", "low": 100, "high": 200, "frequency": "once_per_bar_close", "interval": "1m"}),
    ] {
        let (status, made) = create(&base, &bob, good.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{good}: {made}");
        for field in ["condition", "frequency", "interval", "pct", "bars", "low", "high"] {
            if let Some(value) = good.get(field) {
                assert_eq!(made[field].as_f64(), value.as_f64(), "{field}");
                assert_eq!(made[field].as_str(), value.as_str(), "{field}");
            }
        }
        let gone = send(
            &base,
            Method::DELETE,
            &format!("/api/alerts/{}", made["id"]),
            json!(null),
            &bob,
        )
        .await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    }
    let ok = json!({"symbol": SYMBOL, "condition": "crossing_up", "price": 1_000_000, "frequency": "every_time"});
    assert_eq!(create(&base, "", ok.clone()).await.0, StatusCode::UNAUTHORIZED);
    let forged = reqwest::Client::new()
        .post(format!("{base}/api/alerts"))
        .header(COOKIE, &alice)
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/json")
        .body(ok.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (status, mine) = create(&base, &alice, ok.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/api/alerts/{}", mine["id"]);
    // Bob cannot see, change or delete it.
    assert_eq!(
        send(&base, Method::PATCH, &path, json!({"note": "x"}), &bob)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&base, Method::DELETE, &path, json!(null), &bob).await.status(),
        StatusCode::NOT_FOUND
    );
    // Alice can.
    let resp = send(
        &base,
        Method::PATCH,
        &path,
        json!({"state": "paused", "price": 2_000_000}),
        &alice,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(
        (patched["state"].as_str(), patched["price"].as_i64()),
        (Some("paused"), Some(2_000_000))
    );
    let resp = send(&base, Method::PATCH, &path, json!({"state": "triggered"}), &alice).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The cap counts active alerts: the paused one is not counted.
    for _ in 0..3 {
        assert_eq!(create(&base, &alice, ok.clone()).await.0, StatusCode::CREATED);
    }
    let resp = send(&base, Method::POST, "/api/alerts", ok.clone(), &alice).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        resp.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("MAX_ALERTS_PER_USER")
    );
    // Resuming the paused one would pass the cap too.
    let resp = send(&base, Method::PATCH, &path, json!({"state": "active"}), &alice).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        send(&base, Method::DELETE, &path, json!(null), &alice).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&base, Method::DELETE, &path, json!(null), &alice).await.status(),
        StatusCode::NOT_FOUND
    );
    // 30 creations a minute, whatever the cap: Bob makes and deletes them (3 made above).
    for n in 3..31 {
        let resp = send(&base, Method::POST, "/api/alerts", ok.clone(), &bob).await;
        if n == 30 {
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            let body: Value = resp.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("a minute"), "{body}");
            break;
        }
        assert_eq!(resp.status(), StatusCode::CREATED, "creation {n}");
        let made: Value = resp.json().await.unwrap();
        let gone = send(
            &base,
            Method::DELETE,
            &format!("/api/alerts/{}", made["id"]),
            json!(null),
            &bob,
        )
        .await;
        assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    }
    // The inbox's page.
    for query in ["?limit=0", "?limit=501", "?after=x"] {
        let (status, body) = get_json(&base, &format!("/api/notifications{query}"), &alice).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
    assert_eq!(
        get_json(&base, "/api/notifications", "").await.0,
        StatusCode::UNAUTHORIZED
    );
    let resp = send(&base, Method::POST, "/api/notifications/read", json!({}), &alice).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// Alerts, their states and the inbox live in the store: a server started again on it (as after
/// a restart or a `kill -9`: every write is committed before it is told) has them all, and
/// evaluates the alerts that were active.
#[tokio::test]
async fn alerts_and_the_inbox_outlive_the_server() {
    let url = sqlite_url("alerts-restart");
    let (alice, entry, waiting) = {
        let mut server = server(&url, 200).await;
        let base = server.base.clone();
        let alice = session(&base, "alice").await;
        let (_, fired) = create(
            &base,
            &alice,
            json!({"symbol": SYMBOL, "condition": "greater_than", "price": 1, "frequency": "once"}),
        )
        .await;
        let (_, waiting) = create(
            &base,
            &alice,
            json!({"symbol": SYMBOL, "condition": "greater_than", "price": 1, "frequency": "once", "note": "after"}),
        )
        .await;
        let path = format!("/api/alerts/{}", waiting["id"]);
        assert_eq!(
            send(&base, Method::PATCH, &path, json!({"state": "paused"}), &alice)
                .await
                .status(),
            StatusCode::OK
        );
        let mut clients = vec![("alice", Client::open_sse(&server, Some(&alice), None).await)];
        let seen = step_until_notified(&mut server, &mut clients, 1).await;
        let entry = notifications(&seen[0])[0].data.clone();
        assert_eq!(entry["alert"], fired["id"]);
        (alice, entry, waiting)
    };
    let mut server = server(&url, 200).await;
    let base = server.base.clone();
    let (_, alerts) = get_json(&base, "/api/alerts", &alice).await;
    let states: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["triggered", "paused"]);
    assert_eq!(get_json(&base, "/api/notifications", &alice).await.1, json!([entry]));
    // The paused one, resumed on the new server, fires there.
    let path = format!("/api/alerts/{}", waiting["id"]);
    assert_eq!(
        send(&base, Method::PATCH, &path, json!({"state": "active"}), &alice)
            .await
            .status(),
        StatusCode::OK
    );
    let mut clients = vec![("alice", Client::open_sse(&server, Some(&alice), None).await)];
    let seen = step_until_notified(&mut server, &mut clients, 1).await;
    let got = notifications(&seen[0]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data["note"], "after");
    assert!(
        got[0].data["id"].as_u64() > entry["id"].as_u64(),
        "numbered after the first"
    );
}

/// One alert's firing for one frame is written once, whoever writes it how often (a writer
/// retrying, a generator taking over): the second write changes nothing and says so. A firing
/// of an alert no longer active (paused or deleted since) is not written either.
async fn a_firing_is_recorded_once(url: &str) {
    use tickertape_server::store::alerts::{AlertRow, Firing, Saved};
    let store = Store::connect(&parse_database_url(url).unwrap()).await.unwrap();
    let user = store
        .create_user(&format!("u{}", std::process::id()), "phc", 0)
        .await
        .unwrap();
    let row = AlertRow {
        id: 0,
        user_id: user,
        symbol: SYMBOL.into(),
        condition: "crossing".into(),
        price: Some(100),
        low: None,
        high: None,
        pct_bp: None,
        bars: None,
        frequency: "every_time".into(),
        interval: None,
        expires: None,
        note: String::new(),
        state: "active".into(),
        last_fired: None,
        fire_count: 0,
    };
    let Saved::Done(alert) = store.create_alert(&row, 0, 10).await.unwrap() else {
        panic!("created")
    };
    let firing = Firing {
        alert_id: alert.id,
        price: 100,
        prev: 99,
        seq: 42,
        ts: 1_000,
        ends_in: None,
    };
    let first = store.record_firing(&firing).await.unwrap().expect("written");
    assert_eq!(first.entries.len(), 1);
    assert_eq!(
        store.record_firing(&firing).await.unwrap(),
        None,
        "the same frame again"
    );
    let next = Firing {
        seq: 43,
        ts: 1_100,
        ..firing.clone()
    };
    let second = store
        .record_firing(&next)
        .await
        .unwrap()
        .expect("the next frame is another firing");
    assert_eq!(
        second.entries[0].id,
        first.entries[0].id + 1,
        "numbered in order, no gap left by the repeat"
    );
    let inbox = store.inbox(user, 0, 100).await.unwrap();
    assert_eq!(inbox.iter().map(|e| e.seq).collect::<Vec<_>>(), [42, 43]);
    let stored = store.alert(user, alert.id).await.unwrap().unwrap();
    assert_eq!((stored.fire_count, stored.last_fired), (2, Some(1_100)));
    // Paused since the frame: nothing is written.
    let paused = AlertRow {
        state: "paused".into(),
        ..stored
    };
    assert!(matches!(store.update_alert(&paused, 10).await.unwrap(), Saved::Done(_)));
    let later = Firing {
        seq: 44,
        ts: 1_200,
        ..firing
    };
    assert_eq!(store.record_firing(&later).await.unwrap(), None);
    assert_eq!(store.inbox(user, 0, 100).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_firing_is_recorded_once_on_sqlite() {
    a_firing_is_recorded_once(&sqlite_url("alerts-once")).await;
}

#[tokio::test]
async fn a_firing_is_recorded_once_on_postgres() {
    let pg = Postgres::start();
    a_firing_is_recorded_once(&pg.url()).await;
}
