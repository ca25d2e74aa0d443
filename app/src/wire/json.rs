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

/// `text` as a JSON string literal (the page writes its few request bodies by hand: it links no
/// JSON writer).
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

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

/// An event's `id` member: a string (an event id) or a number (an inbox entry's).
impl miniserde::de::Visitor for Place<crate::wire::protocol::PayloadId> {
    fn string(&mut self, s: &str) -> miniserde::Result<()> {
        let id = s.parse().map_err(|_| miniserde::Error)?;
        self.out = Some(crate::wire::protocol::PayloadId::Event(id));
        Ok(())
    }

    fn nonnegative(&mut self, n: u64) -> miniserde::Result<()> {
        self.out = Some(crate::wire::protocol::PayloadId::Number(n));
        Ok(())
    }
}

impl miniserde::Deserialize for crate::wire::protocol::PayloadId {
    fn begin(out: &mut Option<Self>) -> &mut dyn miniserde::de::Visitor {
        Place::new(out)
    }
}

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
}
