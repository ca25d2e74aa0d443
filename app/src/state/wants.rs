//! What a tab's view needs from the stream, and what a stream shared by a browser's tabs must
//! carry: the union of them (see `live/share.rs`).

use crate::state::board::Board;
use leptos::prelude::*;

/// The server follows at most this many depth symbols per stream.
pub use crate::wire::protocol::MAX_DEPTH_SYMBOLS as MAX_DEPTH;

/// What a tab's view needs from the stream: its symbols (`None`: all) and its depth symbols.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wants {
    pub symbols: Option<Vec<String>>,
    pub depth: Vec<String>,
}

impl Wants {
    /// What `board`'s view shows now.
    pub fn of(board: &Board) -> Self {
        let symbols = board.view.with_untracked(|v| v.symbols.clone()).map(sorted);
        let depth = board.depth.with_untracked(|d| d.symbol.clone());
        let depth = if depth.is_empty() { Vec::new() } else { vec![depth] };
        Wants { symbols, depth }
    }

    /// Whether a stream selecting `self` carries everything `other` needs.
    pub fn covers(&self, other: &Wants) -> bool {
        let symbols = match (&self.symbols, &other.symbols) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => theirs.iter().all(|s| mine.contains(s)),
        };
        symbols && other.depth.iter().all(|d| self.depth.contains(d))
    }

    /// `self` widened to also carry `other` (depth: at most what the server allows, the
    /// earlier ones first).
    pub fn widen(&mut self, other: &Wants) {
        self.symbols = match (self.symbols.take(), &other.symbols) {
            (Some(mut mine), Some(theirs)) => {
                mine.extend(theirs.iter().cloned());
                Some(sorted(mine))
            }
            _ => None,
        };
        for d in &other.depth {
            if self.depth.len() < MAX_DEPTH && !self.depth.contains(d) {
                self.depth.push(d.clone());
            }
        }
    }

    /// The stream's query parameters.
    pub fn query(&self) -> Vec<String> {
        let mut query = Vec::new();
        if let Some(symbols) = &self.symbols {
            query.push(format!("symbols={}", symbols.join(",")));
        }
        if !self.depth.is_empty() {
            query.push(format!("depth={}", self.depth.join(",")));
        }
        query
    }

    /// As posted: symbols comma-separated (`*`: all), then depth symbols.
    pub fn encode(&self) -> [String; 2] {
        [
            self.symbols.as_ref().map_or_else(|| "*".to_string(), |s| s.join(",")),
            self.depth.join(","),
        ]
    }

    pub fn decode(symbols: &str, depth: &str) -> Self {
        let list = |s: &str| {
            s.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        Wants {
            symbols: (symbols != "*").then(|| sorted(list(symbols))),
            depth: list(depth),
        }
    }
}

fn sorted(mut list: Vec<String>) -> Vec<String> {
    list.sort_unstable();
    list.dedup();
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wants(symbols: Option<&[&str]>, depth: &[&str]) -> Wants {
        Wants {
            symbols: symbols.map(|s| sorted(s.iter().map(|s| s.to_string()).collect())),
            depth: depth.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_stream_covers_what_it_selects() {
        let all = wants(None, &["AAPL"]);
        let some = wants(Some(&["AAPL", "MSFT"]), &["AAPL"]);
        assert!(all.covers(&some));
        assert!(!some.covers(&all));
        assert!(some.covers(&wants(Some(&["MSFT"]), &[])));
        assert!(
            !some.covers(&wants(Some(&["MSFT"]), &["MSFT"])),
            "its book is not carried"
        );
        assert!(!some.covers(&wants(Some(&["TSLA"]), &[])));
    }

    #[test]
    fn the_union_carries_every_tab_and_at_most_sixteen_books() {
        let mut union = wants(Some(&["MSFT", "AAPL"]), &["AAPL"]);
        let other = wants(Some(&["TSLA", "AAPL"]), &["TSLA"]);
        union.widen(&other);
        assert_eq!(union, wants(Some(&["AAPL", "MSFT", "TSLA"]), &["AAPL", "TSLA"]));
        assert!(union.covers(&other));
        union.widen(&wants(None, &[]));
        assert_eq!(
            union.symbols, None,
            "a tab showing everything makes the stream carry everything"
        );
        for i in 0..40 {
            union.widen(&wants(None, &[&format!("S{i}")]));
        }
        assert_eq!(union.depth.len(), MAX_DEPTH);
        assert_eq!(
            &union.depth[..2],
            &["AAPL".to_string(), "TSLA".to_string()],
            "the first ones stay"
        );
    }

    #[test]
    fn wants_travel_between_tabs_and_become_a_query() {
        for w in [
            wants(None, &[]),
            wants(Some(&["AAPL", "BTC-USD"]), &["AAPL"]),
            wants(Some(&[]), &[]),
        ] {
            let [symbols, depth] = w.encode();
            assert_eq!(Wants::decode(&symbols, &depth), w);
        }
        assert_eq!(
            wants(Some(&["MSFT", "AAPL"]), &["AAPL"]).query(),
            vec!["symbols=AAPL,MSFT".to_string(), "depth=AAPL".to_string()]
        );
        assert!(wants(None, &[]).query().is_empty());
    }
}
