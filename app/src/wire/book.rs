//! Order books and trades on the wire: the levels a `snapshot` or `resync` carries whole and a
//! `tick` carries as changes, the checksum that proves a copy right, and the prints of the tape.
//!
//! A book is two sides of [`Level`]s, best first: bids from the highest price down, asks from
//! the lowest up, at most [`BOOK_LEVELS`] a side. A [`BookUpdate`] in a `tick` holds only the
//! levels a frame changed, each with its new absolute size; size 0 removes the level. A client
//! that applies the snapshot's book and then every tick's update ([`Book::apply`]) holds exactly
//! the server's book, and [`Book::checksum`] lets it prove so after every frame.
//!
//! **The checksum** is CRC32 (IEEE 802.3, as zlib's `crc32` computes it) of the ASCII text made
//! of the [`CHECKSUM_LEVELS`] best asks (lowest first) and then the ten best bids (highest
//! first), each written `<price>:<size>;` with the instrument's price decimals and size
//! decimals (`/api/symbols`), e.g. `190.65:300;190.66:120;…;190.64:200;…`. It covers the levels
//! a trader looks at and costs one pass over 20 short numbers per frame.

use crate::ui::format::Units;
use crate::wire::protocol::Instrument;
use serde::{Deserialize, Serialize};

/// Levels a side of a book holds.
pub const BOOK_LEVELS: usize = 20;
/// Levels a side contributes to the checksum.
pub const CHECKSUM_LEVELS: usize = 10;

/// One price level: `[price, size]` on the wire, the price in the instrument's price units, the
/// size in its size units (10^-`size_decimals`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Level(pub i64, pub u64);

impl Level {
    pub fn price(self) -> i64 {
        self.0
    }

    pub fn size(self) -> u64 {
        self.1
    }
}

/// A book as `snapshot` and `resync` carry it (every level), or as a `tick` does (the levels the
/// frame changed, size 0 for a removed one), with the checksum of the book after it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BookUpdate {
    pub symbol: String,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub checksum: u32,
}

/// One instrument's book, best levels first on each side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Book {
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
}

impl Book {
    /// The book a full update (a snapshot's) describes.
    pub fn from_update(update: &BookUpdate) -> Self {
        let mut book = Book::default();
        book.apply(update);
        book
    }

    /// Applies an update: each level it names takes its new size, or goes at size 0.
    pub fn apply(&mut self, update: &BookUpdate) {
        for level in &update.bids {
            set(&mut self.bids, *level, |a, b| b.cmp(&a));
        }
        for level in &update.asks {
            set(&mut self.asks, *level, |a, b| a.cmp(&b));
        }
    }

    /// The book as a full update (as a snapshot carries it).
    pub fn whole(&self, symbol: &str, checksum: u32) -> BookUpdate {
        BookUpdate {
            symbol: symbol.to_string(),
            bids: self.bids.clone(),
            asks: self.asks.clone(),
            checksum,
        }
    }

    /// The update that turns `self` into `after`: every level whose size changed, appeared
    /// (its size) or went (size 0).
    pub fn changes_to(&self, after: &Book, symbol: &str, checksum: u32) -> BookUpdate {
        BookUpdate {
            symbol: symbol.to_string(),
            bids: side_changes(&self.bids, &after.bids),
            asks: side_changes(&self.asks, &after.asks),
            checksum,
        }
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }

    /// The book as a full update for `instrument`, with its checksum.
    pub fn whole_of(&self, instrument: &Instrument) -> BookUpdate {
        self.whole(&instrument.symbol, self.checksum_of(instrument))
    }

    /// The checksum of this book at `instrument`'s decimals.
    pub fn checksum_of(&self, instrument: &Instrument) -> u32 {
        self.checksum(instrument.decimals, instrument.size_decimals)
    }

