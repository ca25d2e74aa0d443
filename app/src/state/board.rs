//! The dashboard's live model: everything the page shows, as signals. The feed
//! ([`crate::live`]) stores incoming data into them *without* notifying, then notifies the
//! changed ones once per animation frame; the components ([`crate::ui`]) read them.

use crate::state::candles::CandleSeries;
use crate::state::depth::Depth;
use crate::state::page::{PageData, SPARK_SECONDS, Spark};
use crate::state::view::ViewState;
use crate::state::viewport::Viewport;
use crate::wire::account::Account;
use crate::wire::protocol::Interval;
use crate::wire::protocol::{Instrument, Quote};
use leptos::prelude::*;

/// What the main chart shows: the candles of one symbol at one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    pub symbol: String,
    pub decimals: u8,
    /// Volumes are integers in units of 10^-size_decimals.
    pub size_decimals: u8,
    pub series: CandleSeries,
    /// The last price, for the marker (also right after a resync, before any new trade).
    pub last: Option<i64>,
    /// The stretch of history shown (zoom and pan); a new symbol or interval starts live.
    pub viewport: Viewport,
}

impl ChartData {
    pub fn new(symbol: String, (decimals, size_decimals): (u8, u8), interval: Interval) -> Self {
        ChartData {
            symbol,
            decimals,
            size_decimals,
            series: CandleSeries::new(interval, interval.kept()),
            last: None,
            viewport: Viewport::default(),
        }
    }
}

/// The connection badge's states, as shown to the user (and asserted by the end-to-end tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting,
    Stale,
}

/// How this tab gets the stream: its own connection, holding the one its browser's tabs
/// share, or through the tab that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sharing {
    Own,
    Holding,
    Through,
}

impl Sharing {
    pub fn as_str(self) -> &'static str {
        match self {
            Sharing::Own => "own",
            Sharing::Holding => "holding",
            Sharing::Through => "through",
        }
    }

    /// What the header says.
    pub fn label(self) -> &'static str {
        match self {
            Sharing::Own => "",
            Sharing::Holding => "Holds the stream",
            Sharing::Through => "Via another tab",
        }
    }
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "Connecting",
            Connection::Live => "Live",
            Connection::Reconnecting => "Reconnecting",
            Connection::Stale => "Stale",
        }
    }
}

/// How well the connection is doing, for the Transports view.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkStats {
    pub latency_p50: Option<f64>,
    pub latency_p99: Option<f64>,
    /// Wire bytes received per event (payload bytes after HTTP framing).
    pub bytes_per_event: Option<f64>,
    /// SSE streams or WebSockets opened, or polls made.
    pub opened: u64,
    pub reconnects: u64,
}

/// One instrument's live state. Every field is a signal handle, so a row is `Copy`.
#[derive(Clone, Copy)]
pub struct Row {
    pub quote: RwSignal<Quote>,
    /// The last minute of 1-second closes, for the sparkline.
    pub spark: RwSignal<CandleSeries>,
    /// Direction of the last rendered move: +1 up, -1 down, 0 none yet.
    pub tick: RwSignal<i8>,
    /// The row's flash: +1 green, -1 red, 0 none. Held while the price keeps moving, so a fast
    /// tape shows a steady tint instead of strobing.
    pub flash: RwSignal<i8>,
}

/// Everything the page shows, as signals. `Copy`, so closures capture it freely.
#[derive(Clone, Copy)]
pub struct Board {
    pub instruments: StoredValue<Vec<Instrument>>,
    /// One per instrument, same order.
    pub rows: StoredValue<Vec<Row>>,
    pub view: RwSignal<ViewState>,
    pub chart: RwSignal<ChartData>,
    /// The chart symbol's book and tape (empty symbol when the view hides depth).
    pub depth: RwSignal<Depth>,
    pub connection: RwSignal<Connection>,
    pub paused: RwSignal<bool>,
    /// Median of (arrival − tick `ts`) over the last few seconds, in ms.
    pub latency_ms: RwSignal<Option<f64>>,
    /// Tick events received per second, over the last few seconds.
    pub event_rate: RwSignal<f64>,
    /// Id of the last event received (refreshed a few times a second, also while paused).
    pub last_event: RwSignal<Option<String>>,
    pub link: RwSignal<LinkStats>,
    pub keepalive_ms: u64,
    /// The signed-in user and what they own (`None`: anonymous).
    pub account: RwSignal<Option<Account>>,
    /// The name of the user's watchlist the view shows (`None`: none of them).
    pub active_list: RwSignal<Option<String>>,
    /// Bumped whenever who is signed in changes: the stream reconnects with the new session.
    pub session: RwSignal<u32>,
    /// Whether this tab's stream is its own or its browser's shared one.
    pub sharing: RwSignal<Sharing>,
    /// The signed-in user's price alerts, oldest first.
    pub alerts: RwSignal<Vec<crate::wire::alerts::Alert>>,
    /// Their inbox of notifications, and the toasts on screen.
    pub inbox: RwSignal<crate::state::alerts::Inbox>,
    /// Bumped at each animation frame that redraws the parts drawn ten times a second (the
    /// watchlist's rows, the sparklines, the book): what else refreshes at that rate (the chart's
    /// hidden table and summary) does it in the same frame, so the browser lays out and paints
    /// once for all of them.
    pub redraws: RwSignal<u32>,
}

