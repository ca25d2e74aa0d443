//! The page's JSON reader: a small, strict parser that decodes the wire types straight into
//! their structs, with no intermediate tree.
//!
//! Why not serde_json in the browser: its derive-generated decoders and its error messages
//! (which link std's shortest-float printing, Unicode escape tables and a second float
//! formatter) were 25 KB of the 154 KB brotli WASM, a sixth of the page, to read the handful of
//! types in [`crate::wire::protocol`]. This reader costs a few KB. The server still *writes* JSON
//! with serde, and the tests below check every type this module reads against what serde_json
//! writes, so the two cannot drift apart.
//!
//! It accepts exactly RFC 8259 JSON (and rejects trailing garbage, control characters in
//! strings, leading zeros, lone surrogates) nested at most [`MAX_DEPTH`] deep, so no document can
//! exhaust the page's stack. Errors carry the byte offset and what was expected, without
//! formatting the input. Numbers: every number on the wire is an integer (prices in price units,
//! see [`crate::wire::protocol`]), read exactly in its type's range; fractions and exponents are
//! checked and skipped in members the page does not read, and refused where it reads a number.
//! No float code is linked.

use std::borrow::Cow;
use std::fmt;

/// Why a document was refused: what the reader expected, and at which byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub at: usize,
    pub expected: &'static str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON: expected {} at byte {}", self.expected, self.at)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// A type the page reads from JSON.
