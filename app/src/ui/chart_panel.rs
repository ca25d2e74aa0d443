//! The chart panel: the selected symbol's title and last price, the chart type and interval
//! controls, and the [`PriceChart`].

use super::chart::{AlertEdit, AlertLevel, PriceChart};
use super::format;
use super::studies::IndicatorMenu;
use crate::state::board::Board;
use crate::state::indicators::parse_list;
use crate::state::view::ChartMode;
use crate::state::viewport::ZOOM_STEP;
use crate::wire::protocol::Interval;
use leptos::prelude::*;

#[component]
pub(super) fn ChartPanel(board: Board) -> impl IntoView {
    // The chart's symbol, as a memo: the chart's data changes at every frame, the symbol rarely.
    let symbol = Memo::new(move |_| board.chart.with(|c| c.symbol.clone()));
    let mode = Signal::derive(move || board.view.with(|v| v.mode));
    let studies = Memo::new(move |_| board.view.with(|v| parse_list(&v.studies)));
    // The user's live alerts on the chart's symbol, as lines at their levels.
    let alert_levels = Memo::new(move |_| {
        let symbol = symbol.get();
        board.alerts.with(|list| {
            list.iter()
                .filter(|a| a.symbol == symbol && (a.state == "active" || a.state == "paused"))
                .flat_map(|a| {
                    let paused = a.state == "paused";
                    let level = |price, movable| AlertLevel {
                        id: a.id,
                        price,
                        paused,
                        movable,
                    };
                    match (a.price, a.low, a.high) {
                        (Some(price), ..) => vec![level(price, true)],
                        (None, Some(low), Some(high)) => vec![level(low, false), level(high, false)],
                        _ => Vec::new(),
                    }
                })
                .collect::<Vec<_>>()
        })
    });
    let can_alert = Signal::derive(move || board.account.with(Option::is_some));
    let on_alert = Callback::new(move |edit: AlertEdit| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let _ = crate::live::alerts::edit_from_chart(board, edit).await;
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = edit;
    });
    let title = move || {
        symbol.with(|s| {
            let name = board
                .index_of(s)
                .map(|i| board.instruments.with_value(|ins| ins[i].name.clone()));
            (s.clone(), name.unwrap_or_default())
        })
    };
    let last = move || {
        let symbol = symbol.get();
        let (i, d) = board
            .index_of(&symbol)
            .map(|i| (i, board.instruments.with_value(|ins| ins[i].decimals)))?;
        let row = board.row(i)?;
        Some(
            row.quote
                .with(|q| (format::price(q.price, d), format::change(q.change(), q.change_bp(), d))),
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
    let zoom = move |factor: f64| board.chart.update(|c| c.viewport = c.viewport.zoom(factor));
    let live = move || board.chart.with(|c| c.viewport.is_live());
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
                    <button
                        class="btn live-btn"
                        data-testid="chart-live"
                        hidden=live
                        title="Back to the newest candle, following the market (End)"
                        on:click=move |_| board.chart.update(|c| c.viewport = c.viewport.live())
                    >
                        "Back to live ⇥"
                    </button>
                    <span class="zoom" role="group" aria-label="Zoom">
                        <button class="btn" data-testid="zoom-out" title="Zoom out (−)" aria-label="Zoom out" on:click=move |_| zoom(ZOOM_STEP)>"−"</button>
                        <button class="btn" data-testid="zoom-in" title="Zoom in (+)" aria-label="Zoom in" on:click=move |_| zoom(1.0 / ZOOM_STEP)>"+"</button>
                    </span>
                    <IndicatorMenu board studies/>
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
            <PriceChart data=board.chart mode studies alerts=alert_levels on_alert can_alert redraws=board.redraws/>
        </section>
    }
}
