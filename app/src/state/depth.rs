//! The market depth the page shows for its chart's symbol: the order book it keeps from the
//! stream (checked against every update's checksum) and the tape of the newest prints.
//!
//! Pure data, no signals: the feed keeps one [`Depth`] in the board and the ladder, the depth
//! chart and the tape read it.

use crate::state::page::TAPE_ROWS;
use crate::wire::book::{Book, BookUpdate, Level, Print};
use std::collections::VecDeque;

/// One symbol's book and tape, as the page holds them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Depth {
    /// The symbol followed; empty when depth is off.
    pub symbol: String,
    pub decimals: u8,
    pub size_decimals: u8,
    pub book: Book,
    /// Whether `book` is known to be the server's: false until the first whole book arrives,
    /// and from a checksum mismatch until the book is fetched again.
    pub synced: bool,
    /// The newest prints, newest first, each with its running number (a stable key, so a new
    /// print is drawn once and highlighted once, and the others are left alone).
    pub tape: VecDeque<(u64, Print)>,
    /// Prints taken so far (the next print's number).
    pub printed: u64,
    /// Updates whose checksum the page checked, and those it found wrong.
    pub checked: u64,
    pub mismatches: u64,
}

impl Depth {
    pub fn new(symbol: &str, decimals: u8, size_decimals: u8) -> Self {
        Depth {
            symbol: symbol.to_string(),
            decimals,
            size_decimals,
            ..Depth::default()
        }
    }

    /// Takes a whole book (a snapshot's, or `/api/book`'s).
    pub fn replace(&mut self, whole: &BookUpdate) {
        self.book = Book::from_update(whole);
        self.synced = true;
    }

    /// Applies a tick's update and checks the result against its checksum. Returns whether the
    /// book is still right; a wrong one is counted and stays out of sync until replaced.
    pub fn apply(&mut self, update: &BookUpdate) -> bool {
        self.book.apply(update);
        self.checked += 1;
        let right = self.book.checksum(self.decimals, self.size_decimals) == update.checksum;
        if !right {
            self.mismatches += 1;
            self.synced = false;
        }
        right
    }

    /// Adds prints (oldest first) to the tape, keeping the newest [`TAPE_ROWS`].
    pub fn print(&mut self, prints: impl IntoIterator<Item = Print>) {
        for print in prints {
            self.tape.push_front((self.printed, print));
            self.printed += 1;
        }
        self.tape.truncate(TAPE_ROWS);
    }

    /// Replaces the tape with `newest_first` (`/api/trades`, the first page).
    pub fn reprint(&mut self, newest_first: &[Print]) {
        self.tape.clear();
        self.print(newest_first.iter().rev().cloned());
    }

    /// The `k`-th level of a side from the touch, with the size of it and every better level.
    pub fn level(&self, ask: bool, k: usize) -> Option<(Level, u64)> {
        let side = if ask { &self.book.asks } else { &self.book.bids };
        let level = *side.get(k)?;
        let cumulative = side[..=k].iter().map(|l| l.size()).sum();
        Some((level, cumulative))
    }

    /// The larger side's total size: the scale of the ladder's bars and the depth chart.
    pub fn deepest(&self) -> u64 {
        let total = |side: &[Level]| side.iter().map(|l| l.size()).sum::<u64>();
        total(&self.book.bids).max(total(&self.book.asks))
    }

    /// The spread (price units) and twice the mid price (so an odd spread stays exact).
    pub fn spread(&self) -> Option<(i64, i64)> {
        let (bid, ask) = (self.book.best_bid()?.price(), self.book.best_ask()?.price());
        Some((ask - bid, ask + bid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::book::Side;

    fn print(price: i64) -> Print {
        Print {
            symbol: "X".into(),
            price,
            size: 1,
            side: Side::Buy,
            ts: 0,
        }
    }

    #[test]
    fn a_wrong_checksum_is_counted_and_unsyncs_until_replaced() {
        let whole = Book {
            bids: vec![Level(99, 5), Level(98, 7)],
            asks: vec![Level(101, 2), Level(102, 9)],
        };
        let mut depth = Depth::new("X", 2, 0);
        depth.replace(&whole.whole("X", 0));
        assert!(depth.synced);
        assert_eq!(depth.spread(), Some((2, 200)));
        assert_eq!(depth.level(true, 1), Some((Level(102, 9), 11)));
        assert_eq!(depth.level(false, 2), None);
        assert_eq!(depth.deepest(), 12);

        let mut after = whole.clone();
        after.asks[0].1 = 1;
        let update = whole.changes_to(&after, "X", after.checksum(2, 0));
        assert!(depth.apply(&update));
        assert_eq!((depth.checked, depth.mismatches, depth.synced), (1, 0, true));
        let wrong = BookUpdate {
            checksum: update.checksum ^ 1,
            ..update
        };
        assert!(!depth.apply(&wrong));
        assert_eq!((depth.checked, depth.mismatches, depth.synced), (2, 1, false));
        depth.replace(&after.whole("X", 0));
        assert!(depth.synced);
    }

    #[test]
    fn the_tape_keeps_the_newest_prints_first_with_stable_numbers() {
        let mut depth = Depth::new("X", 2, 0);
        depth.print((0..TAPE_ROWS as i64 + 5).map(print));
        assert_eq!(depth.tape.len(), TAPE_ROWS);
        assert_eq!(depth.tape[0], (TAPE_ROWS as u64 + 4, print(TAPE_ROWS as i64 + 4)));
        depth.reprint(&[print(3), print(2)]);
        let prices: Vec<i64> = depth.tape.iter().map(|(_, p)| p.price).collect();
        assert_eq!(prices, [3, 2]);
        assert!(depth.tape[0].0 > depth.tape[1].0, "newer prints have higher numbers");
    }
}