pub trait FromJson: Sized {
    fn read(r: &mut Reader<'_>) -> Result<Self>;

    /// The value of a struct field that is missing from its object, if it may be missing.
    /// Only `Option` may, as with serde's derive.
    fn absent() -> Option<Self> {
        None
    }
}

/// Reads one JSON document (surrounding whitespace allowed, nothing else).
pub fn from_str<T: FromJson>(src: &str) -> Result<T> {
    let mut r = Reader::new(src);
    let value = T::read(&mut r)?;
    r.end()?;
    Ok(value)
}

/// How deep arrays and objects may nest. The wire types nest four levels; the margin is for
/// members the page skips.
pub const MAX_DEPTH: u32 = 32;

/// A cursor over one JSON document. Each method reads one value at the cursor.
pub struct Reader<'a> {
    src: &'a str,
    pos: usize,
    /// Arrays and objects open around the cursor.
    depth: u32,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str) -> Self {
        Reader { src, pos: 0, depth: 0 }
    }

    /// The cursor's byte offset.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn error(&self, expected: &'static str) -> Error {
        Error { at: self.pos, expected }
    }

    /// The next byte after any whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.src.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.pos) {
            self.pos += 1;
        }
        bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<()> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn keyword(&mut self, word: &'static str) -> bool {
        let found = self.peek().is_some() && self.src[self.pos..].starts_with(word);
        if found {
            self.pos += word.len();
        }
        found
    }

    /// Checks that nothing but whitespace follows.
    pub fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("the end of the document")),
        }
    }

    /// Reads an object, calling `field` with the reader positioned on each member's value;
    /// `field` must read or [`skip`](Self::skip) that value.
    pub fn object(&mut self, field: &mut dyn FnMut(&mut Self, &str) -> Result<()>) -> Result<()> {
        self.expect(b'{', "an object")?;
        self.nested(|r| {
            if r.eat(b'}') {
                return Ok(());
            }
            loop {
                let key = r.str()?;
                r.expect(b':', "':'")?;
                field(r, &key)?;
                if r.eat(b'}') {
                    return Ok(());
                }
                r.expect(b',', "',' or '}'")?;
            }
        })
    }

    /// Runs `inside` one level deeper, refusing a document nested beyond [`MAX_DEPTH`].
    fn nested(&mut self, inside: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error("at most 32 levels of nesting"));
        }
        self.depth += 1;
        let result = inside(self);
        self.depth -= 1;
        result
    }

    /// Reads an array, calling `item` with the reader positioned on each element.
    pub fn array(&mut self, item: &mut dyn FnMut(&mut Self) -> Result<()>) -> Result<()> {
        self.expect(b'[', "an array")?;
        self.nested(|r| {
            if r.eat(b']') {
                return Ok(());
            }
            loop {
                item(r)?;
                if r.eat(b']') {
                    return Ok(());
                }
                r.expect(b',', "',' or ']'")?;
            }
        })
    }

    /// Reads `null`, returning whether it was there (nothing is consumed otherwise).
    pub fn null(&mut self) -> bool {
        self.keyword("null")
    }

    /// Reads a string, borrowed from the document unless it has escapes.
    pub fn str(&mut self) -> Result<Cow<'a, str>> {
        self.expect(b'"', "a string")?;
        let bytes = self.src.as_bytes();
        let start = self.pos;
        // The common case: no escapes, one slice of the input.
        loop {
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Borrowed(&self.src[start..self.pos - 1]));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) | None => return Err(self.error("a closing '\"'")),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.src[start..self.pos]);
        loop {
            let run = self.pos;
            while let Some(&b) = bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.src[run..self.pos]);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = match bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("an escape")),
                    };
                    self.pos += 1;
                    out.push(escaped);
                }
                _ => return Err(self.error("a closing '\"'")),
            }
        }
    }

    /// The character of a `\uXXXX` escape (the cursor is after the `u`), joining a surrogate
    /// pair written as two escapes.
    fn unicode_escape(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.src[self.pos..].starts_with("\\u") {
                return Err(self.error("a low surrogate"));
            }
            self.pos += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error("a low surrogate"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.error("a Unicode scalar value"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .src
            .as_bytes()
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("four hex digits"))?;
        let mut code = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or_else(|| self.error("four hex digits"))?;
            code = code * 16 + v;
        }
        self.pos += 4;
        Ok(code)
    }

    /// Reads a number as its sign, up to 19 significant decimal digits and a decimal exponent.
    /// `integer` refuses a fraction or an exponent.
    fn decimal(&mut self, integer: bool) -> Result<(bool, u64, i32)> {
        let negative = self.eat(b'-');
        if !negative && self.peek().is_none_or(|b| !b.is_ascii_digit()) {
            return Err(self.error(if integer { "an integer" } else { "a number" }));
        }
        let bytes = self.src.as_bytes();
        let digit = |pos: usize| bytes.get(pos).filter(|b| b.is_ascii_digit()).map(|b| (b - b'0') as u64);
        let (mut mantissa, mut exponent, mut overflow) = (0u64, 0i32, false);
        let mut push = |mantissa: &mut u64, d: u64| match mantissa.checked_mul(10).and_then(|m| m.checked_add(d)) {
            Some(m) => {
                *mantissa = m;
                true
            }
            None => {
                overflow = true;
                false
            }
        };
        match digit(self.pos) {
            Some(0) => self.pos += 1,
            Some(_) => {
                while let Some(d) = digit(self.pos) {
                    if !push(&mut mantissa, d) {
                        exponent += 1;
                    }
                    self.pos += 1;
                }
            }
            None => return Err(self.error("a digit")),
        }
        let integral = self.pos;
        if bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            digit(self.pos).ok_or_else(|| self.error("a digit"))?;
            while let Some(d) = digit(self.pos) {
                if push(&mut mantissa, d) {
                    exponent -= 1;
                }
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = bytes.get(self.pos) {
            self.pos += 1;
            let negative = match bytes.get(self.pos) {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            digit(self.pos).ok_or_else(|| self.error("a digit"))?;
            let mut e: i32 = 0;
            while let Some(d) = digit(self.pos) {
                e = e.saturating_mul(10).saturating_add(d as i32);
                self.pos += 1;
            }
            exponent = exponent.saturating_add(if negative { -e } else { e });
        }
        if integer && (self.pos != integral || overflow) {
            self.pos = integral;
            return Err(self.error("an integer in range"));
        }
        Ok((negative, mantissa, exponent))
    }

    /// Reads an integer (no fraction, no exponent) as its sign and magnitude.
    fn integer(&mut self) -> Result<(bool, u64)> {
        let (negative, magnitude, _) = self.decimal(true)?;
        Ok((negative, magnitude))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let at = self.pos;
        match self.integer()? {
            (false, magnitude) | (true, magnitude @ 0) => Ok(magnitude),
            (true, _) => Err(Error {
                at,
                expected: "an unsigned integer",
            }),
        }
    }

    pub fn i64(&mut self) -> Result<i64> {
        let at = self.pos;
        let (negative, magnitude) = self.integer()?;
        let value = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        value.ok_or(Error {
            at,
            expected: "an integer in range",
        })
    }

    pub fn bool(&mut self) -> Result<bool> {
        if self.keyword("true") {
            Ok(true)
        } else if self.keyword("false") {
            Ok(false)
        } else {
            Err(self.error("true or false"))
        }
    }

    /// Reads a string and parses it with the type's own [`FromStr`](std::str::FromStr), for
    /// values the project already parses from text (event ids, intervals).
    pub fn parse<T: std::str::FromStr>(&mut self, expected: &'static str) -> Result<T> {
        let at = self.pos;
        self.str()?.parse().map_err(|_| Error { at, expected })
    }

    /// Reads a string that must be one of `names`, returning the matching value.
    pub fn one_of<T: Copy>(&mut self, names: &[(&str, T)]) -> Result<T> {
        let at = self.pos;
        let name = self.str()?;
        names.iter().find(|(n, _)| *n == name).map(|&(_, v)| v).ok_or(Error {
            at,
            expected: "a known name",
        })
    }

    /// Skips one value of any kind, checking its syntax.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'{') => self.object(&mut |r, _| r.skip()),
            Some(b'[') => self.array(&mut |r| r.skip()),
            Some(b'"') => self.str().map(drop),
            Some(b't' | b'f') => self.bool().map(drop),
            Some(b'n') if self.null() => Ok(()),
            _ => self.decimal(false).map(drop),
        }
    }

    /// Skips one value and returns its JSON text, to be read later.
    pub fn raw(&mut self) -> Result<&'a str> {
        self.peek();
        let start = self.pos;
        self.skip()?;
        Ok(&self.src[start..self.pos])
    }
}

