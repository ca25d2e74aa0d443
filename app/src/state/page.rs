//! The first render's data: what the server computes for the requested URL and hands to the
//! page, so the server-rendered HTML and the hydrated page start from identical data.

use crate::state::candles::CandleSeries;
use crate::state::view::ViewState;
use crate::wire::book::{BookUpdate, Print};
use crate::wire::protocol::{Candle, Interval};
use crate::wire::protocol::{History, Snapshot};
use serde::{Deserialize, Serialize};

/// Candles shown in the main chart; the first page and every backfill carry twice as many.
pub const VISIBLE_CANDLES: usize = 90;

/// Prints the tape shows (the first page carries as many).
pub const TAPE_ROWS: usize = 30;

/// Seconds of prices in a sparkline.
pub const SPARK_SECONDS: usize = 60;

/// Everything the first render needs, computed by the server for the requested URL and
/// serialised into the page, so hydration starts from identical data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PageData {
    /// Every instrument and its latest quote (the picker offers all of them).
    pub snapshot: Snapshot,
    pub view: ViewState,
    /// Per instrument (snapshot order): the last minute as 1-second closes.
    pub sparks: Vec<Spark>,
    /// Backfill of the main chart's symbol and interval.
    pub chart: Option<History>,
    /// The book of the chart's symbol (when the view shows depth), at the snapshot's frame.
    pub book: Option<BookUpdate>,
    /// Its newest prints, newest first, at the snapshot's frame.
    pub trades: Vec<Print>,
    /// The server's SSE keep-alive period: silence for twice as long means `Stale`.
    pub keepalive_ms: u64,
    /// The signed-in user and what they own (`None`: anonymous).
    pub account: Option<crate::wire::account::Account>,
}

/// A sparkline's data: closes of consecutive 1-second buckets ending at `t_last`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct Spark {
    pub t_last: i64,
    /// In price units.
    pub closes: Vec<i64>,
}

impl Spark {
    pub fn from_candles(candles: &[Candle]) -> Self {
        Spark {
            t_last: candles.last().map_or(0, |c| c.t),
            closes: candles.iter().map(|c| c.close).collect(),
        }
    }

