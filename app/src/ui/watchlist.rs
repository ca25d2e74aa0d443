//! The watchlist: the symbol picker, the sortable table of live quotes, one row per watched
//! instrument with its sparkline.

use super::format;
use super::sparks::{SparkSheet, SparkSlot};
use crate::state::board::Board;
use leptos::prelude::*;

#[component]
pub(super) fn SymbolPicker(board: Board) -> impl IntoView {
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
        // A signed-in user's picker edits their list.
        super::account::save_watched(board);
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
pub(super) fn Watchlist(board: Board) -> impl IntoView {
    let watched = Memo::new(move |_| board.view.with(|v| board.watched(v)));
    let selected = Memo::new(move |_| {
        board
            .view
            .with(|v| board.instruments.with_value(|ins| v.chart_symbol(ins)))
    });
    // Column sort: None keeps the user's order. Sorting by a live figure re-sorts as it moves,
    // at most once per animation frame (quotes are notified once per frame).
    let sort = RwSignal::new(None::<(SortKey, bool)>);
    let order = Memo::new(move |_| {
        let mut rows = watched.get();
        if let Some((key, descending)) = sort.get() {
            // Exact keys: prices of instruments with different decimals compare at 10^-18.
            let value = |i: usize| -> i128 {
                let Some(row) = board.row(i) else { return 0 };
                let decimals = board.instruments.with_value(|ins| ins[i].decimals.min(18));
                row.quote.with(|q| match key {
                    SortKey::Last => i128::from(q.price) * 10i128.pow(18 - u32::from(decimals)),
                    SortKey::Change => i128::from(q.change_bp()),
                    SortKey::Volume => i128::from(q.volume),
                    SortKey::Symbol => 0,
                })
            };
            if key == SortKey::Symbol {
                board
                    .instruments
                    .with_value(|ins| rows.sort_by(|a, b| ins[*a].symbol.cmp(&ins[*b].symbol)));
            } else {
                rows.sort_by_key(|i| value(*i));
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
    let wrap = NodeRef::<leptos::html::Div>::new();
    view! {
        <div class="table-wrap" node_ref=wrap>
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
            <SparkSheet board wrap order/>
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

/// One row of the watchlist; nothing for an index the board has no row for.
#[component]
fn QuoteRow(board: Board, index: usize, selected: Signal<bool>) -> impl IntoView {
    // A plain function behind the component: with `erase_components` (cargo-leptos's debug
    // builds) a component returns `AnyView`, which an `Option<impl IntoView>` signature breaks.
    quote_row(board, index, selected)
}

fn quote_row(board: Board, index: usize, selected: Signal<bool>) -> Option<impl IntoView> {
    let ins = board.instruments.with_value(|list| list[index].clone());
    let row = board.row(index)?;
    let (d, sd) = (ins.decimals, ins.size_decimals);
    let quote = row.quote;
    let trend = move || match quote.with(|q| q.change().signum()) {
        1 => "up",
        -1 => "down",
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
                {move || quote.with(|q| format::change(q.change(), q.change_bp(), d))}
            </td>
            <td class="num hide-sm">{move || quote.with(|q| format::price(q.bid, d))}</td>
            <td class="num hide-sm">{move || quote.with(|q| format::price(q.ask, d))}</td>
            <td class="num hide-md">{move || quote.with(|q| format::volume(q.volume, sd))}</td>
            <td class="hide-sm"><SparkSlot board index/></td>
        </tr>
    })
}
