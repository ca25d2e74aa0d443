//! Alerts on the page (issue 26): the bell with the unread count and the inbox behind it, a
//! toast per notification, and the Alerts panel (create, pause, resume, delete). Only for a
//! signed-in user; what they change goes through the API, and what fires arrives on the stream.

use crate::state::alerts::condition_label;
use crate::state::board::Board;
use crate::wire::alerts::{Alert, Notification};
use leptos::either::Either;
use leptos::prelude::*;

/// How long a toast stays unless clicked.
#[cfg(feature = "hydrate")]
const TOAST_MS: i32 = 8_000;

fn signed_in(board: Board) -> bool {
    board.account.with(Option::is_some)
}

/// Runs `task` in the browser, showing its failure in `error`.
#[cfg(feature = "hydrate")]
fn act<F>(error: RwSignal<Option<String>>, task: F)
where
    F: std::future::Future<Output = Result<(), String>> + 'static,
{
    error.set(None);
    leptos::task::spawn_local(async move {
        if let Err(why) = task.await {
            error.set(Some(why));
        }
    });
}

/// The time of day of `ts` (ms since 1970), as the page shows times (UTC).
fn time_of(ts: i64) -> String {
    let seconds = ts.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

fn describe(board: Board, entry: &Notification) -> String {
    #[cfg(feature = "hydrate")]
    return crate::live::alerts::describe(board, entry);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = board;
        format!("{} {}", entry.symbol, condition_label(&entry.condition))
    }
}

/// The bell: the unread count, and the inbox it opens.
#[component]
pub(super) fn Bell(board: Board) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let unread = move || board.inbox.with(|i| i.unread);
    let mark_all = move |_| {
        #[cfg(feature = "hydrate")]
        act(error, crate::live::alerts::mark_read(board, None));
    };
    let allow = move |_| {
        #[cfg(feature = "hydrate")]
        crate::live::alerts::ask_permission();
    };
    // Off until the user turns it on (this browser remembers).
    let sound = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| sound.set(crate::live::alerts::sound_on()));
    let toggle_sound = move |ev| {
        let on = event_target_checked(&ev);
        sound.set(on);
        #[cfg(feature = "hydrate")]
        crate::live::alerts::set_sound(on);
    };
    let signed = Memo::new(move |_| signed_in(board));
    // `Option`, not `Show`: `Show` erases its children's type (`AnyView`), which costs the WASM
    // tens of KB (see `account.rs`).
    move || {
        signed.get().then(|| {
            view! {
            <details class="bell">
                <summary
                    class="btn"
                    data-testid="notification-bell"
                    aria-label=move || format!("Notifications: {} unread", unread())
                >
                    "🔔"
                    <span class="count" data-testid="notification-count" data-count=move || unread().to_string()>
                        {move || unread().to_string()}
                    </span>
                </summary>
                <div class="inbox" data-testid="inbox">
                    <div class="inbox-head">
                        <strong>"Notifications"</strong>
                        <button type="button" class="btn" data-testid="inbox-read-all" on:click=mark_all>
                            "Mark all read"
                        </button>
                        <button
                            type="button"
                            class="btn"
                            title="Show a browser notification when an alert fires while this tab is hidden"
                            on:click=allow
                        >
                            "Browser alerts"
                        </button>
                        <label class="sound" title="A short chime when an alert fires (this browser)">
                            <input type="checkbox" data-testid="notification-sound" prop:checked=sound on:change=toggle_sound/>
                            "Sound"
                        </label>
                    </div>
                    <p class="error" role="alert">{move || error.get()}</p>
                    <ol class="inbox-items">
                        <For
                            each=move || board.inbox.with(|i| i.items.iter().rev().cloned().collect::<Vec<_>>())
                            key=|n| (n.id, n.read)
                            let:entry
                        >
                            <InboxItem board entry error/>
                        </For>
                    </ol>
                    <p class="muted" hidden=move || board.inbox.with(|i| !i.items.is_empty())>
                        "Nothing yet: alerts you set tell you here."
                    </p>
                </div>
            </details>
            }
        })
    }
}

#[component]
fn InboxItem(board: Board, entry: Notification, error: RwSignal<Option<String>>) -> impl IntoView {
    let id = entry.id;
    let read = entry.read;
    let text = describe(board, &entry);
    let mark = move |_| {
        #[cfg(feature = "hydrate")]
        if !read {
            act(error, crate::live::alerts::mark_read(board, Some(id)));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (error, id);
    };
    view! {
        <li data-testid="inbox-item" data-id=id.to_string() data-read=read.to_string() class:unread=!read>
            <button type="button" class="link" on:click=mark title="Mark read">
                <span>{text}</span>
                <time>{time_of(entry.ts)}</time>
                {(!entry.note.is_empty()).then(|| view! { <em>{entry.note.clone()}</em> })}
            </button>
        </li>
    }
}

/// A toast per notification that arrived while the page was open; a click charts its symbol.
#[component]
pub(super) fn Toasts(board: Board) -> impl IntoView {
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || board.inbox.with(|i| i.toasts.clone()) key=|n| n.id let:entry>
                <Toast board entry/>
            </For>
        </div>
    }
}

