//! A published frame as the wire carries it: encoded to JSON once, with the byte range of each
//! quote kept so a subscriber of a few symbols splices its subset without re-encoding.

use super::selection::Selection;
use crate::feed::Trade;
use app::wire::protocol::QuoteUpdate;
use std::sync::Arc;

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
}

impl Frame {
    pub(super) fn encode(epoch: u64, seq: u64, ts: i64, trades: &[Trade]) -> Frame {
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
        Frame {
            epoch,
            seq,
            ts,
            json: json.into(),
            pieces,
        }
    }

    /// The tick payload for `selection`, or `None` when none of its instruments moved.
    pub(super) fn payload(&self, selection: &Selection) -> Option<Arc<str>> {
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
