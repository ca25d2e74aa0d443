//! Several nodes joined by a real Redis (Debian's `redis-server`, started by each test on a free
//! loopback port): one generator, edge nodes serving real SSE over real HTTP. Every event a
//! client receives is audited against a local replay of the same seeded market, so a lost,
//! duplicated or altered frame fails the test, and a discontinuity must come as a `resync`.

mod support;

use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use std::time::Duration;
use support::{Events, PATIENCE, next};
use tickertape_server::config::Config;
use tickertape_server::feed::generator::next_trades;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::hub::Hub;
use tickertape_server::node;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

const SEED: u64 = 4242;
const RATE: &str = "50";

/// A `redis-server` of our own, without persistence, on a free loopback port.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    async fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Redis { port, child: None };
        redis.launch().await;
        redis
    }

    async fn launch(&mut self) {
        let program = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&program)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &std::env::temp_dir().to_string_lossy(),
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {program} ({e}): install Debian's redis-server (make test does) or set REDIS_SERVER"
                )
            });
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut c).await.is_ok()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// A node started exactly as the binary starts it, serving on port 0.
struct TestNode {
    base: String,
    hub: Option<Arc<Hub>>,
    shutdown: CancellationToken,
}

impl TestNode {
    /// A node without a simulated past, whose frames the [`Reference`] replays.
    async fn start(redis: &Redis, role: &str) -> TestNode {
        Self::start_with(redis, role, &["--history-frames", "2000", "--past-hours", "0"]).await
    }

    /// An edge with accounts (a store shared with the other nodes).
    async fn edge_with_accounts(redis: &Redis, database: &str) -> TestNode {
        Self::with_accounts(redis, "edge", database).await
    }

    /// A node in `role` with accounts in the shared store at `database`.
    async fn with_accounts(redis: &Redis, role: &str, database: &str) -> TestNode {
        let store =
            tickertape_server::store::Store::connect(&tickertape_server::store::parse_database_url(database).unwrap())
                .await
                .unwrap();
        let accounts = tickertape_server::accounts::Accounts::new(store, Duration::from_secs(3600), false);
        Self::start_full(redis, role, &["--past-hours", "0"], Some(accounts)).await
    }

    async fn start_with(redis: &Redis, role: &str, settings: &[&str]) -> TestNode {
        Self::start_full(redis, role, settings, None).await
    }

