//! The floor: the least any server can do for the load scenarios' SSE streams, to measure what
//! the kernel alone charges for them on this machine.
//!
//! Why: the bar asks for ≤ 3 server CPU-seconds per million delivered events in scenario 1,
//! where every client gets every event the moment it is made, so every event is one TCP write
//! per client. This server does nothing else. One thread, no runtime, no hub, no history, no
//! resume: it accepts connections through `epoll`, answers `GET /healthz` and `GET /api/stream`,
//! and at each tick encodes one event (`seq`, `ts`, padded to `--bytes` on the wire) and writes
//! the same bytes to every stream, with one `write` per client or, with `--uring`, one io_uring
//! submission for all of them. The load generator measures it exactly as it measures Tickertape
//! (`SERVER=floor make scenario N=1`, BENCHMARKS.md "The kernel's floor"), so the two CPU figures
//! compare directly.
//!
//! A stream whose socket cannot take a whole event keeps the rest and gets it, before anything
//! newer, at the next tick: nothing is lost, as in the real server.
//!
//! It also answers long polls (`GET /api/poll`, keep-alive): a connection's request is read and
//! the connection waits; each tick writes one pre-encoded answer carrying the tick to every
//! waiting poller, with one `write` each, and it waits for its next request. No resume, no
//! timeout: what the kernel charges for an event by polling (two segments and a `read` where a
//! stream needs one segment), for `SERVER=floor make scenario N=5-poll`.

use clap::Parser;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Parser, Debug)]
#[command(about = "The floor: one write per client per event and nothing else (see BENCHMARKS.md)")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3300")]
    addr: String,
    /// Events per second.
    #[arg(long, default_value_t = 10.0)]
    hz: f64,
    /// Bytes of one event on the wire (Tickertape's all-symbol tick is about 1 300).
    #[arg(long, default_value_t = 1313)]
    bytes: usize,
    /// Submit each tick's writes to all clients as io_uring batches instead of one `write` each.
    #[arg(long)]
    uring: bool,
    /// Keep each stream registered with epoll for read and write readiness, edge-triggered, as
    /// tokio registers every socket, and take the events: every ACK that frees send space then
    /// queues one.
    #[arg(long)]
    readiness: bool,
    /// Write each event as three slices (head, payload, blank line) with `writev`, as
    /// Tickertape did before it encoded each event into one buffer.
    #[arg(long, conflicts_with = "uring")]
    vectored: bool,
}

/// The listener's epoll token; connections use their slot index.
const LISTENER: u64 = u64::MAX;
/// Submission queue entries: writes in one io_uring batch.
const RING: u32 = 4096;

enum Conn {
    /// Reading the request head.
    Head(Vec<u8>),
    /// A stream: the bytes it has not taken yet.
    Stream(Vec<u8>),
    /// A keep-alive poller: the bytes of its next request read so far, and whether a request
    /// waits for the next tick.
    Poll { head: Vec<u8>, waiting: bool },
}

struct Slot {
    tcp: TcpStream,
    conn: Conn,
}

struct Floor {
    epoll: i32,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    ring: Option<io_uring::IoUring>,
    readiness: bool,
    vectored: bool,
    readiness_events: u64,
    writes: u64,
    stalls: u64,
    dropped: u64,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    if !(args.hz > 0.0 && args.hz.is_finite()) || args.bytes < 64 {
        eprintln!("--hz must be positive and --bytes at least 64");
        std::process::exit(2);
    }
    let listener = TcpListener::bind(&args.addr)?;
    eprintln!(
        "floor on {} at {} Hz, {} B per event, {}",
        listener.local_addr()?,
        args.hz,
        args.bytes,
        match (args.uring, args.vectored) {
            (true, _) => "io_uring batches",
            (_, true) => "one three-part writev per client",
            _ => "one write per client",
        }
    );
    if args.readiness {
        eprintln!("streams stay registered for readiness (EPOLLIN | EPOLLOUT | EPOLLET)");
    }
    serve(&listener, &args, &AtomicBool::new(false), true)
}

