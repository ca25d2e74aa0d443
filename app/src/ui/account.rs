//! The signed-in user's controls: the account menu in the header (sign in, create an account,
//! sign out) and the watchlist tabs (switch, create, rename, delete). What they change is saved
//! through the API and comes back on the stream, here and in the user's other tabs and devices.

use crate::state::board::Board;
use leptos::either::Either;
use leptos::prelude::*;

/// Sign in / create an account, or who is signed in and sign out.
#[component]
pub(super) fn AccountMenu(board: Board) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = move |create: bool| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (name, secret) = (username.get_untracked(), password.get_untracked());
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match crate::live::account::sign_in(board, create, name, secret).await {
                Ok(()) => password.set(String::new()),
                Err(why) => error.set(Some(why)),
            }
            busy.set(false);
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (create, name, secret, board);
    };
    let sign_out = move |_| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if let Err(why) = crate::live::account::sign_out(board).await {
                error.set(Some(why));
            }
        });
    };
    let signed_in = move || board.account.with(|a| a.as_ref().map(|a| a.username.clone()));
    view! {
        <div class="account" data-testid="account-menu">
            // `Either`, not `into_any`: the page links no `AnyView` (its type erasure costs the
            // WASM tens of KB; README, "Measurements").
            {move || match signed_in() {
                Some(name) => Either::Left(view! {
                    <span class="who" data-testid="account-name" title="Signed in">{name}</span>
                    <button type="button" class="btn" data-testid="signout" on:click=sign_out>"Sign out"</button>
                }),
                None => Either::Right(view! {
                    <details class="signin">
                        <summary class="btn" data-testid="signin-open">"Sign in"</summary>
                        <form
                            data-testid="signin-form"
                            on:submit=move |ev| {
                                ev.prevent_default();
                                submit(false);
                            }
                        >
                            <label>
                                "Username"
                                <input
                                    name="username"
                                    autocomplete="username"
                                    required
                                    minlength="3"
                                    maxlength="32"
                                    prop:value=move || username.get()
                                    on:input=move |ev| username.set(event_target_value(&ev))
                                />
                            </label>
                            <label>
                                "Password"
                                <input
                                    name="password"
                                    type="password"
                                    autocomplete="current-password"
                                    required
                                    minlength="8"
                                    maxlength="128"
                                    prop:value=move || password.get()
                                    on:input=move |ev| password.set(event_target_value(&ev))
                                />
                            </label>
                            <p class="error" role="alert" data-testid="signin-error">{move || error.get()}</p>
                            <div class="actions">
                                <button type="submit" class="btn primary" disabled=move || busy.get()>"Sign in"</button>
                                <button
                                    type="button"
                                    class="btn"
                                    data-testid="signup"
                                    disabled=move || busy.get()
                                    on:click=move |_| submit(true)
                                >
                                    "Create account"
                                </button>
                            </div>
                        </form>
                    </details>
                }),
            }}
        </div>
    }
}

/// The user's watchlists as tabs: the selected one is what the watchlist shows and what the
/// symbol picker edits. Nothing for an anonymous visitor.
#[component]
pub(super) fn WatchlistTabs(board: Board) -> impl IntoView {
    let lists = move || board.account.with(|a| a.as_ref().map(|a| a.watchlists.clone()));
    let error = RwSignal::new(None::<String>);
    let switch = move |name: String, symbols: Vec<String>| {
        board.active_list.set(Some(name));
        board.update_view(|v| v.symbols = Some(symbols));
    };
    let create = move |_| {
        let lists = board
            .account
            .with_untracked(|a| a.as_ref().map(|a| a.watchlists.clone()).unwrap_or_default());
        let suggested = crate::state::account::new_list_name(&lists);
        let Some(name) = ask("Name of the new watchlist", &suggested) else {
            return;
        };
        let symbols = board.view.with_untracked(|v| board.watched(v)).into_iter();
        let symbols: Vec<String> = board
            .instruments
            .with_value(|ins| symbols.map(|i| ins[i].symbol.clone()).collect());
        board.active_list.set(Some(name.clone()));
        save(error, name, None, symbols);
    };
    let rename = move |_| {
        let Some(active) = board.active_list.get_untracked() else {
            return;
        };
        let Some(name) = ask("New name of the watchlist", &active) else {
            return;
        };
        let symbols = board.view.with_untracked(|v| v.symbols.clone()).unwrap_or_default();
        board.active_list.set(Some(name.clone()));
        save(error, active, Some(name), symbols);
    };
    let delete = move |_| {
        let Some(active) = board.active_list.get_untracked() else {
            return;
        };
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            if let Err(why) = crate::live::account::delete_list(active).await {
                error.set(Some(why));
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = active;
    };
    move || {
        lists().map(|lists| {
            let tabs = lists
                .into_iter()
                .map(|list| {
                    let name = list.name.clone();
                    let selected = {
                        let name = name.clone();
                        move || board.active_list.with(|a| a.as_deref() == Some(name.as_str()))
                    };
                    let on_click = {
                        let (name, symbols) = (name.clone(), list.symbols.clone());
                        move |_| switch(name.clone(), symbols.clone())
                    };
                    view! {
                        <button
                            type="button"
                            role="tab"
                            class="tab"
                            data-testid="watchlist-tab"
                            data-name=name.clone()
                            aria-selected=move || selected().to_string()
                            on:click=on_click
                        >
                            {name.clone()}
                        </button>
                    }
                })
                .collect_view();
            view! {
                <div class="lists">
                    <div role="tablist" aria-label="Watchlists" data-testid="watchlist-tabs">{tabs}</div>
                    <button type="button" class="btn small" data-testid="watchlist-new" title="New watchlist" on:click=create>"+"</button>
                    <button type="button" class="btn small" data-testid="watchlist-rename" on:click=rename
                        disabled=move || board.active_list.with(Option::is_none)>"Rename"</button>
                    <button type="button" class="btn small" data-testid="watchlist-delete" on:click=delete
                        disabled=move || board.active_list.with(Option::is_none)>"Delete"</button>
                    <span class="error" role="alert">{move || error.get()}</span>
                </div>
            }
        })
    }
}

/// Saves a list in the background; a refusal is shown.
fn save(error: RwSignal<Option<String>>, name: String, rename: Option<String>, symbols: Vec<String>) {
    error.set(None);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        if let Err(why) = crate::live::account::save_list(name, rename, symbols).await {
            error.set(Some(why));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (name, rename, symbols);
}

/// Saves the watched symbols into the active list (the symbol picker edits it); a signed-in user
/// without a list gets a first one.
pub(super) fn save_watched(board: Board) {
    let Some(account) = board.account.get_untracked() else {
        return;
    };
    let symbols = board.view.with_untracked(|v| board.watched(v)).into_iter();
    let symbols: Vec<String> = board
        .instruments
        .with_value(|ins| symbols.map(|i| ins[i].symbol.clone()).collect());
    let name = board
        .active_list
        .get_untracked()
        .unwrap_or_else(|| crate::state::account::new_list_name(&account.watchlists));
    board.active_list.set(Some(name.clone()));
    save(RwSignal::new(None), name, None, symbols);
}

/// Asks the user for a name (the browser's prompt), `None` if they cancel or leave it empty.
fn ask(question: &str, suggested: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    let answer = web_sys::window()?
        .prompt_with_message_and_default(question, suggested)
        .ok()??;
    #[cfg(not(feature = "hydrate"))]
    let answer = {
        let _ = (question, suggested);
        String::new()
    };
    let answer = answer.trim().to_string();
    (!answer.is_empty()).then_some(answer)
}
