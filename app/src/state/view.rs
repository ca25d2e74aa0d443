//! What the user is looking at, as it lives in the URL
//! (`?symbols=AAPL,MSFT&symbol=MSFT&mode=line&interval=5s&depth=off`), so a copied link
//! reproduces the view. Parsed identically on the server (to render the first page) and in the browser.

use crate::state::indicators;
use crate::wire::protocol::Interval;
use crate::wire::protocol::{Instrument, MAX_SYMBOLS, is_symbol};
use serde::{Deserialize, Serialize};

/// How the main chart draws prices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum ChartMode {
    #[default]
    Candles,
    Line,
}

impl ChartMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ChartMode::Candles => "candles",
            ChartMode::Line => "line",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ChartMode::Candles, ChartMode::Line]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// How the page receives the feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, miniserde::Deserialize)]
pub enum Transport {
    #[default]
    Sse,
    Ws,
    Poll,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Sse, Transport::Ws, Transport::Poll];

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::Ws => "ws",
            Transport::Poll => "poll",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::Sse => "Server-Sent Events",
            Transport::Ws => "WebSocket",
            Transport::Poll => "Long polling",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Transport::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Which screen is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum Screen {
    /// Watchlist and chart.
    #[default]
    Dashboard,
    /// The three transports side by side, measured live.
    Transports,
}

/// The view's state. Unknown or malformed parameters fall back to defaults: a link should open
/// something sensible rather than an error page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct ViewState {
    /// Watched symbols, in the user's order; `None` watches every instrument.
    pub symbols: Option<Vec<String>>,
    /// The symbol in the main chart; `None` picks the first watched one.
    pub symbol: Option<String>,
    pub mode: ChartMode,
    pub interval: Interval,
    pub transport: Transport,
    pub screen: Screen,
    /// Whether the chart's symbol shows its order book, depth chart and tape (`depth=on|off`,
    /// on by default).
    pub depth: bool,
    /// The chart's indicators as the URL lists them (`ind=sma20,bb20-2,rsi14`), valid ones only
    /// (see [`crate::state::indicators::parse_list`]); empty for none.
    pub studies: String,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            symbols: None,
            symbol: None,
            mode: ChartMode::default(),
            interval: Interval::S1,
            transport: Transport::default(),
            screen: Screen::default(),
            depth: true,
            studies: String::new(),
        }
    }
}

