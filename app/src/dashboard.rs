//! The dashboard: where a tick is drawn. Components are named after what the user sees.
//!
//! State flows one way: the live feed (browser only, see `live.rs`) writes into [`Board`]'s
//! signals at most once per animation frame, and the components read them.

use crate::format;
use crate::protocol::{Instrument, Quote, Snapshot};
use leptos::prelude::*;

/// The connection badge's states, as shown to the user (and asserted by the end-to-end tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting,
    Stale,
    Paused,
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "Connecting",
            Connection::Live => "Live",
            Connection::Reconnecting => "Reconnecting",
            Connection::Stale => "Stale",
            Connection::Paused => "Paused",
        }
    }
}

/// One watchlist row: the instrument's fixed facts and its latest quote.
#[derive(Clone)]
pub struct Row {
    pub instrument: Instrument,
    pub quote: RwSignal<Quote>,
    /// +1 when the last update raised the price, -1 when it lowered it, 0 otherwise.
    pub direction: RwSignal<i8>,
}

/// Everything the page shows, as signals. Cheap to copy into closures.
#[derive(Clone)]
pub struct Board {
    pub rows: StoredValue<Vec<Row>>,
    pub connection: RwSignal<Connection>,
    /// Median of (arrival − tick `ts`) over the last few seconds, in ms.
    pub latency_ms: RwSignal<Option<f64>>,
    /// Events received per second, over the last few seconds.
    pub event_rate: RwSignal<f64>,
}

impl Board {
    fn from_snapshot(snapshot: &Snapshot) -> Self {
        let rows = snapshot
            .instruments
            .iter()
            .filter_map(|instrument| {
                let quote = snapshot
                    .quotes
                    .iter()
                    .find(|q| q.symbol == instrument.symbol)?;
                Some(Row {
                    instrument: instrument.clone(),
                    quote: RwSignal::new(quote.clone()),
                    direction: RwSignal::new(0),
                })
            })
            .collect();
        Board {
            rows: StoredValue::new(rows),
            connection: RwSignal::new(Connection::Connecting),
            latency_ms: RwSignal::new(None),
            event_rate: RwSignal::new(0.0),
        }
    }

    /// Applies a batch of quotes (one animation frame's worth): one signal write per moved row.
    pub fn apply(&self, quotes: impl IntoIterator<Item = Quote>) {
        self.rows.with_value(|rows| {
            for quote in quotes {
                if let Some(row) = rows.iter().find(|r| r.instrument.symbol == quote.symbol) {
                    let before = row.quote.with_untracked(|q| q.price);
                    let dir = (quote.price > before) as i8 - (quote.price < before) as i8;
                    if dir != 0 {
                        row.direction.set(dir);
                    }
                    row.quote.set(quote);
                }
            }
        });
    }
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <title>"Tickertape — live market data"</title>
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

/// The dashboard. Its first render uses the snapshot the server put in context; the same
/// snapshot is serialised into the page so hydration starts from identical data.
#[component]
pub fn App() -> impl IntoView {
    let snapshot = SharedValue::new(|| use_context::<Snapshot>().unwrap_or_default()).into_inner();
    let board = Board::from_snapshot(&snapshot);

    #[cfg(feature = "hydrate")]
    crate::live::start(board.clone(), snapshot.id);

    view! {
        <Header board=board.clone()/>
        <main class="layout">
            <Watchlist board/>
        </main>
    }
}

#[component]
fn Header(board: Board) -> impl IntoView {
    let latency = move || match board.latency_ms.get() {
        Some(ms) => format!("{ms:.0} ms"),
        None => "—".to_string(),
    };
    let rate = move || format!("{:.0}/s", board.event_rate.get());
    view! {
        <header class="topbar">
            <h1 class="brand">"Tickertape"</h1>
            <ConnectionBadge connection=board.connection/>
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
        </header>
    }
}

#[component]
fn ConnectionBadge(connection: RwSignal<Connection>) -> impl IntoView {
    view! {
        <span
            class="badge"
            data-state=move || connection.get().label().to_lowercase()
            data-testid="connection-status"
            role="status"
            aria-live="polite"
        >
            {move || connection.get().label()}
        </span>
    }
}

#[component]
fn Watchlist(board: Board) -> impl IntoView {
    let rows = board.rows.get_value();
    view! {
        <section class="watchlist" aria-label="Watchlist">
            <table>
                <thead>
                    <tr>
                        <th scope="col">"Symbol"</th>
                        <th scope="col" class="num">"Last"</th>
                        <th scope="col" class="num">"Change"</th>
                        <th scope="col" class="num">"Bid"</th>
                        <th scope="col" class="num">"Ask"</th>
                        <th scope="col" class="num">"Volume"</th>
                    </tr>
                </thead>
                <tbody>{rows.into_iter().map(|row| view! { <QuoteRow row/> }).collect_view()}</tbody>
            </table>
        </section>
    }
}

#[component]
fn QuoteRow(row: Row) -> impl IntoView {
    let Row {
        instrument,
        quote,
        direction,
    } = row;
    let d = instrument.decimals;
    let trend = move || {
        let c = quote.with(|q| q.change);
        if c > 0.0 {
            "up"
        } else if c < 0.0 {
            "down"
        } else {
            "flat"
        }
    };
    let tick = move || match direction.get() {
        1 => "up",
        -1 => "down",
        _ => "flat",
    };
    view! {
        <tr data-testid="quote-row" data-symbol=instrument.symbol.clone()>
            <th scope="row">
                <span class="sym">{instrument.symbol.clone()}</span>
                <span class="name">{instrument.name.clone()}</span>
            </th>
            <td class="num last" data-testid="quote-last" data-tick=tick>
                {move || quote.with(|q| format::price(q.price, d))}
            </td>
            <td class="num change" data-testid="quote-change" data-trend=trend>
                {move || quote.with(|q| format::change(q.change, q.change_pct, d))}
            </td>
            <td class="num">{move || quote.with(|q| format::price(q.bid, d))}</td>
            <td class="num">{move || quote.with(|q| format::price(q.ask, d))}</td>
            <td class="num">{move || quote.with(|q| format::volume(q.volume))}</td>
        </tr>
    }
}
