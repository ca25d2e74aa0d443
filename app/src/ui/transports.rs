//! The Transports view (`?view=transports`): SSE, WebSocket and long polling side by side on
//! the same symbols, each with its own connection, measured live.

use super::format::{self, Fixed};
use super::header::ConnectionBadge;
use super::theme::ThemeToggle;
use crate::state::board::Board;
use crate::state::page::PageData;
use crate::state::view::{Screen, Transport, ViewState};
use leptos::prelude::*;

/// SSE, WebSocket and long polling side by side on the same symbols, each with its own
/// connection, measured live: the trade-offs of the three approaches made visible.
#[component]
pub(super) fn TransportsView(page: PageData) -> impl IntoView {
    let boards: Vec<(Transport, Board)> = Transport::ALL
        .into_iter()
        .map(|t| {
            let mut page = page.clone();
            page.view.transport = t;
            page.view.screen = Screen::Dashboard;
            // Quotes only: the three panels compare transports, not books.
            page.view.depth = false;
            (t, Board::new(&page))
        })
        .collect();
    let wire = RwSignal::new([None; 3]);
    #[cfg(feature = "hydrate")]
    {
        for (_, board) in &boards {
            crate::live::start(*board, page.snapshot.id, false);
        }
        crate::live::watch_wire(wire);
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
            {boards
                .into_iter()
                .enumerate()
                .map(|(i, (t, board))| {
                    let wire = Signal::derive(move || wire.get()[i]);
                    view! { <TransportPanel transport=t board wire/> }
                })
                .collect_view()}
            <section class="panel notes">
                <h2>"What to look for"</h2>
                <ul>
                    <li><strong>"Server-Sent Events"</strong>" — one long HTTP response, one-way. Lowest overhead per event; the browser's resume (Last-Event-ID) is built into the protocol."</li>
                    <li><strong>"WebSocket"</strong>" — one upgraded connection, two-way: the page can change its subscription without reconnecting. Slightly more framing per event than SSE."</li>
                    <li><strong>"Long polling"</strong>" — a new HTTP request per batch (see the request count climb). Each answer waits for data, so latency stays low, but every round trip costs headers and server work: the server gets loaded by repeated requests."</li>
                </ul>
                <p>"All three carry identical events, ids and resume rules from one hub, so they show identical prices."</p>
                <p>
                    "Body bytes/event is the events' text this page received. Wire bytes/event is counted by the server over every client of that transport (this page's and any other), every 2 s: it adds HTTP heads, chunk and WebSocket framing, keep-alives and, for long polling, each request and answer. TCP/IP headers are not counted."
                </p>
            </section>
        </main>
    }
}

#[component]
fn TransportPanel(transport: Transport, board: Board, wire: Signal<Option<f64>>) -> impl IntoView {
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
                    label="Wire bytes/event"
                    testid="wire-bytes-per-event"
                    value=Signal::derive(move || wire.get().map_or_else(|| "—".to_string(), |b| format::fixed(b, 0)))
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

/// One labelled figure of a transport panel (one component, so the seven share their code).
#[component]
fn Figure(label: &'static str, testid: &'static str, value: Signal<String>) -> impl IntoView {
    view! {
        <div>
            <dt>{label}</dt>
            <dd data-testid=testid>{value}</dd>
        </div>
    }
}
