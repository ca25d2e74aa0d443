//! Typed configuration, parsed once at start-up from environment variables (or the matching
//! `--flags`; `tickertape --help` lists them). An invalid value stops start-up with a message
//! that names the variable and its accepted values.
//!
//! The listen address and site paths are Leptos settings (`LEPTOS_SITE_ADDR`, ...), read from
//! `Leptos.toml` and the environment by `leptos_config`, not here.

//!
//! Everything here is a plain value: the feed turns [`SymbolSetting`]s into instruments, and the
//! bus turns a [`BusUrl`] into a Redis client.

use crate::security::Policy;
use app::wire::protocol::{MAX_SYMBOLS, is_symbol};
use clap::{Parser, ValueEnum};
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "tickertape",
    version,
    about = "Tickertape: a live market-data dashboard over SSE"
)]
pub struct Config {
    /// Frames per second produced by the simulated market, from 0.1 to 1000.
    #[arg(long, env = "TICK_RATE_HZ", default_value_t = 10.0, value_parser = parse_rate)]
    pub tick_rate_hz: f64,

    /// Instruments to simulate, comma-separated: SYMBOL or SYMBOL@OPEN (e.g. "AAPL,BTC-USD,ACME@42.5").
    /// Known symbols keep their parameters; others become equities quoted in cents opening at
    /// OPEN (default 100). Default: the built-in universe of 19 stocks, crypto and FX pairs.
    #[arg(long, env = "SYMBOLS", value_parser = parse_universe)]
    pub symbols: Option<Universe>,

    /// Seed of the market's random walk (0 to 2^64-1). Same seed and settings replay the same
    /// frames. Default: a random seed, logged at start-up.
    #[arg(long, env = "MARKET_SEED")]
    pub market_seed: Option<u64>,

    /// Frames kept for resuming clients, from 10 to 1000000 (default 1200: 2 minutes at 10 Hz).
    #[arg(long, env = "HISTORY_FRAMES", default_value_t = 1200, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    pub history_frames: u64,

    /// Hours of market history simulated at start-up, before the market goes live, from 0 (off)
    /// to 24 (default 8): charts open full. Part of the seeded market: same seed, same past.
    #[arg(long, env = "PAST_HOURS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(0..=24))]
    pub past_hours: u64,

    /// Seconds of silence after which an SSE stream gets a keep-alive comment, from 1 to 15.
    #[arg(long, env = "SSE_KEEPALIVE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=15))]
    pub sse_keepalive_secs: u64,

    /// Redis server that joins several nodes into one market, e.g. redis://127.0.0.1:6379
    /// (redis://[:PASSWORD@]HOST:PORT[/DB]). Unset (the default): one self-contained process.
    #[arg(long, env = "MARKET_BUS", value_parser = parse_bus)]
    pub market_bus: Option<BusUrl>,

    /// What this node does with MARKET_BUS set: all = generate and serve, generator = generate
    /// only (serves /healthz and /metrics), edge = serve the market another node generates.
    #[arg(long, env = "ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Seconds a client has to send a request head, and an idle keep-alive connection may wait
    /// for its next one, from 1 to 300; slower connections are closed (a 408 on a first request).
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_timeout_secs: u64,

    /// Connections served at once, from 16 to 1000000; more get 503 with Retry-After. Default:
    /// the open-file limit (raised to its hard limit at start-up) less 128 kept for the rest.
    #[arg(long, env = "MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(16..=1_000_000))]
    pub max_connections: Option<u64>,

    /// Connections one client address may have open at once, from 1 to 1000000; more get 429
    /// with Retry-After. Default: no cap (clients behind one NAT or proxy share an address, and
    /// load tests from one machine open thousands).
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections_per_address: Option<u64>,

    /// Connections the kernel may hold, handshake done, before the server accepts them, from
    /// 16 to 65535 (default 4096). The kernel caps it at net.core.somaxconn; past the queue a
    /// flood's connects are dropped by the kernel, the server never sees them.
    #[arg(long, env = "LISTEN_BACKLOG", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(16..=65535))]
    pub listen_backlog: u32,

