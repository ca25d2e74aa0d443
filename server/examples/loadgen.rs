//! Load generator: opens K clients against a running Tickertape over SSE, WebSocket or long
//! polling, checks every event, and reports what a capacity plan needs.
//!
//! ```text
//! cargo run --release -p tickertape-server --example loadgen -- \
//!     --url http://127.0.0.1:3000 --clients 1000 --duration 60 --transport sse --server-pid "$(pidof tickertape)"
//! ```
//!
//! Per run it reports: events delivered per second; lost and duplicated events (must be 0),
//! found by comparing every client's sequence numbers with a replay of the seeded market
//! (`--seed`; without it, with the union of what all clients saw), frames covered by a
//! `resync` excepted; resyncs; latency from each event's `ts` (HDR
//! histogram: p50, p99, p99.9, max) twice: to the event's *arrival* at the client's socket (the
//! kernel's receive timestamp, `SO_TIMESTAMPNS`; SSE and WebSocket) and to the moment this process
//! *handled* it; wire bytes per event; this process's own CPU per event (when it exceeds the
//! server's, the load generator is what paces a burst, and the handled latency shows it, not the
//! arrival latency); and, given `--server-pid`, the server's CPU-seconds per million delivered
//! events, its RSS per connection and the kernel's memory per connection (from /proc).
//! The SSE and WebSocket clients are plain sockets with `httparse` for the response head
//! (close-delimited or chunked bodies; WebSocket frames read with tungstenite's header parser),
//! so they cost little per event and can read the kernel's timestamps.
//! `--faults` makes clients drop their connection at random moments and resume with their last
//! id (Last-Event-ID / last_event_id / after): lost and duplicated must still be 0.
//! Several `--url`s (edge nodes of one market bus, comma-separated) spread the clients
//! round-robin; a client that reconnects resumes on the *next* node, so `--faults` then checks
//! resuming across nodes. With one `--server-pid` per URL the report has each node's share.
//! `BENCHMARKS.md` has the scenarios and results.

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use rand::Rng;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Sse,
    Ws,
    Poll,
    /// A Socket.IO 4 server over its WebSocket transport (the harness's peer,
    /// `server/benches/peers/socketio.mjs`), carrying the same events as Tickertape's WebSocket.
    #[value(name = "socketio")]
    SocketIo,
}

#[derive(Parser, Clone, Debug)]
// A later option wins, so `scenarios.sh 1 --duration 30` shortens a scenario.
#[command(about = "Tickertape load generator", args_override_self = true)]
pub struct Args {
    /// Base URL of the server, or comma-separated URLs of several nodes of one market.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Seconds of measurement, after the ramp-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds over which the clients connect (no connect storm).
    #[arg(long, default_value_t = 5.0)]
    pub ramp: f64,
    #[arg(long, value_enum, default_value_t = Kind::Sse)]
    pub transport: Kind,
    /// Comma-separated symbols each client subscribes to (default: all).
    #[arg(long)]
    pub symbols: Option<String>,
    /// Comma-separated symbols whose order books and prints each client follows too (`depth=`).
    #[arg(long)]
    pub depth: Option<String>,
    /// The server's MARKET_SEED and TICK_RATE_HZ (default universe): with them, loss is counted
    /// against a replay of the seeded market, so a frame that no client got counts as lost;
    /// without, against the union of what the clients saw.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// Drop connections at random moments and resume with the last id.
    #[arg(long)]
    pub faults: bool,
    /// Mean seconds between drops per client, with --faults.
    #[arg(long, default_value_t = 5.0)]
    pub fault_mean: f64,
    /// The server's process id, to read its CPU time and memory from /proc (one per --url,
    /// comma-separated, for several nodes).
    #[arg(long, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
    /// Comma-separated local addresses to spread client sockets over (e.g. 127.0.0.2,127.0.0.3),
    /// when one address runs out of ephemeral ports.
    #[arg(long)]
    pub source_ips: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Signed-in users (SSE only): each signs up before the run, the clients are shared out
    /// among them round-robin (clients / users tabs each), and each user changes a watchlist
    /// every --change-every seconds, so every tab of theirs gets an `account` event.
    #[arg(long, default_value_t = 0)]
    pub users: usize,
    #[arg(long, default_value_t = 1.0)]
    pub change_every: f64,
    /// Anonymous REST callers beside the streams: each sends `GET --probe-path` every
    /// --change-every seconds (with `--probes 100` and `/healthz`, what a hundred requests a
    /// second cost on their own, the floor under --users' changes).
    #[arg(long, default_value_t = 0)]
    pub probes: usize,
    #[arg(long, default_value = "/healthz")]
    pub probe_path: String,
}

/// What one client saw.
#[derive(Default)]
struct ClientLog {
    /// (epoch, seq) of every tick, snapshot and resync, in arrival order. A generator that
    /// restarts begins a new epoch whose frames count from 1 again.
    ticks: Vec<(u64, u64)>,
    /// (epoch, from, to]: ranges a snapshot or resync legitimately skipped.
    covered: Vec<(u64, u64, u64)>,
    resyncs: u64,
    events: u64,
    events_in_window: u64,
    bytes: u64,
    bytes_in_window: u64,
    /// Tick → arrival at this machine's socket (kernel timestamp; SSE and WebSocket, else as
    /// `handled`).
    latency: Option<Histogram<u64>>,
    /// Tick → this process handling the event.
    handled: Option<Histogram<u64>>,
    connects: u64,
    errors: u64,
    /// Which client this is (its user is `index % users`).
    index: usize,
    /// The numbers of the signed-in user's own events, in arrival order, and whether each was a
    /// resync.
    private: Vec<(u64, bool)>,
    /// The node (index into the URLs) the client is on now, and events in the window per node.
    node: usize,
    by_node: Vec<u64>,
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub transport: String,
    pub clients: usize,
    pub connected: usize,
    pub seconds: f64,
    pub events: u64,
    pub events_per_sec: f64,
    pub lost: u64,
    pub duplicated: u64,
    pub resyncs: u64,
    pub reconnects: u64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_p999: f64,
    pub latency_ms_max: f64,
    /// p50, p99, p99.9, max of tick → handled by the load generator.
    pub handled_latency_ms: [f64; 4],
    /// Fairness: each client's own median latency at arrival, for the best-served client, the
    /// median client and the worst-served one. A server that always writes its clients in the
    /// same order gives the last ones a worse median every time.
    pub client_p50_ms: [f64; 3],
    pub wire_bytes_per_event: f64,
    pub server_cpu_s_per_million_events: Option<f64>,
    /// This process's own CPU per event: when it exceeds the server's, the load generator, not
    /// the server, sets the pace at which a burst of events is taken in (and so the latency).
    pub load_generator_cpu_s_per_million_events: Option<f64>,
    pub server_rss_kb_before: Option<u64>,
    pub server_rss_kb_connected: Option<u64>,
    pub server_rss_kb_per_connection: Option<f64>,
    pub tcp_kernel_kb_per_connection_both_ends: Option<f64>,
    /// The kernel's own objects per connection (socket, inode, file, epoll entry: the `Slab:`
    /// line of /proc/meminfo), machine-wide, so both ends of a loopback connection.
    pub kernel_slab_kb_per_connection_both_ends: Option<f64>,
    /// Per node, with several URLs and their server pids.
    pub nodes: Vec<NodeReport>,
    /// With --users: the users' changes, the `account` events the clients got (all of them, not
    /// in `events`), those lost, duplicated, and resyncs among them.
    pub private: Option<PrivateReport>,
}

