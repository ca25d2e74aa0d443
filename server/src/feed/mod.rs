//! The feed: where a tick is born. [`market`] is the seeded simulation (pure domain code: no
//! web types, no clock, no task); [`generator`] steps it on its own task and hands each frame
//! to whatever [`Publish`]es it: the hub in one process, the market bus between nodes.
//!
//! Nothing here knows about the hub, HTTP or Redis; they depend on this module, never the
//! other way round.

pub mod facts;
pub mod generator;
pub mod market;

use app::wire::book::{BookUpdate, Level, Print, Side};
use app::wire::protocol::Quote;
use serde::{Deserialize, Serialize};

/// One instrument's trade in a frame, as the generator reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// The instrument's index in the universe.
    #[serde(rename = "i")]
    pub index: usize,
    #[serde(rename = "q")]
    pub quote: Quote,
    /// Volume traded in this frame: the sum of the prints' sizes.
    #[serde(rename = "n")]
    pub quantity: u64,
    /// The levels of the instrument's book the frame changed, and its checksum after.
    #[serde(rename = "b")]
    pub book: BookUpdate,
    /// The aggressor's side.
    #[serde(rename = "s")]
    pub side: Side,
    /// The prints, a level each: price, size.
    #[serde(rename = "p")]
    pub prints: Vec<Level>,
}

impl Trade {
    /// The prints as the tape shows them, stamped with their frame's time.
    pub fn tape(&self, ts: i64) -> impl Iterator<Item = Print> + '_ {
        self.prints
            .iter()
            .map(move |level| Print::at(&self.quote.symbol, *level, self.side, ts))
    }
}

/// A frame numbered by the generator, as it travels between nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameRecord {
    pub epoch: u64,
    pub seq: u64,
    pub ts: i64,
    pub trades: Vec<Trade>,
}

/// Where the generator's frames go: the hub (embedded node) or the market bus (split nodes).
pub trait Publish: Send + 'static {
    /// Takes the next frame (stamped `ts`, ms since the Unix epoch); returns its seq.
    fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64;
}