#[component]
fn Toast(board: Board, entry: Notification) -> impl IntoView {
    let id = entry.id;
    let symbol = entry.symbol.clone();
    let text = describe(board, &entry);
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let callback = wasm_bindgen::closure::Closure::once_into_js(move || board.inbox.update(|i| i.dismiss(id)));
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            wasm_bindgen::JsCast::unchecked_ref(&callback),
            TOAST_MS,
        );
    }
    let open = move |_| {
        let symbol = symbol.clone();
        board.update_view(|v| v.symbol = Some(symbol));
        board.inbox.update(|i| i.dismiss(id));
    };
    view! {
        <button type="button" class="toast" data-testid="notification-toast" data-id=id.to_string() on:click=open>
            <strong>{text}</strong>
            <time>{time_of(entry.ts)}</time>
            {(!entry.note.is_empty()).then(|| view! { <em>{entry.note.clone()}</em> })}
        </button>
    }
}

/// The Alerts panel: the form that makes one, and the user's alerts.
#[component]
pub(super) fn AlertsPanel(board: Board) -> impl IntoView {
    let signed = Memo::new(move |_| signed_in(board));
    // The alert the form is editing (`None`: the form makes a new one).
    let editing = RwSignal::new(None::<Alert>);
    move || {
        signed.get().then(|| {
            view! {
            <section class="panel alerts" data-testid="alerts-panel" aria-labelledby="alerts-title">
                <div class="panel-head">
                    <h2 id="alerts-title">"Alerts"</h2>
                </div>
                <AlertForm board editing/>
                <ul class="alert-rows">
                    <For each=move || board.alerts.get() key=row_key let:alert>
                        <AlertRow board alert editing/>
                    </For>
                </ul>
            </section>
            }
        })
    }
}

