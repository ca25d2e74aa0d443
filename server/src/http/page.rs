//! The first page's data: what the server renders for a view, taken from the hub at one frame.

use crate::hub::Hub;
use app::state::page::{PageData, SPARK_SECONDS, Spark, TAPE_ROWS, VISIBLE_CANDLES};
use app::state::view::ViewState;

/// The data the dashboard's first render needs for `view`.
pub fn page_data(hub: &Hub, view: ViewState, keepalive_ms: u64) -> PageData {
    let chart_symbol = view.chart_symbol(hub.instruments());
    let chart = (!chart_symbol.is_empty()).then_some((chart_symbol.as_str(), view.interval));
    let depth = view.depth.then_some(chart_symbol.as_str()).filter(|s| !s.is_empty());
    let page = hub.page(SPARK_SECONDS, chart, VISIBLE_CANDLES * 2, depth, TAPE_ROWS);
    PageData {
        sparks: page.sparks.iter().map(|c| Spark::from_candles(c)).collect(),
        snapshot: page.snapshot,
        chart: page.chart,
        book: page.book,
        trades: page.trades,
        view,
        keepalive_ms,
    }
}

/// The view a signed-in user's first page opens on: their saved view (what of it is set) and
/// their first watchlist.
pub fn view_of(user: &super::accounts::SignedIn) -> ViewState {
    let mut view = ViewState::default();
    if let Some(list) = user.watchlists.first() {
        view.symbols = Some(list.symbols.clone());
    }
    if let Some(saved) = &user.view {
        view.symbol = saved.symbol.clone();
        view.interval = saved.interval.parse().unwrap_or(view.interval);
        view.mode = app::state::view::ChartMode::parse(&saved.mode).unwrap_or(view.mode);
        view.transport = app::state::view::Transport::parse(&saved.transport).unwrap_or(view.transport);
        view.depth = saved.depth;
    }
    view
}