    /// Kernel send buffer per socket in KiB, from 4 to 4096 (default 16; Linux doubles it):
    /// what a client that stops reading can make the server hold.
    #[arg(long, env = "SEND_BUFFER_KB", default_value_t = 16, value_parser = clap::value_parser!(u64).range(4..=4096))]
    pub send_buffer_kb: u64,

    /// Seconds a write may wait for a client that does not read, from 1 to 300 (default 10);
    /// then its connection is closed (a stream client resumes where it was when it reconnects).
    #[arg(long, env = "WRITE_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub write_timeout_secs: u64,

    /// Messages a WebSocket client may send in one second, from 1 to 10000 (default 50); past
    /// it the connection is closed with 1008 and a reason. Each command is answered with a
    /// snapshot, so a flood would cost the server work for nobody else.
    #[arg(long, env = "WS_MESSAGES_PER_SEC", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ws_messages_per_sec: u32,

    /// Seconds of frames a streaming client may fall behind live, from 1 to 60 (default 5);
    /// further behind, it gets a `resync` with the current state instead of stale frames.
    #[arg(long, env = "MAX_LAG_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub max_lag_secs: u64,

    /// Who may show the dashboard in a frame: CSP frame-ancestors sources, e.g. 'self' or
    /// https://portal.example.com (default 'none': nobody).
    #[arg(long, env = "FRAME_ANCESTORS", default_value = "'none'", value_parser = parse_frame_ancestors)]
    pub frame_ancestors: String,

    /// Other sites whose pages may open the streams, comma-separated origins
    /// (https://host[:port]); a browser's WebSocket, stream or poll from any other origin gets
    /// 403. Default: none, the dashboard's own origin only.
    #[arg(long, env = "ALLOWED_ORIGINS", value_parser = parse_origins)]
    pub allowed_origins: Option<Origins>,

    /// Where accounts are kept: sqlite://PATH (an SQLite file, created with its schema when
    /// missing; the default) or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE when several
    /// nodes serve one market.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tickertape.db", value_parser = crate::store::parse_database_url)]
    pub database_url: crate::store::DatabaseUrl,

    /// Hours a session lasts after its last use, from 1 to 8760 (default 720: 30 days).
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 720, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub session_ttl_hours: u64,

    /// Active price alerts one user may have, from 1 to 10000 (default 200).
    #[arg(long, env = "MAX_ALERTS_PER_USER", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_alerts_per_user: u64,

    /// Days a notification stays in a user's inbox, from 1 to 3650 (default 30).
    #[arg(long, env = "INBOX_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub inbox_retention_days: u64,

    /// Whether the session cookie says `Secure` (only sent over HTTPS): true behind a TLS proxy.
    #[arg(long, env = "COOKIE_SECURE", default_value = "false", value_parser = parse_bool("COOKIE_SECURE"))]
    pub cookie_secure: bool,
}

/// A parser of `true` or `false` whose error names `var`.
fn parse_bool(var: &'static str) -> impl Fn(&str) -> Result<bool, String> + Clone {
    move |s| match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("{var} must be true or false")),
    }
}

/// The origins of `ALLOWED_ORIGINS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origins(pub Vec<String>);

fn parse_origins(s: &str) -> Result<Origins, String> {
    let mut origins = Vec::new();
    for origin in s.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)));
        if authority.is_none() {
            return Err(format!(
                "ALLOWED_ORIGINS: {origin:?} is not an origin; expected scheme://host[:port], e.g. https://dash.example.com"
            ));
        }
        origins.push(origin.to_ascii_lowercase());
    }
    Ok(Origins(origins))
}

fn parse_frame_ancestors(s: &str) -> Result<String, String> {
    let s = s.trim();
    let source_ok = |w: &str| {
        w == "'none'"
            || w == "'self'"
            || (!w.is_empty() && w.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b','))
    };
    if s.is_empty() || !s.split_ascii_whitespace().all(source_ok) || (s.contains("'none'") && s != "'none'") {
        return Err(format!(
            "FRAME_ANCESTORS must be 'none', or CSP sources separated by spaces ('self', https://portal.example.com); got {s:?}"
        ));
    }
    Ok(s.to_string())
}

