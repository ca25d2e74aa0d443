//! A published frame as the wire carries it: encoded to JSON once, with the byte range of each
//! quote kept so a subscriber of a few symbols splices its subset without re-encoding; each
//! traded instrument's book changes and prints are kept beside it and encoded the first time a
//! stream that follows the instrument in depth needs them (most frames of most instruments are
//! never asked for: encoding them all cost the server as much as a tenth of its frame work).

use super::selection::Selection;
use crate::feed::Trade;
use app::wire::book::{BookUpdate, Level, Print, Side};
use app::wire::protocol::QuoteUpdate;
use std::sync::{Arc, Mutex, OnceLock};

/// Depth selections whose payload a frame keeps while it is the newest (see [`Frame::shared`]).
const SHARED_DEPTH_PAYLOADS: usize = 4;

/// A published frame: its JSON (`{"seq":..,"ts":..,"quotes":[..]}`, each quote a
/// [`QuoteUpdate`]: what the frame changed of it) and where each quote sits
/// in it, so filtered subscribers can splice their subset without re-encoding.
#[derive(Debug)]
pub struct Frame {
    pub epoch: u64,
    pub seq: u64,
    pub ts: i64,
    json: Arc<str>,
    /// (instrument index, byte range of its quote object in `json`), in universe order.
    pieces: Vec<(usize, std::ops::Range<usize>)>,
    /// Per traded instrument, universe order: its book changes and prints.
    depth: Vec<DepthPart>,
    /// Payloads for every symbol's quotes plus a few books (what every page asks: all quotes,
    /// the chart symbol's book), built once for all the streams that asked the same while this
    /// is the newest frame, so they share one payload and their fan-out group one encoding.
    /// Emptied when the next frame is published ([`Frame::forget_shared`]): frames in history
    /// keep no copies.
    /// (`None` once forgotten, so a late reader does not put a copy back.)
    shared: Mutex<Option<Vec<SharedPayload>>>,
}

/// A payload shared by the streams of every quote that follow the same books (their indices).
type SharedPayload = (Arc<[usize]>, Option<Arc<str>>);

/// One traded instrument's book changes and prints in a frame.
#[derive(Debug)]
struct DepthPart {
    index: usize,
    book: BookUpdate,
    side: Side,
    prints: Vec<Level>,
    /// The `BookUpdate` object and the `Print` objects (comma-separated), once asked for.
    encoded: OnceLock<(String, String)>,
}

impl DepthPart {
    fn encoded(&self, ts: i64) -> &(String, String) {
        self.encoded.get_or_init(|| {
            // Plain structs of strings and numbers serialise into a String without fail.
            let book = serde_json::to_string(&self.book).expect("book serialises");
            let prints: Vec<String> = self
                .prints
                .iter()
                .map(|level| {
                    let print = Print::at(&self.book.symbol, *level, self.side, ts);
                    serde_json::to_string(&print).expect("print serialises")
                })
                .collect();
            (book, prints.join(","))
        })
    }
}

impl Frame {
    pub(super) fn encode(epoch: u64, seq: u64, ts: i64, trades: Vec<Trade>) -> Frame {
        let mut json = format!(r#"{{"seq":{seq},"ts":{ts},"quotes":["#);
        let mut pieces = Vec::with_capacity(trades.len());
        for (n, t) in trades.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            let start = json.len();
            // What the frame changed of the quote (`QuoteUpdate`). Serialising a plain struct of
            // strings and numbers into a String cannot fail.
            json.push_str(&serde_json::to_string(&QuoteUpdate::of(&t.quote)).expect("quote serialises"));
            pieces.push((t.index, start..json.len()));
        }
        json.push_str("]}");
        // Held for the whole history (about 33 changed levels per traded instrument and frame):
        // without the vectors' spare capacity.
        let depth = trades
            .into_iter()
            .map(|mut t| {
                t.book.bids.shrink_to_fit();
                t.book.asks.shrink_to_fit();
                t.prints.shrink_to_fit();
                DepthPart {
                    index: t.index,
                    book: t.book,
                    side: t.side,
                    prints: t.prints,
                    encoded: OnceLock::new(),
                }
            })
            .collect();
        Frame {
            epoch,
            seq,
            ts,
            json: json.into(),
            pieces,
            depth,
            shared: Mutex::new(Some(Vec::new())),
        }
    }

    /// Drops the shared payloads: this frame is no longer the newest.
    pub(super) fn forget_shared(&self) {
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The tick payload for `selection`, or `None` when none of its instruments moved.
    pub(super) fn payload(&self, selection: &Selection) -> Option<Arc<str>> {
        if selection.mask().is_none() && !selection.depth().is_empty() {
            let mut guard = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(shared) = guard.as_mut() {
                if let Some((_, payload)) = shared.iter().find(|(depth, _)| **depth == *selection.depth()) {
                    return payload.clone();
                }
                let payload = self.build(selection);
                if shared.len() < SHARED_DEPTH_PAYLOADS {
                    shared.push((selection.depth_shared(), payload.clone()));
                }
                return payload;
            }
        }
        self.build(selection)
    }

    /// Builds the tick payload for `selection`.
    fn build(&self, selection: &Selection) -> Option<Arc<str>> {
        let quotes = self.quotes(selection)?;
        let deep: Vec<&(String, String)> = self
            .depth
            .iter()
            .filter(|part| selection.depth().contains(&part.index))
            .map(|part| part.encoded(self.ts))
            .collect();
        if deep.is_empty() {
            return Some(quotes);
        }
        // `{…,"quotes":[…]` then `,"books":[…],"trades":[…]}`.
        let mut json =
            String::with_capacity(quotes.len() + deep.iter().map(|d| d.0.len() + d.1.len() + 2).sum::<usize>() + 32);
        json.push_str(&quotes[..quotes.len() - 1]);
        json.push_str(r#","books":["#);
        for (n, (book, _)) in deep.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            json.push_str(book);
        }
        json.push_str(r#"],"trades":["#);
        let mut first = true;
        for (_, prints) in deep.iter().filter(|d| !d.1.is_empty()) {
            if !first {
                json.push(',');
            }
            first = false;
            json.push_str(prints);
        }
        json.push_str("]}");
        Some(json.into())
    }

    /// The tick payload's quotes for `selection` (the whole payload without depth).
    fn quotes(&self, selection: &Selection) -> Option<Arc<str>> {
        let mask = match selection.mask() {
            None if self.pieces.is_empty() => return None,
            None => return Some(self.json.clone()),
            Some(mask) => mask,
        };
        let chosen: Vec<_> = self.pieces.iter().filter(|(i, _)| mask[*i]).collect();
        if chosen.is_empty() {
            return None;
        }
        if chosen.len() == self.pieces.len() {
            return Some(self.json.clone());
        }
        let mut json = String::with_capacity(64 + chosen.iter().map(|(_, r)| r.len() + 1).sum::<usize>());
        json.push_str(&self.json[..self.pieces[0].1.start]);
        for (n, (_, range)) in chosen.iter().enumerate() {
            if n > 0 {
                json.push(',');
            }
            json.push_str(&self.json[range.clone()]);
        }
        json.push_str("]}");
        Some(json.into())
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}
