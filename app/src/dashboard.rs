//! The dashboard: where a tick is drawn. Components are named after what the user sees.
//!
//! State flows one way: the live feed (browser only, `live.rs`) stores incoming data in
//! [`Board`]'s signals *without* notifying, then notifies the changed ones once per animation
//! frame; the components read them. The server renders the same components from [`PageData`].

use crate::candles::{Candle, CandleSeries, Interval};
use crate::chart::{ChartData, PriceChart, Sparkline, VISIBLE_CANDLES};
use crate::format::{self, Fixed};
use crate::json::from_json_struct;
use crate::protocol::{History, Instrument, Quote, Snapshot};
use crate::view::{ChartMode, Screen, Transport, ViewState};
use leptos::either::Either;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Seconds of prices in a sparkline.
pub const SPARK_SECONDS: usize = 60;

/// Everything the first render needs, computed by the server for the requested URL and
/// serialised into the page, so hydration starts from identical data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageData {
    /// Every instrument and its latest quote (the picker offers all of them).
    pub snapshot: Snapshot,
    pub view: ViewState,
    /// Per instrument (snapshot order): the last minute as 1-second closes.
    pub sparks: Vec<Spark>,
    /// Backfill of the main chart's symbol and interval.
    pub chart: Option<History>,
    /// The server's SSE keep-alive period: silence for twice as long means `Stale`.
    pub keepalive_ms: u64,
}

from_json_struct!(PageData {
    snapshot: "snapshot",
    view: "view",
    sparks: "sparks",
    chart: "chart",
    keepalive_ms: "keepalive_ms"
});

/// A sparkline's data: closes of consecutive 1-second buckets ending at `t_last`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spark {
    pub t_last: i64,
    pub closes: Vec<f64>,
}

from_json_struct!(Spark {
    t_last: "t_last",
    closes: "closes"
});

impl Spark {
    pub fn from_candles(candles: &[Candle]) -> Self {
        Spark {
            t_last: candles.last().map_or(0, |c| c.t),
            closes: candles.iter().map(|c| c.close).collect(),
        }
    }

    fn series(&self) -> CandleSeries {
        let n = self.closes.len() as i64;
        let candles = self.closes.iter().enumerate().map(|(i, &p)| Candle {
            t: self.t_last - (n - 1 - i as i64) * 1_000,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: 0,
        });
        CandleSeries::from_candles(Interval::S1, SPARK_SECONDS, candles)
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
                        price: 0.0,
                        bid: 0.0,
                        ask: 0.0,
                        volume: 0,
                        open: 0.0,
                        high: 0.0,
                        low: 0.0,
                        change: 0.0,
                        change_pct: 0.0,
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
            chart: RwSignal::new(ChartData::new(String::new(), 2, page.view.interval)),
            connection: RwSignal::new(Connection::Connecting),
            paused: RwSignal::new(false),
            latency_ms: RwSignal::new(None),
            event_rate: RwSignal::new(0.0),
            last_event: RwSignal::new(page.snapshot.id.map(|id| id.to_string())),
            link: RwSignal::new(LinkStats::default()),
            keepalive_ms: page.keepalive_ms.max(1_000),
        };
        let symbol = board.chart_symbol_untracked();
        let mut chart = board.empty_chart(&symbol, page.view.interval);
        if let Some(history) = page
            .chart
            .as_ref()
            .filter(|h| h.symbol == symbol && h.interval == page.view.interval)
        {
            chart.series =
                CandleSeries::from_candles(history.interval, VISIBLE_CANDLES * 2, history.candles.iter().copied());
        }
        board.chart.set(chart);
        board
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

    /// The main chart's symbol: the one in the URL if it is watched, else the first watched.
    pub fn chart_symbol(view: &ViewState, watched: &[usize], instruments: &[Instrument]) -> String {
        let watched_symbol = |s: &String| watched.iter().any(|&i| instruments[i].symbol == *s);
        view.symbol
            .clone()
            .filter(watched_symbol)
            .or_else(|| watched.first().map(|&i| instruments[i].symbol.clone()))
            .unwrap_or_default()
    }

    pub fn chart_symbol_untracked(&self) -> String {
        let view = self.view.get_untracked();
        let watched = self.watched(&view);
        self.instruments
            .with_value(|ins| Self::chart_symbol(&view, &watched, ins))
    }

