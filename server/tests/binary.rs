//! The `tickertape` binary as a user runs it: configuration errors, start-up, SIGTERM.

mod support;

use support::{tickertape, url_after};

use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn invalid_settings_stop_start_up_naming_the_variable() {
    let cases = [
        ("TICK_RATE_HZ", "0", "0.1 to 1000"),
        ("TICK_RATE_HZ", "fast", "0.1 to 1000"),
        ("SYMBOLS", "AAPL,AAPL", "listed twice"),
        ("MARKET_SEED", "-5", "MARKET_SEED"),
        ("HISTORY_FRAMES", "5", "10..=1000000"),
        ("LEPTOS_SITE_ADDR", "nowhere", "LEPTOS_SITE_ADDR"),
        ("MARKET_BUS", "localhost:6379", "redis://HOST:PORT"),
        ("ROLE", "leader", "generator"),
        ("ROLE", "edge", "MARKET_BUS"),
        ("DATABASE_URL", "mysql://tt@db/market", "sqlite://PATH"),
        // A well-formed URL of a database that cannot be reached: refused at start-up too.
        (
            "DATABASE_URL",
            "postgres://tt@127.0.0.1:1/none",
            "cannot open the database",
        ),
        ("SESSION_TTL_HOURS", "0", "1..=8760"),
        ("COOKIE_SECURE", "maybe", "true or false"),
    ];
    for (var, value, accepted) in cases {
        let out = tickertape().env(var, value).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value} must not start: exit 2");
        assert!(
            stderr.contains(var),
            "{var}={value}: message names the variable: {stderr}"
        );
        assert!(
            stderr.contains(accepted),
            "{var}={value}: message says what is accepted: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn help_lists_every_variable() {
    let out = tickertape().arg("--help").output().await.unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "TICK_RATE_HZ",
        "SYMBOLS",
        "MARKET_SEED",
        "HISTORY_FRAMES",
        "SSE_KEEPALIVE_SECS",
        "MARKET_BUS",
        "ROLE",
    ] {
        assert!(help.contains(var), "{var} in --help");
    }
}

/// The URL a log line starting with `marker` names (the first word after it).
async fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(status.success());
}