    /// The checksum of this book (see the module's documentation).
    pub fn checksum(&self, price_decimals: u8, size_decimals: u8) -> u32 {
        use std::fmt::Write;
        let mut text = String::with_capacity(2 * CHECKSUM_LEVELS * 24);
        for level in self
            .asks
            .iter()
            .take(CHECKSUM_LEVELS)
            .chain(self.bids.iter().take(CHECKSUM_LEVELS))
        {
            // Writing into a String cannot fail.
            let _ = write!(
                text,
                "{}:{};",
                Units(level.0, price_decimals),
                Units(i64::try_from(level.1).unwrap_or(i64::MAX), size_decimals)
            );
        }
        crc32(text.as_bytes())
    }
}

/// CRC32 (IEEE 802.3, reflected, as zlib's `crc32`), a byte at a time from a 1 KB table built at
/// compile time. (The `crc32fast` crate's 16 KB of tables were a ninth of the page's WASM; a
/// checksum covers about 400 bytes, so its speed does not matter here.)
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    !bytes
        .iter()
        .fold(!0u32, |c, &b| TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8))
}

/// Sets `level` on a side ordered by `order` (best first): replaces, inserts or (size 0) removes.
fn set(side: &mut Vec<Level>, level: Level, order: impl Fn(i64, i64) -> std::cmp::Ordering) {
    match side.binary_search_by(|l| order(l.0, level.0)) {
        Ok(at) if level.1 == 0 => {
            side.remove(at);
        }
        Ok(at) => side[at].1 = level.1,
        Err(_) if level.1 == 0 => {}
        Err(at) => side.insert(at, level),
    }
}

/// The levels of `after` that differ from `before`, and those of `before` gone from it (size 0).
fn side_changes(before: &[Level], after: &[Level]) -> Vec<Level> {
    let mut changes: Vec<Level> = after.iter().filter(|l| !before.contains(l)).copied().collect();
    changes.extend(
        before
            .iter()
            .filter(|b| !after.iter().any(|a| a.0 == b.0))
            .map(|b| Level(b.0, 0)),
    );
    changes
}

/// Which side of the book the aggressor of a trade was: a buyer lifting asks or a seller hitting
/// bids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Side {
    #[serde(rename = "buy")]
    Buy,
    #[serde(rename = "sell")]
    Sell,
}

/// One print of the tape: `size` traded at `price` at `ts` (ms since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Print {
    pub symbol: String,
    pub price: i64,
    pub size: u64,
    pub side: Side,
    pub ts: i64,
}

impl Print {
    /// The print of `level` (price, size) on `symbol`'s tape, by an aggressor on `side`, at `ts`.
    pub fn at(symbol: &str, level: Level, side: Side, ts: i64) -> Self {
        Print {
            symbol: symbol.to_string(),
            price: level.price(),
            size: level.size(),
            side,
            ts,
        }
    }
}

/// The answer of `GET /api/book`: one instrument's whole book at frame `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BookAt {
    pub seq: u64,
    pub symbol: String,
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    pub checksum: u32,
}

/// The answer of `GET /api/trades`: the newest prints of one instrument, newest first, as of
/// frame `seq` (every print of that frame and before that the server still holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Trades {
    pub seq: u64,
    pub symbol: String,
    pub trades: Vec<Print>,
}

miniserde::make_place!(Place);

/// `[price, size]`, as serde writes the tuple struct.
impl miniserde::de::Visitor for Place<Level> {
    fn seq(&mut self) -> miniserde::Result<Box<dyn miniserde::de::Seq + '_>> {
        Ok(Box::new(LevelSeq {
            out: &mut self.out,
            price: None,
            size: None,
            read: 0,
        }))
    }
}

struct LevelSeq<'a> {
    out: &'a mut Option<Level>,
    price: Option<i64>,
    size: Option<u64>,
    read: usize,
}