impl FromJson for u64 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.u64()
    }
}

impl FromJson for u8 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let at = r.pos;
        u8::try_from(r.u64()?).map_err(|_| Error {
            at,
            expected: "an integer in range",
        })
    }
}

impl FromJson for i64 {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.i64()
    }
}

impl FromJson for bool {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.bool()
    }
}

impl FromJson for String {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        r.str().map(Cow::into_owned)
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        if r.null() { Ok(None) } else { T::read(r).map(Some) }
    }

    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut items = Vec::new();
        r.array(&mut |r| {
            items.push(T::read(r)?);
            Ok(())
        })?;
        Ok(items)
    }
}

/// Implements [`FromJson`] for a struct from its fields and their JSON names, as serde's derive
/// reads it: members in any order, unknown members skipped, a missing member an error unless
/// its type is an `Option`.
macro_rules! from_json_struct {
    ($ty:ident { $($field:ident: $name:literal),* $(,)? }) => {
        impl $crate::wire::json::FromJson for $ty {
            fn read(r: &mut $crate::wire::json::Reader<'_>) -> $crate::wire::json::Result<Self> {
                let at = r.position();
                $(let mut $field = None;)*
                r.object(&mut |r, key| {
                    match key {
                        $($name => $field = Some($crate::wire::json::FromJson::read(r)?),)*
                        _ => r.skip()?,
                    }
                    Ok(())
                })?;
                Ok($ty {
                    $($field: $field
                        .or_else($crate::wire::json::FromJson::absent)
                        .ok_or($crate::wire::json::Error { at, expected: concat!("member \"", $name, "\"") })?,)*
                })
            }
        }
    };
}

/// Implements [`FromJson`] for a fieldless enum written as one of the given strings.
macro_rules! from_json_names {
    ($ty:ident { $($name:literal => $variant:ident),* $(,)? }) => {
        impl $crate::wire::json::FromJson for $ty {
            fn read(r: &mut $crate::wire::json::Reader<'_>) -> $crate::wire::json::Result<Self> {
                r.one_of(&[$(($name, $ty::$variant)),*])
            }
        }
    };
}

