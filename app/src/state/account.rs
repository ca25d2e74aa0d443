//! The signed-in user's side of the page: which of their watchlists the view shows, and how their
//! saved view and the page's view turn into each other. Pure rules, shared by the server (the
//! first page of a signed-in user) and the browser (a change that arrives on the stream).

use crate::state::view::{ChartMode, Transport, ViewState};
use crate::wire::account::{SavedView, Watchlist};

/// The list the page shows after the user's lists changed: the one it showed if it still exists
/// (it may have new symbols, edited in another tab), else the first; and the symbols the view then
/// watches (`None`: the user has no list, the view keeps its own).
pub fn follow(active: Option<&str>, lists: &[Watchlist]) -> Option<(String, Vec<String>)> {
    let list = active
        .and_then(|name| lists.iter().find(|l| l.name == name))
        .or_else(|| lists.first())?;
    Some((list.name.clone(), list.symbols.clone()))
}

/// The list whose symbols the view watches, if one does (a page opened from a link may watch
/// symbols none of the lists has).
pub fn active_of(view: &ViewState, lists: &[Watchlist]) -> Option<String> {
    let symbols = view.symbols.as_ref()?;
    lists.iter().find(|l| &l.symbols == symbols).map(|l| l.name.clone())
}

/// The view as the account keeps it.
pub fn saved_view(view: &ViewState, theme: &str) -> SavedView {
    SavedView {
        symbol: view.symbol.clone(),
        interval: view.interval.to_string(),
        mode: view.mode.as_str().to_string(),
        depth: view.depth,
        theme: theme.to_string(),
        transport: view.transport.as_str().to_string(),
    }
}

/// The view a signed-in user's page opens on: their saved view (what of it is valid) and their
/// first watchlist.
pub fn opening_view(lists: &[Watchlist], saved: Option<&SavedView>) -> ViewState {
    let mut view = ViewState::default();
    if let Some(list) = lists.first() {
        view.symbols = Some(list.symbols.clone());
    }
    if let Some(saved) = saved {
        view.symbol = saved.symbol.clone();
        view.interval = saved.interval.parse().unwrap_or(view.interval);
        view.mode = ChartMode::parse(&saved.mode).unwrap_or(view.mode);
        view.transport = Transport::parse(&saved.transport).unwrap_or(view.transport);
        view.depth = saved.depth;
    }
    view
}

/// A name for a new list that none of `lists` has: `Watchlist 2`, `Watchlist 3`, ….
pub fn new_list_name(lists: &[Watchlist]) -> String {
    (1..)
        .map(|n| format!("Watchlist {n}"))
        .find(|name| lists.iter().all(|l| &l.name != name))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &str, symbols: &[&str]) -> Watchlist {
        Watchlist {
            name: name.into(),
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_page_follows_its_list_or_falls_back_to_the_first() {
        let lists = [list("Tech", &["AAPL"]), list("FX", &["EURUSD", "USDJPY"])];
        assert_eq!(
            follow(Some("FX"), &lists),
            Some(("FX".into(), vec!["EURUSD".into(), "USDJPY".into()]))
        );
        assert_eq!(follow(Some("Gone"), &lists), Some(("Tech".into(), vec!["AAPL".into()])));
        assert_eq!(follow(None, &lists), Some(("Tech".into(), vec!["AAPL".into()])));
        assert_eq!(follow(Some("Tech"), &[]), None);
        let view = ViewState {
            symbols: Some(vec!["EURUSD".into(), "USDJPY".into()]),
            ..ViewState::default()
        };
        assert_eq!(active_of(&view, &lists).as_deref(), Some("FX"));
        assert_eq!(active_of(&ViewState::default(), &lists), None);
        assert_eq!(new_list_name(&[list("Watchlist 1", &[])]), "Watchlist 2");
    }

    #[test]
    fn a_saved_view_round_trips() {
        let view = ViewState {
            symbols: Some(vec!["AAPL".into()]),
            symbol: Some("AAPL".into()),
            mode: ChartMode::Line,
            interval: crate::wire::protocol::Interval::M5,
            transport: Transport::Ws,
            depth: false,
            ..ViewState::default()
        };
        let saved = saved_view(&view, "dark");
        assert_eq!(opening_view(&[list("A", &["AAPL"])], Some(&saved)), view);
    }
}