/// The limits that keep one client, or many, from hurting the others.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A request head (and, on a keep-alive connection, the wait for the next one) must
    /// complete within this.
    pub header_timeout: Duration,
    /// Connections served at once, of every kind (pages, API, streams, WebSockets, polls).
    pub max_connections: usize,
    /// Each socket's kernel send buffer, in bytes: what a client that stops reading can hold.
    pub send_buffer: usize,
    /// How long a write may wait for a client that does not read before its connection closes.
    pub write_timeout: Duration,
    /// Connections one client address may have open at once; `None`: no cap.
    pub per_address: Option<usize>,
    /// Messages a WebSocket client may send in one second.
    pub ws_messages_per_sec: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            send_buffer: 16 * 1024,
            write_timeout: Duration::from_secs(10),
            per_address: None,
            ws_messages_per_sec: 50,
        }
    }
}

/// Open files kept for everything but client connections (the listener, Redis, logs) when
/// `MAX_CONNECTIONS` is derived from the open-file limit.
const FILES_KEPT: u64 = 128;

/// A node's part in a split deployment (see [`crate::bus`]).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Generator and edge in one process (through the bus when `MARKET_BUS` is set).
    All,
    /// Publishes the market to the bus; serves no dashboard.
    Generator,
    /// Serves the market read from the bus.
    Edge,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Generator => "generator",
            Role::Edge => "edge",
        }
    }
}

/// A checked `MARKET_BUS` URL: `redis://[:PASSWORD@]HOST[:PORT][/DB]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusUrl(String);

impl BusUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn parse_bus(s: &str) -> Result<BusUrl, String> {
    let text = s.trim();
    let accepted = "MARKET_BUS must be a Redis URL, redis://HOST:PORT or redis://[:PASSWORD@]HOST:PORT/DB \
                    (e.g. redis://127.0.0.1:6379)";
    let fail = |why: &str| Err(format!("{accepted}; {why}"));
    let Some(rest) = text.strip_prefix("redis://") else {
        return fail("it does not start with redis://");
    };
    // The password may hold any character but '@'; the address comes after the last '@'.
    let address = rest.rsplit_once('@').map_or(rest, |(_, a)| a);
    let (host_port, db) = address.split_once('/').unwrap_or((address, ""));
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (host_port, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))
    {
        return fail("no host name");
    }
    if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
        return fail("the port is not a number from 1 to 65535");
    }
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return fail("the database is not a number");
    }
    Ok(BusUrl(text.to_string()))
}

impl Config {
    /// Settings that only make sense together; `Err` names them.
    pub fn check(&self) -> Result<(), String> {
        if self.market_bus.is_none() && self.role != Role::All {
            return Err(format!(
                "ROLE={} needs MARKET_BUS (e.g. MARKET_BUS=redis://127.0.0.1:6379); without it the only role is all",
                self.role.name()
            ));
        }
        Ok(())
    }

    /// The network limits, with `open_files` (the process's open-file limit) deciding the
    /// default `MAX_CONNECTIONS`.
    pub fn limits(&self, open_files: u64) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            max_connections: self
                .max_connections
                .unwrap_or_else(|| open_files.saturating_sub(FILES_KEPT).max(16)) as usize,
            send_buffer: (self.send_buffer_kb * 1024) as usize,
            write_timeout: self.write_timeout(),
            per_address: self.max_connections_per_address.map(|n| n as usize),
            ws_messages_per_sec: self.ws_messages_per_sec,
        }
    }

    /// What responses say about framing and which origins may open streams.
    pub fn policy(&self) -> Policy {
        let origins = self.allowed_origins.as_ref().map(|o| o.0.clone()).unwrap_or_default();
        Policy::new(&self.frame_ancestors, origins)
    }

    /// How old the newest frame may be before `/healthz` says the node is degraded: five tick
    /// periods, at least a second.
    pub fn stale_after(&self) -> Duration {
        Duration::from_secs_f64(5.0 / self.tick_rate_hz).max(Duration::from_secs(1))
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs)
    }

    pub fn keepalive(&self) -> Duration {
        Duration::from_secs(self.sse_keepalive_secs)
    }

    /// Frames the live channel buffers for a slow subscriber before it is resynced:
    /// `MAX_LAG_SECS` of frames, at least 16 and at most 65 536.
    pub fn live_buffer(&self) -> usize {
        ((self.tick_rate_hz * self.max_lag_secs as f64).ceil() as usize).clamp(16, 65_536)
    }
}