/// A fresh server already has a past: an hour of it here (`PAST_HOURS=1`) is sixty one-minute
/// candles or more, consecutive and consistent, and the live market continues the last one.
#[tokio::test]
async fn a_fresh_server_opens_with_the_markets_past() {
    let mut child = tickertape()
        .env("PAST_HOURS", "1")
        .env("MARKET_SEED", "7")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = url_after(&mut lines, "live at ").await;
    let get = async |path: &str| -> serde_json::Value {
        reqwest::get(format!("{base}{path}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    // The history and a snapshot taken at the same frame (a tick may come between two requests).
    let deadline = Instant::now() + support::PATIENCE;
    let (history, snapshot) = loop {
        let history = get("/api/history?symbol=MSFT&interval=1m").await;
        let snapshot = get("/api/snapshot?symbols=MSFT").await;
        if history["seq"] == snapshot["seq"] {
            break (history, snapshot);
        }
        assert!(Instant::now() < deadline, "no history and snapshot at the same frame");
    };
    let candles = history["candles"].as_array().unwrap();
    assert!(
        (60..=62).contains(&candles.len()),
        "{} one-minute candles",
        candles.len()
    );
    let field = |c: &serde_json::Value, k: &str| c[k].as_i64().unwrap();
    for pair in candles.windows(2) {
        assert_eq!(field(&pair[1], "t"), field(&pair[0], "t") + 60_000, "consecutive");
    }
    for c in candles {
        let (open, close) = (field(c, "open"), field(c, "close"));
        assert!(
            field(c, "low") <= open.min(close) && open.max(close) <= field(c, "high"),
            "{c}"
        );
    }
    let quote = &snapshot["quotes"][0];
    assert_eq!(
        quote["price"],
        candles.last().unwrap()["close"],
        "the live quote is the last close"
    );
    assert!(
        quote["volume"].as_u64().unwrap() > 0,
        "the session's volume includes the past"
    );
    // Every interval that holds the whole session (the past and the live market after it) adds
    // up to the session's volume at the same frame.
    for interval in ["1m", "5m", "15m", "1h"] {
        let (history, snapshot) = loop {
            let history = get(&format!("/api/history?symbol=MSFT&interval={interval}")).await;
            let snapshot = get("/api/snapshot?symbols=MSFT").await;
            if history["seq"] == snapshot["seq"] {
                break (history, snapshot);
            }
            assert!(Instant::now() < deadline, "no history and snapshot at the same frame");
        };
        let total: u64 = history["candles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["volume"].as_u64().unwrap())
            .sum();
        assert_eq!(total, snapshot["quotes"][0]["volume"].as_u64().unwrap(), "{interval}");
    }
    sigterm(&child).await;
}

/// SIGTERM with a stream open: the stream ends and the process exits 0 within a second.
#[tokio::test]
async fn sigterm_with_open_streams_exits_cleanly_and_promptly() {
    let mut child = tickertape().env("TICK_RATE_HZ", "50").spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = url_after(&mut lines, "live at ").await;

    let mut events = support::open(&format!("{base}/api/stream"), None).await;
    assert_eq!(support::next(&mut events).await.event, "snapshot");
    assert_eq!(support::next(&mut events).await.event, "tick");

    let sent = Instant::now();
    sigterm(&child).await;
    let status = tokio::time::timeout(Duration::from_secs(1), child.wait())
        .await
        .expect("exits within 1 s")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(sent.elapsed() < Duration::from_secs(1));
    // The open stream ended rather than hanging.
    let end = tokio::time::timeout(Duration::from_secs(1), async {
        use futures_util::StreamExt;
        while let Some(Ok(_)) = events.next().await {}
    });
    end.await.expect("the stream ended with the server");
}

/// An edge whose Redis is not there: it says so on /healthz (503, "joining"), does not panic,
/// and stops cleanly on SIGTERM.
#[tokio::test]
async fn an_edge_without_its_redis_answers_joining_and_stops_cleanly() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tickertape()
        .env("MARKET_BUS", format!("redis://127.0.0.1:{unused}"))
        .env("ROLE", "edge")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = url_after(&mut lines, "listening on ").await;

    let resp = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["role"].as_str()),
        (Some("joining"), Some("edge"))
    );
    // It keeps trying (and logging why) until stopped.
    let mut saw_retry = false;
    while !saw_retry {
        let line = tokio::time::timeout(support::PATIENCE, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        saw_retry = line.contains("retrying") && line.contains(&unused.to_string());
    }
    sigterm(&child).await;
    let status = tokio::time::timeout(support::PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The page of a debug build, as `cargo leptos watch` runs it (`LEPTOS_WATCH` set): its policy
/// lets the page's live-reload script reach cargo-leptos's socket on the reload port, and the
/// script is there; run otherwise, neither. (A release build never opens it: the unit tests of
/// `security::live_reload_port`.)
#[tokio::test]
async fn a_debug_build_run_by_watch_lets_the_page_reach_the_live_reload_socket() {
    for watched in [true, false] {
        let mut cmd = tickertape();
        cmd.env("LEPTOS_RELOAD_PORT", "3999");
        if watched {
            cmd.env("LEPTOS_WATCH", "ON");
        } else {
            cmd.env_remove("LEPTOS_WATCH");
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = url_after(&mut lines, "live at ").await;
        let page = reqwest::get(format!("{base}/")).await.unwrap();
        let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
        let html = page.text().await.unwrap();
        let connect = csp.split("; ").find(|d| d.starts_with("connect-src")).unwrap();
        if watched {
            assert_eq!(connect, "connect-src 'self' ws://*:3999 wss://*:3999");
            assert!(html.contains("live_reload"), "the reload script is on the page");
        } else {
            assert_eq!(connect, "connect-src 'self'");
            assert!(!html.contains("live_reload"));
        }
        child.kill().await.unwrap();
    }
}