impl ViewState {
    /// Parses a query string, with or without its leading `?`.
    pub fn from_query(query: &str) -> Self {
        let mut view = ViewState::default();
        for (key, value) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            match key.as_ref() {
                "symbols" => {
                    let list: Vec<String> = value
                        .split(',')
                        .map(|s| s.trim().to_ascii_uppercase())
                        .filter(|s| is_symbol(s))
                        .fold(Vec::new(), |mut acc, s| {
                            if !acc.contains(&s) && acc.len() < MAX_SYMBOLS {
                                acc.push(s);
                            }
                            acc
                        });
                    view.symbols = (!list.is_empty()).then_some(list);
                }
                "symbol" => {
                    let s = value.trim().to_ascii_uppercase();
                    view.symbol = is_symbol(&s).then_some(s);
                }
                "mode" => view.mode = ChartMode::parse(&value).unwrap_or_default(),
                "interval" => view.interval = value.parse().unwrap_or(Interval::S1),
                "transport" => view.transport = Transport::parse(&value).unwrap_or_default(),
                "depth" => view.depth = value != "off",
                "ind" => view.studies = indicators::list_string(&indicators::parse_list(&value)),
                "view" => {
                    view.screen = if value == "transports" {
                        Screen::Transports
                    } else {
                        Screen::Dashboard
                    }
                }
                _ => {}
            }
        }
        view
    }

    /// The query string for this view (empty for the default view), defaults left out.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(symbols) = &self.symbols {
            parts.push(format!("symbols={}", symbols.join(",")));
        }
        if let Some(symbol) = &self.symbol {
            parts.push(format!("symbol={symbol}"));
        }
        if self.mode != ChartMode::default() {
            parts.push(format!("mode={}", self.mode.as_str()));
        }
        if self.interval != Interval::S1 {
            parts.push(format!("interval={}", self.interval));
        }
        if self.transport != Transport::default() {
            parts.push(format!("transport={}", self.transport.as_str()));
        }
        if self.screen == Screen::Transports {
            parts.push("view=transports".to_string());
        }
        if !self.depth {
            parts.push("depth=off".to_string());
        }
        if !self.studies.is_empty() {
            parts.push(format!("ind={}", self.studies));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// Indices into `instruments` of the watched ones, in the user's order (all when `None`).
    pub fn watched(&self, instruments: &[Instrument]) -> Vec<usize> {
        match &self.symbols {
            Some(list) => list
                .iter()
                .filter_map(|s| instruments.iter().position(|i| i.symbol == *s))
                .collect(),
            None => (0..instruments.len()).collect(),
        }
    }

    /// The main chart's symbol: the one in the URL if it is watched, else the first watched
    /// (empty when nothing is).
    pub fn chart_symbol(&self, instruments: &[Instrument]) -> String {
        let watched = self.watched(instruments);
        let watched_symbol = |s: &String| watched.iter().any(|&i| instruments[i].symbol == *s);
        self.symbol
            .clone()
            .filter(watched_symbol)
            .or_else(|| watched.first().map(|&i| instruments[i].symbol.clone()))
            .unwrap_or_default()
    }

    /// Whether `symbol` is on the watchlist.
    pub fn watches(&self, symbol: &str) -> bool {
        self.symbols
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == symbol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let v = ViewState {
            symbols: Some(vec!["AAPL".into(), "BTC-USD".into()]),
            symbol: Some("BTC-USD".into()),
            mode: ChartMode::Line,
            interval: Interval::S5,
            transport: Transport::Ws,
            screen: Screen::Transports,
            depth: false,
            studies: "sma20,rsi14".into(),
        };
        assert_eq!(
            v.to_query(),
            "?symbols=AAPL,BTC-USD&symbol=BTC-USD&mode=line&interval=5s&transport=ws&view=transports&depth=off&ind=sma20,rsi14"
        );
        assert_eq!(
            ViewState::from_query("ind=SMA20,junk,sma20,bb20").studies,
            "sma20,bb20-2"
        );
        assert!(ViewState::from_query("depth=on").depth && ViewState::from_query("depth=x").depth);
        assert_eq!(ViewState::from_query(&v.to_query()), v);
        assert_eq!(ViewState::default().to_query(), "");
        assert_eq!(ViewState::from_query(""), ViewState::default());
    }

    #[test]
    fn tolerates_encoding_case_and_junk() {
        let v = ViewState::from_query("symbols=aapl%2Cmsft,,AAPL,bad%20sym&symbol=msft&mode=bars&interval=7s&x=1&%");
        assert_eq!(v.symbols, Some(vec!["AAPL".to_string(), "MSFT".to_string()]));
        assert_eq!(v.symbol.as_deref(), Some("MSFT"));
        assert_eq!((v.mode, v.interval), (ChartMode::Candles, Interval::S1));
        assert!(v.watches("AAPL") && !v.watches("TSLA"));
        assert!(ViewState::default().watches("TSLA"));
        assert_eq!(ViewState::from_query("symbols=").symbols, None);
    }

    #[test]
    fn percent_decoding() {
        let v = ViewState::from_query("symbols=A%2CB+C,%zz,D%4");
        // "A,B C,%zz,D%4": only A is a symbol; invalid escapes stay literal and fail the check.
        assert_eq!(v.symbols, Some(vec!["A".to_string()]));
        assert_eq!(ViewState::from_query("symbol=brk%2Eb").symbol.as_deref(), Some("BRK.B"));
    }
}