/// The instruments chosen with `SYMBOLS`, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Universe(pub Vec<SymbolSetting>);

/// One `SYMBOLS` entry: `SYMBOL` or `SYMBOL@OPEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolSetting {
    /// Upper case, a valid symbol.
    pub symbol: String,
    /// The opening price, exactly as written.
    pub open: Option<Decimal>,
}

/// A positive decimal number as written, without a float: `digits` × 10^-`scale`
/// (`42.50` is 4250 × 10^-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub digits: u64,
    pub scale: u32,
}

impl Decimal {
    /// Most digits on either side of the point.
    const MAX_DIGITS: usize = 9;

    /// `123`, `42.5` or `0.12345`: at most nine digits on either side of the point.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.len() <= Self::MAX_DIGITS && s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (text.contains('.') && frac.is_empty()) {
            return None;
        }
        let value = format!("{int}{frac}").parse().ok()?;
        Some(Decimal {
            digits: value,
            scale: frac.len() as u32,
        })
    }

    /// The value in units of 10^-`decimals`, rounded half up.
    pub fn units(self, decimals: u8) -> u64 {
        let decimals = u32::from(decimals);
        if decimals >= self.scale {
            self.digits.saturating_mul(10u64.pow(decimals - self.scale))
        } else {
            let div = 10u64.pow(self.scale - decimals);
            (self.digits + div / 2) / div
        }
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let accepted = "TICK_RATE_HZ must be a number of frames per second from 0.1 to 1000";
    match s.trim().parse::<f64>() {
        Ok(v) if (0.1..=1000.0).contains(&v) => Ok(v),
        _ => Err(accepted.to_string()),
    }
}