    /// An empty chart for `symbol`, showing its current price.
    pub fn empty_chart(&self, symbol: &str, interval: Interval) -> ChartData {
        let decimals = self
            .index_of(symbol)
            .map_or(2, |i| self.instruments.with_value(|ins| ins[i].decimals));
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

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    // Applies the remembered theme before the first paint, so a dark-mode user never sees a
    // light flash. It only reads localStorage and sets an attribute.
    let theme = "try{var t=localStorage.getItem('tickertape-theme');if(t==='light'||t==='dark')document.documentElement.dataset.theme=t}catch(e){}";
    let page = page_data_json();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Live market data over Server-Sent Events"/>
                <title>"Tickertape — live market data"</title>
                <script inner_html=theme></script>
                <script type="application/json" id=PAGE_DATA_ID inner_html=page></script>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" href=css/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Id of the `<script type="application/json">` in the page's head that carries [`PageData`].
const PAGE_DATA_ID: &str = "page-data";

/// The request's [`PageData`] as JSON for the page's head, `<` escaped so that no string in it
/// can end the script element. Empty outside a server render.
fn page_data_json() -> String {
    #[cfg(feature = "ssr")]
    if let Some(json) = leptos::reactive::owner::with_context(|page: &PageData| serde_json::to_string(page)) {
        return json.unwrap_or_default().replace('<', "\\u003c");
    }
    String::new()
}

/// The data of the first render: on the server the request's context; in the browser the JSON
/// the server put in the page's head, so hydration starts from identical data. (Leptos's
/// `SharedValue` does the same hand-off, but decodes with serde_json, which the page does not
/// link: see `json.rs`.)
fn page_data() -> PageData {
    #[cfg(feature = "hydrate")]
    {
        let text = document()
            .get_element_by_id(PAGE_DATA_ID)
            .and_then(|e| e.text_content());
        if let Some(page) = text.and_then(|t| crate::json::from_str::<PageData>(&t).ok()) {
            return page;
        }
    }
    use_context::<PageData>().unwrap_or_default()
}

/// The application: the dashboard, or the Transports view (`?view=transports`).
#[component]
pub fn App() -> impl IntoView {
    let page = page_data();
    match page.view.screen {
        Screen::Dashboard => Either::Left(view! { <Dashboard page/> }),
        Screen::Transports => Either::Right(view! { <TransportsView page/> }),
    }
}

#[component]
fn Dashboard(page: PageData) -> impl IntoView {
    let board = Board::new(&page);

    #[cfg(feature = "hydrate")]
    crate::live::start(board, page.snapshot.id, true);

    view! {
        <Header board/>
        <main class="layout">
            <section class="panel watch" aria-labelledby="watchlist-title">
                <div class="panel-head">
                    <h2 id="watchlist-title">"Watchlist"</h2>
                    <SymbolPicker board/>
                </div>
                <Watchlist board/>
            </section>
            <ChartPanel board/>
        </main>
    }
}

#[component]
fn Header(board: Board) -> impl IntoView {
    let latency = move || {
        board
            .latency_ms
            .get()
            .map_or_else(|| "—".to_string(), |ms| format!("{} ms", Fixed(ms, 0)))
    };
    let rate = move || format!("{}/s", Fixed(board.event_rate.get(), 0));
    view! {
        <header class="topbar">
            <h1 class="brand">"Tickertape"</h1>
            <ConnectionBadge board/>
            <dl class="stats">
                <div>
                    <dt>"Latency"</dt>
                    <dd data-testid="latency">{latency}</dd>
                </div>
                <div>
                    <dt>"Events"</dt>
                    <dd data-testid="event-rate">{rate}</dd>
                </div>
            </dl>
            <div class="controls">
                <TransportSelect board/>
                <a class="btn" href=move || board.view.with(transports_href)>"Compare transports"</a>
                <PauseToggle paused=board.paused/>
                <ThemeToggle/>
            </div>
        </header>
    }
}

/// The link to the Transports view for the same symbols.
fn transports_href(view: &ViewState) -> String {
    ViewState {
        symbols: view.symbols.clone(),
        screen: Screen::Transports,
        ..ViewState::default()
    }
    .to_query()
}

#[component]
fn TransportSelect(board: Board) -> impl IntoView {
    let current = move || board.view.with(|v| v.transport);
    let on_change = move |ev| {
        if let Some(transport) = Transport::parse(&event_target_value(&ev)) {
            board.update_view(|v| v.transport = transport);
        }
    };
    view! {
        <label>
            <span class="sr-only">"Transport"</span>
            <select data-testid="transport" on:change=on_change prop:value=move || current().as_str()>
                {Transport::ALL
                    .into_iter()
                    .map(|t| view! { <option value=t.as_str() selected=move || current() == t>{t.label()}</option> })
                    .collect::<Vec<_>>()}
            </select>
        </label>
    }
}

#[component]
fn ConnectionBadge(board: Board) -> impl IntoView {
    let label = move || {
        if board.paused.get() {
            "Paused"
        } else {
            board.connection.get().label()
        }
    };
    view! {
        <span
            class="badge"
            data-state=move || label().to_ascii_lowercase()
            data-testid="connection-status"
            role="status"
            aria-live="polite"
            aria-label=move || format!("Connection: {}", label())
            title=move || board.last_event.get().map(|id| format!("Last event {id}"))
            data-last-event=move || board.last_event.get()
        >
            {label}
        </span>
    }
}

#[component]
fn PauseToggle(paused: RwSignal<bool>) -> impl IntoView {
    view! {
        <button
            type="button"
            class="btn"
            data-testid="pause-toggle"
            aria-pressed=move || paused.get().to_string()
            on:click=move |_| paused.update(|p| *p = !*p)
        >
            {move || if paused.get() { "Resume" } else { "Pause" }}
        </button>
    }
}

/// Light/dark switch. Defaults to the system preference; a choice is remembered in
/// localStorage and applied before first paint by the shell's inline script.
#[component]
fn ThemeToggle() -> impl IntoView {
    // None until hydrated: the server cannot know the visitor's theme, so it renders neutral.
    let dark = RwSignal::new(None::<bool>);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| dark.set(Some(crate::live::theme_is_dark())));
    let toggle = move |_| {
        let next = !dark.get_untracked().unwrap_or(false);
        dark.set(Some(next));
        #[cfg(feature = "hydrate")]
        crate::live::set_theme(if next { "dark" } else { "light" });
    };
    view! {
        <button
            type="button"
            class="btn"
            data-testid="theme-toggle"
            data-theme=move || match dark.get() { Some(true) => "dark", Some(false) => "light", None => "" }
            aria-pressed=move || dark.get().unwrap_or(false).to_string()
            aria-label="Dark theme"
            on:click=toggle
        >
            {move || match dark.get() { Some(true) => "Light theme", Some(false) => "Dark theme", None => "Theme" }}
        </button>
    }
}

#[component]
fn SymbolPicker(board: Board) -> impl IntoView {
    let instruments = board.instruments.get_value();
    let count = move || board.view.with(|v| board.watched(v).len());
    let toggle = move |symbol: String| {
        board.update_view(|v| {
            let all: Vec<String> = board
                .instruments
                .with_value(|ins| ins.iter().map(|i| i.symbol.clone()).collect());
            let mut list = v.symbols.clone().unwrap_or_else(|| all.clone());
            if let Some(pos) = list.iter().position(|s| *s == symbol) {
                if list.len() > 1 {
                    list.remove(pos);
                }
            } else {
                list.push(symbol);
            }
            v.symbols = if list.len() == all.len() { None } else { Some(list) };
        });
    };
    view! {
        <details class="picker" data-testid="symbol-picker">
            <summary>"Symbols " <span class="count">{count}</span></summary>
            <fieldset>
                <legend class="sr-only">"Watched symbols"</legend>
                {instruments
                    .into_iter()
                    .map(|ins| {
                        let symbol = ins.symbol.clone();
                        let checked = {
                            let symbol = symbol.clone();
                            move || board.view.with(|v| v.watches(&symbol))
                        };
                        let on_change = {
                            let symbol = symbol.clone();
                            move |_| toggle(symbol.clone())
                        };
                        view! {
                            <label class="pick">
                                <input type="checkbox" value=symbol.clone() prop:checked=checked on:change=on_change/>
                                <span class="sym">{symbol.clone()}</span>
                                <span class="name">{ins.name.clone()}</span>
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
        </details>
    }
}

#[component]
fn Watchlist(board: Board) -> impl IntoView {
    let watched = Memo::new(move |_| board.view.with(|v| board.watched(v)));
    let selected = Memo::new(move |_| {
        board.view.with(|v| {
            board
                .instruments
                .with_value(|ins| Board::chart_symbol(v, &watched.get(), ins))
        })
    });
    // Column sort: None keeps the user's order. Sorting by a live figure re-sorts as it moves,
    // at most once per animation frame (quotes are notified once per frame).
    let sort = RwSignal::new(None::<(SortKey, bool)>);
    let order = Memo::new(move |_| {
        let mut rows = watched.get();
        if let Some((key, descending)) = sort.get() {
            let value = |i: usize| -> f64 {
                let Some(row) = board.row(i) else { return 0.0 };
                row.quote.with(|q| match key {
                    SortKey::Last => q.price,
                    SortKey::Change => q.change_pct,
                    SortKey::Volume => q.volume as f64,
                    SortKey::Symbol => 0.0,
                })
            };
            if key == SortKey::Symbol {
                board
                    .instruments
                    .with_value(|ins| rows.sort_by(|a, b| ins[*a].symbol.cmp(&ins[*b].symbol)));
            } else {
                rows.sort_by(|a, b| value(*a).total_cmp(&value(*b)));
            }
            if descending {
                rows.reverse();
            }
        }
        rows
    });
    let header = move |key: SortKey, label: &'static str, class: &'static str| {
        let aria = move || match sort.get() {
            Some((k, false)) if k == key => "ascending",
            Some((k, true)) if k == key => "descending",
            _ => "none",
        };
        // Click: ascending, descending, then back to the user's order.
        let on_click = move |_| {
            sort.update(|s| {
                *s = match *s {
                    Some((k, false)) if k == key => Some((key, true)),
                    Some((k, true)) if k == key => None,
                    _ => Some((key, false)),
                }
            })
        };
        view! {
            <th scope="col" class=class aria-sort=aria>
                <button type="button" class="sort" data-sort=key.as_str() on:click=on_click>{label}</button>
            </th>
        }
    };
    view! {
        <div class="table-wrap">
            <table class="quotes">
                <caption class="sr-only">"Live quotes; select a row to chart it; column headers sort"</caption>
                <thead>
                    <tr>
                        {header(SortKey::Symbol, "Symbol", "")}
                        {header(SortKey::Last, "Last", "num")}
                        {header(SortKey::Change, "Change", "num")}
                        <th scope="col" class="num hide-sm">"Bid"</th>
                        <th scope="col" class="num hide-sm">"Ask"</th>
                        {header(SortKey::Volume, "Volume", "num hide-md")}
                        <th scope="col" class="hide-sm">"1 min"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || order.get() key=|i| *i let:index>
                        <QuoteRow
                            board
                            index
                            selected=Signal::derive(move || {
                                board.instruments.with_value(|ins| ins[index].symbol == selected.get())
                            })
                        />
                    </For>
                </tbody>
            </table>
        </div>
    }
}

/// Watchlist columns that sort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SortKey {
    Symbol,
    Last,
    Change,
    Volume,
}

impl SortKey {
    fn as_str(self) -> &'static str {
        match self {
            SortKey::Symbol => "symbol",
            SortKey::Last => "last",
            SortKey::Change => "change",
            SortKey::Volume => "volume",
        }
    }
}

#[component]
/// Nothing for an index the board has no row for.
fn QuoteRow(board: Board, index: usize, selected: Signal<bool>) -> Option<impl IntoView> {
    let ins = board.instruments.with_value(|list| list[index].clone());
    let row = board.row(index)?;
    let d = ins.decimals;
    let quote = row.quote;
    let trend = move || match quote.with(|q| q.change.partial_cmp(&0.0)) {
        Some(std::cmp::Ordering::Greater) => "up",
        Some(std::cmp::Ordering::Less) => "down",
        _ => "flat",
    };
    let dir = |v: i8| match v {
        1 => "up",
        -1 => "down",
        _ => "",
    };
    let select = {
        let symbol = ins.symbol.clone();
        move || {
            let symbol = symbol.clone();
            board.update_view(move |v| v.symbol = Some(symbol));
        }
    };
    let on_click = {
        let select = select.clone();
        move |_| select()
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" || ev.key() == " " {
            ev.prevent_default();
            select();
        }
    };
    let points = Signal::derive(move || row.spark.with(|s| s.iter().map(|c| c.close).collect::<Vec<_>>()));
    Some(view! {
        <tr
            data-testid="quote-row"
            data-symbol=ins.symbol.clone()
            aria-selected=move || selected.get().to_string()
            tabindex="0"
            on:click=on_click
            on:keydown=on_key
        >
            <th scope="row">
                <span class="sym">{ins.symbol.clone()}</span>
                <span class="name">{ins.name.clone()}</span>
            </th>
            <td
                class="num last"
                data-testid="quote-last"
                data-tick=move || dir(row.tick.get())
                data-flash=move || dir(row.flash.get())
            >
                {move || quote.with(|q| format::price(q.price, d))}
            </td>
            <td class="num change" data-testid="quote-change" data-trend=trend>
                {move || quote.with(|q| format::change(q.change, q.change_pct, d))}
            </td>
            <td class="num hide-sm">{move || quote.with(|q| format::price(q.bid, d))}</td>
            <td class="num hide-sm">{move || quote.with(|q| format::price(q.ask, d))}</td>
            <td class="num hide-md">{move || quote.with(|q| format::volume(q.volume))}</td>
            <td class="hide-sm"><Sparkline points/></td>
        </tr>
    })
}

#[component]
fn ChartPanel(board: Board) -> impl IntoView {
    let mode = Signal::derive(move || board.view.with(|v| v.mode));
    let title = move || {
        board.chart.with(|c| {
            let name = board
                .index_of(&c.symbol)
                .map(|i| board.instruments.with_value(|ins| ins[i].name.clone()));
            (c.symbol.clone(), name.unwrap_or_default())
        })
    };
    let last = move || {
        let symbol = board.chart.with(|c| c.symbol.clone());
        let (i, d) = board
            .index_of(&symbol)
            .map(|i| (i, board.instruments.with_value(|ins| ins[i].decimals)))?;
        let row = board.row(i)?;
        Some(
            row.quote
                .with(|q| (format::price(q.price, d), format::change(q.change, q.change_pct, d))),
        )
    };
    let on_mode = move |ev| {
        let mode = if event_target_value(&ev) == "line" {
            ChartMode::Line
        } else {
            ChartMode::Candles
        };
        board.update_view(|v| v.mode = mode);
    };
    let on_interval = move |ev| {
        if let Ok(interval) = event_target_value(&ev).parse::<Interval>() {
            board.update_view(|v| v.interval = interval);
        }
    };
    view! {
        <section class="panel chart-panel" aria-labelledby="chart-title">
            <div class="panel-head">
                <h2 id="chart-title">
                    <span data-testid="chart-symbol">{move || title().0}</span>
                    <span class="name">{move || title().1}</span>
                </h2>
                <div class="chart-last">{move || last().map(|(p, c)| view! { <strong>{p}</strong> <span>{c}</span> })}</div>
                <div class="chart-controls">
                    <label>
                        <span class="sr-only">"Chart type"</span>
                        <select data-testid="chart-mode" on:change=on_mode prop:value=move || mode.get().as_str()>
                            <option value="candles">"Candles"</option>
                            <option value="line">"Line"</option>
                        </select>
                    </label>
                    <label>
                        <span class="sr-only">"Candle interval"</span>
                        <select data-testid="chart-interval" on:change=on_interval prop:value=move || board.view.with(|v| v.interval.as_str())>
                            {Interval::ALL.into_iter().map(|i| view! { <option value=i.as_str()>{i.as_str()}</option> }).collect::<Vec<_>>()}
                        </select>
                    </label>
                </div>
            </div>
            <PriceChart data=board.chart mode/>
        </section>
    }
}

/// SSE, WebSocket and long polling side by side on the same symbols, each with its own
/// connection, measured live: the trade-offs of the three approaches made visible.
#[component]
fn TransportsView(page: PageData) -> impl IntoView {
    let boards: Vec<(Transport, Board)> = Transport::ALL
        .into_iter()
        .map(|t| {
            let mut page = page.clone();
            page.view.transport = t;
            page.view.screen = Screen::Dashboard;
            (t, Board::new(&page))
        })
        .collect();
    #[cfg(feature = "hydrate")]
    for (_, board) in &boards {
        crate::live::start(*board, page.snapshot.id, false);
    }
    let back = ViewState {
        symbols: page.view.symbols.clone(),
        ..ViewState::default()
    }
    .to_query();
    let back = if back.is_empty() { "/".to_string() } else { back };
    view! {
        <header class="topbar">
            <h1 class="brand">"Tickertape"</h1>
            <span class="subtitle">"Three ways to push a market feed"</span>
            <div class="controls">
                <a class="btn" href=back>"Back to the dashboard"</a>
                <ThemeToggle/>
            </div>
        </header>
        <main class="compare">
            {boards.into_iter().map(|(t, board)| view! { <TransportPanel transport=t board/> }).collect_view()}
            <section class="panel notes">
                <h2>"What to look for"</h2>
                <ul>
                    <li><strong>"Server-Sent Events"</strong>" — one long HTTP response, one-way. Lowest overhead per event; the browser's resume (Last-Event-ID) is built into the protocol."</li>
                    <li><strong>"WebSocket"</strong>" — one upgraded connection, two-way: the page can change its subscription without reconnecting. Slightly more framing per event than SSE."</li>
                    <li><strong>"Long polling"</strong>" — a new HTTP request per batch (see the request count climb). Each answer waits for data, so latency stays low, but every round trip costs headers and server work: the server gets loaded by repeated requests."</li>
                </ul>
                <p>"All three carry identical events, ids and resume rules from one hub, so they show identical prices."</p>
            </section>
        </main>
    }
}

#[component]
fn TransportPanel(transport: Transport, board: Board) -> impl IntoView {
    let ms = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{} ms", Fixed(v, 0)));
    let link = board.link;
    let watched = board.view.with_untracked(|v| board.watched(v));
    let rows = watched.into_iter().take(4).collect::<Vec<_>>();
    view! {
        <section class="panel transport" data-testid="transport-panel" data-transport=transport.as_str()>
            <div class="panel-head">
                <h2>{transport.label()}</h2>
                <ConnectionBadge board/>
            </div>
            <dl class="figures">
                <Figure label="Latency p50" testid="latency-p50" value=Signal::derive(move || ms(link.get().latency_p50))/>
                <Figure label="Latency p99" testid="latency-p99" value=Signal::derive(move || ms(link.get().latency_p99))/>
                <Figure
                    label="Events/s"
                    testid="events-per-second"
                    value=Signal::derive(move || format::fixed(board.event_rate.get(), 0))
                />
                <Figure
                    label="Body bytes/event"
                    testid="bytes-per-event"
                    value=Signal::derive(move || {
                        link.get().bytes_per_event.map_or_else(|| "—".to_string(), |b| format::fixed(b, 0))
                    })
                />
                <Figure
                    label=if transport == Transport::Poll { "Requests" } else { "Connections" }
                    testid="connections"
                    value=Signal::derive(move || link.get().opened.to_string())
                />
                <Figure label="Reconnects" testid="reconnects" value=Signal::derive(move || link.get().reconnects.to_string())/>
            </dl>
            <table class="quotes mini">
                <tbody>
                    {rows
                        .into_iter()
                        .filter_map(|i| {
                            let row = board.row(i)?;
                            let ins = board.instruments.with_value(|list| list[i].clone());
                            let d = ins.decimals;
                            Some(view! {
                                <tr data-symbol=ins.symbol.clone()>
                                    <th scope="row">{ins.symbol.clone()}</th>
                                    <td class="num last" data-testid="quote-last">{move || row.quote.with(|q| format::price(q.price, d))}</td>
                                </tr>
                            })
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// One labelled figure of a transport panel (one component, so the six share their code).
#[component]
fn Figure(label: &'static str, testid: &'static str, value: Signal<String>) -> impl IntoView {
    view! {
        <div>
            <dt>{label}</dt>
            <dd data-testid=testid>{value}</dd>
        </div>
    }
}