/// Serves streams on `listener` until `stop` is set; with `report`, prints its counts every
/// ten seconds.
fn serve(listener: &TcpListener, args: &Args, stop: &AtomicBool, report: bool) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    // SAFETY: plain system calls on descriptors this process owns.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epoll < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut floor = Floor {
        epoll,
        slots: Vec::new(),
        free: Vec::new(),
        ring: None,
        readiness: args.readiness,
        vectored: args.vectored,
        readiness_events: 0,
        writes: 0,
        stalls: 0,
        dropped: 0,
    };
    epoll_ctl(epoll, libc::EPOLL_CTL_ADD, listener.as_raw_fd(), LISTENER)?;
    if args.uring {
        floor.ring = Some(io_uring::IoUring::new(RING)?);
    }
    let period = Duration::from_secs_f64(1.0 / args.hz);
    let started = Instant::now();
    let epoch_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut next_tick = started + period;
    let mut seq = 0u64;
    let mut next_report = Instant::now() + Duration::from_secs(10);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let timeout = i32::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: `events` is a live buffer of the length passed.
        let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), events.len() as i32, timeout) };
        for event in &events[..usize::try_from(n).unwrap_or(0)] {
            match event.u64 {
                LISTENER => floor.accept(listener),
                token => floor.ready(token as usize, event.events),
            }
        }
        if Instant::now() >= next_tick {
            seq += 1;
            // Stamped with when the tick was due: Tickertape's generator is a task of its own
            // that runs between the fan-out's batches of writes, so it stamps its frames close to
            // schedule, and a tick here that comes late because the last one's writes overran
            // must count the delay in its latency too.
            let due = epoch_ms + (next_tick - started).as_millis();
            floor.tick(&encode(seq, due, args.bytes));
            floor.answer_polls(&encode_poll(seq, due, args.bytes));
            next_tick += period;
        }
        if report && Instant::now() >= next_report {
            let streams = floor.streams().count();
            eprintln!(
                "floor: {streams} streams, {} writes, {} stalls, {} dropped, {} readiness events",
                floor.writes, floor.stalls, floor.dropped, floor.readiness_events
            );
            next_report += Duration::from_secs(10);
        }
    }
    drop(floor);
    // SAFETY: the descriptor is ours and nothing uses it any more.
    unsafe { libc::close(epoll) };
    Ok(())
}

/// One tick as an SSE event: `seq` and `ts` (ms since 1970, what the load generator measures
/// latency from), padded to `bytes` on the wire. Its id's epoch is `f100` (ids are
/// `<epoch in hex>-<seq>`, as the load generator reads them).
fn encode(seq: u64, ts: u128, bytes: usize) -> Vec<u8> {
    let mut event = format!("event: tick\nid: f100-{seq}\ndata: {{\"seq\":{seq},\"ts\":{ts},\"pad\":\"").into_bytes();
    let end = b"\"}\n\n";
    event.resize(bytes.saturating_sub(end.len()).max(event.len()), b'x');
    event.extend_from_slice(end);
    event
}

