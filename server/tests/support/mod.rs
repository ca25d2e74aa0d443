//! A real server on an ephemeral port, with a market the test steps by hand (no timers), and a
//! real SSE client (reqwest + eventsource-stream) to talk to it.

#![allow(dead_code)]

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use leptos::prelude::LeptosOptions;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tickertape_server::config::Limits;
use tickertape_server::feed::generator::Generator;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::http::{AppState, router};
use tickertape_server::hub::{Hub, HubConfig};
use tickertape_server::metrics::Metrics;
use tickertape_server::net::serve;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const EPOCH: u64 = 0x7e57;
/// Upper bound for anything a test waits for; reaching it is a failure, not a pause.
pub const PATIENCE: Duration = Duration::from_secs(10);
pub const T0: i64 = 1_700_000_000_000;

pub struct TestServer {
    pub base: String,
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    /// The router the server serves, for requests that need no socket.
    pub app: axum::Router,
    generator: Generator<Sink>,
    ts: i64,
    /// Market time between two frames.
    frame_ms: i64,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<std::io::Result<tickertape_server::net::Stopped>>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with(
            HubConfig {
                history_frames: 1000,
                live_buffer: 1000,
            },
            Duration::from_secs(15),
        )
        .await
    }

    pub async fn with(config: HubConfig, keepalive: Duration) -> Self {
        Self::with_options(
            config,
            keepalive,
            LeptosOptions::builder().output_name("tickertape").build(),
        )
        .await
    }

    /// A server with the default hub and these connection limits.
    pub async fn with_limits(limits: Limits) -> Self {
        let config = HubConfig {
            history_frames: 1000,
            live_buffer: 1000,
        };
        let options = LeptosOptions::builder().output_name("tickertape").build();
        Self::with_everything(config, Duration::from_secs(15), options, limits).await
    }

    /// A server whose site settings (`site_root`, `site_pkg_dir`) are `options`.
    pub async fn with_options(config: HubConfig, keepalive: Duration, options: LeptosOptions) -> Self {
        Self::with_everything(config, keepalive, options, Limits::default()).await
    }

    async fn with_everything(config: HubConfig, keepalive: Duration, options: LeptosOptions, limits: Limits) -> Self {
        let market = Market::new(default_universe(), 1234, 10.0);
        Self::serving(market, 100, config, keepalive, options, limits, None).await
    }

    /// A server (the default market and limits) whose account endpoints use `accounts`.
    pub async fn with_accounts(accounts: tickertape_server::accounts::Accounts) -> Self {
        let config = HubConfig {
            history_frames: 1000,
            live_buffer: 1000,
        };
        let options = LeptosOptions::builder().output_name("tickertape").build();
        let market = Market::new(default_universe(), 1234, 10.0);
        let limits = Limits::default();
        let keepalive = Duration::from_secs(15);
        Self::serving(market, 100, config, keepalive, options, limits, Some(accounts)).await
    }

    /// A server with `accounts` whose market evaluates price alerts (at most `max_per_user`
    /// active ones each), as a node that makes the market does.
    pub async fn with_alerts(accounts: tickertape_server::accounts::Accounts, max_per_user: usize) -> Self {
        let config = HubConfig {
            history_frames: 1000,
            live_buffer: 1000,
        };
        let options = LeptosOptions::builder().output_name("tickertape").build();
        let market = Market::new(default_universe(), 1234, 10.0);
        let (limits, keepalive) = (Limits::default(), Duration::from_secs(15));
        Self::serving_with_alerts(
            market,
            100,
            config,
            keepalive,
            options,
            limits,
            Some(accounts),
            Some(max_per_user),
        )
        .await
    }

    /// A server of `market`, whose frames [`TestServer::step`] stamps `frame_ms` apart.
    pub async fn with_market(market: Market, frame_ms: i64) -> Self {
        let config = HubConfig {
            history_frames: 1000,
            live_buffer: 1000,
        };
        let options = LeptosOptions::builder().output_name("tickertape").build();
        Self::serving(
            market,
            frame_ms,
            config,
            Duration::from_secs(15),
            options,
            Limits::default(),
            None,
        )
        .await
    }

    async fn serving(
        market: Market,
        frame_ms: i64,
        config: HubConfig,
        keepalive: Duration,
        options: LeptosOptions,
        limits: Limits,
        accounts: Option<tickertape_server::accounts::Accounts>,
    ) -> Self {
        Self::serving_with_alerts(market, frame_ms, config, keepalive, options, limits, accounts, None).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn serving_with_alerts(
        market: Market,
        frame_ms: i64,
        config: HubConfig,
        keepalive: Duration,
        options: LeptosOptions,
        limits: Limits,
        accounts: Option<tickertape_server::accounts::Accounts>,
        alerts: Option<usize>,
    ) -> Self {
        let hub = Arc::new(Hub::for_market(EPOCH, &market, config, Arc::new(Metrics::default())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let mut state = AppState::new(options, hub.clone(), shutdown.clone(), keepalive);
        state.transports = state.transports.clone().with_limits(&limits);
        let mut state = state.with_accounts(accounts.clone());
        let mut sink = Sink::Hub(hub.clone());
        if let (Some(accounts), Some(max)) = (accounts, alerts) {
            let desk = Arc::new(tickertape_server::alerting::AlertDesk::new(
                accounts,
                market.instruments(),
                max,
                // The market of the tests lives in 2023 (`T0`): keep its notifications.
                Duration::from_secs(3650 * 86_400),
            ));
            tokio::spawn(desk.clone().run(Duration::from_secs(3600), shutdown.clone()));
            let prices = market.quotes().iter().map(|q| q.price).collect();
            sink = Sink::Alerting(tickertape_server::alerting::Alerting::new(
                hub.clone(),
                desk.clone(),
                prices,
            ));
            state.alerts = Some(desk);
        }
        let app = router(state.clone());
        let task = tokio::spawn(serve(
            listener,
            app.clone(),
            Some(state.transports.clone()),
            limits,
            shutdown.clone(),
        ));
        TestServer {
            base: format!("http://{addr}"),
            addr,
            hub: hub.clone(),
            app,
            generator: Generator::new(market, sink),
            ts: T0,
            frame_ms,
            shutdown,
            task: Some(task),
        }
    }

    /// Publishes `n` frames, 100 ms apart in market time (or as the market was given); returns
    /// the last seq.
    pub fn step(&mut self, n: usize) -> u64 {
        let mut seq = 0;
        for _ in 0..n {
            self.ts += self.frame_ms;
            seq = self.generator.step(self.ts);
        }
        seq
    }

    /// Publishes frames until one in which one of `symbols` trades (at least one frame);
    /// returns its seq, the last event a stream of those symbols gets.
    pub fn step_until_traded(&mut self, symbols: &[&str]) -> u64 {
        loop {
            let seq = self.step(1);
            let traded = |symbol: &&str| {
                self.hub
                    .trades(symbol, 1)
                    .is_some_and(|t| t.trades.first().is_some_and(|p| p.ts == self.ts))
            };
            if symbols.iter().any(traded) {
                return seq;
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// Where a test server's frames go: the hub, or the hub with alerts evaluated.
pub enum Sink {
    Hub(Arc<Hub>),
    Alerting(tickertape_server::alerting::Alerting<Arc<Hub>>),
}

impl tickertape_server::feed::Publish for Sink {
    fn publish(&mut self, ts: i64, trades: Vec<tickertape_server::feed::Trade>) -> u64 {
        match self {
            Sink::Hub(hub) => tickertape_server::feed::Publish::publish(hub, ts, trades),
            Sink::Alerting(alerting) => alerting.publish(ts, trades),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub type Events<E = reqwest::Error> = Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<E>>> + Send>>;

/// Opens an SSE stream; panics unless the server answers 200.
pub async fn open(url: &str, last_event_id: Option<&str>) -> Events {
    let mut req = reqwest::Client::new().get(url);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let resp = tokio::time::timeout(PATIENCE, req.send())
        .await
        .expect("connect in time")
        .expect("connect");
    assert_eq!(resp.status(), 200, "{url}");
    Box::pin(resp.bytes_stream().eventsource())
}

/// Opens an SSE stream over a socket with a tiny receive buffer, through hyper's client: a
/// reader that stops polling it applies back-pressure to the server within a few kilobytes.
pub async fn open_slow(addr: SocketAddr, path: &str) -> Events<std::io::Error> {
    use http_body_util::BodyExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().into_data_stream();
    Box::pin(body.map(|r| r.map_err(std::io::Error::other)).eventsource())
}

/// The next snapshot, tick or resync event (skipping the retry preamble).
pub async fn next<E: std::fmt::Debug>(events: &mut Events<E>) -> Event {
    loop {
        let item = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("an event in time");
        let event = item.expect("stream still open").expect("well-formed SSE");
        if !event.event.is_empty() && event.event != "message" {
            return event;
        }
    }
}

/// Reads events until one with id `<EPOCH>-<seq>` (inclusive); returns them all.
pub async fn until_seq<E: std::fmt::Debug>(events: &mut Events<E>, seq: u64) -> Vec<Event> {
    let target = format!("{EPOCH:x}-{seq}");
    let mut out = Vec::new();
    loop {
        let event = next(events).await;
        let done = event.id == target;
        out.push(event);
        if done {
            return out;
        }
    }
}

pub fn seq_of(event: &Event) -> u64 {
    event
        .id
        .rsplit_once('-')
        .and_then(|(_, s)| s.parse().ok())
        .expect("id <epoch>-<seq>")
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket; panics unless the upgrade succeeds.
pub async fn ws_open(url: &str) -> Ws {
    let url = url.replacen("http://", "ws://", 1);
    let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
        .await
        .expect("in time")
        .expect("upgrade");
    ws
}

/// The next text message as JSON (skipping pings and pongs); `None` when the socket closed.
pub async fn ws_next(ws: &mut Ws) -> Option<serde_json::Value> {
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time")?
            .ok()?;
        match msg {
            Message::Text(text) => {
                let page = page_reads(text.as_str());
                if text.as_str() == tickertape_server::transport::ws::HEARTBEAT {
                    assert_eq!((page.kind.as_str(), page.data), ("heartbeat", None));
                    continue;
                }
                return Some(serde_json::from_str(text.as_str()).expect("JSON message"));
            }
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Reads WebSocket events until the one with `<EPOCH>-<seq>` (inclusive).
pub async fn ws_until_seq(ws: &mut Ws, seq: u64) -> Vec<serde_json::Value> {
    let target = format!("{EPOCH:x}-{seq}");
    let mut out = Vec::new();
    loop {
        let msg = ws_next(ws).await.expect("socket open");
        let done = msg["id"] == target.as_str();
        out.push(msg);
        if done {
            return out;
        }
    }
}

/// One long poll: (events, next id).
pub async fn poll(base: &str, query: &str) -> (Vec<serde_json::Value>, String) {
    let resp = tokio::time::timeout(PATIENCE, reqwest::get(format!("{base}/api/poll?{query}")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200, "{query}");
    let text = resp.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = body["events"].as_array().unwrap().clone();
    let next = body["next"].as_str().unwrap().to_string();
    // The page reads the same answer (app::wire::json).
    let page =
        app::wire::json::from_str::<app::wire::protocol::PollBatch>(&text).expect("the page reads the poll answer");
    assert_eq!(page.next, next);
    assert_eq!(page.events.len(), events.len());
    for (event, value) in page.events.iter().zip(&events) {
        assert_same_event(event, value);
    }
    (events, next)
}

/// A WebSocket or poll event as the page reads it (app::wire::json), checked against serde_json:
/// same type, id and payload.
pub fn page_reads(text: &str) -> app::wire::protocol::WireEvent {
    let event = app::wire::json::from_str::<app::wire::protocol::WireEvent>(text).expect("the page reads the event");
    assert_same_event(&event, &serde_json::from_str(text).unwrap());
    event
}

/// The page's reading of `event` says what the server wrote in `value`: the same kind and id,
/// and the payload decoded as serde decodes it.
fn assert_same_event(event: &app::wire::protocol::WireEvent, value: &serde_json::Value) {
    use app::wire::protocol::{Incoming, Snapshot, TickFrame};
    assert_eq!(event.kind, value["type"].as_str().unwrap());
    assert_eq!(event.id.as_deref(), value["id"].as_str());
    let data = value.get("data").filter(|d| !d.is_null());
    match Incoming::from_wire(event.clone()) {
        Incoming::Tick { id, frame } => {
            assert_eq!(id, value["id"].as_str().unwrap());
            let server: TickFrame = serde_json::from_value(data.unwrap().clone()).unwrap();
            assert_eq!(frame, server, "the page reads the tick the server wrote");
        }
        Incoming::Snapshot { id, snapshot, resync } => {
            assert_eq!(
                (id.as_str(), resync),
                (value["id"].as_str().unwrap(), event.kind == "resync")
            );
            let server: Snapshot = serde_json::from_value(data.unwrap().clone()).unwrap();
            assert_eq!(snapshot, server, "the page reads the snapshot the server wrote");
        }
        Incoming::Account { id, state, resync } => {
            assert_eq!(id, value["id"].as_str().unwrap());
            let server: app::wire::account::AccountState = serde_json::from_value(data.unwrap().clone()).unwrap();
            assert_eq!(state, server, "the page reads the account the server wrote");
            assert_eq!(resync, data.unwrap()["resync"] == true);
        }
        Incoming::Notification { id, entry } => {
            assert_eq!(id, value["id"].as_str().unwrap());
            let server: app::wire::alerts::Notification = serde_json::from_value(data.unwrap().clone()).unwrap();
            assert_eq!(entry, server, "the page reads the notification the server wrote");
        }
        Incoming::Read { id, mark } => {
            assert_eq!(id, value["id"].as_str().unwrap());
            let server: app::wire::alerts::ReadMark = serde_json::from_value(data.unwrap().clone()).unwrap();
            assert_eq!(mark, server, "the page reads the read mark the server wrote");
        }
        Incoming::Alive => assert!(data.is_none(), "an event with data the page ignores: {value}"),
    }
}

/// Polls from `after` until the event with `<EPOCH>-<seq>` (inclusive) arrives.
pub async fn poll_until_seq(base: &str, symbols: &str, mut after: String, seq: u64) -> Vec<serde_json::Value> {
    let target = format!("{EPOCH:x}-{seq}");
    let mut out = Vec::new();
    loop {
        let (events, next) = poll(base, &format!("symbols={symbols}&after={after}&timeout_ms=5000")).await;
        let done = events.iter().any(|e| e["id"] == target.as_str());
        out.extend(events);
        after = next;
        if done {
            return out;
        }
    }
}

/// An SSE event as the JSON object the other transports send.
pub fn as_json(event: &Event) -> serde_json::Value {
    serde_json::json!({ "type": event.event, "id": event.id, "data": serde_json::from_str::<serde_json::Value>(&event.data).unwrap() })
}

/// Reads until the server's close frame; returns its code.
pub async fn ws_close_code(ws: &mut Ws) -> u16 {
    ws_close(ws).await.0
}

/// The close frame's code and reason (messages before it are skipped).
pub async fn ws_close(ws: &mut Ws) -> (u16, String) {
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await.expect("in time") {
            Some(Ok(Message::Close(frame))) => {
                return frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Starts a long poll after `after` and returns once the server is holding it, waiting.
pub async fn parked_poll(
    server: &TestServer,
    after: String,
    timeout_ms: u64,
) -> tokio::task::JoinHandle<(Vec<serde_json::Value>, String)> {
    let base = server.base.clone();
    let waiting = tokio::spawn(async move { poll(&base, &format!("after={after}&timeout_ms={timeout_ms}")).await });
    while server
        .hub
        .metrics()
        .render()
        .contains("tickertape_clients{transport=\"Poll\"} 0")
    {
        tokio::task::yield_now().await;
    }
    waiting
}

/// Waits until a new connection is served (`/api/symbols` answers 200), at most `within`:
/// a connection that ended gave its place back.
pub async fn until_a_new_connection_is_served(server: &TestServer, within: Duration, why: &str) {
    let deadline = std::time::Instant::now() + within;
    loop {
        // A new client each time: a new connection.
        let status = reqwest::get(server.url("/api/symbols"))
            .await
            .map(|r| r.status().as_u16());
        if status.is_ok_and(|s| s == 200) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `tickertape` binary as a user runs it, where no Leptos.toml is, so only variables and
/// defaults apply; without a simulated past unless the test asks for one.
pub fn tickertape() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickertape"));
    cmd.current_dir(std::env::temp_dir())
        .env_remove("TICK_RATE_HZ")
        .env_remove("SYMBOLS")
        .env_remove("MARKET_SEED")
        .env_remove("MARKET_BUS")
        .env_remove("ROLE")
        // No simulated past (seconds of a debug build's CPU) unless a test asks for one.
        .env("PAST_HOURS", "0")
        // An SQLite file of its own: never one another test or a user has.
        .env("DATABASE_URL", sqlite_url("bin"))
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Reads the server's log until a line holding `marker`, and returns the word after it.
pub async fn url_after(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    marker: &str,
) -> String {
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split(marker).nth(1) {
                return rest.split_whitespace().next().unwrap().to_string();
            }
        }
        panic!("the server exited before saying where it listens");
    })
    .await
    .expect("start-up in time")
}

/// A private PostgreSQL server for one test: a fresh cluster in a temporary directory, on a free
/// loopback port, stopped (and its directory removed) when dropped. As root (CI), it runs as the
/// `postgres` user, since PostgreSQL refuses to run as root. `make test` installs PostgreSQL.
pub struct Postgres {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    pub port: u16,
    as_postgres: bool,
}

impl Postgres {
    pub fn start() -> Postgres {
        use std::process::Command;
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.filter_map(|v| v.ok()).map(|v| v.path().join("bin")).max())
            .filter(|bin| bin.join("initdb").exists())
            .expect("PostgreSQL is needed for these tests (make test installs it: apt-get install postgresql)");
        let dir = unique_temp("pg");
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            assert!(
                Command::new("chown")
                    .arg("postgres")
                    .arg(&dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Postgres {
            dir,
            bin,
            port,
            as_postgres,
        };
        let data = pg.data();
        pg.run("initdb", &["-D", &data, "-A", "trust", "-U", "tt", "--no-sync"]);
        pg.start_again();
        pg
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Starts the (stopped) server again, on the same port and data.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server at once, as a crash would.
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }

    /// A PostgreSQL tool, run as the `postgres` user when this process is root.
    fn command(&self, tool: &str) -> std::process::Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            std::process::Command::new(&path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://tt@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A path in the temporary directory that no other test (or process) uses.
pub fn unique_temp(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("tt-{name}-{}-{n}", std::process::id()))
}

/// An SQLite file of this test's own.
pub fn sqlite_url(name: &str) -> String {
    format!("sqlite://{}.db", unique_temp(name).display())
}

/// The password the tests' users sign up with.
pub const PASSWORD: &str = "correct horse battery";

/// A JSON request to `base` + `path` with the session `cookie` (`""`: none).
pub async fn send(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
    cookie: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::COOKIE, cookie)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Signs `name` up (or in, when taken): the session's `tt_session=…` pair.
pub async fn session(base: &str, name: &str) -> String {
    let body = serde_json::json!({ "username": name, "password": PASSWORD });
    let mut resp = send(base, reqwest::Method::POST, "/api/signup", body.clone(), "").await;
    if resp.status() == reqwest::StatusCode::CONFLICT {
        resp = send(base, reqwest::Method::POST, "/api/login", body, "").await;
    }
    assert!(resp.status().is_success(), "{}", resp.status());
    let header = resp.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    header.split(';').next().unwrap().to_string()
}
