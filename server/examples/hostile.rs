//! Hostile and broken clients against a running server, for the abuse scenarios of
//! BENCHMARKS.md ("Hostile clients"): sockets that send half a request head and then a byte at a
//! time (slowloris), sockets that send nothing, stream clients that never read, and fuzzed
//! queries. Each mode reports what the server did with them; run it beside `loadgen` to see what
//! they cost everyone else (`server/benches/scenarios.sh slowloris`, ...).
//!
//! `cargo run --release -p tickertape-server --example hostile -- --mode slowloris --sockets 2000`

use clap::{Parser, ValueEnum};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[derive(Parser, Debug)]
struct Args {
    /// The server, host:port.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: String,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Sockets (or, for fuzz, requests).
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    /// Seconds to keep going (slowloris, idle, nonreader).
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Seconds each never-reading stream is held before it is checked and replaced (nonreader):
    /// longer than it takes to fill its socket (about 5 s at 10 Hz) plus the server's write
    /// timeout (10 s), so each is cut first.
    #[arg(long, default_value_t = 20.0)]
    hold: f64,
    /// The server's process id, for its memory (nonreader).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// Half a request head, then one more byte every second.
    Slowloris,
    /// Connect and send nothing.
    Idle,
    /// Open the SSE stream with a tiny receive window and never read.
    Nonreader,
    /// Requests with fuzzed query strings, one connection each; counts 5xx answers.
    Fuzz,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match args.mode {
        Mode::Slowloris | Mode::Idle => holders(&args).await,
        Mode::Nonreader => nonreaders(&args).await,
        Mode::Fuzz => fuzz(&args).await,
    }
}