/// One tick as a poll's whole answer: the same `seq`, `ts` and padding as [`encode`] in the
/// answer Tickertape gives (`{"events":[{"type","id","data"}],"next"}`).
fn encode_poll(seq: u64, ts: u128, bytes: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"events":[{{"type":"tick","id":"f100-{seq}","data":{{"seq":{seq},"ts":{ts},"pad":""#);
    let end = format!(r#""}}}}],"next":"f100-{seq}"}}"#);
    body.extend(std::iter::repeat_n('x', bytes.saturating_sub(body.len() + end.len())));
    body.push_str(&end);
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body.as_bytes());
    answer
}

fn epoll_ctl(epoll: i32, op: i32, fd: i32, token: u64) -> io::Result<()> {
    epoll_ctl_events(epoll, op, fd, token, libc::EPOLLIN as u32)
}

fn epoll_ctl_events(epoll: i32, op: i32, fd: i32, token: u64, events: u32) -> io::Result<()> {
    let mut event = libc::epoll_event { events, u64: token };
    // SAFETY: `event` outlives the call; the kernel copies it.
    if unsafe { libc::epoll_ctl(epoll, op, fd, &mut event) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Floor {
    fn accept(&mut self, listener: &TcpListener) {
        while let Ok((tcp, _)) = listener.accept() {
            if tcp.set_nodelay(true).and_then(|()| tcp.set_nonblocking(true)).is_err() {
                continue;
            }
            let index = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
            if epoll_ctl(self.epoll, libc::EPOLL_CTL_ADD, tcp.as_raw_fd(), index as u64).is_ok() {
                self.slots[index] = Some(Slot {
                    tcp,
                    conn: Conn::Head(Vec::new()),
                });
            } else {
                self.free.push(index);
            }
        }
    }

    /// A registered socket is ready: a request head to read, or (with `--readiness`) a stream's
    /// readiness, taken as tokio's driver takes it; a stream that can be read has hung up.
    fn ready(&mut self, index: usize, events: u32) {
        if let Some(Some(Slot {
            conn: Conn::Poll { .. },
            ..
        })) = self.slots.get(index)
        {
            self.read_poll(index);
            return;
        }
        if let Some(Some(Slot {
            conn: Conn::Stream(_), ..
        })) = self.slots.get(index)
        {
            self.readiness_events += 1;
            if events & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
                self.dropped += 1;
                self.close(index);
            }
            return;
        }
        self.read_head(index);
    }

    /// Reads a connection's request head; once complete, answers it.
    fn read_head(&mut self, index: usize) {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let Conn::Head(head) = &mut slot.conn else { return };
        let mut buf = [0u8; 4096];
        let done = loop {
            match slot.tcp.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break None,
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                break Some(head.starts_with(b"GET /api/stream"));
            }
            if head.len() > 16 * 1024 {
                break None;
            }
        };
        if head.starts_with(b"GET /api/poll") && done.is_some() {
            slot.conn = Conn::Poll {
                head: Vec::new(),
                waiting: true,
            };
            return;
        }
        let answer: &[u8] = match done {
            Some(true) => {
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
            }
            Some(false) if head.starts_with(b"GET /healthz") => {
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            }
            Some(false) => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            None => b"",
        };
        // A fresh socket takes a response head whole.
        let written = (&slot.tcp).write(answer).is_ok_and(|n| n == answer.len());
        let fd = slot.tcp.as_raw_fd();
        let stream = done == Some(true) && written;
        if stream && self.readiness {
            let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
            let _ = epoll_ctl_events(self.epoll, libc::EPOLL_CTL_MOD, fd, index as u64, events);
        } else {
            let _ = epoll_ctl(self.epoll, libc::EPOLL_CTL_DEL, fd, 0);
        }
        if stream {
            slot.conn = Conn::Stream(Vec::new());
        } else {
            self.close(index);
        }
    }

    /// Reads a poller's next request; once its head is complete, the poller waits for a tick.
    fn read_poll(&mut self, index: usize) {
        let Some(Some(slot)) = self.slots.get_mut(index) else {
            return;
        };
        let Conn::Poll { head, waiting } = &mut slot.conn else {
            return;
        };
        let mut buf = [0u8; 4096];
        loop {
            match slot.tcp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                head.drain(..end + 4);
                *waiting = true;
                return;
            }
            if head.len() > 16 * 1024 {
                break;
            }
        }
        self.dropped += 1;
        self.close(index);
    }

    /// Writes `answer` to every waiting poller.
    fn answer_polls(&mut self, answer: &[u8]) {
        for index in 0..self.slots.len() {
            let Some(Slot {
                tcp,
                conn: Conn::Poll { waiting, .. },
            }) = &mut self.slots[index]
            else {
                continue;
            };
            if !*waiting {
                continue;
            }
            *waiting = false;
            self.writes += 1;
            // An answer is far smaller than a socket buffer its client empties between polls.
            if !(&*tcp).write(answer).is_ok_and(|n| n == answer.len()) {
                self.dropped += 1;
                self.close(index);
            }
        }
    }

    fn close(&mut self, index: usize) {
        if self.slots[index].take().is_some() {
            self.free.push(index);
        }
    }

    fn streams(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                matches!(
                    s,
                    Some(Slot {
                        conn: Conn::Stream(_),
                        ..
                    })
                )
            })
            .map(|(i, _)| i)
    }

    /// Writes `event` to every stream.
    fn tick(&mut self, event: &[u8]) {
        // For `--vectored`: the head up to `data: `, the payload and the blank line, split once.
        let data = event.windows(6).position(|w| w == b"data: ").map_or(0, |i| i + 6);
        let (head, rest) = event.split_at(data);
        let (payload, end) = rest.split_at(rest.len() - 2);
        let streams: Vec<usize> = self.streams().collect();
        let mut ready = Vec::with_capacity(streams.len());
        for index in streams {
            let Some(Slot {
                tcp,
                conn: Conn::Stream(pending),
            }) = &mut self.slots[index]
            else {
                continue;
            };
            if pending.is_empty() && self.ring.is_some() {
                ready.push(index);
                continue;
            }
            // Behind (or no ring): what is left first, then the event, in one buffer.
            let result = if pending.is_empty() && self.vectored {
                (&*tcp).write_vectored(&[IoSlice::new(head), IoSlice::new(payload), IoSlice::new(end)])
            } else if pending.is_empty() {
                (&*tcp).write(event)
            } else {
                pending.extend_from_slice(event);
                (&*tcp).write(pending)
            };
            self.writes += 1;
            self.settle(index, event, result);
        }
        if !ready.is_empty() {
            self.submit(&ready, event);
        }
    }

    /// io_uring: one `send` per stream, submitted in batches of up to [`RING`] with one system
    /// call each; every batch completes before the next (the bytes are borrowed).
    fn submit(&mut self, ready: &[usize], event: &[u8]) {
        let Some(mut ring) = self.ring.take() else { return };
        for batch in ready.chunks(RING as usize) {
            {
                let mut queue = ring.submission();
                for &index in batch {
                    let Some(slot) = &self.slots[index] else { continue };
                    let send = io_uring::opcode::Send::new(
                        io_uring::types::Fd(slot.tcp.as_raw_fd()),
                        event.as_ptr(),
                        event.len() as u32,
                    )
                    .build()
                    .user_data(index as u64);
                    // SAFETY: `event` and the socket outlive the batch, which completes below.
                    // The queue has room: a batch is at most its size and starts empty.
                    unsafe { queue.push(&send).expect("a batch fits the ring") };
                }
            }
            let submitted = ring.submission().len();
            if let Err(err) = ring.submit_and_wait(submitted) {
                eprintln!("io_uring submit failed: {err}");
                std::process::exit(1);
            }
            let done: Vec<(usize, i32)> = ring
                .completion()
                .map(|c| (c.user_data() as usize, c.result()))
                .collect();
            for (index, result) in done {
                self.writes += 1;
                let result = if result >= 0 {
                    Ok(result as usize)
                } else {
                    Err(io::Error::from_raw_os_error(-result))
                };
                self.settle(index, event, result);
            }
        }
        self.ring = Some(ring);
    }

    /// Keeps what a stream's socket did not take, or drops the stream if it failed. `result`
    /// is the write of its pending bytes if it had any, else of `event`.
    fn settle(&mut self, index: usize, event: &[u8], result: io::Result<usize>) {
        let Some(Slot {
            conn: Conn::Stream(pending),
            ..
        }) = &mut self.slots[index]
        else {
            return;
        };
        let sent: &[u8] = if pending.is_empty() { event } else { pending };
        match result {
            Ok(n) if n == sent.len() => pending.clear(),
            Ok(n) => {
                self.stalls += 1;
                *pending = sent[n..].to_vec();
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.stalls += 1;
                *pending = sent.to_vec();
            }
            Err(_) => {
                self.dropped += 1;
                self.close(index);
                return;
            }
        }
        // A client that takes nothing for long is dropped rather than buffered without end.
        if pending.len() > 4 << 20 {
            self.dropped += 1;
            self.close(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::sync::Arc;

    fn get(addr: std::net::SocketAddr, path: &str) -> io::BufReader<TcpStream> {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(tcp, "GET {path} HTTP/1.1\r\nhost: floor\r\n\r\n").unwrap();
        io::BufReader::new(tcp)
    }

    /// The seqs of a stream's first `n` ticks, after checking its head; each tick is checked
    /// whole: its fields, its JSON and its size on the wire.
    fn ticks(stream: &mut io::BufReader<TcpStream>, n: usize, bytes: usize) -> Vec<u64> {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        assert_eq!(line, "HTTP/1.1 200 OK\r\n");
        while line != "\r\n" {
            line.clear();
            assert!(stream.read_line(&mut line).unwrap() > 0, "head ended early");
        }
        let mut seqs = Vec::new();
        while seqs.len() < n {
            let mut event = String::new();
            while !event.ends_with("\n\n") {
                assert!(stream.read_line(&mut event).unwrap() > 0, "stream ended");
            }
            assert_eq!(event.len(), bytes, "{event}");
            let (id, data) = event
                .strip_prefix("event: tick\nid: f100-")
                .and_then(|rest| rest.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not a tick: {event}"));
            let seq: u64 = id.parse().unwrap();
            // The payload is JSON with the tick's seq and due time.
            let value: serde_json::Value = serde_json::from_str(data.trim_end()).unwrap();
            assert_eq!(value["seq"].as_u64(), Some(seq));
            assert!(value["ts"].as_u64().is_some_and(|ts| ts > 0));
            seqs.push(seq);
        }
        seqs
    }

    /// Every way of writing delivers every tick, in order and whole, to every stream; the
    /// health check answers and anything else is a 404.
    #[test]
    fn every_mode_streams_every_tick() {
        for (uring, vectored, readiness) in [
            (false, false, false),
            (false, true, false),
            (false, false, true),
            (true, false, false),
        ] {
            if uring && io_uring::IoUring::new(8).is_err() {
                eprintln!("io_uring is not available here: its mode is not checked");
                continue;
            }
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let args = Args {
                addr: addr.to_string(),
                hz: 200.0,
                bytes: 600,
                uring,
                readiness,
                vectored,
            };
            let stop = Arc::new(AtomicBool::new(false));
            let server = std::thread::spawn({
                let stop = stop.clone();
                move || serve(&listener, &args, &stop, false)
            });
            let mut streams: Vec<_> = (0..3).map(|_| get(addr, "/api/stream")).collect();
            for stream in &mut streams {
                let seqs = ticks(stream, 20, 600);
                assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
            }
            // A keep-alive poller gets one tick per poll, each newer than the last.
            let mut poller = get(addr, "/api/poll");
            let mut seen = Vec::new();
            for round in 0..3 {
                if round > 0 {
                    write!(poller.get_mut(), "GET /api/poll HTTP/1.1\r\nhost: floor\r\n\r\n").unwrap();
                }
                let mut line = String::new();
                let mut length = 0;
                loop {
                    line.clear();
                    poller.read_line(&mut line).unwrap();
                    if let Some(n) = line.strip_prefix("content-length: ") {
                        length = n.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                poller.read_exact(&mut body).unwrap();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let seq = body["events"][0]["data"]["seq"].as_u64().unwrap();
                assert_eq!(body["next"], format!("f100-{seq}"));
                seen.push(seq);
            }
            assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
            let mut health = String::new();
            get(addr, "/healthz").read_to_string(&mut health).unwrap();
            assert!(health.starts_with("HTTP/1.1 200 OK\r\n") && health.ends_with("\r\n\r\nok"));
            let mut other = String::new();
            get(addr, "/nope").read_to_string(&mut other).unwrap();
            assert!(other.starts_with("HTTP/1.1 404 "));
            stop.store(true, Ordering::Relaxed);
            server.join().unwrap().unwrap();
        }
    }
}