#[derive(Debug, serde::Serialize)]
pub struct PrivateReport {
    pub users: usize,
    pub changes: u64,
    pub events: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub resyncs: u64,
}

#[derive(Debug, serde::Serialize)]
pub struct NodeReport {
    pub url: String,
    pub events: u64,
    pub cpu_s_per_million_events: Option<f64>,
}

/// The head of every payload: enough to check ids and measure latency without the quotes.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    ts: i64,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: Option<&'a str>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct PollBatch<'a> {
    #[serde(borrow)]
    events: Vec<Wire<'a>>,
    next: String,
}

struct Shared {
    args: Args,
    /// The session cookies of the signed-in users (`tt_session=…`), with --users.
    cookies: Vec<String>,
    urls: Vec<String>,
    window_start: Instant,
    window_end: Instant,
    stop: AtomicBool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl ClientLog {
    /// Records one event that reached this machine at `arrived` (ms since 1970; `None`: now);
    /// returns the new resume id.
    fn record(
        &mut self,
        shared: &Shared,
        kind: &str,
        id: &str,
        data: &str,
        wire_bytes: usize,
        arrived: Option<i64>,
    ) -> Option<String> {
        if kind == "account" {
            let private = id.split_once('~')?.1.parse().ok()?;
            self.private.push((private, data.contains(r#""resync":true"#)));
            return Some(id.to_string());
        }
        let head: Head = serde_json::from_str(data).ok()?;
        let epoch = u64::from_str_radix(id.split_once('-')?.0, 16).ok()?;
        let now = Instant::now();
        let in_window = now >= shared.window_start && now < shared.window_end;
        self.events += 1;
        self.bytes += wire_bytes as u64;
        if in_window {
            self.events_in_window += 1;
            self.bytes_in_window += wire_bytes as u64;
            if self.by_node.len() <= self.node {
                self.by_node.resize(self.node + 1, 0);
            }
            self.by_node[self.node] += 1;
        }
        match kind {
            "tick" => {
                self.ticks.push((epoch, head.seq));
                if in_window {
                    let handled = now_ms();
                    let since_tick = |at: i64| (at - head.ts).max(0) as u64;
                    let _ = self
                        .latency
                        .get_or_insert_with(|| Histogram::new(3).unwrap())
                        .record(since_tick(arrived.unwrap_or(handled)));
                    let _ = self
                        .handled
                        .get_or_insert_with(|| Histogram::new(3).unwrap())
                        .record(since_tick(handled));
                }
            }
            "snapshot" | "resync" => {
                if kind == "resync" {
                    self.resyncs += 1;
                }
                let prev = match self.ticks.last() {
                    Some(&(e, seq)) if e == epoch => seq,
                    _ => 0,
                };
                self.covered.push((epoch, prev, head.seq));
                // A snapshot stands for its frame: later ticks continue after it.
                self.ticks.push((epoch, head.seq));
            }
            _ => return None,
        }
        Some(id.to_string())
    }
}

/// Runs the load and returns the report.
pub async fn run(args: Args) -> Report {
    let ramp = Duration::from_secs_f64(args.ramp);
    let start = Instant::now();
    let urls: Vec<String> = args.url.split(',').map(|u| u.trim().to_string()).collect();
    let cookies = sign_up(&urls[0], args.users).await;
    let start = if args.users > 0 { Instant::now() } else { start };
    let shared = Arc::new(Shared {
        cookies,
        urls,
        window_start: start + ramp,
        window_end: start + ramp + Duration::from_secs_f64(args.duration),
        args: args.clone(),
        stop: AtomicBool::new(false),
    });
    let source_ips: Vec<Option<IpAddr>> = match &args.source_ips {
        Some(list) => list
            .split(',')
            .map(|ip| Some(ip.trim().parse().expect("--source-ips: an IP address")))
            .collect(),
        None => vec![None],
    };
    let http: Vec<reqwest::Client> = source_ips
        .iter()
        .map(|ip| {
            reqwest::Client::builder()
                .local_address(*ip)
                .tcp_nodelay(true)
                .build()
                .expect("HTTP client")
        })
        .collect();

    let pids = args.server_pid.clone();
    let rss_before = sum(pids.iter().map(|&p| rss_kb(p)));
    let sock_before = tcp_kernel_pages();
    let slab_before = slab_kb();
    let mut tasks = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let delay = ramp.mul_f64(i as f64 / args.clients.max(1) as f64);
        let shared = shared.clone();
        let client = http[i % http.len()].clone();
        let ip = source_ips[i % source_ips.len()];
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until((start + delay).into()).await;
            client_loop(shared, client, ip, i).await
        }));
    }
    let changes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let user_changes = shared.cookies.iter().cloned().map(Call::Change);
    let probes = (0..args.probes).map(|_| Call::Probe(args.probe_path.clone()));
    let callers: Vec<_> = user_changes
        .chain(probes)
        .map(|call| tokio::spawn(call_loop(shared.clone(), http[0].clone(), call, changes.clone())))
        .collect();
    tokio::time::sleep_until(shared.window_start.into()).await;
    let rss_connected = sum(pids.iter().map(|&p| rss_kb(p)));
    let sock_connected = tcp_kernel_pages();
    let slab_connected = slab_kb();
    let cpu_start: Vec<Option<f64>> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    let own_start = cpu_seconds(std::process::id());
    tokio::time::sleep_until(shared.window_end.into()).await;
    let cpu_end: Vec<Option<f64>> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    let own_cpu = own_start.zip(cpu_seconds(std::process::id())).map(|(a, b)| b - a);
    let cpu: Vec<Option<f64>> = cpu_start
        .iter()
        .zip(&cpu_end)
        .map(|(a, b)| Some(b.as_ref()? - a.as_ref()?))
        .collect();
    shared.stop.store(true, Ordering::Relaxed);

