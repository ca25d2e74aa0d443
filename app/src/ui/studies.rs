//! The chart's indicator menu: SMA, EMA, VWAP, Bollinger bands and RSI, each on or off with its
//! parameters. The choice is part of the view, so it lives in the URL (`ind=sma20,rsi14`) and a
//! copied link opens with the same indicators.

use crate::state::board::Board;
use crate::state::indicators::{BAND_WIDTHS, Kind, PERIODS, list_string, parse_list};
use leptos::prelude::*;
use std::mem::discriminant;

/// One row of the menu: a kind, its parameters as the user last set them, and whether it is on.
#[derive(Clone, Copy)]
struct Row {
    /// `sma`, `ema`, `vwap`, `bb`, `rsi`: the row's test id suffix.
    id: &'static str,
    name: &'static str,
    /// The kind with the row's default parameters.
    default: Kind,
}

const ROWS: [Row; 5] = [
    Row {
        id: "sma",
        name: "SMA",
        default: Kind::Sma { period: 20 },
    },
    Row {
        id: "ema",
        name: "EMA",
        default: Kind::Ema { period: 50 },
    },
    Row {
        id: "vwap",
        name: "VWAP",
        default: Kind::Vwap,
    },
    Row {
        id: "bb",
        name: "Bollinger",
        default: Kind::Bollinger { period: 20, k: 2.0 },
    },
    Row {
        id: "rsi",
        name: "RSI",
        default: Kind::Rsi { period: 14 },
    },
];

/// The kind's period, if it has one.
fn period_of(k: Kind) -> Option<usize> {
    match k {
        Kind::Sma { period } | Kind::Ema { period } | Kind::Bollinger { period, .. } | Kind::Rsi { period } => {
            Some(period)
        }
        Kind::Vwap => None,
    }
}

/// `k` with another period.
fn with_period(k: Kind, period: usize) -> Kind {
    match k {
        Kind::Sma { .. } => Kind::Sma { period },
        Kind::Ema { .. } => Kind::Ema { period },
        Kind::Bollinger { k, .. } => Kind::Bollinger { period, k },
        Kind::Rsi { .. } => Kind::Rsi { period },
        Kind::Vwap => Kind::Vwap,
    }
}

#[component]
pub(super) fn IndicatorMenu(board: Board, studies: Memo<Vec<Kind>>) -> impl IntoView {
    // Puts `kind` in the view's list in place of any of its variant, or takes the variant out.
    let set = move |variant: Kind, kind: Option<Kind>| {
        board.update_view(|v| {
            let mut kinds = parse_list(&v.studies);
            match (
                kinds.iter().position(|k| discriminant(k) == discriminant(&variant)),
                kind,
            ) {
                (Some(i), Some(k)) => kinds[i] = k,
                (None, Some(k)) => kinds.push(k),
                (_, None) => kinds.retain(|k| discriminant(k) != discriminant(&variant)),
            }
            v.studies = list_string(&kinds);
        });
    };
    let rows = ROWS
        .into_iter()
        .map(|row| {
            let on = move || studies.with(|s| s.iter().find(|k| discriminant(*k) == discriminant(&row.default)).copied());
            // The parameters shown: the chart's when it is on, else the last chosen (or default).
            let chosen = RwSignal::new(row.default);
            let current = move || on().unwrap_or_else(|| chosen.get());
            let toggle = move |ev: leptos::ev::Event| {
                let checked = event_target_checked(&ev);
                set(row.default, checked.then(|| current()));
            };
            let on_period = move |ev: leptos::ev::Event| {
                let Some(p) = event_target_value(&ev).trim().parse::<usize>().ok().filter(|p| PERIODS.contains(p)) else {
                    return;
                };
                let k = with_period(current(), p);
                chosen.set(k);
                if on().is_some() {
                    set(row.default, Some(k));
                }
            };
            let on_width = move |ev: leptos::ev::Event| {
                let Some(tenths) = event_target_value(&ev).parse::<u32>().ok().filter(|t| BAND_WIDTHS.contains(t)) else {
                    return;
                };
                let k = match current() {
                    Kind::Bollinger { period, .. } => Kind::Bollinger { period, k: f64::from(tenths) / 10.0 },
                    other => other,
                };
                chosen.set(k);
                if on().is_some() {
                    set(row.default, Some(k));
                }
            };
            let period_input = period_of(row.default).map(|_| {
                view! {
                    <input
                        type="number"
                        inputmode="numeric"
                        min=*PERIODS.start()
                        max=*PERIODS.end()
                        aria-label=format!("{} period", row.name)
                        data-testid=format!("ind-{}-period", row.id)
                        prop:value=move || period_of(current()).unwrap_or_default().to_string()
                        on:change=on_period
                    />
                }
            });
            let width_select = matches!(row.default, Kind::Bollinger { .. }).then(|| {
                let tenths = move || match current() {
                    Kind::Bollinger { k, .. } => ((k * 10.0).round() as u32).to_string(),
                    _ => String::new(),
                };
                view! {
                    <select aria-label="Bollinger width in standard deviations" data-testid="ind-bb-k" prop:value=tenths on:change=on_width>
                        <option value="10">"1σ"</option>
                        <option value="15">"1.5σ"</option>
                        <option value="20">"2σ"</option>
                        <option value="25">"2.5σ"</option>
                        <option value="30">"3σ"</option>
                    </select>
                }
            });
            view! {
                <li>
                    <label>
                        <input type="checkbox" data-testid=format!("ind-{}", row.id) prop:checked=move || on().is_some() on:change=toggle/>
                        {row.name}
                    </label>
                    {period_input}
                    {width_select}
                </li>
            }
        })
        .collect_view();
    let count = move || studies.with(Vec::len);
    view! {
        <details class="studies-menu" data-testid="indicators-menu">
            <summary class="btn">
                "Indicators"
                {move || (count() > 0).then(|| view! { <span class="badge">{count()}</span> })}
            </summary>
            <ul>{rows}</ul>
        </details>
    }
}