impl miniserde::de::Seq for LevelSeq<'_> {
    fn element(&mut self) -> miniserde::Result<&mut dyn miniserde::de::Visitor> {
        self.read += 1;
        match self.read {
            1 => Ok(miniserde::Deserialize::begin(&mut self.price)),
            2 => Ok(miniserde::Deserialize::begin(&mut self.size)),
            _ => Err(miniserde::Error),
        }
    }

    fn finish(&mut self) -> miniserde::Result<()> {
        *self.out = Some(Level(
            self.price.take().ok_or(miniserde::Error)?,
            self.size.take().ok_or(miniserde::Error)?,
        ));
        Ok(())
    }
}

impl miniserde::Deserialize for Level {
    fn begin(out: &mut Option<Self>) -> &mut dyn miniserde::de::Visitor {
        Place::new(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(bids: &[(i64, u64)], asks: &[(i64, u64)]) -> Book {
        Book {
            bids: bids.iter().map(|&(p, s)| Level(p, s)).collect(),
            asks: asks.iter().map(|&(p, s)| Level(p, s)).collect(),
        }
    }

    #[test]
    fn the_checksum_is_zlibs_crc32_of_the_documented_text() {
        let b = book(&[(19064, 200), (19063, 50)], &[(19065, 300), (19066, 120)]);
        // The text is "190.65:300;190.66:120;190.64:200;190.63:50;"; its CRC32, as Python's
        // `zlib.crc32(b"190.65:300;190.66:120;190.64:200;190.63:50;")` gives it.
        assert_eq!(b.checksum(2, 0), 0x1A45_6E70);
        // Only the ten best levels a side count.
        let mut deep = b.clone();
        deep.bids.extend((0..20).map(|k| Level(19000 - k, 1)));
        let mut deeper = deep.clone();
        deeper.bids.last_mut().unwrap().1 = 9;
        assert_eq!(deep.checksum(2, 0), deeper.checksum(2, 0));
        assert_ne!(deep.checksum(2, 0), b.checksum(2, 0));
        // Decimals are part of the text.
        assert_ne!(b.checksum(2, 0), b.checksum(3, 0));
    }

    #[test]
    fn crc32_is_zlibs() {
        // zlib.crc32 of these, from Python.
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        // And the crate every Rust zlib binding uses, over many lengths and contents.
        let mut rng = crate::test_rng(7);
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len).map(|_| rng() as u8).collect();
            assert_eq!(crc32(&bytes), crc32fast::hash(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn changes_applied_give_the_book_they_came_from() {
        let before = book(&[(100, 5), (99, 7), (98, 1)], &[(102, 3), (103, 4)]);
        let after = book(&[(101, 2), (100, 5), (98, 9)], &[(103, 1), (104, 6)]);
        let update = before.changes_to(&after, "X", 7);
        let mut copy = before.clone();
        copy.apply(&update);
        assert_eq!(copy, after);
        assert!(update.bids.contains(&Level(99, 0)) && update.asks.contains(&Level(102, 0)));
        assert!(!update.bids.contains(&Level(100, 5)), "an unchanged level is not sent");
        assert_eq!(Book::from_update(&after.whole("X", 0)), after);
    }

    #[test]
    fn levels_travel_as_pairs_both_ways() {
        let update = book(&[(19064, 200)], &[(19065, 0)]).whole("AAPL", 4_294_967_295);
        let json = serde_json::to_string(&update).unwrap();
        assert_eq!(
            json,
            r#"{"symbol":"AAPL","bids":[[19064,200]],"asks":[[19065,0]],"checksum":4294967295}"#
        );
        assert_eq!(crate::wire::json::from_str::<BookUpdate>(&json), Ok(update));
        for bad in [r#"[1]"#, r#"[1,2,3]"#, r#"[1.5,2]"#, r#"[1,-2]"#, r#"{"a":1}"#] {
            assert!(crate::wire::json::from_str::<Level>(bad).is_err(), "{bad}");
        }
    }
}