pub(crate) use {from_json_names, from_json_struct};

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `src` is one well-formed JSON value (checked by skipping it).
    fn well_formed(src: &str) -> bool {
        let mut r = Reader::new(src);
        r.skip().and_then(|()| r.end()).is_ok()
    }

    #[test]
    fn reads_integers_exactly_and_checks_every_number() {
        for good in [
            "0",
            "-0",
            "187.23",
            " -1.5e3 ",
            "2E-2",
            "1e400",
            "1e-400",
            "123456789012345678901234567890",
        ] {
            assert!(well_formed(good), "{good:?} is a JSON number");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "NaN", "1.5.2", "0x10", "1 2",
        ] {
            assert!(!well_formed(bad), "{bad:?} should be refused");
        }
        assert_eq!(from_str::<u64>("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(from_str::<i64>("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(from_str::<i64>("18984"), Ok(18_984));
        assert_eq!(from_str::<u64>("-0"), Ok(0));
        for bad in ["18446744073709551616", "-1", "1.0", "1e2", "\"1\""] {
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
        assert!(well_formed(&nested(MAX_DEPTH as usize)));
        let err = Reader::new(&nested(MAX_DEPTH as usize + 1)).skip().unwrap_err();
        assert_eq!(
            err,
            Error {
                at: MAX_DEPTH as usize + 1,
                expected: "at most 32 levels of nesting"
            }
        );
        // Far deeper than any stack would take, refused at once.
        let deep = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
        assert!(!well_formed(&deep));
        assert!(
            from_str::<Vec<Vec<u64>>>("[[1],[2,3]]").is_ok(),
            "depth returns to zero"
        );
        let mut r = Reader::new("[[[]]] [[[]]]");
        assert!(r.skip().is_ok() && r.skip().is_ok());
    }

    #[test]
    fn reads_strings_with_every_escape() {
        let s = "plain \"quoted\" back\\slash / tab\t nl\n cr\r \u{8}\u{c} é 東京 🚀 \u{1}";
        let text = serde_json::to_string(s).unwrap();
        assert_eq!(from_str::<String>(&text).unwrap(), s);
        assert_eq!(from_str::<String>(r#""\u00e9\ud83d\ude80\/""#).unwrap(), "é🚀/");
        assert!(matches!(Reader::new(r#""AAPL""#).str(), Ok(Cow::Borrowed("AAPL"))));
        for bad in [
            r#""open"#,
            "\"raw\ncontrol\"",
            r#""\x""#,
            r#""\ud83d""#,
            r#""\ud83d\u0041""#,
            r#""\u12""#,
            r#""\udc00""#,
        ] {
            assert!(from_str::<String>(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Sample {
        name: String,
        n: u64,
        maybe: Option<i64>,
        list: Vec<i64>,
    }
    from_json_struct!(Sample {
        name: "name",
        n: "n",
        maybe: "maybe",
        list: "list"
    });

    #[test]
    fn reads_structs_like_serdes_derive() {
        let sample = Sample {
            name: "x".into(),
            n: 3,
            maybe: None,
            list: vec![15, -2],
        };
        // Any member order, unknown members of any shape skipped, `null` and absence both `None`.
        for text in [
            r#"{"name":"x","n":3,"maybe":null,"list":[15,-2]}"#,
            r#" { "list" : [ 15 , -2 ] , "extra" : {"a":[true,false,null,"s\"",{},-1.5e-3]}, "n":3, "name":"x" } "#,
        ] {
            assert_eq!(from_str::<Sample>(text), Ok(sample.clone()));
        }
        assert_eq!(
            from_str::<Sample>(r#"{"name":"x","n":3,"maybe":-7,"list":[]}"#)
                .unwrap()
                .maybe,
            Some(-7)
        );
        let missing = from_str::<Sample>(r#"{"name":"x","list":[]}"#).unwrap_err();
        assert_eq!(missing.to_string(), "invalid JSON: expected member \"n\" at byte 0");
        for bad in [
            r#"{"name":"x","n":3,"list":[],}"#,
            r#"{"name":"x","n":3,"list":[1,]}"#,
            r#"{"name":"x","n":3,"list":[]}x"#,
            r#"{"name":"x" "n":3,"list":[]}"#,
            r#"{"name":1,"n":3,"list":[]}"#,
            r#"{"name":"x","n":3,"list":[],"extra":[tru]}"#,
        ] {
            assert!(from_str::<Sample>(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn raw_returns_a_values_text_and_moves_past_it() {
        let mut r = Reader::new(r#" {"a":[1,{"b":"]"}]} ,"#);
        assert_eq!(r.raw(), Ok(r#"{"a":[1,{"b":"]"}]}"#));
        assert_eq!(r.peek(), Some(b','));
    }

    #[test]
    fn errors_say_where() {
        let err = from_str::<Vec<u64>>("[1, 2, x]").unwrap_err();
        assert_eq!(
            err,
            Error {
                at: 7,
                expected: "an integer"
            }
        );
    }

    /// Every type the page reads, as the server writes it (serde_json), reads back equal.
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
            let mut r = Reader::new(&damaged);
            let _ = r.raw();
        }
    }
}