#[component]
fn AlertForm(board: Board, editing: RwSignal<Option<Alert>>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let symbol = RwSignal::new(board.chart_symbol_untracked());
    let condition = RwSignal::new("crossing".to_string());
    let level = RwSignal::new(String::new());
    let high = RwSignal::new(String::new());
    let frequency = RwSignal::new("once".to_string());
    let note = RwSignal::new(String::new());
    let pct = RwSignal::new("1".to_string());
    let bars = RwSignal::new("3".to_string());
    let interval = RwSignal::new("1m".to_string());
    let channel = move || condition.with(|c| c.ends_with("_channel"));
    let moving = move || condition.with(|c| c.starts_with("moving_"));
    let by_bar = move || moving() || frequency.with(|f| f.starts_with("once_per_bar"));
    // The instrument's price digits and tick, for what is typed.
    let grid = move |symbol: &str| {
        board.instruments.with_value(|list| {
            list.iter()
                .find(|i| i.symbol == symbol)
                .map_or((2, 1), |i| (i.decimals, i.tick))
        })
    };
    // The level starts at the symbol's price now (not while an alert is edited: it has its own).
    Effect::new(move |_| {
        let s = symbol.get();
        if editing.with_untracked(Option::is_some) {
            return;
        }
        let price = board
            .index_of(&s)
            .and_then(|i| board.row(i))
            .map(|r| r.quote.with_untracked(|q| q.price));
        if let Some(price) = price.filter(|p| *p > 0) {
            level.set(crate::ui::format::price(price, grid(&s).0).replace(',', ""));
        }
    });
    // Editing an alert: the form takes its values (its symbol and condition stay as they are).
    Effect::new(move |_| {
        let Some(alert) = editing.get() else { return };
        let (decimals, _) = grid(&alert.symbol);
        let text = |p: Option<i64>| p.map(|p| crate::ui::format::price(p, decimals).replace(',', ""));
        symbol.set(alert.symbol.clone());
        condition.set(alert.condition.clone());
        if let Some(p) = text(alert.price).or(text(alert.low)) {
            level.set(p);
        }
        if let Some(p) = text(alert.high) {
            high.set(p);
        }
        if let Some(p) = alert.pct {
            pct.set(crate::ui::format::price((p * 100.0 + 0.5) as i64, 2).replace(',', ""));
        }
        if let Some(b) = alert.bars {
            bars.set(b.to_string());
        }
        if let Some(i) = &alert.interval {
            interval.set(i.clone());
        }
        frequency.set(alert.frequency.clone());
        note.set(alert.note.clone());
        error.set(None);
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let s = symbol.get_untracked();
        let (decimals, tick) = grid(&s);
        let parse = |text: String, what: &str| {
            crate::state::alerts::parse_price(&text, decimals, tick)
                .ok_or_else(|| format!("{what} must be a positive price on {s}'s tick grid"))
        };
        let levels = if moving() {
            // In basis points, read and written as integers: the page links no float
            // formatting or parsing (tens of KB of WASM).
            let pct = crate::state::alerts::parse_price(&pct.get_untracked(), 2, 1)
                .map(|bp| crate::ui::format::price(bp, 2).replace(',', ""));
            let bars = bars
                .get_untracked()
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|b| (1..=100).contains(b));
            match (pct, bars) {
                (Some(pct), Some(bars)) => Ok(format!(r#""pct":{pct},"bars":{bars}"#)),
                (None, _) => Err("the move must be a positive percentage".to_string()),
                (_, None) => Err("bars must be from 1 to 100".to_string()),
            }
        } else if channel() {
            parse(level.get_untracked(), "low")
                .and_then(|low| parse(high.get_untracked(), "high").map(|high| format!(r#""low":{low},"high":{high}"#)))
        } else {
            parse(level.get_untracked(), "the level").map(|p| format!(r#""price":{p}"#))
        };
        let levels = match levels {
            Ok(levels) => levels,
            Err(why) => {
                error.set(Some(why));
                return;
            }
        };
        let quote = crate::wire::json::string;
        let bar = match by_bar() {
            true => format!(r#","interval":{}"#, quote(&interval.get_untracked())),
            // An edit clears a bar the alert no longer needs.
            false if editing.with_untracked(Option::is_some) => r#","interval":"""#.to_string(),
            false => String::new(),
        };
        if let Some(alert) = editing.get_untracked() {
            let body = format!(
                r#"{{{levels}{bar},"frequency":{},"note":{}}}"#,
                quote(&frequency.get_untracked()),
                quote(&note.get_untracked())
            );
            #[cfg(feature = "hydrate")]
            act(error, async move {
                crate::live::alerts::update(board, alert.id, body).await?;
                editing.set(None);
                note.set(String::new());
                Ok(())
            });
            #[cfg(not(feature = "hydrate"))]
            drop((alert, body));
            return;
        }
        let body = format!(
            r#"{{"symbol":{},"condition":{},{levels}{bar},"frequency":{},"note":{}}}"#,
            quote(&s),
            quote(&condition.get_untracked()),
            quote(&frequency.get_untracked()),
            quote(&note.get_untracked())
        );
        #[cfg(feature = "hydrate")]
        act(error, async move {
            crate::live::alerts::create(board, body).await?;
            note.set(String::new());
            Ok(())
        });
        #[cfg(not(feature = "hydrate"))]
        drop(body);
    };
    let symbols = move || {
        board
            .instruments
            .with_value(|l| l.iter().map(|i| i.symbol.clone()).collect::<Vec<_>>())
    };
    view! {
        <form class="alert-form" data-testid="alert-form" on:submit=submit>
            <label>
                "Symbol"
                <select name="symbol" disabled=move || editing.with(Option::is_some) on:change=move |ev| symbol.set(event_target_value(&ev)) prop:value=move || symbol.get()>
                    {move || symbols()
                        .into_iter()
                        .map(|s| {
                            let selected = symbol.get_untracked() == s;
                            view! { <option value=s.clone() selected=selected>{s.clone()}</option> }
                        })
                        .collect::<Vec<_>>()}
                </select>
            </label>
            <label>
                "When"
                <select name="condition" disabled=move || editing.with(Option::is_some) on:change=move |ev| condition.set(event_target_value(&ev)) prop:value=move || condition.get()>
                    {crate::wire::alerts::CONDITIONS
                        .into_iter()
                        .map(|c| view! { <option value=c>{condition_label(c)}</option> })
                        .collect::<Vec<_>>()}
                </select>
            </label>
            // Fields hidden, not removed, when the condition does not take them (checked on submit,
            // not by `required`: a hidden required field would block the form).
            <label hidden=move || !moving()>
                "Move (%)"
                <input name="pct" inputmode="decimal" prop:value=move || pct.get() on:input=move |ev| pct.set(event_target_value(&ev))/>
            </label>
            <label hidden=move || !moving()>
                "Over bars"
                <input name="bars" inputmode="numeric" prop:value=move || bars.get() on:input=move |ev| bars.set(event_target_value(&ev))/>
            </label>
            <label hidden=moving>
                {move || if channel() { "Low" } else { "Price" }}
                <input name="price" inputmode="decimal" prop:value=move || level.get() on:input=move |ev| level.set(event_target_value(&ev))/>
            </label>
            <label hidden=move || !by_bar()>
                    "Bar"
                    <select name="interval" on:change=move |ev| interval.set(event_target_value(&ev)) prop:value=move || interval.get()>
                        {crate::wire::protocol::Interval::ALL
                            .into_iter()
                            .map(|i| view! { <option value=i.as_str() selected=move || interval.get() == i.as_str()>{i.as_str()}</option> })
                            .collect::<Vec<_>>()}
                    </select>
            </label>
            <label hidden=move || !channel()>
                "High"
                <input name="high" inputmode="decimal" prop:value=move || high.get() on:input=move |ev| high.set(event_target_value(&ev))/>
            </label>
            <label>
                "How often"
                <select name="frequency" on:change=move |ev| frequency.set(event_target_value(&ev)) prop:value=move || frequency.get()>
                    <option value="once">"once"</option>
                    <option value="once_per_bar">"once a bar"</option>
                    <option value="once_per_bar_close">"at a bar's close"</option>
                    <option value="once_per_minute">"once a minute"</option>
                    <option value="every_time">"every time"</option>
                </select>
            </label>
            <label class="wide">
                "Note"
                <input name="note" maxlength="200" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))/>
            </label>
            <button type="submit" class="btn primary">
                {move || if editing.with(Option::is_some) { "Save alert" } else { "Add alert" }}
            </button>
            <button
                type="button"
                class="btn"
                hidden=move || editing.with(Option::is_none)
                on:click=move |_| editing.set(None)
            >
                "Cancel"
            </button>
            <p class="error" role="alert" data-testid="alert-error">{move || error.get()}</p>
        </form>
    }
}

/// What a row shows of an alert: a change to any of it draws the row again. (Not its `Debug`
/// text: that links float formatting into the page, 9 KB.)
#[allow(clippy::type_complexity)]
fn row_key(
    a: &Alert,
) -> (
    u64,
    String,
    u64,
    [Option<i64>; 4],
    Option<u32>,
    String,
    Option<String>,
    String,
) {
    (
        a.id,
        a.state.clone(),
        a.fire_count,
        [a.price, a.low, a.high, a.pct.map(|p| p.to_bits() as i64)],
        a.bars,
        a.frequency.clone(),
        a.interval.clone(),
        a.note.clone(),
    )
}

#[component]
fn AlertRow(board: Board, alert: Alert, editing: RwSignal<Option<Alert>>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let id = alert.id;
    let decimals = board
        .instruments
        .with_value(|list| list.iter().find(|i| i.symbol == alert.symbol).map_or(2, |i| i.decimals));
    let price = |p: Option<i64>| p.map(|p| crate::ui::format::price(p, decimals)).unwrap_or_default();
    let level = match (alert.low, alert.high, alert.pct) {
        (Some(low), Some(high), _) => format!("{}–{}", price(Some(low)), price(Some(high))),
        (_, _, Some(pct)) => format!(
            "{}% over {} × {}",
            crate::ui::format::price((pct * 100.0 + 0.5) as i64, 2),
            alert.bars.unwrap_or(1),
            alert.interval.as_deref().unwrap_or("")
        ),
        _ => price(alert.price),
    };
    let paused = alert.state == "paused";
    let live = alert.state == "active" || paused;
    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        act(
            error,
            crate::live::alerts::set_state(board, id, if paused { "active" } else { "paused" }),
        );
    };
    let delete = move |_| {
        #[cfg(feature = "hydrate")]
        act(error, crate::live::alerts::delete(board, id));
    };
    let fired = match &alert.last_fired {
        Some(at) => format!("fired {}×, last {}", alert.fire_count, at.get(11..19).unwrap_or(at)),
        None => "not fired yet".to_string(),
    };
    view! {
        <li class="alert-row" data-testid="alert-row" data-id=id.to_string() data-state=alert.state.clone()>
            <span class="what">
                <strong>{alert.symbol.clone()}</strong>
                " "
                {condition_label(&alert.condition)}
                " "
                {level}
            </span>
            <span class="state" data-state=alert.state.clone()>{alert.state.clone()}</span>
            <span class="muted">{alert.frequency.replace('_', " ")} " · " {fired}</span>
            {(!alert.note.is_empty()).then(|| view! { <em>{alert.note.clone()}</em> })}
            <span class="actions">
                {match live {
                    true => Either::Left(view! {
                        <button type="button" class="btn" data-testid="alert-toggle" on:click=toggle>
                            {if paused { "Resume" } else { "Pause" }}
                        </button>
                    }),
                    false => Either::Right(()),
                }}
                <button
                    type="button"
                    class="btn"
                    data-testid="alert-edit"
                    hidden=!live
                    on:click={
                        let alert = alert.clone();
                        move |_| editing.set(Some(alert.clone()))
                    }
                >
                    "Edit"
                </button>
                <button type="button" class="btn" data-testid="alert-delete" on:click=delete>"Delete"</button>
            </span>
            <p class="error" role="alert">{move || error.get()}</p>
        </li>
    }
}