    let mut logs = Vec::with_capacity(tasks.len());
    for t in tasks {
        logs.push(t.await.unwrap_or_default());
    }
    for caller in callers {
        let _ = caller.await;
    }
    let mut report = summarize(
        &args,
        &shared.urls,
        &logs,
        Cpu {
            servers: cpu,
            own: own_cpu,
        },
        Memory {
            rss: rss_before.zip(rss_connected),
            tcp_pages: sock_before.zip(sock_connected),
            slab_kb: slab_before.zip(slab_connected),
        },
    );
    if args.users > 0 {
        report.private = Some(private_loss(&logs, args.users, changes.load(Ordering::Relaxed)));
    }
    report
}

/// Signs up `users` users at `base` (names unique to this run); their session cookies.
async fn sign_up(base: &str, users: usize) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut cookies = Vec::with_capacity(users);
    let run = rand::random::<u32>();
    for i in 0..users {
        let resp = http
            .post(format!("{base}/api/signup"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"username":"lg{run:x}u{i}","password":"load generator"}}"#))
            .send()
            .await
            .expect("sign up");
        assert_eq!(resp.status(), 201, "signing up a load generator user");
        let cookie = resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        cookies.push(cookie);
    }
    cookies
}

/// What a REST caller of the load sends.
enum Call {
    /// A signed-in user's change to their watchlist (the session cookie).
    Change(String),
    /// An anonymous `GET` of this path.
    Probe(String),
}