/// Opens the sockets; each says nothing (idle) or dribbles a head (slowloris) until the server
/// closes it. Reports how many the server closed and how long it took.
async fn holders(args: &Args) {
    // How long each socket waits for the server to close it, from its own connect (a flood of
    // connects is admitted over seconds by the kernel's accept queue).
    let patience = Duration::from_secs_f64(args.duration);
    let slow = matches!(args.mode, Mode::Slowloris);
    let tasks: Vec<_> = (0..args.sockets)
        .map(|_| {
            let addr = args.addr.clone();
            tokio::spawn(async move {
                let Ok(mut tcp) = TcpStream::connect(&addr).await else {
                    return None;
                };
                let opened = Instant::now();
                let deadline = opened + patience;
                if slow {
                    let _ = tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
                }
                let mut buf = [0u8; 512];
                loop {
                    let wait = tokio::time::sleep(Duration::from_secs(1));
                    tokio::select! {
                        read = tcp.read(&mut buf) => match read {
                            // The server closed it (after answering, or not).
                            Ok(0) | Err(_) => return Some(opened.elapsed()),
                            Ok(_) => {}
                        },
                        () = wait => {
                            if Instant::now() > deadline {
                                return None;
                            }
                            if slow && tcp.write_all(b"a").await.is_err() {
                                return Some(opened.elapsed());
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let mut closed = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Some(after) => closed.push(after),
            None => refused += 1,
        }
    }
    closed.sort();
    let max = closed.last().copied().unwrap_or_default();
    println!(
        "{:?}: {} sockets, {} closed by the server (slowest after {:.1} s), {} still open {} s after connecting",
        args.mode,
        args.sockets,
        closed.len(),
        max.as_secs_f64(),
        refused,
        args.duration
    );
}

/// Stream clients that never read, kept up for the whole run: each socket (a 4 KB receive
/// window) opens `/api/stream`, is held for `--hold` seconds without a read, is then checked
/// for whether the server has cut it (its bytes drained, then the end), and is replaced by a
/// new one. Reports the server's memory per stream once the first ones have filled, and how
/// many of the held streams the server had cut.
async fn nonreaders(args: &Args) {
    let before = memory(args.server_pid);
    let end = Instant::now() + Duration::from_secs_f64(args.duration);
    let hold = Duration::from_secs_f64(args.hold);
    let addr: std::net::SocketAddr = args.addr.parse().expect("--addr is ip:port");
    let tasks: Vec<_> = (0..args.sockets)
        .map(|_| {
            tokio::spawn(async move {
                let (mut opened, mut cut) = (0usize, 0usize);
                while Instant::now() + hold <= end {
                    let socket = TcpSocket::new_v4().unwrap();
                    let _ = socket.set_recv_buffer_size(4096);
                    let Ok(mut tcp) = socket.connect(addr).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let _ = tcp.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n").await;
                    opened += 1;
                    tokio::time::sleep(hold).await;
                    cut += usize::from(ended(&mut tcp).await);
                }
                (opened, cut)
            })
        })
        .collect();
    // Long enough for the first sockets to fill (a few seconds at 10 Hz), not for the write
    // timeout.
    tokio::time::sleep(Duration::from_secs_f64(args.duration.min(8.0))).await;
    let during = memory(args.server_pid);
    if let (Some(b), Some(d)) = (before, during) {
        let per = (d.0 as f64 - b.0 as f64) / args.sockets.max(1) as f64;
        let kernel = (d.1 as f64 - b.1 as f64) / args.sockets.max(1) as f64;
        println!(
            "nonreader: {} streams that never read: server RSS {:.1} KB and TCP kernel memory {:.1} KB per stream (both ends), {:.1} KB in all",
            args.sockets,
            per,
            kernel,
            per + kernel
        );
    }
    let (mut opened, mut cut) = (0, 0);
    for task in tasks {
        let (o, c) = task.await.unwrap_or((0, 0));
        (opened, cut) = (opened + o, cut + c);
    }
    println!(
        "nonreader: {opened} streams held {} s each ({} at a time, replaced as they end); {cut} of them cut by the server",
        args.hold, args.sockets
    );
}

/// Whether the server has ended the stream: whatever is queued is read, then the end.
async fn ended(tcp: &mut TcpStream) -> bool {
    let mut sink = vec![0u8; 1 << 16];
    tokio::time::timeout(Duration::from_millis(200), async {
        loop {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// (RSS kB of the server, TCP kernel memory kB machine-wide).
fn memory(pid: Option<u32>) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let sockstat = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = sockstat.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    let pages: u64 = loop {
        if words.next()? == "mem" {
            break words.next()?.parse().ok()?;
        }
    };
    Some((rss, pages * 4))
}

/// Fuzzed query strings on every endpoint, one request per connection; counts answers by status.
async fn fuzz(args: &Args) {
    let mut next = tickertape_server::xorshift(0x5DEE_CE66_D1CE_4E5B);
    let paths = [
        "/api/stream",
        "/api/poll",
        "/api/snapshot",
        "/api/history",
        "/api/ws",
        "/",
    ];
    let bytes: &[u8] = b"AaZz09-_.,=&%?/#\\\"' +\x00\xff\xe9";
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..args.sockets {
        let path = paths[next(paths.len())];
        let query: Vec<u8> = (0..next(64)).map(|_| bytes[next(bytes.len())]).collect();
        let mut request = format!("GET {path}?").into_bytes();
        request.extend(query);
        if path == "/api/poll" {
            request.extend(b"&timeout_ms=0");
        }
        request.extend(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let Ok(mut tcp) = TcpStream::connect(&args.addr).await else {
            *statuses.entry("connect failed".into()).or_default() += 1;
            continue;
        };
        let _ = tcp.write_all(&request).await;
        let mut head = [0u8; 12];
        let status = match tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut head)).await {
            Ok(Ok(_)) => String::from_utf8_lossy(&head[9..12]).into_owned(),
            _ => "no answer".into(),
        };
        *statuses.entry(status).or_default() += 1;
    }
    let server_errors: usize = statuses
        .iter()
        .filter(|(s, _)| s.starts_with('5'))
        .map(|(_, n)| n)
        .sum();
    println!(
        "fuzz: {} requests, answers by status {statuses:?}, {server_errors} ≥ 500",
        args.sockets
    );
}