impl Board {
    pub fn new(page: &PageData) -> Self {
        let snapshot = &page.snapshot;
        let instruments: Vec<Instrument> = snapshot.instruments.clone();
        let rows = instruments
            .iter()
            .enumerate()
            .map(|(i, ins)| {
                let quote = snapshot
                    .quotes
                    .iter()
                    .find(|q| q.symbol == ins.symbol)
                    .cloned()
                    .unwrap_or_else(|| Quote {
                        symbol: ins.symbol.clone(),
                        price: 0,
                        bid: 0,
                        ask: 0,
                        volume: 0,
                        open: 0,
                        high: 0,
                        low: 0,
                    });
                let spark = page
                    .sparks
                    .get(i)
                    .map(Spark::series)
                    .unwrap_or_else(|| CandleSeries::new(Interval::S1, SPARK_SECONDS));
                Row {
                    quote: RwSignal::new(quote),
                    spark: RwSignal::new(spark),
                    tick: RwSignal::new(0),
                    flash: RwSignal::new(0),
                }
            })
            .collect();
        let board = Board {
            instruments: StoredValue::new(instruments),
            rows: StoredValue::new(rows),
            view: RwSignal::new(page.view.clone()),
            chart: RwSignal::new(ChartData::new(String::new(), (2, 0), page.view.interval)),
            depth: RwSignal::new(Depth::default()),
            connection: RwSignal::new(Connection::Connecting),
            paused: RwSignal::new(false),
            latency_ms: RwSignal::new(None),
            event_rate: RwSignal::new(0.0),
            last_event: RwSignal::new(page.snapshot.id.map(|id| id.to_string())),
            link: RwSignal::new(LinkStats::default()),
            keepalive_ms: page.keepalive_ms.max(1_000),
            active_list: RwSignal::new(
                page.account
                    .as_ref()
                    .and_then(|a| crate::state::account::active_of(&page.view, &a.watchlists)),
            ),
            account: RwSignal::new(page.account.clone()),
            session: RwSignal::new(0),
            sharing: RwSignal::new(Sharing::Own),
            alerts: RwSignal::new(Vec::new()),
            inbox: RwSignal::new(crate::state::alerts::Inbox {
                unread: page.account.as_ref().map_or(0, |a| a.unread),
                ..Default::default()
            }),
            redraws: RwSignal::new(0),
        };
        let symbol = board.chart_symbol_untracked();
        let mut chart = board.empty_chart(&symbol, page.view.interval);
        if let Some(history) = page
            .chart
            .as_ref()
            .filter(|h| h.symbol == symbol && h.interval == page.view.interval)
        {
            chart.series = CandleSeries::from_candles(
                history.interval,
                history.interval.kept(),
                history.candles.iter().copied(),
            );
        }
        board.chart.set(chart);
        let mut depth = board.empty_depth(page.view.depth.then_some(symbol.as_str()));
        if let Some(book) = page.book.as_ref().filter(|b| b.symbol == depth.symbol) {
            depth.replace(book);
            depth.reprint(&page.trades);
        }
        board.depth.set(depth);
        board
    }

    /// An empty book and tape for `symbol` (`None`: depth off).
    pub fn empty_depth(&self, symbol: Option<&str>) -> Depth {
        let Some(i) = symbol.and_then(|s| self.index_of(s)) else {
            return Depth::default();
        };
        self.instruments
            .with_value(|ins| Depth::new(&ins[i].symbol, ins[i].decimals, ins[i].size_decimals))
    }

    /// Index of `symbol` in the universe.
    pub fn index_of(&self, symbol: &str) -> Option<usize> {
        self.instruments
            .with_value(|list| list.iter().position(|i| i.symbol == symbol))
    }

    pub fn row(&self, index: usize) -> Option<Row> {
        self.rows.with_value(|rows| rows.get(index).copied())
    }

    /// Indices of the watched instruments, in the order the user listed them.
    pub fn watched(&self, view: &ViewState) -> Vec<usize> {
        self.instruments.with_value(|ins| view.watched(ins))
    }

    pub fn chart_symbol_untracked(&self) -> String {
        let view = self.view.get_untracked();
        self.instruments.with_value(|ins| view.chart_symbol(ins))
    }

    /// An empty chart for `symbol`, showing its current price.
    pub fn empty_chart(&self, symbol: &str, interval: Interval) -> ChartData {
        let decimals = self.index_of(symbol).map_or((2, 0), |i| {
            self.instruments
                .with_value(|ins| (ins[i].decimals, ins[i].size_decimals))
        });
        let mut chart = ChartData::new(symbol.to_string(), decimals, interval);
        chart.last = self
            .index_of(symbol)
            .and_then(|i| self.row(i))
            .map(|r| r.quote.with_untracked(|q| q.price));
        chart
    }

    /// Changes the view; the URL and the live feed follow (see `live.rs`).
    pub fn update_view(&self, f: impl FnOnce(&mut ViewState)) {
        self.view.update(f);
    }
}