fn parse_universe(s: &str) -> Result<Universe, String> {
    let mut settings: Vec<SymbolSetting> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (symbol, open) = match item.split_once('@') {
            Some((sym, open)) => {
                let open = Decimal::parse(open.trim()).filter(|d| d.digits > 0).ok_or_else(|| {
                    format!(
                        "SYMBOLS: opening price of {sym:?} must be a positive decimal number below 1e9 \
                         (e.g. 42.5), got {open:?}"
                    )
                })?;
                (sym.trim().to_ascii_uppercase(), Some(open))
            }
            None => (item.to_ascii_uppercase(), None),
        };
        if !is_symbol(&symbol) {
            return Err(format!(
                "SYMBOLS: {symbol:?} is not a symbol (1 to 12 of A-Z, 0-9, '-', '.')"
            ));
        }
        if settings.iter().any(|s| s.symbol == symbol) {
            return Err(format!("SYMBOLS: {symbol} is listed twice"));
        }
        settings.push(SymbolSetting { symbol, open });
    }
    if settings.is_empty() || settings.len() > MAX_SYMBOLS {
        return Err(format!(
            "SYMBOLS must list 1 to {MAX_SYMBOLS} symbols, comma-separated, e.g. AAPL,BTC-USD,ACME@42.5"
        ));
    }
    Ok(Universe(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("tickertape").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.tick_rate_hz, 10.0);
        assert_eq!(c.history_frames, 1200);
        assert!(c.symbols.is_none(), "the built-in universe");
        assert_eq!(c.live_buffer(), 50, "five seconds of frames at 10 Hz");
        assert!(c.market_bus.is_none());
        assert_eq!(c.role, Role::All);
        let limits = c.limits(1024);
        assert_eq!(limits.header_timeout, Duration::from_secs(10));
        assert_eq!((limits.max_connections, limits.send_buffer), (1024 - 128, 16 * 1024));
        assert_eq!(limits.write_timeout, Duration::from_secs(10));
        assert_eq!(c.limits(100).max_connections, 16, "never below 16");
        assert_eq!(limits.per_address, None, "no per-address cap unless asked");
        assert_eq!(c.listen_backlog, 4096);
        assert_eq!(c.past_hours, 8);
        let err = parse(&["--past-hours", "25"]).unwrap_err().to_string();
        assert!(err.contains("PAST_HOURS") && err.contains("0..=24"), "{err}");
        assert!(c.check().is_ok());
    }

    #[test]
    fn connection_settings_are_bounded_and_named() {
        let c = parse(&["--max-connections-per-address", "8", "--listen-backlog", "100"]).unwrap();
        assert_eq!((c.limits(1024).per_address, c.listen_backlog), (Some(8), 100));
        for (flag, bad, range) in [
            ("--max-connections-per-address", "0", "1..=1000000"),
            ("--listen-backlog", "15", "16..=65535"),
            ("--listen-backlog", "70000", "16..=65535"),
        ] {
            let err = parse(&[flag, bad]).unwrap_err().to_string();
            let name = flag.trim_start_matches("--").to_ascii_uppercase().replace('-', "_");
            assert!(err.contains(&name) && err.contains(range), "{flag} {bad}: {err}");
        }
    }

    #[test]
    fn bus_and_role_are_checked_and_named() {
        let c = parse(&["--market-bus", "redis://127.0.0.1:6379", "--role", "edge"]).unwrap();
        assert_eq!(c.role, Role::Edge);
        assert!(c.check().is_ok());
        for good in [
            "redis://127.0.0.1:6379",
            "redis://:secret@localhost:6380/2",
            "redis://h",
            "redis://[::1]:6379",
        ] {
            assert_eq!(parse_bus(good).map(|u| u.0), Ok(good.to_string()));
        }
        for bad in [
            "",
            "localhost:6379",
            "http://x:1",
            "redis://",
            "redis://host:notaport",
            "redis://h:0",
            "redis://h:1/x",
        ] {
            let err = parse_bus(bad).unwrap_err();
            assert!(err.starts_with("MARKET_BUS must be a Redis URL"), "{bad:?}: {err}");
        }
        let err = parse(&["--market-bus", "localhost:6379"]).unwrap_err().to_string();
        assert!(err.contains("MARKET_BUS must be a Redis URL"), "{err}");
        let err = parse(&["--role", "leader"]).unwrap_err().to_string();
        assert!(
            err.contains("all") && err.contains("generator") && err.contains("edge"),
            "{err}"
        );
        let err = parse(&["--role", "edge"]).unwrap().check().unwrap_err();
        assert!(err.contains("ROLE=edge needs MARKET_BUS"), "{err}");
    }

    #[test]
    fn rate_bounds_are_enforced_and_named() {
        assert_eq!(parse(&["--tick-rate-hz", "0.1"]).unwrap().tick_rate_hz, 0.1);
        assert_eq!(parse(&["--tick-rate-hz", "1000"]).unwrap().tick_rate_hz, 1000.0);
        for bad in ["0", "0.05", "1000.5", "fast", "NaN", "-3"] {
            let err = parse(&[&format!("--tick-rate-hz={bad}")]).unwrap_err().to_string();
            assert!(err.contains("TICK_RATE_HZ") && err.contains("0.1 to 1000"), "{err}");
        }
    }

    #[test]
    fn symbols_parse_with_exact_opening_prices() {
        let u = parse_universe("aapl, BTC-USD ,ACME@42.5,NEW").unwrap().0;
        let names: Vec<_> = u.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(names, ["AAPL", "BTC-USD", "ACME", "NEW"]);
        assert_eq!(u[2].open, Some(Decimal { digits: 425, scale: 1 }));
        assert_eq!(u[3].open, None);
    }

    #[test]
    fn decimals_are_read_and_scaled_exactly() {
        let d = |s| Decimal::parse(s);
        assert_eq!(d("200"), Some(Decimal { digits: 200, scale: 0 }));
        assert_eq!(
            d("0.12345"),
            Some(Decimal {
                digits: 12345,
                scale: 5
            })
        );
        for bad in [
            "",
            ".5",
            "5.",
            "1e3",
            "-1",
            "+1",
            "1.2.3",
            "1000000000",
            "0.1234567891",
            " 1",
        ] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
        assert_eq!(d("42.5").unwrap().units(2), 4250);
        assert_eq!(d("0.1").unwrap().units(5), 10_000);
        assert_eq!(d("1.005").unwrap().units(2), 101, "half up");
        assert_eq!(d("1.004").unwrap().units(2), 100);
        assert_eq!(d("999999999.999999999").unwrap().units(9), 999_999_999_999_999_999);
    }

    #[test]
    fn symbols_errors_name_the_variable() {
        for bad in [
            "",
            ",,",
            "AAPL,AAPL",
            "BAD SYMBOL",
            "TOOLONGSYMBOL1",
            "X@-1",
            "X@abc",
            "X@",
            "X@0",
            "X@1e9",
        ] {
            let err = parse_universe(bad).unwrap_err();
            assert!(err.starts_with("SYMBOLS"), "{bad:?}: {err}");
        }
        let many: Vec<String> = (0..=MAX_SYMBOLS).map(|i| format!("S{i}")).collect();
        assert!(parse_universe(&many.join(",")).is_err());
    }

    #[test]
    fn origins_and_framing_are_checked() {
        let c = parse(&["--allowed-origins", "https://Dash.example.com, http://127.0.0.1:8080"]).unwrap();
        assert_eq!(
            c.allowed_origins.unwrap().0,
            ["https://dash.example.com", "http://127.0.0.1:8080"]
        );
        for bad in ["dash.example.com", "ftp://x", "https://", "https://a/b", "https://a b"] {
            let err = parse(&["--allowed-origins", bad]).unwrap_err().to_string();
            assert!(err.contains("ALLOWED_ORIGINS"), "{bad}: {err}");
        }
        assert_eq!(parse(&[]).unwrap().frame_ancestors, "'none'");
        assert_eq!(
            parse(&["--frame-ancestors", "'self' https://p.example"])
                .unwrap()
                .frame_ancestors,
            "'self' https://p.example"
        );
        for bad in ["", "a;b", "'none' 'self'", "a,b"] {
            let err = parse(&["--frame-ancestors", bad]).unwrap_err().to_string();
            assert!(err.contains("FRAME_ANCESTORS"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn integer_settings_have_ranges() {
        for bad in [
            ["--header-timeout-secs", "0"],
            ["--header-timeout-secs", "301"],
            ["--max-connections", "15"],
            ["--send-buffer-kb", "3"],
            ["--send-buffer-kb", "4097"],
            ["--write-timeout-secs", "0"],
            ["--max-lag-secs", "61"],
        ] {
            let err = parse(&bad).unwrap_err().to_string();
            assert!(err.contains("not in"), "{bad:?}: {err}");
        }
        let c = parse(&[
            "--max-connections",
            "500",
            "--header-timeout-secs",
            "3",
            "--send-buffer-kb",
            "16",
        ])
        .unwrap();
        let limits = c.limits(1_000_000);
        assert_eq!(limits.max_connections, 500);
        assert_eq!(limits.header_timeout, Duration::from_secs(3));
        assert_eq!(limits.send_buffer, 16 * 1024);
        assert!(parse(&["--history-frames", "9"]).is_err());
        assert!(parse(&["--sse-keepalive-secs", "16"]).is_err());
        assert!(parse(&["--market-seed=-1"]).is_err());
        assert_eq!(
            parse(&["--market-seed", "18446744073709551615"]).unwrap().market_seed,
            Some(u64::MAX)
        );
    }
}