    pub fn series(&self) -> CandleSeries {
        let n = self.closes.len() as i64;
        let candles = self.closes.iter().enumerate().map(|(i, &p)| Candle {
            t: self.t_last - (n - 1 - i as i64) * 1_000,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: 0,
        });
        CandleSeries::from_candles(Interval::S1, SPARK_SECONDS, candles)
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::json::from_str;

    #[test]
    fn wire_types_read_back_what_the_server_writes() {
        use crate::state::page::{PageData, Spark};
        use crate::state::view::{ChartMode, Screen, Transport, ViewState};
        use crate::wire::protocol::{
            AssetClass, EventId, History, Instrument, Quote, QuoteUpdate, Snapshot, TickFrame,
        };
        use crate::wire::protocol::{Candle, Interval};

        // Prices in price units, the extremes included.
        let quote = |symbol: &str, price: i64| Quote {
            symbol: symbol.into(),
            price,
            bid: price - 1,
            ask: price.saturating_add(1),
            volume: u64::MAX,
            open: 10_000,
            high: price.max(10_000),
            low: i64::MIN,
        };
        let instrument = |symbol: &str, name: &str, class, decimals, tick| Instrument {
            symbol: symbol.into(),
            name: name.into(),
            class,
            decimals,
            size_decimals: 0,
            tick,
        };
        let snapshot = Snapshot {
            id: Some(EventId::new(0x1f3a9c, 42)),
            seq: 42,
            ts: 1_764_000_000_123,
            instruments: vec![
                instrument("AAPL", "Apple </script> \"Inc\" é", AssetClass::Equity, 2, 1),
                instrument("BTC-USD", "Bitcoin", AssetClass::Crypto, 1, 5),
                instrument("EURUSD", "Euro ⇄ Dollar", AssetClass::Fx, 4, 1),
            ],
            quotes: vec![
                quote("AAPL", 18_723),
                quote("BTC-USD", i64::MAX),
                quote("EURUSD", 10_842),
            ],
            books: vec![crate::wire::book::BookUpdate {
                symbol: "EURUSD".into(),
                bids: vec![crate::wire::book::Level(10_841, 3)],
                asks: vec![crate::wire::book::Level(10_843, u64::MAX)],
                checksum: u32::MAX,
            }],
        };
        let candle = |t, close| Candle {
            t,
            open: 15,
            high: 225,
            low: -5,
            close,
            volume: 7,
        };
        let page = PageData {
            snapshot: snapshot.clone(),
            view: ViewState {
                symbols: Some(vec!["AAPL".into(), "EURUSD".into()]),
                symbol: Some("EURUSD".into()),
                mode: ChartMode::Line,
                interval: Interval::M1,
                transport: Transport::Ws,
                screen: Screen::Transports,
                depth: false,
                studies: "ema9,vwap".into(),
            },
            sparks: vec![
                Spark {
                    t_last: 5_000,
                    closes: vec![10_842, 10_843],
                },
                Spark::default(),
            ],
            chart: Some(History {
                symbol: "EURUSD".into(),
                interval: Interval::S5,
                seq: 41,
                candles: vec![candle(-60_000, 10_841), candle(0, i64::MIN)],
            }),
            book: snapshot.books.first().cloned(),
            trades: vec![crate::wire::book::Print {
                symbol: "EURUSD".into(),
                price: 10_842,
                size: 7,
                side: crate::wire::book::Side::Buy,
                ts: 1_764_000_000_000,
            }],
            keepalive_ms: 15_000,
            account: Some(crate::wire::account::Account {
                username: "ada".into(),
                watchlists: vec![crate::wire::account::Watchlist {
                    name: "Tech".into(),
                    symbols: vec!["AAPL".into()],
                }],
                view: None,
                unread: 2,
            }),
        };
        let read = |text: String| from_str::<PageData>(&text).unwrap();
        assert_eq!(read(serde_json::to_string(&page).unwrap()), page);
        assert_eq!(read(serde_json::to_string_pretty(&page).unwrap()), page);
        let defaults = PageData::default();
        assert_eq!(read(serde_json::to_string(&defaults).unwrap()), defaults);

        for (mode, transport, screen, interval) in [
            (ChartMode::Candles, Transport::Sse, Screen::Dashboard, Interval::S1),
            (ChartMode::Line, Transport::Poll, Screen::Transports, Interval::S5),
        ] {
            let view = ViewState {
                mode,
                transport,
                screen,
                interval,
                ..ViewState::default()
            };
            assert_eq!(from_str::<ViewState>(&serde_json::to_string(&view).unwrap()), Ok(view));
        }
        // Updates with and without the fields a tick leaves out.
        let mut updates: Vec<QuoteUpdate> = snapshot.quotes.iter().map(QuoteUpdate::of).collect();
        updates[0].high = Some(i64::MAX);
        updates[0].open = Some(-1);
        let frame = TickFrame {
            seq: u64::MAX,
            ts: -1,
            quotes: updates,
            books: Some(snapshot.books.clone()),
            trades: Some(vec![crate::wire::book::Print {
                symbol: "EURUSD".into(),
                price: 10_843,
                size: 1,
                side: crate::wire::book::Side::Sell,
                ts: -1,
            }]),
        };
        assert_eq!(
            from_str::<TickFrame>(&serde_json::to_string(&frame).unwrap()),
            Ok(frame)
        );
        assert_eq!(
            from_str::<Snapshot>(&serde_json::to_string(&snapshot).unwrap()),
            Ok(snapshot)
        );
        assert!(from_str::<Interval>("\"2s\"").is_err());
        assert!(from_str::<Snapshot>(r#"{"id":"nope","seq":1,"ts":1,"instruments":[],"quotes":[]}"#).is_err());
    }

    /// Damaged documents (bytes replaced, inserted or cut anywhere) are refused or read, and
    /// never panic: the page reads whatever the network gives it.
    #[test]
    fn damaged_documents_never_panic() {
        use crate::state::page::PageData;
        use crate::wire::protocol::WireEvent;
        let page = PageData {
            snapshot: crate::wire::protocol::Snapshot {
                id: Some(crate::wire::protocol::EventId::new(7, 9)),
                ..Default::default()
            },
            ..Default::default()
        };
        let text = serde_json::to_string(&page).unwrap() + r#" {"x":"é\u00e9\ud83d\ude80","y":[-1.5e-3,true,null]}"#;
        let bytes: Vec<char> = text.chars().collect();
        let pieces = [
            '{', '}', '[', ']', '"', '\\', ',', ':', '-', '0', '9', 'e', '.', 'n', 't', 'é', ' ', '\u{1}',
        ];
        let mut rng = crate::test_rng(0x2545_F491_4F6C_DD1D);
        let mut next = |n: usize| (rng() % n as u64) as usize;
        for _ in 0..20_000 {
            let mut damaged = bytes.clone();
            for _ in 0..1 + next(3) {
                let at = next(damaged.len());
                match next(3) {
                    0 => damaged[at] = pieces[next(pieces.len())],
                    1 => damaged.insert(at, pieces[next(pieces.len())]),
                    _ => damaged.truncate(at),
                }
                if damaged.is_empty() {
                    break;
                }
            }
            let damaged: String = damaged.into_iter().collect();
            let _ = from_str::<PageData>(&damaged);
            let _ = from_str::<WireEvent>(&damaged);
        }
    }
}