    async fn start_full(
        redis: &Redis,
        role: &str,
        settings: &[&str],
        accounts: Option<tickertape_server::accounts::Accounts>,
    ) -> TestNode {
        let url = redis.url();
        let seed = SEED.to_string();
        let args = [
            "tickertape",
            "--market-bus",
            &url,
            "--role",
            role,
            "--tick-rate-hz",
            RATE,
            "--market-seed",
            &seed,
        ];
        let config = <Config as clap::Parser>::try_parse_from(args.iter().chain(settings)).unwrap();
        let shutdown = CancellationToken::new();
        let options = LeptosOptions::builder().output_name("tickertape").build();
        let node = tokio::time::timeout(
            PATIENCE,
            node::start(&config, &config.limits(1024), options, accounts, shutdown.clone()),
        )
        .await
        .expect("the node joins in time")
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tickertape_server::net::serve(
            listener,
            node.app,
            node.streams,
            Default::default(),
            shutdown.clone(),
        ));
        TestNode {
            base: format!("http://{addr}"),
            hub: node.hub,
            shutdown,
        }
    }

    fn stop(&self) {
        self.shutdown.cancel();
    }

    async fn stream(&self, last_event_id: Option<&str>) -> Events {
        support::open(&format!("{}/api/stream", self.base), last_event_id).await
    }

    async fn health(&self) -> (u16, serde_json::Value) {
        let resp = reqwest::get(format!("{}/healthz", self.base)).await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What the generator publishes, frame by frame: a local replay of the same seeded market.
struct Reference {
    market: Market,
    /// Per seq (index 0 is seq 1): the prices traded in that frame, by symbol.
    frames: Vec<Vec<(String, i64)>>,
}

impl Reference {
    fn new() -> Self {
        let rate: f64 = RATE.parse().unwrap();
        Reference {
            market: Market::new(default_universe(), SEED, rate),
            frames: Vec::new(),
        }
    }

    fn frame(&mut self, seq: u64) -> &[(String, i64)] {
        while self.frames.len() < seq as usize {
            let trades = next_trades(&mut self.market);
            self.frames
                .push(trades.into_iter().map(|t| (t.quote.symbol, t.quote.price)).collect());
        }
        &self.frames[seq as usize - 1]
    }
}

/// Checks a client's events as they arrive: within an epoch, ticks carry exactly the
/// reference frames, none missing (skipped frames must be empty), none repeated.
struct Audit {
    reference: Reference,
    at: Option<(String, u64)>,
    ticks: Vec<String>,
    resyncs: Vec<String>,
}

impl Audit {
    fn new() -> Self {
        Audit {
            reference: Reference::new(),
            at: None,
            ticks: Vec::new(),
            resyncs: Vec::new(),
        }
    }

    fn check(&mut self, event: &eventsource_stream::Event) {
        let (epoch, seq) = event.id.split_once('-').expect("<epoch>-<seq>");
        let seq: u64 = seq.parse().unwrap();
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["seq"], seq, "{}", event.id);
        match event.event.as_str() {
            "snapshot" | "resync" => {
                if event.event == "resync" {
                    self.resyncs.push(event.id.clone());
                }
                self.at = Some((epoch.to_string(), seq));
            }
            "tick" => {
                let (at_epoch, at_seq) = self.at.clone().expect("a snapshot or resync first");
                assert_eq!(
                    epoch, at_epoch,
                    "a new epoch must come as a resync, got tick {}",
                    event.id
                );
                assert!(seq > at_seq, "duplicate or reordered tick {} after {at_seq}", event.id);
                for missing in at_seq + 1..seq {
                    assert!(
                        self.reference.frame(missing).is_empty(),
                        "lost frame {epoch}-{missing} (before {})",
                        event.id
                    );
                }
                let got: Vec<(String, i64)> = data["quotes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| (q["symbol"].as_str().unwrap().to_string(), q["price"].as_i64().unwrap()))
                    .collect();
                assert_eq!(
                    got,
                    self.reference.frame(seq),
                    "frame {} differs from the market",
                    event.id
                );
                self.ticks.push(event.id.clone());
                self.at = Some((epoch.to_string(), seq));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }

    /// Reads and audits `n` more ticks; returns the events read.
    async fn read_ticks(&mut self, events: &mut Events, n: usize) -> Vec<eventsource_stream::Event> {
        let mut out = Vec::new();
        let target = self.ticks.len() + n;
        while self.ticks.len() < target {
            let event = next(events).await;
            self.check(&event);
            out.push(event);
        }
        out
    }
}

fn ids(events: &[eventsource_stream::Event]) -> Vec<(String, String)> {
    events.iter().map(|e| (e.id.clone(), e.data.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_serve_identical_frames_and_a_client_moves_between_them_without_loss() {
    let redis = Redis::start().await;
    let _generator = TestNode::start(&redis, "generator").await;
    let a = TestNode::start(&redis, "edge").await;
    let b = TestNode::start(&redis, "edge").await;

    let (mut on_a, mut on_b) = (a.stream(None).await, b.stream(None).await);
    let (mut audit_a, mut audit_b) = (Audit::new(), Audit::new());
    let seen_a = audit_a.read_ticks(&mut on_a, 30).await;
    let seen_b = audit_b.read_ticks(&mut on_b, 30).await;
    // Both started at a snapshot of the same market; from the later start on, identical.
    let first_b = seen_b.iter().find(|e| e.event == "tick").unwrap().id.clone();
    let from = seen_a
        .iter()
        .position(|e| e.id == first_b)
        .expect("A saw B's first tick");
    let overlap = seen_a.len() - from;
    assert!(overlap > 10, "the two clients overlap");
    assert_eq!(
        ids(&seen_a[from..]),
        ids(&seen_b[1..=overlap]),
        "identical frames on A and B"
    );

    // A client of A moves to B, resuming from the last id it read.
    let mut mover = a.stream(None).await;
    let mut audit_m = Audit::new();
    audit_m.read_ticks(&mut mover, 10).await;
    let last = audit_m.ticks.last().unwrap().clone();
    drop(mover);
    // Let the market move on while the client is away.
    let later = audit_a.read_ticks(&mut on_a, 20).await;
    let mut moved = b.stream(Some(&last)).await;
    let resumed = audit_m.read_ticks(&mut moved, 20).await;
    assert!(
        audit_m.resyncs.is_empty(),
        "resumed, not resynced: {:?}",
        audit_m.resyncs
    );
    assert_eq!(resumed[0].event, "tick", "replay starts with the frame after {last}");
    // Exactly the frames after `last`, one after the other (each audited against the seeded
    // market's replay by `read_ticks`), and the ones A's client saw, where the two overlap.
    let seq = |id: &str| id.rsplit_once('-').unwrap().1.parse::<u64>().unwrap();
    let resumed_seqs: Vec<u64> = resumed.iter().map(|e| seq(&e.id)).collect();
    let first = seq(&last) + 1;
    assert_eq!(resumed_seqs, (first..first + resumed.len() as u64).collect::<Vec<_>>());
    for e in &later {
        if let Some(r) = resumed.iter().find(|r| r.id == e.id) {
            assert_eq!(r.data, e.data, "{}: the same frame as A's client", e.id);
        }
    }

    // Killing node A leaves B's clients streaming, untouched.
    a.stop();
    let after_kill = audit_b.read_ticks(&mut on_b, 30).await;
    assert!(after_kill.iter().all(|e| e.event == "tick"));
    assert!(audit_b.resyncs.is_empty());
    let (status, health) = b.health().await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "{health}");
    assert_eq!(health["role"], "edge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_nothing_still_in_the_stream_or_resyncs() {
    let mut redis = Redis::start().await;
    let _generator = TestNode::start(&redis, "generator").await;
    let edge = TestNode::start(&redis, "edge").await;
    let mut events = edge.stream(None).await;
    let mut audit = Audit::new();
    audit.read_ticks(&mut events, 10).await;

    redis.stop().await;
    // The edge notices, says so, and keeps its clients connected. What it had applied when it
    // lost Redis decides, below, whether frames are really gone.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let applied = loop {
        let (status, health) = edge.health().await;
        if status == 503 {
            assert_eq!(health["status"], "degraded");
            assert_eq!(health["bus"]["connected"], false);
            assert_eq!(health["bus"]["trouble"], "unreachable", "{health}");
            // Outsiders learn the class, not where Redis is or what it said.
            assert!(!health.to_string().contains("127.0.0.1"), "{health}");
            assert!(health["bus"].get("error").is_none() && health["bus"].get("address").is_none());
            break health["seq"].as_u64().unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/healthz never reported the lost bus"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let metrics = reqwest::get(format!("{}/metrics", edge.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tickertape_bus_connected 0"), "{metrics}");
    // The market went on meanwhile (the generator queues its frames).
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.launch().await;

    // Every frame follows on, audited, with at most an explicit resync.
    audit.read_ticks(&mut events, 40).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while edge.health().await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the edge did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Seamless when the new Redis holds the frame after the last one the edge applied (the
    // generator writes what it queued while Redis was away); a resync exactly when it does not,
    // because frames the edge had not read yet died with the old Redis.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let oldest: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("tickertape:frames")
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut c)
        .await
        .unwrap();
    let oldest = oldest.ids[0].id.rsplit_once('-').unwrap().1.parse::<u64>().unwrap();
    let gone = oldest > applied + 1;
    assert_eq!(
        audit.resyncs.len(),
        usize::from(gone),
        "applied {applied}, the new Redis starts at {oldest}: {:?}",
        audit.resyncs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generator_restart_is_a_new_epoch_and_clients_resync() {
    let redis = Redis::start().await;
    let generator = TestNode::start(&redis, "generator").await;
    let edge = TestNode::start(&redis, "edge").await;
    let mut events = edge.stream(None).await;
    let mut audit = Audit::new();
    audit.read_ticks(&mut events, 10).await;
    let old = audit.ticks.last().unwrap().clone();

    generator.stop();
    drop(generator);
    let _generator = TestNode::start(&redis, "generator").await;
    // The same seeded market starts over in a new epoch: a resync, then its frames, audited.
    let mut audit_new = Audit::new();
    loop {
        let event = next(&mut events).await;
        if event.event == "resync" {
            audit_new.check(&event);
            break;
        }
        audit.check(&event);
    }
    let resync = audit_new.resyncs[0].clone();
    let epoch = |id: &str| u64::from_str_radix(id.split_once('-').unwrap().0, 16).unwrap();
    assert!(epoch(&resync) > epoch(&old), "epochs increase: {old} then {resync}");
    audit_new.read_ticks(&mut events, 20).await;

    // A client that comes back with an id of the old epoch is resynced too.
    let mut late = edge.stream(Some(&old)).await;
    let first = next(&mut late).await;
    assert_eq!(first.event, "resync");
    assert!(epoch(&first.id) == epoch(&resync));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_in_one_node_publishes_through_redis_and_a_late_edge_backfills() {
    let redis = Redis::start().await;
    let all = TestNode::start(&redis, "all").await;
    let mut events = all.stream(None).await;
    let mut audit = Audit::new();
    let seen = audit.read_ticks(&mut events, 30).await;

    // An edge that joins now holds the past frames: a client resumes from the first tick.
    let edge = TestNode::start(&redis, "edge").await;
    let hub = edge.hub.as_ref().unwrap();
    assert!(hub.history_len() >= 30, "backfilled {} frames", hub.history_len());
    let first = seen.iter().position(|e| e.event == "tick").unwrap();
    let mut resumed = edge.stream(Some(&seen[first].id)).await;
    let mut audit_r = Audit::new();
    audit_r.at = Some({
        let (e, s) = seen[first].id.split_once('-').unwrap();
        (e.to_string(), s.parse().unwrap())
    });
    let replayed = audit_r.read_ticks(&mut resumed, seen.len() - first - 1).await;
    assert_eq!(
        ids(&replayed),
        ids(&seen[first + 1..]),
        "the new edge replays what A sent"
    );
    let (_, health) = all.health().await;
    assert_eq!(health["role"], "all");
}

/// Waits (within [`PATIENCE`]) until `done` holds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_edge_draws_the_same_charts_with_the_markets_past_however_late_it_joined() {
    use app::wire::protocol::Interval;
    use tickertape_server::hub::MAX_KEPT;
    let redis = Redis::start().await;
    // An hour of past; candles rewritten every 50 frames (a second at 50 Hz).
    let settings = ["--past-hours", "1", "--history-frames", "100"];
    let generator = TestNode::start_with(&redis, "generator", &settings).await;
    let early = TestNode::start_with(&redis, "edge", &settings).await;
    // The late edge starts from candles the generator rewrote after the early edge joined (it
    // rewrites them every 50 frames here), not from the ones both could have had.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    until("candles rewritten after 50 live frames", async || {
        let bytes: Option<Vec<u8>> = redis::cmd("GET")
            .arg("tickertape:candles")
            .query_async(&mut conn)
            .await
            .unwrap();
        let record: serde_json::Value = serde_json::from_slice(&bytes.unwrap_or_default()).unwrap_or_default();
        let seq = record["id"]
            .as_str()
            .and_then(|id| id.split_once('-')?.1.parse::<u64>().ok());
        seq.is_some_and(|seq| seq > 50)
    })
    .await;
    let late = TestNode::start_with(&redis, "edge", &settings).await;
    let (early, late) = (early.hub.clone().unwrap(), late.hub.clone().unwrap());
    let joined = late.last_id().seq;
    until("frames after the late edge joined", async || {
        late.last_id().seq > joined + 20
    })
    .await;
    // The market stops; both edges settle on its last frame.
    generator.stop();
    let mut last = (early.last_id(), 0);
    until("both edges at the same last frame, for a second", async || {
        let now = early.last_id();
        last = if now == last.0 { (now, last.1 + 1) } else { (now, 0) };
        last.1 >= 50 && late.last_id() == now
    })
    .await;
    for instrument in early.instruments() {
        for interval in Interval::ALL {
            let a = early.history(&instrument.symbol, interval, MAX_KEPT).unwrap();
            let b = late.history(&instrument.symbol, interval, MAX_KEPT).unwrap();
            let differ = a.candles.iter().zip(&b.candles).find(|(x, y)| x != y);
            assert_eq!(
                (a.seq, a.candles.len(), differ),
                (b.seq, b.candles.len(), None),
                "{} {interval}",
                instrument.symbol
            );
        }
        // The same books: the late edge's from the checkpoint and the frames after it, the
        // early edge's from every frame since it joined; each checked against the market's
        // checksums as it went.
        let (a, b) = (
            early.book(&instrument.symbol).unwrap(),
            late.book(&instrument.symbol).unwrap(),
        );
        assert_eq!(a, b, "{}", instrument.symbol);
        assert_eq!((a.bids.len(), a.asks.len()), (20, 20));
    }
    assert_eq!(
        (
            early.metrics().book_mismatches.get(),
            late.metrics().book_mismatches.get()
        ),
        (0, 0)
    );
    // The past is there: an hour of one-minute candles, consecutive and consistent.
    let m1 = early.history("AAPL", Interval::M1, MAX_KEPT).unwrap().candles;
    assert!(m1.len() >= 60, "{} one-minute candles", m1.len());
    assert!(m1.windows(2).all(|w| w[1].t == w[0].t + 60_000));
    assert!(
        m1.iter()
            .all(|c| c.low <= c.open.min(c.close) && c.open.max(c.close) <= c.high)
    );
}

/// A WebSocket or long-poll event (JSON `{type, id, data}`) as the SSE event it stands for.
fn from_json(message: &serde_json::Value) -> eventsource_stream::Event {
    eventsource_stream::Event {
        event: message["type"].as_str().unwrap().to_string(),
        id: message["id"].as_str().unwrap().to_string(),
        data: message["data"].to_string(),
        retry: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_and_long_polling_resume_across_edges_too() {
    let redis = Redis::start().await;
    let _generator = TestNode::start(&redis, "generator").await;
    let a = TestNode::start(&redis, "edge").await;
    let b = TestNode::start(&redis, "edge").await;
    let mut on_a = a.stream(None).await;
    let mut audit = Audit::new();
    audit.read_ticks(&mut on_a, 5).await;
    let at = audit.at.clone();
    let last = audit.ticks.last().unwrap().clone();

    // Long polling on B after A's last id: the frames that follow, no resync.
    let mut polled = Audit::new();
    polled.at = at.clone();
    let mut after = last.clone();
    while polled.ticks.len() < 10 {
        let (events, next) = support::poll(&b.base, &format!("after={after}&timeout_ms=5000")).await;
        for event in &events {
            polled.check(&from_json(event));
        }
        after = next;
    }
    assert!(polled.resyncs.is_empty(), "{:?}", polled.resyncs);

    // A WebSocket on B resuming from the same id: the same frames.
    let mut ws = support::ws_open(&format!("{}/api/ws?last_event_id={last}", b.base)).await;
    let mut socket = Audit::new();
    socket.at = at;
    while socket.ticks.len() < 10 {
        let message = support::ws_next(&mut ws).await.expect("socket open");
        socket.check(&from_json(&message));
    }
    assert!(socket.resyncs.is_empty(), "{:?}", socket.resyncs);
    assert_eq!(socket.ticks, polled.ticks, "one sequence on every transport");
}

/// A signed-in user's change made through edge A reaches their stream on edge B (pushed through
/// the bus, within a frame or two of a 50 Hz market), a client that moves from B to A resumes
/// their events exactly, and a sign-out through A closes their stream on B within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_own_events_cross_edges_and_resume_on_any() {
    use reqwest::header::{CONTENT_TYPE, COOKIE};
    let redis = Redis::start().await;
    let pg = support::Postgres::start();
    let _generator = TestNode::start(&redis, "generator").await;
    let a = TestNode::edge_with_accounts(&redis, &pg.url()).await;
    let b = TestNode::edge_with_accounts(&redis, &pg.url()).await;
    let client = reqwest::Client::new();
    let cookie = support::session(&a.base, "ada").await;
    let put = |symbols: &'static str| {
        let (client, url, cookie) = (
            client.clone(),
            format!("{}/api/watchlists/Main", a.base),
            cookie.clone(),
        );
        async move {
            let resp = client
                .put(url)
                .header(CONTENT_TYPE, "application/json")
                .header(COOKIE, cookie)
                .body(format!(r#"{{"symbols":{symbols}}}"#))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    let open = |base: String, last: Option<String>| {
        let (client, cookie) = (client.clone(), cookie.clone());
        async move {
            let mut req = client.get(format!("{base}/api/stream")).header(COOKIE, cookie);
            if let Some(last) = last {
                req = req.header("Last-Event-ID", last);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let events: Events = Box::pin(eventsource_stream::Eventsource::eventsource(resp.bytes_stream()));
            events
        }
    };
    /// Reads until the next `account` event (in time): it and the last id before it.
    async fn next_account(events: &mut Events) -> (eventsource_stream::Event, String) {
        let mut last = String::new();
        tokio::time::timeout(PATIENCE, async {
            loop {
                let event = next(events).await;
                if event.event == "account" {
                    return (event, last);
                }
                last = event.id.clone();
            }
        })
        .await
        .expect("an account event in time")
    }
    let mut on_b = open(b.base.clone(), None).await;
    next(&mut on_b).await;
    let sent = std::time::Instant::now();
    put(r#"["AAPL"]"#).await;
    let (event, _) = next_account(&mut on_b).await;
    let took = sent.elapsed();
    assert!(event.id.ends_with("~1"), "{}", event.id);
    assert!(event.data.contains(r#""symbols":["AAPL"]"#), "{}", event.data);
    assert!(took < Duration::from_secs(1), "through the bus in {took:?}");
    // The client moves to A while two changes are made; it resumes with its last id.
    let (last, _) = (event.id.clone(), drop(on_b));
    put(r#"["MSFT"]"#).await;
    put(r#"["TSLA"]"#).await;
    let mut on_a = open(a.base.clone(), Some(last)).await;
    let (second, _) = next_account(&mut on_a).await;
    let (third, _) = next_account(&mut on_a).await;
    assert!(second.id.ends_with("~2") && second.data.contains("MSFT"), "{second:?}");
    assert!(third.id.ends_with("~3") && third.data.contains("TSLA"), "{third:?}");
    assert!(!third.data.contains("resync"), "{third:?}");
    // Sign-out through A closes the session's stream on B.
    let mut on_b = open(b.base.clone(), Some(third.id.clone())).await;
    next(&mut on_b).await;
    let out = client
        .post(format!("{}/api/logout", a.base))
        .header(CONTENT_TYPE, "application/json")
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let closed = tokio::time::timeout(Duration::from_secs(1), async {
        use futures_util::StreamExt;
        while let Some(Ok(_)) = on_b.next().await {}
    })
    .await;
    assert!(
        closed.is_ok(),
        "B's stream of the ended session is still open after a second"
    );
}

/// Scaled out, an alert made through an edge is evaluated by the generator (the bus tells it of
/// the new alert) and its notification reaches the owner's stream on the edge (the bus carries
/// it back); the edge then shows the alert triggered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_made_through_an_edge_fires_on_the_generator_and_reaches_the_edge() {
    use reqwest::header::{CONTENT_TYPE, COOKIE};
    let redis = Redis::start().await;
    let pg = support::Postgres::start();
    let _generator = TestNode::with_accounts(&redis, "generator", &pg.url()).await;
    let edge = TestNode::edge_with_accounts(&redis, &pg.url()).await;
    let client = reqwest::Client::new();
    let cookie = support::session(&edge.base, "ada").await;
    let resp = client
        .get(format!("{}/api/stream", edge.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let mut events: Events = Box::pin(eventsource_stream::Eventsource::eventsource(resp.bytes_stream()));
    next(&mut events).await;
    let made = client
        .post(format!("{}/api/alerts", edge.base))
        .header(CONTENT_TYPE, "application/json")
        .header(COOKIE, &cookie)
        .body(r#"{"symbol":"AAPL","condition":"greater_than","price":1,"frequency":"once"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let alert: serde_json::Value = made.json().await.unwrap();
    let notification = tokio::time::timeout(PATIENCE, async {
        loop {
            let event = next(&mut events).await;
            if event.event == "notification" {
                return event;
            }
        }
    })
    .await
    .expect("a notification through the bus in time");
    let entry: serde_json::Value = serde_json::from_str(&notification.data).unwrap();
    assert_eq!(
        (&entry["alert"], entry["symbol"].as_str()),
        (&alert["id"], Some("AAPL"))
    );
    let alerts: serde_json::Value = client
        .get(format!("{}/api/alerts", edge.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts[0]["state"], "triggered", "{alerts}");
}
