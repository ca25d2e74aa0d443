//! The top bar: brand, connection badge, latency and event-rate readouts, transport choice,
//! pause and theme.

use super::account::AccountMenu;
use super::theme::ThemeToggle;
use crate::state::board::Board;
use crate::state::view::{Screen, Transport, ViewState};
use crate::ui::format::Fixed;
use leptos::prelude::*;

#[component]
pub(super) fn Header(board: Board) -> impl IntoView {
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
            <span
                class="sharing"
                data-testid="stream-role"
                data-role=move || board.sharing.get().as_str()
                title="This browser's tabs share one stream: one tab holds it, the others receive through it"
            >
                {move || board.sharing.get().label()}
            </span>
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
                <super::alerts::Bell board/>
                <AccountMenu board/>
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
pub(super) fn ConnectionBadge(board: Board) -> impl IntoView {
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
