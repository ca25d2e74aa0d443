//! How the page reads JSON: [miniserde](https://docs.rs/miniserde), derived on the wire types,
//! behind a nesting limit.
//!
//! Why miniserde and not serde_json: serde_json's generic decoders and its error messages were a
//! sixth of the WASM (BENCHMARKS.md, *Shipped assets*). miniserde decodes without serde's
//! visitors and builds no error messages, at 7 KB of brotli more than the page's own reader it
//! replaced, with the same page cost. The server writes the JSON with serde; the tests below read
//! back everything serde_json writes, so the two cannot drift apart.
//!
//! Every number on the wire is an integer (prices in price units, see
//! [`crate::wire::protocol`]); a fraction or exponent where an integer belongs is refused.

/// How deep arrays and objects may nest. The wire types nest four levels; the margin is for
/// members the page skips. miniserde keeps its stack on the heap, so this bounds memory, not
/// only recursion.
pub const MAX_DEPTH: usize = 32;

/// Why a document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("JSON nested more than 32 levels deep")]
    TooDeep,
    #[error("not JSON of the expected shape")]
    Invalid,
}

/// Reads one JSON document into `T`.
pub fn from_str<T: miniserde::Deserialize>(text: &str) -> Result<T, Error> {
    if nesting(text) > MAX_DEPTH {
        return Err(Error::TooDeep);
    }
    miniserde::json::from_str(text).map_err(|_| Error::Invalid)
}

/// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count).
/// A linear scan, cheap beside the parse it guards.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

miniserde::make_place!(Place);

/// miniserde's `Deserialize` for types the project already parses from text with `FromStr`
/// (event ids, intervals): a JSON string, parsed, or refused.
macro_rules! deserialize_from_str {
    ($($ty:ty),*) => {$(
        impl miniserde::de::Visitor for Place<$ty> {
            fn string(&mut self, s: &str) -> miniserde::Result<()> {
                self.out = Some(<$ty as std::str::FromStr>::from_str(s).map_err(|_| miniserde::Error)?);
                Ok(())
            }
        }

        impl miniserde::Deserialize for $ty {
            fn begin(out: &mut Option<Self>) -> &mut dyn miniserde::de::Visitor {
                Place::new(out)
            }
        }
    )*};
}

deserialize_from_str!(crate::wire::protocol::EventId, crate::wire::protocol::Interval);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_exact_and_fractions_refused() {
        assert_eq!(from_str::<u64>("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(from_str::<i64>("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(from_str::<i64>("18984"), Ok(18_984));
        for bad in ["18446744073709551616", "-1", "1.0", "1e2", "\"1\"", "01", "+1", ""] {
            assert!(from_str::<u64>(bad).is_err(), "{bad:?} is no u64");
        }
        for bad in ["9223372036854775808", "187.23", "-1e3"] {
            assert!(from_str::<i64>(bad).is_err(), "{bad:?} is no i64 price");
        }
        assert!(from_str::<u8>("256").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(nesting(&nested(MAX_DEPTH)), MAX_DEPTH);
        assert_eq!(
            nesting(r#"{"a":"[[[[{{","b":["\"[",{}]}"#),
            3,
            "brackets in strings do not count"
        );
        assert_eq!(from_str::<Vec<Vec<u64>>>("[[1],[2,3]]"), Ok(vec![vec![1], vec![2, 3]]));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(from_str::<Vec<u64>>(&deep), Err(Error::TooDeep));
        // Far deeper than any stack would take, refused before parsing.
        let deeper = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
        assert_eq!(
            from_str::<crate::wire::protocol::WireEvent>(&deeper),
            Err(Error::TooDeep)
        );
        // Unknown members are skipped, at any depth within the limit.
        let event = r#"{"type":"heartbeat","extra":{"a":[true,false,null,"s\"",{},-1.5e-3]}}"#;
        assert!(from_str::<crate::wire::protocol::WireEvent>(event).is_ok());
    }

    #[test]
    fn wire_types_read_back_what_the_server_writes() {
        use crate::state::page::{PageData, Spark};
        use crate::state::view::{ChartMode, Screen, Transport, ViewState};
        use crate::wire::protocol::{AssetClass, EventId, History, Instrument, Quote, Snapshot, TickFrame};
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
            keepalive_ms: 15_000,
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
        let frame = TickFrame {
            seq: u64::MAX,
            ts: -1,
            quotes: snapshot.quotes.clone(),
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
