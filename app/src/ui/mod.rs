//! The page: where a tick is drawn. Components are named after what the user sees and read the
//! [`Board`]'s signals; the server renders the same components from [`PageData`].
//!
//! [`header`] (connection badge, readouts, transport, pause), [`theme`] (light/dark),
//! [`watchlist`] (picker, sortable quotes, sparklines), [`chart_panel`] and [`chart`] (the
//! price chart), [`depth`] (order book, depth chart, tape), [`transports`] (the three
//! transports side by side), [`alerts`] (the bell, the inbox, toasts and the Alerts panel),
//! [`format`] (numbers).

mod account;
mod alerts;
mod canvas;
pub mod chart;
mod chart_panel;
mod depth;
pub mod format;
mod header;
mod sparks;
mod studies;
mod theme;
mod transports;
mod watchlist;

use crate::state::board::Board;
use crate::state::page::PageData;
use crate::state::view::Screen;
use account::WatchlistTabs;
use chart_panel::ChartPanel;
use depth::DepthPanel;
use header::Header;
use leptos::either::Either;
use leptos::prelude::*;
use transports::TransportsView;
use watchlist::{SymbolPicker, Watchlist};

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
                <script nonce=leptos::nonce::use_nonce() inner_html=theme></script>
                <script type="application/json" id=PAGE_DATA_ID inner_html=page></script>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" href=css/>
                // cargo-leptos's live reload, in debug builds only: a release build's page policy
                // never lets a script reach its socket (server/src/security.rs).
                <AutoReload options=options.clone() disable_watch=!cfg!(debug_assertions)/>
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
        if let Some(page) = text.and_then(|t| crate::wire::json::from_str::<PageData>(&t).ok()) {
            return page;
        }
    }
    use_context::<PageData>().unwrap_or_default()
}

/// The application: the dashboard, or the Transports view (`?view=transports`).
#[component]
pub fn App() -> impl IntoView {
    let page = page_data();
    provide_context(canvas::DarkTheme(RwSignal::new(None)));
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
                <WatchlistTabs board/>
                <Watchlist board/>
            </section>
            <div class="side">
                <ChartPanel board/>
                <DepthPanel board/>
                <alerts::AlertsPanel board/>
            </div>
        </main>
        <alerts::Toasts board/>
    }
}
