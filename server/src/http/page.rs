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
        account: None,
    }
}

/// The view a signed-in user's first page opens on: their saved view (what of it is set) and
/// their first watchlist.
pub fn view_of(user: &app::wire::account::Account) -> ViewState {
    app::state::account::opening_view(&user.watchlists, user.view.as_ref())
}