/// One REST caller: a user changing their watchlist, or a probe, every --change-every seconds
/// until the window ends. `changes` counts the changes that succeeded.
async fn call_loop(shared: Arc<Shared>, http: reqwest::Client, call: Call, changes: Arc<std::sync::atomic::AtomicU64>) {
    let every = Duration::from_secs_f64(shared.args.change_every);
    // Never past the end of the run, however long the period.
    let pause = |d: Duration| tokio::time::sleep_until((Instant::now() + d).min(shared.window_end).into());
    // Spread over the period, so the changes do not all land in one frame.
    pause(every.mul_f64(rand::random::<f64>())).await;
    let mut n = 0u64;
    while !shared.stop.load(Ordering::Relaxed) && Instant::now() < shared.window_end {
        n += 1;
        let base = &shared.urls[0];
        match &call {
            Call::Change(cookie) => {
                let symbols = if n.is_multiple_of(2) {
                    r#"["AAPL","MSFT"]"#
                } else {
                    r#"["TSLA"]"#
                };
                let resp = http
                    .put(format!("{base}/api/watchlists/Main"))
                    .header("content-type", "application/json")
                    .header("cookie", cookie)
                    .body(format!(r#"{{"symbols":{symbols}}}"#))
                    .send()
                    .await;
                if resp.is_ok_and(|r| r.status().is_success()) {
                    changes.fetch_add(1, Ordering::Relaxed);
                }
            }
            Call::Probe(path) => {
                if let Ok(resp) = http.get(format!("{base}{path}")).send().await {
                    let _ = resp.bytes().await;
                }
            }
        }
        pause(every).await;
    }
}

/// Private events lost or duplicated: within each client's events, each must follow the one
/// before (a resync may skip ahead, said so in its data; a connection's first may start
/// anywhere).
fn private_loss(logs: &[ClientLog], users: usize, changes: u64) -> PrivateReport {
    let (mut lost, mut duplicated, mut resyncs, mut events) = (0, 0, 0, 0);
    for log in logs {
        events += log.private.len() as u64;
        for pair in log.private.windows(2) {
            let ((a, _), (b, resync)) = (pair[0], pair[1]);
            if resync {
                resyncs += 1;
            } else if b <= a {
                duplicated += 1;
            } else {
                lost += b - a - 1;
            }
        }
    }
    PrivateReport {
        users,
        changes,
        events,
        lost,
        duplicated,
        resyncs,
    }
}

/// CPU-seconds over the measuring window: each server's, and the load generator's own.
struct Cpu {
    servers: Vec<Option<f64>>,
    own: Option<f64>,
}

/// Memory readings (before, connected): the servers' RSS in kB, TCP buffer pages and kernel
/// slab in kB.
struct Memory {
    rss: Option<(u64, u64)>,
    tcp_pages: Option<(u64, u64)>,
    slab_kb: Option<(u64, u64)>,
}

/// The sum of the values, if every one is known.
fn sum<T: std::iter::Sum<T>>(values: impl Iterator<Item = Option<T>>) -> Option<T> {
    let all: Option<Vec<T>> = values.collect();
    all.filter(|v| !v.is_empty()).map(|v| v.into_iter().sum())
}

/// The sequence numbers, up to `end`, of the frames of the seeded market (default universe at
/// `rate`) in which one of `symbols` (default: any) traded: the frames a client must get.
fn replayed_frames(seed: u64, rate: f64, symbols: Option<&str>, end: u64) -> BTreeSet<u64> {
    use tickertape_server::feed::market::{Market, default_universe};
    let mut market = Market::new(default_universe(), seed, rate);
    let instruments = market.instruments();
    let selected: Vec<bool> = instruments
        .iter()
        .map(|i| symbols.is_none_or(|list| list.split(',').any(|s| s.trim().eq_ignore_ascii_case(&i.symbol))))
        .collect();
    (1..=end)
        .filter(|_| market.step().iter().any(|(i, _)| selected[*i]))
        .collect()
}

/// Lost and duplicated frames over every client. Within each epoch, between its first and last
/// event there, a client must see every frame `expected` lists unless a snapshot or resync
/// covered it; an event that does not move (epoch, seq) forward is a duplicate.
fn loss(logs: &[ClientLog], expected: &BTreeMap<u64, BTreeSet<u64>>) -> (u64, u64) {
    let (mut lost, mut duplicated) = (0u64, 0u64);
    let none = BTreeSet::new();
    for log in logs {
        let mut last = (0u64, 0u64);
        // (epoch, first seq, last seq, seqs seen) per epoch, in arrival order.
        let mut spans: Vec<(u64, u64, u64, BTreeSet<u64>)> = Vec::new();
        for &(epoch, seq) in &log.ticks {
            if (epoch, seq) <= last {
                duplicated += 1;
                continue;
            }
            last = (epoch, seq);
            match spans.last_mut() {
                Some(span) if span.0 == epoch => {
                    span.2 = seq;
                    span.3.insert(seq);
                }
                _ => spans.push((epoch, seq, seq, BTreeSet::from([seq]))),
            }
        }
        for (epoch, first, end, seen) in spans {
            let covered = |seq: u64| {
                log.covered
                    .iter()
                    .any(|&(e, from, to)| e == epoch && seq > from && seq <= to)
            };
            lost += expected
                .get(&epoch)
                .unwrap_or(&none)
                .range(first..=end)
                .filter(|&&seq| !seen.contains(&seq) && !covered(seq))
                .count() as u64;
        }
    }
    (lost, duplicated)
}

fn summarize(args: &Args, urls: &[String], logs: &[ClientLog], cpu: Cpu, memory: Memory) -> Report {
    // With the seed, what the server must have sent in every epoch (a restarted generator
    // replays the same market from frame 1): each frame in which a selected instrument traded.
    // Without it, every frame some client saw as a tick.
    let expected: BTreeMap<u64, BTreeSet<u64>> = match args.seed {
        Some(seed) => {
            let end = logs
                .iter()
                .flat_map(|l| &l.ticks)
                .map(|&(_, seq)| seq)
                .max()
                .unwrap_or(0);
            let frames = replayed_frames(seed, args.rate, args.symbols.as_deref(), end);
            let epochs: BTreeSet<u64> = logs.iter().flat_map(|l| &l.ticks).map(|&(e, _)| e).collect();
            epochs.into_iter().map(|e| (e, frames.clone())).collect()
        }
        None => {
            let mut union: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
            for log in logs {
                for &(epoch, seq) in &log.ticks {
                    // Snapshot and resync seqs are in `ticks` too; only real ticks count here.
                    if !log.covered.iter().any(|&(e, _, to)| (e, to) == (epoch, seq)) {
                        union.entry(epoch).or_default().insert(seq);
                    }
                }
            }
            union
        }
    };
    let (lost, duplicated) = loss(logs, &expected);
    let merge = |get: fn(&ClientLog) -> Option<&Histogram<u64>>| {
        let mut all = Histogram::<u64>::new(3).unwrap();
        for h in logs.iter().filter_map(get) {
            let _ = all.add(h);
        }
        all
    };
    let latency = merge(|l| l.latency.as_ref());
    let handled = merge(|l| l.handled.as_ref());
    let quantiles = |h: &Histogram<u64>| {
        let q = |p: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(p) as f64
            }
        };
        [q(0.5), q(0.99), q(0.999), h.max() as f64]
    };
    let mut medians: Vec<u64> = logs
        .iter()
        .filter_map(|l| l.latency.as_ref())
        .filter(|h| !h.is_empty())
        .map(|h| h.value_at_quantile(0.5))
        .collect();
    medians.sort_unstable();
    let client_p50_ms = match (medians.first(), medians.get(medians.len() / 2), medians.last()) {
        (Some(&best), Some(&median), Some(&worst)) => [best as f64, median as f64, worst as f64],
        _ => [0.0; 3],
    };
    let events: u64 = logs.iter().map(|l| l.events_in_window).sum();
    let bytes: u64 = logs.iter().map(|l| l.bytes_in_window).sum();
    let [p50, p99, p999, max] = quantiles(&latency);
    let connected = logs.iter().filter(|l| l.connects > 0).count();
    let per_connection =
        |pair: Option<(u64, u64)>, kb: f64| pair.map(|(a, b)| (b as f64 - a as f64) * kb / connected.max(1) as f64);
    Report {
        transport: format!("{:?}", args.transport).to_lowercase(),
        clients: args.clients,
        connected,
        seconds: args.duration,
        events,
        events_per_sec: events as f64 / args.duration,
        lost,
        duplicated,
        resyncs: logs.iter().map(|l| l.resyncs).sum(),
        reconnects: logs.iter().map(|l| l.connects.saturating_sub(1)).sum(),
        latency_ms_p50: p50,
        latency_ms_p99: p99,
        latency_ms_p999: p999,
        latency_ms_max: max,
        handled_latency_ms: quantiles(&handled),
        client_p50_ms,
        wire_bytes_per_event: if events > 0 { bytes as f64 / events as f64 } else { 0.0 },
        server_cpu_s_per_million_events: sum(cpu.servers.iter().copied())
            .filter(|_| events > 0)
            .map(|s| s / events as f64 * 1e6),
        load_generator_cpu_s_per_million_events: cpu.own.filter(|_| events > 0).map(|s| s / events as f64 * 1e6),
        server_rss_kb_before: memory.rss.map(|(a, _)| a),
        server_rss_kb_connected: memory.rss.map(|(_, b)| b),
        server_rss_kb_per_connection: per_connection(memory.rss, 1.0),
        tcp_kernel_kb_per_connection_both_ends: per_connection(memory.tcp_pages, page_kb()),
        kernel_slab_kb_per_connection_both_ends: per_connection(memory.slab_kb, 1.0),
        nodes: if urls.len() > 1 {
            urls.iter()
                .enumerate()
                .map(|(n, url)| {
                    let events: u64 = logs.iter().map(|l| l.by_node.get(n).copied().unwrap_or(0)).sum();
                    NodeReport {
                        url: url.clone(),
                        events,
                        cpu_s_per_million_events: cpu
                            .servers
                            .get(n)
                            .copied()
                            .flatten()
                            .filter(|_| events > 0)
                            .map(|s| s / events as f64 * 1e6),
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
        private: None,
    }
}

/// One client: connect, read, (with --faults) drop at random and resume, until the end.
async fn client_loop(shared: Arc<Shared>, http: reqwest::Client, ip: Option<IpAddr>, index: usize) -> ClientLog {
    let mut log = ClientLog {
        node: index % shared.urls.len(),
        index,
        ..ClientLog::default()
    };
    let mut first = true;
    let mut last_id: Option<String> = None;
    while !shared.stop.load(Ordering::Relaxed) && Instant::now() < shared.window_end {
        let drop_after = shared.args.faults.then(|| {
            let u: f64 = rand::rng().random_range(f64::EPSILON..1.0);
            Duration::from_secs_f64(-u.ln() * shared.args.fault_mean)
        });
        let deadline = match drop_after {
            Some(d) => (Instant::now() + d).min(shared.window_end),
            None => shared.window_end,
        };
        // Every reconnection resumes on the next node.
        if !first {
            log.node = (log.node + 1) % shared.urls.len();
        }
        first = false;
        let base = shared.urls[log.node].clone();
        let result = tokio::time::timeout_at(deadline.into(), async {
            match shared.args.transport {
                Kind::Sse => sse(&shared, &base, ip, &mut log, &mut last_id).await,
                Kind::Ws => ws(&shared, &base, ip, &mut log, &mut last_id).await,
                Kind::SocketIo => socketio(&shared, &base, ip, &mut log, &mut last_id).await,
                Kind::Poll => poll(&shared, &base, &http, &mut log, &mut last_id).await,
            }
        })
        .await;
        if let Ok(Err(())) = result {
            log.errors += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    log
}

fn query(shared: &Shared, extra: &[(&str, &str)]) -> String {
    let mut parts: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Some(symbols) = &shared.args.symbols {
        parts.push(format!("symbols={symbols}"));
    }
    if let Some(depth) = &shared.args.depth {
        parts.push(format!("depth={depth}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// SSE over a plain socket: the request written by hand, the response head parsed with
/// `httparse`, a chunked body de-chunked ([`Dechunk`]), events split at blank lines
/// ([`SseSplitter`]). The kernel stamps every read with the time its bytes reached this socket
/// (`SO_TIMESTAMPNS`): an event's arrival time is the stamp of the read that completed it, so
/// the arrival latency leaves out how long this process took to get round to it.
async fn sse(
    shared: &Shared,
    base: &str,
    ip: Option<IpAddr>,
    log: &mut ClientLog,
    last_id: &mut Option<String>,
) -> Result<(), ()> {
    let (tcp, raw, chunked) = stamped_request(ip, base, 200, |host| {
        let mut request = format!(
            "GET /api/stream{} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n",
            query(shared, &[])
        );
        if !shared.cookies.is_empty() {
            request.push_str(&format!(
                "Cookie: {}\r\n",
                shared.cookies[log.index % shared.cookies.len()]
            ));
        }
        if let Some(id) = last_id.as_ref() {
            request.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        request.push_str("\r\n");
        request
    })
    .await?;
    let mut chunk = vec![0; 16 * 1024];
    log.connects += 1;
    let mut dechunk = chunked.then(Dechunk::default);
    let mut splitter = SseSplitter::default();
    let mut bytes = &raw[..];
    let mut arrived = now_ms();
    loop {
        match dechunk.as_mut() {
            Some(d) => splitter.push(&d.push(bytes)?),
            None => splitter.push(bytes),
        }
        while let Some(event) = splitter.next_event() {
            if let Some(id) = log.record(shared, &event.event, &event.id, &event.data, event.wire, Some(arrived)) {
                *last_id = Some(id);
            }
        }
        let (n, stamped) = stamp::read(&tcp, &mut chunk).await.map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        arrived = stamped.unwrap_or_else(now_ms);
        bytes = &chunk[..n];
    }
}

/// Connects to the node at `base` (from `ip` if given) with kernel receive stamps on, sends the
/// request `request` writes for the host, and reads the response head: `Err` unless its status
/// is `status`. Returns the socket, the bytes read past the head, and whether the body is chunked.
async fn stamped_request(
    ip: Option<IpAddr>,
    base: &str,
    status: u16,
    request: impl FnOnce(&str) -> String,
) -> Result<(tokio::net::TcpStream, Vec<u8>, bool), ()> {
    use tokio::io::AsyncWriteExt;
    let host = base.split('/').nth(2).ok_or(())?;
    let mut tcp = connect(ip, host).await?;
    stamp::enable(&tcp).map_err(|_| ())?;
    tcp.write_all(request(host).as_bytes()).await.map_err(|_| ())?;
    let mut raw = Vec::with_capacity(8192);
    let mut chunk = vec![0; 16 * 1024];
    loop {
        let (n, _) = stamp::read(&tcp, &mut chunk).await.map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        raw.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut slots);
        if let httparse::Status::Complete(len) = resp.parse(&raw).map_err(|_| ())? {
            if resp.code != Some(status) {
                return Err(());
            }
            let chunked = resp.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("transfer-encoding")
                    && String::from_utf8_lossy(h.value)
                        .to_ascii_lowercase()
                        .contains("chunked")
            });
            raw.drain(..len);
            return Ok((tcp, raw, chunked));
        }
    }
}

/// A TCP connection to `host` (`ip:port`), from `ip` when given.
async fn connect(ip: Option<IpAddr>, host: &str) -> Result<tokio::net::TcpStream, ()> {
    let addr = tokio::net::lookup_host(host).await.map_err(|_| ())?.next().ok_or(())?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|_| ())?;
    if let Some(ip) = ip {
        socket.bind((ip, 0).into()).map_err(|_| ())?;
    }
    socket.connect(addr).await.map_err(|_| ())
}

/// Undoes HTTP/1.1 chunked framing, fed the body in pieces of any size.
#[derive(Default)]
struct Dechunk {
    pending: Vec<u8>,
    /// Bytes left in the current chunk's data, then its CRLF.
    left: Option<usize>,
}

impl Dechunk {
    /// The payload bytes in `input`; `Err` at the last chunk or on malformed framing.
    fn push(&mut self, input: &[u8]) -> Result<Vec<u8>, ()> {
        self.pending.extend_from_slice(input);
        let mut out = Vec::with_capacity(self.pending.len());
        let mut at = 0;
        loop {
            match self.left {
                None => {
                    let Some(end) = self.pending[at..].windows(2).position(|w| w == b"\r\n") else {
                        break;
                    };
                    let line = std::str::from_utf8(&self.pending[at..at + end]).map_err(|_| ())?;
                    let size =
                        usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).map_err(|_| ())?;
                    if size == 0 {
                        return Err(());
                    }
                    at += end + 2;
                    self.left = Some(size + 2);
                }
                Some(left) => {
                    let available = self.pending.len() - at;
                    if available == 0 {
                        break;
                    }
                    let take = left.min(available);
                    // The last two bytes of a chunk are its CRLF, not payload.
                    let data_end = take.min(left.saturating_sub(2));
                    out.extend_from_slice(&self.pending[at..at + data_end]);
                    at += take;
                    self.left = if take == left { None } else { Some(left - take) };
                }
            }
        }
        self.pending.drain(..at);
        Ok(out)
    }
}

/// One SSE event: its fields and its size on the wire.
struct SseEvent {
    event: String,
    id: String,
    data: String,
    wire: usize,
}

/// Splits an SSE byte stream into events at blank lines (`\n\n`; Tickertape never sends `\r`).
/// Comments and `retry:` blocks are skipped.
#[derive(Default)]
struct SseSplitter {
    pending: Vec<u8>,
    at: usize,
}

impl SseSplitter {
    fn push(&mut self, bytes: &[u8]) {
        if self.at > 0 {
            self.pending.drain(..self.at);
            self.at = 0;
        }
        self.pending.extend_from_slice(bytes);
    }

    fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let rest = &self.pending[self.at..];
            let end = rest.windows(2).position(|w| w == b"\n\n")?;
            let block = std::str::from_utf8(&rest[..end]).ok();
            self.at += end + 2;
            let Some(block) = block else { continue };
            let mut event = SseEvent {
                event: String::new(),
                id: String::new(),
                data: String::new(),
                wire: end + 2,
            };
            for line in block.split('\n') {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_string(),
                    "id" => event.id = value.to_string(),
                    "data" => event.data.push_str(value),
                    _ => {}
                }
            }
            if !event.event.is_empty() && !event.data.is_empty() {
                return Some(event);
            }
        }
    }
}

/// Kernel receive timestamps on a TCP socket (Linux `SO_TIMESTAMPNS`).
mod stamp {
    use std::io;
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;
    use tokio::net::TcpStream;

    pub fn enable(tcp: &TcpStream) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket and a c_int option value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Reads into `buf`; returns the byte count and, when the kernel gave one, the time (ms
    /// since 1970) the bytes were received.
    pub async fn read(tcp: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<i64>)> {
        loop {
            tcp.readable().await?;
            match tcp.try_io(Interest::READABLE, || recv(tcp.as_raw_fd(), buf)) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    fn recv(fd: i32, buf: &mut [u8]) -> io::Result<(usize, Option<i64>)> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 8];
        // SAFETY: an all-zero msghdr is valid; it then points at `iov` and `control`, which
        // outlive the call, with their true lengths.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: as above; the socket is non-blocking (tokio's), so this never blocks.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut stamp = None;
        // SAFETY: the CMSG_* walk stays within msg_controllen, which the kernel set.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    stamp = Some(ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000);
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Ok((n as usize, stamp))
    }
}

/// Tickertape's WebSocket, read as [`sse`] reads a stream: over a plain socket whose reads the
/// kernel stamps, so an event's arrival time is when its bytes reached this socket, as for SSE.
async fn ws(
    shared: &Shared,
    base: &str,
    ip: Option<IpAddr>,
    log: &mut ClientLog,
    last_id: &mut Option<String>,
) -> Result<(), ()> {
    let q = match last_id.clone() {
        Some(id) => query(shared, &[("last_event_id", &id)]),
        None => query(shared, &[]),
    };
    let mut socket = RawWs::connect(ip, base, &format!("/api/ws{q}")).await?;
    log.connects += 1;
    loop {
        let (text, bytes, arrived) = socket.next_text().await?;
        record_wire(shared, log, last_id, &text, bytes, Some(arrived));
    }
}

/// Socket.IO 4 over its WebSocket transport (Engine.IO v4), as its own client speaks it: the
/// server opens with `0{…}`, the client connects with `40` (answered `40{…}`), pings `2` are
/// answered `3`, and each event is `42["tick",{…}]` with the same object as a Tickertape
/// WebSocket message. No resume: like the plain SSE peer, it only relays live ticks. Read over
/// the same stamped socket as [`ws`].
async fn socketio(
    shared: &Shared,
    base: &str,
    ip: Option<IpAddr>,
    log: &mut ClientLog,
    last_id: &mut Option<String>,
) -> Result<(), ()> {
    let mut socket = RawWs::connect(ip, base, "/socket.io/?EIO=4&transport=websocket").await?;
    log.connects += 1;
    loop {
        let (packet, bytes, arrived) = socket.next_text().await?;
        if packet.starts_with('0') {
            socket.send_text("40").await?;
        } else if packet == "2" {
            socket.send_text("3").await?;
        } else if let Some(event) = packet.strip_prefix(r#"42["tick","#).and_then(|e| e.strip_suffix(']')) {
            record_wire(shared, log, last_id, event, bytes, Some(arrived));
        }
    }
}

/// A client WebSocket over a plain socket with kernel receive stamps ([`stamp`]): the handshake
/// written by hand and checked with `httparse`, the server's frames read with tungstenite's
/// header parser, pings answered with pongs, and text sent masked as a client must.
struct RawWs {
    tcp: tokio::net::TcpStream,
    buffer: Vec<u8>,
    chunk: Vec<u8>,
    /// The stamp of the read that completed the bytes in `buffer`.
    arrived: i64,
}

impl RawWs {
    async fn connect(ip: Option<IpAddr>, base: &str, path: &str) -> Result<Self, ()> {
        let (tcp, buffer, _) = stamped_request(ip, base, 101, |host| {
            format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
        })
        .await?;
        Ok(RawWs {
            tcp,
            buffer,
            chunk: vec![0; 16 * 1024],
            arrived: now_ms(),
        })
    }

    /// One read into the buffer, stamped.
    async fn read(&mut self) -> Result<(), ()> {
        let (n, stamped) = stamp::read(&self.tcp, &mut self.chunk).await.map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        self.arrived = stamped.unwrap_or_else(now_ms);
        self.buffer.extend_from_slice(&self.chunk[..n]);
        Ok(())
    }

    /// The next text message, its size on the wire (frame header included) and when it
    /// arrived; pings are answered on the way, a close or a broken frame ends the socket.
    async fn next_text(&mut self) -> Result<(String, usize, i64), ()> {
        use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
        loop {
            let mut cursor = std::io::Cursor::new(&self.buffer);
            if let Some((header, len)) = FrameHeader::parse(&mut cursor).map_err(|_| ())? {
                let start = cursor.position() as usize;
                let end = start + len as usize;
                if self.buffer.len() >= end {
                    let payload = self.buffer[start..end].to_vec();
                    self.buffer.drain(..end);
                    match header.opcode {
                        // Servers here never fragment a message.
                        OpCode::Data(Data::Text) if header.is_final => {
                            let text = String::from_utf8(payload).map_err(|_| ())?;
                            return Ok((text, end, self.arrived));
                        }
                        OpCode::Control(Control::Ping) => self.send(0x8a, &payload).await?,
                        OpCode::Control(Control::Pong) => {}
                        _ => return Err(()),
                    }
                    continue;
                }
            }
            self.read().await?;
        }
    }

    async fn send_text(&mut self, text: &str) -> Result<(), ()> {
        self.send(0x81, text.as_bytes()).await
    }

    /// Sends one final frame of `first` (FIN and opcode) with `payload`, masked.
    async fn send(&mut self, first: u8, payload: &[u8]) -> Result<(), ()> {
        use tokio::io::AsyncWriteExt;
        // Control frames and the commands here are short: a 7-bit length.
        let len = u8::try_from(payload.len()).ok().filter(|&n| n < 126).ok_or(())?;
        let mask: [u8; 4] = rand::rng().random();
        let mut frame = vec![first, 0x80 | len];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&frame).await.map_err(|_| ())
    }
}

/// Records one event object (`{"type","id","data"}`) that came in a message of `bytes` bytes;
/// anything else (a heartbeat, an error reply) is skipped.
fn record_wire(
    shared: &Shared,
    log: &mut ClientLog,
    last_id: &mut Option<String>,
    json: &str,
    bytes: usize,
    arrived: Option<i64>,
) {
    let Ok(wire) = serde_json::from_str::<Wire>(json) else {
        return;
    };
    let (Some(id), Some(data)) = (wire.id, wire.data) else {
        return;
    };
    if let Some(id) = log.record(shared, wire.kind, id, data.get(), bytes, arrived) {
        *last_id = Some(id);
    }
}

async fn poll(
    shared: &Shared,
    base: &str,
    http: &reqwest::Client,
    log: &mut ClientLog,
    last_id: &mut Option<String>,
) -> Result<(), ()> {
    log.connects += 1;
    loop {
        let q = match last_id.as_ref() {
            Some(id) => query(shared, &[("after", id), ("timeout_ms", "25000")]),
            None => query(shared, &[("timeout_ms", "25000")]),
        };
        let resp = http.get(format!("{base}/api/poll{q}")).send().await.map_err(|_| ())?;
        if !resp.status().is_success() {
            return Err(());
        }
        let body = resp.text().await.map_err(|_| ())?;
        let batch: PollBatch = serde_json::from_str(&body).map_err(|_| ())?;
        let per_event = body.len() / batch.events.len().max(1);
        for wire in &batch.events {
            if let (Some(id), Some(data)) = (wire.id, wire.data) {
                log.record(shared, wire.kind, id, data.get(), per_event, None);
            }
        }
        // The server says where to continue, also after an empty answer.
        *last_id = Some(batch.next);
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
    }
}

fn proc_field(pid: u32, file: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()
}

/// utime + stime of the process, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = proc_field(pid, "stat")?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

fn rss_kb(pid: u32) -> Option<u64> {
    proc_field(pid, "status")?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Pages of memory held by TCP sockets machine-wide (both ends of loopback connections).
fn tcp_kernel_pages() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut it = line.split_whitespace();
    while let Some(word) = it.next() {
        if word == "mem" {
            return it.next()?.parse().ok();
        }
    }
    None
}

/// The kernel's slab memory in kB, machine-wide.
fn slab_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("Slab:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn page_kb() -> f64 {
    4.0
}

fn print(report: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap());
        return;
    }
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"));
    println!("transport            {}", report.transport);
    println!(
        "clients              {} ({} connected)",
        report.clients, report.connected
    );
    println!(
        "events delivered     {} in {:.0} s = {:.0}/s",
        report.events, report.seconds, report.events_per_sec
    );
    println!("lost / duplicated    {} / {}", report.lost, report.duplicated);
    println!("resyncs / reconnects {} / {}", report.resyncs, report.reconnects);
    println!(
        "latency ms           p50 {} | p99 {} | p99.9 {} | max {} (tick → arrival at the client's socket)",
        report.latency_ms_p50, report.latency_ms_p99, report.latency_ms_p999, report.latency_ms_max
    );
    let [p50, p99, p999, max] = report.handled_latency_ms;
    println!(
        "  … handled          p50 {p50} | p99 {p99} | p99.9 {p999} | max {max} (when this process got to the event)"
    );
    let [best, median, worst] = report.client_p50_ms;
    println!("  … per client p50   best {best} | median {median} | worst {worst} (each client's own median)");
    println!("wire bytes / event   {:.0}", report.wire_bytes_per_event);
    println!("server CPU-s / 1M ev {}", opt(report.server_cpu_s_per_million_events));
    let paced_by = match (
        report.load_generator_cpu_s_per_million_events,
        report.server_cpu_s_per_million_events,
    ) {
        (Some(own), Some(server)) if own > server => " (more than the server: this load generator paces the bursts)",
        (Some(_), Some(_)) => " (less than the server)",
        _ => "",
    };
    println!(
        "loadgen CPU-s / 1M ev {}{paced_by}",
        opt(report.load_generator_cpu_s_per_million_events)
    );
    println!(
        "server RSS           {} kB before, {} kB connected, {} kB per connection",
        report.server_rss_kb_before.map_or("n/a".into(), |v| v.to_string()),
        report.server_rss_kb_connected.map_or("n/a".into(), |v| v.to_string()),
        opt(report.server_rss_kb_per_connection)
    );
    println!(
        "TCP kernel memory    {} kB per connection (both ends)",
        opt(report.tcp_kernel_kb_per_connection_both_ends)
    );
    println!(
        "kernel slab          {} kB per connection (both ends: sockets, files, epoll)",
        opt(report.kernel_slab_kb_per_connection_both_ends)
    );
    if let Some(p) = &report.private {
        println!(
            "private events       {} users, {} changes, {} account events; lost / duplicated {} / {}, resyncs {}",
            p.users, p.changes, p.events, p.lost, p.duplicated, p.resyncs
        );
    }
    for node in &report.nodes {
        println!(
            "node {:<24} {} events, {} CPU-s / 1M ev",
            node.url,
            node.events,
            opt(node.cpu_s_per_million_events)
        );
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let json = args.json;
    let report = run(args).await;
    print(&report, json);
    let private_loss = report.private.as_ref().is_some_and(|p| p.lost > 0 || p.duplicated > 0);
    if report.lost > 0 || report.duplicated > 0 || private_loss {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    //! A smoke run so the harness cannot rot: a real server, a few clients, a few seconds, with
    //! random disconnects, on every transport. The heavy scenarios stay out of CI.
    use super::*;
    use leptos::prelude::LeptosOptions;
    use tickertape_server::feed::generator::Generator;
    use tickertape_server::feed::market::{Market, default_universe};
    use tickertape_server::http::{AppState, router};
    use tickertape_server::hub::{Hub, HubConfig};
    use tickertape_server::metrics::Metrics;
    use tickertape_server::net::serve;
    use tokio_util::sync::CancellationToken;

    /// A server of the seeded market (seed 3, 50 Hz) on port 0, with `accounts` if given: its URL
    /// and what stops it.
    async fn server(accounts: Option<tickertape_server::accounts::Accounts>) -> (String, CancellationToken) {
        let market = Market::new(default_universe(), 3, 50.0);
        let config = HubConfig {
            history_frames: 2_000,
            live_buffer: 512,
        };
        let hub = Arc::new(Hub::for_market(0xbeef, &market, config, Arc::new(Metrics::default())));
        let shutdown = CancellationToken::new();
        tokio::spawn(Generator::new(market, hub.clone()).run(50.0, shutdown.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let options = LeptosOptions::builder().output_name("tickertape").build();
        let state = AppState::new(options, hub, shutdown.clone(), Duration::from_secs(15)).with_accounts(accounts);
        tokio::spawn(serve(
            listener,
            router(state.clone()),
            Some(state.transports.clone()),
            Default::default(),
            shutdown.clone(),
        ));
        (url, shutdown)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smoke_run_loses_and_duplicates_nothing() {
        let (url, shutdown) = server(None).await;

        for transport in [Kind::Sse, Kind::Ws, Kind::Poll] {
            let report = run(Args {
                url: url.clone(),
                clients: 12,
                duration: 2.0,
                ramp: 0.3,
                transport,
                symbols: None,
                depth: None,
                seed: Some(3),
                rate: 50.0,
                faults: true,
                fault_mean: 0.5,
                server_pid: vec![std::process::id()],
                source_ips: None,
                json: false,
                users: 0,
                change_every: 1.0,
                probes: 0,
                probe_path: "/healthz".into(),
            })
            .await;
            assert_eq!(report.connected, 12, "{transport:?}");
            assert!(report.events > 100, "{transport:?}: {report:?}");
            assert!(report.reconnects > 0, "{transport:?}: faults were injected");
            assert_eq!((report.lost, report.duplicated), (0, 0), "{transport:?}: {report:?}");
        }

        // Several URLs (here the same node twice): clients spread over them, move on reconnects,
        // and the report splits the events per node.
        let report = run(Args {
            url: format!("{url},{url}"),
            clients: 8,
            duration: 1.5,
            ramp: 0.2,
            transport: Kind::Sse,
            symbols: None,
            depth: None,
            seed: Some(3),
            rate: 50.0,
            faults: true,
            fault_mean: 0.5,
            server_pid: vec![std::process::id(), std::process::id()],
            source_ips: None,
            json: false,
            users: 0,
            change_every: 1.0,
            probes: 0,
            probe_path: "/healthz".into(),
        })
        .await;
        assert_eq!((report.lost, report.duplicated), (0, 0), "{report:?}");
        assert_eq!(report.nodes.len(), 2);
        assert_eq!(report.nodes.iter().map(|n| n.events).sum::<u64>(), report.events);
        assert!(report.nodes.iter().all(|n| n.events > 0), "{report:?}");
        shutdown.cancel();
    }

    /// Signed-in users: every tab gets its user's changes, none lost or duplicated, across random
    /// disconnects.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn smoke_run_with_signed_in_users_loses_no_private_event() {
        let path = std::env::temp_dir().join(format!("loadgen-smoke-{}.db", std::process::id()));
        let database = tickertape_server::store::parse_database_url(&format!("sqlite://{}", path.display())).unwrap();
        let store = tickertape_server::store::Store::connect(&database).await.unwrap();
        let accounts = tickertape_server::accounts::Accounts::new(store, Duration::from_secs(60), false);
        let (url, shutdown) = server(Some(accounts)).await;
        let report = run(Args {
            url,
            clients: 6,
            duration: 3.0,
            ramp: 0.3,
            transport: Kind::Sse,
            symbols: None,
            depth: None,
            seed: Some(3),
            rate: 50.0,
            faults: true,
            fault_mean: 1.0,
            server_pid: vec![std::process::id()],
            source_ips: None,
            json: false,
            users: 2,
            change_every: 0.2,
            probes: 0,
            probe_path: "/healthz".into(),
        })
        .await;
        shutdown.cancel();
        let _ = std::fs::remove_file(&path);
        assert_eq!((report.lost, report.duplicated), (0, 0), "{report:?}");
        let private = report.private.unwrap();
        assert!(
            private.changes >= 10 && private.events >= private.changes,
            "{private:?}"
        );
        assert_eq!((private.lost, private.duplicated), (0, 0), "{private:?}");
    }
}

#[cfg(test)]
mod parser_tests {
    use super::*;

    const STREAM: &str = "retry: 1000\n:tickertape\n\nevent: snapshot\nid: 7e57-3\ndata: {\"seq\":3}\n\n:\n\nevent: tick\nid: 7e57-4\ndata: {\"seq\":4,\"ts\":1}\n\n";

    fn events(splitter: &mut SseSplitter) -> Vec<(String, String, String, usize)> {
        std::iter::from_fn(|| splitter.next_event())
            .map(|e| (e.event, e.id, e.data, e.wire))
            .collect()
    }

    #[test]
    fn splits_events_wherever_the_reads_end() {
        let whole = {
            let mut s = SseSplitter::default();
            s.push(STREAM.as_bytes());
            events(&mut s)
        };
        assert_eq!(
            whole,
            [
                ("snapshot".into(), "7e57-3".into(), "{\"seq\":3}".into(), 44),
                ("tick".into(), "7e57-4".into(), "{\"seq\":4,\"ts\":1}".into(), 47),
            ]
        );
        for cut in 1..STREAM.len() {
            let mut s = SseSplitter::default();
            s.push(&STREAM.as_bytes()[..cut]);
            let mut got = events(&mut s);
            s.push(&STREAM.as_bytes()[cut..]);
            got.extend(events(&mut s));
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn dechunks_wherever_the_reads_end() {
        // The stream as hyper frames it: one chunk per event, sizes in hex.
        let framed: Vec<u8> = STREAM
            .split_inclusive("\n\n")
            .flat_map(|part| format!("{:x}\r\n{part}\r\n", part.len()).into_bytes())
            .collect();
        for cut in 0..framed.len() {
            let mut d = Dechunk::default();
            let mut out = d.push(&framed[..cut]).unwrap();
            out.extend(d.push(&framed[cut..]).unwrap());
            assert_eq!(String::from_utf8(out).unwrap(), STREAM, "cut at {cut}");
        }
        assert!(
            Dechunk::default().push(b"0\r\n\r\n").is_err(),
            "the last chunk ends the body"
        );
        assert!(Dechunk::default().push(b"zz\r\n").is_err(), "a bad size is an error");
    }
}

#[cfg(test)]
mod loss_tests {
    use super::*;

    fn log(ticks: &[(u64, u64)], covered: &[(u64, u64, u64)]) -> ClientLog {
        ClientLog {
            ticks: ticks.to_vec(),
            covered: covered.to_vec(),
            ..ClientLog::default()
        }
    }

    #[test]
    fn a_new_epoch_starts_counting_again_and_its_resync_covers_only_its_own_frames() {
        // The market traded in frames 1..=6 of every epoch.
        let frames: BTreeSet<u64> = (1..=6).collect();
        let expected = BTreeMap::from([(0xa, frames.clone()), (0xb, frames)]);
        // Epoch a up to 4 (the generator died), then a resync at b-3 and ticks on.
        let whole = log(
            &[(0xa, 1), (0xa, 2), (0xa, 3), (0xa, 4), (0xb, 3), (0xb, 4), (0xb, 5)],
            &[(0xb, 0, 3)],
        );
        assert_eq!(loss(&[whole], &expected), (0, 0));
        // b-4 missing in the new epoch is a loss; so is a-2 in the old one.
        let holes = log(&[(0xa, 1), (0xa, 3), (0xb, 3), (0xb, 5)], &[(0xb, 0, 3)]);
        assert_eq!(loss(&[holes], &expected), (2, 0));
        // Going back, within an epoch or to an older one, is a duplicate.
        let back = log(
            &[(0xa, 1), (0xa, 2), (0xa, 2), (0xb, 3), (0xa, 3), (0xb, 4)],
            &[(0xb, 0, 3)],
        );
        assert_eq!(loss(&[back], &expected), (0, 2));
    }
}
